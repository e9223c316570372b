//! `dwb scripts`: the standard scripts with their purpose (the leading `//!`
//! lines) and declared parameters.

use std::sync::Arc;

use crate::embedded;
use crate::engine::{self, params};
use crate::exit;
use crate::host::Host;

/// The purpose lines of a script.
pub fn purpose(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every standard script's declared parameters, by script name (`sync`).
pub fn declared_params() -> Vec<(&'static str, params::ParamSpec)> {
    let engine = engine::build(Arc::new(Host::offline()));
    let mut out = Vec::new();
    for s in embedded::SCRIPTS {
        let specs = engine
            .compile(s.text)
            .ok()
            .and_then(|ast| params::declared(&engine, &ast).ok())
            .unwrap_or_default();
        out.extend(specs.into_iter().map(|p| (s.name.trim_end_matches(".rhai"), p)));
    }
    out
}

/// Runs `dwb scripts`.
pub fn list() -> exit::Code {
    let engine = engine::build(Arc::new(Host::offline()));
    for s in embedded::SCRIPTS {
        crate::outln!("{}\n  {}", s.name, purpose(s.text));
        let specs = engine
            .compile(s.text)
            .ok()
            .and_then(|ast| params::declared(&engine, &ast).ok())
            .unwrap_or_default();
        for p in specs {
            let req = if p.required {
                "required".to_string()
            } else {
                format!("default: {}", p.default.clone().unwrap_or_else(|| "none".into()))
            };
            crate::outln!("  --param {}=<{}>  ({req})  {}", p.name, p.value_hint(), p.help);
        }
        crate::outln!();
    }
    exit::OK
}

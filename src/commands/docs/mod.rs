//! `dwb docs`: the reference of everything a script can call, generated so it
//! cannot drift from the code: the bindings' registered signatures and doc
//! comments (`collect`, also the REPL's `:help`), the stdlib's `///` comments
//! read from each module's AST (`stdlib`), the standard scripts' declared
//! parameters (`scripts`), and the site hooks' contract (`site_hooks.md`).

mod markdown;

use std::sync::Arc;

use rhai::{Engine, FnAccess};
use serde::Serialize;

use crate::cli::DocsFormat;
use crate::embedded::{self, Embedded};
use crate::engine::{self, params::ParamSpec};
use crate::exit;
use crate::host::Host;

pub use markdown::markdown;

/// The dwb types scripts hold; their methods are documented per type.
pub const TYPES: &[&str] = &["Dn", "Guid", "Sid", "Filter", "Entry", "SecurityDescriptor"];

/// One documented function.
#[derive(Debug, Clone, Serialize)]
pub struct FnDoc {
    /// `ad::search`, the method name for type methods (`child`, `get$depth`), or
    /// the function name for the stdlib (`drs_dn`).
    pub name: String,
    /// Rhai's signature: `ad::search(base: Dn|String, filter: Filter|String) -> Array`.
    pub signature: String,
    /// The whole doc comment (Markdown; sections start with `# `).
    pub doc: String,
    /// `ad`, `graph`, … for modules; the type (`Dn`, `Entry`, …) for its methods;
    /// `dwb/<name>` for the stdlib.
    pub module: String,
    /// How a script writes it: `dn.child(attr: String, value: String) -> Dn`,
    /// `dn.depth -> i64`, `names::drs_dn(config_dn)`.
    pub usage: String,
    /// The doc's first line.
    pub summary: String,
    /// The ```rhai blocks of the doc.
    pub examples: Vec<String>,
    /// The text of the doc's `# Errors` section ("" when it has none).
    pub errors: String,
}

impl FnDoc {
    fn new(name: String, signature: String, doc: String, module: String, usage: String) -> FnDoc {
        FnDoc {
            summary: doc.lines().next().unwrap_or_default().trim().to_string(),
            examples: rhai_blocks(&doc),
            errors: section(&doc, "Errors"),
            name,
            signature,
            doc,
            module,
            usage,
        }
    }
}

/// A standard script with its purpose and parameters.
#[derive(Debug, Clone)]
pub struct ScriptDoc {
    pub name: &'static str,
    pub purpose: String,
    pub params: Vec<ParamSpec>,
}

fn offline_engine() -> Engine {
    engine::build(Arc::new(Host::offline()))
}

/// The lines of a doc comment without their `///` (or `/** */`) leaders.
fn comment_text(comments: &[&str]) -> String {
    let mut lines = Vec::new();
    for c in comments {
        if let Some(block) = c.strip_prefix("/**") {
            lines.extend(block.trim_end_matches("*/").lines().map(|l| l.trim().to_string()));
            continue;
        }
        for l in c.lines() {
            let l = l.trim_start().trim_start_matches("///");
            lines.push(l.strip_prefix(' ').unwrap_or(l).trim_end().to_string());
        }
    }
    lines.join("\n").trim().to_string()
}

/// The ```rhai code blocks of a doc.
pub fn rhai_blocks(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    for line in doc.lines() {
        let t = line.trim();
        match cur.as_mut() {
            None if t == "```rhai" => cur = Some(Vec::new()),
            Some(block) if t == "```" => {
                out.push(block.join("\n"));
                cur = None;
            }
            Some(block) => block.push(line),
            None => {}
        }
    }
    out
}

/// The text of the `# <name>` section of a doc, up to the next section.
pub fn section(doc: &str, name: &str) -> String {
    let mut out: Option<Vec<&str>> = None;
    let mut fenced = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with("# ") {
            if out.is_some() {
                break;
            }
            if line[2..].trim() == name {
                out = Some(Vec::new());
            }
            continue;
        }
        if let Some(o) = out.as_mut() {
            o.push(line);
        }
    }
    out.map(|o| o.join("\n").trim().to_string()).unwrap_or_default()
}

/// The parameters of a Rhai signature `name(a: T, b: U) -> R`, and what follows them.
fn split_signature(sig: &str) -> (&str, Vec<&str>, &str) {
    let Some(open) = sig.find('(') else { return (sig, Vec::new(), "") };
    let close = sig[open..].find(')').map(|c| open + c).unwrap_or(sig.len());
    let params = sig[open + 1..close].split(", ").filter(|p| !p.is_empty()).collect();
    (&sig[..open], params, sig.get(close + 1..).unwrap_or_default())
}

/// How a script calls a type method: `dn.child(…)`, `dn.depth`, `e[attr]`, `a == b`.
fn method_usage(sig: &str) -> String {
    let (name, params, ret) = split_signature(sig);
    let var = |p: &str| p.split(':').next().unwrap_or(p).trim().to_string();
    let first = params.first().map(|p| var(p)).unwrap_or_default();
    let rest = params.get(1..).unwrap_or_default().join(", ");
    if let Some(prop) = name.strip_prefix("get$") {
        return format!("{first}.{prop}{ret}");
    }
    if name == "index$get$" {
        return format!("{first}[{rest}]{ret}");
    }
    if !name.chars().any(|c| c.is_alphanumeric()) && params.len() == 2 {
        return format!("({}) {name} ({}){ret}", params[0], params[1]);
    }
    format!("{first}.{name}({rest}){ret}")
}

/// The dwb type a method belongs to: the first parameter of one of `TYPES`.
fn method_type(sig: &str) -> String {
    let (_, params, _) = split_signature(sig);
    params
        .iter()
        .filter_map(|p| p.split_once(": ").map(|(_, t)| t))
        .find(|t| TYPES.contains(t))
        .unwrap_or("Types")
        .to_string()
}

/// Every function dwb registers (its own, not Rhai's standard library).
pub fn collect() -> Vec<FnDoc> {
    let engine = offline_engine();
    let json = engine.gen_fn_metadata_to_json(false).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut out = Vec::new();
    let mut push = |prefix: &str, f: &serde_json::Value| {
        let name = f["name"].as_str().unwrap_or_default();
        let sig = f["signature"].as_str().unwrap_or_default();
        let comments: Vec<&str> = f["docComments"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        let doc = comment_text(&comments);
        let d = if prefix.is_empty() {
            FnDoc::new(name.into(), sig.into(), doc, method_type(sig), method_usage(sig))
        } else {
            let signature = format!("{prefix}::{sig}");
            FnDoc::new(
                format!("{prefix}::{name}"),
                signature.clone(),
                doc,
                prefix.into(),
                signature,
            )
        };
        out.push(d);
    };
    if let Some(fs) = v["functions"].as_array() {
        for f in fs {
            push("", f);
        }
    }
    if let Some(mods) = v["modules"].as_object() {
        for (mname, m) in mods {
            if let Some(fs) = m["functions"].as_array() {
                for f in fs {
                    push(mname, f);
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.signature.cmp(&b.signature)));
    out
}

/// The module path (`dwb/names`) and the alias scripts use (`names`) of a stdlib file.
pub fn stdlib_module(m: &Embedded) -> (String, String) {
    let stem = m.name.trim_end_matches(".rhai");
    (format!("dwb/{stem}"), stem.to_string())
}

/// The `//!` lines that open a Rhai file, as Markdown (an empty `//!` separates paragraphs).
pub fn module_doc(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            let l = l.trim_start_matches("//!");
            l.strip_prefix(' ').unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The public functions of one stdlib module, in source order.
fn stdlib_fns(engine: &Engine, m: &Embedded) -> Vec<FnDoc> {
    let (module, alias) = stdlib_module(m);
    let Ok(ast) = engine.compile(m.text) else { return Vec::new() };
    let mut fns: Vec<(usize, FnDoc)> = ast
        .iter_functions()
        // Closures compile to `anon$…` functions: not part of the module's interface.
        .filter(|f| f.access != FnAccess::Private && !f.name.starts_with("anon$"))
        .map(|f| {
            let sig = format!("{}({})", f.name, f.params.join(", "));
            let at = m.text.find(&format!("fn {}(", f.name)).unwrap_or(usize::MAX);
            let usage = format!("{alias}::{sig}");
            (
                at,
                FnDoc::new(
                    f.name.to_string(),
                    sig,
                    comment_text(&f.comments),
                    module.clone(),
                    usage,
                ),
            )
        })
        .collect();
    fns.sort_by_key(|(at, _)| *at);
    fns.into_iter().map(|(_, d)| d).collect()
}

/// Every public function of the stdlib (`stdlib/*.rhai`, `import "dwb/<name>"`).
pub fn stdlib() -> Vec<FnDoc> {
    let engine = offline_engine();
    embedded::STDLIB.iter().flat_map(|m| stdlib_fns(&engine, m)).collect()
}

/// The standard scripts with their purpose and declared parameters.
pub fn scripts() -> Vec<ScriptDoc> {
    let engine = offline_engine();
    embedded::SCRIPTS
        .iter()
        .map(|s| ScriptDoc {
            name: s.name,
            purpose: super::scripts::purpose(s.text),
            params: engine
                .compile(s.text)
                .ok()
                .and_then(|ast| engine::params::declared(&engine, &ast).ok())
                .unwrap_or_default(),
        })
        .collect()
}

/// The registered functions and the stdlib's, as `dwb docs` documents them.
pub fn all() -> Vec<FnDoc> {
    let mut d = collect();
    d.extend(stdlib());
    d
}

/// Runs `dwb docs`.
pub fn docs(format: DocsFormat) -> exit::Code {
    let d = all();
    match format {
        DocsFormat::Markdown => crate::out!("{}", markdown(&d, &scripts())),
        DocsFormat::Json => {
            crate::outln!("{}", serde_json::to_string_pretty(&d).unwrap_or_default())
        }
    }
    exit::OK
}

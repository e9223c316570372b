//! `dwb check`: compile every script (and the modules it imports) and read its
//! parameter declarations, without touching a directory. Reports every error.

use std::sync::Arc;

use super::{fail, script};
use crate::engine::{self, diagnostic::ScriptError, params};
use crate::exit;
use crate::host::{Host, PrintTo};

/// Lints `scripts`; returns the exit code.
pub fn check(scripts: &[String]) -> i32 {
    let mut failed = 0;
    for name in scripts {
        let s = match script::load(name) {
            Ok(s) => s,
            Err(e) => {
                fail(&e);
                failed += 1;
                continue;
            }
        };
        let mut host = Host::offline();
        host.site_dir = s.site_dir.clone();
        host.print_to = PrintTo::Nowhere;
        let host = Arc::new(host);
        let engine = engine::build(host.clone());
        if let Ok(mut m) = host.texts.lock() {
            m.insert(s.source.clone(), s.text.clone());
        }
        let sources = || host.texts.lock().map(|m| m.clone()).unwrap_or_default();
        let ast = match engine.compile(&s.text) {
            Ok(mut a) => {
                a.set_source(s.source.as_str());
                a
            }
            Err(e) => {
                eprint!("{}", ScriptError::from_parse(&e, &s.source, &sources()).render());
                failed += 1;
                continue;
            }
        };
        // Compile imported modules too: resolving them runs only their definitions.
        let mut import_failed = false;
        for (path, pos) in imports(&s.text) {
            let resolver = crate::engine::resolver::DwbResolver::new(host.clone());
            if let Err(e) =
                rhai::ModuleResolver::resolve(&resolver, &engine, Some(&s.source), &path, pos)
            {
                eprint!("{}", ScriptError::from_eval(&e, &s.source, &sources()).render());
                import_failed = true;
            }
        }
        if import_failed {
            failed += 1;
            continue;
        }
        match params::declared(&engine, &ast) {
            Ok(p) => println!("ok: {} ({} parameter(s))", s.source, p.len()),
            Err(e) => {
                fail(&e);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} script(s) have errors", scripts.len());
        exit::SCRIPT_ERROR
    } else {
        exit::OK
    }
}

/// `import "x"` statements and their positions (simple scan: imports are top-level statements).
fn imports(text: &str) -> Vec<(String, rhai::Position)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("import ") {
            let rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('"')
                && let Some(end) = r.find('"')
            {
                let col = line.len() - t.len() + 1;
                out.push((r[..end].to_string(), rhai::Position::new((i + 1) as u16, col as u16)));
            }
        }
    }
    out
}

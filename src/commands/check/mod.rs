//! `dwb check`: compile every script (and the modules it imports), resolve
//! every function call and read the parameter declarations, without touching
//! a directory. Reports every error of every file: several syntax errors per
//! file (`recover`), and calls to functions that do not exist (`calls`).

pub(crate) mod calls;
mod recover;

use std::collections::HashSet;
use std::sync::Arc;

use rhai::{AST, Engine, ModuleResolver};

use super::failure::fail;
use super::script;
use crate::engine::resolver::{DwbResolver, EMBEDDED};
use crate::engine::{self, diagnostic::ScriptError, params};
use crate::exit;
use crate::host::{Host, PrintTo, RunConfig, lock};

/// One problem, to be shown in file order.
enum Problem {
    Script(ScriptError),
    Other(crate::error::Error),
}

impl Problem {
    /// Sort key: the checked file's problems first, by line, then each module's.
    fn place(&self, main: &str) -> (bool, String, usize) {
        match self {
            Problem::Script(e) => {
                let file = e.at.as_ref().map(|a| a.source.clone()).unwrap_or_default();
                (file != main, file, e.line())
            }
            Problem::Other(_) => (false, String::new(), usize::MAX),
        }
    }
}

/// Lints `scripts`; returns the exit code.
pub fn check(scripts: &[String]) -> exit::Code {
    let (mut errors, mut bad_files) = (0, 0);
    for name in scripts {
        let n = match script::load(name) {
            Ok(s) => check_one(&s),
            Err(e) => {
                fail(&e);
                1
            }
        };
        errors += n;
        bad_files += usize::from(n > 0);
    }
    if errors > 0 {
        crate::errln!("{bad_files} of {} script(s) have errors ({errors} in all)", scripts.len());
        exit::SCRIPT_ERROR
    } else {
        exit::OK
    }
}

/// Checks one script; prints its problems (or `ok`) and returns how many it has.
fn check_one(s: &script::Script) -> usize {
    let config = RunConfig {
        site_dir: s.site_dir.clone(),
        print_to: PrintTo::Nowhere,
        ..Default::default()
    };
    let host = Arc::new(Host::offline_with(config));
    let engine = engine::build(host.clone());
    lock(&host.texts).insert(s.source.clone(), s.text.clone());
    let parsed = recover::parse_all(&engine, &s.text);
    let sources = || lock(&host.texts).clone();
    let mut problems: Vec<Problem> = parsed
        .errors
        .iter()
        .map(|e| Problem::Script(ScriptError::from_parse(e, &s.source, &sources())))
        .collect();
    let mut n_params = 0;
    if let Some(mut ast) = parsed.ast {
        ast.set_source(s.source.as_str());
        let lint = Lint { engine: &engine, host: &host, known: calls::Known::of(&engine) };
        let mut seen = HashSet::from([s.source.clone()]);
        lint.file(&s.source, &ast, &parsed.lost_fns, &mut seen, &mut problems);
        // params() can only be called on a file that parsed as written.
        if parsed.errors.is_empty() {
            match params::declared(&engine, &ast) {
                Ok(p) => n_params = p.len(),
                Err(e) => problems.push(Problem::Other(e)),
            }
        }
    }
    problems.sort_by_key(|p| p.place(&s.source));
    for p in &problems {
        match p {
            Problem::Script(e) => crate::errout!("{}", e.render_frame()),
            Problem::Other(e) => {
                fail(e);
            }
        }
    }
    if problems.is_empty() {
        crate::outln!("ok: {} ({n_params} parameter(s))", s.source);
    } else {
        crate::errln!("{}: {} error(s)\n", s.source, problems.len());
    }
    problems.len()
}

/// The call lint of a file and of the modules it imports from disk.
struct Lint<'a> {
    engine: &'a Engine,
    host: &'a Arc<Host>,
    known: calls::Known,
}

impl Lint<'_> {
    fn file(
        &self,
        source: &str,
        ast: &AST,
        lost: &[String],
        seen: &mut HashSet<String>,
        out: &mut Vec<Problem>,
    ) {
        let sources = || lock(&self.host.texts).clone();
        let resolver = DwbResolver::new(self.host.clone());
        let mut known = self.known.clone();
        for (path, alias, pos) in calls::imports(ast) {
            match resolver.resolve(self.engine, Some(source), &path, pos) {
                Ok(m) => {
                    if !alias.is_empty() {
                        known.add_module(&alias, &m);
                    }
                }
                Err(e) => {
                    out.push(Problem::Script(ScriptError::from_eval(&e, source, &sources())));
                    continue;
                }
            }
            // A site's own module (its stdlib copy, a file beside the script) is checked too.
            if let Some((key, text)) = resolver.locate(Some(source), &path)
                && !key.starts_with(EMBEDDED)
                && seen.insert(key.clone())
                && let Ok(mut m_ast) = self.engine.compile(&text)
            {
                m_ast.set_source(key.as_str());
                self.file(&key, &m_ast, &[], seen, out);
            }
        }
        for b in calls::check(ast, &known, lost) {
            let code = ("DWB-SCRIPT-0012", "function_not_found");
            let e = ScriptError::at(source, b.pos, code, b.message, b.hint, &sources());
            out.push(Problem::Script(e));
        }
    }
}

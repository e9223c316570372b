//! `dwb repl`: an interactive shell on the same engine as `dwb run`. Variables
//! and imported modules persist across lines, unfinished blocks continue on
//! the next line, history is kept in the user's data directory, Tab completes
//! modules, functions and variables, and `:help NAME` prints a function's doc.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use rhai::{AST, Dynamic, Engine, Scope};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};

use super::docs::{FnDoc, collect};
use super::{fail, host, runtime};
use crate::cli::Conn;
use crate::engine::{self, diagnostic::ScriptError};
use crate::exit;
use crate::host::Host;
use crate::plan;
use crate::sources;

const SOURCE: &str = "<repl>";
const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "throw", "try", "catch", "import", "as", "true", "false", "print", "debug",
];
const COMMANDS: &[&str] = &[":help", ":plan", ":apply", ":scope", ":quit"];

struct ReplHelper {
    engine: Arc<Engine>,
    names: Vec<String>,
    vars: Arc<Mutex<Vec<String>>>,
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &before[start..];
        let mut cands: Vec<String> = Vec::new();
        if word.starts_with(':') && start == 0 {
            cands.extend(COMMANDS.iter().map(|s| s.to_string()));
        } else {
            cands.extend(self.names.iter().cloned());
            cands.extend(KEYWORDS.iter().map(|s| s.to_string()));
            if let Ok(v) = self.vars.lock() {
                cands.extend(v.iter().cloned());
            }
        }
        cands.sort();
        cands.dedup();
        let pairs = cands
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair { display: c.clone(), replacement: c })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}
impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') {
            return Ok(ValidationResult::Valid(None));
        }
        Ok(match self.engine.compile(input) {
            Err(e) if is_incomplete(&e, input) => ValidationResult::Incomplete,
            _ => ValidationResult::Valid(None),
        })
    }
}

impl Helper for ReplHelper {}

/// True when the parser only wants more text: the error sits at the end of the input.
fn is_incomplete(e: &rhai::ParseError, input: &str) -> bool {
    use rhai::{LexError, ParseErrorType as P};
    let lines = input.lines().count().max(1);
    let at_end = e.1.line().is_none_or(|l| l >= lines);
    match &*e.0 {
        P::UnexpectedEOF => true,
        P::MissingToken(..) => at_end,
        P::BadInput(LexError::UnterminatedString) => true,
        _ => false,
    }
}

fn help(docs: &[FnDoc], name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return "Type Rhai statements; variables, functions and imports persist.\n  :help NAME   doc of a function (e.g. :help ad::search)\n  :plan        the pending plan\n  :apply       apply the pending plan\n  :scope       variables\n  :quit        leave (Ctrl-D)\nTab completes modules, functions and variables.\n".into();
    }
    let hits: Vec<&FnDoc> =
        docs.iter().filter(|d| d.name == name || d.name.ends_with(&format!("::{name}"))).collect();
    if hits.is_empty() {
        let close: Vec<&str> =
            docs.iter().map(|d| d.name.as_str()).filter(|n| n.contains(name)).take(10).collect();
        return format!(
            "no function `{name}`{}\n",
            if close.is_empty() {
                String::new()
            } else {
                format!("; similar: {}", close.join(", "))
            }
        );
    }
    hits.iter().map(|d| format!("{}\n{}\n", d.signature, d.doc)).collect::<Vec<_>>().join("\n")
}

fn history_path() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("DWB_HISTORY") {
        return Some(p.into());
    }
    let d = directories::ProjectDirs::from("", "", "dwb")?;
    let dir = d.data_dir().to_path_buf();
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history.txt"))
}

/// Runs the REPL; returns the exit code.
pub fn repl(conn: &Conn, dry_run: bool) -> i32 {
    let sources = match sources::resolve(conn) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    let mut host = host(sources, &rt);
    host.dry_run = dry_run;
    host.site_dir = Some(".".into());
    let host = Arc::new(host);
    let engine = Arc::new(engine::build(host.clone()));
    let docs = collect();
    let vars = Arc::new(Mutex::new(Vec::new()));
    let mut names: Vec<String> = docs.iter().map(|d| d.name.clone()).collect();
    names.extend(["ad::", "graph::", "plan::", "report::", "dwb::"].iter().map(|s| s.to_string()));
    let helper = ReplHelper { engine: engine.clone(), names, vars: vars.clone() };
    let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> = match Editor::new() {
        Ok(r) => r,
        Err(e) => {
            return fail(&crate::error::Error::internal(format!(
                "cannot start the line editor: {e}"
            )));
        }
    };
    rl.set_helper(Some(helper));
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    println!("dwb {} REPL — :help for help, :quit to leave", env!("CARGO_PKG_VERSION"));
    let mut scope = Scope::new();
    let mut fns = AST::empty();
    let mut imports: Vec<String> = Vec::new();
    loop {
        let line = match rl.readline("dwb> ") {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        };
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        if let Some(cmd) = input.strip_prefix(':') {
            let (c, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
            match c {
                "quit" | "q" | "exit" => break,
                "help" | "h" => print!("{}", help(&docs, arg)),
                "plan" => print!(
                    "{}",
                    host.plan.lock().map(|p| plan::render::text(&p)).unwrap_or_default()
                ),
                "scope" => {
                    for (n, _, v) in scope.iter() {
                        println!("{n} = {v}");
                    }
                }
                "apply" => apply(&host),
                other => println!("unknown command :{other}; try :help"),
            }
            continue;
        }
        let is_import = input.starts_with("import ");
        let text = format!("{}\n{}", imports.join("\n"), line);
        if let Ok(mut s) = host.texts.lock() {
            s.insert(SOURCE, text.clone());
        }
        let result = engine.compile_with_scope(&scope, &text).map_err(|e| {
            let s = host.texts.lock().map(|s| s.clone()).unwrap_or_default();
            ScriptError::from_parse(&e, SOURCE, &s)
        });
        let ast = match result {
            Ok(mut a) => {
                a.set_source(SOURCE);
                a
            }
            Err(d) => {
                eprint!("{}", d.render());
                continue;
            }
        };
        let merged = fns.merge(&ast);
        match engine.eval_ast_with_scope::<Dynamic>(&mut scope, &merged) {
            Ok(v) => {
                if !v.is_unit() {
                    println!("=> {v:?}");
                }
                if is_import {
                    imports.push(line.clone());
                }
            }
            Err(e) => {
                let s = host.texts.lock().map(|s| s.clone()).unwrap_or_default();
                eprint!("{}", ScriptError::from_eval(&e, SOURCE, &s).render());
            }
        }
        fns = merged;
        fns.clear_statements();
        if let Ok(mut v) = vars.lock() {
            *v = scope.iter().map(|(n, _, _)| n.to_string()).collect();
        }
    }
    if let Some(h) = &hist {
        let _ = rl.save_history(h);
    }
    exit::OK
}

fn apply(host: &Host) {
    if host.dry_run {
        println!("dry run: nothing applied");
        return;
    }
    // The same question as `dwb run` (nothing asks without a terminal).
    let ok = host.plan.lock().map(|p| p.is_empty() || super::confirm::confirm_plan(&p, false));
    if !ok.unwrap_or(false) {
        println!("nothing applied; the plan is kept (:plan shows it)");
        return;
    }
    match host.apply_pending() {
        Ok((plan, outcomes)) if !plan.is_empty() => {
            let ok = outcomes.iter().filter(|o| matches!(o, plan::Outcome::Applied)).count();
            for (c, o) in plan.changes.iter().zip(&outcomes) {
                if let plan::Outcome::Failed { message, .. } = o {
                    println!("FAILED {}. {} {}: {message}", c.id, c.op.verb(), c.op.target());
                }
            }
            println!("applied {ok} of {} change(s)", outcomes.len());
        }
        Ok(_) => println!("nothing to apply"),
        Err(e) => eprintln!("error: {e}"),
    }
}

//! `dwb repl`: an interactive shell on the same engine as `dwb run`. Variables,
//! functions and imported modules persist across lines (an import becomes a
//! module of the engine, so every later line compiles on its own and errors
//! point at the line typed); unfinished blocks continue on the next line;
//! values are shown the way an administrator reads them (`show`); Tab lists
//! candidates (`complete`); history is written after every line.

mod complete;
mod show;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rhai::{AST, Dynamic, Engine, FnAccess, Scope, Stmt};
use rustyline::error::ReadlineError;
use rustyline::{CompletionType, Config, Editor};

use super::check::calls::{self, Known};
use super::docs::{FnDoc, all};
use super::failure::fail;
use super::session::{self, Signals};
use crate::cli::Conn;
use crate::engine::{self, diagnostic::ScriptError};
use crate::error::did_you_mean;
use crate::exit;
use crate::host::{Host, RunConfig, lock};
use crate::plan;
use crate::sources;
use complete::{Members, Names, ReplHelper};

const SOURCE: &str = "<repl>";
const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "throw", "try", "catch", "import", "as", "true", "false", "print", "debug",
    "type_of",
];

const HELP: &str = "\
Type Rhai statements; variables, functions and imports persist.
  :help NAME   doc of a function (e.g. :help ad::search)
  :raw [EXPR]  the structure of the last value (or of EXPR), with its types
  :plan        the pending plan
  :apply       show the pending plan, ask, apply it
  :scope       variables
  :quit        leave (also exit, quit, Ctrl-D, or Ctrl-C twice at an empty prompt)
Ctrl-C stops the line that runs; variables and the pending plan are kept.
Tab lists modules (ad::, graph::, writeback::, plan::, report::, dwb::), their functions,
a value's methods (x.), an entry's attributes (x[\"), and these commands.
";

fn help(docs: &[FnDoc], name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        return HELP.into();
    }
    let hits: Vec<&FnDoc> =
        docs.iter().filter(|d| d.name == name || d.name.ends_with(&format!("::{name}"))).collect();
    if !hits.is_empty() {
        return hits
            .iter()
            .map(|d| format!("{}\n{}\n", d.usage, d.doc))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let mut out = format!("no function `{name}`");
    if let Some(s) = did_you_mean(name, docs.iter().map(|d| d.name.as_str())) {
        out.push_str(&format!("; did you mean `{s}`?"));
    }
    let stem = name.rsplit("::").next().unwrap_or(name);
    let close: Vec<&str> =
        docs.iter().map(|d| d.name.as_str()).filter(|n| n.contains(stem)).take(10).collect();
    if !close.is_empty() {
        out.push_str(&format!("\nsimilar: {}", close.join(", ")));
    }
    out.push('\n');
    out
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

/// Methods and properties by (lower-case) type name, from what the engine registers.
fn method_table(engine: &Engine) -> HashMap<String, BTreeSet<String>> {
    let json = engine.gen_fn_metadata_to_json(true).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for f in v["functions"].as_array().into_iter().flatten() {
        let (Some(name), Some(ty)) = (f["name"].as_str(), f["params"][0]["type"].as_str()) else {
            continue;
        };
        let shown = match name.strip_prefix("get$") {
            Some(prop) => prop.to_string(),
            None if name.contains('$') => continue,
            None => name.to_string(),
        };
        if !shown.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
            continue;
        }
        out.entry(type_key(ty)).or_default().insert(shown);
    }
    out
}

/// `&mut Array`, `Array`, `array` → `array`; the string types → `string`.
fn type_key(t: &str) -> String {
    let t = t.trim_start_matches("&mut ").trim_start_matches('&').trim().to_ascii_lowercase();
    match t.as_str() {
        "str" | "immutablestring" | "string" => "string".into(),
        "int" | "i64" => "i64".into(),
        _ => t,
    }
}

/// One REPL session: the engine (which gains each imported module), the
/// variables, the functions typed so far and the last value.
struct Session {
    host: Arc<Host>,
    engine: Engine,
    scope: Scope<'static>,
    fns: AST,
    last: Dynamic,
    imports: Vec<(String, Vec<String>)>,
    methods: HashMap<String, BTreeSet<String>>,
    docs: Vec<FnDoc>,
}

impl Session {
    /// Compiles and runs `text`; returns the value, or prints the error.
    fn eval(&mut self, text: &str) -> Option<Dynamic> {
        lock(&self.host.texts).insert(SOURCE, text.to_string());
        let sources = || lock(&self.host.texts).clone();
        let mut ast = match self.engine.compile_with_scope(&self.scope, text) {
            Ok(a) => a,
            Err(e) => {
                crate::errout!("{}", ScriptError::from_parse(&e, SOURCE, &sources()).render());
                return None;
            }
        };
        ast.set_source(SOURCE);
        let merged = self.fns.merge(&ast);
        // A Ctrl-C between lines is no reason to stop this one.
        self.host.cancel().clear_interrupt();
        let result = self.engine.eval_ast_with_scope::<Dynamic>(&mut self.scope, &merged);
        self.host.cancel().clear_interrupt();
        let shown = match result {
            Ok(v) => Ok(v),
            Err(e) => {
                let mut err = ScriptError::from_eval(&e, SOURCE, &sources());
                if matches!(e.unwrap_inner(), rhai::EvalAltResult::ErrorFunctionNotFound(..)) {
                    self.suggest(&mut err, &merged);
                }
                Err(err)
            }
        };
        self.fns = merged;
        self.fns.clear_statements();
        match shown {
            Ok(v) => {
                self.keep_imports(&ast);
                Some(v)
            }
            Err(err) => {
                crate::errout!("{}", err.render());
                None
            }
        }
    }

    /// A call that names no function gets `dwb check`'s wording: the name as
    /// typed and the closest known one.
    fn suggest(&self, err: &mut ScriptError, ast: &AST) {
        // Imported modules are static modules of the engine by now: included.
        let known = Known::of(&self.engine);
        let line = err.at.as_ref().map(|a| (a.line, a.column));
        let bad = calls::check(ast, &known, &[]);
        let hit = bad
            .iter()
            .find(|b| line == Some((b.pos.line().unwrap_or(0), b.pos.position().unwrap_or(0))))
            .or_else(|| bad.first());
        if let Some(b) = hit {
            err.message = b.message.clone();
            if let Some(h) = &b.hint {
                err.help = Some(h.clone());
            }
        }
    }

    /// Makes the line's top-level `import "x" as y` a module of the engine, so
    /// later lines (compiled alone) can use `y::`.
    fn keep_imports(&mut self, ast: &AST) {
        for stmt in ast.statements() {
            let Stmt::Import(x, pos) = stmt else { continue };
            let rhai::Expr::StringConstant(path, _) = &x.0 else { continue };
            let alias = x.1.name.to_string();
            if alias.is_empty() {
                continue;
            }
            let m = self.engine.module_resolver().resolve(&self.engine, None, path, *pos);
            match m {
                Ok(m) => {
                    let fns: Vec<String> = m
                        .iter_script_fn_info()
                        .filter(|(_, a, ..)| *a != FnAccess::Private)
                        .map(|(_, _, n, ..)| format!("{alias}::{n}"))
                        .collect();
                    self.imports.retain(|(a, _)| *a != alias);
                    self.imports.push((alias.clone(), fns));
                    self.engine.register_static_module(alias, m);
                }
                Err(e) => crate::errln!("error: keeping `{alias}` for later lines: {e}"),
            }
        }
    }

    /// What completion offers now.
    fn names(&self) -> Names {
        let mut words: Vec<String> = self.docs.iter().map(|d| d.name.clone()).collect();
        words.retain(|w| w.contains("::"));
        let modules: BTreeSet<String> = words
            .iter()
            .filter_map(|w| w.split_once("::").map(|(m, _)| format!("{m}::")))
            .collect();
        words.extend(modules);
        for (alias, fns) in &self.imports {
            words.push(format!("{alias}::"));
            words.extend(fns.iter().cloned());
        }
        words.extend(KEYWORDS.iter().map(|k| k.to_string()));
        words.extend(self.fns.iter_functions().map(|f| f.name.to_string()));
        // Closures are compiled to `anon$<hash>` functions: no name anyone typed.
        words.retain(|w| !w.contains('$'));
        let mut members = HashMap::new();
        for (name, _, v) in self.scope.iter() {
            words.push(name.to_string());
            members.insert(name.to_string(), self.members(&v));
        }
        let mut help: Vec<String> = self.docs.iter().map(|d| d.name.clone()).collect();
        help.retain(|n| n.contains("::"));
        Names { words, help, members }
    }

    /// A value's methods and properties, and its keys (map) or attributes (entry).
    fn members(&self, v: &Dynamic) -> Members {
        let ty = type_key(self.engine.map_type_name(v.type_name()));
        let mut dotted: Vec<String> =
            self.methods.get(&ty).map(|m| m.iter().cloned().collect()).unwrap_or_default();
        let mut keys = Vec::new();
        if let Some(m) = v.read_lock::<rhai::Map>() {
            keys = m.keys().map(|k| k.to_string()).collect();
            dotted.extend(keys.iter().filter(|k| !k.contains(['-', ' ', '.'])).cloned());
        }
        if let Some(e) = v.read_lock::<crate::bindings::values::EntryValue>() {
            keys = e.0.names();
        }
        Members { dotted, keys }
    }
}

/// Runs the REPL; returns the exit code.
pub fn repl(conn: &Conn, dry_run: bool) -> exit::Code {
    let sources = match sources::resolve(conn) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let config = RunConfig {
        dry_run,
        site_dir: Some(".".into()),
        ..RunConfig::from_loaded(&sources.loaded)
    };
    // Closed when this function returns, whichever way: the Kerberos-safe shutdown.
    let session = match session::Session::open(sources, Signals::Evaluation, config) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let host = session.host().clone();
    let engine = engine::build(host.clone());
    // Completeness only: a line naming a module imported earlier is not "unfinished".
    let mut checker = engine::build(host.clone());
    checker.set_strict_variables(false);
    let mut s = Session {
        methods: method_table(&engine),
        host: host.clone(),
        engine,
        scope: Scope::new(),
        fns: AST::empty(),
        last: Dynamic::UNIT,
        imports: Vec::new(),
        docs: all(),
    };
    let names = Arc::new(Mutex::new(s.names()));
    let helper = ReplHelper { engine: Arc::new(checker), names: names.clone() };
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .completion_show_all_if_ambiguous(true)
        .build();
    let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        match Editor::with_config(config) {
            Ok(r) => r,
            Err(e) => {
                return fail(&crate::error::Error::internal(format!(
                    "cannot start the line editor: {e}"
                )));
            }
        };
    rl.set_helper(Some(helper));
    // Whether the line was empty when Ctrl-C was pressed (rustyline drops it).
    let at_empty = Arc::new(std::sync::atomic::AtomicBool::new(false));
    rl.bind_sequence(
        rustyline::KeyEvent::ctrl('C'),
        rustyline::EventHandler::Conditional(Box::new(CtrlC(at_empty.clone()))),
    );
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    crate::outln!(
        "dwb {} REPL\n  directory: {}\n  devices:   {}\n:help for help, Tab lists candidates, \
         :quit (or exit, Ctrl-D) to leave; Ctrl-C stops a running line",
        env!("CARGO_PKG_VERSION"),
        host.directory().source().describe(),
        host.devices.describe()
    );
    let mut ctrl_c_at_empty_prompt = false;
    loop {
        let line = match read_input(&mut rl, &at_empty) {
            Input::Text(l) => l,
            Input::Interrupted { empty } => {
                // Ctrl-C drops what was typed; twice at an empty prompt leaves.
                if empty && ctrl_c_at_empty_prompt {
                    break;
                }
                ctrl_c_at_empty_prompt = empty;
                if empty {
                    crate::errln!("(Ctrl-C again, Ctrl-D or `exit` to leave)");
                }
                continue;
            }
            Input::End => break,
        };
        ctrl_c_at_empty_prompt = false;
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        if LEAVE.contains(&input) {
            let _ = rl.add_history_entry(line.as_str());
            if let Some(h) = &hist {
                let _ = rl.append_history(h);
            }
            break;
        }
        // Written at once: a session that is killed keeps what was typed.
        let _ = rl.add_history_entry(line.as_str());
        if let Some(h) = &hist {
            let _ = rl.append_history(h);
        }
        if let Some(cmd) = input.strip_prefix(':') {
            let (c, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
            match c {
                "quit" | "q" | "exit" => break,
                "help" | "h" => crate::out!("{}", help(&s.docs, arg)),
                "raw" if arg.trim().is_empty() => crate::outln!("{}", show::raw(&s.last)),
                "raw" => {
                    if let Some(v) = s.eval(arg) {
                        crate::outln!("{}", show::raw(&v));
                        s.last = v;
                    }
                }
                "plan" => crate::out!("{}", plan::render::text(&lock(&host.plan))),
                "scope" => {
                    for (n, _, v) in s.scope.iter() {
                        let shown = show::show(&v).unwrap_or_else(|| "()".into());
                        let one_line = shown.lines().next().unwrap_or_default();
                        let more = if shown.lines().count() > 1 { " …" } else { "" };
                        crate::outln!("{n} = {one_line}{more}");
                    }
                }
                "apply" => apply(&host, &mut rl),
                other => {
                    let cmds = complete::COMMANDS.iter().map(|c| c.trim_start_matches(':'));
                    match did_you_mean(other, cmds) {
                        Some(m) => crate::outln!("unknown command :{other}; did you mean :{m}?"),
                        None => crate::outln!("unknown command :{other}; try :help"),
                    }
                }
            }
            refresh(&names, &s);
            continue;
        }
        if let Some(v) = s.eval(&line) {
            if let Some(text) = show::show(&v) {
                if text.contains('\n') {
                    crate::outln!("{text}")
                } else {
                    crate::outln!("=> {text}")
                }
            }
            s.last = v;
        }
        refresh(&names, &s);
    }
    exit::OK
}

/// Words that leave the REPL as `:quit` does (what other shells answer to).
const LEAVE: &[&str] = &["exit", "quit", "exit()", "quit()", "exit;", "quit;", "exit();"];

/// The prompt of a line that continues an unfinished statement.
const MORE: &str = "...> ";

/// Notes whether the line is empty when Ctrl-C is pressed; rustyline then
/// interrupts as it always does.
struct CtrlC(Arc<std::sync::atomic::AtomicBool>);

impl rustyline::ConditionalEventHandler for CtrlC {
    fn handle(
        &self,
        _: &rustyline::Event,
        _: rustyline::RepeatCount,
        _: bool,
        ctx: &rustyline::EventContext,
    ) -> Option<rustyline::Cmd> {
        self.0.store(ctx.line().is_empty(), std::sync::atomic::Ordering::SeqCst);
        None
    }
}

/// What the prompt read.
enum Input {
    /// A complete statement (possibly over several lines).
    Text(String),
    /// Ctrl-C; `empty`: at an empty prompt, nothing typed.
    Interrupted { empty: bool },
    /// Ctrl-D or a terminal error.
    End,
}

/// Reads lines until the statement is complete; continuation lines show [`MORE`].
fn read_input(
    rl: &mut Editor<ReplHelper, rustyline::history::DefaultHistory>,
    at_empty: &std::sync::atomic::AtomicBool,
) -> Input {
    let mut text = String::new();
    loop {
        let prompt = if text.is_empty() { "dwb> " } else { MORE };
        at_empty.store(false, std::sync::atomic::Ordering::SeqCst);
        match rl.readline(prompt) {
            Ok(l) => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&l);
                let unfinished = rl.helper().is_some_and(|h| h.is_unfinished(&text));
                if !unfinished {
                    return Input::Text(text);
                }
            }
            Err(ReadlineError::Interrupted) => {
                let empty = text.is_empty() && at_empty.load(std::sync::atomic::Ordering::SeqCst);
                return Input::Interrupted { empty };
            }
            Err(ReadlineError::Eof) if !text.is_empty() => {
                return Input::Interrupted { empty: false };
            }
            Err(ReadlineError::Eof) => return Input::End,
            Err(e) => {
                crate::errln!("error: {e}");
                return Input::End;
            }
        }
    }
}

fn refresh(names: &Mutex<Names>, s: &Session) {
    if let Ok(mut n) = names.lock() {
        *n = s.names();
    }
}

/// `:apply`: the plan's summary, a question on a terminal (y/N), then apply.
fn apply(host: &Host, rl: &mut Editor<ReplHelper, rustyline::history::DefaultHistory>) {
    if host.dry_run {
        crate::outln!("dry run: nothing applied");
        return;
    }
    let summary = {
        let p = lock(&host.plan);
        if p.is_empty() {
            crate::outln!("nothing to apply");
            return;
        }
        let mut out: Vec<String> = p
            .changes
            .iter()
            .map(|c| {
                let target = crate::text::visible(&c.op.target()).into_owned();
                format!("{:>3}. {:<7} {target}", c.id, c.op.verb())
            })
            .collect();
        let counts: Vec<String> = p.counts().iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push(format!("Plan: {} change(s): {}", p.len(), counts.join(", ")));
        (out.join("\n"), p.len())
    };
    crate::outln!("{}", summary.0);
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let answer = rl.readline(&format!("Apply these {} change(s)? [y/N] ", summary.1));
        let yes = answer.map(|a| matches!(a.trim(), "y" | "Y" | "yes")).unwrap_or(false);
        if !yes {
            crate::outln!("not applied: the plan is kept (:plan shows it)");
            return;
        }
    }
    // A Ctrl-C from before (between lines) does not stop this apply; one now does.
    host.cancel().clear_interrupt();
    match host.apply_pending() {
        Ok((plan, outcomes)) => {
            let ok = outcomes.iter().filter(|o| o.is_done()).count();
            for (c, o) in plan.changes.iter().zip(&outcomes) {
                if let plan::Outcome::Failed { message, .. } = o {
                    let target = crate::text::visible(&c.op.target()).into_owned();
                    let message = crate::text::visible(message).into_owned();
                    crate::outln!("FAILED {}. {} {target}: {message}", c.id, c.op.verb());
                }
            }
            crate::outln!("applied {ok} of {} change(s)", outcomes.len());
        }
        Err(e) => crate::errln!("error: {e}"),
    }
}

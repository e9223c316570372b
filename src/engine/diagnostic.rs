//! Script errors as miette diagnostics: the file, line and column of the
//! failing expression with its source line and a caret, the chain of calls and
//! imports that led there, and for errors raised by dwb's bindings their stable
//! code and `kind`.
//!
//! Rhai reports a nested error at the *call site*; the real position is inside
//! `ErrorInFunctionCall` / `ErrorInModule`, so the chain is walked here.
//!
//! How much is shown depends on whose code failed: an error raised inside
//! dwb's own (embedded) scripts is the administrator's situation, not their
//! code, so it is the message and hint once and the location on one line (`-v`
//! shows the frame); a configuration or input-file problem is just that
//! error; a site's own script gets the source frame.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceOffset, SourceSpan};
use rhai::{Dynamic, EvalAltResult, ParseError, Position};

use crate::engine::resolver::EMBEDDED;
use crate::host::ScriptTexts;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `-v`: show the source frame of errors in dwb's own scripts too.
pub fn set_verbose(v: bool) {
    VERBOSE.store(v, Ordering::Relaxed);
}

/// A place in a script.
#[derive(Debug, Clone)]
pub struct Frame {
    pub source: String,
    pub line: usize,
    pub column: usize,
    pub label: String,
}

/// A rendered script error.
#[derive(Debug)]
pub struct ScriptError {
    pub message: String,
    pub code: String,
    pub kind: String,
    pub at: Option<Frame>,
    /// Call sites, outermost first.
    pub chain: Vec<Frame>,
    pub help: Option<String>,
    src: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
    related: Vec<CallSite>,
}

#[derive(Debug)]
struct CallSite {
    label: String,
    src: NamedSource<String>,
    span: SourceSpan,
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}
impl std::error::Error for CallSite {}
impl Diagnostic for CallSite {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("called here".into()),
            self.span,
        ))))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(at) = &self.at {
            write!(f, " ({}:{}:{})", at.source, at.line, at.column)?;
        }
        Ok(())
    }
}
impl std::error::Error for ScriptError {}

impl Diagnostic for ScriptError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("{} ({})", self.code, self.kind)))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        // The message is the heading already: a label repeating it is noise.
        let label = self.at.as_ref().map(|a| a.label.clone()).filter(|l| *l != self.message);
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(label, span))))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().rev().map(|c| c as &dyn Diagnostic)))
    }
}

fn span_of(text: &str, pos: Position) -> Option<SourceSpan> {
    let line = pos.line()?;
    let col = pos.position().unwrap_or(1);
    let off = SourceOffset::from_location(text, line, col);
    let len =
        text.get(off.offset()..).and_then(|s| s.chars().next()).map(|c| c.len_utf8()).unwrap_or(0);
    Some(SourceSpan::new(off, len))
}

fn frame(source: &str, pos: Position, label: String) -> Option<Frame> {
    Some(Frame {
        source: source.to_string(),
        line: pos.line()?,
        column: pos.position().unwrap_or(1),
        label,
    })
}

/// Strips Rhai's " (line N, position M)" suffix from a message.
fn bare(msg: &str) -> String {
    match msg.rfind(" (line ") {
        Some(i) if msg.ends_with(')') => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// Code, kind, message and hint of a value a binding (or a script) threw.
fn thrown(v: &Dynamic) -> (String, String, String, Option<String>) {
    if let Some(m) = v.read_lock::<rhai::Map>() {
        let get = |k: &str| m.get(k).map(|v| v.to_string()).filter(|s| !s.is_empty() && s != "()");
        let mut message = get("message").unwrap_or_else(|| v.to_string());
        if let Some(dn) = get("dn")
            && !message.contains(&dn)
        {
            message = format!("{message} [{dn}]");
        }
        if let Some(t) = get("server_text") {
            message = format!("{message} (server said: {t})");
        }
        let code = get("code").unwrap_or_else(|| "DWB-SCRIPT-0100".into());
        let kind = get("kind").unwrap_or_else(|| "script_error".into());
        let message = code_once(&code, &kind, &message).to_string();
        return (code, kind, message, get("hint"));
    }
    ("DWB-SCRIPT-0100".into(), "script_error".into(), v.to_string(), None)
}

/// `message` without a leading copy of its own code (and kind): an error that
/// wraps another (Graph's `DWB-GRAPH-0010 auth: …`) would otherwise read
/// `DWB-GRAPH-0010 (auth): DWB-GRAPH-0010 auth: …`.
pub fn code_once<'a>(code: &str, kind: &str, message: &'a str) -> &'a str {
    let Some(rest) = message.strip_prefix(code) else { return message };
    let rest = rest.trim_start_matches([' ', '(']);
    let rest = rest.strip_prefix(kind).unwrap_or(rest);
    rest.trim_start_matches([')', ':', ' '])
}

impl ScriptError {
    /// The dwb error kind behind this diagnostic, when a dwb error caused it
    /// (found by its stable code; script diagnostics have none).
    pub fn error_kind(&self) -> Option<crate::error::Kind> {
        crate::error::Kind::ALL.iter().copied().find(|k| k.code() == self.code)
    }

    /// The exit code this error maps to (130 when interrupted, else 2).
    pub fn exit_code(&self) -> i32 {
        match self.kind.as_str() {
            "cancelled" => 130,
            // A configuration problem found once the script needed the directory.
            "config" | "ldif" => 3,
            _ => 2,
        }
    }

    /// From a parse error in `source`.
    pub fn from_parse(err: &ParseError, source: &str, sources: &ScriptTexts) -> ScriptError {
        let pos = err.position();
        let message = bare(&err.to_string());
        let mut e = ScriptError {
            message: format!("syntax error: {message}"),
            code: "DWB-SCRIPT-0010".into(),
            kind: "syntax".into(),
            at: frame(source, pos, message),
            chain: Vec::new(),
            help: None,
            src: None,
            span: None,
            related: Vec::new(),
        };
        if let Some(text) = sources.get(source) {
            e.span = span_of(text, pos);
            e.src = Some(NamedSource::new(source, text.to_string()));
        }
        e
    }

    /// A problem found at `pos` in `source` without running it (`dwb check`).
    pub fn at(
        source: &str,
        pos: Position,
        (code, kind): (&str, &str),
        message: String,
        help: Option<String>,
        sources: &ScriptTexts,
    ) -> ScriptError {
        let mut e = ScriptError {
            at: frame(source, pos, message.clone()),
            message,
            code: code.into(),
            kind: kind.into(),
            chain: Vec::new(),
            help,
            src: None,
            span: None,
            related: Vec::new(),
        };
        if let Some(text) = sources.get(source) {
            e.span = span_of(text, pos);
            e.src = Some(NamedSource::new(source, text.to_string()));
        }
        e
    }

    /// The line of the error's own position (0 when it has none).
    pub fn line(&self) -> usize {
        self.at.as_ref().map(|a| a.line).unwrap_or(0)
    }

    /// From a runtime error of a script whose top-level source is `source`.
    pub fn from_eval(err: &EvalAltResult, source: &str, sources: &ScriptTexts) -> ScriptError {
        let mut chain = Vec::new();
        let mut cur_src = source.to_string();
        let mut e = err;
        loop {
            match e {
                EvalAltResult::ErrorInFunctionCall(name, fsrc, inner, pos) => {
                    chain.extend(frame(&cur_src, *pos, format!("in call to `{name}`")));
                    if !fsrc.is_empty() {
                        cur_src = fsrc.clone();
                    }
                    e = inner;
                }
                EvalAltResult::ErrorInModule(path, inner, pos) => {
                    chain.extend(frame(&cur_src, *pos, format!("importing `{path}`")));
                    cur_src = path.clone();
                    e = inner;
                }
                _ => break,
            }
        }
        let (code, kind, message, help) = match e {
            EvalAltResult::ErrorRuntime(v, _) => thrown(v),
            EvalAltResult::ErrorTerminated(..) => ("DWB-RUN-0130".into(), "cancelled".into(), "interrupted (Ctrl-C)".into(), None),
            EvalAltResult::ErrorParsing(p, _) => ("DWB-SCRIPT-0010".into(), "syntax".into(), format!("syntax error: {}", bare(&p.to_string())), None),
            EvalAltResult::ErrorModuleNotFound(m, _) => ("DWB-SCRIPT-0011".into(), "module_not_found".into(), format!("module `{m}` not found"), Some("stdlib modules are imported as \"dwb/<name>\"; other imports resolve beside the script".to_string())),
            EvalAltResult::ErrorFunctionNotFound(f, _) => ("DWB-SCRIPT-0012".into(), "function_not_found".into(), format!("function not found: {f}"), Some("`dwb docs` lists every function and its parameter types".to_string())),
            EvalAltResult::ErrorVariableNotFound(v, _) => ("DWB-SCRIPT-0013".into(), "variable_not_found".into(), format!("variable not found: {v}"), None),
            EvalAltResult::ErrorPropertyNotFound(p, _) => ("DWB-SCRIPT-0014".into(), "property_not_found".into(), format!("property not found: {p}"), Some("check the spelling; `m.keys()` lists a map's properties".to_string())),
            other => ("DWB-SCRIPT-0100".into(), "script_error".into(), bare(&other.to_string()), None),
        };
        let pos = e.position();
        let at = frame(&cur_src, pos, message.clone());
        let mut out = ScriptError {
            message,
            code,
            kind,
            at,
            chain: chain.clone(),
            help,
            src: None,
            span: None,
            related: Vec::new(),
        };
        if let Some(text) = sources.get(&cur_src) {
            out.span = span_of(text, pos);
            out.src = Some(NamedSource::new(cur_src.clone(), text.to_string()));
        }
        for f in chain {
            if let Some(text) = sources.get(&f.source) {
                let p = Position::new(f.line as u16, f.column as u16);
                if let Some(span) = span_of(text, p) {
                    out.related.push(CallSite {
                        label: f.label.clone(),
                        src: NamedSource::new(f.source.clone(), text.to_string()),
                        span,
                    });
                }
            }
        }
        out
    }

    /// The error as JSON for reports.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "kind": self.kind,
            "message": self.message,
            "file": self.at.as_ref().map(|a| a.source.clone()),
            "line": self.at.as_ref().map(|a| a.line),
            "column": self.at.as_ref().map(|a| a.column),
            "call_chain": self.chain.iter().map(|f| serde_json::json!({"file": f.source, "line": f.line, "column": f.column, "what": f.label})).collect::<Vec<_>>(),
            "help": self.help,
        })
    }

    /// True for a configuration or input problem (a bad file, a missing
    /// setting): the script is not at fault, so its frame is no help.
    pub fn is_input_error(&self) -> bool {
        self.exit_code() == 3
    }

    /// True when the error was raised in a script embedded in dwb.
    fn in_dwb_script(&self) -> bool {
        self.at.as_ref().is_some_and(|a| a.source.starts_with(EMBEDDED))
    }

    /// Where it happened, on one line: `<embedded>/scripts/enable.rhai:21:5`, then
    /// the outermost call site when it is elsewhere.
    fn location(&self) -> Option<String> {
        let at = self.at.as_ref()?;
        let mut out = format!("{}:{}:{}", at.source, at.line, at.column);
        if let Some(outer) = self.chain.first() {
            out.push_str(&format!(
                ", called from {}:{}:{}",
                outer.source, outer.line, outer.column
            ));
        }
        Some(out)
    }

    /// The message and hint once, the location on one line.
    fn render_short(&self, with_location: bool) -> String {
        let mut out = format!("error: {} ({}): {}\n", self.code, self.kind, self.message);
        if let Some(h) = &self.help {
            out.push_str(&format!("  hint: {h}\n"));
        }
        if with_location && let Some(l) = self.location() {
            out.push_str(&format!("  at {l} (-v shows the script's lines)\n"));
        }
        out
    }

    /// The code, message and hint, no source: for an error raised in a call
    /// dwb itself composed (`dwb explain`'s), whose text is no one's script.
    pub fn render_without_frame(&self) -> String {
        self.render_short(false)
    }

    /// Renders the error for a terminal: short for input errors and errors
    /// in dwb's own scripts (unless `-v`), else with the source frame.
    pub fn render(&self) -> String {
        let verbose = VERBOSE.load(Ordering::Relaxed);
        if !verbose && self.is_input_error() {
            return self.render_short(false);
        }
        if !verbose && self.in_dwb_script() {
            return self.render_short(true);
        }
        self.render_frame()
    }

    /// Renders with miette's graphical handler (no colours when not a terminal).
    pub fn render_frame(&self) -> String {
        let mut out = String::new();
        let handler = miette::GraphicalReportHandler::new_themed(
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                miette::GraphicalTheme::unicode()
            } else {
                miette::GraphicalTheme::unicode_nocolor()
            },
        );
        if handler.render_report(&mut out, self).is_err() {
            out = format!("error: {self}\n");
        }
        if !self.chain.is_empty() {
            out.push_str("  call chain (outermost first):\n");
            for f in &self.chain {
                out.push_str(&format!("    {}:{}:{}: {}\n", f.source, f.line, f.column, f.label));
            }
        }
        out
    }
}

#[cfg(test)]
mod code_once_tests {
    #[test]
    fn an_error_code_is_said_once() {
        let m = "DWB-GRAPH-0010 auth: the tenant refused the secret";
        assert_eq!(super::code_once("DWB-GRAPH-0010", "auth", m), "the tenant refused the secret");
        assert_eq!(super::code_once("DWB-GRAPH-0010", "auth", "DWB-GRAPH-0010: x"), "x");
        assert_eq!(super::code_once("DWB-AD-0001", "ldap", "no such object"), "no such object");
    }
}

//! The REPL's line editor helper: Tab completion and multi-line input.
//! Completion lists candidates at the first Tab (rustyline's List mode with
//! "show all if ambiguous"): module functions after `ad::`, a value's methods
//! and properties after `x.`, an entry's attributes or a map's keys after
//! `x["`, `:` commands, and function names after `:help `.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rhai::Engine;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// The REPL's own commands.
pub const COMMANDS: &[&str] = &[":help", ":raw", ":plan", ":apply", ":scope", ":quit"];

/// What follows a variable: `x.` members and `x["…"]` keys.
#[derive(Debug, Default, Clone)]
pub struct Members {
    /// Methods (`child(`) and properties (`dn`).
    pub dotted: Vec<String>,
    /// Entry attributes or map keys.
    pub keys: Vec<String>,
}

/// Everything completion knows, refreshed after every line.
#[derive(Debug, Default)]
pub struct Names {
    /// Words in a fresh position: modules (`ad::`), their functions (`ad::get`),
    /// global functions, keywords and variables.
    pub words: Vec<String>,
    /// Function names `:help` knows.
    pub help: Vec<String>,
    pub members: HashMap<String, Members>,
}

pub struct ReplHelper {
    /// For the validator: is the input complete?
    pub engine: Arc<Engine>,
    pub names: Arc<Mutex<Names>>,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == ':' || c == '$'
}

fn pairs(cands: impl IntoIterator<Item = String>, prefix: &str, suffix: &str) -> Vec<Pair> {
    // `ad::` itself is no candidate once it is typed: its functions are.
    let mut v: Vec<String> =
        cands.into_iter().filter(|c| c.starts_with(prefix) && c != prefix).collect();
    v.sort();
    v.dedup();
    v.into_iter()
        .map(|c| Pair { display: c.clone(), replacement: format!("{c}{suffix}") })
        .collect()
}

/// The identifier that ends just before byte `end` of `s`.
fn ident_before(s: &str, end: usize) -> &str {
    let head = &s[..end];
    let start = head
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    &head[start..]
}

impl ReplHelper {
    /// Candidates for the text before the cursor: (start of the replaced text, pairs).
    pub fn candidates(&self, before: &str) -> (usize, Vec<Pair>) {
        let Ok(names) = self.names.lock() else { return (0, Vec::new()) };
        let trimmed = before.trim_start();
        let lead = before.len() - trimmed.len();
        if trimmed.starts_with(':') {
            if let Some((cmd, arg)) = trimmed.split_once(' ') {
                if [":help", ":h"].contains(&cmd) {
                    let start = before.len() - arg.len();
                    return (start, pairs(names.help.iter().cloned(), arg, ""));
                }
                return (before.len(), Vec::new());
            }
            return (lead, pairs(COMMANDS.iter().map(|c| c.to_string()), trimmed, " "));
        }
        // `x["pre` → keys of x, closed with `"]`.
        if let Some(open) = before.rfind("[\"")
            && !before[open + 2..].contains('"')
        {
            let var = ident_before(before, open);
            let keys = names.members.get(var).map(|m| m.keys.clone()).unwrap_or_default();
            return (open + 2, pairs(keys, &before[open + 2..], "\"]"));
        }
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !is_word(*c))
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        let word = &before[start..];
        // `x.pre` → members of x.
        if start > 0 && before[..start].ends_with('.') {
            let var = ident_before(before, start - 1);
            let dotted = names.members.get(var).map(|m| m.dotted.clone()).unwrap_or_default();
            return (start, pairs(dotted, word, ""));
        }
        (start, pairs(names.words.iter().cloned(), word, ""))
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.candidates(&line[..pos]))
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

impl ReplHelper {
    /// True when `input` is an unfinished statement the next line continues
    /// (read by the REPL's loop, which shows a continuation prompt for it).
    pub fn is_unfinished(&self, input: &str) -> bool {
        if input.trim_start().starts_with(':') {
            return false;
        }
        matches!(self.engine.compile(input), Err(e) if is_incomplete(&e, input))
    }
}

impl Validator for ReplHelper {}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let mut n = Names {
            words: vec!["ad::".into(), "ad::get".into(), "ad::search".into(), "print".into()],
            help: vec!["ad::get".into(), "ad::search".into()],
            ..Default::default()
        };
        n.members.insert(
            "e".into(),
            Members { dotted: vec!["dn".into(), "to_map".into()], keys: vec!["cn".into()] },
        );
        ReplHelper { engine: Arc::new(Engine::new()), names: Arc::new(Mutex::new(n)) }
    }

    fn shown(h: &ReplHelper, before: &str) -> (usize, Vec<String>) {
        let (start, p) = h.candidates(before);
        (start, p.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn lists_module_functions_members_keys_and_commands() {
        let h = helper();
        assert_eq!(shown(&h, "let x = ad::"), (8, vec!["ad::get".into(), "ad::search".into()]));
        assert_eq!(shown(&h, "a").1[0], "ad::");
        assert_eq!(shown(&h, "e."), (2, vec!["dn".into(), "to_map".into()]));
        assert_eq!(shown(&h, "e.t"), (2, vec!["to_map".into()]));
        assert_eq!(shown(&h, "e[\"c"), (3, vec!["cn\"]".into()]));
        assert_eq!(shown(&h, ":he"), (0, vec![":help ".into()]));
        assert_eq!(shown(&h, ":help ad::s"), (6, vec!["ad::search".into()]));
        // No operators after a dot.
        assert!(shown(&h, "x.").1.is_empty());
    }
}

//! A command's error on stderr, and the exit code it maps to.

use crate::error::{Error, Kind};
use crate::exit;

/// The exit code of a script's error (Ctrl-C, a configuration problem met on the way, or else 2).
pub fn script_error_code(d: &crate::engine::diagnostic::ScriptError) -> exit::Code {
    match d.exit_code() {
        130 => exit::INTERRUPTED,
        3 => exit::USAGE,
        _ => exit::SCRIPT_ERROR,
    }
}

/// Prints an error that is not a script error and returns its exit code.
pub fn fail(e: &Error) -> exit::Code {
    // `{e}` is "CODE: message"; a message wrapping another error may repeat the code.
    let text = e.to_string();
    let code = e.code();
    let rest = text.strip_prefix(code).map(|r| r.trim_start_matches([':', ' ']));
    match rest {
        Some(r) => crate::errln!(
            "error: {code}: {}",
            crate::engine::diagnostic::code_once(code, e.kind_str(), r)
        ),
        None => crate::errln!("error: {text}"),
    }
    if let Some(h) = &e.hint {
        crate::errln!("  hint: {h}");
    }
    match e.kind {
        Kind::Config | Kind::InvalidArgument | Kind::UnknownOption | Kind::Ldif | Kind::Io => {
            exit::USAGE
        }
        Kind::Cancelled => exit::INTERRUPTED,
        _ => exit::SCRIPT_ERROR,
    }
}

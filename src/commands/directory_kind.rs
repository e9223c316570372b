//! Which directory a journaled run changed or a saved plan was made for, from
//! its description: undo and apply refuse another one, where they would
//! otherwise "find nothing to do" or fail change after change (a run on a
//! snapshot file, undone on the demo or on the file it started from, "already
//! matches": its objects are simply absent there).
//!
//! A snapshot file is one file: the one the plan was made from, or the one the
//! run's result was written to (`--write-snapshot`, named in the journal). A
//! live directory is any DC of it (a run may be undone, a plan applied, through
//! another DC); its domain is checked against the objects, elsewhere.

use std::path::{Path, PathBuf};

use crate::error::{Error, Kind, Result};
use crate::sources::dc::RESULT_WRITTEN_TO;

/// Where something was made, or where this command works.
#[derive(Debug)]
enum Place {
    Demo,
    File(PathBuf),
    Live,
}

impl Place {
    fn of(described: &str) -> Place {
        match described.strip_prefix("snapshot ") {
            Some(p) if p == crate::embedded::DEMO_NAME => Place::Demo,
            Some(p) => Place::File(PathBuf::from(p)),
            None => Place::Live,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Place::Demo => "the demo",
            Place::File(_) => "a snapshot file",
            Place::Live => "a live directory",
        }
    }
}

/// The directory, and the file its result went to, from a journal's or a
/// plan's description (`snapshot a.ldif (result written to /x/b.ldif)`).
fn made_on(described: &str) -> (Place, Option<PathBuf>) {
    match described.strip_suffix(')').and_then(|d| d.rsplit_once(RESULT_WRITTEN_TO)) {
        Some((dir, written)) => (Place::of(dir), Some(PathBuf::from(written))),
        None => (Place::of(described), None),
    }
}

/// The same file: the same name, or the same file once resolved from here.
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Whether `here` holds what was made on `made`, whose result went to `written`.
fn holds(made: &Place, written: Option<&Path>, here: &Place) -> bool {
    match (made, here) {
        // The result file, once written, is where the objects are (the demo
        // keeps its own copy as well).
        (Place::File(m), Place::File(h)) => same_file(written.unwrap_or(m), h),
        (Place::Demo, Place::File(h)) => written.is_some_and(|w| same_file(w, h)),
        (Place::Demo, Place::Demo) | (Place::Live, Place::Live) => true,
        _ => false,
    }
}

/// A journaled run's directory as people read it: the demo as "the demo"
/// (its description names the embedded file, which no one has at hand).
pub fn shown(described: &str) -> String {
    match described
        .strip_prefix("snapshot ")
        .and_then(|d| d.strip_prefix(crate::embedded::DEMO_NAME))
    {
        Some(rest) => format!("the demo{rest}"),
        None => described.to_string(),
    }
}

/// Errors (a usage error, exit 3, naming both) when `here` is another
/// directory than `made_on`; `what` says what was made there.
pub fn same(what: &str, made_on_desc: &str, here_desc: &str, hint: &str) -> Result<()> {
    if made_on_desc.is_empty() {
        return Ok(());
    }
    let (made, written) = made_on(made_on_desc);
    let here = Place::of(here_desc);
    if holds(&made, written.as_deref(), &here) {
        return Ok(());
    }
    let this = if made.kind() == here.kind() { "another one" } else { here.kind() };
    Err(Error::new(
        Kind::Config,
        format!("{what} {} ({made_on_desc}); this is {this} ({here_desc})", made.kind()),
    )
    .with_hint(hint))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_same_directory_will_do() {
        let demo = format!("snapshot {}", crate::embedded::DEMO_NAME);
        let same = |a: &str, b: &str| super::same("made on", a, b, "").is_ok();
        assert!(!same("snapshot prepared.ldif", &demo));
        assert!(!same("snapshot a.ldif", "snapshot b.ldif"));
        assert!(same("snapshot a.ldif", "snapshot a.ldif"));
        assert!(same("ldaps://dc1 as x", "ldaps://dc2 as x"));
        assert!(!same(&demo, "ldaps://dc1 as x"));
        assert!(same("", &demo));
        // A run whose result was written to a file: that file, not the one it started from.
        let wrote = "snapshot a.ldif (result written to /x/b.ldif)";
        assert!(same(wrote, "snapshot /x/b.ldif"));
        assert!(!same(wrote, "snapshot a.ldif"));
        let demo_wrote = format!("{demo} (result written to /x/b.ldif)");
        assert!(same(&demo_wrote, &demo));
        assert!(same(&demo_wrote, "snapshot /x/b.ldif"));
        assert!(!same(&demo_wrote, "snapshot /x/c.ldif"));
        assert_eq!(super::shown(&demo), "the demo");
        assert_eq!(super::shown(&demo_wrote), "the demo (result written to /x/b.ldif)");
        assert_eq!(super::shown(wrote), wrote);
    }
}

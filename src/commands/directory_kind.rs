//! Which kind of directory a journaled run changed or a saved plan was made
//! for, from its description: undo and apply refuse another kind, where they
//! would otherwise "find nothing to do" or fail change after change (a run on
//! a snapshot file, undone on the demo, "already matches": its objects are
//! simply absent there).

use crate::error::{Error, Kind, Result};

/// The demo, a snapshot file, or a live directory (any DC of it: a run may be
/// undone, a plan applied, through another DC).
fn kind_of(described: &str) -> &'static str {
    if described == format!("snapshot {}", crate::embedded::DEMO_NAME) {
        "the demo"
    } else if described.starts_with("snapshot ") {
        "a snapshot file"
    } else {
        "a live directory"
    }
}

/// Errors (a usage error, exit 3, naming both) when `here` is another kind of
/// directory than `made_on`; `what` says what was made there.
pub fn same(what: &str, made_on: &str, here: &str, hint: &str) -> Result<()> {
    if made_on.is_empty() || kind_of(made_on) == kind_of(here) {
        return Ok(());
    }
    Err(Error::new(
        Kind::Config,
        format!("{what} {} ({made_on}); this is {} ({here})", kind_of(made_on), kind_of(here)),
    )
    .with_hint(hint))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_same_kind_of_directory_will_do() {
        let demo = format!("snapshot {}", crate::embedded::DEMO_NAME);
        let same = |a: &str, b: &str| super::same("made on", a, b, "").is_ok();
        assert!(!same("snapshot prepared.ldif", &demo));
        assert!(same("snapshot a.ldif", "snapshot b.ldif"));
        assert!(same("ldaps://dc1 as x", "ldaps://dc2 as x"));
        assert!(!same(&demo, "ldaps://dc1 as x"));
        assert!(same("", &demo));
    }
}

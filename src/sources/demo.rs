//! The demo directory that remembers: with nothing configured, the bundled
//! demo (`examples/contoso/directory.ldif`) is loaded from the user's copy in
//! dwb's data directory (`<data dir>/demo/contoso.ldif`, 0600 in a 0700
//! directory), and what a run applied to it is written back when the session
//! closes. So the README's commands, run one after another, build on each
//! other: `prepare` applied, then `verify` finds it prepared, `sync` writes the
//! demo devices, `undo` takes a run back. `dwb demo --reset` starts over.
//!
//! The copy starts with a stamp of the embedded demo it grew from. A dwb whose
//! embedded demo differs (another version) does not mix the two: it says so
//! and starts over from its own (the old copy is kept beside, `.old`).
//!
//! One session at a time uses the copy: an exclusive lock (a `flock` on
//! `contoso.lock`) is taken when the demo is opened and held until the
//! session closes, so two runs never plan from the same state and the later
//! write never loses the earlier one's changes. The copy is replaced
//! atomically, so a crash leaves the old state or the new one.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ad::snapshot::SnapshotDirectory;
use crate::cancel::Cancel;
use crate::embedded;
use crate::error::{Error, Kind, Result};

/// The first line of the user's copy: what it grew from.
const STAMP_PREFIX: &str = "# dwb demo state, from the bundled demo ";

/// How often a run waiting for another one's lock looks again.
const LOCK_POLL: Duration = Duration::from_millis(200);

/// The stamp of the embedded demo: a digest of its text (a new dwb with the
/// same demo keeps the copy; one with another demo starts over).
fn stamp() -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, embedded::DEMO_LDIF.as_bytes());
    d.as_ref().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The user's copy of the demo directory.
pub fn state_path() -> Result<PathBuf> {
    Ok(crate::config::data_dir()?.join("demo").join("contoso.ldif"))
}

/// The demo kept in the data directory, locked while this session uses it.
pub struct Kept {
    path: PathBuf,
    /// Held (locked) until dropped.
    _lock: File,
    /// The state as loaded, to write only what changed (a dry run writes nothing).
    loaded: String,
}

/// Opens the demo: the user's copy when there is one of this demo, else the
/// embedded one. Announced on stderr, with where it is kept and how to start over.
pub fn open(cancel: &Cancel) -> Result<(SnapshotDirectory, Option<Kept>)> {
    let path = match state_path() {
        Ok(p) => p,
        Err(e) => {
            // No data directory (no HOME): the demo as it was, nothing kept.
            crate::errln!(
                "[demo] no directory configured: using examples/contoso in memory — nothing real \
                 is touched, and nothing is kept ({e})"
            );
            return Ok((embedded_demo()?, None));
        }
    };
    let lock = lock(&path, cancel)?;
    let (snap, fresh) = match read_copy(&path) {
        Some(s) => (s, false),
        None => (embedded_demo()?, true),
    };
    crate::errln!(
        "[demo] no directory configured: using the demo directory (examples/contoso){}, kept in \
         {} — nothing real is touched; `dwb demo --reset` starts it over",
        if fresh { ", as bundled" } else { "" },
        path.display()
    );
    let loaded = snap.to_ldif();
    Ok((snap, Some(Kept { path, _lock: lock, loaded })))
}

impl Kept {
    /// Writes `snap` back when it changed since it was opened.
    pub fn keep(&self, snap: &SnapshotDirectory) -> Result<()> {
        let now = snap.to_ldif();
        if now == self.loaded {
            return Ok(());
        }
        let text = format!("{STAMP_PREFIX}{}\n{now}", stamp());
        crate::fsutil::write_atomic_private(&self.path, text.as_bytes()).map_err(|e| {
            Error::io(format!("keeping the demo directory in {}", self.path.display()), e)
        })
    }
}

fn embedded_demo() -> Result<SnapshotDirectory> {
    SnapshotDirectory::from_ldif(embedded::DEMO_LDIF, embedded::DEMO_NAME)
}

/// The user's copy, when there is one grown from this dwb's demo. A copy of
/// another demo, or one that does not load, is moved aside with a notice.
fn read_copy(path: &Path) -> Option<SnapshotDirectory> {
    let text = std::fs::read_to_string(path).ok()?;
    let first = text.lines().next().unwrap_or_default();
    let why = match first.strip_prefix(STAMP_PREFIX) {
        Some(s) if s.trim() == stamp() => {
            // Named as the demo, whatever file holds it: runs and plans made on
            // it say "the demo" (`directory_kind`).
            match SnapshotDirectory::from_ldif(&text, embedded::DEMO_NAME) {
                Ok(s) => return Some(s),
                Err(e) => format!("it does not load ({e})"),
            }
        }
        _ => "it was made from another version of the bundled demo".to_string(),
    };
    let old = path.with_extension("ldif.old");
    let _ = std::fs::rename(path, &old);
    crate::errln!(
        "[demo] starting the demo directory over: {why}; the old copy is {}",
        old.display()
    );
    None
}

/// Takes the demo's lock, waiting (Ctrl-C ends the wait) while another dwb holds it.
fn lock(path: &Path, cancel: &Cancel) -> Result<File> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::private::own_dir(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let lock_path = path.with_extension("lock");
    let mut f = crate::private::open_no_follow(&lock_path)
        .map_err(|e| Error::io(format!("opening the lock file {}", lock_path.display()), e))?;
    let mut said = false;
    while f.try_lock().is_err() {
        if !said {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            let by = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            crate::errln!("[demo] waiting for another dwb{by} using the demo directory…");
            said = true;
        }
        if cancel.is_cancelled() {
            return Err(Error::new(Kind::Cancelled, "interrupted"));
        }
        std::thread::sleep(LOCK_POLL);
    }
    // Who holds it, for the next one's message.
    let _ = f.set_len(0).and_then(|()| write!(f, "{}", std::process::id()));
    Ok(f)
}

/// `dwb demo --reset`: removes the user's copy (under the lock: not while a
/// run uses it); the file removed, when there was one.
pub fn reset(cancel: &Cancel) -> Result<Option<PathBuf>> {
    let path = state_path()?;
    let _lock = lock(&path, cancel)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ad::Directory;

    fn kept(path: &Path, snap: &SnapshotDirectory) -> Kept {
        let lock = File::create(path.with_extension("lock")).unwrap();
        Kept { path: path.to_path_buf(), _lock: lock, loaded: snap.to_ldif() }
    }

    #[test]
    fn a_copy_of_this_demo_is_kept_and_one_of_another_starts_over() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("contoso.ldif");
        assert!(read_copy(&path).is_none(), "no copy yet");

        // Unchanged (a dry run): nothing is written.
        let snap = embedded_demo().unwrap();
        kept(&path, &snap).keep(&snap).unwrap();
        assert!(!path.exists());

        // Changed: written, stamped, and read back as the demo.
        let k = kept(&path, &snap);
        let dn = crate::directory::Dn::parse("CN=svc-dwb,CN=Users,DC=contoso,DC=test").unwrap();
        snap.write(&crate::ad::WriteOp::Delete { dn }).unwrap();
        k.keep(&snap).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("{STAMP_PREFIX}{}\n", stamp())), "{}", &text[..80]);
        let again = read_copy(&path).unwrap();
        assert_eq!(again.describe(), snap.describe(), "still named as the demo");
        assert_eq!(again.len(), snap.len());

        // Grown from another version's demo: moved aside, started over.
        std::fs::write(&path, text.replacen(&stamp(), "0000000000000000", 1)).unwrap();
        assert!(read_copy(&path).is_none());
        assert!(!path.exists() && path.with_extension("ldif.old").exists());
    }
}

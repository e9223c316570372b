//! One sync per device container at a time: a cron job and a watch loop (or
//! two admins) planning against the same container would each plan from a
//! state the other is changing. The lock is an exclusive `flock` on a file in
//! dwb's data directory, named after the container, held until the process
//! ends (so from planning through applying).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::directory::Dn;
use crate::error::{Error, Kind, Result};

/// The container locks a run holds (a watch loop takes its lock once).
#[derive(Default)]
pub struct Locks {
    held: Mutex<HashMap<String, File>>,
}

/// A short stable name for a container (file names can't hold a DN).
pub fn container_key(container: &Dn) -> String {
    // FNV-1a: stable across versions and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in container.norm().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let rdn: String = container
        .rdn_value()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(32)
        .collect();
    format!("{rdn}-{h:016x}")
}

impl Locks {
    /// Takes the lock of `container` in `dir` (once per run), or says who holds it.
    pub fn acquire(&self, dir: &std::path::Path, container: &Dn) -> Result<()> {
        let key = container_key(container);
        let mut held = self.held.lock().map_err(|_| Error::internal("lock table poisoned"))?;
        if held.contains_key(&key) {
            return Ok(());
        }
        crate::private::own_dir(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let path: PathBuf = dir.join(format!("{key}.lock"));
        // Never through a symbolic link: the pid written below would truncate its target.
        let mut f = crate::private::open_no_follow(&path)
            .map_err(|e| Error::io(format!("opening the lock file {}", path.display()), e))?;
        if f.try_lock().is_err() {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let by = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
            return Err(Error::new(
                Kind::Locked,
                format!("another dwb sync{by} is working on {container}; nothing was changed"),
            )
            .with_hint(format!(
                "wait for it to finish (lock file {}); a cron job and a watch loop must not \
                 share a container",
                path.display()
            )));
        }
        let _ = f.set_len(0);
        let _ = write!(f, "{}", std::process::id());
        held.insert(key, f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dn = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        let (a, b) = (Locks::default(), Locks::default());
        a.acquire(dir.path(), &dn).unwrap();
        a.acquire(dir.path(), &dn).unwrap(); // the same run again: fine
        let e = b.acquire(dir.path(), &dn).unwrap_err();
        assert_eq!(e.kind, Kind::Locked);
        assert!(e.message.contains(&format!("pid {}", std::process::id())), "{}", e.message);
        let other = Dn::parse("CN=Other,DC=contoso,DC=test").unwrap();
        b.acquire(dir.path(), &other).unwrap();
        drop(a);
        b.acquire(dir.path(), &dn).unwrap();
        assert_ne!(container_key(&dn), container_key(&other));
        assert!(container_key(&dn).starts_with("RegisteredDevices-"));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_lock_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let dn = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, "precious").unwrap();
        let locks = dir.path().join("locks");
        std::fs::create_dir(&locks).unwrap();
        let lock = locks.join(format!("{}.lock", container_key(&dn)));
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        let e = Locks::default().acquire(&locks, &dn).unwrap_err();
        assert!(e.to_string().contains("lock file"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }
}

//! Files only dwb's own user may read. The journal holds whole copies of
//! deleted objects, the delta state a tenant's deltaLink, the lock and status
//! files say what the service does: they are created 0600, in directories
//! created 0700, whatever the umask (the mode is set on the open descriptor,
//! not left to `umask`). A file an older dwb created with a wider mode is
//! narrowed when dwb opens it again.
//!
//! On other platforms than Unix the modes do not apply and these are the plain
//! std calls.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of the files: owner read and write.
pub const FILE_MODE: u32 = 0o600;
/// The mode of the directories: owner only.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each new one 0700. Directories that
/// exist already keep their mode (a state file's directory may be the site's).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, DIR_MODE);
    b.create(dir)
}

/// Creates `dir` like [`create_dir_all`] and narrows it to 0700 when it
/// existed: for directories that are dwb's own (`journal/`, `locks/`, `status/`).
pub fn own_dir(dir: &Path) -> io::Result<()> {
    create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.is_dir() && meta.permissions().mode() & 0o777 != DIR_MODE {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
        }
    }
    Ok(())
}

/// Open options whose newly created file is 0600.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o
}

/// Narrows an open file to 0600 (a file an older dwb created 0644).
pub fn narrow(f: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if f.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
            f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    #[cfg(not(unix))]
    let _ = f;
    Ok(())
}

/// Opens `path` for reading and writing without following a symbolic link at
/// it: created (0600) when absent, with `O_EXCL`, which never follows one;
/// when present, refused unless it is a regular file, and the file opened is
/// checked to be the one looked at (a link swapped in between is refused).
/// Nothing is written to a file that is not this one.
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    match options().read(true).write(true).create_new(true).open(path) {
        Ok(f) => {
            // The umask narrowed the creation mode, never widened it; this sets it exactly.
            narrow(&f)?;
            return Ok(f);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let seen = std::fs::symlink_metadata(path)?;
    if !seen.file_type().is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file (a symbolic link?); refusing to open it",
            path.display()
        )));
    }
    let f = OpenOptions::new().read(true).write(true).open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let opened = f.metadata()?;
        if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
            return Err(io::Error::other(format!(
                "{} changed while it was opened; refusing it",
                path.display()
            )));
        }
    }
    narrow(&f)?;
    Ok(f)
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_and_directories_are_private_and_links_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        assert_eq!((mode(&tmp.path().join("a")), mode(&dir)), (0o700, 0o700));
        let wide = tmp.path().join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        own_dir(&wide).unwrap();
        assert_eq!(mode(&wide), 0o700);

        let lock = dir.join("x.lock");
        drop(open_no_follow(&lock).unwrap());
        assert_eq!(mode(&lock), 0o600);
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_no_follow(&lock).unwrap());
        assert_eq!(mode(&lock), 0o600, "an older file is narrowed");

        let target = tmp.path().join("target");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.join("link.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_no_follow(&link).is_err());
        let dangling = dir.join("dangling.lock");
        std::os::unix::fs::symlink(tmp.path().join("nothing"), &dangling).unwrap();
        assert!(open_no_follow(&dangling).is_err());
        assert!(!tmp.path().join("nothing").exists(), "a dangling link's target is not created");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
}

//! The emulator's own error type: starting the server, loading or writing a
//! state file, and changing the tenant through [`crate::EmulatorHandle::with_state`].

use std::path::{Path, PathBuf};

/// What went wrong. Messages name the file or object involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The server could not bind or read its address.
    #[error("{0}")]
    Start(String),
    /// A state document (or a device/user/patch given to the state) is invalid.
    #[error("{0}")]
    InvalidState(String),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The device (or other object) named does not exist in the tenant.
    #[error("{0}")]
    NotFound(String),
}

impl EmulatorError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        EmulatorError::InvalidState(message.into())
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        EmulatorError::NotFound(message.into())
    }

    pub(crate) fn io(path: &Path, message: impl Into<String>) -> Self {
        EmulatorError::Io { path: path.to_path_buf(), message: message.into() }
    }

    /// Prefix a state error with the file it came from.
    pub(crate) fn in_file(self, path: &Path) -> Self {
        match self {
            EmulatorError::InvalidState(m) => EmulatorError::io(path, m),
            other => other,
        }
    }
}

/// The emulator's result type.
pub type Result<T, E = EmulatorError> = std::result::Result<T, E>;

/// Write `bytes` to `path` atomically: a temporary file in the same directory,
/// synced, then renamed over the target (readers never see a half-written file).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name =
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp =
        dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        EmulatorError::io(path, format!("cannot write: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("dwb-emu-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let e = write_atomic(&dir.join("missing/x.json"), b"x").unwrap_err();
        assert!(matches!(e, EmulatorError::Io { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

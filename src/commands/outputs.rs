//! Files a command will write (`--write-snapshot`, `--save-plan`, `--report`),
//! checked before anything is planned or applied: a typo in a path must not
//! be found after the directory was changed and the run journaled.

use std::path::Path;

use crate::error::{Error, Result};

/// Errors (a usage error, exit 3) when a named file cannot be written: its
/// directory does not exist, or it is a directory itself.
pub fn check_writable(files: &[(&str, Option<&Path>)]) -> Result<()> {
    for (flag, path) in files {
        let Some(path) = path else { continue };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let problem = if path.is_dir() {
            Some(format!("{} is a directory", path.display()))
        } else if !parent.is_dir() {
            Some(format!("the directory {} does not exist", parent.display()))
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(Error::invalid_argument(format!(
                "cannot write {flag} {}: {p}",
                path.display()
            ))
            .with_hint("name a file in an existing directory; nothing was planned or applied"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_a_missing_directory_is_refused_up_front() {
        let ok = Path::new("x.ldif");
        assert!(check_writable(&[("--write-snapshot", Some(ok))]).is_ok());
        let bad = Path::new("/nonexistent/x.ldif");
        let e = check_writable(&[("--report", None), ("--write-snapshot", Some(bad))]).unwrap_err();
        assert!(e.message.contains("--write-snapshot /nonexistent/x.ldif"), "{}", e.message);
        assert!(check_writable(&[("--save-plan", Some(Path::new("/tmp")))]).is_err());
    }
}

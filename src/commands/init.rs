//! `dwb init DIR`: a site's own copy of the standard scripts, the stdlib and an
//! example dwb.toml. Never overwrites without `--force`.

use std::path::Path;

use super::failure::fail;
use crate::embedded;
use crate::error::Error;
use crate::exit;

/// The command `dwb init` suggests; it works in the new directory as printed.
pub const NEXT: &str = "dwb run prepare --dry-run --param connector_account='CONTOSO\\svc-dwb'";

/// `s` quoted for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs `dwb init`.
pub fn init(dir: &Path, force: bool) -> exit::Code {
    let mut files: Vec<(std::path::PathBuf, &str)> = Vec::new();
    for s in embedded::SCRIPTS {
        files.push((dir.join("scripts").join(s.name), s.text));
    }
    for s in embedded::STDLIB {
        files.push((dir.join("stdlib").join(s.name), s.text));
    }
    files.push((dir.join("dwb.toml"), embedded::EXAMPLE_CONFIG));
    let existing: Vec<String> =
        files.iter().filter(|(p, _)| p.exists()).map(|(p, _)| p.display().to_string()).collect();
    if !existing.is_empty() && !force {
        return fail(
            &Error::config(format!(
                "refusing to overwrite {} existing file(s): {}",
                existing.len(),
                existing.join(", ")
            ))
            .with_hint("use --force to overwrite"),
        );
    }
    for (p, text) in &files {
        if let Some(parent) = p.parent()
            && let Err(e) = std::fs::create_dir_all(parent)
        {
            return fail(&Error::io(format!("creating {}", parent.display()), e));
        }
        if let Err(e) = std::fs::write(p, text) {
            return fail(&Error::io(format!("writing {}", p.display()), e));
        }
        crate::outln!("wrote {}", p.display());
    }
    // The written dwb.toml names no DC yet: this command runs on the bundled demo, offline.
    crate::outln!("Next: cd {} && {NEXT}", shell_word(&dir.display().to_string()));
    crate::outln!(
        "Then set url, user and password_file under [profiles.contoso.ldap] in dwb.toml to work \
         on your domain controller."
    );
    exit::OK
}

//! `dwb init DIR`: a site's own copy of the standard scripts, the stdlib and an
//! example dwb.toml. Never overwrites without `--force`.

use std::path::Path;

use super::fail;
use crate::embedded;
use crate::error::Error;
use crate::exit;

/// Runs `dwb init`.
pub fn init(dir: &Path, force: bool) -> i32 {
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
        println!("wrote {}", p.display());
    }
    println!(
        "Next: cd {} && edit dwb.toml, then `dwb run prepare --dry-run --param connector_account=…`",
        dir.display()
    );
    exit::OK
}

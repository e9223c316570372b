//! Finding a script: a path, a site copy in ./scripts/, or the standard script
//! embedded in dwb, in that order.

use std::path::{Path, PathBuf};

use crate::embedded;
use crate::engine::resolver::EMBEDDED;
use crate::error::{Error, Kind, Result};

/// A script's text and where it came from.
pub struct Script {
    /// The name diagnostics show (a path, or `<embedded>/scripts/x.rhai`).
    pub source: String,
    pub text: String,
    /// The site directory whose `stdlib/` overrides the embedded one.
    pub site_dir: Option<PathBuf>,
}

fn site_of(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    // `site/scripts/x.rhai` → `site`, not `site/scripts/..` (diagnostics show the path).
    let up = match (dir.components().next_back(), dir.parent()) {
        (Some(std::path::Component::Normal(_)), Some(p)) if !p.as_os_str().is_empty() => {
            p.to_path_buf()
        }
        (Some(std::path::Component::Normal(_)), _) => PathBuf::from("."),
        _ => dir.join(".."),
    };
    [dir.to_path_buf(), up]
        .into_iter()
        .find(|d| d.join("stdlib").is_dir())
        .or_else(|| Some(PathBuf::from(".")))
}

/// Loads `name`.
pub fn load(name: &str) -> Result<Script> {
    let candidates: Vec<PathBuf> = {
        let p = PathBuf::from(name);
        let with_ext =
            if name.ends_with(".rhai") { p.clone() } else { PathBuf::from(format!("{name}.rhai")) };
        let mut v = vec![p];
        if !name.contains('/') {
            v.push(Path::new("scripts").join(&with_ext));
        }
        v
    };
    for c in &candidates {
        if c.is_file() {
            let text = std::fs::read_to_string(c)
                .map_err(|e| Error::io(format!("reading {}", c.display()), e))?;
            return Ok(Script { source: c.display().to_string(), text, site_dir: site_of(c) });
        }
    }
    if !name.contains('/')
        && let Some(e) = embedded::script(name)
    {
        return Ok(Script {
            source: format!("{EMBEDDED}scripts/{}", e.name),
            text: e.text.to_string(),
            site_dir: Some(PathBuf::from(".")),
        });
    }
    let known: Vec<&str> = embedded::SCRIPTS.iter().map(|s| s.name).collect();
    Err(Error::new(
        Kind::InvalidArgument,
        format!("no script `{name}`: not a file, not in ./scripts/, not a standard script"),
    )
    .with_hint(format!("standard scripts: {}", known.join(", "))))
}

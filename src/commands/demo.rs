//! `dwb demo DIR`: the bundled demo as files (directory.ldif, devices.json),
//! so "Trying it without AD" works with only the binary: `--snapshot` and
//! `--devices` take them like any export. `dwb demo --reset`: the demo
//! directory as bundled again (`sources::demo` keeps what runs applied to it).

use std::path::Path;

use super::failure::fail;
use crate::embedded;
use crate::error::Error;
use crate::exit;

/// `dwb demo [DIR] [--reset]`: resets first, then writes the files when a
/// directory is named (or nothing else was asked).
pub fn run(dir: Option<&Path>, reset: bool) -> exit::Code {
    if reset {
        match crate::sources::demo::reset(&crate::cancel::Cancel::default()) {
            Ok(Some(p)) => crate::errln!(
                "removed {}: the next run starts from the demo directory as bundled \
                 (the journal keeps its runs)",
                p.display()
            ),
            Ok(None) => crate::errln!("the demo directory is as bundled already"),
            Err(e) => return fail(&e),
        }
    }
    match dir {
        Some(d) => write(d),
        None if reset => exit::OK,
        None => write(Path::new(".")),
    }
}

/// Writes the demo's two files into `dir`; a file already there is kept.
fn write(dir: &Path) -> exit::Code {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail(&Error::io(format!("creating {}", dir.display()), e));
    }
    for (name, text) in
        [("directory.ldif", embedded::DEMO_LDIF), ("devices.json", embedded::DEMO_DEVICES)]
    {
        let path = dir.join(name);
        if path.exists() {
            crate::errln!("kept {} (it exists; remove it to write the demo's)", path.display());
            continue;
        }
        if let Err(e) = std::fs::write(&path, text) {
            return fail(&Error::io(format!("writing {}", path.display()), e));
        }
        crate::errln!("wrote {}", path.display());
    }
    exit::OK
}

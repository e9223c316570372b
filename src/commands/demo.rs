//! `dwb demo DIR`: the bundled demo as files (directory.ldif, devices.json),
//! so "Trying it without AD" works with only the binary: `--snapshot` and
//! `--devices` take them like any export.

use std::path::Path;

use super::failure::fail;
use crate::embedded;
use crate::error::Error;
use crate::exit;

/// Writes the demo's two files into `dir`; a file already there is kept.
pub fn write(dir: &Path) -> exit::Code {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return fail(&Error::io(format!("creating {}", dir.display()), e));
    }
    for (name, text) in
        [("directory.ldif", embedded::DEMO_LDIF), ("devices.json", embedded::DEMO_DEVICES)]
    {
        let path = dir.join(name);
        if path.exists() {
            eprintln!("kept {} (it exists; remove it to write the demo's)", path.display());
            continue;
        }
        if let Err(e) = std::fs::write(&path, text) {
            return fail(&Error::io(format!("writing {}", path.display()), e));
        }
        eprintln!("wrote {}", path.display());
    }
    exit::OK
}

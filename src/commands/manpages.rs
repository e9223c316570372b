//! `dwb manpages DIR` (hidden; packaging runs it): the man pages, rendered by
//! clap_mangen from the same clap definitions as `--help`, so they cannot
//! drift from the binary they ship with. `dwb.1`, then one page per visible
//! subcommand (`dwb-run.1`, `dwb-undo.1`, …), as git and cargo name theirs.

use std::path::Path;

use clap::CommandFactory;

use super::fail;
use crate::cli::Cli;
use crate::error::Error;
use crate::exit;

/// Renders one page into `dir/<name>.1`.
fn page(cmd: clap::Command, dir: &Path) -> Result<(), Error> {
    let path = dir.join(format!("{}.1", cmd.get_name()));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .and_then(|()| std::fs::write(&path, out))
        .map_err(|e| Error::io(format_args!("writing {}", path.display()), e))
}

/// Writes every page into `dir` (created if needed) and lists them on stdout.
pub fn write(dir: &Path) -> i32 {
    let run = || -> Result<Vec<String>, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format_args!("creating {}", dir.display()), e))?;
        let mut root = Cli::command();
        // Subcommands' pages carry the full version and the global arguments.
        root.build();
        let mut names = vec!["dwb".to_string()];
        for sub in root.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            let name = format!("dwb-{}", sub.get_name());
            page(sub.clone().name(&name).display_name(&name), dir)?;
            names.push(name);
        }
        page(root, dir)?;
        Ok(names)
    };
    match run() {
        Ok(names) => {
            for n in names {
                println!("{}", dir.join(format!("{n}.1")).display());
            }
            exit::OK
        }
        Err(e) => fail(&e),
    }
}

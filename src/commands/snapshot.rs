//! `dwb snapshot`: exports a live directory (or parts, or the demo) as LDIF
//! that the snapshot backend loads (`--snapshot FILE`).

use std::path::Path;

use super::failure::fail;
use super::session::{Session, Signals};
use crate::ad::{Scope, SearchRequest};
use crate::cli::Conn;
use crate::directory::{Dn, Filter, ldif};
use crate::exit;
use crate::host::RunConfig;
use crate::sources;

/// Runs `dwb snapshot`.
pub fn export(conn: &Conn, out: &Path, bases: &[String]) -> exit::Code {
    let result = (|| {
        // The demo too: its export is the `--snapshot` file the README's
        // "Trying it without AD" starts from, with only the binary at hand.
        let sources = sources::resolve(conn)?;
        let config = RunConfig::from_loaded(&sources.loaded);
        // A session like any run's: Ctrl-C ends a long export with 130, and a
        // Kerberos connection is shut down before the process exits.
        let session = Session::open(sources, Signals::Cancel, config)?;
        let dir = session.host().directory().get()?;
        let root = dir.root_dse()?;
        let bases: Vec<Dn> = if bases.is_empty() {
            [
                root.default_naming_context.clone(),
                root.configuration_naming_context.clone(),
                root.schema_naming_context.clone(),
            ]
            .into_iter()
            .flatten()
            .collect()
        } else {
            bases.iter().map(|b| Dn::parse(b)).collect::<Result<_, _>>()?
        };
        let mut text = String::from("version: 1\n\n");
        let mut n = 0usize;
        let mut seen = std::collections::HashSet::new();
        for base in bases {
            let req = SearchRequest::new(base, Scope::Subtree, Filter::all()).attrs(["*"]);
            dir.search(&req, &mut |e| {
                if seen.insert(e.dn.norm()) {
                    text.push_str(&ldif::write_entry(&e));
                    text.push('\n');
                    n += 1;
                }
                Ok(())
            })?;
        }
        std::fs::write(out, text)
            .map_err(|e| crate::error::Error::io(format!("writing {}", out.display()), e))?;
        crate::errln!("wrote {n} entries to {}", out.display());
        Ok(())
    })();
    match result {
        Ok(()) => exit::OK,
        Err(e) => fail(&e),
    }
}

//! The `ad::` script module, one file per kind of binding: where the
//! directory is (`naming`), what the forest defines (`lookup`), searches and
//! reads (seeing the pending plan), writes recorded in the plan, idempotent
//! `ensure_*` helpers, typed constructors, filter builders, ACLs, the
//! connector proof and the FSMO roles.

mod acl;
mod ensure;
mod filter;
mod fsmo;
mod lookup;
mod naming;
mod probe;
mod read;
mod search;
mod values;
mod write;

use std::sync::Arc;

use rhai::Module;

use crate::host::Host;

/// Builds the `ad::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    naming::register(&mut m, &host);
    lookup::register(&mut m, &host);
    search::register(&mut m, &host);
    read::register(&mut m, &host);
    write::register(&mut m, &host);
    ensure::register(&mut m, &host);
    acl::register(&mut m, host.clone());
    probe::register(&mut m, host.clone());
    fsmo::register(&mut m, host);
    values::register(&mut m);
    filter::register(&mut m);
    m
}

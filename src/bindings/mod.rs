//! Script bindings. `register_all` is the one list of script modules; each
//! function is registered with its signature and doc comment, which feed
//! `dwb docs`, the REPL's `:help` and completion. A test fails when a
//! registered function has no doc.
//!
//! Errors reach scripts as maps `#{ code, kind, message, dn, server_text, hint }`,
//! so `try { … } catch (e) { if e.kind == "no_such_object" { … } }` works.

pub mod ad;
pub mod convert;
pub mod dwb;
pub mod graph;
pub mod options;
pub mod plan;
pub mod register;
pub mod report;
pub mod signature;
pub mod types;
pub mod values;
pub mod writeback;

use std::sync::Arc;

use rhai::{Engine, Module};

use crate::host::Host;

/// The static modules scripts see (`ad::`, `plan::`, …), in registration order.
pub fn modules(host: &Arc<Host>) -> Vec<(&'static str, Module)> {
    vec![
        ("ad", ad::module(host.clone())),
        ("graph", graph::module(host.clone())),
        ("writeback", writeback::module(host.clone())),
        ("plan", plan::module(host.clone())),
        ("report", report::module(host.clone())),
        ("dwb", dwb::module(host.clone())),
    ]
}

/// Registers every script module and type into `engine`.
pub fn register_all(engine: &mut Engine, host: Arc<Host>) {
    engine.register_global_module(types::module().into());
    for (name, m) in modules(&host) {
        engine.register_static_module(name, m.into());
    }
}

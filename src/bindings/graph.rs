//! The `graph::` script module (Microsoft Graph). Filled in by the Graph issue.

use std::sync::Arc;

use rhai::Module;

use crate::host::Host;

/// The Graph client of a run, created on first use.
#[derive(Default)]
pub struct GraphSlot;

/// Builds the `graph::` module.
pub fn module(_host: Arc<Host>) -> Module {
    Module::new()
}

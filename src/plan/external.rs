//! Changes outside the directory, and how each is applied: a tenant setting
//! through Microsoft Graph, a setting in the site's `dwb.toml`, and a delta
//! round's state file.

use std::path::Path;

use serde_json::{Value, json};

use crate::cancel::Blocking;
use crate::error::{Error, Result};
use crate::graph::GraphClient;

/// A change in the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphChange {
    /// `features.deviceWritebackEnabled` of `/directory/onPremisesSynchronization` (device-writeback.md §C.8).
    SetDeviceWriteback(bool),
}

impl GraphChange {
    /// The HTTP method, relative Graph path and body the change sends.
    pub fn request(&self) -> (&'static str, &'static str, Value) {
        match self {
            GraphChange::SetDeviceWriteback(on) => (
                "PATCH",
                "directory/onPremisesSynchronization",
                json!({ "features": { "deviceWritebackEnabled": on } }),
            ),
        }
    }

    /// One line for plans.
    pub fn summary(&self) -> String {
        match self {
            GraphChange::SetDeviceWriteback(on) => format!("deviceWritebackEnabled = {on}"),
        }
    }

    pub fn target(&self) -> String {
        format!("Microsoft Graph {}", self.request().1)
    }

    pub fn apply(&self, client: &GraphClient, blocking: &Blocking) -> Result<()> {
        match self {
            GraphChange::SetDeviceWriteback(on) => {
                blocking.block_on(async { Ok(client.set_device_writeback(*on).await?) })
            }
        }
    }
}

/// Moves a delta round's prepared state over the stored one (atomic rename),
/// first recording in it the devices the next round must read again.
pub fn commit_state(pending: &Path, state: &Path, retry: &[String]) -> Result<()> {
    if !retry.is_empty() {
        GraphClient::set_retry(pending, retry)?;
    }
    std::fs::rename(pending, state)
        .map_err(|e| Error::io(format!("moving {} to {}", pending.display(), state.display()), e))
}

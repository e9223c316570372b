//! Where a run's data comes from, decided in one place: the directory (a live
//! DC, an LDIF snapshot, or the bundled demo) and the devices (a Graph tenant,
//! a Graph export file, or the bundled demo export). `resolve` reads flags,
//! `DWB_*` variables and the profile and decides both; nothing is opened (or
//! any secret read) until a script first needs the source.

pub mod dc;
pub mod demo;
pub mod devices;
mod listing;

/// The former name of `dc` (still used by `commands::snapshot`).
#[doc(hidden)]
pub use dc as directory;
pub use dc::{DirectorySlot, DirectorySource, Opened};
pub use devices::{DeviceSettings, DeviceSlot, DeviceSource};
pub use listing::Listing;

use crate::cli::Conn;
use crate::config::{self, Loaded};
use crate::error::Result;

/// Both sources of a run, decided before anything connects.
pub struct Sources {
    pub loaded: Loaded,
    pub directory: DirectorySource,
    pub devices: DeviceSettings,
}

/// Reads the configuration and decides the directory and the device source.
pub fn resolve(conn: &Conn) -> Result<Sources> {
    let loaded = config::load(conn.config.as_deref(), conn.profile.as_deref())?;
    let directory = dc::decide(conn, &loaded)?;
    let mut devices = devices::decide(conn, &loaded);
    // The demo devices go only with the demo directory: never a demo source
    // standing in for a missing real one.
    devices.demo_allowed = directory.is_demo();
    Ok(Sources { loaded, directory, devices })
}

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

//! dwb — device writeback: writes Microsoft Entra ID devices back into
//! on-premises Active Directory, driven by Rhai scripts.
//!
//! The binary (`main.rs`) is a thin shell over `cli` and `commands`; the
//! pieces are: `directory` (pure AD types), `ad` (the `Directory` seam and its
//! LDAP and snapshot backends), `plan` (every write as reviewable data),
//! `engine` + `bindings` (the scripting host), `report`, `config`.
//!
//! "Directory" names three things, each in one place:
//! - `directory`: the data of Active Directory, with no I/O (DNs, entries,
//!   filters, SIDs, security descriptors, FILETIMEs);
//! - `ad::Directory`: the trait every backend implements (a live DC over LDAP,
//!   an LDIF snapshot) and the planned view (`plan::view`) wraps;
//! - `sources::dc`: which of them a run opens (a DC, a snapshot, the demo),
//!   decided from flags, environment and profile.

// Errors carry their context (DN, server text, hint) and are rare on the hot
// paths; boxing them would cost clarity for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod ad;
pub mod bindings;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod directory;
pub mod embedded;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod graph;
pub mod host;
pub mod metrics;
pub mod plan;
pub mod private;
pub mod report;
pub mod service;
pub mod sources;
pub mod text;
pub mod writeback;

/// Exit codes, documented in the README and `dwb --help`.
pub mod exit {
    pub const OK: i32 = 0;
    pub const CHECKS_FAILED: i32 = 1;
    pub const SCRIPT_ERROR: i32 = 2;
    pub const USAGE: i32 = 3;
    /// The run completed but some changes failed (each is listed in the report).
    pub const CHANGES_FAILED: i32 = 4;
    pub const INTERRUPTED: i32 = 130;
}

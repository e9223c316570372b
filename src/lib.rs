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
pub mod out;
pub mod plan;
pub mod private;
pub mod progress;
pub mod report;
pub mod service;
pub mod sources;
pub mod text;
pub mod writeback;

/// Exit codes, documented in the README and `dwb --help`: the numbers are a
/// contract (scripts and schedulers test them).
pub mod exit {
    /// How a command ended, as the process reports it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Code {
        Ok = 0,
        ChecksFailed = 1,
        ScriptError = 2,
        Usage = 3,
        /// The run completed but some changes failed (each is listed in the report).
        ChangesFailed = 4,
        Interrupted = 130,
    }

    impl Code {
        pub fn as_i32(self) -> i32 {
            self as i32
        }
    }

    impl From<Code> for std::process::ExitCode {
        fn from(c: Code) -> Self {
            std::process::ExitCode::from(c as u8)
        }
    }

    pub const OK: Code = Code::Ok;
    pub const CHECKS_FAILED: Code = Code::ChecksFailed;
    pub const SCRIPT_ERROR: Code = Code::ScriptError;
    pub const USAGE: Code = Code::Usage;
    pub const CHANGES_FAILED: Code = Code::ChangesFailed;
    pub const INTERRUPTED: Code = Code::Interrupted;
}

//! What a sync is asked to do and what it works against: the types the full
//! round (`sync`) and the delta round (`delta`) share, kept apart from both so
//! neither imports the other's module.

use std::path::PathBuf;

use super::forms::SidForm;
use super::lock::Locks;
use super::mapping::{AnchorEncoding, OptionalAttrs};
use super::planner::DEFAULT_MARKER;
use super::state::CurrentState;
use crate::ad::Directory;
use crate::cancel::Blocking;
use crate::directory::Dn;
use crate::sources::DeviceSlot;

/// Full listing or delta round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Full,
    /// Follows the deltaLink kept in `state`.
    Delta {
        state: Option<PathBuf>,
    },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Delta { .. } => "delta",
        }
    }
}

/// What the caller asks of a sync.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The device container; default: where the DeviceRegistrationService points.
    pub container: Option<Dn>,
    pub mode: Mode,
    pub delete_threshold: usize,
    /// Refuse deleting more than this share (percent) of the objects dwb owns.
    pub delete_threshold_percent: u32,
    pub take_over: bool,
    /// Adoption (the `adopt` script): only the objects another writer left
    /// anchored, marker and differences, no create, no delete.
    pub adopt: bool,
    /// The anchor encoding of new anchors; `None`: the container's (else UTF-8).
    pub anchor: Option<AnchorEncoding>,
    /// The form of new SID values; `None`: the container's (else binary).
    pub sid_form: Option<SidForm>,
    pub allow_empty: bool,
    /// Look up registered owners (for msDS-RegisteredOwner).
    pub owners: bool,
    pub marker: String,
    /// The optional attributes to write where the schema has them.
    pub optional: OptionalAttrs,
    /// A run that will apply: remember its writes to detect another writer
    /// reverting them (`contest`); not for dry runs, drift checks or explain.
    pub remember_writes: bool,
}

impl Default for SyncRequest {
    fn default() -> Self {
        SyncRequest {
            container: None,
            mode: Mode::Full,
            delete_threshold: 500,
            delete_threshold_percent: 25,
            take_over: false,
            adopt: false,
            anchor: None,
            sid_form: None,
            allow_empty: false,
            owners: true,
            marker: DEFAULT_MARKER.into(),
            optional: OptionalAttrs::ALL,
            remember_writes: false,
        }
    }
}

/// A delta round's new state, written aside until the plan applied.
#[derive(Debug, Clone)]
pub struct StateCommit {
    pub pending: PathBuf,
    pub state: PathBuf,
    /// Devices to read again next round whatever the apply does (unreadable now).
    pub retry: Vec<String>,
}

/// What a sync works against.
pub struct Context<'a> {
    /// The directory as the plan so far leaves it.
    pub dir: &'a dyn Directory,
    /// Opened after the container is found, so a missing container is reported first.
    pub devices: &'a DeviceSlot,
    pub blocking: &'a Blocking,
    /// Show a progress bar while mapping (a terminal, text output).
    pub progress: bool,
    /// The profile in use (names the default delta state file).
    pub profile: Option<&'a str>,
    /// Take the container's lock (a sync that will apply; not a drift check).
    pub locks: Option<&'a Locks>,
}

/// What a round (full or delta) leaves: devices listed, the container as read, a delta state to commit.
pub(super) type Round = (usize, CurrentState, Option<StateCommit>);

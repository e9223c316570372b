//! The plan: every mutating binding records a typed change here instead of
//! writing. A run ends by applying the plan in order (or, with `--dry-run`, by
//! only showing it), so a dry run is exact by construction. Reads during the
//! run go through `view::PlannedView`, which shows the directory as it will be
//! once the plan is applied.

pub mod acl;
pub mod apply;
pub mod expect;
pub mod external;
mod index;
pub mod journal;
pub mod render;
pub mod saved;
pub mod undo;
pub mod values;
pub mod view;

pub use external::GraphChange;

use std::borrow::Cow;
use std::path::PathBuf;

use serde::Serialize;

use crate::ad::{ModOp, WriteOp};
use crate::directory::{Attr, Dn};
use crate::error::Kind;

/// One planned change.
#[derive(Debug, Clone)]
pub struct Change {
    /// 1-based position in the plan.
    pub id: usize,
    pub op: ChangeOp,
    /// Why the script wants it (shown in the plan).
    pub reason: Option<String>,
    /// The Entra device (object id) a sync planned it for.
    pub device: Option<String>,
    /// What the change expects to find (a saved plan's or an undo's precondition):
    /// checked just before it is sent; a change whose object no longer matches is
    /// refused (failed), the others are applied.
    pub expect: Option<Expect>,
    /// What the plan already knows of the object's values before the change (a
    /// sync's modify: the container state it diffed against; a delete: the
    /// attributes it read), so the journal needs no read for it.
    pub before: Option<Vec<Attr>>,
}

/// A change's precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The object does not exist (an add; the DC enforces it too).
    Absent,
    /// The object exists and these attributes hold exactly these values (as sets;
    /// no values = the attribute is absent). Attributes not listed are not checked.
    Values(Vec<Attr>),
}

/// What a change does.
#[derive(Debug, Clone)]
pub enum ChangeOp {
    /// A directory write.
    Directory(WriteOp),
    /// A DACL change, shown as SDDL before and after. `descriptor` is the planned
    /// DACL (what later reads in the run see); applying re-reads the DACL, checks
    /// it still equals `expected` (when the object existed at plan time) and
    /// applies `edits` (see `acl.rs`).
    Acl {
        dn: Dn,
        before: String,
        after: String,
        descriptor: Vec<u8>,
        edits: Vec<acl::AclEdit>,
        expected: Option<Vec<u8>>,
    },
    /// A change in the tenant, through Microsoft Graph.
    Graph(GraphChange),
    /// A setting written to the site's configuration file.
    Setting { file: String, profile: String, key: String, value: String },
    /// A delta round's new state (prepared in `pending`) moved over `state`:
    /// planned last, applied only when every change before it applied.
    StateCommit { pending: PathBuf, state: PathBuf, retry: Vec<String> },
}

impl ChangeOp {
    /// The directory write this change performs, if any: the plan's own, or
    /// for a DACL change the write it makes (built: DACL changes are few).
    pub fn write_op(&self) -> Option<Cow<'_, WriteOp>> {
        match self {
            ChangeOp::Directory(op) => Some(Cow::Borrowed(op)),
            ChangeOp::Acl { dn, descriptor, .. } => Some(Cow::Owned(WriteOp::Modify {
                dn: dn.clone(),
                mods: vec![crate::ad::Modification {
                    op: ModOp::Replace,
                    attr: "nTSecurityDescriptor".into(),
                    values: vec![descriptor.clone()],
                }],
                sd_flags: Some(crate::ad::sd_flags::DACL),
            })),
            _ => None,
        }
    }

    /// The object a directory write of this change goes to, if it makes one.
    pub fn write_dn(&self) -> Option<&Dn> {
        match self {
            ChangeOp::Directory(op) => Some(op.dn()),
            ChangeOp::Acl { dn, .. } => Some(dn),
            _ => None,
        }
    }

    /// The object or resource the change is about.
    pub fn target(&self) -> String {
        match self {
            ChangeOp::Directory(op) => op.dn().to_string(),
            ChangeOp::Acl { dn, .. } => dn.to_string(),
            ChangeOp::Graph(g) => g.target(),
            ChangeOp::Setting { file, profile, key, .. } => format!("{file} [{profile}] {key}"),
            ChangeOp::StateCommit { state, .. } => format!("{} [] deltaLink", state.display()),
        }
    }

    /// A one-word verb for tables.
    pub fn verb(&self) -> &'static str {
        match self {
            ChangeOp::Directory(WriteOp::Add { .. }) => "create",
            ChangeOp::Directory(WriteOp::Modify { .. }) => "modify",
            ChangeOp::Directory(WriteOp::Delete { .. }) => "delete",
            ChangeOp::Acl { .. } => "acl",
            ChangeOp::Graph(_) => "http",
            // The report schema's word for both kinds of recorded settings.
            ChangeOp::Setting { .. } | ChangeOp::StateCommit { .. } => "setting",
        }
    }
}

/// The ordered list of changes of a run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Guards the plan trips. A refused plan is shown but nothing of it is applied.
    pub refusals: Vec<Refusal>,
    /// The digest of the saved plan file this plan is (`--save-plan`, `dwb
    /// apply FILE`): shown in the footer, so the question and the text report
    /// name the file a change process pins with `--expect-digest`.
    pub digest: Option<String>,
    /// Which changes write to which object, for the planned view's reads.
    writes: index::WriteIndex,
}

/// A guard that refused the plan (a mass delete, an empty device source).
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub guard: String,
    pub message: String,
    pub hint: String,
    /// The changes that tripped it (plan ids).
    pub changes: Vec<usize>,
}

impl Plan {
    pub fn push(&mut self, op: ChangeOp, reason: Option<String>) -> usize {
        self.push_for(op, reason, None)
    }

    /// Pushes a change made for one Entra device.
    pub fn push_for(
        &mut self,
        op: ChangeOp,
        reason: Option<String>,
        device: Option<String>,
    ) -> usize {
        let id = self.changes.len() + 1;
        self.changes.push(Change { id, op, reason, device, expect: None, before: None });
        id
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn is_refused(&self) -> bool {
        !self.refusals.is_empty()
    }

    /// The index of the plan's directory writes, brought up to date with the
    /// changes pushed (or appended) since it was last read.
    pub fn write_index(&mut self) -> &index::WriteIndex {
        self.writes.catch_up(&self.changes);
        &self.writes
    }

    /// Counts by verb, for summaries.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut out: Vec<(&'static str, usize)> = Vec::new();
        for c in &self.changes {
            let v = c.op.verb();
            match out.iter_mut().find(|(k, _)| *k == v) {
                Some((_, n)) => *n += 1,
                None => out.push((v, 1)),
            }
        }
        out
    }
}

/// What happened to a change when the plan was applied.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    /// A delete whose object was already gone: the directory is as planned.
    AlreadyGone {
        message: String,
    },
    Failed {
        code: &'static str,
        kind: Kind,
        message: String,
    },
    Skipped {
        reason: String,
    },
}

impl Outcome {
    /// True when the directory is as the change planned (applied, or a delete
    /// of an object someone else removed first).
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Applied | Outcome::AlreadyGone { .. })
    }

    /// True when the change failed because the DC stopped answering.
    pub fn lost_the_directory(&self) -> bool {
        matches!(self, Outcome::Failed { kind: Kind::Timeout | Kind::Network, .. })
    }
}

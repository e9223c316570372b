//! One sync round as the service sees it: what it applied, what failed, how
//! many devices it read, and how it ended. The pieces of a run report into one
//! process-wide accumulator (the watch loop and `dwb run` open and close the
//! round; applying and the sync binding add to it), so no binding needs to
//! know about status files or metrics.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ad::WriteOp;
use crate::plan::{ChangeOp, Outcome, Plan};

/// How a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundOutcome {
    /// Everything planned was applied.
    Ok,
    /// The round stopped with an error, or some of its changes failed.
    Failed,
    /// A guard (delete threshold, empty source) refused the plan: nothing applied.
    Refused,
}

impl RoundOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RoundOutcome::Ok => "ok",
            RoundOutcome::Failed => "failed",
            RoundOutcome::Refused => "refused",
        }
    }
}

/// Directory changes of a round, by operation and result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub add_applied: u64,
    pub add_failed: u64,
    pub modify_applied: u64,
    pub modify_failed: u64,
    pub delete_applied: u64,
    pub delete_failed: u64,
}

impl Changes {
    pub fn applied(&self) -> u64 {
        self.add_applied + self.modify_applied + self.delete_applied
    }
    pub fn failed(&self) -> u64 {
        self.add_failed + self.modify_failed + self.delete_failed
    }

    /// Counts the directory writes of `plan` by what happened to them;
    /// settings, ACLs and Graph changes are not device changes.
    pub fn of(plan: &Plan, outcomes: &[Outcome]) -> Changes {
        let mut c = Changes::default();
        for (change, outcome) in plan.changes.iter().zip(outcomes) {
            let ChangeOp::Directory(op) = &change.op else { continue };
            let (applied, failed) = match op {
                WriteOp::Add { .. } => (&mut c.add_applied, &mut c.add_failed),
                WriteOp::Modify { .. } => (&mut c.modify_applied, &mut c.modify_failed),
                WriteOp::Delete { .. } => (&mut c.delete_applied, &mut c.delete_failed),
            };
            match outcome {
                Outcome::Applied | Outcome::AlreadyGone { .. } => *applied += 1,
                Outcome::Failed { .. } => *failed += 1,
                Outcome::Skipped { .. } => {}
            }
        }
        c
    }

    /// Adds these changes to the process metrics.
    fn count(&self) {
        use crate::metrics::changes;
        changes("add", "applied", self.add_applied);
        changes("add", "failed", self.add_failed);
        changes("modify", "applied", self.modify_applied);
        changes("modify", "failed", self.modify_failed);
        changes("delete", "applied", self.delete_applied);
        changes("delete", "failed", self.delete_failed);
    }

    fn add(&mut self, o: Changes) {
        self.add_applied += o.add_applied;
        self.add_failed += o.add_failed;
        self.modify_applied += o.modify_applied;
        self.modify_failed += o.modify_failed;
        self.delete_applied += o.delete_applied;
        self.delete_failed += o.delete_failed;
    }
}

/// A finished round, as the status file and `dwb health` keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub outcome: RoundOutcome,
    /// `full` or `delta` (None when the round failed before it listed devices).
    pub mode: Option<String>,
    /// When the round started and ended (Unix seconds).
    pub started_at: u64,
    pub finished_at: u64,
    pub duration_ms: u64,
    pub changes: Changes,
    /// Devices the round wrote back (in scope) and skipped; None before a listing.
    pub in_scope: Option<u64>,
    pub skipped: Option<u64>,
    /// The error that ended the round, or the guard that refused it.
    pub error_code: Option<String>,
    pub message: Option<String>,
}

/// What a round has gathered so far.
#[derive(Debug, Default)]
struct Open {
    started: Option<(Instant, u64)>,
    changes: Changes,
    refused: Option<(String, String)>,
    /// A sync was asked for: the run is a writeback round even when it fails
    /// before it has a plan (an unreachable DC, a refused token).
    attempted: bool,
    synced: Option<(String, u64, u64)>,
    devices: Devices,
    /// Attributes another writer keeps changing (dwb stopped reverting them).
    contested: Vec<String>,
}

/// The devices whose changes failed at the DC (with the error) or were applied.
#[derive(Debug, Default, Clone)]
pub struct Devices {
    pub failed: Vec<(String, String)>,
    pub applied: BTreeSet<String>,
}

static CURRENT: Mutex<Open> = Mutex::new(Open {
    started: None,
    changes: Changes {
        add_applied: 0,
        add_failed: 0,
        modify_applied: 0,
        modify_failed: 0,
        delete_applied: 0,
        delete_failed: 0,
    },
    refused: None,
    attempted: false,
    synced: None,
    devices: Devices { failed: Vec::new(), applied: BTreeSet::new() },
    contested: Vec::new(),
});

fn with<T>(f: impl FnOnce(&mut Open) -> T) -> T {
    // A panic elsewhere must not stop the service from reporting rounds.
    let mut g = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g)
}

pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Starts a round (forgetting whatever an earlier one left).
pub fn begin() {
    with(|o| *o = Open { started: Some((Instant::now(), now_unix())), ..Open::default() });
}

/// Whether the current round ran (or tried to run) a sync: the run is a
/// writeback round, and its outcome goes into the status.
pub fn synced() -> bool {
    with(|o| o.attempted || o.synced.is_some())
}

/// A sync is about to be planned: whatever becomes of it is this round's outcome.
pub fn note_sync_attempt() {
    with(|o| o.attempted = true);
}

/// A sync planned: its mode and device counts.
pub fn note_sync(mode: &str, in_scope: usize, skipped: usize) {
    crate::metrics::devices(in_scope as u64, skipped as u64);
    with(|o| o.synced = Some((mode.to_string(), in_scope as u64, skipped as u64)));
}

/// A sync found attributes another writer keeps changing: the round fails
/// (the service turns degraded) and a run exits 4.
pub fn note_contested(what: Vec<String>) {
    with(|o| o.contested.extend(what));
}

/// How many contested attributes the round found.
pub fn contested() -> usize {
    with(|o| o.contested.len())
}

/// A plan was applied (or refused): its directory changes count towards the round.
pub fn note_apply(plan: &Plan, outcomes: &[Outcome]) {
    crate::writeback::contest::applied(plan, outcomes);
    let changes = Changes::of(plan, outcomes);
    changes.count();
    with(|o| {
        o.changes.add(changes);
        for (change, outcome) in plan.changes.iter().zip(outcomes) {
            let Some(device) = &change.device else { continue };
            match outcome {
                Outcome::Applied | Outcome::AlreadyGone { .. } => {
                    o.devices.applied.insert(device.clone());
                }
                // A DC that stopped answering is not the device's fault.
                Outcome::Failed { .. } if outcome.lost_the_directory() => {}
                Outcome::Failed { code, message, .. } => {
                    o.devices.failed.push((device.clone(), format!("{code} {message}")));
                }
                Outcome::Skipped { .. } => {}
            }
        }
        if let Some(r) = plan.refusals.first() {
            let code = crate::error::Kind::Refused.code().to_string();
            o.refused.get_or_insert((code, format!("{} guard: {}", r.guard, r.message)));
        }
    });
}

/// Ends the round: `error` is the code and message of the error that ended it.
/// Returns the round and the devices whose changes failed or applied.
pub fn end(error: Option<(String, String)>) -> (RoundRecord, Devices) {
    with(|o| {
        let devices = std::mem::take(&mut o.devices);
        let (started, started_at) = o.started.unwrap_or((Instant::now(), now_unix()));
        let synced = o.synced.take();
        let refused = o.refused.take();
        let contested = std::mem::take(&mut o.contested);
        let outcome = if error.is_some() || o.changes.failed() > 0 || !contested.is_empty() {
            RoundOutcome::Failed
        } else if refused.is_some() {
            RoundOutcome::Refused
        } else {
            RoundOutcome::Ok
        };
        let (error_code, message) = match (error, refused) {
            (Some((c, m)), _) | (None, Some((c, m))) => (Some(c), Some(m)),
            (None, None) if o.changes.failed() > 0 => (
                Some(super::codes::CHANGES_FAILED.to_string()),
                Some(format!("{} change(s) failed", o.changes.failed())),
            ),
            (None, None) if !contested.is_empty() => (
                Some(super::codes::CHANGES_FAILED.to_string()),
                Some(format!(
                    "another writer (Entra Connect?) keeps changing {}",
                    contested.join(", ")
                )),
            ),
            (None, None) => (None, None),
        };
        let record = RoundRecord {
            outcome,
            mode: synced.as_ref().map(|s| s.0.clone()),
            started_at,
            finished_at: now_unix(),
            duration_ms: started.elapsed().as_millis() as u64,
            changes: o.changes,
            in_scope: synced.as_ref().map(|s| s.1),
            skipped: synced.as_ref().map(|s| s.2),
            error_code,
            message,
        };
        *o = Open::default();
        crate::metrics::round(
            record.outcome.as_str(),
            record.duration_ms as f64 / 1000.0,
            record.finished_at,
            record.mode.as_deref() == Some("full"),
        );
        (record, devices)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Dn;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn changes_are_counted_by_operation_and_result() {
        let mut plan = Plan::default();
        plan.push(ChangeOp::Directory(WriteOp::Add { dn: dn("CN=a,DC=x"), attrs: vec![] }), None);
        plan.push(
            ChangeOp::Directory(WriteOp::Modify {
                dn: dn("CN=b,DC=x"),
                mods: vec![],
                sd_flags: None,
            }),
            None,
        );
        plan.push(ChangeOp::Directory(WriteOp::Delete { dn: dn("CN=c,DC=x") }), None);
        plan.push(ChangeOp::Directory(WriteOp::Delete { dn: dn("CN=d,DC=x") }), None);
        let failed =
            Outcome::Failed { code: "X", kind: crate::error::Kind::Busy, message: "m".into() };
        let outcomes = [Outcome::Applied, failed, Outcome::Applied, Outcome::Applied];
        let c = Changes::of(&plan, &outcomes);
        assert_eq!(
            c,
            Changes { add_applied: 1, modify_failed: 1, delete_applied: 2, ..Changes::default() }
        );
        assert_eq!((c.applied(), c.failed()), (3, 1));
    }
}

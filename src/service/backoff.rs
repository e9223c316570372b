//! Devices the DC keeps refusing. A watch retries a failing device on later
//! rounds after a pause that doubles with each failure, so it never slows the
//! others; after [`QUARANTINE_AFTER`] failed rounds in a row it is listed as
//! quarantined (status file, report, `dwb health`) until a write of it
//! succeeds. The failures are kept in the status file across restarts; the
//! pauses only in the process that watches (a manual `dwb run sync` tries
//! every device).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::{ChangeOp, Outcome, Plan};

/// Failed rounds in a row after which a device counts as quarantined.
pub const QUARANTINE_AFTER: u32 = 5;

/// The longest pause between two tries of one device.
const MAX_PAUSE: Duration = Duration::from_secs(6 * 3600);

/// A device whose writes failed at the DC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failing {
    /// Rounds in a row in which its change failed.
    pub failures: u32,
    /// The last failure's code and message.
    pub last_error: String,
    /// When it first failed, and when it is tried again (Unix seconds).
    pub since: u64,
    pub next_try_at: u64,
}

impl Failing {
    pub fn quarantined(&self) -> bool {
        self.failures >= QUARANTINE_AFTER
    }
}

/// Failing devices by Entra object id.
pub type FailingDevices = BTreeMap<String, Failing>;

/// The pause after `failures` failed rounds: `base`, doubled per failure.
pub fn pause(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_PAUSE)
}

/// Updates `devices` after a round in which `failed` devices (id, error)
/// failed and `applied` ones were written; a device written is forgotten.
pub fn update(
    devices: &mut FailingDevices,
    failed: &[(String, String)],
    applied: &BTreeSet<String>,
    now: u64,
    base: Duration,
) {
    devices.retain(|id, _| !applied.contains(id));
    for (id, error) in failed {
        let f = devices.entry(id.clone()).or_insert(Failing {
            failures: 0,
            last_error: String::new(),
            since: now,
            next_try_at: now,
        });
        f.failures += 1;
        f.last_error.clone_from(error);
        f.next_try_at = now + pause(base, f.failures).as_secs();
    }
}

/// When each failing device of this process's watch is tried again.
static NEXT_TRY: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Remembers when each failing device is due again (after a watch round).
pub fn remember(devices: &FailingDevices) {
    let mut g = NEXT_TRY.lock().unwrap_or_else(|p| p.into_inner());
    *g = devices.iter().map(|(id, f)| (id.clone(), f.next_try_at)).collect();
}

/// The devices whose pause has not ended at `now`, with the time it ends.
pub fn not_due(now: u64) -> BTreeMap<String, u64> {
    let g = NEXT_TRY.lock().unwrap_or_else(|p| p.into_inner());
    g.iter().filter(|(_, t)| **t > now).map(|(id, t)| (id.clone(), *t)).collect()
}

/// The plan without the changes of devices still in their pause, or None
/// when no change is held back. The held-back changes get a `Skipped` outcome
/// in the returned slots (the others are `None`, to be filled from applying
/// the smaller plan, in order); a delta round's state commit is told to read
/// them again next round.
pub fn hold_back(plan: &Plan, now: u64) -> Option<(Plan, Vec<Option<Outcome>>)> {
    let waiting = not_due(now);
    if waiting.is_empty()
        || !plan.changes.iter().any(|c| c.device.as_ref().is_some_and(|d| waiting.contains_key(d)))
    {
        return None;
    }
    let mut kept = Plan::default();
    kept.refusals.clone_from(&plan.refusals);
    let mut slots = Vec::with_capacity(plan.changes.len());
    let mut held: Vec<String> = Vec::new();
    for c in &plan.changes {
        match c.device.as_ref().and_then(|d| waiting.get(d).map(|t| (d, t))) {
            Some((d, t)) => {
                held.push(d.clone());
                slots.push(Some(Outcome::Skipped {
                    reason: format!(
                        "held back: its changes failed in earlier rounds; tried again in {} s",
                        t.saturating_sub(now)
                    ),
                }));
            }
            None => {
                kept.changes.push(c.clone());
                slots.push(None);
            }
        }
    }
    for c in &mut kept.changes {
        if let ChangeOp::StateCommit { retry, .. } = &mut c.op {
            retry.extend(held.iter().filter(|d| !retry.contains(d)).cloned().collect::<Vec<_>>());
        }
    }
    Some((kept, slots))
}

/// Puts the outcomes of the smaller plan into the free slots, in order.
pub fn merge(slots: Vec<Option<Outcome>>, applied: Vec<Outcome>) -> Vec<Outcome> {
    let mut applied = applied.into_iter();
    slots
        .into_iter()
        .map(|s| {
            s.or_else(|| applied.next())
                .unwrap_or(Outcome::Skipped { reason: "not applied".into() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_and_a_written_device_is_forgotten() {
        let base = Duration::from_secs(10);
        assert_eq!(pause(base, 1), base);
        assert_eq!(pause(base, 3), Duration::from_secs(40));
        assert_eq!(pause(base, 40), MAX_PAUSE);
        let mut d = FailingDevices::new();
        let fail = vec![("a".to_string(), "DWB-AD-0019 constraint".to_string())];
        for round in 0..QUARANTINE_AFTER {
            assert!(!d.get("a").is_some_and(Failing::quarantined));
            update(&mut d, &fail, &BTreeSet::new(), 100 + u64::from(round), base);
        }
        let a = &d["a"];
        assert!(a.quarantined());
        assert_eq!((a.failures, a.since), (QUARANTINE_AFTER, 100));
        assert_eq!(a.next_try_at, 104 + 160);
        update(&mut d, &[], &BTreeSet::from(["a".to_string()]), 300, base);
        assert!(d.is_empty(), "a device written is forgotten");
    }
}

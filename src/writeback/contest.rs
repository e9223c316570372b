//! Never fight another writer. Entra Connect joins every anchored object on
//! msDS-DeviceID, so while it still exports to the container it and dwb would
//! revert each other's writes for ever. dwb remembers what it planned to write
//! in the last round (per object and attribute: the values and the object's
//! uSNChanged when read); when a round would write the same values again to an
//! object whose uSNChanged moved since (someone wrote it after dwb did), it is
//! the second revert in a row: dwb stops reverting that attribute and says so.
//! Only writes the DC applied are remembered (`applied`, after the apply), so a
//! write that failed is retried, not taken for a fight. Any other apply (an
//! undo, a saved plan, a script's writes) forgets everything: an admin's own
//! change is no fight. uSNChanged is per DC: after a switch to another DC one
//! round may take a changed object for a fight (reported, never a silent revert).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::planner::{SyncPlan, id_key};
use crate::ad::{ModOp, WriteOp};
use crate::directory::Dn;
use crate::plan::ChangeOp;

/// What dwb planned to write last round: `<dn>|<attribute>` → the write.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LastWrites {
    writes: BTreeMap<String, Written>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Written {
    /// A hash of the values written (sorted), as text (JSON numbers are f64).
    values: String,
    /// The object's uSNChanged when the write was planned.
    usn: u64,
    /// Not reverted (another writer keeps changing it).
    #[serde(default)]
    contested: bool,
}

/// An attribute dwb stops reverting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contested {
    pub dn: Dn,
    pub attr: String,
}

impl Contested {
    pub fn message(&self) -> String {
        format!(
            "another writer (Entra Connect?) keeps changing {} of {}: dwb reverted it last \
             round and does not revert it again (stop the other writer, then sync)",
            self.attr, self.dn
        )
    }
}

fn hash(values: &[Vec<u8>]) -> String {
    let mut v: Vec<&Vec<u8>> = values.iter().collect();
    v.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in v {
        for b in x.iter().chain([&0xff_u8]) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The file for one profile and container, in dwb's data directory.
pub fn path(profile: Option<&str>, container: &Dn) -> crate::error::Result<PathBuf> {
    let key = id_key(&format!("{}|{}", profile.unwrap_or(""), container.norm()));
    Ok(crate::config::data_dir()?.join("writes").join(format!("{key:032x}.json")))
}

/// Last round's writes; a missing or unreadable file is an empty memory.
pub fn load(path: &std::path::Path) -> LastWrites {
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Takes out of `plan` the writes that would revert another writer's change a
/// second round in a row; returns them and this round's memory (the planned
/// writes, and the contested ones, so they stay unreverted while contested).
/// `usn` gives an object's uSNChanged as read for this round.
pub fn check(
    plan: &mut SyncPlan,
    last: &LastWrites,
    usn: &dyn Fn(&Dn) -> Option<u64>,
) -> (Vec<Contested>, LastWrites) {
    let mut now = LastWrites::default();
    let mut contested = Vec::new();
    for c in &mut plan.ops {
        let ChangeOp::Directory(WriteOp::Modify { dn, mods, .. }) = &mut c.op else { continue };
        let Some(u) = usn(dn) else { continue };
        let norm = dn.norm();
        mods.retain(|m| {
            if m.op == ModOp::Add {
                return true;
            }
            let key = format!("{norm}|{}", m.attr.to_ascii_lowercase());
            let w = Written { values: hash(&m.values), usn: u, contested: false };
            let fight = last.writes.get(&key).is_some_and(|l| l.values == w.values && u > l.usn);
            if fight {
                contested.push(Contested { dn: dn.clone(), attr: m.attr.clone() });
                // Remembered as of last round: still contested while it stays so.
                if let Some(l) = last.writes.get(&key) {
                    now.writes.insert(key, Written { contested: true, ..l.clone() });
                }
            } else {
                now.writes.insert(key, w);
            }
            !fight
        });
    }
    // A modify left with nothing to write is no change.
    let before = plan.ops.len();
    plan.ops.retain(
        |c| !matches!(&c.op, ChangeOp::Directory(WriteOp::Modify { mods, .. }) if mods.is_empty()),
    );
    let dropped = before - plan.ops.len();
    plan.updates -= dropped.min(plan.updates);
    plan.unchanged += dropped;
    (contested, now)
}

/// A sync's memory waiting for its apply: the contested entries (already
/// saved) and the planned writes, remembered once the DC applied them.
struct Pending {
    path: PathBuf,
    memory: LastWrites,
    planned: Vec<(String, Written)>,
}

static PENDING: std::sync::Mutex<Option<Pending>> = std::sync::Mutex::new(None);

/// Saves the contested entries now and keeps the planned writes until the apply
/// says which reached the DC.
pub fn remember(path: PathBuf, now: LastWrites) -> crate::error::Result<()> {
    let (kept, planned): (BTreeMap<String, Written>, BTreeMap<String, Written>) =
        now.writes.into_iter().partition(|(_, w)| w.contested);
    let memory = LastWrites { writes: kept };
    save(&path, &memory)?;
    let planned = planned.into_iter().collect();
    *PENDING.lock().unwrap_or_else(|p| p.into_inner()) = Some(Pending { path, memory, planned });
    Ok(())
}

/// After an apply: a sync's applied writes are remembered; any other apply
/// forgets every memory (see the module's comment). Best effort: a memory that
/// cannot be written only makes the next round revert once more.
pub fn applied(plan: &crate::plan::Plan, outcomes: &[crate::plan::Outcome]) {
    let pending = PENDING.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(mut p) = pending else {
        let writes_dirs = plan.changes.iter().any(|c| matches!(c.op, ChangeOp::Directory(_)));
        if writes_dirs && let Ok(dir) = crate::config::data_dir().map(|d| d.join("writes")) {
            let _ = std::fs::remove_dir_all(dir);
        }
        return;
    };
    let mut applied: std::collections::HashSet<String> = Default::default();
    for (c, o) in plan.changes.iter().zip(outcomes) {
        if let (ChangeOp::Directory(WriteOp::Modify { dn, .. }), crate::plan::Outcome::Applied) =
            (&c.op, o)
        {
            applied.insert(dn.norm());
        }
    }
    for (key, w) in p.planned {
        let dn = key.rsplit_once('|').map(|(d, _)| d).unwrap_or_default();
        if applied.contains(dn) {
            p.memory.writes.insert(key, w);
        }
    }
    let _ = save(&p.path, &p.memory);
}

/// The attributes of objects dwb owns whose values are no longer what dwb last
/// wrote (and the DC applied): someone else changed them since. `(DN,
/// attribute, the object's whenChanged)`, for verify.
pub fn changed_since(
    path: &std::path::Path,
    cur: &super::state::CurrentState,
) -> Vec<(Dn, String, String)> {
    let last = load(path);
    let mut out = Vec::new();
    for c in cur.objects().filter(|c| c.ours) {
        let norm = c.entry.dn.norm();
        for (key, w) in last.writes.range(format!("{norm}|")..) {
            let Some(attr) = key.strip_prefix(&format!("{norm}|")) else { break };
            if !w.contested && hash(c.entry.get(attr)) != w.values {
                let when = c.entry.first_str("whenChanged").unwrap_or_default();
                let name = c
                    .entry
                    .attrs()
                    .find(|a| a.name.eq_ignore_ascii_case(attr))
                    .map_or_else(|| attr.to_string(), |a| a.name.to_string());
                out.push((c.entry.dn.clone(), name, when));
            }
        }
    }
    out
}

/// Keeps this round's memory for the next one.
pub fn save(path: &std::path::Path, writes: &LastWrites) -> crate::error::Result<()> {
    if let Some(dir) = path.parent() {
        crate::private::create_dir_all(dir)
            .map_err(|e| crate::error::Error::io(dir.display(), e))?;
    }
    let text =
        serde_json::to_vec(writes).map_err(|e| crate::error::Error::internal(e.to_string()))?;
    crate::fsutil::write_atomic_private(path, &text)
        .map_err(|e| crate::error::Error::io(path.display(), e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ad::Modification;
    use crate::plan::Change;

    fn plan_with(dn: &Dn, name: &str) -> SyncPlan {
        let mut p = SyncPlan::default();
        p.ops.push(Change {
            id: 0,
            op: ChangeOp::Directory(WriteOp::Modify {
                dn: dn.clone(),
                mods: vec![Modification {
                    op: ModOp::Replace,
                    attr: "displayName".into(),
                    values: vec![name.as_bytes().to_vec()],
                }],
                sd_flags: None,
            }),
            reason: None,
            device: None,
            expect: None,
            before: None,
        });
        p.updates = 1;
        p
    }

    #[test]
    fn the_second_revert_in_a_row_is_not_made() {
        let dn = Dn::parse("CN=d,CN=RegisteredDevices,DC=x").unwrap();
        // Round 1: a first revert, planned at uSN 10.
        let mut p = plan_with(&dn, "ENTRA");
        let (c, mem) = check(&mut p, &LastWrites::default(), &|_| Some(10));
        assert!(c.is_empty());
        assert_eq!(p.ops.len(), 1);
        // The write failed (uSN unchanged): retried, not a fight.
        let mut p = plan_with(&dn, "ENTRA");
        let (c, _) = check(&mut p, &mem, &|_| Some(10));
        assert!(c.is_empty());
        assert_eq!(p.ops.len(), 1);
        // Someone wrote after dwb (uSN moved) and dwb would write the same again: stop.
        let mut p = plan_with(&dn, "ENTRA");
        let (c, mem2) = check(&mut p, &mem, &|_| Some(14));
        assert_eq!(c, vec![Contested { dn: dn.clone(), attr: "displayName".into() }]);
        assert!(p.ops.is_empty());
        assert_eq!((p.updates, p.unchanged), (0, 1));
        assert!(
            c[0].message().contains("another writer (Entra Connect?) keeps changing displayName")
        );
        // Still contested next round.
        let mut p = plan_with(&dn, "ENTRA");
        let (c, _) = check(&mut p, &mem2, &|_| Some(20));
        assert_eq!(c.len(), 1);
        // Entra moved on: a new value is written.
        let mut p = plan_with(&dn, "ENTRA-NEW");
        let (c, _) = check(&mut p, &mem2, &|_| Some(20));
        assert!(c.is_empty());
        assert_eq!(p.ops.len(), 1);
    }
}

//! Applying a plan: in order, each outcome recorded. Consecutive independent
//! directory writes (none inside another's subtree) go to the backend as one
//! batch so the LDAP backend can pipeline them; a failed create makes every
//! later change below that object a skip, never a half-built subtree.
//!
//! With a journal, each batch is recorded (old and new values) and forced to
//! disk before it is sent. The old values come from what the plan knows (a
//! sync's modifies carry the container state they were diffed against) or, for
//! deletes (the whole entry) and other modifies, from ONE search per 100 objects
//! of the batch (`expect::read_many`); the same read checks the changes'
//! preconditions (saved plans, undo), and a change whose object no longer
//! matches is failed without being sent.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use super::expect::{self, before_of, needs_read};
use super::journal::Journal;
use super::{Change, ChangeOp, Outcome, Plan};
use crate::ad::{Directory, WriteOp};
use crate::cancel::Blocking;
use crate::directory::Dn;
use crate::directory::{Attr, Entry};
use crate::error::{Error, Kind, Result};
use crate::graph::GraphClient;

/// What a plan is applied to.
pub struct Targets<'a> {
    pub dir: &'a dyn Directory,
    /// The tenant's Graph client, opened only when a Graph change needs it.
    pub graph: &'a dyn Fn() -> Result<GraphClient>,
    /// Runs Graph calls; its cancel flag stops the apply between changes.
    pub blocking: &'a Blocking,
    /// Where every change is recorded before it is sent (`None`: not recorded).
    pub journal: Option<&'a Journal>,
}

/// The values a directory write leaves (for the journal).
fn after_of(c: &Change, before: Option<&[Attr]>) -> Option<Vec<Attr>> {
    match &c.op {
        ChangeOp::Directory(WriteOp::Add { attrs, .. }) => Some(attrs.clone()),
        ChangeOp::Directory(WriteOp::Modify { mods, .. }) => {
            Some(super::values::after_modify(before.unwrap_or(&[]), mods))
        }
        _ => None,
    }
}

/// Records a change that is applied on its own (no old values read) before it
/// is sent; `Err` when the journal cannot be written (then it is not sent).
fn record_single(t: &Targets, plan: &Plan, c: &Change) -> Result<()> {
    match t.journal {
        Some(j) => j.record(plan.len(), &[(c, None, None)]),
        None => Ok(()),
    }
}

/// Records an outcome in the journal; a failure to do so is logged only (the
/// change line, written before sending, is already on disk).
fn record_outcome(t: &Targets, id: usize, o: &Outcome) {
    if let Some(j) = t.journal
        && let Err(e) = j.outcome(id, o)
    {
        tracing::warn!("journal: {e}");
    }
}

/// A DACL change: read, check, edit, record, write.
fn apply_acl(t: &Targets, plan: &Plan, c: &Change) -> Result<()> {
    let ChangeOp::Acl { dn, edits, expected, .. } = &c.op else { return Ok(()) };
    let Some((before, op)) = super::acl::prepare(t.dir, dn, edits, expected.as_deref())? else {
        return Ok(());
    };
    if let Some(j) = t.journal {
        let sd_values = |op: &WriteOp| match op {
            WriteOp::Modify { mods, .. } => mods.first().map(|m| m.values.clone()),
            _ => None,
        };
        let attr = |v: Vec<Vec<u8>>| vec![Attr::new("nTSecurityDescriptor", v)];
        let after = sd_values(&op).map(attr);
        j.record(plan.len(), &[(c, Some(attr(vec![before])), after)])?;
    }
    t.dir.write(&op)?;
    // The DC splits and re-orders what it is given: the journal keeps the DACL it
    // stored, which is what an undo must find.
    if let Some(j) = t.journal
        && let Ok(Some(sd)) = super::acl::read_sd(t.dir, dn)
        && let Ok(bytes) = sd.dacl_only().to_bytes()
        && let Err(e) = j.stored(c.id, &[Attr::new("nTSecurityDescriptor", vec![bytes])])
    {
        tracing::warn!("journal: {e}");
    }
    Ok(())
}

/// Applies one change that is not a batched directory write.
fn apply_one(op: &ChangeOp, t: &Targets) -> Result<()> {
    match op {
        ChangeOp::Graph(g) => g.apply(&(t.graph)()?, t.blocking),
        ChangeOp::Setting { file, profile, key, value } => {
            crate::config::set_value(std::path::Path::new(file), profile, key, value)
        }
        other => {
            Err(Error::new(Kind::Plan, format!("dwb cannot apply `{}` changes here", other.verb())))
        }
    }
}

/// The outcome of a delete whose object someone else removed first: the
/// directory is exactly as planned, so it is done, not failed.
fn already_gone(dn: &Dn) -> Outcome {
    Outcome::AlreadyGone {
        message: format!("{dn} was already gone (removed since the plan was made); nothing to do"),
    }
}

pub fn failed(e: &Error) -> Outcome {
    if e.kind == Kind::Cancelled {
        // Not attempted (or interrupted in flight): a skip, not a failure of the change.
        return Outcome::Skipped { reason: e.message.clone() };
    }
    Outcome::Failed { code: e.code(), kind: e.kind, message: e.to_string() }
}

/// True when an outcome says the DC stopped answering.
fn unreachable(o: &Option<Outcome>) -> bool {
    o.as_ref().is_some_and(Outcome::lost_the_directory)
}

/// The DNs a write names in its values (msDS-DeviceLocation of a DRS object
/// created with its container): such a write must wait for the one creating them.
fn referenced(op: &WriteOp) -> impl Iterator<Item = String> + '_ {
    let values: Box<dyn Iterator<Item = &Vec<u8>>> = match op {
        WriteOp::Add { attrs, .. } => Box::new(attrs.iter().flat_map(|a| a.values.iter())),
        WriteOp::Modify { mods, .. } => Box::new(mods.iter().flat_map(|m| m.values.iter())),
        WriteOp::Delete { .. } => Box::new(std::iter::empty()),
    };
    values
        .filter(|v| v.len() < 2048 && v.contains(&b'='))
        .filter_map(|v| std::str::from_utf8(v).ok())
        .filter_map(|s| Dn::parse(s).ok())
        .map(|d| d.norm())
}

/// The writes gathered for one batch: none inside another's subtree, none
/// naming another in a value. Checked with sets, so a batch of thousands costs
/// a few lookups per write, not a comparison with every other one.
#[derive(Default)]
struct Independent {
    /// The batch's DNs (normalised).
    dns: HashSet<String>,
    /// Every DN above one of the batch's.
    above: HashSet<String>,
}

impl Independent {
    /// Adds `op` when it is independent of the batch so far.
    fn admit(&mut self, op: &WriteOp) -> bool {
        let dn = op.dn();
        let norm = dn.norm();
        let mut parents = Vec::new();
        let mut p = dn.parent();
        while let Some(d) = p {
            parents.push(d.norm());
            p = d.parent();
        }
        let clash = self.dns.contains(&norm)
            || self.above.contains(&norm)
            || parents.iter().any(|a| self.dns.contains(a))
            || referenced(op).any(|r| self.dns.contains(&r));
        if clash {
            return false;
        }
        self.dns.insert(norm);
        self.above.extend(parents);
        true
    }
}

type Batch<'p> = Vec<(usize, &'p WriteOp)>;

/// At most this many writes between two journal records (each forced to disk).
const BATCH_MAX: usize = 1000;

/// Before a batch is sent: one read of the objects whose old values or
/// preconditions are needed, the preconditions checked (a change that fails
/// its check gets its outcome here and is dropped), the rest journaled.
fn prepare_batch<'p>(
    t: &Targets,
    plan: &'p Plan,
    runnable: Batch<'p>,
    outcomes: &mut [Option<Outcome>],
) -> std::result::Result<Batch<'p>, (Error, Vec<usize>)> {
    let idxs: Vec<usize> = runnable.iter().map(|(i, _)| *i).collect();
    let change = |i: usize| plan.changes.get(i);
    let mut dns = Vec::new();
    let mut attrs: Vec<String> = Vec::new();
    for (i, _) in &runnable {
        if let Some((dn, names)) = change(*i).and_then(|c| needs_read(c, t.journal.is_some())) {
            dns.push(dn);
            for n in names {
                if !attrs.iter().any(|a| a.eq_ignore_ascii_case(&n)) {
                    attrs.push(n);
                }
            }
        }
    }
    let current: HashMap<String, Entry> = if dns.is_empty() {
        HashMap::new()
    } else {
        let refs: Vec<&crate::directory::Dn> = dns.iter().collect();
        expect::read_many(t.dir, &refs, &attrs).map_err(|e| (e, idxs.clone()))?
    };
    let mut keep = Vec::with_capacity(runnable.len());
    let mut lines = Vec::new();
    let mut gone = Vec::new();
    for (i, op) in runnable {
        let Some(c) = change(i) else { continue };
        let cur = current.get(&op.dn().norm());
        // A delete of an object the read did not find: nothing to send. Journaled
        // (with its outcome) so the run's record says what became of it.
        if matches!(op, WriteOp::Delete { .. })
            && cur.is_none()
            && needs_read(c, t.journal.is_some()).is_some()
        {
            lines.push((c, None, None));
            gone.push((i, c.id, op.dn()));
            continue;
        }
        if let Some(exp) = &c.expect
            && let Err(why) = expect::check(exp, op.dn(), cur)
        {
            let e = Error::new(Kind::Plan, format!("{why}; not applied"))
                .with_dn(op.dn())
                .with_hint("review the object; plan again to include the current values");
            let o = failed(&e);
            record_outcome(t, c.id, &o);
            outcomes[i] = Some(o);
            continue;
        }
        let before = before_of(c, cur);
        let after = after_of(c, before.as_deref());
        lines.push((c, before, after));
        keep.push((i, op));
    }
    if let Some(j) = t.journal
        && !lines.is_empty()
    {
        let sent: Vec<usize> = keep.iter().map(|(i, _)| *i).collect();
        j.record(plan.len(), &lines).map_err(|e| (e, sent))?;
    }
    for (i, id, dn) in gone {
        let o = already_gone(dn);
        record_outcome(t, id, &o);
        outcomes[i] = Some(o);
    }
    Ok(keep)
}

/// The outcome of a change that is applied on its own: DACL changes
/// (read-modify-write) and non-directory changes; `None` for a directory write,
/// which goes into a batch. `earlier` holds the outcomes of the changes before it.
fn apply_single(
    t: &Targets,
    plan: &Plan,
    change: &Change,
    earlier: &[Option<Outcome>],
    failed_roots: &[Dn],
) -> Option<Outcome> {
    match &change.op {
        ChangeOp::Acl { dn, .. } => Some(if failed_roots.iter().any(|root| dn.is_within(root)) {
            Outcome::Skipped { reason: format!("an earlier change to {dn} failed") }
        } else {
            apply_acl(t, plan, change).map_or_else(|e| failed(&e), |()| Outcome::Applied)
        }),
        // A delta round's state moves on even when some devices failed: they are
        // recorded in it and read again next round. Not when the DC stopped
        // answering (the next round simply repeats this one).
        ChangeOp::StateCommit { pending, state, retry } => {
            Some(if earlier.iter().any(|o| o.as_ref().is_some_and(Outcome::lost_the_directory)) {
                Outcome::Skipped {
                    reason: "the DC stopped answering; kept as it was so the next round repeats"
                        .into(),
                }
            } else {
                let mut again: Vec<String> = retry.clone();
                for (c, o) in plan.changes.iter().zip(earlier) {
                    if !o.as_ref().is_some_and(Outcome::is_done)
                        && let Some(d) = &c.device
                        && !again.contains(d)
                    {
                        again.push(d.clone());
                    }
                }
                record_single(t, plan, change)
                    .and_then(|()| super::external::commit_state(pending, state, &again))
                    .map_or_else(|e| failed(&e), |()| Outcome::Applied)
            })
        }
        // Settings follow the changes they record: only after all applied.
        ChangeOp::Setting { .. }
            if earlier.iter().any(|o| !o.as_ref().is_some_and(Outcome::is_done)) =>
        {
            Some(Outcome::Skipped {
                reason: "an earlier change did not apply; kept as it was so the next run retries"
                    .into(),
            })
        }
        op if op.write_dn().is_none() => Some(
            record_single(t, plan, change)
                .and_then(|()| apply_one(op, t))
                .map_or_else(|e| failed(&e), |()| Outcome::Applied),
        ),
        _ => None,
    }
}

/// Applies `plan` to the targets; returns one outcome per change, in plan order.
/// `progress(done, total)` is called as changes complete.
pub fn apply(plan: &Plan, t: &Targets, progress: &mut dyn FnMut(usize, usize)) -> Vec<Outcome> {
    let dir = t.dir;
    let cancelled = &t.blocking.cancel.flag;
    let total = plan.changes.len();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; total];
    let mut failed_roots: Vec<Dn> = Vec::new();
    let mut i = 0;
    let mut done = 0;
    while i < total {
        if cancelled.load(Ordering::SeqCst) {
            for o in outcomes.iter_mut().skip(i) {
                *o = Some(Outcome::Skipped { reason: "interrupted before this change".into() });
            }
            break;
        }
        let Some(change) = plan.changes.get(i) else { break };
        // DACL changes (read-modify-write) and non-directory changes run one at a time.
        let single = apply_single(t, plan, change, &outcomes[..i], &failed_roots);
        if let Some(o) = single {
            if !matches!(o, Outcome::Skipped { .. }) {
                record_outcome(t, change.id, &o);
            }
            outcomes[i] = Some(o);
            i += 1;
            done += 1;
            progress(done, total);
            continue;
        }
        let ChangeOp::Directory(op) = &change.op else { break };
        // Gather a batch of independent directory writes.
        let mut seen = Independent::default();
        seen.admit(op);
        let mut batch: Batch = vec![(i, op)];
        let mut j = i + 1;
        while let Some(ChangeOp::Directory(next)) = plan.changes.get(j).map(|c| &c.op) {
            if batch.len() >= BATCH_MAX || !seen.admit(next) {
                break;
            }
            batch.push((j, next));
            j += 1;
        }
        let (runnable, skipped): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|(_, op)| !failed_roots.iter().any(|root| op.dn().is_within(root)));
        for (idx, op) in skipped {
            outcomes[idx] = Some(Outcome::Skipped {
                reason: format!(
                    "an earlier change to {} failed",
                    op.dn().parent().unwrap_or_default()
                ),
            });
        }
        let runnable = match prepare_batch(t, plan, runnable, &mut outcomes) {
            Ok(r) => r,
            Err((e, idxs)) => {
                // Not sent: the reads or the journal failed.
                for idx in idxs {
                    outcomes[idx] = Some(failed(&e));
                }
                Vec::new()
            }
        };
        let ops: Vec<&WriteOp> = runnable.iter().map(|(_, op)| *op).collect();
        dir.write_many(&ops, &mut |k, res| {
            if let Some((idx, op)) = runnable.get(k) {
                let o = match res {
                    Ok(()) => Outcome::Applied,
                    Err(e)
                        if e.kind == Kind::NoSuchObject && matches!(op, WriteOp::Delete { .. }) =>
                    {
                        already_gone(op.dn())
                    }
                    Err(e) => {
                        if matches!(op, WriteOp::Add { .. }) {
                            failed_roots.push(op.dn().clone());
                        }
                        failed(&e)
                    }
                };
                if let Some(c) = plan.changes.get(*idx) {
                    record_outcome(t, c.id, &o);
                }
                outcomes[*idx] = Some(o);
            }
        });
        done += j - i;
        progress(done, total);
        i = j;
        if outcomes.iter().any(unreachable) {
            for o in outcomes.iter_mut().skip(i) {
                *o = Some(Outcome::Skipped {
                    reason: "not sent: the DC stopped answering (timeout or lost connection)"
                        .into(),
                });
            }
            break;
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                failed(&Error::new(
                    Kind::Internal,
                    "the backend reported no outcome for this change",
                ))
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn add(dn: &str, values: &[(&str, &str)]) -> WriteOp {
        let attrs =
            values.iter().map(|(a, v)| Attr::new(*a, vec![v.as_bytes().to_vec()])).collect();
        WriteOp::Add { dn: Dn::parse(dn).unwrap(), attrs }
    }

    fn delete(dn: &str) -> WriteOp {
        WriteOp::Delete { dn: Dn::parse(dn).unwrap() }
    }

    fn modify(dn: &str, attr: &str, value: &str) -> WriteOp {
        WriteOp::Modify {
            dn: Dn::parse(dn).unwrap(),
            mods: vec![crate::ad::Modification {
                op: crate::ad::ModOp::Replace,
                attr: attr.into(),
                values: vec![value.as_bytes().to_vec()],
            }],
            sd_flags: None,
        }
    }

    /// A delete of an object already gone is done (journaled so), with and
    /// without a journal and a precondition; a modify of a vanished object fails.
    #[test]
    fn a_delete_of_an_object_already_gone_is_done_and_a_modify_of_one_fails() {
        let ldif = "dn: DC=x\nobjectClass: domain\n\n\
                    dn: CN=c,DC=x\nobjectClass: container\n\n\
                    dn: CN=here,CN=c,DC=x\nobjectClass: device\n";
        let dir = crate::ad::snapshot::SnapshotDirectory::from_ldif(ldif, "t").unwrap();
        let mut plan = Plan::default();
        plan.push(ChangeOp::Directory(delete("CN=gone,CN=c,DC=x")), None);
        plan.push(ChangeOp::Directory(delete("CN=here,CN=c,DC=x")), None);
        plan.push(ChangeOp::Directory(delete("CN=gone2,CN=c,DC=x")), None);
        plan.changes[2].expect =
            Some(crate::plan::Expect::Values(vec![Attr::text("objectClass", ["device"])]));
        plan.push(ChangeOp::Directory(modify("CN=vanished,CN=c,DC=x", "description", "d")), None);
        let graph = || Err(Error::internal("no Graph here"));
        let blocking = Blocking::new(None, crate::cancel::Cancel::default());
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("j.jsonl");
        for journal in [None, Some(Journal::open(&path, "R1", "t", "t").unwrap())] {
            let t = Targets {
                dir: &dir,
                graph: &graph,
                blocking: &blocking,
                journal: journal.as_ref(),
            };
            let out = apply(&plan, &t, &mut |_, _| {});
            assert!(
                matches!(&out[0], Outcome::AlreadyGone { message } if message.contains("already gone")),
                "{out:?}"
            );
            // The second pass finds the first pass's delete done too.
            assert!(out[1].is_done(), "{out:?}");
            assert!(matches!(out[2], Outcome::AlreadyGone { .. }), "{out:?}");
            assert!(matches!(&out[3], Outcome::Failed { kind: Kind::NoSuchObject, .. }), "{out:?}");
        }
        let run = super::super::journal::find(&path, "R1").unwrap();
        let status: Vec<_> = run.changes.iter().map(|c| c.status.as_deref()).collect();
        assert_eq!(
            status,
            [Some("already_gone"), Some("already_gone"), Some("already_gone"), Some("failed")]
        );
        assert_eq!(run.summary_json()["already_gone"], 3);
    }

    #[test]
    fn a_batch_holds_no_write_inside_another_or_naming_another() {
        let mut b = Independent::default();
        assert!(b.admit(&add("CN=Devices,DC=contoso,DC=test", &[])));
        assert!(b.admit(&add("CN=Other,DC=contoso,DC=test", &[("description", "a=b, not a DN")])));
        // Below, equal to, or above a write of the batch: the next batch.
        assert!(!b.admit(&add("CN=pc1,CN=Devices,DC=contoso,DC=test", &[])));
        assert!(!b.admit(&delete("cn=devices,dc=CONTOSO,dc=test")));
        assert!(!b.admit(&delete("DC=contoso,DC=test")));
        // Naming a write of the batch in a value (the DRS object's msDS-DeviceLocation).
        let drs = add(
            "CN=DeviceRegistrationService,CN=Services,DC=contoso,DC=test",
            &[("msDS-DeviceLocation", "CN=Devices,DC=contoso,DC=test")],
        );
        assert!(!b.admit(&drs));
        // Refused writes leave nothing behind: a sibling still fits.
        assert!(b.admit(&add("CN=Third,DC=contoso,DC=test", &[])));
        assert_eq!(b.dns.len(), 3);
    }
}

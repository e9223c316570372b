//! The inverse of a journaled run, as a plan: what it created is deleted, the
//! values it replaced are restored, what it deleted is re-created with every
//! attribute the journal kept (the DC gives it a new objectGUID). Each inverse
//! change carries a precondition — the object is still as that run left it —
//! checked now (for the report and `--dry-run`) and again when applied. An
//! object that changed after that run is not touched: it is a conflict.
//! Permission, Graph and settings changes are listed, not undone.

use std::collections::HashMap;

use super::acl::AclEdit;
use super::journal::{Recorded, Run};
use super::values::{is_system, same};
use super::{ChangeOp, Expect, Plan, Refusal};
use crate::ad::{Directory, ModOp, Modification, WriteOp};
use crate::directory::security::{Ace, SecurityDescriptor};
use crate::directory::{Attr, Dn, Entry};
use crate::error::Result;

/// The inverse plan and what could not go in it.
#[derive(Debug, Default)]
pub struct Undo {
    pub plan: Plan,
    /// Objects changed since the run (`DN: why`): left alone.
    pub conflicts: Vec<String>,
    /// Changes dwb does not undo, and why.
    pub not_undone: Vec<String>,
    /// Changes already undone (the object is as before the run).
    pub already: Vec<String>,
}

/// The attributes of a precondition: what the run wrote, not what the DC maintains.
fn compared(attrs: &[Attr]) -> Vec<Attr> {
    attrs.iter().filter(|a| !is_system(&a.name)).cloned().collect()
}

/// The attributes an object is re-created with (objectClass included).
fn recreatable(attrs: &[Attr]) -> Vec<Attr> {
    let mut out: Vec<Attr> = attrs
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("objectClass") || !is_system(&a.name))
        .filter(|a| !a.values.is_empty())
        .cloned()
        .collect();
    // objectClass first reads best; the DC does not mind the order.
    out.sort_by_key(|a| !a.name.eq_ignore_ascii_case("objectClass"));
    out
}

/// The object classes `prepare` creates with no other value of their own (the
/// device registration containers): a create recorded with only one of these
/// classes is still recognisable; any other class needs values besides.
const BARE_CLASSES: &[&str] =
    &["container", "msDS-DeviceRegistrationServiceContainer", "msDS-DeviceContainer"];

/// Whether a journal create's values tell its object apart: values besides the
/// system attributes, or only a class `prepare` creates bare. An empty record
/// would match any object, and a forged one naming just a class (`user`) any
/// object of that class.
fn recognisable(after: &[Attr]) -> bool {
    if !compared(after).is_empty() {
        return true;
    }
    let classes: Vec<&Vec<u8>> = after
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("objectClass"))
        .flat_map(|a| &a.values)
        .collect();
    !classes.is_empty()
        && classes.iter().all(|v| BARE_CLASSES.iter().any(|b| b.as_bytes().eq_ignore_ascii_case(v)))
}

/// The object carries every class the run created it with.
fn has_classes(e: &Entry, after: &[Attr]) -> bool {
    let have = e.get("objectClass");
    after
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("objectClass"))
        .flat_map(|a| &a.values)
        .all(|v| have.iter().any(|h| h.eq_ignore_ascii_case(v)))
}

fn matches(e: &Entry, attrs: &[Attr]) -> bool {
    compared(attrs).iter().all(|a| same(e.get(&a.name), &a.values))
}

/// The run was made in this directory: the journal names one, and every object
/// it changed is in this directory's domain or configuration naming context.
/// A run of another domain (or a forged one naming objects elsewhere) is refused.
pub fn check_directory(run: &Run, dir: &dyn Directory) -> Result<()> {
    use crate::error::{Error, Kind};
    if run.directory.trim().is_empty() {
        return Err(Error::new(
            Kind::Config,
            format!("run {} names no directory in the journal; it is not undone", run.run_id),
        ));
    }
    let root = dir.root_dse()?;
    let ncs: Vec<Dn> = [root.default_naming_context, root.configuration_naming_context]
        .into_iter()
        .flatten()
        .collect();
    for c in &run.changes {
        let Some(d) = &c.dn else { continue };
        let dn = Dn::parse(d)?;
        if !ncs.iter().any(|nc| dn.is_within(nc)) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "run {} changed {dn}, which is not in this directory ({}); the run was made \
                     in {}: nothing was undone",
                    run.run_id,
                    dir.describe(),
                    crate::text::visible(&run.directory)
                ),
            )
            .with_hint("undo a run against the directory it changed (--ldap-url, --profile)"));
        }
    }
    Ok(())
}

/// Plans the inverse of `run` against `dir`. `delete_threshold`: the undo of
/// more creates than this is refused (like a sync's deletion guard).
pub fn plan(run: &Run, dir: &dyn Directory, delete_threshold: usize) -> Result<Undo> {
    let mut u = Undo::default();
    let done: Vec<&Recorded> = run
        .changes
        .iter()
        .filter(|c| matches!(c.status.as_deref(), None | Some("applied")))
        .collect();
    let mut dns: Vec<Dn> = Vec::new();
    let mut names: Vec<String> = vec!["*".into()];
    for c in &done {
        if let Some(dn) = c.dn.as_deref().and_then(|d| Dn::parse(d).ok()) {
            dns.push(dn);
        }
        for a in c.after.iter().chain(c.before.iter()).flatten() {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&a.name)) {
                names.push(a.name.to_string());
            }
        }
    }
    let refs: Vec<&Dn> = dns.iter().collect();
    let read = super::expect::read_many(dir, &refs, &names)?;
    let mut state: HashMap<String, Option<Entry>> = HashMap::new();
    let of_action = |action: &str| -> Vec<String> {
        done.iter()
            .filter(|c| c.action == action)
            .filter_map(|c| c.dn.as_deref().and_then(|d| Dn::parse(d).ok()).map(|d| d.norm()))
            .collect()
    };
    let (created, deleted) = (of_action("create"), of_action("delete"));
    // The run's first DACL change of each object it deleted: its DACL before the run.
    let mut first_acl: HashMap<String, usize> = HashMap::new();
    for c in done.iter().filter(|c| c.action == "acl") {
        if let Some(dn) = c.dn.as_deref().and_then(|d| Dn::parse(d).ok()) {
            first_acl.entry(dn.norm()).or_insert(c.change);
        }
    }
    for c in done.iter().rev() {
        let label = format!("{}. {} {}", c.change, c.action, c.target);
        let Some(dn) = c.dn.as_deref().and_then(|d| Dn::parse(d).ok()) else {
            u.not_undone.push(format!("{label}: not a directory change; undo it by hand"));
            continue;
        };
        let key = dn.norm();
        if c.action == "acl" {
            if created.contains(&key) {
                u.already.push(format!("{label}: the object is one the run created"));
            } else if deleted.contains(&key) {
                if first_acl.get(&key) == Some(&c.change) {
                    recreated_acl(&mut u, run, c, &dn, &label);
                } else {
                    u.already.push(format!("{label}: restored with the re-created object"));
                }
            } else {
                acl(&mut u, dir, run, c, &dn, &label)?;
            }
            continue;
        }
        let cur = state.get(&key).cloned().unwrap_or_else(|| read.get(&key).cloned());
        let (op, expect) = match (c.action.as_str(), &cur) {
            ("create", None) => {
                u.already.push(format!("{label}: no longer exists"));
                continue;
            }
            ("create", Some(e)) => {
                // Without the values the run wrote there is nothing to recognise its
                // object by: an empty `after` would match any object.
                let Some(after) = c.after.clone().filter(|a| recognisable(a)) else {
                    u.not_undone.push(format!("{label}: the journal has no values for it"));
                    continue;
                };
                if !matches(e, &after) || !has_classes(e, &after) {
                    u.conflicts.push(conflict(&dn, e, &after));
                    continue;
                }
                (WriteOp::Delete { dn: dn.clone() }, Expect::Values(compared(&after)))
            }
            ("modify", None) => {
                u.conflicts.push(format!("{dn}: deleted since the run"));
                continue;
            }
            ("modify", Some(e)) => {
                let (Some(before), Some(after)) = (&c.before, &c.after) else {
                    u.not_undone.push(format!("{label}: the journal has no old values"));
                    continue;
                };
                if !matches(e, after) {
                    if matches(e, before) {
                        u.already.push(format!("{label}: already as before the run"));
                    } else {
                        u.conflicts.push(conflict(&dn, e, after));
                    }
                    continue;
                }
                let mods: Vec<Modification> = before
                    .iter()
                    .map(|a| Modification {
                        op: ModOp::Replace,
                        attr: a.name.to_string(),
                        values: a.values.clone(),
                    })
                    .collect();
                let op = WriteOp::Modify { dn: dn.clone(), mods, sd_flags: None };
                (op, Expect::Values(compared(after)))
            }
            ("delete", Some(_)) => {
                u.conflicts.push(format!("{dn}: exists again (re-created since the run)"));
                continue;
            }
            ("delete", None) => {
                let Some(before) = &c.before else {
                    u.not_undone.push(format!("{label}: the journal has no copy of the object"));
                    continue;
                };
                (WriteOp::Add { dn: dn.clone(), attrs: recreatable(before) }, Expect::Absent)
            }
            (other, _) => {
                u.not_undone.push(format!(
                    "{label}: `{other}` changes are not undone by dwb undo; the journal \
                     (`dwb journal {}`) shows the values before",
                    run.run_id
                ));
                continue;
            }
        };
        state.insert(key, super::view::apply_to(cur, &op));
        let why = format!("undo of run {} change {}", run.run_id, c.change);
        u.plan.push_for(ChangeOp::Directory(op), Some(why), c.device.clone());
        if let Some(last) = u.plan.changes.last_mut() {
            last.expect = Some(expect);
        }
    }
    refuse_mass_delete(&mut u, run, delete_threshold);
    Ok(u)
}

/// Refuses an undo that deletes more objects than `delete_threshold` (like a
/// sync's deletion guard).
fn refuse_mass_delete(u: &mut Undo, run: &Run, delete_threshold: usize) {
    let deletes: Vec<usize> = u
        .plan
        .changes
        .iter()
        .filter(|c| matches!(c.op, ChangeOp::Directory(WriteOp::Delete { .. })))
        .map(|c| c.id)
        .collect();
    if deletes.len() > delete_threshold {
        u.plan.refusals.push(Refusal {
            guard: "delete_threshold".into(),
            message: format!(
                "undoing run {} would delete {} objects, more than the deletion threshold of \
                 {delete_threshold}: nothing was changed",
                run.run_id,
                deletes.len()
            ),
            hint: "if that is intended, run again with --delete-threshold N".into(),
            changes: deletes,
        });
    }
}

fn dacl_of(attrs: &Option<Vec<Attr>>) -> Option<SecurityDescriptor> {
    let a = attrs.as_ref()?.iter().find(|a| a.name.eq_ignore_ascii_case("nTSecurityDescriptor"))?;
    SecurityDescriptor::from_bytes(a.values.first()?).ok()
}

fn explicit(sd: &SecurityDescriptor) -> Vec<Ace> {
    sd.dacl.iter().flat_map(|d| d.aces()).filter(|a| !a.is_inherited()).cloned().collect()
}

/// The undo of a DACL change: the inverse edits, applied only to the DACL the DC
/// stored (checked now and, through `expected`, again when applied).
fn acl(
    u: &mut Undo,
    dir: &dyn Directory,
    run: &Run,
    c: &Recorded,
    dn: &Dn,
    label: &str,
) -> Result<()> {
    let (Some(before), Some(after)) =
        (dacl_of(&c.before), dacl_of(&c.stored).or(dacl_of(&c.after)))
    else {
        u.not_undone.push(format!("{label}: the journal has no DACL before and after"));
        return Ok(());
    };
    let Some(now) = super::acl::read_sd(dir, dn).ok().flatten() else {
        u.conflicts.push(format!("{dn}: no longer exists (or has no DACL)"));
        return Ok(());
    };
    if now.dacl != after.dacl {
        if now.dacl == before.dacl {
            u.already.push(format!("{label}: the DACL is as before the run"));
        } else {
            u.conflicts.push(format!("{dn}: its DACL changed since the run"));
        }
        return Ok(());
    }
    let (was, is) = (explicit(&before), explicit(&after));
    let mut edits: Vec<AclEdit> =
        is.iter().filter(|a| !was.contains(a)).cloned().map(AclEdit::Revoke).collect();
    edits.extend(was.iter().filter(|a| !is.contains(a)).cloned().map(AclEdit::Grant));
    if edits.is_empty() {
        u.already.push(format!("{label}: nothing to take back"));
        return Ok(());
    }
    let sddl = |sd: &SecurityDescriptor| sd.to_sddl(None).unwrap_or_else(|e| format!("<{e}>"));
    let bytes = |sd: &SecurityDescriptor| sd.dacl_only().to_bytes().unwrap_or_default();
    let op = ChangeOp::Acl {
        dn: dn.clone(),
        before: sddl(&after),
        after: sddl(&before),
        descriptor: bytes(&before),
        edits,
        expected: Some(bytes(&after)),
    };
    let why = format!("undo of run {} change {}", run.run_id, c.change);
    u.plan.push_for(op, Some(why), c.device.clone());
    Ok(())
}

/// The DACL of an object the run changed and then deleted, for the object the
/// undo re-creates (planned before this): the DC gives it the schema's default
/// DACL, and this grants back the explicit ACEs the run's DACL change (`c`)
/// took away, as a DACL change of its own in the plan. Other explicit ACEs the
/// object had come back only as far as the schema's default has them (said in
/// `not_undone`). Nothing to check it against: the object does not exist yet
/// when the undo is planned.
fn recreated_acl(u: &mut Undo, run: &Run, c: &Recorded, dn: &Dn, label: &str) {
    let (Some(before), Some(after)) =
        (dacl_of(&c.before), dacl_of(&c.stored).or(dacl_of(&c.after)))
    else {
        u.not_undone.push(format!("{label}: the journal has no DACL before and after"));
        return;
    };
    let is = explicit(&after);
    let edits: Vec<AclEdit> =
        explicit(&before).into_iter().filter(|a| !is.contains(a)).map(AclEdit::Grant).collect();
    if edits.is_empty() {
        u.already.push(format!("{label}: the run took no explicit ACE away"));
        return;
    }
    u.not_undone.push(format!(
        "{label}: {dn} is re-created with the schema's default DACL; the ACEs the run took away \
         are granted back, any other explicit ACE it had is not (compare with `dwb journal {}`)",
        run.run_id
    ));
    let sddl = |sd: &SecurityDescriptor| sd.to_sddl(None).unwrap_or_else(|e| format!("<{e}>"));
    let op = ChangeOp::Acl {
        dn: dn.clone(),
        before: "(the re-created object's default DACL)".into(),
        after: sddl(&before),
        descriptor: before.dacl_only().to_bytes().unwrap_or_default(),
        edits,
        expected: None,
    };
    let why = format!(
        "undo of run {} change {}: the ACEs it took from the re-created object",
        run.run_id, c.change
    );
    u.plan.push_for(op, Some(why), c.device.clone());
}

/// Why an object no longer is as the run left it (the first attribute that differs).
fn conflict(dn: &Dn, e: &Entry, after: &[Attr]) -> String {
    match super::expect::check(&Expect::Values(compared(after)), dn, Some(e)) {
        Err(why) => format!("{why} (since the run)"),
        Ok(()) => format!("{dn} changed since the run"),
    }
}

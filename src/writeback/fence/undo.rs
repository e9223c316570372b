//! The undo of a journaled run, held to the fence of the run it inverts.

use super::territory::{self, Origin, Places};
use super::{SyncFence, check_owned, managed, refused, text};
use crate::ad::{Directory, WriteOp};
use crate::directory::Dn;
use crate::error::Result;
use crate::plan::{ChangeOp, Plan};
use crate::writeback::planner::DEFAULT_MARKER;

/// The undo of a run stays inside the fence of the run it inverts: for sync,
/// adopt, retire (and runs of other origins) device objects directly under
/// one container, the attributes a sync manages (and those a deleted device
/// object is re-created with), modifies and deletes only of anchored device
/// objects; for prepare and retire the registration objects and the
/// connector's ACEs; for enable the SCP, the settings and the tenant's flag.
/// A forged journal cannot make undo write anywhere else. `forest`: the
/// configuration naming context and the device container of the directory.
pub fn check_undo(plan: &Plan, script: &str, forest: (&Dn, Dn), dir: &dyn Directory) -> Result<()> {
    let origin = Origin::of(script);
    let (config, mut container) = forest;
    // An undo of retire re-creates the registration service naming its container.
    let places = Places::new(config, container.clone())?;
    for c in &plan.changes {
        if let ChangeOp::Directory(WriteOp::Add { dn, attrs }) = &c.op
            && *dn == places.drs
            && let Some(a) =
                attrs.iter().find(|a| a.name.eq_ignore_ascii_case("msDS-DeviceLocation"))
            && let Some(v) = a.values.first()
        {
            container = Dn::parse(&String::from_utf8_lossy(v))?;
        }
    }
    // Sync and adopt runs may have named their own container: the first change's.
    let in_container =
        |d: &Dn| plan.changes.iter().any(|c| c.op.write_dn().is_some_and(|w| w.is_child_of(d)));
    if matches!(origin, Origin::Sync | Origin::Adopt)
        && !in_container(&container)
        && let Some(first) = plan.changes.iter().find_map(|c| c.op.write_dn())
        && let Some(parent) = first.parent()
    {
        container = parent;
    }
    let places = Places::new(config, container.clone())?;
    let devices = !matches!(origin, Origin::Prepare | Origin::Enable | Origin::Verify);
    let prepared = matches!(origin, Origin::Prepare | Origin::Retire | Origin::Other);
    let enabled = matches!(origin, Origin::Enable | Origin::Other);
    let f = SyncFence { container, marker: DEFAULT_MARKER.into(), take_over: true };
    for c in &plan.changes {
        let device = devices && c.op.write_dn().is_some_and(|dn| dn.is_child_of(&f.container));
        let ok = match &c.op {
            ChangeOp::Directory(op) if device => undo_device(op),
            // A site's script may grant anywhere; its undo takes such grants back
            // (revokes only: never more access, and only while the DACL is the one
            // the DC stored after the run).
            ChangeOp::Acl { edits, .. }
                if origin == Origin::Other
                    && edits.iter().all(|e| matches!(e, crate::plan::acl::AclEdit::Revoke(_))) =>
            {
                true
            }
            op if origin == Origin::Other => territory::other(op, &places),
            op => territory::undo(op, &places, prepared, enabled),
        };
        if !ok {
            let why = match c.op.write_dn() {
                Some(dn) if devices => format!("{dn} is not directly under {}", f.container),
                _ => "outside the fence of the run it undoes".to_string(),
            };
            return Err(refused(format!(
                "undo change {} ({} {}): {why} ({script}: {})",
                c.id,
                c.op.verb(),
                c.op.target(),
                what_undo_writes(origin)
            )));
        }
    }
    check_owned(plan, &f, dir)
}

/// The undo of a device object's change: re-created as an `msDS-Device`
/// without a security descriptor, restored in what a sync writes, or deleted.
fn undo_device(op: &WriteOp) -> bool {
    match op {
        WriteOp::Add { attrs, .. } => {
            let class = attrs.iter().find(|a| a.name.eq_ignore_ascii_case("objectClass"));
            class.is_some_and(|a| text(&a.values).contains(&"msds-device".to_string()))
                && !attrs.iter().any(|a| a.name.eq_ignore_ascii_case("nTSecurityDescriptor"))
        }
        WriteOp::Modify { mods, sd_flags, .. } => {
            sd_flags.is_none() && mods.iter().all(|m| managed(&m.attr))
        }
        WriteOp::Delete { .. } => true,
    }
}

fn what_undo_writes(origin: Origin) -> &'static str {
    match origin {
        Origin::Sync | Origin::Adopt => "its undo writes only device objects in one container",
        Origin::Prepare => "its undo writes only the device registration objects and their ACEs",
        Origin::Retire => {
            "its undo writes only device objects, the device registration objects and their ACEs"
        }
        Origin::Enable => "its undo writes only the SCP, the site's settings and the tenant's flag",
        Origin::Verify => "it changed nothing",
        Origin::Other => "its undo stays in dwb's territory",
    }
}

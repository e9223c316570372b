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
/// configuration naming context and the device container of the directory
/// (where its registration service points).
pub fn check_undo(plan: &Plan, script: &str, forest: (&Dn, Dn), dir: &dyn Directory) -> Result<()> {
    let origin = Origin::of(script);
    let (config, located) = forest;
    let container =
        container_of(plan, origin, &Places::new(config, located.clone())?, dir)?.unwrap_or(located);
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

/// The device container an undo's device objects are in, when the plan names
/// one other than where the registration service points: the one an undo of
/// retire re-creates the registration service pointing at, or (sync, adopt)
/// the parent of the first change. Only an `msDS-DeviceContainer` (in the
/// directory, or re-created by the plan) counts: a forged journal cannot make
/// any other container the device objects' home.
fn container_of(
    plan: &Plan,
    origin: Origin,
    places: &Places,
    dir: &dyn Directory,
) -> Result<Option<Dn>> {
    let named = plan.changes.iter().find_map(|c| match &c.op {
        ChangeOp::Directory(WriteOp::Add { dn, attrs }) if *dn == places.drs => attrs
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case("msDS-DeviceLocation"))
            .and_then(|a| a.values.first())
            .and_then(|v| Dn::parse(&String::from_utf8_lossy(v)).ok()),
        _ => None,
    });
    let first = match origin {
        Origin::Sync | Origin::Adopt => {
            plan.changes.iter().find_map(|c| c.op.write_dn()).and_then(Dn::parent)
        }
        _ => None,
    };
    for candidate in [named, first].into_iter().flatten() {
        if candidate == places.container {
            return Ok(None);
        }
        let recreated = plan.changes.iter().any(|c| match &c.op {
            ChangeOp::Directory(WriteOp::Add { dn, attrs }) => {
                *dn == candidate
                    && attrs.iter().any(|a| {
                        a.name.eq_ignore_ascii_case("objectClass")
                            && text(&a.values).contains(&"msds-devicecontainer".to_string())
                    })
            }
            _ => false,
        });
        let existing =
            dir.read(&candidate, &["objectClass"])?.is_some_and(|e| e.is_a("msDS-DeviceContainer"));
        if recreated || existing {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
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

//! The fence of a saved plan's origin: what the script that made it may change,
//! checked again when the file is applied, so a plan edited by hand cannot reach
//! outside it. A sync plan may only create, modify or delete `msDS-Device`
//! objects directly under its device container, write only the attributes a
//! sync manages, and modify or delete only objects dwb owns (its marker, or an
//! anchored device object when the plan was made with `take_over`). prepare,
//! adopt, retire and enable have theirs (`territory`); any other origin may do
//! only what one of them could, unless the file's digest was pinned.

mod territory;
mod undo;

use serde_json::Value;

pub use territory::{Origin, Places, grantable};
pub use undo::check_undo;

use super::mapping::MANAGED;
use super::planner::DEFAULT_MARKER;
use crate::ad::{Directory, WriteOp};
use crate::directory::{Dn, Entry};
use crate::error::{Error, Kind, Result};
use crate::plan::{ChangeOp, Plan};

/// The script `dwb run sync` runs (a saved plan's `script`).
pub const SYNC_SCRIPT: &str = "<embedded>/scripts/sync.rhai";

/// Where a sync plan may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFence {
    pub container: Dn,
    pub marker: String,
    pub take_over: bool,
}

/// The fence of a plan: its origin, the forest's places and sync's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub origin: Origin,
    pub places: Places,
    pub sync: SyncFence,
    /// retire's `prepare=true`: what prepare created goes too.
    pub retire_prepare: bool,
}

fn refused(msg: String) -> Error {
    Error::new(Kind::InvalidArgument, format!("{msg}; nothing was applied"))
        .with_hint("a saved plan applies only changes its origin script could make: save it again")
}

/// A refusal of a change outside dwb's territory (the fence of a plan whose
/// origin is not one of dwb's scripts).
fn outside_territory(msg: String) -> Error {
    Error::new(Kind::InvalidArgument, format!("{msg}; nothing was applied")).with_hint(
        "a plan of a script other than dwb's own applies only changes one of dwb's scripts could \
         make, unless its reviewed digest is pinned: `dwb apply FILE --expect-digest HEX` \
         (the digest `--save-plan` printed)",
    )
}

fn flag(parameters: &serde_json::Map<String, Value>, k: &str) -> bool {
    parameters.get(k).is_some_and(|v| {
        v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
    })
}

/// The forest's configuration naming context and where its registration
/// service points (the device container), read once at apply or undo.
pub fn read_forest(dir: &dyn Directory) -> Result<(Dn, Option<Dn>)> {
    let config = dir.root_dse()?.config_nc()?;
    let drs = Places::new(&config, config.clone())?.drs;
    let located = dir
        .read(&drs, &["msDS-DeviceLocation"])?
        .and_then(|e| e.first_str("msDS-DeviceLocation"))
        .and_then(|s| Dn::parse(&s).ok());
    Ok((config, located))
}

/// The fence of a plan made by `script` with `parameters` in the domain
/// `naming_context`, in the forest whose configuration is `config` and whose
/// registration service points at `located`.
pub fn of(
    script: &str,
    parameters: &serde_json::Map<String, Value>,
    naming_context: Option<&str>,
    config: &Dn,
    located: Option<&Dn>,
) -> Result<Fence> {
    let origin = Origin::of(script);
    let nc = Dn::parse(naming_context.unwrap_or_default())?;
    let param = |k: &str| parameters.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let default = || match located {
        Some(l) => Ok(l.clone()),
        None => nc.child("CN", "RegisteredDevices"),
    };
    let container = match (origin, param("container"), param("domain")) {
        (Origin::Prepare, _, Some(domain)) => {
            Dn::from_dns_name(domain)?.child("CN", "RegisteredDevices")?
        }
        (Origin::Prepare, _, None) => nc.child("CN", "RegisteredDevices")?,
        // Another origin's parameters name nothing trusted.
        (Origin::Other, _, _) | (_, None, _) => default()?,
        (_, Some(c), _) => Dn::parse(c)?,
    };
    if origin != Origin::Prepare && !container.is_within(&nc) {
        return Err(refused(format!("the plan's container {container} is outside {nc}")));
    }
    let marker = param("marker").unwrap_or(DEFAULT_MARKER).to_string();
    let take_over =
        flag(parameters, "take_over") || matches!(origin, Origin::Adopt | Origin::Other);
    Ok(Fence {
        origin,
        places: Places::new(config, container.clone())?,
        sync: SyncFence { container, marker, take_over },
        retire_prepare: flag(parameters, "prepare"),
    })
}

fn managed(attr: &str) -> bool {
    attr.eq_ignore_ascii_case("adminDescription")
        || MANAGED.iter().any(|m| m.eq_ignore_ascii_case(attr))
}

fn text(values: &[Vec<u8>]) -> Vec<String> {
    values.iter().map(|v| String::from_utf8_lossy(v).to_ascii_lowercase()).collect()
}

/// What a sync may do to one change: a directory write of a device object
/// directly under its container, of the attributes it manages.
fn sync_change(op: &ChangeOp, f: &SyncFence) -> std::result::Result<(), String> {
    let ChangeOp::Directory(op) = op else {
        return Err("a sync plan holds only directory writes of device objects".into());
    };
    let dn = op.dn();
    if dn.parent().as_ref() != Some(&f.container) {
        return Err(format!("{dn} is not directly under {}", f.container));
    }
    match op {
        WriteOp::Add { attrs, .. } => {
            for a in attrs {
                if a.name.eq_ignore_ascii_case("objectClass") {
                    if text(&a.values) != ["msds-device"] {
                        return Err("a sync creates only msDS-Device objects".into());
                    }
                } else if !managed(&a.name) {
                    return Err(format!("a sync does not write {}", a.name));
                }
            }
            let marked = attrs.iter().any(|a| {
                a.name.eq_ignore_ascii_case("adminDescription")
                    && text(&a.values) == [f.marker.to_ascii_lowercase()]
            });
            if !marked || !attrs.iter().any(|a| a.name.eq_ignore_ascii_case("objectClass")) {
                return Err("a sync's create carries its class and dwb's marker".into());
            }
        }
        WriteOp::Modify { mods, sd_flags, .. } => {
            if sd_flags.is_some() {
                return Err("a sync does not change security descriptors".into());
            }
            for m in mods {
                if !managed(&m.attr) {
                    return Err(format!("a sync does not write {}", m.attr));
                }
                if m.attr.eq_ignore_ascii_case("adminDescription")
                    && text(&m.values) != [f.marker.to_ascii_lowercase()]
                {
                    return Err("a sync sets adminDescription only to its marker".into());
                }
            }
        }
        WriteOp::Delete { .. } => {}
    }
    Ok(())
}

/// What `origin` may do to one change (`Other`: what any of dwb's scripts may).
fn change(op: &ChangeOp, f: &Fence, origin: Origin) -> std::result::Result<(), String> {
    let p = &f.places;
    match origin {
        Origin::Sync => sync_change(op, &f.sync),
        Origin::Adopt => match op {
            ChangeOp::Directory(WriteOp::Modify { .. }) => sync_change(op, &f.sync),
            _ => Err("adopt only modifies device objects: it creates and deletes nothing".into()),
        },
        Origin::Prepare => territory::prepare(op, p),
        Origin::Retire => territory::retire(op, p, f.retire_prepare),
        Origin::Enable => territory::enable(op, p),
        Origin::Verify => Err("verify changes nothing".into()),
        Origin::Other => {
            // Device objects as a sync writes them (owned ones, checked after);
            // the registration objects in anything but their descriptors.
            let device = op.write_dn().is_some_and(|dn| dn.is_child_of(&p.container));
            let ok = match op {
                ChangeOp::Directory(_) if device => sync_change(op, &f.sync).is_ok(),
                op => territory::other(op, p),
            };
            if ok {
                return Ok(());
            }
            Err(format!(
                "outside dwb's territory (the device objects in {}, the device registration \
                 objects under {}, the site's settings, the tenant's writeback flag)",
                p.container, p.drc
            ))
        }
    }
}

/// Every change of `plan` checked against the fence, without the directory.
pub fn check(plan: &Plan, f: &Fence) -> Result<()> {
    for c in &plan.changes {
        if let Err(why) = change(&c.op, f, f.origin) {
            let msg = format!("change {} ({} {}): {why}", c.id, c.op.verb(), c.op.target());
            return Err(match f.origin {
                Origin::Other => outside_territory(msg),
                _ => refused(msg),
            });
        }
    }
    Ok(())
}

/// The device objects (directly under the container) a plan modifies or
/// deletes, read once: each must be a device object dwb owns (or, with
/// `take_over`, one with a cloud anchor). An object already gone passes (its
/// change is refused or done when applied).
pub fn check_owned(plan: &Plan, f: &SyncFence, dir: &dyn Directory) -> Result<()> {
    let targets: Vec<&Dn> = plan
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            ChangeOp::Directory(op @ (WriteOp::Modify { .. } | WriteOp::Delete { .. })) => {
                Some(op.dn())
            }
            _ => None,
        })
        .filter(|dn| dn.is_child_of(&f.container))
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let attrs: Vec<String> =
        ["objectClass", "adminDescription", "msDS-CloudAnchor"].map(String::from).to_vec();
    let found = crate::plan::expect::read_many(dir, &targets, &attrs)?;
    for dn in targets {
        let Some(e) = found.get(&dn.norm()) else { continue };
        if !owned(e, f) {
            return Err(refused(format!(
                "{dn} is not a device object dwb owns (marker `{}`); a plan changes no other",
                f.marker
            )));
        }
    }
    Ok(())
}

/// The whole fence of a saved plan at apply: its changes, the ownership of
/// the device objects it changes, and (for a sync) its deletion guards again.
/// Returns the guards that trip. `pinned`: the reviewed digest was pinned, so
/// a plan of another origin is what the change process approved. `dir`:
/// `None` for a plan without directory writes (nothing to read).
pub fn check_saved(
    saved: &crate::plan::saved::Saved,
    f: &Fence,
    dir: Option<&dyn Directory>,
    pinned: bool,
) -> Result<Vec<crate::plan::Refusal>> {
    if f.origin == Origin::Other && pinned {
        return Ok(Vec::new());
    }
    check(&saved.plan, f)?;
    let Some(dir) = dir else { return Ok(Vec::new()) };
    check_home(&saved.plan, f, dir)?;
    check_owned(&saved.plan, &f.sync, dir)?;
    match f.origin {
        Origin::Sync => guards(&saved.plan, &f.sync, &saved.parameters, saved.listed, dir),
        // Another origin deletes device objects as a sync may: under a sync's
        // guards, with their defaults (its parameters name nothing trusted).
        Origin::Other => guards(&saved.plan, &f.sync, &Default::default(), saved.listed, dir),
        _ => Ok(Vec::new()),
    }
}

/// The container a plan writes device objects in is a device container
/// (`msDS-DeviceContainer`), not any object a forged `container` parameter
/// names (prepare's plans create theirs with that class).
fn check_home(plan: &Plan, f: &Fence, dir: &dyn Directory) -> Result<()> {
    let home = &f.sync.container;
    let writes_devices =
        plan.changes.iter().any(|c| c.op.write_dn().is_some_and(|dn| dn.is_child_of(home)));
    if f.origin == Origin::Prepare || !writes_devices {
        return Ok(());
    }
    match dir.read(home, &["objectClass"])? {
        Some(e) if !e.is_a("msDS-DeviceContainer") => Err(refused(format!(
            "{home} is not a device container (msDS-DeviceContainer); the plan's device objects \
             go in one"
        ))),
        // A container already gone: the plan's writes in it fail when applied.
        _ => Ok(()),
    }
}

/// The deletion guards of a sync, evaluated again on the plan's own deletes
/// (the thresholds its `parameters` name, else the defaults, and the empty
/// source on the count of devices the file records its source `listed`): the
/// refusals the file lists can only add to these, never remove them.
pub fn guards(
    plan: &Plan,
    f: &SyncFence,
    parameters: &serde_json::Map<String, Value>,
    listed: Option<u64>,
    dir: &dyn Directory,
) -> Result<Vec<crate::plan::Refusal>> {
    let deleting: Vec<usize> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.op, ChangeOp::Directory(WriteOp::Delete { .. })))
        .map(|c| c.id)
        .collect();
    if deleting.is_empty() {
        return Ok(Vec::new());
    }
    let number = |k: &str, default: u64| {
        parameters
            .get(k)
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
            .unwrap_or(default)
    };
    let threshold = number("delete_threshold", 500);
    let percent = number("delete_threshold_percent", 25).min(100);
    let deletes = deleting.len() as u64;
    let refusal = |guard: &str, message: String| crate::plan::Refusal {
        guard: guard.into(),
        message,
        hint: match guard {
            "empty_source" => {
                "checked again when the saved plan was applied; if the tenant \
                               really has no devices, plan again with --param allow_empty=true"
            }
            _ => {
                "checked again when the saved plan was applied; plan again with the threshold \
                  raised (--param) if the deletions are intended"
            }
        }
        .into(),
        changes: deleting.clone(),
    };
    let mut out = Vec::new();
    // The empty-source guard (planner::check_guards): a full listing of no
    // device deletes nothing unless allow_empty says so.
    let Some(listed) = listed else {
        return Err(refused(
            "the plan deletes device objects but does not record how many devices its \
             source listed (`source.listed`)"
                .into(),
        ));
    };
    let delta = parameters.get("mode").and_then(Value::as_str) == Some("delta");
    if listed == 0 && !delta && !flag(parameters, "allow_empty") {
        out.push(refusal(
            "empty_source",
            "the device source returned no devices while the container holds written-back \
             devices: refusing to treat that as \"delete everything\""
                .into(),
        ));
    }
    if deletes > threshold {
        out.push(refusal(
            "delete_threshold",
            format!(
                "{deletes} device objects would be deleted, more than the deletion threshold of \
                 {threshold}: nothing was changed"
            ),
        ));
    }
    let owned = crate::writeback::state::count_owned(dir, &f.container, &f.marker, 0)? as u64;
    if deletes * 100 > percent * owned {
        out.push(refusal(
            "delete_threshold_percent",
            format!(
                "{deletes} of the {owned} device objects dwb owns in {} would be deleted, more \
                 than {percent}%: nothing was changed",
                f.container
            ),
        ));
    }
    Ok(out)
}

/// Every `setting` change of a plan writes the site's own configuration file
/// (`config`, the file this run loaded), whatever the plan's origin: a saved
/// plan cannot name a file of its choosing.
pub fn check_settings(plan: &Plan, config: Option<&std::path::Path>) -> Result<()> {
    let own = config.and_then(|p| std::fs::canonicalize(p).ok());
    for c in &plan.changes {
        let ChangeOp::Setting { file, .. } = &c.op else { continue };
        let target = std::fs::canonicalize(file).ok();
        if own.is_none() || target != own {
            return Err(refused(format!(
                "change {} writes the setting file {}, which is not this site's configuration \
                 file ({})",
                c.id,
                crate::text::visible(&crate::text::clip(file, crate::text::CLIP)),
                config.map_or_else(|| "none loaded".to_string(), |p| p.display().to_string())
            )));
        }
    }
    Ok(())
}

fn owned(e: &Entry, f: &SyncFence) -> bool {
    let device = e.is_a("msDS-Device");
    let marked = text(e.get("adminDescription")) == [f.marker.to_ascii_lowercase()];
    let anchored = !e.get("msDS-CloudAnchor").is_empty();
    device && anchored && (marked || f.take_over)
}

#[cfg(test)]
mod tests;

//! The fence of a saved plan's origin: what the script that made it may change,
//! checked again when the file is applied, so a plan edited by hand cannot reach
//! outside it. A sync plan may only create, modify or delete `msDS-Device`
//! objects directly under its device container, write only the attributes a
//! sync manages, and modify or delete only objects dwb owns (its marker, or an
//! anchored device object when the plan was made with `take_over`).

use serde_json::Value;

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

fn refused(msg: String) -> Error {
    Error::new(Kind::InvalidArgument, format!("{msg}; nothing was applied"))
        .with_hint("a saved plan applies only changes its origin script could make: save it again")
}

/// The fence of a plan made by `script` with `parameters` in the domain
/// `naming_context`; `None` for origins without one here.
pub fn of(
    script: &str,
    parameters: &serde_json::Map<String, Value>,
    naming_context: Option<&str>,
) -> Result<Option<SyncFence>> {
    if script != SYNC_SCRIPT {
        return Ok(None);
    }
    let nc = Dn::parse(naming_context.unwrap_or_default())?;
    let param = |k: &str| parameters.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let container = match param("container") {
        Some(c) => Dn::parse(c)?,
        None => nc.child("CN", "RegisteredDevices")?,
    };
    if !container.is_within(&nc) {
        return Err(refused(format!("the sync plan's container {container} is outside {nc}")));
    }
    let take_over = parameters.get("take_over").is_some_and(|v| {
        v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
    });
    let marker = param("marker").unwrap_or(DEFAULT_MARKER).to_string();
    Ok(Some(SyncFence { container, marker, take_over }))
}

fn managed(attr: &str) -> bool {
    attr.eq_ignore_ascii_case("adminDescription")
        || MANAGED.iter().any(|m| m.eq_ignore_ascii_case(attr))
}

fn text(values: &[Vec<u8>]) -> Vec<String> {
    values.iter().map(|v| String::from_utf8_lossy(v).to_ascii_lowercase()).collect()
}

/// Every change of `plan` checked against the fence, without the directory.
pub fn check(plan: &Plan, f: &SyncFence) -> Result<()> {
    for c in &plan.changes {
        let at = |what: String| refused(format!("change {} ({}): {what}", c.id, c.op.verb()));
        let ChangeOp::Directory(op) = &c.op else {
            return Err(at("a sync plan holds only directory writes of device objects".into()));
        };
        let dn = op.dn();
        if dn.parent().as_ref() != Some(&f.container) {
            return Err(at(format!("{dn} is not directly under {}", f.container)));
        }
        match op {
            WriteOp::Add { attrs, .. } => {
                for a in attrs {
                    if a.name.eq_ignore_ascii_case("objectClass") {
                        if text(&a.values) != ["msds-device"] {
                            return Err(at("a sync creates only msDS-Device objects".into()));
                        }
                    } else if !managed(&a.name) {
                        return Err(at(format!("a sync does not write {}", a.name)));
                    }
                }
                let marked = attrs.iter().any(|a| {
                    a.name.eq_ignore_ascii_case("adminDescription")
                        && text(&a.values) == [f.marker.to_ascii_lowercase()]
                });
                if !marked || !attrs.iter().any(|a| a.name.eq_ignore_ascii_case("objectClass")) {
                    return Err(at("a sync's create carries its class and dwb's marker".into()));
                }
            }
            WriteOp::Modify { mods, sd_flags, .. } => {
                if sd_flags.is_some() {
                    return Err(at("a sync does not change security descriptors".into()));
                }
                for m in mods {
                    if !managed(&m.attr) {
                        return Err(at(format!("a sync does not write {}", m.attr)));
                    }
                    if m.attr.eq_ignore_ascii_case("adminDescription")
                        && text(&m.values) != [f.marker.to_ascii_lowercase()]
                    {
                        return Err(at("a sync sets adminDescription only to its marker".into()));
                    }
                }
            }
            WriteOp::Delete { .. } => {}
        }
    }
    Ok(())
}

/// The objects a sync plan modifies or deletes, read once: each must be a
/// device object dwb owns (or, with `take_over`, one with a cloud anchor). An
/// object already gone passes (its change is refused or done when applied).
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
                "{dn} is not a device object dwb owns (marker `{}`); a sync plan changes no other",
                f.marker
            )));
        }
    }
    Ok(())
}

/// The deletion guards of a sync, evaluated again on the plan's own deletes
/// (the thresholds its `parameters` name, else the defaults): the refusals the
/// file lists can only add to these, never remove them.
pub fn guards(
    plan: &Plan,
    f: &SyncFence,
    parameters: &serde_json::Map<String, Value>,
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
        hint: "checked again when the saved plan was applied; plan again with the threshold \
               raised (--param) if the deletions are intended"
            .into(),
        changes: deleting.clone(),
    };
    let mut out = Vec::new();
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

/// The undo of a sync run stays inside a sync's fence: device objects directly
/// under one container, the attributes a sync manages (and those a deleted
/// device object is re-created with), modifies and deletes only of anchored
/// device objects. A forged journal cannot make undo write anywhere else.
pub fn check_undo(plan: &Plan, dir: &dyn Directory) -> Result<()> {
    let Some(first) = plan.changes.iter().find_map(|c| c.op.write_op()) else { return Ok(()) };
    let Some(container) = first.dn().parent() else {
        return Err(refused(format!("{} has no parent", first.dn())));
    };
    let f = SyncFence { container, marker: DEFAULT_MARKER.into(), take_over: true };
    for c in &plan.changes {
        let at = |what: String| refused(format!("undo change {} ({}): {what}", c.id, c.op.verb()));
        let ChangeOp::Directory(op) = &c.op else {
            return Err(at("the undo of a sync holds only directory writes".into()));
        };
        if op.dn().parent().as_ref() != Some(&f.container) {
            return Err(at(format!("{} is not directly under {}", op.dn(), f.container)));
        }
        match op {
            WriteOp::Add { attrs, .. } => {
                let class = attrs.iter().find(|a| a.name.eq_ignore_ascii_case("objectClass"));
                if !class.is_some_and(|a| text(&a.values).contains(&"msds-device".to_string())) {
                    return Err(
                        at("the undo of a sync re-creates only msDS-Device objects".into()),
                    );
                }
                if attrs.iter().any(|a| a.name.eq_ignore_ascii_case("nTSecurityDescriptor")) {
                    return Err(at("the undo of a sync writes no security descriptor".into()));
                }
            }
            WriteOp::Modify { mods, sd_flags, .. } => {
                if sd_flags.is_some() || mods.iter().any(|m| !managed(&m.attr)) {
                    return Err(at("the undo of a sync restores only what a sync writes".into()));
                }
            }
            WriteOp::Delete { .. } => {}
        }
    }
    check_owned(plan, &f, dir)
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::plan::saved;

    const NC: &str = "DC=contoso,DC=test";
    const CONTAINER: &str = "CN=RegisteredDevices,DC=contoso,DC=test";

    fn b64(s: &str) -> String {
        B64.encode(s)
    }

    /// A valid saved sync plan: a create, a modify and a delete of device objects.
    fn valid() -> Value {
        let dev = |n: &str| format!("CN={n},{CONTAINER}");
        json!({
            "format": "dwb.plan/1", "script": SYNC_SCRIPT, "run_id": "R", "created": "t",
            "parameters": {}, "directory": "ldaps://dc", "naming_context": NC,
            "refusals": [], "omitted": [],
            "changes": [
                { "id": 1, "action": "create", "dn": dev("a"), "reason": "r", "device": "a",
                  "attributes": { "objectClass": [b64("msDS-Device")],
                                  "displayName": [b64("A")],
                                  "adminDescription": [b64(DEFAULT_MARKER)] },
                  "expect": { "absent": true } },
                { "id": 2, "action": "modify", "dn": dev("b"), "reason": "r", "device": "b",
                  "sd_flags": null,
                  "modifications": [{ "op": "replace", "attribute": "displayName",
                                      "values": [b64("B")] }],
                  "expect": { "values": { "displayName": [b64("old")] } } },
                { "id": 3, "action": "delete", "dn": dev("c"), "reason": "r", "device": "c",
                  "expect": { "values": {} } },
            ],
        })
    }

    /// One edit a forger might make to a change.
    fn mutation() -> impl Strategy<Value = (usize, u8, usize)> {
        (0..3usize, 0..8u8, 0..6usize)
    }

    const DNS: &[&str] = &[
        "CN=Administrator,CN=Users,DC=contoso,DC=test",
        "DC=contoso,DC=test",
        "CN=x,CN=a,CN=RegisteredDevices,DC=contoso,DC=test",
        "CN=RegisteredDevices,DC=contoso,DC=test",
        "CN=ok,CN=RegisteredDevices,DC=contoso,DC=test",
        "CN=Domain Admins,CN=Users,DC=contoso,DC=test",
    ];
    const ATTRS: &[&str] = &[
        "description",
        "nTSecurityDescriptor",
        "member",
        "displayName",
        "objectClass",
        "adminDescription",
    ];
    const CLASSES: &[&str] = &["user", "msDS-Device", "group", "container", "", "computer"];

    fn mutate(doc: &mut Value, (i, kind, pick): (usize, u8, usize)) {
        let c = &mut doc["changes"][i];
        match kind {
            0 => c["dn"] = DNS[pick].into(),
            1 => {
                c["action"] = ["create", "modify", "delete", "acl", "setting", "http"][pick].into()
            }
            2 => {
                c["modifications"] = json!([{ "op": "replace", "attribute": ATTRS[pick],
                                              "values": [b64("x")] }])
            }
            3 => c["attributes"][ATTRS[pick]] = json!([b64(CLASSES[pick])]),
            4 => c["attributes"]["objectClass"] = json!([b64(CLASSES[pick])]),
            5 => c["sd_flags"] = json!(4),
            6 => doc["parameters"]["container"] = DNS[pick].into(),
            _ => drop(c.as_object_mut().map(|o| {
                o.remove(["expect", "dn", "attributes", "modifications", "action", "id"][pick])
            })),
        }
    }

    /// What the fence promises, stated on its own: every change a directory
    /// write of a device object directly under a container inside the domain,
    /// writing only what a sync manages.
    fn inside(plan: &Plan, container: &Dn) -> bool {
        let nc = Dn::parse(NC).unwrap();
        container.is_within(&nc)
            && plan.changes.iter().all(|c| match &c.op {
                ChangeOp::Directory(op) => {
                    op.dn().parent().as_ref() == Some(container)
                        && match op {
                            WriteOp::Add { attrs, .. } => attrs.iter().all(|a| {
                                managed(&a.name)
                                    || (a.name.eq_ignore_ascii_case("objectClass")
                                        && text(&a.values) == ["msds-device"])
                            }),
                            WriteOp::Modify { mods, sd_flags, .. } => {
                                sd_flags.is_none() && mods.iter().all(|m| managed(&m.attr))
                            }
                            WriteOp::Delete { .. } => true,
                        }
                }
                _ => false,
            })
    }

    #[test]
    fn the_valid_plan_passes_and_a_step_outside_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.json");
        let mut doc = valid();
        doc["digest"] = saved::digest_of(&doc).into();
        std::fs::write(&path, doc.to_string()).unwrap();
        let s = saved::load(&path).unwrap();
        let f = of(&s.script, &s.parameters, s.naming_context.as_deref()).unwrap().unwrap();
        check(&s.plan, &f).unwrap();
        assert!(inside(&s.plan, &f.container));
        mutate(&mut doc, (1, 0, 0));
        doc["digest"] = saved::digest_of(&doc).into();
        std::fs::write(&path, doc.to_string()).unwrap();
        let s = saved::load(&path).unwrap();
        assert!(check(&s.plan, &f).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Random edits of a valid sync plan (its digest recomputed, as a forger
        /// would): whatever the reader accepts and the fence lets through stays
        /// inside the fence.
        #[test]
        fn mutated_plans_never_pass_outside_the_fence(edits in prop::collection::vec(mutation(), 1..4)) {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("p.json");
            let mut doc = valid();
            for e in edits {
                mutate(&mut doc, e);
            }
            doc["digest"] = saved::digest_of(&doc).into();
            std::fs::write(&path, doc.to_string()).unwrap();
            let Ok(s) = saved::load(&path) else { return Ok(()) };
            s.verify(&path, None).unwrap();
            let Ok(Some(f)) = of(&s.script, &s.parameters, s.naming_context.as_deref()) else {
                return Ok(());
            };
            if check(&s.plan, &f).is_ok() {
                prop_assert!(inside(&s.plan, &f.container), "{doc:#}");
            }
        }
    }
}

//! The fence checked on valid and randomly mutated saved plans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::plan::saved;

const NC: &str = "DC=contoso,DC=test";
const CONTAINER: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
const CONFIG: &str = "CN=Configuration,DC=contoso,DC=test";
const DRC: &str =
    "CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test";
const SCRIPTS: &[&str] = &[
    SYNC_SCRIPT,
    "<embedded>/scripts/prepare.rhai",
    "<embedded>/scripts/retire.rhai",
    "<embedded>/scripts/adopt.rhai",
    "<embedded>/scripts/enable.rhai",
    "custom.rhai",
];

/// The fence of a loaded plan in the test forest.
fn fence_of(s: &saved::Saved) -> Result<Fence> {
    let config = Dn::parse(CONFIG).unwrap();
    of(&s.script, &s.parameters, s.naming_context.as_deref(), &config, None)
}

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

/// A valid saved prepare plan: the registration configuration created and
/// the connector's rights granted on it.
fn valid_prepare() -> Value {
    let grant = {
        let ace = crate::directory::security::Ace::new(
            crate::directory::security::AceType::AccessAllowed,
            crate::directory::security::ace_flags::CONTAINER_INHERIT,
            0x200BC,
            "S-1-5-21-1-2-3-1103".parse::<crate::directory::Sid>().unwrap(),
        );
        let mut acl = crate::directory::security::Acl::new();
        acl.grant(ace);
        let mut sd = crate::directory::security::SecurityDescriptor::new();
        sd.set_dacl(Some(acl));
        B64.encode(sd.to_bytes().unwrap())
    };
    json!({
        "format": "dwb.plan/1", "script": "<embedded>/scripts/prepare.rhai", "run_id": "R",
        "created": "t", "parameters": { "connector_account": "CONTOSO\\svc" },
        "directory": "ldaps://dc", "naming_context": NC, "refusals": [], "omitted": [],
        "changes": [
            { "id": 1, "action": "create", "dn": DRC, "reason": "r", "device": null,
              "attributes": { "objectClass": [b64("container")] }, "expect": { "absent": true } },
            { "id": 2, "action": "create", "dn": CONTAINER, "reason": "r", "device": null,
              "attributes": { "objectClass": [b64("msDS-DeviceContainer")] },
              "expect": { "absent": true } },
            { "id": 3, "action": "acl", "dn": DRC, "reason": "r", "device": null,
              "edits": [{ "grant": grant }], "expected": null },
        ],
    })
}

/// One edit a forger might make to a change.
fn mutation() -> impl Strategy<Value = (usize, u8, usize)> {
    (0..3usize, 0..11u8, 0..6usize)
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
        1 => c["action"] = ["create", "modify", "delete", "acl", "setting", "http"][pick].into(),
        2 => {
            c["modifications"] = json!([{ "op": "replace", "attribute": ATTRS[pick],
                                          "values": [b64("x")] }])
        }
        3 => c["attributes"][ATTRS[pick]] = json!([b64(CLASSES[pick])]),
        4 => c["attributes"]["objectClass"] = json!([b64(CLASSES[pick])]),
        5 => c["sd_flags"] = json!(4),
        6 => doc["parameters"]["container"] = DNS[pick].into(),
        7 => doc["script"] = SCRIPTS[pick].into(),
        8 => {
            doc["parameters"][["prepare", "take_over", "domain", "marker", "handback", "x"][pick]] =
                [json!("true"), json!(true), json!("evil.test"), json!(""), json!("true"), json!(1)]
                    [pick]
                    .clone()
        }
        9 => {
            c["action"] = "acl".into();
            c["edits"] = json!([{ ["grant", "revoke"][pick % 2]: valid_prepare()["changes"][2]["edits"][0]["grant"] }]);
        }
        _ => drop(c.as_object_mut().map(|o| {
            o.remove(["expect", "dn", "attributes", "modifications", "action", "id"][pick])
        })),
    }
}

/// The objects dwb's scripts write, stated on their own: the device
/// container, the objects directly under it, and the registration objects
/// under the DRC.
fn territory(dn: &Dn) -> bool {
    let container = Dn::parse(CONTAINER).unwrap();
    let drc = Dn::parse(DRC).unwrap();
    *dn == container || dn.is_child_of(&container) || dn.is_within(&drc)
}

/// What every origin's fence promises, stated on its own: writes only in
/// dwb's territory; prepare and adopt delete nothing; prepare only grants,
/// retire only revokes; enable writes no device objects; verify nothing.
fn inside_origin(plan: &Plan, origin: Origin) -> bool {
    plan.changes.iter().all(|c| {
        let in_territory = c.op.write_dn().is_none_or(territory);
        let deletes = matches!(c.op, ChangeOp::Directory(WriteOp::Delete { .. }));
        let edits = match &c.op {
            ChangeOp::Acl { edits, .. } => edits.clone(),
            _ => Vec::new(),
        };
        let grants = edits.iter().any(|e| matches!(e, crate::plan::acl::AclEdit::Grant(_)));
        let revokes = edits.iter().any(|e| matches!(e, crate::plan::acl::AclEdit::Revoke(_)));
        let on_devices =
            c.op.write_dn().is_some_and(|dn| dn.is_child_of(&Dn::parse(CONTAINER).unwrap()));
        in_territory
            && match origin {
                Origin::Prepare => !deletes && !revokes && !on_devices,
                Origin::Adopt => !deletes && edits.is_empty(),
                Origin::Retire => {
                    !grants && !matches!(c.op, ChangeOp::Directory(WriteOp::Add { .. }))
                }
                Origin::Enable => !on_devices && edits.is_empty() && !deletes,
                Origin::Verify => false,
                Origin::Sync | Origin::Other => true,
            }
    })
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
    let f = fence_of(&s).unwrap();
    check(&s.plan, &f).unwrap();
    assert!(inside(&s.plan, &f.sync.container));
    mutate(&mut doc, (1, 0, 0));
    doc["digest"] = saved::digest_of(&doc).into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let s = saved::load(&path).unwrap();
    assert!(check(&s.plan, &f).is_err());
}

#[test]
fn a_prepare_plan_passes_and_a_step_outside_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.json");
    let write = |doc: &mut Value| {
        doc["digest"] = saved::digest_of(doc).into();
        std::fs::write(&path, doc.to_string()).unwrap();
        saved::load(&path).unwrap()
    };
    let s = write(&mut valid_prepare());
    check(&s.plan, &fence_of(&s).unwrap()).unwrap();
    let (prepare, custom) = ("<embedded>/scripts/prepare.rhai", "custom.rhai");
    let admin = json!("CN=Administrator,CN=Users,DC=contoso,DC=test");
    let elsewhere = json!(format!("CN=evil,{DRC}"));
    // prepare deletes nothing; no origin reaches Administrator or creates
    // where prepare does not.
    for (script, field, value) in [
        (prepare, "dn", admin.clone()),
        (custom, "dn", admin),
        (custom, "dn", elsewhere),
        (prepare, "action", json!("delete")),
    ] {
        let mut doc = valid_prepare();
        doc["script"] = script.into();
        doc["changes"][0][field] = value.clone();
        let s = write(&mut doc);
        let f = fence_of(&s).unwrap();
        assert!(check(&s.plan, &f).is_err(), "{script} {field}");
    }
    // A grant to everyone, or of the right to change the DACL, is not prepare's.
    for (sid, mask) in [("S-1-1-0", 0x10), ("S-1-5-21-1-2-3-1103", 0x40000)] {
        let mut doc = valid_prepare();
        let ace = crate::directory::security::Ace::new(
            crate::directory::security::AceType::AccessAllowed,
            0,
            mask,
            sid.parse::<crate::directory::Sid>().unwrap(),
        );
        assert!(!grantable(&ace));
        let mut acl = crate::directory::security::Acl::new();
        acl.grant(ace);
        let mut sd = crate::directory::security::SecurityDescriptor::new();
        sd.set_dacl(Some(acl));
        doc["changes"][2]["edits"] = json!([{ "grant": B64.encode(sd.to_bytes().unwrap()) }]);
        let s = write(&mut doc);
        assert!(check(&s.plan, &fence_of(&s).unwrap()).is_err(), "{sid}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Random edits of a valid sync or prepare plan, its script and its
    /// parameters (its digest recomputed, as a forger would): whatever the
    /// reader accepts and the fence lets through stays inside the fence of the
    /// origin the file names.
    #[test]
    fn mutated_plans_never_pass_outside_the_fence(
        prepare in any::<bool>(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.json");
        let mut doc = if prepare { valid_prepare() } else { valid() };
        for e in edits {
            mutate(&mut doc, e);
        }
        doc["digest"] = saved::digest_of(&doc).into();
        std::fs::write(&path, doc.to_string()).unwrap();
        let Ok(s) = saved::load(&path) else { return Ok(()) };
        s.verify(&path, None).unwrap();
        let Ok(f) = fence_of(&s) else { return Ok(()) };
        if check(&s.plan, &f).is_ok() {
            prop_assert!(inside_origin(&s.plan, f.origin), "{doc:#}");
            if f.origin == Origin::Sync {
                prop_assert!(inside(&s.plan, &f.sync.container), "{doc:#}");
            }
        }
    }
}

/// The undo of a (forged) retire run cannot make a registration service it
/// re-creates point the device objects' home anywhere but at a device
/// container: device objects re-created under CN=Users are refused, under a
/// device container the plan re-creates they pass.
#[test]
fn an_undo_keeps_device_objects_in_a_device_container() {
    use crate::ad::snapshot::SnapshotDirectory;
    use crate::directory::Attr;
    let dir = SnapshotDirectory::from_ldif(
        include_str!("../../../examples/contoso/directory.ldif"),
        "demo",
    )
    .unwrap();
    let config = Dn::parse(CONFIG).unwrap();
    let places = Places::new(&config, Dn::parse(CONTAINER).unwrap()).unwrap();
    fn add(dn: &str, attrs: Vec<(&str, &str)>) -> ChangeOp {
        let attrs = attrs
            .into_iter()
            .map(|(n, v)| Attr { name: n.to_string().into(), values: vec![v.as_bytes().to_vec()] })
            .collect();
        ChangeOp::Directory(WriteOp::Add { dn: Dn::parse(dn).unwrap(), attrs })
    }
    let undo_of = |home: &str, recreate_home: bool| {
        let mut plan = Plan::default();
        if recreate_home {
            plan.push(add(home, vec![("objectClass", "msDS-DeviceContainer")]), None);
        }
        let drs = places.drs.to_string();
        let class = ("objectClass", "msDS-DeviceRegistrationService");
        plan.push(add(&drs, vec![class, ("msDS-DeviceLocation", home)]), None);
        let device = format!("CN=d,{home}");
        plan.push(add(&device, vec![("objectClass", "msDS-Device")]), None);
        let retire = "<embedded>/scripts/retire.rhai";
        check_undo(&plan, retire, (&config, Dn::parse(CONTAINER).unwrap()), &dir)
    };
    assert!(undo_of("CN=Users,DC=contoso,DC=test", false).is_err());
    undo_of("CN=Devices2,DC=contoso,DC=test", true).unwrap();
}

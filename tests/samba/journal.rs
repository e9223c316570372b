//! `dwb explain`, the journal, `dwb undo` and saved plans (`--save-plan
//! FILE.json` + `dwb apply`), black box: the real dwb binary against a fresh
//! Samba AD DC and the Graph emulator, results read back with `ldapsearch`.
//!
//! - explain: an in-scope device (create, then none, then update with the
//!   attribute side by side), a device without a type-2 key (the reason names
//!   it), one the site's `in_scope` rejects, by DN and by name, several matches
//!   (listed, exit 3) and an unknown one (exit 3);
//! - undo of a sync that renamed, deleted and created devices leaves the
//!   container's values as before it; an object edited since is left alone (exit 4);
//! - a saved plan applied after review equals a direct run; an object edited in
//!   AD meanwhile keeps its edit (exit 4), the other changes apply;
//! - SIGKILL mid-apply: every object the DC created has its journal line.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::Value;

use super::sync::{
    CONTAINER, Lab, Obj, assert_converged, by_dn, new_device, plan, settle, tenant, wait_for,
    with_action,
};

/// Attributes the DC maintains: they differ for a re-created object.
const DC_OWNED: &[&str] = &[
    "objectguid",
    "usnchanged",
    "usncreated",
    "whencreated",
    "whenchanged",
    "dscorepropagationdata",
    "instancetype",
    "objectcategory",
    "name",
    "distinguishedname",
];

/// The container's objects as DN → attribute values, without what the DC maintains.
fn values(lab: &Lab) -> BTreeMap<String, BTreeMap<String, Vec<Vec<u8>>>> {
    lab.objects()
        .into_iter()
        .map(|o: Obj| {
            let mut attrs = o.attrs.clone();
            attrs.retain(|k, _| !DC_OWNED.contains(&k.as_str()));
            for v in attrs.values_mut() {
                v.sort();
            }
            (o.dn.to_ascii_lowercase(), attrs)
        })
        .collect()
}

fn explain(lab: &Lab, what: &str) -> Value {
    let out = lab.run(&["explain", what, "--format", "json"]);
    out.code(0);
    out.json()
}

fn attr<'a>(x: &'a Value, name: &str) -> &'a Value {
    x["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {x:#}"))
}

/// `displayName` of `dn` set by hand, as another administrator would (ldapmodify).
fn edit_by_hand(lab: &Lab, dn: &str, name: &str) {
    lab.dc.ldap_cli(
        "ldapmodify",
        &format!("dn: {dn}\nchangetype: modify\nreplace: displayName\ndisplayName: {name}\n-\n"),
    );
}

fn display_name(lab: &Lab, dn: &str) -> String {
    let objs = by_dn(lab.objects());
    objs[&dn.to_ascii_lowercase()].text("displayName").unwrap()
}

#[test]
fn explain_says_why_a_device_is_or_is_not_in_ad() {
    let lab = Lab::start("explain", tenant(12, 5));
    let (dev, id) = new_device(1, "EXPLAIN-ME");
    let device_id = dev["deviceId"].as_str().unwrap().to_string();
    let (mut nokey, nokey_id) = new_device(2, "NO-KEY");
    nokey["alternativeSecurityIds"] = serde_json::json!([]);
    let (twin_a, twin_a_id) = new_device(3, "TWIN");
    let (twin_b, twin_b_id) = new_device(4, "TWIN");
    lab.emu.with_state(|s| {
        for d in [dev, nokey, twin_a, twin_b] {
            s.add_device(d).unwrap();
        }
    });
    let dn = format!("CN={device_id},{CONTAINER}");

    let x = explain(&lab, &device_id);
    assert_eq!((x["action"].as_str(), x["in_scope"].as_bool()), (Some("create"), Some(true)));
    assert_eq!(x["dn"], dn.as_str(), "{x:#}");
    assert!(x["reason"].as_str().unwrap().contains("no `in_scope` hook"), "{x:#}");
    assert_eq!(attr(&x, "displayName")["entra"][0], "EXPLAIN-ME");
    assert_eq!(attr(&x, "displayName")["ad"], Value::Null);
    assert_eq!(attr(&x, "displayName")["action"], "set");

    let x = explain(&lab, &nokey_id);
    assert_eq!((x["action"].as_str(), x["in_scope"].as_bool()), (Some("skip"), Some(false)));
    assert!(x["reason"].as_str().unwrap().contains("no type-2 (X509) alternativeSecurityIds key"));

    lab.sync(&[]).0.code(0);
    let x = explain(&lab, &id);
    assert_eq!(x["action"], "none", "{x:#}");
    assert!(x["ownership"].as_str().unwrap().starts_with("dwb's"), "{x:#}");
    // By DN and by display name: the same device.
    assert_eq!(explain(&lab, &dn)["device"]["id"], id.as_str());
    assert_eq!(explain(&lab, "EXPLAIN-ME")["device"]["id"], id.as_str());

    lab.emu.with_state(|s| s.rename_device(&id, "EXPLAIN-RENAMED").unwrap());
    let x = explain(&lab, &id);
    assert_eq!(x["action"], "update", "{x:#}");
    let a = attr(&x, "displayName");
    assert_eq!(
        (a["entra"][0].as_str(), a["ad"][0].as_str()),
        (Some("EXPLAIN-RENAMED"), Some("EXPLAIN-ME"))
    );
    assert_eq!(a["action"], "set");
    assert_eq!(attr(&x, "msDS-DeviceID")["action"], "none");
    let text = lab.run(&["explain", &id]);
    text.code(0).stdout_has("displayName").stdout_has("Next sync:    update");

    // The site's in_scope hook: out of scope, and dwb owns the object: the next sync deletes it.
    lab.dir.write(
        "stdlib/site.rhai",
        "fn in_scope(device) { device.displayName != \"EXPLAIN-RENAMED\" }\n",
    );
    let x = explain(&lab, &id);
    assert_eq!((x["action"].as_str(), x["in_scope"].as_bool()), (Some("delete"), Some(false)));
    assert!(x["reason"].as_str().unwrap().contains("`in_scope(device)`"), "{x:#}");
    assert!(x["reason"].as_str().unwrap().contains("returned false"), "{x:#}");
    std::fs::remove_file(lab.dir.join("stdlib/site.rhai")).unwrap();

    // Several matches: listed, exit 3. Unknown: exit 3.
    let out = lab.run(&["explain", "TWIN"]);
    out.code(3).stderr_has(&twin_a_id).stderr_has(&twin_b_id).stderr_has("matches 2 devices");
    let unknown = uuid::Uuid::new_v4().to_string();
    lab.run(&["explain", &unknown]).code(3).stderr_has("no device");
}

/// Renames, deletes and creates between two syncs; returns (renamed id, its DN).
fn change_tenant(lab: &Lab) -> (String, String) {
    let devs = lab.in_scope();
    let renamed = devs[0].clone();
    lab.emu.with_state(|s| {
        s.rename_device(&devs[0].id, "RENAMED-0").unwrap();
        s.rename_device(&devs[1].id, "RENAMED-1").unwrap();
        s.delete_device(&devs[2].id).unwrap();
        s.delete_device(&devs[3].id).unwrap();
        s.add_device(new_device(50, "NEW-50").0).unwrap();
        s.add_device(new_device(51, "NEW-51").0).unwrap();
    });
    (renamed.id.clone(), renamed.dn())
}

/// `dwb run sync --dry-run`: the JSON report.
fn dry_sync(lab: &Lab) -> Value {
    let out = lab.run(&["run", "sync", "--dry-run", "--format", "json"]);
    out.code(0);
    out.json()
}

fn counts(report: &Value) -> (usize, usize, usize) {
    (
        with_action(report, "create").len(),
        with_action(report, "modify").len(),
        with_action(report, "delete").len(),
    )
}

#[test]
fn undo_restores_the_container_and_leaves_edited_objects_alone() {
    let lab = Lab::start("undo", tenant(20, 21));
    lab.initial_sync();
    let before = values(&lab);
    change_tenant(&lab);
    let (out, run) = lab.sync(&[]);
    out.code(0);
    assert_eq!(counts(&run), (2, 2, 2), "{run:#}");
    let run_id = run["run_id"].as_str().unwrap().to_string();
    assert_ne!(values(&lab), before);

    // The journal lists the run; a dry run of the undo changes nothing.
    lab.run(&["journal"]).code(0).stdout_has(&run_id);
    let shown = lab.run(&["journal", &run_id, "--format", "json"]);
    let shown = shown.code(0).json();
    assert_eq!(shown["applied"], 6, "{shown:#}");
    let after_sync = values(&lab);
    let dry = lab.run(&["undo", &run_id, "--dry-run", "--format", "json"]);
    let dry = dry.code(0).json();
    assert_eq!(counts(&dry), (2, 2, 2), "delete the created, restore, re-create: {dry:#}");
    assert_eq!(values(&lab), after_sync, "a dry run changed the container");

    let undo = lab.run(&["undo", &run_id, "--format", "json"]);
    let undo = undo.code(0).json();
    assert!(undo["run_id"].as_str().is_some_and(|r| r != run_id), "{undo:#}");
    assert_eq!(values(&lab), before, "undo leaves the container's values as before the run");

    // A second run renames two devices; one of them is edited by hand afterwards.
    lab.sync(&[]).0.code(0);
    let [(_, edited), (_, other)] = rename_two(&lab);
    let (out, run2) = lab.sync(&[]);
    out.code(0);
    let run2_id = run2["run_id"].as_str().unwrap().to_string();
    edit_by_hand(&lab, &edited, "EDITED-BY-HAND");
    let undo = lab.run(&["undo", &run2_id, "--yes", "--format", "json"]);
    undo.code(4);
    let undo = undo.json();
    assert_eq!(display_name(&lab, &edited), "EDITED-BY-HAND", "the edit was overwritten");
    assert!(!display_name(&lab, &other).starts_with("AGAIN-"), "the other object was not undone");
    let conflicts = undo["data"]["undo"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{undo:#}");
    assert!(conflicts[0].as_str().unwrap().contains("displayName is EDITED-BY-HAND"), "{undo:#}");
    assert_eq!(with_action(&undo, "modify").len(), 1, "only the other object is restored");
    assert_eq!(undo["status"], "changes_failed", "{undo:#}");
}

/// Renames two devices in the tenant (not renamed before); returns their ids and DNs.
fn rename_two(lab: &Lab) -> [(String, String); 2] {
    let devs: Vec<_> = lab
        .in_scope()
        .into_iter()
        .filter(|d| !d.name.starts_with("RENAMED") && !d.name.starts_with("AGAIN"))
        .take(2)
        .collect();
    lab.emu.with_state(|s| {
        for (i, d) in devs.iter().enumerate() {
            s.rename_device(&d.id, &format!("AGAIN-{i}")).unwrap();
        }
    });
    [(devs[0].id.clone(), devs[0].dn()), (devs[1].id.clone(), devs[1].dn())]
}

#[test]
fn a_saved_plan_applies_exactly_and_never_overwrites_an_edit() {
    let lab = Lab::start("saved_plan", tenant(20, 31));
    lab.initial_sync();
    change_tenant(&lab);
    let before = values(&lab);
    let dry = dry_sync(&lab);
    let args = ["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"];
    lab.run(&args).code(0);
    let saved: Value = serde_json::from_str(&lab.dir.read("plan.json")).unwrap();
    assert_eq!(saved["format"], "dwb.plan/1");
    assert_eq!(saved["naming_context"], "DC=contoso,DC=test");
    let changes = saved["changes"].as_array().unwrap();
    assert_eq!(changes.len(), plan(&dry).len());
    let m = changes.iter().find(|c| c["action"] == "modify").unwrap();
    assert!(m["expect"]["values"]["displayName"].is_array(), "{m:#}");
    assert_eq!(values(&lab), before, "saving a plan changed nothing");

    // The Graph tenant moves on; the saved plan does not run the script again.
    lab.emu.with_state(|s| s.add_device(new_device(60, "AFTER-REVIEW").0).unwrap());
    let dry_apply = lab.run(&["apply", "plan.json", "--dry-run", "--format", "json"]);
    dry_apply.code(0);
    assert_eq!(values(&lab), before);
    let applied = lab.run(&["apply", "plan.json", "--format", "json"]);
    let applied = applied.code(0).json();
    assert_eq!(counts(&applied), counts(&dry), "change for change: {applied:#}");
    assert!(applied["run_id"].is_string());
    // What a direct run would have done: a sync now has only the new device to create.
    let after = dry_sync(&lab);
    assert_eq!(counts(&after), (1, 0, 0), "{after:#}");
    lab.sync(&[]).0.code(0);
    assert_converged(&lab);

    // A second plan; meanwhile an administrator edits one of its objects.
    let [(_, edited), (_, other)] = rename_two(&lab);
    lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan2.json", "-q"]).code(0);
    edit_by_hand(&lab, &edited, "EDITED-BY-HAND");
    let dry = lab.run(&["apply", "plan2.json", "--dry-run"]);
    dry.code(4).stderr_has("would be refused").stderr_has("EDITED-BY-HAND");
    let out = lab.run(&["apply", "plan2.json", "--format", "json"]);
    out.code(4);
    let r = out.json();
    assert_eq!(display_name(&lab, &edited), "EDITED-BY-HAND", "the edit was overwritten");
    assert_eq!(display_name(&lab, &other), "AGAIN-1", "the other change applied");
    let refused: Vec<Value> =
        plan(&r).into_iter().filter(|c| c["outcome"]["status"] == "failed").collect();
    assert_eq!(refused.len(), 1, "{r:#}");
    let why = refused[0]["outcome"]["message"].as_str().unwrap();
    assert!(why.contains("changed: displayName is EDITED-BY-HAND"), "{r:#}");

    // Another domain's plan is refused outright.
    let mut other = saved.clone();
    other["naming_context"] = "DC=fabrikam,DC=test".into();
    lab.dir.write("other.json", &other.to_string());
    lab.run(&["apply", "other.json", "--yes"]).code(3).stderr_has("DC=fabrikam,DC=test");
}

#[test]
fn every_change_the_dc_applied_is_journaled_after_a_sigkill() {
    let lab = Lab::start("journal_sigkill", tenant(400, 83));
    let mut child = lab.spawn_sync(&[]);
    wait_for("the first objects to be created", Duration::from_secs(60), || lab.count() >= 40);
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());
    let partial = settle(&lab);
    assert!(partial < lab.in_scope().len(), "the kill came after the apply finished");
    let journal = lab.dir.read(".local/dwb/journal/default.jsonl");
    let mut journaled: HashMap<String, Value> = HashMap::new();
    for line in journal.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
        if v["type"] == "change" {
            journaled.insert(v["dn"].as_str().unwrap().to_ascii_lowercase(), v);
        }
    }
    let objs = lab.objects();
    assert_eq!(objs.len(), partial);
    for o in &objs {
        let line = journaled
            .get(&o.dn.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{} was created but has no journal line", o.dn));
        assert_eq!(line["action"], "create");
        assert!(line["after"]["displayName"].is_array(), "{line}");
    }
    // The interrupted run can be undone: exactly the objects it created go.
    let runs = lab.run(&["journal", "--format", "json"]);
    let runs = runs.code(0).json();
    let last = runs.as_array().unwrap().last().unwrap();
    assert_eq!(last["script"], "<embedded>/scripts/sync.rhai", "{runs:#}");
    let run_id = last["run_id"].as_str().unwrap().to_string();
    let undo = lab.run(&["undo", &run_id, "--dry-run", "--format", "json"]);
    let undo = undo.code(0).json();
    assert_eq!(with_action(&undo, "delete").len(), partial, "{}", undo["data"]);
}

/// A script's modifies in two naming contexts (the configuration's DRS object and
/// the domain's device container) in one batch: the saved plan's preconditions
/// and the journal's old values are read in each, and the undo restores both.
#[test]
fn a_script_plan_across_naming_contexts_saves_applies_and_undoes() {
    let lab = Lab::start("naming_contexts", tenant(3, 41));
    lab.dir.write(
        "describe.rhai",
        "import \"dwb/names\" as names;\n\
         ad::modify(names::drs_dn(ad::config_dn()), #{ replace: #{ description: \"drs\" } });\n\
         ad::modify(ad::domain_dn().child(\"CN\", \"RegisteredDevices\"),\n\
         \x20   #{ replace: #{ description: \"devices\" } });\n",
    );
    let drs = "CN=DeviceRegistrationService,CN=Device Registration Services,\
               CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test";
    let description = |dn: &str| {
        let out = lab.dc.ldapsearch(&["-b", dn, "-s", "base", "(objectClass=*)", "description"]);
        super::sync::parse_ldif(&out)[0].text("description")
    };
    lab.run(&["run", "describe.rhai", "--dry-run", "--save-plan", "p.json", "-q"]).code(0);
    let saved: Value = serde_json::from_str(&lab.dir.read("p.json")).unwrap();
    for c in saved["changes"].as_array().unwrap() {
        assert_eq!(c["expect"]["values"]["description"], serde_json::json!([]), "{c:#}");
    }
    let applied = lab.run(&["apply", "p.json", "--format", "json"]);
    let applied = applied.code(0).json();
    assert_eq!(
        (description(drs).as_deref(), description(CONTAINER).as_deref()),
        (Some("drs"), Some("devices"))
    );
    let run_id = applied["run_id"].as_str().unwrap();
    lab.run(&["undo", run_id]).code(0);
    assert_eq!((description(drs), description(CONTAINER)), (None, None), "undo restores both");
}

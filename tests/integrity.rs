//! Saved plans bound to their review (issue #20), on the bundled demo: the
//! digest printed when the plan is saved is the file's, `dwb apply` refuses a
//! file whose contents do not match it or the digest the reviewer pinned, and
//! what a change needs to be checked (preconditions, refusals, the naming
//! context, the origin) is required: a file without it is refused, exit 3.

use serde_json::Value;

use crate::support::{DEMO_PREPARE, Dir};

/// A saved prepare plan of the demo: the directory and the file's JSON.
fn saved() -> (Dir, Value, String) {
    let d = Dir::new();
    let args = [DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.json"]].concat();
    let out = d.run(&args);
    out.code(0);
    let plan: Value = serde_json::from_str(&d.read("plan.json")).unwrap();
    let digest = plan["digest"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 64, "{digest}");
    assert!(out.stderr.contains(&format!("digest {digest}")), "{}", out.stderr);
    let json = [DEMO_PREPARE, &["--dry-run", "--save-plan", "again.json", "--format", "json"]];
    let report = d.run(&json.concat());
    let report = report.code(0).json();
    let again: Value = serde_json::from_str(&d.read("again.json")).unwrap();
    assert_eq!(report["data"]["saved_plan"]["digest"], again["digest"], "{report:#}");
    (d, plan, digest)
}

/// `plan` written as `name`, its digest recomputed as a forger would.
fn forged(d: &Dir, name: &str, mut plan: Value) -> String {
    plan["digest"] = dwb::plan::saved::digest_of(&plan).into();
    d.write(name, &plan.to_string()).display().to_string()
}

#[test]
fn a_saved_plan_applies_only_as_reviewed() {
    let (d, plan, digest) = saved();
    let r = d.run(&["apply", "plan.json", "--expect-digest", &digest, "--format", "json"]);
    let r = r.code(0).json();
    assert_eq!(r["parameters"]["digest"], digest.as_str(), "{r:#}");

    // Another file than the one reviewed.
    let wrong = "0".repeat(64);
    let out = d.run(&["apply", "plan.json", "--expect-digest", &wrong]);
    out.code(3).stderr_has("is not the reviewed one");

    // Edited after saving: the contents no longer match the digest.
    let mut edited = plan.clone();
    edited["changes"][0]["dn"] = "CN=Administrator,CN=Users,DC=contoso,DC=test".into();
    d.write("edited.json", &edited.to_string());
    d.run(&["apply", "edited.json", "--yes"]).code(3).stderr_has("do not match its digest");
    // Edited and its digest recomputed: refused when the reviewed digest is pinned.
    let f = forged(&d, "forged.json", edited);
    d.run(&["apply", &f, "--yes", "--expect-digest", &digest])
        .code(3)
        .stderr_has("is not the reviewed one");
}

#[test]
fn what_a_change_is_checked_against_is_required() {
    let (d, plan, _) = saved();
    let without = |key: &str| {
        let mut p = plan.clone();
        p.as_object_mut().unwrap().remove(key);
        p
    };
    for (name, p, why) in [
        ("no-digest.json", without("digest"), "`digest` is missing"),
        ("no-script.json", without("script"), "`script` is missing"),
        ("no-refusals.json", without("refusals"), "`refusals` is missing"),
        ("no-nc.json", without("naming_context"), "`naming_context` is missing"),
    ] {
        let f = match name {
            "no-digest.json" => d.write(name, &p.to_string()).display().to_string(),
            _ => forged(&d, name, p),
        };
        d.run(&["apply", &f, "--yes"]).code(3).stderr_has(why);
    }
    let mut p = plan.clone();
    p["changes"][0].as_object_mut().unwrap().remove("expect");
    let f = forged(&d, "no-expect.json", p);
    d.run(&["apply", &f, "--yes"]).code(3).stderr_has("change 1: `expect` is missing");
    // A refusal with a field removed is not a refusal with that field empty.
    let mut p = plan.clone();
    p["refusals"] = serde_json::json!([{ "guard": "delete_threshold", "message": "m" }]);
    let f = forged(&d, "bad-refusal.json", p);
    d.run(&["apply", &f, "--yes"]).code(3).stderr_has("`refusals`");
}

/// An ACL change shows what it applies: the display is computed from its
/// edits, so a file whose `sddl_after` says a read grant shows the real grant.
#[test]
fn an_acl_change_shows_what_its_edits_apply() {
    let (d, plan, _) = saved();
    let idx = plan["changes"].as_array().unwrap().iter().position(|c| c["action"] == "acl");
    let idx = idx.expect("the demo's prepare plan has an ACL change");
    let mut lie = plan.clone();
    lie["changes"][idx]["sddl_after"] = "D:(A;;RP;;;AU)LIE".into();
    lie["changes"][idx]["sddl_before"] = "D:LIE".into();
    let f = forged(&d, "lie.json", lie);
    let shown = |file: &str| {
        let r = d.run(&["apply", file, "--dry-run", "--format", "json"]);
        let r = r.code(0).json();
        let acl = r["plan"].as_array().unwrap().iter().find(|c| c["action"] == "acl").cloned();
        acl.unwrap()
    };
    let (honest, forged) = (shown("plan.json"), shown(&f));
    assert!(!forged.to_string().contains("LIE"), "{forged:#}");
    assert!(honest["sddl_after"].as_str().unwrap().contains("(A;"), "{honest:#}");
    assert_eq!(forged["sddl_after"], honest["sddl_after"], "{forged:#}");
    assert_eq!(forged["sddl_before"], honest["sddl_before"]);
    let text = d.run(&["apply", &f, "--dry-run"]);
    assert!(!text.stdout.contains("LIE"), "{}", text.stdout);
}

/// A `setting` change writes only the site's own configuration file: a saved
/// plan naming another file is refused and the file is not written.
#[test]
fn a_setting_change_writes_only_the_sites_config_file() {
    let (d, plan, _) = saved();
    let target = d.join("elsewhere.toml");
    let mut p = plan.clone();
    p["changes"].as_array_mut().unwrap().push(serde_json::json!({
        "id": 7, "action": "setting", "reason": "forged", "device": null,
        "file": target.display().to_string(), "profile": "default", "key": "k", "value": "v",
    }));
    let f = forged(&d, "setting.json", p);
    d.run(&["apply", &f, "--yes"]).code(3).stderr_has("not this site's configuration file");
    assert!(!target.exists(), "the file was written");
}

/// Changes no script of dwb's makes: Administrator deleted, a member added to
/// Domain Admins, the domain head's security descriptor replaced.
fn outside_changes() -> Vec<Value> {
    let b64 = |s: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    vec![
        serde_json::json!({ "id": 7, "action": "delete", "reason": "forged", "device": null,
            "dn": "CN=Administrator,CN=Users,DC=contoso,DC=test", "expect": { "values": {} } }),
        serde_json::json!({ "id": 7, "action": "modify", "reason": "forged", "device": null,
            "dn": "CN=Domain Admins,CN=Users,DC=contoso,DC=test", "sd_flags": null,
            "modifications": [{ "op": "add", "attribute": "member",
                "values": [b64(b"CN=Guest,CN=Users,DC=contoso,DC=test")] }],
            "expect": { "values": {} } }),
        serde_json::json!({ "id": 7, "action": "modify", "reason": "forged", "device": null,
            "dn": "DC=contoso,DC=test", "sd_flags": 4,
            "modifications": [{ "op": "replace", "attribute": "nTSecurityDescriptor",
                "values": [b64(b"\x01\x00\x04\x80")] }],
            "expect": { "values": {} } }),
    ]
}

/// A tampered prepare plan (its digest recomputed) is held to prepare's
/// fence: each change outside it is refused, exit 3, and nothing is written.
#[test]
fn a_tampered_prepare_plan_is_refused() {
    let (d, plan, _) = saved();
    for (i, change) in outside_changes().into_iter().enumerate() {
        let mut p = plan.clone();
        p["changes"].as_array_mut().unwrap().push(change);
        let f = forged(&d, &format!("tampered{i}.json"), p);
        let out = d.run(&["apply", &f, "--yes", "--write-snapshot", "after.ldif"]);
        out.code(3).stderr_has("prepare only creates the device registration objects");
        assert!(!d.join("after.ldif").exists(), "a result was written");
    }
}

/// A plan whose origin is not one of dwb's scripts (a site's own, or a forged
/// `script`) may do only what one of dwb's scripts could, unless the change
/// process pinned the digest of exactly this file.
#[test]
fn a_plan_of_another_origin_stays_in_dwbs_territory_unless_pinned() {
    let (d, plan, _) = saved();
    let mut own = plan.clone();
    own["script"] = "custom.rhai".into();
    let f = forged(&d, "own.json", own);
    d.run(&["apply", &f, "--yes"]).code(0);
    let mut p = plan.clone();
    p["script"] = "custom.rhai".into();
    p["changes"].as_array_mut().unwrap().push(outside_changes().remove(0));
    let f = forged(&d, "custom.json", p);
    let out = d.run(&["apply", &f, "--yes"]);
    out.code(3).stderr_has("outside dwb's territory").stderr_has("--expect-digest");
    let digest: Value = serde_json::from_str(&d.read("custom.json")).unwrap();
    let digest = digest["digest"].as_str().unwrap().to_string();
    // On the directory the plan was made for (the demo kept own.json's creates,
    // which the plan's creates would now be refused for: they expect no object).
    d.run(&["demo", "--reset"]).code(0);
    let out = d.run(&["apply", &f, "--dry-run", "--expect-digest", &digest]);
    out.code(0);
}

/// The digest is shown where the plan is reviewed: the text plan's footer of
/// `run --save-plan` and of `apply --dry-run` name the same digest, the
/// file's, and pinning it applies the file.
#[test]
fn the_reviewed_plan_shows_the_digest_that_apply_pins() {
    let d = Dir::new();
    let args = [DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.json"]].concat();
    let out = d.run(&args);
    let footer = |stdout: &str| {
        let line = stdout.lines().find(|l| l.starts_with("Plan: ")).unwrap_or_default();
        line.split_once("saved plan digest ").map(|(_, h)| h.trim().to_string())
    };
    let saved = footer(&out.code(0).stdout).expect("the run's footer names the digest");
    let file: Value = serde_json::from_str(&d.read("plan.json")).unwrap();
    assert_eq!(file["digest"], saved.as_str());
    let dry = d.run(&["apply", "plan.json", "--dry-run"]);
    assert_eq!(footer(&dry.code(0).stdout).as_deref(), Some(saved.as_str()), "{}", dry.stdout);
    let r = d.run(&["apply", "plan.json", "--expect-digest", &saved, "--format", "json"]);
    assert_eq!(r.code(0).json()["parameters"]["digest"], saved.as_str());
}

/// A genuine retire plan (prepare=true) applies through retire's fence; one
/// edited to delete Administrator or to grant an ACE (retire only revokes)
/// is refused, exit 3.
#[test]
fn a_retire_plan_applies_inside_its_fence_and_not_outside() {
    let d = Dir::new();
    d.run(&["demo", "demo"]).code(0);
    let acct = "connector_account=CONTOSO\\svc-dwb";
    let snap = ["--snapshot", "demo/directory.ldif", "--write-snapshot", "prepared.ldif"];
    d.run(&[&["run", "prepare.rhai", "--param", acct][..], &snap].concat()).code(0);
    let sync = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", "demo/devices.json"];
    d.run(&[&sync[..], &["--write-snapshot", "synced.ldif"]].concat()).code(0);
    let retire = ["run", "retire.rhai", "--param", "prepare=true", "--param", "confirm_all=true"];
    let save = ["--param", acct, "--snapshot", "synced.ldif", "--dry-run", "--save-plan", "r.json"];
    d.run(&[&retire[..], &save].concat()).code(0);
    let plan: Value = serde_json::from_str(&d.read("r.json")).unwrap();
    let acl = plan["changes"].as_array().unwrap().iter().find(|c| c["action"] == "acl").cloned();
    let mut acl = acl.expect("retire with prepare=true revokes the connector's ACEs");
    let mut grant = plan.clone();
    acl["edits"][0] = serde_json::json!({ "grant": acl["edits"][0]["revoke"].clone() });
    grant["changes"].as_array_mut().unwrap().push(acl);
    let mut admin = plan.clone();
    admin["changes"].as_array_mut().unwrap().push(outside_changes().remove(0));
    for (name, p) in [("grant.json", grant), ("admin.json", admin)] {
        let f = forged(&d, name, p);
        let out = d.run(&["apply", &f, "--snapshot", "synced.ldif", "--yes"]);
        out.code(3).stderr_has("retire only deletes the device objects dwb owns");
    }
    d.run(&["apply", "r.json", "--snapshot", "synced.ldif", "--yes"]).code(0);
}

/// A genuine enable plan (the site's settings) applies through enable's
/// fence; one edited to delete Administrator or to create a device object
/// is refused, exit 3, and the site's file is not written.
#[test]
fn an_enable_plan_applies_inside_its_fence_and_not_outside() {
    let d = Dir::new();
    d.run(&[DEMO_PREPARE, &["--write-snapshot", "prepared.ldif"]].concat()).code(0);
    d.write("dwb.toml", "default_profile = \"lab\"\n[profiles.lab.writeback]\n");
    let save = ["--snapshot", "prepared.ldif", "--dry-run", "--save-plan", "e.json"];
    d.run(&[&["run", "enable"][..], &save].concat()).code(0);
    let plan: Value = serde_json::from_str(&d.read("e.json")).unwrap();
    let device = serde_json::json!({ "id": 9, "action": "create", "reason": "forged",
        "device": null, "dn": "CN=evil,CN=RegisteredDevices,DC=contoso,DC=test",
        "attributes": { "objectClass": ["bXNEUy1EZXZpY2U="] }, "expect": { "absent": true } });
    for (name, change) in [("admin.json", outside_changes().remove(0)), ("device.json", device)] {
        let mut p = plan.clone();
        p["changes"].as_array_mut().unwrap().push(change);
        let f = forged(&d, name, p);
        let out = d.run(&["apply", &f, "--snapshot", "prepared.ldif", "--yes"]);
        out.code(3).stderr_has("enable only writes");
        assert!(!d.read("dwb.toml").contains("container"), "the site's file was written");
    }
    d.run(&["apply", "e.json", "--snapshot", "prepared.ldif", "--yes"]).code(0);
    assert!(d.read("dwb.toml").contains("container"), "{}", d.read("dwb.toml"));
}

#[test]
fn a_saved_create_of_an_object_someone_made_since_is_refused_not_sent() {
    // On the demo (it keeps what runs apply): a sync plan saved, then the
    // same sync applied by someone else before the saved plan is.
    let d = Dir::new();
    d.run(&[DEMO_PREPARE, &["--yes", "-q"]].concat()).code(0);
    d.run(&["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"]).code(0);
    d.run(&["run", "sync", "--yes", "-q"]).code(0);
    // The dry run says what applying would refuse: every create, by its object.
    let dry = d.run(&["apply", "plan.json", "--dry-run"]);
    assert_eq!(dry.code, 4, "{}\n{}", dry.stdout, dry.stderr);
    let refused = dry.stderr.lines().filter(|l| l.starts_with("warning: change ")).count();
    assert_eq!(refused, 24, "{}", dry.stderr);
    dry.stderr_has("exists now; the plan expected it absent");
    // Applied: refused before anything is sent (no "already exists" from the DC).
    let o = d.run(&["apply", "plan.json", "--yes", "--format", "json"]);
    assert_eq!(o.code, 4, "{}\n{}", o.stdout, o.stderr);
    let report = o.json();
    let outcomes: Vec<&Value> =
        report["plan"].as_array().unwrap().iter().map(|c| &c["outcome"]).collect();
    assert_eq!(outcomes.len(), 24, "{report:#}");
    for out in outcomes {
        assert_eq!(out["status"], "failed", "{out:#}");
        let message = out["message"].as_str().unwrap();
        assert!(message.contains("exists now"), "{message}");
    }
    // The directory is as the other sync left it: verify with drift is clean.
    d.run(&["run", "verify", "--param", "drift=true"]).code(0);
}

/// A sync plan whose deletes its guards refused, edited to name another
/// origin (a site's own script) and stripped of its refusals: the deletes are
/// weighed by a sync's guards all the same, and nothing is deleted.
#[test]
fn a_plan_renamed_to_another_origin_keeps_a_syncs_deletion_guards() {
    let d = Dir::prepared();
    let demo: Value = serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    let all = demo["value"].as_array().unwrap();
    d.write("devices.json", &demo.to_string());
    let sync = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", "devices.json"];
    d.run(&[&sync[..], &["--write-snapshot", "synced.ldif"]].concat()).code(0);
    // Half the devices gone from Entra: 12 of 24 deletes, over the 25% share.
    d.write("half.json", &serde_json::json!({ "value": all[..12] }).to_string());
    let args = ["run", "sync", "--snapshot", "synced.ldif", "--devices", "half.json"];
    let out = d.run(&[&args[..], &["--dry-run", "--save-plan", "plan.json"]].concat());
    assert_ne!(out.code, 0, "refused by the share guard:\n{}", out.stderr);
    let mut plan: Value = serde_json::from_str(&d.read("plan.json")).unwrap();
    plan["script"] = "site/sync.rhai".into();
    plan["refusals"] = serde_json::json!([]);
    let f = forged(&d, "renamed.json", plan);
    let o = d.run(&[
        "apply",
        &f,
        "--yes",
        "--snapshot",
        "synced.ldif",
        "--write-snapshot",
        "after.ldif",
        "--format",
        "json",
    ]);
    assert_ne!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.json()["refusals"][0]["guard"], "delete_threshold_percent", "{}", o.stdout);
    // Nothing deleted: the directory as it was, the 24 device objects in it.
    let devices = |f: &str| d.read(f).lines().filter(|l| *l == "objectClass: msDS-Device").count();
    assert_eq!(devices("synced.ldif"), 24);
    if d.join("after.ldif").exists() {
        assert_eq!(devices("after.ldif"), 24, "a device object was deleted");
    }
}

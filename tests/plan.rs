//! The plan in all three formats, dry runs, and the report.

use crate::support::{DEMO_PREPARE, Dir};

#[test]
fn plan_as_ldif_json_and_text() {
    let d = Dir::new();
    d.run(&[DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.ldif"]].concat()).code(0);
    let ldif = d.read("plan.ldif").replace("\n ", "");
    assert!(
        ldif.starts_with("version: 1\n\n# 1. create CN=Device Registration Configuration"),
        "{ldif}"
    );
    assert!(ldif.contains("dn: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test\nchangetype: add\nobjectClass: msDS-DeviceRegistrationService\nmsDS-DeviceLocation: CN=RegisteredDevices,DC=contoso,DC=test\nmsDS-IsEnabled: TRUE\n"), "{ldif}");
    d.run(&[DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.json"]].concat()).code(0);
    let j: serde_json::Value = serde_json::from_str(&d.read("plan.json")).unwrap();
    // A saved plan (`dwb apply` input): exact values, base64.
    assert_eq!(j["format"], "dwb.plan/1");
    assert_eq!(j["changes"][3]["action"], "create");
    assert_eq!(j["changes"][3]["attributes"]["msDS-IsEnabled"][0], "VFJVRQ==");
    d.run(&[DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.txt"]].concat()).code(0);
    assert!(d.read("plan.txt").ends_with("Plan: 6 change(s): 4 create, 2 acl\n"));
}

#[test]
fn dry_run_applies_nothing() {
    let d = Dir::new();
    let o = d.run(
        &[DEMO_PREPARE, &["--dry-run", "--write-snapshot", "after.ldif", "--format", "json"]]
            .concat(),
    );
    o.code(0);
    let j = o.json();
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["applied"], false);
    assert_eq!(j["plan"].as_array().unwrap().len(), 6);
    assert!(j["plan"][0].get("outcome").is_none());
    assert!(!d.read("after.ldif").contains("RegisteredDevices"), "dry run changed the snapshot");
}

#[test]
fn report_schema() {
    let d = Dir::new();
    d.run(&[DEMO_PREPARE, &["--report", "report.json"]].concat()).code(0);
    let j: serde_json::Value = serde_json::from_str(&d.read("report.json")).unwrap();
    for key in [
        "schema",
        "dwb_version",
        "script",
        "parameters",
        "directory",
        "dry_run",
        "status",
        "exit_code",
        "plan",
        "findings",
        "warnings",
        "output",
        "data",
        "timings",
    ] {
        assert!(j.get(key).is_some(), "report lacks {key}: {j}");
    }
    assert_eq!(j["schema"], "dwb.report/1");
    assert_eq!(j["parameters"]["connector_account"], "CONTOSO\\svc-dwb");
    assert_eq!(j["plan"][0]["outcome"]["status"], "applied");
    assert_eq!(j["directory"], "snapshot examples/contoso/directory.ldif");
    assert!(j["data"]["connector_sid"].as_str().unwrap().starts_with("S-1-5-21-"));
}

#[test]
fn reads_see_the_planned_state() {
    let d = Dir::new();
    d.write("planned.rhai", r#"
let c = ad::domain_dn().child("CN", "Staging");
ad::add(c, #{ objectClass: "container" });
ad::add(c.child("CN", "inner"), #{ objectClass: "container", description: "later" });
print(`exists=${ad::exists(c)} children=${ad::list(c).len()} found=${ad::search(c, ad::eq("description", "later")).len()}`);
ad::modify(c.child("CN", "inner"), #{ replace: #{ description: "changed" } });
print(`after modify: ${ad::get(c.child("CN", "inner"))["description"]}`);
ad::delete(c.child("CN", "inner"));
print(`after delete: ${ad::exists(c.child("CN", "inner"))}`);
"#);
    let o = d.run(&["run", "planned.rhai", "--dry-run"]);
    o.code(0)
        .stdout_has("exists=true children=1 found=1")
        .stdout_has("after modify: changed")
        .stdout_has("after delete: false");
}

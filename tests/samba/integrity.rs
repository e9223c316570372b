//! What was reviewed is what is applied (issue #20), against the lab DC:
//!
//! - a delete whose object someone removed between `--save-plan` and `dwb apply`
//!   is done ("already gone" in the report and the journal, exit 0); a modify of
//!   an object that vanished meanwhile still fails (exit 4).

use serde_json::Value;

use super::sync::{Lab, plan, tenant};

/// The outcome status of the change of a report's plan that targets `dn`.
fn status_of(report: &Value, dn: &str) -> String {
    plan(report)
        .iter()
        .find(|c| c["target"].as_str().is_some_and(|d| d.eq_ignore_ascii_case(dn)))
        .and_then(|c| c["outcome"]["status"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no outcome for {dn} in {report:#}"))
}

#[test]
fn a_delete_of_an_object_removed_since_the_plan_is_done_a_modify_of_one_fails() {
    let lab = Lab::start("already_gone", tenant(12, 97));
    lab.initial_sync();
    let devs = lab.in_scope();
    let (gone, deleted, renamed) = (&devs[0], &devs[1], &devs[2]);
    lab.emu.with_state(|s| {
        s.delete_device(&gone.id).unwrap();
        s.delete_device(&deleted.id).unwrap();
        s.rename_device(&renamed.id, "RENAMED-AFTER-REVIEW").unwrap();
    });
    lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"]).code(0);
    // Between review and apply, another administrator removes one of the objects.
    lab.dc.ldap_cli("ldapdelete", &format!("{}\n", gone.dn()));
    assert!(!lab.exists(&gone.dn()));

    // Not "would be refused": the directory is already as planned there.
    let dry = lab.run(&["apply", "plan.json", "--dry-run"]);
    dry.code(0);
    assert!(!dry.stderr.contains("would be refused"), "{}", dry.stderr);
    let out = lab.run(&["apply", "plan.json"]);
    out.code(0).stdout_has("already gone").stdout_has(&gone.dn());
    assert!(!lab.exists(&deleted.dn()), "the other delete applied");
    assert_eq!(
        super::sync::by_dn(lab.objects())[&renamed.dn().to_ascii_lowercase()].text("displayName"),
        Some("RENAMED-AFTER-REVIEW".to_string())
    );

    // The journal says what became of each change.
    let runs = lab.run(&["journal", "--format", "json"]);
    let runs = runs.code(0).json();
    let last = runs.as_array().unwrap().last().unwrap()["run_id"].as_str().unwrap().to_string();
    let shown = lab.run(&["journal", &last, "--format", "json"]);
    let shown = shown.code(0).json();
    let status: Vec<(String, String)> = shown["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["dn"].as_str().unwrap().to_ascii_lowercase(), c["status"].as_str().unwrap().into())
        })
        .collect();
    let of = |dn: String| status.iter().find(|(d, _)| *d == dn.to_ascii_lowercase()).cloned();
    assert_eq!(of(gone.dn()).map(|s| s.1).as_deref(), Some("already_gone"), "{shown:#}");
    assert_eq!(of(deleted.dn()).map(|s| s.1).as_deref(), Some("applied"), "{shown:#}");
    assert_eq!(shown["already_gone"], 1, "{shown:#}");
    // Undo does not re-create what dwb did not delete.
    let undo = lab.run(&["undo", &last, "--dry-run", "--format", "json"]);
    let undo = undo.code(0).json();
    let recreated: Vec<Value> = plan(&undo)
        .into_iter()
        .filter(|c| c["action"] == "create")
        .filter(|c| c["target"].as_str().is_some_and(|d| d.eq_ignore_ascii_case(&gone.dn())))
        .collect();
    assert!(recreated.is_empty(), "{undo:#}");

    // A modify of an object that vanished is still a failure.
    let vanished = &devs[3];
    lab.emu.with_state(|s| s.rename_device(&vanished.id, "RENAMED-VANISHED").unwrap());
    lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan2.json", "-q"]).code(0);
    lab.dc.ldap_cli("ldapdelete", &format!("{}\n", vanished.dn()));
    let out = lab.run(&["apply", "plan2.json", "--format", "json"]);
    out.code(4);
    let report = out.json();
    assert_eq!(status_of(&report, &vanished.dn()), "failed", "{report:#}");
    assert_eq!(report["status"], "changes_failed", "{report:#}");
}

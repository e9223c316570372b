//! What was reviewed is what is applied (issue #20), against the lab DC:
//!
//! - a delete whose object someone removed between `--save-plan` and `dwb apply`
//!   is done ("already gone" in the report and the journal, exit 0); a modify of
//!   an object that vanished meanwhile still fails (exit 4);
//! - under `umask 022`, every file dwb creates (journal, lock, delta state, id
//!   hints, status) is 0600 and every directory it creates 0700.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::sync::{Lab, finish, plan, tenant, wait_for};

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

/// `lab.cmd()` (dwb with the lab's environment) run through `sh` under `umask 022`.
fn under_umask_022(lab: &Lab, args: &[&str]) -> Command {
    let dwb = lab.cmd();
    let mut c = Command::new("sh");
    c.arg("-c").arg("umask 022 && exec \"$0\" \"$@\"").arg(dwb.get_program()).args(args);
    if let Some(d) = dwb.get_current_dir() {
        c.current_dir(d);
    }
    for (k, v) in dwb.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// Every path below `dir`, `dir` included, with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, u32, bool)> {
    let meta = std::fs::symlink_metadata(dir).unwrap();
    let mut out = vec![(dir.to_path_buf(), meta.permissions().mode() & 0o777, meta.is_dir())];
    if meta.is_dir() {
        for e in std::fs::read_dir(dir).unwrap() {
            out.extend(modes(&e.unwrap().path()));
        }
    }
    out
}

#[test]
fn every_file_dwb_creates_is_private_whatever_the_umask() {
    let lab = Lab::start("private_files", tenant(6, 211));
    let data = lab.dir.join(".local/dwb");
    // Nothing of dwb's data yet from the lab's `prepare` run: start from none.
    let _ = std::fs::remove_dir_all(&data);
    // A delta sync (journal, lock, delta state, id hints), then a watch round (status).
    let out =
        under_umask_022(&lab, &["run", "sync", "--param", "mode=delta", "-q"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    lab.emu.with_state(|s| s.add_device(super::sync::new_device(90, "WATCHED").0).unwrap());
    let child = under_umask_022(&lab, &["run", "sync", "--param", "watch=1", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = data.join("status/default.json");
    let want = lab.in_scope().len();
    wait_for("the watch round", Duration::from_secs(60), || lab.count() == want);
    wait_for("the watch round's status file", Duration::from_secs(60), || status.exists());
    assert!(
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success()
    );
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);

    let all = modes(&data);
    let names: Vec<String> = all
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&data).unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["journal/default.jsonl", "status/default.json"] {
        assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    for (suffix, what) in [(".lock", "lock"), (".json.ids", "id hints")] {
        assert!(names.iter().any(|n| n.ends_with(suffix)), "no {what} file in {names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with("delta/") && n.ends_with(".json")),
        "no delta state in {names:?}"
    );
    for (p, mode, dir) in &all {
        let want = if *dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", p.display());
    }
}

/// Two Entra devices with one deviceId (spelt in another case and in braces),
/// one of them already written: both are skipped with a warning naming them,
/// nothing is written for either, and a second sync plans nothing.
#[test]
fn two_devices_sharing_a_device_id_converge_after_one_sync_and_stay_still() {
    let lab = Lab::start("duplicate_device_ids", tenant(6, 223));
    lab.initial_sync();
    let written = lab.in_scope()[0].clone();
    let (mut twin, twin_id) = super::sync::new_device(70, "TWIN-OF-WRITTEN");
    twin["deviceId"] = format!("{{{}}}", written.device_id.to_ascii_uppercase()).into();
    let (fresh, fresh_id) = super::sync::new_device(71, "FRESH");
    let mut fresh_twin = fresh.clone();
    fresh_twin["id"] = uuid::Uuid::new_v4().to_string().into();
    let fresh_twin_id = fresh_twin["id"].as_str().unwrap().to_string();
    let fresh_device_id = fresh["deviceId"].as_str().unwrap().to_string();
    lab.emu.with_state(|s| {
        for d in [twin, fresh, fresh_twin] {
            s.add_device(d).unwrap();
        }
    });
    let before = super::sync::by_dn(lab.objects());

    let (out, report) = lab.sync(&[]);
    out.code(0);
    let warnings = super::sync::warnings(&report).join("\n");
    for id in [&written.id, &twin_id, &fresh_id, &fresh_twin_id] {
        assert!(warnings.contains(id.as_str()), "no warning names {id}:\n{warnings}");
    }
    assert!(super::sync::writes(&report).is_empty(), "nothing is written: {report:#}");
    assert_eq!(super::sync::by_dn(lab.objects()).len(), before.len());
    let obj = &super::sync::by_dn(lab.objects())[&written.dn().to_ascii_lowercase()];
    assert_eq!(obj.usn(), before[&written.dn().to_ascii_lowercase()].usn(), "left as it was");
    assert!(!lab.exists(&format!("CN={fresh_device_id},{}", super::sync::CONTAINER)));

    // `explain` says why.
    let x = lab.run(&["explain", &fresh_id, "--format", "json"]);
    let x = x.code(0).json();
    assert_eq!(x["action"], "skip", "{x:#}");
    let reason = x["reason"].as_str().unwrap();
    assert!(reason.contains("share the deviceId") && reason.contains(&fresh_twin_id), "{x:#}");

    // And it stays still: the next sync plans nothing either.
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert!(super::sync::writes(&report).is_empty(), "{report:#}");
    let after = super::sync::by_dn(lab.objects());
    for (dn, o) in &before {
        assert_eq!(after[dn].usn(), o.usn(), "{dn} was rewritten");
    }
}

/// A saved sync plan edited by hand (and given a new digest, as a forger
/// would) cannot reach outside the sync's fence: an object outside the device
/// container, one dwb does not own, an attribute a sync does not write, or an
/// object that is not a device are refused (exit 3) and nothing is written.
#[test]
fn a_forged_sync_plan_is_refused_outside_the_sync_fence() {
    use dwb::ad::{Directory, WriteOp};
    let lab = Lab::start("forged_plan", tenant(6, 227));
    lab.initial_sync();
    let devs = lab.in_scope();
    lab.emu.with_state(|s| s.rename_device(&devs[0].id, "RENAMED-FOR-FORGERY").unwrap());
    lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"]).code(0);
    let plan: Value = serde_json::from_str(&lab.dir.read("plan.json")).unwrap();
    let modify = plan["changes"].as_array().unwrap()[0].clone();
    assert_eq!(modify["action"], "modify", "{plan:#}");

    // An object in the container that another writer made (no marker, no anchor).
    let foreign =
        format!("CN=foreign-{},{}", uuid::Uuid::new_v4().simple(), super::sync::CONTAINER);
    let guid: dwb::directory::Guid = uuid::Uuid::new_v4().to_string().parse().unwrap();
    super::admin(&lab.dc)
        .write(&WriteOp::Add {
            dn: dwb::directory::Dn::parse(&foreign).unwrap(),
            attrs: super::device_attrs("FOREIGN", guid),
        })
        .unwrap();
    let users = "CN=Administrator,CN=Users,DC=contoso,DC=test";
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let with_change = |c: Value| {
        let mut p = plan.clone();
        p["changes"] = Value::Array(vec![c]);
        p["digest"] = dwb::plan::saved::digest_of(&p).into();
        p
    };
    let mut outside = modify.clone();
    outside["dn"] = users.into();
    let mut sd = modify.clone();
    sd["modifications"][0]["attribute"] = "description".into();
    let delete_foreign = serde_json::json!({
        "id": 1, "action": "delete", "dn": foreign, "reason": "forged", "device": null,
        "expect": { "values": {} },
    });
    let create_user = serde_json::json!({
        "id": 1, "action": "create", "reason": "forged", "device": null,
        "dn": format!("CN=evil,{}", super::sync::CONTAINER),
        "attributes": { "objectClass": [b64("user")], "adminDescription": [b64("dwb-writeback")] },
        "expect": { "absent": true },
    });
    for (name, change, why) in [
        ("outside.json", outside, "is not directly under"),
        ("attribute.json", sd, "a sync does not write description"),
        ("foreign.json", delete_foreign, "is not a device object dwb owns"),
        ("user.json", create_user, "creates only msDS-Device objects"),
    ] {
        lab.dir.write(name, &with_change(change).to_string());
        let out = lab.run(&["apply", name, "--yes"]);
        out.code(3);
        assert!(out.stderr.contains(why), "{name}: {}", out.stderr);
    }
    assert!(lab.exists(&foreign), "the foreign object was deleted");
    assert!(!lab.exists(&format!("CN=evil,{}", super::sync::CONTAINER)));
    let objs = super::sync::by_dn(lab.objects());
    assert_ne!(
        objs[&devs[0].dn().to_ascii_lowercase()].text("displayName").as_deref(),
        Some("RENAMED-FOR-FORGERY"),
        "nothing of the forged plans was applied"
    );
    // The plan as saved still applies.
    lab.run(&["apply", "plan.json", "--yes"]).code(0);
}

/// A saved sync plan whose refusals were removed by hand is refused again when
/// applied: the deletion guards are evaluated on the plan's own deletes.
/// `plan` with its refusals removed and its digest recomputed, as a forger
/// would, applied: refused all the same (the guards are evaluated again).
fn apply_stripped(lab: &Lab, plan: &mut Value) -> Value {
    plan["refusals"] = serde_json::json!([]);
    plan["digest"] = dwb::plan::saved::digest_of(plan).into();
    lab.dir.write("stripped.json", &plan.to_string());
    let out = lab.run(&["apply", "stripped.json", "--yes", "--format", "json"]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "refused", "{report:#}");
    report
}

#[test]
fn a_sync_plan_stripped_of_its_refusals_is_still_refused() {
    let lab = Lab::start("stripped_refusals", tenant(8, 229));
    lab.initial_sync();
    let gone: Vec<_> = lab.in_scope().into_iter().take(3).collect();
    lab.emu.with_state(|s| gone.iter().for_each(|d| s.delete_device(&d.id).unwrap()));
    let out = lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"]);
    assert_ne!(out.code, 0, "3 of 8 is more than 25%: refused");
    let mut plan: Value = serde_json::from_str(&lab.dir.read("plan.json")).unwrap();
    assert!(!plan["refusals"].as_array().unwrap().is_empty(), "{plan:#}");
    let report = apply_stripped(&lab, &mut plan);
    assert_eq!(report["refusals"][0]["guard"], "delete_threshold_percent", "{report:#}");
    for d in &gone {
        assert!(lab.exists(&d.dn()), "{} was deleted", d.dn());
    }
}

/// Forged journal lines cannot make undo write outside the sync's fence or in
/// another directory; an empty run id and a damaged line are usage errors.
#[test]
fn a_forged_journal_cannot_make_undo_write_outside_the_device_container() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let lab = Lab::start("forged_journal", tenant(6, 233));
    let report = lab.initial_sync();
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let journal = ".local/dwb/journal/default.jsonl";
    let original = lab.dir.read(journal);
    let admin = "CN=Administrator,CN=Users,DC=contoso,DC=test";
    let line = |dn: &str, n: u64| {
        serde_json::json!({
            "type": "change", "run_id": run_id, "time": "2026-01-01T00:00:00Z", "change": n,
            "action": "create", "target": dn, "dn": dn, "device": null, "reason": "forged",
            "before": null, "after": { "sAMAccountName": [b64("Administrator")] },
        })
        .to_string()
    };
    lab.dir.write(journal, &format!("{original}{}\n", line(admin, 900)));
    let out = lab.run(&["undo", &run_id, "--yes"]);
    out.code(3);
    assert!(out.stderr.contains("is not directly under"), "{}", out.stderr);
    assert!(lab.exists(admin), "undo deleted Administrator");

    // A run that names objects of another domain is not undone here.
    lab.dir.write(journal, &format!("{original}{}\n", line("CN=x,DC=fabrikam,DC=test", 901)));
    let out = lab.run(&["undo", &run_id, "--yes"]);
    out.code(3);
    assert!(out.stderr.contains("not in this directory"), "{}", out.stderr);

    // A change line without what a change needs is reported with its number.
    let damaged = format!("{original}{{\"type\":\"change\",\"run_id\":\"{run_id}\"}}\n");
    lab.dir.write(journal, &damaged);
    let n = damaged.lines().count();
    let out = lab.run(&["undo", &run_id, "--yes"]);
    out.code(3);
    assert!(out.stderr.contains(&format!("default.jsonl:{n}: a change without")), "{}", out.stderr);

    lab.dir.write(journal, &original);
    lab.run(&["undo", "", "--yes"]).code(3).stderr_has("the run id is empty");
    assert_eq!(lab.count(), lab.in_scope().len(), "nothing was undone");
}

/// What a forged plan or journal aims at: Administrator, Domain Admins'
/// members and the domain head's security descriptor, as they are now.
fn crown_jewels(lab: &Lab) -> Vec<Vec<Vec<u8>>> {
    use dwb::ad::Directory as _;
    let dir = super::admin(&lab.dc);
    [
        ("CN=Administrator,CN=Users,DC=contoso,DC=test", "objectGUID"),
        ("CN=Domain Admins,CN=Users,DC=contoso,DC=test", "member"),
        ("DC=contoso,DC=test", "nTSecurityDescriptor"),
    ]
    .into_iter()
    .map(|(dn, attr)| {
        let e = dir.read(&dwb::directory::Dn::parse(dn).unwrap(), &[attr]).unwrap();
        e.map(|e| e.get(attr).to_vec()).unwrap_or_default()
    })
    .collect()
}

/// A saved plan whose `script` says prepare (or names a site's own script)
/// and that deletes Administrator, adds a member to Domain Admins or replaces
/// the domain head's security descriptor is refused at apply, exit 3, and the
/// DC is unchanged.
#[test]
fn a_tampered_prepare_plan_is_refused_and_the_dc_unchanged() {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let lab = Lab::start("tampered_prepare", tenant(4, 311));
    lab.initial_sync();
    let before = crown_jewels(&lab);
    lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"]).code(0);
    let plan: Value = serde_json::from_str(&lab.dir.read("plan.json")).unwrap();
    let sd = before[2].first().cloned().unwrap_or_default();
    let changes = [
        serde_json::json!({ "id": 1, "action": "delete", "reason": "forged", "device": null,
            "dn": "CN=Administrator,CN=Users,DC=contoso,DC=test", "expect": { "values": {} } }),
        serde_json::json!({ "id": 1, "action": "modify", "reason": "forged", "device": null,
            "dn": "CN=Domain Admins,CN=Users,DC=contoso,DC=test", "sd_flags": null,
            "modifications": [{ "op": "add", "attribute": "member",
                "values": [b64(b"CN=Guest,CN=Users,DC=contoso,DC=test")] }],
            "expect": { "values": {} } }),
        serde_json::json!({ "id": 1, "action": "modify", "reason": "forged", "device": null,
            "dn": "DC=contoso,DC=test", "sd_flags": 4,
            "modifications": [{ "op": "replace", "attribute": "nTSecurityDescriptor",
                "values": [b64(&sd)] }],
            "expect": { "values": {} } }),
    ];
    for (script, why) in [
        ("<embedded>/scripts/prepare.rhai", "prepare only creates"),
        ("custom.rhai", "outside dwb's territory"),
    ] {
        for (i, c) in changes.iter().enumerate() {
            let mut p = plan.clone();
            p["script"] = script.into();
            p["changes"] = Value::Array(vec![c.clone()]);
            p["digest"] = dwb::plan::saved::digest_of(&p).into();
            let name = format!("forged{i}.json");
            lab.dir.write(&name, &p.to_string());
            let out = lab.run(&["apply", &name, "--yes"]);
            out.code(3);
            assert!(out.stderr.contains(why), "{script} {name}: {}", out.stderr);
        }
    }
    assert_eq!(crown_jewels(&lab), before, "the DC was changed");
}

/// A forged journal run that says it was prepare (or a site's own script)
/// cannot make undo delete Administrator or rewrite Domain Admins: the undo
/// is checked against the fence of the run's origin, exit 3, DC unchanged.
#[test]
fn a_forged_prepare_run_cannot_make_undo_write_outside_dwbs_territory() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let lab = Lab::start("forged_prepare_run", tenant(3, 313));
    lab.initial_sync();
    let before = crown_jewels(&lab);
    let journal = ".local/dwb/journal/default.jsonl";
    let original = lab.dir.read(journal);
    let admins = "CN=Domain Admins,CN=Users,DC=contoso,DC=test";
    // The forged run names this directory, as the real one does.
    let real: Value = original.lines().find_map(|l| serde_json::from_str(l).ok()).unwrap();
    for (k, script) in ["<embedded>/scripts/prepare.rhai", "custom.rhai"].into_iter().enumerate() {
        let run_id = format!("forged-{k}");
        let run = serde_json::json!({ "type": "run", "run_id": run_id,
            "time": "2026-01-01T00:00:00Z", "script": script, "directory": real["directory"],
            "changes": 1 });
        let line = |n: u64, dn: &str, before: Value, after: Value| {
            serde_json::json!({
                "type": "change", "run_id": run_id, "time": "2026-01-01T00:00:00Z", "change": n,
                "action": if before.is_null() { "create" } else { "modify" }, "target": dn,
                "dn": dn, "device": null, "reason": "forged", "before": before, "after": after,
            })
            .to_string()
        };
        let admin = "CN=Administrator,CN=Users,DC=contoso,DC=test";
        let guest = "CN=Guest,CN=Users,DC=contoso,DC=test";
        let forged = [
            line(
                1,
                admin,
                Value::Null,
                serde_json::json!({ "sAMAccountName": [b64("Administrator")] }),
            ),
            // Its undo would put Guest into Domain Admins.
            line(
                2,
                admins,
                serde_json::json!({ "member": [b64(admin), b64(guest)] }),
                serde_json::json!({ "member": [b64(admin)] }),
            ),
        ];
        for f in forged {
            lab.dir.write(journal, &format!("{original}{run}\n{f}\n"));
            let out = lab.run(&["undo", &run_id, "--yes"]);
            out.code(3);
            assert!(out.stderr.contains("undo change"), "{script}: {}", out.stderr);
            assert!(lab.exists(admin), "{script}: undo deleted Administrator");
        }
    }
    lab.dir.write(journal, &original);
    assert_eq!(crown_jewels(&lab), before, "the DC was changed");
}

/// A sync plan saved from a run whose device source listed nothing trips the
/// empty-source guard again at apply when its refusal was removed by hand
/// (the other guards let it pass): nothing is deleted. A file that no longer
/// records how many devices its source listed is refused, exit 3.
#[test]
fn an_empty_source_plan_stripped_of_its_refusal_is_still_refused() {
    let lab = Lab::start("stripped_empty", tenant(4, 331));
    lab.initial_sync();
    let all = lab.in_scope();
    lab.emu.with_state(|s| all.iter().for_each(|d| s.delete_device(&d.id).unwrap()));
    let args = ["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"];
    let out = lab.run(&[&args[..], &["--param", "delete_threshold_percent=100"]].concat());
    assert_ne!(out.code, 0, "an empty source: refused");
    let mut plan: Value = serde_json::from_str(&lab.dir.read("plan.json")).unwrap();
    let guards: Vec<_> =
        plan["refusals"].as_array().unwrap().iter().map(|r| r["guard"].clone()).collect();
    assert_eq!(guards, [serde_json::json!("empty_source")], "{plan:#}");
    assert_eq!(plan["source"]["listed"], 0, "{plan:#}");
    let report = apply_stripped(&lab, &mut plan);
    assert_eq!(report["refusals"][0]["guard"], "empty_source", "{report:#}");
    plan.as_object_mut().unwrap().remove("source");
    plan["digest"] = dwb::plan::saved::digest_of(&plan).into();
    lab.dir.write("uncounted.json", &plan.to_string());
    let out = lab.run(&["apply", "uncounted.json", "--yes"]);
    out.code(3);
    assert!(out.stderr.contains("source.listed"), "{}", out.stderr);
    for d in &all {
        assert!(lab.exists(&d.dn()), "{} was deleted", d.dn());
    }
}

/// A genuine adopt plan (objects another writer left: anchored, without
/// dwb's marker) applies through adopt's fence; one edited to delete such an
/// object is refused (adopt creates and deletes nothing), exit 3.
#[test]
fn an_adopt_plan_applies_inside_its_fence_and_not_outside() {
    use dwb::ad::{Directory, ModOp, Modification, WriteOp};
    let lab = Lab::start("adopt_fence", tenant(3, 337));
    lab.initial_sync();
    let devs = lab.in_scope();
    let handed = devs[0].dn();
    // Another writer's object: the marker gone, the anchor kept.
    let unmark = WriteOp::Modify {
        dn: dwb::directory::Dn::parse(&handed).unwrap(),
        mods: vec![Modification {
            op: ModOp::Delete,
            attr: "adminDescription".into(),
            values: Vec::new(),
        }],
        sd_flags: None,
    };
    super::admin(&lab.dc).write(&unmark).unwrap();
    let marker = |lab: &Lab| {
        let objs = super::sync::by_dn(lab.objects());
        objs[&handed.to_ascii_lowercase()].text("adminDescription")
    };
    assert_eq!(marker(&lab), None);
    let out = lab.run(&["run", "adopt.rhai", "--dry-run", "--save-plan", "a.json", "-q"]);
    out.code(0);
    let plan: Value = serde_json::from_str(&lab.dir.read("a.json")).unwrap();
    assert!(!plan["changes"].as_array().unwrap().is_empty(), "{plan:#}");
    let mut delete = plan.clone();
    delete["changes"].as_array_mut().unwrap().push(serde_json::json!({
        "id": 9, "action": "delete", "dn": handed, "reason": "forged", "device": null,
        "expect": { "values": {} } }));
    delete["digest"] = dwb::plan::saved::digest_of(&delete).into();
    lab.dir.write("delete.json", &delete.to_string());
    let out = lab.run(&["apply", "delete.json", "--yes"]);
    out.code(3);
    assert!(out.stderr.contains("adopt only modifies"), "{}", out.stderr);
    assert!(lab.exists(&handed), "the forged delete was applied");
    assert_eq!(marker(&lab), None, "nothing of the forged plan was applied");
    lab.run(&["apply", "a.json", "--yes"]).code(0);
    assert_eq!(marker(&lab).as_deref(), Some("dwb-writeback"));
}

/// A sync plan whose `container` parameter was edited to name another
/// container (CN=Users) cannot create device objects there: device objects
/// go only in a device container, exit 3, nothing created.
#[test]
fn a_sync_plan_pointed_at_another_container_is_refused() {
    let lab = Lab::start("forged_container", tenant(3, 347));
    lab.run(&["run", "sync", "--dry-run", "--save-plan", "plan.json", "-q"]).code(0);
    let plan: Value = serde_json::from_str(&lab.dir.read("plan.json")).unwrap();
    let users = "CN=Users,DC=contoso,DC=test";
    let mut p = plan.clone();
    p["parameters"]["container"] = users.into();
    let mut created = Vec::new();
    for c in p["changes"].as_array_mut().unwrap() {
        let dn = c["dn"].as_str().unwrap().replace(super::sync::CONTAINER, users);
        created.push(dn.clone());
        c["dn"] = dn.into();
    }
    assert!(!created.is_empty(), "{plan:#}");
    p["digest"] = dwb::plan::saved::digest_of(&p).into();
    lab.dir.write("users.json", &p.to_string());
    let out = lab.run(&["apply", "users.json", "--yes"]);
    out.code(3);
    assert!(out.stderr.contains("is not a device container"), "{}", out.stderr);
    for dn in &created {
        assert!(!lab.exists(dn), "{dn} was created");
    }
}

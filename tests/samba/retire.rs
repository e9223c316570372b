//! Leaving cleanly (`dwb run retire`), black box against a Samba DC and the Graph
//! emulator: the mass delete needs `confirm_all`; `handback` only removes dwb's
//! marker (and undo puts it back); with `prepare=true` what prepare created goes
//! too, verify then says "not prepared", and undo of the retire brings objects and
//! ACEs back so that verify passes again. Objects dwb does not own are never touched.

use serde_json::Value;

use super::sync::{CONTAINER, Lab, by_dn, tenant, with_action};

fn run_json(lab: &Lab, args: &[&str]) -> (i32, Value) {
    let out = lab.run(args);
    let v = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!("{args:?} printed no JSON ({e}); exit {}\n{}\n{}", out.code, out.stdout, out.stderr)
    });
    (out.code, v)
}

fn finding<'a>(v: &'a Value, check: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding: {v:#}"))
}

const CONNECTOR: &str = "connector_account=CONTOSO\\Administrator";

#[test]
fn retire_hands_back_or_removes_everything_dwb_wrote_and_undo_brings_it_back() {
    let lab = Lab::start("retire", tenant(12, 61));
    lab.initial_sync();
    let owned = lab.count();
    assert!(owned > 5);
    let verify =
        |lab: &Lab| run_json(lab, &["run", "verify", "--format", "json", "--param", CONNECTOR]);
    let (code, v) = verify(&lab);
    assert_eq!(code, 0, "{v:#}");

    // Without confirm_all a live run stops before writing; a dry run shows the plan.
    let (code, r) = run_json(&lab, &["run", "retire", "--format", "json"]);
    assert_ne!(code, 0, "{r:#}");
    assert!(r["error"]["message"].as_str().unwrap().contains("not confirmed"), "{r:#}");
    assert_eq!(lab.count(), owned, "an unconfirmed retire deleted something");
    let (code, dry) = run_json(&lab, &["run", "retire", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{dry:#}");
    assert_eq!(with_action(&dry, "delete").len(), owned, "{dry:#}");

    // Handback: the objects stay, without dwb's marker; undo puts the marker back.
    let (code, hb) =
        run_json(&lab, &["run", "retire", "--param", "handback=true", "--format", "json"]);
    assert_eq!(code, 0, "{hb:#}");
    assert_eq!(lab.count(), owned);
    assert!(lab.objects().iter().all(|o| o.get("adminDescription").is_empty()), "markers left");
    let (code, v) = run_json(&lab, &["run", "verify", "--format", "json"]);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        finding(&v, "coexistence")["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{owned} anchored"))
    );
    let hb_id = hb["run_id"].as_str().unwrap().to_string();
    lab.run(&["undo", &hb_id]).code(0);
    assert!(
        lab.objects()
            .iter()
            .all(|o| o.text("adminDescription").as_deref() == Some("dwb-writeback"))
    );

    // The full retire: every object, the container, the DRS objects, the ACEs.
    let before = by_dn(lab.objects());
    let (code, r) = run_json(
        &lab,
        &[
            "run",
            "retire",
            "--param",
            "confirm_all=true",
            "--param",
            "prepare=true",
            "--param",
            CONNECTOR,
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{r:#}");
    assert!(!lab.exists(CONTAINER), "the emptied container is removed");
    let (code, v) = verify(&lab);
    assert_eq!(code, 1, "{v:#}");
    let drs = finding(&v, "registration service");
    assert_eq!(drs["status"], "fail");
    assert!(drs["detail"].as_str().unwrap().contains("not prepared"), "{drs}");

    // Undo: objects (new objectGUIDs), container, DRS, and the connector's ACEs on
    // the DRC and on the re-created container: verify passes with its rights checked,
    // and prepare has nothing left to do.
    let run_id = r["run_id"].as_str().unwrap().to_string();
    let (code, u) = run_json(&lab, &["undo", &run_id, "--format", "json"]);
    assert_eq!(code, 0, "{u:#}");
    assert_eq!(u["data"]["undo"]["conflicts"], serde_json::json!([]), "{u:#}");
    let (code, v) = verify(&lab);
    assert_eq!(code, 0, "verify with the connector's rights after undoing the retire: {v:#}");
    let (code, p) = run_json(&lab, &["run", "prepare", "--param", CONNECTOR, "--format", "json"]);
    assert_eq!(code, 0, "{p:#}");
    assert_eq!(
        super::sync::plan(&p),
        Vec::<Value>::new(),
        "prepare after the undo has nothing left to grant: {p:#}"
    );
    let after = by_dn(lab.objects());
    assert_eq!(after.len(), before.len());
    for (dn, o) in &before {
        let a = &after[dn];
        for k in [
            "msDS-CloudAnchor",
            "msDS-DeviceID",
            "displayName",
            "altSecurityIdentities",
            "adminDescription",
        ] {
            assert_eq!(a.get(k), o.get(k), "{dn}: {k}");
        }
    }
    // And a sync finds nothing to do.
    let (out, s) = lab.sync(&[]);
    out.code(0);
    assert_eq!(super::sync::writes(&s), Vec::<Value>::new(), "{s:#}");
}

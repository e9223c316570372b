//! The question before applying (under a pseudo-terminal, and not without one),
//! the journal and saved plans on the bundled demo directory.

use serde_json::Value;

use crate::support::{DEMO_PREPARE, Dir};

fn spawn(d: &Dir, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = d.dwb();
    cmd.args(args).env("TERM", "xterm");
    rexpect::session::spawn_command(cmd, Some(30_000)).expect("spawn dwb")
}

#[test]
fn run_asks_on_a_terminal_and_not_without_one() {
    let d = Dir::new();
    let mut p = spawn(&d, DEMO_PREPARE);
    p.exp_string("create  CN=Device Registration Configuration").unwrap();
    p.exp_string("Apply these 6 change(s)? [y/N]").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("Nothing was applied.").unwrap();
    p.exp_eof().unwrap();
    let journal = d.join(".local/dwb/journal/default.jsonl");
    assert!(!journal.exists(), "declined, yet journaled");

    let mut p = spawn(&d, DEMO_PREPARE);
    let shown = p.exp_string("[y/N]").unwrap();
    p.send_line("y").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(shown.contains("create  CN=Device Registration Configuration"), "{shown}");
    assert!(rest.contains("6 of 6 change(s)"), "{rest}");
    // Shown once, at the question; the report gives the counts, not the list again.
    assert!(!rest.contains("CN=Device Registration Configuration"), "the plan twice:\n{rest}");
    assert!(rest.contains("Plan: 6 change(s)"), "{rest}");

    // The demo keeps what a run applied: each case starts it over.
    d.run(&["demo", "--reset"]).code(0);
    let mut args = DEMO_PREPARE.to_vec();
    args.push("--yes");
    let mut p = spawn(&d, &args);
    let out = p.exp_eof().unwrap();
    assert!(!out.contains("[y/N]"), "--yes asked:\n{out}");
    assert!(out.contains("6 of 6 change(s)"), "{out}");

    // No terminal: nothing asks.
    d.run(&["demo", "--reset"]).code(0);
    let o = d.run(DEMO_PREPARE);
    o.code(0).stdout_has("6 of 6 change(s)");
    assert!(!o.stderr.contains("[y/N]"), "{}", o.stderr);
}

#[test]
fn applied_runs_are_journaled_with_their_run_id() {
    let d = Dir::new();
    let mut args = DEMO_PREPARE.to_vec();
    args.extend(["--format", "json"]);
    let r = d.run(&args);
    let r = r.code(0).json();
    let run_id = r["run_id"].as_str().unwrap().to_string();
    let dry = d.run(&[DEMO_PREPARE, &["--dry-run", "--format", "json"]].concat());
    assert!(dry.code(0).json()["run_id"].is_string(), "a dry run's report has its id too");

    d.run(&["journal"]).code(0).stdout_has(&run_id).stdout_has("prepare");
    let one = d.run(&["journal", &run_id[..12], "--format", "json"]);
    let one = one.code(0).json();
    assert_eq!(one["run_id"], run_id.as_str());
    let changes = one["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 6);
    assert!(changes.iter().all(|c| c["status"] == "applied"), "{one:#}");
    let create = changes.iter().find(|c| c["action"] == "create").unwrap();
    assert_eq!(create["before"], Value::Null, "a create has no old values");
    assert!(create["after"]["objectClass"].is_array(), "{create:#}");
    let acl = changes.iter().find(|c| c["action"] == "acl").unwrap();
    assert!(acl["before_exact"]["nTSecurityDescriptor"][0].is_string(), "{acl:#}");
    d.run(&["journal", "nosuchrun"]).code(3).stderr_has("no run `nosuchrun`");
    d.run(&["undo", "nosuchrun"]).code(3).stderr_has("no run `nosuchrun`");
}

#[test]
fn a_saved_plan_is_exact_and_applies_on_the_demo() {
    let d = Dir::new();
    let args = [DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.json"]].concat();
    d.run(&args).code(0);
    let saved: Value = serde_json::from_str(&d.read("plan.json")).unwrap();
    assert_eq!(saved["format"], "dwb.plan/1");
    assert_eq!(saved["naming_context"], "DC=contoso,DC=test");
    let changes = saved["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 6);
    let create = &changes[0];
    assert_eq!(create["action"], "create");
    assert_eq!(create["expect"]["absent"], true);
    // Values are base64 (exact), not display strings.
    let oc = create["attributes"]["objectClass"][0].as_str().unwrap();
    assert_eq!(oc, "Y29udGFpbmVy", "objectClass: container, base64");
    assert!(changes.iter().any(|c| c["action"] == "acl" && c["edits"][0]["grant"].is_string()));

    let mut p = spawn(&d, &["apply", "plan.json"]);
    p.exp_string("Apply these 6 change(s)? [y/N]").unwrap();
    p.send_line("yes").unwrap();
    p.exp_string("6 of 6 change(s)").unwrap();
    p.exp_eof().unwrap();
    // The demo kept that apply: start it over to apply the plan again.
    d.run(&["demo", "--reset"]).code(0);
    let r = d.run(&["apply", "plan.json", "--format", "json"]);
    let r = r.code(0).json();
    assert_eq!(r["script"], "apply plan.json");
    assert!(r["plan"].as_array().unwrap().iter().all(|c| c["outcome"]["status"] == "applied"));

    let bad = d.write("bad.json", "{\"format\": \"dwb.plan/9\", \"changes\": []}");
    d.run(&["apply", bad.to_str().unwrap()]).code(3).stderr_has("dwb.plan/9");
}

#[test]
fn ctrl_c_at_the_question_ends_at_once_and_a_declined_plan_is_not_listed_again() {
    let d = Dir::new();
    let mut p = spawn(&d, DEMO_PREPARE);
    p.exp_string("Apply these 6 change(s)? [y/N]").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // No Enter: Ctrl-C alone ends the run, with 130, nothing applied.
    p.send_control('c').unwrap();
    p.exp_string("nothing was applied").unwrap();
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        rexpect::process::wait::WaitStatus::Exited(_, code) => assert_eq!(code, 130),
        other => panic!("not an exit: {other:?}"),
    }
    let journal = d.join(".local/dwb/journal/default.jsonl");
    assert!(!journal.exists(), "interrupted, yet journaled");

    let mut p = spawn(&d, DEMO_PREPARE);
    p.exp_string("[y/N]").unwrap();
    p.send_line("n").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("Nothing was applied."), "{rest}");
    // Shown once, at the question: declining does not list the plan again.
    assert!(!rest.contains("CN=Device Registration Configuration"), "the plan twice:\n{rest}");
}

//! Black-box CLI tests: every subcommand and every exit code.

use crate::support::{DEMO_PREPARE, Dir};

#[test]
fn readme_demo_command_plans_the_four_objects() {
    let d = Dir::new();
    let o = d.run(DEMO_PREPARE);
    o.code(0)
        .stderr_has("[demo] no directory configured: using the demo directory (examples/contoso)")
        .stderr_has("nothing real is touched; `dwb demo --reset` starts it over");
    o.stdout_has("connector account: CN=svc-dwb,CN=Users,DC=contoso,DC=test (S-1-5-21-");
    o.stdout_has("Plan: 6 change(s): 4 create, 2 acl");
    o.stdout_has("+ msDS-DeviceLocation: CN=RegisteredDevices,DC=contoso,DC=test");
}

#[test]
fn prepare_is_idempotent() {
    let d = Dir::new();
    d.run(&[DEMO_PREPARE, &["--write-snapshot", "after.ldif"]].concat())
        .code(0)
        .stdout_has("Applied 6 of 6 change(s).");
    assert!(d.read("after.ldif").contains("dn: CN=RegisteredDevices,DC=contoso,DC=test"));
    let again = d.run(&[DEMO_PREPARE, &["--snapshot", "after.ldif", "--format", "json"]].concat());
    again.code(0);
    assert_eq!(again.json()["plan"].as_array().unwrap().len(), 0, "second run must plan nothing");
    d.run(&["run", "verify", "--snapshot", "after.ldif"]).code(0).stdout_has("device location");
}

#[test]
fn help_teaches_kerberos() {
    let d = Dir::new();
    let o = d.run(&["run", "--help"]);
    o.code(0).stdout_has("--ldap-auth <METHOD>").stdout_has("--ldap-spn-host <HOST>");
    o.stdout_has("kinit admin@CONTOSO.COM && dwb run verify").stdout_has("[env: DWB_LDAP_AUTH=]");
    d.run(&["run", "verify", "--ldap-auth", "gssapi"])
        .code(3)
        .stderr_has("[possible values: simple, kerberos]");
}

#[test]
fn verify_exits_1_when_not_prepared() {
    let d = Dir::new();
    d.run(&["run", "verify"])
        .code(1)
        .stdout_has("no DeviceRegistrationService object in the forest");
}

#[test]
fn parameters_are_validated_before_anything_runs() {
    let d = Dir::new();
    d.run(&["run", "prepare"]).code(3).stderr_has("missing required parameter `connector_account`");
    d.run(&[DEMO_PREPARE, &["--param", "domian=contoso.test"]].concat())
        .code(3)
        .stderr_has("did you mean `domain`?");
    d.run(&["run", "prepare", "--param", "connector_account"])
        .code(3)
        .stderr_has("is not KEY=VALUE");
    d.write("typed.rhai", "fn params() { [#{ name: \"count\", type: \"int\", required: true, help: \"how many\" }] }\nprint(params.count + 1);\n");
    d.run(&["run", "typed.rhai", "--param", "count=many"])
        .code(3)
        .stderr_has("parameter `count` must be a whole number, got `many`");
    d.run(&["run", "typed.rhai", "--param", "count=41"]).code(0).stdout_has("42");
}

#[test]
fn unknown_script_and_usage_errors_exit_3() {
    let d = Dir::new();
    d.run(&["run", "nope"]).code(3).stderr_has("standard scripts: prepare.rhai, verify.rhai");
    d.run(&["run"]).code(3);
    d.run(&["frobnicate"]).code(3);
    d.run(&["--help"]).code(0).stdout_has("Exit codes:");
}

#[test]
fn malformed_snapshot_names_the_line() {
    let d = Dir::new();
    d.write("bad.ldif", "dn: DC=contoso,DC=test\nobjectClass: domainDNS\n\ndn: CN=x,DC=contoso,DC=test\nthis line is broken\n");
    d.run(&["run", "verify", "--snapshot", "bad.ldif"])
        .code(3)
        .stderr_has("bad.ldif:5: expected `attribute: value`");
}

#[test]
fn config_errors_suggest_the_key() {
    let d = Dir::new();
    d.write("dwb.toml", "[profiles.lab.ldap]\nurll = \"ldaps://127.0.0.2\"\n");
    d.run(&["run", "verify"]).code(3).stderr_has("dwb.toml:2:1").stderr_has("did you mean `url`?");
    d.write("dwb.toml", "default_profile = \"lab\"\n[profiles.lba]\n");
    d.run(&["run", "verify"]).code(3).stderr_has("no profile `lab`");
}

#[test]
fn secrets_never_come_from_arguments() {
    let d = Dir::new();
    // There is no password flag at all: clap rejects it as unknown.
    d.run(&["run", "verify", "--ldap-password", "hunter2"]).code(3);
    // A user without a password and without a terminal is a config error that names the safe sources.
    let o = d
        .dwb()
        .args([
            "run",
            "verify",
            "--ldap-url",
            "ldaps://127.0.0.1:1",
            "--ldap-user",
            "CONTOSO\\admin",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("DWB_LDAP_PASSWORD"));
}

#[test]
fn check_reports_every_broken_script() {
    let d = Dir::new();
    d.write("good.rhai", "let x = 1;\n");
    d.write("bad1.rhai", "let x = ;\n");
    d.write("bad2.rhai", "import \"dwb/nope\" as n;\n");
    let o = d.run(&["check", "good.rhai", "bad1.rhai", "bad2.rhai", "prepare", "verify"]);
    o.code(2)
        .stdout_has("ok: good.rhai")
        .stdout_has("ok: <embedded>/scripts/prepare.rhai (2 parameter(s))");
    o.stderr_has("bad1.rhai:1:")
        .stderr_has("module `dwb/nope` not found")
        .stderr_has("2 of 5 script(s) have errors");
    d.run(&["check", "good.rhai", "prepare.rhai"]).code(0);
}

#[test]
fn docs_cover_every_binding() {
    let d = Dir::new();
    let md = d.run(&["docs"]);
    md.code(0).stdout_has("### `ad::search(base: Dn|String, filter: Filter|String) -> Array`");
    let json = d.run(&["docs", "--format", "json"]);
    let arr = json.code(0).json();
    let fns = arr.as_array().unwrap();
    assert!(fns.len() > 60, "only {} functions documented", fns.len());
    for f in fns {
        assert!(!f["doc"].as_str().unwrap().trim().is_empty(), "{} has no doc", f["signature"]);
    }
}

#[test]
fn init_writes_a_site_and_never_overwrites() {
    let d = Dir::new();
    d.run(&["init", "site"]).code(0).stdout_has("scripts/prepare.rhai");
    assert!(d.read("site/stdlib/prepare.rhai").contains("fn require_schema"));
    assert!(d.read("site/dwb.toml").contains("[profiles.contoso.ldap]"));
    d.run(&["init", "site"]).code(3).stderr_has("use --force to overwrite");
    d.run(&["init", "site", "--force"]).code(0);
}

#[test]
fn site_copies_win_over_embedded_ones() {
    let d = Dir::new();
    d.run(&["init", "."]).code(0);
    std::fs::remove_file(d.join("dwb.toml")).unwrap();
    // A site's stdlib change is picked up by the standard script.
    let lib = d.read("stdlib/names.rhai").replace("\"RegisteredDevices\"", "\"SiteDevices\"");
    d.write("stdlib/names.rhai", &lib);
    d.run(&["run", "prepare.rhai", "--param", "connector_account=svc-dwb", "--dry-run"])
        .code(0)
        .stdout_has("create  CN=SiteDevices,DC=contoso,DC=test");
}

#[test]
fn scripts_and_completions() {
    let d = Dir::new();
    d.run(&["scripts"])
        .code(0)
        .stdout_has("prepare.rhai")
        .stdout_has("--param connector_account=")
        .stdout_has("(required)");
    d.run(&["completions", "bash"]).code(0).stdout_has("dwb");
}

#[test]
fn ctrl_c_exits_130_and_applies_nothing() {
    let d = Dir::new();
    d.write("spin.rhai", "ad::add(ad::domain_dn().child(\"CN\", \"x\"), #{ objectClass: \"container\" });\nprint(\"started\");\nloop { }\n");
    let mut child = d
        .dwb()
        .args(["run", "spin.rhai", "--write-snapshot", "out.ldif"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 7];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"started");
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!d.join("out.ldif").exists(), "an interrupted run must not write anything");
}

#[test]
fn windows_habits_get_the_dwb_way() {
    let d = Dir::new();
    // A standard script typed as a command: the `dwb run` line to type instead.
    for s in ["sync", "verify", "prepare", "enable"] {
        d.run(&[s, "--dry-run"])
            .code(3)
            .stderr_has(&format!("`{s}` is a standard script, not a command"))
            .stderr_has(&format!("dwb run {s} --dry-run"));
    }
    // `dwb run` alone (options aside) lists the standard scripts, one line each.
    for args in [&["run"][..], &["run", "--format", "text"][..]] {
        let o = d.run(args);
        o.code(3).stderr_has("`dwb run` needs a script");
        for s in ["prepare", "verify", "enable", "sync"] {
            let line = o.stderr.lines().find(|l| l.trim_start().starts_with(&format!("{s} ")));
            assert!(line.is_some_and(|l| l.len() < 100), "{s}: {}", o.stderr);
        }
    }
    // `CONTOSO\svc-dwb` unquoted in bash arrives as `CONTOSOsvc-dwb`: quote it.
    d.run(&["run", "prepare", "--param", "connector_account=CONTOSOsvc-dwb", "--dry-run"])
        .code(2)
        .stderr_has("no account `CONTOSOsvc-dwb`")
        .stderr_has("looks like `CONTOSO\\svc-dwb` with its backslash removed by the shell")
        .stderr_has("quote it, as 'CONTOSO\\svc-dwb'");
}

#[test]
fn output_files_are_checked_before_anything_is_applied_and_apply_keeps_its_snapshot() {
    let d = Dir::new();
    let journal = d.join(".local/dwb/journal/default.jsonl");
    let bad = "/nonexistent/x.ldif";
    d.run(&[DEMO_PREPARE, &["--write-snapshot", bad]].concat())
        .code(3)
        .stderr_has("cannot write --write-snapshot /nonexistent/x.ldif")
        .stderr_has("nothing was planned or applied");
    assert!(!journal.exists(), "refused, yet journaled");
    d.run(&[DEMO_PREPARE, &["--dry-run", "--save-plan", "plan.json"]].concat()).code(0);
    d.run(&["apply", "plan.json", "--write-snapshot", bad]).code(3).stderr_has("/nonexistent");
    d.run(&["undo", "nosuchrun", "--report", "/nonexistent/r.json"]).code(3).stderr_has("--report");
    assert!(!journal.exists(), "refused, yet journaled");
    // The demo keeps what apply changed; --write-snapshot writes it out too.
    let applied = d.run(&["apply", "plan.json"]);
    applied.code(0).stdout_has("Applied 6 of 6 change(s).");
    assert!(!applied.stdout.contains("in-memory"), "the demo is kept:\n{}", applied.stdout);
    d.run(&["demo", "--reset"]).code(0);
    d.run(&["apply", "plan.json", "--write-snapshot", "applied.ldif"])
        .code(0)
        .stdout_has("Applied 6 of 6 change(s).");
    assert!(d.read("applied.ldif").contains("dn: CN=RegisteredDevices,DC=contoso,DC=test"));
    // On a --snapshot file, apply says that only the in-memory copy changed.
    d.run(&["demo", "--reset"]).code(0);
    d.run(&["snapshot", "--out", "demo.ldif"]).code(0);
    let on_file = ["--snapshot", "demo.ldif", "--dry-run", "--save-plan", "file-plan.json"];
    d.run(&[DEMO_PREPARE, &on_file].concat()).code(0);
    d.run(&["apply", "file-plan.json", "--snapshot", "demo.ldif"])
        .code(0)
        .stdout_has("Changed the in-memory copy of");
}

#[test]
fn the_demo_directory_exports_as_a_snapshot() {
    let d = Dir::new();
    d.run(&["snapshot", "--out", "demo.ldif"]).code(0).stderr_has("entries to demo.ldif");
    assert!(d.read("demo.ldif").contains("dn: CN=svc-dwb,CN=Users,DC=contoso,DC=test"));
    // The export is a snapshot dwb runs on, with only the binary.
    d.run(
        &[DEMO_PREPARE, &["--snapshot", "demo.ldif", "--write-snapshot", "prepared.ldif"]].concat(),
    )
    .code(0)
    .stdout_has("Applied 6 of 6 change(s).");
    d.run(&["run", "verify", "--snapshot", "prepared.ldif"]).code(0);
}

#[test]
fn trying_it_without_ad_needs_only_the_binary() {
    let d = Dir::new();
    d.run(&["demo", "demo"]).code(0).stderr_has("wrote demo/devices.json");
    d.run(
        &[
            DEMO_PREPARE,
            &["--snapshot", "demo/directory.ldif", "--write-snapshot", "prepared.ldif"],
        ]
        .concat(),
    )
    .code(0);
    d.run(&[
        "run",
        "sync",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        "demo/devices.json",
        "--write-snapshot",
        "synced.ldif",
    ])
    .code(0)
    .stdout_has("Applied 24 of 24 change(s).");
    d.run(&[
        "run",
        "verify",
        "--param",
        "drift=true",
        "--snapshot",
        "synced.ldif",
        "--devices",
        "demo/devices.json",
    ])
    .code(0);
    // A second time keeps what is there.
    d.run(&["demo", "demo"]).code(0).stderr_has("kept demo/directory.ldif");
}

#[test]
fn undo_and_apply_refuse_another_kind_of_directory_than_the_run_or_plan() {
    let d = Dir::new();
    d.write("unprepared.ldif", &d.read_repo("examples/contoso/directory.ldif"));
    let args = [
        DEMO_PREPARE,
        &["--snapshot", "unprepared.ldif", "--write-snapshot", "prepared.ldif", "--format", "json"],
    ]
    .concat();
    let r = d.run(&args);
    let run_id = r.code(0).json()["run_id"].as_str().unwrap().to_string();
    // Without --snapshot this is the demo, where the run's objects are simply absent.
    let written = d.path().canonicalize().unwrap().join("prepared.ldif");
    d.run(&["undo", &run_id, "--dry-run"]).code(3).stderr_has(&format!(
        "the run changed a snapshot file (snapshot unprepared.ldif (result written to {})); \
         this is the demo",
        written.display()
    ));
    // On the run's result it plans the way back.
    d.run(&["undo", &run_id, "--dry-run", "--snapshot", "prepared.ldif"])
        .code(0)
        .stdout_has("CN=RegisteredDevices,DC=contoso,DC=test");
    // A plan saved from a snapshot file is not applied to the demo either.
    let save =
        [DEMO_PREPARE, &["--snapshot", "unprepared.ldif", "--dry-run", "--save-plan", "p.json"]]
            .concat();
    d.run(&save).code(0);
    d.run(&["apply", "p.json", "--dry-run"])
        .code(3)
        .stderr_has("the plan was made for a snapshot file (snapshot /")
        .stderr_has("/unprepared.ldif); this is the demo");
    d.run(&["apply", "p.json", "--dry-run", "--snapshot", "unprepared.ldif"]).code(0);
}

#[test]
fn undo_and_apply_refuse_another_snapshot_file_than_the_run_or_plan() {
    let d = Dir::new();
    d.run(&["demo", "demo"]).code(0);
    let prepare = ["--snapshot", "demo/directory.ldif", "--write-snapshot", "prepared.ldif"];
    d.run(&[DEMO_PREPARE, &prepare].concat()).code(0);
    fn sync<'a>(more: &[&'a str]) -> Vec<&'a str> {
        let base = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", "demo/devices.json"];
        [&base[..], more].concat()
    }
    let r = d.run(&sync(&["--write-snapshot", "synced.ldif", "--format", "json"]));
    let run_id = r.code(0).json()["run_id"].as_str().unwrap().to_string();
    // The file the sync started from does not hold its devices: refused, naming both.
    d.run(&["undo", &run_id, "--dry-run", "--snapshot", "prepared.ldif"])
        .code(3)
        .stderr_has("the run changed a snapshot file (snapshot prepared.ldif (result written to ")
        .stderr_has("synced.ldif)); this is another one (snapshot prepared.ldif)");
    // The file it wrote does.
    d.run(&["undo", &run_id, "--dry-run", "--snapshot", "synced.ldif"])
        .code(0)
        .stdout_has("Plan: 24 change(s): 24 delete");
    // A plan is applied to the file it was made from, not to another.
    d.run(&sync(&["--dry-run", "--save-plan", "plan.json"])).code(0);
    d.run(&["apply", "plan.json", "--snapshot", "demo/directory.ldif"])
        .code(3)
        .stderr_has("the plan was made for a snapshot file (snapshot /")
        .stderr_has("/prepared.ldif); this is another one (snapshot demo/directory.ldif)");
    d.run(&["apply", "plan.json", "--snapshot", "prepared.ldif", "--write-snapshot", "again.ldif"])
        .code(0)
        .stdout_has("Applied 24 of 24 change(s).");
    // The same file named from elsewhere is the same file.
    std::fs::create_dir(d.join("elsewhere")).unwrap();
    let from_elsewhere = d
        .dwb()
        .current_dir(d.join("elsewhere"))
        .args(["apply", "../plan.json", "--snapshot", "../prepared.ldif", "--dry-run"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&from_elsewhere.stdout);
    let err = String::from_utf8_lossy(&from_elsewhere.stderr);
    assert_eq!(from_elsewhere.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("Plan: 24 change(s)"), "{out}\n{err}");
    // A run on the demo: undone on the demo (it kept the run) or on the file it wrote.
    let r = d.run(
        &[DEMO_PREPARE, &["--write-snapshot", "demo-prepared.ldif", "--format", "json"]].concat(),
    );
    let run_id = r.code(0).json()["run_id"].as_str().unwrap().to_string();
    d.run(&["undo", &run_id, "--dry-run"]).code(0).stdout_has("Plan: 4 change(s): 4 delete");
    d.run(&["undo", &run_id, "--dry-run", "--snapshot", "demo-prepared.ldif"])
        .code(0)
        .stdout_has("Plan: 4 change(s): 4 delete");
    d.run(&["undo", &run_id, "--dry-run", "--snapshot", "prepared.ldif"])
        .code(3)
        .stderr_has("the run changed the demo");
}

#[test]
fn two_runs_at_once_on_the_demo_take_turns() {
    let d = Dir::new();
    let start = || d.dwb().args(DEMO_PREPARE).output().unwrap();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(start);
        let b = s.spawn(start);
        (a.join().unwrap(), b.join().unwrap())
    });
    let outs = [a, b].map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // The second planned from what the first applied, not from the bundled demo.
    let applied = outs.iter().filter(|o| o.contains("Applied 6 of 6 change(s).")).count();
    let nothing = outs.iter().filter(|o| o.contains("the directory already matches")).count();
    assert_eq!((applied, nothing), (1, 1), "{outs:#?}");
    d.run(&["run", "verify"]).code(0);
}

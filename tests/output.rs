//! What dwb prints: JSON reports for usage and configuration errors too, plain
//! tables when the output is not a terminal, errors of dwb's own scripts once
//! and short, every subcommand in `--help`, completions for scripts and keys.

use crate::support::Dir;

#[test]
fn usage_and_config_errors_are_json_reports_too() {
    let d = Dir::new();
    let o = d.run(&["run", "verify", "--format", "json", "--bogus"]);
    let j = o.code(3).json();
    assert_eq!(j["schema"], "dwb.report/1");
    assert_eq!(j["status"], "error");
    assert_eq!(j["exit_code"], 3);
    assert_eq!(j["error"]["code"], "DWB-USAGE-0001");
    assert!(j["error"]["message"].as_str().unwrap().contains("'--bogus'"), "{j}");
    // An unknown parameter, a missing config file: JSON on stdout and in --report.
    let o = d.run(&["run", "verify", "--format", "json", "--report", "r.json", "--param", "x=1"]);
    let j = o.code(3).json();
    assert!(j["error"]["message"].as_str().unwrap().contains("unknown parameter `x`"), "{j}");
    let file: serde_json::Value = serde_json::from_str(&d.read("r.json")).unwrap();
    assert_eq!(file["error"], j["error"]);
    let j = d.run(&["run", "verify", "--config", "nope.toml", "--format=json"]).code(3).json();
    assert_eq!(j["error"]["kind"], "config");
    d.run(&["run", "verify", "--bogus", "--report=u.json"]).code(3);
    let file: serde_json::Value = serde_json::from_str(&d.read("u.json")).unwrap();
    assert_eq!(file["error"]["kind"], "usage");
}

#[test]
fn tables_are_plain_when_piped() {
    let d = Dir::new();
    let o = d.run(&["run", "verify"]);
    o.code(1).stdout_has("registration service");
    for l in o.stdout.lines() {
        assert!(!l.chars().any(|c| ('\u{2500}'..='\u{257f}').contains(&c)), "box drawing: {l}");
        assert!(l.chars().count() <= 120 && !l.ends_with(' '), "{l:?}");
    }
    d.write(
        "t.rhai",
        "print(dwb::table([#{ name: \"a\".pad(300, 'x'), n: 1 }, #{ name: \"b\", n: 2 }]));\n",
    );
    let o = d.dwb().args(["run", "t.rhai"]).env("COLUMNS", "80").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(" name") && !out.contains('│'), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
}

#[test]
fn errors_of_dwbs_own_scripts_are_short() {
    let d = Dir::new();
    d.write("dwb.toml", "default_profile = \"lab\"\n[profiles.lab.writeback]\n");
    let o = d.run(&["run", "enable"]);
    o.code(2);
    let msg = "Active Directory is not prepared for device writeback";
    assert_eq!(o.stderr.matches(msg).count(), 1, "the message once:\n{}", o.stderr);
    o.stderr_has("  hint: run `dwb run prepare` first\n");
    o.stderr_has("  at <embedded>/scripts/enable.rhai:");
    assert!(!o.stderr.contains("╭─["), "no source frame without -v:\n{}", o.stderr);
    let o = d.run(&["run", "enable", "-v"]);
    o.code(2).stderr_has("╭─[<embedded>/scripts/enable.rhai:");
}

#[test]
fn help_lists_every_subcommand_and_completions_know_scripts() {
    let d = Dir::new();
    let help = d.run(&["--help"]);
    help.code(0);
    for c in ["run", "check", "repl", "docs", "init", "scripts", "snapshot", "completions"] {
        assert!(help.stdout.contains(&format!("\n  {c} ")), "`{c}` missing from --help");
    }
    let o = d.run(&["completions", "bash"]);
    o.code(0);
    for word in ["prepare", "verify", "enable", "sync", "connector_account=", "mode=", "drift="] {
        assert!(o.stdout.contains(word), "bash completion lacks {word}");
    }
    let o = d.run(&["completions", "fish"]);
    o.code(0).stdout_has("mode=").stdout_has("sync: <full|delta>");
    // Every subcommand a user sees, with its options; never the packaging one.
    for shell in ["bash", "zsh", "fish"] {
        let o = d.run(&["completions", shell]);
        o.code(0).stdout_has("explain").stdout_has("dry-run").stdout_has("profile");
        assert!(!o.stdout.contains("manpages"), "{shell} completion offers `dwb manpages`");
    }
}

/// The demo's devices, `n` of them: each copy a device of its own (ids and name).
fn many_devices(d: &Dir, n: usize) -> std::path::PathBuf {
    let demo: serde_json::Value =
        serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    let base = demo["value"].as_array().unwrap();
    let devices: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut dev = base[i % base.len()].clone();
            dev["deviceId"] = format!("{i:08x}-1111-4000-8000-{i:012x}").into();
            dev["id"] = format!("{i:08x}-2222-4000-8000-{i:012x}").into();
            dev["displayName"] = format!("PC-{i:05}").into();
            dev
        })
        .collect();
    let text = serde_json::json!({ "value": devices }).to_string();
    d.write("many.json", &text)
}

#[test]
fn a_terminal_plan_of_20000_devices_is_a_screenful() {
    let d = Dir::new();
    d.run(&[crate::support::DEMO_PREPARE, &["--write-snapshot", "prepared.ldif"]].concat()).code(0);
    let devices = many_devices(&d, 20_000);
    let mut cmd = d.dwb();
    cmd.args(["run", "sync", "--dry-run", "--snapshot", "prepared.ldif", "--devices"])
        .arg(&devices)
        .env("TERM", "xterm");
    let mut p = rexpect::session::spawn_command(cmd, Some(300_000)).expect("spawn dwb");
    let out = p.exp_eof().unwrap();
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    let plan_at = lines.iter().position(|l| l.starts_with("Plan (dry run")).expect(&out);
    let counts = lines.iter().position(|l| l.starts_with("Plan: ")).expect(&out);
    assert!(lines[counts].starts_with("Plan: 20000 change(s)"), "{}", lines[counts]);
    assert!(counts - plan_at <= 60, "{} lines of plan:\n{out}", counts - plan_at);
    assert!(lines.len() <= 60 + 10, "{} lines in all:\n{out}", lines.len());
    assert!(out.contains("--all, --format json, or --save-plan FILE"), "{out}");
    // The progress line's rate is read at a glance: whole devices a second.
    assert!(out.contains("mapping devices: "), "{out}");
    let four_decimals = out.split("/s").any(|before| {
        let tail: Vec<char> = before.chars().rev().take(5).collect();
        tail.len() == 5 && tail[..4].iter().all(char::is_ascii_digit) && tail[4] == '.'
    });
    assert!(!four_decimals, "a rate with four decimals:\n{out}");

    // Not a terminal, or --all: every change.
    let o = d.run(&[
        "run",
        "sync",
        "--dry-run",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        devices.to_str().unwrap(),
    ]);
    o.code(0).stdout_has("20000. create");
}

#[test]
fn verbose_logs_are_plain_and_dwbs_own_when_piped() {
    let d = Dir::new();
    let o = d.run(&["run", "verify", "-vv"]);
    assert!(!o.stderr.contains('\u{1b}'), "colour codes into a pipe:\n{}", o.stderr);
    for l in o.stderr.lines().filter(|l| l.contains(" DEBUG ") || l.contains(" INFO ")) {
        assert!(l.contains(" dwb::"), "a library's log line at -vv: {l}");
    }
}

#[test]
fn explain_and_journal_are_plain_and_say_things_once_when_piped() {
    let d = Dir::new();
    d.write("devices.json", &d.read_repo("examples/contoso/devices.json"));
    d.write("unprepared.ldif", &d.read_repo("examples/contoso/directory.ldif"));
    d.run(&[crate::support::DEMO_PREPARE, &["--write-snapshot", "prepared.ldif"]].concat()).code(0);
    let sync = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", "devices.json"];
    d.run(&[&sync[..], &["--write-snapshot", "synced.ldif"]].concat()).code(0);
    let no_boxes = |out: &str| {
        for l in out.lines() {
            assert!(!l.chars().any(|c| ('\u{2500}'..='\u{257f}').contains(&c)), "box: {l}");
        }
    };
    let o = d.run(&["journal"]);
    o.code(0).stdout_has("sync");
    no_boxes(&o.stdout);
    // Run ids are never wrapped: each is whole on its line.
    assert!(
        o.stdout.lines().any(|l| l.trim_start().len() > 22 && l.contains("Z-")),
        "{}",
        o.stdout
    );
    // Nor the header, and dwb's own scripts go by name: lines within 120 columns.
    let header = o.stdout.lines().next().unwrap_or_default();
    for h in ["run id", "directory", "applied", "failed", "unconfirmed"] {
        assert!(header.contains(h), "{h} is not whole in the header:\n{}", o.stdout);
    }
    assert!(o.stdout.lines().any(|l| l.contains("  sync.rhai  ")), "{}", o.stdout);
    assert!(o.stdout.lines().all(|l| l.chars().count() <= 120), "{}", o.stdout);

    let o =
        d.run(&["explain", "LT-000023", "--snapshot", "synced.ldif", "--devices", "devices.json"]);
    o.code(0).stdout_has("In scope:     yes: no `in_scope` hook");
    o.stdout_has("Next sync:    nothing: the object is up to date");
    assert!(!o.stdout.contains("yes: in scope:"), "{}", o.stdout);
    assert!(!o.stdout.contains("none: nothing"), "{}", o.stdout);
    no_boxes(&o.stdout);

    // An error at dwb's own call: code and message once, no source box.
    let o = d.run(&[
        "explain",
        "LT-000023",
        "--snapshot",
        "unprepared.ldif",
        "--devices",
        "devices.json",
    ]);
    o.code(2).stderr_has("error: DWB-AD-0032 (no_such_object): the device container");
    assert_eq!(o.stderr.matches("DWB-AD-0032").count(), 1, "{}", o.stderr);
    assert!(!o.stderr.contains("writeback::explain"), "internal source:\n{}", o.stderr);
    o.stderr_has("hint: run `dwb run prepare` first");
}

#[test]
fn config_type_errors_are_in_the_files_terms() {
    let d = Dir::new();
    d.write(
        "dwb.toml",
        "default_profile = \"lab\"\n[profiles.lab.writeback]\ndelete_threshold = \"x\"\n",
    );
    d.run(&["run", "verify"])
        .code(3)
        .stderr_has("dwb.toml:3:20: delete_threshold must be a whole number, not a string (\"x\")");
}

/// The demo as files, prepared and synced: `synced.ldif` holds the 24 demo devices.
fn synced_demo(d: &Dir) {
    d.run(&["demo", "demo"]).code(0);
    let prepare = ["--snapshot", "demo/directory.ldif", "--write-snapshot", "prepared.ldif"];
    d.run(&[crate::support::DEMO_PREPARE, &prepare].concat()).code(0);
    let sync = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", "demo/devices.json"];
    d.run(&[&sync[..], &["--write-snapshot", "synced.ldif"]].concat()).code(0);
}

#[test]
fn a_modify_shows_each_attribute_old_and_new() {
    let d = Dir::new();
    synced_demo(&d);
    // Someone renamed a device object in AD: the next sync puts Entra's name back.
    let drifted =
        d.read("synced.ldif").replace("\ndisplayName: LT-000023\n", "\ndisplayName: LT-OLD\n");
    d.write("drifted.ldif", &drifted);
    let o = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "drifted.ldif",
        "--devices",
        "demo/devices.json",
        "--dry-run",
    ]);
    o.code(0).stdout_has("~ displayName: LT-OLD → LT-000023\n");
}

#[test]
fn stale_devices_are_a_summary_with_the_rest_in_the_report() {
    let d = Dir::new();
    synced_demo(&d);
    let args = ["run", "verify", "--snapshot", "synced.ldif", "--devices", "demo/devices.json"];
    let o = d.run(&[&args[..], &["--param", "stale_days=1", "--format", "json"]].concat());
    let r = o.code(0).json();
    let stale = r["findings"].as_array().unwrap().iter().find(|f| f["check"] == "stale devices");
    let detail = stale.unwrap()["detail"].as_str().unwrap();
    // Every demo device signed in more than a day ago; ten are named, the rest counted.
    assert!(detail.contains("of 24 device(s) last signed in more than 1 days ago"), "{detail}");
    assert!(detail.contains("… 14 more; ids and dates in the report"), "{detail}");
    assert!(detail.len() < 600, "one giant cell ({} chars): {detail}", detail.len());
    assert_eq!(r["data"]["stale_devices"]["stale"].as_array().unwrap().len(), 24);
}

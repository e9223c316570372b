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
}

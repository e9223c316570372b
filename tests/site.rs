//! A site's own setup: `dwb init` and the command it prints (offline), files
//! named in the config read only when their source is used (errors name the
//! setting and the file), `enable` recording the target once, in the site's
//! spelling, and `verify` without `drift` making no Graph call.

use crate::support::Dir;

/// A directory with `prepared.ldif`: the demo after `prepare`.
fn prepared() -> Dir {
    Dir::prepared()
}

#[test]
fn init_then_its_printed_command_works_offline() {
    let d = Dir::new();
    let o = d.run(&["init", "site"]);
    o.code(0);
    let next = "Next: cd site && dwb run prepare --dry-run \
                --param connector_account='CONTOSO\\svc-dwb'";
    o.stdout_has(next);
    // The printed command, as a shell would split it, in the new directory.
    let o = d
        .dwb()
        .current_dir(d.join("site"))
        .args(["run", "prepare", "--dry-run", "--param", "connector_account=CONTOSO\\svc-dwb"])
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("Plan: 6 change(s): 4 create, 2 acl"), "{out}\n{err}");
    assert!(err.contains("[demo]"), "the demo is announced: {err}");
}

#[test]
fn secret_files_are_read_only_by_the_source_that_needs_them() {
    let d = prepared();
    d.write(
        "dwb.toml",
        "default_profile = \"lab\"\n[profiles.lab.ldap]\nurl = \"ldaps://dc1.contoso.invalid\"\n\
         user = \"CONTOSO\\\\admin\"\npassword_file = \"/nonexistent/ldap-password\"\n\
         [profiles.lab.graph]\ntenant = \"contoso.onmicrosoft.com\"\n\
         client_id = \"00000000-0000-0000-0000-000000000000\"\n\
         client_secret_file = \"/nonexistent/graph-secret\"\n",
    );
    // A snapshot replaces the DC and prepare lists no devices: neither file is read.
    d.run(&[
        "run",
        "prepare",
        "--param",
        "connector_account=svc-dwb",
        "--snapshot",
        "prepared.ldif",
    ])
    .code(0);
    d.run(&["check", "prepare", "sync"]).code(0);
    // The DC is used: the error names the setting and the file.
    let o = d.run(&["run", "verify"]);
    o.code(3).stderr_has(
        "cannot read the secret file /nonexistent/ldap-password (password_file in \
         [profiles.lab.ldap] of dwb.toml)",
    );
    o.stderr_has("DWB_LDAP_PASSWORD");
    // Graph is used: likewise.
    let o = d.run(&["run", "sync", "--snapshot", "prepared.ldif", "--dry-run"]);
    o.code(3).stderr_has(
        "cannot read the secret file /nonexistent/graph-secret (client_secret_file in \
         [profiles.lab.graph] of dwb.toml)",
    );
    // A devices file replaces the tenant: the secret is not needed.
    let devices = d.read_repo("examples/contoso/devices.json");
    d.write("devices.json", &devices);
    d.run(&[
        "run",
        "sync",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        "devices.json",
        "--dry-run",
    ])
    .code(0)
    .stdout_has("24 create");
}

#[test]
fn a_devices_file_that_is_not_json_is_that_files_error() {
    let d = prepared();
    d.write("bad.json", "[1, 2");
    let o = d.run(&["run", "sync", "--snapshot", "prepared.ldif", "--devices", "bad.json"]);
    o.code(3).stderr_has("bad.json (--devices): not valid JSON at line 1");
    // No script frame: the file is at fault, not sync.rhai.
    assert!(!o.stderr.contains("sync.rhai"), "{}", o.stderr);
    d.run(&["run", "sync", "--snapshot", "prepared.ldif", "--devices", "none.json"])
        .code(3)
        .stderr_has("cannot read none.json (--devices)");
}

#[test]
fn enable_needs_a_site_config_and_plans_nothing_the_second_time() {
    let d = prepared();
    // No dwb.toml: refused before anything is read.
    let o = d.run(&["run", "enable", "--snapshot", "prepared.ldif"]);
    o.code(3).stderr_has("DWB-ENABLE-0002").stderr_has("no dwb.toml in use");
    d.write(
        "dwb.toml",
        "default_profile = \"lab\"\n[profiles.lab.writeback]\ndomain = \"contoso.test\" # ours\n",
    );
    let first = d.run(&["run", "enable", "--snapshot", "prepared.ldif", "--format", "json"]);
    let plan = first.code(0).json()["plan"].clone();
    let keys: Vec<&str> =
        plan.as_array().unwrap().iter().map(|c| c["target"].as_str().unwrap()).collect();
    // The domain is already there, in the file's own (DNS) spelling: kept.
    assert_eq!(keys, ["dwb.toml [lab] container", "dwb.toml [lab] forest"], "{plan}");
    let toml = d.read("dwb.toml");
    assert!(toml.contains("domain = \"contoso.test\" # ours"), "{toml}");
    assert!(toml.contains("container = \"CN=RegisteredDevices,DC=contoso,DC=test\""), "{toml}");
    let second = d.run(&["run", "enable", "--snapshot", "prepared.ldif", "--format", "json"]);
    assert_eq!(
        second.code(0).json()["plan"],
        serde_json::json!([]),
        "the second run plans nothing"
    );
    assert_eq!(d.read("dwb.toml"), toml);
}

#[test]
fn enable_shows_the_findings_that_stop_it() {
    let d = Dir::new();
    d.write("dwb.toml", "default_profile = \"lab\"\n[profiles.lab.writeback]\n");
    let o = d.run(&["run", "enable"]);
    o.code(2);
    o.stdout_has("registration service").stdout_has("FAIL").stdout_has("run `dwb run prepare`");
    o.stderr_has("not prepared for device writeback: 1 check(s) failed");
}

#[test]
fn verify_without_drift_makes_no_graph_call() {
    use dwb_graph_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, generate};
    let d = prepared();
    // No Graph settings at all (and a snapshot, so no demo devices): verify passes.
    d.run(&["run", "verify", "--snapshot", "prepared.ldif"]).code(0);
    // A tenant configured: still not one request without `drift`.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start(generate(5, 1))).unwrap();
    let base = emu.base_url().as_str().trim_end_matches('/').to_string();
    let run = |args: &[&str]| {
        d.dwb()
            .args(args)
            .env("DWB_GRAPH_TENANT", emu.tenant_id())
            .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("DWB_GRAPH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("DWB_GRAPH_AUTHORITY", &base)
            .env("DWB_GRAPH_ENDPOINT", &base)
            .output()
            .unwrap()
    };
    let o = run(&["run", "verify", "--snapshot", "prepared.ldif"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(emu.request_log().is_empty(), "requests: {:?}", emu.request_log().len());
    // The same setup with drift does call Graph (so the emulator would have seen it).
    let o = run(&["run", "verify", "--snapshot", "prepared.ldif", "--param", "drift=true"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(emu.graph_request_count() > 0);
}

//! Device writeback on the snapshot directory and the Graph emulator: the sync
//! plan, idempotence, site hooks, the deletion guard, enable, and the graph::
//! module against the real HTTP client. (Against a real DC: `samba::sync`.)

use crate::support::Dir;

/// The bundled demo export, given explicitly: a snapshot never falls back to it.
const DEMO_DEVICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/contoso/devices.json");

/// A prepared demo directory in `prepared.ldif`.
fn prepared() -> Dir {
    Dir::prepared()
}

#[test]
fn demo_sync_creates_then_plans_nothing() {
    let d = prepared();
    let o = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        DEMO_DEVICES,
        "--write-snapshot",
        "synced.ldif",
        "--format",
        "json",
    ]);
    o.code(0);
    let j = o.json();
    assert_eq!(j["data"]["sync"]["creates"], 24);
    let plan = j["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 24);
    let first = &plan[0];
    assert!(
        first["target"].as_str().unwrap().ends_with(",CN=RegisteredDevices,DC=contoso,DC=test")
    );
    assert_eq!(first["attributes"]["adminDescription"][0], "dwb-writeback");
    assert!(
        first["attributes"]["altSecurityIdentities"][0]
            .as_str()
            .unwrap()
            .starts_with("X509:<SHA1-TP-PUBKEY>")
    );
    // Hostile display names are stored verbatim.
    let names: Vec<&str> =
        plan.iter().filter_map(|c| c["attributes"]["displayName"][0].as_str()).collect();
    assert!(names.contains(&"*)(objectClass=*") && names.contains(&",CN=Admins"), "{names:?}");
    let again = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "synced.ldif",
        "--devices",
        DEMO_DEVICES,
        "--format",
        "json",
    ]);
    assert_eq!(
        again.code(0).json()["plan"].as_array().unwrap().len(),
        0,
        "a no-change resync writes nothing"
    );
    d.run(&[
        "run",
        "verify",
        "--param",
        "drift=true",
        "--snapshot",
        "synced.ldif",
        "--devices",
        DEMO_DEVICES,
    ])
    .code(0)
    .stdout_has("drift: devices missing from AD");
    d.run(&[
        "run",
        "verify",
        "--param",
        "drift=true",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        DEMO_DEVICES,
    ])
    .code(1)
    .stdout_has("24 device(s) in scope are not in the container");
}

/// `dwb init site` with these hooks in `site/stdlib/site.rhai`.
fn site_with_hooks(d: &Dir, hooks: &str) {
    d.run(&["init", "site"]).code(0);
    let site = d.read("site/stdlib/site.rhai") + hooks;
    d.write("site/stdlib/site.rhai", &site);
}

#[test]
fn site_hooks_change_scope_and_mapping() {
    let d = prepared();
    site_with_hooks(
        &d,
        "\nimport \"dwb/names\" as names;\n\
         fn in_scope(device) { names::drc_name() != \"\" && device.operatingSystem == \"Windows\" }\n\
         fn map_device(device, attrs) { attrs[\"msDS-DeviceOSVersion\"] = \"site-\" + device.operatingSystemVersion; attrs }\n",
    );
    let o = d.run(&[
        "run",
        "site/scripts/sync.rhai",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        DEMO_DEVICES,
        "--write-snapshot",
        "synced.ldif",
        "--format",
        "json",
    ]);
    let j = o.code(0).json();
    let plan = j["plan"].as_array().unwrap();
    assert!(!plan.is_empty() && plan.len() < 24, "in_scope must narrow the plan: {}", plan.len());
    for c in plan {
        assert!(c["attributes"]["msDS-DeviceOSType"][0] == "Windows");
        assert!(c["attributes"]["msDS-DeviceOSVersion"][0].as_str().unwrap().starts_with("site-"));
    }
    // verify's drift check reads the same hooks: no drift right after the sync.
    d.run(&[
        "run",
        "site/scripts/verify.rhai",
        "--param",
        "drift=true",
        "--snapshot",
        "synced.ldif",
        "--devices",
        DEMO_DEVICES,
    ])
    .code(0)
    .stdout_has("drift: devices missing from AD");
}

#[test]
fn a_hook_of_the_wrong_type_stops_the_run_naming_hook_device_and_type() {
    let run = |hooks: &str| {
        let d = prepared();
        site_with_hooks(&d, hooks);
        let o = d.run(&[
            "run",
            "site/scripts/sync.rhai",
            "--snapshot",
            "prepared.ldif",
            "--devices",
            DEMO_DEVICES,
            "--write-snapshot",
            "after.ldif",
        ]);
        assert!(!d.join("after.ldif").exists() || d.read("after.ldif") == d.read("prepared.ldif"));
        assert!(!o.stdout.contains("Applied"), "nothing is applied:\n{}", o.stdout);
        o
    };
    run("\nfn in_scope(device) { \"Windows\" }\n")
        .code(2)
        .stderr_has("the site hook `in_scope` returned string (Windows) for device ")
        .stderr_has("it must return true or false");
    // A misspelt property is an error, not "out of scope".
    run("\nfn in_scope(device) { device.TrustType == \"AzureAd\" }\n")
        .code(2)
        .stderr_has("the site hook `in_scope` failed for device")
        .stderr_has("TrustType");
    run("\nfn map_device(device, attrs) { 42 }\n")
        .code(2)
        .stderr_has("the site hook `map_device` returned i64 (42)");
    run("\nfn map_device(device, attrs) { attrs.displayName = #{ x: 1 }; attrs }\n")
        .code(2)
        .stderr_has("returned a bad `displayName`");
    run("\nfn in_scope() { true }\n").code(2).stderr_has("it must be `fn in_scope(device)`");
    // Hooks outside the site module would be invisible to verify: refused.
    let d = prepared();
    d.run(&["init", "site"]).code(0);
    let sync = d.read("site/scripts/sync.rhai") + "\nfn in_scope(device) { true }\n";
    d.write("site/scripts/sync.rhai", &sync);
    d.run(&[
        "run",
        "site/scripts/sync.rhai",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        DEMO_DEVICES,
    ])
    .code(2)
    .stderr_has("site hooks live in the site module stdlib/site.rhai");
}

#[test]
fn deletes_are_guarded_and_limited_to_owned_objects() {
    let d = prepared();
    d.run(&[
        "run",
        "sync",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        DEMO_DEVICES,
        "--write-snapshot",
        "synced.ldif",
        "-q",
    ])
    .code(0);
    // Objects dwb does not own: no anchor, and another writer's anchored object.
    d.write("others.rhai", r#"
let c = ad::domain_dn().child("CN", "RegisteredDevices");
ad::add(c.child("CN", "adfs-device"), #{ objectClass: "msDS-Device", displayName: "AD FS", "msDS-IsEnabled": true,
    "msDS-DeviceID": ad::guid("11111111-2222-3333-4444-555555555555"), altSecurityIdentities: "X509:<SHA1-TP-PUBKEY>x" });
ad::add(c.child("CN", "connect-device"), #{ objectClass: "msDS-Device", displayName: "Connect", "msDS-IsEnabled": true,
    "msDS-DeviceID": ad::guid("11111111-2222-3333-4444-666666666666"), altSecurityIdentities: "X509:<SHA1-TP-PUBKEY>y",
    "msDS-CloudAnchor": "Device_00000000-0000-0000-0000-00000000abcd".to_blob() });
"#);
    d.run(&[
        "run",
        "others.rhai",
        "--snapshot",
        "synced.ldif",
        "--write-snapshot",
        "mixed.ldif",
        "-q",
    ])
    .code(0);
    // An empty source never turns into "delete everything".
    d.write("empty.json", "{\"value\": []}");
    d.run(&["run", "sync", "--snapshot", "mixed.ldif", "--devices", "empty.json"])
        .code(2)
        .stderr_has("refusing to treat that as \"delete everything\"");
    // Above the threshold nothing is deleted.
    let all: serde_json::Value =
        serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    let few: Vec<serde_json::Value> =
        all["value"].as_array().unwrap().iter().take(4).cloned().collect();
    d.write("few.json", &serde_json::json!({ "value": few }).to_string());
    let o = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "mixed.ldif",
        "--devices",
        "few.json",
        "--param",
        "delete_threshold=5",
    ]);
    o.code(2)
        .stderr_has("20 device objects would be deleted, more than the deletion threshold of 5");
    // Within the threshold only owned objects go; the others survive, and verify warns about the foreign one.
    let o = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "mixed.ldif",
        "--devices",
        "few.json",
        "--param",
        "delete_threshold=50",
        "--param",
        "delete_threshold_percent=100",
        "--write-snapshot",
        "after.ldif",
        "--format",
        "json",
    ]);
    let j = o.code(0).json();
    assert_eq!(j["data"]["sync"]["deletes"], 20);
    assert_eq!(j["data"]["sync"]["foreign_objects"], 1);
    let after = d.read("after.ldif");
    assert!(after.contains("CN=adfs-device,") && after.contains("CN=connect-device,"));
    d.run(&["run", "verify", "--snapshot", "after.ldif"]).code(0).stdout_has("coexistence");
}

#[test]
fn enable_records_the_target_in_the_profile() {
    let d = prepared();
    d.write("dwb.toml", "# site settings\ndefault_profile = \"lab\"\n\n[profiles.lab.writeback]\ndelete_threshold = 500 # Entra Connect's default\n");
    d.run(&["run", "enable", "--snapshot", "prepared.ldif"]).code(0);
    let toml = d.read("dwb.toml");
    assert!(toml.contains("container = \"CN=RegisteredDevices,DC=contoso,DC=test\""), "{toml}");
    assert!(
        toml.contains("domain = \"DC=contoso,DC=test\"")
            && toml.contains("# Entra Connect's default"),
        "{toml}"
    );
    // Not prepared: enable refuses (the demo kept prepared()'s run: started over).
    d.run(&["demo", "--reset"]).code(0);
    d.run(&["run", "enable"]).code(2).stderr_has("not prepared");
}

#[test]
fn graph_module_against_the_emulator() {
    use dwb_graph_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, generate};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start(generate(1200, 5))).unwrap();
    let base = emu.base_url().as_str().trim_end_matches('/').to_string();
    let d = Dir::new();
    d.write(
        "g.rhai",
        r#"
print(graph::source());
let all = graph::list_devices();
print(`count=${all.len()}`);
let one = graph::get_device(all[0].deviceId);
print(`same=${one.id == all[0].id}`);
print(`owners=${type_of(graph::device_owners(all[0].id))}`);
try { graph::set_device_writeback(true); } catch (e) { print(`kind=${e.kind} code=${e.code}`); }
"#,
    );
    let o = d
        .dwb()
        .args(["run", "g.rhai"])
        .env("DWB_GRAPH_TENANT", emu.tenant_id())
        .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
        .env("DWB_GRAPH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env("DWB_GRAPH_AUTHORITY", &base)
        .env("DWB_GRAPH_ENDPOINT", &base)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("count=1200") && out.contains("same=true") && out.contains("owners=array"),
        "{out}"
    );
    assert!(out.contains("kind=graph code=DWB-GRAPH-0021"), "{out}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains(DEFAULT_CLIENT_SECRET),
        "the secret must never be printed"
    );
}

/// The demo export with one device renamed (a hostile value a reviewer must not be fooled by).
fn devices_with_name(d: &Dir, name: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    v["value"][0]["displayName"] = serde_json::Value::String(name.into());
    d.write("devices.json", &v.to_string()).display().to_string()
}

#[test]
fn the_text_plan_cannot_be_spoofed_by_a_device_name() {
    let d = prepared();
    let evil = "evil\nchangetype: delete\ndn: CN=Administrator,CN=Users,DC=contoso,DC=test\r\n\
                \u{0}nul \u{202e}txt.exe \u{1b}[2J";
    let devices = devices_with_name(&d, evil);
    let args = ["run", "sync", "--snapshot", "prepared.ldif", "--devices", &devices, "--dry-run"];
    let o = d.run(&args);
    o.code(0);
    for line in o.stdout.lines() {
        assert!(!line.starts_with("changetype:"), "a value started a line: {line:?}");
        assert!(!line.trim_start().starts_with("dn: CN=Administrator"), "{line:?}");
        assert!(!line.contains('\u{202e}') && !line.contains('\0') && !line.contains('\u{1b}'));
    }
    o.stdout_has("evil\\nchangetype: delete\\ndn: CN=Administrator")
        .stdout_has("\\u{202e}txt.exe")
        .stdout_has("\\0nul");
    // JSON and LDIF keep the value exact.
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json", "--save-plan", "plan.ldif"]);
    let j = d.run(&json_args).code(0).json();
    let names: Vec<&str> = j["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["attributes"]["displayName"][0].as_str())
        .collect();
    assert!(names.contains(&evil), "the JSON plan keeps the exact name");
    let ldif = d.read("plan.ldif");
    assert!(ldif.lines().all(|l| !l.starts_with("changetype: delete")), "{ldif}");
    let records = dwb::directory::ldif::parse(&ldif, "plan.ldif");
    assert!(records.is_ok(), "the LDIF plan parses: {records:?}");
}

#[test]
fn a_snapshot_or_a_live_dc_never_falls_back_to_the_demo_devices() {
    let d = prepared();
    let o = d.run(&["run", "sync", "--snapshot", "prepared.ldif", "--format", "json", "-q"]);
    o.code(3).stderr_has("no device source is configured").stderr_has("DWB_GRAPH_TENANT");
    let j = o.json();
    assert_eq!(j["plan"].as_array().unwrap().len(), 0);
    assert_eq!(j["sources"]["devices"], "none");
    assert_eq!(j["sources"]["directory"], "snapshot prepared.ldif");
    // A half-configured tenant is named, not replaced by the demo.
    let o = d
        .dwb()
        .env("DWB_GRAPH_TENANT", "contoso.onmicrosoft.com")
        .args(["run", "sync", "--snapshot", "prepared.ldif", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("only partly configured") && err.contains("DWB_GRAPH_CLIENT_ID"), "{err}");
    assert!(!err.contains("[demo]"), "{err}");
    // Nothing configured at all: the demo pair, announced even with -q and JSON.
    d.write("sources.rhai", "print(graph::source()); print(ad::domain_dn());\n");
    let o = d.run(&["run", "sources.rhai", "-q", "--format", "json"]);
    o.code(0).stderr_has("[demo] no directory configured").stderr_has("[demo] no Graph tenant");
    assert_eq!(o.json()["sources"]["devices"], "demo examples/contoso/devices.json");
}

#[test]
fn a_guard_refuses_the_whole_plan_and_a_dry_run_still_shows_it() {
    let d = prepared();
    let synced = ["--snapshot", "prepared.ldif", "--devices", DEMO_DEVICES];
    d.run(&[&["run", "sync"][..], &synced, &["--write-snapshot", "synced.ldif", "-q"]].concat())
        .code(0);
    let owned = 24; // every demo device is written back
    // Seven devices gone from Entra: 29% of what dwb owns, above the default 25%.
    let all: serde_json::Value =
        serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    let mut keep = all.clone();
    let gone: Vec<serde_json::Value> = {
        let v = keep["value"].as_array_mut().unwrap();
        let keyed: Vec<usize> = (0..v.len())
            .filter(|i| v[*i]["alternativeSecurityIds"].as_array().is_some_and(|a| !a.is_empty()))
            .collect();
        keyed.iter().take(7).rev().map(|i| v.remove(*i)).collect()
    };
    d.write("fewer.json", &keep.to_string());
    let args = ["run", "sync", "--snapshot", "synced.ldif", "--devices", "fewer.json"];
    let dry = d.run(&[&args[..], &["--dry-run"]].concat());
    dry.code(2)
        .stdout_has("Plan (dry run: nothing was changed)")
        .stdout_has("REFUSED by the delete_threshold_percent guard (7 change(s))")
        .stderr_has(&format!("7 of the {owned} device objects dwb owns"))
        .stderr_has("delete_threshold_percent=N");
    assert_eq!(dry.stdout.matches(" delete  CN=").count(), gone.len(), "the full plan is shown");
    // Applied for real: refused before any change, the snapshot unchanged.
    let o = d.run(&[&args[..], &["--format", "json", "--write-snapshot", "after.ldif"]].concat());
    let j = o.code(2).json();
    assert_eq!(j["status"], "refused");
    assert_eq!(j["applied"], false);
    assert_eq!(j["refusals"][0]["guard"], "delete_threshold_percent");
    assert_eq!(j["refusals"][0]["changes"].as_array().unwrap().len(), 7);
    assert_eq!(d.read("after.ldif"), d.read("synced.ldif"), "nothing was changed");
    // Within the share (or with the share raised) the deletes go.
    let o = d.run(
        &[&args[..], &["--param", "delete_threshold_percent=30", "--format", "json"]].concat(),
    );
    assert_eq!(o.code(0).json()["data"]["sync"]["deletes"], 7);
    // The profile's [writeback] settings are the defaults.
    d.write("dwb.toml", "[profiles.site.writeback]\ndelete_threshold_percent = 30\n");
    let o = d.run(&[&args[..], &["--profile", "site", "--dry-run"]].concat());
    o.code(0);
    let o = d.run(
        &[&args[..], &["--profile", "site", "--param", "delete_threshold=5", "--dry-run"]].concat(),
    );
    o.code(2).stderr_has("more than the deletion threshold of 5");
}

#[test]
fn skipped_devices_are_summarised_not_flooded() {
    let d = prepared();
    let mut v: serde_json::Value =
        serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    for dev in v["value"].as_array_mut().unwrap().iter_mut().take(10) {
        dev["alternativeSecurityIds"] = serde_json::json!([]);
    }
    d.write("keyless.json", &v.to_string());
    let args =
        ["run", "sync", "--snapshot", "prepared.ldif", "--devices", "keyless.json", "--dry-run"];
    let o = d.run(&args);
    o.code(0);
    let lines: Vec<&str> = o.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(lines.len(), 1, "one line for ten keyless devices:\n{}", o.stderr);
    assert!(
        lines[0].contains("10 device(s) skipped") && lines[0].contains("and 7 more"),
        "{lines:?}"
    );
    assert!(!o.stdout.contains("warning:"), "not printed twice:\n{}", o.stdout);
    // Each shown by the name an administrator knows, with its id beside it.
    let first = &v["value"][0];
    let (name, id) = (first["displayName"].as_str().unwrap(), first["id"].as_str().unwrap());
    assert!(lines[0].contains(&format!("{name} ({id})")), "{lines:?}");
    // -q silences them; the JSON report still lists every device, with its name.
    let q = d.run(&[&args[..], &["-q", "--format", "json"]].concat());
    assert!(!q.code(0).stderr.contains("warning:"), "{}", q.stderr);
    let skipped = q.json()["data"]["sync"]["skipped_devices"].as_array().unwrap().clone();
    assert_eq!(skipped.len(), 10);
    let names: Vec<&str> = skipped.iter().filter_map(|s| s["name"].as_str()).collect();
    assert!(names.contains(&name), "{skipped:?}");
}

//! Device writeback on the snapshot directory and the Graph emulator: the sync
//! plan, idempotence, site hooks, the deletion guard, enable, and the graph::
//! module against the real HTTP client. (Against a real DC: `samba::sync`.)

use crate::support::Dir;

/// A prepared demo directory in `prepared.ldif`.
fn prepared() -> Dir {
    let d = Dir::new();
    d.run(&[
        "run",
        "prepare",
        "--param",
        "connector_account=svc-dwb",
        "--write-snapshot",
        "prepared.ldif",
        "-q",
    ])
    .code(0);
    d
}

#[test]
fn demo_sync_creates_then_plans_nothing() {
    let d = prepared();
    let o = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "prepared.ldif",
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
    let again = d.run(&["run", "sync", "--snapshot", "synced.ldif", "--format", "json"]);
    assert_eq!(
        again.code(0).json()["plan"].as_array().unwrap().len(),
        0,
        "a no-change resync writes nothing"
    );
    d.run(&["run", "verify", "--param", "drift=true", "--snapshot", "synced.ldif"])
        .code(0)
        .stdout_has("drift: devices missing from AD");
    d.run(&["run", "verify", "--param", "drift=true", "--snapshot", "prepared.ldif"])
        .code(1)
        .stdout_has("24 device(s) in scope are not in the container");
}

#[test]
fn site_hooks_change_scope_and_mapping() {
    let d = prepared();
    d.run(&["init", "site"]).code(0);
    let sync = d.read("site/scripts/sync.rhai")
        + "\nfn in_scope(device) { device.operatingSystem == \"Windows\" }\nfn map_device(device, attrs) { attrs[\"msDS-DeviceOSVersion\"] = \"site-\" + device.operatingSystemVersion; attrs }\n";
    d.write("site/scripts/sync.rhai", &sync);
    let o = d.run(&[
        "run",
        "site/scripts/sync.rhai",
        "--snapshot",
        "prepared.ldif",
        "--dry-run",
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
}

#[test]
fn deletes_are_guarded_and_limited_to_owned_objects() {
    let d = prepared();
    d.run(&["run", "sync", "--snapshot", "prepared.ldif", "--write-snapshot", "synced.ldif", "-q"])
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
    // Not prepared: enable refuses.
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

//! Entra data dwb did not choose, offline (the demo directory and an edited
//! export): deviceIds spelled in upper case or in braces, two devices with one
//! deviceId. `explain` agrees with what the sync did, and the sync's warning
//! names the cause a user can act on.

use serde_json::Value;

use crate::support::Dir;

/// The demo export with `edit` applied to its device list, as `devices.json`.
fn devices(d: &Dir, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut all: Value =
        serde_json::from_str(&d.read_repo("examples/contoso/devices.json")).unwrap();
    edit(all["value"].as_array_mut().unwrap());
    d.write("devices.json", &all.to_string());
}

fn sync(d: &Dir, snapshot: &str) -> crate::support::Out {
    d.run(&[
        "run",
        "sync",
        "--snapshot",
        snapshot,
        "--devices",
        "devices.json",
        "--write-snapshot",
        "synced.ldif",
    ])
}

#[test]
fn explain_finds_a_device_whose_device_id_is_in_braces_as_the_sync_does() {
    let d = Dir::prepared();
    let mut device_id = String::new();
    let mut name = String::new();
    devices(&d, |v| {
        device_id = v[1]["deviceId"].as_str().unwrap().to_ascii_lowercase();
        name = v[1]["displayName"].as_str().unwrap().to_string();
        v[1]["deviceId"] = format!("{{{}}}", device_id.to_ascii_uppercase()).into();
    });
    sync(&d, "prepared.ldif").code(0);
    // The sync wrote it at CN=<deviceId>: a second sync leaves it alone.
    let again = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "synced.ldif",
        "--devices",
        "devices.json",
        "--dry-run",
    ]);
    again.code(0).stdout_has("No changes");

    // Asked by the deviceId in any spelling, explain names the device and
    // says what the sync does: nothing (never "its device is gone").
    let braces = format!("{{{}}}", device_id.to_ascii_uppercase());
    for q in [device_id.as_str(), braces.as_str()] {
        let o = d.run(&["explain", q, "--snapshot", "synced.ldif", "--devices", "devices.json"]);
        o.code(0).stdout_has(&format!("Entra device: {name} "));
        o.stdout_has("Next sync:    nothing: the object is up to date");
        assert!(!o.stdout.contains("deletes the object"), "{q}:\n{}", o.stdout);
    }
}

#[test]
fn two_devices_with_one_device_id_are_reported_as_such() {
    let d = Dir::prepared();
    let mut names = Vec::new();
    devices(&d, |v| {
        v[3]["deviceId"] = v[2]["deviceId"].clone();
        names = vec![v[2]["displayName"].clone(), v[3]["displayName"].clone()];
    });
    let o = sync(&d, "prepared.ldif");
    o.code(0);
    // Neither is written; the warning says why in terms of Entra ID, and does
    // not claim an object in AD that is not there.
    let line = o
        .stderr
        .lines()
        .find(|l| l.contains("2 device(s) skipped"))
        .unwrap_or_else(|| panic!("no skip warning:\n{}", o.stderr));
    for n in &names {
        assert!(line.contains(n.as_str().unwrap()), "{line}");
    }
    assert!(line.contains("another device's too (in Entra ID"), "{line}");
    assert!(!line.contains("an object with the same msDS-DeviceID and another anchor"), "{line}");
}

/// A device object as another tool exports it: no `distinguishedName`,
/// `objectGUID` or `name` lines (AD constructs them), dwb's anchor and marker.
fn hand_made_device(n: u8) -> (String, String) {
    use base64::Engine as _;
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let cn = format!("0000000{n}-1111-4222-8333-444444444444");
    let dn = format!("CN={cn},CN=RegisteredDevices,DC=contoso,DC=test");
    let ldif = format!(
        "dn: {dn}\nobjectClass: top\nobjectClass: msDS-Device\ncn: {cn}\n\
         msDS-DeviceID:: {}\ndisplayName: hand-made {n}\n\
         altSecurityIdentities: X509:<SHA1-TP-PUBKEY>{}abc=\nmsDS-IsEnabled: TRUE\n\
         msDS-CloudAnchor:: {}\nadminDescription: dwb-writeback\n",
        b64(&[n; 16]),
        "AB".repeat(20),
        b64(format!("Device_0000000{n}-aaaa-4bbb-8ccc-dddddddddddd").as_bytes()),
    );
    (dn, ldif)
}

#[test]
fn retire_deletes_objects_whose_export_has_no_distinguished_name_line() {
    let d = Dir::prepared();
    let mut text = d.read("prepared.ldif");
    let mut dns = Vec::new();
    for n in 1..=2 {
        let (dn, ldif) = hand_made_device(n);
        text.push_str(&format!("\n{ldif}"));
        dns.push(dn);
    }
    d.write("foreign.ldif", &text);
    let o = d.run(&[
        "run",
        "retire",
        "--snapshot",
        "foreign.ldif",
        "--param",
        "confirm_all=true",
        "--write-snapshot",
        "retired.ldif",
    ]);
    o.code(0);
    // Deleted, not "already gone" while still there.
    assert!(!o.stdout.contains("already gone"), "{}", o.stdout);
    let after = d.read("retired.ldif");
    for dn in &dns {
        let first = &dn[..40];
        assert!(!after.contains(first), "{dn} is still in the result:\n{}", o.stdout);
    }
}

/// The LDIF record of `dn` in `ldif` (continuation lines joined).
fn record(ldif: &str, dn: &str) -> String {
    let joined = ldif.replace("\n ", "");
    joined
        .split("\n\n")
        .find(|r| r.lines().next().is_some_and(|l| l.eq_ignore_ascii_case(&format!("dn: {dn}"))))
        .unwrap_or_else(|| panic!("no {dn} in the snapshot"))
        .to_string()
}

#[test]
fn an_owner_sid_that_is_not_a_sid_skips_the_device_and_keeps_its_owner() {
    let d = Dir::prepared();
    // svc-dwb, a user of the demo domain.
    let sid = "S-1-5-21-3651501729-163766517-147658709-1103";
    let owner = |sid: &str| {
        serde_json::json!([{ "@odata.type": "#microsoft.graph.user", "id": "u1",
                             "onPremisesSecurityIdentifier": sid }])
    };
    let mut dn = String::new();
    devices(&d, |v| {
        v[0]["registeredOwners"] = owner(sid);
        dn = format!(
            "CN={},CN=RegisteredDevices,DC=contoso,DC=test",
            v[0]["deviceId"].as_str().unwrap()
        );
    });
    sync(&d, "prepared.ldif").code(0);
    assert!(record(&d.read("synced.ldif"), &dn).contains("msDS-RegisteredOwner"));
    std::fs::rename(d.join("synced.ldif"), d.join("owned.ldif")).unwrap();

    // Graph now sends garbage for the owner's SID: the device is reported,
    // and its object keeps the owner it has (nothing says it changed).
    devices(&d, |v| v[0]["registeredOwners"] = owner("S-1-bogus\n"));
    let o = sync(&d, "owned.ldif");
    o.code(0).stderr_has("onPremisesSecurityIdentifier is not a SID: S-1-bogus\\n");
    assert!(!o.stdout.contains("msDS-RegisteredOwner"), "{}", o.stdout);
    assert!(record(&d.read("synced.ldif"), &dn).contains("msDS-RegisteredOwner"));
}

#[test]
fn explain_of_a_dn_that_is_not_a_device_object_says_so() {
    let d = Dir::prepared();
    let mut text = d.read("prepared.ldif");
    let dn = "CN=Notes,CN=RegisteredDevices,DC=contoso,DC=test";
    text.push_str(&format!("\ndn: {dn}\nobjectClass: top\nobjectClass: container\ncn: Notes\n"));
    d.write("notes.ldif", &text);
    devices(&d, |_| {});
    let o = d.run(&["explain", dn, "--snapshot", "notes.ldif", "--devices", "devices.json"]);
    o.code(3).stderr_has(&format!("{dn} is not a device object (objectClass container)"));
    assert!(!o.stderr.contains("no object for it"), "{}", o.stderr);
}

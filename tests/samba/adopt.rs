//! Taking over from Entra Connect (`dwb run adopt`), black box: a container
//! seeded as Connect would leave it — objects written with `ldapadd` by another
//! account (the connector), anchored, without dwb's marker — in each of the
//! forms nobody documents: anchors in UTF-16LE with the owner SID as text (and
//! upper-case RDNs), anchors in UTF-8 with the owner SID binary. Next to them an
//! object whose device is gone from Entra ID and an AD FS-style registration
//! without an anchor. Results read back with `ldapsearch`, parsed here.
//!
//! - the adoption plan creates and deletes nothing, touches no anchor, owner or
//!   msDS-DeviceID equal in meaning, and shows each difference with Connect's
//!   value beside Entra's; the gone object is listed and gets dwb's marker only;
//! - after the adoption a sync plans nothing for the adopted objects and
//!   deletes the gone one, under the deletion guards (refused above them);
//! - `dwb undo` returns every object to the seeded bytes exactly;
//! - `sync --param take_over=true` marks the gone object the same way;
//! - a device that had no object is created in the container's own forms;
//! - a second account changing an adopted object's displayName between rounds
//!   is reverted once, then reported ("another writer … keeps changing") with
//!   exit 4 and not reverted again; verify names the attribute and the time.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dwb_graph_emulator::{DEFAULT_TENANT_ID, EmulatorState};
use serde_json::{Value, json};

use super::sync::{
    CONTAINER, Lab, by_dn, new_device, plan, sid_text, warnings, with_action, writes,
};

const DOMAIN: &str = "DC=contoso,DC=test";
const MARKER: &str = "dwb-writeback";

/// The forms the seeded container uses.
#[derive(Clone, Copy)]
struct Forms {
    utf16_anchor: bool,
    text_owner: bool,
    upper_rdn: bool,
}

fn anchor(id: &str, f: Forms) -> Vec<u8> {
    let s = format!("Device_{id}");
    if f.utf16_anchor {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    } else {
        s.into_bytes()
    }
}

/// A second account with the rights Connect's `MSOL_…` account has (here:
/// Domain Admins), and its bind DN and password.
fn connector(lab: &Lab) -> (String, String) {
    let n = lab.dc.unique_name("c").rsplit('-').next().unwrap_or("0").to_string();
    let name = format!("MSOL_{n}");
    let password = format!("Conn3ctor!{n}");
    lab.dc.samba_tool_as_admin(&["user", "create", &name, &password]);
    lab.dc.samba_tool_as_admin(&["group", "addmembers", "Domain Admins", &name]);
    (format!("CN={name},CN=Users,{DOMAIN}"), password)
}

/// `ldapadd` as that account.
fn ldapadd_as(lab: &Lab, who: &(String, String), ldif: &str) {
    ldap_as(lab, "ldapadd", who, ldif);
}

/// `tool` (ldapadd, ldapmodify) as that account.
fn ldap_as(lab: &Lab, tool: &str, who: &(String, String), ldif: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(tool)
        .env("LDAPTLS_CACERT", lab.dc.ca_file())
        .args(["-x", "-H", &lab.dc.url_ldaps(), "-D", &who.0, "-w", &who.1])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ldapadd failed: {}\n{ldif}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The type-2 key of a device JSON as altSecurityIdentities text.
fn key_text(d: &Value) -> String {
    let raw = STANDARD.decode(d["alternativeSecurityIds"][0]["key"].as_str().unwrap()).unwrap();
    let units: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16(&units).unwrap()
}

fn device_id_bytes(device_id: &str) -> Vec<u8> {
    uuid::Uuid::parse_str(device_id).unwrap().to_bytes_le().to_vec()
}

/// A Connect-shaped object for a device JSON: what Connect writes (no
/// msDS-ApproximateLastLogonTimeStamp, no msDS-DeviceTrustType), no marker.
fn connect_ldif(d: &Value, name: &str, owner: Option<&[u8]>, f: Forms) -> (String, String) {
    let device_id = d["deviceId"].as_str().unwrap();
    let rdn = if f.upper_rdn { device_id.to_ascii_uppercase() } else { device_id.to_string() };
    let dn = format!("CN={rdn},{CONTAINER}");
    let mut l = format!(
        "dn: {dn}\nobjectClass: msDS-Device\ndisplayName: {name}\nmsDS-DeviceID:: {}\n\
         altSecurityIdentities: {}\nmsDS-IsEnabled: TRUE\nmsDS-CloudAnchor:: {}\n\
         msDS-DeviceOSType: Windows\nmsDS-DeviceOSVersion: 10.0.26100.1\n\
         msDS-DevicePhysicalIDs: {}\nmsDS-IsManaged: TRUE\nmsDS-DeviceObjectVersion: 2\n",
        STANDARD.encode(device_id_bytes(device_id)),
        key_text(d),
        STANDARD.encode(anchor(d["id"].as_str().unwrap(), f)),
        d["physicalIds"][0].as_str().unwrap(),
    );
    if let Some(o) = owner {
        l.push_str(&format!("msDS-RegisteredOwner:: {}\n", STANDARD.encode(o)));
    }
    (dn, l)
}

/// Every object of the container, all attributes (uSNChanged included), values sorted.
type Snapshot = BTreeMap<String, BTreeMap<String, Vec<Vec<u8>>>>;

fn snapshot(lab: &Lab) -> Snapshot {
    by_dn(lab.objects())
        .into_iter()
        .map(|(dn, o)| {
            let mut attrs = o.attrs;
            attrs.values_mut().for_each(|v| v.sort());
            (dn, attrs)
        })
        .collect()
}

/// The same without uSNChanged / whenChanged (what an undo cannot put back).
fn values(s: &Snapshot) -> Snapshot {
    let mut s = s.clone();
    for attrs in s.values_mut() {
        attrs.retain(|k, _| k != "usnchanged" && k != "whenchanged");
    }
    s
}

fn run_json(lab: &Lab, args: &[&str]) -> (i32, Value) {
    let out = lab.run(args);
    let v = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!("{args:?} printed no JSON ({e}); exit {}\n{}\n{}", out.code, out.stdout, out.stderr)
    });
    (out.code, v)
}

fn adopt_and_undo(name: &'static str, f: Forms) {
    // Four devices: two Connect wrote (one with an old display name), one it never
    // wrote; the registered owner of each is Administrator, a user of this forest.
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let devs: Vec<(Value, String)> =
        (0..3).map(|n| new_device(n + 1, &format!("ADOPT-{n}"))).collect();
    for (d, _) in &devs {
        state.add_device(d.clone()).unwrap();
    }
    let lab = Lab::start(name, state);
    let admin_sid = lab.admin_sid();
    let owner: Vec<u8> =
        if f.text_owner { sid_text(&admin_sid).into_bytes() } else { admin_sid.clone() };
    lab.emu.with_state(|s| {
        let user = s.add_user(json!({"id": uuid::Uuid::new_v4().to_string(), "userPrincipalName": "administrator@contoso.test", "onPremisesSecurityIdentifier": sid_text(&admin_sid)})).unwrap();
        for (_, id) in &devs {
            s.set_owner(id, &user).unwrap();
        }
    });

    // The container as Connect (another account) left it.
    let who = connector(&lab);
    let (same_dn, l) = connect_ldif(&devs[0].0, "ADOPT-0", Some(&owner), f);
    ldapadd_as(&lab, &who, &l);
    let (renamed_dn, l) = connect_ldif(&devs[1].0, "CONNECT-OLD-NAME", Some(&owner), f);
    ldapadd_as(&lab, &who, &l);
    let (gone_json, _) = new_device(9, "GONE-FROM-ENTRA");
    let (gone_dn, l) = connect_ldif(&gone_json, "GONE-FROM-ENTRA", Some(&owner), f);
    ldapadd_as(&lab, &who, &l);
    // AD FS DRS: no anchor, no marker.
    let adfs_id = uuid::Uuid::new_v4();
    let adfs_dn = format!("CN={adfs_id},{CONTAINER}");
    ldapadd_as(
        &lab,
        &who,
        &format!(
            "dn: {adfs_dn}\nobjectClass: msDS-Device\ndisplayName: ADFS-REGISTERED\n\
             msDS-DeviceID:: {}\nmsDS-IsEnabled: TRUE\naltSecurityIdentities: \
             X509:<SHA1-TP-PUBKEY>0123456789ABCDEF0123456789ABCDEF01234567aGFzaA==\n\
             msDS-RegisteredOwner:: {}\n",
            STANDARD.encode(adfs_id.to_bytes_le()),
            STANDARD.encode(&owner)
        ),
    );
    let seeded = snapshot(&lab);
    assert_eq!(seeded.len(), 4);

    // The review: a dry run of the adoption.
    let (code, dry) = run_json(&lab, &["run", "adopt", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{dry:#}");
    assert_eq!(with_action(&dry, "create"), Vec::<Value>::new(), "an adoption creates nothing");
    assert_eq!(with_action(&dry, "delete"), Vec::<Value>::new(), "an adoption deletes nothing");
    let w = writes(&dry);
    let targets: Vec<String> =
        w.iter().map(|c| c["target"].as_str().unwrap().to_ascii_lowercase()).collect();
    let mut want = vec![
        same_dn.to_ascii_lowercase(),
        renamed_dn.to_ascii_lowercase(),
        gone_dn.to_ascii_lowercase(),
    ];
    want.sort();
    let mut got = targets.clone();
    got.sort();
    assert_eq!(got, want, "the three anchored objects, not the AD FS one: {dry:#}");
    for c in &w {
        let attrs: Vec<&str> = c["modifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["attribute"].as_str().unwrap())
            .collect();
        for untouched in ["msDS-CloudAnchor", "msDS-RegisteredOwner", "msDS-DeviceID"] {
            assert!(
                !attrs.contains(&untouched),
                "{untouched} equal in meaning is rewritten: {c:#}"
            );
        }
        assert!(attrs.contains(&"adminDescription"), "dwb's marker: {c:#}");
        let target = c["target"].as_str().unwrap().to_ascii_lowercase();
        if target == same_dn.to_ascii_lowercase() {
            assert_eq!(attrs, ["adminDescription"], "an equal object gets the marker only: {c:#}");
        } else if target == gone_dn.to_ascii_lowercase() {
            assert_eq!(attrs, ["adminDescription"], "a gone object gets the marker only: {c:#}");
            let why = c["reason"].as_str().unwrap();
            assert!(
                why.contains("gone from Entra ID") && why.contains("next sync deletes"),
                "{why}"
            );
        } else {
            assert_eq!(attrs.len(), 2, "{c:#}");
            assert!(attrs.contains(&"displayName"), "{c:#}");
            let why = c["reason"].as_str().unwrap();
            assert!(
                why.contains("displayName: Connect CONNECT-OLD-NAME | Entra ADOPT-1"),
                "Connect's value beside Entra's: {why}"
            );
        }
    }
    let adopt = &dry["data"]["adopt"];
    assert_eq!(adopt["adopted"], 2, "{adopt:#}");
    assert_eq!(adopt["missing"], 1, "{adopt:#}");
    let gone = adopt["gone"].as_array().unwrap();
    assert_eq!(gone.len(), 1, "{adopt:#}");
    assert!(gone[0].as_str().unwrap().to_ascii_lowercase().contains(&gone_dn.to_ascii_lowercase()));
    assert!(
        warnings(&dry).iter().any(|w| w.contains("device gone from Entra ID")),
        "{:#?}",
        warnings(&dry)
    );
    let form = if f.utf16_anchor { "utf16le" } else { "utf8" };
    assert_eq!(adopt["anchor_encoding"], form, "the container's anchor form: {adopt:#}");
    let sid = if f.text_owner { "text" } else { "binary" };
    assert_eq!(adopt["sid_form"], sid, "the container's SID form: {adopt:#}");
    assert_eq!(snapshot(&lab), seeded, "a dry run changed the container");

    // The adoption itself.
    let (code, run) = run_json(&lab, &["run", "adopt", "--format", "json"]);
    assert_eq!(code, 0, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let after = snapshot(&lab);
    assert_eq!(after.len(), 4, "nothing created or deleted");
    let k = adfs_dn.to_ascii_lowercase();
    assert_eq!(after[&k], seeded[&k], "{adfs_dn} touched");
    let (gone_after, gone_seeded) = (
        &values(&after)[&gone_dn.to_ascii_lowercase()],
        &values(&seeded)[&gone_dn.to_ascii_lowercase()],
    );
    let mut marked = gone_seeded.clone();
    marked.insert("admindescription".into(), vec![MARKER.as_bytes().to_vec()]);
    assert_eq!(gone_after, &marked, "the gone object gets dwb's marker and nothing else");
    for dn in [&same_dn, &renamed_dn] {
        let (a, s) = (&after[&dn.to_ascii_lowercase()], &seeded[&dn.to_ascii_lowercase()]);
        assert_eq!(a["admindescription"], vec![MARKER.as_bytes().to_vec()], "{dn}");
        for k in ["msds-cloudanchor", "msds-registeredowner", "msds-deviceid"] {
            assert_eq!(a[k], s[k], "{dn}: {k} rewritten");
        }
    }
    assert_eq!(after[&renamed_dn.to_ascii_lowercase()]["displayname"], vec![b"ADOPT-1".to_vec()]);

    // After the adoption a sync deletes the gone object, under the guards: above
    // a threshold it is refused and changes nothing.
    let (out, sync) = lab.sync(&["delete_threshold=0", "delete_threshold_percent=100"]);
    assert_ne!(out.code, 0, "{sync:#}");
    assert_eq!(sync["status"], "refused", "{sync:#}");
    assert_eq!(sync["refusals"][0]["guard"], "delete_threshold", "{sync:#}");
    assert_eq!(snapshot(&lab), after, "a refused sync changed the container");
    // Within them it has nothing to do for the adopted objects: the device Connect
    // never wrote is created and the gone object deleted.
    let (code, sync) = run_json(
        &lab,
        &["run", "sync", "--dry-run", "--format", "json", "--param", "delete_threshold_percent=50"],
    );
    assert_eq!(code, 0, "{sync:#}");
    assert_eq!(with_action(&sync, "modify"), Vec::<Value>::new(), "{sync:#}");
    let deleted: Vec<String> = with_action(&sync, "delete")
        .iter()
        .map(|c| c["target"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(deleted, [gone_dn.to_ascii_lowercase()], "{sync:#}");
    assert_eq!(with_action(&sync, "create").len(), 1, "{sync:#}");
    assert_eq!(plan(&sync).len(), 2, "{sync:#}");

    // Undo: every object back to Connect's bytes.
    let (code, undo) = run_json(&lab, &["undo", &run_id, "--format", "json"]);
    assert_eq!(code, 0, "{undo:#}");
    assert_eq!(values(&snapshot(&lab)), values(&seeded), "undo restores the seeded bytes");

    // take_over=true treats the gone object as the adoption does: marker only.
    let (code, take) = run_json(
        &lab,
        &["run", "sync", "--dry-run", "--format", "json", "--param", "take_over=true"],
    );
    assert_eq!(code, 0, "{take:#}");
    assert_eq!(with_action(&take, "delete"), Vec::<Value>::new(), "{take:#}");
    let marked: Vec<Value> = with_action(&take, "modify")
        .into_iter()
        .filter(|c| c["target"].as_str().unwrap().eq_ignore_ascii_case(&gone_dn))
        .collect();
    assert_eq!(marked.len(), 1, "{take:#}");
    assert_eq!(marked[0]["modifications"][0]["attribute"], "adminDescription", "{take:#}");
    assert_eq!(marked[0]["modifications"].as_array().unwrap().len(), 1, "{take:#}");

    // A sync now creates the missing device in the container's forms, and still
    // leaves the other writer's objects alone.
    let (out, sync) = lab.sync(&[]);
    out.code(0);
    assert_eq!(writes(&sync).len(), 1, "{sync:#}");
    let created = format!("CN={},{CONTAINER}", devs[2].0["deviceId"].as_str().unwrap());
    let objs = by_dn(lab.objects());
    let o = &objs[&created.to_ascii_lowercase()];
    assert_eq!(
        o.one("msDS-CloudAnchor"),
        Some(anchor(&devs[2].1, f)),
        "the container's anchor form"
    );
    assert_eq!(o.one("msDS-RegisteredOwner"), Some(owner.clone()), "the container's SID form");
    let now = values(&snapshot(&lab));
    for dn in [&same_dn, &renamed_dn, &gone_dn, &adfs_dn] {
        let k = dn.to_ascii_lowercase();
        assert_eq!(now[&k], values(&seeded)[&k], "{dn} touched by the sync");
    }

    // Adopted again, the next sync (default guards: 1 of the 4 objects dwb owns)
    // deletes the gone object and nothing else.
    let (code, run) = run_json(&lab, &["run", "adopt", "--format", "json"]);
    assert_eq!(code, 0, "{run:#}");
    let (out, sync) = lab.sync(&[]);
    out.code(0);
    let deleted: Vec<String> = with_action(&sync, "delete")
        .iter()
        .map(|c| c["target"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(deleted, [gone_dn.to_ascii_lowercase()], "{sync:#}");
    let left = snapshot(&lab);
    assert!(!left.contains_key(&gone_dn.to_ascii_lowercase()), "the gone object is deleted");
    assert_eq!(left.len(), 4, "the two adopted, the created and the AD FS object stay");
}

#[test]
fn connect_objects_in_utf16le_with_text_owners_are_adopted_and_undone_exactly() {
    adopt_and_undo(
        "adopt_utf16_text",
        Forms { utf16_anchor: true, text_owner: true, upper_rdn: true },
    );
}

#[test]
fn connect_objects_in_utf8_with_binary_owners_are_adopted_and_undone_exactly() {
    adopt_and_undo(
        "adopt_utf8_binary",
        Forms { utf16_anchor: false, text_owner: false, upper_rdn: false },
    );
}

#[test]
fn another_writer_changing_an_adopted_object_is_reported_and_not_reverted_twice() {
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let (d, _) = new_device(1, "FIGHT-0");
    state.add_device(d.clone()).unwrap();
    let lab = Lab::start("adopt_fight", state);
    let who = connector(&lab);
    let f = Forms { utf16_anchor: false, text_owner: false, upper_rdn: false };
    let (dn, l) = connect_ldif(&d, "FIGHT-0", None, f);
    ldapadd_as(&lab, &who, &l);
    let (code, r) = run_json(&lab, &["run", "adopt", "--format", "json"]);
    assert_eq!(code, 0, "{r:#}");
    let (out, s) = lab.sync(&[]);
    out.code(0);
    assert_eq!(writes(&s), Vec::<Value>::new(), "{s:#}");
    let name = |lab: &Lab| by_dn(lab.objects())[&dn.to_ascii_lowercase()].text("displayName");
    let rename = |to: &str| {
        let ldif =
            format!("dn: {dn}\nchangetype: modify\nreplace: displayName\ndisplayName: {to}\n-\n");
        ldap_as(&lab, "ldapmodify", &who, &ldif);
    };

    // The other writer changes the name: the first round reverts it.
    rename("CONNECT-1");
    let (out, s) = lab.sync(&[]);
    out.code(0);
    assert_eq!(with_action(&s, "modify").len(), 1, "{s:#}");
    assert_eq!(name(&lab).as_deref(), Some("FIGHT-0"));

    // It changes it again: dwb does not revert a second time, and says why (exit 4).
    rename("CONNECT-2");
    // verify names what someone changed after dwb wrote it, with the time.
    let (code, v) = run_json(&lab, &["run", "verify", "--format", "json"]);
    assert_eq!(code, 0, "{v:#}");
    let changed = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "changed by another writer")
        .unwrap_or_else(|| panic!("no finding: {v:#}"));
    assert_eq!(changed["status"], "warn");
    let detail = changed["detail"].as_str().unwrap();
    assert!(detail.contains("displayName of") && detail.contains("whenChanged 20"), "{detail}");
    let (out, s) = lab.sync(&[]);
    assert_eq!(out.code, 4, "{s:#}");
    assert_eq!(writes(&s), Vec::<Value>::new(), "reverted twice: {s:#}");
    assert!(
        warnings(&s)
            .iter()
            .any(|w| w.contains("another writer (Entra Connect?) keeps changing displayName")),
        "{:#?}",
        warnings(&s)
    );
    assert_eq!(name(&lab).as_deref(), Some("CONNECT-2"));
    // And not in the rounds after either, while it stays contested.
    let (out, s) = lab.sync(&[]);
    assert_eq!(out.code, 4, "{s:#}");
    assert_eq!(writes(&s), Vec::<Value>::new(), "{s:#}");
    assert_eq!(name(&lab).as_deref(), Some("CONNECT-2"));
}

/// The finding verify gives for another writer's objects added after the adoption.
fn arrivals_finding(lab: &Lab) -> Value {
    let (code, v) = run_json(lab, &["run", "verify", "--format", "json"]);
    assert_eq!(code, 0, "a warning is no failure: {v:#}");
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "new objects of another writer since the adoption")
        .cloned()
        .unwrap_or_else(|| panic!("no finding: {v:#}"))
}

#[test]
fn objects_another_writer_adds_after_the_adoption_are_reported_by_verify() {
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let (first, _) = new_device(1, "BEFORE-0");
    let (later, _) = new_device(2, "AFTER-0");
    state.add_device(first.clone()).unwrap();
    state.add_device(later.clone()).unwrap();
    let lab = Lab::start("adopt_arrivals", state);
    let who = connector(&lab);
    let f = Forms { utf16_anchor: false, text_owner: false, upper_rdn: false };
    let (_, l) = connect_ldif(&first, "BEFORE-0", None, f);
    ldapadd_as(&lab, &who, &l);
    let (code, r) = run_json(&lab, &["run", "adopt", "--format", "json"]);
    assert_eq!(code, 0, "{r:#}");

    // Right after the adoption: nothing new.
    let none = arrivals_finding(&lab);
    assert_eq!(none["status"], "ok", "{none:#}");

    // Connect, still exporting, writes another device's object.
    let (dn, l) = connect_ldif(&later, "AFTER-0", None, f);
    ldapadd_as(&lab, &who, &l);
    let warn = arrivals_finding(&lab);
    assert_eq!(warn["status"], "warn", "{warn:#}");
    let detail = warn["detail"].as_str().unwrap();
    assert!(detail.starts_with("1 anchored object(s) without dwb's marker"), "{detail}");
    assert!(detail.to_ascii_lowercase().contains(&dn.to_ascii_lowercase()), "{detail}");
    assert!(detail.contains("after the adoption of 20"), "{detail}");
    assert!(warn["fix"].as_str().unwrap_or_default().contains("staging mode"), "{warn:#}");
}

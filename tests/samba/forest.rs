//! What real forests need (docs/device-writeback.md §A.3, §B.3, §D, §E), against real Samba DCs and
//! the Graph emulator, the real `dwb` binary black box, every outcome read back
//! with `ldapsearch` and decoded here:
//!
//! - verify names every prerequisite with a fix: the schema's `objectVersion`
//!   (lowered on a stopped DC's `sam.ldb`), the five FSMO role holders (moved to
//!   DCs that exist only in the directory: one unreachable, one that answers),
//!   a DRS without `msDS-DeviceLocation`, a second DRS, AD FS's inactivity period,
//!   the tenant's flag (app-only: how to check it);
//! - sync writes `msDS-ApproximateLastLogonTimeStamp` as the FILETIME of
//!   `approximateLastSignInDateTime` (computed here), `stale_days` lists exactly
//!   the devices older than N with both values, `msDS-DeviceTrustType` only for
//!   hybrid-joined devices on the 2016 schema, `msDS-RegisteredUsers` only with
//!   this forest's SIDs (read with the listing, in batches for a delta round).
//!
//! Every test starts its own DC: they change the configuration partition.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dwb_graph_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator, EmulatorHandle,
    EmulatorState, iso8601,
};
use serde_json::{Value, json};

use super::rt;
use crate::support::samba::{Options, SambaDc, Schema};
use crate::support::{Dir, Out};

const CONFIG: &str = "CN=Configuration,DC=contoso,DC=test";
const SCHEMA: &str = "CN=Schema,CN=Configuration,DC=contoso,DC=test";
const DEVICES: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
const DRS: &str = "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test";
const SERVERS: &str =
    "CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=contoso,DC=test";
/// A loopback address no lab DC uses (they take 127.0.0.N): nothing listens there.
const NOBODY: &str = "127.0.3.1";
const DAY: i64 = 86_400;

struct Lab {
    dc: SambaDc,
    emu: Option<EmulatorHandle>,
    dir: Dir,
}

impl Lab {
    /// A fresh DC (with `schema`), prepared by `dwb run prepare`.
    fn prepared(schema: Schema, emu: Option<EmulatorState>) -> Lab {
        let dc = SambaDc::start_with(Options { schema, ..Options::default() });
        let emu = emu.map(|s| rt().block_on(Emulator::start(s)).unwrap());
        let lab = Lab { dc, emu, dir: Dir::new() };
        let p = "connector_account=CONTOSO\\Administrator";
        lab.dwb(&["run", "prepare", "--param", p, "--quiet"]).code(0);
        lab
    }

    fn emu(&self) -> &EmulatorHandle {
        self.emu.as_ref().unwrap()
    }

    /// `dwb args…` against the DC, and the emulator when there is one.
    fn dwb(&self, args: &[&str]) -> Out {
        let mut c = self.dir.dwb();
        c.env("DWB_LDAP_URL", self.dc.url_ldaps())
            .env("DWB_LDAP_USER", self.dc.admin_user())
            .env("DWB_LDAP_PASSWORD", self.dc.admin_password())
            .env("DWB_LDAP_CA_FILE", self.dc.ca_file());
        if let Some(emu) = &self.emu {
            let base = emu.base_url().to_string();
            c.env("DWB_GRAPH_TENANT", emu.tenant_id())
                .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
                .env("DWB_GRAPH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
                .env("DWB_GRAPH_AUTHORITY", &base)
                .env("DWB_GRAPH_ENDPOINT", &base);
        }
        let o = c.args(args).output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    /// `dwb run <script> --format json --param …`: exit code and report.
    fn json(&self, script: &str, params: &[&str]) -> (i32, Value) {
        let mut args = vec!["run", script, "--format", "json"];
        for p in params {
            args.extend(["--param", p]);
        }
        let out = self.dwb(&args);
        let v = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!("no JSON report ({e}); exit {}\n{}\n{}", out.code, out.stdout, out.stderr)
        });
        (out.code, v)
    }

    /// The values of `attr` of one object, by ldapsearch (base64 decoded).
    fn values(&self, dn: &str, attr: &str) -> Vec<Vec<u8>> {
        values(&self.dc.ldapsearch(&["-b", dn, "-s", "base", "(objectClass=*)", attr]), attr)
    }

    fn text(&self, dn: &str, attr: &str) -> Vec<String> {
        self.values(dn, attr).into_iter().map(|v| String::from_utf8(v).unwrap()).collect()
    }
}

/// The values of `attr` in unwrapped `ldapsearch -LLL` output.
fn values(ldif: &str, attr: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in ldif.lines() {
        let Some((name, rest)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case(attr) {
            out.push(match rest.strip_prefix(':') {
                Some(b64) => STANDARD.decode(b64.trim()).unwrap(),
                None => rest.trim_start().as_bytes().to_vec(),
            });
        }
    }
    out
}

/// A binary SID as `S-1-…`, decoded here.
fn sid_text(b: &[u8]) -> String {
    assert!(b.len() >= 8 && b.len() == 8 + 4 * usize::from(b[1]), "not a SID: {b:02x?}");
    let auth = b[2..8].iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
    let subs: Vec<String> = b[8..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
        .collect();
    format!("S-{}-{auth}-{}", b[0], subs.join("-"))
}

/// The findings of a report as check → (status, detail, fix).
fn findings(r: &Value) -> BTreeMap<String, (String, String, String)> {
    let s = |f: &Value, k: &str| f[k].as_str().unwrap_or_default().to_string();
    r["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {r:#}"))
        .iter()
        .map(|f| (s(f, "check"), (s(f, "status"), s(f, "detail"), s(f, "fix"))))
        .collect()
}

#[track_caller]
fn finding(r: &Value, check: &str) -> (String, String, String) {
    findings(r).remove(check).unwrap_or_else(|| panic!("no finding {check:?} in {r:#}"))
}

fn failed(r: &Value) -> Vec<String> {
    findings(r).into_iter().filter(|(_, f)| f.0 == "fail").map(|(c, _)| c).collect()
}

const ROLES: [&str; 5] = [
    "schema master",
    "domain naming master",
    "PDC emulator",
    "RID master",
    "infrastructure master",
];

// ---- verify: the prerequisites --------------------------------------------------------

#[test]
fn verify_on_a_prepared_dc_reports_every_prerequisite_and_passes_offline() {
    let lab = Lab::prepared(Schema::Base2012R2, None);
    let (code, r) = lab.json("verify", &[]);
    assert_eq!(code, 0, "{r:#}");
    let (status, detail, _) = finding(&r, "schema");
    assert_eq!(status, "ok");
    assert!(detail.contains("objectVersion 69"), "{detail}");
    // Each role, held by the DC dwb is bound to, as ldapsearch reads it.
    let dsa = lab.text("", "dsServiceName");
    assert_eq!(dsa.len(), 1);
    let data = r["data"]["fsmo_roles"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    for (role, d) in ROLES.iter().zip(data) {
        let (status, detail, _) = finding(&r, &format!("FSMO {role}"));
        assert_eq!(status, "ok", "{role}: {detail}");
        assert!(detail.contains("DC1.contoso.test") && detail.contains("bound to"), "{detail}");
        assert_eq!(d["role"], *role);
        assert_eq!(d["holder"].as_str().unwrap().to_ascii_lowercase(), dsa[0].to_ascii_lowercase());
        assert_eq!(d["reachable"], true);
    }
    let rid = lab.text("DC=contoso,DC=test", "rIDManagerReference");
    let partitions = format!("CN=Partitions,{CONFIG}");
    let infra = "CN=Infrastructure,DC=contoso,DC=test";
    for object in [SCHEMA, &partitions, "DC=contoso,DC=test", &rid[0], infra] {
        assert_eq!(lab.text(object, "fSMORoleOwner"), dsa, "{object}");
    }
    let (status, detail, _) = finding(&r, "inactivity cleanup");
    assert_eq!(status, "info");
    assert!(detail.contains("not set"), "{detail}");
    // No Graph settings: nothing read from Graph, and how to check the flag.
    let (status, detail, _) = finding(&r, "tenant device writeback");
    assert_eq!(status, "info");
    assert!(detail.contains("no Graph tenant") && detail.contains("onPremisesSynchronization"));
}

#[test]
fn verify_fails_on_a_schema_older_than_2012_r2() {
    let mut lab = Lab::prepared(Schema::Base2012R2, None);
    lab.dc.modify_offline(&format!(
        "dn: {SCHEMA}\nchangetype: modify\nreplace: objectVersion\nobjectVersion: 56\n"
    ));
    assert_eq!(lab.text(SCHEMA, "objectVersion"), ["56"]);
    let (code, r) = lab.json("verify", &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(failed(&r), ["schema"], "{r:#}");
    let (_, detail, fix) = finding(&r, "schema");
    assert!(detail.contains("objectVersion 56") && detail.contains("(69)"), "{detail}");
    assert!(fix.contains("adprep /forestprep"), "{fix}");
    let (_, detail, _) = finding(&r, "schema 2016 attributes");
    assert!(detail.contains("objectVersion 85"), "{detail}");
    lab.dwb(&["run", "verify"]).code(1).stdout_has("objectVersion 56");
}

/// A DC that exists only in the directory: a server object with `dns` as its
/// dNSHostName and an nTDSDSA object, made with the relax control.
fn phantom_dc(name: &str, dns: &str) -> String {
    format!(
        "dn: CN={name},{SERVERS}\nchangetype: add\nobjectClass: server\ndNSHostName: {dns}\n\n\
         dn: CN=NTDS Settings,CN={name},{SERVERS}\nchangetype: add\nobjectClass: nTDSDSA\n\
         options: 1\n\n"
    )
}

fn move_role(object: &str, dc: &str) -> String {
    format!(
        "dn: {object}\nchangetype: modify\nreplace: fSMORoleOwner\n\
         fSMORoleOwner: CN=NTDS Settings,CN={dc},{SERVERS}\n\n"
    )
}

#[test]
fn verify_names_each_role_holder_and_fails_on_one_it_cannot_reach() {
    let mut lab = Lab::prepared(Schema::Base2012R2, None);
    // Another lab DC answers on its own address; nothing listens on NOBODY.
    let other = SambaDc::shared().ip().to_string();
    let ldif = [
        phantom_dc("DC2", NOBODY),
        phantom_dc("DC3", &other),
        move_role("CN=Infrastructure,DC=contoso,DC=test", "DC2"),
        move_role(&format!("CN=Partitions,{CONFIG}"), "DC3"),
    ]
    .concat();
    lab.dc.modify_offline(&ldif);
    assert_eq!(
        lab.text("CN=Infrastructure,DC=contoso,DC=test", "fSMORoleOwner"),
        [format!("CN=NTDS Settings,CN=DC2,{SERVERS}")]
    );

    let (code, r) = lab.json("verify", &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(failed(&r), ["FSMO infrastructure master"], "{r:#}");
    let (_, detail, fix) = finding(&r, "FSMO infrastructure master");
    assert!(detail.contains(NOBODY) && detail.contains("389"), "{detail}");
    assert!(fix.contains("transfer") && fix.contains("seize"), "{fix}");
    let (status, detail, _) = finding(&r, "FSMO domain naming master");
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.contains(&format!("TCP connection to {other}:389")), "{detail}");
    for role in ["schema master", "PDC emulator", "RID master"] {
        let (status, detail, _) = finding(&r, &format!("FSMO {role}"));
        assert_eq!((status.as_str(), detail.contains("bound to")), ("ok", true), "{role}");
    }
    let data = r["data"]["fsmo_roles"].as_array().unwrap();
    let infra = data.iter().find(|d| d["role"] == "infrastructure master").unwrap();
    assert_eq!(
        (infra["dns_host_name"].as_str(), &infra["reachable"]),
        (Some(NOBODY), &json!(false))
    );

    // A role whose holder is gone altogether: seize it.
    lab.dc.modify_offline(&format!(
        "{}{}dn: CN=NTDS Settings,CN=DC4,{SERVERS}\nchangetype: delete\n\n",
        phantom_dc("DC4", NOBODY),
        move_role("DC=contoso,DC=test", "DC4")
    ));
    let (_, r) = lab.json("verify", &[]);
    let (status, detail, fix) = finding(&r, "FSMO PDC emulator");
    assert_eq!(status, "fail", "{detail}");
    assert!(fix.contains("seize the PDC emulator role"), "{detail} / {fix}");
}

#[test]
fn verify_reports_a_missing_location_a_second_drs_and_the_inactivity_period() {
    let mut lab = Lab::prepared(Schema::Base2012R2, None);
    // AD FS's default period: written-back devices are deleted after 90 idle days.
    lab.dc.ldap_cli(
        "ldapmodify",
        &format!(
            "dn: {DRS}\nchangetype: modify\nreplace: msDS-MaximumRegistrationInactivityPeriod\n\
             msDS-MaximumRegistrationInactivityPeriod: 90\n"
        ),
    );
    let (code, r) = lab.json("verify", &[]);
    assert_eq!(code, 0, "a period is a warning: {r:#}");
    let (status, detail, fix) = finding(&r, "inactivity cleanup");
    assert_eq!(status, "warn");
    assert!(detail.contains("90 days") && detail.contains("msDS-ApproximateLastLogonTimeStamp"));
    assert!(fix.contains("MaximumInactiveDays 0") && fix.contains("stale_days=90"), "{fix}");
    assert_eq!(r["data"]["inactivity_period_days"], 90);

    // msDS-DeviceLocation is required and system-only: only a write below Samba's
    // schema checks removes it.
    lab.dc.modify_partition_offline(
        "CN=CONFIGURATION,DC=CONTOSO,DC=TEST",
        &format!("dn: {DRS}\nchangetype: modify\ndelete: msDS-DeviceLocation\n"),
    );
    assert!(lab.values(DRS, "msDS-DeviceLocation").is_empty());
    let (code, r) = lab.json("verify", &[]);
    assert_eq!((code, failed(&r)), (1, vec!["device location".to_string()]), "{r:#}");
    let (_, detail, fix) = finding(&r, "device location");
    assert!(detail.contains("no msDS-DeviceLocation"), "{detail}");
    assert!(fix.contains("delete the DeviceRegistrationService"), "{fix}");
    // Following the fix makes verify pass.
    lab.dc.ldap_cli("ldapdelete", &format!("{DRS}\n"));
    let p = "connector_account=CONTOSO\\Administrator";
    lab.dwb(&["run", "prepare", "--param", p, "--quiet"]).code(0);
    assert_eq!(lab.json("verify", &[]).0, 0);

    // A second DRS elsewhere, pointing at another container: both named, with their locations.
    let other = format!("CN=t-other-devices,{}", "DC=contoso,DC=test");
    let dup_container = format!("CN=Other DRS,CN=Services,{CONFIG}");
    let dup = format!("CN=DeviceRegistrationService,{dup_container}");
    lab.dc.ldap_cli(
        "ldapadd",
        &format!(
            "dn: {other}\nobjectClass: msDS-DeviceContainer\n\n\
             dn: {dup_container}\nobjectClass: msDS-DeviceRegistrationServiceContainer\n\n\
             dn: {dup}\nobjectClass: msDS-DeviceRegistrationService\nmsDS-IsEnabled: TRUE\n\
             msDS-DeviceLocation: {other}\n"
        ),
    );
    let (code, r) = lab.json("verify", &[]);
    assert_eq!((code, failed(&r)), (1, vec!["registration service".to_string()]), "{r:#}");
    let (_, detail, fix) = finding(&r, "registration service");
    assert!(detail.contains(&format!("{DRS} (msDS-DeviceLocation {DEVICES})")), "{detail}");
    assert!(detail.contains(&format!("{dup} (msDS-DeviceLocation {other})")), "{detail}");
    assert!(fix.contains("delete the duplicates") && fix.contains(&format!("keep {DRS}")));
}

// ---- sync: the optional attributes ------------------------------------------------------

/// A Graph device with one X.509 key.
fn device(n: u32, trust: &str, last_sign_in: Option<String>) -> Value {
    let tp: String =
        (0..40).map(|i| char::from_digit((i + n) % 16, 16).unwrap().to_ascii_uppercase()).collect();
    let text = format!("X509:<SHA1-TP-PUBKEY>{tp}{}", STANDARD.encode([n as u8; 32]));
    let key = STANDARD.encode(text.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>());
    json!({
        "id": uuid::Uuid::new_v4().to_string(), "deviceId": uuid::Uuid::new_v4().to_string(),
        "displayName": format!("DEV-{n:03}"), "operatingSystem": "Windows",
        "operatingSystemVersion": "10.0.26100.1", "trustType": trust, "accountEnabled": true,
        "alternativeSecurityIds": [{"type": 2, "identityProvider": null, "key": key}],
        "approximateLastSignInDateTime": last_sign_in,
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `iso8601` of the emulator crate, with seven fraction digits as Graph may send.
fn graph_time(secs: i64) -> String {
    iso8601(secs).replace('Z', ".1234567Z")
}

/// The FILETIME of `secs` + 0.1234567 s: 100-ns ticks since 1601-01-01 UTC.
fn filetime(secs: i64) -> String {
    ((secs + 11_644_473_600) * 10_000_000 + 1_234_567).to_string()
}

fn dn_of(emu: &EmulatorHandle, id: &str) -> String {
    let device_id =
        emu.with_state(|s| s.devices[id].props["deviceId"].as_str().unwrap().to_string());
    format!("CN={device_id},{DEVICES}")
}

#[test]
fn last_logon_is_the_filetime_of_the_last_sign_in_and_stale_days_lists_the_old_devices() {
    let now = now_secs();
    let ages = [3i64, 12, 45, 100, 400];
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let mut by_age = BTreeMap::new();
    for (i, age) in ages.iter().enumerate() {
        let trust = ["AzureAd", "ServerAd", "Workplace"][i % 3];
        let t = now - age * DAY;
        let id = state.add_device(device(i as u32, trust, Some(graph_time(t)))).unwrap();
        by_age.insert(*age, (id, t));
    }
    let never = state.add_device(device(9, "AzureAd", None)).unwrap();
    let lab = Lab::prepared(Schema::Base2012R2, Some(state));
    let emu = lab.emu();

    let (code, r) = lab.json("sync", &[]);
    assert_eq!(code, 0, "{r:#}");
    for (id, t) in by_age.values() {
        let dn = dn_of(emu, id);
        assert_eq!(lab.text(&dn, "msDS-ApproximateLastLogonTimeStamp"), [filetime(*t)], "{dn}");
        // The 2012 R2 schema has no msDS-DeviceTrustType: nobody gets one, nothing fails.
        assert!(lab.values(&dn, "msDS-DeviceTrustType").is_empty());
    }
    assert!(lab.values(&dn_of(emu, &never), "msDS-ApproximateLastLogonTimeStamp").is_empty());

    // Exactly the devices older than 30 days, oldest first, both values side by side.
    let (code, r) = lab.json("verify", &["stale_days=30"]);
    assert_eq!(code, 0, "stale devices are a warning: {r:#}");
    let stale = &r["data"]["stale_devices"];
    let ids = |stale: &Value, k: &str| -> Vec<String> {
        stale[k].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
    };
    let want: Vec<String> = [400, 100, 45].iter().map(|a| by_age[a].0.clone()).collect();
    assert_eq!(ids(stale, "stale"), want, "{stale:#}");
    for d in stale["stale"].as_array().unwrap() {
        let age = ages.iter().find(|a| by_age[a].0 == d["id"]).unwrap();
        assert_eq!(d["entra_days"], *age);
        assert_eq!(d["entra_last_sign_in"].as_str().unwrap(), iso8601(by_age[age].1));
        assert_eq!(d["ad_last_logon"], d["entra_last_sign_in"], "written by the sync");
        assert_eq!(d["dn"].as_str().unwrap(), dn_of(emu, d["id"].as_str().unwrap()));
    }
    assert_eq!(ids(stale, "never_signed_in"), std::slice::from_ref(&never));
    assert!(ids(stale, "ad_behind").is_empty());
    // Every stale device has its object in the container; none is in Entra ID only.
    assert_eq!(
        (stale["stale_in_container"].as_i64(), stale["stale_entra_only"].as_i64()),
        (Some(3), Some(0)),
        "{stale:#}"
    );
    let (status, detail, _) = finding(&r, "stale devices");
    assert_eq!(status, "warn");
    assert!(detail.starts_with("3 of 6 device(s)") && detail.contains("DEV-004"), "{detail}");
    assert!(detail.contains("3 with an object in the container, 0 in Entra ID only"), "{detail}");
    // The tenant is configured, but only app-only: the flag cannot be read.
    let (status, detail, _) = finding(&r, "tenant device writeback");
    assert_eq!(status, "info");
    assert!(detail.contains("delegated sign-in"), "{detail}");

    // The 100-day device signs in again: Entra is current, its object lags behind.
    let (back, _) = &by_age[&100];
    let t = now - DAY;
    emu.with_state(|s| {
        s.update_device(back, json!({"approximateLastSignInDateTime": graph_time(t)})).unwrap()
    });
    let (_, r) = lab.json("verify", &["stale_days=30"]);
    let stale = &r["data"]["stale_devices"];
    assert_eq!(ids(stale, "stale").len(), 2);
    assert_eq!(ids(stale, "ad_behind"), std::slice::from_ref(back));
    assert_eq!(finding(&r, "stale devices: AD timestamps behind").0, "warn");
    // The next sync changes exactly that attribute of exactly that object.
    let (code, r) = lab.json("sync", &[]);
    assert_eq!(code, 0);
    let changes: Vec<&Value> = r["plan"].as_array().unwrap().iter().collect();
    assert_eq!(changes.len(), 1, "{r:#}");
    assert_eq!(changes[0]["target"].as_str().unwrap(), dn_of(emu, back));
    let mods = changes[0]["modifications"].to_string();
    assert!(mods.contains("msDS-ApproximateLastLogonTimeStamp") && !mods.contains("displayName"));
    assert_eq!(lab.text(&dn_of(emu, back), "msDS-ApproximateLastLogonTimeStamp"), [filetime(t)]);
    let (_, r) = lab.json("verify", &["stale_days=30"]);
    assert!(r["data"]["stale_devices"]["ad_behind"].as_array().unwrap().is_empty());

    // AD FS updates the timestamp too (a device authenticating on premises): a newer
    // value than Entra's stays.
    let (recent, _) = &by_age[&12];
    let newer = filetime(now);
    lab.dc.ldap_cli(
        "ldapmodify",
        &format!(
            "dn: {}\nchangetype: modify\nreplace: msDS-ApproximateLastLogonTimeStamp\n\
             msDS-ApproximateLastLogonTimeStamp: {newer}\n",
            dn_of(emu, recent)
        ),
    );
    let (code, r) = lab.json("sync", &[]);
    assert_eq!((code, r["plan"].as_array().unwrap().len()), (0, 0), "{r:#}");
    assert_eq!(lab.text(&dn_of(emu, recent), "msDS-ApproximateLastLogonTimeStamp"), [newer]);

    // Turned off, sync stops writing it and removes the timestamps it wrote.
    let (code, r) = lab.json("sync", &["last_logon=false", "registered_users=false"]);
    assert_eq!(code, 0);
    assert_eq!(r["plan"].as_array().unwrap().len(), ages.len(), "{r:#}");
    for (id, _) in by_age.values() {
        assert!(lab.values(&dn_of(emu, id), "msDS-ApproximateLastLogonTimeStamp").is_empty());
    }
}

#[test]
fn trust_type_is_written_on_the_2016_schema_for_hybrid_joined_devices_only() {
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let mut ids = BTreeMap::new();
    for (i, trust) in ["ServerAd", "AzureAd", "Workplace", "ServerAd"].iter().enumerate() {
        let id = state.add_device(device(i as u32, trust, Some(graph_time(now_secs())))).unwrap();
        ids.insert(id, *trust);
    }
    let lab = Lab::prepared(Schema::Device2016, Some(state));
    let (code, r) = lab.json("sync", &[]);
    assert_eq!(code, 0, "{r:#}");
    for (id, trust) in &ids {
        let got = lab.text(&dn_of(lab.emu(), id), "msDS-DeviceTrustType");
        let want: Vec<String> = if *trust == "ServerAd" { vec!["2".into()] } else { vec![] };
        assert_eq!(got, want, "{trust} device {id}");
    }
    let (_, r) = lab.json("verify", &[]);
    let (_, detail, _) = finding(&r, "schema 2016 attributes");
    assert!(detail.contains("msDS-DeviceTrustType is present"), "{detail}");
    // A resync changes nothing.
    assert!(lab.json("sync", &[]).1["plan"].as_array().unwrap().is_empty());
}

/// An AD user made with samba-tool and its SID, as ldapsearch reads it.
fn ad_user(dc: &SambaDc, name: &str) -> String {
    dc.samba_tool_as_admin(&["user", "create", name, "Us3r!Passw0rd-lab"]);
    let dn = format!("CN={name},CN=Users,DC=contoso,DC=test");
    let raw = values(
        &dc.ldapsearch(&["-b", &dn, "-s", "base", "(objectClass=*)", "objectSid"]),
        "objectSid",
    );
    sid_text(&raw[0])
}

#[test]
fn registered_users_are_this_forests_sids_read_with_the_listing() {
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let shared = state.add_device(device(1, "AzureAd", None)).unwrap();
    let foreign_only = state.add_device(device(2, "Workplace", None)).unwrap();
    let none = state.add_device(device(3, "ServerAd", None)).unwrap();
    let lab = Lab::prepared(Schema::Base2012R2, Some(state));
    let (a, b) = (ad_user(&lab.dc, "reg-user-a"), ad_user(&lab.dc, "reg-user-b"));
    lab.emu().with_state(|s| {
        for (id, sid) in [
            ("u-a", json!(a)),
            ("u-foreign", json!("S-1-5-21-1-2-3-1105")),
            ("u-cloud", Value::Null),
            ("u-b", json!(b)),
        ] {
            s.add_user(json!({"id": id, "userPrincipalName": format!("{id}@contoso.com"),
                              "onPremisesSecurityIdentifier": sid}))
                .unwrap();
        }
        s.set_registered_users(&shared, &["u-a", "u-foreign", "u-cloud", "u-b", "u-a"]).unwrap();
        s.set_registered_users(&foreign_only, &["u-foreign", "u-cloud"]).unwrap();
    });
    lab.emu().clear_request_log();
    let (code, r) = lab.json("sync", &[]);
    assert_eq!(code, 0, "{r:#}");
    let sids = |id: &str| -> BTreeSet<String> {
        lab.values(&dn_of(lab.emu(), id), "msDS-RegisteredUsers")
            .iter()
            .map(|v| sid_text(v))
            .collect()
    };
    assert_eq!(sids(&shared), BTreeSet::from([a.clone(), b.clone()]));
    assert!(sids(&foreign_only).is_empty() && sids(&none).is_empty());
    // A full sync reads them with one listing, never device by device.
    let log = lab.emu().request_log();
    let users: Vec<&str> =
        log.iter().filter(|x| x.uri.contains("registeredUsers")).map(|x| x.uri.as_str()).collect();
    assert_eq!(users.len(), 1, "{users:?}");
    assert!(
        users[0].starts_with("/v1.0/devices?") && users[0].contains("%24expand=registeredUsers")
    );

    // A delta round reads the changed device's users in a batch.
    let state = lab.dir.join("delta.json");
    let delta = format!("state={}", state.display());
    assert_eq!(lab.json("sync", &["mode=delta", &delta]).0, 0);
    lab.emu().with_state(|s| {
        s.set_registered_users(&foreign_only, &["u-b"]).unwrap();
        s.rename_device(&foreign_only, "DEV-002-renamed").unwrap();
    });
    lab.emu().clear_request_log();
    let (code, r) = lab.json("sync", &["mode=delta", &delta]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(sids(&foreign_only), BTreeSet::from([b.clone()]));
    let log = lab.emu().request_log();
    let member = format!("/v1.0/devices/{foreign_only}/registeredUsers/microsoft.graph.user");
    assert!(log.iter().any(|x| x.in_batch && x.uri.starts_with(&member)), "{log:#?}");
    assert!(!log.iter().any(|x| x.uri.contains("expand=registeredUsers")), "no listing");
}

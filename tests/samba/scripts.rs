//! The standard scripts `prepare` and `verify`, and `ad::grant` / `ad::revoke`
//! from a site script, run as the real `dwb` binary against real Samba AD DCs
//! (docs/device-writeback.md §A.2, §A.4, §D.1). Every outcome dwb reports is
//! cross-checked with the real `ldapsearch`, `ldapmodify` and `samba-tool`.
//!
//! `prepare` writes into the Configuration partition (forest-wide), so every
//! test that runs it, or breaks what it made, starts a DC of its own
//! ([`SambaDc::start`], ~1 s). Only the tests that stay inside their own OU, or
//! fail before touching anything, use the shared DC.

use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use crate::support::samba::{DOMAIN_DN, SambaDc, WORKGROUP};
use crate::support::{Dir, Out};

const CONFIG_DN: &str = "CN=Configuration,DC=contoso,DC=test";
const USERS_DN: &str = "CN=Users,DC=contoso,DC=test";
const SERVICES_DN: &str = "CN=Services,CN=Configuration,DC=contoso,DC=test";
/// docs/device-writeback.md §A.2 #1.
const DRC: &str =
    "CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test";
/// docs/device-writeback.md §A.2 #2.
const DRS_CONTAINER: &str = "CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test";
/// docs/device-writeback.md §A.2 #3.
const DRS: &str = "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test";
/// docs/device-writeback.md §A.2 #4.
const DEVICES: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
/// schemaIDGUID of the msDS-Device class (docs/device-writeback.md §A.5).
const MSDS_DEVICE_GUID: &str = "5df2b673-6d41-4774-b3e8-d52e8ee9ff99";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A temp directory to run `dwb` in, pointed at one DC as Administrator.
struct Lab<'a> {
    dc: &'a SambaDc,
    dir: Dir,
}

impl<'a> Lab<'a> {
    fn new(dc: &'a SambaDc) -> Lab<'a> {
        Lab { dc, dir: Dir::new() }
    }

    /// `dwb args…` with `DWB_LDAP_*` naming the DC (LDAPS, the test CA, Administrator).
    fn dwb(&self, args: &[&str]) -> Out {
        self.dwb_env(args, &[])
    }

    /// Like [`Lab::dwb`], with extra (or overriding) environment variables.
    fn dwb_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut c = self.dir.dwb();
        c.env("DWB_LDAP_URL", self.dc.url_ldaps())
            .env("DWB_LDAP_USER", self.dc.admin_user())
            .env("DWB_LDAP_PASSWORD", self.dc.admin_password())
            .env("DWB_LDAP_CA_FILE", self.dc.ca_file());
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.args(args).output().expect("running dwb");
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    /// `dwb run prepare --param connector_account=… --format json`, which must succeed.
    fn prepare(&self, connector: &User) -> Value {
        let param = connector.param();
        self.dwb(&["run", "prepare", "--param", &param, "--format", "json"]).code(0).json()
    }

    /// `dwb run verify --format json [extra…]` with `env`; returns the output and the report.
    fn verify(&self, extra: &[&str], env: &[(&str, &str)]) -> (Out, Value) {
        let mut args = vec!["run", "verify", "--format", "json"];
        args.extend_from_slice(extra);
        let out = self.dwb_env(&args, env);
        let json = out.json();
        (out, json)
    }
}

/// A user created with `samba-tool user create`, with its SID as `ldapsearch` reads it.
struct User {
    name: String,
    password: String,
    sid: String,
}

impl User {
    fn create(dc: &SambaDc, tag: &str) -> User {
        // sAMAccountName ≤ 20 characters: `svc-<tag><n>`, n unique in this process.
        let n = dc.unique_name("user").rsplit('-').next().unwrap_or("0").to_string();
        let name = format!("svc-{tag}{n}");
        let password = format!("Conn3ctor!{tag}-{n}");
        dc.samba_tool_as_admin(&["user", "create", &name, &password]);
        let dn = format!("CN={name},{USERS_DN}");
        let ldif = dc.ldapsearch(&["-b", &dn, "-s", "base", "(objectClass=user)", "objectSid"]);
        let raw = values(&ldif, "objectSid");
        assert_eq!(raw.len(), 1, "objectSid of {dn}:\n{ldif}");
        User { name, password, sid: sid_string(&raw[0]) }
    }

    /// `CONTOSO\name`, as an administrator types it.
    fn account(&self) -> String {
        format!("{WORKGROUP}\\{}", self.name)
    }

    fn param(&self) -> String {
        format!("connector_account={}", self.account())
    }
}

/// A binary SID (as in `objectSid`) as `S-1-…`, decoded here rather than by dwb.
fn sid_string(b: &[u8]) -> String {
    assert!(b.len() >= 8 && b.len() == 8 + 4 * b[1] as usize, "not a SID: {b:02x?}");
    let authority = b[2..8].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    let mut s = format!("S-{}-{authority}", b[0]);
    for sub in b[8..].chunks(4) {
        s.push_str(&format!("-{}", u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]])));
    }
    s
}

/// The values of `attr` in unwrapped `ldapsearch -LLL` output (base64 decoded).
fn values(ldif: &str, attr: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in ldif.lines() {
        let Some((name, rest)) = line.split_once(':') else { continue };
        if !name.eq_ignore_ascii_case(attr) {
            continue;
        }
        match rest.strip_prefix(':') {
            Some(b64) => out.push(
                base64::engine::general_purpose::STANDARD.decode(b64.trim()).expect("base64 value"),
            ),
            None => out.push(rest.trim_start().as_bytes().to_vec()),
        }
    }
    out
}

fn text_values(ldif: &str, attr: &str) -> Vec<String> {
    values(ldif, attr).into_iter().map(|v| String::from_utf8_lossy(&v).into_owned()).collect()
}

/// One object, base scope, with `ldapsearch` (panics when it does not exist).
fn read(dc: &SambaDc, dn: &str, attrs: &[&str]) -> String {
    let mut args = vec!["-b", dn, "-s", "base", "(objectClass=*)"];
    args.extend_from_slice(attrs);
    dc.ldapsearch(&args)
}

/// True when `ldapsearch -s base` says the object does not exist (result 32).
fn absent(dc: &SambaDc, dn: &str) -> bool {
    let out = dc.ldapsearch_output(&["-b", dn, "-s", "base", "(objectClass=*)", "1.1"]);
    match out.status.code() {
        Some(32) => true,
        Some(0) => false,
        other => panic!(
            "ldapsearch -b {dn} exited with {other:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The DNs in `ldapsearch -LLL` output.
fn dns(ldif: &str) -> Vec<String> {
    ldif.lines().filter_map(|l| l.strip_prefix("dn: ")).map(str::to_string).collect()
}

/// The object's security descriptor as SDDL, from `samba-tool dsacl get`.
fn dsacl(dc: &SambaDc, dn: &str) -> String {
    let out = dc.samba_tool_as_admin(&["dsacl", "get", &format!("--objectdn={dn}")]);
    let sddl = out
        .lines()
        .rfind(|l| l.starts_with("O:"))
        .unwrap_or_else(|| panic!("no SDDL for {dn} in:\n{out}"));
    sddl.to_string()
}

/// The ACEs of the DACL part of an SDDL string, e.g. `(A;CI;RPWP;;;S-1-…)`.
fn dacl_aces(sddl: &str) -> Vec<String> {
    let d = sddl.split_once("D:").map(|(_, d)| d).unwrap_or("");
    let d = d.split_once("S:").map(|(d, _)| d).unwrap_or(d);
    d.split('(').skip(1).map(|a| format!("({}", a.trim_end_matches(|c| c != ')'))).collect()
}

/// Everything under `base` (all user and operational attributes, with the SD),
/// for before/after comparisons. Nothing needs excluding: on an idle lab DC two
/// dumps around a dwb run that writes nothing are byte-identical (the admin's
/// logon bookkeeping lives in CN=Users, below the one-level domain dump).
fn dump(dc: &SambaDc, base: &str, scope: &str) -> String {
    dc.ldapsearch(&["-b", base, "-s", scope, "(objectClass=*)", "*", "+", "nTSecurityDescriptor"])
}

#[track_caller]
fn assert_same_dump(before: &str, after: &str, what: &str) {
    if before == after {
        return;
    }
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let gone: Vec<&&str> = b.iter().filter(|l| !a.contains(l)).take(20).collect();
    let new: Vec<&&str> = a.iter().filter(|l| !b.contains(l)).take(20).collect();
    panic!("{what} changed\n--- lines gone ---\n{gone:#?}\n--- lines new ---\n{new:#?}");
}

/// The findings of a report as (check, status, detail, fix).
fn findings(r: &Value) -> Vec<(String, String, String, String)> {
    let s = |f: &Value, k: &str| f[k].as_str().unwrap_or_default().to_string();
    r["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("report without findings: {r:#}"))
        .iter()
        .map(|f| (s(f, "check"), s(f, "status"), s(f, "detail"), s(f, "fix")))
        .collect()
}

/// The checks with status `fail`.
fn failed(r: &Value) -> Vec<String> {
    findings(r).into_iter().filter(|f| f.1 == "fail").map(|f| f.0).collect()
}

/// The one finding named `check` (panics when there is not exactly one).
fn finding(r: &Value, check: &str) -> (String, String, String, String) {
    let all: Vec<_> = findings(r).into_iter().filter(|f| f.0 == check).collect();
    assert_eq!(all.len(), 1, "expected one finding {check:?} in {r:#}");
    all.into_iter().next().unwrap()
}

#[track_caller]
fn assert_all_ok(r: &Value) {
    for f in findings(r) {
        assert!(f.1 == "ok" || f.1 == "info", "finding {f:?} is not ok/info in:\n{r:#}");
    }
}

/// The plan entries of a report.
fn plan(r: &Value) -> &Vec<Value> {
    r["plan"].as_array().unwrap_or_else(|| panic!("report without a plan: {r:#}"))
}

/// No `dwb-probe-*` object anywhere in the domain, by `ldapsearch`.
#[track_caller]
fn assert_no_probe_left(dc: &SambaDc) {
    let found = dc.ldapsearch(&["-b", DOMAIN_DN, "-s", "sub", "(cn=dwb-probe-*)", "1.1"]);
    assert!(dns(&found).is_empty(), "probe devices left behind:\n{found}");
}

// ---------------------------------------------------------------------------
// prepare and verify on an empty domain (docs/device-writeback.md §A.2, §D.1 #1–3)
// ---------------------------------------------------------------------------

#[test]
fn prepare_creates_the_four_objects_and_verify_passes() {
    let dc = SambaDc::start();
    let lab = Lab::new(&dc);
    let connector = User::create(&dc, "p");

    // Before: nothing there, verify fails on the registration service.
    for dn in [DRC, DRS_CONTAINER, DRS, DEVICES] {
        assert!(absent(&dc, dn), "{dn} exists on a fresh DC");
    }
    let (out, r) = lab.verify(&[], &[]);
    out.code(1);
    assert_eq!(failed(&r), ["registration service"], "{r:#}");

    let r = lab.prepare(&connector);
    assert_eq!(r["status"], "ok", "{r:#}");
    assert_eq!(r["applied"], true, "{r:#}");
    assert_eq!(
        r["data"]["connector_sid"],
        connector.sid.as_str(),
        "prepare resolved another SID than ldapsearch reads"
    );
    let entries: Vec<(String, String)> = plan(&r)
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or_default().to_string(),
                c["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("create", DRC),
        ("create", DRS_CONTAINER),
        ("create", DEVICES),
        ("create", DRS),
        ("acl", DRC),
        ("acl", DEVICES),
    ]
    .iter()
    .map(|(a, t)| (a.to_string(), t.to_string()))
    .collect();
    assert_eq!(entries, want, "{r:#}");
    for c in plan(&r) {
        assert_eq!(c["outcome"]["status"], "applied", "{c:#}");
    }

    // The four objects, as ldapsearch sees them.
    let classes = |dn: &str| text_values(&read(&dc, dn, &["objectClass"]), "objectClass");
    assert_eq!(classes(DRC), ["top", "container"]);
    assert_eq!(classes(DRS_CONTAINER), ["top", "msDS-DeviceRegistrationServiceContainer"]);
    assert_eq!(classes(DEVICES), ["top", "msDS-DeviceContainer"]);
    let drs = read(&dc, DRS, &["objectClass", "msDS-DeviceLocation", "msDS-IsEnabled"]);
    assert_eq!(text_values(&drs, "objectClass"), ["top", "msDS-DeviceRegistrationService"]);
    assert_eq!(text_values(&drs, "msDS-DeviceLocation"), [DEVICES], "{drs}");
    assert_eq!(text_values(&drs, "msDS-IsEnabled"), ["TRUE"], "{drs}");
    // Exactly one DRS object in the forest (the wizard's own query, device-writeback.md §D.1 #6).
    let all = dc.ldapsearch(&[
        "-b",
        SERVICES_DN,
        "-s",
        "sub",
        "(objectClass=msDS-DeviceRegistrationService)",
        "1.1",
    ]);
    assert_eq!(dns(&all), [DRS]);

    // A second run plans nothing: no object and no ACL change.
    let again = lab.prepare(&connector);
    assert_eq!(plan(&again).len(), 0, "second prepare planned changes: {again:#}");
    assert_eq!(again["applied"], false);
    assert_eq!(again["status"], "ok");

    // verify: every check passes, as a table and as JSON.
    let text = lab.dwb(&["run", "verify"]);
    text.code(0).stdout_has("device location").stdout_has("registration service");
    let (out, r) = lab.verify(&[], &[]);
    out.code(0);
    assert_eq!(r["status"], "ok");
    assert_eq!(r["exit_code"], 0);
    assert_all_ok(&r);
    assert_eq!(finding(&r, "schema").1, "ok");
    assert_eq!(
        finding(&r, "registration service"),
        ("registration service".into(), "ok".into(), DRS.into(), String::new())
    );
    assert_eq!(finding(&r, "device location").2, DEVICES);
}

// ---------------------------------------------------------------------------
// Permissions (docs/device-writeback.md §A.4, §D.1 #4)
// ---------------------------------------------------------------------------

#[test]
fn prepare_grants_the_connector_and_verify_proves_it() {
    let dc = SambaDc::start();
    let lab = Lab::new(&dc);
    let connector = User::create(&dc, "c");
    let stranger = User::create(&dc, "x");
    lab.prepare(&connector);

    // The ACEs, as samba-tool prints them, for the SID ldapsearch reads.
    let sid = &connector.sid;
    let drc = dacl_aces(&dsacl(&dc, DRC));
    assert!(
        drc.contains(&format!("(A;CI;RPWPLCLORCSW;;;{sid})")),
        "DRC lacks the connector's CI ACE: {drc:#?}"
    );
    let devices = dacl_aces(&dsacl(&dc, DEVICES));
    assert!(
        devices.contains(&format!("(OA;;CCDC;{MSDS_DEVICE_GUID};;{sid})")),
        "RegisteredDevices lacks CCDC on msDS-Device: {devices:#?}"
    );
    assert!(
        devices.contains(&format!("(A;CI;RPWPLCLORCSW;;;{sid})")),
        "RegisteredDevices lacks the CI ACE: {devices:#?}"
    );
    // Nothing more for the connector than those (explicit) ACEs …
    let explicit_for = |aces: &[String], sid: &str| -> Vec<String> {
        aces.iter()
            .filter(|a| {
                a.ends_with(&format!(";{sid})"))
                    && !a.split(';').nth(1).unwrap_or("").contains("ID")
            })
            .cloned()
            .collect()
    };
    assert_eq!(explicit_for(&drc, sid).len(), 1, "{drc:#?}");
    assert_eq!(explicit_for(&devices, sid).len(), 2, "{devices:#?}");
    // … and the DACLs keep the default ACEs of their class (Authenticated
    // Users read, SYSTEM full control).
    for default in ["(A;;RPLCLORC;;;AU)", "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"] {
        assert!(drc.contains(&default.to_string()), "DRC lost {default}: {drc:#?}");
        assert!(
            devices.contains(&default.to_string()),
            "RegisteredDevices lost {default}: {devices:#?}"
        );
    }
    // The CI ACE reaches the objects below the DRC (dsacls /I:T).
    for dn in [DRS_CONTAINER, DRS] {
        let aces = dacl_aces(&dsacl(&dc, dn));
        assert!(
            aces.contains(&format!("(A;CIID;RPWPLCLORCSW;;;{sid})")),
            "{dn} did not inherit the ACE: {aces:#?}"
        );
    }
    // The stranger got nothing.
    assert!(
        !dsacl(&dc, DRC).contains(&stranger.sid) && !dsacl(&dc, DEVICES).contains(&stranger.sid)
    );

    // A second prepare plans no ACL change.
    let again = lab.prepare(&connector);
    assert!(plan(&again).is_empty(), "{again:#}");

    // verify with the connector: the permission findings are ok; without a
    // password the probe is only announced.
    let param = connector.param();
    let (out, r) = lab.verify(&["--param", &param], &[]);
    out.code(0);
    assert_all_ok(&r);
    let perms: Vec<(String, String, String)> = findings(&r)
        .into_iter()
        .filter(|f| f.0.starts_with("permissions"))
        .map(|f| (f.0, f.1, f.2))
        .collect();
    let want: Vec<(String, String, String)> = [
        ("permissions: device registration configuration", "ok", "RPWPLCLORCSW"),
        ("permissions: device container", "ok", "CCDC on msDS-Device"),
        ("permissions: device container", "ok", "RPWPLCLORCSW"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(perms, want, "{r:#}");
    let probe = finding(&r, "connector probe");
    assert_eq!(probe.1, "info", "{probe:?}");
    assert!(probe.2.contains("DWB_CONNECTOR_PASSWORD"), "{probe:?}");

    // With the connector's password: it binds as the connector, reads the DRS,
    // creates and deletes a probe device — and nothing is left behind.
    let (out, r) =
        lab.verify(&["--param", &param], &[("DWB_CONNECTOR_PASSWORD", &connector.password)]);
    out.code(0);
    assert_all_ok(&r);
    let probe = finding(&r, "connector probe");
    assert_eq!(probe.1, "ok", "{r:#}");
    let p = &r["data"]["connector_probe"];
    assert_eq!(
        (
            p["status"].as_str(),
            p["read_drs"].as_bool(),
            p["created"].as_bool(),
            p["deleted"].as_bool()
        ),
        (Some("probed"), Some(true), Some(true), Some(true)),
        "{p:#}"
    );
    let probe_dn = p["probe_dn"].as_str().unwrap_or_default();
    assert!(
        probe_dn.starts_with("CN=dwb-probe-") && probe_dn.ends_with(&format!(",{DEVICES}")),
        "{p:#}"
    );
    assert!(absent(&dc, probe_dn), "the probe {probe_dn} still exists");
    assert_no_probe_left(&dc);
    for stream in [&out.stdout, &out.stderr] {
        assert!(!stream.contains(&connector.password), "the connector password was printed");
    }

    // A wrong connector password is an error (invalid_credentials, exit 2), never echoed.
    let wrong = "Not-The-C0nnector-Pw!";
    let (out, r) = lab.verify(&["--param", &param], &[("DWB_CONNECTOR_PASSWORD", wrong)]);
    out.code(2);
    assert_eq!(r["error"]["kind"], "invalid_credentials", "{r:#}");
    assert!(
        !out.stdout.contains(wrong) && !out.stderr.contains(wrong),
        "the wrong password was printed"
    );
    assert_no_probe_left(&dc);

    // An account prepare did not grant: the permission findings fail, and so does the probe.
    let param = stranger.param();
    let (out, r) =
        lab.verify(&["--param", &param], &[("DWB_CONNECTOR_PASSWORD", &stranger.password)]);
    out.code(1);
    assert_eq!(r["status"], "checks_failed");
    assert_eq!(
        failed(&r),
        [
            "permissions: device registration configuration",
            "permissions: device container",
            "permissions: device container",
            "connector probe"
        ],
        "{r:#}"
    );
    assert_eq!(r["data"]["connector_probe"]["created"], false, "{r:#}");
    assert_no_probe_left(&dc);
}

// ---------------------------------------------------------------------------
// --dry-run
// ---------------------------------------------------------------------------

#[test]
fn dry_run_changes_nothing() {
    let dc = SambaDc::start();
    let lab = Lab::new(&dc);
    let first = User::create(&dc, "d");
    let second = User::create(&dc, "e");
    let snapshot = |devices: bool| {
        let mut s = dump(&dc, CONFIG_DN, "sub");
        s.push_str(&dump(&dc, DOMAIN_DN, "one"));
        if devices {
            s.push_str(&dump(&dc, DEVICES, "sub"));
        }
        s
    };

    // An empty domain: the dry run plans the four objects and two ACLs …
    let before = snapshot(false);
    let p1 = first.param();
    let r = lab
        .dwb(&["run", "prepare", "--param", &p1, "--dry-run", "--format", "json"])
        .code(0)
        .json();
    assert_eq!(
        (r["dry_run"].as_bool(), r["applied"].as_bool()),
        (Some(true), Some(false)),
        "{r:#}"
    );
    assert_eq!(plan(&r).len(), 6, "{r:#}");
    assert!(
        plan(&r).iter().all(|c| c.get("outcome").is_none_or(Value::is_null)),
        "a dry run has no outcomes: {r:#}"
    );
    // … and changes nothing.
    assert_same_dump(
        &before,
        &snapshot(false),
        "the directory after prepare --dry-run on an empty domain",
    );
    assert!(absent(&dc, DRC) && absent(&dc, DEVICES));

    // A prepared domain: a dry run for another account plans two ACL changes
    // on existing objects, and changes neither DACL.
    lab.prepare(&first);
    let acl_drc = dsacl(&dc, DRC);
    let acl_devices = dsacl(&dc, DEVICES);
    let before = snapshot(true);
    let p2 = second.param();
    let r = lab
        .dwb(&["run", "prepare", "--param", &p2, "--dry-run", "--format", "json"])
        .code(0)
        .json();
    let actions: Vec<(&str, &str)> = plan(&r)
        .iter()
        .map(|c| (c["action"].as_str().unwrap_or(""), c["target"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(actions, [("acl", DRC), ("acl", DEVICES)], "{r:#}");
    // The text plan shows the SDDL before and after.
    lab.dwb(&["run", "prepare", "--param", &p2, "--dry-run"])
        .code(0)
        .stdout_has("dry run")
        .stdout_has(&second.sid);
    assert_eq!(dsacl(&dc, DRC), acl_drc, "prepare --dry-run changed the DACL of {DRC}");
    assert_eq!(dsacl(&dc, DEVICES), acl_devices, "prepare --dry-run changed the DACL of {DEVICES}");
    assert!(!acl_drc.contains(&second.sid));

    // verify --dry-run with the connector's password only reads (no probe device).
    let p1 = first.param();
    let (out, r) =
        lab.verify(&["--param", &p1, "--dry-run"], &[("DWB_CONNECTOR_PASSWORD", &first.password)]);
    out.code(0);
    assert_eq!(r["data"]["connector_probe"]["status"], "read_only", "{r:#}");
    assert_eq!(finding(&r, "connector probe").1, "ok");
    assert_same_dump(&before, &snapshot(true), "the directory after dry runs on a prepared domain");
}

// ---------------------------------------------------------------------------
// verify on broken states (docs/device-writeback.md §D.1 #2, #3), made with the OpenLDAP tools
// ---------------------------------------------------------------------------

/// A fresh DC where prepare ran and verify passes.
fn prepared_dc() -> (SambaDc, User) {
    let dc = SambaDc::start();
    let connector = User::create(&dc, "b");
    {
        let lab = Lab::new(&dc);
        lab.prepare(&connector);
        let (out, r) = lab.verify(&[], &[]);
        out.code(0);
        assert_all_ok(&r);
    }
    (dc, connector)
}

#[test]
fn verify_fails_when_the_device_location_points_elsewhere() {
    let (dc, connector) = prepared_dc();
    let lab = Lab::new(&dc);
    // msDS-DeviceLocation is system-only: Samba accepts it only on add, so the
    // DRS object is deleted and added again, pointing at CN=Users (a container,
    // not an msDS-DeviceContainer).
    dc.ldap_cli("ldapdelete", &format!("{DRS}\n"));
    dc.ldap_cli(
        "ldapadd",
        &format!("dn: {DRS}\nobjectClass: msDS-DeviceRegistrationService\nmsDS-IsEnabled: TRUE\nmsDS-DeviceLocation: {USERS_DN}\n"),
    );
    assert_eq!(
        text_values(&read(&dc, DRS, &["msDS-DeviceLocation"]), "msDS-DeviceLocation"),
        [USERS_DN]
    );
    assert!(
        !text_values(&read(&dc, USERS_DN, &["objectClass"]), "objectClass")
            .iter()
            .any(|c| c == "msDS-DeviceContainer")
    );

    let (out, r) = lab.verify(&[], &[]);
    out.code(1);
    assert_eq!(r["status"], "checks_failed");
    assert_eq!(failed(&r), ["device location"], "{r:#}");
    let f = finding(&r, "device location");
    assert!(f.2.contains(USERS_DN) && f.2.contains("not an msDS-DeviceContainer"), "{f:?}");
    assert!(!f.3.is_empty(), "no fix given: {f:?}");
    lab.dwb(&["run", "verify"]).code(1).stdout_has("device location").stdout_has("FAIL");

    // prepare refuses to work around it (it never deletes the DRS object).
    let param = connector.param();
    lab.dwb(&["run", "prepare", "--param", &param]).code(2).stderr_has("DWB-PREP-0004");
    assert_eq!(
        text_values(&read(&dc, DRS, &["msDS-DeviceLocation"]), "msDS-DeviceLocation"),
        [USERS_DN]
    );
}

#[test]
fn verify_fails_on_a_duplicate_registration_service() {
    let (dc, connector) = prepared_dc();
    let lab = Lab::new(&dc);
    let other_container = format!("CN=Other Device Registration Services,{SERVICES_DN}");
    let duplicate = format!("CN=DeviceRegistrationService,{other_container}");
    dc.ldap_cli(
        "ldapadd",
        &format!(
            "dn: {other_container}\nobjectClass: msDS-DeviceRegistrationServiceContainer\n\n\
             dn: {duplicate}\nobjectClass: msDS-DeviceRegistrationService\nmsDS-IsEnabled: TRUE\nmsDS-DeviceLocation: {DEVICES}\n"
        ),
    );
    let all = dc.ldapsearch(&[
        "-b",
        SERVICES_DN,
        "-s",
        "sub",
        "(objectClass=msDS-DeviceRegistrationService)",
        "1.1",
    ]);
    assert_eq!(dns(&all).len(), 2, "{all}");

    let (out, r) = lab.verify(&[], &[]);
    out.code(1);
    assert_eq!(failed(&r), ["registration service"], "{r:#}");
    let f = finding(&r, "registration service");
    assert!(
        f.2.contains(DRS) && f.2.contains(&duplicate),
        "the finding does not name both objects: {f:?}"
    );
    assert!(f.3.contains("duplicate"), "{f:?}");
    lab.dwb(&["run", "verify"]).code(1).stdout_has("registration service").stdout_has("FAIL");

    let param = connector.param();
    lab.dwb(&["run", "prepare", "--param", &param]).code(2).stderr_has("DWB-PREP-0002");
}

#[test]
fn verify_fails_when_the_device_container_is_missing() {
    let (dc, _connector) = prepared_dc();
    let lab = Lab::new(&dc);
    dc.ldap_cli("ldapdelete", &format!("{DEVICES}\n"));
    assert!(absent(&dc, DEVICES));

    let (out, r) = lab.verify(&[], &[]);
    out.code(1);
    assert_eq!(failed(&r), ["device location"], "{r:#}");
    assert!(finding(&r, "device location").2.contains("RegisteredDevices"), "{r:#}");
    lab.dwb(&["run", "verify"]).code(1).stdout_has("device location").stdout_has("FAIL");
}

/// BUG (see the report): when CN=RegisteredDevices is deleted, the DC rewrites
/// the DRS object's msDS-DeviceLocation to the tombstone
/// (`CN=RegisteredDevices\0ADEL:<guid>,CN=Deleted Objects,…`, observed on Samba
/// 4.17; AD keeps DN references to deleted objects the same way). verify's fix
/// says "run `dwb run prepare` to create the container", but prepare then stops
/// with DWB-PREP-0004 (drs_points_elsewhere) — the advice cannot be followed.
/// Either the advice must say to delete the DRS object first, or prepare must
/// succeed and verify pass afterwards.
#[test]
fn verify_advice_for_a_missing_device_container_can_be_followed() {
    let (dc, connector) = prepared_dc();
    let lab = Lab::new(&dc);
    dc.ldap_cli("ldapdelete", &format!("{DEVICES}\n"));
    let location = text_values(&read(&dc, DRS, &["msDS-DeviceLocation"]), "msDS-DeviceLocation");

    let (out, r) = lab.verify(&[], &[]);
    out.code(1);
    let (_, _, detail, fix) = finding(&r, "device location");
    let param = connector.param();
    let says_delete_drs = fix.contains("delete the DeviceRegistrationService");
    if !says_delete_drs {
        let prep = lab.dwb(&["run", "prepare", "--param", &param]);
        assert_eq!(
            prep.code, 0,
            "verify said {detail:?} and advised {fix:?}, but following it fails \
             (the DRS now has msDS-DeviceLocation {location:?}):\n{}",
            prep.stderr
        );
        let (out, r) = lab.verify(&[], &[]);
        assert_eq!(out.code, 0, "after following the advice {fix:?}, verify still fails: {r:#}");
        return;
    }
    // The advice names the delete: following it makes verify pass.
    dc.ldap_cli("ldapdelete", &format!("{DRS}\n"));
    lab.prepare(&connector);
    lab.verify(&[], &[]).0.code(0);
}

// ---------------------------------------------------------------------------
// ad::grant / ad::revoke / ad::has_access from a site script
// ---------------------------------------------------------------------------

const ACL_SCRIPT: &str = r#"
fn params() {
    [ #{ name: "dn", type: "string", required: true, help: "object" },
      #{ name: "account", type: "string", required: true, help: "trustee" } ]
}
report::set("access_before", ad::has_access(params.dn, params.account, "RPWP"));
report::set("changed", ad::CALL(params.dn, params.account, "RPWP", #{ inherit: "this" }));
report::set("access_planned", ad::has_access(params.dn, params.account, "RPWP"));
"#;

#[test]
fn grant_and_revoke_from_a_script_round_trip_the_dacl() {
    let dc = SambaDc::shared();
    let lab = Lab::new(dc);
    let ou = dc.create_ou("scripts-acl").to_string();
    let user = User::create(dc, "g");
    lab.dir.write("grant.rhai", &ACL_SCRIPT.replace("CALL", "grant"));
    lab.dir.write("revoke.rhai", &ACL_SCRIPT.replace("CALL", "revoke"));
    let p_dn = format!("dn={ou}");
    let p_acct = format!("account={}", user.account());
    let run = |script: &str| {
        lab.dwb(&["run", script, "--param", &p_dn, "--param", &p_acct, "--format", "json"])
            .code(0)
            .json()
    };
    let flags = |r: &Value| {
        (
            r["data"]["access_before"].as_bool(),
            r["data"]["changed"].as_bool(),
            r["data"]["access_planned"].as_bool(),
        )
    };
    let ace = format!("(A;;RPWP;;;{})", user.sid);

    let original = dsacl(dc, &ou);
    assert!(!original.contains(&user.sid));

    let r = run("grant.rhai");
    assert_eq!(flags(&r), (Some(false), Some(true), Some(true)), "{r:#}");
    assert_eq!(plan(&r).len(), 1, "{r:#}");
    assert_eq!(
        (plan(&r)[0]["action"].as_str(), plan(&r)[0]["outcome"]["status"].as_str()),
        (Some("acl"), Some("applied")),
        "{r:#}"
    );
    let granted = dsacl(dc, &ou);
    assert!(dacl_aces(&granted).contains(&ace), "samba-tool does not show {ace}:\n{granted}");
    assert_eq!(granted.matches(&user.sid).count(), 1, "{granted}");

    // Idempotent, and has_access now reads the live DACL as true.
    let r = run("grant.rhai");
    assert_eq!(flags(&r), (Some(true), Some(false), Some(true)), "{r:#}");
    assert!(plan(&r).is_empty(), "{r:#}");
    assert_eq!(dsacl(dc, &ou), granted);

    let r = run("revoke.rhai");
    assert_eq!(flags(&r), (Some(true), Some(true), Some(false)), "{r:#}");
    assert_eq!(plan(&r)[0]["outcome"]["status"], "applied", "{r:#}");
    assert_eq!(
        dsacl(dc, &ou),
        original,
        "the DACL after grant + revoke differs from the one before"
    );

    let r = run("revoke.rhai");
    assert_eq!(flags(&r), (Some(false), Some(false), Some(false)), "{r:#}");
    assert!(plan(&r).is_empty(), "{r:#}");

    // The journal takes a grant back: `dwb undo` revokes what the run added, and
    // only while the DACL is the one the DC stored.
    let r = run("grant.rhai");
    let run_id = r["run_id"].as_str().unwrap().to_string();
    assert_ne!(dsacl(dc, &ou), original);
    let undo = lab.dwb(&["undo", &run_id, "--format", "json"]);
    let undo = undo.code(0).json();
    assert_eq!(plan(&undo)[0]["action"], "acl", "{undo:#}");
    assert_eq!(dsacl(dc, &ou), original, "the DACL after grant + undo differs from the one before");
    let r = run("grant.rhai");
    let run_id = r["run_id"].as_str().unwrap().to_string();
    dc.samba_tool_as_admin(&[
        "dsacl",
        "set",
        &format!("--objectdn={ou}"),
        &format!("--sddl=(A;;RP;;;{})", user.sid),
    ]);
    let edited = dsacl(dc, &ou);
    lab.dwb(&["undo", &run_id]).code(4).stderr_has("its DACL changed since the run");
    assert_eq!(dsacl(dc, &ou), edited, "undo touched a DACL changed since the run");
}

// ---------------------------------------------------------------------------
// The plan as LDIF (--save-plan plan.ldif) applied by ldapmodify
// ---------------------------------------------------------------------------

/// A fresh DC, a connector, and the dry-run plan of prepare saved as LDIF.
fn saved_plan() -> (SambaDc, User, String) {
    let dc = SambaDc::start();
    let connector = User::create(&dc, "l");
    let lab = Lab::new(&dc);
    let param = connector.param();
    lab.dwb(&["run", "prepare", "--param", &param, "--dry-run", "--save-plan", "plan.ldif"])
        .code(0);
    let ldif = lab.dir.read("plan.ldif");
    assert!(absent(&dc, DRC), "the dry run created objects");
    assert_eq!(ldif.matches("changetype: add").count(), 4, "{ldif}");
    (dc, connector, ldif)
}

/// The real `ldapmodify` (ldap-utils 2.5) accepts the saved plan unchanged and
/// reproduces all of it: the permission changes are `nTSecurityDescriptor`
/// replaces sent with the SD flags control (an RFC 2849 `control:` line, DACL
/// only), those of objects the plan creates included (their class's default
/// DACL plus the ACEs). After applying the LDIF, verify passes and prepare plans
/// nothing.
#[test]
fn saved_plan_ldif_applies_with_ldapmodify() {
    let (dc, connector, ldif) = saved_plan();
    let lab = Lab::new(&dc);
    assert!(!ldif.contains("not written as LDIF"), "{ldif}");
    assert_eq!(
        ldif.matches(
            "control: 1.2.840.113556.1.4.801 true:: MAMCAQQ=\nchangetype: modify\n\
                      replace: nTSecurityDescriptor\n"
        )
        .count(),
        ldif.matches("# before: ").count(),
        "every ACL change is an SD-flags replace:\n{ldif}"
    );
    assert!(ldif.matches("# before: ").count() >= 2, "{ldif}");
    dc.ldap_cli("ldapmodify", &ldif);

    let drs = read(&dc, DRS, &["objectClass", "msDS-DeviceLocation", "msDS-IsEnabled"]);
    assert_eq!(text_values(&drs, "msDS-DeviceLocation"), [DEVICES]);
    assert_eq!(text_values(&drs, "msDS-IsEnabled"), ["TRUE"]);
    assert_eq!(
        text_values(&read(&dc, DEVICES, &["objectClass"]), "objectClass"),
        ["top", "msDS-DeviceContainer"]
    );

    let (_, r) = lab.verify(&[], &[]);
    for check in ["schema", "registration service", "device location"] {
        assert_eq!(finding(&r, check).1, "ok", "{check} after applying the LDIF: {r:#}");
    }
    assert!(
        dacl_aces(&dsacl(&dc, DRC)).contains(&format!("(A;CI;RPWPLCLORCSW;;;{})", connector.sid))
    );
    let again = lab.prepare(&connector);
    assert!(plan(&again).is_empty(), "prepare after the LDIF plans nothing: {again:#}");
    let param = connector.param();
    let (out, r) =
        lab.verify(&["--param", &param], &[("DWB_CONNECTOR_PASSWORD", &connector.password)]);
    out.code(0);
    assert_all_ok(&r);
    assert_no_probe_left(&dc);
    assert!(plan(&lab.prepare(&connector)).is_empty());
}

/// Applying the saved plan by hand keeps the default explicit ACEs of the objects
/// it creates — Authenticated Users' read `(A;;RPLCLORC;;;AU)`, SYSTEM's full
/// control — as `dwb run prepare` does.
#[test]
fn saved_plan_ldif_keeps_the_default_aces_of_objects_it_creates() {
    let (dc, _connector, ldif) = saved_plan();
    dc.ldap_cli("ldapmodify", &ldif);
    for dn in [DRC, DEVICES] {
        let aces = dacl_aces(&dsacl(&dc, dn));
        for default in ["(A;;RPLCLORC;;;AU)", "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"] {
            assert!(
                aces.contains(&default.to_string()),
                "after ldapmodify of the saved plan, {dn} lost its default ACE {default}; its DACL is now:\n{aces:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Bad connection settings against a live DC
// ---------------------------------------------------------------------------

#[test]
fn wrong_password_is_exit_2_and_never_printed() {
    let dc = SambaDc::shared();
    let lab = Lab::new(dc);
    let wrong = "Wr0ng-Adm1n-Secret!";
    let env = [("DWB_LDAP_PASSWORD", wrong), ("DWB_LOG", "trace")];
    // README: 2 = "script or runtime error"; a refused bind is one (not a usage error).
    let text = lab.dwb_env(&["run", "verify"], &env);
    text.code(2).stderr_has("invalid_credentials").stderr_has("DWB-AD-0049");
    let json = lab.dwb_env(&["run", "verify", "--format", "json", "--report", "report.json"], &env);
    json.code(2);
    let r = json.json();
    assert_eq!(
        (r["status"].as_str(), r["error"]["kind"].as_str()),
        (Some("error"), Some("invalid_credentials")),
        "{r:#}"
    );
    let report = lab.dir.read("report.json");
    for (what, s) in [
        ("stdout", &text.stdout),
        ("stderr", &text.stderr),
        ("json stdout", &json.stdout),
        ("json stderr", &json.stderr),
        ("report", &report),
    ] {
        assert!(!s.contains(wrong), "the password is in the {what}:\n{s}");
        assert!(!s.contains(dc.admin_password()), "the admin password is in the {what}");
    }
}

#[test]
fn wrong_ca_file_is_a_tls_error_naming_dwb_ldap_ca_file() {
    let dc = SambaDc::shared();
    let lab = Lab::new(dc);
    // A CA that did not issue the DC's certificate.
    let status = Command::new("openssl")
        .current_dir(lab.dir.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", "/CN=another CA", "-keyout", "other.key", "-out", "other-ca.pem"])
        .output()
        .expect("running openssl");
    assert!(status.status.success(), "openssl: {}", String::from_utf8_lossy(&status.stderr));
    let other = lab.dir.join("other-ca.pem");
    let out = lab.dwb_env(&["run", "verify"], &[("DWB_LDAP_CA_FILE", other.to_str().unwrap())]);
    out.code(2).stderr_has("DWB_LDAP_CA_FILE").stderr_has("(tls)");
    assert!(!out.stderr.contains(dc.admin_password()));
}

/// BUG (see the report): an unreadable CA file is DWB-CFG-0001 (kind `config`),
/// which the README's exit-code table puts under 3 ("usage or configuration
/// error … bad config"), and which `dwb` does exit 3 for when it is detected
/// at startup (a bad dwb.toml). Detected when the script first touches the
/// directory, it exits 2.
#[test]
fn missing_ca_file_is_a_configuration_error() {
    let dc = SambaDc::shared();
    let lab = Lab::new(dc);
    let missing = lab.dir.join("no-such-ca.pem");
    let out = lab.dwb_env(&["run", "verify"], &[("DWB_LDAP_CA_FILE", missing.to_str().unwrap())]);
    out.stderr_has("DWB_LDAP_CA_FILE").stderr_has("DWB-CFG-0001");
    out.code(3);
}

#[test]
fn a_live_dc_without_a_device_source_is_a_config_error_and_writes_nothing() {
    let (dc, _) = prepared_dc();
    let lab = Lab::new(&dc);
    let devices = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/contoso/devices.json");
    lab.dwb(&["run", "sync", "--devices", devices, "-q"]).code(0);
    let before = dump(&dc, DEVICES, "one");
    assert!(dns(&before).len() > 10, "the container and the devices written:\n{before}");
    // No DWB_GRAPH_* and no --devices: the demo devices must not stand in.
    for args in [&["run", "sync", "-q"][..], &["run", "sync", "--format", "json"][..]] {
        let o = lab.dwb(args);
        o.code(3).stderr_has("no device source is configured").stderr_has("--devices FILE");
        assert!(!o.stderr.contains("[demo]"), "{}", o.stderr);
    }
    let j = lab.dwb(&["run", "sync", "--format", "json"]).json();
    assert!(j["sources"]["directory"].as_str().unwrap().starts_with("ldaps://"), "{j}");
    assert_eq!(j["sources"]["devices"], "none");
    assert_same_dump(&before, &dump(&dc, DEVICES, "one"), "a sync without a device source");
    // verify without drift reads no device source and passes.
    lab.dwb(&["run", "verify"]).code(0);
}

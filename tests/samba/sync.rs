//! `dwb run sync` end to end, black box: the real dwb binary against a fresh
//! Samba AD DC (prepared with `dwb run prepare`) and the Graph emulator started
//! in this process, every result cross-checked with the real `ldapsearch`
//! (parsed here, not by dwb). Spec: docs/device-writeback.md §B (mapping, ownership,
//! deletes), §C.4 (altSecurityIdentities), §D; README (exit codes, report).
//!
//! - initial full sync: one object per in-scope device at `CN=<deviceId>`, every
//!   mapped attribute (hostile display names byte-exact), skipped devices reported;
//! - a no-change resync plans nothing (uSNChanged unchanged, verify drift ok);
//! - delta rounds touch exactly the changed objects, with only the changed
//!   attributes; the state moves only after the round applied;
//! - the deletion threshold and an empty listing stop before deleting (full and delta);
//! - objects without an anchor, another writer's objects and objects outside the
//!   container survive; `take_over` manages the other writer's object (one whose
//!   device is gone gets the marker only, and the next sync deletes it);
//! - a rejected write is a failed change (exit 2), the rest applied, no partial object;
//! - Graph throttling, dwb killed (SIGKILL) or interrupted (SIGINT) mid-apply, the
//!   DC stopped or hung mid-sync: clear outcome, and a rerun converges.
//!
//! Every test starts its own DC: they stop it, kill dwb mid-apply, or fill the
//! one device container with objects of their own.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dwb_graph_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, EmulatorHandle, EmulatorState, Faults,
    RetryAfter, generate,
};
use serde_json::{Value, json};

use super::rt;
use crate::support::samba::SambaDc;
use crate::support::{Dir, Out};

const DOMAIN: &str = "DC=contoso,DC=test";
pub(super) const CONTAINER: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
const MARKER: &str = "dwb-writeback";
/// Samba enforces displayName's rangeUpper (256 characters).
const DISPLAY_NAME_MAX: usize = 256;

// ---- the lab: one DC, one emulator, one working directory --------------------------

pub(super) struct Lab {
    pub(super) dc: SambaDc,
    pub(super) emu: EmulatorHandle,
    pub(super) dir: Dir,
    started: Instant,
    name: &'static str,
}

impl Lab {
    /// A fresh DC prepared by `dwb run prepare`, and an emulator serving `state`.
    pub(super) fn start(name: &'static str, state: EmulatorState) -> Lab {
        let started = Instant::now();
        let dc = SambaDc::start();
        let emu = rt().block_on(Emulator::start(state)).unwrap();
        let lab = Lab { dc, emu, dir: Dir::new(), started, name };
        lab.run(&[
            "run",
            "prepare",
            "--param",
            "connector_account=CONTOSO\\Administrator",
            "--quiet",
        ])
        .code(0);
        assert_eq!(lab.count(), 0, "a fresh container is empty");
        lab
    }

    /// `dwb` with the DC and the emulator configured through DWB_* variables.
    pub(super) fn cmd(&self) -> Command {
        let mut c = self.dir.dwb();
        let base = self.emu.base_url().to_string();
        c.env("DWB_LDAP_URL", self.dc.url_ldaps())
            .env("DWB_LDAP_USER", self.dc.admin_user())
            .env("DWB_LDAP_PASSWORD", self.dc.admin_password())
            .env("DWB_LDAP_CA_FILE", self.dc.ca_file())
            .env("DWB_GRAPH_TENANT", self.emu.tenant_id())
            .env("DWB_GRAPH_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("DWB_GRAPH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("DWB_GRAPH_AUTHORITY", &base)
            .env("DWB_GRAPH_ENDPOINT", &base);
        c
    }

    pub(super) fn run(&self, args: &[&str]) -> Out {
        let o = self.cmd().args(args).output().unwrap();
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    pub(super) fn sync_args(params: &[&str]) -> Vec<String> {
        let mut a: Vec<String> =
            ["run", "sync", "--format", "json"].iter().map(|s| s.to_string()).collect();
        for p in params {
            a.push("--param".into());
            a.push(p.to_string());
        }
        a
    }

    /// `dwb run sync --format json --param …`: the output and the JSON report.
    pub(super) fn sync(&self, params: &[&str]) -> (Out, Value) {
        let args = Lab::sync_args(params);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args);
        let report = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("sync printed no JSON report ({e}); exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}", out.code, out.stdout, out.stderr));
        (out, report)
    }

    /// A sync in the background (to be killed or to lose its DC).
    pub(super) fn spawn_sync(&self, params: &[&str]) -> Child {
        self.cmd()
            .args(Lab::sync_args(params))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The binary objectSid of the domain's Administrator, read with ldapsearch.
    pub(super) fn admin_sid(&self) -> Vec<u8> {
        let admin = parse_ldif(&self.dc.ldapsearch(&[
            "-b",
            &format!("CN=Administrator,CN=Users,{DOMAIN}"),
            "-s",
            "base",
            "(objectClass=*)",
            "objectSid",
        ]));
        admin[0].one("objectSid").unwrap()
    }

    /// Every msDS-Device one level below `base`, all attributes, through ldapsearch.
    pub(super) fn objects_in(&self, base: &str) -> Vec<Obj> {
        parse_ldif(&self.dc.ldapsearch(&[
            "-E",
            "pr=1000/noprompt",
            "-b",
            base,
            "-s",
            "one",
            "(objectClass=msDS-Device)",
            "*",
            "uSNChanged",
        ]))
    }

    pub(super) fn objects(&self) -> Vec<Obj> {
        self.objects_in(CONTAINER)
    }

    /// Number of msDS-Device objects in the device container (DNs only).
    pub(super) fn count(&self) -> usize {
        parse_ldif(&self.dc.ldapsearch(&[
            "-E",
            "pr=1000/noprompt",
            "-b",
            CONTAINER,
            "-s",
            "one",
            "(objectClass=msDS-Device)",
            "1.1",
        ]))
        .len()
    }

    /// Does `dn` exist (base search through ldapsearch)?
    pub(super) fn exists(&self, dn: &str) -> bool {
        let out = self.dc.ldapsearch_output(&["-b", dn, "-s", "base", "(objectClass=*)", "1.1"]);
        match out.status.code() {
            Some(0) => true,
            Some(32) => false,
            other => panic!(
                "ldapsearch -b {dn}: exit {other:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    pub(super) fn devices(&self) -> Vec<Dev> {
        self.emu.with_state(|s| s.devices.values().map(|d| Dev::from_props(&d.props)).collect())
    }

    /// The devices a sync writes back: those with a type-2 key whose display
    /// name the schema can hold (docs/device-writeback.md §B.3; Samba's displayName rangeUpper).
    pub(super) fn in_scope(&self) -> Vec<Dev> {
        self.devices()
            .into_iter()
            .filter(|d| !d.keys.is_empty() && d.name.encode_utf16().count() <= DISPLAY_NAME_MAX)
            .collect()
    }

    /// A full sync that must succeed and create every in-scope device.
    pub(super) fn initial_sync(&self) -> Value {
        let (out, report) = self.sync(&[]);
        out.code(0);
        assert_eq!(self.count(), self.in_scope().len(), "one object per in-scope device");
        report
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        eprintln!("sync test {}: {:.1?}", self.name, self.started.elapsed());
    }
}

// ---- what the emulator holds, decoded independently of dwb -------------------------

#[derive(Debug, Clone)]
pub(super) struct Dev {
    pub(super) id: String,
    pub(super) device_id: String,
    pub(super) name: String,
    enabled: bool,
    /// `alternativeSecurityIds` of type 2: UTF-16LE text of the base64 key.
    keys: BTreeSet<String>,
}

impl Dev {
    fn from_props(p: &serde_json::Map<String, Value>) -> Dev {
        let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let keys = p
            .get("alternativeSecurityIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a.get("type").and_then(Value::as_i64) == Some(2))
            .map(|a| {
                let raw = STANDARD.decode(a["key"].as_str().unwrap()).unwrap();
                let units: Vec<u16> =
                    raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                String::from_utf16(&units).unwrap()
            })
            .collect();
        Dev {
            id: s("id"),
            device_id: s("deviceId"),
            name: s("displayName"),
            enabled: p.get("accountEnabled").and_then(Value::as_bool).unwrap_or(false),
            keys,
        }
    }

    pub(super) fn dn(&self) -> String {
        format!("CN={},{CONTAINER}", self.device_id)
    }

    /// msDS-DeviceID: the GUID in objectGUID byte order (first three fields little-endian).
    fn id_bytes(&self) -> Vec<u8> {
        uuid::Uuid::parse_str(&self.device_id).unwrap().to_bytes_le().to_vec()
    }

    fn anchor(&self) -> Vec<u8> {
        format!("Device_{}", self.id).into_bytes()
    }
}

/// A Graph device JSON with one X.509 key (the shape docs/device-writeback.md §C.4 describes).
pub(super) fn new_device(n: u32, name: &str) -> (Value, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let device_id = uuid::Uuid::new_v4().to_string();
    let tp: String =
        (0..40).map(|i| char::from_digit((i + n) % 16, 16).unwrap().to_ascii_uppercase()).collect();
    let hash = STANDARD.encode([n as u8; 32]);
    let text = format!("X509:<SHA1-TP-PUBKEY>{tp}{hash}");
    let key = STANDARD.encode(text.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>());
    let v = json!({
        "id": id, "deviceId": device_id, "displayName": name, "operatingSystem": "Windows",
        "operatingSystemVersion": "10.0.26100.1", "trustType": "AzureAd", "accountEnabled": true,
        "alternativeSecurityIds": [{"type": 2, "identityProvider": null, "key": key}],
        "physicalIds": [format!("[GID]:g:{n}")], "isManaged": true, "deviceVersion": 2,
    });
    (v, id)
}

/// The emulator's whole generated tenant, hostile names included (its 271-character
/// `LONG-AAA…` name is more than the schema allows: dwb skips that device).
pub(super) fn tenant(n: usize, seed: u64) -> EmulatorState {
    generate(n, seed)
}

// ---- ldapsearch output, parsed here (not with dwb's parser) --------------------------

#[derive(Debug, Clone)]
pub(super) struct Obj {
    pub(super) dn: String,
    pub(super) attrs: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Obj {
    pub(super) fn get(&self, name: &str) -> Vec<Vec<u8>> {
        self.attrs.get(&name.to_ascii_lowercase()).cloned().unwrap_or_default()
    }
    pub(super) fn one(&self, name: &str) -> Option<Vec<u8>> {
        let v = self.get(name);
        assert!(v.len() <= 1, "{}: {name} has {} values", self.dn, v.len());
        v.into_iter().next()
    }
    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.one(name).map(|v| String::from_utf8(v).unwrap())
    }
    fn set(&self, name: &str) -> BTreeSet<String> {
        self.get(name).into_iter().map(|v| String::from_utf8(v).unwrap()).collect()
    }
    pub(super) fn usn(&self) -> u64 {
        self.text("uSNChanged").unwrap().parse().unwrap()
    }
}

/// `ldapsearch -LLL -o ldif-wrap=no` output: `name: text` or `name:: base64` lines.
pub(super) fn parse_ldif(text: &str) -> Vec<Obj> {
    let mut out: Vec<Obj> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("not LDIF: {line:?}"));
        let value = match value.strip_prefix(':') {
            Some(b64) => STANDARD.decode(b64.trim()).unwrap(),
            None => value.strip_prefix(' ').unwrap_or(value).as_bytes().to_vec(),
        };
        if name.eq_ignore_ascii_case("dn") {
            out.push(Obj { dn: String::from_utf8(value).unwrap(), attrs: BTreeMap::new() });
        } else {
            out.last_mut().unwrap().attrs.entry(name.to_ascii_lowercase()).or_default().push(value);
        }
    }
    out
}

pub(super) fn by_dn(objs: Vec<Obj>) -> HashMap<String, Obj> {
    objs.into_iter().map(|o| (o.dn.to_ascii_lowercase(), o)).collect()
}

// ---- the JSON report ---------------------------------------------------------------

pub(super) fn plan(report: &Value) -> Vec<Value> {
    report["plan"].as_array().cloned().unwrap_or_default()
}

/// Directory changes of the plan (without the delta round's `setting`).
pub(super) fn writes(report: &Value) -> Vec<Value> {
    plan(report)
        .into_iter()
        .filter(|c| matches!(c["action"].as_str(), Some("create" | "modify" | "delete")))
        .collect()
}

pub(super) fn with_action(report: &Value, action: &str) -> Vec<Value> {
    writes(report).into_iter().filter(|c| c["action"] == action).collect()
}

pub(super) fn targets(changes: &[Value]) -> BTreeSet<String> {
    changes.iter().map(|c| c["target"].as_str().unwrap().to_ascii_lowercase()).collect()
}

pub(super) fn warnings(report: &Value) -> Vec<String> {
    report["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

pub(super) fn error_text(out: &Out, report: &Value) -> String {
    format!("{} {}", report["error"]["message"].as_str().unwrap_or(""), out.stderr)
}

/// Every object the sync wrote, checked against its device (docs/device-writeback.md §B.3).
pub(super) fn assert_written(obj: &Obj, d: &Dev) {
    let what = format!("device {} ({:?})", d.id, d.name);
    assert_eq!(obj.dn, d.dn(), "{what}: DN");
    assert_eq!(
        obj.one("msDS-DeviceID"),
        Some(d.id_bytes()),
        "{what}: msDS-DeviceID in objectGUID byte order"
    );
    assert_eq!(
        obj.one("displayName"),
        Some(d.name.as_bytes().to_vec()),
        "{what}: displayName byte-exact"
    );
    assert_eq!(
        obj.set("altSecurityIdentities"),
        d.keys,
        "{what}: altSecurityIdentities = decoded type-2 keys"
    );
    assert!(
        obj.set("altSecurityIdentities").iter().all(|k| k.starts_with("X509:<SHA1-TP-PUBKEY>")),
        "{what}"
    );
    assert_eq!(obj.one("msDS-CloudAnchor"), Some(d.anchor()), "{what}: msDS-CloudAnchor");
    assert_eq!(obj.text("adminDescription").as_deref(), Some(MARKER), "{what}: dwb's marker");
    assert_eq!(
        obj.text("msDS-IsEnabled").as_deref(),
        Some(if d.enabled { "TRUE" } else { "FALSE" }),
        "{what}: msDS-IsEnabled"
    );
}

/// The container holds exactly one object per in-scope device, each as device-writeback.md §B.3 says,
/// and every msDS-DeviceID once.
pub(super) fn assert_converged(lab: &Lab) {
    let objs = lab.objects();
    let want = lab.in_scope();
    let mut ids = BTreeMap::new();
    for o in &objs {
        *ids.entry(o.one("msDS-DeviceID").unwrap()).or_insert(0) += 1;
    }
    let dupes: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicate msDS-DeviceIDs: {dupes:?}");
    assert_eq!(objs.len(), want.len(), "one object per in-scope device");
    let objs = by_dn(objs);
    for d in &want {
        let o = objs
            .get(&d.dn().to_ascii_lowercase())
            .unwrap_or_else(|| panic!("device {} ({:?}) missing at {}", d.id, d.name, d.dn()));
        assert_written(o, d);
    }
}

pub(super) fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a background dwb, reading its output meanwhile (a JSON report of
/// hundreds of changes is more than a pipe holds).
/// Waits until the container's object count stops changing (writes a client sent
/// before it went away may still be applied).
pub(super) fn settle(lab: &Lab) -> usize {
    let mut last = usize::MAX;
    let mut n = 0;
    wait_for("the container count to settle", Duration::from_secs(30), || {
        n = lab.count();
        let settled = n == last;
        last = n;
        std::thread::sleep(Duration::from_millis(300));
        settled
    });
    n
}

pub(super) fn finish(mut child: Child, limit: Duration) -> Out {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dwb run sync did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        args: "run sync (background)".into(),
    }
}

// ---- tests ---------------------------------------------------------------------------

#[test]
fn initial_full_sync_writes_every_in_scope_device() {
    let lab = Lab::start("initial_full_sync", tenant(160, 7));
    let all = lab.devices();
    let want = lab.in_scope();
    let skipped: Vec<&Dev> = all.iter().filter(|d| d.keys.is_empty()).collect();
    assert!(
        !skipped.is_empty() && want.len() > 100,
        "the generated tenant has devices without a type-2 key ({})",
        skipped.len()
    );
    // And one whose name is longer than the schema allows.
    let long = all.iter().find(|d| d.name.chars().count() > DISPLAY_NAME_MAX).unwrap();
    let too_long = usize::from(!long.keys.is_empty());

    // One device's registered owner is a user of this forest (Administrator): its
    // SID becomes msDS-RegisteredOwner. Every generated owner is from another forest.
    let admin_sid = lab.admin_sid();
    let owned = want.iter().find(|d| d.name.starts_with("LT-")).unwrap().clone();
    lab.emu.with_state(|s| {
        let user = s.add_user(json!({"id": uuid::Uuid::new_v4().to_string(), "userPrincipalName": "administrator@contoso.test", "onPremisesSecurityIdentifier": sid_text(&admin_sid)})).unwrap();
        s.set_owner(&owned.id, &user).unwrap();
    });

    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(report["status"], "ok");
    assert_eq!(report["data"]["sync"]["creates"], want.len());
    assert_eq!(report["data"]["sync"]["skipped"], skipped.len() + too_long);
    let creates = with_action(&report, "create");
    assert_eq!(creates.len(), want.len(), "one create per in-scope device");
    assert!(creates.iter().all(|c| c["outcome"]["status"] == "applied"), "every create applied");
    assert_eq!(writes(&report).len(), creates.len(), "an initial sync only creates");

    // Cross-check with ldapsearch: one object per device, every attribute as mapped.
    assert_eq!(lab.count(), want.len());
    assert_converged(&lab);

    let objs = by_dn(lab.objects());
    assert_eq!(
        objs[&owned.dn().to_ascii_lowercase()].one("msDS-RegisteredOwner"),
        Some(admin_sid),
        "the owner's binary SID"
    );
    let with_owner: Vec<&String> = objs
        .iter()
        .filter(|(_, o)| o.one("msDS-RegisteredOwner").is_some())
        .map(|(dn, _)| dn)
        .collect();
    assert_eq!(with_owner.len(), 1, "owners from another forest are not written: {with_owner:?}");

    // Hostile display names are stored byte-exact on CN=<deviceId> objects.
    let mut checked = 0;
    for hostile in [
        "*)(objectClass=*",
        ",CN=Admins",
        "#leading-hash",
        " leading space",
        "trailing space ",
        "back\\slash",
        "\"quoted\"<angle>;semi+plus=eq",
        "CN=Fake,OU=Evil,DC=contoso,DC=com",
    ] {
        let d = all
            .iter()
            .find(|d| d.name == hostile)
            .unwrap_or_else(|| panic!("the generator made no device named {hostile:?}"));
        if d.keys.is_empty() {
            continue;
        }
        let o = &objs[&d.dn().to_ascii_lowercase()];
        assert_eq!(
            o.dn,
            format!("CN={},CN=RegisteredDevices,{DOMAIN}", d.device_id),
            "{hostile:?}"
        );
        assert_eq!(o.one("displayName").unwrap(), hostile.as_bytes(), "{hostile:?}");
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} hostile names had a type-2 key");
    // The over-long name is skipped with the schema's limit, never cut.
    if too_long == 1 {
        assert!(!lab.exists(&long.dn()));
        let limit = format!("the schema allows at most {DISPLAY_NAME_MAX}");
        assert!(warnings(&report).iter().any(|w| w.contains(&long.id) && w.contains(&limit)));
    }

    // Devices without a type-2 key: not written, and each named in the report's data;
    // the warnings summarise them in one line (a count and the first few).
    let listed: Vec<Value> = report["data"]["sync"]["skipped_devices"].as_array().unwrap().clone();
    for d in &skipped {
        assert!(!lab.exists(&d.dn()), "device {} has no type-2 key but was written", d.id);
        assert!(
            listed.iter().any(|s| s["device"] == d.id.as_str() && s["kind"] == "no_key"),
            "device {} not reported as skipped: {listed:#?}",
            d.id
        );
    }
    let warns = warnings(&report);
    let no_key: Vec<&String> = warns.iter().filter(|w| w.contains("type-2")).collect();
    assert_eq!(no_key.len(), 1, "one summary line for the keyless devices: {warns:#?}");
    assert!(no_key[0].starts_with(&format!("{} device(s) skipped", skipped.len())), "{no_key:?}");
}

#[test]
fn no_change_resync_writes_nothing() {
    let lab = Lab::start("no_change_resync", tenant(150, 11));
    lab.initial_sync();
    let before: BTreeMap<String, u64> =
        lab.objects().iter().map(|o| (o.dn.clone(), o.usn())).collect();

    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(plan(&report), Vec::<Value>::new(), "a no-change resync plans nothing");
    assert_eq!(report["data"]["sync"]["unchanged"], lab.in_scope().len());
    assert_eq!(report["data"]["sync"]["creates"], 0);
    assert_eq!(report["data"]["sync"]["updates"], 0);
    assert_eq!(report["data"]["sync"]["deletes"], 0);
    let after: BTreeMap<String, u64> =
        lab.objects().iter().map(|o| (o.dn.clone(), o.usn())).collect();
    assert_eq!(before, after, "no object's uSNChanged moved");

    // verify --param drift=true agrees: no drift.
    let v = lab.run(&["run", "verify", "--format", "json", "--param", "drift=true"]);
    v.code(0);
    let findings = v.json()["findings"].clone();
    for check in [
        "drift: devices missing from AD",
        "drift: stale device objects",
        "drift: attribute mismatches",
    ] {
        let f = findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check)
            .unwrap_or_else(|| panic!("no finding {check}: {findings:#}"));
        assert_eq!(f["status"], "ok", "{check}: {f}");
    }
}

#[test]
fn delta_touches_exactly_the_changed_devices() {
    let lab = Lab::start("delta", tenant(150, 21));
    let state = lab.dir.join("delta-state.json");
    let state_arg = format!("state={}", state.display());
    let delta = ["mode=delta", state_arg.as_str()];

    // The first delta round lists everything: a full sync.
    let (out, report) = lab.sync(&delta);
    out.code(0);
    assert_eq!(with_action(&report, "create").len(), lab.in_scope().len());
    assert!(state.exists(), "the delta state is written after the first round applied");
    assert!(!lab.dir.join("delta-state.json.pending").exists(), "no pending state left behind");
    assert_converged(&lab);
    let state_1 = std::fs::read_to_string(&state).unwrap();
    let usn_before: HashMap<String, u64> =
        lab.objects().iter().map(|o| (o.dn.to_ascii_lowercase(), o.usn())).collect();

    // Mutate the tenant: add 3, rename 2, disable 2, delete 2 (all in scope).
    let plain: Vec<Dev> = lab
        .in_scope()
        .into_iter()
        .filter(|d| d.enabled && d.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    let (renamed, disabled, deleted) = (&plain[0..2], &plain[2..4], &plain[4..6]);
    let mut added = Vec::new();
    lab.emu.with_state(|s| {
        for (i, d) in renamed.iter().enumerate() {
            // The first new name is hostile: leading space and '#', DN and filter specials, trailing space.
            let name = if i == 0 {
                format!(" #RENAMED,CN=x)(cn=*\\ {} ", d.name)
            } else {
                format!("RENAMED-{i} {}", d.name)
            };
            s.rename_device(&d.id, &name).unwrap();
        }
        for d in disabled {
            s.set_account_enabled(&d.id, false).unwrap();
        }
        for d in deleted {
            s.delete_device(&d.id).unwrap();
        }
        for i in 0..3 {
            let (v, id) = new_device(i, &format!("NEW-DELTA-{i}"));
            s.add_device(v).unwrap();
            added.push(id);
        }
    });
    let now: HashMap<String, Dev> = lab.devices().into_iter().map(|d| (d.id.clone(), d)).collect();

    let (out, report) = lab.sync(&delta);
    out.code(0);
    let creates = with_action(&report, "create");
    let modifies = with_action(&report, "modify");
    let deletes = with_action(&report, "delete");
    assert_eq!(
        (creates.len(), modifies.len(), deletes.len()),
        (3, 4, 2),
        "plan: {:#}",
        Value::Array(plan(&report))
    );
    assert_eq!(
        targets(&creates),
        added.iter().map(|id| now[id].dn().to_ascii_lowercase()).collect()
    );
    assert_eq!(targets(&deletes), deleted.iter().map(|d| d.dn().to_ascii_lowercase()).collect());
    for c in &modifies {
        let target = c["target"].as_str().unwrap().to_ascii_lowercase();
        let mods = c["modifications"].as_array().unwrap();
        let attrs: Vec<&str> = mods.iter().map(|m| m["attribute"].as_str().unwrap()).collect();
        if let Some(d) = renamed.iter().find(|d| d.dn().to_ascii_lowercase() == target) {
            assert_eq!(attrs, ["displayName"], "a rename changes only displayName: {c:#}");
            assert_eq!(mods[0]["values"], json!([now[&d.id].name]));
        } else if disabled.iter().any(|d| d.dn().to_ascii_lowercase() == target) {
            assert_eq!(attrs, ["msDS-IsEnabled"], "disabling changes only msDS-IsEnabled: {c:#}");
            assert_eq!(mods[0]["values"], json!(["FALSE"]));
        } else {
            panic!("unexpected modify of {target}: {c:#}");
        }
    }
    assert!(writes(&report).iter().all(|c| c["outcome"]["status"] == "applied"));

    // The directory: exactly those objects touched.
    assert_converged(&lab);
    let after = lab.objects();
    let touched: BTreeSet<String> = after
        .iter()
        .filter(|o| usn_before.get(&o.dn.to_ascii_lowercase()) != Some(&o.usn()))
        .map(|o| o.dn.to_ascii_lowercase())
        .collect();
    let expected: BTreeSet<String> = renamed
        .iter()
        .chain(disabled)
        .map(|d| d.dn().to_ascii_lowercase())
        .chain(targets(&creates))
        .collect();
    assert_eq!(touched, expected, "objects whose uSNChanged moved");
    for d in deleted {
        assert!(!lab.exists(&d.dn()), "{} was deleted in Entra ID", d.dn());
    }

    // The state moved on (a new deltaLink), and the next round has nothing to do.
    let state_2 = std::fs::read_to_string(&state).unwrap();
    assert_ne!(state_1, state_2, "the delta state is updated after the round applied");
    assert!(!lab.dir.join("delta-state.json.pending").exists());
    let usn_before: BTreeMap<String, u64> = after.iter().map(|o| (o.dn.clone(), o.usn())).collect();
    let (out, report) = lab.sync(&delta);
    out.code(0);
    assert_eq!(
        writes(&report),
        Vec::<Value>::new(),
        "a third delta round plans no directory change"
    );
    let usn_after: BTreeMap<String, u64> =
        lab.objects().iter().map(|o| (o.dn.clone(), o.usn())).collect();
    assert_eq!(usn_before, usn_after);

    // Delta rounds and a full listing agree: a full sync now has nothing to do.
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(plan(&report), Vec::<Value>::new(), "a full sync after delta rounds plans nothing");
}

#[test]
fn delete_threshold_stops_a_mass_delete() {
    let lab = Lab::start("delete_threshold", tenant(150, 31));
    lab.initial_sync();
    let before = lab.count();
    let gone: Vec<Dev> = lab.in_scope().into_iter().take(20).collect();
    let state = lab.dir.join("delta-state.json");
    let state_arg = format!("state={}", state.display());
    // Removed from the listing (a full sync sees them gone); restored below for delta mode.
    let saved: Vec<Value> = lab.emu.with_state(|s| {
        gone.iter().map(|d| Value::Object(s.device(&d.id).unwrap().clone())).collect()
    });
    lab.emu.with_state(|s| gone.iter().for_each(|d| s.delete_device(&d.id).unwrap()));

    let (out, report) = lab.sync(&["delete_threshold=5"]);
    assert_ne!(out.code, 0, "exceeding the threshold must fail\n{}", out.stderr);
    let msg = error_text(&out, &report);
    assert!(
        msg.contains("20 device objects would be deleted") && msg.contains("threshold of 5"),
        "the message names the count and the threshold: {msg}"
    );
    // The refused plan is shown, every delete listed, and nothing of it applied.
    assert_eq!(report["status"], "refused");
    assert_eq!(report["refusals"][0]["guard"], "delete_threshold");
    assert_eq!(
        targets(&with_action(&report, "delete")),
        gone.iter().map(|d| d.dn().to_ascii_lowercase()).collect()
    );
    assert_eq!(report["applied"], false);
    assert_eq!(lab.count(), before, "nothing deleted");
    for d in &gone {
        assert!(lab.exists(&d.dn()));
    }
    lab.emu.with_state(|s| saved.iter().for_each(|v| drop(s.add_device(v.clone()).unwrap())));

    // The same in delta mode, and the refused round does not move the delta state:
    // the deletes are not lost, the next round still sees them.
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert_eq!(
        writes(&report),
        Vec::<Value>::new(),
        "a first delta round over a synced container writes nothing"
    );
    let state_1 = std::fs::read(&state).unwrap();
    lab.emu.with_state(|s| gone.iter().for_each(|d| s.delete_device(&d.id).unwrap()));
    let (out, report) = lab.sync(&["mode=delta", &state_arg, "delete_threshold=5"]);
    assert_ne!(out.code, 0, "exceeding the threshold must fail in delta mode too\n{}", out.stderr);
    let msg = error_text(&out, &report);
    assert!(msg.contains("20 device objects would be deleted"), "{msg}");
    assert_eq!(std::fs::read(&state).unwrap(), state_1, "the delta state did not move");
    assert_eq!(lab.count(), before, "nothing deleted");

    // At the threshold, the deletes go ahead.
    let (out, report) = lab.sync(&["mode=delta", &state_arg, "delete_threshold=20"]);
    out.code(0);
    assert_eq!(
        targets(&with_action(&report, "delete")),
        gone.iter().map(|d| d.dn().to_ascii_lowercase()).collect()
    );
    assert_eq!(lab.count(), before - 20);
    assert_converged(&lab);
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(plan(&report), Vec::<Value>::new());
}

#[test]
fn empty_listing_never_deletes_everything() {
    let lab = Lab::start("empty_listing", tenant(120, 41));
    lab.initial_sync();
    let before = lab.count();
    lab.emu.with_state(|s| {
        let ids: Vec<String> = s.devices.keys().cloned().collect();
        ids.iter().for_each(|id| s.delete_device(id).unwrap());
    });
    assert!(lab.devices().is_empty());

    let (out, report) = lab.sync(&[]);
    assert_ne!(out.code, 0, "an empty listing must not sync\n{}", out.stderr);
    let msg = error_text(&out, &report);
    assert!(
        msg.contains("no devices") && msg.contains("allow_empty"),
        "the message says why and how: {msg}"
    );
    assert_eq!(lab.count(), before, "nothing deleted");

    // Deleting everything trips the share guard too: both must be lifted.
    let (out, report) = lab.sync(&["allow_empty=true"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(report["refusals"][0]["guard"], "delete_threshold_percent");
    assert_eq!(lab.count(), before, "nothing deleted");
    let (out, report) = lab.sync(&["allow_empty=true", "delete_threshold_percent=100"]);
    out.code(0);
    assert_eq!(with_action(&report, "delete").len(), before);
    assert_eq!(lab.count(), 0);
}

/// `S-1-5-21-…` from a binary SID (revision, count, 48-bit authority big-endian,
/// sub-authorities little-endian).
pub(super) fn sid_text(b: &[u8]) -> String {
    let auth = b[2..8].iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
    let subs: Vec<String> = b[8..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
        .collect();
    assert_eq!(subs.len(), usize::from(b[1]));
    format!("S-{}-{auth}-{}", b[0], subs.join("-"))
}

/// An msDS-Device as LDIF for ldapadd (binary values base64).
fn device_ldif(
    dn: &str,
    name: &str,
    device_id: &uuid::Uuid,
    anchor: Option<&str>,
    marker: bool,
) -> String {
    let mut l = format!(
        "dn: {dn}\nobjectClass: msDS-Device\ndisplayName: {name}\nmsDS-DeviceID:: {}\nmsDS-IsEnabled: TRUE\naltSecurityIdentities: X509:<SHA1-TP-PUBKEY>0123456789ABCDEF0123456789ABCDEF01234567aGFzaA==\n",
        STANDARD.encode(device_id.to_bytes_le())
    );
    if let Some(a) = anchor {
        l.push_str(&format!("msDS-CloudAnchor:: {}\n", STANDARD.encode(format!("Device_{a}"))));
    }
    if marker {
        l.push_str(&format!("adminDescription: {MARKER}\n"));
    }
    l
}

#[test]
fn objects_dwb_does_not_own_are_left_alone() {
    let lab = Lab::start("ownership", tenant(120, 51));
    let devices = lab.in_scope();
    let mut plain =
        devices.iter().filter(|d| d.name.starts_with("LT-") || d.name.starts_with("WS-"));
    // Another writer's object (anchor, no marker) for a device that is in Entra ID,
    // at the DN dwb would use, with a stale displayName.
    let foreign = plain.next().unwrap().clone();
    lab.dc.ldap_cli(
        "ldapadd",
        &device_ldif(
            &foreign.dn(),
            "written by Entra Connect",
            &uuid::Uuid::parse_str(&foreign.device_id).unwrap(),
            Some(&foreign.id),
            false,
        ),
    );
    // Another writer's object whose device is gone from Entra ID.
    let foreign_gone = format!("CN=foreign-gone,{CONTAINER}");
    lab.dc.ldap_cli(
        "ldapadd",
        &device_ldif(
            &foreign_gone,
            "gone, not ours",
            &uuid::Uuid::new_v4(),
            Some(&uuid::Uuid::new_v4().to_string()),
            false,
        ),
    );
    // No cloud anchor: what AD FS device registration writes, here for a device that
    // is also in Entra ID (same msDS-DeviceID, another CN).
    let adfs = plain.next().unwrap().clone();
    let unanchored = format!("CN=adfs-drs-device,{CONTAINER}");
    lab.dc.ldap_cli(
        "ldapadd",
        &device_ldif(
            &unanchored,
            "AD FS registered",
            &uuid::Uuid::parse_str(&adfs.device_id).unwrap(),
            None,
            false,
        ),
    );
    // Outside the container: another device container with an object that looks like
    // dwb's (anchor + marker) whose device is not in Entra ID.
    let other = format!("CN={},{DOMAIN}", lab.dc.unique_name("other-devices"));
    lab.dc.ldap_cli("ldapadd", &format!("dn: {other}\nobjectClass: msDS-DeviceContainer\n"));
    let outside = format!("CN=outside,{other}");
    lab.dc.ldap_cli(
        "ldapadd",
        &device_ldif(
            &outside,
            "outside the container",
            &uuid::Uuid::new_v4(),
            Some(&uuid::Uuid::new_v4().to_string()),
            true,
        ),
    );
    let snapshot = |dn: &str| {
        lab.dc.ldapsearch(&["-b", dn, "-s", "base", "(objectClass=*)", "*", "uSNChanged"])
    };
    let untouched = [&unanchored, &outside].map(|dn| (dn.clone(), snapshot(dn)));
    let gone_before = snapshot(&foreign_gone);
    let foreign_before = snapshot(&foreign.dn());

    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert!(
        !targets(&writes(&report)).contains(&foreign.dn().to_ascii_lowercase()),
        "another writer's object is not written"
    );
    assert!(!lab.exists(&adfs.dn()), "no second object with the AD FS device's msDS-DeviceID");
    assert_eq!(with_action(&report, "create").len(), devices.len() - 2);
    assert_eq!(with_action(&report, "delete"), Vec::<Value>::new());
    let warns = warnings(&report);
    assert!(
        warns.iter().any(|w| w.contains(&foreign.id) && w.contains("another writer")),
        "the foreign device is reported: {warns:#?}"
    );
    assert!(
        warns.iter().any(|w| w.contains(&adfs.id) && w.contains("msDS-DeviceID already exists")),
        "the AD FS device is reported: {warns:#?}"
    );
    assert!(
        warns.iter().any(|w| w.contains("2 device object(s)") && w.contains("take_over")),
        "the foreign objects are counted: {warns:#?}"
    );
    assert_eq!(snapshot(&foreign.dn()), foreign_before, "another writer's object is left alone");

    // verify warns about coexistence.
    let v = lab.run(&["run", "verify", "--format", "json"]);
    v.code(0);
    let findings = v.json()["findings"].clone();
    let co = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "coexistence")
        .unwrap_or_else(|| panic!("no coexistence finding: {findings:#}"));
    assert_eq!(co["status"], "warn");
    assert!(co["detail"].as_str().unwrap().contains("2 anchored object(s)"), "{co}");

    // A second sync: still nothing for the foreign object.
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(writes(&report), Vec::<Value>::new());
    assert_eq!(snapshot(&foreign_gone), gone_before, "without take_over it is left alone");

    // take_over=true: dwb manages the object of the device in Entra ID, and gives
    // the one whose device is gone its marker only (as `adopt` does), so the next
    // sync deletes it under the guards.
    let (out, report) = lab.sync(&["take_over=true"]);
    out.code(0);
    let mut w = writes(&report);
    let gone_dn = foreign_gone.to_ascii_lowercase();
    let at_gone = |c: &Value| c["target"].as_str().unwrap().eq_ignore_ascii_case(&gone_dn);
    let marked: Vec<Value> = w.iter().filter(|c| at_gone(c)).cloned().collect();
    assert_eq!(marked.len(), 1, "{:#}", Value::Array(w.clone()));
    assert_eq!(marked[0]["action"], "modify");
    let marker_only: Vec<&str> = marked[0]["modifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(marker_only, ["adminDescription"], "{:#}", marked[0]);
    w.retain(|c| !at_gone(c));
    assert_eq!(
        w.len(),
        1,
        "take over modifies the one foreign object of a listed device: {:#}",
        Value::Array(w.clone())
    );
    assert_eq!(w[0]["action"], "modify");
    assert_eq!(
        w[0]["target"].as_str().unwrap().to_ascii_lowercase(),
        foreign.dn().to_ascii_lowercase()
    );
    let attrs: BTreeSet<&str> = w[0]["modifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["attribute"].as_str().unwrap())
        .collect();
    assert!(
        attrs.contains("adminDescription")
            && attrs.contains("displayName")
            && attrs.contains("altSecurityIdentities"),
        "{attrs:?}"
    );
    let o = by_dn(lab.objects()).remove(&foreign.dn().to_ascii_lowercase()).unwrap();
    assert_written(&o, &foreign);
    let v = lab.run(&["run", "verify", "--format", "json"]);
    v.code(0);
    let co: Vec<Value> = v.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "coexistence")
        .cloned()
        .collect();
    assert_eq!(co, Vec::<Value>::new(), "no foreign object left");
    let objs = by_dn(lab.objects());
    assert_eq!(
        objs.len(),
        devices.len() - 1 + 2,
        "every device but the AD FS one, plus the AD FS object and the foreign one whose device is gone"
    );
    for d in devices.iter().filter(|d| d.id != adfs.id) {
        assert_written(&objs[&d.dn().to_ascii_lowercase()], d);
    }

    // Even an allowed empty listing deletes only what dwb owns.
    lab.emu.with_state(|s| {
        let ids: Vec<String> = s.devices.keys().cloned().collect();
        ids.iter().for_each(|id| s.delete_device(id).unwrap());
    });
    let (out, report) = lab.sync(&["allow_empty=true", "delete_threshold_percent=100"]);
    out.code(0);
    assert_eq!(
        with_action(&report, "delete").len(),
        devices.len(),
        "every object dwb owns (the two taken over included), nothing else"
    );
    assert_eq!(lab.count(), 1);
    assert!(!lab.exists(&foreign_gone), "the taken-over object of a gone device is deleted");

    // Through every sync: objects without an anchor and objects outside the
    // container survived untouched.
    for (dn, before) in &untouched {
        assert_eq!(&snapshot(dn), before, "{dn} changed");
    }
}

#[test]
fn a_device_the_schema_cannot_hold_is_skipped_and_never_sent() {
    // The generator's LONG-AAA… name (271 characters) is more than Samba's 256.
    let lab = Lab::start("schema_skip", generate(150, 61));
    let want = lab.in_scope();
    let long = lab
        .devices()
        .into_iter()
        .find(|d| !d.keys.is_empty() && d.name.chars().count() > DISPLAY_NAME_MAX)
        .expect("the generator's long name, with a key");
    let reason = format!(
        "displayName is {} characters; the schema allows at most {DISPLAY_NAME_MAX}",
        long.name.chars().count()
    );
    let skipped_with_reason = |report: &Value| {
        warnings(report).iter().any(|w| w.contains(&long.id) && w.contains(&reason))
    };

    let (out, report) = lab.sync(&[]);
    assert_eq!(out.code, 0, "a skipped device is a warning, not a failure\n{}", out.stderr);
    assert_eq!(report["status"], "ok");
    assert!(skipped_with_reason(&report), "{:#?}", warnings(&report));
    // No change names it: no write request for it can reach the DC.
    let dn = long.dn().to_ascii_lowercase();
    assert!(!targets(&plan(&report)).contains(&dn), "the device is not in the plan");
    assert_eq!(with_action(&report, "create").len(), want.len());
    assert!(!lab.exists(&long.dn()));
    let objs = by_dn(lab.objects());
    for d in &want {
        assert_written(&objs[&d.dn().to_ascii_lowercase()], d);
    }

    // A no-change resync sends nothing (uSNChanged unchanged) and still says why.
    let usns: Vec<u64> = lab.objects().iter().map(Obj::usn).collect();
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(writes(&report), Vec::<Value>::new());
    assert!(skipped_with_reason(&report));
    assert_eq!(lab.objects().iter().map(Obj::usn).collect::<Vec<_>>(), usns);
    // verify's drift check counts it with the skipped devices.
    let v = lab.run(&["run", "verify", "--param", "drift=true", "--format", "json"]);
    let v: Value = serde_json::from_str(&v.code(0).stdout).unwrap();
    let skipped =
        v["findings"].as_array().unwrap().iter().find(|f| f["check"] == "drift: skipped devices");
    let detail =
        skipped.expect("a skipped-devices finding")["detail"].as_str().unwrap().to_string();
    assert!(detail.contains(&long.id) && detail.contains(&reason), "{detail}");

    // Delta rounds move on with the device present: the state is kept, and the
    // second round starts from the stored deltaLink.
    let state = lab.dir.join("state.json");
    let state_arg = format!("state={}", state.display());
    let (out, _) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert!(state.exists(), "the delta state is committed");
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert_eq!(report["data"]["sync"]["listed"], 0, "resumed: nothing changed since");
    // Once the name fits, the next delta round writes it.
    lab.emu.with_state(|s| s.rename_device(&long.id, "LONG-renamed").unwrap());
    let (out, report) = lab.sync(&["mode=delta", &state_arg]);
    out.code(0);
    assert_eq!(targets(&with_action(&report, "create")), BTreeSet::from([dn]));
    assert_converged(&lab);
}

#[test]
fn a_throttling_storm_is_ridden_out() {
    // Owners come with the listing (pages of 100): few requests, so a dense storm.
    let lab = Lab::start("throttling", tenant(300, 71));
    lab.emu.set_faults(Faults {
        throttle_next: 4,
        throttle_every: 2,
        retry_after: RetryAfter::Seconds(1),
        ..Faults::default()
    });
    lab.emu.clear_request_log();
    let (out, report) = lab.sync(&[]);
    out.code(0);
    let throttled = lab.emu.request_log().iter().filter(|r| r.status == 429).count();
    assert!(throttled >= 6, "the storm happened: {throttled} throttled responses");
    // The emulator counts a request sent again before its Retry-After had passed.
    assert_eq!(lab.emu.early_retry_count(), 0, "Retry-After was not honoured");
    assert_eq!(with_action(&report, "create").len(), lab.in_scope().len());
    assert_converged(&lab);
    eprintln!("throttling: {throttled} responses 429");
}

#[test]
fn killed_mid_apply_then_rerun_converges() {
    let lab = Lab::start("sigkill", tenant(400, 81));
    let want = lab.in_scope().len();
    let mut child = lab.spawn_sync(&[]);
    wait_for("the first objects to be created", Duration::from_secs(60), || lab.count() >= 40);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let partial = settle(&lab); // writes the DC had already received
    eprintln!("sigkill: killed with {partial} of {want} objects created");
    assert!(
        partial < want,
        "the kill came after the apply finished ({partial} of {want}): make the tenant larger"
    );

    let (out, report) = lab.sync(&[]);
    out.code(0);
    let creates = with_action(&report, "create").len();
    assert_eq!(creates, want - partial, "the rerun creates only what is missing");
    assert_eq!(with_action(&report, "delete"), Vec::<Value>::new());
    assert_converged(&lab);
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(plan(&report), Vec::<Value>::new());
}

#[test]
fn dc_stopped_mid_sync_fails_cleanly_then_converges() {
    let mut lab = Lab::start("dc_stopped", tenant(400, 91));
    let want = lab.in_scope().len();
    let child = lab.spawn_sync(&[]);
    wait_for("the first objects to be created", Duration::from_secs(60), || lab.count() >= 40);
    let pid = lab.dc.pid().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopped = Instant::now();
    let out = finish(child, Duration::from_secs(150));
    let took = stopped.elapsed();
    assert_ne!(out.code, 0, "losing the DC mid-sync must fail\n{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", out.stdout, out.stderr));
    let failed: Vec<Value> =
        writes(&report).into_iter().filter(|c| c["outcome"]["status"] == "failed").collect();
    assert!(!failed.is_empty(), "the report shows failed changes");
    let first = failed[0]["outcome"]["message"].as_str().unwrap_or("").to_string();
    eprintln!(
        "dc_stopped: exit {} {took:.1?} after the DC stopped, {} failed change(s), first: {first}\nstderr: {}",
        out.code,
        failed.len(),
        out.stderr.lines().take(5).collect::<Vec<_>>().join("\n")
    );
    assert!(
        ["connection", "network", "DC", "closed", "reach"].iter().any(|w| first.contains(w)),
        "the failure says the DC went away: {first}"
    );

    lab.dc.restart();
    let partial = settle(&lab);
    assert!(partial < want, "the DC stopped after the apply finished");
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(with_action(&report, "create").len(), want - partial);
    assert_converged(&lab);
}

#[test]
fn interrupted_mid_apply_reports_truthfully_then_rerun_converges() {
    let lab = Lab::start("sigint", tenant(400, 101));
    let want = lab.in_scope().len();
    let child = lab.spawn_sync(&[]);
    wait_for("the first objects to be created", Duration::from_secs(60), || lab.count() >= 40);
    assert!(
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success()
    ); // Ctrl-C
    let out = finish(child, Duration::from_secs(60));
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", out.stdout, out.stderr));
    settle(&lab);
    let status_of = |c: &Value| c["outcome"]["status"].as_str().unwrap_or("none").to_string();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for c in writes(&report) {
        *by_status.entry(status_of(&c)).or_insert(0) += 1;
    }
    let in_ad: BTreeSet<String> = lab.objects().iter().map(|o| o.dn.to_ascii_lowercase()).collect();
    let creates = with_action(&report, "create");
    let applied: BTreeSet<String> =
        targets(&creates.iter().filter(|c| status_of(c) == "applied").cloned().collect::<Vec<_>>());
    let not_applied_but_there: Vec<(String, String)> = creates
        .iter()
        .filter(|c| {
            status_of(c) != "applied"
                && in_ad.contains(&c["target"].as_str().unwrap().to_ascii_lowercase())
        })
        .map(|c| {
            (
                c["target"].as_str().unwrap().to_string(),
                format!(
                    "{}: {}",
                    status_of(c),
                    c["outcome"]["message"]
                        .as_str()
                        .or(c["outcome"]["reason"].as_str())
                        .unwrap_or("")
                ),
            )
        })
        .collect();
    eprintln!(
        "sigint: exit {}, status {}, outcomes {by_status:?}, {} in AD; reported not applied but present: {not_applied_but_there:#?}",
        out.code,
        report["status"],
        in_ad.len()
    );
    assert!(in_ad.len() < want, "interrupted before the apply finished");
    assert!(applied.is_subset(&in_ad), "every change reported applied is in AD");

    // The rerun converges whatever the report said.
    let (rerun, rerun_report) = lab.sync(&[]);
    rerun.code(0);
    assert_eq!(with_action(&rerun_report, "create").len(), want - in_ad.len());
    assert_converged(&lab);

    // README: "130 interrupted (Ctrl-C); nothing is half-applied". Writes in flight when
    // Ctrl-C came are reported as skipped with "may or may not have reached the DC" (each
    // is one whole add, so either way nothing is half-written); every other object the
    // report says was not applied is really absent.
    assert_eq!(out.code, 130, "Ctrl-C exits 130 (README)\n{}", out.stderr);
    assert_eq!(report["status"], "interrupted");
    let unexplained: Vec<&(String, String)> = not_applied_but_there
        .iter()
        .filter(|(_, why)| !why.contains("may or may not have reached the DC"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} change(s) reported as not applied were made: {unexplained:#?}",
        unexplained.len()
    );
    assert!(not_applied_but_there.len() <= 24, "at most one pipeline window (24) can be in flight");
    assert_eq!(
        by_status.get("failed"),
        None,
        "an interruption fails no change: unsent and in-flight ones are skipped"
    );
}

#[test]
fn dc_hung_mid_sync_gives_up_after_a_timeout_then_converges() {
    let lab = Lab::start("dc_hung", tenant(400, 111));
    // A short per-operation timeout (the default is 120 s).
    lab.dir
        .write("dwb.toml", "default_profile = \"lab\"\n\n[profiles.lab.ldap]\ntimeout_secs = 2\n");
    let want = lab.in_scope().len();
    let child = lab.spawn_sync(&[]);
    wait_for("the first objects to be created", Duration::from_secs(60), || lab.count() >= 40);
    lab.dc.pause(); // SIGSTOP: the DC accepts nothing and answers nothing
    let hung = Instant::now();
    let out = finish(child, Duration::from_secs(150));
    let took = hung.elapsed();
    lab.dc.resume();
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}\n{}", out.stdout, out.stderr));
    let failed: Vec<Value> =
        writes(&report).into_iter().filter(|c| c["outcome"]["status"] == "failed").collect();
    let first = failed
        .first()
        .map(|c| c["outcome"]["message"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    eprintln!(
        "dc_hung: exit {} after {took:.1?} with a 2 s timeout; {} failed change(s); first: {first}",
        out.code,
        failed.len()
    );
    assert_ne!(out.code, 0);
    assert!(
        first.contains("no answer from the DC within 2s"),
        "the failure names the timeout: {first}"
    );

    // Writes the DC had queued may still land after it resumes.
    let partial = settle(&lab);
    assert!(partial < want);
    let (rerun, _) = lab.sync(&[]);
    rerun.code(0);
    assert_converged(&lab);

    assert!(
        took < Duration::from_secs(10),
        "a DC that stopped answering should stop the apply after one timeout, not cost a timeout per window of 24 writes ({took:.1?} with a 2 s timeout for {} failed changes; 120 s by default)",
        failed.len()
    );
}

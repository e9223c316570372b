//! Kerberos (SASL GSSAPI) binds, black box: the real `dwb` binary, built with the
//! cargo feature `kerberos`, with `--ldap-auth kerberos` and no password anywhere,
//! against Samba AD DCs that are their own KDCs. Tickets come from the real `kinit`
//! into private credential caches (`KRB5CCNAME`), or from a keytab that
//! `samba-tool` exports; every client uses the DC's private `krb5.conf`
//! (`KRB5_CONFIG`, see `SambaDc::krb5_conf`). Outcomes are read back with the real
//! `ldapsearch` and `samba-tool` as Administrator, and how dwb bound is read from
//! Samba's own authorization audit log (auth type `krb5`, transport `SEAL` on
//! 389, `TLS` on 636).
//!
//! - over `ldap://` (sealed, no StartTLS): prepare with the Administrator's ticket,
//!   verify and sync with the connector's; the same DC refuses dwb's simple bind
//!   on that port;
//! - over `ldaps://` (channel binding, no SASL layer): the same, and a second sync
//!   from the connector's keytab named in the profile, leaving the user's cache
//!   untouched;
//! - no cache, an empty cache, an expired ticket, an SPN the KDC does not know, a
//!   service in another realm, a DC refusing GSSAPI inside TLS, a missing keytab:
//!   clear errors naming Kerberos and what to run, exit 2 (3 for configuration),
//!   never a secret.
//!
//! Built without the feature, the one test here checks that asking for Kerberos
//! is a configuration error that says how to build it.

#[cfg(feature = "kerberos")]
mod with_kerberos {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use crate::support::samba::{ADMIN_PASSWORD, Options, REALM, SambaDc, WORKGROUP, ccache_name};
    use crate::support::{Dir, Out};

    const USERS_DN: &str = "CN=Users,DC=contoso,DC=test";
    const DRS: &str = "CN=DeviceRegistrationService,CN=Device Registration Services,\
                       CN=Device Registration Configuration,CN=Services,CN=Configuration,\
                       DC=contoso,DC=test";
    const DEVICES: &str = "CN=RegisteredDevices,DC=contoso,DC=test";
    const MARKER: &str = "dwb-writeback";

    /// A connector account with a password only the test (and kinit) knows.
    struct Connector {
        name: String,
        password: String,
        sid: String,
    }

    impl Connector {
        fn create(dc: &SambaDc) -> Connector {
            let n = dc.unique_name("k").rsplit('-').next().unwrap_or("0").to_string();
            let name = format!("svc-krb{n}");
            let password = format!("Kerb3ros!conn-{n}");
            dc.samba_tool_as_admin(&["user", "create", &name, &password]);
            let dn = format!("CN={name},{USERS_DN}");
            let ldif = dc.ldapsearch(&["-b", &dn, "-s", "base", "(objectClass=user)", "objectSid"]);
            let line = ldif
                .lines()
                .find_map(|l| l.strip_prefix("objectSid:: "))
                .unwrap_or_else(|| panic!("no objectSid for {dn}:\n{ldif}"));
            let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, line)
                .expect("base64 objectSid");
            Connector { name, password, sid: sid_string(&raw) }
        }

        fn principal(&self) -> String {
            format!("{}@{REALM}", self.name)
        }

        fn param(&self) -> String {
            format!("connector_account={WORKGROUP}\\{}", self.name)
        }
    }

    /// A binary SID as `S-1-…`, decoded here rather than by dwb.
    fn sid_string(b: &[u8]) -> String {
        assert!(b.len() >= 8 && b.len() == 8 + 4 * b[1] as usize, "not a SID: {b:02x?}");
        let authority = b[2..8].iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        let mut s = format!("S-{}-{authority}", b[0]);
        for sub in b[8..].chunks(4) {
            s.push_str(&format!("-{}", u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]])));
        }
        s
    }

    /// One DC, its Kerberos set-up, a working directory and the tickets.
    struct Lab<'a> {
        dc: &'a SambaDc,
        dir: Dir,
    }

    impl<'a> Lab<'a> {
        fn new(dc: &'a SambaDc) -> Lab<'a> {
            dc.krb5_conf();
            Lab { dc, dir: Dir::new() }
        }

        /// A credential cache in the working directory holding `principal`'s TGT.
        fn ticket(&self, principal: &str, password: &str, file: &str) -> PathBuf {
            let cache = self.dir.join(file);
            self.dc.kinit(principal, password, &cache, None);
            cache
        }

        fn admin_ticket(&self) -> PathBuf {
            self.ticket(&format!("Administrator@{REALM}"), ADMIN_PASSWORD, "cc-admin")
        }

        /// `dwb args…` with `--ldap-auth kerberos` to `url`, the DC's krb5.conf and
        /// the cache `cache`. No DWB_LDAP_USER / DWB_LDAP_PASSWORD: none is needed.
        fn dwb(&self, url: &str, cache: &Path, args: &[&str]) -> Out {
            self.dwb_with(url, cache, args, &[])
        }

        fn dwb_with(&self, url: &str, cache: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
            let mut c = self.command(cache);
            c.env("DWB_LDAP_URL", url).env("DWB_LDAP_AUTH", "kerberos");
            if url.starts_with("ldaps://") {
                c.env("DWB_LDAP_CA_FILE", self.dc.ca_file());
            }
            for (k, v) in env {
                c.env(k, v);
            }
            out(c.args(args), args)
        }

        /// `dwb` in the working directory with this DC's Kerberos environment only.
        fn command(&self, cache: &Path) -> Command {
            let mut c = self.dir.dwb();
            c.env("KRB5_CONFIG", self.dc.krb5_conf())
                .env("KRB5CCNAME", ccache_name(cache))
                .env_remove("KRB5_CLIENT_KTNAME")
                .env_remove("KRB5_KTNAME")
                .env_remove("KRB5_TRACE");
            c
        }

        /// `dwb run sync` of the bundled Graph export (`--devices`), as JSON.
        fn sync(&self, url: &str, cache: &Path) -> (Out, Value) {
            let devices = repo_file("examples/contoso/devices.json");
            let devices = devices.to_str().unwrap();
            let o =
                self.dwb(url, cache, &["run", "sync", "--devices", devices, "--format", "json"]);
            let r = report(&o);
            (o, r)
        }
    }

    fn out(c: &mut Command, args: &[&str]) -> Out {
        let o = c.output().expect("running dwb");
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            args: args.join(" "),
        }
    }

    fn report(o: &Out) -> Value {
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "dwb {} printed no JSON report ({e}); exit {}\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}",
                o.args, o.code, o.stdout, o.stderr
            )
        })
    }

    fn repo_file(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    }

    /// The device ids of the bundled export that have a type-2 key (what sync writes).
    fn exported_device_ids() -> Vec<String> {
        let text = std::fs::read_to_string(repo_file("examples/contoso/devices.json")).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let mut ids: Vec<String> = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["alternativeSecurityIds"]
                    .as_array()
                    .is_some_and(|keys| keys.iter().any(|k| k["type"] == 2))
            })
            .map(|d| d["deviceId"].as_str().unwrap().to_lowercase())
            .collect();
        ids.sort();
        ids
    }

    /// `CN=<deviceId>` of every object in the device container carrying dwb's marker,
    /// by ldapsearch as Administrator.
    fn written_device_ids(dc: &SambaDc) -> Vec<String> {
        let ldif = dc.ldapsearch(&[
            "-b",
            DEVICES,
            "-s",
            "one",
            &format!("(&(objectClass=msDS-Device)(adminDescription={MARKER}))"),
            "cn",
        ]);
        let mut ids: Vec<String> =
            ldif.lines().filter_map(|l| l.strip_prefix("cn: ")).map(str::to_lowercase).collect();
        ids.sort();
        ids
    }

    fn exists(dc: &SambaDc, dn: &str) -> bool {
        let out = dc.ldapsearch_output(&["-b", dn, "-s", "base", "(objectClass=*)", "1.1"]);
        match out.status.code() {
            Some(0) => true,
            Some(32) => false,
            other => panic!("ldapsearch -b {dn}: exit {other:?}"),
        }
    }

    /// The DACL of `dn` as SDDL, from `samba-tool dsacl get`.
    fn dacl(dc: &SambaDc, dn: &str) -> String {
        let o = dc.samba_tool_as_admin(&["dsacl", "get", &format!("--objectdn={dn}")]);
        o.lines().rfind(|l| l.starts_with("O:")).unwrap_or_else(|| panic!("no SDDL:\n{o}")).into()
    }

    /// The LDAP binds Samba authorized after its first `skip` authorization
    /// events: (account, auth type, transport protection, local address).
    fn binds_since(dc: &SambaDc, skip: usize) -> Vec<[String; 4]> {
        dc.authorizations()
            .into_iter()
            .skip(skip)
            .filter(|a| a["serviceDescription"] == "LDAP")
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                [s("account"), s("authType"), s("transportProtection"), s("localAddress")]
            })
            .collect()
    }

    /// Runs `f` (dwb runs, nothing else talks to this DC meanwhile) and asserts
    /// that the DC authorized at least one LDAP bind in that time, and only binds
    /// of `account` by Kerberos: sealed on 389 for `ldap://`, inside TLS on 636
    /// for `ldaps://`.
    #[track_caller]
    fn expect_kerberos<T>(dc: &SambaDc, account: &str, url: &str, f: impl FnOnce() -> T) -> T {
        let (port, transport) =
            if url.starts_with("ldaps://") { (636, "TLS") } else { (389, "SEAL") };
        let before = dc.authorizations().len();
        let out = f();
        let binds = binds_since(dc, before);
        assert!(!binds.is_empty(), "Samba logged no LDAP bind for {account} at {url}");
        let local = format!("ipv4:{}:{port}", dc.ip());
        for b in &binds {
            assert_eq!(
                [b[0].as_str(), b[1].as_str(), b[2].as_str(), b[3].as_str()],
                [account, "krb5", transport, local.as_str()],
                "a bind other than {account} by Kerberos ({transport}) at {url}: {binds:?}"
            );
        }
        out
    }

    fn assert_ok_findings(r: &Value) {
        for f in r["findings"].as_array().unwrap_or_else(|| panic!("no findings: {r:#}")) {
            let status = f["status"].as_str().unwrap_or_default();
            assert!(status == "ok" || status == "info", "finding not ok: {f:#}\n{r:#}");
        }
    }

    /// prepare as Administrator, verify and sync as the connector, all with
    /// tickets over `url`; checks what landed in the DC. Returns the connector.
    fn prepare_verify_sync(lab: &Lab, url: &str) -> Connector {
        let dc = lab.dc;
        let connector = Connector::create(dc);
        let admin_cc = lab.admin_ticket();
        let conn_cc = lab.ticket(&connector.principal(), &connector.password, "cc-connector");

        let param = connector.param();
        let args = ["run", "prepare", "--param", &param, "--format", "json"];
        let o = expect_kerberos(dc, "Administrator", url, || lab.dwb(url, &admin_cc, &args));
        o.code(0);
        let r = report(&o);
        assert_eq!(
            (r["status"].as_str(), r["applied"].as_bool()),
            (Some("ok"), Some(true)),
            "{r:#}"
        );
        assert!(r["directory"].as_str().unwrap_or_default().contains("Kerberos"), "{r:#}");
        assert!(exists(dc, DRS) && exists(dc, DEVICES), "prepare's objects are missing");
        let sddl = dacl(dc, DEVICES);
        assert!(sddl.contains(&connector.sid), "no ACE for the connector on {DEVICES}: {sddl}");

        let args = ["run", "verify", "--param", &param, "--format", "json"];
        let o = expect_kerberos(dc, &connector.name, url, || lab.dwb(url, &conn_cc, &args));
        o.code(0);
        let r = report(&o);
        assert_eq!(r["status"], "ok", "{r:#}");
        assert_ok_findings(&r);

        let (o, r) = expect_kerberos(dc, &connector.name, url, || lab.sync(url, &conn_cc));
        o.code(0);
        assert_eq!(r["status"], "ok", "{r:#}");
        let want = exported_device_ids();
        assert!(!want.is_empty());
        assert_eq!(written_device_ids(dc), want, "sync did not write every exported device");
        // Created by the connector itself (its ticket), not by the Administrator:
        // AD makes the creator the owner of a new object.
        let sddl = dacl(dc, &format!("CN={},{DEVICES}", want[0]));
        assert!(
            sddl.starts_with(&format!("O:{}", connector.sid)),
            "owner is not the connector: {sddl}"
        );
        connector
    }

    #[test]
    fn sealed_ldap_prepares_verifies_and_syncs_with_tickets() {
        let dc = SambaDc::start_with(Options { kerberos: true, ..Options::default() });
        let lab = Lab::new(&dc);
        let connector = prepare_verify_sync(&lab, &dc.url_ldap());

        // The DC refuses a simple bind on that port (the real ldapsearch, as the
        // connector): dwb's binds there got in because Kerberos sealed them.
        let o = Command::new("ldapsearch")
            .args(["-x", "-LLL", "-o", "nettimeout=10", "-H", &dc.url_ldap()])
            .args(["-D", &format!("{}@contoso.test", connector.name), "-w", &connector.password])
            .args(["-b", DEVICES, "-s", "base", "(objectClass=*)", "1.1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(8), "plaintext simple bind not refused:\n{stderr}");
        assert!(stderr.contains("Strong(er) authentication required"), "{stderr}");
    }

    #[test]
    fn ldaps_prepares_verifies_and_syncs_and_a_keytab_needs_no_cache() {
        let dc = SambaDc::start_with(Options { kerberos: true, ..Options::default() });
        let lab = Lab::new(&dc);
        let connector = prepare_verify_sync(&lab, &dc.url_ldaps());

        // A second sync from the connector's keytab named in the profile, with a
        // cache that does not exist: nothing to change, and the cache stays absent
        // (the keytab's ticket goes into dwb's private in-memory cache).
        let keytab = lab.dir.join("connector.keytab");
        dc.export_keytab(&connector.principal(), &keytab);
        lab.dir.write(
            "dwb.toml",
            &format!(
                "[profiles.default.ldap]\nurl = \"{}\"\nca_file = \"{}\"\nauth = \"kerberos\"\n\
                 keytab = \"{}\"\n",
                dc.url_ldaps(),
                dc.ca_file().display(),
                keytab.display()
            ),
        );
        let untouched = lab.dir.join("cc-never-created");
        let devices = repo_file("examples/contoso/devices.json");
        let args = ["run", "sync", "--devices", devices.to_str().unwrap(), "--format", "json"];
        let url = dc.url_ldaps();
        let o = expect_kerberos(&dc, &connector.name, &url, || {
            out(lab.command(&untouched).args(args), &args)
        });
        o.code(0);
        let r = report(&o);
        assert_eq!(r["status"], "ok", "{r:#}");
        assert!(r["plan"].as_array().is_some_and(|p| p.is_empty()), "resync planned: {r:#}");
        assert!(!untouched.exists(), "dwb wrote the user's credential cache");
    }

    /// `kinit -l 5s`, then wait (no assertion on time) until `klist -s` says the
    /// cache holds no valid ticket any more.
    fn expired_ticket(lab: &Lab, file: &str) -> PathBuf {
        let cache = lab.dir.join(file);
        lab.dc.kinit(&format!("Administrator@{REALM}"), ADMIN_PASSWORD, &cache, Some("5s"));
        let limit = Instant::now() + Duration::from_secs(120);
        loop {
            let valid = Command::new("klist")
                .arg("-s")
                .env("KRB5_CONFIG", lab.dc.krb5_conf())
                .env("KRB5CCNAME", ccache_name(&cache))
                .status()
                .unwrap()
                .success();
            if !valid {
                return cache;
            }
            assert!(Instant::now() < limit, "a 5 s ticket is still valid after 2 minutes");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    #[test]
    fn ticket_problems_name_kerberos_and_what_to_run() {
        let dc = SambaDc::shared();
        let lab = Lab::new(dc);
        let url = dc.url_ldap();
        // A password in the environment is neither used nor printed.
        let decoy = "D3coy-Passw0rd-never-printed";
        let env = [("DWB_LDAP_USER", "CONTOSO\\Administrator"), ("DWB_LDAP_PASSWORD", decoy)];
        let check = |o: &Out, want: &[&str]| {
            assert!(
                o.code == 2 || o.code == 3,
                "exit {} for dwb {}:\n{}",
                o.code,
                o.args,
                o.stderr
            );
            for w in want {
                o.stderr_has(w);
            }
            for secret in [decoy, ADMIN_PASSWORD] {
                assert!(!o.stderr.contains(secret) && !o.stdout.contains(secret), "{}", o.stderr);
            }
        };
        let verify = ["run", "verify"];

        let missing = lab.dir.join("cc-missing");
        let o = lab.dwb_with(&url, &missing, &verify, &env);
        o.code(2);
        check(&o, &["Kerberos: no usable ticket", "kinit", "KRB5CCNAME", "cc-missing"]);

        let empty = lab.dir.write("cc-empty", "");
        let o = lab.dwb_with(&url, &empty, &verify, &env);
        o.code(2);
        check(&o, &["Kerberos: no usable ticket", "cc-empty", "kinit"]);

        let expired = expired_ticket(&lab, "cc-expired");
        let o = lab.dwb_with(&url, &expired, &verify, &env);
        o.code(2);
        check(&o, &["Kerberos: the ticket", "cc-expired", "has expired", "kinit"]);

        let admin = lab.admin_ticket();
        let args = ["run", "verify", "--ldap-spn-host", "dc9.contoso.test"];
        let o = lab.dwb_with(&url, &admin, &args, &env);
        o.code(2);
        check(&o, &["Kerberos", "no service principal ldap/dc9.contoso.test", "spn_host"]);

        let other_realm = format!("{}@OTHER.TEST", dc.ip());
        let args = ["run", "verify", "--ldap-spn-host", &other_realm];
        let o = lab.dwb_with(&url, &admin, &args, &env);
        o.code(2);
        check(&o, &["Kerberos", "OTHER.TEST"]);

        // This DC keeps Samba 4.17's default strong-auth setting, which wants a
        // SASL layer even inside TLS: a valid ticket over LDAPS is refused, clearly.
        let mut with_ca = env.to_vec();
        let ca = dc.ca_file();
        with_ca.push(("DWB_LDAP_CA_FILE", ca.to_str().unwrap()));
        let o = lab.dwb_with(&dc.url_ldaps(), &admin, &verify, &with_ca);
        o.code(2);
        check(&o, &["Kerberos: bind", "Sign or Seal are required", "allow_sasl_over_tls"]);

        lab.dir.write(
            "dwb.toml",
            "[profiles.default.ldap]\nauth = \"kerberos\"\nkeytab = \"missing.keytab\"\n",
        );
        let o = lab.dwb_with(&url, &admin, &verify, &env);
        o.code(3);
        check(&o, &["keytab", "missing.keytab"]);
        std::fs::remove_file(lab.dir.join("dwb.toml")).unwrap();

        // A good ticket works on the same DC: the failures above were the tickets'.
        let o = lab.dwb_with(&url, &admin, &verify, &env);
        assert!(o.code == 0 || o.code == 1, "verify with a good ticket: {}\n{}", o.code, o.stderr);
        o.stdout_has("registration service");
    }
}

#[cfg(not(feature = "kerberos"))]
#[test]
fn without_the_feature_kerberos_is_a_configuration_error() {
    let d = crate::support::Dir::new();
    let o = d.run(&["run", "verify", "--ldap-url", "ldap://127.0.0.1", "--ldap-auth", "kerberos"]);
    o.code(3).stderr_has("Kerberos").stderr_has("--features kerberos");
}

//! The Samba AD DC test lab: real domain controllers for the integration
//! tests, started by the tests themselves. Nothing here is faked or skipped:
//! if a DC cannot be provisioned or started, the test fails with Samba's log.
//!
//! - Packages: `tests/lab/install.sh` installs samba-ad-dc & co. when a tool is
//!   missing (once per test process).
//! - Template: a domain `CONTOSO.TEST` is provisioned once per machine into
//!   `$DWB_LAB_DIR` (default `/var/tmp/dwb-lab`) as `template-<samba>-v<N>-<schema>`,
//!   with a test CA (EC P-256). Building takes ~20 s; a lock file makes parallel
//!   test processes wait for one another instead of provisioning twice, and a
//!   `.complete` marker means "reuse me".
//! - Instance: [`SambaDc::start`] copies the template (~0.1 s), issues a server
//!   certificate for its own `127.0.0.N`, writes `etc/smb.conf` (only the ldap
//!   and kdc services; strong auth left at its default, so a plaintext simple
//!   bind is refused as on a hardened DC), and starts `samba -i -M single` as a
//!   child process (~1 s until LDAP answers). `Drop` stops it and removes the
//!   directory. [`SambaDc::shared`] is one instance for every test that can
//!   share it, each working in its own OU ([`SambaDc::create_ou`]).
//! - Leaks: a shared instance lives in a static and is never dropped, so each
//!   instance has a tiny reaper shell whose stdin is a pipe held by the test
//!   process; when the process ends for any reason the pipe closes and the
//!   reaper stops samba and removes the directory. `--maximum-runtime` is the
//!   last resort. Set `DWB_LAB_KEEP=1` to keep instance directories.
//! - Kerberos: every DC is its own KDC. [`SambaDc::krb5_conf`] writes a private
//!   `krb5.conf` for it (realm CONTOSO.TEST, kdc = its 127.0.0.N, no DNS, no
//!   reverse lookups) and registers the SPN `ldap/127.0.0.N` that clients ask for;
//!   [`SambaDc::kinit`] fills a private credential cache (password on stdin).

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use dwb::ad::ldap::LdapSettings;
use dwb::directory::Dn;
use secrecy::SecretString;

pub const REALM: &str = "CONTOSO.TEST";
pub const WORKGROUP: &str = "CONTOSO";
pub const DOMAIN_DN: &str = "DC=contoso,DC=test";
pub const ADMIN_USER: &str = "Administrator@contoso.test";
pub const ADMIN_PASSWORD: &str = "Passw0rd!Lab1";
const HOST_NAME: &str = "DC1";
/// Bump when the template recipe changes, so stale templates are not reused.
const TEMPLATE_VERSION: u32 = 1;
/// Samba stops by itself after this long, whatever happens to the tests.
const MAX_RUNTIME_SECS: u32 = 1800;
const COMPLETE: &str = ".complete";

/// Which schema the domain has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// What Samba 4.17 provisions: 2012 R2 (objectVersion 69).
    #[default]
    Base2012R2,
    /// Plus the Windows Server 2016 device attributes `msDS-IsCompliant` and
    /// `msDS-DeviceTrustType`, as a real 2016+ forest has them.
    Device2016,
}

impl Schema {
    fn tag(self) -> &'static str {
        match self {
            Schema::Base2012R2 => "2012r2",
            Schema::Device2016 => "device2016",
        }
    }
}

/// How an instance is set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub schema: Schema,
    /// `ldap server require strong auth = no`: allow simple binds on plain 389.
    pub allow_plain_ldap_bind: bool,
    /// `dsdb:schema update allowed = true` (used to build the 2016 template).
    pub schema_updates: bool,
    /// For Kerberos tests: `ldap server require strong auth = allow_sasl_over_tls`
    /// (what Windows AD does: a GSSAPI bind over LDAPS needs no SASL layer; Samba
    /// 4.17's default `yes` demands sign or seal even inside TLS, 4.20+ does not),
    /// and JSON authorization audit lines in `log/stdout.log` ([`SambaDc::authorizations`]).
    pub kerberos: bool,
}

/// A running Samba AD DC on its own loopback address.
pub struct SambaDc {
    ip: Ipv4Addr,
    dir: PathBuf,
    child: Child,
    /// Held open: samba (`-i`) and the reaper exit when it closes.
    _stdin: Option<ChildStdin>,
    reaper: Option<Child>,
    /// Cross-process claim on `ip` while this instance lives.
    _addr_lock: File,
    keep_dir: bool,
    /// `<inst>/krb5/krb5.conf`, once written and the SPN registered.
    krb5: OnceLock<PathBuf>,
}

static OU_SEQ: AtomicUsize = AtomicUsize::new(1);

impl SambaDc {
    /// A fresh DC with the default options.
    pub fn start() -> SambaDc {
        SambaDc::start_with(Options::default())
    }

    /// A fresh DC.
    pub fn start_with(opts: Options) -> SambaDc {
        ensure_installed();
        sweep_stale_instances();
        let tpl = template(opts.schema);
        let (ip, lock) = allocate_address();
        static SEQ: AtomicUsize = AtomicUsize::new(1);
        let dir = lab_root().join("inst").join(format!(
            "{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            ip.octets()[3]
        ));
        fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let _ = fs::remove_dir_all(&dir);
        run_ok(Command::new("cp").arg("-a").arg(&tpl).arg(&dir), "copying the template");
        let keep = std::env::var_os("DWB_LAB_KEEP").is_some_and(|v| v != "0");
        SambaDc::launch(dir, ip, lock, &opts, keep)
    }

    /// The instance shared by all tests of this process that do not need a
    /// DC of their own. Work in your own OU ([`SambaDc::create_ou`]).
    pub fn shared() -> &'static SambaDc {
        static SHARED: OnceLock<SambaDc> = OnceLock::new();
        SHARED.get_or_init(SambaDc::start)
    }

    /// Starts samba in `dir` (a template copy) on `ip` and waits for LDAP.
    fn launch(dir: PathBuf, ip: Ipv4Addr, lock: File, opts: &Options, keep_dir: bool) -> SambaDc {
        let started = Instant::now();
        for sub in
            ["run", "log", "cache", "state", "winbindd", "ntp_signd", "private/tls", "bind-dns"]
        {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        issue_server_cert(&dir, ip);
        write_smb_conf(&dir, ip, opts);
        let (child, stdin) = spawn_samba(&dir);
        let reaper = spawn_reaper(child.id(), &dir, keep_dir);
        let mut dc = SambaDc {
            ip,
            dir,
            child,
            _stdin: stdin,
            reaper,
            _addr_lock: lock,
            keep_dir,
            krb5: OnceLock::new(),
        };
        dc.wait_until_ready(Duration::from_secs(60));
        eprintln!(
            "samba lab: DC on {} ready in {:.1?} ({})",
            ip,
            started.elapsed(),
            dc.dir.display()
        );
        dc
    }

    /// Stops samba and starts it again on the same databases and address
    /// (clients see their connections drop).
    pub fn restart(&mut self) {
        self.stop();
        let (child, stdin) = spawn_samba(&self.dir);
        self.reaper = spawn_reaper(child.id(), &self.dir, self.keep_dir);
        self.child = child;
        self._stdin = stdin;
        self.wait_until_ready(Duration::from_secs(60));
    }

    /// Changes this DC's database directly, as no LDAP client may: stops samba,
    /// applies `ldif` (changetype records) with `ldbmodify --relax` to its
    /// `sam.ldb` (the relax control lets system-only objects and attributes be
    /// written, e.g. a schema `objectVersion`, an nTDSDSA object, a role's
    /// `fSMORoleOwner`), and starts samba again on the same address. Panics
    /// with ldbmodify's output when the change is refused.
    pub fn modify_offline(&mut self, ldif: &str) {
        let sam = self.dir.join("private/sam.ldb").display().to_string();
        let conf = format!("--configfile={}", self.dir.join("etc/smb.conf").display());
        self.ldbmodify_stopped(&["--relax", "-H", &sam, &conf], ldif);
    }

    /// Like [`SambaDc::modify_offline`], straight into one partition's database
    /// file (`partition` as Samba names it, e.g. `CN=CONFIGURATION,DC=CONTOSO,DC=TEST`),
    /// below Samba's modules: no schema check at all, so even a mandatory
    /// attribute can be removed, as a damaged or hand-edited directory may lack it.
    pub fn modify_partition_offline(&mut self, partition: &str, ldif: &str) {
        let file = self.dir.join("private/sam.ldb.d").join(format!("{partition}.ldb"));
        assert!(file.is_file(), "no partition file {}", file.display());
        self.ldbmodify_stopped(&["-H", &format!("mdb://{}", file.display())], ldif);
    }

    fn ldbmodify_stopped(&mut self, args: &[&str], ldif: &str) {
        self.stop();
        let file = self.dir.join("offline-change.ldif");
        fs::write(&file, ldif).unwrap();
        run_ok(
            Command::new("ldbmodify").args(args).arg(&file),
            "ldbmodify on the stopped DC's database",
        );
        let (child, stdin) = spawn_samba(&self.dir);
        self.reaper = spawn_reaper(child.id(), &self.dir, self.keep_dir);
        self.child = child;
        self._stdin = stdin;
        self.wait_until_ready(Duration::from_secs(60));
    }

    fn wait_until_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "samba on {} exited ({status}) before LDAP answered\n{}",
                    self.ip,
                    self.log_tail()
                );
            }
            if port_open(self.ip, 389) && port_open(self.ip, 636) && self.root_dse_answers() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "samba on {} did not answer LDAP within {limit:?}\n{}",
                    self.ip,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn root_dse_answers(&self) -> bool {
        Command::new("ldapsearch")
            .args([
                "-x",
                "-LLL",
                "-o",
                "nettimeout=2",
                "-H",
                &self.url_ldap(),
                "-b",
                "",
                "-s",
                "base",
                "dnsHostName",
            ])
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains("dnsHostName")
            })
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    pub fn url_ldaps(&self) -> String {
        format!("ldaps://{}", self.ip)
    }

    pub fn url_ldap(&self) -> String {
        format!("ldap://{}", self.ip)
    }

    /// The test CA that issued this DC's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("pki/ca.pem")
    }

    pub fn admin_user(&self) -> &'static str {
        ADMIN_USER
    }

    pub fn admin_password(&self) -> &'static str {
        ADMIN_PASSWORD
    }

    pub fn domain_dn(&self) -> Dn {
        Dn::parse(DOMAIN_DN).unwrap()
    }

    /// LDAPS with the test CA, bound as Administrator.
    pub fn settings(&self) -> LdapSettings {
        LdapSettings::new(self.url_ldaps())
            .with_credentials(
                Some(ADMIN_USER.to_string()),
                Some(SecretString::from(ADMIN_PASSWORD)),
            )
            .with_ca_file(Some(self.ca_file()))
    }

    /// The instance directory (databases, `etc/smb.conf`, `log/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `t-<name>-<n>`, unique in this test process.
    pub fn unique_name(&self, name: &str) -> String {
        format!("t-{name}-{}", OU_SEQ.fetch_add(1, Ordering::SeqCst))
    }

    /// Creates `OU=t-<name>-<n>,DC=contoso,DC=test` (with `ldapadd`) and returns its DN.
    pub fn create_ou(&self, name: &str) -> Dn {
        let ou = self.unique_name(name);
        let dn = format!("OU={ou},{DOMAIN_DN}");
        self.ldap_cli("ldapadd", &format!("dn: {dn}\nobjectClass: organizationalUnit\nou: {ou}\n"));
        Dn::parse(&dn).unwrap()
    }

    /// Runs the real `ldapsearch` over LDAPS as Administrator with `-LLL -o
    /// ldif-wrap=no` and the test CA; returns its LDIF. Panics on failure.
    pub fn ldapsearch(&self, args: &[&str]) -> String {
        let out = self.ldapsearch_output(args);
        if !out.status.success() {
            panic!(
                "ldapsearch {args:?} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like [`SambaDc::ldapsearch`], returning the raw output whatever the status.
    pub fn ldapsearch_output(&self, args: &[&str]) -> Output {
        Command::new("ldapsearch")
            .env("LDAPTLS_CACERT", self.ca_file())
            .env("LDAPTLS_REQCERT", "demand")
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-x",
                "-H",
                &self.url_ldaps(),
                "-D",
                ADMIN_USER,
                "-w",
                ADMIN_PASSWORD,
            ])
            .args(args)
            .output()
            .unwrap()
    }

    /// A `Command` for the real OpenLDAP CLI `tool_name` (`ldapadd`,
    /// `ldapsearch`, …) over LDAPS to this DC as Administrator, the DC's
    /// certificate verified against the test CA. The caller adds the tool's
    /// own arguments and decides where input and output go (the benches time it).
    pub fn ldap_tool(&self, tool_name: &str) -> Command {
        let mut c = Command::new(tool_name);
        c.env("LDAPTLS_CACERT", self.ca_file()).env("LDAPTLS_REQCERT", "demand").args([
            "-x",
            "-H",
            &self.url_ldaps(),
            "-D",
            ADMIN_USER,
            "-w",
            ADMIN_PASSWORD,
        ]);
        c
    }

    /// Feeds LDIF to `ldapadd` / `ldapmodify` over LDAPS as Administrator.
    pub fn ldap_cli(&self, tool_name: &str, ldif: &str) {
        let mut child = Command::new(tool_name)
            .env("LDAPTLS_CACERT", self.ca_file())
            .args(["-x", "-H", &self.url_ldaps(), "-D", ADMIN_USER, "-w", ADMIN_PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            panic!(
                "{tool_name} failed ({}):\n{}\n{ldif}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Runs `samba-tool <args> -s <inst>/etc/smb.conf`; returns stdout. Panics on failure.
    pub fn samba_tool(&self, args: &[&str]) -> String {
        let out = Command::new("samba-tool")
            .args(args)
            .arg("-s")
            .arg(self.dir.join("etc/smb.conf"))
            .output()
            .unwrap();
        if !out.status.success() {
            panic!(
                "samba-tool {args:?} failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `samba-tool` against this DC over LDAP as Administrator (NTLM, signed).
    pub fn samba_tool_as_admin(&self, args: &[&str]) -> String {
        let h = format!("ldap://{}", self.ip);
        let u = format!("{WORKGROUP}\\Administrator%{ADMIN_PASSWORD}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-H", &h, "-U", &u, "--use-kerberos=off"]);
        self.samba_tool(&all)
    }

    /// Kerberos for this DC, set up on first call: `<inst>/krb5/krb5.conf` naming
    /// this DC as the only KDC of CONTOSO.TEST (no DNS, `rdns = false`), and the
    /// SPN `ldap/<ip>` on `DC1$` (a fresh DC has only `HOST/` SPNs). The SPN is
    /// added straight into `sam.ldb` while samba runs, the one way that works in
    /// this lab. Returns the file for `KRB5_CONFIG`; panics with Samba's log when
    /// anything fails.
    pub fn krb5_conf(&self) -> &Path {
        self.krb5.get_or_init(|| {
            let dir = self.dir.join("krb5");
            fs::create_dir_all(&dir).unwrap();
            let conf = dir.join("krb5.conf");
            fs::write(
                &conf,
                format!(
                    "[libdefaults]\n\tdefault_realm = {REALM}\n\tdns_lookup_realm = false\n\
                     \tdns_lookup_kdc = false\n\trdns = false\n\
                     \tdns_canonicalize_hostname = false\n\
                     [realms]\n\t{REALM} = {{\n\t\tkdc = {ip}\n\t}}\n",
                    ip = self.ip
                ),
            )
            .unwrap();
            let spn = format!("ldap/{}", self.ip);
            let sam = self.dir.join("private/sam.ldb");
            let sam = sam.to_str().unwrap();
            self.samba_tool(&["spn", "add", &spn, &format!("{HOST_NAME}$"), "-H", sam]);
            let listed = self.samba_tool(&["spn", "list", &format!("{HOST_NAME}$"), "-H", sam]);
            assert!(listed.contains(&spn), "SPN {spn} not registered on {HOST_NAME}$:\n{listed}");
            // The KDC starts with the LDAP server; make sure it listens before kinit.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !port_open(self.ip, 88) {
                if Instant::now() > deadline {
                    panic!("the KDC on {}:88 does not answer\n{}", self.ip, self.log_tail());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            conf
        })
    }

    /// `kinit <principal>` with `password` on stdin into the credential cache file
    /// `cache` (`KRB5CCNAME=FILE:<cache>`), using this DC's [`SambaDc::krb5_conf`];
    /// `lifetime` is kinit's `-l` (e.g. `"5s"`). Panics with kinit's output and
    /// Samba's log on failure.
    pub fn kinit(&self, principal: &str, password: &str, cache: &Path, lifetime: Option<&str>) {
        let mut cmd = Command::new("kinit");
        cmd.env("KRB5_CONFIG", self.krb5_conf()).env("KRB5CCNAME", ccache_name(cache));
        if let Some(l) = lifetime {
            cmd.args(["-l", l]);
        }
        let mut child = cmd
            .arg(principal)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run kinit (krb5-user): {e}"));
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            panic!(
                "kinit {principal} against {} failed ({}):\n{}{}\n{}",
                self.ip,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            );
        }
    }

    /// Exports the keys of `principal` into the keytab file `path`
    /// (`samba-tool domain exportkeytab`, read from this DC's own database).
    pub fn export_keytab(&self, principal: &str, path: &Path) {
        let p = format!("--principal={principal}");
        self.samba_tool(&["domain", "exportkeytab", path.to_str().unwrap(), &p]);
        assert!(path.is_file(), "samba-tool wrote no keytab at {}", path.display());
    }

    /// The authorization events Samba logged so far (only with [`Options::kerberos`]):
    /// one JSON object per successful bind, with `serviceDescription`, `authType`
    /// (`krb5`, `simple bind`, …), `account`, `localAddress` and `transportProtection`
    /// (`SEAL`, `SIGN`, `TLS` or `NONE`).
    pub fn authorizations(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(self.dir.join("log/stdout.log")).unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["type"] == "Authorization")
            .map(|v| v["Authorization"].clone())
            .collect()
    }

    /// Stops samba answering (SIGSTOP) until [`SambaDc::resume`]: for timeout tests.
    pub fn pause(&self) {
        run_ok(Command::new("kill").args(["-STOP", &self.pid().to_string()]), "pausing samba");
    }

    pub fn resume(&self) {
        run_ok(Command::new("kill").args(["-CONT", &self.pid().to_string()]), "resuming samba");
    }

    /// The end of samba's logs, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for f in ["log/stdout.log", "log/log.samba"] {
            if let Ok(text) = fs::read_to_string(self.dir.join(f)) {
                let lines: Vec<&str> = text.lines().collect();
                out.push_str(&format!("--- {f} (last 60 lines) ---\n"));
                for l in &lines[lines.len().saturating_sub(60)..] {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Stops samba (SIGTERM, then SIGKILL) and reaps it.
    fn stop(&mut self) {
        if let Some(mut r) = self.reaper.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-CONT", &self.pid().to_string()]).status();
            let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.wait();
        self._stdin = None;
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.stop();
        if !self.keep_dir {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `$DWB_LAB_DIR` or `/var/tmp/dwb-lab`.
pub fn lab_root() -> PathBuf {
    let root = std::env::var_os("DWB_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/dwb-lab"));
    fs::create_dir_all(&root)
        .unwrap_or_else(|e| panic!("cannot create the lab directory {}: {e}", root.display()));
    root
}

/// Installs the Samba packages if a tool is missing (once per process).
fn ensure_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/install.sh");
        let out = Command::new("sh").arg(&script).output().unwrap();
        if !out.status.success() {
            panic!(
                "{} failed ({}); the Samba lab cannot run:\n{}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

/// `samba` lives in /usr/sbin, which is not on every PATH.
fn tool(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() { sbin } else { PathBuf::from(name) }
}

fn samba_version() -> String {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let out = Command::new(tool("samba")).arg("--version").output().unwrap();
        let v = String::from_utf8_lossy(&out.stdout);
        v.trim()
            .trim_start_matches("Version ")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' })
            .collect()
    })
    .clone()
}

/// The provisioned template for `schema`, built on first use on this machine.
fn template(schema: Schema) -> PathBuf {
    // Built first and outside our lock, which is not re-entrant.
    let base = (schema == Schema::Device2016).then(|| template(Schema::Base2012R2));
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    let root = lab_root();
    let name = format!("template-{}-v{TEMPLATE_VERSION}-{}", samba_version(), schema.tag());
    let dir = root.join(&name);
    if dir.join(COMPLETE).exists() {
        return dir;
    }
    let lock = File::create(root.join(format!("{name}.lock"))).unwrap();
    lock.lock().unwrap(); // another test process may be building it: wait
    if dir.join(COMPLETE).exists() {
        return dir;
    }
    let started = Instant::now();
    let tmp = root.join(format!("{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    match base {
        None => provision(&tmp, &root.join(format!("{name}.provision.log"))),
        Some(base) => extend_schema_2016(&base, &tmp),
    }
    fs::write(
        tmp.join(COMPLETE),
        format!("built by pid {} in {:.1?}\n", std::process::id(), started.elapsed()),
    )
    .unwrap();
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&tmp, &dir).unwrap();
    eprintln!("samba lab: template {name} built in {:.1?}", started.elapsed());
    dir
}

/// `samba-tool domain provision` + no password expiry + a test CA.
fn provision(tpl: &Path, log: &Path) {
    let out = Command::new("samba-tool")
        .args(["domain", "provision"])
        .arg(format!("--targetdir={}", tpl.display()))
        .arg(format!("--realm={REALM}"))
        .arg(format!("--domain={WORKGROUP}"))
        .arg(format!("--host-name={HOST_NAME}"))
        .args(["--server-role=dc", "--dns-backend=SAMBA_INTERNAL", "--backend-store=mdb"])
        .arg(format!("--adminpass={ADMIN_PASSWORD}"))
        .args([
            "--option=interfaces=127.0.0.1",
            "--option=bind interfaces only=yes",
            "--option=dns forwarder=127.0.0.1",
        ])
        .output()
        .unwrap();
    fs::write(log, [&out.stdout[..], &out.stderr[..]].concat()).unwrap();
    if !out.status.success() {
        panic!(
            "samba-tool domain provision failed ({}); log in {}:\n{}",
            out.status,
            log.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A long-lived template must not run into the 42-day password expiry.
    run_ok(
        Command::new("samba-tool")
            .args(["user", "setexpiry", "Administrator", "--noexpiry", "-H"])
            .arg(tpl.join("private/sam.ldb"))
            .arg("-s")
            .arg(tpl.join("etc/smb.conf")),
        "samba-tool user setexpiry",
    );
    let pki = tpl.join("pki");
    fs::create_dir_all(&pki).unwrap();
    run_ok(
        Command::new("openssl")
            .current_dir(&pki)
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "3650",
            ])
            .args(["-subj", "/CN=dwb test CA", "-keyout", "ca.key", "-out", "ca.pem"])
            .args([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]),
        "creating the test CA",
    );
}

/// The 2016 device attributes, added to a copy of the base template.
const SCHEMA_2016_LDIF: &str = "\
dn: CN=ms-DS-Is-Compliant,CN=Schema,CN=Configuration,DC=contoso,DC=test
changetype: add
objectClass: top
objectClass: attributeSchema
cn: ms-DS-Is-Compliant
attributeID: 1.2.840.113556.1.4.2314
attributeSyntax: 2.5.5.8
oMSyntax: 1
isSingleValued: TRUE
showInAdvancedViewOnly: TRUE
adminDisplayName: msDS-IsCompliant
lDAPDisplayName: msDS-IsCompliant
schemaIDGUID:: D31SWcC34kyh3XHO9pYykg==
searchFlags: 0
systemOnly: FALSE
isMemberOfPartialAttributeSet: TRUE

dn: CN=ms-DS-Device-Trust-Type,CN=Schema,CN=Configuration,DC=contoso,DC=test
changetype: add
objectClass: top
objectClass: attributeSchema
cn: ms-DS-Device-Trust-Type
attributeID: 1.2.840.113556.1.4.2325
attributeSyntax: 2.5.5.9
oMSyntax: 2
isSingleValued: TRUE
showInAdvancedViewOnly: TRUE
adminDisplayName: msDS-DeviceTrustType
lDAPDisplayName: msDS-DeviceTrustType
schemaIDGUID:: B2ikxNxqu0uX3mvtGBob/g==
searchFlags: 0
systemOnly: FALSE
isMemberOfPartialAttributeSet: TRUE

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-

dn: CN=ms-DS-Device,CN=Schema,CN=Configuration,DC=contoso,DC=test
changetype: modify
add: mayContain
mayContain: msDS-IsCompliant
mayContain: msDS-DeviceTrustType
-

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-
";

fn extend_schema_2016(base: &Path, tmp: &Path) {
    run_ok(Command::new("cp").arg("-a").arg(base).arg(tmp), "copying the base template");
    let _ = fs::remove_file(tmp.join(COMPLETE));
    let (ip, lock) = allocate_address();
    let opts = Options { schema_updates: true, ..Options::default() };
    let dc = SambaDc::launch(tmp.to_path_buf(), ip, lock, &opts, true);
    dc.ldap_cli("ldapmodify", SCHEMA_2016_LDIF);
    let check = dc.ldapsearch(&[
        "-b",
        "CN=Schema,CN=Configuration,DC=contoso,DC=test",
        "(lDAPDisplayName=msDS-IsCompliant)",
        "attributeID",
    ]);
    assert!(check.contains("1.2.840.113556.1.4.2314"), "schema extension not visible:\n{check}");
    drop(dc);
    // Per-instance leftovers; the next start recreates them.
    for sub in ["run", "log", "cache", "winbindd", "ntp_signd", "private/tls"] {
        let _ = fs::remove_dir_all(tmp.join(sub));
    }
}

/// A server certificate for `ip` from the template's CA.
fn issue_server_cert(dir: &Path, ip: Ipv4Addr) {
    let pki = dir.join("pki");
    run_ok(
        Command::new("openssl")
            .current_dir(&pki)
            .args(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
            .args([
                "-subj",
                &format!("/CN={HOST_NAME}.contoso.test"),
                "-keyout",
                "key.pem",
                "-out",
                "srv.csr",
            ]),
        "creating the server key",
    );
    fs::write(
        pki.join("ext.cnf"),
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{HOST_NAME}.contoso.test,DNS:localhost,IP:{ip}\n"
        ),
    )
    .unwrap();
    run_ok(
        Command::new("openssl")
            .current_dir(&pki)
            .args([
                "x509",
                "-req",
                "-in",
                "srv.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
            ])
            .args(["-days", "3650", "-extfile", "ext.cnf", "-out", "cert.pem"]),
        "signing the server certificate",
    );
    let tls = dir.join("private/tls");
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        fs::copy(pki.join(f), tls.join(f)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tls.join("key.pem"), fs::Permissions::from_mode(0o600)).unwrap();
}

fn write_smb_conf(dir: &Path, ip: Ipv4Addr, opts: &Options) {
    let d = dir.display();
    let mut conf = format!(
        "[global]
\tnetbios name = {HOST_NAME}
\trealm = {REALM}
\tworkgroup = {WORKGROUP}
\tserver role = active directory domain controller
\tinterfaces = {ip}/8
\tbind interfaces only = yes
\tserver services = ldap, kdc
\tdns forwarder = 127.0.0.1
\tldb:nosync = true
\tprivate dir = {d}/private
\tstate directory = {d}/state
\tcache directory = {d}/cache
\tlock directory = {d}
\tbinddns dir = {d}/bind-dns
\tpid directory = {d}/run
\tncalrpc dir = {d}/run/ncalrpc
\twinbindd socket directory = {d}/winbindd
\tntp signd socket directory = {d}/ntp_signd
\tlog file = {d}/log/log.%m
\tlogging = file
"
    );
    if opts.kerberos {
        // auth_json_audit:5 also logs authorizations (the bind's auth type and transport).
        conf.push_str("\tlog level = 1 auth_json_audit:5\n");
        conf.push_str("\tldap server require strong auth = allow_sasl_over_tls\n");
    } else {
        conf.push_str("\tlog level = 1\n");
    }
    if opts.allow_plain_ldap_bind {
        conf.push_str("\tldap server require strong auth = no\n");
    }
    if opts.schema_updates {
        conf.push_str("\tdsdb:schema update allowed = true\n");
    }
    fs::write(dir.join("etc/smb.conf"), conf).unwrap();
}

/// A free 127.0.0.N (N ≥ 2): a process-wide counter, a lock file shared with
/// other test processes, and a check that nothing listens on 389/636.
fn allocate_address() -> (Ipv4Addr, File) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let locks = lab_root().join("addr");
    fs::create_dir_all(&locks).unwrap();
    for _ in 0..253 {
        let n = 2 + NEXT.fetch_add(1, Ordering::SeqCst) % 253;
        let ip = Ipv4Addr::new(127, 0, 0, n as u8);
        let f = File::create(locks.join(format!("{ip}.lock"))).unwrap();
        if f.try_lock().is_err() {
            continue;
        }
        if port_open(ip, 389) || port_open(ip, 636) {
            continue;
        }
        return (ip, f);
    }
    panic!("no free 127.0.0.N address for a Samba DC");
}

fn port_open(ip: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_millis(200)).is_ok()
}

/// `samba -i -M single` on the instance's smb.conf, output to `log/stdout.log`.
fn spawn_samba(dir: &Path) -> (Child, Option<ChildStdin>) {
    let log = File::options().create(true).append(true).open(dir.join("log/stdout.log")).unwrap();
    let mut child = Command::new(tool("samba"))
        .arg("-i")
        .args(["-M", "single"])
        .arg(format!("--maximum-runtime={MAX_RUNTIME_SECS}"))
        .arg("-s")
        .arg(dir.join("etc/smb.conf"))
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start samba: {e}"));
    let stdin = child.stdin.take();
    (child, stdin)
}

/// A shell that waits for its stdin (held by this process) to close, then
/// kills samba if it still runs and removes the instance directory.
fn spawn_reaper(samba_pid: u32, dir: &Path, keep_dir: bool) -> Option<Child> {
    let script = r#"cat >/dev/null
if grep -qa samba "/proc/$1/cmdline" 2>/dev/null; then kill -KILL "$1"; fi
sleep 0.2
if [ "$3" = rm ]; then rm -rf "$2"; fi"#;
    Command::new("sh")
        .args(["-c", script, "dwb-lab-reaper", &samba_pid.to_string()])
        .arg(dir)
        .arg(if keep_dir { "keep" } else { "rm" })
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Removes instance directories whose test process is gone.
fn sweep_stale_instances() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let dead = |pid: Option<u32>| {
            pid.is_some_and(|p| {
                p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists()
            })
        };
        // Instances: inst/<pid>-<seq>-<n>.
        for e in fs::read_dir(lab_root().join("inst")).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead(name.split('-').next().and_then(|p| p.parse().ok())) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        // Half-built templates: template-….tmp-<pid>.
        for e in fs::read_dir(lab_root()).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if dead(name.rsplit_once(".tmp-").and_then(|(_, p)| p.parse().ok())) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    });
}

/// `FILE:<path>`: the credential cache name for `KRB5CCNAME`.
pub fn ccache_name(path: &Path) -> String {
    format!("FILE:{}", path.display())
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

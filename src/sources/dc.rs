//! The directory a run works on: a live DC (flags, `DWB_LDAP_*`, the profile),
//! an LDIF snapshot (`--snapshot`), or the bundled demo when nothing is
//! configured. Opened on first use, once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;

use crate::ad::Directory;
use crate::ad::ldap::{LdapAuth, LdapDirectory, LdapSettings};
use crate::ad::snapshot::SnapshotDirectory;
use crate::cancel::Blocking;
use crate::cli::Conn;
use crate::config::{self, Loaded};
use crate::embedded;
use crate::error::{Error, Result};

/// Where the directory comes from.
pub enum DirectorySource {
    /// A DC; the password is read (or prompted for) only when it is opened.
    Ldap(Box<LdapSource>),
    Snapshot(PathBuf),
    /// Nothing configured: `examples/contoso/directory.ldif`, embedded.
    Demo,
    /// No directory in this context (`check`, `docs`).
    None,
}

impl DirectorySource {
    pub fn is_demo(&self) -> bool {
        matches!(self, DirectorySource::Demo)
    }

    /// Which directory this is, for reports (nothing is opened).
    pub fn describe(&self) -> String {
        match self {
            DirectorySource::Ldap(l) => {
                let s = &l.settings;
                format!("{} as {}", s.url, s.user.as_deref().unwrap_or("(anonymous)"))
            }
            DirectorySource::Snapshot(p) => format!("snapshot {}", p.display()),
            DirectorySource::Demo => format!("demo {}", embedded::DEMO_NAME),
            DirectorySource::None => "none".into(),
        }
    }
}

/// How a run's directory is named when `--write-snapshot` kept its result in
/// a file: undo finds the run's objects there, not in the file it started from.
pub const RESULT_WRITTEN_TO: &str = " (result written to ";

/// `described` (a directory's description), with the file the run's result
/// was written to when there is one (absolute: undo may run from elsewhere).
pub fn with_result(described: &str, written: Option<&std::path::Path>) -> String {
    match written {
        None => described.to_string(),
        Some(p) => {
            let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            format!("{described}{RESULT_WRITTEN_TO}{})", p.display())
        }
    }
}

/// Where the LDAP password comes from. Nothing is read when the source is
/// decided: a run that never touches the DC (a `--snapshot`, `dwb check`)
/// never needs the file, and a missing one is reported when it is.
pub enum Password {
    /// Kerberos, or no user: none.
    None,
    /// From `DWB_LDAP_PASSWORD`.
    Given(SecretString),
    /// `password_file` in the profile; `key` names it for errors.
    File { path: PathBuf, key: String },
    /// Asked for on the terminal, for `user`.
    Prompt { user: String },
    /// A user and no way to get the password.
    Missing,
}

impl Password {
    fn read(&self) -> Result<Option<SecretString>> {
        match self {
            Password::None => Ok(None),
            Password::Given(p) => Ok(Some(p.clone())),
            Password::File { path, key } => {
                config::read_secret_file(path, key, "DWB_LDAP_PASSWORD").map(Some)
            }
            Password::Prompt { user } => {
                rpassword::prompt_password(format!("Password for {user}: "))
                    .map(|p| Some(SecretString::from(p)))
                    .map_err(|e| Error::config(format!("reading the password: {e}")))
            }
            Password::Missing => Err(Error::config(
                "no LDAP password: set DWB_LDAP_PASSWORD or password_file in the profile \
                 (secrets are never taken from arguments)",
            )),
        }
    }
}

/// A DC to connect to: the settings, and what is read only when it is opened.
pub struct LdapSource {
    pub settings: LdapSettings,
    pub password: Password,
    /// Files the connection reads (CA file, keytab), each with the setting that names it.
    pub files: Vec<(PathBuf, String)>,
}

impl LdapSource {
    /// The settings with the password read, after checking the files can be read
    /// (errors name the setting and the file).
    fn ready(&self) -> Result<LdapSettings> {
        for (f, key) in &self.files {
            config::check_readable(f, key)?;
        }
        let mut s = self.settings.clone();
        s.password = self.password.read()?;
        Ok(s)
    }
}

/// Decides the directory source: `--snapshot` wins over a configured DC; with
/// neither, the demo. Nothing is read here: the password and the CA file only
/// when the DC is first used.
pub fn decide(conn: &Conn, loaded: &Loaded) -> Result<DirectorySource> {
    if let Some(p) = &conn.snapshot {
        return Ok(DirectorySource::Snapshot(p.clone()));
    }
    let lc = loaded.profile.ldap.clone().unwrap_or_default();
    let Some(url) = conn.ldap_url.clone().or(lc.url.clone()) else {
        return Ok(DirectorySource::Demo);
    };
    let auth = match conn.ldap_auth.or(lc.auth).unwrap_or_default() {
        config::AuthMethod::Simple => LdapAuth::Simple,
        config::AuthMethod::Kerberos => LdapAuth::kerberos(
            conn.ldap_spn_host.clone().or(lc.spn_host.clone()),
            lc.keytab.clone(),
        )?,
    };
    let user = conn.ldap_user.clone().or(lc.user.clone());
    let password = match (crate::sources::env("DWB_LDAP_PASSWORD"), &lc.password_file, &user) {
        // A Kerberos ticket proves who we are: no password is read or prompted for.
        _ if auth.is_kerberos() => Password::None,
        (Some(p), _, _) => Password::Given(SecretString::from(p)),
        (None, Some(f), _) => {
            Password::File { path: f.clone(), key: loaded.key("ldap", "password_file") }
        }
        (None, None, Some(u)) if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            Password::Prompt { user: u.clone() }
        }
        (None, None, Some(_)) => Password::Missing,
        (None, None, None) => Password::None,
    };
    let ca_file = match (&conn.ca_file, &lc.ca_file) {
        (Some(f), _) => Some((f.clone(), "--ca-file / DWB_LDAP_CA_FILE".to_string())),
        (None, Some(f)) => Some((f.clone(), loaded.key("ldap", "ca_file"))),
        (None, None) => None,
    };
    let settings = LdapSettings::new(url)
        .with_credentials(user, None)
        .with_auth(auth)
        .with_ca_file(ca_file.as_ref().map(|(f, _)| f.clone()))
        .with_insecure_bind(conn.allow_insecure_ldap || lc.allow_insecure)
        .with_timeout_secs(lc.timeout_secs);
    let keytab = lc.keytab.clone().map(|f| (f, loaded.key("ldap", "keytab")));
    let files = [ca_file, keytab].into_iter().flatten().collect();
    Ok(DirectorySource::Ldap(Box::new(LdapSource { settings, password, files })))
}

/// An opened directory, plus the snapshot handle when it is one (for `--write-snapshot`).
#[derive(Clone)]
pub struct Opened {
    pub dir: Arc<dyn Directory>,
    pub snapshot: Option<Arc<SnapshotDirectory>>,
    /// The demo, kept in the data directory: written back when the session closes.
    pub kept: Option<Arc<super::demo::Kept>>,
}

/// Opens the source. The demo is always announced (even with `-q`).
pub fn open(source: &DirectorySource, blocking: &Blocking) -> Result<Opened> {
    match source {
        DirectorySource::Demo => {
            let (s, kept) = super::demo::open(&blocking.cancel)?;
            let s = Arc::new(s);
            Ok(Opened { dir: s.clone(), snapshot: Some(s), kept: kept.map(Arc::new) })
        }
        DirectorySource::Snapshot(p) => {
            let s = Arc::new(SnapshotDirectory::load(p)?);
            Ok(Opened { dir: s.clone(), snapshot: Some(s), kept: None })
        }
        DirectorySource::Ldap(source) => {
            let settings = source.ready()?;
            let handle = blocking.handle()?.clone();
            let d = LdapDirectory::connect(&settings, handle, blocking.cancel.token.clone())?;
            Ok(Opened { dir: Arc::new(d), snapshot: None, kept: None })
        }
        DirectorySource::None => Err(Error::config("no directory is available here")),
    }
}

/// The directory of a run, opened when a script first needs it.
pub struct DirectorySlot {
    source: DirectorySource,
    blocking: Blocking,
    /// Only a success is kept: a DC that was down is tried again (watch loops).
    opened: Mutex<Option<Opened>>,
}

impl DirectorySlot {
    pub fn new(source: DirectorySource, blocking: Blocking) -> DirectorySlot {
        DirectorySlot { source, blocking, opened: Mutex::new(None) }
    }

    /// A slot with no directory (`check`, `docs`, completion).
    pub fn none() -> DirectorySlot {
        DirectorySlot::new(DirectorySource::None, Blocking::new(None, Default::default()))
    }

    pub fn source(&self) -> &DirectorySource {
        &self.source
    }

    /// Opens the directory now (a snapshot is cheap to load: a malformed file is
    /// then a usage error reported before the script starts).
    pub fn open(&self) -> Result<Opened> {
        let mut slot =
            self.opened.lock().map_err(|_| Error::internal("directory slot poisoned"))?;
        if let Some(o) = slot.as_ref() {
            return Ok(o.clone());
        }
        let o = open(&self.source, &self.blocking)?;
        *slot = Some(o.clone());
        Ok(o)
    }

    pub fn get(&self) -> Result<Arc<dyn Directory>> {
        self.open().map(|o| o.dir)
    }

    /// True once the directory was opened successfully.
    pub fn is_open(&self) -> bool {
        self.opened.lock().is_ok_and(|o| o.is_some())
    }

    /// The snapshot behind the directory, if it is one and was opened.
    pub fn snapshot(&self) -> Option<Arc<SnapshotDirectory>> {
        self.opened.lock().ok().and_then(|o| o.as_ref().and_then(|o| o.snapshot.clone()))
    }

    /// The snapshot whose changes are lost unless `--write-snapshot` keeps them:
    /// a `--snapshot` file's, or the demo's when it could not be kept.
    pub fn in_memory_only(&self) -> Option<Arc<SnapshotDirectory>> {
        let opened = self.opened.lock().ok()?;
        opened.as_ref().filter(|o| o.kept.is_none()).and_then(|o| o.snapshot.clone())
    }

    /// Ends the session's use of the directory: the demo's changes are written
    /// back to the user's copy (and its lock released). Errors are printed:
    /// the run's own outcome stands.
    pub fn close(&self) {
        let Ok(mut slot) = self.opened.lock() else { return };
        if let Some(Opened { snapshot: Some(s), kept: Some(k), .. }) = slot.take()
            && let Err(e) = k.keep(&s)
        {
            crate::errln!("error: {e}");
        }
    }
}

//! The directory a run works on: a live DC (flags, `DWB_LDAP_*`, the profile),
//! an LDIF snapshot (`--snapshot`), or the bundled demo when nothing is
//! configured. Opened on first use, once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    Ldap(LdapSettings),
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
            DirectorySource::Ldap(s) => {
                format!("{} as {}", s.url, s.user.as_deref().unwrap_or("(anonymous)"))
            }
            DirectorySource::Snapshot(p) => format!("snapshot {}", p.display()),
            DirectorySource::Demo => format!("demo {}", embedded::DEMO_NAME),
            DirectorySource::None => "none".into(),
        }
    }
}

/// Decides the directory source: `--snapshot` wins over a configured DC; with
/// neither, the demo. The LDAP password is read here (env, file or prompt).
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
    let password = match std::env::var("DWB_LDAP_PASSWORD") {
        // A Kerberos ticket proves who we are: no password is read or prompted for.
        _ if auth.is_kerberos() => None,
        Ok(p) if !p.is_empty() => Some(secrecy::SecretString::from(p)),
        _ => match &lc.password_file {
            Some(f) => Some(config::read_secret_file(f)?),
            None if user.is_some() && std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                let who = user.as_deref().unwrap_or_default();
                let p = rpassword::prompt_password(format!("Password for {who}: "))
                    .map_err(|e| Error::config(format!("reading the password: {e}")))?;
                Some(secrecy::SecretString::from(p))
            }
            None if user.is_some() => {
                return Err(Error::config(
                    "no LDAP password: set DWB_LDAP_PASSWORD or password_file in the profile \
                     (secrets are never taken from arguments)",
                ));
            }
            None => None,
        },
    };
    let settings = LdapSettings::new(url)
        .with_credentials(user, password)
        .with_auth(auth)
        .with_ca_file(conn.ca_file.clone().or(lc.ca_file.clone()))
        .with_insecure_bind(conn.allow_insecure_ldap || lc.allow_insecure)
        .with_timeout_secs(lc.timeout_secs);
    Ok(DirectorySource::Ldap(settings))
}

/// An opened directory, plus the snapshot handle when it is one (for `--write-snapshot`).
#[derive(Clone)]
pub struct Opened {
    pub dir: Arc<dyn Directory>,
    pub snapshot: Option<Arc<SnapshotDirectory>>,
}

/// Opens the source. The demo is always announced (even with `-q`).
pub fn open(source: &DirectorySource, blocking: &Blocking) -> Result<Opened> {
    match source {
        DirectorySource::Demo => {
            eprintln!(
                "[demo] no directory configured: using examples/contoso — nothing real is touched"
            );
            let s =
                Arc::new(SnapshotDirectory::from_ldif(embedded::DEMO_LDIF, embedded::DEMO_NAME)?);
            Ok(Opened { dir: s.clone(), snapshot: Some(s) })
        }
        DirectorySource::Snapshot(p) => {
            let s = Arc::new(SnapshotDirectory::load(p)?);
            Ok(Opened { dir: s.clone(), snapshot: Some(s) })
        }
        DirectorySource::Ldap(settings) => {
            let handle = blocking.handle()?.clone();
            let d = LdapDirectory::connect(settings, handle, blocking.cancel.token.clone())?;
            Ok(Opened { dir: Arc::new(d), snapshot: None })
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
}

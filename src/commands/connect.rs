//! Opening the directory a command works on: a live DC from flags, `DWB_*`
//! variables and the config profile; a snapshot file; or the bundled demo.

use std::path::PathBuf;
use std::sync::Arc;

use crate::ad::Directory;
use crate::ad::snapshot::SnapshotDirectory;
use crate::cli::Conn;
use crate::config::{self, Loaded};
use crate::error::{Error, Result};
use crate::host::Cancel;
use crate::sources;

/// Where the directory comes from, decided before anything connects.
pub enum Source {
    Ldap(crate::ad::ldap::LdapSettings),
    Snapshot(PathBuf),
    Demo,
}

/// Reads the configuration and decides the directory source.
pub fn resolve(conn: &Conn) -> Result<(Loaded, Source)> {
    let loaded = config::load(conn.config.as_deref(), conn.profile.as_deref())?;
    if let Some(p) = &conn.snapshot {
        return Ok((loaded, Source::Snapshot(p.clone())));
    }
    let lc = loaded.profile.ldap.clone().unwrap_or_default();
    let Some(url) = conn.ldap_url.clone().or(lc.url.clone()) else {
        return Ok((loaded, Source::Demo));
    };
    let auth = match conn.ldap_auth.or(lc.auth).unwrap_or_default() {
        config::AuthMethod::Simple => crate::ad::ldap::LdapAuth::Simple,
        config::AuthMethod::Kerberos => crate::ad::ldap::LdapAuth::kerberos(
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
                let p = rpassword::prompt_password(format!(
                    "Password for {}: ",
                    user.as_deref().unwrap_or_default()
                ))
                .map_err(|e| Error::config(format!("reading the password: {e}")))?;
                Some(secrecy::SecretString::from(p))
            }
            None if user.is_some() => {
                return Err(Error::config(
                    "no LDAP password: set DWB_LDAP_PASSWORD or password_file in the profile (secrets are never taken from arguments)",
                ));
            }
            None => None,
        },
    };
    let settings = crate::ad::ldap::LdapSettings::new(url)
        .with_credentials(user, password)
        .with_auth(auth)
        .with_ca_file(conn.ca_file.clone().or(lc.ca_file.clone()))
        .with_insecure_bind(conn.allow_insecure_ldap || lc.allow_insecure)
        .with_timeout_secs(lc.timeout_secs);
    Ok((loaded, Source::Ldap(settings)))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where Graph data comes from: flags, then `DWB_GRAPH_*`, then the profile.
pub fn graph_settings(
    loaded: &Loaded,
    conn: &Conn,
    quiet: bool,
) -> Result<crate::bindings::graph::GraphSettings> {
    let g = loaded.profile.graph.clone().unwrap_or_default();
    let secret = match env("DWB_GRAPH_CLIENT_SECRET") {
        Some(s) => Some(secrecy::SecretString::from(s)),
        None => g.client_secret_file.as_deref().map(config::read_secret_file).transpose()?,
    };
    Ok(crate::bindings::graph::GraphSettings {
        cloud: g.cloud,
        tenant: env("DWB_GRAPH_TENANT").or(g.tenant),
        client_id: env("DWB_GRAPH_CLIENT_ID").or(g.client_id),
        client_secret: secret,
        certificate_file: g.certificate_file,
        key_file: g.key_file,
        authority: env("DWB_GRAPH_AUTHORITY").or(g.authority),
        endpoint: env("DWB_GRAPH_ENDPOINT").or(g.endpoint),
        devices_file: conn.devices.clone().or(g.devices_file),
        quiet,
    })
}

/// An opened directory, plus the snapshot handle when it is one (for --write-snapshot).
pub struct Opened {
    pub dir: Arc<dyn Directory>,
    pub snapshot: Option<Arc<SnapshotDirectory>>,
}

/// Opens the source.
pub fn open(
    source: &Source,
    rt: &tokio::runtime::Handle,
    cancel: &Cancel,
    quiet: bool,
) -> Result<Opened> {
    match source {
        Source::Demo => {
            if !quiet {
                eprintln!(
                    "[demo] no directory configured: using examples/contoso — nothing real is touched"
                );
            }
            let s = Arc::new(SnapshotDirectory::from_ldif(sources::DEMO_LDIF, sources::DEMO_NAME)?);
            Ok(Opened { dir: s.clone(), snapshot: Some(s) })
        }
        Source::Snapshot(p) => {
            let s = Arc::new(SnapshotDirectory::load(p)?);
            Ok(Opened { dir: s.clone(), snapshot: Some(s) })
        }
        Source::Ldap(settings) => {
            let d = crate::ad::ldap::LdapDirectory::connect(
                settings,
                rt.clone(),
                cancel.token.clone(),
            )?;
            Ok(Opened { dir: Arc::new(d), snapshot: None })
        }
    }
}

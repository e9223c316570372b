//! The LDAP backend of [`Directory`]: a real domain controller reached over
//! `ldap3`. This module tree is the only place in dwb that knows `ldap3`; its
//! types never leave it. The trait's calls are blocking: each one runs its
//! future with `Handle::block_on` on dwb's multi-thread runtime, from the
//! script thread, and every wait races the run's cancellation token.
//!
//! - `connect.rs`: URL, TLS (ldaps / StartTLS / own CA), the plaintext guard, simple bind.
//! - `kerberos.rs`: SASL GSSAPI binds with a Kerberos ticket (cargo feature `kerberos`).
//! - `search.rs`: paged, streamed searches; entries parsed without panics.
//! - `paging.rs`: the cookie loop's decisions as a pure state machine.
//! - `write.rs`: add / modify / delete, retry on busy, pipelined `write_many`.
//! - `controls.rs`: SD flags and simple paged results, encoded by hand.
//! - `result.rs`: LDAP results and client errors → dwb [`Error`]s.

mod connect;
mod controls;
mod kerberos;
pub mod pace;
mod paging;
mod result;
mod search;
mod write;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::{Directory, RootDse, Scope, SearchRequest, WriteOp};
use crate::directory::{Dn, Entry, Filter};
use crate::error::{Error, Kind, Result};

/// How the bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Ldaps,
    StartTls,
    Plain,
}

/// AD's default `MaxPageSize`: a larger page is silently cut to this.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Whether the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Verify the chain against the CA file (or the system roots) and the
    /// URL's host name or IP address against the certificate.
    #[default]
    Verify,
    /// Accept any certificate. The connection is encrypted but not
    /// authenticated: for labs only.
    Insecure,
}

/// How dwb proves who it is to the DC.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LdapAuth {
    /// A simple bind with [`LdapSettings::user`] and its password (anonymous without a user).
    #[default]
    Simple,
    /// A SASL GSSAPI bind with a Kerberos ticket; the user and password are not used.
    /// Built only with the cargo feature `kerberos` ([`LdapAuth::kerberos`] says so otherwise).
    Kerberos(Kerberos),
}

/// Where the Kerberos ticket comes from and which service it is for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Kerberos {
    /// The host part of the SPN `ldap/<host>`; `None` = the URL's host. It may end in
    /// `@REALM` for a DC in another realm than the ticket's.
    pub spn_host: Option<String>,
    /// A client keytab to get the ticket from, into a private in-memory cache; `None` = the
    /// user's credential cache (`kinit`, `KRB5CCNAME`, or MIT's `KRB5_CLIENT_KTNAME`).
    pub keytab: Option<PathBuf>,
}

/// How to reach and bind to a DC.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    /// `ldaps://host[:port]` or `ldap://host[:port]`.
    pub url: String,
    /// Bind name: `DOMAIN\user`, a UPN (`user@domain`) or a DN. `None` = anonymous.
    pub user: Option<String>,
    pub password: Option<SecretString>,
    /// Simple bind (the default) or Kerberos.
    pub auth: LdapAuth,
    /// PEM file with the CA certificate(s) to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    pub tls: TlsMode,
    /// StartTLS on `ldap://`; `None` means yes for a simple bind and no for Kerberos
    /// (whose SASL layer seals the connection). Ignored for `ldaps://`.
    pub starttls: Option<bool>,
    /// Allow a simple bind over an unencrypted connection (`--allow-insecure-ldap`).
    pub allow_insecure_bind: bool,
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Each operation; for searches, the wait for each message of a page.
    pub op_timeout: Duration,
    /// Entries per page; capped at [`MAX_PAGE_SIZE`].
    pub page_size: usize,
}

impl LdapSettings {
    /// Settings with defaults: verified TLS, StartTLS on `ldap://`, 10 s to
    /// connect, 120 s per operation (AD's MaxQueryDuration), pages of 1000.
    pub fn new(url: impl Into<String>) -> LdapSettings {
        LdapSettings {
            url: url.into(),
            user: None,
            password: None,
            auth: LdapAuth::Simple,
            ca_file: None,
            tls: TlsMode::Verify,
            starttls: None,
            allow_insecure_bind: false,
            connect_timeout: Duration::from_secs(10),
            op_timeout: Duration::from_secs(120),
            page_size: MAX_PAGE_SIZE,
        }
    }

    /// The same settings with these credentials (`None`, `None` = anonymous).
    pub fn with_credentials(
        mut self,
        user: Option<String>,
        password: Option<SecretString>,
    ) -> LdapSettings {
        self.user = user;
        self.password = password;
        self
    }

    /// The same settings with this way of binding.
    pub fn with_auth(mut self, auth: LdapAuth) -> LdapSettings {
        self.auth = auth;
        self
    }

    /// The same settings, trusting the CA certificates in this PEM file
    /// (`None` = the system roots).
    pub fn with_ca_file(mut self, path: Option<PathBuf>) -> LdapSettings {
        self.ca_file = path;
        self
    }

    /// Whether a simple bind may go over an unencrypted connection (`--allow-insecure-ldap`).
    pub fn with_insecure_bind(mut self, allow: bool) -> LdapSettings {
        self.allow_insecure_bind = allow;
        self
    }

    /// The per-operation timeout in seconds (`None` keeps the default, 120 s).
    pub fn with_timeout_secs(mut self, secs: Option<u64>) -> LdapSettings {
        if let Some(s) = secs.filter(|s| *s > 0) {
            self.op_timeout = Duration::from_secs(s);
        }
        self
    }

    /// Whether the server certificate is verified.
    pub fn with_tls(mut self, mode: TlsMode) -> LdapSettings {
        self.tls = mode;
        self
    }

    /// The page size actually requested: at least 1, at most [`MAX_PAGE_SIZE`].
    pub fn effective_page_size(&self) -> usize {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }
}

/// A connection to a DC, bound with the settings' credentials.
pub struct LdapDirectory {
    settings: LdapSettings,
    rt: Handle,
    cancel: CancellationToken,
    /// The multiplexed connection; replaced when it has closed.
    conn: tokio::sync::Mutex<ldap3::Ldap>,
    /// The rootDSE as first read: what it names (naming contexts, functional
    /// levels, the DC's own objects) does not change under a run, and discovery
    /// asks for it several times.
    root: std::sync::OnceLock<RootDse>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LdapDirectory({})", self.describe())
    }
}

impl LdapDirectory {
    /// Connects and binds. Blocks; call it from a thread that is not a
    /// runtime worker. `cancel` aborts this and every later call.
    pub fn connect(
        settings: &LdapSettings,
        rt: Handle,
        cancel: CancellationToken,
    ) -> Result<LdapDirectory> {
        let ldap = run_on(&rt, &cancel, "connecting", connect::open(settings))?;
        Ok(LdapDirectory {
            settings: settings.clone(),
            rt,
            cancel,
            conn: tokio::sync::Mutex::new(ldap),
            root: std::sync::OnceLock::new(),
        })
    }

    /// The settings this directory was opened with.
    pub fn settings(&self) -> &LdapSettings {
        &self.settings
    }

    /// Runs `fut` to completion on the runtime, or fails with `cancelled`.
    fn run<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        run_on(&self.rt, &self.cancel, what, fut)
    }

    /// A handle on the connection, reconnecting (and binding again) when the
    /// server or the network closed it since the last call.
    async fn handle(&self) -> Result<ldap3::Ldap> {
        let mut conn = self.conn.lock().await;
        if conn.is_closed() {
            tracing::info!(url = %self.settings.url, "LDAP connection closed; reconnecting");
            *conn = connect::open(&self.settings).await?;
        }
        Ok(conn.clone())
    }
}

impl Drop for LdapDirectory {
    fn drop(&mut self) {
        // Say goodbye politely; dropping the last handle would close the
        // socket anyway. Errors are irrelevant (ldap3#66: AD closes first).
        let mut ldap = self.conn.get_mut().clone();
        let timeout = Duration::from_secs(2);
        self.rt.spawn(async move {
            let _ = tokio::time::timeout(timeout, ldap.unbind()).await;
        });
    }
}

/// `block_on` with the cancellation race, refusing (instead of panicking)
/// when called from inside the runtime.
fn run_on<T>(
    rt: &Handle,
    cancel: &CancellationToken,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    if Handle::try_current().is_ok() {
        return Err(Error::internal(format!(
            "{what}: the LDAP directory was called from inside the async runtime; call it from a blocking thread"
        )));
    }
    if cancel.is_cancelled() {
        return Err(cancelled(what));
    }
    rt.block_on(async {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(cancelled(what)),
            r = fut => r,
        }
    })
}

fn cancelled(what: &str) -> Error {
    Error::new(Kind::Cancelled, format!("cancelled while {what}"))
}

/// Attributes read from the rootDSE (AD returns only some of them for `*`).
const ROOT_DSE_ATTRS: &[&str] = &[
    "*",
    "defaultNamingContext",
    "configurationNamingContext",
    "schemaNamingContext",
    "rootDomainNamingContext",
    "namingContexts",
    "dnsHostName",
    "dsServiceName",
    "serverName",
    "forestFunctionality",
    "domainFunctionality",
    "domainControllerFunctionality",
    "supportedControl",
    "supportedLDAPVersion",
    "supportedSASLMechanisms",
    "isGlobalCatalogReady",
    "currentTime",
];

impl Directory for LdapDirectory {
    fn describe(&self) -> String {
        let who = match &self.settings.auth {
            LdapAuth::Kerberos(_) => "with Kerberos".to_string(),
            LdapAuth::Simple => {
                format!("as {}", self.settings.user.as_deref().unwrap_or("(anonymous)"))
            }
        };
        let tls = match self.settings.tls {
            TlsMode::Verify => "",
            TlsMode::Insecure => ", certificate not verified",
        };
        format!("{} {who}{tls}", self.settings.url)
    }

    fn root_dse(&self) -> Result<RootDse> {
        if let Some(r) = self.root.get() {
            return Ok(r.clone());
        }
        let req = SearchRequest::new(Dn::root(), Scope::Base, Filter::all())
            .attrs(ROOT_DSE_ATTRS.iter().copied());
        let mut found: Option<Entry> = None;
        self.search(&req, &mut |e| {
            found = Some(e);
            Ok(())
        })?;
        let e = found.ok_or_else(|| {
            Error::new(Kind::NotFound, format!("{} returned no rootDSE", self.settings.url))
        })?;
        Ok(self.root.get_or_init(|| RootDse::from_entry(&e)).clone())
    }

    fn search(&self, req: &SearchRequest, each: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
        search::run(self, req, each)
    }

    fn write(&self, op: &WriteOp) -> Result<()> {
        let timeout = self.settings.op_timeout;
        self.run(write::verb(op), async {
            let ldap = self.handle().await?;
            write::with_retry(ldap, op, timeout, &self.cancel).await
        })
    }

    fn write_many(&self, ops: &[&WriteOp], done: &mut dyn FnMut(usize, Result<()>)) {
        write::pipelined(self, ops, done)
    }

    fn bind_as(&self, user: &str, password: &SecretString) -> Result<Arc<dyn Directory>> {
        // A password is a simple bind, whatever this connection used.
        let settings = self
            .settings
            .clone()
            .with_auth(LdapAuth::Simple)
            .with_credentials(Some(user.to_string()), Some(password.clone()));
        let dir = LdapDirectory::connect(&settings, self.rt.clone(), self.cancel.clone())?;
        Ok(Arc::new(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_capped() {
        let mut s = LdapSettings::new("ldaps://dc1.contoso.test");
        assert_eq!(s.effective_page_size(), 1000);
        s.page_size = 5000;
        assert_eq!(s.effective_page_size(), 1000);
        s.page_size = 0;
        assert_eq!(s.effective_page_size(), 1);
    }

    #[test]
    fn builder() {
        let s = LdapSettings::new("ldap://dc1")
            .with_credentials(Some("CONTOSO\\svc".into()), Some(SecretString::from("pw")))
            .with_ca_file(Some("/etc/dwb/ca.pem".into()))
            .with_insecure_bind(true)
            .with_timeout_secs(Some(30));
        assert_eq!(s.user.as_deref(), Some("CONTOSO\\svc"));
        assert_eq!(s.ca_file.as_deref(), Some(std::path::Path::new("/etc/dwb/ca.pem")));
        assert!(s.allow_insecure_bind);
        assert_eq!(s.op_timeout, Duration::from_secs(30));
        assert_eq!(s.tls, TlsMode::Verify);
        assert_eq!(s.starttls, None);
        assert_eq!(s.clone().with_timeout_secs(None).op_timeout, Duration::from_secs(30));
        assert!(!format!("{s:?}").contains("\"pw\""), "the password never shows in Debug");
    }

    #[test]
    fn refuses_to_block_inside_the_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let h = rt.handle().clone();
        let token = CancellationToken::new();
        let r: Result<()> = rt.block_on(async { run_on(&h, &token, "testing", async { Ok(()) }) });
        assert_eq!(r.unwrap_err().kind, Kind::Internal);
    }

    #[test]
    fn cancellation_wins() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let token = CancellationToken::new();
        let t2 = token.clone();
        rt.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            t2.cancel();
        });
        let r: Result<()> = run_on(rt.handle(), &token, "waiting", std::future::pending());
        let e = r.unwrap_err();
        assert_eq!(e.kind, Kind::Cancelled);
        assert!(e.message.contains("waiting"));
    }
}

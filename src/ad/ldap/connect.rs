//! Opening a connection: the URL, the transport (LDAPS, StartTLS or, only when
//! explicitly allowed or sealed by Kerberos, plaintext), TLS trust, and the bind
//! (simple here, Kerberos in `kerberos.rs`). The TCP
//! connection is made here rather than inside ldap3 so that "cannot reach the
//! host" (`network`) and "reached it but TLS failed" (`tls`) stay distinct.

use std::sync::Arc;

use ldap3::{LdapConnAsync, LdapConnSettings, StdStream};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::ExposeSecret;

use super::result::{self, Op};
use super::{LdapAuth, LdapSettings, TlsMode, Transport, kerberos};
use crate::error::{Error, Kind, Result};

/// The parts of an LDAP URL dwb uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    pub secure_scheme: bool,
    /// Host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// Parses `ldap[s]://host[:port][/]`. Anything else is a `config` error.
    pub fn parse(url: &str) -> Result<Endpoint> {
        let bad = |why: &str| {
            Error::new(Kind::Config, format!("`{url}` is not a usable LDAP URL: {why}"))
                .with_hint("use ldaps://dc.example.com or ldap://dc.example.com (StartTLS)")
        };
        let t = url.trim();
        let (secure_scheme, rest) = match t.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("ldaps") => (true, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("ldap") => (false, rest),
            Some((s, _)) => return Err(bad(&format!("unsupported scheme `{s}`"))),
            None => return Err(bad("missing ldap:// or ldaps://")),
        };
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if hostport.contains(['/', '?', '@', '#']) {
            return Err(bad(
                "only a host and an optional port are allowed (no base DN, user or query)",
            ));
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(&format!("bad port `{p}`")))?,
            None if secure_scheme => 636,
            None => 389,
        };
        Ok(Endpoint { secure_scheme, host, port })
    }

    pub fn transport(&self, starttls: Option<bool>) -> Transport {
        match (self.secure_scheme, starttls.unwrap_or(true)) {
            (true, _) => Transport::Ldaps,
            (false, true) => Transport::StartTls,
            (false, false) => Transport::Plain,
        }
    }

    /// The URL handed to ldap3 (which takes the TLS server name from it).
    fn ldap3_url(&self) -> String {
        let scheme = if self.secure_scheme { "ldaps" } else { "ldap" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Checks everything that can be checked before a byte is sent: the URL,
/// the credentials, and the plaintext-bind rule.
pub(super) fn preflight(s: &LdapSettings) -> Result<(Endpoint, Transport)> {
    let ep = Endpoint::parse(&s.url)?;
    if let LdapAuth::Kerberos(k) = &s.auth {
        // No StartTLS by default: on ldap:// the GSSAPI layer seals every message.
        kerberos::preflight(k)?;
        let transport = ep.transport(s.starttls.or(Some(false)));
        return Ok((ep, transport));
    }
    let transport = ep.transport(s.starttls);
    match (&s.user, &s.password) {
        (Some(user), None) => {
            return Err(Error::new(Kind::Config, format!("no password given for `{user}`")));
        }
        (Some(user), Some(pw)) if pw.expose_secret().is_empty() => {
            // RFC 4513 §5.1.2: a name with an empty password is an
            // unauthenticated bind, which many servers "accept" as anonymous.
            return Err(Error::new(Kind::Config, format!("the password for `{user}` is empty")));
        }
        (None, Some(_)) => {
            return Err(Error::new(Kind::Config, "a password was given but no user to bind as"));
        }
        _ => {}
    }
    if transport == Transport::Plain && s.user.is_some() && !s.allow_insecure_bind {
        return Err(Error::new(
            Kind::Config,
            format!("refusing to send the password for `{}` unencrypted to {}", s.user.as_deref().unwrap_or_default(), s.url),
        )
        .with_hint("use ldaps:// or StartTLS on ldap:// (the default); pass --allow-insecure-ldap only for a lab DC"));
    }
    Ok((ep, transport))
}

/// Connects, secures and binds; returns a handle whose connection task runs
/// on the current runtime.
pub(super) async fn open(s: &LdapSettings) -> Result<ldap3::Ldap> {
    let (ep, transport) = preflight(s)?;
    let tcp =
        match tokio::time::timeout(s.connect_timeout, tokio::net::TcpStream::connect(ep.addr()))
            .await
        {
            Err(_) => {
                return Err(Error::new(
                    Kind::Timeout,
                    format!("no TCP connection to {} within {:?}", ep.addr(), s.connect_timeout),
                )
                .with_hint("check the host name, the port and firewalls between here and the DC"));
            }
            Ok(Err(e)) => {
                return Err(Error::new(
                    Kind::Network,
                    format!("cannot connect to {}: {e}", ep.addr()),
                )
                .with_hint(
                    "check the host name and port, and that the DC's LDAP service is running",
                ));
            }
            Ok(Ok(tcp)) => tcp,
        };
    let _ = tcp.set_nodelay(true);
    let std_tcp = tcp
        .into_std()
        .map_err(|e| Error::new(Kind::Network, format!("socket setup for {}: {e}", ep.addr())))?;

    let mut cs = LdapConnSettings::new()
        .set_conn_timeout(s.connect_timeout)
        .set_std_stream(StdStream::Tcp(std_tcp))
        .set_starttls(transport == Transport::StartTls);
    install_crypto_provider();
    match s.tls {
        TlsMode::Insecure => cs = cs.set_no_tls_verify(true),
        TlsMode::Verify => {
            if let Some(ca) = &s.ca_file {
                cs = cs.set_config(client_config(ca)?);
            }
        }
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(cs, &ep.ldap3_url())
        .await
        .map_err(|e| result::connect_error(e, transport, &ep.host, ep.port, s.connect_timeout))?;
    let url = s.url.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(%url, error = %e, "LDAP connection ended");
        }
    });

    if let LdapAuth::Kerberos(k) = &s.auth {
        kerberos::bind(&mut ldap, s, k, &ep.host).await?;
    } else if let (Some(user), Some(pw)) = (&s.user, &s.password) {
        let res = ldap
            .with_timeout(s.op_timeout)
            .simple_bind(user, pw.expose_secret())
            .await
            .map_err(|e| result::client_error(Op::Bind, None, e, s.op_timeout))?;
        result::bind_result(user, &s.url, res)?;
    }
    Ok(ldap)
}

/// ldap3's default configuration takes rustls' process-wide provider; make
/// sure there is one (a no-op when dwb's main already installed it).
fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A rustls configuration trusting exactly the certificates in `path`.
fn client_config(path: &std::path::Path) -> Result<Arc<rustls::ClientConfig>> {
    let cfg_err = |msg: String| {
        Error::new(Kind::Config, msg)
            .with_hint("DWB_LDAP_CA_FILE must name a PEM file with the CA certificate(s) of the DC")
    };
    let mut roots = rustls::RootCertStore::empty();
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| cfg_err(format!("cannot read CA file {}: {e}", path.display())))?;
    for cert in iter {
        let cert = cert.map_err(|e| cfg_err(format!("CA file {}: {e}", path.display())))?;
        roots.add(cert).map_err(|e| {
            cfg_err(format!("CA file {}: unusable certificate: {e}", path.display()))
        })?;
    }
    if roots.is_empty() {
        return Err(cfg_err(format!("CA file {} holds no PEM certificate", path.display())));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Kind::Tls, format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn ep(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap()
    }

    #[test]
    fn urls() {
        assert_eq!(
            ep("ldaps://dc1.contoso.test"),
            Endpoint { secure_scheme: true, host: "dc1.contoso.test".into(), port: 636 }
        );
        assert_eq!(ep("LDAP://10.0.0.1:3268/").port, 3268);
        assert_eq!(ep("ldap://127.0.0.2").port, 389);
        assert_eq!(ep("ldaps://[::1]:1636").host, "::1");
        assert_eq!(ep("ldaps://[::1]:1636").ldap3_url(), "ldaps://[::1]:1636");
        for bad in [
            "dc1",
            "http://dc1",
            "ldaps://",
            "ldap://dc1:0",
            "ldap://dc1:x",
            "ldap://dc1/DC=x",
            "ldaps://u@dc1",
        ] {
            assert_eq!(Endpoint::parse(bad).unwrap_err().kind, Kind::Config, "{bad}");
        }
    }

    #[test]
    fn transports() {
        assert_eq!(ep("ldaps://a").transport(Some(false)), Transport::Ldaps);
        assert_eq!(ep("ldap://a").transport(None), Transport::StartTls);
        assert_eq!(ep("ldap://a").transport(Some(false)), Transport::Plain);
    }

    #[test]
    fn plaintext_bind_is_refused_before_connecting() {
        let pw = "S3cret-do-not-print";
        let mut s = LdapSettings::new("ldap://192.0.2.1")
            .with_credentials(Some("CONTOSO\\svc".into()), Some(SecretString::from(pw)));
        s.starttls = Some(false);
        let e = preflight(&s).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.hint.as_deref().unwrap_or("").contains("--allow-insecure-ldap"));
        assert!(!format!("{e} {e:?}").contains(pw));
        s = s.with_insecure_bind(true);
        assert!(preflight(&s).is_ok());
        // Anonymous plaintext sends no secret and is fine.
        let mut anon = LdapSettings::new("ldap://192.0.2.1");
        anon.starttls = Some(false);
        assert!(preflight(&anon).is_ok());
    }

    #[test]
    fn kerberos_needs_no_password_and_seals_instead_of_starttls() {
        let krb = LdapAuth::Kerberos(super::super::Kerberos::default());
        // A user from the profile and no password: fine, the ticket is used.
        let s = LdapSettings::new("ldap://dc1")
            .with_credentials(Some("CONTOSO\\admin".into()), None)
            .with_auth(krb.clone());
        let r = preflight(&s);
        assert_eq!(r.is_ok(), kerberos::BUILT, "{r:?}");
        match r {
            Ok((_, t)) => assert_eq!(t, Transport::Plain),
            Err(e) => assert_eq!(e.kind, Kind::Config),
        }
        if let Ok((_, t)) = preflight(&LdapSettings::new("ldaps://dc1").with_auth(krb)) {
            assert_eq!(t, Transport::Ldaps);
        }
    }

    #[test]
    fn credentials_must_be_complete() {
        let mut s = LdapSettings::new("ldaps://a");
        s.user = Some("u@a".into());
        assert_eq!(preflight(&s).unwrap_err().kind, Kind::Config);
        s.password = Some(SecretString::from(""));
        assert_eq!(preflight(&s).unwrap_err().kind, Kind::Config);
        s.user = None;
        s.password = Some(SecretString::from("x"));
        assert_eq!(preflight(&s).unwrap_err().kind, Kind::Config);
    }

    #[test]
    fn bad_ca_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        assert_eq!(client_config(&missing).unwrap_err().kind, Kind::Config);
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = client_config(&empty).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.hint.unwrap().contains("DWB_LDAP_CA_FILE"));
    }
}

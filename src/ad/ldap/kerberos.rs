//! Kerberos binds: SASL GSSAPI (RFC 4752) through ldap3's `gssapi` feature, with
//! the user's ticket (the credential cache that `kinit` fills, `KRB5CCNAME`) or a
//! client keytab named in the profile. No password is read or prompted for.
//!
//! - Over `ldap://` the bind negotiates GSSAPI's confidentiality layer: every later
//!   message is sealed (encrypted and integrity-protected) with the session key, so
//!   no StartTLS is needed, and a DC requiring signing accepts it.
//! - Over `ldaps://` Kerberos only authenticates (no layer inside TLS) and carries
//!   the `tls-server-end-point` channel binding (RFC 5929), as AD's strictest LDAP
//!   channel binding policy demands.
//! - The service principal is `ldap/<host>` with the URL's host, or `spn_host`
//!   when the DC is registered under another name (an IP-form SPN in the lab).
//! - A keytab (`keytab = "/path"`) is read with MIT's `gss_acquire_cred_from` into a
//!   private in-memory cache, so the user's own cache is neither used nor touched
//!   (Linux and other MIT/Heimdal systems; macOS builds refuse `keytab`).
//!   Without it MIT also honours `KRB5_CLIENT_KTNAME` when the cache is empty.
//!
//! Built only with the cargo feature `kerberos` (bindgen and the MIT Kerberos
//! headers at build time); without it, asking for Kerberos is a `config` error
//! that says how to build it.

use std::path::{Path, PathBuf};

use super::{Kerberos, LdapAuth};
use crate::error::{Error, Kind, Result};

/// Whether this dwb was built with Kerberos support.
pub(super) const BUILT: bool = cfg!(feature = "kerberos");

impl LdapAuth {
    /// Kerberos with this SPN host and keytab, or a `config` error saying how to
    /// build dwb with Kerberos when this build has none.
    pub fn kerberos(spn_host: Option<String>, keytab: Option<PathBuf>) -> Result<LdapAuth> {
        if !BUILT {
            return Err(unavailable());
        }
        Ok(LdapAuth::Kerberos(Kerberos { spn_host, keytab }))
    }

    pub fn is_kerberos(&self) -> bool {
        matches!(self, LdapAuth::Kerberos(_))
    }
}

fn unavailable() -> Error {
    let msg = "Kerberos (ldap auth = kerberos) is not built into this dwb";
    Error::new(Kind::Config, msg).with_hint(
        "build dwb with it: `cargo build --release --features kerberos` (needs libclang and the \
         MIT Kerberos headers; Debian/Ubuntu: apt-get install libclang-dev libkrb5-dev \
         pkg-config), or use auth = simple over ldaps://",
    )
}

/// What can be checked before connecting.
pub(super) fn preflight(k: &Kerberos) -> Result<()> {
    if !BUILT {
        return Err(unavailable());
    }
    if let Some(h) = &k.spn_host
        && (h.is_empty() || h.contains(['/', ' ', '\t']))
    {
        return Err(Error::new(Kind::Config, format!("`{h}` is not a usable SPN host"))
            .with_hint("spn_host is the host part of ldap/<host>, e.g. dc1.contoso.com"));
    }
    if let Some(kt) = &k.keytab {
        if cfg!(target_os = "macos") {
            return Err(Error::new(Kind::Config, "keytab is not supported on macOS builds")
                .with_hint(format!(
                    "get a ticket from it first: kinit -k -t {} principal",
                    kt.display()
                )));
        }
        check_keytab(kt)?;
    }
    Ok(())
}

fn check_keytab(path: &Path) -> Result<()> {
    match std::fs::File::open(path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => Ok(()),
        Ok(_) => Err(Error::new(Kind::Config, format!("keytab {} is not a file", path.display()))),
        Err(e) => {
            Err(Error::new(Kind::Config, format!("cannot read the keytab {}: {e}", path.display()))
                .with_hint(
                    "keytab in the profile's [ldap] section names the client keytab dwb reads",
                ))
        }
    }
}

/// Binds with Kerberos (see the module comment).
#[cfg(feature = "kerberos")]
pub(super) async fn bind(
    ldap: &mut ldap3::Ldap,
    s: &super::LdapSettings,
    k: &Kerberos,
    url_host: &str,
) -> Result<()> {
    gss::bind(ldap, s, k, url_host).await
}

#[cfg(not(feature = "kerberos"))]
pub(super) async fn bind(
    _ldap: &mut ldap3::Ldap,
    _s: &super::LdapSettings,
    _k: &Kerberos,
    _url_host: &str,
) -> Result<()> {
    Err(unavailable())
}

/// What went wrong, from GSSAPI's (MIT's) message text: the library reports
/// no finer structure through ldap3.
#[cfg(any(feature = "kerberos", test))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    NoTicket,
    Expired,
    UnknownService,
    NoKdc,
    ClockSkew,
    Keytab,
    Other,
}

#[cfg(any(feature = "kerberos", test))]
fn classify(text: &str) -> Failure {
    let t = text.to_ascii_lowercase();
    let has = |s: &str| t.contains(s);
    if has("keytab") || has("key table") {
        Failure::Keytab
    } else if has("expired") {
        Failure::Expired
    } else if has("server not found") || has("not found in kerberos database") {
        Failure::UnknownService
    } else if has("cannot contact any kdc")
        || has("cannot find kdc")
        || has("cannot resolve network address for kdc")
    {
        Failure::NoKdc
    } else if has("clock skew") {
        Failure::ClockSkew
    } else if has("no kerberos credentials")
        || has("no credentials cache")
        || has("no credentials were supplied")
        || has("credentials cache file")
        || has("matching credential not found")
    {
        Failure::NoTicket
    } else {
        Failure::Other
    }
}

/// Where a failed bind's ticket came from, for the message.
#[cfg(any(feature = "kerberos", test))]
struct Source<'a> {
    /// The ticket's principal, when GSSAPI could tell.
    who: Option<&'a str>,
    keytab: Option<&'a Path>,
    /// The cache `KRB5CCNAME` names (`None`: MIT's default cache).
    cache: Option<&'a str>,
}

/// A GSSAPI failure as a dwb error: what happened, in Kerberos terms, and what to
/// run. `text` is GSSAPI's message (names, cache paths and reasons: a ticket or
/// key is never part of it).
#[cfg(any(feature = "kerberos", test))]
fn gss_error(text: &str, spn: &str, url: &str, src: &Source) -> Error {
    let (who, keytab) = (src.who, src.keytab);
    let cache = match src.cache {
        Some(c) => format!("the credential cache {c}"),
        None => "the default credential cache".to_string(),
    };
    let text = text.trim();
    let kinit = match who {
        Some(p) => format!("kinit {p}"),
        None => "kinit user@REALM".to_string(),
    };
    let (kind, message, hint) = match classify(text) {
        Failure::Keytab | Failure::NoTicket if keytab.is_some() => (
            Kind::Auth,
            format!(
                "Kerberos: no ticket from the keytab {}",
                keytab.map(|k| k.display().to_string()).unwrap_or_default()
            ),
            "check that the keytab holds the client's keys (klist -k FILE) and that the KDC \
             accepts them (kinit -k -t FILE principal)"
                .to_string(),
        ),
        Failure::NoTicket | Failure::Keytab => (
            Kind::Auth,
            format!("Kerberos: no usable ticket in {cache}"),
            format!(
                "get one with `{kinit}` (KRB5CCNAME names the cache dwb reads; klist shows it), \
                 or set keytab in the profile's [ldap] section"
            ),
        ),
        Failure::Expired => (
            Kind::Auth,
            match who {
                Some(p) => format!("Kerberos: the ticket of {p} in {cache} has expired"),
                None => format!("Kerberos: the ticket in {cache} has expired"),
            },
            format!("get a new one with `{kinit}` (or `kinit -R` while it is renewable)"),
        ),
        Failure::UnknownService => (
            Kind::Auth,
            format!("Kerberos: the KDC knows no service principal {spn}"),
            "the SPN is ldap/ plus the URL's host: connect with the name the DC is registered \
             under (its FQDN, see `setspn -L <DC>`), or set spn_host (--ldap-spn-host) to it; \
             a DC in another realm is spn_host = \"dc1.child.example.com@CHILD.EXAMPLE.COM\""
                .to_string(),
        ),
        Failure::NoKdc => (
            Kind::Network,
            "Kerberos: no KDC answered for the realm".to_string(),
            "check the realm's kdc in krb5.conf (KRB5_CONFIG names the file) or the DNS SRV \
             records _kerberos._tcp.<realm>"
                .to_string(),
        ),
        Failure::ClockSkew => (
            Kind::Auth,
            "Kerberos: this machine's clock differs too much from the KDC's".to_string(),
            "synchronise the clock (NTP) with the domain, then retry".to_string(),
        ),
        Failure::Other => (
            Kind::Auth,
            "Kerberos: the GSSAPI bind failed".to_string(),
            format!("check the ticket with `klist` and renew it with `{kinit}`"),
        ),
    };
    Error::new(kind, format!("{message} (binding to {url} as {spn}): {text}")).with_hint(hint)
}

#[cfg(feature = "kerberos")]
mod gss;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_matches_the_build() {
        let chosen = LdapAuth::kerberos(None, None);
        assert_eq!(chosen.is_ok(), cfg!(feature = "kerberos"), "{chosen:?}");
        match chosen {
            Ok(a) => assert!(a.is_kerberos()),
            Err(e) => {
                assert_eq!(e.kind, Kind::Config);
                assert!(e.hint.unwrap_or_default().contains("--features kerberos"));
            }
        }
        assert!(!LdapAuth::Simple.is_kerberos());
    }

    #[test]
    fn bad_spn_hosts_and_keytabs_are_config_errors() {
        if !BUILT {
            return assert_eq!(preflight(&Kerberos::default()).unwrap_err().kind, Kind::Config);
        }
        assert!(preflight(&Kerberos::default()).is_ok());
        for h in ["", "ldap/dc1", "dc 1"] {
            let k = Kerberos { spn_host: Some(h.into()), keytab: None };
            assert_eq!(preflight(&k).unwrap_err().kind, Kind::Config, "{h:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let k = Kerberos { spn_host: None, keytab: Some(dir.path().join("none.keytab")) };
        let e = preflight(&k).unwrap_err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("none.keytab"), "{}", e.message);
        let k = Kerberos { spn_host: None, keytab: Some(dir.path().to_path_buf()) };
        assert_eq!(preflight(&k).unwrap_err().kind, Kind::Config);
    }

    #[test]
    fn failures_say_what_to_run() {
        let spn = "ldap/dc1.contoso.test";
        let url = "ldap://dc1.contoso.test";
        let nobody = Source { who: None, keytab: None, cache: Some("FILE:/tmp/cc") };
        let none = gss_error(
            "No credentials were supplied, or the credentials were unavailable or inaccessible \
             (No credentials cache found)",
            spn,
            url,
            &nobody,
        );
        assert_eq!(none.kind, Kind::Auth);
        assert!(
            none.message
                .starts_with("Kerberos: no usable ticket in the credential cache FILE:/tmp/cc"),
            "{}",
            none.message
        );
        assert!(none.hint.as_deref().unwrap().contains("kinit user@REALM"));

        let admin = Source { who: Some("admin@CONTOSO.TEST"), keytab: None, cache: None };
        let old = gss_error("The referenced credential has expired", spn, url, &admin);
        assert!(old.message.contains("ticket of admin@CONTOSO.TEST in the default"), "{old}");
        assert!(old.hint.as_deref().unwrap().contains("kinit admin@CONTOSO.TEST"));

        let text = "Unspecified GSS failure (Server not found in Kerberos database)";
        let spn_err = gss_error(text, spn, url, &admin);
        assert!(spn_err.message.contains("no service principal ldap/dc1.contoso.test"));
        assert!(spn_err.hint.as_deref().unwrap().contains("spn_host"));

        let kdc = gss_error("Cannot contact any KDC for realm 'X'", spn, url, &admin);
        assert_eq!(kdc.kind, Kind::Network);
        assert!(kdc.hint.as_deref().unwrap().contains("krb5.conf"));

        let kt = Source { who: None, keytab: Some(Path::new("/k")), cache: None };
        let kt = gss_error("Key table file '/k' not found", spn, url, &kt);
        assert!(kt.message.contains("keytab /k"), "{}", kt.message);
        assert!(kt.hint.as_deref().unwrap().contains("klist -k"));
    }
}

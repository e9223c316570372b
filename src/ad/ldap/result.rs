//! From what ldap3 reports to dwb [`Error`]s: a result code becomes its kind
//! (`Kind::from_ldap_rc`) with the DN and the server's diagnostic text; a
//! client-side failure becomes `network`, `timeout` or `tls`. Messages never
//! contain a password: none is ever formatted here.

use std::fmt;
use std::time::Duration;

use ldap3::{LdapError, LdapResult};

use super::Transport;
use crate::directory::Dn;
use crate::error::{Error, Kind, Result};

/// The operation an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Bind,
    Search,
    Add,
    Modify,
    Delete,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Bind => "bind",
            Op::Search => "search",
            Op::Add => "add",
            Op::Modify => "modify",
            Op::Delete => "delete",
        })
    }
}

/// The RFC 4511 name of a result code.
pub(super) fn rc_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        _ => "unknown result code",
    }
}

/// The error for a non-success result of `op` (pure, for tests).
pub(super) fn directory_error(
    op: Op,
    dn: Option<&Dn>,
    rc: u32,
    text: &str,
    refs: &[String],
) -> Error {
    let kind = Kind::from_ldap_rc(rc);
    let mut message = format!("{op} failed: {} ({rc})", rc_name(rc));
    if rc == 10 && !refs.is_empty() {
        message.push_str(&format!("; the server refers to {}", refs.join(", ")));
    }
    let mut e =
        Error::new(kind, message).with_server_text(text.trim_end_matches(['\0', '\n', ' ']));
    if let Some(dn) = dn {
        e = e.with_dn(dn);
    }
    if let Some(h) = hint_for(kind, text) {
        e = e.with_hint(h);
    }
    e
}

fn hint_for(kind: Kind, text: &str) -> Option<String> {
    match kind {
        Kind::StrongerAuthRequired => {
            Some("the DC requires transport encryption for simple binds: use ldaps:// or StartTLS".into())
        }
        Kind::InvalidCredentials => Some(match ad_data_code(text) {
            Some(why) => format!("the DC says: {why}"),
            None => "bind as DOMAIN\\user, user@domain (UPN) or the account's DN, with its current password".into(),
        }),
        Kind::InsufficientAccess => {
            Some("the bound account lacks the right for this; grant it on the object or its container".into())
        }
        Kind::Busy | Kind::Unavailable => Some("the DC is overloaded or shutting down; try again later or another DC".into()),
        _ => None,
    }
}

/// AD's reason for a failed bind, from the `data NNN` part of its text.
fn ad_data_code(text: &str) -> Option<&'static str> {
    let rest = &text[text.find("data ")? + 5..];
    let code: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    Some(match code.to_ascii_lowercase().as_str() {
        "525" => "no such user (bind as DOMAIN\\user, user@domain or the account's DN)",
        "52e" => "the user name or password is wrong",
        "530" => "the account may not log on at this time",
        "531" => "the account may not log on from this workstation",
        "532" => "the password has expired",
        "533" => "the account is disabled",
        "701" => "the account has expired",
        "773" => "the user must change the password first",
        "775" => "the account is locked out",
        _ => return None,
    })
}

/// `Ok` for success, otherwise the mapped error.
pub(super) fn check(op: Op, dn: Option<&Dn>, res: LdapResult) -> Result<()> {
    if res.rc == 0 { Ok(()) } else { Err(directory_error(op, dn, res.rc, &res.text, &res.refs)) }
}

/// The outcome of a simple bind as `user`.
pub(super) fn bind_result(user: &str, url: &str, res: LdapResult) -> Result<()> {
    if res.rc == 0 {
        return Ok(());
    }
    let mut e = directory_error(Op::Bind, None, res.rc, &res.text, &res.refs);
    e.message = format!("bind as `{user}` to {url} failed: {} ({})", rc_name(res.rc), res.rc);
    Err(e)
}

/// A failure on the client side of an operation (the connection, a timeout).
pub(super) fn client_error(op: Op, dn: Option<&Dn>, e: LdapError, timeout: Duration) -> Error {
    let err = match e {
        LdapError::Timeout { .. } => {
            Error::new(Kind::Timeout, format!("{op}: no answer from the DC within {timeout:?}"))
        }
        LdapError::LdapResult { result } => {
            directory_error(op, dn, result.rc, &result.text, &result.refs)
        }
        LdapError::FilterParsing => {
            Error::new(Kind::InvalidFilter, format!("{op}: the filter could not be encoded"))
        }
        LdapError::AddNoValues => {
            Error::new(Kind::InvalidArgument, format!("{op}: an attribute has no values"))
        }
        LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::EndOfStream
        | LdapError::IdScrubSend { .. } => {
            Error::new(Kind::Network, format!("{op}: the connection to the DC was lost"))
        }
        other => Error::new(Kind::Network, format!("{op}: {other}")),
    };
    match (dn, &err.dn) {
        (Some(dn), None) => err.with_dn(dn),
        _ => err,
    }
}

/// A failure while establishing the (secure) connection; the TCP connection
/// itself had succeeded, so anything about certificates or the handshake is `tls`.
pub(super) fn connect_error(
    e: LdapError,
    transport: Transport,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Error {
    let ca_hint = "set DWB_LDAP_CA_FILE to a PEM file with the CA that issued the DC's certificate";
    match e {
        LdapError::Timeout { .. } => Error::new(
            Kind::Timeout,
            format!(
                "{host}:{port} accepted the connection but did not complete the {} within {timeout:?}",
                setup_name(transport)
            ),
        ),
        LdapError::Io { source } => {
            match source.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(tls) => tls_error(tls, host, ca_hint),
                None if transport == Transport::Plain => {
                    Error::new(Kind::Network, format!("{host}:{port}: {source}"))
                }
                None => Error::new(
                    Kind::Tls,
                    format!("TLS handshake with {host}:{port} failed: {source}"),
                )
                .with_hint(format!(
                    "is this an LDAP{} port? {ca_hint}",
                    if transport == Transport::Ldaps { "S" } else { "" }
                )),
            }
        }
        LdapError::Rustls { source } => tls_error(&source, host, ca_hint),
        LdapError::DNSName { .. } => {
            Error::new(Kind::Config, format!("`{host}` cannot be checked against a certificate"))
        }
        LdapError::LdapResult { result } => Error::new(
            Kind::Tls,
            format!("{host}:{port} refused StartTLS: {} ({})", rc_name(result.rc), result.rc),
        )
        .with_server_text(result.text)
        .with_hint("the DC may have no certificate; use ldaps:// or install a DC certificate"),
        other => Error::new(Kind::Network, format!("connecting to {host}:{port}: {other}")),
    }
}

fn setup_name(t: Transport) -> &'static str {
    match t {
        Transport::Ldaps => "TLS handshake",
        Transport::StartTls => "StartTLS exchange",
        Transport::Plain => "LDAP setup",
    }
}

fn tls_error(e: &rustls::Error, host: &str, ca_hint: &str) -> Error {
    use rustls::CertificateError as C;
    let (what, hint) = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            ("the DC's certificate is not issued by a trusted CA".to_string(), ca_hint.to_string())
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => (
            format!("the DC's certificate is not valid for `{host}`"),
            "connect with the name (or IP) the certificate was issued for, usually the DC's FQDN"
                .to_string(),
        ),
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => (
            "the DC's certificate is outside its validity period".to_string(),
            "renew the DC certificate or fix the clock".to_string(),
        ),
        _ => (String::new(), ca_hint.to_string()),
    };
    let message = if what.is_empty() {
        format!("TLS with {host} failed: {e}")
    } else {
        format!("TLS with {host} failed: {what} ({e})")
    };
    Error::new(Kind::Tls, message).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn() -> Dn {
        Dn::parse("CN=dev1,CN=RegisteredDevices,DC=contoso,DC=test").unwrap()
    }

    #[test]
    fn result_codes_keep_dn_and_server_text() {
        let e = directory_error(
            Op::Add,
            Some(&dn()),
            65,
            "00002014: objectclass_attrs: at least one mandatory attribute ('altSecurityIdentities') wasn't specified!\0",
            &[],
        );
        assert_eq!(e.kind, Kind::ObjectClassViolation);
        assert_eq!(e.code(), "DWB-AD-0065");
        assert_eq!(e.dn.as_deref(), Some("CN=dev1,CN=RegisteredDevices,DC=contoso,DC=test"));
        assert!(e.server_text.as_deref().unwrap().ends_with("specified!"));
        assert!(e.message.contains("objectClassViolation (65)"));
        for (rc, kind) in [
            (16, Kind::NoSuchAttribute),
            (19, Kind::ConstraintViolation),
            (21, Kind::InvalidSyntax),
            (32, Kind::NoSuchObject),
            (50, Kind::InsufficientAccess),
            (51, Kind::Busy),
            (64, Kind::NamingViolation),
            (66, Kind::NotAllowedOnNonLeaf),
            (68, Kind::AlreadyExists),
            (71, Kind::Other),
        ] {
            assert_eq!(directory_error(Op::Modify, None, rc, "", &[]).kind, kind, "rc {rc}");
        }
    }

    #[test]
    fn empty_server_text_is_dropped_and_referrals_named() {
        let e = directory_error(
            Op::Search,
            None,
            10,
            "",
            &["ldap://other.test/DC=other,DC=test".into()],
        );
        assert_eq!(e.server_text, None);
        assert!(e.message.contains("ldap://other.test/DC=other,DC=test"));
    }

    #[test]
    fn bind_failures_explain_ad_data_codes() {
        let text = "80090308: LdapErr: DSID-0C0904DC, comment: AcceptSecurityContext error, data 52e, v1db1";
        let e = directory_error(Op::Bind, None, 49, text, &[]);
        assert_eq!(e.kind, Kind::InvalidCredentials);
        assert!(e.hint.unwrap().contains("password is wrong"));
        let locked = directory_error(Op::Bind, None, 49, "… data 775, v4563", &[]);
        assert!(locked.hint.unwrap().contains("locked out"));
        let plain = directory_error(Op::Bind, None, 49, "", &[]);
        assert!(plain.hint.unwrap().contains("DOMAIN\\user"));
        let strong =
            directory_error(Op::Bind, None, 8, "BindSimple: Transport encryption required.", &[]);
        assert_eq!(strong.kind, Kind::StrongerAuthRequired);
        assert!(strong.hint.unwrap().contains("StartTLS"));
    }

    #[test]
    fn client_errors() {
        let e = client_error(Op::Add, Some(&dn()), LdapError::EndOfStream, Duration::from_secs(1));
        assert_eq!(e.kind, Kind::Network);
        assert!(e.dn.is_some());
        let e = client_error(Op::Search, None, LdapError::FilterParsing, Duration::from_secs(1));
        assert_eq!(e.kind, Kind::InvalidFilter);
    }

    #[test]
    fn tls_errors_hint_at_the_ca_file() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let e = connect_error(
            LdapError::Io { source: io },
            Transport::Ldaps,
            "dc1.contoso.test",
            636,
            Duration::from_secs(5),
        );
        assert_eq!(e.kind, Kind::Tls);
        assert!(e.hint.unwrap().contains("DWB_LDAP_CA_FILE"));
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "tls handshake eof");
        let e = connect_error(
            LdapError::Io { source: eof },
            Transport::StartTls,
            "dc1",
            389,
            Duration::from_secs(5),
        );
        assert_eq!(e.kind, Kind::Tls);
    }
}

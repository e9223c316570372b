//! Connecting and binding: LDAPS, StartTLS, trust, the plaintext guard,
//! credentials, the rootDSE, timeouts and cancellation.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use dwb::ad::ldap::{LdapDirectory, TlsMode};
use dwb::ad::{Directory, Scope, SearchRequest};
use dwb::directory::{Dn, Filter};
use dwb::error::Kind;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use super::{admin, connect, rt};
use crate::support::samba::{Options, SambaDc};

fn administrator_dn() -> Dn {
    Dn::parse("CN=Administrator,CN=Users,DC=contoso,DC=test").unwrap()
}

#[test]
fn bind_over_ldaps() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let e =
        dir.read(&administrator_dn(), &["sAMAccountName"]).unwrap().expect("Administrator exists");
    assert_eq!(e.first_str("samaccountname").as_deref(), Some("Administrator"));
    assert_eq!(dir.describe(), format!("{} as Administrator@contoso.test", dc.url_ldaps()));
}

#[test]
fn bind_over_starttls_is_the_default_for_ldap_urls() {
    let dc = SambaDc::shared();
    let mut s = dc.settings();
    s.url = dc.url_ldap();
    assert_eq!(s.starttls, None);
    let dir = connect(&s).unwrap();
    // A simple bind succeeded on port 389 although the DC requires strong
    // auth: the connection was encrypted first.
    assert!(dir.read(&administrator_dn(), &["cn"]).unwrap().is_some());
}

#[test]
fn bind_name_forms() {
    let dc = SambaDc::shared();
    for user in [
        "CONTOSO\\Administrator",
        "Administrator@contoso.test",
        "CN=Administrator,CN=Users,DC=contoso,DC=test",
    ] {
        let s = dc.settings().with_credentials(
            Some(user.to_string()),
            Some(SecretString::from(dc.admin_password())),
        );
        connect(&s).unwrap_or_else(|e| panic!("{user}: {e:?}"));
    }
    let s = dc.settings().with_credentials(
        Some("Administrator".into()),
        Some(SecretString::from(dc.admin_password())),
    );
    assert_eq!(connect(&s).unwrap_err().kind, Kind::InvalidCredentials);
}

#[test]
fn wrong_ca_is_a_tls_error() {
    let dc = SambaDc::shared();
    let tmp = tempfile::tempdir().unwrap();
    let other_ca = tmp.path().join("other-ca.pem");
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args(["-subj", "/CN=some other CA", "-keyout"])
        .arg(tmp.path().join("k.pem"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(st.status.success());
    for url in [dc.url_ldaps(), dc.url_ldap()] {
        let mut s = dc.settings().with_ca_file(Some(other_ca.clone()));
        s.url = url.clone();
        let e = connect(&s).unwrap_err();
        assert_eq!(e.kind, Kind::Tls, "{url}: {e:?}");
        assert!(e.hint.as_deref().unwrap_or("").contains("DWB_LDAP_CA_FILE"), "{e:?}");
        // The system roots do not know the lab CA either.
        s.ca_file = None;
        assert_eq!(connect(&s).unwrap_err().kind, Kind::Tls, "{url} without a CA file");
    }
}

#[test]
fn insecure_tls_mode_accepts_the_unknown_certificate() {
    let dc = SambaDc::shared();
    let mut s = dc.settings();
    s = s.with_ca_file(None).with_tls(TlsMode::Insecure);
    let dir = connect(&s).unwrap();
    assert!(dir.describe().contains("certificate not verified"));
    assert!(dir.read(&administrator_dn(), &["cn"]).unwrap().is_some());
}

#[test]
fn plaintext_bind_is_refused_before_anything_is_sent() {
    // A silent socket stands in for the DC: it records whether anyone connected.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dc = SambaDc::shared();
    let mut s = dc.settings();
    s.url = format!("ldap://127.0.0.1:{port}");
    s.starttls = Some(false);
    let e = connect(&s).unwrap_err();
    assert_eq!(e.kind, Kind::Config);
    assert!(e.hint.as_deref().unwrap_or("").contains("--allow-insecure-ldap"), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(dc.admin_password()));
    std::thread::sleep(Duration::from_millis(100));
    assert!(listener.accept().is_err(), "dwb connected although it had to refuse");
}

#[test]
fn allowed_insecure_bind_meets_the_dcs_strong_auth_rule() {
    let dc = SambaDc::shared();
    let mut s = dc.settings();
    s.url = dc.url_ldap();
    s.starttls = Some(false);
    s.allow_insecure_bind = true;
    let e = connect(&s).unwrap_err();
    assert_eq!(e.kind, Kind::StrongerAuthRequired, "{e:?}");
    assert!(
        e.server_text.as_deref().unwrap_or("").contains("Transport encryption required"),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains(dc.admin_password()));
}

#[test]
fn plain_ldap_bind_on_a_dc_that_allows_it() {
    let dc = SambaDc::start_with(Options { allow_plain_ldap_bind: true, ..Options::default() });
    let mut s = dc.settings();
    s.url = dc.url_ldap();
    s.starttls = Some(false);
    assert_eq!(connect(&s).unwrap_err().kind, Kind::Config, "still refused without the opt-in");
    s.allow_insecure_bind = true;
    let dir = connect(&s).unwrap();
    assert!(dir.read(&administrator_dn(), &["cn"]).unwrap().is_some());
}

#[test]
fn bad_password_is_invalid_credentials_without_the_password() {
    let dc = SambaDc::shared();
    let wrong = "Wr0ng-Secret-7731";
    let s = dc
        .settings()
        .with_credentials(Some(dc.admin_user().into()), Some(SecretString::from(wrong)));
    let e = connect(&s).unwrap_err();
    assert_eq!(e.kind, Kind::InvalidCredentials);
    assert!(e.message.contains("Administrator@contoso.test"), "{e:?}");
    assert!(e.hint.as_deref().unwrap_or("").contains("password is wrong"), "{e:?}");
    let all = format!("{e} {e:?} {}", e.hint.clone().unwrap_or_default());
    assert!(!all.contains(wrong), "{all}");
    assert!(!format!("{s:?}").contains(wrong), "settings Debug leaks the password");
}

#[test]
fn root_dse() {
    let dc = SambaDc::shared();
    let dse = admin(dc).root_dse().unwrap();
    assert_eq!(dse.default_nc().unwrap(), Dn::parse("DC=contoso,DC=test").unwrap());
    assert_eq!(dse.config_nc().unwrap(), Dn::parse("CN=Configuration,DC=contoso,DC=test").unwrap());
    assert_eq!(
        dse.schema_nc().unwrap(),
        Dn::parse("CN=Schema,CN=Configuration,DC=contoso,DC=test").unwrap()
    );
    assert_eq!(
        dse.dns_host_name.as_deref().map(str::to_ascii_lowercase).as_deref(),
        Some("dc1.contoso.test")
    );
    assert_eq!(dse.domain_functionality, Some(4));
    assert_eq!(dse.forest_functionality, Some(4));
    for oid in ["1.2.840.113556.1.4.801", "1.2.840.113556.1.4.319"] {
        assert!(
            dse.supported_controls.iter().any(|c| c == oid),
            "{oid} not in {:?}",
            dse.supported_controls
        );
    }
    // The same as ldapsearch sees it.
    let ldif = dc.ldapsearch(&["-b", "", "-s", "base", "namingContexts"]);
    let theirs: Vec<&str> =
        ldif.lines().filter_map(|l| l.strip_prefix("namingContexts: ")).collect();
    assert_eq!(dse.naming_contexts.len(), theirs.len());
    for nc in theirs {
        assert!(dse.naming_contexts.contains(&Dn::parse(nc).unwrap()), "{nc}");
    }
    // Anonymous reads of the rootDSE are allowed.
    let anon = dc.settings().with_credentials(None, None);
    let dse = connect(&anon).unwrap().root_dse().unwrap();
    assert_eq!(dse.default_nc().unwrap(), dc.domain_dn());
}

#[test]
fn timeouts_and_cancellation() {
    let dc = SambaDc::start();
    let mut s = dc.settings();
    s.op_timeout = Duration::from_secs(1);
    s.connect_timeout = Duration::from_secs(1);
    let cancel = CancellationToken::new();
    let dir = LdapDirectory::connect(&s, rt().handle().clone(), cancel.clone()).unwrap();
    let req = SearchRequest::new(dc.domain_dn(), Scope::Base, Filter::all());

    dc.pause();
    // An operation on the open connection.
    let t = Instant::now();
    let e = dir.search_all(&req).unwrap_err();
    assert_eq!(e.kind, Kind::Timeout, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    // A new connection: TCP is accepted by the kernel, the TLS handshake never completes.
    let t = Instant::now();
    let e = connect(&s).unwrap_err();
    assert_eq!(e.kind, Kind::Timeout, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    // Cancellation ends a wait that has no timeout of its own.
    let mut patient = s.clone();
    patient.op_timeout = Duration::from_secs(600);
    let dir2_cancel = CancellationToken::new();
    dc.resume();
    let dir2 =
        LdapDirectory::connect(&patient, rt().handle().clone(), dir2_cancel.clone()).unwrap();
    dc.pause();
    let trigger = dir2_cancel.clone();
    let waiter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.cancel();
    });
    let t = Instant::now();
    let e = dir2.search_all(&req).unwrap_err();
    waiter.join().unwrap();
    assert_eq!(e.kind, Kind::Cancelled, "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    // After a cancel, every call fails fast with `cancelled`.
    assert_eq!(dir2.root_dse().unwrap_err().kind, Kind::Cancelled);
    dc.resume();
    // The first directory recovers once the DC answers again.
    assert_eq!(dir.search_all(&req).unwrap().len(), 1);
    let _ = cancel;
}

#[test]
fn a_closed_port_is_a_network_error() {
    let dc = SambaDc::shared();
    let mut s = dc.settings();
    s.url = format!("ldaps://{}:1", dc.ip());
    let e = connect(&s).unwrap_err();
    assert_eq!(e.kind, Kind::Network, "{e:?}");
}

#[test]
fn reconnects_after_the_dc_restarts() {
    let mut dc = SambaDc::start();
    let dir = admin(&dc);
    assert!(dir.read(&administrator_dn(), &["cn"]).unwrap().is_some());
    dc.restart();
    // The old connection is gone; the next call connects and binds again.
    assert!(dir.read(&administrator_dn(), &["cn"]).unwrap().is_some());
    assert!(dir.root_dse().is_ok());
}

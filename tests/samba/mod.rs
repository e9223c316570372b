//! Tests against a real Samba AD DC, started by `tests/support/samba.rs`.
//! Most tests share one DC ([`SambaDc::shared`]) and work in their own OU or
//! device container; tests that stop, reconfigure or extend a DC start their own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod adopt;

mod credentials;
mod delta;
mod errors;
mod forest;
mod graph_contract;
mod hostile;
mod integrity;
mod journal;
mod kerberos;
mod ldap;
mod retire;
mod scripts;
mod search;
mod service;
mod sync;
mod watch;
mod writes;

use std::sync::LazyLock;

use dwb::ad::ldap::{LdapDirectory, LdapSettings};
use dwb::ad::{Directory, WriteOp};
use dwb::directory::{Attr, Dn, Guid};
use dwb::error::Result;
use tokio_util::sync::CancellationToken;

use crate::support::samba::SambaDc;

/// The runtime the LDAP backend drives its client on (as dwb's main does).
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    });
    &RT
}

pub fn connect(s: &LdapSettings) -> Result<LdapDirectory> {
    LdapDirectory::connect(s, rt().handle().clone(), CancellationToken::new())
}

/// Bound as Administrator over LDAPS.
pub fn admin(dc: &SambaDc) -> LdapDirectory {
    connect(&dc.settings()).unwrap_or_else(|e| {
        panic!("admin bind to {} failed: {e:?}\n{}", dc.url_ldaps(), dc.log_tail())
    })
}

/// A fresh `msDS-DeviceContainer` under the domain root (the only place its
/// schema allows), named `t-<name>-<n>`.
pub fn device_container(dir: &dyn Directory, dc: &SambaDc, name: &str) -> Dn {
    let dn = dc.domain_dn().child("CN", &dc.unique_name(name)).unwrap();
    dir.write(&WriteOp::Add {
        dn: dn.clone(),
        attrs: vec![Attr::text("objectClass", ["msDS-DeviceContainer"])],
    })
    .unwrap();
    dn
}

/// The attributes of a valid msDS-Device (2012 R2 schema).
pub fn device_attrs(display_name: &str, id: Guid) -> Vec<Attr> {
    vec![
        Attr::text("objectClass", ["msDS-Device"]),
        Attr::text("displayName", [display_name]),
        Attr::new("msDS-DeviceID", vec![id.to_bytes().to_vec()]),
        Attr::text("msDS-IsEnabled", ["TRUE"]),
        Attr::text(
            "altSecurityIdentities",
            [format!("X509:<SHA1-TP-PUBLICKEY>{}", id.as_uuid().simple())],
        ),
        Attr::text("msDS-DeviceOSType", ["Windows"]),
    ]
}

/// Distinguished names in `ldapsearch -LLL` output (plain or base64).
pub fn ldif_dns(ldif: &str) -> Vec<Dn> {
    dwb::directory::ldif::parse(ldif, "ldapsearch")
        .unwrap()
        .into_iter()
        .map(|r| r.entry.dn)
        .collect()
}

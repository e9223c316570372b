//! The part of Kerberos binds that links MIT GSSAPI (cargo feature `kerberos`):
//! acquiring the initiator credential and ldap3's SASL GSSAPI exchange.

use std::ffi::{CStr, CString};
use std::path::Path;

use ldap3::LdapError;
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::error::MajorFlags;
use libgssapi::oid::{GSS_MECH_KRB5, OidSet};

use super::super::result::{self, Op};
use super::super::{Kerberos, LdapSettings};
use super::{Source, gss_error};
use crate::error::{Error, Kind, Result};

/// Acquires the credential and runs the SASL GSSAPI exchange; every failure
/// becomes an error that names Kerberos and says what to run.
pub(super) async fn bind(
    ldap: &mut ldap3::Ldap,
    s: &LdapSettings,
    k: &Kerberos,
    url_host: &str,
) -> Result<()> {
    let spn_host = k.spn_host.as_deref().unwrap_or(url_host);
    let spn = format!("ldap/{spn_host}");
    let keytab = k.keytab.as_deref();
    let cache = std::env::var("KRB5CCNAME").ok().filter(|c| !c.is_empty());
    let fail = |text: &str, who: Option<&str>| {
        let src = Source { who, keytab, cache: cache.as_deref() };
        gss_error(text, &spn, &s.url, &src)
    };
    let cred = acquire(keytab).map_err(|e| fail(&e.to_string(), None))?;
    let who = cred.name().ok().map(|n| n.to_string());
    // The whole exchange (three round trips) under one deadline; ldap3's own
    // timeout covers only the first.
    let exchange = ldap.sasl_gssapi_cred_bind(cross_krb5::Cred::from(cred), spn_host);
    let res = match tokio::time::timeout(s.op_timeout, exchange).await {
        Err(_) => {
            return Err(Error::new(
                Kind::Timeout,
                format!("Kerberos bind to {}: no answer within {:?}", s.url, s.op_timeout),
            ));
        }
        Ok(Err(LdapError::GssapiOperationError(text))) => {
            return Err(fail(&text, who.as_deref()));
        }
        Ok(Err(LdapError::NoGssapiToken)) => {
            return Err(fail("the DC sent no GSSAPI token", who.as_deref()));
        }
        Ok(Err(e)) => return Err(result::client_error(Op::Bind, None, e, s.op_timeout)),
        Ok(Ok(res)) => res,
    };
    let who = who.as_deref().unwrap_or("the ticket's principal");
    let rc = res.rc;
    result::bind_result(who, &s.url, res).map_err(|mut e| {
        e.message = format!("Kerberos: {}", e.message);
        e.hint = Some(rejected_hint(rc, s.url.to_ascii_lowercase().starts_with("ldaps")));
        e
    })?;
    tracing::debug!(url = %s.url, %spn, principal = %who, "Kerberos bind");
    Ok(())
}

/// What to do when the DC itself refused a valid GSSAPI exchange.
fn rejected_hint(rc: u32, tls: bool) -> String {
    match rc {
        8 if tls => "the DC wants a SASL sign/seal layer even inside TLS (Samba before 4.20 \
                     with `ldap server require strong auth = yes`): use ldap:// (Kerberos seals \
                     it), or set `ldap server require strong auth = allow_sasl_over_tls` on it"
            .into(),
        8 => "the DC wants a stronger protection than this bind negotiated: try ldaps://".into(),
        49 => "the DC did not accept the ticket: check that the SPN is this DC's (spn_host), \
               that the clocks agree, and get a fresh ticket with kinit"
            .into(),
        _ => "check the ticket with `klist` and the DC's log; simple binds remain possible \
              with --ldap-auth simple"
            .into(),
    }
}

/// Initiator credentials: the keytab into a private in-memory cache (one per
/// keytab, so reconnects reuse the ticket), the cache `KRB5CCNAME` names, or
/// MIT's default cache.
///
/// A named cache is passed to MIT explicitly: with no cache given, MIT 1.20
/// (Debian 12) first scans the whole cache collection, and that scan frees an
/// uninitialised pointer when a FILE cache is empty or corrupt (a crash, not
/// an error); with the cache named, the same file gives "Bad format in
/// credentials cache".
fn acquire(keytab: Option<&Path>) -> std::result::Result<Cred, libgssapi::error::Error> {
    let bad_name = libgssapi::error::Error { major: MajorFlags::GSS_S_BAD_NAME, minor: 0 };
    let c = |s: String| CString::new(s).map_err(|_| bad_name);
    if let Some(keytab) = keytab {
        let kt = c(format!("FILE:{}", keytab.display()))?;
        let cc = c(format!("MEMORY:dwb-keytab-{:016x}", hash(keytab)))?;
        return from_store(&[(c"client_keytab", &kt), (c"ccache", &cc)]);
    }
    match std::env::var("KRB5CCNAME") {
        Ok(name) if !name.is_empty() && STORE => from_store(&[(c"ccache", &c(name)?)]),
        _ => {
            let mut mechs = OidSet::new()?;
            mechs.add(&GSS_MECH_KRB5)?;
            Cred::acquire(None, None, CredUsage::Initiate, Some(&mechs))
        }
    }
}

/// Whether `gss_acquire_cred_from` can be called: MIT and Heimdal have it, but
/// libgssapi-sys binds Apple's GSS framework on macOS, whose header may lack it.
const STORE: bool = cfg!(not(target_os = "macos"));

fn hash(p: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

#[cfg(target_os = "macos")]
fn from_store(_: &[(&CStr, &CString)]) -> std::result::Result<Cred, libgssapi::error::Error> {
    Err(libgssapi::error::Error { major: MajorFlags::GSS_S_UNAVAILABLE, minor: 0 })
}

#[cfg(not(target_os = "macos"))]
/// `gss_acquire_cred_from` with a credential store (`client_keytab`, `ccache`):
/// given a keytab, MIT gets the initial ticket (for the keytab's first
/// principal) into the given cache. libgssapi does not wrap this call.
fn from_store(store: &[(&CStr, &CString)]) -> std::result::Result<Cred, libgssapi::error::Error> {
    use libgssapi_sys::{
        _GSS_C_INDEFINITE, GSS_C_INITIATE, GSS_S_COMPLETE, OM_uint32, gss_acquire_cred_from,
        gss_cred_id_t, gss_cred_usage_t, gss_key_value_element_desc, gss_key_value_set_desc,
    };
    let mut elements: Vec<gss_key_value_element_desc> = store
        .iter()
        .map(|(k, v)| gss_key_value_element_desc { key: k.as_ptr(), value: v.as_ptr() })
        .collect();
    let store =
        gss_key_value_set_desc { count: elements.len() as u32, elements: elements.as_mut_ptr() };
    let mut minor: OM_uint32 = GSS_S_COMPLETE;
    let mut cred: gss_cred_id_t = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the strings and the element
    // array outlive it, the name and mechanism set are "default" (null), the
    // optional outputs are null, and `cred` receives a handle that the
    // returned `Cred` owns (and releases on drop).
    let major = unsafe {
        gss_acquire_cred_from(
            &mut minor,
            std::ptr::null_mut(),
            _GSS_C_INDEFINITE,
            std::ptr::null_mut(),
            GSS_C_INITIATE as gss_cred_usage_t,
            &store,
            &mut cred,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if major == GSS_S_COMPLETE {
        Ok(Cred::from(cred))
    } else {
        Err(libgssapi::error::Error { major: MajorFlags::from_bits_retain(major), minor })
    }
}

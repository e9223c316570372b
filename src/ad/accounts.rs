//! Resolving an account name as admins type it (`CONTOSO\svc`, a UPN, a bare
//! sAMAccountName, a DN or a SID) to the object, its SID and objectGUID.

use super::discovery::domains;
use super::{Directory, RootDse, Scope, SearchRequest};
use crate::directory::{Dn, Entry, Filter, Guid, Sid};
use crate::error::{Error, Kind, Result};

/// A resolved account.
#[derive(Debug, Clone)]
pub struct Account {
    pub dn: Dn,
    pub sid: Sid,
    pub guid: Option<Guid>,
    pub sam_account_name: Option<String>,
    pub user_principal_name: Option<String>,
}

const ATTRS: [&str; 4] = ["objectSid", "objectGUID", "sAMAccountName", "userPrincipalName"];

fn account_of(e: Entry) -> Result<Account> {
    let raw = e.get("objectSid").first().cloned().ok_or_else(|| {
        Error::new(
            Kind::InvalidValue,
            format!("{} has no objectSid: it is not a security principal", e.dn),
        )
        .with_dn(&e.dn)
    })?;
    let sid = Sid::from_bytes(&raw)
        .map_err(|err| Error::new(Kind::InvalidValue, format!("objectSid of {}: {err}", e.dn)))?;
    Ok(Account {
        guid: e.get("objectGUID").first().and_then(|g| Guid::from_bytes(g).ok()),
        sam_account_name: e.first_str("sAMAccountName"),
        user_principal_name: e.first_str("userPrincipalName"),
        sid,
        dn: e.dn,
    })
}

fn one(dir: &dyn Directory, base: Dn, filter: Filter, name: &str) -> Result<Account> {
    let req = SearchRequest::new(base.clone(), Scope::Subtree, filter).attrs(ATTRS);
    let mut found = dir.search_all(&req)?;
    match found.len() {
        0 => Err(Error::new(Kind::NotFound, format!("no account `{name}` in {base}")).with_hint(
            "give the account as DOMAIN\\name, a UPN (name@domain) or its sAMAccountName",
        )),
        1 => account_of(found.remove(0)),
        n => Err(Error::new(
            Kind::Ambiguous,
            format!(
                "`{name}` matches {n} accounts: {}",
                found.iter().map(|e| e.dn.to_string()).collect::<Vec<_>>().join("; ")
            ),
        )),
    }
}

/// Resolves `name` to an account.
pub fn resolve_account(dir: &dyn Directory, root: &RootDse, name: &str) -> Result<Account> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_argument("the account name is empty"));
    }
    if name.len() > 1024 {
        return Err(Error::invalid_argument("the account name is longer than 1024 characters"));
    }
    if let Ok(sid) = name.parse::<Sid>() {
        let domain = root.default_nc()?;
        return one(dir, domain, Filter::eq("objectSid", sid.to_bytes()), name);
    }
    if name.contains('=')
        && let Ok(dn) = Dn::parse(name)
    {
        let e = dir
            .read(&dn, &ATTRS)?
            .ok_or_else(|| Error::new(Kind::NotFound, format!("no object {dn}")).with_dn(&dn))?;
        return account_of(e);
    }
    if let Some((domain, sam)) = name.split_once('\\') {
        let all = domains(dir, root)?;
        let d = all
            .iter()
            .find(|d| {
                d.netbios.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(domain))
                    || d.dns_root.eq_ignore_ascii_case(domain)
            })
            .ok_or_else(|| {
                Error::new(
                    Kind::NotFound,
                    format!("no domain `{domain}` in this forest (from `{name}`)"),
                )
                .with_hint(format!(
                    "known domains: {}",
                    all.iter()
                        .map(|d| d.netbios.clone().unwrap_or_else(|| d.dns_root.clone()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        return one(dir, d.nc.clone(), Filter::eq("sAMAccountName", sam), name);
    }
    let domain = root.default_nc()?;
    if name.contains('@') {
        let upn = Filter::eq("userPrincipalName", name);
        let req = SearchRequest::new(domain.clone(), Scope::Subtree, upn.clone()).attrs(ATTRS);
        if !dir.search_all(&req)?.is_empty() {
            return one(dir, domain, upn, name);
        }
        // An implicit UPN (sam@dnsdomain) is valid even when userPrincipalName is unset.
        if let Some((sam, dns)) = name.split_once('@')
            && let Ok(nc) = super::discovery::domain_dn_for(dir, root, dns)
        {
            return one(dir, nc, Filter::eq("sAMAccountName", sam), name);
        }
        return one(dir, domain, upn, name);
    }
    one(dir, domain, Filter::eq("sAMAccountName", name), name)
        .map_err(|e| lost_backslash(dir, root, name, e))
}

/// `CONTOSOsvc-dwb` not found: most likely an unquoted `CONTOSO\svc-dwb` whose
/// backslash a POSIX shell removed. Says so when the name starts with a
/// domain's NetBIOS name.
fn lost_backslash(dir: &dyn Directory, root: &RootDse, name: &str, e: Error) -> Error {
    if e.kind != Kind::NotFound {
        return e;
    }
    let Ok(all) = domains(dir, root) else { return e };
    for n in all.iter().filter_map(|d| d.netbios.as_deref()) {
        let Some((head, rest)) = name.split_at_checked(n.len()) else { continue };
        if head.eq_ignore_ascii_case(n) && !rest.is_empty() {
            let meant = format!("{head}\\{rest}");
            return e.with_hint(format!(
                "`{name}` looks like `{meant}` with its backslash removed by the shell: \
                 quote it, as '{meant}'"
            ));
        }
    }
    e
}

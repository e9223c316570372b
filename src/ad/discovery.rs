//! What dwb learns about a forest before it changes anything: naming contexts,
//! which domain a DNS name is (checked against the Partitions container's
//! crossRef objects, as AD itself resolves it), schema capabilities by class and
//! attribute presence (the wizard's own test), and GUIDs of schema objects and
//! extended rights for ACEs.

use super::{Directory, RootDse, Scope, SearchRequest};
use crate::directory::{Dn, Filter, Guid, Sid};
use crate::error::{Error, Kind, Result};

/// The crossRef objects: DNS name and NetBIOS name of each domain partition.
#[derive(Debug, Clone)]
pub struct DomainRef {
    pub dns_root: String,
    pub netbios: Option<String>,
    pub nc: Dn,
}

/// Lists the domains of the forest from `CN=Partitions,<config>`.
pub fn domains(dir: &dyn Directory, root: &RootDse) -> Result<Vec<DomainRef>> {
    let partitions = root.config_nc()?.child("CN", "Partitions")?;
    // systemFlags bit 2 (FLAG_CR_NTDS_DOMAIN) marks domain partitions.
    let filter = Filter::And(vec![
        Filter::eq("objectClass", "crossRef"),
        Filter::Extensible {
            attr: Some("systemFlags".into()),
            rule: Some(crate::directory::filter::RULE_BIT_AND.into()),
            value: b"2".to_vec(),
            dn_attrs: false,
        },
    ]);
    let req = SearchRequest::new(partitions, Scope::OneLevel, filter).attrs([
        "dnsRoot",
        "nETBIOSName",
        "nCName",
    ]);
    let mut out = Vec::new();
    for e in dir.search_all(&req)? {
        let (Some(dns_root), Some(nc)) = (e.first_str("dnsRoot"), e.first_str("nCName")) else {
            continue;
        };
        out.push(DomainRef { dns_root, netbios: e.first_str("nETBIOSName"), nc: Dn::parse(&nc)? });
    }
    Ok(out)
}

/// The domain DN for a DNS name, confirmed by a crossRef.
pub fn domain_dn_for(dir: &dyn Directory, root: &RootDse, dns_name: &str) -> Result<Dn> {
    let want = Dn::from_dns_name(dns_name)?;
    let all = domains(dir, root)?;
    all.iter()
        .find(|d| d.nc == want && d.dns_root.eq_ignore_ascii_case(dns_name.trim_end_matches('.')))
        .map(|d| d.nc.clone())
        .ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|d| d.dns_root.as_str()).collect();
            Error::new(Kind::NotFound, format!("the forest has no domain `{dns_name}`")).with_hint(
                format!(
                    "domains in this forest: {}",
                    if known.is_empty() { "(none found)".into() } else { known.join(", ") }
                ),
            )
        })
}

fn schema_lookup(
    dir: &dyn Directory,
    root: &RootDse,
    class: &str,
    name: &str,
) -> Result<Option<crate::directory::Entry>> {
    let f =
        Filter::And(vec![Filter::eq("objectClass", class), Filter::eq("lDAPDisplayName", name)]);
    let req = SearchRequest::new(root.schema_nc()?, Scope::OneLevel, f).attrs([
        "lDAPDisplayName",
        "schemaIDGUID",
        "attributeSyntax",
        "cn",
    ]);
    Ok(dir.search_all(&req)?.into_iter().next())
}

/// True when the schema defines the object class `name` (lDAPDisplayName).
pub fn schema_has_class(dir: &dyn Directory, root: &RootDse, name: &str) -> Result<bool> {
    Ok(schema_lookup(dir, root, "classSchema", name)?.is_some())
}

/// True when the schema defines the attribute `name` (lDAPDisplayName).
pub fn schema_has_attribute(dir: &dyn Directory, root: &RootDse, name: &str) -> Result<bool> {
    Ok(schema_lookup(dir, root, "attributeSchema", name)?.is_some())
}

/// The `attributeSyntax` OID of an attribute (e.g. 2.5.5.10 for octet strings).
pub fn attribute_syntax(dir: &dyn Directory, root: &RootDse, name: &str) -> Result<Option<String>> {
    Ok(schema_lookup(dir, root, "attributeSchema", name)?
        .and_then(|e| e.first_str("attributeSyntax")))
}

/// A class's `defaultSecurityDescriptor` (SDDL): what the DC gives a new object
/// of the class before inheritance. `None` when the class has none (or is unknown).
pub fn default_security_descriptor(
    dir: &dyn Directory,
    root: &RootDse,
    class: &str,
) -> Result<Option<String>> {
    let f = Filter::And(vec![
        Filter::eq("objectClass", "classSchema"),
        Filter::eq("lDAPDisplayName", class),
    ]);
    let req = SearchRequest::new(root.schema_nc()?, Scope::OneLevel, f)
        .attrs(["defaultSecurityDescriptor"]);
    Ok(dir
        .search_all(&req)?
        .into_iter()
        .next()
        .and_then(|e| e.first_str("defaultSecurityDescriptor")))
}

/// The `objectVersion` of the schema (69 = Windows Server 2012 R2), for information.
pub fn schema_version(dir: &dyn Directory, root: &RootDse) -> Result<Option<u32>> {
    Ok(dir
        .read(&root.schema_nc()?, &["objectVersion"])?
        .and_then(|e| e.first_str("objectVersion"))
        .and_then(|v| v.trim().parse().ok()))
}

/// The schemaIDGUID of a class or attribute, for object ACEs.
pub fn schema_guid(dir: &dyn Directory, root: &RootDse, name: &str) -> Result<Guid> {
    for class in ["classSchema", "attributeSchema"] {
        if let Some(e) = schema_lookup(dir, root, class, name)? {
            let raw = e.get("schemaIDGUID").first().cloned().unwrap_or_default();
            return Guid::from_bytes(&raw).map_err(|err| {
                Error::new(Kind::InvalidValue, format!("schemaIDGUID of {name}: {err}"))
            });
        }
    }
    Err(Error::new(Kind::SchemaMissing, format!("the schema has no class or attribute `{name}`")))
}

/// The rightsGuid of an extended right / property set by its display or CN name.
pub fn extended_right_guid(dir: &dyn Directory, root: &RootDse, name: &str) -> Result<Guid> {
    let base = root.config_nc()?.child("CN", "Extended-Rights")?;
    let f = Filter::And(vec![
        Filter::eq("objectClass", "controlAccessRight"),
        Filter::Or(vec![Filter::eq("cn", name), Filter::eq("displayName", name)]),
    ]);
    let req = SearchRequest::new(base, Scope::OneLevel, f).attrs(["rightsGuid"]);
    let e = dir
        .search_all(&req)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::new(Kind::NotFound, format!("no extended right `{name}`")))?;
    let text = e.first_str("rightsGuid").unwrap_or_default();
    text.parse()
        .map_err(|err| Error::new(Kind::InvalidValue, format!("rightsGuid of {name}: {err}")))
}

/// The domain SID (objectSid of the domain head).
pub fn domain_sid(dir: &dyn Directory, domain: &Dn) -> Result<Sid> {
    let e = dir.read(domain, &["objectSid"])?.ok_or_else(|| {
        Error::new(Kind::NoSuchObject, format!("no domain object {domain}")).with_dn(domain)
    })?;
    let raw = e
        .get("objectSid")
        .first()
        .cloned()
        .ok_or_else(|| Error::new(Kind::NotFound, format!("{domain} has no objectSid")))?;
    Sid::from_bytes(&raw)
        .map_err(|err| Error::new(Kind::InvalidValue, format!("objectSid of {domain}: {err}")))
}

//! The snapshot directory: an LDIF export held in memory that answers the same
//! operations as a DC, with a directory's checks (the parent must exist, no
//! duplicate DN, no delete of a non-leaf, scopes, filters). It is the demo
//! default (`examples/contoso/`) and the backend of offline what-ifs
//! (`--snapshot FILE`, `--write-snapshot FILE`).

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::{Directory, ModOp, RootDse, Scope, SearchRequest, WriteOp};
use crate::directory::security::merge_dacl;
use crate::directory::{Dn, Entry, Guid, ldif};
use crate::error::{Error, Kind, Result};

/// Attributes a DC returns only when asked for by name.
const ON_REQUEST: &[&str] = &["ntsecuritydescriptor", "tokengroups", "msds-keyversionnumber"];

/// An in-memory directory loaded from LDIF.
pub struct SnapshotDirectory {
    source: String,
    root: RootDse,
    root_entry: Option<Entry>,
    entries: RwLock<BTreeMap<String, Entry>>,
}

impl SnapshotDirectory {
    /// Loads an LDIF export; `source` names it in messages.
    pub fn from_ldif(text: &str, source: &str) -> Result<SnapshotDirectory> {
        let records = ldif::parse(text, source)?;
        let mut entries = BTreeMap::new();
        let mut root_entry = None;
        for r in records {
            if r.entry.dn.is_root() {
                root_entry = Some(r.entry);
                continue;
            }
            let key = r.entry.dn.norm();
            if entries.contains_key(&key) {
                return Err(Error::new(
                    Kind::Ldif,
                    format!("{source}:{}: duplicate entry {}", r.line, r.entry.dn),
                ));
            }
            entries.insert(key, r.entry);
        }
        let root = match &root_entry {
            Some(e) => RootDse::from_entry(e),
            None => derive_root_dse(&entries),
        };
        Ok(SnapshotDirectory {
            source: source.to_string(),
            root,
            root_entry,
            entries: RwLock::new(entries),
        })
    }

    /// Loads an LDIF file.
    pub fn load(path: &std::path::Path) -> Result<SnapshotDirectory> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading snapshot {}", path.display()), e))?;
        SnapshotDirectory::from_ldif(&text, &path.display().to_string())
    }

    /// The current state as LDIF (rootDSE first, then parents before children).
    pub fn to_ldif(&self) -> String {
        let mut out = String::from("version: 1\n\n");
        if let Some(r) = &self.root_entry {
            out.push_str(&ldif::write_entry(r));
            out.push('\n');
        }
        let guard = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<&Entry> = guard.values().collect();
        all.sort_by(|a, b| {
            a.dn.depth().cmp(&b.dn.depth()).then_with(|| a.dn.norm().cmp(&b.dn.norm()))
        });
        for e in all {
            out.push_str(&ldif::write_entry(e));
            out.push('\n');
        }
        out
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.read().map(|m| m.len()).unwrap_or(0)
    }

    /// True when the snapshot holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_naming_context(&self, dn: &Dn) -> bool {
        self.root.naming_contexts.iter().any(|nc| nc == dn)
            || [
                &self.root.default_naming_context,
                &self.root.configuration_naming_context,
                &self.root.schema_naming_context,
            ]
            .into_iter()
            .flatten()
            .any(|nc| nc == dn)
    }
}

/// Without a rootDSE record, the domain is the top-most `domainDNS` entry and the
/// configuration and schema partitions sit where AD puts them.
fn derive_root_dse(entries: &BTreeMap<String, Entry>) -> RootDse {
    let domain = entries
        .values()
        .filter(|e| e.is_a("domainDNS"))
        .min_by_key(|e| e.dn.depth())
        .map(|e| e.dn.clone());
    let config = domain.as_ref().and_then(|d| d.child("CN", "Configuration").ok());
    let schema = config.as_ref().and_then(|c| c.child("CN", "Schema").ok());
    RootDse {
        naming_contexts: [&domain, &config, &schema].into_iter().flatten().cloned().collect(),
        default_naming_context: domain.clone(),
        configuration_naming_context: config,
        schema_naming_context: schema,
        root_domain_naming_context: domain,
        ..RootDse::default()
    }
}

fn no_such_object(dn: &Dn) -> Error {
    Error::new(Kind::NoSuchObject, format!("no object {dn}")).with_dn(dn)
}

impl Directory for SnapshotDirectory {
    fn describe(&self) -> String {
        format!("snapshot {}", self.source)
    }

    fn root_dse(&self) -> Result<RootDse> {
        Ok(self.root.clone())
    }

    fn search(&self, req: &SearchRequest, each: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
        if req.base.is_root() && req.scope == Scope::Base {
            let e = self.root_entry.clone().unwrap_or_else(|| Entry::new(Dn::root()));
            return each(e);
        }
        // Collect first so the callback may call back into the directory.
        let found: Vec<Entry> = {
            let map = self.entries.read().map_err(|_| Error::internal("snapshot lock poisoned"))?;
            if !req.base.is_root() && !map.contains_key(&req.base.norm()) {
                return Err(no_such_object(&req.base));
            }
            let mut v = Vec::new();
            for e in map.values() {
                if req.scope.contains(&req.base, &e.dn) && req.filter.matches(e) {
                    let mut e = e.clone();
                    let asked: Vec<String> =
                        req.attrs.iter().map(|a| a.to_ascii_lowercase()).collect();
                    for hidden in ON_REQUEST {
                        if !asked.iter().any(|a| a == hidden) {
                            e.set(hidden, Vec::new());
                        }
                    }
                    e.project(&req.attrs);
                    v.push(e);
                    if req.size_limit > 0 && v.len() >= req.size_limit {
                        break;
                    }
                }
            }
            v
        };
        for e in found {
            each(e)?;
        }
        Ok(())
    }

    fn write(&self, op: &WriteOp) -> Result<()> {
        let mut map =
            self.entries.write().map_err(|_| Error::internal("snapshot lock poisoned"))?;
        match op {
            WriteOp::Add { dn, attrs } => {
                let key = dn.norm();
                if map.contains_key(&key) {
                    return Err(
                        Error::new(Kind::AlreadyExists, format!("{dn} already exists")).with_dn(dn)
                    );
                }
                let parent = dn.parent().unwrap_or_default();
                if !parent.is_root()
                    && !map.contains_key(&parent.norm())
                    && !self.is_naming_context(dn)
                {
                    return Err(Error::new(
                        Kind::NoSuchObject,
                        format!("the parent {parent} of {dn} does not exist"),
                    )
                    .with_dn(dn));
                }
                if !attrs
                    .iter()
                    .any(|a| a.name.eq_ignore_ascii_case("objectClass") && !a.values.is_empty())
                {
                    return Err(Error::new(
                        Kind::ObjectClassViolation,
                        "an object needs an objectClass",
                    )
                    .with_dn(dn));
                }
                let e = Entry::created(dn, attrs.iter().cloned(), Guid::new_random());
                map.insert(key, e);
                Ok(())
            }
            WriteOp::Modify { dn, mods, sd_flags } => {
                let e = map.get_mut(&dn.norm()).ok_or_else(|| no_such_object(dn))?;
                let mut next = e.clone();
                for m in mods {
                    if sd_flags.is_some() && m.attr.eq_ignore_ascii_case("nTSecurityDescriptor") {
                        let new = m.values.first().cloned().unwrap_or_default();
                        let merged =
                            merge_dacl(next.get(&m.attr).first().map(|v| v.as_slice()), &new)
                                .map_err(|e| {
                                    Error::new(
                                        Kind::Security,
                                        format!("the descriptor of {dn}: {e}"),
                                    )
                                    .with_dn(dn)
                                })?;
                        next.set(&m.attr, vec![merged]);
                        continue;
                    }
                    match m.op {
                        ModOp::Replace => next.set(&m.attr, m.values.clone()),
                        ModOp::Add => {
                            if let Some(v) = m.values.iter().find(|v| next.get(&m.attr).contains(v))
                            {
                                return Err(Error::new(
                                    Kind::AttributeOrValueExists,
                                    format!(
                                        "{} already has the value {}",
                                        m.attr,
                                        String::from_utf8_lossy(v)
                                    ),
                                )
                                .with_dn(dn));
                            }
                            next.add_values(&m.attr, m.values.clone());
                        }
                        ModOp::Delete => {
                            if !next.has(&m.attr)
                                || m.values.iter().any(|v| !next.get(&m.attr).contains(v))
                            {
                                return Err(Error::new(
                                    Kind::NoSuchAttribute,
                                    format!("{} has no such value to delete", m.attr),
                                )
                                .with_dn(dn));
                            }
                            next.remove_values(&m.attr, &m.values);
                        }
                    }
                }
                *e = next;
                Ok(())
            }
            WriteOp::Delete { dn } => {
                let key = dn.norm();
                if !map.contains_key(&key) {
                    return Err(no_such_object(dn));
                }
                if map.values().any(|e| e.dn.is_child_of(dn)) {
                    return Err(Error::new(
                        Kind::NotAllowedOnNonLeaf,
                        format!("{dn} has children"),
                    )
                    .with_dn(dn));
                }
                map.remove(&key);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Attr, Filter};

    /// Builds an attribute list from `(name, text values)` pairs.
    fn text_attrs(pairs: &[(&str, &[&str])]) -> Vec<Attr> {
        pairs.iter().map(|(n, v)| Attr::text(*n, v.iter())).collect()
    }

    const LDIF: &str = "dn: DC=contoso,DC=test\nobjectClass: top\nobjectClass: domainDNS\n\ndn: CN=Users,DC=contoso,DC=test\nobjectClass: container\n\ndn: CN=alice,CN=Users,DC=contoso,DC=test\nobjectClass: user\nsAMAccountName: alice\n";

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn directory_checks() {
        let d = SnapshotDirectory::from_ldif(LDIF, "t").unwrap();
        assert_eq!(d.root_dse().unwrap().default_nc().unwrap(), dn("DC=contoso,DC=test"));
        let add = |s: &str| WriteOp::Add {
            dn: dn(s),
            attrs: text_attrs(&[("objectClass", &["container"])]),
        };
        assert_eq!(
            d.write(&add("CN=x,CN=nope,DC=contoso,DC=test")).unwrap_err().kind,
            Kind::NoSuchObject
        );
        assert_eq!(
            d.write(&add("CN=Users,DC=contoso,DC=test")).unwrap_err().kind,
            Kind::AlreadyExists
        );
        assert_eq!(
            d.write(&WriteOp::Delete { dn: dn("CN=Users,DC=contoso,DC=test") }).unwrap_err().kind,
            Kind::NotAllowedOnNonLeaf
        );
        d.write(&add("CN=New,DC=contoso,DC=test")).unwrap();
        let got = d.read(&dn("cn=new,dc=CONTOSO,dc=test"), &[]).unwrap().unwrap();
        assert!(got.is_a("top") && got.is_a("container") && got.has("objectGUID"));
    }

    #[test]
    fn scopes_and_filters() {
        let d = SnapshotDirectory::from_ldif(LDIF, "t").unwrap();
        let base = dn("DC=contoso,DC=test");
        let count = |scope, f: &str| {
            d.search_all(&SearchRequest::new(base.clone(), scope, Filter::parse(f).unwrap()))
                .unwrap()
                .len()
        };
        assert_eq!(count(Scope::Base, "(objectClass=*)"), 1);
        assert_eq!(count(Scope::OneLevel, "(objectClass=*)"), 1);
        assert_eq!(count(Scope::Subtree, "(objectClass=*)"), 3);
        assert_eq!(count(Scope::Subtree, "(samaccountname=ALICE)"), 1);
        let missing =
            SearchRequest::new(dn("CN=nope,DC=contoso,DC=test"), Scope::Base, Filter::all());
        assert_eq!(d.search_all(&missing).unwrap_err().kind, Kind::NoSuchObject);
    }

    #[test]
    fn round_trips_through_ldif() {
        let d = SnapshotDirectory::from_ldif(LDIF, "t").unwrap();
        let again = SnapshotDirectory::from_ldif(&d.to_ldif(), "t2").unwrap();
        assert_eq!(again.len(), 3);
    }
}

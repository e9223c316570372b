//! Directory entries as dwb sees them: a DN and attributes whose values are raw
//! bytes. Attribute names keep the server's spelling but match case-insensitively.
//! Whether a value is text, a GUID, a SID or a blob is decided by the attribute's
//! syntax (`syntax.rs`), never by guessing from the bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::dn::Dn;

/// An attribute name: the names dwb writes on every device are shared static
/// strings (a 100,000-device plan would otherwise hold 1.3 million copies).
pub type AttrName = Cow<'static, str>;

/// The names of [`KNOWN`] (sorted bytewise, for the binary search) are borrowed, others owned.
const KNOWN: &[&str] = &[
    "adminDescription",
    "altSecurityIdentities",
    "description",
    "displayName",
    "msDS-ApproximateLastLogonTimeStamp",
    "msDS-CloudAnchor",
    "msDS-DeviceID",
    "msDS-DeviceOSType",
    "msDS-DeviceOSVersion",
    "msDS-DeviceObjectVersion",
    "msDS-DevicePhysicalIDs",
    "msDS-DeviceTrustType",
    "msDS-IsCompliant",
    "msDS-IsEnabled",
    "msDS-IsManaged",
    "msDS-RegisteredOwner",
    "msDS-RegisteredUsers",
    "nTSecurityDescriptor",
    "objectClass",
];

fn attr_name(name: &str) -> AttrName {
    match KNOWN.binary_search(&name) {
        Ok(i) => Cow::Borrowed(KNOWN[i]),
        Err(_) => Cow::Owned(name.to_string()),
    }
}

/// One attribute with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub name: AttrName,
    pub values: Vec<Vec<u8>>,
}

impl Attr {
    pub fn new(name: impl AsRef<str>, values: Vec<Vec<u8>>) -> Attr {
        Attr { name: attr_name(name.as_ref()), values }
    }

    /// An attribute with text values.
    pub fn text<I, S>(name: impl AsRef<str>, values: I) -> Attr
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Attr {
            name: attr_name(name.as_ref()),
            values: values.into_iter().map(|v| v.as_ref().as_bytes().to_vec()).collect(),
        }
    }
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub dn: Dn,
    /// Keyed by lower-case name; the value keeps the original spelling.
    attrs: BTreeMap<String, Attr>,
}

impl Entry {
    pub fn new(dn: Dn) -> Entry {
        Entry { dn, attrs: BTreeMap::new() }
    }

    pub fn with_attrs(dn: Dn, attrs: impl IntoIterator<Item = Attr>) -> Entry {
        let mut e = Entry::new(dn);
        for a in attrs {
            e.add_values(&a.name, a.values);
        }
        e
    }

    /// The entry a DC makes from an add: the given attributes plus what the
    /// server sets itself (`top` in objectClass, the RDN attribute, `name`,
    /// `distinguishedName`, `objectGUID`).
    pub fn created(dn: &Dn, attrs: impl IntoIterator<Item = Attr>, guid: super::Guid) -> Entry {
        let mut e = Entry::with_attrs(dn.clone(), attrs);
        if !e.is_a("top") {
            let mut classes = vec![b"top".to_vec()];
            classes.extend(e.get("objectClass").iter().cloned());
            e.set("objectClass", classes);
        }
        if let (Some(a), Some(v)) = (dn.rdn_attr(), dn.rdn_value()) {
            e.set(a, vec![v.as_bytes().to_vec()]);
            e.set("name", vec![v.as_bytes().to_vec()]);
        }
        e.set("distinguishedName", vec![dn.to_string().into_bytes()]);
        e.set("objectGUID", vec![guid.to_bytes().to_vec()]);
        e
    }

    /// Values of `name`, or an empty slice.
    pub fn get(&self, name: &str) -> &[Vec<u8>] {
        self.attrs.get(&name.to_ascii_lowercase()).map(|a| a.values.as_slice()).unwrap_or(&[])
    }

    /// The first value as text (lossy only if the server sent non-UTF-8 text).
    pub fn first_str(&self, name: &str) -> Option<String> {
        self.get(name).first().map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// All values as text.
    pub fn strs(&self, name: &str) -> Vec<String> {
        self.get(name).iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect()
    }

    pub fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// True when `objectClass` contains `class` (case-insensitive).
    pub fn is_a(&self, class: &str) -> bool {
        self.get("objectClass")
            .iter()
            .any(|v| std::str::from_utf8(v).is_ok_and(|s| s.eq_ignore_ascii_case(class)))
    }

    /// Iterates attributes in name order.
    pub fn attrs(&self) -> impl Iterator<Item = &Attr> {
        self.attrs.values()
    }

    /// Attribute names in their original spelling.
    pub fn names(&self) -> Vec<String> {
        self.attrs.values().map(|a| a.name.to_string()).collect()
    }

    /// Replaces all values (an empty list removes the attribute).
    pub fn set(&mut self, name: &str, values: Vec<Vec<u8>>) {
        let key = name.to_ascii_lowercase();
        if values.is_empty() {
            self.attrs.remove(&key);
        } else {
            let spelled =
                self.attrs.get(&key).map(|a| a.name.clone()).unwrap_or_else(|| attr_name(name));
            self.attrs.insert(key, Attr { name: spelled, values });
        }
    }

    /// Adds values, skipping ones already present.
    pub fn add_values(&mut self, name: &str, values: Vec<Vec<u8>>) {
        let key = name.to_ascii_lowercase();
        let a = self
            .attrs
            .entry(key)
            .or_insert_with(|| Attr { name: attr_name(name), values: Vec::new() });
        // As sets: 100,000 values cost 100,000 lookups, not 10^10 comparisons.
        let mut have: std::collections::HashSet<Vec<u8>> = a.values.iter().cloned().collect();
        for v in values {
            if have.insert(v.clone()) {
                a.values.push(v);
            }
        }
        if a.values.is_empty() {
            self.attrs.remove(&name.to_ascii_lowercase());
        }
    }

    /// Removes the given values (all values when `values` is empty).
    pub fn remove_values(&mut self, name: &str, values: &[Vec<u8>]) {
        let key = name.to_ascii_lowercase();
        if values.is_empty() {
            self.attrs.remove(&key);
            return;
        }
        if let Some(a) = self.attrs.get_mut(&key) {
            let gone: std::collections::HashSet<&[u8]> = values.iter().map(Vec::as_slice).collect();
            a.values.retain(|v| !gone.contains(v.as_slice()));
            if a.values.is_empty() {
                self.attrs.remove(&key);
            }
        }
    }

    /// Keeps only the requested attributes (`*` or an empty list keeps all).
    pub fn project(&mut self, wanted: &[String]) {
        if wanted.is_empty() || wanted.iter().any(|w| w == "*") {
            return;
        }
        let keep: Vec<String> = wanted.iter().map(|w| w.to_ascii_lowercase()).collect();
        self.attrs.retain(|k, _| keep.contains(k));
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn known_names_are_shared_and_sorted_for_the_binary_search() {
        assert!(KNOWN.windows(2).all(|w| w[0] < w[1]));
        assert!(matches!(Attr::new("displayName", vec![]).name, Cow::Borrowed(_)));
        assert!(matches!(Attr::new("x-site", vec![]).name, Cow::Owned(_)));
    }
}

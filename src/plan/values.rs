//! Attribute values in files dwb writes for itself (the journal, saved plans):
//! exact bytes, base64, as `{ "name": ["base64", …] }`; and the comparisons a
//! precondition makes (values as sets, DNs compared as DNs).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::ad::{ModOp, Modification};
use crate::directory::{Attr, Dn, Entry};
use crate::error::{Error, Kind, Result};

/// Attributes the DC maintains itself: never part of a precondition (they change
/// with any write, or differ from DC to DC) and never sent when re-creating an object.
const SYSTEM: &[&str] = &[
    "objectGUID",
    "objectSid",
    "distinguishedName",
    "name",
    "instanceType",
    "whenCreated",
    "whenChanged",
    "uSNCreated",
    "uSNChanged",
    "dSCorePropagationData",
    "replPropertyMetaData",
    "objectCategory",
    "nTSecurityDescriptor",
    "isDeleted",
    "isRecycled",
    "lastKnownParent",
    "msDS-LastKnownRDN",
    "lastLogon",
    "lastLogonTimestamp",
    "logonCount",
    "badPwdCount",
    "badPasswordTime",
    "pwdLastSet",
    "sAMAccountType",
    "objectClass",
];

/// True for an attribute the DC maintains (see [`SYSTEM`]); `objectClass` is
/// among them for preconditions (the DC adds `top`), not for re-creating.
pub fn is_system(name: &str) -> bool {
    SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Attributes as a JSON object of base64 values.
pub fn to_json(attrs: &[Attr]) -> Value {
    let mut m = Map::new();
    for a in attrs {
        let vals = a.values.iter().map(|v| Value::String(B64.encode(v))).collect();
        m.insert(a.name.to_string(), Value::Array(vals));
    }
    Value::Object(m)
}

/// The inverse of [`to_json`].
pub fn from_json(v: &Value, what: &str) -> Result<Vec<Attr>> {
    let bad = |m: String| Error::new(Kind::InvalidValue, format!("{what}: {m}"));
    let Some(obj) = v.as_object() else { return Err(bad("not an attribute map".into())) };
    let mut out = Vec::with_capacity(obj.len());
    for (name, vals) in obj {
        let Some(arr) = vals.as_array() else {
            return Err(bad(format!("the values of `{name}` are not a list")));
        };
        let mut values = Vec::with_capacity(arr.len());
        for x in arr {
            let s = x.as_str().ok_or_else(|| bad(format!("a value of `{name}` is not text")))?;
            values.push(
                B64.decode(s)
                    .map_err(|e| bad(format!("a value of `{name}` is not base64: {e}")))?,
            );
        }
        out.push(Attr::new(name.as_str(), values));
    }
    Ok(out)
}

/// The values `e` holds for each of `names` (an empty list when absent).
pub fn values_of(e: &Entry, names: &[String]) -> Vec<Attr> {
    names.iter().map(|n| Attr::new(n.as_str(), e.get(n).to_vec())).collect()
}

/// Every attribute of `e` the DC does not maintain itself.
pub fn user_attrs(e: &Entry) -> Vec<Attr> {
    e.attrs().filter(|a| !is_system(&a.name)).cloned().collect()
}

/// True when two value lists are the same set. DN values the DC may re-case
/// compare as DNs.
pub fn same(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let key = |v: &Vec<u8>| -> Vec<u8> {
        std::str::from_utf8(v)
            .ok()
            .filter(|s| s.contains('='))
            .and_then(|s| Dn::parse(s).ok())
            .map(|d| d.norm().into_bytes())
            .unwrap_or_else(|| v.clone())
    };
    let mut x: Vec<Vec<u8>> = a.iter().map(key).collect();
    let mut y: Vec<Vec<u8>> = b.iter().map(key).collect();
    x.sort();
    y.sort();
    x == y
}

/// The names a modify touches, in order, without repeats.
pub fn touched(mods: &[Modification]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in mods {
        if !out.iter().any(|n| n.eq_ignore_ascii_case(&m.attr)) {
            out.push(m.attr.clone());
        }
    }
    out
}

/// The values of the touched attributes once `mods` are applied to `before`.
pub fn after_modify(before: &[Attr], mods: &[Modification]) -> Vec<Attr> {
    let mut e = Entry::with_attrs(Dn::root(), before.iter().cloned());
    for m in mods {
        match m.op {
            ModOp::Replace => e.set(&m.attr, m.values.clone()),
            ModOp::Add => e.add_values(&m.attr, m.values.clone()),
            ModOp::Delete if m.values.is_empty() => e.set(&m.attr, Vec::new()),
            ModOp::Delete => e.remove_values(&m.attr, &m.values),
        }
    }
    values_of(&e, &touched(mods))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_compare() {
        let attrs = vec![Attr::new("msDS-DeviceID", vec![vec![0, 255, 1]]), Attr::text("x", [""])];
        let back = from_json(&to_json(&attrs), "test").unwrap();
        assert_eq!(back, attrs);
        assert!(same(&[b"a".to_vec(), b"b".to_vec()], &[b"b".to_vec(), b"a".to_vec()]));
        assert!(same(&[b"CN=X,DC=a".to_vec()], &[b"cn=x,dc=A".to_vec()]));
        assert!(!same(&[b"a".to_vec()], &[]));
        let mods = vec![Modification { op: ModOp::Delete, attr: "x".into(), values: vec![] }];
        assert_eq!(after_modify(&attrs, &mods), vec![Attr::new("x", vec![])]);
    }
}

//! The directory values scripts hold: an entry and a security descriptor,
//! shared by the conversions (`convert`), the type methods (`types`) and the
//! ACL bindings (`acl`).

use std::sync::Arc;

use rhai::{Array, Dynamic, Map};

use crate::directory::security::{AceKind, SecurityDescriptor, ace_flags, rights};
use crate::directory::{Entry, Sid};
use crate::error::{Error, Kind, Result};

/// A directory entry in scripts (shared, read-only).
#[derive(Clone)]
pub struct EntryValue(pub Arc<Entry>);

/// An `nTSecurityDescriptor` value in scripts; `domain` lets SDDL use the
/// domain-relative aliases (DA, DU, …).
#[derive(Clone)]
pub struct SdValue {
    pub bytes: Vec<u8>,
    pub domain: Option<Sid>,
}

/// SDDL of a script descriptor value.
pub fn sddl(v: &SdValue) -> Result<String> {
    let sd = SecurityDescriptor::from_bytes(&v.bytes)
        .map_err(|e| Error::new(Kind::Security, e.to_string()))?;
    sd.to_sddl(v.domain.as_ref()).map_err(|e| Error::new(Kind::Security, e.to_string()))
}

/// The DACL's ACEs as maps.
pub fn aces(v: &SdValue) -> Result<Array> {
    let sd = SecurityDescriptor::from_bytes(&v.bytes)
        .map_err(|e| Error::new(Kind::Security, e.to_string()))?;
    let mut out = Array::new();
    for ace in sd.dacl.iter().flat_map(|d| d.entries.iter()).filter_map(|e| match e {
        crate::directory::security::AclEntry::Ace(a) => Some(a),
        _ => None,
    }) {
        let mut m = Map::new();
        m.insert(
            "type".into(),
            match ace.ace_type.kind() {
                AceKind::Allow => "allow",
                AceKind::Deny => "deny",
                AceKind::Audit => "audit",
            }
            .into(),
        );
        m.insert("flags".into(), (ace.flags as i64).into());
        m.insert("rights".into(), rights::format_mask(ace.mask).into());
        m.insert("mask".into(), (ace.mask as i64).into());
        m.insert("object_type".into(), ace.object_type.map(Dynamic::from).unwrap_or(Dynamic::UNIT));
        m.insert(
            "inherited_object_type".into(),
            ace.inherited_object_type.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
        );
        m.insert("trustee".into(), Dynamic::from(ace.trustee.clone()));
        m.insert("inherited".into(), (ace.flags & ace_flags::INHERITED != 0).into());
        out.push(m.into());
    }
    Ok(out)
}

//! Conversions between script values and directory values. Anything that
//! becomes a DN or filter goes through the typed constructors, so a string from
//! outside can never change structure.

use rhai::{Array, Blob, Dynamic, Map};

use crate::directory::syntax::{Syntax, syntax_of};
use crate::directory::{Dn, Guid, Sid};
use crate::error::{Error, Kind, Result};

use super::values::{EntryValue, SdValue};

/// A DN from a `Dn` value or a string.
pub fn to_dn(v: &Dynamic) -> Result<Dn> {
    if let Some(dn) = v.read_lock::<Dn>() {
        return Ok(dn.clone());
    }
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return Dn::parse(s.as_str());
    }
    Err(Error::new(
        Kind::InvalidArgument,
        format!("expected a DN (Dn or string), got {}", v.type_name()),
    ))
}

/// Attribute values from a script value: a single value or an array of them.
/// Booleans become `TRUE`/`FALSE` (AD's Boolean syntax), integers decimal text,
/// GUIDs and SIDs their binary forms, blobs raw bytes.
pub fn to_values(attr: &str, v: &Dynamic) -> Result<Vec<Vec<u8>>> {
    if v.is_unit() {
        return Ok(Vec::new());
    }
    if let Some(arr) = v.read_lock::<Array>() {
        return arr.iter().map(|x| to_value(attr, x)).collect();
    }
    Ok(vec![to_value(attr, v)?])
}

fn to_value(attr: &str, v: &Dynamic) -> Result<Vec<u8>> {
    if let Ok(b) = v.as_bool() {
        return Ok(if b { b"TRUE".to_vec() } else { b"FALSE".to_vec() });
    }
    if let Ok(i) = v.as_int() {
        return Ok(i.to_string().into_bytes());
    }
    if let Some(g) = v.read_lock::<Guid>() {
        return Ok(g.to_bytes().to_vec());
    }
    if let Some(s) = v.read_lock::<Sid>() {
        return Ok(s.to_bytes());
    }
    if let Some(d) = v.read_lock::<Dn>() {
        return Ok(d.to_string().into_bytes());
    }
    if let Some(b) = v.read_lock::<Blob>() {
        return Ok(b.clone());
    }
    if let Some(sd) = v.read_lock::<SdValue>() {
        return Ok(sd.bytes.clone());
    }
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        // A GUID- or SID-typed attribute given as text is converted, so scripts can write the string forms.
        return Ok(match syntax_of(attr) {
            Syntax::Guid => s
                .parse::<Guid>()
                .map_err(|e| Error::new(Kind::InvalidValue, format!("{attr}: {e}")))?
                .to_bytes()
                .to_vec(),
            Syntax::Sid => s
                .parse::<Sid>()
                .map_err(|e| Error::new(Kind::InvalidValue, format!("{attr}: {e}")))?
                .to_bytes(),
            _ => s.as_bytes().to_vec(),
        });
    }
    Err(Error::new(
        Kind::InvalidArgument,
        format!("{attr}: cannot store a {} value", v.type_name()),
    ))
}

/// A stored value as scripts see it, typed by the attribute's syntax.
pub fn from_value(attr: &str, v: &[u8]) -> Dynamic {
    match syntax_of(attr) {
        Syntax::Guid => Guid::from_bytes(v)
            .map(Dynamic::from)
            .unwrap_or_else(|_| Dynamic::from_blob(v.to_vec())),
        Syntax::Sid => {
            Sid::from_bytes(v).map(Dynamic::from).unwrap_or_else(|_| Dynamic::from_blob(v.to_vec()))
        }
        Syntax::SecurityDescriptor => Dynamic::from(SdValue { bytes: v.to_vec(), domain: None }),
        Syntax::Binary => Dynamic::from_blob(v.to_vec()),
        Syntax::Text => match std::str::from_utf8(v) {
            Ok(s) => Dynamic::from(s.to_string()),
            Err(_) => Dynamic::from_blob(v.to_vec()),
        },
    }
}

/// An entry as a script value.
pub fn entry(e: crate::directory::Entry) -> Dynamic {
    Dynamic::from(EntryValue(std::sync::Arc::new(e)))
}

/// A list of strings from a string or an array of strings.
pub fn to_strings(v: &Dynamic) -> Result<Vec<String>> {
    if let Some(arr) = v.read_lock::<Array>() {
        return Ok(arr.iter().map(|x| x.to_string()).collect());
    }
    if v.is_unit() {
        return Ok(Vec::new());
    }
    Ok(vec![v.to_string()])
}

/// The Graph device properties a script always sees (`()` when Graph sent none),
/// so a hook can test any of them and a misspelt name is an error, not `()`.
pub const DEVICE_FIELDS: &[&str] = &[
    "id",
    "deviceId",
    "displayName",
    "operatingSystem",
    "operatingSystemVersion",
    "trustType",
    "accountEnabled",
    "alternativeSecurityIds",
    "physicalIds",
    "isCompliant",
    "isManaged",
    "approximateLastSignInDateTime",
    "onPremisesSyncEnabled",
    "deviceVersion",
    "registeredUsers",
];

/// A Graph device as a script value: a map with its documented property names.
pub fn device(d: &crate::graph::Device) -> Dynamic {
    let mut m: Map = rhai::serde::to_dynamic(d.to_json())
        .ok()
        .and_then(|v| v.try_cast::<Map>())
        .unwrap_or_default();
    for f in DEVICE_FIELDS {
        m.entry((*f).into()).or_insert(Dynamic::UNIT);
    }
    m.into()
}

//! Typed Graph objects: [`Device`] with [`AlternativeSecurityId`] (device-writeback.md §C.3/§C.4),
//! owners, organization, domains and the on-premises synchronization object.
//!
//! Devices are converted from JSON by hand so that a missing or wrongly typed
//! property gives an error naming the device `id` and the property.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{GraphError, Reason, Result};

/// The `$select` dwb uses for devices (docs/device-writeback.md §C.3).
pub const DEVICE_SELECT: &[&str] = &[
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
];

/// The prefix of an X.509 alternative security id (MS-DVRJ §2.3.3).
pub const X509_PREFIX: &str = "X509:<SHA1-TP-PUBKEY>";

/// One entry of `alternativeSecurityIds`. `key` is base64 (Edm.Binary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlternativeSecurityId {
    #[serde(rename = "type")]
    pub kind: Option<i64>,
    pub identity_provider: Option<String>,
    pub key: Option<String>,
}

/// Why an alternative security id key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AltSecIdError {
    #[error("the key is missing")]
    Missing,
    #[error("the key is not valid base64: {0}")]
    NotBase64(String),
    #[error("the decoded key has an odd number of bytes ({0}), so it is not UTF-16LE")]
    OddLength(usize),
    #[error("the decoded key is not valid UTF-16LE (unpaired surrogate at code unit {0})")]
    NotUtf16(usize),
    #[error("the decoded key does not start with 'X509:<SHA1-TP-PUBKEY>' (starts with {0:?})")]
    WrongPrefix(String),
}

impl AlternativeSecurityId {
    /// The key bytes (`Edm.Binary`: base64 or base64url, see [`decode_binary`]).
    pub fn key_bytes(&self) -> std::result::Result<Vec<u8>, AltSecIdError> {
        let k = self.key.as_deref().ok_or(AltSecIdError::Missing)?;
        decode_binary(k).map_err(|e| AltSecIdError::NotBase64(e.to_string()))
    }

    /// The `altSecurityIdentities` value: base64 → UTF-16LE → string, which must
    /// start with `X509:<SHA1-TP-PUBKEY>` (docs/device-writeback.md §C.4).
    pub fn x509_value(&self) -> std::result::Result<String, AltSecIdError> {
        let bytes = self.key_bytes()?;
        if !bytes.len().is_multiple_of(2) {
            return Err(AltSecIdError::OddLength(bytes.len()));
        }
        let units: Vec<u16> =
            bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let mut s = String::with_capacity(units.len());
        for (i, r) in char::decode_utf16(units.iter().copied()).enumerate() {
            match r {
                Ok(c) => s.push(c),
                Err(_) => return Err(AltSecIdError::NotUtf16(i)),
            }
        }
        if !s.starts_with(X509_PREFIX) {
            let head: String = s.chars().take(24).collect();
            return Err(AltSecIdError::WrongPrefix(head));
        }
        Ok(s)
    }

    /// The SHA-1 certificate thumbprint (40 hex chars after the prefix), if well-formed.
    pub fn thumbprint(&self) -> Option<String> {
        let v = self.x509_value().ok()?;
        let tp = v.get(X509_PREFIX.len()..X509_PREFIX.len() + 40)?;
        tp.chars().all(|c| c.is_ascii_hexdigit()).then(|| tp.to_string())
    }

    /// Build a Graph key from the parts: base64(UTF-16LE("X509:<SHA1-TP-PUBKEY>" + tp + hash)).
    pub fn x509_key(thumbprint_hex: &str, public_key_hash_b64: &str) -> String {
        let s = format!("{X509_PREFIX}{thumbprint_hex}{public_key_hash_b64}");
        let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        STANDARD.encode(bytes)
    }
}

/// Standard base64 that takes its padding or leaves it.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An `Edm.Binary` value as OData JSON may carry it. OData JSON Format v4.01
/// §7.1 ("Primitive Value") represents binary values "as base64url-encoded
/// strings"; Graph sends standard base64 (`+`, `/`, padded). Both alphabets
/// are accepted, with or without padding: the two differ only in `-`/`_`
/// against `+`/`/`, so the text is mapped to the standard alphabet first.
pub fn decode_binary(s: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    let text: String = s
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT_BASE64.decode(text)
}

/// A Graph v1.0 `device` (the properties dwb uses; everything else in `extra`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Value")]
pub struct Device {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_system_version: Option<String>,
    /// `Workplace` | `AzureAd` | `ServerAd`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternative_security_ids: Vec<AlternativeSecurityId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub physical_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_compliant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_managed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_last_sign_in_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_version: Option<i64>,
    /// The registered owners when the device was read with
    /// `$expand=registeredOwners` ([`crate::graph::ListOptions::expand_owners`]);
    /// `None` when they were not asked for (not "no owners": that is `Some(vec![])`).
    /// Graph returns at most 20 expanded items and no link to more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_owners: Option<Vec<Owner>>,
    /// The registered users (`$expand=registeredUsers`, or looked up by
    /// `GraphClient::device_users_batch`), as for `registered_owners`: `None`
    /// when not read. "For cloud joined devices and registered personal devices,
    /// registered users are set to the same value as registered owners at the
    /// time of registration" (Graph `device` resource).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_users: Option<Vec<Owner>>,
    /// Every other property Graph sent (including `@odata.*` annotations).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl TryFrom<Value> for Device {
    type Error = GraphError;
    fn try_from(v: Value) -> Result<Device> {
        Device::from_json(v)
    }
}

fn bad(id: &str, field: &str, what: String) -> GraphError {
    let id = crate::text::clip(id, crate::text::CLIP);
    GraphError::new(Reason::BadDevice, format!("device {id}: property '{field}' {what}"))
        .with_device(id)
        .with_field(field)
}

/// How a JSON value's type is named in error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Fields<'a> {
    id: &'a str,
    o: Map<String, Value>,
}

impl Fields<'_> {
    fn string(&mut self, k: &str) -> Result<Option<String>> {
        match self.o.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(bad(self.id, k, format!("should be a string but is {}", type_name(&v)))),
        }
    }
    fn boolean(&mut self, k: &str) -> Result<Option<bool>> {
        match self.o.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(v) => {
                Err(bad(self.id, k, format!("should be a boolean but is {}", type_name(&v))))
            }
        }
    }
    fn int(&mut self, k: &str) -> Result<Option<i64>> {
        match self.o.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(v) => {
                Err(bad(self.id, k, format!("should be an integer but is {}", type_name(&v))))
            }
        }
    }
    fn strings(&mut self, k: &str) -> Result<Vec<String>> {
        match self.o.remove(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    v => Err(bad(
                        self.id,
                        &format!("{k}[{i}]"),
                        format!("should be a string but is {}", type_name(&v)),
                    )),
                })
                .collect(),
            Some(v) => Err(bad(self.id, k, format!("should be an array but is {}", type_name(&v)))),
        }
    }
    fn owners(&mut self, k: &str) -> Result<Option<Vec<Owner>>> {
        // Absent or null is not read: only an empty array says "none".
        let arr = match self.o.remove(k) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(bad(
                    self.id,
                    k,
                    format!("should be an array but is {}", type_name(&v)),
                ));
            }
        };
        let mut out = Vec::with_capacity(arr.len());
        for (i, v) in arr.into_iter().enumerate() {
            let o = Owner::from_json(v)
                .map_err(|e| bad(self.id, &format!("{k}[{i}]"), e.message().to_string()))?;
            out.push(o);
        }
        // A user Graph sent without its SID (a nested `$select` dropped, or
        // "limited information" without User.Read.All) leaves the relationship
        // unread, not empty: the caller looks it up another way.
        if out.iter().any(|o| o.unread) {
            return Ok(None);
        }
        Ok(Some(out))
    }
    fn alt_ids(&mut self, k: &str) -> Result<Vec<AlternativeSecurityId>> {
        let arr = match self.o.remove(k) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(bad(
                    self.id,
                    k,
                    format!("should be an array but is {}", type_name(&v)),
                ));
            }
        };
        let mut out = Vec::with_capacity(arr.len());
        for (i, v) in arr.into_iter().enumerate() {
            let f = format!("{k}[{i}]");
            let Value::Object(o) = v else {
                return Err(bad(
                    self.id,
                    &f,
                    format!("should be an object but is {}", type_name(&v)),
                ));
            };
            let mut sub = Fields { id: self.id, o };
            let kind = sub
                .int("type")
                .map_err(|_| bad(self.id, &format!("{f}.type"), "should be an integer".into()))?;
            let identity_provider = sub.string("identityProvider").map_err(|_| {
                bad(self.id, &format!("{f}.identityProvider"), "should be a string".into())
            })?;
            let key = match sub.o.remove("key") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                // PowerShell's ConvertTo-Json writes byte[] as an array of numbers.
                Some(Value::Array(bytes)) => {
                    let mut b = Vec::with_capacity(bytes.len());
                    for x in bytes {
                        match x.as_u64() {
                            Some(n) if n <= 255 => b.push(n as u8),
                            _ => {
                                return Err(bad(
                                    self.id,
                                    &format!("{f}.key"),
                                    "is an array but not of bytes 0..255".into(),
                                ));
                            }
                        }
                    }
                    Some(STANDARD.encode(b))
                }
                Some(v) => {
                    return Err(bad(
                        self.id,
                        &format!("{f}.key"),
                        format!("should be a base64 string but is {}", type_name(&v)),
                    ));
                }
            };
            out.push(AlternativeSecurityId { kind, identity_provider, key });
        }
        Ok(out)
    }
}

impl Device {
    /// Convert one Graph JSON object. Errors name the device id and property.
    pub fn from_json(v: Value) -> Result<Device> {
        let Value::Object(mut o) = v else {
            return Err(GraphError::new(
                Reason::BadDevice,
                format!("a device should be a JSON object but is {}", type_name(&v)),
            ));
        };
        let id = match o.remove("id") {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(v) => {
                return Err(GraphError::new(
                    Reason::BadDevice,
                    format!("a device has an invalid 'id' ({})", type_name(&v)),
                )
                .with_field("id"));
            }
            None => {
                let hint = o
                    .get("deviceId")
                    .and_then(Value::as_str)
                    .map(|d| format!(" (deviceId {d})"))
                    .unwrap_or_default();
                return Err(GraphError::new(
                    Reason::BadDevice,
                    format!("a device has no 'id'{hint}"),
                )
                .with_field("id"));
            }
        };
        let idc = id.clone();
        let mut f = Fields { id: &idc, o };
        Ok(Device {
            device_id: f.string("deviceId")?,
            display_name: f.string("displayName")?,
            operating_system: f.string("operatingSystem")?,
            operating_system_version: f.string("operatingSystemVersion")?,
            trust_type: f.string("trustType")?,
            account_enabled: f.boolean("accountEnabled")?,
            alternative_security_ids: f.alt_ids("alternativeSecurityIds")?,
            physical_ids: f.strings("physicalIds")?,
            is_compliant: f.boolean("isCompliant")?,
            is_managed: f.boolean("isManaged")?,
            approximate_last_sign_in_date_time: f.string("approximateLastSignInDateTime")?,
            on_premises_sync_enabled: f.boolean("onPremisesSyncEnabled")?,
            device_version: f.int("deviceVersion")?,
            registered_owners: f.owners("registeredOwners")?,
            registered_users: f.owners("registeredUsers")?,
            extra: f.o.into_iter().collect(),
            id,
        })
    }

    /// `deviceId` as a GUID, or an error naming the device.
    pub fn device_uuid(&self) -> Result<uuid::Uuid> {
        let d = self
            .device_id
            .as_deref()
            .ok_or_else(|| bad(&self.id, "deviceId", "is missing".into()))?;
        uuid::Uuid::parse_str(d).map_err(|_| {
            let d = crate::text::clip(d, crate::text::CLIP);
            bad(&self.id, "deviceId", format!("is not a GUID: {d:?}"))
        })
    }

    /// The decoded `altSecurityIdentities` values of all `type == 2` entries.
    /// Errors name the device and the entry.
    pub fn x509_alt_security_ids(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (i, a) in self.alternative_security_ids.iter().enumerate() {
            if a.kind != Some(2) {
                continue;
            }
            match a.x509_value() {
                Ok(v) => out.push(v),
                Err(e) => {
                    let field = format!("alternativeSecurityIds[{i}].key");
                    return Err(GraphError::new(
                        Reason::BadAltSecId,
                        format!("device {}: {field}: {e}", self.id),
                    )
                    .with_device(self.id.clone())
                    .with_field(field)
                    .with_source(e));
                }
            }
        }
        Ok(out)
    }

    /// True if the device has at least one `type == 2` alternative security id.
    pub fn has_x509_key(&self) -> bool {
        self.alternative_security_ids.iter().any(|a| a.kind == Some(2))
    }

    /// Back to Graph JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A registered owner (normally a `#microsoft.graph.user`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    #[serde(rename = "@odata.type", default, skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// `S-1-5-21-…` for users synced from AD; `None` for cloud-only users or when
    /// the app lacks User.Read.All.
    #[serde(default)]
    pub on_premises_security_identifier: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// True when Graph sent this user without what dwb needs of it: no
    /// `onPremisesSecurityIdentifier` key (a `$select` nested in `$expand` that
    /// Graph ignored, as the known issues allow: unsupported query parameters
    /// "might fail silently"), or only nulls besides `id` and the annotations
    /// ("limited information" without User.Read.All). Its SID is unknown, not
    /// absent. Set by [`Owner::from_json`].
    #[serde(skip)]
    pub unread: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// See [`Owner::unread`]. Only users carry a SID: another directory object
/// (a service principal, a device) in a relationship is read as it is.
fn unread_user(o: &Map<String, Value>) -> bool {
    let user = match o.get("@odata.type").and_then(Value::as_str) {
        Some(t) => t.eq_ignore_ascii_case("#microsoft.graph.user"),
        None => true,
    };
    if !user {
        return false;
    }
    let all_null =
        o.iter().filter(|(k, _)| *k != "id" && !k.starts_with('@')).all(|(_, v)| v.is_null());
    !o.contains_key("onPremisesSecurityIdentifier") || all_null
}

impl Owner {
    /// Convert one directory object of a `registeredOwners` collection.
    pub fn from_json(v: Value) -> Result<Owner> {
        if !v.is_object() {
            let what = type_name(&v);
            return Err(GraphError::new(
                Reason::BadJson,
                format!("should be an object but is {what}"),
            ));
        }
        if v.get("id").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(GraphError::new(Reason::BadJson, "has no 'id'"));
        }
        let unread = v.as_object().is_some_and(unread_user);
        let mut o: Owner = serde_json::from_value(v).map_err(|e| {
            GraphError::new(Reason::BadJson, format!("is not a directory object: {e}"))
        })?;
        o.unread = unread;
        Ok(o)
    }
}

/// The tenant (`/organization`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub on_premises_last_sync_date_time: Option<String>,
    #[serde(default)]
    pub verified_domains: Vec<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A domain of the tenant (`/domains`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub id: String,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub is_verified: Option<bool>,
    #[serde(default)]
    pub is_initial: Option<bool>,
    #[serde(default)]
    pub authentication_type: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `onPremisesDirectorySynchronization` (docs/device-writeback.md §C.8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPremisesSync {
    pub id: String,
    #[serde(default)]
    pub configuration: Option<Value>,
    #[serde(default)]
    pub features: BTreeMap<String, Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl OnPremisesSync {
    /// `features.deviceWritebackEnabled`.
    pub fn device_writeback_enabled(&self) -> Option<bool> {
        self.features.get("deviceWritebackEnabled").and_then(Value::as_bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unread(v: Value) -> bool {
        Owner::from_json(v).unwrap().unread
    }

    #[test]
    fn an_owner_without_its_sid_is_unread_not_cloud_only() {
        let user = "#microsoft.graph.user";
        // Read: a synced user, and a cloud-only one (SID null, the rest there).
        assert!(!unread(
            json!({"@odata.type": user, "id": "u", "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-500"})
        ));
        assert!(!unread(
            json!({"id": "u", "onPremisesSecurityIdentifier": null, "userPrincipalName": "a@b"})
        ));
        // Unread: the nested $select ignored (default properties, no SID key)...
        assert!(unread(
            json!({"@odata.type": user, "id": "u", "displayName": "A", "userPrincipalName": "a@b"})
        ));
        // ... and "limited information" (id and @odata.type, the rest null or absent).
        assert!(unread(json!({"@odata.type": user, "id": "u"})));
        assert!(unread(
            json!({"@odata.type": user, "id": "u", "onPremisesSecurityIdentifier": null, "userPrincipalName": null})
        ));
        // Another kind of directory object has no SID to read.
        assert!(!unread(json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": "s"})));
    }

    #[test]
    fn a_relationship_with_an_unread_user_is_not_read_and_an_empty_one_is() {
        let d = |owners: Value| {
            Device::from_json(json!({"id": "d", "registeredOwners": owners})).unwrap()
        };
        let sid = json!({"id": "u", "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-500", "userPrincipalName": "a@b"});
        assert_eq!(d(json!([sid.clone()])).registered_owners.map(|o| o.len()), Some(1));
        assert_eq!(d(json!([])).registered_owners, Some(Vec::new()), "explicitly empty");
        assert_eq!(d(json!([sid, {"id": "v"}])).registered_owners, None, "unread");
    }
}

#[cfg(test)]
mod binary_tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    #[test]
    fn edm_binary_is_base64_or_base64url_with_or_without_padding() {
        // Bytes whose encodings use '+' and '/' (or '-' and '_') and need padding.
        let bytes: Vec<u8> = vec![0xfb, 0xff, 0xbf, 0x3e, 0x00];
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let text = engine.encode(&bytes);
            assert_eq!(decode_binary(&text).unwrap(), bytes, "{text}");
        }
        assert!(decode_binary("not base64!").is_err());
        let key =
            AlternativeSecurityId::x509_key("1BBF43F156D6544D87BD98580273C75F0344DA56", "aGFzaA==");
        let url = URL_SAFE_NO_PAD.encode(STANDARD.decode(&key).unwrap());
        let a = AlternativeSecurityId { kind: Some(2), identity_provider: None, key: Some(url) };
        assert_eq!(a.thumbprint().as_deref(), Some("1BBF43F156D6544D87BD98580273C75F0344DA56"));
    }

    #[test]
    fn an_absent_property_reads_as_null_and_an_absent_relationship_as_unread() {
        let d = Device::from_json(serde_json::json!({"id": "d", "deviceId": "x"})).unwrap();
        assert_eq!((d.display_name, d.account_enabled, d.registered_owners), (None, None, None));
        let d = Device::from_json(serde_json::json!({"id": "d", "registeredUsers": null})).unwrap();
        assert_eq!(d.registered_users, None, "null is not an empty relationship");
    }
}

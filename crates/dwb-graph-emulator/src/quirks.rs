//! Documented ways a real tenant answers differently from what a client asks,
//! as switchable modes of the emulated tenant, so dwb's tests cover them. Off
//! by default: the emulator then answers exactly what it is asked.
//!
//! "Limited information" (a user relationship read without User.Read.All: only
//! `@odata.type` and `id`) is [`crate::EmulatorState::user_read_all`].

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The modes; see each field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Quirks {
    /// A `$select` nested in `$expand` is ignored: expanded users come back with
    /// their default properties (no `onPremisesSecurityIdentifier`). Graph known
    /// issues, query parameters: "No support for nesting other query parameters
    /// such as `$filter` and `$select` inside an `$expand` query" on directory
    /// objects, and unsupported query parameters "might fail silently".
    pub expand_select_ignored: bool,
    /// `alternativeSecurityIds[].key` (`Edm.Binary`) sent base64url-encoded
    /// without padding: OData JSON format v4.01 §7.1 ("Edm.Binary ... base64url
    /// encoding"), which Graph's own keys do not use but the contract allows.
    pub base64url_keys: bool,
    /// Selected device properties that are null are left out of the object
    /// instead of being sent as `null` (OData allows omitting them; Graph does
    /// not promise either).
    pub absent_nulls: bool,
    /// `$expand=registeredUsers` on `/devices` is refused with 400, as an
    /// independent Graph service did; per-device lookups still work.
    pub expand_users_rejected: bool,
    /// `/devices/delta` is refused with 400 "Change tracking is not supported",
    /// as a national cloud answered for another resource's delta (an older "Use
    /// delta query" page said delta exists on the public and China clouds only).
    pub delta_unavailable: bool,
}

/// A device object as the modes present it (after `$select`).
pub(crate) fn present(q: &Quirks, item: &mut Map<String, Value>) {
    if q.base64url_keys
        && let Some(Value::Array(ids)) = item.get_mut("alternativeSecurityIds")
    {
        for a in ids.iter_mut() {
            let Some(key) = a.get_mut("key") else { continue };
            if let Some(bytes) = key.as_str().and_then(|k| STANDARD.decode(k).ok()) {
                *key = Value::String(URL_SAFE_NO_PAD.encode(bytes));
            }
        }
    }
    if q.absent_nulls {
        item.retain(|k, v| k == "id" || !v.is_null());
    }
}

/// The properties Graph returns for a user without `$select` ("user resource
/// type": the default set of v1.0).
pub(crate) const USER_DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

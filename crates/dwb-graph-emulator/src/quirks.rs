//! Documented ways a real tenant answers differently from what a client asks,
//! as switchable modes of the emulated tenant, so dwb's tests cover them. Off
//! by default: the emulator then answers exactly what it is asked.
//!
//! "Limited information" (a user relationship read without User.Read.All: only
//! `@odata.type` and `id`) is [`crate::EmulatorState::user_read_all`].

use serde::{Deserialize, Serialize};

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

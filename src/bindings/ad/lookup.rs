//! What the forest defines: `ad::schema_has_class`, `ad::schema_has_attribute`,
//! `ad::attribute_syntax`, `ad::schema_version`, and accounts
//! (`ad::resolve_account`).

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString, Map, Module};

use super::naming::with_root;
use crate::ad::{accounts, discovery};
use crate::bindings::register::{RhaiResult, bind};
use crate::host::Host;

fn account_map(a: accounts::Account) -> Map {
    let mut m = Map::new();
    m.insert("dn".into(), Dynamic::from(a.dn));
    m.insert("sid".into(), Dynamic::from(a.sid));
    m.insert("guid".into(), a.guid.map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    m.insert(
        "sam_account_name".into(),
        a.sam_account_name.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert(
        "user_principal_name".into(),
        a.user_principal_name.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m
}

/// Registers the schema and account lookups.
pub(super) fn register(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// True when the schema defines this object class (by lDAPDisplayName), as the Entra Connect wizard checks for msDS-DeviceContainer.
        /// # Example
        /// ```rhai
        /// if !ad::schema_has_class("msDS-DeviceContainer") {
        ///     report::finding("schema", "fail", "msDS-DeviceContainer is missing", "run adprep /forestprep");
        /// }
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no schemaNamingContext.
        m,
        "schema_has_class",
        ["name"],
        move |n: ImmutableString| -> RhaiResult<bool> {
            with_root(&h, |d, r| discovery::schema_has_class(d, r, &n))
        },
    );
    let h = host.clone();
    bind!(
        /// True when the schema defines this attribute (by lDAPDisplayName), e.g. msDS-IsCompliant (Windows Server 2016 schema).
        /// # Example
        /// ```rhai
        /// let compliance = ad::schema_has_attribute("msDS-IsCompliant");
        /// print(if compliance { "msDS-IsCompliant is written back" } else { "2012 R2 schema" });
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no schemaNamingContext.
        m,
        "schema_has_attribute",
        ["name"],
        move |n: ImmutableString| -> RhaiResult<bool> {
            with_root(&h, |d, r| discovery::schema_has_attribute(d, r, &n))
        },
    );
    let h = host.clone();
    bind!(
        /// The attribute's `attributeSyntax` OID from the schema (2.5.5.10 octet string, 2.5.5.12 Unicode, 2.5.5.1 DN, 2.5.5.8 Boolean, …), or `""` when the schema has no such attribute.
        /// # Example
        /// ```rhai
        /// let oid = ad::attribute_syntax("msDS-CloudAnchor");   // "2.5.5.10": bytes, not text
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no schemaNamingContext.
        m,
        "attribute_syntax",
        ["name"],
        move |n: ImmutableString| -> RhaiResult<String> {
            with_root(&h, |d, r| Ok(discovery::attribute_syntax(d, r, &n)?.unwrap_or_default()))
        },
    );
    let h = host.clone();
    bind!(
        /// The schema's objectVersion (69 = Windows Server 2012 R2, 85 = 2016, 88 = 2019), or -1 when unknown. `verify` fails below 69; what dwb writes is decided by class and attribute presence.
        /// # Example
        /// ```rhai
        /// let v = ad::schema_version();
        /// if v >= 0 && v < 69 { report::warn(`schema objectVersion ${v} is older than 2012 R2`); }
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no schemaNamingContext.
        m,
        "schema_version",
        [],
        move || -> RhaiResult<i64> {
            with_root(&h, |d, r| Ok(discovery::schema_version(d, r)?.map(i64::from).unwrap_or(-1)))
        },
    );
    let h = host.clone();
    bind!(
        /// Resolves `DOMAIN\name`, a UPN, a sAMAccountName, a DN or a SID string to `#{ dn, sid, guid, sam_account_name, user_principal_name }` (`dn` a `Dn`, `sid` a `Sid`, `guid` a `Guid`; the names may be `()`).
        /// # Example
        /// ```rhai
        /// let acct = ad::resolve_account("CONTOSO\\svc-dwb");
        /// print(`${acct.dn} ${acct.sid}`);
        /// ```
        /// # Errors
        /// `not_found` (no such account, or an unknown `DOMAIN\` prefix), `ambiguous` (several accounts match), `invalid_argument` (empty name), `invalid_value` (the object is not a security principal).
        m,
        "resolve_account",
        ["name"],
        move |n: ImmutableString| -> RhaiResult<Map> {
            with_root(&h, |d, r| accounts::resolve_account(d, r, &n).map(account_map))
        },
    );
}

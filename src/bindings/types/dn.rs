//! `Dn` in scripts: its methods, properties and comparisons.

use rhai::{ImmutableString, Module};

use crate::bindings::register::{OrRhai, bind};
use crate::directory::Dn;

use super::G;

/// Registers `Dn`'s methods and properties.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// The DN as an RFC 4514 string, with values escaped.
        /// # Example
        /// ```rhai
        /// let text = ad::domain_dn().child("CN", "Smith, John").to_string();   // CN=Smith\, John,DC=contoso,DC=test
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_string",
        ["dn"],
        |d: &mut Dn| d.to_string(),
    );
    bind!(
        /// The DN for debug output (`Dn(…)`, as `debug` and printed maps show it).
        /// # Example
        /// ```rhai
        /// debug(ad::dn("CN=RegisteredDevices,DC=contoso,DC=test"));   // Dn(CN=RegisteredDevices,DC=contoso,DC=test)
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_debug",
        ["dn"],
        |d: &mut Dn| format!("Dn({d})"),
    );
    bind!(
        /// The parent DN (the root DN for a top-level object).
        /// # Example
        /// ```rhai
        /// ad::dn("CN=RegisteredDevices,DC=contoso,DC=test").parent()   // DC=contoso,DC=test
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "parent",
        ["dn"],
        |d: &mut Dn| d.parent().unwrap_or_default(),
    );
    bind!(
        /// A child DN `attr=value,<dn>`. The value is taken literally and escaped: any characters are safe.
        /// # Example
        /// ```rhai
        /// let c = ad::domain_dn().child("CN", "RegisteredDevices");   // CN=RegisteredDevices,DC=contoso,DC=test
        /// let d = c.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70");
        /// ```
        /// # Errors
        /// `invalid_dn` for an empty value or a bad attribute type.
        m,
        G,
        "child",
        ["dn", "attr", "value"],
        |d: &mut Dn, a: ImmutableString, v: ImmutableString| d.child(&a, &v).rhai(),
    );
    bind!(
        /// The first RDN's value, unescaped (`Users` for `CN=Users,DC=…`).
        /// # Example
        /// ```rhai
        /// let dev = ad::dn("CN=265b893a-67d9-4107-b218-39acc36e1a70,CN=RegisteredDevices,DC=contoso,DC=test");
        /// print(dev.rdn_value);   // 265b893a-67d9-4107-b218-39acc36e1a70
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "get$rdn_value",
        ["dn"],
        |d: &mut Dn| d.rdn_value().unwrap_or_default().to_string(),
    );
    bind!(
        /// Number of RDNs.
        /// # Example
        /// ```rhai
        /// print(ad::dn("CN=RegisteredDevices,DC=contoso,DC=test").depth);   // 3
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "get$depth",
        ["dn"],
        |d: &mut Dn| d.depth() as i64,
    );
    bind!(
        /// True when the DN is `other` or below it (case-insensitive).
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let dev = devices.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70");
        /// print(dev.is_within(ad::dn("dc=contoso,dc=test")));   // true
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "is_within",
        ["dn", "other"],
        |d: &mut Dn, o: Dn| d.is_within(&o),
    );
    bind!(
        /// True when the DN is an immediate child of `other`.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let dev = devices.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70");
        /// print(dev.is_child_of(devices));   // true
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "is_child_of",
        ["dn", "other"],
        |d: &mut Dn, o: Dn| d.is_child_of(&o),
    );
}

/// Registers `Dn`'s comparisons and string concatenation.
pub(super) fn register_operators(m: &mut Module) {
    bind!(
        /// Case-insensitive DN comparison.
        /// # Example
        /// ```rhai
        /// print(ad::dn("cn=users,dc=contoso,dc=test") == ad::dn("CN=Users,DC=contoso,DC=test"));   // true
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "==",
        ["a", "b"],
        |a: &mut Dn, b: Dn| *a == b,
    );
    bind!(
        /// Case-insensitive DN comparison.
        /// # Example
        /// ```rhai
        /// import "dwb/names" as names;
        /// let config = ad::config_dn();
        /// let drs = ad::get(names::drs_dn(config));
        /// if drs.dn != names::drs_dn(config) { report::warn(`found at ${drs.dn}`); }
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "!=",
        ["a", "b"],
        |a: &mut Dn, b: Dn| *a != b,
    );
    bind!(
        /// Compares a DN with a DN string, case-insensitively (false when the string is not a DN).
        /// # Example
        /// ```rhai
        /// print(ad::domain_dn() == "dc=CONTOSO,dc=test");   // true
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "==",
        ["a", "b"],
        |a: &mut Dn, b: ImmutableString| Dn::parse(&b).is_ok_and(|b| *a == b),
    );
    bind!(
        /// Concatenates a string and a DN's string form.
        /// # Example
        /// ```rhai
        /// print("device container: " + ad::domain_dn().child("CN", "RegisteredDevices"));
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "+",
        ["s", "dn"],
        |s: ImmutableString, d: Dn| format!("{s}{d}"),
    );
    bind!(
        /// Concatenates a DN's string form and a string.
        /// # Example
        /// ```rhai
        /// report::warn(ad::domain_dn().child("CN", "RegisteredDevices") + " is missing");
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "+",
        ["dn", "s"],
        |d: &mut Dn, s: ImmutableString| format!("{d}{s}"),
    );
}

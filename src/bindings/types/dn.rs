//! `Dn` in scripts: its methods, properties and comparisons.

use rhai::{ImmutableString, Module};

use crate::bindings::register::{OrRhai, reg_ns};
use crate::directory::Dn;

use super::G;

/// Registers `Dn`'s methods and properties.
pub(super) fn register(m: &mut Module) {
    reg_ns(
        m,
        G,
        "to_string",
        &["dn"],
        "The DN as an RFC 4514 string, with values escaped.\n\
         # Example\n\
         ```rhai\n\
         let text = ad::domain_dn().child(\"CN\", \"Smith, John\").to_string();   // CN=Smith\\, \
         John,DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn| d.to_string(),
    );
    reg_ns(
        m,
        G,
        "to_debug",
        &["dn"],
        "The DN for debug output (`Dn(…)`, as `debug` and printed maps show it).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\"));   // \
         Dn(CN=RegisteredDevices,DC=contoso,DC=test)\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn| format!("Dn({d})"),
    );
    reg_ns(
        m,
        G,
        "parent",
        &["dn"],
        "The parent DN (the root DN for a top-level object).\n\
         # Example\n\
         ```rhai\n\
         ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\").parent()   // DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn| d.parent().unwrap_or_default(),
    );
    reg_ns(
        m,
        G,
        "child",
        &["dn", "attr", "value"],
        "A child DN `attr=value,<dn>`. The value is taken literally and escaped: any characters \
         are safe.\n\
         # Example\n\
         ```rhai\n\
         let c = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");   // \
         CN=RegisteredDevices,DC=contoso,DC=test\n\
         let d = c.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\");\n\
         ```\n\
         # Errors\n\
         `invalid_dn` for an empty value or a bad attribute type.",
        |d: &mut Dn, a: ImmutableString, v: ImmutableString| d.child(&a, &v).rhai(),
    );
    reg_ns(
        m,
        G,
        "get$rdn_value",
        &["dn"],
        "The first RDN's value, unescaped (`Users` for `CN=Users,DC=…`).\n\
         # Example\n\
         ```rhai\n\
         let dev = \
         ad::dn(\"CN=265b893a-67d9-4107-b218-39acc36e1a70,CN=RegisteredDevices,DC=contoso,DC=t\
         est\");\n\
         print(dev.rdn_value);   // 265b893a-67d9-4107-b218-39acc36e1a70\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn| d.rdn_value().unwrap_or_default().to_string(),
    );
    reg_ns(
        m,
        G,
        "get$depth",
        &["dn"],
        "Number of RDNs.\n\
         # Example\n\
         ```rhai\n\
         print(ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\").depth);   // 3\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn| d.depth() as i64,
    );
    reg_ns(
        m,
        G,
        "is_within",
        &["dn", "other"],
        "True when the DN is `other` or below it (case-insensitive).\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let dev = devices.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\");\n\
         print(dev.is_within(ad::dn(\"dc=contoso,dc=test\")));   // true\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn, o: Dn| d.is_within(&o),
    );
    reg_ns(
        m,
        G,
        "is_child_of",
        &["dn", "other"],
        "True when the DN is an immediate child of `other`.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let dev = devices.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\");\n\
         print(dev.is_child_of(devices));   // true\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn, o: Dn| d.is_child_of(&o),
    );
}

/// Registers `Dn`'s comparisons and string concatenation.
pub(super) fn register_operators(m: &mut Module) {
    reg_ns(
        m,
        G,
        "==",
        &["a", "b"],
        "Case-insensitive DN comparison.\n\
         # Example\n\
         ```rhai\n\
         print(ad::dn(\"cn=users,dc=contoso,dc=test\") == \
         ad::dn(\"CN=Users,DC=contoso,DC=test\"));   // true\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Dn, b: Dn| *a == b,
    );
    reg_ns(
        m,
        G,
        "!=",
        &["a", "b"],
        "Case-insensitive DN comparison.\n\
         # Example\n\
         ```rhai\n\
         import \"dwb/names\" as names;\n\
         let config = ad::config_dn();\n\
         let drs = ad::get(names::drs_dn(config));\n\
         if drs.dn != names::drs_dn(config) { report::warn(`found at ${drs.dn}`); }\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Dn, b: Dn| *a != b,
    );
    reg_ns(
        m,
        G,
        "==",
        &["a", "b"],
        "Compares a DN with a DN string, case-insensitively (false when the string is not a DN).\n\
         # Example\n\
         ```rhai\n\
         print(ad::domain_dn() == \"dc=CONTOSO,dc=test\");   // true\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Dn, b: ImmutableString| Dn::parse(&b).is_ok_and(|b| *a == b),
    );
    reg_ns(
        m,
        G,
        "+",
        &["s", "dn"],
        "Concatenates a string and a DN's string form.\n\
         # Example\n\
         ```rhai\n\
         print(\"device container: \" + ad::domain_dn().child(\"CN\", \"RegisteredDevices\"));\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString, d: Dn| format!("{s}{d}"),
    );
    reg_ns(
        m,
        G,
        "+",
        &["dn", "s"],
        "Concatenates a DN's string form and a string.\n\
         # Example\n\
         ```rhai\n\
         report::warn(ad::domain_dn().child(\"CN\", \"RegisteredDevices\") + \" is missing\");\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn, s: ImmutableString| format!("{d}{s}"),
    );
}

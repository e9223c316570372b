//! dwb's typed values in scripts: `Dn`, `Guid`, `Sid`, `Filter`, `Entry` and
//! `SecurityDescriptor`, with their methods and properties.

use rhai::{Array, Dynamic, FnNamespace, ImmutableString, Map, Module};

use super::convert::from_value;
use super::values::{EntryValue, SdValue};
use super::{OrRhai, reg_ns};
use crate::directory::{Dn, Entry, Filter, Guid, Sid};

const G: FnNamespace = FnNamespace::Global;

/// The global module holding the types' methods.
pub fn module() -> Module {
    let mut m = Module::new();
    m.set_custom_type::<Dn>("Dn");
    m.set_custom_type::<Guid>("Guid");
    m.set_custom_type::<Sid>("Sid");
    m.set_custom_type::<Filter>("Filter");
    m.set_custom_type::<EntryValue>("Entry");
    m.set_custom_type::<SdValue>("SecurityDescriptor");

    // Dn
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["dn: Dn", "-> String"],
        "The DN as an RFC 4514 string, with values escaped.",
        |d: &mut Dn| d.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["dn: Dn", "-> String"],
        "The DN for debug output.",
        |d: &mut Dn| format!("Dn({d})"),
    );
    reg_ns(
        &mut m,
        G,
        "parent",
        &["dn: Dn", "-> Dn"],
        "The parent DN (the root DN for a top-level object).\n# Example\n```rhai\nad::dn(\"CN=x,DC=contoso,DC=test\").parent()   // DC=contoso,DC=test\n```",
        |d: &mut Dn| d.parent().unwrap_or_default(),
    );
    reg_ns(
        &mut m,
        G,
        "child",
        &["dn: Dn", "attr: String", "value: String", "-> Dn"],
        "A child DN `attr=value,<dn>`. The value is taken literally and escaped: any characters are safe.\n# Example\n```rhai\nlet c = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n```\n# Errors\n`invalid_dn` for an empty value or a bad attribute type.",
        |d: &mut Dn, a: ImmutableString, v: ImmutableString| d.child(&a, &v).rhai(),
    );
    reg_ns(
        &mut m,
        G,
        "get$rdn_value",
        &["dn: Dn", "-> String"],
        "The first RDN's value, unescaped (`Users` for `CN=Users,DC=…`).",
        |d: &mut Dn| d.rdn_value().unwrap_or_default().to_string(),
    );
    reg_ns(&mut m, G, "get$depth", &["dn: Dn", "-> i64"], "Number of RDNs.", |d: &mut Dn| {
        d.depth() as i64
    });
    reg_ns(
        &mut m,
        G,
        "is_within",
        &["dn: Dn", "other: Dn", "-> bool"],
        "True when the DN is `other` or below it (case-insensitive).",
        |d: &mut Dn, o: Dn| d.is_within(&o),
    );
    reg_ns(
        &mut m,
        G,
        "is_child_of",
        &["dn: Dn", "other: Dn", "-> bool"],
        "True when the DN is an immediate child of `other`.",
        |d: &mut Dn, o: Dn| d.is_child_of(&o),
    );
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Dn", "b: Dn", "-> bool"],
        "Case-insensitive DN comparison.",
        |a: &mut Dn, b: Dn| *a == b,
    );
    reg_ns(
        &mut m,
        G,
        "!=",
        &["a: Dn", "b: Dn", "-> bool"],
        "Case-insensitive DN comparison.",
        |a: &mut Dn, b: Dn| *a != b,
    );
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Dn", "b: String", "-> bool"],
        "Compares a DN with a DN string, case-insensitively.",
        |a: &mut Dn, b: ImmutableString| Dn::parse(&b).is_ok_and(|b| *a == b),
    );
    reg_ns(
        &mut m,
        G,
        "+",
        &["s: String", "dn: Dn", "-> String"],
        "Concatenates a string and a DN's string form.",
        |s: ImmutableString, d: Dn| format!("{s}{d}"),
    );
    reg_ns(
        &mut m,
        G,
        "+",
        &["dn: Dn", "s: String", "-> String"],
        "Concatenates a DN's string form and a string.",
        |d: &mut Dn, s: ImmutableString| format!("{d}{s}"),
    );

    // Guid
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["g: Guid", "-> String"],
        "The canonical lower-case GUID string (as Graph's `deviceId`).",
        |g: &mut Guid| g.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["g: Guid", "-> String"],
        "The GUID for debug output.",
        |g: &mut Guid| format!("Guid({g})"),
    );
    reg_ns(
        &mut m,
        G,
        "bytes",
        &["g: Guid", "-> Blob"],
        "The 16 bytes in AD's order (objectGUID, msDS-DeviceID).",
        |g: &mut Guid| g.to_bytes().to_vec(),
    );
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Guid", "b: Guid", "-> bool"],
        "GUID equality.",
        |a: &mut Guid, b: Guid| *a == b,
    );
    reg_ns(
        &mut m,
        G,
        "!=",
        &["a: Guid", "b: Guid", "-> bool"],
        "GUID inequality.",
        |a: &mut Guid, b: Guid| *a != b,
    );
    reg_ns(
        &mut m,
        G,
        "+",
        &["s: String", "g: Guid", "-> String"],
        "Concatenates a string and a GUID's string form.",
        |s: ImmutableString, g: Guid| format!("{s}{g}"),
    );

    // Sid
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["s: Sid", "-> String"],
        "The `S-1-5-…` form.",
        |s: &mut Sid| s.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["s: Sid", "-> String"],
        "The SID for debug output.",
        |s: &mut Sid| format!("Sid({s})"),
    );
    reg_ns(
        &mut m,
        G,
        "bytes",
        &["s: Sid", "-> Blob"],
        "The binary form (objectSid, msDS-RegisteredOwner).",
        |s: &mut Sid| s.to_bytes(),
    );
    reg_ns(
        &mut m,
        G,
        "get$rid",
        &["s: Sid", "-> i64"],
        "The last sub-authority (the account's RID).",
        |s: &mut Sid| s.rid().map(i64::from).unwrap_or(-1),
    );
    reg_ns(
        &mut m,
        G,
        "domain",
        &["s: Sid", "-> Sid"],
        "The SID without its RID (an account's domain SID).",
        |s: &mut Sid| s.domain().unwrap_or_else(|| s.clone()),
    );
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Sid", "b: Sid", "-> bool"],
        "SID equality.",
        |a: &mut Sid, b: Sid| *a == b,
    );
    reg_ns(
        &mut m,
        G,
        "!=",
        &["a: Sid", "b: Sid", "-> bool"],
        "SID inequality.",
        |a: &mut Sid, b: Sid| *a != b,
    );
    reg_ns(
        &mut m,
        G,
        "+",
        &["s: String", "sid: Sid", "-> String"],
        "Concatenates a string and a SID's string form.",
        |s: ImmutableString, x: Sid| format!("{s}{x}"),
    );

    // Filter
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["f: Filter", "-> String"],
        "The filter as an RFC 4515 string, with values escaped.",
        |f: &mut Filter| f.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["f: Filter", "-> String"],
        "The filter for debug output.",
        |f: &mut Filter| format!("Filter({f})"),
    );

    // Entry
    reg_ns(&mut m, G, "get$dn", &["e: Entry", "-> Dn"], "The entry's DN.", |e: &mut EntryValue| {
        e.0.dn.clone()
    });
    reg_ns(
        &mut m,
        G,
        "index$get$",
        &["e: Entry", "attr: String", "-> ?"],
        "The first value of an attribute, typed by its syntax (String, Guid, Sid, Blob, SecurityDescriptor), or `()` when absent. Names match case-insensitively.\n# Example\n```rhai\nlet loc = drs[\"msDS-DeviceLocation\"];\n```",
        |e: &mut EntryValue, a: ImmutableString| {
            e.0.get(&a).first().map(|v| from_value(&a, v)).unwrap_or(Dynamic::UNIT)
        },
    );
    reg_ns(
        &mut m,
        G,
        "values",
        &["e: Entry", "attr: String", "-> Array"],
        "All values of an attribute, typed by its syntax; empty when absent.",
        |e: &mut EntryValue, a: ImmutableString| {
            e.0.get(&a).iter().map(|v| from_value(&a, v)).collect::<Array>()
        },
    );
    reg_ns(
        &mut m,
        G,
        "has",
        &["e: Entry", "attr: String", "-> bool"],
        "True when the attribute has at least one value.",
        |e: &mut EntryValue, a: ImmutableString| e.0.has(&a),
    );
    reg_ns(
        &mut m,
        G,
        "is_a",
        &["e: Entry", "class: String", "-> bool"],
        "True when `objectClass` contains `class` (case-insensitive).",
        |e: &mut EntryValue, c: ImmutableString| e.0.is_a(&c),
    );
    reg_ns(
        &mut m,
        G,
        "attributes",
        &["e: Entry", "-> Array"],
        "The names of the attributes the entry has.",
        |e: &mut EntryValue| e.0.names().into_iter().map(Dynamic::from).collect::<Array>(),
    );
    reg_ns(
        &mut m,
        G,
        "to_map",
        &["e: Entry", "-> Map"],
        "The entry as a map: `dn` plus each attribute (single values unwrapped, multiple values as arrays).",
        |e: &mut EntryValue| entry_map(&e.0),
    );
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["e: Entry", "-> String"],
        "The entry's DN as a string.",
        |e: &mut EntryValue| e.0.dn.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["e: Entry", "-> String"],
        "The entry for debug output.",
        |e: &mut EntryValue| format!("Entry({})", e.0.dn),
    );

    // SecurityDescriptor
    reg_ns(
        &mut m,
        G,
        "bytes",
        &["sd: SecurityDescriptor", "-> Blob"],
        "The self-relative binary form.",
        |s: &mut SdValue| s.bytes.clone(),
    );
    reg_ns(
        &mut m,
        G,
        "to_sddl",
        &["sd: SecurityDescriptor", "-> String"],
        "The descriptor as SDDL (domain-relative SIDs as aliases when the domain is known).\n# Errors\n`security_descriptor` when it is malformed.",
        |s: &mut SdValue| -> super::RhaiResult<String> { super::values::sddl(s).rhai() },
    );
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["sd: SecurityDescriptor", "-> String"],
        "The descriptor as SDDL, or a note when it cannot be parsed.",
        |s: &mut SdValue| super::values::sddl(s).unwrap_or_else(|e| format!("<{e}>")),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["sd: SecurityDescriptor", "-> String"],
        "The descriptor for debug output.",
        |s: &mut SdValue| {
            format!(
                "SecurityDescriptor({})",
                super::values::sddl(s).unwrap_or_else(|e| e.to_string())
            )
        },
    );
    reg_ns(
        &mut m,
        G,
        "aces",
        &["sd: SecurityDescriptor", "-> Array"],
        "The DACL's ACEs as maps `#{ type, flags, rights, mask, object_type, inherited_object_type, trustee, inherited }`.",
        |s: &mut SdValue| -> super::RhaiResult<Array> { super::values::aces(s).rhai() },
    );
    m
}

/// An entry as a plain map (for dumps and JSON).
pub fn entry_map(e: &Entry) -> Map {
    let mut map = Map::new();
    map.insert("dn".into(), e.dn.to_string().into());
    for a in e.attrs() {
        let vals: Array = a.values.iter().map(|v| from_value(&a.name, v)).collect();
        let v = if vals.len() == 1 {
            vals.into_iter().next().unwrap_or(Dynamic::UNIT)
        } else {
            Dynamic::from_array(vals)
        };
        map.insert(a.name.as_str().into(), v);
    }
    map
}

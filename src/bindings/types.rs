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
        &mut m,
        G,
        "to_debug",
        &["dn: Dn", "-> String"],
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
        &mut m,
        G,
        "parent",
        &["dn: Dn", "-> Dn"],
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
        &mut m,
        G,
        "child",
        &["dn: Dn", "attr: String", "value: String", "-> Dn"],
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
        &mut m,
        G,
        "get$rdn_value",
        &["dn: Dn", "-> String"],
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
        &mut m,
        G,
        "get$depth",
        &["dn: Dn", "-> i64"],
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
        &mut m,
        G,
        "is_within",
        &["dn: Dn", "other: Dn", "-> bool"],
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
        &mut m,
        G,
        "is_child_of",
        &["dn: Dn", "other: Dn", "-> bool"],
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
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Dn", "b: Dn", "-> bool"],
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
        &mut m,
        G,
        "!=",
        &["a: Dn", "b: Dn", "-> bool"],
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
        &mut m,
        G,
        "==",
        &["a: Dn", "b: String", "-> bool"],
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
        &mut m,
        G,
        "+",
        &["s: String", "dn: Dn", "-> String"],
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
        &mut m,
        G,
        "+",
        &["dn: Dn", "s: String", "-> String"],
        "Concatenates a DN's string form and a string.\n\
         # Example\n\
         ```rhai\n\
         report::warn(ad::domain_dn().child(\"CN\", \"RegisteredDevices\") + \" is missing\");\n\
         ```\n\
         # Errors\n\
         None.",
        |d: &mut Dn, s: ImmutableString| format!("{d}{s}"),
    );

    // Guid
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["g: Guid", "-> String"],
        "The canonical lower-case GUID string (as Graph's `deviceId`).\n\
         # Example\n\
         ```rhai\n\
         let id = ad::guid(\"{4C299165-6E8F-4B45-A5BA-C5D250A707FF}\").to_string();   // \
         4c299165-6e8f-…\n\
         ```\n\
         # Errors\n\
         None.",
        |g: &mut Guid| g.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["g: Guid", "-> String"],
        "The GUID for debug output (`Guid(…)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::guid(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\"));   // \
         Guid(4c299165-6e8f-4b45-a5ba-c5d250a707ff)\n\
         ```\n\
         # Errors\n\
         None.",
        |g: &mut Guid| format!("Guid({g})"),
    );
    reg_ns(
        &mut m,
        G,
        "bytes",
        &["g: Guid", "-> Blob"],
        "The 16 bytes in AD's order (objectGUID, msDS-DeviceID): the first three fields \
         little-endian.\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::guid(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\").bytes();   // \
         [6591294c8f6e454b …]\n\
         ```\n\
         # Errors\n\
         None.",
        |g: &mut Guid| g.to_bytes().to_vec(),
    );
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Guid", "b: Guid", "-> bool"],
        "GUID equality.\n\
         # Example\n\
         ```rhai\n\
         let users = ad::get(\"CN=Users,DC=contoso,DC=test\");\n\
         print(users[\"objectGUID\"] == ad::guid(\"fac5f439-ffec-4235-9b93-51ec0a51909d\"));\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Guid, b: Guid| *a == b,
    );
    reg_ns(
        &mut m,
        G,
        "!=",
        &["a: Guid", "b: Guid", "-> bool"],
        "GUID inequality.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let dev = ad::get(devices.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\"));\n\
         if dev[\"msDS-DeviceID\"] != ad::guid(\"265b893a-67d9-4107-b218-39acc36e1a70\") { \
         print(\"renamed?\"); }\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Guid, b: Guid| *a != b,
    );
    reg_ns(
        &mut m,
        G,
        "+",
        &["s: String", "g: Guid", "-> String"],
        "Concatenates a string and a GUID's string form.\n\
         # Example\n\
         ```rhai\n\
         print(\"deviceId \" + ad::guid(\"265b893a-67d9-4107-b218-39acc36e1a70\"));\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString, g: Guid| format!("{s}{g}"),
    );

    // Sid
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["s: Sid", "-> String"],
        "The `S-1-5-…` form.\n\
         # Example\n\
         ```rhai\n\
         report::set(\"connector_sid\", \
         ad::resolve_account(\"CONTOSO\\\\svc-dwb\").sid.to_string());\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["s: Sid", "-> String"],
        "The SID for debug output (`Sid(…)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::domain_sid());   // Sid(S-1-5-21-…)\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| format!("Sid({s})"),
    );
    reg_ns(
        &mut m,
        G,
        "bytes",
        &["s: Sid", "-> Blob"],
        "The binary form (objectSid, msDS-RegisteredOwner).\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\").bytes();   // 28 \
         bytes\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.to_bytes(),
    );
    reg_ns(
        &mut m,
        G,
        "get$rid",
        &["s: Sid", "-> i64"],
        "The last sub-authority (the account's RID), or -1 for a SID without sub-authorities.\n\
         # Example\n\
         ```rhai\n\
         print(ad::sid(\"S-1-5-21-3651501729-163766517-147658709-512\").rid);   // 512: Domain \
         Admins\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.rid().map(i64::from).unwrap_or(-1),
    );
    reg_ns(
        &mut m,
        G,
        "domain",
        &["s: Sid", "-> Sid"],
        "The SID without its RID (an account's domain SID).\n\
         # Example\n\
         ```rhai\n\
         let acct = ad::resolve_account(\"CONTOSO\\\\svc-dwb\");\n\
         print(acct.sid.domain() == ad::domain_sid());   // true: an account of the bound domain\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.domain().unwrap_or_else(|| s.clone()),
    );
    reg_ns(
        &mut m,
        G,
        "==",
        &["a: Sid", "b: Sid", "-> bool"],
        "SID equality.\n\
         # Example\n\
         ```rhai\n\
         let owner = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\");\n\
         print(owner == ad::resolve_account(\"CONTOSO\\\\svc-dwb\").sid);\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Sid, b: Sid| *a == b,
    );
    reg_ns(
        &mut m,
        G,
        "!=",
        &["a: Sid", "b: Sid", "-> bool"],
        "SID inequality.\n\
         # Example\n\
         ```rhai\n\
         let acct = ad::resolve_account(\"CONTOSO\\\\svc-dwb\");\n\
         if acct.sid.domain() != ad::domain_sid() { print(\"the account is from another domain\"); \
         }\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Sid, b: Sid| *a != b,
    );
    reg_ns(
        &mut m,
        G,
        "+",
        &["s: String", "sid: Sid", "-> String"],
        "Concatenates a string and a SID's string form.\n\
         # Example\n\
         ```rhai\n\
         print(\"domain SID \" + ad::domain_sid());\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString, x: Sid| format!("{s}{x}"),
    );

    // Filter
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["f: Filter", "-> String"],
        "The filter as an RFC 4515 string, with values escaped.\n\
         # Example\n\
         ```rhai\n\
         let f = ad::eq(\"displayName\", \"LT-*\").to_string();   // (displayName=LT-\\2a)\n\
         ```\n\
         # Errors\n\
         None.",
        |f: &mut Filter| f.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["f: Filter", "-> String"],
        "The filter for debug output (`Filter(…)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::present(\"msDS-CloudAnchor\"));   // Filter((msDS-CloudAnchor=*))\n\
         ```\n\
         # Errors\n\
         None.",
        |f: &mut Filter| format!("Filter({f})"),
    );

    // Entry
    reg_ns(
        &mut m,
        G,
        "get$dn",
        &["e: Entry", "-> Dn"],
        "The entry's DN.\n\
         # Example\n\
         ```rhai\n\
         for e in ad::list(\"CN=RegisteredDevices,DC=contoso,DC=test\") { print(e.dn.rdn_value); \
         }\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue| e.0.dn.clone(),
    );
    reg_ns(
        &mut m,
        G,
        "index$get$",
        &["e: Entry", "attr: String", "-> ?"],
        "The first value of an attribute, typed by its syntax (String, Guid, Sid, Blob, \
         SecurityDescriptor), or `()` when absent. Names match case-insensitively.\n\
         # Example\n\
         ```rhai\n\
         import \"dwb/names\" as names;\n\
         let drs = ad::get(names::drs_dn(ad::config_dn()));\n\
         let loc = drs[\"msDS-DeviceLocation\"];   // \"CN=RegisteredDevices,DC=contoso,DC=test\", \
         or ()\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue, a: ImmutableString| {
            e.0.get(&a).first().map(|v| from_value(&a, v)).unwrap_or(Dynamic::UNIT)
        },
    );
    reg_ns(
        &mut m,
        G,
        "values",
        &["e: Entry", "attr: String", "-> Array"],
        "All values of an attribute, typed by its syntax; empty when absent.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let dev = ad::get(devices.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\"));\n\
         for id in dev.values(\"msDS-DevicePhysicalIDs\") { print(id); }   // [GID]:g:…, \
         [HWID]:h:…\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue, a: ImmutableString| {
            e.0.get(&a).iter().map(|v| from_value(&a, v)).collect::<Array>()
        },
    );
    reg_ns(
        &mut m,
        G,
        "has",
        &["e: Entry", "attr: String", "-> bool"],
        "True when the attribute has at least one value.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let dev = ad::get(devices.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\"));\n\
         if !dev.has(\"msDS-CloudAnchor\") { print(\"not written by a sync: left alone\"); }\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue, a: ImmutableString| e.0.has(&a),
    );
    reg_ns(
        &mut m,
        G,
        "is_a",
        &["e: Entry", "class: String", "-> bool"],
        "True when `objectClass` contains `class` (case-insensitive).\n\
         # Example\n\
         ```rhai\n\
         let target = ad::get(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         print(target.is_a(\"msDS-DeviceContainer\"));\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue, c: ImmutableString| e.0.is_a(&c),
    );
    reg_ns(
        &mut m,
        G,
        "attributes",
        &["e: Entry", "-> Array"],
        "The names of the attributes the entry has.\n\
         # Example\n\
         ```rhai\n\
         print(ad::get(\"CN=Users,DC=contoso,DC=test\").attributes());   // [\"cn\", \
         \"description\", …]\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue| e.0.names().into_iter().map(Dynamic::from).collect::<Array>(),
    );
    reg_ns(
        &mut m,
        G,
        "to_map",
        &["e: Entry", "-> Map"],
        "The entry as a map: `dn` plus each attribute (single values unwrapped, multiple values as \
         arrays).\n\
         # Example\n\
         ```rhai\n\
         let m = ad::get(\"CN=Users,DC=contoso,DC=test\").to_map();\n\
         report::set(\"users_container\", m);\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue| entry_map(&e.0),
    );
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["e: Entry", "-> String"],
        "The entry's DN as a string.\n\
         # Example\n\
         ```rhai\n\
         let names = ad::list(\"CN=RegisteredDevices,DC=contoso,DC=test\").map(|e| \
         e.to_string());\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue| e.0.dn.to_string(),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["e: Entry", "-> String"],
        "The entry for debug output (`Entry(<dn>)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::get(\"CN=Users,DC=contoso,DC=test\"));   // Entry(CN=Users,DC=contoso,DC=test)\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue| format!("Entry({})", e.0.dn),
    );

    // SecurityDescriptor
    reg_ns(
        &mut m,
        G,
        "bytes",
        &["sd: SecurityDescriptor", "-> Blob"],
        "The self-relative binary form.\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\").bytes();\n\
         print(`${raw.len()} bytes`);\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut SdValue| s.bytes.clone(),
    );
    reg_ns(
        &mut m,
        G,
        "to_sddl",
        &["sd: SecurityDescriptor", "-> String"],
        "The descriptor as SDDL (domain-relative SIDs as aliases when the domain is known).\n\
         # Example\n\
         ```rhai\n\
         print(ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\").to_sddl());   // \
         …D:(OA;;CCDC;…)…\n\
         ```\n\
         # Errors\n\
         `security_descriptor` when it is malformed.",
        |s: &mut SdValue| -> super::RhaiResult<String> { super::values::sddl(s).rhai() },
    );
    reg_ns(
        &mut m,
        G,
        "to_string",
        &["sd: SecurityDescriptor", "-> String"],
        "The descriptor as SDDL, or a note when it cannot be parsed.\n\
         # Example\n\
         ```rhai\n\
         print(`DACL of the device container: \
         ${ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\")}`);\n\
         ```\n\
         # Errors\n\
         None: a malformed descriptor prints as `<…>`.",
        |s: &mut SdValue| super::values::sddl(s).unwrap_or_else(|e| format!("<{e}>")),
    );
    reg_ns(
        &mut m,
        G,
        "to_debug",
        &["sd: SecurityDescriptor", "-> String"],
        "The descriptor for debug output (`SecurityDescriptor(<sddl>)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\"));\n\
         ```\n\
         # Errors\n\
         None.",
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
        "The DACL's ACEs as maps `#{ type, flags, rights, mask, object_type, \
         inherited_object_type, trustee, inherited }`: `type` \"allow\", \"deny\" or \"audit\", \
         `rights` as letters, `mask` a number, the object types `Guid`s or `()`, `trustee` a \
         `Sid`, `inherited` a bool.\n\
         # Example\n\
         ```rhai\n\
         let sd = ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         for ace in sd.aces().filter(|a| !a.inherited) { print(`${ace.type} ${ace.rights} \
         ${ace.trustee}`); }\n\
         ```\n\
         # Errors\n\
         `security_descriptor` when it is malformed.",
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
        map.insert(a.name.as_ref().into(), v);
    }
    map
}

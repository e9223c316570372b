//! `Entry` in scripts: a directory object as a search returned it.

use rhai::{Array, Dynamic, ImmutableString, Map, Module};

use crate::bindings::convert::from_value;
use crate::bindings::register::reg_ns;
use crate::bindings::values::EntryValue;
use crate::directory::Entry;

use super::G;

/// An entry as a plain map (for dumps and JSON).
pub(super) fn entry_map(e: &Entry) -> Map {
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

/// Registers `Entry`'s methods and properties.
pub(super) fn register(m: &mut Module) {
    reg_ns(
        m,
        G,
        "get$dn",
        &["e"],
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
        m,
        G,
        "index$get$",
        &["e", "attr", "-> ?"],
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
        m,
        G,
        "values",
        &["e", "attr"],
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
        m,
        G,
        "has",
        &["e", "attr"],
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
        m,
        G,
        "is_a",
        &["e", "class"],
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
        m,
        G,
        "attributes",
        &["e"],
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
        m,
        G,
        "to_map",
        &["e"],
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
        m,
        G,
        "to_string",
        &["e"],
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
        m,
        G,
        "to_debug",
        &["e"],
        "The entry for debug output (`Entry(<dn>)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::get(\"CN=Users,DC=contoso,DC=test\"));   // Entry(CN=Users,DC=contoso,DC=test)\n\
         ```\n\
         # Errors\n\
         None.",
        |e: &mut EntryValue| format!("Entry({})", e.0.dn),
    );
}

//! `Entry` in scripts: a directory object as a search returned it.

use rhai::{Array, Dynamic, ImmutableString, Map, Module};

use crate::bindings::convert::from_value;
use crate::bindings::register::bind;
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
    bind!(
        /// The entry's DN.
        /// # Example
        /// ```rhai
        /// for e in ad::list("CN=RegisteredDevices,DC=contoso,DC=test") { print(e.dn.rdn_value); }
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "get$dn",
        ["e"],
        |e: &mut EntryValue| e.0.dn.clone(),
    );
    bind!(
        /// The first value of an attribute, typed by its syntax (String, Guid, Sid, Blob, SecurityDescriptor), or `()` when absent. Names match case-insensitively.
        /// # Example
        /// ```rhai
        /// import "dwb/names" as names;
        /// let drs = ad::get(names::drs_dn(ad::config_dn()));
        /// let loc = drs["msDS-DeviceLocation"];   // "CN=RegisteredDevices,DC=contoso,DC=test", or ()
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "index$get$",
        ["e", "attr", "-> ?"],
        |e: &mut EntryValue, a: ImmutableString| {
            e.0.get(&a).first().map(|v| from_value(&a, v)).unwrap_or(Dynamic::UNIT)
        },
    );
    bind!(
        /// All values of an attribute, typed by its syntax; empty when absent.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let dev = ad::get(devices.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70"));
        /// for id in dev.values("msDS-DevicePhysicalIDs") { print(id); }   // [GID]:g:…, [HWID]:h:…
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "values",
        ["e", "attr"],
        |e: &mut EntryValue, a: ImmutableString| {
            e.0.get(&a).iter().map(|v| from_value(&a, v)).collect::<Array>()
        },
    );
    bind!(
        /// True when the attribute has at least one value.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let dev = ad::get(devices.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70"));
        /// if !dev.has("msDS-CloudAnchor") { print("not written by a sync: left alone"); }
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "has",
        ["e", "attr"],
        |e: &mut EntryValue, a: ImmutableString| e.0.has(&a),
    );
    bind!(
        /// True when `objectClass` contains `class` (case-insensitive).
        /// # Example
        /// ```rhai
        /// let target = ad::get("CN=RegisteredDevices,DC=contoso,DC=test");
        /// print(target.is_a("msDS-DeviceContainer"));
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "is_a",
        ["e", "class"],
        |e: &mut EntryValue, c: ImmutableString| e.0.is_a(&c),
    );
    bind!(
        /// The names of the attributes the entry has.
        /// # Example
        /// ```rhai
        /// print(ad::get("CN=Users,DC=contoso,DC=test").attributes());   // ["cn", "description", …]
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "attributes",
        ["e"],
        |e: &mut EntryValue| e.0.names().into_iter().map(Dynamic::from).collect::<Array>(),
    );
    bind!(
        /// The entry as a map: `dn` plus each attribute (single values unwrapped, multiple values as arrays).
        /// # Example
        /// ```rhai
        /// let m = ad::get("CN=Users,DC=contoso,DC=test").to_map();
        /// report::set("users_container", m);
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_map",
        ["e"],
        |e: &mut EntryValue| entry_map(&e.0),
    );
    bind!(
        /// The entry's DN as a string.
        /// # Example
        /// ```rhai
        /// let names = ad::list("CN=RegisteredDevices,DC=contoso,DC=test").map(|e| e.to_string());
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_string",
        ["e"],
        |e: &mut EntryValue| e.0.dn.to_string(),
    );
    bind!(
        /// The entry for debug output (`Entry(<dn>)`).
        /// # Example
        /// ```rhai
        /// debug(ad::get("CN=Users,DC=contoso,DC=test"));   // Entry(CN=Users,DC=contoso,DC=test)
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_debug",
        ["e"],
        |e: &mut EntryValue| format!("Entry({})", e.0.dn),
    );
}

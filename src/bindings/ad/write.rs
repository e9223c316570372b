//! Writes, recorded in the plan after a check against the planned state:
//! `ad::add`, `ad::modify`, `ad::delete`.

use std::sync::Arc;

use rhai::{Dynamic, Map, Module};

use crate::ad::{ModOp, Modification, WriteOp};
use crate::bindings::convert::{to_dn, to_values};
use crate::bindings::options::Options;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::Attr;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::plan::ChangeOp;

/// The `reason` of a write's options map, its only key.
pub(super) fn reason(opts: &Map, func: &str) -> Result<Option<String>> {
    Options::read(opts, func, &["reason"])?.string("reason")
}

/// Records a write in the plan after checking it against the planned state.
pub(super) fn record(host: &Host, op: WriteOp, why: Option<String>) -> Result<()> {
    host.dir()?.check(&op)?;
    host.plan
        .lock()
        .map_err(|_| Error::internal("plan lock poisoned"))?
        .push(ChangeOp::Directory(op), why);
    Ok(())
}

pub(super) fn attrs_from_map(m: &Map) -> Result<Vec<Attr>> {
    m.iter()
        .filter(|(_, v)| !v.is_unit())
        .map(|(k, v)| Ok(Attr::new(k.as_str(), to_values(k, v)?)))
        .collect()
}

fn modify(host: &Host, dn: &Dynamic, changes: &Map, opts: &Map) -> Result<()> {
    let o = Options::read(changes, "ad::modify", &["add", "replace", "delete"])?;
    let why = reason(opts, "ad::modify")?;
    let mut mods = Vec::new();
    for (op_name, op) in
        [("add", ModOp::Add), ("replace", ModOp::Replace), ("delete", ModOp::Delete)]
    {
        let Some(v) = o.value(op_name) else { continue };
        let m = v
            .read_lock::<Map>()
            .ok_or_else(|| o.wrong_type(op_name, "a map of attribute → value(s)", v))?;
        for (k, val) in m.iter() {
            mods.push(Modification { op, attr: k.to_string(), values: to_values(k, val)? });
        }
    }
    if mods.is_empty() {
        return Err(Error::invalid_argument(
            "ad::modify: nothing to change; give #{ replace: #{…} }, #{ add: … } or #{ delete: … }",
        ));
    }
    record(host, WriteOp::Modify { dn: to_dn(dn)?, mods, sd_flags: None }, why)
}

/// Registers the writes.
pub(super) fn register(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Plans creating an object. `attrs` maps attribute names to a value or an array of values (a `()` value is left out); booleans become TRUE/FALSE, GUIDs and SIDs their binary forms, and text for a GUID- or SID-typed attribute (msDS-DeviceID, msDS-RegisteredOwner) is converted.
        /// # Example
        /// ```rhai
        /// let devices = ad::domain_dn().child("CN", "RegisteredDevices");
        /// ad::add(devices, #{ objectClass: "msDS-DeviceContainer" });
        /// ```
        /// # Errors
        /// `already_exists`, `no_such_object` (parent missing) — found when planning, before anything is written; `invalid_dn`, `invalid_value` (e.g. a malformed GUID for msDS-DeviceID), `invalid_argument` (a value that cannot be stored, such as a map).
        m,
        "add",
        ["dn: Dn|String", "attrs"],
        move |d: Dynamic, a: Map| -> RhaiResult<()> {
            let dn = to_dn(&d).rhai()?;
            record(&h, WriteOp::Add { dn, attrs: attrs_from_map(&a).rhai()? }, None).rhai()
        },
    );
    let h = host.clone();
    bind!(
        /// Plans creating an object, with `#{ reason: "…" }` shown in the plan.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// ad::add(devices, #{ objectClass: "msDS-DeviceContainer" },
        ///     #{ reason: "container for written-back devices" });
        /// ```
        /// # Errors
        /// `unknown_option`, `already_exists`, `no_such_object` (parent missing), `invalid_dn`, `invalid_value`, `invalid_argument`.
        m,
        "add",
        ["dn: Dn|String", "attrs", "options"],
        move |d: Dynamic, a: Map, o: Map| -> RhaiResult<()> {
            let why = reason(&o, "ad::add").rhai()?;
            let dn = to_dn(&d).rhai()?;
            record(&h, WriteOp::Add { dn, attrs: attrs_from_map(&a).rhai()? }, why).rhai()
        },
    );
    let h = host.clone();
    bind!(
        /// Plans a modify: `#{ replace: #{attr: v}, add: #{attr: v}, delete: #{attr: () or v} }`. `delete` with `()` removes every value of the attribute; values convert as for `ad::add`.
        /// # Example
        /// ```rhai
        /// import "dwb/names" as names;
        /// ad::modify(names::drs_dn(ad::config_dn()), #{ replace: #{ "msDS-IsEnabled": true } });
        /// ```
        /// # Errors
        /// `no_such_object`, `unknown_option` (a key other than add, replace, delete), `invalid_argument` (nothing to change, or an operation that is not a map), `invalid_value`, `invalid_dn`.
        m,
        "modify",
        ["dn: Dn|String", "changes"],
        move |d: Dynamic, c: Map| modify(&h, &d, &c, &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Plans a modify with `#{ reason: "…" }` shown in the plan.
        /// # Example
        /// ```rhai
        /// let dev = "CN=265b893a-67d9-4107-b218-39acc36e1a70,CN=RegisteredDevices,DC=contoso,DC=test";
        /// ad::modify(dev, #{ delete: #{ "msDS-DevicePhysicalIDs": () } }, #{ reason: "stale hardware ids" });
        /// ```
        /// # Errors
        /// `no_such_object`, `unknown_option`, `invalid_argument`, `invalid_value`, `invalid_dn`.
        m,
        "modify",
        ["dn: Dn|String", "changes", "options"],
        move |d: Dynamic, c: Map, o: Map| modify(&h, &d, &c, &o).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Plans deleting a leaf object.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// ad::delete(devices.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70"));
        /// ```
        /// # Errors
        /// `no_such_object`, `not_allowed_on_non_leaf` (it has children), `invalid_dn`.
        m,
        "delete",
        ["dn: Dn|String"],
        move |d: Dynamic| -> RhaiResult<()> {
            record(&h, WriteOp::Delete { dn: to_dn(&d).rhai()? }, None).rhai()
        },
    );
    let h = host.clone();
    bind!(
        /// Plans deleting a leaf object with `#{ reason: "…" }`.
        /// # Example
        /// ```rhai
        /// let dev = "CN=265b893a-67d9-4107-b218-39acc36e1a70,CN=RegisteredDevices,DC=contoso,DC=test";
        /// ad::delete(dev, #{ reason: "the device was deleted from Entra ID" });
        /// ```
        /// # Errors
        /// `unknown_option`, `no_such_object`, `not_allowed_on_non_leaf`, `invalid_dn`.
        m,
        "delete",
        ["dn: Dn|String", "options"],
        move |d: Dynamic, o: Map| -> RhaiResult<()> {
            let why = reason(&o, "ad::delete").rhai()?;
            record(&h, WriteOp::Delete { dn: to_dn(&d).rhai()? }, why).rhai()
        },
    );
}

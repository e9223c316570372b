//! Idempotent writes: `ad::ensure_object`, `ad::ensure_container`,
//! `ad::ensure_absent` plan a change only when the directory differs.

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString, Map, Module};

use super::read::read;
use super::write::{attrs_from_map, reason, record};
use crate::ad::Directory;
use crate::ad::{ModOp, Modification, WriteOp};
use crate::bindings::convert::to_dn;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::{Attr, Dn};
use crate::error::{Error, Kind, Result};
use crate::host::Host;

fn same_values(attr: &str, a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let norm = |v: &Vec<u8>| -> Vec<u8> {
        match std::str::from_utf8(v) {
            Ok(s)
                if attr.to_ascii_lowercase().ends_with("location")
                    || attr.eq_ignore_ascii_case("distinguishedName") =>
            {
                Dn::parse(s).map(|d| d.norm().into_bytes()).unwrap_or_else(|_| v.clone())
            }
            _ => v.clone(),
        }
    };
    let mut x: Vec<Vec<u8>> = a.iter().map(norm).collect();
    let mut y: Vec<Vec<u8>> = b.iter().map(norm).collect();
    x.sort();
    y.sort();
    x == y
}

/// `ensure_object`: returns "created", "updated" or "unchanged".
fn ensure_object(
    host: &Host,
    dn: &Dynamic,
    class: &str,
    attrs: &Map,
    opts: &Map,
) -> Result<String> {
    let why = reason(opts, "ad::ensure_object")?;
    let dn = to_dn(dn)?;
    let desired = attrs_from_map(attrs)?;
    let names: Vec<&str> = desired.iter().map(|a| a.name.as_ref()).chain(["objectClass"]).collect();
    match host.dir()?.read(&dn, &names)? {
        None => {
            let mut all = vec![Attr::text("objectClass", [class])];
            all.extend(desired);
            record(
                host,
                WriteOp::Add { dn: dn.clone(), attrs: all },
                why.or_else(|| Some(format!("{class} is missing"))),
            )?;
            Ok("created".into())
        }
        Some(existing) => {
            if !existing.is_a(class) {
                return Err(Error::new(
                    Kind::ObjectClassViolation,
                    format!(
                        "{dn} exists but is not a {class} (objectClass: {})",
                        existing.strs("objectClass").join(", ")
                    ),
                )
                .with_dn(&dn)
                .with_hint("move or delete the object, then run again"));
            }
            let mods: Vec<Modification> = desired
                .into_iter()
                .filter(|a| !same_values(&a.name, existing.get(&a.name), &a.values))
                .map(|a| Modification {
                    op: ModOp::Replace,
                    attr: a.name.into_owned(),
                    values: a.values,
                })
                .collect();
            if mods.is_empty() {
                return Ok("unchanged".into());
            }
            let why = why.or_else(|| {
                Some(format!(
                    "{} differ from the desired values",
                    mods.iter().map(|m| m.attr.as_str()).collect::<Vec<_>>().join(", ")
                ))
            });
            record(host, WriteOp::Modify { dn, mods, sd_flags: None }, why)?;
            Ok("updated".into())
        }
    }
}

/// Registers the idempotent writes.
pub(super) fn register(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Idempotent: plans creating the object with `attrs` if missing, or replacing the attributes that differ. Returns "created", "updated" or "unchanged".
        /// # Example
        /// ```rhai
        /// let devices = ad::domain_dn().child("CN", "RegisteredDevices");
        /// print(ad::ensure_object(devices, "msDS-DeviceContainer", #{}));   // "created" the first time
        /// ```
        /// # Errors
        /// `object_class_violation` when the object exists with another class, `no_such_object` (parent missing), `invalid_dn`, `invalid_value`, `invalid_argument`.
        m,
        "ensure_object",
        ["dn: Dn|String", "class", "attrs"],
        move |d: Dynamic, c: ImmutableString, a: Map| {
            ensure_object(&h, &d, &c, &a, &Map::new()).rhai()
        },
    );
    let h = host.clone();
    bind!(
        /// `ensure_object` with `#{ reason: "…" }` shown in the plan.
        /// # Example
        /// ```rhai
        /// import "dwb/names" as names;
        /// let devices = ad::domain_dn().child("CN", "RegisteredDevices");
        /// ad::ensure_object(names::drs_dn(ad::config_dn()), "msDS-DeviceRegistrationService",
        ///     #{ "msDS-DeviceLocation": devices, "msDS-IsEnabled": true },
        ///     #{ reason: "DRS object pointing at the device container" });
        /// ```
        /// # Errors
        /// `unknown_option`, `object_class_violation`, `no_such_object`, `invalid_dn`, `invalid_value`, `invalid_argument`.
        m,
        "ensure_object",
        ["dn: Dn|String", "class", "attrs", "options"],
        move |d: Dynamic, c: ImmutableString, a: Map, o: Map| {
            ensure_object(&h, &d, &c, &a, &o).rhai()
        },
    );
    let h = host.clone();
    bind!(
        /// Idempotent: plans creating a `container` object if missing. Returns "created" or "unchanged".
        /// # Example
        /// ```rhai
        /// let drc = ad::config_dn().child("CN", "Services").child("CN", "Device Registration Configuration");
        /// ad::ensure_container(drc);
        /// ```
        /// # Errors
        /// `object_class_violation` when the object exists but is not a container, `no_such_object` (parent missing), `invalid_dn`.
        m,
        "ensure_container",
        ["dn: Dn|String"],
        move |d: Dynamic| ensure_object(&h, &d, "container", &Map::new(), &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Idempotent: plans deleting the (leaf) object if it exists. Returns "deleted" or "absent".
        /// # Example
        /// ```rhai
        /// let probe = "CN=dwb-probe-1,CN=RegisteredDevices,DC=contoso,DC=test";
        /// if ad::ensure_absent(probe) == "deleted" { print(`removing the leftover ${probe}`); }
        /// ```
        /// # Errors
        /// `not_allowed_on_non_leaf`, `invalid_dn`.
        m,
        "ensure_absent",
        ["dn: Dn|String"],
        move |d: Dynamic| -> RhaiResult<String> {
            if read(&h, &d, &["1.1".into()]).rhai()?.is_none() {
                return Ok("absent".into());
            }
            record(&h, WriteOp::Delete { dn: to_dn(&d).rhai()? }, None).rhai()?;
            Ok("deleted".into())
        },
    );
}

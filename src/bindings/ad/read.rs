//! Reads of one object: `ad::get`, `ad::exists`.

use std::sync::Arc;

use rhai::{Array, Dynamic, Module};

use crate::ad::Directory;
use crate::bindings::convert::{entry, to_dn, to_strings};
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::error::{Error, Kind, Result};
use crate::host::Host;

pub(super) fn read(
    host: &Host,
    dn: &Dynamic,
    attrs: &[String],
) -> Result<Option<crate::directory::Entry>> {
    let dn = to_dn(dn)?;
    let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
    host.dir()?.read(&dn, &attrs)
}

/// Registers the reads of one object.
pub(super) fn register(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Reads exactly one object, with its attributes (`nTSecurityDescriptor` only when asked for by name, see the two-argument form).
        /// # Example
        /// ```rhai
        /// let users = ad::get("CN=Users,DC=contoso,DC=test");
        /// print(users["objectGUID"]);
        /// ```
        /// # Errors
        /// `not_found` when it does not exist, `invalid_dn`.
        m,
        "get",
        ["dn: Dn|String", "-> Entry"],
        move |d: Dynamic| -> RhaiResult<Dynamic> {
            let dn = to_dn(&d).rhai()?;
            read(&h, &d, &[]).rhai()?.map(entry).ok_or_else(|| {
                crate::bindings::register::to_rhai(
                    Error::new(Kind::NotFound, format!("no object {dn}")).with_dn(&dn),
                )
            })
        },
    );
    let h = host.clone();
    bind!(
        /// Reads exactly one object with the given attributes (`nTSecurityDescriptor` must be asked for by name).
        /// # Example
        /// ```rhai
        /// import "dwb/names" as names;
        /// let drs = ad::get(names::drs_dn(ad::config_dn()), ["msDS-DeviceLocation", "msDS-IsEnabled"]);
        /// print(drs["msDS-DeviceLocation"]);   // CN=RegisteredDevices,DC=contoso,DC=test
        /// ```
        /// # Errors
        /// `not_found` when it does not exist, `invalid_dn`.
        m,
        "get",
        ["dn: Dn|String", "attrs", "-> Entry"],
        move |d: Dynamic, a: Array| -> RhaiResult<Dynamic> {
            let dn = to_dn(&d).rhai()?;
            let attrs = to_strings(&Dynamic::from_array(a)).rhai()?;
            read(&h, &d, &attrs).rhai()?.map(entry).ok_or_else(|| {
                crate::bindings::register::to_rhai(
                    Error::new(Kind::NotFound, format!("no object {dn}")).with_dn(&dn),
                )
            })
        },
    );
    let h = host.clone();
    bind!(
        /// True when the object exists (in the planned state: an object planned earlier in the run exists, one planned for deletion does not).
        /// # Example
        /// ```rhai
        /// let devices = ad::domain_dn().child("CN", "RegisteredDevices");
        /// if !ad::exists(devices) { report::warn(devices + " is missing: run `dwb run prepare`"); }
        /// ```
        /// # Errors
        /// `invalid_dn`.
        m,
        "exists",
        ["dn: Dn|String"],
        move |d: Dynamic| -> RhaiResult<bool> {
            Ok(read(&h, &d, &["1.1".into()]).rhai()?.is_some())
        },
    );
}

//! `Guid` in scripts.

use rhai::{ImmutableString, Module};

use crate::bindings::register::bind;
use crate::directory::Guid;

use super::G;

/// Registers `Guid`'s methods and comparisons.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// The canonical lower-case GUID string (as Graph's `deviceId`).
        /// # Example
        /// ```rhai
        /// let id = ad::guid("{4C299165-6E8F-4B45-A5BA-C5D250A707FF}").to_string();   // 4c299165-6e8f-…
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_string",
        ["g"],
        |g: &mut Guid| g.to_string(),
    );
    bind!(
        /// The GUID for debug output (`Guid(…)`).
        /// # Example
        /// ```rhai
        /// debug(ad::guid("4c299165-6e8f-4b45-a5ba-c5d250a707ff"));   // Guid(4c299165-6e8f-4b45-a5ba-c5d250a707ff)
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_debug",
        ["g"],
        |g: &mut Guid| format!("Guid({g})"),
    );
    bind!(
        /// The 16 bytes in AD's order (objectGUID, msDS-DeviceID): the first three fields little-endian.
        /// # Example
        /// ```rhai
        /// let raw = ad::guid("4c299165-6e8f-4b45-a5ba-c5d250a707ff").bytes();   // [6591294c8f6e454b …]
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "bytes",
        ["g"],
        |g: &mut Guid| g.to_bytes().to_vec(),
    );
    bind!(
        /// GUID equality.
        /// # Example
        /// ```rhai
        /// let users = ad::get("CN=Users,DC=contoso,DC=test");
        /// print(users["objectGUID"] == ad::guid("fac5f439-ffec-4235-9b93-51ec0a51909d"));
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "==",
        ["a", "b"],
        |a: &mut Guid, b: Guid| *a == b,
    );
    bind!(
        /// GUID inequality.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let dev = ad::get(devices.child("CN", "265b893a-67d9-4107-b218-39acc36e1a70"));
        /// if dev["msDS-DeviceID"] != ad::guid("265b893a-67d9-4107-b218-39acc36e1a70") { print("renamed?"); }
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "!=",
        ["a", "b"],
        |a: &mut Guid, b: Guid| *a != b,
    );
    bind!(
        /// Concatenates a string and a GUID's string form.
        /// # Example
        /// ```rhai
        /// print("deviceId " + ad::guid("265b893a-67d9-4107-b218-39acc36e1a70"));
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "+",
        ["s", "g"],
        |s: ImmutableString, g: Guid| format!("{s}{g}"),
    );
}

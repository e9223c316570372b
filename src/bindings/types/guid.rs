//! `Guid` in scripts.

use rhai::{ImmutableString, Module};

use crate::bindings::register::reg_ns;
use crate::directory::Guid;

use super::G;

/// Registers `Guid`'s methods and comparisons.
pub(super) fn register(m: &mut Module) {
    reg_ns(
        m,
        G,
        "to_string",
        &["g"],
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
        m,
        G,
        "to_debug",
        &["g"],
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
        m,
        G,
        "bytes",
        &["g"],
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
        m,
        G,
        "==",
        &["a", "b"],
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
        m,
        G,
        "!=",
        &["a", "b"],
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
        m,
        G,
        "+",
        &["s", "g"],
        "Concatenates a string and a GUID's string form.\n\
         # Example\n\
         ```rhai\n\
         print(\"deviceId \" + ad::guid(\"265b893a-67d9-4107-b218-39acc36e1a70\"));\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString, g: Guid| format!("{s}{g}"),
    );
}

//! `SecurityDescriptor` in scripts.

use rhai::{Array, Module};

use crate::bindings::register::{OrRhai, reg_ns};
use crate::bindings::values::SdValue;

use super::G;

/// Registers `SecurityDescriptor`'s methods.
pub(super) fn register(m: &mut Module) {
    reg_ns(
        m,
        G,
        "bytes",
        &["sd"],
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
        m,
        G,
        "to_sddl",
        &["sd"],
        "The descriptor as SDDL (domain-relative SIDs as aliases when the domain is known).\n\
         # Example\n\
         ```rhai\n\
         print(ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\").to_sddl());   // \
         …D:(OA;;CCDC;…)…\n\
         ```\n\
         # Errors\n\
         `security_descriptor` when it is malformed.",
        |s: &mut SdValue| -> crate::bindings::register::RhaiResult<String> {
            crate::bindings::values::sddl(s).rhai()
        },
    );
    reg_ns(
        m,
        G,
        "to_string",
        &["sd"],
        "The descriptor as SDDL, or a note when it cannot be parsed.\n\
         # Example\n\
         ```rhai\n\
         print(`DACL of the device container: \
         ${ad::get_acl(\"CN=RegisteredDevices,DC=contoso,DC=test\")}`);\n\
         ```\n\
         # Errors\n\
         None: a malformed descriptor prints as `<…>`.",
        |s: &mut SdValue| crate::bindings::values::sddl(s).unwrap_or_else(|e| format!("<{e}>")),
    );
    reg_ns(
        m,
        G,
        "to_debug",
        &["sd"],
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
                crate::bindings::values::sddl(s).unwrap_or_else(|e| e.to_string())
            )
        },
    );
    reg_ns(
        m,
        G,
        "aces",
        &["sd"],
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
        |s: &mut SdValue| -> crate::bindings::register::RhaiResult<Array> {
            crate::bindings::values::aces(s).rhai()
        },
    );
}

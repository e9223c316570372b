//! `SecurityDescriptor` in scripts.

use rhai::{Array, Module};

use crate::bindings::register::{OrRhai, bind};
use crate::bindings::values::SdValue;

use super::G;

/// Registers `SecurityDescriptor`'s methods.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// The self-relative binary form.
        /// # Example
        /// ```rhai
        /// let raw = ad::get_acl("CN=RegisteredDevices,DC=contoso,DC=test").bytes();
        /// print(`${raw.len()} bytes`);
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "bytes",
        ["sd"],
        |s: &mut SdValue| s.bytes.clone(),
    );
    bind!(
        /// The descriptor as SDDL (domain-relative SIDs as aliases when the domain is known).
        /// # Example
        /// ```rhai
        /// print(ad::get_acl("CN=RegisteredDevices,DC=contoso,DC=test").to_sddl());   // …D:(OA;;CCDC;…)…
        /// ```
        /// # Errors
        /// `security_descriptor` when it is malformed.
        m,
        G,
        "to_sddl",
        ["sd"],
        |s: &mut SdValue| -> crate::bindings::register::RhaiResult<String> {
            crate::bindings::values::sddl(s).rhai()
        },
    );
    bind!(
        /// The descriptor as SDDL, or a note when it cannot be parsed.
        /// # Example
        /// ```rhai
        /// print(`DACL of the device container: ${ad::get_acl("CN=RegisteredDevices,DC=contoso,DC=test")}`);
        /// ```
        /// # Errors
        /// None: a malformed descriptor prints as `<…>`.
        m,
        G,
        "to_string",
        ["sd"],
        |s: &mut SdValue| crate::bindings::values::sddl(s).unwrap_or_else(|e| format!("<{e}>")),
    );
    bind!(
        /// The descriptor for debug output (`SecurityDescriptor(<sddl>)`).
        /// # Example
        /// ```rhai
        /// debug(ad::get_acl("CN=RegisteredDevices,DC=contoso,DC=test"));
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_debug",
        ["sd"],
        |s: &mut SdValue| {
            format!(
                "SecurityDescriptor({})",
                crate::bindings::values::sddl(s).unwrap_or_else(|e| e.to_string())
            )
        },
    );
    bind!(
        /// The DACL's ACEs as maps `#{ type, flags, rights, mask, object_type, inherited_object_type, trustee, inherited }`: `type` "allow", "deny" or "audit", `rights` as letters, `mask` a number, the object types `Guid`s or `()`, `trustee` a `Sid`, `inherited` a bool.
        /// # Example
        /// ```rhai
        /// let sd = ad::get_acl("CN=RegisteredDevices,DC=contoso,DC=test");
        /// for ace in sd.aces().filter(|a| !a.inherited) { print(`${ace.type} ${ace.rights} ${ace.trustee}`); }
        /// ```
        /// # Errors
        /// `security_descriptor` when it is malformed.
        m,
        G,
        "aces",
        ["sd"],
        |s: &mut SdValue| -> crate::bindings::register::RhaiResult<Array> {
            crate::bindings::values::aces(s).rhai()
        },
    );
}

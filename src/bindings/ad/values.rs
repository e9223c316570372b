//! Typed values and escaping: `ad::dn`, `ad::guid`, `ad::sid`,
//! `ad::escape_dn`, `ad::escape_filter`.

use rhai::{ImmutableString, Module};

use crate::bindings::register::{OrRhai, RhaiResult, reg};
use crate::directory::dn::escape_value as dn_escape;
use crate::directory::filter::escape_value as filter_escape;
use crate::directory::{Dn, Guid, Sid};
use crate::error::{Error, Kind};

/// Registers the typed constructors and escaping.
pub(super) fn register(m: &mut Module) {
    reg(
        m,
        "dn",
        &["text"],
        "Parses an RFC 4514 DN.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         print(devices.parent());   // DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         `invalid_dn` with the position.",
        |s: ImmutableString| Dn::parse(&s).rhai(),
    );
    reg(
        m,
        "guid",
        &["text"],
        "Parses a GUID (`xxxxxxxx-xxxx-…`, braces allowed, any case).\n\
         # Example\n\
         ```rhai\n\
         let id = ad::guid(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\");   // a device's deviceId\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let found = ad::search(devices, ad::eq(\"msDS-DeviceID\", id));\n\
         ```\n\
         # Errors\n\
         `invalid_value`.",
        |s: ImmutableString| -> RhaiResult<Guid> {
            s.parse::<Guid>().map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        m,
        "guid",
        &["bytes"],
        "A GUID from 16 bytes in AD's order (objectGUID, msDS-DeviceID).\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::guid(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\").bytes();\n\
         print(ad::guid(raw));   // 4c299165-6e8f-4b45-a5ba-c5d250a707ff\n\
         ```\n\
         # Errors\n\
         `invalid_value` when the blob is not 16 bytes.",
        |b: rhai::Blob| -> RhaiResult<Guid> {
            Guid::from_bytes(&b).map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        m,
        "sid",
        &["text"],
        "Parses an `S-1-5-…` SID.\n\
         # Example\n\
         ```rhai\n\
         let owner = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\");\n\
         print(owner.rid);   // 1103\n\
         ```\n\
         # Errors\n\
         `invalid_value`.",
        |s: ImmutableString| -> RhaiResult<Sid> {
            s.parse::<Sid>().map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        m,
        "sid",
        &["bytes"],
        "A SID from its binary form (objectSid, msDS-RegisteredOwner).\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\").bytes();\n\
         print(ad::sid(raw));   // S-1-5-21-3651501729-163766517-147658709-1103\n\
         ```\n\
         # Errors\n\
         `invalid_value` when the bytes are not a SID.",
        |b: rhai::Blob| -> RhaiResult<Sid> {
            Sid::from_bytes(&b).map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        m,
        "escape_dn",
        &["value"],
        "Escapes a value for use inside a DN string (RFC 4514). Prefer `dn.child(attr, value)`, \
         which escapes for you.\n\
         # Example\n\
         ```rhai\n\
         let dn = \"CN=\" + ad::escape_dn(\"Smith, John\") + \",CN=Users,DC=contoso,DC=test\";\n\
         print(dn);   // CN=Smith\\, John,CN=Users,DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString| dn_escape(&s),
    );
    reg(
        m,
        "escape_filter",
        &["value"],
        "Escapes a value for use inside a filter string (RFC 4515). Prefer `ad::eq(attr, value)`, \
         which escapes for you.\n\
         # Example\n\
         ```rhai\n\
         let f = \"(displayName=\" + ad::escape_filter(\"LT-*(test)\") + \")\";\n\
         print(f);   // (displayName=LT-\\2a\\28test\\29)\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString| filter_escape(s.as_bytes()),
    );
}

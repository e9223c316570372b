//! Typed values and escaping: `ad::dn`, `ad::guid`, `ad::sid`,
//! `ad::escape_dn`, `ad::escape_filter`.

use rhai::{ImmutableString, Module};

use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::dn::escape_value as dn_escape;
use crate::directory::filter::escape_value as filter_escape;
use crate::directory::{Dn, Guid, Sid};
use crate::error::{Error, Kind};

/// Registers the typed constructors and escaping.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// Parses an RFC 4514 DN.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// print(devices.parent());   // DC=contoso,DC=test
        /// ```
        /// # Errors
        /// `invalid_dn` with the position.
        m,
        "dn",
        ["text"],
        |s: ImmutableString| Dn::parse(&s).rhai(),
    );
    bind!(
        /// Parses a GUID (`xxxxxxxx-xxxx-…`, braces allowed, any case).
        /// # Example
        /// ```rhai
        /// let id = ad::guid("4c299165-6e8f-4b45-a5ba-c5d250a707ff");   // a device's deviceId
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let found = ad::search(devices, ad::eq("msDS-DeviceID", id));
        /// ```
        /// # Errors
        /// `invalid_value`.
        m,
        "guid",
        ["text"],
        |s: ImmutableString| -> RhaiResult<Guid> {
            s.parse::<Guid>().map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    bind!(
        /// A GUID from 16 bytes in AD's order (objectGUID, msDS-DeviceID).
        /// # Example
        /// ```rhai
        /// let raw = ad::guid("4c299165-6e8f-4b45-a5ba-c5d250a707ff").bytes();
        /// print(ad::guid(raw));   // 4c299165-6e8f-4b45-a5ba-c5d250a707ff
        /// ```
        /// # Errors
        /// `invalid_value` when the blob is not 16 bytes.
        m,
        "guid",
        ["bytes"],
        |b: rhai::Blob| -> RhaiResult<Guid> {
            Guid::from_bytes(&b).map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    bind!(
        /// Parses an `S-1-5-…` SID.
        /// # Example
        /// ```rhai
        /// let owner = ad::sid("S-1-5-21-3651501729-163766517-147658709-1103");
        /// print(owner.rid);   // 1103
        /// ```
        /// # Errors
        /// `invalid_value`.
        m,
        "sid",
        ["text"],
        |s: ImmutableString| -> RhaiResult<Sid> {
            s.parse::<Sid>().map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    bind!(
        /// A SID from its binary form (objectSid, msDS-RegisteredOwner).
        /// # Example
        /// ```rhai
        /// let raw = ad::sid("S-1-5-21-3651501729-163766517-147658709-1103").bytes();
        /// print(ad::sid(raw));   // S-1-5-21-3651501729-163766517-147658709-1103
        /// ```
        /// # Errors
        /// `invalid_value` when the bytes are not a SID.
        m,
        "sid",
        ["bytes"],
        |b: rhai::Blob| -> RhaiResult<Sid> {
            Sid::from_bytes(&b).map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    bind!(
        /// Escapes a value for use inside a DN string (RFC 4514). Prefer `dn.child(attr, value)`, which escapes for you.
        /// # Example
        /// ```rhai
        /// let dn = "CN=" + ad::escape_dn("Smith, John") + ",CN=Users,DC=contoso,DC=test";
        /// print(dn);   // CN=Smith\, John,CN=Users,DC=contoso,DC=test
        /// ```
        /// # Errors
        /// None.
        m,
        "escape_dn",
        ["value"],
        |s: ImmutableString| dn_escape(&s),
    );
    bind!(
        /// Escapes a value for use inside a filter string (RFC 4515). Prefer `ad::eq(attr, value)`, which escapes for you.
        /// # Example
        /// ```rhai
        /// let f = "(displayName=" + ad::escape_filter("LT-*(test)") + ")";
        /// print(f);   // (displayName=LT-\2a\28test\29)
        /// ```
        /// # Errors
        /// None.
        m,
        "escape_filter",
        ["value"],
        |s: ImmutableString| filter_escape(s.as_bytes()),
    );
}

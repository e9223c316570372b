//! LDAP filters built from values (`ad::eq`, `ad::and`, …), never from
//! pasted text, so a value cannot change a filter's structure.

use rhai::{Array, Dynamic, ImmutableString, Module};

use crate::bindings::convert::to_values;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::Filter;
use crate::error::{Error, Kind, Result};

pub(super) fn to_filter(v: &Dynamic) -> Result<Filter> {
    if let Some(f) = v.read_lock::<Filter>() {
        return Ok(f.clone());
    }
    if let Some(s) = v.read_lock::<ImmutableString>() {
        return Filter::parse(s.as_str());
    }
    Err(Error::new(
        Kind::InvalidArgument,
        format!("expected a filter (Filter or string), got {}", v.type_name()),
    ))
}

fn to_filters(arr: &Array) -> Result<Vec<Filter>> {
    arr.iter().map(to_filter).collect()
}

/// Registers the filter builders.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// Parses an RFC 4515 filter string.
        /// # Example
        /// ```rhai
        /// let stale = ad::filter("(&(objectClass=msDS-Device)(msDS-IsEnabled=FALSE))");
        /// ```
        /// # Errors
        /// `invalid_filter` with the position.
        m,
        "filter",
        ["text"],
        |s: ImmutableString| Filter::parse(&s).rhai(),
    );
    bind!(
        /// `(attr=value)` with the value escaped: safe for any input, including binary GUIDs and SIDs. The value may be a string, number, bool, `Guid`, `Sid`, `Dn` or blob (converted as for `ad::add`; of an array, the first value is used).
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let name = "LT-000023";
        /// ad::search(devices, ad::and([ad::eq("objectClass", "msDS-Device"), ad::eq("displayName", name)]));
        /// ```
        /// # Errors
        /// `invalid_value` (malformed text for a GUID- or SID-typed attribute), `invalid_argument` (a value that cannot be compared, such as a map).
        m,
        "eq",
        ["attr", "value: ?"],
        |a: ImmutableString, v: Dynamic| -> RhaiResult<Filter> {
            let vals = to_values(&a, &v).rhai()?;
            let first = vals.into_iter().next().unwrap_or_default();
            Ok(Filter::eq(&a, first))
        },
    );
    bind!(
        /// `(attr=*)`: the attribute has a value.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// // Devices with no cloud anchor were not written back (AD FS device registration made them).
        /// let drs_made = ad::search(devices, ad::not(ad::present("msDS-CloudAnchor")));
        /// ```
        /// # Errors
        /// None.
        m,
        "present",
        ["attr"],
        |a: ImmutableString| Filter::present(&a),
    );
    bind!(
        /// `(&…)` of filters or filter strings.
        /// # Example
        /// ```rhai
        /// let f = ad::and([ad::eq("objectClass", "msDS-Device"), "(msDS-IsManaged=TRUE)"]);
        /// print(f);   // (&(objectClass=msDS-Device)(msDS-IsManaged=TRUE))
        /// ```
        /// # Errors
        /// `invalid_filter` (a string that does not parse), `invalid_argument` (an element that is neither).
        m,
        "and",
        ["filters"],
        |a: Array| -> RhaiResult<Filter> { Ok(Filter::And(to_filters(&a).rhai()?)) },
    );
    bind!(
        /// `(|…)` of filters or filter strings.
        /// # Example
        /// ```rhai
        /// let mobile = ad::or([ad::eq("msDS-DeviceOSType", "iOS"), ad::eq("msDS-DeviceOSType", "Android")]);
        /// ```
        /// # Errors
        /// `invalid_filter` (a string that does not parse), `invalid_argument` (an element that is neither).
        m,
        "or",
        ["filters"],
        |a: Array| -> RhaiResult<Filter> { Ok(Filter::Or(to_filters(&a).rhai()?)) },
    );
    bind!(
        /// `(!…)`.
        /// # Example
        /// ```rhai
        /// let enabled = ad::not("(msDS-IsEnabled=FALSE)");
        /// ```
        /// # Errors
        /// `invalid_filter`, `invalid_argument` (neither a filter nor a string).
        m,
        "not",
        ["filter: Filter|String"],
        |f: Dynamic| -> RhaiResult<Filter> { Ok(Filter::Not(Box::new(to_filter(&f).rhai()?))) },
    );
}

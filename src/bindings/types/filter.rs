//! `Filter` in scripts.

use rhai::Module;

use crate::bindings::register::bind;
use crate::directory::Filter;

use super::G;

/// Registers `Filter`'s methods.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// The filter as an RFC 4515 string, with values escaped.
        /// # Example
        /// ```rhai
        /// let f = ad::eq("displayName", "LT-*").to_string();   // (displayName=LT-\2a)
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_string",
        ["f"],
        |f: &mut Filter| f.to_string(),
    );
    bind!(
        /// The filter for debug output (`Filter(…)`).
        /// # Example
        /// ```rhai
        /// debug(ad::present("msDS-CloudAnchor"));   // Filter((msDS-CloudAnchor=*))
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_debug",
        ["f"],
        |f: &mut Filter| format!("Filter({f})"),
    );
}

//! `Filter` in scripts.

use rhai::Module;

use crate::bindings::register::reg_ns;
use crate::directory::Filter;

use super::G;

/// Registers `Filter`'s methods.
pub(super) fn register(m: &mut Module) {
    reg_ns(
        m,
        G,
        "to_string",
        &["f"],
        "The filter as an RFC 4515 string, with values escaped.\n\
         # Example\n\
         ```rhai\n\
         let f = ad::eq(\"displayName\", \"LT-*\").to_string();   // (displayName=LT-\\2a)\n\
         ```\n\
         # Errors\n\
         None.",
        |f: &mut Filter| f.to_string(),
    );
    reg_ns(
        m,
        G,
        "to_debug",
        &["f"],
        "The filter for debug output (`Filter(…)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::present(\"msDS-CloudAnchor\"));   // Filter((msDS-CloudAnchor=*))\n\
         ```\n\
         # Errors\n\
         None.",
        |f: &mut Filter| format!("Filter({f})"),
    );
}

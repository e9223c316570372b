//! `Sid` in scripts.

use rhai::{ImmutableString, Module};

use crate::bindings::register::bind;
use crate::directory::Sid;

use super::G;

/// Registers `Sid`'s methods and comparisons.
pub(super) fn register(m: &mut Module) {
    bind!(
        /// The `S-1-5-…` form.
        /// # Example
        /// ```rhai
        /// report::set("connector_sid", ad::resolve_account("CONTOSO\\svc-dwb").sid.to_string());
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_string",
        ["s"],
        |s: &mut Sid| s.to_string(),
    );
    bind!(
        /// The SID for debug output (`Sid(…)`).
        /// # Example
        /// ```rhai
        /// debug(ad::domain_sid());   // Sid(S-1-5-21-…)
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "to_debug",
        ["s"],
        |s: &mut Sid| format!("Sid({s})"),
    );
    bind!(
        /// The binary form (objectSid, msDS-RegisteredOwner).
        /// # Example
        /// ```rhai
        /// let raw = ad::sid("S-1-5-21-3651501729-163766517-147658709-1103").bytes();   // 28 bytes
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "bytes",
        ["s"],
        |s: &mut Sid| s.to_bytes(),
    );
    bind!(
        /// The last sub-authority (the account's RID), or -1 for a SID without sub-authorities.
        /// # Example
        /// ```rhai
        /// print(ad::sid("S-1-5-21-3651501729-163766517-147658709-512").rid);   // 512: Domain Admins
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "get$rid",
        ["s"],
        |s: &mut Sid| s.rid().map(i64::from).unwrap_or(-1),
    );
    bind!(
        /// The SID without its RID (an account's domain SID).
        /// # Example
        /// ```rhai
        /// let acct = ad::resolve_account("CONTOSO\\svc-dwb");
        /// print(acct.sid.domain() == ad::domain_sid());   // true: an account of the bound domain
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "domain",
        ["s"],
        |s: &mut Sid| s.domain().unwrap_or_else(|| s.clone()),
    );
    bind!(
        /// SID equality.
        /// # Example
        /// ```rhai
        /// let owner = ad::sid("S-1-5-21-3651501729-163766517-147658709-1103");
        /// print(owner == ad::resolve_account("CONTOSO\\svc-dwb").sid);
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "==",
        ["a", "b"],
        |a: &mut Sid, b: Sid| *a == b,
    );
    bind!(
        /// SID inequality.
        /// # Example
        /// ```rhai
        /// let acct = ad::resolve_account("CONTOSO\\svc-dwb");
        /// if acct.sid.domain() != ad::domain_sid() { print("the account is from another domain"); }
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "!=",
        ["a", "b"],
        |a: &mut Sid, b: Sid| *a != b,
    );
    bind!(
        /// Concatenates a string and a SID's string form.
        /// # Example
        /// ```rhai
        /// print("domain SID " + ad::domain_sid());
        /// ```
        /// # Errors
        /// None.
        m,
        G,
        "+",
        ["s", "sid"],
        |s: ImmutableString, x: Sid| format!("{s}{x}"),
    );
}

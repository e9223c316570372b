//! `Sid` in scripts.

use rhai::{ImmutableString, Module};

use crate::bindings::register::reg_ns;
use crate::directory::Sid;

use super::G;

/// Registers `Sid`'s methods and comparisons.
pub(super) fn register(m: &mut Module) {
    reg_ns(
        m,
        G,
        "to_string",
        &["s"],
        "The `S-1-5-…` form.\n\
         # Example\n\
         ```rhai\n\
         report::set(\"connector_sid\", \
         ad::resolve_account(\"CONTOSO\\\\svc-dwb\").sid.to_string());\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.to_string(),
    );
    reg_ns(
        m,
        G,
        "to_debug",
        &["s"],
        "The SID for debug output (`Sid(…)`).\n\
         # Example\n\
         ```rhai\n\
         debug(ad::domain_sid());   // Sid(S-1-5-21-…)\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| format!("Sid({s})"),
    );
    reg_ns(
        m,
        G,
        "bytes",
        &["s"],
        "The binary form (objectSid, msDS-RegisteredOwner).\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\").bytes();   // 28 \
         bytes\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.to_bytes(),
    );
    reg_ns(
        m,
        G,
        "get$rid",
        &["s"],
        "The last sub-authority (the account's RID), or -1 for a SID without sub-authorities.\n\
         # Example\n\
         ```rhai\n\
         print(ad::sid(\"S-1-5-21-3651501729-163766517-147658709-512\").rid);   // 512: Domain \
         Admins\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.rid().map(i64::from).unwrap_or(-1),
    );
    reg_ns(
        m,
        G,
        "domain",
        &["s"],
        "The SID without its RID (an account's domain SID).\n\
         # Example\n\
         ```rhai\n\
         let acct = ad::resolve_account(\"CONTOSO\\\\svc-dwb\");\n\
         print(acct.sid.domain() == ad::domain_sid());   // true: an account of the bound domain\n\
         ```\n\
         # Errors\n\
         None.",
        |s: &mut Sid| s.domain().unwrap_or_else(|| s.clone()),
    );
    reg_ns(
        m,
        G,
        "==",
        &["a", "b"],
        "SID equality.\n\
         # Example\n\
         ```rhai\n\
         let owner = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\");\n\
         print(owner == ad::resolve_account(\"CONTOSO\\\\svc-dwb\").sid);\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Sid, b: Sid| *a == b,
    );
    reg_ns(
        m,
        G,
        "!=",
        &["a", "b"],
        "SID inequality.\n\
         # Example\n\
         ```rhai\n\
         let acct = ad::resolve_account(\"CONTOSO\\\\svc-dwb\");\n\
         if acct.sid.domain() != ad::domain_sid() { print(\"the account is from another domain\"); \
         }\n\
         ```\n\
         # Errors\n\
         None.",
        |a: &mut Sid, b: Sid| *a != b,
    );
    reg_ns(
        m,
        G,
        "+",
        &["s", "sid"],
        "Concatenates a string and a SID's string form.\n\
         # Example\n\
         ```rhai\n\
         print(\"domain SID \" + ad::domain_sid());\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString, x: Sid| format!("{s}{x}"),
    );
}

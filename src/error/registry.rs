//! Every error code dwb can raise, in one table: the directory and run errors
//! (`Kind`), the Graph client's finer codes (`graph::error::Reason`), the
//! script diagnostics, and the codes the standard scripts throw through
//! `dwb::error(code, …)`. `dwb docs` prints it; the integration test
//! `errors::registry_matches_what_is_raised` checks it against `Kind`, `Reason`
//! and every code literal in the sources and scripts. Codes are a public
//! contract: add rows, never renumber.

/// One code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Code {
    pub code: &'static str,
    /// What scripts see as `e.kind`.
    pub kind: &'static str,
    pub meaning: &'static str,
}

const fn c(code: &'static str, kind: &'static str, meaning: &'static str) -> Code {
    Code { code, kind, meaning }
}

/// Declares `Kind` and its rows of the registry in one place.
macro_rules! kinds {
    ($($(#[$doc:meta])* $v:ident = ($code:literal, $kind:literal, $meaning:literal),)*) => {
        /// The closed set of error kinds. `as_str()` is what scripts see as `e.kind`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($(#[$doc])* $v,)*
        }

        impl Kind {
            /// Every kind, for documentation and tests.
            pub const ALL: &'static [Kind] = &[$(Kind::$v,)*];

            /// The kind's row of the registry.
            pub fn entry(self) -> &'static Code {
                match self {
                    $(Kind::$v => &Code { code: $code, kind: $kind, meaning: $meaning },)*
                }
            }
        }

        /// The rows of `Kind`.
        pub const KIND_CODES: &[Code] = &[$(c($code, $kind, $meaning),)*];
    };
}

kinds! {
    // Directory result codes: the number in the code is the LDAP result code.
    OperationsError = ("DWB-AD-0001", "operations_error", "the DC reported operationsError (1)"),
    ProtocolError = ("DWB-AD-0002", "protocol_error", "the DC reported protocolError (2)"),
    TimeLimit = ("DWB-AD-0003", "time_limit_exceeded", "the DC's time limit was exceeded (3)"),
    SizeLimit = ("DWB-AD-0004", "size_limit_exceeded", "more entries than the size limit (4)"),
    StrongerAuthRequired = ("DWB-AD-0008", "stronger_auth_required",
        "the DC wants TLS or signing (8)"),
    NoSuchAttribute = ("DWB-AD-0016", "no_such_attribute",
        "the attribute is not on the object (16)"),
    UndefinedAttributeType = ("DWB-AD-0017", "undefined_attribute_type",
        "the schema has no such attribute (17)"),
    ConstraintViolation = ("DWB-AD-0019", "constraint_violation",
        "a value breaks a schema constraint (19)"),
    AttributeOrValueExists = ("DWB-AD-0020", "attribute_or_value_exists",
        "the value is already there (20)"),
    InvalidSyntax = ("DWB-AD-0021", "invalid_syntax",
        "a value does not fit the attribute's syntax (21)"),
    NoSuchObject = ("DWB-AD-0032", "no_such_object",
        "the object (or its parent) does not exist (32)"),
    InvalidDnSyntax = ("DWB-AD-0034", "invalid_dn_syntax", "the DC rejected the DN (34)"),
    InvalidCredentials = ("DWB-AD-0049", "invalid_credentials", "wrong account or password (49)"),
    InsufficientAccess = ("DWB-AD-0050", "insufficient_access",
        "the bound account lacks the rights (50)"),
    Busy = ("DWB-AD-0051", "busy", "the DC is busy; retried, then reported (51)"),
    Unavailable = ("DWB-AD-0052", "unavailable",
        "the DC is unavailable; retried, then reported (52)"),
    UnwillingToPerform = ("DWB-AD-0053", "unwilling_to_perform",
        "the DC refuses the operation (53)"),
    NamingViolation = ("DWB-AD-0064", "naming_violation", "the RDN is not allowed there (64)"),
    ObjectClassViolation = ("DWB-AD-0065", "object_class_violation",
        "the object breaks its class rules (65)"),
    NotAllowedOnNonLeaf = ("DWB-AD-0066", "not_allowed_on_non_leaf",
        "the object has children (66)"),
    NotAllowedOnRdn = ("DWB-AD-0067", "not_allowed_on_rdn", "the RDN attribute cannot change (67)"),
    AlreadyExists = ("DWB-AD-0068", "already_exists", "an object with this DN exists (68)"),
    Other = ("DWB-AD-0080", "ldap_other", "any other LDAP result code"),
    // dwb's own.
    NotFound = ("DWB-AD-1001", "not_found", "a lookup found nothing (`get_*`)"),
    Ambiguous = ("DWB-AD-1002", "ambiguous", "a lookup found more than one object"),
    SchemaMissing = ("DWB-AD-1003", "schema_missing",
        "the schema lacks a class or attribute dwb needs"),
    InvalidDn = ("DWB-DN-0001", "invalid_dn", "a string is not a valid DN"),
    InvalidFilter = ("DWB-FLT-0001", "invalid_filter", "a string is not a valid LDAP filter"),
    InvalidArgument = ("DWB-SCRIPT-0001", "invalid_argument",
        "a function was called with a bad argument"),
    UnknownOption = ("DWB-SCRIPT-0002", "unknown_option", "an options map has an unknown key"),
    InvalidValue = ("DWB-SCRIPT-0003", "invalid_value",
        "a value cannot be converted for an attribute"),
    Ldif = ("DWB-LDIF-0001", "ldif", "an LDIF file (snapshot) is malformed"),
    Config = ("DWB-CFG-0001", "config", "configuration: a setting missing, unknown or unusable"),
    Tls = ("DWB-NET-0002", "tls", "TLS failed (certificate not trusted, name mismatch)"),
    Auth = ("DWB-NET-0003", "auth", "the bind failed for a reason other than the password"),
    Network = ("DWB-NET-0001", "network", "the DC cannot be reached or the connection dropped"),
    Timeout = ("DWB-NET-0004", "timeout", "the DC did not answer in time"),
    Cancelled = ("DWB-RUN-0130", "cancelled", "interrupted (Ctrl-C)"),
    Security = ("DWB-SD-0001", "security_descriptor", "a security descriptor or SDDL is malformed"),
    Plan = ("DWB-PLAN-0001", "plan", "the plan refuses a change (conflict, changed object)"),
    Refused = ("DWB-PLAN-0002", "guard_refused",
        "a guard (deletion threshold, empty source) refused the plan: nothing applied"),
    Locked = ("DWB-RUN-0001", "locked", "another dwb sync holds the container's lock"),
    Verification = ("DWB-VERIFY-0001", "verification", "a verification could not be made"),
    Graph = ("DWB-GRAPH-0000", "graph", "a Graph error without a finer code"),
    // The kinds of Graph's reasons (`graph::error::Reason::kind`) that no
    // directory error shares; a Graph error keeps its reason's finer code.
    GraphConfig = ("DWB-GRAPH-0001", "config",
        "invalid Graph configuration (cloud, tenant, option value)"),
    Forbidden = ("DWB-GRAPH-0020", "forbidden", "HTTP 403: missing permission or consent"),
    DelegatedOnly = ("DWB-GRAPH-0021", "delegated_only",
        "the API needs a delegated (Global Administrator) token"),
    Throttled = ("DWB-GRAPH-0040", "throttled",
        "429/503/504 persisted after the bounded attempts"),
    BadResponse = ("DWB-GRAPH-0050", "bad_response", "an unexpected HTTP status"),
    TooLarge = ("DWB-GRAPH-0080", "too_large", "a response body exceeded the page size limit"),
    Io = ("DWB-IO-0001", "io", "a local file could not be read or written"),
    Internal = ("DWB-INT-0001", "internal", "a bug in dwb: please report it"),
}

/// The rows that are not a `Kind`: script diagnostics, the rest of Graph's
/// finer codes (`graph::error::Reason`), and the codes the standard scripts throw.
pub const OTHER_CODES: &[Code] = &[
    // Script diagnostics (`engine::diagnostic`).
    c("DWB-SCRIPT-0010", "syntax", "the script does not parse"),
    c("DWB-SCRIPT-0011", "module_not_found", "an `import` names no module"),
    c("DWB-SCRIPT-0012", "function_not_found", "a call names no function of that signature"),
    c("DWB-SCRIPT-0013", "variable_not_found", "a variable is not defined"),
    c("DWB-SCRIPT-0014", "property_not_found", "a map or object has no such property"),
    c("DWB-SCRIPT-0100", "script_error", "a script threw something that is not a dwb error"),
    // The command line (`dwb run … --format json` reports it too).
    c("DWB-USAGE-0001", "usage", "the command line is not valid (unknown flag, missing value)"),
    // Microsoft Graph (`graph::error::Reason`).
    c("DWB-GRAPH-0002", "config", "`http://` to a non-loopback host, or credentials in a URL"),
    c("DWB-GRAPH-0003", "config", "certificate / private key unreadable or not a pair"),
    c("DWB-GRAPH-0004", "config", "a file could not be read or written (export, delta state)"),
    c("DWB-GRAPH-0005", "config", "Graph rejected the request as invalid (HTTP 400)"),
    c("DWB-GRAPH-0006", "config", "a GUID matched several devices by `deviceId`"),
    c("DWB-GRAPH-0010", "auth", "the token endpoint refused to issue a token"),
    c("DWB-GRAPH-0011", "auth", "Graph answered 401 even after one token refresh"),
    c("DWB-GRAPH-0012", "auth", "device-code sign-in declined"),
    c("DWB-GRAPH-0013", "auth", "device-code sign-in expired"),
    c("DWB-GRAPH-0030", "not_found", "HTTP 404: no such device or object"),
    c("DWB-GRAPH-0031", "not_found", "HTTP 410: the stored delta token expired"),
    c("DWB-GRAPH-0051", "bad_response", "malformed JSON or an unexpected shape"),
    c("DWB-GRAPH-0052", "bad_response", "a device property is missing or wrongly typed"),
    c("DWB-GRAPH-0053", "bad_response", "an `alternativeSecurityIds` key cannot be decoded"),
    c("DWB-GRAPH-0054", "bad_response", "a nextLink/deltaLink points outside the Graph host"),
    c("DWB-GRAPH-0055", "bad_response", "Graph answered with a redirect (never followed)"),
    c("DWB-GRAPH-0060", "network", "connection, TLS or timeout failure"),
    c("DWB-GRAPH-0070", "cancelled", "cancelled (Ctrl-C)"),
    // Thrown by the standard scripts (`dwb::error`).
    c("DWB-PREP-0001", "schema_missing", "prepare: the schema lacks a device class"),
    c("DWB-PREP-0002", "duplicate_drs", "prepare: more than one DeviceRegistrationService"),
    c("DWB-PREP-0003", "drs_elsewhere", "prepare: the DeviceRegistrationService is elsewhere"),
    c("DWB-PREP-0004", "drs_points_elsewhere", "prepare: the DRS names another container"),
    c("DWB-ENABLE-0001", "not_prepared", "enable: the directory is not prepared"),
    c(
        "DWB-ENABLE-0002",
        "config",
        "enable: no site dwb.toml (or no profile) to record the target in",
    ),
    // Service events (`service::events`): one log line each, stable for log monitors.
    c("DWB-SVC-0001", "round_failed", "a sync round stopped with an error (retried later)"),
    c("DWB-SVC-0002", "round_refused", "a guard refused a sync round's plan: nothing applied"),
    c("DWB-SVC-0003", "changes_failed", "some changes of a round failed (the others applied)"),
    c("DWB-SVC-0004", "recovered", "a round succeeded after failed or refused ones"),
    c("DWB-SVC-0005", "quarantined", "a device failed at the DC in several rounds in a row"),
    c("DWB-SVC-0010", "round", "a sync round ended (one line per round)"),
];

/// Codes no longer raised, never to be reused.
pub const RETIRED: &[(&str, &str)] =
    &[("DWB-GRAPH-0090", "the Graph emulator could not start (the emulator left the binary)")];

/// Every row of the registry.
pub fn all() -> impl Iterator<Item = &'static Code> {
    KIND_CODES.iter().chain(OTHER_CODES)
}

/// The registry entry of `code`.
pub fn lookup(code: &str) -> Option<&'static Code> {
    all().find(|c| c.code == code)
}

/// The registry as a Markdown table.
pub fn markdown() -> String {
    let mut out = String::from("| code | kind | meaning |\n|---|---|---|\n");
    for c in all() {
        out.push_str(&format!("| {} | {} | {} |\n", c.code, c.kind, c.meaning));
    }
    out.push_str("\nRetired (never reused):");
    for (code, was) in RETIRED {
        out.push_str(&format!(" {code} ({was})"));
    }
    out.push('\n');
    out
}

//! dwb's error type: every error carries a stable code (`DWB-AD-0032`), a `kind`
//! that scripts can `catch` and branch on, a message, and the context it happened
//! in (DN, URL, the server's diagnostic text). The code and kind strings are a
//! public contract: add new ones, never rename.

pub mod registry;

use std::fmt;

pub use registry::{Code, Kind};

impl Kind {
    /// The kind as scripts see it.
    pub fn as_str(self) -> &'static str {
        self.entry().kind
    }

    /// The stable code printed in messages and reports.
    pub fn code(self) -> &'static str {
        self.entry().code
    }

    /// Maps an LDAP result code to a kind.
    pub fn from_ldap_rc(rc: u32) -> Kind {
        use Kind::*;
        match rc {
            1 => OperationsError,
            2 => ProtocolError,
            3 => TimeLimit,
            4 => SizeLimit,
            8 => StrongerAuthRequired,
            16 => NoSuchAttribute,
            17 => UndefinedAttributeType,
            19 => ConstraintViolation,
            20 => AttributeOrValueExists,
            21 => InvalidSyntax,
            32 => NoSuchObject,
            34 => InvalidDnSyntax,
            49 => InvalidCredentials,
            50 => InsufficientAccess,
            51 => Busy,
            52 => Unavailable,
            53 => UnwillingToPerform,
            64 => NamingViolation,
            65 => ObjectClassViolation,
            66 => NotAllowedOnNonLeaf,
            67 => NotAllowedOnRdn,
            68 => AlreadyExists,
            _ => Other,
        }
    }

    /// Whether the server said "not now" without performing the operation, so
    /// that sending the same request again later may succeed. The one rule of
    /// every retry loop: the DC's writes (`ad::ldap::write`) and Graph's
    /// requests and `$batch` members (`graph::retry::status_kind`). A timeout or
    /// a dropped connection is not transient in this sense: the operation may
    /// have been performed (Graph retries those for idempotent reads only).
    pub fn is_transient(self) -> bool {
        matches!(self, Kind::Busy | Kind::Unavailable | Kind::Throttled)
    }
}

/// A kind is written as the string scripts see (the JSON report's `kind`).
impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A dwb error with its context.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    /// Overrides `kind.code()` where a subsystem has finer codes (Graph).
    pub code: Option<&'static str>,
    pub message: String,
    /// The object the operation was about.
    pub dn: Option<String>,
    /// Diagnostic text from the server (LDAP diagnosticMessage, Graph error.message).
    pub server_text: Option<String>,
    /// What the user can do about it.
    pub hint: Option<String>,
}

/// dwb's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, code: None, message: message.into(), dn: None, server_text: None, hint: None }
    }

    pub fn with_dn(mut self, dn: impl ToString) -> Error {
        self.dn = Some(dn.to_string());
        self
    }

    pub fn with_server_text(mut self, text: impl Into<String>) -> Error {
        let t = text.into();
        if !t.trim().is_empty() {
            self.server_text = Some(t);
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Error {
        self.code = Some(code);
        self
    }

    /// The kind as scripts and the JSON report see it (the edge where a kind
    /// becomes a string; inside dwb, compare `kind`).
    pub fn kind_str(&self) -> &'static str {
        self.kind.as_str()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code.unwrap_or(self.kind.code())
    }

    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(Kind::InvalidArgument, message)
    }

    pub fn config(message: impl Into<String>) -> Error {
        Error::new(Kind::Config, message)
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Kind::Internal, message)
    }

    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Error {
        Error::new(Kind::Io, format!("{what}: {e}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)?;
        if let Some(dn) = &self.dn {
            write!(f, " [{dn}]")?;
        }
        if let Some(t) = &self.server_text {
            write!(f, " (server said: {t})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Suggests the closest of `candidates` to `given` ("did you mean").
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&given.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_stable() {
        let mut seen = std::collections::HashSet::new();
        for k in Kind::ALL {
            assert!(seen.insert(k.code()), "duplicate code {}", k.code());
        }
        assert_eq!(Kind::from_ldap_rc(32).code(), "DWB-AD-0032");
        assert_eq!(Kind::from_ldap_rc(68).as_str(), "already_exists");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("scop", ["scope", "attrs", "filter"]), Some("scope"));
        assert_eq!(did_you_mean("zzzz", ["scope", "attrs"]), None);
    }
}

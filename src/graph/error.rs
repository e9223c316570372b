//! [`GraphError`]: the one error type of the Graph client and the offline reader.
//! Its codes are rows of the error registry (`crate::error::registry`).

use std::fmt;
use std::time::Duration;

use crate::error::Kind;

/// What went wrong, finer than [`GraphError::kind`]. Each reason has one stable
/// code (`DWB-GRAPH-00NN`) and belongs to exactly one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Invalid configuration (cloud URL, tenant, option value).
    Config,
    /// `http://` to a host that is not loopback, or a URL with credentials/query.
    InsecureUrl,
    /// The certificate or private key could not be read or do not match.
    Credential,
    /// A file could not be read or written (offline source, delta state file).
    Io,
    /// The request dwb sent was rejected as invalid (HTTP 400).
    BadRequest,
    /// A GUID matched several devices by `deviceId`.
    Ambiguous,
    /// The token endpoint refused to issue a token.
    TokenRequest,
    /// Graph answered 401 even after one token refresh.
    Unauthorized,
    /// Device-code sign-in was declined by the user.
    DeviceCodeDeclined,
    /// Device-code sign-in expired before the user finished.
    DeviceCodeExpired,
    /// HTTP 403: the app or user lacks a permission.
    Forbidden,
    /// The API needs a delegated (signed-in admin) token; the client holds an app-only one.
    DelegatedOnly,
    /// HTTP 404 / the object does not exist.
    NotFound,
    /// HTTP 410: the stored delta token is no longer accepted.
    DeltaExpired,
    /// 429/503/504 kept coming after the bounded number of attempts.
    Throttled,
    /// Any other unexpected HTTP status.
    HttpStatus,
    /// The body is not the JSON we expected (malformed, not an object, no `value`).
    BadJson,
    /// A device object has a missing or wrongly typed property.
    BadDevice,
    /// An `alternativeSecurityIds[].key` cannot be decoded.
    BadAltSecId,
    /// A `@odata.nextLink`/`@odata.deltaLink` points outside the configured Graph host.
    ForeignLink,
    /// Graph answered with a redirect; dwb never follows redirects.
    Redirect,
    /// Connection, TLS, timeout or other transport failure.
    Network,
    /// The operation was cancelled (Ctrl-C / cancellation token).
    Cancelled,
    /// A response body exceeded the page size limit.
    TooLarge,
    // DWB-GRAPH-0090 (the emulator could not start) is retired: the emulator is
    // its own crate now, with its own error type. The code is never reused.
}

impl Reason {
    /// The stable code. Never renumber; only append.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Config => "DWB-GRAPH-0001",
            Reason::InsecureUrl => "DWB-GRAPH-0002",
            Reason::Credential => "DWB-GRAPH-0003",
            Reason::Io => "DWB-GRAPH-0004",
            Reason::BadRequest => "DWB-GRAPH-0005",
            Reason::Ambiguous => "DWB-GRAPH-0006",
            Reason::TokenRequest => "DWB-GRAPH-0010",
            Reason::Unauthorized => "DWB-GRAPH-0011",
            Reason::DeviceCodeDeclined => "DWB-GRAPH-0012",
            Reason::DeviceCodeExpired => "DWB-GRAPH-0013",
            Reason::Forbidden => "DWB-GRAPH-0020",
            Reason::DelegatedOnly => "DWB-GRAPH-0021",
            Reason::NotFound => "DWB-GRAPH-0030",
            Reason::DeltaExpired => "DWB-GRAPH-0031",
            Reason::Throttled => "DWB-GRAPH-0040",
            Reason::HttpStatus => "DWB-GRAPH-0050",
            Reason::BadJson => "DWB-GRAPH-0051",
            Reason::BadDevice => "DWB-GRAPH-0052",
            Reason::BadAltSecId => "DWB-GRAPH-0053",
            Reason::ForeignLink => "DWB-GRAPH-0054",
            Reason::Redirect => "DWB-GRAPH-0055",
            Reason::Network => "DWB-GRAPH-0060",
            Reason::Cancelled => "DWB-GRAPH-0070",
            Reason::TooLarge => "DWB-GRAPH-0080",
        }
    }

    /// The kind (of dwb's one `Kind`) this reason belongs to.
    pub fn kind(self) -> Kind {
        match self {
            Reason::Config
            | Reason::InsecureUrl
            | Reason::Credential
            | Reason::Io
            | Reason::BadRequest
            | Reason::Ambiguous => Kind::GraphConfig,
            Reason::TokenRequest
            | Reason::Unauthorized
            | Reason::DeviceCodeDeclined
            | Reason::DeviceCodeExpired => Kind::Auth,
            Reason::Forbidden => Kind::Forbidden,
            Reason::DelegatedOnly => Kind::DelegatedOnly,
            Reason::NotFound | Reason::DeltaExpired => Kind::NotFound,
            Reason::Throttled => Kind::Throttled,
            Reason::HttpStatus
            | Reason::BadJson
            | Reason::BadDevice
            | Reason::BadAltSecId
            | Reason::ForeignLink
            | Reason::Redirect => Kind::BadResponse,
            Reason::Network => Kind::Network,
            Reason::Cancelled => Kind::Cancelled,
            Reason::TooLarge => Kind::TooLarge,
        }
    }
}

/// Every reason, for documentation and tests.
pub const ALL_REASONS: &[Reason] = &[
    Reason::Config,
    Reason::InsecureUrl,
    Reason::Credential,
    Reason::Io,
    Reason::BadRequest,
    Reason::Ambiguous,
    Reason::TokenRequest,
    Reason::Unauthorized,
    Reason::DeviceCodeDeclined,
    Reason::DeviceCodeExpired,
    Reason::Forbidden,
    Reason::DelegatedOnly,
    Reason::NotFound,
    Reason::DeltaExpired,
    Reason::Throttled,
    Reason::HttpStatus,
    Reason::BadJson,
    Reason::BadDevice,
    Reason::BadAltSecId,
    Reason::ForeignLink,
    Reason::Redirect,
    Reason::Network,
    Reason::Cancelled,
    Reason::TooLarge,
];

#[derive(Debug, Default, Clone)]
struct Context {
    status: Option<u16>,
    graph_code: Option<String>,
    graph_message: Option<String>,
    request_id: Option<String>,
    client_request_id: Option<String>,
    method: Option<&'static str>,
    url: Option<String>,
    device: Option<String>,
    field: Option<String>,
    file: Option<String>,
    attempts: Option<u32>,
    retry_after: Option<Duration>,
}

/// The Graph module's error. Cheap to move (boxed). Never contains a secret or token.
pub struct GraphError {
    reason: Reason,
    message: String,
    ctx: Box<Context>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl GraphError {
    /// A new error with a dwb message and no context.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        GraphError { reason, message: message.into(), ctx: Box::default(), source: None }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Reason::Config, message)
    }

    pub(crate) fn cancelled() -> Self {
        Self::new(Reason::Cancelled, "the Graph operation was cancelled")
    }

    /// The stable code, e.g. `"DWB-GRAPH-0040"`.
    pub fn code(&self) -> &'static str {
        self.reason.code()
    }
    /// The kind: `Auth`, `Throttled`, `NotFound`, `Forbidden`, `DelegatedOnly`,
    /// `BadResponse`, `Network`, `Cancelled`, `GraphConfig` or `TooLarge`.
    pub fn kind(&self) -> Kind {
        self.reason.kind()
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// dwb's own message (without the context suffix that `Display` adds).
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn status(&self) -> Option<u16> {
        self.ctx.status
    }
    /// Graph's `error.code` (or the identity platform's `error`).
    pub fn graph_code(&self) -> Option<&str> {
        self.ctx.graph_code.as_deref()
    }
    /// Graph's `error.message` (or the identity platform's `error_description`).
    pub fn graph_message(&self) -> Option<&str> {
        self.ctx.graph_message.as_deref()
    }
    pub fn request_id(&self) -> Option<&str> {
        self.ctx.request_id.as_deref()
    }
    pub fn client_request_id(&self) -> Option<&str> {
        self.ctx.client_request_id.as_deref()
    }
    pub fn url(&self) -> Option<&str> {
        self.ctx.url.as_deref()
    }
    pub fn method(&self) -> Option<&'static str> {
        self.ctx.method
    }
    /// The device (`id`, or index when it has none) the error is about.
    pub fn device(&self) -> Option<&str> {
        self.ctx.device.as_deref()
    }
    /// The device property the error is about.
    pub fn field(&self) -> Option<&str> {
        self.ctx.field.as_deref()
    }
    /// The file the error is about (offline source, state file).
    pub fn file(&self) -> Option<&str> {
        self.ctx.file.as_deref()
    }
    /// How many attempts were made before giving up (throttling/network).
    pub fn attempts(&self) -> Option<u32> {
        self.ctx.attempts
    }
    /// The last `Retry-After` Graph sent, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.ctx.retry_after
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.ctx.status = Some(status);
        self
    }
    pub(crate) fn with_graph(mut self, code: Option<String>, message: Option<String>) -> Self {
        self.ctx.graph_code = code;
        self.ctx.graph_message = message;
        self
    }
    pub(crate) fn with_ids(
        mut self,
        request_id: Option<String>,
        client_request_id: Option<String>,
    ) -> Self {
        if request_id.is_some() {
            self.ctx.request_id = request_id;
        }
        if client_request_id.is_some() {
            self.ctx.client_request_id = client_request_id;
        }
        self
    }
    pub(crate) fn with_url(mut self, method: &'static str, url: &str) -> Self {
        self.ctx.method = Some(method);
        self.ctx.url = Some(url.to_string());
        self
    }
    pub(crate) fn with_device(mut self, device: impl Into<String>) -> Self {
        self.ctx.device = Some(device.into());
        self
    }
    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.ctx.field = Some(field.into());
        self
    }
    pub(crate) fn with_file(mut self, file: impl Into<String>) -> Self {
        self.ctx.file = Some(file.into());
        self
    }
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.ctx.attempts = Some(attempts);
        self
    }
    pub(crate) fn with_retry_after(mut self, d: Option<Duration>) -> Self {
        self.ctx.retry_after = d;
        self
    }
    pub(crate) fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }
    /// A copy for each of several callers that the same failure hit (a `$batch`
    /// that failed as a whole fails each of its members). The source is kept as text.
    pub(crate) fn duplicate(&self) -> GraphError {
        GraphError {
            reason: self.reason,
            message: self.message.clone(),
            ctx: self.ctx.clone(),
            source: self.source.as_ref().map(|s| {
                Box::new(SourceText(s.to_string())) as Box<dyn std::error::Error + Send + Sync>
            }),
        }
    }
    /// Prefix the message (used to add the file name or the device index).
    pub(crate) fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code(), self.kind().as_str(), self.message)?;
        let c = &self.ctx;
        if c.graph_code.is_some() || c.graph_message.is_some() {
            write!(f, " (Graph: {}", c.graph_code.as_deref().unwrap_or("-"))?;
            if let Some(m) = &c.graph_message {
                write!(f, ": {m}")?;
            }
            write!(f, ")")?;
        }
        let mut parts: Vec<String> = Vec::new();
        if let Some(s) = c.status {
            parts.push(format!("HTTP {s}"));
        }
        if let Some(u) = &c.url {
            parts.push(format!("{} {u}", c.method.unwrap_or("GET")));
        }
        if let Some(d) = &c.device {
            parts.push(format!("device {d}"));
        }
        if let Some(x) = &c.field {
            parts.push(format!("property {x}"));
        }
        if let Some(x) = &c.file {
            parts.push(format!("file {x}"));
        }
        if let Some(x) = &c.request_id {
            parts.push(format!("request-id {x}"));
        }
        if let Some(x) = &c.client_request_id {
            parts.push(format!("client-request-id {x}"));
        }
        if let Some(n) = c.attempts {
            parts.push(format!("{n} attempts"));
        }
        if !parts.is_empty() {
            write!(f, " [{}]", parts.join("; "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphError")
            .field("code", &self.code())
            .field("kind", &self.kind())
            .field("reason", &self.reason)
            .field("message", &self.message)
            .field("context", &self.ctx)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

/// A source error carried over as its text by [`GraphError::duplicate`].
#[derive(Debug)]
struct SourceText(String);

impl fmt::Display for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceText {}

impl std::error::Error for GraphError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|b| b.as_ref() as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = GraphError> = std::result::Result<T, E>;

/// A Graph error as a dwb error, keeping Graph's finer code and its kind
/// (`throttled`, `delegated_only`, …) for scripts that `catch` it.
impl From<GraphError> for crate::error::Error {
    fn from(e: GraphError) -> Self {
        let out = crate::error::Error::new(e.kind(), e.to_string()).with_code(e.code());
        match setting_to_fix(e.reason) {
            Some(h) => out.with_hint(h),
            None => out,
        }
    }
}

/// The setting an administrator fixes for a reason Graph (or its token
/// endpoint) gave, where dwb knows it.
fn setting_to_fix(reason: Reason) -> Option<&'static str> {
    Some(match reason {
        Reason::TokenRequest | Reason::Unauthorized => {
            "check the app's credentials: DWB_GRAPH_TENANT and DWB_GRAPH_CLIENT_ID, and the \
             client secret (DWB_GRAPH_CLIENT_SECRET, or client_secret_file in the profile) or \
             the certificate (certificate_file and key_file); an expired secret is the usual cause"
        }
        Reason::Forbidden => {
            "grant the app the application permission the call needs, with admin consent (a \
             sync: Device.Read.All and User.Read.All; `dwb run verify` lists what it has)"
        }
        Reason::Credential => {
            "check the profile's certificate_file and key_file: readable, PEM, and the key of \
             that certificate"
        }
        _ => return None,
    })
}

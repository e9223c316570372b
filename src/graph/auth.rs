//! Credentials and the token cache: client credentials with a secret or a
//! certificate (app-only tokens), and the device-code flow (delegated tokens,
//! with refresh tokens). Tokens live in memory only and are refreshed before
//! they expire.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::ClientInner;
use super::error::{GraphError, Reason, Result};
use super::http::{Reply, ReqBody};
use super::jwt::{ASSERTION_TYPE, ClientCertificate};
use super::retry::{Counters, sleep_or_cancel};

/// Which kind of token a client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Client credentials: application permissions.
    AppOnly,
    /// A signed-in user (device code): delegated permissions.
    Delegated,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AppOnly => "app_only",
            TokenKind::Delegated => "delegated",
        }
    }
}

/// What the user must do to finish a device-code sign-in.
#[derive(Debug, Clone)]
pub struct DeviceCodePrompt {
    pub user_code: String,
    pub verification_uri: String,
    /// The ready-to-print text from the identity platform.
    pub message: String,
    pub expires_in: Duration,
}

/// Called once with the sign-in instructions (print `message`).
pub type PromptFn = Arc<dyn Fn(&DeviceCodePrompt) + Send + Sync>;

/// How the client authenticates.
#[derive(Clone)]
pub enum Credential {
    /// Client credentials with a client secret (app-only).
    ClientSecret { client_id: String, secret: SecretString },
    /// Client credentials with a certificate (app-only).
    Certificate { client_id: String, certificate: ClientCertificate },
    /// Device-code sign-in of an administrator (delegated).
    DeviceCode {
        client_id: String,
        /// Shows the sign-in instructions.
        prompt: PromptFn,
        /// Extra delegated scopes; `{graph}/.default offline_access` is always asked.
        scopes: Vec<String>,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ClientSecret { client_id, .. } => f
                .debug_struct("ClientSecret")
                .field("client_id", client_id)
                .field("secret", &"[REDACTED]")
                .finish(),
            Credential::Certificate { client_id, certificate } => f
                .debug_struct("Certificate")
                .field("client_id", client_id)
                .field("certificate", certificate)
                .finish(),
            Credential::DeviceCode { client_id, scopes, .. } => f
                .debug_struct("DeviceCode")
                .field("client_id", client_id)
                .field("scopes", scopes)
                .finish(),
        }
    }
}

impl Credential {
    /// Client credentials with a client secret.
    pub fn client_secret(client_id: impl Into<String>, secret: SecretString) -> Credential {
        Credential::ClientSecret { client_id: client_id.into(), secret }
    }
    /// Client credentials with a certificate.
    pub fn certificate(client_id: impl Into<String>, certificate: ClientCertificate) -> Credential {
        Credential::Certificate { client_id: client_id.into(), certificate }
    }
    /// Device-code sign-in; `prompt` receives the instructions to show the admin.
    pub fn device_code(client_id: impl Into<String>, prompt: PromptFn) -> Credential {
        Credential::DeviceCode { client_id: client_id.into(), prompt, scopes: Vec::new() }
    }
    pub fn client_id(&self) -> &str {
        match self {
            Credential::ClientSecret { client_id, .. }
            | Credential::Certificate { client_id, .. }
            | Credential::DeviceCode { client_id, .. } => client_id,
        }
    }
    pub fn token_kind(&self) -> TokenKind {
        match self {
            Credential::DeviceCode { .. } => TokenKind::Delegated,
            _ => TokenKind::AppOnly,
        }
    }
}

struct CachedToken {
    access: SecretString,
    refresh: Option<SecretString>,
    obtained: Instant,
    expires_at: Instant,
}

/// Holds the credential and the cached token.
pub(crate) struct Authenticator {
    credential: Credential,
    refresh_margin: Duration,
    slow_down_step: Duration,
    cache: Mutex<Option<CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    expires_in: serde_json::Value,
    #[serde(default)]
    interval: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
}

fn num(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

impl Authenticator {
    pub fn new(credential: Credential, refresh_margin: Duration, slow_down_step: Duration) -> Self {
        Authenticator { credential, refresh_margin, slow_down_step, cache: Mutex::new(None) }
    }

    pub fn kind(&self) -> TokenKind {
        self.credential.token_kind()
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A valid access token: cached, refreshed, or newly acquired.
    pub async fn token(&self, inner: &ClientInner) -> Result<SecretString> {
        let mut guard = self.cache.lock().await;
        let now = Instant::now();
        let mut refresh = None;
        if let Some(t) = guard.as_ref() {
            let lifetime = t.expires_at.saturating_duration_since(t.obtained);
            let margin = self.refresh_margin.min(lifetime / 2);
            if now + margin < t.expires_at {
                return Ok(t.access.clone());
            }
            refresh = t.refresh.clone();
        }
        // The old entry (and its refresh token) stays until a new token is in hand.
        let fresh = match (&self.credential, refresh) {
            (Credential::DeviceCode { client_id, .. }, Some(rt)) => {
                match self.refresh_grant(inner, client_id, &rt).await {
                    Ok(t) => t,
                    Err(e) if e.reason() == Reason::TokenRequest => {
                        tracing::info!("refresh token rejected; signing in again");
                        self.acquire(inner).await?
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => self.acquire(inner).await?,
        };
        let access = fresh.access.clone();
        *guard = Some(fresh);
        Ok(access)
    }

    /// Forget `used` if it is still the cached token (after a 401).
    pub async fn invalidate(&self, used: &SecretString) {
        let mut guard = self.cache.lock().await;
        if let Some(t) = guard.as_mut()
            && t.access.expose_secret() == used.expose_secret()
        {
            // Keep the refresh token so a delegated session survives a 401.
            t.expires_at = t.obtained;
        }
    }

    async fn acquire(&self, inner: &ClientInner) -> Result<CachedToken> {
        let token_url = inner.endpoints.token_url();
        let scope = inner.endpoints.scope().to_string();
        match &self.credential {
            Credential::ClientSecret { client_id, secret } => {
                let form = vec![
                    ("grant_type", "client_credentials".to_string()),
                    ("client_id", client_id.clone()),
                    ("client_secret", secret.expose_secret().to_string()),
                    ("scope", scope),
                ];
                self.token_request(inner, form).await
            }
            Credential::Certificate { client_id, certificate } => {
                let assertion = certificate.assertion(client_id, &token_url)?;
                let form = vec![
                    ("grant_type", "client_credentials".to_string()),
                    ("client_id", client_id.clone()),
                    ("client_assertion_type", ASSERTION_TYPE.to_string()),
                    ("client_assertion", assertion.expose_secret().to_string()),
                    ("scope", scope),
                ];
                self.token_request(inner, form).await
            }
            Credential::DeviceCode { client_id, prompt, .. } => {
                self.device_code(inner, client_id, prompt).await
            }
        }
    }

    async fn refresh_grant(
        &self,
        inner: &ClientInner,
        client_id: &str,
        rt: &SecretString,
    ) -> Result<CachedToken> {
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", client_id.to_string()),
            ("refresh_token", rt.expose_secret().to_string()),
            ("scope", self.delegated_scope(inner)),
        ];
        self.token_request(inner, form).await
    }

    fn delegated_scope(&self, inner: &ClientInner) -> String {
        let mut s = format!("{} offline_access", inner.endpoints.scope());
        if let Credential::DeviceCode { scopes, .. } = &self.credential {
            for x in scopes {
                s.push(' ');
                s.push_str(x);
            }
        }
        s
    }

    async fn post_token_endpoint(
        &self,
        inner: &ClientInner,
        url: &str,
        form: Vec<(&'static str, String)>,
    ) -> Result<Reply> {
        let u = url::Url::parse(url)
            .map_err(|e| GraphError::config(format!("token URL {url}: {e}")))?;
        Counters::bump(&inner.counters.token_requests, 1);
        // Boxed: execute() itself may ask for a token (breaks the async recursion).
        Box::pin(inner.execute(Method::POST, u, ReqBody::Form(form), false)).await
    }

    async fn token_request(
        &self,
        inner: &ClientInner,
        form: Vec<(&'static str, String)>,
    ) -> Result<CachedToken> {
        let reply = self.post_token_endpoint(inner, &inner.endpoints.token_url(), form).await?;
        if !reply.is_success() {
            return Err(token_error(reply, "the token endpoint refused to issue a token"));
        }
        parse_token(&reply)
    }

    async fn device_code(
        &self,
        inner: &ClientInner,
        client_id: &str,
        prompt: &PromptFn,
    ) -> Result<CachedToken> {
        let form =
            vec![("client_id", client_id.to_string()), ("scope", self.delegated_scope(inner))];
        let reply =
            self.post_token_endpoint(inner, &inner.endpoints.devicecode_url(), form).await?;
        if !reply.is_success() {
            return Err(token_error(reply, "the device-code request was refused"));
        }
        let dc: DeviceCodeResponse = serde_json::from_value(reply.json()?).map_err(|e| {
            GraphError::new(Reason::BadJson, format!("unexpected device-code response: {e}"))
                .with_url("POST", &reply.url)
        })?;
        let expires_in = Duration::from_secs(num(&dc.expires_in).unwrap_or(900));
        let mut interval = Duration::from_secs(dc.interval.as_ref().and_then(num).unwrap_or(5));
        let message = dc.message.clone().unwrap_or_else(|| {
            format!("To sign in, use a web browser to open the page {} and enter the code {} to authenticate.", dc.verification_uri, dc.user_code)
        });
        prompt(&DeviceCodePrompt {
            user_code: dc.user_code.clone(),
            verification_uri: dc.verification_uri.clone(),
            message,
            expires_in,
        });
        let deadline = Instant::now() + expires_in;
        loop {
            if let Some(o) = &inner.observer {
                o.on_device_code_wait(interval);
            }
            sleep_or_cancel(interval, &inner.cancel).await?;
            if Instant::now() > deadline {
                return Err(GraphError::new(
                    Reason::DeviceCodeExpired,
                    "the device-code sign-in expired before it was completed; run the command again",
                ));
            }
            let form = vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code".to_string()),
                ("client_id", client_id.to_string()),
                ("device_code", dc.device_code.clone()),
            ];
            let reply = self.post_token_endpoint(inner, &inner.endpoints.token_url(), form).await?;
            if reply.is_success() {
                return parse_token(&reply);
            }
            let (code, _) = reply.error_fields();
            match code.as_deref() {
                Some("authorization_pending") => continue,
                Some("slow_down") => {
                    interval += self.slow_down_step;
                    continue;
                }
                Some("authorization_declined" | "access_denied") => {
                    return Err(token_error_as(
                        reply,
                        Reason::DeviceCodeDeclined,
                        "the sign-in was declined",
                    ));
                }
                Some("expired_token" | "code_expired") => {
                    return Err(token_error_as(
                        reply,
                        Reason::DeviceCodeExpired,
                        "the device code expired before sign-in completed; run the command again",
                    ));
                }
                _ => return Err(token_error(reply, "device-code sign-in failed")),
            }
        }
    }
}

fn parse_token(reply: &Reply) -> Result<CachedToken> {
    let t: TokenResponse = serde_json::from_slice(&reply.body).map_err(|e| {
        GraphError::new(
            Reason::BadJson,
            format!("the token endpoint returned an unexpected body: {e}"),
        )
        .with_url("POST", &reply.url)
        .with_status(reply.status)
    })?;
    let secs = t.expires_in.as_ref().and_then(num).unwrap_or(3599);
    let now = Instant::now();
    Ok(CachedToken {
        access: SecretString::from(t.access_token),
        refresh: t.refresh_token.map(SecretString::from),
        obtained: now,
        expires_at: now + Duration::from_secs(secs),
    })
}

fn token_error(reply: Reply, what: &str) -> GraphError {
    token_error_as(reply, Reason::TokenRequest, what)
}

fn token_error_as(reply: Reply, reason: Reason, what: &str) -> GraphError {
    let (code, message) = reply.error_fields();
    GraphError::new(reason, what.to_string())
        .with_status(reply.status)
        .with_graph(code, message)
        .with_ids(reply.request_id, reply.client_request_id)
        .with_url("POST", &reply.url)
}

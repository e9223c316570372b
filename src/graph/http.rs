//! The one request wrapper: bearer auth, retries (429/503/504, `Retry-After`,
//! backoff), one refresh on 401, no redirects, bounded body reads, cancellation,
//! and Graph's error shape turned into [`GraphError`].

use std::time::SystemTime;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use super::ClientInner;
use super::error::{GraphError, Reason, Result};
use super::retry::{Counters, RetryEvent, parse_retry_after, sleep_or_cancel, transient_status};

/// Error bodies are read up to this size; the rest is ignored.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// What to send.
pub(crate) enum ReqBody {
    None,
    Json(Value),
    /// Form fields. May hold a secret; never logged or put in an error.
    Form(Vec<(&'static str, String)>),
}

/// A final HTTP answer (any status), with the body read within the limit.
/// Its `Debug` leaves the body out (a token response holds the access token).
pub(crate) struct Reply {
    pub status: u16,
    pub url: String,
    pub method: &'static str,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// Parse the body as JSON, or a `bad_response` error naming the URL.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            GraphError::new(Reason::BadJson, format!("Graph returned malformed JSON: {e}"))
                .with_url(self.method, &self.url)
                .with_status(self.status)
                .with_ids(self.request_id.clone(), self.client_request_id.clone())
        })
    }
    /// Graph's `{"error":{"code","message"}}` or the identity platform's
    /// `{"error","error_description"}`.
    pub fn error_fields(&self) -> (Option<String>, Option<String>) {
        let Ok(v) = serde_json::from_slice::<Value>(&self.body) else {
            return (None, None);
        };
        match v.get("error") {
            Some(Value::Object(o)) => (
                o.get("code").and_then(Value::as_str).map(str::to_string),
                o.get("message").and_then(Value::as_str).map(str::to_string),
            ),
            Some(Value::String(code)) => (
                Some(code.clone()),
                v.get("error_description").and_then(Value::as_str).map(str::to_string),
            ),
            _ => (None, None),
        }
    }
    /// Turn a non-2xx Graph reply into an error.
    pub fn into_error(self) -> GraphError {
        let (code, message) = self.error_fields();
        // An expired delta token: 410 Gone, or (directory resources) 400 with
        // syncStateNotFound / resyncRequired ("the delta token is expired and data
        // must be synchronized again").
        let expired = matches!(code.as_deref(), Some(c)
            if c.eq_ignore_ascii_case("syncStateNotFound") || c.eq_ignore_ascii_case("resyncRequired"));
        let (reason, text) = match self.status {
            400 | 410 if expired => (
                Reason::DeltaExpired,
                "the delta token expired; a new full round is needed".to_string(),
            ),
            400 => (Reason::BadRequest, "Graph rejected the request as invalid".to_string()),
            401 => (
                Reason::Unauthorized,
                "Graph rejected the access token even after a refresh".to_string(),
            ),
            403 => (
                Reason::Forbidden,
                "access denied: the app needs Device.Read.All (and User.Read.All for owner SIDs) \
                 with admin consent"
                    .to_string(),
            ),
            404 => (Reason::NotFound, "not found".to_string()),
            410 => (
                Reason::DeltaExpired,
                "the delta token is no longer valid; a new full round is needed".to_string(),
            ),
            s if (300..400).contains(&s) => (
                Reason::Redirect,
                "Graph answered with a redirect; dwb never follows redirects".to_string(),
            ),
            s => (Reason::HttpStatus, format!("unexpected HTTP status {s} from Graph")),
        };
        GraphError::new(reason, text)
            .with_status(self.status)
            .with_graph(code, message)
            .with_ids(self.request_id, self.client_request_id)
            .with_url(self.method, &self.url)
    }
}

fn method_str(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

impl ClientInner {
    /// Send one logical request, retrying as the policy says. `bearer` adds the
    /// access token (only ever to the Graph origin). Returns the final reply
    /// whatever its status, except that exhausted throttling is an error.
    pub(crate) async fn execute(
        &self,
        method: Method,
        url: Url,
        body: ReqBody,
        bearer: bool,
    ) -> Result<Reply> {
        let idempotent = method == Method::GET || !bearer;
        self.execute_with(method, url, body, bearer, idempotent).await
    }

    /// [`ClientInner::execute`], saying whether a transport failure may be retried:
    /// GETs and token requests may, and so may a `$batch` POST of GETs.
    pub(crate) async fn execute_with(
        &self,
        method: Method,
        url: Url,
        body: ReqBody,
        bearer: bool,
        idempotent: bool,
    ) -> Result<Reply> {
        let m = method_str(&method);
        if bearer && !self.endpoints.is_graph_origin(&url) {
            return Err(GraphError::new(
                Reason::ForeignLink,
                format!(
                    "refusing to send the access token to {}: not the Graph host",
                    super::cloud::origin(&url)
                ),
            )
            .with_url(m, url.as_str()));
        }
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let policy = &self.retry;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            if self.cancel.is_cancelled() {
                return Err(GraphError::cancelled().with_url(m, url.as_str()));
            }
            let mut rb = self
                .http
                .request(method.clone(), url.clone())
                .header("client-request-id", &client_request_id)
                .header("return-client-request-id", "true")
                .header("Accept", "application/json");
            let mut used_token = None;
            if bearer {
                let tok = self.auth.token(self).await?;
                rb = rb.bearer_auth(tok.expose_secret());
                used_token = Some(tok);
            }
            rb = match &body {
                ReqBody::None => rb,
                ReqBody::Json(v) => rb.json(v),
                ReqBody::Form(f) => rb.form(f),
            };
            Counters::bump(&self.counters.requests, 1);
            let sent = tokio::select! {
                _ = self.cancel.cancelled() => return Err(GraphError::cancelled().with_url(m, url.as_str())),
                r = rb.send() => r,
            };
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    crate::metrics::graph_request(None);
                    if idempotent && attempt < policy.max_attempts {
                        let wait = policy.backoff(attempt);
                        self.report_retry(attempt, m, &url, None, None, wait, "network").await?;
                        continue;
                    }
                    let what = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "could not connect"
                    } else {
                        "failed"
                    };
                    return Err(GraphError::new(
                        Reason::Network,
                        format!("the request {what}: {}", error_chain(&e)),
                    )
                    .with_url(m, url.as_str())
                    .with_attempts(attempt)
                    .with_ids(None, Some(client_request_id.clone())));
                }
            };
            let status = resp.status();
            crate::metrics::graph_request(Some(status.as_u16()));
            let rid = header(&resp, "request-id");
            let crid =
                header(&resp, "client-request-id").or_else(|| Some(client_request_id.clone()));

            if bearer && status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                Counters::bump(&self.counters.unauthorized_refreshes, 1);
                if let Some(t) = used_token {
                    self.auth.invalidate(&t).await;
                }
                self.report_retry(
                    attempt,
                    m,
                    &url,
                    Some(401),
                    None,
                    std::time::Duration::ZERO,
                    "unauthorized",
                )
                .await?;
                attempt -= 1; // the refresh retry does not count against the throttling budget
                continue;
            }
            if transient_status(status.as_u16()) {
                let ra_header = header(&resp, "retry-after");
                let ra = ra_header.as_deref().and_then(|h| parse_retry_after(h, SystemTime::now()));
                if attempt >= policy.max_attempts {
                    return Err(self.throttled(resp, m, &url, attempt, ra, (rid, crid)).await);
                }
                let wait = match ra {
                    Some(d) => policy.clamp_retry_after(d),
                    None => policy.backoff(attempt),
                };
                let cause = if status.as_u16() == 429 { "throttled" } else { "unavailable" };
                drop(resp);
                self.report_retry_full(
                    attempt,
                    m,
                    &url,
                    Some(status.as_u16()),
                    ra_header,
                    ra,
                    wait,
                    cause,
                )
                .await?;
                continue;
            }
            let limit = if status.is_success() { self.max_page_bytes } else { ERROR_BODY_LIMIT };
            let body = self.read_body(resp, m, &url, limit, !status.is_success()).await?;
            return Ok(Reply {
                status: status.as_u16(),
                url: url.to_string(),
                method: m,
                body,
                request_id: rid,
                client_request_id: crid,
            });
        }
    }

    /// The error for throttling that outlasted the attempts, with Graph's last
    /// answer and its request ids.
    async fn throttled(
        &self,
        resp: reqwest::Response,
        m: &'static str,
        url: &Url,
        attempt: u32,
        ra: Option<std::time::Duration>,
        (rid, crid): (Option<String>, Option<String>),
    ) -> GraphError {
        let status = resp.status().as_u16();
        let body = match self.read_body(resp, m, url, ERROR_BODY_LIMIT, true).await {
            Ok(b) => b,
            Err(e) => return e,
        };
        let reply = Reply {
            status,
            url: url.to_string(),
            method: m,
            body,
            request_id: rid,
            client_request_id: crid,
        };
        let (code, message) = reply.error_fields();
        GraphError::new(
            Reason::Throttled,
            format!("Graph kept answering HTTP {status} after {attempt} attempts; try again later"),
        )
        .with_status(status)
        .with_graph(code, message)
        .with_ids(reply.request_id, reply.client_request_id)
        .with_url(m, url.as_str())
        .with_attempts(attempt)
        .with_retry_after(ra)
    }

    #[allow(clippy::too_many_arguments)]
    async fn report_retry(
        &self,
        attempt: u32,
        m: &'static str,
        url: &Url,
        status: Option<u16>,
        ra_header: Option<String>,
        wait: std::time::Duration,
        cause: &'static str,
    ) -> Result<()> {
        self.report_retry_full(attempt, m, url, status, ra_header, None, wait, cause).await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn report_retry_full(
        &self,
        attempt: u32,
        m: &'static str,
        url: &Url,
        status: Option<u16>,
        ra_header: Option<String>,
        ra: Option<std::time::Duration>,
        wait: std::time::Duration,
        cause: &'static str,
    ) -> Result<()> {
        if cause != "unauthorized" {
            Counters::bump(&self.counters.retries, 1);
        }
        Counters::bump(&self.counters.waited_ms, wait.as_millis() as u64);
        if matches!(cause, "throttled" | "unavailable") {
            crate::metrics::graph_throttled(wait.as_secs_f64());
        }
        tracing::debug!(attempt, status, ?wait, cause, url = %url, "Graph request will be retried");
        if let Some(o) = &self.observer {
            o.on_retry(&RetryEvent {
                attempt,
                method: m,
                url: url.to_string(),
                status,
                retry_after_header: ra_header,
                retry_after: ra,
                wait,
                cause,
            });
        }
        sleep_or_cancel(wait, &self.cancel).await.map_err(|e| e.with_url(m, url.as_str()))
    }

    /// Read a body chunk by chunk, failing as soon as it passes `limit`
    /// (or `truncate` it silently, for error bodies).
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        m: &'static str,
        url: &Url,
        limit: usize,
        truncate: bool,
    ) -> Result<Vec<u8>> {
        let too_large = |n: String| {
            GraphError::new(
                Reason::TooLarge,
                format!("the response from {url} is larger than the {limit}-byte page limit ({n})"),
            )
            .with_url(m, url.as_str())
            .with_status(200)
        };
        if let Some(len) = resp.content_length()
            && len > limit as u64
            && !truncate
        {
            return Err(too_large(format!("Content-Length {len}")));
        }
        let cap = resp.content_length().map(|l| l.min(limit as u64) as usize).unwrap_or(16 * 1024);
        let mut buf: Vec<u8> = Vec::with_capacity(cap);
        loop {
            let chunk = tokio::select! {
                _ = self.cancel.cancelled() => return Err(GraphError::cancelled().with_url(m, url.as_str())),
                c = resp.chunk() => c,
            };
            let chunk = match chunk {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    return Err(GraphError::new(
                        Reason::Network,
                        format!("reading the response failed: {}", error_chain(&e)),
                    )
                    .with_url(m, url.as_str()));
                }
            };
            if buf.len() + chunk.len() > limit {
                if truncate {
                    let room = limit - buf.len();
                    buf.extend_from_slice(&chunk[..room]);
                    break;
                }
                return Err(too_large(format!("more than {} bytes read", buf.len() + chunk.len())));
            }
            buf.extend_from_slice(&chunk);
        }
        Counters::bump(&self.counters.bytes, buf.len() as u64);
        Ok(buf)
    }

    /// GET (or other method) a Graph URL with the token; non-2xx becomes an error.
    pub(crate) async fn graph(&self, method: Method, url: Url, body: ReqBody) -> Result<Reply> {
        let reply = self.execute(method, url, body, true).await?;
        if reply.is_success() { Ok(reply) } else { Err(reply.into_error()) }
    }

    /// GET a Graph URL and parse the JSON body.
    pub(crate) async fn get_json(&self, url: Url) -> Result<Value> {
        let reply = self.graph(Method::GET, url, ReqBody::None).await?;
        let v = reply.json()?;
        if let Some(o) = &self.observer {
            o.on_page(&reply.url, reply.body.len());
        }
        Ok(v)
    }
}

/// `e` and its sources, joined; reqwest's top-level message alone is vague.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

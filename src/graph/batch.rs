//! JSON batching (`POST /v1.0/$batch`): many GETs in few round trips.
//!
//! What Microsoft documents, and what this executor does about it:
//! * "Combine multiple HTTP requests using JSON batching" (learn.microsoft.com/
//!   graph/json-batching): "JSON batch requests are currently limited to 20
//!   individual requests" → batches of [`BATCH_MAX_REQUESTS`]; each request has an
//!   `id` unique in its batch and a relative `url`; "individual responses might
//!   appear in a different order than the requests" → answers are matched by `id`;
//!   a parseable batch is answered 200 whatever its members did → every member's
//!   own `status` is looked at.
//! * "Microsoft Graph throttling guidance", throttling and batching: "Requests in a
//!   batch are evaluated individually against throttling limits"; "retry each
//!   failed request from the batch using the value provided in the retry-after
//!   response header from the JSON content. You may retry all the failed requests
//!   in a new batch after the longest retry-after value" → throttled members (and
//!   5xx members) are re-sent together, alone, after the longest wait; the others
//!   keep their results. Each member has the client's bounded attempts.
//!
//! Several batches are in flight at once ([`crate::graph::GraphConfig::batch_concurrency`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use url::Url;

use super::error::{GraphError, Reason, Result};
use super::http::{Reply, ReqBody};
use super::retry::{Counters, RetryEvent, parse_retry_after, sleep_or_cancel, transient_status};
use super::{ClientInner, GraphClient};
use crate::error::Kind;

/// "JSON batch requests are currently limited to 20 individual requests."
pub const BATCH_MAX_REQUESTS: usize = 20;

/// Batches in flight at once unless configured otherwise: a delta round's
/// 100–160 changed devices are 5–8 batches, all sent in one round trip.
/// Graph throttles by requests, not connections (a 429 inside a batch is
/// retried after its Retry-After).
pub const DEFAULT_BATCH_CONCURRENCY: usize = 8;

/// One GET to run in a batch: `key` names its result, `path` is relative to
/// `/v1.0` (e.g. `devices/{id}?$select=id`; query values percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchGet {
    pub key: String,
    pub path: String,
}

/// A member still to be answered.
struct Pending {
    key: String,
    /// As sent in the batch: `/devices/…`.
    relative: String,
    /// The same as a full URL, for errors and the observer.
    url: Url,
    /// Attempts made so far.
    attempts: u32,
}

type Answers = Vec<(String, Result<Value>)>;

/// A failure that no member can survive: the whole operation stops.
fn fatal(e: &GraphError) -> bool {
    matches!(e.kind(), Kind::Cancelled | Kind::Auth | Kind::GraphConfig)
}

impl GraphClient {
    /// Run GETs as JSON batches. The map has one entry per distinct key: the
    /// member's JSON body, or its own error (404 → `not_found`, throttling that
    /// outlasted the attempts → `throttled`, …). `Err` only when the operation as
    /// a whole stops: cancelled, no token, or a batch Graph refused as malformed.
    pub async fn batch_get(&self, gets: &[BatchGet]) -> Result<HashMap<String, Result<Value>>> {
        let mut pending = Vec::with_capacity(gets.len());
        let mut seen = std::collections::HashSet::new();
        for g in gets {
            if !seen.insert(g.key.as_str()) {
                continue;
            }
            let url = self.url(&g.path)?;
            let relative = format!("/{}", g.path.trim_start_matches('/'));
            pending.push(Pending { key: g.key.clone(), relative, url, attempts: 0 });
        }
        let mut out = HashMap::with_capacity(pending.len());
        if pending.is_empty() {
            return Ok(out);
        }
        let batch_url = self.url("$batch")?;
        let slots = Arc::new(Semaphore::new(self.inner.batch_concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        let mut rest = pending.into_iter();
        loop {
            let chunk: Vec<Pending> = rest.by_ref().take(BATCH_MAX_REQUESTS).collect();
            if chunk.is_empty() {
                break;
            }
            let (inner, url, slots) = (self.inner.clone(), batch_url.clone(), slots.clone());
            tasks.spawn(async move { run_chunk(&inner, &url, &slots, chunk).await });
        }
        while let Some(done) = tasks.join_next().await {
            let answers = done.map_err(|e| {
                GraphError::new(Reason::Network, format!("a $batch task failed: {e}"))
            })??;
            out.extend(answers);
        }
        Ok(out)
    }
}

/// One chunk of at most 20 members, until each has its answer.
async fn run_chunk(
    inner: &ClientInner,
    batch_url: &Url,
    slots: &Semaphore,
    mut pending: Vec<Pending>,
) -> Result<Answers> {
    let mut done: Answers = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let body = json!({"requests": pending.iter().enumerate().map(|(i, p)| {
            json!({"id": (i + 1).to_string(), "method": "GET", "url": p.relative})
        }).collect::<Vec<_>>()});
        for p in &mut pending {
            p.attempts += 1;
        }
        let reply = {
            let _slot = tokio::select! {
                _ = inner.cancel.cancelled() => return Err(GraphError::cancelled()),
                s = slots.acquire() => s.map_err(|_| GraphError::cancelled())?,
            };
            Counters::bump(&inner.counters.batches, 1);
            Counters::bump(&inner.counters.batch_members, pending.len() as u64);
            // A batch of GETs may be re-sent after a transport failure.
            inner
                .execute_with(Method::POST, batch_url.clone(), ReqBody::Json(body), true, true)
                .await
        };
        let mut responses = match reply.and_then(batch_responses) {
            Ok(r) => r,
            Err(e) if fatal(&e) => return Err(e),
            Err(e) => {
                done.extend(pending.drain(..).map(|p| (p.key, Err(e.duplicate()))));
                break;
            }
        };
        let mut retry: Vec<(Pending, Duration, Member)> = Vec::new();
        for (i, p) in pending.drain(..).enumerate() {
            let Some(m) = responses.remove(&(i + 1).to_string()) else {
                let e = GraphError::new(
                    Reason::BadJson,
                    format!("Graph's $batch answer has no response for request {}", i + 1),
                )
                .with_url("GET", p.url.as_str());
                done.push((p.key, Err(e)));
                continue;
            };
            if (200..300).contains(&m.status) {
                done.push((p.key, Ok(m.body)));
                continue;
            }
            match m.retry_wait(inner, &p) {
                Some(wait) => retry.push((p, wait, m)),
                None => {
                    let e = m.error(&p);
                    done.push((p.key, Err(e)));
                }
            }
        }
        if retry.is_empty() {
            break;
        }
        // "Retry all the failed requests in a new batch after the longest retry-after."
        let wait = retry.iter().map(|(_, w, _)| *w).max().unwrap_or_default();
        for (p, _, m) in &retry {
            m.report(inner, p, wait);
        }
        Counters::bump(&inner.counters.waited_ms, wait.as_millis() as u64);
        sleep_or_cancel(wait, &inner.cancel).await?;
        pending = retry.into_iter().map(|(p, _, _)| p).collect();
    }
    Ok(done)
}

/// One member's answer.
#[derive(Debug)]
struct Member {
    status: u16,
    /// Names in lower case.
    headers: HashMap<String, String>,
    body: Value,
}

/// The `responses` of a batch answer, by `id`.
fn batch_responses(reply: Reply) -> Result<HashMap<String, Member>> {
    if !reply.is_success() {
        return Err(reply.into_error());
    }
    let bad = |what: &str| {
        GraphError::new(Reason::BadJson, format!("Graph's $batch answer {what}"))
            .with_url(reply.method, &reply.url)
            .with_ids(reply.request_id.clone(), reply.client_request_id.clone())
    };
    let v = reply.json()?;
    let Some(Value::Array(items)) = v.get("responses") else {
        return Err(bad("has no 'responses' array"));
    };
    let mut out = HashMap::with_capacity(items.len());
    for item in items {
        let id = match item.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(bad("has a response without an 'id'")),
        };
        let Some(status) = item.get("status").and_then(Value::as_u64) else {
            return Err(bad(&format!("has no status for request {id}")));
        };
        // Header names are case-insensitive; Graph writes `Retry-After`.
        let headers = item
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let body = item.get("body").cloned().unwrap_or(Value::Null);
        out.insert(id, Member { status: status as u16, headers, body });
    }
    Ok(out)
}

impl Member {
    /// How long to wait before re-sending a failed member; `None` = give up.
    fn retry_wait(&self, inner: &ClientInner, p: &Pending) -> Option<Duration> {
        let policy = &inner.retry;
        // A member's 500/502 is re-sent too (with the backoff): the member
        // failed alone inside a batch that itself succeeded.
        let retryable = transient_status(self.status) || matches!(self.status, 500 | 502);
        if !retryable || p.attempts >= policy.max_attempts {
            return None;
        }
        Some(match (self.honours_retry_after(), self.retry_after()) {
            (true, Some(d)) => policy.clamp_retry_after(d),
            _ => policy.backoff(p.attempts),
        })
    }

    /// 429/503/504 say when to come back; other 5xx get the backoff.
    fn honours_retry_after(&self) -> bool {
        transient_status(self.status)
    }

    fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(self.headers.get("retry-after")?, SystemTime::now())
    }

    /// The member's failure as the error a direct request would have given.
    fn error(&self, p: &Pending) -> GraphError {
        let reply = Reply {
            status: self.status,
            url: p.url.to_string(),
            method: "GET",
            body: serde_json::to_vec(&self.body).unwrap_or_default(),
            request_id: self.body.pointer("/error/innerError/request-id").and_then(as_string),
            client_request_id: None,
        };
        let (code, message) = reply.error_fields();
        let e = match self.status {
            404 => GraphError::new(
                Reason::NotFound,
                format!("{} does not exist (deleted since it was listed?)", p.key),
            )
            .with_status(404)
            .with_graph(code, message)
            .with_url("GET", p.url.as_str()),
            s if transient_status(s) => GraphError::new(
                Reason::Throttled,
                format!(
                    "Graph kept answering HTTP {} to this batched request after {} attempts; \
                     try again later",
                    self.status, p.attempts
                ),
            )
            .with_status(self.status)
            .with_graph(code, message)
            .with_url("GET", p.url.as_str())
            .with_retry_after(self.retry_after()),
            _ => reply.into_error(),
        };
        e.with_attempts(p.attempts)
    }

    /// Count and report the wait before re-sending this member.
    fn report(&self, inner: &ClientInner, p: &Pending, wait: Duration) {
        Counters::bump(&inner.counters.retries, 1);
        let cause = match self.status {
            429 => "throttled",
            503 | 504 => "unavailable",
            _ => "server_error",
        };
        tracing::debug!(attempt = p.attempts, status = self.status, ?wait, cause, url = %p.url,
            "batched Graph request will be re-sent");
        if let Some(o) = &inner.observer {
            o.on_retry(&RetryEvent {
                attempt: p.attempts,
                method: "GET",
                url: p.url.to_string(),
                status: Some(self.status),
                retry_after_header: self.headers.get("retry-after").cloned(),
                retry_after: self.retry_after(),
                wait,
                cause,
            });
        }
    }
}

fn as_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

//! The middleware in front of every Graph endpoint: bearer-token check, fault
//! injection, `request-id`/`client-request-id` headers and the request log; and
//! the latency layer in front of everything.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::RequestRecord;
use super::faults::{Decision, MemberFault};
use super::routes::{Ctx, S, graph_error};

enum Auth {
    None,
    Invalid,
    Expired,
    Valid { delegated: bool },
}

/// Sends every response (token endpoints included) `latency_ms` late, as a network
/// round trip would. Read per request, so it can change while the server runs.
pub(crate) async fn latency_mw(State(s): State<S>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let ms = s.lock().state.latency_ms;
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    resp
}

/// Marks a request as a `$batch` member: the `batch_*` faults apply to it instead
/// of the request-level ones, and it is logged with `in_batch`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchMember;

/// Auth check, fault injection, request ids and logging for every Graph call.
pub(crate) async fn graph_mw(State(s): State<S>, mut req: Request, next: Next) -> Response {
    let in_batch = req.extensions().get::<BatchMember>().is_some();
    let rid = uuid::Uuid::new_v4().to_string();
    let crid = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().to_string();
    let uri = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    let key = format!("{method} {uri}");
    let (auth, mut decision, member_fault) = {
        let mut w = s.lock();
        w.rt.check_retry(&key, Instant::now());
        let auth = match bearer.as_ref().map(|t| w.rt.tokens.get(t)) {
            None => Auth::None,
            Some(None) => Auth::Invalid,
            Some(Some(i)) if i.expires <= Instant::now() => Auth::Expired,
            Some(Some(i)) => Auth::Valid { delegated: i.delegated },
        };
        let valid = matches!(auth, Auth::Valid { .. });
        if in_batch {
            w.rt.batch_members += 1;
            let n = w.rt.batch_members;
            let f = if valid { w.state.faults.decide_member(n) } else { MemberFault::None };
            (auth, Decision::default(), f)
        } else {
            w.rt.graph_requests += 1;
            let n = w.rt.graph_requests;
            let d = if valid { w.state.faults.decide(n) } else { Decision::default() };
            (auth, d, MemberFault::None)
        }
    };
    if let Some(d) = decision.delay {
        tokio::time::sleep(d).await;
    }
    let unauth = |m: &str| {
        graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m, &rid, &crid)
    };
    let (resp, auth_label) = match auth {
        Auth::None => (unauth("Access token is empty."), "none"),
        Auth::Invalid => (unauth("Access token validation failure. Invalid audience."), "invalid"),
        Auth::Expired => (unauth("Lifetime validation failed, the token is expired."), "invalid"),
        Auth::Valid { delegated } => {
            let label = if delegated { "delegated" } else { "app_only" };
            if decision.unauthorized {
                (unauth("Lifetime validation failed, the token is expired."), label)
            } else if let MemberFault::Throttle(retry_after) = member_fault {
                (throttled(429, retry_after, &rid, &crid), label)
            } else if let MemberFault::Error(status) = member_fault {
                let (code, msg) = match status {
                    502 => ("BadGateway", "The upstream service returned an invalid response."),
                    503 => ("serviceNotAvailable", "Service unavailable, please retry later."),
                    504 => ("GatewayTimeout", "The gateway did not receive a timely response."),
                    _ => ("InternalServerError", "An internal server error occurred."),
                };
                let st = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (graph_error(st, code, msg, &rid, &crid), label)
            } else if let Some((status, retry_after)) = decision.throttle.take() {
                (throttled(status, retry_after, &rid, &crid), label)
            } else {
                req.extensions_mut().insert(Ctx {
                    rid: rid.clone(),
                    crid: crid.clone(),
                    delegated,
                });
                let r = next.run(req).await;
                // A member's body is part of the batch's one response: the body faults
                // apply to that response, not to its parts.
                let r = if in_batch { r } else { post_process(&s, r, &mut decision).await };
                (r, label)
            }
        }
    };
    let mut resp = resp;
    for (k, v) in [("request-id", &rid), ("client-request-id", &crid)] {
        if let Ok(v) = HeaderValue::from_str(v) {
            resp.headers_mut().insert(k, v);
        }
    }
    let mut w = s.lock();
    if matches!(resp.status().as_u16(), 429 | 503 | 504) {
        let retry_after = resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok());
        w.rt.throttled(key, retry_after, Instant::now());
    }
    w.rt.record(RequestRecord {
        method,
        uri,
        auth: auth_label.into(),
        status: resp.status().as_u16(),
        in_batch,
    });
    resp
}

/// Graph's throttling answer, with `Retry-After` when one is configured.
fn throttled(status: u16, retry_after: Option<String>, rid: &str, crid: &str) -> Response {
    let (code, msg) = match status {
        503 => ("serviceNotAvailable", "Service unavailable, please retry later."),
        504 => ("GatewayTimeout", "The gateway did not receive a timely response."),
        _ => ("TooManyRequests", "Too many requests, please try again later."),
    };
    let st = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut r = graph_error(st, code, msg, rid, crid);
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Malformed / oversized bodies for successful responses.
async fn post_process(s: &S, resp: Response, d: &mut Decision) -> Response {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    s.lock().state.faults.decide_body(d);
    if !d.malformed && d.oversize.is_none() {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let new: Vec<u8> = if d.malformed {
        let mut b = bytes[..bytes.len() / 2].to_vec();
        b.extend_from_slice(b"<!-- truncated");
        b
    } else {
        let size = d.oversize.unwrap_or(0) as usize;
        let head = br#"{"value":[],"@odata.padding":""#;
        let mut b = Vec::with_capacity(size);
        b.extend_from_slice(head);
        b.resize(size.saturating_sub(2).max(head.len()), b'x');
        b.extend_from_slice(b"\"}");
        b
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(new))
}

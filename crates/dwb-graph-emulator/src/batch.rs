//! `POST /v1.0/$batch`, as "Combine multiple HTTP requests using JSON batching"
//! (learn.microsoft.com/graph/json-batching) documents it:
//!
//! * the body is `{"requests": [...]}`, each with a required `id` ("Not
//!   case-sensitive. Must be unique in the batch, otherwise, the batch request
//!   fails with a 400 error code"), `method` and a relative `url`; `headers` are
//!   optional but required with a `body` (which needs a `Content-Type`);
//! * "JSON batch requests are currently limited to 20 individual requests"; a
//!   malformed batch is answered 400, a parseable one 200 whatever its members did;
//! * the answer is `{"responses": [...]}` with `id`, `status`, `headers` and `body`
//!   per member, and "individual responses might appear in a different order than
//!   the requests": this emulator answers in reverse order, so a client that does
//!   not correlate by `id` fails here rather than in production;
//! * members are evaluated individually against throttling limits: a throttled
//!   member is a 429 with its own `Retry-After` in its `headers` (the `batch_*`
//!   faults), and the others succeed.
//!
//! Each member is served by the same Graph routes as a direct request (auth,
//! `$select`, `$expand`, 404 for ids that do not exist), all members concurrently.
//! Not emulated: `dependsOn` (answered 400), non-JSON member bodies.

use std::collections::HashSet;

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use super::middleware::BatchMember;
use super::routes::{Ctx, S, err, now_iso, ok_json};

/// "JSON batch requests are currently limited to 20 individual requests."
pub(crate) const BATCH_MAX_REQUESTS: usize = 20;

/// One parsed member request.
struct Member {
    id: String,
    method: Method,
    /// `/devices/…?…` (relative to `/v1.0`).
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

/// What to do with a member: serve it, or answer it at once (bad URL).
enum Plan {
    Serve(Member),
    Answer(Value),
}

fn bad(ctx: &Ctx, message: &str) -> Response {
    err(ctx, StatusCode::BAD_REQUEST, "BadRequest", message)
}

pub(crate) async fn batch(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let plans = match parse(&ctx, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(router) = s.members.get().cloned() else {
        return err(&ctx, StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "no routes");
    };
    let auth = headers.get(header::AUTHORIZATION).cloned();
    let mut set = tokio::task::JoinSet::new();
    let mut out: Vec<(usize, Value)> = Vec::with_capacity(plans.len());
    for (i, plan) in plans.into_iter().enumerate() {
        match plan {
            Plan::Answer(v) => out.push((i, v)),
            Plan::Serve(m) => {
                let (router, auth) = (router.clone(), auth.clone());
                set.spawn(async move { (i, serve(router, auth, m).await) });
            }
        }
    }
    while let Some(r) = set.join_next().await {
        match r {
            Ok(x) => out.push(x),
            Err(e) => tracing::warn!("a $batch member task failed: {e}"),
        }
    }
    out.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    let responses: Vec<Value> = out.into_iter().map(|(_, v)| v).collect();
    ok_json(&json!({ "responses": responses }))
}

/// Validate the batch document; any violation fails the whole batch with 400.
fn parse(ctx: &Ctx, body: &[u8]) -> Result<Vec<Plan>, Response> {
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad(ctx, "Invalid batch payload format: the body is not a JSON object."));
    };
    let Some(Value::Array(requests)) = doc.remove("requests") else {
        return Err(bad(ctx, "Invalid batch payload format: 'requests' must be an array."));
    };
    if requests.is_empty() {
        return Err(bad(ctx, "The batch request contains no requests."));
    }
    if requests.len() > BATCH_MAX_REQUESTS {
        return Err(bad(
            ctx,
            &format!(
                "The batch request contains {} requests; the limit is {BATCH_MAX_REQUESTS}.",
                requests.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut plans = Vec::with_capacity(requests.len());
    for (i, r) in requests.into_iter().enumerate() {
        let Value::Object(mut r) = r else {
            return Err(bad(ctx, &format!("Request {i} of the batch is not a JSON object.")));
        };
        let text = |r: &mut Map<String, Value>, k: &str| match r.remove(k) {
            Some(Value::String(v)) if !v.trim().is_empty() => Ok(v),
            _ => Err(bad(ctx, &format!("Request {i} of the batch has no '{k}'."))),
        };
        let id = text(&mut r, "id")?;
        if !seen.insert(id.to_lowercase()) {
            return Err(bad(ctx, &format!("The batch request has more than one request '{id}'.")));
        }
        let method = text(&mut r, "method")?;
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PATCH" => Method::PATCH,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            _ => {
                return Err(bad(ctx, &format!("Request '{id}' has an invalid method '{method}'.")));
            }
        };
        let url = text(&mut r, "url")?;
        if r.contains_key("dependsOn") {
            return Err(bad(ctx, "dependsOn is not supported by this emulator."));
        }
        let mut headers = Vec::new();
        match r.remove("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let Value::String(v) = v else {
                        return Err(bad(ctx, &format!("Header '{k}' of '{id}' is not a string.")));
                    };
                    headers.push((k, v));
                }
            }
            Some(_) => return Err(bad(ctx, &format!("The headers of '{id}' are not an object."))),
        }
        let body = r.remove("body").filter(|b| !b.is_null());
        let has_type = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !has_type {
            return Err(bad(
                ctx,
                &format!("Request '{id}' has a body but no Content-Type header."),
            ));
        }
        let relative = url.trim().trim_start_matches('/');
        let plan = if url.contains("://") {
            Plan::Answer(answer(&id, 400, "BadRequest", "The url of a batch request is relative."))
        } else if relative.split(['?', '/']).next() == Some("$batch") {
            Plan::Answer(answer(&id, 400, "BadRequest", "A batch cannot contain a batch."))
        } else {
            Plan::Serve(Member { id, method, url: format!("/{relative}"), headers, body })
        };
        plans.push(plan);
    }
    Ok(plans)
}

/// A member answered without serving it (Graph's error shape).
fn answer(id: &str, status: u16, code: &str, message: &str) -> Value {
    let rid = uuid::Uuid::new_v4().to_string();
    json!({
        "id": id, "status": status, "headers": {"Content-Type": "application/json"},
        "body": {"error": {"code": code, "message": message,
            "innerError": {"date": now_iso(), "request-id": rid, "client-request-id": rid}}},
    })
}

/// Serve one member through the Graph routes and describe the answer as Graph does.
async fn serve(router: axum::Router, auth: Option<HeaderValue>, m: Member) -> Value {
    let mut b = Request::builder().method(m.method).uri(format!("/v1.0{}", m.url));
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    for (k, v) in &m.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = m.body.as_ref().map(|v| Body::from(v.to_string())).unwrap_or_else(Body::empty);
    let mut req = match b.body(body) {
        Ok(r) => r,
        Err(e) => return answer(&m.id, 400, "BadRequest", &format!("Invalid request: {e}")),
    };
    req.extensions_mut().insert(BatchMember);
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (name, shown) in
        [(header::CONTENT_TYPE, "Content-Type"), (header::RETRY_AFTER, "Retry-After")]
    {
        if let Some(v) = resp.headers().get(&name).and_then(|v| v.to_str().ok()) {
            headers.insert(shown.into(), json!(v));
        }
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
    let mut out = json!({"id": m.id, "status": status, "headers": headers});
    if !bytes.is_empty() {
        // JSON bodies are inlined; anything else is base64, as the documentation says.
        out["body"] = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(STANDARD.encode(&bytes)));
    }
    out
}

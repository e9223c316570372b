//! The emulator's router, Graph's error shape and the query/paging helpers the
//! endpoint modules share.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Shared, World, batch, devices, directory, middleware, tokens};

pub(crate) type S = Arc<Shared>;

const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Properties of `microsoft.graph.device` (v1.0) accepted in `$select`.
pub(crate) const DEVICE_PROPERTIES: &[&str] = &[
    "id",
    "accountEnabled",
    "alternativeSecurityIds",
    "approximateLastSignInDateTime",
    "complianceExpirationDateTime",
    "createdDateTime",
    "deletedDateTime",
    "deviceCategory",
    "deviceId",
    "deviceMetadata",
    "deviceOwnership",
    "deviceVersion",
    "displayName",
    "enrollmentProfileName",
    "enrollmentType",
    "extensionAttributes",
    "isCompliant",
    "isManaged",
    "isManagementRestricted",
    "isRooted",
    "managementType",
    "manufacturer",
    "mdmAppId",
    "model",
    "onPremisesLastSyncDateTime",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "operatingSystem",
    "operatingSystemVersion",
    "physicalIds",
    "profileType",
    "registrationDateTime",
    "systemLabels",
    "trustType",
];

/// Properties of `microsoft.graph.user` accepted in `$select` (subset).
pub(crate) const USER_PROPERTIES: &[&str] = &[
    "id",
    "accountEnabled",
    "displayName",
    "mail",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesSamAccountName",
    "onPremisesDomainName",
    "userPrincipalName",
    "givenName",
    "surname",
];

/// Request context put in the extensions by the middleware.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub rid: String,
    pub crid: String,
    pub delegated: bool,
}

pub(crate) fn now_iso() -> String {
    let secs =
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    super::iso8601(secs)
}

/// Graph's error shape.
pub(crate) fn graph_error(
    status: StatusCode,
    code: &str,
    message: &str,
    rid: &str,
    crid: &str,
) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "innerError": {"date": now_iso(), "request-id": rid, "client-request-id": crid}}});
    let mut r =
        (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if status == StatusCode::UNAUTHORIZED
        && let Ok(v) = HeaderValue::from_str(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"",
        )
    {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

pub(crate) fn err(ctx: &Ctx, status: StatusCode, code: &str, message: &str) -> Response {
    graph_error(status, code, message, &ctx.rid, &ctx.crid)
}

pub(crate) fn ok_json(v: &Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, ODATA_JSON)], v.to_string()).into_response()
}

/// The Graph (`/v1.0`) routes behind the auth/fault middleware.
fn graph_routes(s: &S) -> Router<S> {
    Router::new()
        .route("/v1.0/$batch", post(batch::batch))
        .route("/v1.0/devices", get(devices::list_devices))
        .route("/v1.0/devices/delta", get(super::delta::delta))
        .route("/v1.0/devices/{id}", get(devices::get_device))
        .route("/v1.0/devices/{id}/registeredOwners", get(directory::owners))
        .route(
            "/v1.0/devices/{id}/registeredOwners/microsoft.graph.user",
            get(directory::owners_cast),
        )
        .route("/v1.0/devices/{id}/registeredUsers", get(directory::users))
        .route(
            "/v1.0/devices/{id}/registeredUsers/microsoft.graph.user",
            get(directory::users_cast),
        )
        .route("/v1.0/organization", get(directory::organization))
        .route("/v1.0/domains", get(directory::domains))
        .route("/v1.0/directory/onPremisesSynchronization", get(directory::sync_list))
        .route(
            "/v1.0/directory/onPremisesSynchronization/{id}",
            get(directory::sync_get).patch(directory::sync_patch),
        )
        .route_layer(from_fn_with_state(s.clone(), middleware::graph_mw))
}

pub(crate) fn router(s: S) -> Router {
    // `$batch` members are served by the Graph routes alone (no token endpoint,
    // no latency: the batch's one response carries the latency once).
    let members = graph_routes(&s).fallback(unknown).with_state(s.clone());
    let _ = s.members.set(members);
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(tokens::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(tokens::devicecode))
        .merge(graph_routes(&s))
        .fallback(unknown)
        .layer(from_fn_with_state(s.clone(), middleware::latency_mw))
        .with_state(s)
}

pub(crate) async fn unknown(uri: Uri) -> Response {
    let seg = uri.path().rsplit('/').next().unwrap_or("").to_string();
    let id = uuid::Uuid::new_v4().to_string();
    graph_error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{seg}'."),
        &id,
        &id,
    )
}

// ---- query helpers ------------------------------------------------------------

pub(crate) fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

pub(crate) fn check_params(
    ctx: &Ctx,
    q: &HashMap<String, String>,
    allowed: &[&str],
) -> Result<(), Response> {
    for k in q.keys() {
        if k.starts_with('$') && !allowed.contains(&k.as_str()) {
            return Err(err(
                ctx,
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!("Unsupported query option '{k}' for this request."),
            ));
        }
    }
    Ok(())
}

pub(crate) fn parse_select(
    ctx: &Ctx,
    q: &HashMap<String, String>,
    known: &[&str],
    ty: &str,
) -> Result<Option<Vec<String>>, Response> {
    let Some(sel) = q.get("$select") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for p in sel.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !known.contains(&p) {
            return Err(err(
                ctx,
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                &format!("Could not find a property named '{p}' on type 'microsoft.graph.{ty}'."),
            ));
        }
        out.push(p.to_string());
    }
    Ok(Some(out))
}

/// The object restricted to `select` (`id` always; unset selected properties are null).
pub(crate) fn project(
    props: &Map<String, Value>,
    select: &Option<Vec<String>>,
) -> Map<String, Value> {
    match select {
        None => props.clone(),
        Some(sel) => {
            let mut m = Map::new();
            m.insert("id".into(), props.get("id").cloned().unwrap_or(Value::Null));
            for p in sel {
                m.insert(p.clone(), props.get(p).cloned().unwrap_or(Value::Null));
            }
            m
        }
    }
}

pub(crate) fn encode_token<T: Serialize>(t: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(t).unwrap_or_default())
}

pub(crate) fn decode_token<T: for<'de> Deserialize<'de>>(s: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s.trim()).ok()?).ok()
}

pub(crate) fn link_base(w: &World, s: &Shared) -> String {
    w.state
        .faults
        .foreign_next_link
        .clone()
        .unwrap_or_else(|| s.base.clone())
        .trim_end_matches('/')
        .to_string()
}

pub(crate) fn make_link(base: &str, path: &str, params: &[(&str, String)]) -> String {
    let mut u = match url::Url::parse(&format!("{base}{path}")) {
        Ok(u) => u,
        Err(_) => return format!("{base}{path}"),
    };
    {
        let mut qp = u.query_pairs_mut();
        for (k, v) in params {
            qp.append_pair(k, v);
        }
    }
    u.to_string()
}

pub(crate) fn context(s: &Shared, what: &str) -> String {
    format!("{}/v1.0/$metadata#{what}", s.base)
}

pub(crate) fn not_found(ctx: &Ctx, id: &str) -> Response {
    err(
        ctx,
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

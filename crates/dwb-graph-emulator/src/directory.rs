//! Registered owners and users (with the `microsoft.graph.user` cast),
//! `/organization`, `/domains` and `/directory/onPremisesSynchronization`
//! (delegated only).

use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::expand::{Relation, user_objects};
use super::routes::{
    Ctx, S, USER_PROPERTIES, check_params, context, err, not_found, ok_json, parse_select, query,
};

// ---- owners, registered users, organization, domains -----------------------------

pub(crate) async fn owners(
    s: State<S>,
    ctx: Extension<Ctx>,
    id: Path<String>,
    uri: Uri,
) -> Response {
    relation(s, ctx, id, uri, Relation::Owners, false).await
}

pub(crate) async fn owners_cast(
    s: State<S>,
    ctx: Extension<Ctx>,
    id: Path<String>,
    uri: Uri,
) -> Response {
    relation(s, ctx, id, uri, Relation::Owners, true).await
}

pub(crate) async fn users(
    s: State<S>,
    ctx: Extension<Ctx>,
    id: Path<String>,
    uri: Uri,
) -> Response {
    relation(s, ctx, id, uri, Relation::Users, false).await
}

pub(crate) async fn users_cast(
    s: State<S>,
    ctx: Extension<Ctx>,
    id: Path<String>,
    uri: Uri,
) -> Response {
    relation(s, ctx, id, uri, Relation::Users, true).await
}

/// `GET /devices/{id}/registeredOwners` or `/registeredUsers` (one page: a
/// device has few of either).
async fn relation(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    uri: Uri,
    rel: Relation,
    cast: bool,
) -> Response {
    let q = query(&uri);
    if let Err(r) = check_params(&ctx, &q, &["$select", "$top"]) {
        return r;
    }
    let select = match parse_select(&ctx, &q, USER_PROPERTIES, "user") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let w = s.lock();
    let Some(d) = w.state.devices.get(&id) else {
        drop(w);
        return not_found(&ctx, &id);
    };
    let value = user_objects(&w, rel.ids(d), &select, usize::MAX);
    drop(w);
    let what = if cast { "users" } else { "directoryObjects" };
    ok_json(&json!({"@odata.context": context(&s, what), "value": value}))
}

pub(crate) async fn organization(State(s): State<S>) -> Response {
    let org = s.lock().state.organization.clone();
    ok_json(&json!({"@odata.context": context(&s, "organization"), "value": [org]}))
}

pub(crate) async fn domains(State(s): State<S>) -> Response {
    let d = s.lock().state.domains.clone();
    ok_json(&json!({"@odata.context": context(&s, "domains"), "value": d}))
}

// ---- onPremisesSynchronization (delegated only) -----------------------------------

fn denied(ctx: &Ctx) -> Response {
    err(
        ctx,
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

pub(crate) async fn sync_list(State(s): State<S>, Extension(ctx): Extension<Ctx>) -> Response {
    if !ctx.delegated {
        return denied(&ctx);
    }
    let v = s.lock().state.sync.clone();
    ok_json(
        &json!({"@odata.context": context(&s, "directory/onPremisesSynchronization"), "value": [v]}),
    )
}

pub(crate) async fn sync_get(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    if !ctx.delegated {
        return denied(&ctx);
    }
    let mut v = s.lock().state.sync.clone();
    if v.get("id").and_then(Value::as_str) != Some(id.as_str()) {
        return not_found(&ctx, &id);
    }
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            json!(context(&s, "directory/onPremisesSynchronization/$entity")),
        );
    }
    ok_json(&v)
}

pub(crate) async fn sync_patch(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !ctx.delegated {
        return denied(&ctx);
    }
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&body) else {
        return err(
            &ctx,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid JSON in the request body.",
        );
    };
    let mut w = s.lock();
    if w.state.sync.get("id").and_then(Value::as_str) != Some(id.as_str()) {
        drop(w);
        return not_found(&ctx, &id);
    }
    for (k, v) in patch {
        match (k.as_str(), v) {
            ("features" | "configuration", Value::Object(fields)) => {
                if let Some(target) = w.state.sync.get_mut(&k).and_then(Value::as_object_mut) {
                    for (fk, fv) in fields {
                        target.insert(fk, fv);
                    }
                }
            }
            (other, _) => {
                drop(w);
                return err(
                    &ctx,
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("Property '{other}' cannot be updated."),
                );
            }
        }
    }
    drop(w);
    StatusCode::NO_CONTENT.into_response()
}

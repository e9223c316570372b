//! `/devices` (list with `$select`/`$top`/`$filter=deviceId eq` or `displayName eq`/
//! `$expand`/`$skiptoken`)
//! and `/devices/{id}` (`$select`, `$expand`).

use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::expand::{self, EXPAND_PAGE_MAX, Expand};
use super::routes::{
    Ctx, DEVICE_PROPERTIES, S, check_params, context, decode_token, encode_token, err, link_base,
    make_link, not_found, ok_json, parse_select, project, query,
};

// ---- /devices ---------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct ListToken {
    after: String,
    top: usize,
    select: Option<Vec<String>>,
    filter: Option<String>,
    /// The filtered property (`deviceId` when absent).
    #[serde(default)]
    filter_prop: Option<String>,
    #[serde(default)]
    expand: Option<Expand>,
}

/// `deviceId eq '…'` or `displayName eq '…'` (both documented as filterable with
/// `eq` on the device resource) → the property and the value; anything else is
/// unsupported.
fn parse_filter(ctx: &Ctx, f: &str) -> Result<(String, String), Response> {
    let unsupported = |prop: &str| {
        err(
            ctx,
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            &format!(
                "Unsupported or invalid query filter clause specified for property '{prop}' of resource 'Device'."
            ),
        )
    };
    let t = f.trim();
    let prop: String = t.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    if prop != "deviceId" && prop != "displayName" {
        return Err(unsupported(if prop.is_empty() { t } else { &prop }));
    }
    let rest = t[prop.len()..].trim_start();
    let Some(rest) = rest.strip_prefix("eq ").or_else(|| rest.strip_prefix("EQ ")) else {
        return Err(unsupported(&prop));
    };
    let v = rest.trim();
    if v.len() < 2 || !v.starts_with('\'') || !v.ends_with('\'') {
        return Err(unsupported(&prop));
    }
    Ok((prop.clone(), v[1..v.len() - 1].replace("''", "'")))
}

pub(crate) async fn list_devices(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    uri: Uri,
) -> Response {
    let q = query(&uri);
    if let Err(r) = check_params(&ctx, &q, &["$select", "$top", "$filter", "$skiptoken", "$expand"])
    {
        return r;
    }
    let tok = match q.get("$skiptoken") {
        Some(t) => match decode_token::<ListToken>(t) {
            Some(t) => t,
            None => {
                return err(
                    &ctx,
                    StatusCode::BAD_REQUEST,
                    "Request_BadRequest",
                    "Invalid or expired skip token.",
                );
            }
        },
        None => {
            let top = match q.get("$top").map(|t| t.trim().parse::<i64>()) {
                None => 100,
                Some(Ok(n)) if (1..=999).contains(&n) => n as usize,
                Some(_) => {
                    let v = q.get("$top").cloned().unwrap_or_default();
                    return err(
                        &ctx,
                        StatusCode::BAD_REQUEST,
                        "Request_BadRequest",
                        &format!(
                            "Invalid page size specified: '{v}'. Must be between 1 and 999 inclusive."
                        ),
                    );
                }
            };
            let select = match parse_select(&ctx, &q, DEVICE_PROPERTIES, "device") {
                Ok(s) => s,
                Err(r) => return r,
            };
            let (filter_prop, filter) = match q.get("$filter") {
                Some(f) => match parse_filter(&ctx, f) {
                    Ok((p, v)) => (Some(p), Some(v)),
                    Err(r) => return r,
                },
                None => (None, None),
            };
            let expand = match q.get("$expand").map(|e| expand::parse(&ctx, e)).transpose() {
                Ok(e) => e,
                Err(r) => return r,
            };
            // With $expand on directory objects a page holds at most 100 objects, and
            // a larger $top is not honoured (the page is simply smaller).
            let top = if expand.is_some() { top.min(EXPAND_PAGE_MAX) } else { top };
            ListToken { after: String::new(), top, select, filter, filter_prop, expand }
        }
    };
    let w = s.lock();
    if let Some(e) = &tok.expand
        && e.relation == expand::Relation::Users
        && w.state.quirks.expand_users_rejected
    {
        drop(w);
        let msg = "Could not find a navigation property named 'registeredUsers' on type \
                   'microsoft.graph.device' that supports $expand.";
        return err(&ctx, StatusCode::BAD_REQUEST, "Request_BadRequest", msg);
    }
    let range = w.state.devices.range::<String, _>((
        std::ops::Bound::Excluded(tok.after.clone()),
        std::ops::Bound::Unbounded,
    ));
    let mut items: Vec<(&String, Map<String, Value>)> = Vec::with_capacity(tok.top.min(1000));
    let mut more = false;
    for (id, d) in range {
        if let Some(f) = &tok.filter
            && !d
                .props
                .get(tok.filter_prop.as_deref().unwrap_or("deviceId"))
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(f))
        {
            continue;
        }
        if items.len() == tok.top {
            more = true;
            break;
        }
        let mut item = project(&d.props, &tok.select);
        super::quirks::present(&w.state.quirks, &mut item);
        if let Some(e) = &tok.expand {
            expand::apply(&w, d, e, &mut item);
        }
        items.push((id, item));
    }
    let ctx_name = context_name("devices", &tok.select, &tok.expand);
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context(&s, &ctx_name)));
    if more && let Some((last, _)) = items.last() {
        let next = ListToken {
            after: (*last).clone(),
            top: tok.top,
            select: tok.select.clone(),
            filter: tok.filter.clone(),
            filter_prop: tok.filter_prop.clone(),
            expand: tok.expand.clone(),
        };
        let mut params = vec![("$top", tok.top.to_string())];
        if let Some(sel) = &tok.select {
            params.push(("$select", sel.join(",")));
        }
        if let Some(e) = &tok.expand {
            params.push(("$expand", e.to_query()));
        }
        params.push(("$skiptoken", encode_token(&next)));
        body.insert(
            "@odata.nextLink".into(),
            json!(make_link(&link_base(&w, &s), "/v1.0/devices", &params)),
        );
    }
    body.insert(
        "value".into(),
        Value::Array(items.into_iter().map(|(_, m)| Value::Object(m)).collect()),
    );
    drop(w);
    ok_json(&Value::Object(body))
}

pub(crate) async fn get_device(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let q = query(&uri);
    if let Err(r) = check_params(&ctx, &q, &["$select", "$expand"]) {
        return r;
    }
    let select = match parse_select(&ctx, &q, DEVICE_PROPERTIES, "device") {
        Ok(s) => s,
        Err(r) => return r,
    };
    let expand = match q.get("$expand").map(|e| expand::parse(&ctx, e)).transpose() {
        Ok(e) => e,
        Err(r) => return r,
    };
    let w = s.lock();
    let Some(d) = w.state.devices.get(&id) else {
        drop(w);
        return not_found(&ctx, &id);
    };
    let mut m = project(&d.props, &select);
    super::quirks::present(&w.state.quirks, &mut m);
    if let Some(e) = &expand {
        expand::apply(&w, d, e, &mut m);
    }
    drop(w);
    let what = format!("{}/$entity", context_name("devices", &select, &expand));
    m.insert("@odata.context".into(), json!(context(&s, &what)));
    ok_json(&Value::Object(m))
}

/// `devices`, `devices(id,displayName)`, `devices(id,registeredOwners(id))`…
fn context_name(base: &str, select: &Option<Vec<String>>, expand: &Option<Expand>) -> String {
    let mut parts: Vec<String> = select.clone().unwrap_or_default();
    if let Some(e) = expand {
        parts.push(e.context());
    }
    if parts.is_empty() { base.to_string() } else { format!("{base}({})", parts.join(",")) }
}

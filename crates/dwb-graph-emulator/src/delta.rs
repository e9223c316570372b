//! `/devices/delta`: keyset-paged rounds over versioned devices and tombstones.

use axum::extract::{Extension, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::routes::{
    Ctx, DEVICE_PROPERTIES, S, check_params, context, decode_token, encode_token, err, link_base,
    make_link, ok_json, parse_select, project, query,
};

// ---- delta ------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct DeltaSkip {
    since: u64,
    upto: u64,
    after: String,
    select: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct DeltaTok {
    since: u64,
    select: Option<Vec<String>>,
}

pub(crate) async fn delta(
    State(s): State<S>,
    Extension(ctx): Extension<Ctx>,
    uri: Uri,
) -> Response {
    let q = query(&uri);
    if let Err(r) = check_params(&ctx, &q, &["$select", "$skiptoken", "$deltatoken", "$filter"]) {
        return r;
    }
    if let Some(f) = q.get("$filter") {
        return err(
            &ctx,
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            &format!(
                "Unsupported or invalid query filter clause specified for delta: '{f}'. Only 'id eq' is supported."
            ),
        );
    }
    let bad_token = || {
        err(&ctx, StatusCode::BAD_REQUEST, "Request_BadRequest", "Invalid or expired delta token.")
    };
    let w = s.lock();
    let current = w.state.version;
    let (since, upto, after, select) = if let Some(t) = q.get("$skiptoken") {
        match decode_token::<DeltaSkip>(t) {
            Some(t) => (t.since, t.upto, t.after, t.select),
            None => return bad_token(),
        }
    } else if let Some(t) = q.get("$deltatoken") {
        if t == "latest" {
            let select = match parse_select(&ctx, &q, DEVICE_PROPERTIES, "device") {
                Ok(s) => s,
                Err(r) => return r,
            };
            let link = make_link(
                &link_base(&w, &s),
                "/v1.0/devices/delta",
                &[("$deltatoken", encode_token(&DeltaTok { since: current, select }))],
            );
            return ok_json(
                &json!({"@odata.context": context(&s, "devices"), "@odata.deltaLink": link, "value": []}),
            );
        }
        match decode_token::<DeltaTok>(t) {
            // The sync state reset of "Use delta query": the client must start over.
            Some(t) if t.since < w.state.delta_horizon => {
                let status =
                    StatusCode::from_u16(w.state.expired_delta_status).unwrap_or(StatusCode::GONE);
                return err(
                    &ctx,
                    status,
                    "syncStateNotFound",
                    "The sync state generation is not found. The delta token is expired and \
                     data must be synchronized again.",
                );
            }
            Some(t) if t.since <= current => (t.since, current, String::new(), t.select),
            _ => return bad_token(),
        }
    } else {
        let select = match parse_select(&ctx, &q, DEVICE_PROPERTIES, "device") {
            Ok(s) => s,
            Err(r) => return r,
        };
        (0, current, String::new(), select)
    };
    let page_size = w.state.delta_page_size.max(1);
    let bound = (std::ops::Bound::Excluded(after.clone()), std::ops::Bound::Unbounded);
    let mut devs = w
        .state
        .devices
        .range::<String, _>(bound)
        .filter(|(_, d)| since == 0 || d.last_change() > since)
        .peekable();
    let mut tombs: Vec<(&String, &String)> = if since == 0 {
        Vec::new()
    } else {
        w.state
            .tombstones
            .iter()
            .filter(|(id, _, v)| {
                *v > since && id.as_str() > after.as_str() && !w.state.devices.contains_key(id)
            })
            .map(|(id, r, _)| (id, r))
            .collect()
    };
    tombs.sort();
    tombs.dedup_by(|a, b| a.0 == b.0);
    let mut tombs = tombs.into_iter().peekable();
    let mut value = Vec::new();
    let mut last = String::new();
    let mut more = false;
    loop {
        let take_dev = match (devs.peek(), tombs.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((d, _)), Some((t, _))) => d.as_str() <= t.as_str(),
        };
        if value.len() == page_size {
            more = true;
            break;
        }
        if take_dev {
            let Some((id, d)) = devs.next() else { break };
            let item = if since == 0 || d.created > since {
                project(&d.props, &select)
            } else {
                let mut m = Map::new();
                m.insert("id".into(), json!(id));
                for (k, v) in &d.changed {
                    let wanted = select.as_ref().is_none_or(|s| s.iter().any(|x| x == k));
                    if *v > since && wanted {
                        m.insert(k.clone(), d.props.get(k).cloned().unwrap_or(Value::Null));
                    }
                }
                m
            };
            last = id.clone();
            value.push(Value::Object(item));
        } else {
            let Some((id, reason)) = tombs.next() else {
                break;
            };
            last = id.clone();
            value.push(json!({"id": id, "@removed": {"reason": reason}}));
        }
    }
    let base = link_base(&w, &s);
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context(&s, "devices")));
    if more {
        let t = DeltaSkip { since, upto, after: last, select };
        body.insert(
            "@odata.nextLink".into(),
            json!(make_link(&base, "/v1.0/devices/delta", &[("$skiptoken", encode_token(&t))])),
        );
    } else {
        let t = DeltaTok { since: upto, select };
        body.insert(
            "@odata.deltaLink".into(),
            json!(make_link(&base, "/v1.0/devices/delta", &[("$deltatoken", encode_token(&t))])),
        );
    }
    body.insert("value".into(), Value::Array(value));
    drop(devs);
    drop(w);
    ok_json(&Value::Object(body))
}

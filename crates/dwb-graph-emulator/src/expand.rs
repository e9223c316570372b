//! `$expand=registeredOwners[($select=…)]` on `/devices` and `/devices/{id}`, as
//! Microsoft documents it for directory objects:
//!
//! * "Use query parameters to customize responses" (learn.microsoft.com/graph/
//!   query-parameters, "expand parameter"): only one relationship can be expanded
//!   per request; with some collections a nested `$select` chooses the expanded
//!   objects' properties (`$expand=children($select=id,name)`); for resources that
//!   derive from directoryObject "`$expand` typically returns a maximum of 20
//!   items for the expanded relationship and has no @odata.nextLink".
//! * "Known issues" (developer.microsoft.com/graph/known-issues, query parameter
//!   limitations; corrected in microsoftgraph/microsoft-graph-docs PR #21506 and
//!   #21516, June 2023): with `$expand` on directory objects the page holds at
//!   most 100 objects whatever `$top` says ("Max page size with $expand is 100"),
//!   and nesting query options other than `$select` is not supported.
//! * "device: delta" documents only `$select` and `$filter=id eq`: `$expand` is
//!   refused there (see `delta.rs`, which does not accept it).

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::World;
use super::routes::{Ctx, USER_PROPERTIES, err};
use super::state::DeviceRecord;

/// Items of an expanded directory-object relationship (no nextLink beyond them).
pub(crate) const EXPANDED_ITEMS_MAX: usize = 20;
/// Page size of a collection read with `$expand` (a larger `$top` is not honoured).
pub(crate) const EXPAND_PAGE_MAX: usize = 100;

/// A parsed `$expand=registeredOwners(…)`; kept in the skip token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Expand {
    /// The nested `$select` (`None` = the owners' default properties).
    pub select: Option<Vec<String>>,
}

impl Expand {
    /// Back to query syntax, for nextLinks.
    pub fn to_query(&self) -> String {
        match &self.select {
            Some(s) => format!("registeredOwners($select={})", s.join(",")),
            None => "registeredOwners".to_string(),
        }
    }

    /// The `@odata.context` segment, e.g. `registeredOwners(id,onPremisesSecurityIdentifier)`.
    pub fn context(&self) -> String {
        match &self.select {
            Some(s) => format!("registeredOwners({})", s.join(",")),
            None => "registeredOwners()".to_string(),
        }
    }
}

fn bad(ctx: &Ctx, message: &str) -> Response {
    err(ctx, StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// Parse the `$expand` value of a device request.
pub(crate) fn parse(ctx: &Ctx, raw: &str) -> Result<Expand, Response> {
    let raw = raw.trim();
    if split_top_level(raw).len() > 1 {
        return Err(bad(ctx, "Only one relationship can be expanded in a single request."));
    }
    let (name, nested) = match raw.find('(') {
        Some(i) if raw.ends_with(')') => (&raw[..i], Some(&raw[i + 1..raw.len() - 1])),
        Some(_) => return Err(bad(ctx, &format!("Invalid $expand clause '{raw}'."))),
        None => (raw, None),
    };
    if name.trim() != "registeredOwners" {
        return Err(bad(
            ctx,
            &format!(
                "Could not find a navigation property named '{}' on type 'microsoft.graph.device' \
                 that supports $expand.",
                name.trim()
            ),
        ));
    }
    let mut select = None;
    for opt in nested.map(split_options).unwrap_or_default() {
        let Some((k, v)) = opt.split_once('=') else {
            return Err(bad(ctx, &format!("Invalid nested query option '{opt}'.")));
        };
        if k.trim() != "$select" {
            return Err(bad(
                ctx,
                &format!(
                    "Query option '{}' is not supported inside $expand on directory objects.",
                    k.trim()
                ),
            ));
        }
        let mut props = Vec::new();
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !USER_PROPERTIES.contains(&p) {
                return Err(bad(ctx, "Invalid $select properties."));
            }
            props.push(p.to_string());
        }
        select = Some(props);
    }
    Ok(Expand { select })
}

/// Comma-separated items outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|x| !x.trim().is_empty()).collect()
}

/// OData separates nested options with `;`.
fn split_options(s: &str) -> Vec<&str> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty()).collect()
}

/// The owners of a device as Graph serializes directory objects in a relationship:
/// `@odata.type` plus the selected properties; only `id` without User.Read.All.
/// At most `limit` of them (users that no longer exist are skipped).
pub(crate) fn owner_objects(
    w: &World,
    d: &DeviceRecord,
    select: &Option<Vec<String>>,
    limit: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    for uid in &d.owners {
        if out.len() == limit {
            break;
        }
        let Some(u) = w.state.users.get(uid).and_then(Value::as_object) else {
            continue;
        };
        let mut m = Map::new();
        m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
        if w.state.user_read_all {
            m.extend(super::routes::project(u, select));
        } else {
            m.insert("id".into(), json!(uid));
        }
        out.push(Value::Object(m));
    }
    out
}

/// Add `registeredOwners` to a projected device.
pub(crate) fn apply(w: &World, d: &DeviceRecord, e: &Expand, item: &mut Map<String, Value>) {
    let owners = owner_objects(w, d, &e.select, EXPANDED_ITEMS_MAX);
    item.insert("registeredOwners".into(), Value::Array(owners));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx { rid: "r".into(), crid: "c".into(), delegated: false }
    }

    #[test]
    fn expand_clauses() {
        let e = parse(&ctx(), "registeredOwners($select=id,onPremisesSecurityIdentifier)").unwrap();
        assert_eq!(
            e.select.as_deref(),
            Some(&["id".to_string(), "onPremisesSecurityIdentifier".to_string()][..])
        );
        assert_eq!(e.to_query(), "registeredOwners($select=id,onPremisesSecurityIdentifier)");
        assert_eq!(parse(&ctx(), "registeredOwners").unwrap().select, None);
        for bad in [
            "registeredOwners,registeredUsers",
            "memberOf",
            "registeredOwners($filter=id eq 'x')",
            "registeredOwners($select=nope)",
            "registeredOwners($select=id",
            "registeredOwners($top=1)",
        ] {
            let r = parse(&ctx(), bad).unwrap_err();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}

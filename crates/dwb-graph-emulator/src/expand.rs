//! `$expand=registeredOwners[($select=…)]` (or `registeredUsers`) on `/devices`
//! and `/devices/{id}`, as Microsoft documents it for directory objects:
//!
//! * "Use query parameters to customize responses" (learn.microsoft.com/graph/
//!   query-parameters, "expand parameter"): only one relationship can be expanded
//!   per request; with some collections a nested `$select` chooses the expanded
//!   objects' properties (`$expand=children($select=id,name)`); for resources that
//!   derive from directoryObject "`$expand` typically returns a maximum of 20
//!   items for the expanded relationship and has no @odata.nextLink".
//! * "Known issues" (Microsoft Graph, query parameters): `$expand` on
//!   relationships of directory objects "Returns a maximum of 20 objects", has
//!   no `@odata.nextLink`, and has "No support for nesting other query
//!   parameters such as `$filter` and `$select` inside an `$expand` query" (the
//!   emulator honours a nested `$select` unless `Quirks::expand_select_ignored`).
//!   The known issues state no page size; the emulator serves pages of at most
//!   100 devices with `$expand` whatever `$top` says, as tenants were seen to.
//! * "device: delta" documents only `$select` and `$filter=id eq`: `$expand` is
//!   refused there (see `delta.rs`, which does not accept it).

use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::World;
use super::quirks::USER_DEFAULT_PROPERTIES;
use super::routes::{Ctx, USER_PROPERTIES, err};
use super::state::DeviceRecord;

/// Items of an expanded directory-object relationship (no nextLink beyond them).
pub(crate) const EXPANDED_ITEMS_MAX: usize = 20;
/// Page size of a collection read with `$expand` (a larger `$top` is not honoured).
pub(crate) const EXPAND_PAGE_MAX: usize = 100;

/// The device relationships that can be expanded (both hold users).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum Relation {
    #[default]
    Owners,
    Users,
}

impl Relation {
    pub fn name(self) -> &'static str {
        match self {
            Relation::Owners => "registeredOwners",
            Relation::Users => "registeredUsers",
        }
    }

    /// The user ids of this relationship of a device.
    pub fn ids(self, d: &DeviceRecord) -> &[String] {
        match self {
            Relation::Owners => &d.owners,
            Relation::Users => &d.users,
        }
    }
}

/// A parsed `$expand=registeredOwners(…)`; kept in the skip token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Expand {
    #[serde(default)]
    pub relation: Relation,
    /// The nested `$select` (`None` = the users' default properties).
    pub select: Option<Vec<String>>,
}

impl Expand {
    /// Back to query syntax, for nextLinks.
    pub fn to_query(&self) -> String {
        let rel = self.relation.name();
        match &self.select {
            Some(s) => format!("{rel}($select={})", s.join(",")),
            None => rel.to_string(),
        }
    }

    /// The `@odata.context` segment, e.g. `registeredOwners(id,onPremisesSecurityIdentifier)`.
    pub fn context(&self) -> String {
        let rel = self.relation.name();
        match &self.select {
            Some(s) => format!("{rel}({})", s.join(",")),
            None => format!("{rel}()"),
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
    let relation = match name.trim() {
        "registeredOwners" => Relation::Owners,
        "registeredUsers" => Relation::Users,
        _ => {
            return Err(bad(
                ctx,
                &format!(
                    "Could not find a navigation property named '{}' on type 'microsoft.graph.device' \
                 that supports $expand.",
                    name.trim()
                ),
            ));
        }
    };
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
    Ok(Expand { relation, select })
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

/// Users of a device relationship as Graph serializes directory objects in it:
/// `@odata.type` plus the selected properties; only `id` without User.Read.All.
/// At most `limit` of them (users that no longer exist are skipped).
pub(crate) fn user_objects(
    w: &World,
    ids: &[String],
    select: &Option<Vec<String>>,
    limit: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    for uid in ids {
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

/// Add the expanded relationship to a projected device.
pub(crate) fn apply(w: &World, d: &DeviceRecord, e: &Expand, item: &mut Map<String, Value>) {
    let select = if w.state.quirks.expand_select_ignored {
        Some(USER_DEFAULT_PROPERTIES.iter().map(|p| p.to_string()).collect())
    } else {
        e.select.clone()
    };
    let users = user_objects(w, e.relation.ids(d), &select, EXPANDED_ITEMS_MAX);
    item.insert(e.relation.name().into(), Value::Array(users));
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
        let u = parse(&ctx(), "registeredUsers($select=id)").unwrap();
        assert_eq!(
            (u.relation, u.to_query()),
            (Relation::Users, "registeredUsers($select=id)".into())
        );
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

//! One device, explained: found by deviceId, object id, display name or the DN
//! of its object; put through the same steps a sync takes (the site's
//! `in_scope`, dwb's mapping, the site's `map_device`, the schema's limits, the
//! owner lookup, ownership of the existing object, the per-attribute diff),
//! each step's verdict kept with the rule that gave it. Nothing is planned.

use serde_json::{Value, json};

use super::fetch;
use super::hooks::SiteHooks;
use super::mapper::Mapper;
use super::mapping::{MANAGED, anchor_object_id};
use super::planner::{self, SyncPlan};
use super::request::{Context, SyncRequest};
use super::state::{self, CurrentState};
use super::sync::options;
use crate::ad::WriteOp;
use crate::directory::{Attr, Dn, Entry, Guid};
use crate::error::{Error, Kind, Result};
use crate::graph::{Device, ListOptions};
use crate::plan::ChangeOp;
use crate::plan::render::display_value;
use crate::sources::DeviceSource;

/// How the query names a device.
enum Query {
    Guid(Guid),
    Dn(Dn),
    Name(String),
}

fn parse_query(q: &str) -> Query {
    let q = q.trim();
    if let Ok(g) = q.trim_matches(|c| c == '{' || c == '}').parse::<Guid>() {
        return Query::Guid(g);
    }
    if q.contains('=')
        && let Ok(dn) = Dn::parse(q)
    {
        return Query::Dn(dn);
    }
    Query::Name(q.to_string())
}

/// The devices of the source that match: by object id or deviceId, or by display name.
fn find_devices(
    cx: &Context,
    src: &DeviceSource,
    guid: Option<Guid>,
    name: Option<&str>,
    owners: bool,
) -> Result<Vec<Device>> {
    let g = guid.map(|g| g.to_string());
    // Compared as GUIDs, as a sync does: a deviceId Graph (or an export) spells
    // in upper case or in braces is still this device.
    let same = |x: &str| x.parse::<Guid>().ok() == guid;
    let hit = |d: &Device| match (&g, name) {
        (Some(_), _) => same(&d.id) || d.device_id.as_deref().is_some_and(same),
        (None, Some(n)) => d.display_name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n)),
        (None, None) => false,
    };
    let mut found: Vec<Device> = Vec::new();
    match src {
        DeviceSource::File { .. } => {
            // Streamed: an export of any size is read device by device.
            src.each_device(owners, cx.blocking, |d| {
                if hit(&d) {
                    found.push(d);
                }
                true
            })?;
        }
        DeviceSource::Graph(c) => {
            let filter = match (&g, name) {
                (Some(g), _) => format!("deviceId eq '{g}'"),
                (None, Some(n)) => format!("displayName eq '{}'", n.replace('\'', "''")),
                (None, None) => return Ok(found),
            };
            let opts =
                ListOptions { filter: Some(filter), expand_owners: owners, ..Default::default() };
            cx.blocking.block_on(async {
                c.list_devices(&opts, |d| {
                    found.push(d);
                    std::ops::ControlFlow::Continue(())
                })
                .await?;
                Ok(())
            })?;
            if let Some(g) = &g {
                // By object id: one batched GET (a 404 is simply no match).
                for r in
                    fetch::devices(c, std::slice::from_ref(g), owners, cx.blocking)?.into_values()
                {
                    match r {
                        Ok(d) if !found.iter().any(|f| f.id == d.id) => found.push(d),
                        Ok(_) => {}
                        Err(e) if e.kind == Kind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(found)
}

fn shown(attr: &str, values: &[Vec<u8>]) -> Value {
    Value::Array(values.iter().map(|v| Value::String(display_value(attr, v))).collect())
}

/// Entra (what dwb would write) and AD values side by side, with what the next
/// sync does to each attribute (`set`, `remove`, `none`).
fn attributes(wanted: Option<&[Attr]>, existing: Option<&Entry>, writes: bool) -> Vec<Value> {
    let mut names: Vec<String> = MANAGED.iter().map(|s| s.to_string()).collect();
    names.push("adminDescription".into());
    for a in wanted.unwrap_or(&[]) {
        if !a.name.eq_ignore_ascii_case("objectClass")
            && !names.iter().any(|n| n.eq_ignore_ascii_case(&a.name))
        {
            names.push(a.name.to_string());
        }
    }
    let mut out = Vec::new();
    for n in names {
        let want = wanted.map(|w| {
            w.iter()
                .find(|a| a.name.eq_ignore_ascii_case(&n))
                .map(|a| a.values.clone())
                .unwrap_or_default()
        });
        let have = existing.map(|e| e.get(&n).to_vec());
        if want.as_ref().is_none_or(|v| v.is_empty()) && have.as_ref().is_none_or(|v| v.is_empty())
        {
            continue;
        }
        let action = match (&want, &have) {
            _ if !writes => "none",
            (Some(w), Some(h)) if crate::plan::values::same(w, h) => "none",
            (Some(w), Some(_)) if w.is_empty() => "remove",
            (Some(_), _) => "set",
            (None, _) => "none",
        };
        out.push(json!({
            "name": n,
            "entra": want.as_deref().map(|v| shown(&n, v)),
            "ad": have.as_deref().map(|v| shown(&n, v)),
            "action": action,
        }));
    }
    out
}

fn ownership(cur: Option<&super::state::Current>, marker: &str) -> String {
    match cur {
        None => "no object in AD".into(),
        Some(c) if c.anchor.is_some() && c.ours => {
            format!("dwb's (cloud anchor and adminDescription={marker})")
        }
        Some(c) if c.anchor.is_some() => {
            "another writer's (a cloud anchor without dwb's marker: Entra Connect?)".into()
        }
        Some(_) => "no cloud anchor: not a written-back device object; dwb leaves it alone".into(),
    }
}

fn device_json(d: &Device) -> Value {
    json!({
        "id": d.id, "deviceId": d.device_id, "displayName": d.display_name,
        "operatingSystem": d.operating_system, "operatingSystemVersion": d.operating_system_version,
        "trustType": d.trust_type, "accountEnabled": d.account_enabled,
        "type2_keys": d.alternative_security_ids.iter().filter(|k| k.kind == Some(2)).count(),
    })
}

/// The rule a skip names (the reasons come from the sync's own steps).
fn skip_rule(reason: &str) -> String {
    if reason.contains("the schema allows")
        || reason.contains("single-valued")
        || reason.contains("must be TRUE or FALSE")
        || reason.contains("is not a valid DN")
        || reason.contains("is not an integer")
    {
        format!("schema limit: {reason}")
    } else if reason.contains("did not write it") {
        format!("another writer's object: {reason}")
    } else {
        reason.to_string()
    }
}

/// The error for a query that several devices match, listing them.
fn ambiguous(query: &str, found: &[Device]) -> Error {
    let list: Vec<String> = found
        .iter()
        .map(|d| {
            format!(
                "  {}  deviceId {}  {}",
                d.id,
                d.device_id.as_deref().unwrap_or("-"),
                crate::text::visible(d.display_name.as_deref().unwrap_or(""))
            )
        })
        .collect();
    Error::new(
        Kind::Ambiguous,
        format!("`{query}` matches {} devices:\n{}", found.len(), list.join("\n")),
    )
    .with_hint("explain one of them by its object id")
}

/// Explains `query` (deviceId, object id, display name, or DN). Several
/// matching devices: an `ambiguous` error listing them; none and no object:
/// `not_found`.
/// What a query names: a deviceId, a display name, or a DN, whose object tells
/// which device (its anchor, else its CN).
fn resolve<'q>(
    cx: &Context,
    q: &'q Query,
) -> Result<(Option<Guid>, Option<&'q str>, Option<Entry>)> {
    Ok(match q {
        Query::Guid(g) => (Some(*g), None, None),
        Query::Name(n) => (None, Some(n.as_str()), None),
        Query::Dn(dn) => {
            let attrs = state::read_attrs();
            let refs: Vec<&str> = attrs.iter().map(String::as_str).collect();
            let e = cx.dir.read(dn, &refs)?;
            let by_anchor = e
                .as_ref()
                .and_then(|e| e.get("msDS-CloudAnchor").first().and_then(|a| anchor_object_id(a)))
                .and_then(|id| id.parse::<Guid>().ok());
            let by_cn = dn.rdn_value().and_then(|v| v.parse::<Guid>().ok());
            (by_anchor.or(by_cn), None, e)
        }
    })
}

/// Other devices with this one's deviceId: a sync skips all of them.
fn twins_of(cx: &Context, src: &DeviceSource, device: Option<&Device>) -> Result<Vec<String>> {
    let Some((d, g)) = device.and_then(|d| {
        Some((d, d.device_id.as_deref()?.trim_matches(|c| c == '{' || c == '}').parse().ok()?))
    }) else {
        return Ok(Vec::new());
    };
    Ok(find_devices(cx, src, Some(g), None, false)?
        .into_iter()
        .filter(|t| !t.id.eq_ignore_ascii_case(&d.id))
        .map(|t| t.id)
        .collect())
}

pub fn explain(
    cx: &Context,
    req: &SyncRequest,
    hooks: &mut dyn SiteHooks,
    query: &str,
) -> Result<Value> {
    let opts = options(cx.dir, req)?;
    let q = parse_query(query);
    let (guid, name, obj) = resolve(cx, &q)?;
    let src = cx.devices.get()?;
    let found = find_devices(cx, &src, guid, name, req.owners)?;
    if found.len() > 1 {
        return Err(ambiguous(query, &found));
    }
    let device = found.into_iter().next();
    let twins = twins_of(cx, &src, device.as_ref())?;
    let ids: Vec<(String, Option<Guid>)> = match (&device, &obj) {
        (Some(d), _) => vec![(d.id.clone(), d.device_id.as_deref().and_then(|x| x.parse().ok()))],
        (None, Some(e)) => {
            let anchor = e.get("msDS-CloudAnchor").first().and_then(|a| anchor_object_id(a));
            vec![(anchor.unwrap_or_default(), e.dn.rdn_value().and_then(|v| v.parse().ok()))]
        }
        (None, None) => vec![(guid.map(|g| g.to_string()).unwrap_or_default(), guid)],
    };
    let cur: CurrentState = state::current_state_of(cx.dir, &opts.container, &opts.marker, &ids)?;
    let Some(mut d) = device else {
        return not_in_entra(query, &opts, &cur, obj);
    };
    let existing = cur
        .anchored(&d.id)
        .or_else(|| {
            let cn = d.device_id.as_deref().and_then(|x| x.parse::<Guid>().ok())?.to_string();
            cur.at_dn(&opts.container.child("CN", &cn).ok()?.norm())
        })
        .cloned();
    let marker = opts.marker.clone();
    let container = opts.container.clone();
    let mut m = Mapper::new(cx.dir, hooks, opts.clone(), req.owners)?;
    if d.registered_owners.is_none() {
        m.prefetch_owners(cx, &src, req.owners, &[&d])?;
    }
    // As a sync reads them: the registered users, where the schema has msDS-RegisteredUsers.
    m.attach_users(cx, &src, std::slice::from_mut(&mut d), false)?;
    let wanted = m.wanted(&d)?;
    let skip = m.plan.skipped.last().map(|s| s.reason.clone());
    drop(m);
    // Asked again (the sync asked inside `wanted`) for the verdict's wording.
    let scope = hooks.in_scope(&d)?;
    let scope_rule = match scope {
        None => "no `in_scope` hook in the site module: every device dwb can map is in scope",
        Some(true) => "`in_scope(device)` in the site module returned true",
        Some(false) => "`in_scope(device)` in the site module (stdlib/site.rhai) returned false",
    };
    let mut dn = existing.as_ref().map(|c| c.entry.dn.clone()).or_else(|| {
        let cn = d.device_id.as_deref()?.parse::<Guid>().ok()?.to_string();
        container.child("CN", &cn).ok()
    });
    let (in_scope, action, reason, attrs, next) = match wanted {
        None if scope == Some(false) => {
            let owned = existing.as_ref().is_some_and(|c| c.ours && c.anchor.is_some());
            let action = if owned { "delete" } else { "skip" };
            let next = if owned {
                "the next full sync deletes the object (dwb owns it and the device is out of scope)"
            } else {
                "nothing: the device is out of scope"
            };
            let attrs = attributes(None, existing.as_ref().map(|c| &c.entry), false);
            (false, action, format!("out of scope: {scope_rule}"), attrs, next.to_string())
        }
        None => {
            let why = skip_rule(skip.as_deref().unwrap_or("skipped by the mapping"));
            let attrs = attributes(None, existing.as_ref().map(|c| &c.entry), false);
            let next = match &existing {
                Some(_) => "nothing: the device is skipped and its object left as it is",
                None => "nothing: the device is skipped",
            };
            (false, "skip", format!("skipped: {why}"), attrs, next.to_string())
        }
        Some(w) if !twins.is_empty() => {
            let attrs = attributes(Some(&w.attrs), existing.as_ref().map(|c| &c.entry), false);
            let why = format!(
                "skipped: devices {} and {} share the deviceId {}: both would write the same \
                 object, so a sync writes neither until one of them is removed from Entra ID",
                d.id,
                twins.join(", "),
                d.device_id.as_deref().unwrap_or_default()
            );
            (true, "skip", why, attrs, "nothing: the object is left as it is".into())
        }
        Some(w) => {
            let want_attrs = w.attrs.clone();
            let mut sp = SyncPlan::default();
            planner::plan_device(w, &cur, &opts, &mut sp)?;
            let in_rule = format!("in scope: {scope_rule}; dwb's mapping and the schema accept it");
            match (sp.ops.first(), sp.skipped.first()) {
                (_, Some(s)) => {
                    let attrs =
                        attributes(Some(&want_attrs), existing.as_ref().map(|c| &c.entry), false);
                    let why = format!("{in_rule}; but skipped: {}", skip_rule(&s.reason));
                    (true, "skip", why, attrs, "nothing: the object is left as it is".into())
                }
                (Some(p), None) => {
                    let attrs =
                        attributes(Some(&want_attrs), existing.as_ref().map(|c| &c.entry), true);
                    let ChangeOp::Directory(op) = &p.op else {
                        return Err(Error::internal("a sync planned a non-directory change"));
                    };
                    match op {
                        WriteOp::Add { dn: new, .. } => {
                            dn = Some(new.clone());
                            let next = format!("the next sync creates {new}");
                            (true, "create", format!("{in_rule}; no object in AD yet"), attrs, next)
                        }
                        WriteOp::Modify { mods, .. } => {
                            let what: Vec<&str> = mods.iter().map(|m| m.attr.as_str()).collect();
                            let next = format!("the next sync updates {}", what.join(", "));
                            (true, "update", format!("{in_rule}; the object differs"), attrs, next)
                        }
                        WriteOp::Delete { .. } => (true, "delete", in_rule, attrs, String::new()),
                    }
                }
                (None, None) => {
                    let attrs =
                        attributes(Some(&want_attrs), existing.as_ref().map(|c| &c.entry), true);
                    let why = format!("{in_rule}; the object matches");
                    (true, "none", why, attrs, "nothing: the object is up to date".into())
                }
            }
        }
    };
    Ok(json!({
        "query": query, "device": device_json(&d), "container": container.to_string(),
        "dn": dn.map(|d| d.to_string()), "in_scope": in_scope, "reason": reason,
        "action": action, "ownership": ownership(existing.as_ref(), &marker),
        "attributes": attrs, "next_sync": next,
    }))
}

/// No device in Entra ID: what the container holds under that name, if anything.
fn not_in_entra(
    query: &str,
    opts: &super::planner::SyncOptions,
    cur: &CurrentState,
    obj: Option<Entry>,
) -> Result<Value> {
    let c = obj
        .as_ref()
        .and_then(|e| cur.at_dn(&e.dn.norm()))
        .or_else(|| cur.objects().next())
        .cloned();
    let Some(c) = c else {
        let hint = "give the deviceId, the Entra object id, the display name or the DN";
        // The DN names an object, just not a device object: say so, not "no object".
        let what = match &obj {
            Some(e) if !e.is_a("msDS-Device") => {
                let class = e.get("objectClass").last().map(|c| String::from_utf8_lossy(c));
                format!(
                    "{} is not a device object (objectClass {})",
                    e.dn,
                    class.unwrap_or_default()
                )
            }
            Some(e) if !e.dn.is_child_of(&opts.container) => {
                format!("{} is outside the device container {}", e.dn, opts.container)
            }
            _ => format!("no object for it in {}", opts.container),
        };
        return Err(Error::new(
            Kind::NotFound,
            format!("no device `{query}` in Entra ID (the device source), and {what}"),
        )
        .with_hint(hint));
    };
    let owned = c.ours && c.anchor.is_some() && c.entry.dn.is_child_of(&opts.container);
    let (action, next) = if owned {
        ("delete", "the next full sync deletes the object: its device is gone from Entra ID")
    } else {
        ("none", "nothing: dwb does not own the object")
    };
    Ok(json!({
        "query": query, "device": Value::Null, "container": opts.container.to_string(),
        "dn": c.entry.dn.to_string(), "in_scope": false,
        "reason": "not in Entra ID: no device of the source has this id, deviceId or name",
        "action": action, "ownership": ownership(Some(&c), &opts.marker),
        "attributes": attributes(None, Some(&c.entry), false), "next_sync": next,
    }))
}

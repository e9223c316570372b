//! The `writeback::` script module: converts script values to a
//! [`SyncRequest`] and back, and reaches the site's hooks — `in_scope(device)`
//! and `map_device(device, attrs)` — when the script defines them. The sync
//! itself is `crate::writeback::sync`.

use std::sync::Arc;

use rhai::{Dynamic, Map, Module, NativeCallContext};

use crate::bindings::register::{OrRhai, bind, reg};
use crate::error::{Error, Result};
use crate::host::{Host, PrintTo};
use crate::writeback::mapping;
use crate::writeback::sync::{self, Context, SyncResult};

mod hooks;
pub mod options;
mod stale;

pub use hooks::ScriptHooks;
use options::request;

/// The result as the script sees it: counts and the skipped devices.
fn result_map(r: &SyncResult) -> Map {
    let mut out = Map::new();
    let n = |v: usize| Dynamic::from(v as i64);
    out.insert("container".into(), Dynamic::from(r.container.clone()));
    out.insert("mode".into(), r.mode.into());
    out.insert("listed".into(), n(r.listed));
    out.insert("in_scope".into(), n(r.in_scope));
    out.insert("existing".into(), n(r.existing));
    out.insert("creates".into(), n(r.plan.creates));
    out.insert("updates".into(), n(r.plan.updates));
    out.insert("deletes".into(), n(r.plan.deletes));
    out.insert("unchanged".into(), n(r.plan.unchanged));
    out.insert("foreign".into(), n(r.plan.foreign));
    out.insert("foreign_objects".into(), n(r.foreign_objects));
    out.insert("unanchored_objects".into(), n(r.unanchored_objects));
    out.insert("adopted".into(), n(r.plan.adopted));
    out.insert("missing".into(), n(r.plan.missing));
    let gone: rhai::Array = r.plan.gone.iter().map(|g| Dynamic::from(g.clone())).collect();
    out.insert("gone".into(), gone.into());
    out.insert("convention".into(), r.convention.describe().into());
    out.insert("anchor_encoding".into(), r.anchor.as_str().into());
    out.insert("sid_form".into(), r.sid_form.as_str().into());
    let skipped: rhai::Array = r
        .plan
        .skipped
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("device".into(), s.device.clone().into());
            let name = s.name.clone().map_or(Dynamic::UNIT, Dynamic::from);
            m.insert("name".into(), name);
            m.insert("kind".into(), s.kind.as_str().into());
            m.insert("reason".into(), s.reason.clone().into());
            m.into()
        })
        .collect();
    out.insert("skipped".into(), skipped.into());
    let summary: rhai::Array =
        mapping::summarize(&r.plan.skipped, 3).into_iter().map(Dynamic::from).collect();
    out.insert("skipped_summary".into(), summary.into());
    out
}

fn sync(ctx: &NativeCallContext, host: &Host, o: &Map, record: bool) -> Result<Map> {
    if record {
        crate::service::round::note_sync_attempt();
    }
    let mut req = request(host, o)?;
    req.remember_writes = record && !host.dry_run;
    host.devices.warm_up(&host.blocking);
    let dir = host.dir()?;
    let cx = Context {
        dir: &*dir,
        devices: &host.devices,
        blocking: &host.blocking,
        progress: host.print_to == PrintTo::Stdout,
        profile: host.profile.as_deref(),
        locks: record.then_some(&host.locks),
    };
    let mut hooks = ScriptHooks::load(ctx)?;
    let mut result = sync::plan(&cx, &req, &mut hooks)?;
    for note in result.notes.drain(..) {
        host.warn(&note);
    }
    let out = result_map(&result);
    if record {
        crate::service::round::note_sync(result.mode, result.in_scope, result.plan.skipped.len());
        if !result.contested.is_empty() {
            crate::service::round::note_contested(std::mem::take(&mut result.contested));
        }
        let mut plan = host.plan.lock().map_err(|_| Error::internal("plan lock poisoned"))?;
        result.record(&mut plan);
    } else {
        result.discard();
    }
    Ok(out)
}

/// `writeback::explain`: one device through the sync's steps (see `writeback::explain`).
fn explain(ctx: &NativeCallContext, host: &Host, device: &str, o: &Map) -> Result<Dynamic> {
    let req = request(host, o)?;
    let dir = host.dir()?;
    let cx = Context {
        dir: &*dir,
        devices: &host.devices,
        blocking: &host.blocking,
        progress: false,
        profile: host.profile.as_deref(),
        locks: None,
    };
    let mut hooks = ScriptHooks::load(ctx)?;
    let v = crate::writeback::explain::explain(&cx, &req, &mut hooks, device)?;
    rhai::serde::to_dynamic(v).map_err(|e| Error::internal(e.to_string()))
}

fn ownership(host: &Host, o: &Map) -> Result<Map> {
    let req = request(host, o)?;
    let own = sync::ownership(&*host.dir()?, &req, host.profile.as_deref())?;
    let mut out = Map::new();
    let n = |v: usize| Dynamic::from(v as i64);
    out.insert("container".into(), Dynamic::from(own.container));
    out.insert("existing".into(), n(own.total));
    out.insert("owned".into(), n(own.owned));
    out.insert("foreign_objects".into(), n(own.foreign_objects));
    out.insert("unanchored_objects".into(), n(own.unanchored_objects));
    out.insert("convention".into(), own.convention.describe().into());
    out.insert("mixed_forms".into(), own.convention.mixed().into());
    let changed: rhai::Array = own
        .changed_by_others
        .iter()
        .map(|(dn, attr, when)| Dynamic::from(format!("{attr} of {dn} (whenChanged {when})")))
        .collect();
    out.insert("changed_by_others".into(), changed.into());
    Ok(out)
}

/// The objects another writer added after the adoption (`arrivals`), or `()`
/// when this profile's journal records no adoption into the container.
fn since_adoption(host: &Host, o: &Map) -> Result<Dynamic> {
    let req = request(host, o)?;
    let dir = host.dir()?;
    let container = sync::container(&*dir, req.container.as_ref())?;
    let found = crate::writeback::arrivals::since_adoption(
        &*dir,
        &container,
        &req.marker,
        host.profile.as_deref(),
    )?;
    let Some(a) = found else { return Ok(Dynamic::UNIT) };
    let mut out = Map::new();
    out.insert("container".into(), Dynamic::from(container));
    out.insert("adopted_at".into(), a.adopted_at.into());
    let objects: rhai::Array = a.objects.into_iter().map(Dynamic::from).collect();
    out.insert("objects".into(), objects.into());
    Ok(out.into())
}

/// Builds the `writeback::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    let h = host.clone();
    // Not `bind!`: the options part of this doc is generated from `SYNC_OPTIONS`.
    reg(
        &mut m,
        "sync_devices",
        &["options"],
        &[
        "Plans a device sync: devices from `graph::source()` written to the device container as \
         msDS-Device objects (device-writeback.md §B.3): creates, per-attribute modifies of changed devices, and \
         deletes of objects dwb owns whose device is gone.\n\
         Options (any may be left out; a value of the wrong type is an error naming the option):\n",
        &options::doc_list(),
        "\n\
         Calls the site hooks `in_scope(device)` and `map_device(device, attrs)` for each \
         device (see Site hooks). Returns `#{ container, mode, listed, in_scope, existing, \
         creates, updates, deletes, unchanged, foreign, foreign_objects, unanchored_objects, \
         adopted, missing, gone, convention, anchor_encoding, sid_form, \
         skipped: [#{ device, name, kind, reason }] }` (`name`: the display name, or `()`).\n\
         # Example\n\
         ```rhai\n\
         let r = writeback::sync_devices(#{ mode: \"full\", container: \
         \"CN=RegisteredDevices,DC=contoso,DC=test\",\n\
         \x20   delete_threshold: 50 });\n\
         print(`${r.creates} to create, ${r.updates} to update, ${r.deletes} to delete`);\n\
         for s in r.skipped { report::warn(`device ${s.device} skipped: ${s.reason}`); }\n\
         ```\n\
         A deletion guard that trips (more deletes than `delete_threshold`, or than \
         `delete_threshold_percent` of the objects dwb owns in the container, or any delete \
         when the source listed no device and `allow_empty` is false) is not an error: the \
         plan is recorded with its refusals, shown in full, and nothing of it is applied \
         (exit 2, status `refused`). The thresholds not given come from the profile's \
         `[writeback]` settings. A recorded sync takes the container's lock for the run.\n\
         # Errors\n\
         `locked` when another dwb sync holds the container, `no_such_object` when the \
         container is missing, `unknown_option`, `invalid_argument` (a bad `mode`, \
         `anchor_encoding`, threshold or `optional_attributes`, delta without a tenant, a site \
         hook that fails), `invalid_value` (`in_scope` returning something other than a bool, \
         `map_device` returning something other than a map or `()`; the message names the hook, \
         the device and the type), `invalid_dn`, and the Graph errors.",
        ]
        .concat(),
        move |ctx: NativeCallContext, o: Map| sync(&ctx, &h, &o, true).rhai(),
    );
    let h = host.clone();
    bind!(
        /// What `writeback::sync_devices` would do, without planning anything: the drift between Entra ID and the container (`creates` = devices missing from AD, `deletes` = owned objects whose device is gone, `updates` = attribute mismatches, `skipped` with reasons, `foreign_objects` = anchored objects another writer owns, `unanchored_objects`). Same options, hooks and result as `writeback::sync_devices`.
        /// # Example
        /// ```rhai
        /// let d = writeback::drift(#{ container: "CN=RegisteredDevices,DC=contoso,DC=test" });
        /// if d.creates + d.updates + d.deletes > 0 {
        ///     report::finding("drift", "fail", `${d.creates} missing, ${d.deletes} stale, ${d.updates} differ`,
        ///         "run `dwb run sync`");
        /// }
        /// ```
        /// # Errors
        /// As `writeback::sync_devices`.
        &mut m,
        "drift",
        ["options"],
        move |ctx: NativeCallContext, o: Map| sync(&ctx, &h, &o, false).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Why one device is (not) in AD, without planning anything: the device is found by deviceId, object id, display name or the DN of its object, and put through the sync's steps (the site hooks, dwb's mapping, the schema's limits, the owner lookup, ownership). Takes the options of `writeback::sync_devices`. Returns `#{ query, device, container, dn, in_scope, reason, action, ownership, attributes: [#{ name, entra, ad, action }], next_sync }`; `action` is "create", "update", "delete", "none" or "skip", `reason` names the rule (`in_scope` returned false, no type-2 key, a schema limit, `map_device` returned (), another writer's object, …). `dwb explain` prints it.
        /// # Example
        /// ```rhai
        /// let x = writeback::explain("4c299165-6e8f-4b45-a5ba-c5d250a707ff", #{});
        /// print(`${x.action}: ${x.reason}`);
        /// for a in x.attributes {
        ///     if a.action != "none" { print(`  ${a.name}: ${a.ad} -> ${a.entra}`); }
        /// }
        /// ```
        /// # Errors
        /// `ambiguous` when several devices match (listed), `not_found` when neither Entra ID nor the container knows it, `no_such_object` when the container is missing, and the Graph errors.
        &mut m,
        "explain",
        ["device", "options", "-> Map"],
        move |ctx: NativeCallContext, d: &str, o: Map| explain(&ctx, &h, d, &o).rhai(),
    );
    let h = host.clone();
    bind!(
        /// `writeback::explain(device, #{})`.
        /// # Example
        /// ```rhai
        /// print(writeback::explain("LAPTOP-0042").reason);
        /// ```
        /// # Errors
        /// As `writeback::explain(device, options)`.
        &mut m,
        "explain",
        ["device", "-> Map"],
        move |ctx: NativeCallContext, d: &str| explain(&ctx, &h, d, &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Who owns the objects in the device container, from the directory alone (no device source is read): `#{ container, existing, owned, foreign_objects, unanchored_objects }`. Takes the options of `writeback::sync_devices` (only `container` and `marker` matter).
        /// # Example
        /// ```rhai
        /// let o = writeback::ownership(#{});
        /// if o.foreign_objects > 0 { print(`${o.foreign_objects} written by another writer`); }
        /// ```
        /// # Errors
        /// `no_such_object` when the container is missing.
        &mut m,
        "ownership",
        ["options"],
        move |o: Map| ownership(&h, &o).rhai(),
    );
    let h = host.clone();
    bind!(
        /// The anchored objects without dwb's marker created in the device container after dwb adopted it (another writer, Entra Connect, still exporting): `#{ container, adopted_at, objects: ["DN (whenCreated …)"] }`, or `()` when this profile's journal records no applied adoption into the container (an `adopt` run, or a sync with `take_over`). Takes the options of `writeback::sync_devices` (only `container` and `marker` matter).
        /// # Example
        /// ```rhai
        /// let a = writeback::since_adoption(#{});
        /// if a != () && a.objects.len() > 0 { print(`${a.objects.len()} new since ${a.adopted_at}`); }
        /// ```
        /// # Errors
        /// `no_such_object` when the container is missing.
        &mut m,
        "since_adoption",
        ["options", "-> Map|()"],
        move |o: Map| since_adoption(&h, &o).rhai(),
    );
    stale::register(&mut m, host);
    m
}

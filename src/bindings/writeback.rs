//! The `writeback::` script module: converts script values to a
//! [`SyncRequest`] and back, and reaches the site's hooks — `in_scope(device)`
//! and `map_device(device, attrs)` — when the script defines them. The sync
//! itself is `crate::writeback::sync`.

use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext, Scope};

use super::convert::{self, from_value, opt_str, to_dn, to_values};
use super::{OrRhai, check_options, reg};
use crate::directory::Attr;
use crate::error::{Error, Kind, Result};
use crate::graph::Device;
use crate::host::{Host, PrintTo};
use crate::writeback::hooks::{Mapped, SiteHooks};
use crate::writeback::mapping::{self, AnchorEncoding};
use crate::writeback::sync::{self, Context, Mode, SyncRequest, SyncResult};

const OPTS: &[&str] = &[
    "container",
    "mode",
    "state",
    "delete_threshold",
    "delete_threshold_percent",
    "take_over",
    "anchor_encoding",
    "sid_form",
    "adopt",
    "allow_empty",
    "owners",
    "marker",
    "optional_attributes",
];

/// The site's hooks, from the site module `dwb/site` (`stdlib/site.rhai`; a
/// site's own copy wins): the one place sync, verify's drift check and explain
/// read them. A device is converted to a script value once, for both hooks, and
/// what a hook returns is type-checked.
pub struct ScriptHooks<'a> {
    engine: &'a Engine,
    /// `site::in_scope(device)` and `site::map_device(device, attrs)` behind an
    /// `import "dwb/site"` (the module's functions see the module's own imports
    /// only when called through its namespace). `None` when not defined.
    in_scope: Option<AST>,
    map_device: Option<AST>,
    current: Option<(String, Dynamic)>,
}

/// `fn in_scope` / `fn map_device` defined outside the site module are refused:
/// verify and explain would not see them.
fn refuse_script_hooks(ctx: &NativeCallContext) -> Result<()> {
    for m in ctx.iter_namespaces() {
        for (_, _, name, _, _) in m.iter_script_fn_info() {
            if name == "in_scope" || name == "map_device" {
                return Err(Error::invalid_argument(format!(
                    "`fn {name}` is defined in the script; site hooks live in the site module \
                     stdlib/site.rhai, so that sync, verify and explain all use them"
                ))
                .with_hint(format!(
                    "move `fn {name}` into stdlib/site.rhai (`dwb init` writes one)"
                )));
            }
        }
    }
    Ok(())
}

impl<'a> ScriptHooks<'a> {
    /// The site module's hooks, checked for their parameters.
    pub fn load(ctx: &'a NativeCallContext<'a>) -> Result<ScriptHooks<'a>> {
        refuse_script_hooks(ctx)?;
        let engine = ctx.engine();
        let module = engine
            .module_resolver()
            .resolve(engine, None, "dwb/site", rhai::Position::NONE)
            .map_err(|e| {
                Error::invalid_argument(format!("loading the site module dwb/site: {e}"))
            })?;
        let arity = |name: &str| {
            module.iter_script_fn_info().find(|(_, _, n, _, _)| *n == name).map(|f| f.3)
        };
        let caller = |name: &str, want: usize, sig: &str| -> Result<Option<AST>> {
            match arity(name) {
                None => Ok(None),
                Some(n) if n != want => Err(Error::invalid_argument(format!(
                    "the site hook `{name}` takes {n} parameter(s); it must be `fn {sig}`"
                ))),
                Some(_) => {
                    let call = format!("import \"dwb/site\" as site; site::{sig}");
                    let mut vars = Scope::new();
                    vars.push("device", ()).push("attrs", ());
                    engine
                        .compile_with_scope(&vars, &call)
                        .map(Some)
                        .map_err(|e| Error::internal(e.to_string()))
                }
            }
        };
        let in_scope = caller("in_scope", 1, "in_scope(device)")?;
        let map_device = caller("map_device", 2, "map_device(device, attrs)")?;
        Ok(ScriptHooks { engine, in_scope, map_device, current: None })
    }

    fn device(&mut self, d: &Device) -> Dynamic {
        match &self.current {
            Some((id, v)) if *id == d.id => v.clone(),
            _ => {
                let v = convert::device(d);
                self.current = Some((d.id.clone(), v.clone()));
                v
            }
        }
    }

    fn call(&self, hook: &str, ast: &AST, d: &Device, mut scope: Scope) -> Result<Dynamic> {
        self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast).map_err(|e| {
            let e = bare(&e);
            Error::invalid_argument(format!(
                "the site hook `{hook}` failed for device {}: {e}",
                who(d)
            ))
        })
    }
}

/// A device as error messages name it.
fn who(d: &Device) -> String {
    let name = d.display_name.as_deref().map(crate::text::visible).unwrap_or_default();
    format!("{} ({name})", d.id)
}

/// An error's text without Rhai's position suffix.
fn bare(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
        other => other.to_string(),
    }
}

/// A script value's type and a short rendering, for type errors.
fn shown(v: &Dynamic) -> String {
    let text = v.to_string();
    let text: String = text.chars().take(40).collect();
    format!("{} ({})", v.type_name(), crate::text::visible(&text))
}

impl SiteHooks for ScriptHooks<'_> {
    fn in_scope(&mut self, d: &Device) -> Result<Option<bool>> {
        if self.in_scope.is_none() {
            return Ok(None);
        }
        let mut scope = Scope::new();
        scope.push("device", self.device(d));
        let Some(ast) = &self.in_scope else { return Ok(None) };
        let v = self.call("in_scope", ast, d, scope)?;
        match v.as_bool() {
            Ok(b) => Ok(Some(b)),
            Err(_) => Err(Error::new(
                Kind::InvalidValue,
                format!(
                    "the site hook `in_scope` returned {} for device {}; it must return true or false",
                    shown(&v),
                    who(d)
                ),
            )
            .with_hint("fix `fn in_scope` in stdlib/site.rhai; nothing was applied")),
        }
    }

    fn map_device(&mut self, d: &Device, attrs: Vec<Attr>) -> Result<Mapped> {
        if self.map_device.is_none() {
            return Ok(Mapped::Attrs(attrs));
        }
        let mut map = Map::new();
        for a in &attrs {
            let vals: rhai::Array = a.values.iter().map(|v| from_value(&a.name, v)).collect();
            map.insert(a.name.as_ref().into(), vals.into());
        }
        let mut scope = Scope::new();
        scope.push("device", self.device(d));
        scope.push("attrs", Dynamic::from_map(map));
        let Some(ast) = &self.map_device else { return Ok(Mapped::Attrs(attrs)) };
        let v = self.call("map_device", ast, d, scope)?;
        if v.is_unit() {
            return Ok(Mapped::Skip);
        }
        let type_error = |what: String, rule: &str| {
            Error::new(
                Kind::InvalidValue,
                format!("the site hook `map_device` {what} for device {}; {rule}", who(d)),
            )
            .with_hint("fix `fn map_device` in stdlib/site.rhai; nothing was applied")
        };
        let Some(m) = v.clone().try_cast::<Map>() else {
            let rule = "it must return the attribute map, or () to skip the device";
            return Err(type_error(format!("returned {}", shown(&v)), rule));
        };
        let mut out = Vec::with_capacity(m.len());
        for (k, v) in m.iter().filter(|(_, v)| !v.is_unit()) {
            let values = to_values(k, v)
                .map_err(|e| type_error(format!("returned a bad `{k}`"), &e.message))?;
            out.push(Attr::new(k.as_str(), values));
        }
        Ok(Mapped::Attrs(out))
    }
}

/// A `SyncRequest` from the script's options map; thresholds not given come
/// from the profile's `[writeback]` settings, else dwb's defaults.
fn request(host: &Host, o: &Map) -> Result<SyncRequest> {
    check_options(o, OPTS, "writeback::sync_devices")?;
    let flag = |k: &str| o.get(k).and_then(|v| v.as_bool().ok());
    let mut req = SyncRequest::default();
    if let Some(c) = o.get("container").filter(|v| !v.is_unit() && v.to_string() != "") {
        req.container = Some(to_dn(c)?);
    }
    // "auto" (or not given): the container's convention, else dwb's default.
    if let Some(s) = opt_str(o, "anchor_encoding").filter(|s| s != "auto") {
        req.anchor = Some(AnchorEncoding::parse(&s).ok_or_else(|| {
            Error::invalid_argument(format!("anchor_encoding `{s}` is not auto, utf8 or utf16le"))
        })?);
    }
    if let Some(s) = opt_str(o, "sid_form").filter(|s| s != "auto") {
        req.sid_form = Some(crate::writeback::forms::SidForm::parse(&s).ok_or_else(|| {
            Error::invalid_argument(format!("sid_form `{s}` is not auto, binary or text"))
        })?);
    }
    req.adopt = flag("adopt").unwrap_or(false);
    let wb = host.settings.writeback.clone().unwrap_or_default();
    let int = |k: &str| -> Result<Option<i64>> {
        match o.get(k).filter(|v| !v.is_unit()) {
            None => Ok(None),
            Some(v) => v.as_int().map(Some).map_err(|_| {
                Error::invalid_argument(format!("writeback::sync_devices: `{k}` must be a number"))
            }),
        }
    };
    if let Some(t) = int("delete_threshold")?.or(wb.delete_threshold.map(|t| t as i64)) {
        req.delete_threshold = t.max(0) as usize;
    }
    if let Some(p) = int("delete_threshold_percent")?.or(wb.delete_threshold_percent.map(i64::from))
    {
        if !(0..=100).contains(&p) {
            return Err(Error::invalid_argument(format!(
                "delete_threshold_percent is {p}; it must be between 0 and 100"
            )));
        }
        req.delete_threshold_percent = p as u32;
    }
    req.take_over = flag("take_over").unwrap_or(false);
    req.allow_empty = flag("allow_empty").unwrap_or(false);
    req.owners = flag("owners").unwrap_or(true);
    if let Some(m) = opt_str(o, "marker") {
        req.marker = m;
    }
    if let Some(v) = o.get("optional_attributes").filter(|v| !v.is_unit()) {
        req.optional = super::stale::optional_attributes(v)?;
    }
    req.mode = match opt_str(o, "mode").as_deref().unwrap_or("full") {
        "full" => Mode::Full,
        "delta" => {
            Mode::Delta { state: opt_str(o, "state").filter(|s| !s.is_empty()).map(Into::into) }
        }
        other => {
            return Err(Error::invalid_argument(format!(
                "mode `{other}` is not \"full\" or \"delta\""
            )));
        }
    };
    Ok(req)
}

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

/// Builds the `writeback::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    let h = host.clone();
    reg(
        &mut m,
        "sync_devices",
        &["options: Map", "-> Map"],
        "Plans a device sync: devices from `graph::source()` written to the device container as \
         msDS-Device objects (spec §B.3): creates, per-attribute modifies of changed devices, and \
         deletes of objects dwb owns whose device is gone. Options: `#{ mode: \"full\"|\"delta\", \
         state: \"file\" (delta; default `<data dir>/delta/<profile>-<tenant>-<container>.json`), \
         container: Dn, delete_threshold: 500, delete_threshold_percent: 25, take_over: false, \
         adopt: false, anchor_encoding: \"utf8\"|\"utf16le\"|\"auto\", sid_form: \
         \"binary\"|\"text\"|\"auto\" (auto or left out: the forms the container's objects \
         use, else utf8 / binary), allow_empty: false, owners: true, marker: \
         \"dwb-writeback\", optional_attributes: #{ last_logon: true, registered_users: true, \
         trust_type: true } }` (`optional_attributes`: which of \
         msDS-ApproximateLastLogonTimeStamp, msDS-RegisteredUsers and msDS-DeviceTrustType to \
         write where the schema has them; a key left out stays on); the container defaults to where the DeviceRegistrationService \
         points. Calls the site hooks `in_scope(device)` and `map_device(device, attrs)` for each \
         device (see Site hooks). Returns `#{ container, mode, listed, in_scope, existing, \
         creates, updates, deletes, unchanged, foreign, foreign_objects, unanchored_objects, \
         adopted, missing, gone, convention, anchor_encoding, sid_form, \
         skipped: [#{ device, reason }] }`. With `adopt: true` (the `adopt` script) only the \
         anchored objects without dwb's marker are planned: the marker and the differences, \
         no create, no delete; `gone` lists those whose device is not in Entra ID.\n\
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
        move |ctx: NativeCallContext, o: Map| sync(&ctx, &h, &o, true).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "drift",
        &["options: Map", "-> Map"],
        "What `writeback::sync_devices` would do, without planning anything: the drift between \
         Entra ID and the container (`creates` = devices missing from AD, `deletes` = owned \
         objects whose device is gone, `updates` = attribute mismatches, `skipped` with reasons, \
         `foreign_objects` = anchored objects another writer owns, `unanchored_objects`). Same \
         options, hooks and result as `writeback::sync_devices`.\n\
         # Example\n\
         ```rhai\n\
         let d = writeback::drift(#{ container: \"CN=RegisteredDevices,DC=contoso,DC=test\" });\n\
         if d.creates + d.updates + d.deletes > 0 {\n\
         \x20   report::finding(\"drift\", \"fail\", `${d.creates} missing, ${d.deletes} stale, \
         ${d.updates} differ`,\n\
         \x20       \"run `dwb run sync`\");\n\
         }\n\
         ```\n\
         # Errors\n\
         As `writeback::sync_devices`.",
        move |ctx: NativeCallContext, o: Map| sync(&ctx, &h, &o, false).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "explain",
        &["device: String", "options: Map", "-> Map"],
        "Why one device is (not) in AD, without planning anything: the device is found by \
         deviceId, object id, display name or the DN of its object, and put through the sync's \
         steps (the site hooks, dwb's mapping, the schema's limits, the owner lookup, ownership). \
         Takes the options of `writeback::sync_devices`. Returns `#{ query, device, container, \
         dn, in_scope, reason, action, ownership, attributes: [#{ name, entra, ad, action }], \
         next_sync }`; `action` is \"create\", \"update\", \"delete\", \"none\" or \"skip\", \
         `reason` names the rule (`in_scope` returned false, no type-2 key, a schema limit, \
         `map_device` returned (), another writer's object, …). `dwb explain` prints it.\n\
         # Example\n\
         ```rhai\n\
         let x = writeback::explain(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\", #{});\n\
         print(`${x.action}: ${x.reason}`);\n\
         for a in x.attributes {\n\
         \x20   if a.action != \"none\" { print(`  ${a.name}: ${a.ad} -> ${a.entra}`); }\n\
         }\n\
         ```\n\
         # Errors\n\
         `ambiguous` when several devices match (listed), `not_found` when neither Entra ID nor \
         the container knows it, `no_such_object` when the container is missing, and the Graph \
         errors.",
        move |ctx: NativeCallContext, d: &str, o: Map| explain(&ctx, &h, d, &o).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "explain",
        &["device: String", "-> Map"],
        "`writeback::explain(device, #{})`.\n\
         # Example\n\
         ```rhai\n\
         print(writeback::explain(\"LAPTOP-0042\").reason);\n\
         ```\n\
         # Errors\n\
         As `writeback::explain(device, options)`.",
        move |ctx: NativeCallContext, d: &str| explain(&ctx, &h, d, &Map::new()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "ownership",
        &["options: Map", "-> Map"],
        "Who owns the objects in the device container, from the directory alone (no device \
         source is read): `#{ container, existing, owned, foreign_objects, unanchored_objects }`. \
         Takes the options of `writeback::sync_devices` (only `container` and `marker` matter).\n\
         # Example\n```rhai\nlet o = writeback::ownership(#{});\n\
         if o.foreign_objects > 0 { print(`${o.foreign_objects} written by another writer`); }\n```\n\
         # Errors\n`no_such_object` when the container is missing.",
        move |o: Map| ownership(&h, &o).rhai(),
    );
    super::stale::register(&mut m, host);
    m
}

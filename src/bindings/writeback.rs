//! The `writeback::` script module: converts script values to a
//! [`SyncRequest`] and back, and reaches the site's hooks — `in_scope(device)`
//! and `map_device(device, attrs)` — when the script defines them. The sync
//! itself is `crate::writeback::sync`.

use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, Map, Module, NativeCallContext};

use super::convert::{from_value, opt_str, to_dn, to_values};
use super::{OrRhai, check_options, reg};
use crate::directory::Attr;
use crate::error::{Error, Kind, Result};
use crate::graph::Device;
use crate::host::{Host, PrintTo};
use crate::writeback::hooks::{Mapped, SiteHooks};
use crate::writeback::mapping::AnchorEncoding;
use crate::writeback::sync::{self, Context, Mode, SyncRequest, SyncResult};

const OPTS: &[&str] = &[
    "container",
    "mode",
    "state",
    "delete_threshold",
    "take_over",
    "anchor_encoding",
    "allow_empty",
    "owners",
    "marker",
];

/// The site's hooks as script functions, called when the script defines them.
/// A device is converted to a script value once, for both hooks.
struct ScriptHooks<'a> {
    ctx: &'a NativeCallContext<'a>,
    scope_defined: Option<bool>,
    map_defined: Option<bool>,
    current: Option<(String, Dynamic)>,
}

impl ScriptHooks<'_> {
    fn device(&mut self, d: &Device) -> Dynamic {
        match &self.current {
            Some((id, v)) if *id == d.id => v.clone(),
            _ => {
                let v = rhai::serde::to_dynamic(d.to_json()).unwrap_or(Dynamic::UNIT);
                self.current = Some((d.id.clone(), v.clone()));
                v
            }
        }
    }

    /// Calls a hook; `None` when the script does not define it.
    fn call(&self, name: &str, args: Vec<Dynamic>) -> Result<Option<Dynamic>> {
        let mut args = args.into_iter();
        let first = args.next().unwrap_or(Dynamic::UNIT);
        let r = match args.next() {
            None => self.ctx.call_fn::<Dynamic>(name, (first,)),
            Some(second) => self.ctx.call_fn::<Dynamic>(name, (first, second)),
        };
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) => match *e {
                EvalAltResult::ErrorFunctionNotFound(ref f, _) if f.starts_with(name) => Ok(None),
                other => Err(Error::new(
                    Kind::InvalidArgument,
                    format!("the site hook `{name}` failed: {other}"),
                )),
            },
        }
    }
}

impl SiteHooks for ScriptHooks<'_> {
    fn in_scope(&mut self, d: &Device) -> Result<Option<bool>> {
        if self.scope_defined == Some(false) {
            return Ok(None);
        }
        let dv = self.device(d);
        match self.call("in_scope", vec![dv])? {
            None => {
                self.scope_defined = Some(false);
                Ok(None)
            }
            Some(v) => {
                self.scope_defined = Some(true);
                Ok(Some(v.as_bool().unwrap_or(false)))
            }
        }
    }

    fn map_device(&mut self, d: &Device, attrs: Vec<Attr>) -> Result<Mapped> {
        if self.map_defined == Some(false) {
            return Ok(Mapped::Attrs(attrs));
        }
        let mut map = Map::new();
        for a in &attrs {
            let vals: rhai::Array = a.values.iter().map(|v| from_value(&a.name, v)).collect();
            map.insert(a.name.as_str().into(), vals.into());
        }
        let dv = self.device(d);
        let Some(v) = self.call("map_device", vec![dv, map.into()])? else {
            self.map_defined = Some(false);
            return Ok(Mapped::Attrs(attrs));
        };
        self.map_defined = Some(true);
        if v.is_unit() {
            return Ok(Mapped::Skip);
        }
        let m = v.try_cast::<Map>().ok_or_else(|| {
            Error::invalid_argument("map_device must return the attribute map (or () to skip)")
        })?;
        let attrs = m
            .iter()
            .filter(|(_, v)| !v.is_unit())
            .map(|(k, v)| Ok(Attr::new(k.as_str(), to_values(k, v)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Mapped::Attrs(attrs))
    }
}

/// A `SyncRequest` from the script's options map.
fn request(o: &Map) -> Result<SyncRequest> {
    check_options(o, OPTS, "writeback::sync_devices")?;
    let flag = |k: &str| o.get(k).and_then(|v| v.as_bool().ok());
    let mut req = SyncRequest::default();
    if let Some(c) = o.get("container").filter(|v| !v.is_unit() && v.to_string() != "") {
        req.container = Some(to_dn(c)?);
    }
    if let Some(s) = opt_str(o, "anchor_encoding") {
        req.anchor = AnchorEncoding::parse(&s).ok_or_else(|| {
            Error::invalid_argument(format!("anchor_encoding `{s}` is not utf8 or utf16le"))
        })?;
    }
    if let Some(t) = o.get("delete_threshold").and_then(|v| v.as_int().ok()) {
        req.delete_threshold = t.max(0) as usize;
    }
    req.take_over = flag("take_over").unwrap_or(false);
    req.allow_empty = flag("allow_empty").unwrap_or(false);
    req.owners = flag("owners").unwrap_or(true);
    if let Some(m) = opt_str(o, "marker") {
        req.marker = m;
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
    let skipped: rhai::Array = r
        .plan
        .skipped
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("device".into(), s.device.clone().into());
            m.insert("reason".into(), s.reason.clone().into());
            m.into()
        })
        .collect();
    out.insert("skipped".into(), skipped.into());
    out
}

fn sync(ctx: &NativeCallContext, host: &Host, o: &Map, record: bool) -> Result<Map> {
    let req = request(o)?;
    let dir = host.dir()?;
    let cx = Context {
        dir: &*dir,
        devices: &host.devices,
        blocking: &host.blocking,
        progress: host.print_to == PrintTo::Stdout,
    };
    let mut hooks = ScriptHooks { ctx, scope_defined: None, map_defined: None, current: None };
    let mut result = sync::plan(&cx, &req, &mut hooks)?;
    let out = result_map(&result);
    if record {
        let mut plan = host.plan.lock().map_err(|_| Error::internal("plan lock poisoned"))?;
        result.record(&mut plan);
    } else {
        result.discard();
    }
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
         state: \"file\" (delta), container: Dn, delete_threshold: 500, take_over: false, \
         anchor_encoding: \"utf8\"|\"utf16le\", allow_empty: false, owners: true, marker: \
         \"dwb-writeback\" }`; the container defaults to where the DeviceRegistrationService \
         points. Calls the site hooks `in_scope(device)` and `map_device(device, attrs)` for each \
         device (see Site hooks). Returns `#{ container, mode, listed, in_scope, existing, \
         creates, updates, deletes, unchanged, foreign, foreign_objects, unanchored_objects, \
         skipped: [#{ device, reason }] }`.\n\
         # Example\n\
         ```rhai\n\
         let r = writeback::sync_devices(#{ mode: \"full\", container: \
         \"CN=RegisteredDevices,DC=contoso,DC=test\",\n\
         \x20   delete_threshold: 50 });\n\
         print(`${r.creates} to create, ${r.updates} to update, ${r.deletes} to delete`);\n\
         for s in r.skipped { report::warn(`device ${s.device} skipped: ${s.reason}`); }\n\
         ```\n\
         # Errors\n\
         `plan` when the deletion threshold is exceeded or the source is empty (nothing is \
         changed), `no_such_object` when the container is missing, `unknown_option`, \
         `invalid_argument` (a bad `mode` or `anchor_encoding`, delta without a tenant or `state`, \
         a failing site hook, `map_device` returning something other than a map or `()`), \
         `invalid_dn`, `invalid_value`, and the Graph errors.",
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
    m
}

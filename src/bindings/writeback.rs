//! The `writeback::` script module: a whole device sync planned natively
//! (mapping and diff in Rust, for speed), with the site's hooks — `in_scope(device)`
//! and `map_device(device, attrs)` — called when the script defines them.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, Map, Module, NativeCallContext};

use super::convert::{opt_str, to_dn, to_values};
use super::graph::{GraphSource, from_graph};
use super::{OrRhai, check_options, reg};
use crate::ad::{Directory, discovery};
use crate::directory::{Attr, Dn, Guid, Sid};
use crate::error::{Error, Kind, Result};
use crate::graph::{DeltaOptions, Device, ListOptions};
use crate::host::Host;
use crate::plan::ChangeOp;
use crate::writeback::engine::{self, CurrentState, DEFAULT_MARKER, SyncOptions, SyncPlan, Wanted};
use crate::writeback::mapping::{AnchorEncoding, MapOptions, Skip};

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

/// A progress bar (counts, rate, ETA) for long syncs on a terminal; hidden otherwise.
fn progress(host: &Host, len: usize) -> indicatif::ProgressBar {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !tty || len < 500 || host.print_to != crate::host::PrintTo::Stdout {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} mapping devices {pos}/{len} [{bar:30}] {per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Calls a site hook if the script defines it; `None` when it does not.
fn hook(ctx: &NativeCallContext, name: &str, args: Vec<Dynamic>) -> Result<Option<Dynamic>> {
    let r = match args.len() {
        1 => ctx.call_fn::<Dynamic>(name, (args[0].clone(),)),
        _ => ctx.call_fn::<Dynamic>(name, (args[0].clone(), args[1].clone())),
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

fn forest_domains(dir: &dyn Directory) -> Vec<Sid> {
    let Ok(root) = dir.root_dse() else { return Vec::new() };
    discovery::domains(dir, &root)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| discovery::domain_sid(dir, &d.nc).ok())
        .collect()
}

/// The container: given, or where the DRS object points, or CN=RegisteredDevices.
fn container(dir: &dyn Directory, given: Option<&Dynamic>) -> Result<Dn> {
    if let Some(c) = given.filter(|v| !v.is_unit() && v.to_string() != "") {
        return to_dn(c);
    }
    let root = dir.root_dse()?;
    let req = crate::ad::SearchRequest::new(
        root.config_nc()?.child("CN", "Services")?,
        crate::ad::Scope::Subtree,
        crate::directory::Filter::eq("objectClass", "msDS-DeviceRegistrationService"),
    )
    .attrs(["msDS-DeviceLocation"]);
    if let Some(loc) =
        dir.search_all(&req)?.first().and_then(|e| e.first_str("msDS-DeviceLocation"))
    {
        return Dn::parse(&loc);
    }
    root.default_nc()?.child("CN", "RegisteredDevices")
}

struct Run<'a> {
    host: &'a Host,
    ctx: &'a NativeCallContext<'a>,
    opts: SyncOptions,
    owners: bool,
    scope_hook: Option<bool>,
    map_hook: Option<bool>,
    plan: SyncPlan,
    in_scope: usize,
    /// Owner SIDs looked up ahead, concurrently (device id → SID if any, or the lookup failed).
    owner_sids: HashMap<String, std::result::Result<Option<String>, ()>>,
}

/// How many Graph requests run at once when looking up owners or full devices.
const GRAPH_CONCURRENCY: usize = 16;

/// Runs `f` for every id with a bounded number of requests in flight; a failed
/// lookup is kept per id (one device's failure must not stop the others).
fn concurrently<T: Send + 'static, F, Fut>(
    host: &Host,
    ids: Vec<String>,
    f: F,
) -> Result<HashMap<String, std::result::Result<T, Error>>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Error>> + Send + 'static,
{
    host.block_on(async {
        let mut out = HashMap::with_capacity(ids.len());
        let mut set = tokio::task::JoinSet::new();
        let mut it = ids.into_iter();
        loop {
            while set.len() < GRAPH_CONCURRENCY {
                let Some(id) = it.next() else { break };
                let fut = f(id.clone());
                set.spawn(async move { (id, fut.await) });
            }
            match set.join_next().await {
                Some(Ok((id, r))) => {
                    out.insert(id, r);
                }
                Some(Err(e)) => {
                    return Err(Error::internal(format!("a Graph lookup task failed: {e}")));
                }
                None => break,
            }
        }
        Ok(out)
    })
}

impl Run<'_> {
    /// Looks up the registered owners of `devices` ahead of mapping, concurrently.
    /// Hybrid-joined devices have no registered owner (spec §B.4): no call for them.
    fn prefetch_owners(&mut self, src: &GraphSource, devices: &[&Device]) -> Result<()> {
        let GraphSource::Client(c) = src else { return Ok(()) };
        if !self.owners {
            return Ok(());
        }
        let ids: Vec<String> = devices
            .iter()
            .filter(|d| d.trust_type.as_deref() != Some("ServerAd"))
            .map(|d| d.id.clone())
            .collect();
        let c = c.clone();
        let found = concurrently(self.host, ids, move |id| {
            let c = c.clone();
            async move { c.device_owners(&id).await.map_err(from_graph) }
        })?;
        for (id, r) in found {
            match r {
                Ok(owners) => {
                    self.owner_sids.insert(
                        id,
                        Ok(owners.into_iter().find_map(|o| o.on_premises_security_identifier)),
                    );
                }
                Err(e) => {
                    self.plan.skipped.push(Skip {
                        device: id.clone(),
                        reason: format!("owner lookup failed: {e}"),
                    });
                    self.owner_sids.insert(id, Err(()));
                }
            }
        }
        Ok(())
    }

    /// Scope, owner and mapping of one device, hooks included.
    fn wanted(&mut self, d: &Device) -> Result<Option<Wanted>> {
        let dv = || rhai::serde::to_dynamic(d.to_json()).unwrap_or(Dynamic::UNIT);
        if self.scope_hook != Some(false) {
            match hook(self.ctx, "in_scope", vec![dv()])? {
                None => self.scope_hook = Some(false),
                Some(v) => {
                    self.scope_hook = Some(true);
                    if !v.as_bool().unwrap_or(false) {
                        return Ok(None);
                    }
                }
            }
        }
        self.in_scope += 1;
        let owner = match self.owner_sids.get(&d.id) {
            // The lookup failed: the device is already reported as skipped.
            Some(Err(())) => return Ok(None),
            Some(Ok(sid)) => sid.clone(),
            None => None,
        };
        let mut w = match engine::want(d, &self.opts, owner.as_deref()) {
            Ok(w) => w,
            Err(skip) => {
                self.plan.skipped.push(skip);
                return Ok(None);
            }
        };
        if self.map_hook != Some(false) {
            let mut attrs = Map::new();
            for a in &w.attrs {
                let vals: rhai::Array =
                    a.values.iter().map(|v| super::convert::from_value(&a.name, v)).collect();
                attrs.insert(a.name.as_str().into(), vals.into());
            }
            let device = dv();
            match hook(self.ctx, "map_device", vec![device, attrs.into()])? {
                None => self.map_hook = Some(false),
                Some(v) => {
                    self.map_hook = Some(true);
                    if v.is_unit() {
                        self.plan.skipped.push(Skip {
                            device: w.id.clone(),
                            reason: "map_device returned () (skipped by the site)".into(),
                        });
                        return Ok(None);
                    }
                    let m = v.try_cast::<Map>().ok_or_else(|| {
                        Error::invalid_argument(
                            "map_device must return the attribute map (or () to skip)",
                        )
                    })?;
                    w.attrs = m
                        .iter()
                        .filter(|(_, v)| !v.is_unit())
                        .map(|(k, v)| Ok(Attr::new(k.as_str(), to_values(k, v)?)))
                        .collect::<Result<Vec<_>>>()?;
                }
            }
        }
        Ok(Some(w))
    }
}

fn sync(ctx: &NativeCallContext, host: &Host, o: &Map, record: bool) -> Result<Map> {
    check_options(o, OPTS, "writeback::sync_devices")?;
    let dir = host.dir()?;
    let flag = |k: &str| o.get(k).and_then(|v| v.as_bool().ok()).unwrap_or(false);
    let container = container(&*dir, o.get("container"))?;
    if dir.read(&container, &["1.1"])?.is_none() {
        return Err(Error::new(
            Kind::NoSuchObject,
            format!("the device container {container} does not exist"),
        )
        .with_hint("run `dwb run prepare` first"));
    }
    let root = dir.root_dse()?;
    let anchor = match opt_str(o, "anchor_encoding") {
        Some(s) => AnchorEncoding::parse(&s).ok_or_else(|| {
            Error::invalid_argument(format!("anchor_encoding `{s}` is not utf8 or utf16le"))
        })?,
        None => AnchorEncoding::Utf8,
    };
    let threshold =
        o.get("delete_threshold").and_then(|v| v.as_int().ok()).unwrap_or(500).max(0) as usize;
    let opts = SyncOptions {
        container: container.clone(),
        map: MapOptions {
            anchor,
            write_compliance: discovery::schema_has_attribute(&*dir, &root, "msDS-IsCompliant")?,
            forest_domains: forest_domains(&*dir),
        },
        delete_threshold: threshold,
        take_over: flag("take_over"),
        marker: opt_str(o, "marker").unwrap_or_else(|| DEFAULT_MARKER.into()),
        allow_empty: flag("allow_empty"),
    };
    let src = host.graph.get(host)?;
    let cur: CurrentState;
    let mut run = Run {
        host,
        ctx,
        owners: o.get("owners").and_then(|v| v.as_bool().ok()).unwrap_or(true),
        opts,
        scope_hook: None,
        map_hook: None,
        plan: SyncPlan::default(),
        in_scope: 0,
        owner_sids: HashMap::new(),
    };
    let mode = opt_str(o, "mode").unwrap_or_else(|| "full".into());
    let listed: usize;
    let mut commit: Option<(String, String)> = None;
    match mode.as_str() {
        "full" => {
            let fetched: Vec<Device>;
            let devices: &[Device] = match &*src {
                GraphSource::Offline { devices, .. } => devices.as_slice(),
                GraphSource::Client(c) => {
                    let mut all = Vec::new();
                    host.block_on(async {
                        c.list_devices(&ListOptions::default(), |d| {
                            all.push(d);
                            std::ops::ControlFlow::Continue(())
                        })
                        .await
                        .map_err(from_graph)
                    })?;
                    fetched = all;
                    &fetched
                }
            };
            listed = devices.len();
            cur = engine::current_state(&*dir, &container, &run.opts.marker, &mut |_| ())?;
            run.prefetch_owners(&src, &devices.iter().collect::<Vec<_>>())?;
            let bar = progress(host, listed);
            let mut wanted = Vec::with_capacity(devices.len());
            for d in devices {
                host.check_cancelled()?;
                bar.inc(1);
                if let Some(w) = run.wanted(d)? {
                    wanted.push(w);
                }
            }
            bar.finish_and_clear();
            engine::plan_full(wanted, listed, &cur, &run.opts, &mut run.plan)?;
        }
        "delta" => {
            let GraphSource::Client(c) = &*src else {
                return Err(Error::invalid_argument(
                    "mode=delta needs a Graph tenant; a device file has no delta",
                ));
            };
            let state = opt_str(o, "state").filter(|s| !s.is_empty()).ok_or_else(|| {
                Error::invalid_argument(
                    "mode=delta needs --param state=FILE (where the deltaLink is kept)",
                )
            })?;
            // Work on a copy: the deltaLink moves only once the plan is applied.
            let pending = format!("{state}.pending");
            if std::path::Path::new(&state).exists() {
                std::fs::copy(&state, &pending)
                    .map_err(|e| Error::io(format!("copying {state}"), e))?;
            } else {
                let _ = std::fs::remove_file(&pending);
            }
            let (mut changed, mut removed) = (Vec::new(), Vec::new());
            let summary = host.block_on(async {
                c.delta_devices(std::path::Path::new(&pending), &DeltaOptions::default(), |page| {
                    changed.extend(page.changed);
                    removed.extend(page.removed);
                    std::ops::ControlFlow::Continue(())
                })
                .await
                .map_err(from_graph)
            })?;
            listed = changed.len();
            // Incremental rounds carry only changed properties: fetch the whole devices, concurrently.
            let full: Vec<Device> = if summary.resumed {
                let c2 = c.clone();
                let ids: Vec<String> = changed.iter().map(|d| d.id.clone()).collect();
                let mut got = concurrently(host, ids.clone(), move |id| {
                    let c = c2.clone();
                    async move { c.get_device(&id).await.map_err(from_graph) }
                })?;
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    match got.remove(&id) {
                        Some(Ok(d)) => out.push(d),
                        Some(Err(e)) => run.plan.skipped.push(Skip {
                            device: id,
                            reason: format!("could not read the device: {e}"),
                        }),
                        None => {}
                    }
                }
                out
            } else {
                changed
            };
            let ids: Vec<(String, Option<Guid>)> = full
                .iter()
                .map(|d| (d.id.clone(), d.device_id.as_deref().and_then(|x| x.parse().ok())))
                .chain(removed.iter().map(|r| (r.id.clone(), None)))
                .collect();
            // The first round lists everything: one paged read is cheaper than many small ones.
            cur = if summary.resumed {
                engine::current_state_of(&*dir, &container, &run.opts.marker, &ids)?
            } else {
                engine::current_state(&*dir, &container, &run.opts.marker, &mut |_| ())?
            };
            run.prefetch_owners(&src, &full.iter().collect::<Vec<_>>())?;
            for d in &full {
                host.check_cancelled()?;
                if let Some(w) = run.wanted(d)? {
                    engine::plan_device(w, &cur, &run.opts, &mut run.plan)?;
                }
            }
            let gone: Vec<&engine::Current> = removed
                .iter()
                .filter_map(|r| cur.by_anchor.get(&r.id.to_ascii_lowercase()))
                .collect();
            engine::plan_deletes(
                gone,
                &run.opts,
                &mut run.plan,
                "the device was removed from Entra ID",
            )?;
            commit = Some((pending, state));
        }
        other => {
            return Err(Error::invalid_argument(format!(
                "mode `{other}` is not \"full\" or \"delta\""
            )));
        }
    }
    let mut plan = std::mem::take(&mut run.plan);
    engine::order(&mut plan.ops);
    if !record {
        if let Some((pending, _)) = &commit {
            let _ = std::fs::remove_file(pending);
        }
    } else {
        let mut p = host.plan.lock().map_err(|_| Error::internal("plan lock poisoned"))?;
        for (op, why) in plan.ops.drain(..) {
            p.push(ChangeOp::Directory(op), Some(why));
        }
        if let Some((from, to)) = commit {
            p.push(ChangeOp::Setting { file: to, profile: String::new(), key: "deltaLink".into(), value: from }, Some("remember where the next delta round starts (only after every change above applied)".into()));
        }
    }
    let mut out = Map::new();
    out.insert("container".into(), Dynamic::from(container));
    out.insert("mode".into(), mode.into());
    out.insert("listed".into(), (listed as i64).into());
    out.insert("in_scope".into(), (run.in_scope as i64).into());
    out.insert("existing".into(), (cur.total as i64).into());
    out.insert("creates".into(), (plan.creates as i64).into());
    out.insert("updates".into(), (plan.updates as i64).into());
    out.insert("deletes".into(), (plan.deletes as i64).into());
    out.insert("unchanged".into(), (plan.unchanged as i64).into());
    out.insert("foreign".into(), (plan.foreign as i64).into());
    out.insert(
        "foreign_objects".into(),
        (cur.by_anchor.values().filter(|c| !c.ours).count() as i64).into(),
    );
    out.insert(
        "unanchored_objects".into(),
        (cur.by_dn.values().filter(|c| c.anchor.is_none()).count() as i64).into(),
    );
    let skipped: rhai::Array = plan
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
        "Plans a device sync: devices from `graph::source()` written to the device container as msDS-Device objects (spec §B.3): creates, per-attribute modifies of changed devices, and deletes of objects dwb owns whose device is gone. Options: `#{ mode: \"full\"|\"delta\", state: \"file\" (delta), container: Dn, delete_threshold: 500, take_over: false, anchor_encoding: \"utf8\"|\"utf16le\", allow_empty: false, owners: true, marker: \"dwb-writeback\" }`. Calls the script's `in_scope(device)` and `map_device(device, attrs)` when defined. Returns counts and the skipped devices with reasons.\n# Errors\n`plan` when the deletion threshold is exceeded or the source is empty (nothing is changed), `no_such_object` when the container is missing.",
        move |ctx: NativeCallContext, o: Map| sync(&ctx, &h, &o, true).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "drift",
        &["options: Map", "-> Map"],
        "What `writeback::sync_devices` would do, without planning anything: the drift between Entra ID and the container (`creates` = devices missing from AD, `deletes` = owned objects whose device is gone, `updates` = attribute mismatches, `skipped` with reasons, `foreign_objects` = anchored objects another writer owns, `unanchored_objects`). Same options as `writeback::sync_devices`.",
        move |ctx: NativeCallContext, o: Map| sync(&ctx, &h, &o, false).rhai(),
    );
    m
}

//! A whole device sync: source → scope → map → diff → plan. The devices come
//! from the run's device source (a full listing, or a delta round that follows
//! Graph's deltaLink), each is put through the site's hooks and dwb's mapping,
//! compared with what the container holds, and becomes directory writes. The
//! result is data: `record` puts it in the run's plan; `verify` only reads it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::fetch;
use super::hooks::{Mapped, SiteHooks};
use super::mapping::{AnchorEncoding, MANAGED, MapOptions, OptionalAttrs, Skip, SkipKind};
use super::planner::{self, DEFAULT_MARKER, SyncOptions, SyncPlan, Wanted};
use super::state::{self, CurrentState};
use crate::ad::schema::SchemaRules;
use crate::ad::{Directory, Scope, SearchRequest, WriteOp, discovery};
use crate::cancel::Blocking;
use crate::directory::{Attr, Dn, Filter, Sid};
use crate::error::{Error, Kind, Result};
use crate::graph::Device;
use crate::plan::{ChangeOp, Plan, Refusal};
use crate::sources::{DeviceSlot, DeviceSource, Listing};

use super::lock::Locks;

/// Full listing or delta round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Full,
    /// Follows the deltaLink kept in `state`.
    Delta {
        state: Option<PathBuf>,
    },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Delta { .. } => "delta",
        }
    }
}

/// What the caller asks of a sync.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The device container; default: where the DeviceRegistrationService points.
    pub container: Option<Dn>,
    pub mode: Mode,
    pub delete_threshold: usize,
    /// Refuse deleting more than this share (percent) of the objects dwb owns.
    pub delete_threshold_percent: u32,
    pub take_over: bool,
    pub anchor: AnchorEncoding,
    pub allow_empty: bool,
    /// Look up registered owners (for msDS-RegisteredOwner).
    pub owners: bool,
    pub marker: String,
    /// The optional attributes to write where the schema has them.
    pub optional: OptionalAttrs,
}

impl Default for SyncRequest {
    fn default() -> Self {
        SyncRequest {
            container: None,
            mode: Mode::Full,
            delete_threshold: 500,
            delete_threshold_percent: 25,
            take_over: false,
            anchor: AnchorEncoding::Utf8,
            allow_empty: false,
            owners: true,
            marker: DEFAULT_MARKER.into(),
            optional: OptionalAttrs::ALL,
        }
    }
}

/// A delta round's new state, written aside until the plan applied.
#[derive(Debug, Clone)]
pub struct StateCommit {
    pub pending: PathBuf,
    pub state: PathBuf,
    /// Devices to read again next round whatever the apply does (unreadable now).
    pub retry: Vec<String>,
}

/// What a sync found and plans.
pub struct SyncResult {
    pub container: Dn,
    pub mode: &'static str,
    pub listed: usize,
    pub in_scope: usize,
    pub existing: usize,
    /// Anchored objects another writer owns, and objects without an anchor.
    pub foreign_objects: usize,
    pub unanchored_objects: usize,
    pub plan: SyncPlan,
    pub commit: Option<StateCommit>,
    /// Warnings for the report (a delta round starting over, …).
    pub notes: Vec<String>,
}

impl SyncResult {
    /// Puts the sync's writes (and the delta state commit, last) into `plan`.
    pub fn record(&mut self, plan: &mut Plan) {
        let mut ops = std::mem::take(&mut self.plan.ops);
        let first = plan.changes.len() + 1;
        let mut deletes = Vec::new();
        for (n, c) in ops.iter_mut().enumerate() {
            c.id = first + n;
            if matches!(c.op, ChangeOp::Directory(WriteOp::Delete { .. })) {
                deletes.push(c.id);
            }
        }
        // The sync's changes are the plan's own: taken over, not copied (at
        // 100,000 devices a second list would double the peak memory).
        if plan.changes.is_empty() {
            plan.changes = ops;
        } else {
            plan.changes.append(&mut ops);
        }
        for t in self.plan.refused.drain(..) {
            plan.refusals.push(Refusal {
                guard: t.guard.into(),
                message: t.message,
                hint: t.hint,
                changes: deletes.clone(),
            });
        }
        if let Some(c) = self.commit.take() {
            plan.push(
                ChangeOp::StateCommit { pending: c.pending, state: c.state, retry: c.retry },
                Some(
                    "remember where the next delta round starts (only after every change above \
                     applied)"
                        .into(),
                ),
            );
        }
    }

    /// Drops a prepared delta state that will not be committed (a drift check).
    pub fn discard(&mut self) {
        if let Some(c) = self.commit.take() {
            let _ = std::fs::remove_file(c.pending);
        }
    }
}

/// What a sync works against.
pub struct Context<'a> {
    /// The directory as the plan so far leaves it.
    pub dir: &'a dyn Directory,
    /// Opened after the container is found, so a missing container is reported first.
    pub devices: &'a DeviceSlot,
    pub blocking: &'a Blocking,
    /// Show a progress bar while mapping (a terminal, text output).
    pub progress: bool,
    /// The profile in use (names the default delta state file).
    pub profile: Option<&'a str>,
    /// Take the container's lock (a sync that will apply; not a drift check).
    pub locks: Option<&'a Locks>,
}

/// The container: given, or where the DRS object points, or CN=RegisteredDevices.
pub fn container(dir: &dyn Directory, given: Option<&Dn>) -> Result<Dn> {
    if let Some(c) = given {
        return Ok(c.clone());
    }
    let root = dir.root_dse()?;
    let req = SearchRequest::new(
        root.config_nc()?.child("CN", "Services")?,
        Scope::Subtree,
        Filter::eq("objectClass", "msDS-DeviceRegistrationService"),
    )
    .attrs(["msDS-DeviceLocation"]);
    if let Some(loc) =
        dir.search_all(&req)?.first().and_then(|e| e.first_str("msDS-DeviceLocation"))
    {
        return Dn::parse(&loc);
    }
    root.default_nc()?.child("CN", "RegisteredDevices")
}

fn forest_domains(dir: &dyn Directory) -> Vec<Sid> {
    let Ok(root) = dir.root_dse() else { return Vec::new() };
    discovery::domains(dir, &root)
        .unwrap_or_default()
        .iter()
        .filter_map(|d| discovery::domain_sid(dir, &d.nc).ok())
        .collect()
}

/// The sync's options against this directory: the container exists, and the
/// schema and the forest's domains decide what the mapping may write.
pub(super) fn options(dir: &dyn Directory, req: &SyncRequest) -> Result<SyncOptions> {
    let container = container(dir, req.container.as_ref())?;
    if dir.read(&container, &["1.1"])?.is_none() {
        return Err(Error::new(
            Kind::NoSuchObject,
            format!("the device container {container} does not exist"),
        )
        .with_hint("run `dwb run prepare` first"));
    }
    let root = dir.root_dse()?;
    Ok(SyncOptions {
        container,
        map: MapOptions {
            anchor: req.anchor,
            write_compliance: discovery::schema_has_attribute(dir, &root, "msDS-IsCompliant")?,
            forest_domains: forest_domains(dir),
            optional: req.optional.in_schema(dir, &root)?,
        },
        delete_threshold: req.delete_threshold,
        delete_threshold_percent: req.delete_threshold_percent,
        take_over: req.take_over,
        marker: req.marker.clone(),
        allow_empty: req.allow_empty,
    })
}

/// Who owns what in the container, read from the directory alone (no device
/// source): what `verify` reports without a drift check.
pub struct Ownership {
    pub container: Dn,
    pub total: usize,
    pub owned: usize,
    pub foreign_objects: usize,
    pub unanchored_objects: usize,
}

pub fn ownership(dir: &dyn Directory, req: &SyncRequest) -> Result<Ownership> {
    let opts = options(dir, req)?;
    let cur = state::current_state(dir, &opts.container, &opts.marker, &mut |_| ())?;
    Ok(Ownership {
        owned: cur.by_anchor.values().filter(|c| c.ours).count(),
        foreign_objects: cur.by_anchor.values().filter(|c| !c.ours).count(),
        unanchored_objects: cur.by_dn.values().filter(|c| c.anchor.is_none()).count(),
        total: cur.total,
        container: opts.container,
    })
}

/// Per-device work shared by full and delta rounds.
pub(super) struct Mapper<'a> {
    hooks: &'a mut dyn SiteHooks,
    pub(super) opts: SyncOptions,
    /// What the live schema allows the attributes dwb writes to hold.
    schema: SchemaRules,
    dir: &'a dyn Directory,
    pub(super) plan: SyncPlan,
    in_scope: usize,
    /// Owner SIDs looked up ahead (device id → SID if any); a failed lookup is
    /// recorded as a skip and the device left out.
    owner_sids: HashMap<String, Option<String>>,
    owners_failed: HashSet<String>,
    /// Write msDS-RegisteredOwner (the request's `owners`).
    owners: bool,
    pub(super) notes: Vec<String>,
    /// The tenant's registered users by device (a full round reads them once).
    tenant_users: Option<HashMap<String, Vec<crate::graph::Owner>>>,
}

impl<'a> Mapper<'a> {
    /// A mapper for `dir` with the live schema's rules of the attributes dwb writes.
    pub(super) fn new(
        dir: &'a dyn Directory,
        hooks: &'a mut dyn SiteHooks,
        opts: SyncOptions,
        owners: bool,
    ) -> Result<Mapper<'a>> {
        let root = dir.root_dse()?;
        let mut written: Vec<&str> = MANAGED.to_vec();
        written.push("adminDescription");
        let schema = SchemaRules::read(dir, &root, &written)?;
        Ok(Mapper {
            hooks,
            opts,
            schema,
            dir,
            plan: SyncPlan::default(),
            in_scope: 0,
            owner_sids: HashMap::new(),
            owners_failed: HashSet::new(),
            owners,
            notes: Vec::new(),
            tenant_users: None,
        })
    }

    pub(super) fn prefetch_owners(
        &mut self,
        cx: &Context,
        src: &DeviceSource,
        owners: bool,
        devices: &[&Device],
    ) -> Result<()> {
        let DeviceSource::Graph(c) = src else { return Ok(()) };
        if !owners {
            return Ok(());
        }
        for (id, r) in fetch::owner_sids(c, devices, cx.blocking)? {
            match r {
                Ok(sid) => {
                    self.owner_sids.insert(id, sid);
                }
                Err(e) => {
                    let reason = format!("owner lookup failed: {e}");
                    self.plan.skipped.push(Skip::new(id.clone(), SkipKind::OwnerLookup, reason));
                    self.owners_failed.insert(id);
                }
            }
        }
        Ok(())
    }

    pub(super) fn skip(&mut self, device: &str, kind: SkipKind, reason: String) {
        self.plan.skipped.push(Skip::new(device, kind, reason));
    }

    /// The registered users of devices read without them (msDS-RegisteredUsers);
    /// a device whose lookup failed is skipped, as for owners.
    pub(super) fn attach_users(
        &mut self,
        cx: &Context,
        src: &DeviceSource,
        devices: &mut [Device],
        whole_tenant: bool,
    ) -> Result<()> {
        let DeviceSource::Graph(c) = src else { return Ok(()) };
        if !self.opts.map.optional.registered_users {
            return Ok(());
        }
        if whole_tenant && self.tenant_users.is_none() {
            self.tenant_users = Some(fetch::tenant_users(c, cx.blocking)?);
        }
        let known = if whole_tenant { self.tenant_users.as_ref() } else { None };
        for s in fetch::registered_users(c, devices, known, cx.blocking)? {
            self.owners_failed.insert(s.device.clone());
            self.plan.skipped.push(s);
        }
        Ok(())
    }

    /// Scope, owner and mapping of one device, hooks included.
    pub(super) fn wanted(&mut self, d: &Device) -> Result<Option<Wanted>> {
        if self.hooks.in_scope(d)? == Some(false) {
            return Ok(None);
        }
        self.in_scope += 1;
        // The lookup failed: the device is already reported as skipped.
        if self.owners_failed.contains(&d.id) {
            return Ok(None);
        }
        // Owners come expanded with the device where Graph allows it, else looked up ahead.
        let owner = match &d.registered_owners {
            Some(owners) if self.owners => fetch::owner_sid(owners),
            _ => self.owner_sids.get(&d.id).cloned().flatten(),
        };
        let mut w = match planner::want(d, &self.opts, owner.as_deref()) {
            Ok(w) => w,
            Err(skip) => {
                self.plan.skipped.push(skip);
                return Ok(None);
            }
        };
        match self.hooks.map_device(d, std::mem::take(&mut w.attrs))? {
            Mapped::Attrs(attrs) => w.attrs = attrs,
            Mapped::Skip => {
                let reason = "map_device returned () (skipped by the site)";
                self.plan.skipped.push(Skip::new(w.id.clone(), SkipKind::Site, reason));
                return Ok(None);
            }
        }
        // Held until applied (100,000 of them at scale): no spare capacity, in the
        // list or in a value built by appending.
        w.attrs.shrink_to_fit();
        for a in &mut w.attrs {
            a.values.shrink_to_fit();
            a.values.iter_mut().for_each(Vec::shrink_to_fit);
        }
        // A device the DC would refuse is skipped here: no write request for it.
        if let Some(reason) = self.refused(&w.attrs)? {
            self.plan.skipped.push(Skip::new(w.id.clone(), SkipKind::Schema, reason));
            return Ok(None);
        }
        Ok(Some(w))
    }

    /// Why the schema would refuse these attributes. An attribute the schema
    /// does not define (a site mapping's mistake) stops the run.
    fn refused(&mut self, attrs: &[Attr]) -> Result<Option<String>> {
        for a in attrs {
            if a.name.eq_ignore_ascii_case("objectClass") {
                continue;
            }
            if self.schema.get(&a.name).is_none() {
                let root = self.dir.root_dse()?;
                let more = SchemaRules::read(self.dir, &root, &[a.name.as_ref()])?;
                if more.get(&a.name).is_none() {
                    return Err(Error::new(
                        Kind::SchemaMissing,
                        format!(
                            "the mapping writes `{}`, which the schema does not define",
                            a.name
                        ),
                    )
                    .with_hint(
                        "check the attribute names `map_device` returns (stdlib/site.rhai)",
                    ));
                }
                self.schema.extend(more);
            }
            if let Some(reason) = self.schema.refuses(&a.name, &a.values) {
                return Ok(Some(reason));
            }
        }
        Ok(None)
    }
}

/// A spinner with the count and rate for syncs on a terminal (the listing's
/// length is not known ahead); hidden otherwise.
fn progress_bar(show: bool) -> indicatif::ProgressBar {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if !tty || !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    let template = "{spinner} mapping devices: {pos} ({per_sec})";
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Plans a sync of the device container from the device source.
pub fn plan(cx: &Context, req: &SyncRequest, hooks: &mut dyn SiteHooks) -> Result<SyncResult> {
    // Graph answers in 50–150 ms: its first requests go out before the container
    // and the schema are read. The source's own errors wait, so a missing
    // container is still what a run reports first.
    let src = cx.devices.get();
    let early = src.as_ref().ok().map(|s| Early::start(cx, s, req)).transpose();
    let early_delta = src.as_ref().ok().and_then(|s| super::delta::EarlyListing::start(cx, s, req));
    let opts = options(cx.dir, req)?;
    if let Some(locks) = cx.locks {
        locks.acquire(&crate::config::data_dir()?.join("locks"), &opts.container)?;
    }
    let mut m = Mapper::new(cx.dir, hooks, opts, req.owners)?;
    let src = match &src {
        Ok(s) => s.as_ref(),
        Err(e) => return Err(e.clone()),
    };
    let (listed, cur, commit) = match &req.mode {
        Mode::Full => full(cx, src, early?.flatten(), &mut m)?,
        Mode::Delta { state } => {
            super::delta::round(cx, src, req, &mut m, state.as_deref(), early_delta)?
        }
    };
    let mut plan = m.plan;
    planner::order(&mut plan.ops);
    Ok(SyncResult {
        container: m.opts.container,
        mode: req.mode.name(),
        listed,
        in_scope: m.in_scope,
        existing: cur.total,
        foreign_objects: cur.by_anchor.values().filter(|c| !c.ours).count(),
        unanchored_objects: cur.by_dn.values().filter(|c| c.anchor.is_none()).count(),
        plan,
        commit,
        notes: m.notes,
    })
}

pub(super) type Round = (usize, CurrentState, Option<StateCommit>);

/// A full round's Graph listings (devices with their owners, and the registered
/// users), started before anything is read from the directory.
struct Early<'a> {
    listing: Listing<'a>,
    users: Option<fetch::UsersTask>,
}

impl<'a> Early<'a> {
    /// A full round's listings (a delta round's state file is named after the
    /// container: its listing waits for it).
    fn start(cx: &Context<'a>, src: &'a DeviceSource, req: &SyncRequest) -> Result<Option<Self>> {
        if let Mode::Delta { .. } = req.mode {
            return Ok(None);
        }
        // Registered users as asked for; dropped unwritten if the schema lacks them.
        let users = match src {
            DeviceSource::Graph(c) if req.optional.registered_users => {
                Some(fetch::start_tenant_users(c, cx.blocking)?)
            }
            _ => None,
        };
        // Owners come expanded with a tenant's listing. An export file may carry them
        // (Get-MgDevice -ExpandProperty registeredOwners) or not: then none are written.
        let listing = src.start_listing(req.owners, cx.blocking)?;
        Ok(Some(Early { listing, users }))
    }
}

fn full(cx: &Context, src: &DeviceSource, early: Option<Early>, m: &mut Mapper) -> Result<Round> {
    let Some(Early { listing, users }) = early else {
        return Err(Error::internal("a full round without its listing"));
    };
    // The listings run while the container is read: a round costs the slower of the two.
    let mut r = Reconcile::start(cx, m)?;
    if let Some(task) = users.filter(|_| m.opts.map.optional.registered_users) {
        m.tenant_users = Some(fetch::join_tenant_users(task, cx.blocking)?);
    }
    let mut failed = None;
    let listed = listing.each(|d| match r.device(cx, m, src, d) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let cur = r.finish(m, listed)?;
    Ok((listed, cur, None))
}

/// Every listed device against the whole container, deletions included, under
/// the guards: a full sync, and a delta round that starts from nothing. Devices
/// are planned as they come, so a listing is never held whole.
pub(super) struct Reconcile {
    cur: CurrentState,
    keep: HashSet<u128>,
    bar: indicatif::ProgressBar,
    dups: planner::Duplicates,
}

impl Reconcile {
    pub(super) fn start(cx: &Context, m: &Mapper) -> Result<Reconcile> {
        let cur = state::current_state(cx.dir, &m.opts.container, &m.opts.marker, &mut |_| ())?;
        let bar = progress_bar(cx.progress);
        Ok(Reconcile { cur, keep: HashSet::new(), bar, dups: planner::Duplicates::default() })
    }

    pub(super) fn device(
        &mut self,
        cx: &Context,
        m: &mut Mapper,
        src: &DeviceSource,
        mut d: Device,
    ) -> Result<()> {
        cx.blocking.cancel.check()?;
        self.bar.inc(1);
        m.attach_users(cx, src, std::slice::from_mut(&mut d), true)?;
        if let Some(w) = m.wanted(&d)? {
            self.keep.insert(planner::id_key(&w.id));
            if !self.dups.note(&w) {
                planner::plan_device(w, &self.cur, &m.opts, &mut m.plan)?;
            }
        }
        Ok(())
    }

    pub(super) fn finish(self, m: &mut Mapper, listed: usize) -> Result<CurrentState> {
        self.bar.finish_and_clear();
        self.dups.settle(&mut m.plan);
        planner::plan_gone(&self.cur, &self.keep, &m.opts, &mut m.plan);
        let owned = state::owned_in(&self.cur, &m.opts.container);
        m.plan.refused = planner::check_guards(m.plan.deletes, owned, listed == 0, &m.opts);
        Ok(self.cur)
    }
}

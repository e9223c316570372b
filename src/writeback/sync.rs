//! A whole device sync: source → scope → map → diff → plan. The devices come
//! from the run's device source (a full listing, or a delta round that follows
//! Graph's deltaLink), each is put through the site's hooks and dwb's mapping,
//! compared with what the container holds, and becomes directory writes. The
//! result is data: `record` puts it in the run's plan; `verify` only reads it.

use super::fetch;
use super::forms;
use super::hooks::SiteHooks;
use super::mapping::MapOptions;
use super::planner::{self, SyncOptions, SyncPlan};
use super::state;
use crate::ad::{Directory, Scope, SearchRequest, WriteOp, discovery};
use crate::directory::{Dn, Filter, Sid};
use crate::error::{Error, Kind, Result};
use crate::plan::{ChangeOp, Plan, Refusal};
use crate::sources::{DeviceSource, Listing};

use super::mapper::{Mapper, Reconcile};
use super::request::Round;
pub use super::request::{Context, Mode, StateCommit, SyncRequest};

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
    /// The forms the container's objects use, and the ones new values get.
    pub convention: forms::Convention,
    pub anchor: super::mapping::AnchorEncoding,
    pub sid_form: forms::SidForm,
    pub plan: SyncPlan,
    pub commit: Option<StateCommit>,
    /// Warnings for the report (a delta round starting over, …).
    pub notes: Vec<String>,
    /// What another writer keeps changing ("attr of DN"), when the run will apply:
    /// not reverted a second time, and the round is not ok.
    pub contested: Vec<String>,
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
    // New values follow the forms the container's objects already use (another
    // writer's, before an adoption), unless a form is asked for.
    let convention = if req.anchor.is_none() || req.sid_form.is_none() {
        forms::detect(dir, &container)?
    } else {
        forms::Convention::default()
    };
    Ok(SyncOptions {
        map: MapOptions {
            anchor: req.anchor.or(convention.anchor()).unwrap_or_default(),
            sid_form: req.sid_form.or(convention.sid()).unwrap_or_default(),
            write_compliance: discovery::schema_has_attribute(dir, &root, "msDS-IsCompliant")?,
            forest_domains: forest_domains(dir),
            optional: req.optional.in_schema(dir, &root)?,
        },
        delete_threshold: req.delete_threshold,
        delete_threshold_percent: req.delete_threshold_percent,
        take_over: req.take_over,
        adopt: req.adopt,
        marker: req.marker.clone(),
        allow_empty: req.allow_empty,
        convention,
        container,
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
    /// The forms the container's objects use.
    pub convention: forms::Convention,
    /// Attributes of dwb's objects someone else changed after dwb last wrote
    /// them: (DN, attribute, whenChanged).
    pub changed_by_others: Vec<(Dn, String, String)>,
}

pub fn ownership(
    dir: &dyn Directory,
    req: &SyncRequest,
    profile: Option<&str>,
) -> Result<Ownership> {
    let opts = options(dir, req)?;
    let cur = state::current_state(dir, &opts.container, &opts.marker, &mut |_| ())?;
    let memory = super::contest::path(profile, &opts.container)?;
    Ok(Ownership {
        changed_by_others: super::contest::changed_since(&memory, &cur),
        owned: cur.anchored_objects().filter(|(_, c)| c.ours).count(),
        foreign_objects: cur.anchored_objects().filter(|(_, c)| !c.ours).count(),
        unanchored_objects: cur.objects().filter(|c| c.anchor.is_none()).count(),
        total: cur.total,
        convention: opts.convention,
        container: opts.container,
    })
}

/// Plans a sync of the device container from the device source.
pub fn plan(cx: &Context, req: &SyncRequest, hooks: &mut dyn SiteHooks) -> Result<SyncResult> {
    // Graph answers in 50–150 ms: its first requests go out before the container
    // and the schema are read. The source's own errors wait, so a missing
    // container is still what a run reports first.
    let src = cx.devices.get();
    let early = src.as_ref().ok().map(|s| Early::start(cx, s, req)).transpose();
    let early_delta = src.as_ref().ok().and_then(|s| super::delta::EarlyListing::start(cx, s, req));
    if req.adopt && req.mode != Mode::Full {
        return Err(Error::invalid_argument(
            "an adoption reads the whole container: it is a full round, not a delta round",
        ));
    }
    let opts = options(cx.dir, req)?;
    if let Some(locks) = cx.locks {
        locks.acquire(&crate::config::data_dir()?.join("locks"), &opts.container)?;
    }
    let mut m = Mapper::new(cx.dir, hooks, opts, req.owners)?;
    let src = match &src {
        Ok(s) => s.as_ref(),
        Err(e) => return Err(e.clone()),
    };
    // Before anything is planned: a permission the token lacks is an error
    // naming it, not owners Graph sends without their SIDs.
    if let DeviceSource::Graph(c) = src {
        let users = req.owners || req.optional.registered_users;
        cx.blocking.block_on(async { Ok(c.check_sync_permissions(users).await?) })?;
    }
    // The mode the round ran in, which the report shows: a delta round Graph
    // cannot serve runs as a full one.
    let mut mode = req.mode.name();
    let (listed, cur, commit) = match &req.mode {
        Mode::Full => full(cx, src, early?.flatten(), &mut m)?,
        Mode::Delta { state } => {
            match super::delta::round(cx, src, req, &mut m, state.as_deref(), early_delta)? {
                Some(round) => round,
                // No device delta in this Graph: a full round (the notice is in the notes).
                None => {
                    mode = Mode::Full.name();
                    full(cx, src, Early::start_full(cx, src, req)?, &mut m)?
                }
            }
        }
    };
    m.note_unread();
    let mut plan = m.plan;
    let mut notes = m.notes;
    let contested = if req.adopt {
        Vec::new()
    } else {
        contest(cx, req, &m.opts.container, &cur, &mut plan, &mut notes)?
    };
    planner::order(&mut plan.ops);
    Ok(SyncResult {
        container: m.opts.container,
        mode,
        listed,
        in_scope: m.in_scope,
        existing: cur.total,
        foreign_objects: cur.anchored_objects().filter(|(_, c)| !c.ours).count(),
        unanchored_objects: cur.objects().filter(|c| c.anchor.is_none()).count(),
        convention: m.opts.convention.clone(),
        anchor: m.opts.map.anchor,
        sid_form: m.opts.map.sid_form,
        plan,
        commit,
        notes,
        contested,
    })
}

/// Stops a second revert in a row of what another writer keeps changing
/// (`contest`); a run that will apply remembers this round's writes and
/// returns what is contested.
fn contest(
    cx: &Context,
    req: &SyncRequest,
    container: &Dn,
    cur: &state::CurrentState,
    plan: &mut SyncPlan,
    notes: &mut Vec<String>,
) -> Result<Vec<String>> {
    let path = super::contest::path(cx.profile, container)?;
    let last = super::contest::load(&path);
    let usn = |dn: &Dn| {
        cur.at_dn(&dn.norm())
            .and_then(|c| c.entry.first_str("uSNChanged"))
            .and_then(|u| u.parse::<u64>().ok())
    };
    let (contested, now) = super::contest::check(plan, &last, &usn);
    if !contested.is_empty() {
        notes.extend(contested.iter().map(super::contest::Contested::message));
    }
    if !req.remember_writes {
        return Ok(Vec::new());
    }
    super::contest::remember(path, now)?;
    Ok(contested.iter().map(|c| format!("{} of {}", c.attr, c.dn)).collect())
}

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
        Self::start_full(cx, src, req)
    }

    /// A full round's listings, whatever the mode asked for.
    fn start_full(
        cx: &Context<'a>,
        src: &'a DeviceSource,
        req: &SyncRequest,
    ) -> Result<Option<Self>> {
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
        let (users, warning) = fetch::join_tenant_users(task, cx.blocking)?;
        m.tenant_users = Some(users);
        m.notes.extend(warning);
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
    let cur = r.finish(cx, m, src, listed)?;
    Ok((listed, cur, None))
}

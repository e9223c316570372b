//! The per-device work of a sync round, full or delta: a device through the
//! site's hooks and dwb's mapping (`Mapper`), and every listed device against
//! the whole container (`Reconcile`).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::fetch;
use super::hooks::{Mapped, SiteHooks};
use super::mapping::{MANAGED, Skip, SkipKind};
use super::planner::{self, SyncOptions, SyncPlan, Wanted};
use super::request::Context;
use super::state::{self, CurrentState};
use crate::ad::Directory;
use crate::ad::schema::SchemaRules;
use crate::directory::Attr;
use crate::error::{Error, Kind, Result};
use crate::graph::Device;
use crate::sources::DeviceSource;

/// Per-device work shared by full and delta rounds.
pub(super) struct Mapper<'a> {
    hooks: &'a mut dyn SiteHooks,
    pub(super) opts: SyncOptions,
    /// What the live schema allows the attributes dwb writes to hold.
    schema: SchemaRules,
    dir: &'a dyn Directory,
    pub(super) plan: SyncPlan,
    pub(super) in_scope: usize,
    /// Owner SIDs looked up ahead (device id → SID if any); a failed lookup is
    /// recorded as a skip and the device left out.
    owner_sids: HashMap<String, Option<String>>,
    owners_failed: HashSet<String>,
    /// Devices whose registered owner / users Graph sent without their SIDs,
    /// also when looked up by id: their attribute is left as it is.
    unread_owner: BTreeSet<String>,
    unread_users: BTreeSet<String>,
    /// Write msDS-RegisteredOwner (the request's `owners`).
    owners: bool,
    pub(super) notes: Vec<String>,
    /// The tenant's registered users by device (a full round reads them once).
    pub(super) tenant_users: Option<HashMap<String, Vec<crate::graph::Owner>>>,
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
            unread_owner: BTreeSet::new(),
            unread_users: BTreeSet::new(),
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
        self.lookup_owners(cx, src, owners, devices, false)
    }

    /// Devices whose owners were asked for with them but came back unread
    /// (`Device::registered_owners` is `None`: Graph ignored the nested
    /// `$select`, or sent "limited information") are looked up by id, with
    /// the documented `registeredOwners/microsoft.graph.user?$select=…`.
    pub(super) fn reread_owners(
        &mut self,
        cx: &Context,
        src: &DeviceSource,
        devices: &[&Device],
    ) -> Result<()> {
        let again: Vec<&Device> = devices
            .iter()
            .filter(|d| {
                d.registered_owners.is_none()
                    && !self.owner_sids.contains_key(&d.id)
                    && !self.owners_failed.contains(&d.id)
                    && !self.unread_owner.contains(&d.id)
            })
            .copied()
            .collect();
        if again.is_empty() {
            return Ok(());
        }
        self.lookup_owners(cx, src, self.owners, &again, true)
    }

    fn lookup_owners(
        &mut self,
        cx: &Context,
        src: &DeviceSource,
        owners: bool,
        devices: &[&Device],
        hybrid: bool,
    ) -> Result<()> {
        let DeviceSource::Graph(c) = src else { return Ok(()) };
        if !owners {
            return Ok(());
        }
        for (id, r) in fetch::owner_sids(c, devices, hybrid, cx.blocking)? {
            match r {
                Ok(Some(sid)) => {
                    self.owner_sids.insert(id, sid);
                }
                Ok(None) => {
                    self.unread_owner.insert(id);
                }
                Err(e) => {
                    let reason = format!("owner lookup failed: {e}");
                    self.plan.skipped.push(Skip::new(id.clone(), SkipKind::OwnerLookup, reason));
                    self.owners_failed.insert(id);
                }
            }
        }
        // Not asked (hybrid-joined): no owner, as Graph would have said.
        for d in devices {
            if !self.unread_owner.contains(&d.id) && !self.owners_failed.contains(&d.id) {
                self.owner_sids.entry(d.id.clone()).or_insert(None);
            }
        }
        Ok(())
    }

    /// One warning per attribute left as it is because Graph did not send it.
    pub(super) fn note_unread(&mut self) {
        let lists = [
            ("msDS-RegisteredOwner", "registered owner", &self.unread_owner),
            ("msDS-RegisteredUsers", "registered users", &self.unread_users),
        ];
        for (attr, what, ids) in lists {
            if ids.is_empty() {
                continue;
            }
            let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
            let more = ids.len().saturating_sub(shown.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            self.notes.push(format!(
                "{attr} left as it is on {} device(s): Graph sent their {what} without \
                 onPremisesSecurityIdentifier, also when looked up by id (does the app have \
                 User.Read.All?): {}{more}",
                ids.len(),
                shown.join(", ")
            ));
        }
    }

    /// Gives the skips from `from` on the display names of `devices` they are
    /// about, so a report names each skipped device as a person knows it.
    pub(super) fn name_skips(&mut self, from: usize, devices: &[Device]) {
        let Some(new) = self.plan.skipped.get_mut(from..).filter(|s| !s.is_empty()) else {
            return;
        };
        let names: HashMap<&str, &str> = devices
            .iter()
            .filter_map(|d| Some((d.id.as_str(), d.display_name.as_deref()?)))
            .collect();
        for s in new.iter_mut().filter(|s| s.name.is_none()) {
            s.name = names
                .get(s.device.as_str())
                .map(|n| crate::text::clip(n, crate::text::CLIP).into_owned());
        }
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
            let (users, warning) = fetch::tenant_users(c, cx.blocking)?;
            self.tenant_users = Some(users);
            self.notes.extend(warning);
        }
        let known = if whole_tenant { self.tenant_users.as_ref() } else { None };
        let missing = fetch::registered_users(c, devices, known, cx.blocking)?;
        for s in missing.failed {
            self.owners_failed.insert(s.device.clone());
            self.plan.skipped.push(s);
        }
        self.unread_users.extend(missing.unread);
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
        // Unread is not empty: only a relationship Graph said is empty removes these.
        if self.owners && self.unread_owner.contains(&d.id) {
            w.keep.push("msDS-RegisteredOwner");
        }
        if self.opts.map.optional.registered_users && self.unread_users.contains(&d.id) {
            w.keep.push("msDS-RegisteredUsers");
        }
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
    let template = "{spinner} mapping devices: {pos} ({rate})";
    if let Some(style) = crate::progress::style(template) {
        bar.set_style(style);
    }
    bar
}

/// Every listed device against the whole container, deletions included, under
/// the guards: a full sync, and a delta round that starts from nothing. Devices
/// are planned as they come, so a listing is never held whole.
pub(super) struct Reconcile {
    cur: CurrentState,
    keep: HashSet<u128>,
    bar: indicatif::ProgressBar,
    dups: planner::Duplicates,
    /// Devices listed but not planned yet: their owner and user lookups go
    /// out together (20 per JSON batch, several batches in flight), not one
    /// request per device where Graph sent the relationships unread.
    held: Vec<Device>,
}

/// How many listed devices wait for their lookups together: the lookups of
/// 8 batches of 20 in flight, twice over.
const HELD: usize = 320;

impl Reconcile {
    pub(super) fn start(cx: &Context, m: &Mapper) -> Result<Reconcile> {
        let cur = state::current_state(cx.dir, &m.opts.container, &m.opts.marker, &mut |_| ())?;
        let bar = progress_bar(cx.progress);
        let (keep, dups) = (HashSet::new(), planner::Duplicates::default());
        Ok(Reconcile { cur, keep, bar, dups, held: Vec::with_capacity(HELD) })
    }

    pub(super) fn device(
        &mut self,
        cx: &Context,
        m: &mut Mapper,
        src: &DeviceSource,
        d: Device,
    ) -> Result<()> {
        cx.blocking.cancel.check()?;
        self.bar.inc(1);
        self.held.push(d);
        if self.held.len() >= HELD {
            self.plan_held(cx, m, src)?;
        }
        Ok(())
    }

    /// Looks up what the held devices lack, then plans each.
    fn plan_held(&mut self, cx: &Context, m: &mut Mapper, src: &DeviceSource) -> Result<()> {
        let mut held = std::mem::replace(&mut self.held, Vec::with_capacity(HELD));
        let from = m.plan.skipped.len();
        m.attach_users(cx, src, &mut held, true)?;
        m.reread_owners(cx, src, &held.iter().collect::<Vec<_>>())?;
        for d in &held {
            if let Some(w) = m.wanted(d)? {
                self.keep.insert(planner::id_key(&w.id));
                if !self.dups.note(&w) {
                    planner::plan_device(w, &self.cur, &m.opts, &mut m.plan)?;
                }
            }
        }
        m.name_skips(from, &held);
        Ok(())
    }

    pub(super) fn finish(
        mut self,
        cx: &Context,
        m: &mut Mapper,
        src: &DeviceSource,
        listed: usize,
    ) -> Result<CurrentState> {
        self.plan_held(cx, m, src)?;
        self.bar.finish_and_clear();
        self.dups.settle(&mut m.plan);
        planner::plan_gone(&self.cur, &self.keep, &m.opts, &mut m.plan);
        let owned = state::owned_in(&self.cur, &m.opts.container);
        m.plan.refused = planner::check_guards(m.plan.deletes, owned, listed == 0, &m.opts);
        Ok(self.cur)
    }
}

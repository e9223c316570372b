//! A delta round that always moves on. The round follows the deltaLink kept in
//! a state file (by default one per profile, tenant and container in dwb's data
//! directory); the new state is prepared beside it and committed after the
//! plan applied, together with the devices whose write failed or that could not
//! be read, which the next round reads again — so one device the DC refuses
//! never holds the deltaLink back. With no usable state (the first round, an
//! unreadable file, or a token Graph expired with 410) the round starts over and
//! reconciles the whole container like a full sync, deletions included, under
//! the same guards.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::fetch;
use super::hints::IdHints;
use super::mapper::{Mapper, Reconcile};
use super::mapping::SkipKind;
use super::planner;
use super::request::{Context, Mode, Round, StateCommit, SyncRequest};
use super::state::{self, Current, CurrentState};
use crate::cancel::Blocking;
use crate::directory::{Dn, Guid};
use crate::error::{Error, Kind, Result};
use crate::graph::{DeltaOptions, Device, GraphClient, Reason, Removed};
use crate::sources::DeviceSource;

/// The default state file: `<data dir>/delta/<profile>-<tenant>-<container>.json`.
pub fn default_state(profile: Option<&str>, tenant: &str, container: &Dn) -> Result<PathBuf> {
    let clean = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect()
    };
    let name = format!(
        "{}-{}-{}.json",
        clean(profile.unwrap_or("default")),
        clean(tenant),
        super::lock::container_key(container)
    );
    Ok(crate::config::data_dir()?.join("delta").join(name))
}

/// Prepares the pending copy of the delta state: the deltaLink moves only once
/// the plan is applied.
fn pending_state(state: &Path) -> Result<PathBuf> {
    if let Some(dir) = state.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let mut name = state.as_os_str().to_owned();
    name.push(".pending");
    let pending = PathBuf::from(name);
    if state.exists() {
        std::fs::copy(state, &pending)
            .map_err(|e| Error::io(format!("copying {}", state.display()), e))?;
    } else {
        let _ = std::fs::remove_file(&pending);
    }
    Ok(pending)
}

struct Listing {
    resumed: bool,
    changed: Vec<Device>,
    removed: Vec<Removed>,
}

/// A delta round's listing started with the run, while the DC is connected and
/// read (a Graph round trip is 50–150 ms), when the state file is known without
/// the directory: given, or named after a given container. It works on a
/// private copy of the state, because the state and its pending copy are
/// touched only under the container's lock; the copy becomes the pending state
/// once the lock is held. Reading a delta changes nothing in the tenant.
pub(super) struct EarlyListing {
    state: PathBuf,
    copy: PathBuf,
    retry: Result<Vec<String>>,
    task: tokio::task::JoinHandle<crate::graph::Result<Listing>>,
}

impl EarlyListing {
    /// `None` when the listing has to wait (the state file is named after a
    /// container found in the directory), or cannot start: the round then lists
    /// as usual and reports what is wrong.
    pub(super) fn start(cx: &Context, src: &DeviceSource, req: &SyncRequest) -> Option<Self> {
        let (Mode::Delta { state }, DeviceSource::Graph(c)) = (&req.mode, src) else {
            return None;
        };
        let state = match (state, &req.container) {
            (Some(s), _) => s.clone(),
            (None, Some(container)) => {
                default_state(cx.profile, c.endpoints().tenant(), container).ok()?
            }
            (None, None) => return None,
        };
        let mut name = state.as_os_str().to_owned();
        name.push(format!(".early-{}", std::process::id()));
        let copy = PathBuf::from(name);
        if state.exists() {
            std::fs::copy(&state, &copy).ok()?;
        }
        let retry = GraphClient::stored_retry(&copy).map_err(Error::from);
        let (client, file) = (c.clone(), copy.clone());
        let task = cx.blocking.handle().ok()?.spawn(async move { collect(&client, &file).await });
        Some(EarlyListing { state, copy, retry, task })
    }

    /// The listing, its new state moved to `pending` (the lock is held).
    fn finish(mut self, pending: &Path, blocking: &Blocking) -> Result<(Listing, Vec<String>)> {
        let listing = blocking.block_on(async {
            match (&mut self.task).await {
                Ok(r) => Ok(r?),
                Err(e) => Err(Error::internal(format!("the delta listing failed: {e}"))),
            }
        })?;
        let moved = match self.copy.exists() {
            true => std::fs::rename(&self.copy, pending),
            false => std::fs::remove_file(pending).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            }),
        };
        moved.map_err(|e| {
            Error::io(format!("moving the delta state to {}", pending.display()), e)
        })?;
        let retry = std::mem::replace(&mut self.retry, Ok(Vec::new()))?;
        Ok((listing, retry))
    }
}

impl Drop for EarlyListing {
    fn drop(&mut self) {
        self.task.abort();
        // The task runs on another thread and may be writing its copy right
        // now (an abort takes effect only at its next await): removed before
        // that write ends, the copy would come back and be left behind.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !self.task.is_finished() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = std::fs::remove_file(&self.copy);
    }
}

/// One pass over `devices/delta` from the state in `pending`. The Graph error
/// is kept as it is: what the round does next depends on its reason.
fn listing(
    c: &GraphClient,
    pending: &Path,
    blocking: &Blocking,
) -> Result<crate::graph::Result<Listing>> {
    blocking.block_on(async { Ok(collect(c, pending).await) })
}

/// Every page of one delta pass from the state in `file` (rewritten after the
/// last page).
async fn collect(c: &GraphClient, file: &Path) -> crate::graph::Result<Listing> {
    let (mut changed, mut removed) = (Vec::new(), Vec::new());
    let summary = c
        .delta_devices(file, &DeltaOptions::default(), |page| {
            changed.extend(page.changed);
            removed.extend(page.removed);
            std::ops::ControlFlow::Continue(())
        })
        .await?;
    Ok(Listing { resumed: summary.resumed, changed, removed })
}

/// The round's listing, starting over (with a warning) when the stored state
/// cannot be used; returns the devices to read again too.
fn listing_or_restart(
    c: &GraphClient,
    state: &Path,
    pending: &Path,
    cx: &Context,
    early: Option<EarlyListing>,
    notes: &mut Vec<String>,
) -> Result<Option<(Listing, Vec<String>)>> {
    let start_over = |why: String, notes: &mut Vec<String>| {
        let _ = std::fs::remove_file(pending);
        notes.push(format!(
            "{why}: this delta round starts over and reconciles the whole container like a full \
             sync (deletions included, under the same guards)"
        ));
    };
    let first_round = |notes: &mut Vec<String>| {
        notes.push(format!(
            "no delta state yet ({}): this first round reconciles the whole container like a \
             full sync",
            state.display()
        ))
    };
    let had_state = pending.exists();
    let early = early.filter(|e| e.state == state).map(|e| e.finish(pending, cx.blocking));
    if let Some(Ok(done)) = early {
        if !had_state {
            first_round(notes);
        }
        return Ok(Some(done));
    }
    // An early listing that failed is asked again here, from the pending copy,
    // so that what went wrong (an expired token, say) is handled as usual.
    if let Some(Err(e)) = early {
        tracing::debug!("the early delta listing failed ({e}); listing again");
        pending_state(state)?;
    }
    let retry = match GraphClient::stored_retry(pending) {
        Ok(r) => r,
        Err(e) => {
            start_over(format!("the delta state {} is unreadable ({e})", state.display()), notes);
            Vec::new()
        }
    };
    let fresh = !pending.exists();
    if fresh && notes.is_empty() {
        first_round(notes);
    }
    match listing(c, pending, cx.blocking)? {
        Err(e) if e.reason() == Reason::DeltaExpired => {
            start_over(format!("Graph expired the stored delta token ({e})"), notes);
            Ok(Some((listing(c, pending, cx.blocking)??, Vec::new())))
        }
        // A first `devices/delta` request (no token of ours in it) refused as
        // invalid or unknown: this Graph has no device delta (see `round`).
        Err(e) if fresh && matches!(e.reason(), Reason::BadRequest | Reason::NotFound) => {
            notes.clear();
            notes.push(format!(
                "Graph does not offer device delta here ({e}): this round is a full sync"
            ));
            Ok(None)
        }
        r => Ok(Some((r?, retry))),
    }
}

/// Sorts the whole devices Graph sent for `ids`: read (returned), deleted
/// meanwhile (as good as removed), or unreadable (skipped, and returned to be
/// read again next round).
fn sort_fetched(
    m: &mut Mapper,
    ids: Vec<String>,
    got: &mut std::collections::HashMap<String, Result<Device>>,
    removed: &mut Vec<Removed>,
) -> (Vec<Device>, Vec<String>) {
    let (mut full, mut unread) = (Vec::new(), Vec::new());
    for id in ids {
        match got.remove(&id) {
            Some(Ok(d)) => full.push(d),
            Some(Err(e)) if e.kind == Kind::NotFound => {
                removed.push(Removed { id, reason: "deleted".into() })
            }
            Some(Err(e)) => {
                let reason = format!("could not read the device (tried again next round): {e}");
                m.skip(&id, SkipKind::Unreadable, reason);
                unread.push(id);
            }
            None => {}
        }
    }
    (full, unread)
}

/// One delta round, or `None` when Graph has no device delta (its first
/// request refused): the caller runs a full round instead, with the one-line
/// notice this leaves in the notes. The current "device: delta" API page lists
/// the global service, US Government L4 and L5 (DoD) and China (21Vianet) as
/// available, while an older "Use delta query" page said "public cloud and
/// Microsoft Graph China operated by 21Vianet only": dwb asks rather than
/// assumes, in every cloud.
pub(super) fn round(
    cx: &Context,
    src: &DeviceSource,
    req: &SyncRequest,
    m: &mut Mapper,
    state: Option<&Path>,
    early: Option<EarlyListing>,
) -> Result<Option<Round>> {
    let DeviceSource::Graph(c) = src else {
        return Err(Error::invalid_argument(
            "mode=delta needs a Graph tenant; a device file has no delta",
        ));
    };
    let state = match state {
        Some(s) => s.to_path_buf(),
        None => default_state(cx.profile, c.endpoints().tenant(), &m.opts.container)?,
    };
    let pending = pending_state(&state)?;
    let mut notes = Vec::new();
    let found = listing_or_restart(c, &state, &pending, cx, early, &mut notes)?;
    m.notes.extend(notes);
    let Some((mut listing, retry)) = found else { return Ok(None) };
    let listed = listing.changed.len();
    let mut hints = IdHints::load(&state);
    if !listing.resumed {
        hints.reset();
        listing.changed.iter().for_each(|d| hints.note(d));
        hints.save();
        // devices/delta lists full devices but cannot expand owners: look them up.
        m.prefetch_owners(cx, src, req.owners, &listing.changed.iter().collect::<Vec<_>>())?;
        let mut r = Reconcile::start(cx, m)?;
        for d in std::mem::take(&mut listing.changed) {
            r.device(cx, m, src, d)?;
        }
        let cur = r.finish(cx, m, src, listed)?;
        return Ok(Some((listed, cur, Some(StateCommit { pending, state, retry: Vec::new() }))));
    }
    // Incremental rounds carry only changed properties: read the whole devices
    // (with their owners), and those the last round could not write.
    let mut ids: Vec<String> = listing.changed.iter().map(|d| d.id.clone()).collect();
    let changed: BTreeSet<String> = ids.iter().cloned().collect();
    ids.extend(retry.iter().filter(|id| !changed.contains(*id)).cloned());
    let users = m.opts.map.optional.registered_users;
    // While Graph is asked for the whole devices, the DC (idle otherwise) finds
    // the objects it can: of changed devices by the deviceId the hints remember,
    // and by cloud anchor those of removed devices (a removal carries only the
    // object id) and, when the hints are kept, of the devices they lack (new
    // ones, most likely) — one pass over the container for all of them.
    let hinted: Vec<Guid> = ids.iter().filter_map(|id| hints.get(id)).collect();
    let mut scanned: BTreeSet<String> = listing.removed.iter().map(|r| r.id.clone()).collect();
    let (opts, dir) = (&m.opts, cx.dir);
    let (fetched, side) = std::thread::scope(|s| {
        let side = s.spawn(|| -> Result<CurrentState> {
            let mut st = CurrentState::default();
            state::add_by_device_ids(&mut st, dir, &opts.container, &opts.marker, &hinted)?;
            if !hints.is_empty() {
                let unresolved = ids.iter().filter(|id| st.anchored(id).is_none());
                scanned.extend(unresolved.cloned());
            }
            let scan: Vec<&str> = scanned.iter().map(String::as_str).collect();
            state::add_by_anchors(&mut st, dir, &opts.container, &opts.marker, &scan)?;
            Ok(st)
        });
        let fetched = fetch::devices_and_users(c, &ids, req.owners, users, cx.blocking);
        (fetched, side.join())
    });
    let (mut got, mut known_users) = fetched?;
    let gone_state =
        side.map_err(|_| Error::internal("the directory lookups of a delta round panicked"))??;
    let listed_removed = listing.removed.len();
    let mut removed = listing.removed;
    let (mut full, unread) = sort_fetched(m, ids, &mut got, &mut removed);
    for d in &mut full {
        if let Some(u) = known_users.remove(&d.id) {
            d.registered_users = Some(u);
        }
    }
    let from = m.plan.skipped.len();
    m.attach_users(cx, src, &mut full, false)?;
    m.reread_owners(cx, src, &full.iter().collect::<Vec<_>>())?;
    // Only the objects of devices that map (and of removals) are looked up: the
    // listed removals' already, those deleted meanwhile not yet.
    let mut wanted = Vec::new();
    for d in &full {
        cx.blocking.cancel.check()?;
        wanted.extend(m.wanted(d)?);
    }
    m.name_skips(from, &full);
    for d in &full {
        hints.note(d);
    }
    removed.iter().for_each(|r| hints.forget(&r.id));
    hints.save();
    // What the DC did not find yet: by deviceId those whose anchor it searched
    // for already, by deviceId then anchor the others.
    let mut cur = gone_state;
    let (searched, rest): (Vec<_>, Vec<_>) = wanted
        .iter()
        .filter(|w| cur.anchored(&w.id).is_none())
        .partition(|w| scanned.contains(&w.id));
    let searched: Vec<Guid> = searched.iter().filter_map(|w| w.device_id).collect();
    let keys: Vec<(String, Option<Guid>)> = rest
        .iter()
        .map(|w| (w.id.clone(), w.device_id))
        .chain(
            removed
                .iter()
                .skip(listed_removed)
                .filter(|r| !scanned.contains(&r.id))
                .map(|r| (r.id.clone(), None)),
        )
        .collect();
    let (container, marker) = (&m.opts.container, &m.opts.marker);
    state::add_by_device_ids(&mut cur, cx.dir, container, marker, &searched)?;
    cur.absorb(state::current_state_of(cx.dir, container, marker, &keys)?);
    let mut dups = planner::Duplicates::default();
    let planned: Vec<_> = wanted.into_iter().filter(|w| !dups.note(w)).collect();
    for w in planned.into_iter().filter(|w| !dups.contains(&w.id)) {
        planner::plan_device(w, &cur, &m.opts, &mut m.plan)?;
    }
    dups.settle(&mut m.plan);
    let gone: Vec<&Current> = removed.iter().filter_map(|r| cur.anchored(&r.id)).collect();
    planner::plan_deletes(gone, &m.opts, &mut m.plan, "the device was removed from Entra ID");
    if m.plan.deletes > 0 {
        // The round read only the changed devices' objects. Those dwb owns are a
        // lower bound of what it owns in the container: enough for the percentage
        // guard to pass, or else the container is counted (a count costs the DC
        // a pass over every object: Samba sends them all, whatever the limit).
        let needed = planner::owned_enough(m.plan.deletes, &m.opts);
        let seen = state::owned_in(&cur, &m.opts.container);
        let owned = if needed > 0 && seen >= needed {
            seen
        } else {
            state::count_owned(cx.dir, &m.opts.container, &m.opts.marker, needed)?
        };
        m.plan.refused = planner::check_guards(m.plan.deletes, owned, false, &m.opts);
    }
    Ok(Some((listed, cur, Some(StateCommit { pending, state, retry: unread }))))
}

//! Planning a sync: each wanted device against what the container holds
//! (`state`), into directory writes — creates, per-attribute modifies, and
//! deletes of owned objects, guarded by the deletion threshold.

use std::collections::{HashMap, HashSet};

use super::diff::diff;
use super::mapping::{MANAGED, MapOptions, Skip, SkipKind, desired, without_older_logon};
use super::state::{Current, CurrentState};
use crate::ad::{Modification, WriteOp};
use crate::directory::{Attr, Dn, Guid};
use crate::error::Result;
use crate::graph::Device;
use crate::plan::{Change, ChangeOp};

/// Marker value dwb writes to `adminDescription` on the objects it owns.
pub const DEFAULT_MARKER: &str = "dwb-writeback";

/// How the reason of every adoption change begins (an `adopt` run's, or a
/// sync's with `take_over`): the journal tells an adoption by it (`arrivals`).
pub const ADOPTION: &str = "adopt device ";

/// Options of a sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub container: Dn,
    pub map: MapOptions,
    pub delete_threshold: usize,
    /// Refuse deleting more than this share (percent) of the objects dwb owns.
    pub delete_threshold_percent: u32,
    pub take_over: bool,
    /// Adoption: only objects another writer left anchored (see `plan_device`).
    pub adopt: bool,
    pub marker: String,
    /// An empty desired state deletes nothing unless this is set.
    pub allow_empty: bool,
    /// The forms the container's objects use (what the mapping's forms follow).
    pub convention: super::forms::Convention,
}

/// What a sync plans and skips.
#[derive(Debug, Default)]
pub struct SyncPlan {
    /// The writes, as plan changes (`ChangeOp::Directory`), not yet numbered.
    pub ops: Vec<Change>,
    pub creates: usize,
    pub updates: usize,
    pub deletes: usize,
    pub unchanged: usize,
    pub skipped: Vec<Skip>,
    /// Objects with an anchor but without dwb's marker (another writer).
    pub foreign: usize,
    /// Guards the plan trips: it is shown but not applied.
    pub refused: Vec<GuardTrip>,
    /// Adoption: objects another writer left that get dwb's marker.
    pub adopted: usize,
    /// Adoption (or `take_over`): another writer's objects whose device is gone
    /// from Entra ID (`DN (anchor Device_<id>)`). They get dwb's marker and
    /// nothing else, so the adoption deletes nothing and the next sync deletes
    /// them under its guards (without the marker no sync ever would).
    pub gone: Vec<String>,
    /// Adoption: devices in Entra ID without an object (a sync creates them).
    pub missing: usize,
}

impl SyncPlan {
    /// One directory write of a sync, with why and for which device (its Entra
    /// object id: a delta round keeps the devices whose write failed to retry
    /// them). `before` is the object's values as read from the container: the
    /// attributes a modify replaces, everything read for a delete (the journal
    /// and saved plans need them; none for a create).
    ///
    /// Planned straight as the plan's own change (numbered when recorded): at
    /// 100,000 devices a second list of them, moved over, would double the
    /// peak memory.
    fn push(&mut self, op: WriteOp, mut why: String, device: String, before: Option<Vec<Attr>>) {
        why.shrink_to_fit();
        self.ops.push(Change {
            id: 0,
            op: ChangeOp::Directory(op),
            reason: Some(why),
            device: Some(device),
            expect: None,
            before,
        });
    }
}

/// A device as it should be, prepared by the caller (scope and hooks applied).
pub struct Wanted {
    /// The Entra object id.
    pub id: String,
    pub device_id: Option<Guid>,
    pub display_name: String,
    pub attrs: Vec<Attr>,
    pub cn: String,
    /// Managed attributes left in the directory as they are, because Graph did
    /// not tell what they should hold (e.g. a registered owner sent without its
    /// SID): never removed for want of data.
    pub keep: Vec<&'static str>,
}

/// Maps one device, or says why it is skipped.
pub fn want(
    d: &Device,
    opts: &SyncOptions,
    owner_sid: Option<&str>,
) -> std::result::Result<Wanted, Skip> {
    let (cn, mut attrs) = desired(d, &opts.map, owner_sid)?;
    attrs.push(Attr::text("adminDescription", [opts.marker.as_str()]));
    Ok(Wanted {
        id: d.id.clone(),
        device_id: d.device_id.as_deref().and_then(|x| x.parse().ok()),
        display_name: d.display_name.clone().unwrap_or_default(),
        attrs,
        cn,
        keep: Vec::new(),
    })
}

fn managed_with_marker() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = MANAGED.to_vec();
    v.push("adminDescription");
    v
}

/// Plans the changes that make one wanted device current.
///
/// Another writer's object (an anchor, no marker) is managed only with
/// `take_over` or in an adoption, and only when its anchor is this device's:
/// an object without an anchor (an AD FS DRS registration) or anchored to
/// another device is never touched. An adoption plans nothing else: no create,
/// nothing for the objects dwb already owns.
pub fn plan_device(
    w: Wanted,
    cur: &CurrentState,
    opts: &SyncOptions,
    out: &mut SyncPlan,
) -> Result<()> {
    let mut managed = managed_with_marker();
    managed.retain(|a| !w.keep.iter().any(|k| k.eq_ignore_ascii_case(a)));
    let dn = opts.container.child("CN", &w.cn)?;
    let existing = cur.anchored(&w.id).or_else(|| cur.at_dn(&dn.norm()));
    let anchored_here =
        |c: &Current| c.anchor.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&w.id));
    match existing {
        Some(c) if c.ours && opts.adopt => out.unchanged += 1,
        Some(c) if c.ours || ((opts.take_over || opts.adopt) && anchored_here(c)) => {
            let mods: Vec<Modification> =
                without_older_logon(&c.entry, diff(&c.entry, &w.attrs, &managed));
            if mods.is_empty() {
                out.unchanged += 1;
            } else {
                let names: Vec<String> = mods.iter().map(|m| m.attr.clone()).collect();
                let why = if c.ours {
                    format!("device {} changed: {}", w.id, names.join(", "))
                } else {
                    out.adopted += 1;
                    adoption_reason(&w.id, &c.entry, &mods)
                };
                let before = Some(crate::plan::values::values_of(&c.entry, &names));
                out.push(
                    WriteOp::Modify { dn: c.entry.dn.clone(), mods, sd_flags: None },
                    why,
                    w.id.clone(),
                    before,
                );
                out.updates += 1;
            }
        }
        Some(c) => {
            out.foreign += 1;
            let reason = if c.anchor.is_none() {
                format!(
                    "{} exists without a cloud anchor (an AD FS device registration?); dwb \
                     never touches it",
                    c.entry.dn
                )
            } else {
                format!(
                    "{} exists but dwb did not write it (another writer, e.g. Entra Connect?); \
                     run the `adopt` script to manage it",
                    c.entry.dn
                )
            };
            out.skipped
                .push(Skip::new(&w.id, SkipKind::Foreign, reason).named(Some(&w.display_name)));
        }
        None if opts.adopt => out.missing += 1,
        None => {
            // The same msDS-DeviceID under another name: never create a duplicate.
            if let Some(other) = w.device_id.and_then(|g| cur.with_device_id(&g)) {
                let other = other.entry.dn.norm();
                let reason = format!(
                    "an object with this msDS-DeviceID already exists ({other}) without this device's anchor"
                );
                out.skipped.push(
                    Skip::new(&w.id, SkipKind::DuplicateDeviceId, reason)
                        .named(Some(&w.display_name)),
                );
                return Ok(());
            }
            let why = format!("device {} ({}) is in Entra ID", w.id, w.display_name);
            out.push(WriteOp::Add { dn, attrs: w.attrs }, why, w.id, None);
            out.creates += 1;
        }
    }
    Ok(())
}

/// Devices of one listing that would write the same object: two devices with
/// one deviceId (compared as GUIDs, so case and braces do not matter) or one
/// device id listed twice. Planned as they come, each would rewrite the other's
/// values (the object's cloud anchor) at every sync, so every one of them is
/// skipped, with a warning naming them, and their object left as it is.
#[derive(Default)]
pub struct Duplicates {
    /// deviceId → the first device (Entra object id, display name) listed with it.
    by_device_id: HashMap<u128, (String, String)>,
    /// The device ids listed so far.
    ids: HashSet<u128>,
    /// The devices to skip (lower-case id) → why, and the device's name.
    found: HashMap<String, (String, String)>,
}

impl Duplicates {
    /// Notes a wanted device; true when it duplicates one listed before (it is
    /// then not to be planned; the earlier one's changes go in `settle`).
    pub fn note(&mut self, w: &Wanted) -> bool {
        let mut dup = false;
        if !self.ids.insert(id_key(&w.id)) {
            let why = format!("Entra ID lists device {} more than once", w.id);
            self.found.insert(w.id.to_ascii_lowercase(), (why, w.display_name.clone()));
            dup = true;
        }
        if let Some(g) = w.device_id {
            let key = g.as_uuid().as_u128();
            match self.by_device_id.get(&key) {
                Some((first, first_name)) if !first.eq_ignore_ascii_case(&w.id) => {
                    let why = |other: &str| {
                        format!(
                            "devices {other} and {} share the deviceId {g}: both would write \
                             CN={g}; neither is written until one of them is removed from \
                             Entra ID",
                            w.id
                        )
                    };
                    let (first, first_name) = (first.clone(), first_name.clone());
                    let (a, b) = (why(&first), why(&first));
                    self.found.insert(first.to_ascii_lowercase(), (a, first_name));
                    self.found.insert(w.id.to_ascii_lowercase(), (b, w.display_name.clone()));
                    dup = true;
                }
                Some(_) => {}
                None => {
                    self.by_device_id.insert(key, (w.id.clone(), w.display_name.clone()));
                }
            }
        }
        dup
    }

    /// True when `id` (an Entra object id) is one of the duplicates.
    pub fn contains(&self, id: &str) -> bool {
        self.found.contains_key(&id.to_ascii_lowercase())
    }

    /// Takes the duplicates' planned changes out of `plan` and skips them
    /// instead (before the deletes are planned: a skipped device's object is
    /// never deleted).
    pub fn settle(self, plan: &mut SyncPlan) {
        if self.found.is_empty() {
            return;
        }
        let mine = |d: &Option<String>| {
            d.as_deref().is_some_and(|d| self.found.contains_key(&d.to_ascii_lowercase()))
        };
        let mut written: HashSet<String> = HashSet::new();
        plan.ops.retain(|c| {
            if !mine(&c.device) {
                return true;
            }
            match &c.op {
                ChangeOp::Directory(WriteOp::Add { .. }) => plan.creates -= 1,
                ChangeOp::Directory(WriteOp::Modify { .. }) => plan.updates -= 1,
                _ => {}
            }
            written.extend(c.device.as_deref().map(str::to_ascii_lowercase));
            false
        });
        let skipped: HashSet<String> =
            plan.skipped.iter().map(|s| s.device.to_ascii_lowercase()).collect();
        // A first listing that was planned as unchanged is counted there: no more.
        let first_unchanged = self
            .by_device_id
            .values()
            .map(|(id, _)| id.to_ascii_lowercase())
            .filter(|id| self.found.contains_key(id))
            .filter(|id| !written.contains(id) && !skipped.contains(id))
            .count();
        plan.unchanged = plan.unchanged.saturating_sub(first_unchanged);
        plan.skipped.retain(|s| !self.found.contains_key(&s.device.to_ascii_lowercase()));
        let mut found: Vec<(String, (String, String))> = self.found.into_iter().collect();
        found.sort();
        for (id, (why, name)) in found {
            let skip = Skip::new(id, SkipKind::DuplicateDeviceId, why);
            plan.skipped.push(skip.named(Some(&name)));
        }
    }
}

/// An adoption's modify, told as the other writer's value beside Entra's for
/// each attribute, so the review sees what changes hands.
fn adoption_reason(id: &str, entry: &crate::directory::Entry, mods: &[Modification]) -> String {
    let show = |attr: &str, vals: &[Vec<u8>]| -> String {
        if vals.is_empty() {
            return "(none)".into();
        }
        let mut s: Vec<String> =
            vals.iter().take(3).map(|v| crate::plan::render::display_value(attr, v)).collect();
        if vals.len() > 3 {
            s.push(format!("… {} values", vals.len()));
        }
        s.join(", ")
    };
    let lines: Vec<String> = mods
        .iter()
        .map(|m| {
            let (theirs, entra) = (show(&m.attr, entry.get(&m.attr)), show(&m.attr, &m.values));
            format!("{}: Connect {theirs} | Entra {entra}", m.attr)
        })
        .collect();
    format!("{ADOPTION}{id} from another writer (Entra Connect?): {}", lines.join("; "))
}

/// Plans deletes of owned objects whose device is gone; refuses above the threshold.
/// With `take_over`, another writer's objects among them get the marker only
/// (`mark_gone`), in a full round as in a delta round.
pub fn plan_deletes(gone: Vec<&Current>, opts: &SyncOptions, out: &mut SyncPlan, why: &str) {
    if opts.take_over {
        mark_gone(&gone, opts, out);
    }
    let owned = gone
        .iter()
        .filter(|c| c.anchor.is_some() && c.ours && c.entry.dn.is_child_of(&opts.container));
    for c in owned {
        let device = c.anchor.clone().unwrap_or_default();
        let before = Some(c.entry.attrs().cloned().collect());
        let why = format!("{why} (anchor Device_{device})");
        out.push(WriteOp::Delete { dn: c.entry.dn.clone() }, why, device, before);
        out.deletes += 1;
    }
}

/// A device id as a compact set key: Graph's object ids are GUIDs (exact);
/// anything else (a hand-made export) is hashed to 128 bits, where a collision
/// could only keep an object, never delete one.
pub fn id_key(id: &str) -> u128 {
    if let Ok(u) = uuid::Uuid::parse_str(id) {
        return u.as_u128();
    }
    let fnv = |seed: u64| {
        id.to_ascii_lowercase()
            .bytes()
            .fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    };
    (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4))
}

/// The deletes of a full round: objects dwb owns whose device was not kept.
/// Skipped devices still exist in Entra ID: their objects are not deleted.
/// An adoption (and a sync with `take_over`) deletes none of the other
/// writer's objects whose device is gone: it marks them (`mark_gone`), and an
/// adoption deletes nothing at all.
pub fn plan_gone(cur: &CurrentState, keep: &HashSet<u128>, opts: &SyncOptions, out: &mut SyncPlan) {
    let skipped: HashSet<String> =
        out.skipped.iter().map(|s| s.device.to_ascii_lowercase()).collect();
    let gone: Vec<&Current> = cur
        .anchored_objects()
        .filter(|(id, _)| !keep.contains(&id_key(id)) && !skipped.contains(*id))
        .map(|(_, c)| c)
        .collect();
    if opts.adopt {
        mark_gone(&gone, opts, out);
        return;
    }
    plan_deletes(gone, opts, out, "the device is no longer in Entra ID (or out of scope)");
}

/// Gives another writer's objects whose device is gone dwb's marker and
/// nothing else: the review sees them as a one-attribute change (undone
/// exactly), and the next sync deletes them as it deletes any object dwb owns,
/// under the deletion guards.
fn mark_gone(gone: &[&Current], opts: &SyncOptions, out: &mut SyncPlan) {
    let marker = Attr::text("adminDescription", [opts.marker.as_str()]);
    for c in gone.iter().filter(|c| !c.ours && c.entry.dn.is_child_of(&opts.container)) {
        let id = c.anchor.clone().unwrap_or_default();
        out.gone.push(format!("{} (anchor Device_{id})", c.entry.dn));
        let mods = diff(&c.entry, std::slice::from_ref(&marker), &["adminDescription"]);
        let before = Some(crate::plan::values::values_of(&c.entry, &["adminDescription".into()]));
        let why = format!(
            "{ADOPTION}{id}, gone from Entra ID: dwb's marker only, so the next sync deletes it \
             under its guards"
        );
        out.push(WriteOp::Modify { dn: c.entry.dn.clone(), mods, sd_flags: None }, why, id, before);
        out.updates += 1;
    }
    out.gone.sort();
}

/// A guard that refuses the whole plan: nothing is applied, a dry run shows why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardTrip {
    pub guard: &'static str,
    pub message: String,
    pub hint: String,
}

/// How many owned objects make `deletes` pass the percentage guard (0: the
/// guard trips whatever the count, which its message then shows in full).
pub fn owned_enough(deletes: usize, opts: &SyncOptions) -> usize {
    match opts.delete_threshold_percent {
        0 => 0,
        p => (deletes * 100).div_ceil(p as usize),
    }
}

/// The deletion guards, checked once the deletes are known. `owned` is the
/// number of objects dwb owns in the container; `listed_nothing` is true when
/// the device source returned no device at all.
pub fn check_guards(
    deletes: usize,
    owned: usize,
    listed_nothing: bool,
    opts: &SyncOptions,
) -> Vec<GuardTrip> {
    let mut trips = Vec::new();
    if deletes == 0 {
        return trips;
    }
    if listed_nothing && !opts.allow_empty {
        trips.push(GuardTrip {
            guard: "empty_source",
            message: "the device source returned no devices while the container holds \
                      written-back devices: refusing to treat that as \"delete everything\""
                .into(),
            hint: "if the tenant really has no devices, run with --param allow_empty=true".into(),
        });
    }
    if deletes > opts.delete_threshold {
        trips.push(GuardTrip {
            guard: "delete_threshold",
            message: format!(
                "{deletes} device objects would be deleted, more than the deletion threshold of \
                 {}: nothing was changed",
                opts.delete_threshold
            ),
            hint: "check the device source; if the deletions are intended, run again with \
                   --param delete_threshold=N"
                .into(),
        });
    }
    let percent = u64::from(opts.delete_threshold_percent);
    if (deletes as u64) * 100 > percent * owned as u64 {
        trips.push(GuardTrip {
            guard: "delete_threshold_percent",
            message: format!(
                "{deletes} of the {owned} device objects dwb owns in {} would be deleted, more \
                 than {percent}%: nothing was changed",
                opts.container
            ),
            hint: "check the device source; if the deletions are intended, run again with \
                   --param delete_threshold_percent=N (up to 100)"
                .into(),
        });
    }
    trips
}

/// Sorts ops so the plan reads well and applies deterministically: creates, modifies, deletes.
///
/// Stable, and in place: a sort's scratch buffer of half the changes would be
/// the run's peak at 100,000 devices; sorting positions and then following the
/// permutation's cycles moves each change once with no copy of the list.
pub fn order(ops: &mut [Change]) {
    let rank = |c: &Change| match c.op {
        ChangeOp::Directory(WriteOp::Add { .. }) => 0,
        ChangeOp::Directory(WriteOp::Modify { .. }) => 1,
        ChangeOp::Directory(WriteOp::Delete { .. }) => 2,
        _ => 3,
    };
    let mut from: Vec<usize> = (0..ops.len()).collect();
    from.sort_by_key(|&i| rank(&ops[i]));
    permute(ops, from);
}

/// Rearranges `items` so that position `i` holds what was at `from[i]`.
fn permute<T>(items: &mut [T], mut from: Vec<usize>) {
    for start in 0..items.len() {
        let mut cur = start;
        // A position already in place points at itself.
        while from[cur] != cur {
            let next = from[cur];
            from[cur] = cur;
            if next == start {
                break;
            }
            items.swap(cur, next);
            cur = next;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::writeback::mapping::{AnchorEncoding, OptionalAttrs};

    fn wanted(id: &str, device_id: &str) -> Wanted {
        Wanted {
            id: id.into(),
            device_id: device_id.parse().ok(),
            display_name: id.into(),
            attrs: Vec::new(),
            cn: device_id.into(),
            keep: Vec::new(),
        }
    }

    #[test]
    fn devices_sharing_a_device_id_or_an_id_are_all_skipped() {
        let g = "c8051501-239a-4ddf-b1d6-0f0a2c142580";
        let mut d = Duplicates::default();
        assert!(!d.note(&wanted("a", g)));
        assert!(!d.note(&wanted("b", "11111111-239a-4ddf-b1d6-0f0a2c142580")));
        // The same GUID in braces and upper case; then a device listed twice.
        assert!(d.note(&wanted("c", &format!("{{{}}}", g.to_ascii_uppercase()))));
        assert!(d.note(&wanted("b", "11111111-239a-4ddf-b1d6-0f0a2c142580")));
        assert!(d.contains("A") && d.contains("c") && d.contains("b"));
        let mut plan = SyncPlan::default();
        let dn = Dn::parse("CN=x,DC=t").unwrap();
        plan.push(
            WriteOp::Add { dn: dn.clone(), attrs: Vec::new() },
            "new".into(),
            "a".into(),
            None,
        );
        plan.push(WriteOp::Delete { dn }, "gone".into(), "z".into(), None);
        plan.creates = 1;
        plan.unchanged = 1; // b's first listing
        d.settle(&mut plan);
        assert_eq!((plan.ops.len(), plan.creates, plan.unchanged), (1, 0, 0));
        let skipped: Vec<&str> = plan.skipped.iter().map(|s| s.device.as_str()).collect();
        assert_eq!(skipped, ["a", "b", "c"]);
        assert!(plan.skipped[0].reason.contains("devices a and c share the deviceId"));
        assert!(plan.skipped[1].reason.contains("lists device b more than once"));
    }

    #[test]
    fn permute_puts_each_item_where_from_says() {
        // Every permutation of five items, by Heap's algorithm over the positions.
        fn all(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
            if k == 1 {
                out.push(a.clone());
                return;
            }
            for i in 0..k {
                all(k - 1, a, out);
                let j = if k.is_multiple_of(2) { i } else { 0 };
                a.swap(j, k - 1);
            }
        }
        let mut perms = Vec::new();
        all(5, &mut (0..5).collect(), &mut perms);
        assert_eq!(perms.len(), 120);
        for from in perms {
            let mut items: Vec<char> = "abcde".chars().collect();
            permute(&mut items, from.clone());
            let want: Vec<char> = from.iter().map(|&i| (b'a' + i as u8) as char).collect();
            assert_eq!(items, want, "from {from:?}");
        }
    }

    #[test]
    fn order_puts_creates_then_modifies_then_deletes_keeping_their_order() {
        let dn = |n: usize| Dn::parse(&format!("CN=d{n},CN=RegisteredDevices,DC=x")).unwrap();
        let mut p = SyncPlan::default();
        for n in 0..12 {
            let op = match n % 3 {
                0 => WriteOp::Delete { dn: dn(n) },
                1 => WriteOp::Add { dn: dn(n), attrs: Vec::new() },
                _ => WriteOp::Modify { dn: dn(n), mods: Vec::new(), sd_flags: None },
            };
            p.push(op, String::new(), n.to_string(), None);
        }
        order(&mut p.ops);
        let got: Vec<&str> = p.ops.iter().map(|c| c.device.as_deref().unwrap()).collect();
        assert_eq!(got, ["1", "4", "7", "10", "2", "5", "8", "11", "0", "3", "6", "9"]);
    }

    fn opts(percent: u32) -> SyncOptions {
        SyncOptions {
            container: Dn::parse("CN=RegisteredDevices,DC=contoso,DC=test").unwrap(),
            map: MapOptions {
                anchor: AnchorEncoding::Utf8,
                write_compliance: false,
                forest_domains: Vec::new(),
                optional: OptionalAttrs::NONE,
                sid_form: Default::default(),
            },
            delete_threshold: usize::MAX,
            delete_threshold_percent: percent,
            take_over: false,
            adopt: false,
            marker: DEFAULT_MARKER.into(),
            allow_empty: false,
            convention: Default::default(),
        }
    }

    #[test]
    fn gone_objects_of_another_writer_get_the_marker_only_with_take_over() {
        let obj = |n: &str, ours: bool| Current {
            entry: crate::directory::Entry::with_attrs(
                Dn::parse(&format!("CN={n},CN=RegisteredDevices,DC=contoso,DC=test")).unwrap(),
                [Attr::text("displayName", [n])],
            ),
            anchor: Some(n.into()),
            ours,
        };
        let (mine, theirs) = (obj("mine", true), obj("theirs", false));
        for take_over in [false, true] {
            let mut o = opts(100);
            o.take_over = take_over;
            let mut plan = SyncPlan::default();
            plan_deletes(vec![&mine, &theirs], &o, &mut plan, "gone");
            let ops: Vec<(&str, String)> = plan
                .ops
                .iter()
                .map(|c| match &c.op {
                    ChangeOp::Directory(WriteOp::Delete { dn }) => ("delete", dn.to_string()),
                    ChangeOp::Directory(WriteOp::Modify { dn, mods, .. }) => {
                        let attrs: Vec<&str> = mods.iter().map(|m| m.attr.as_str()).collect();
                        assert_eq!(attrs, ["adminDescription"]);
                        assert_eq!(mods[0].values, [DEFAULT_MARKER.as_bytes().to_vec()]);
                        ("mark", dn.to_string())
                    }
                    other => panic!("{other:?}"),
                })
                .collect();
            let mut want = vec![("delete", mine.entry.dn.to_string())];
            if take_over {
                want.insert(0, ("mark", theirs.entry.dn.to_string()));
            }
            assert_eq!(ops, want, "take_over={take_over}");
            assert_eq!((plan.deletes, plan.updates), (1, usize::from(take_over)));
            assert_eq!(plan.gone.len(), usize::from(take_over));
        }
    }

    fn trips_percent(deletes: usize, owned: usize, o: &SyncOptions) -> bool {
        check_guards(deletes, owned, false, o).iter().any(|t| t.guard == "delete_threshold_percent")
    }

    #[test]
    fn owned_enough_is_exactly_where_the_percentage_guard_stops_tripping() {
        for percent in [1, 7, 25, 33, 50, 99, 100] {
            let o = opts(percent);
            for deletes in 1..60 {
                let enough = owned_enough(deletes, &o);
                assert!(!trips_percent(deletes, enough, &o), "{deletes} of {enough} at {percent}%");
                assert!(
                    trips_percent(deletes, enough - 1, &o),
                    "{deletes} of {} at {percent}%",
                    enough - 1
                );
            }
        }
        assert_eq!(owned_enough(10, &opts(0)), 0, "0% trips on any delete: count them all");
    }
}

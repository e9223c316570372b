//! What the device container holds, as far as a sync is concerned: every
//! `msDS-Device` indexed by cloud anchor, DN and msDS-DeviceID, with whether
//! dwb owns it (anchor + marker). Read with one paged search, or, for a small
//! delta round, by the changed devices only.

use std::collections::HashMap;

use super::mapping::{AnchorEncoding, MANAGED, anchor_bytes, anchor_object_id};
use crate::ad::{Directory, Scope, SearchRequest};
use crate::directory::{Dn, Entry, Filter, Guid};
use crate::error::Result;

/// One object in the container, as far as ownership is concerned.
#[derive(Debug, Clone)]
pub struct Current {
    pub entry: Entry,
    /// The Entra object id from the cloud anchor, when there is one.
    pub anchor: Option<String>,
    /// Carries dwb's marker.
    pub ours: bool,
}

/// The container's devices, indexed. Each object is held once (`objects`); the
/// indexes point into it, so at 100,000 devices the entries are not kept twice.
#[derive(Debug, Default)]
pub struct CurrentState {
    objects: Vec<Current>,
    /// Normalised DN → object.
    by_dn: HashMap<String, usize>,
    /// Lower-cased Entra object id of the cloud anchor → object.
    by_anchor: HashMap<String, usize>,
    by_device_id: HashMap<Guid, usize>,
    pub total: usize,
}

impl CurrentState {
    /// Indexes one object (once: an object two searches find is counted once).
    fn put(&mut self, cur: Current) {
        let dn = cur.entry.dn.norm();
        if self.by_dn.contains_key(&dn) {
            return;
        }
        let at = self.objects.len();
        if let Some(g) =
            cur.entry.get("msDS-DeviceID").first().and_then(|b| Guid::from_bytes(b).ok())
        {
            self.by_device_id.insert(g, at);
        }
        if let Some(a) = &cur.anchor {
            self.by_anchor.insert(a.to_ascii_lowercase(), at);
        }
        self.by_dn.insert(dn, at);
        self.objects.push(cur);
        self.total += 1;
    }

    /// The object anchored to an Entra object id (anchors compare without case).
    pub fn anchored(&self, id: &str) -> Option<&Current> {
        self.by_anchor.get(&id.to_ascii_lowercase()).and_then(|&i| self.objects.get(i))
    }

    /// The object at a DN (normalised, `Dn::norm`).
    pub fn at_dn(&self, norm: &str) -> Option<&Current> {
        self.by_dn.get(norm).and_then(|&i| self.objects.get(i))
    }

    /// The object carrying this msDS-DeviceID.
    pub fn with_device_id(&self, id: &Guid) -> Option<&Current> {
        self.by_device_id.get(id).and_then(|&i| self.objects.get(i))
    }

    /// Every object read.
    pub fn objects(&self) -> impl Iterator<Item = &Current> {
        self.objects.iter()
    }

    /// The objects with a cloud anchor, one per anchor, with the anchor's
    /// lower-cased Entra object id.
    pub fn anchored_objects(&self) -> impl Iterator<Item = (&str, &Current)> {
        self.by_anchor.iter().filter_map(|(id, &i)| Some((id.as_str(), self.objects.get(i)?)))
    }

    /// Adds the objects of `other` this state does not hold yet.
    pub fn absorb(&mut self, other: CurrentState) {
        for cur in other.objects {
            self.put(cur);
        }
    }
}

/// Attributes read from existing device objects.
pub fn read_attrs() -> Vec<String> {
    let mut v: Vec<String> = MANAGED.iter().map(|s| s.to_string()).collect();
    v.push("objectClass".into());
    v.push("adminDescription".into());
    // Whether someone wrote the object after dwb did (`contest`).
    v.push("uSNChanged".into());
    v.push("whenChanged".into());
    v
}

/// Reads the container's devices (paged, streamed into the index).
pub fn current_state(
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    progress: &mut dyn FnMut(usize),
) -> Result<CurrentState> {
    let mut st = CurrentState::default();
    fill(&mut st, dir, container, Filter::eq("objectClass", "msDS-Device"), marker, progress)?;
    Ok(st)
}

/// Reads only the objects of some devices (a delta round's changes), 100
/// devices a search, so a small delta costs a few searches, not a read of the
/// whole container. msDS-DeviceID and cn are indexed; msDS-CloudAnchor is not
/// (`searchFlags: 0` in the AD schema), and a filter naming it makes the DC test
/// every object of the container against every term. So the devices' objects
/// are looked up by msDS-DeviceID and CN first, and by cloud anchor (either
/// encoding) only for the devices that found no object anchored to them: new
/// devices, removed ones (a removal carries only the object id), and objects
/// written under another name.
pub fn current_state_of(
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    devices: &[(String, Option<Guid>)],
) -> Result<CurrentState> {
    let mut st = CurrentState::default();
    let guids: Vec<Guid> = devices.iter().filter_map(|(_, g)| *g).collect();
    add_by_device_ids(&mut st, dir, container, marker, &guids)?;
    let unresolved: Vec<&str> =
        devices.iter().map(|(id, _)| id.as_str()).filter(|id| st.anchored(id).is_none()).collect();
    add_by_anchors(&mut st, dir, container, marker, &unresolved)?;
    Ok(st)
}

/// Adds the objects named by these device ids (msDS-DeviceID or CN; indexed).
pub fn add_by_device_ids(
    st: &mut CurrentState,
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    guids: &[Guid],
) -> Result<()> {
    for chunk in guids.chunks(100) {
        let terms = chunk
            .iter()
            .flat_map(|g| {
                [Filter::eq("msDS-DeviceID", g.to_bytes()), Filter::eq("cn", g.to_string())]
            })
            .collect();
        fill_matching(st, dir, container, Filter::Or(terms), marker)?;
    }
    Ok(())
}

/// Adds the objects anchored to these Entra object ids (either encoding): a
/// pass of the DC over every object of the container, the anchor being unindexed.
pub fn add_by_anchors(
    st: &mut CurrentState,
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    ids: &[&str],
) -> Result<()> {
    for chunk in ids.chunks(100) {
        let terms = chunk
            .iter()
            .flat_map(|id| {
                [AnchorEncoding::Utf8, AnchorEncoding::Utf16Le]
                    .map(|enc| Filter::eq("msDS-CloudAnchor", anchor_bytes(id, enc)))
            })
            .collect();
        fill_matching(st, dir, container, Filter::Or(terms), marker)?;
    }
    Ok(())
}

fn fill_matching(
    st: &mut CurrentState,
    dir: &dyn Directory,
    container: &Dn,
    terms: Filter,
    marker: &str,
) -> Result<()> {
    let filter = Filter::And(vec![Filter::eq("objectClass", "msDS-Device"), terms]);
    fill(st, dir, container, filter, marker, &mut |_| ())
}

fn fill(
    st: &mut CurrentState,
    dir: &dyn Directory,
    container: &Dn,
    filter: Filter,
    marker: &str,
    progress: &mut dyn FnMut(usize),
) -> Result<()> {
    let req = SearchRequest::new(container.clone(), Scope::OneLevel, filter).attrs(read_attrs());
    dir.search(&req, &mut |e| {
        let anchor = e.get("msDS-CloudAnchor").first().and_then(|a| anchor_object_id(a));
        let ours = e.get("adminDescription").iter().any(|v| v.as_slice() == marker.as_bytes());
        st.put(Current { entry: e, anchor, ours });
        progress(st.total);
        Ok(())
    })
}

/// The objects dwb owns (anchor and marker) directly in `container`, among those read.
pub fn owned_in(cur: &CurrentState, container: &Dn) -> usize {
    cur.anchored_objects().filter(|(_, c)| c.ours && c.entry.dn.is_child_of(container)).count()
}

/// The objects dwb owns in `container`: exact when fewer than `enough`, else
/// at least `enough` (0: count them all). A guard that only asks "are there
/// `enough`?" is sent no more entries than that.
pub fn count_owned(
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    enough: usize,
) -> Result<usize> {
    let filter = Filter::And(vec![
        Filter::eq("objectClass", "msDS-Device"),
        Filter::eq("adminDescription", marker),
        Filter::present("msDS-CloudAnchor"),
    ]);
    let mut req =
        SearchRequest::new(container.clone(), Scope::OneLevel, filter).attrs(["msDS-CloudAnchor"]);
    req.size_limit = enough;
    let (mut owned, mut seen) = (0, 0);
    dir.search(&req, &mut |e| {
        seen += 1;
        if e.get("msDS-CloudAnchor").first().and_then(|a| anchor_object_id(a)).is_some() {
            owned += 1;
        }
        Ok(())
    })?;
    if enough > 0 && seen >= enough && owned < enough {
        // Some anchors did not parse: the limit cut the count short.
        return count_owned(dir, container, marker, 0);
    }
    Ok(owned)
}

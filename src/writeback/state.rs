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

/// The container's devices, indexed.
#[derive(Debug, Default)]
pub struct CurrentState {
    pub by_anchor: HashMap<String, Current>,
    pub by_dn: HashMap<String, Current>,
    pub by_device_id: HashMap<Guid, String>,
    pub total: usize,
}

/// Attributes read from existing device objects.
pub fn read_attrs() -> Vec<String> {
    let mut v: Vec<String> = MANAGED.iter().map(|s| s.to_string()).collect();
    v.push("objectClass".into());
    v.push("adminDescription".into());
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

/// Reads only the objects of some devices (a delta round's changes): by cloud
/// anchor in either encoding, by msDS-DeviceID and by CN, 100 devices a search,
/// so a small delta costs a few searches, not a read of the whole container.
pub fn current_state_of(
    dir: &dyn Directory,
    container: &Dn,
    marker: &str,
    devices: &[(String, Option<Guid>)],
) -> Result<CurrentState> {
    let mut st = CurrentState::default();
    for chunk in devices.chunks(100) {
        let mut terms = Vec::new();
        for (id, guid) in chunk {
            for enc in [AnchorEncoding::Utf8, AnchorEncoding::Utf16Le] {
                terms.push(Filter::eq("msDS-CloudAnchor", anchor_bytes(id, enc)));
            }
            if let Some(g) = guid {
                terms.push(Filter::eq("msDS-DeviceID", g.to_bytes()));
                terms.push(Filter::eq("cn", g.to_string()));
            }
        }
        let filter = Filter::And(vec![Filter::eq("objectClass", "msDS-Device"), Filter::Or(terms)]);
        fill(&mut st, dir, container, filter, marker, &mut |_| ())?;
    }
    Ok(st)
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
        if st.by_dn.contains_key(&e.dn.norm()) {
            return Ok(());
        }
        let anchor = e.get("msDS-CloudAnchor").first().and_then(|a| anchor_object_id(a));
        let ours = e.get("adminDescription").iter().any(|v| v.as_slice() == marker.as_bytes());
        if let Some(g) = e.get("msDS-DeviceID").first().and_then(|b| Guid::from_bytes(b).ok()) {
            st.by_device_id.insert(g, e.dn.norm());
        }
        let cur = Current { entry: e, anchor: anchor.clone(), ours };
        if let Some(a) = anchor {
            st.by_anchor.insert(a.to_ascii_lowercase(), cur.clone());
        }
        st.by_dn.insert(cur.entry.dn.norm(), cur);
        st.total += 1;
        progress(st.total);
        Ok(())
    })
}

/// The objects dwb owns (anchor and marker) directly in `container`, among those read.
pub fn owned_in(cur: &CurrentState, container: &Dn) -> usize {
    cur.by_anchor.values().filter(|c| c.ours && c.entry.dn.is_child_of(container)).count()
}

/// The objects dwb owns in `container`, counted with one paged search.
pub fn count_owned(dir: &dyn Directory, container: &Dn, marker: &str) -> Result<usize> {
    let filter = Filter::And(vec![
        Filter::eq("objectClass", "msDS-Device"),
        Filter::eq("adminDescription", marker),
    ]);
    let req =
        SearchRequest::new(container.clone(), Scope::OneLevel, filter).attrs(["msDS-CloudAnchor"]);
    let mut n = 0;
    dir.search(&req, &mut |e| {
        if e.get("msDS-CloudAnchor").first().and_then(|a| anchor_object_id(a)).is_some() {
            n += 1;
        }
        Ok(())
    })?;
    Ok(n)
}

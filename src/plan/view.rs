//! The directory as it will be once the pending plan is applied. Scripts read
//! through this view, so an object "created" earlier in a run is visible to
//! later steps, and a dry run makes exactly the decisions a real run makes.

use std::sync::{Arc, Mutex};

use super::Plan;
use crate::ad::{Directory, ModOp, RootDse, SearchRequest, WriteOp};
use crate::directory::{Dn, Entry, Guid};
use crate::error::{Error, Kind, Result};

/// A base directory with the pending plan laid over it.
pub struct PlannedView {
    base: Arc<dyn Directory>,
    plan: Arc<Mutex<Plan>>,
}

impl PlannedView {
    pub fn new(base: Arc<dyn Directory>, plan: Arc<Mutex<Plan>>) -> PlannedView {
        PlannedView { base, plan }
    }

    pub fn base(&self) -> &Arc<dyn Directory> {
        &self.base
    }

    /// Runs `f` on the plan, its write index current. The lock is held only
    /// for `f`: never while the base directory or a caller's callback runs.
    fn with_plan<T>(&self, f: impl FnOnce(&Plan) -> T) -> T {
        let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
        plan.write_index();
        f(&plan)
    }

    /// How many changes a read sees: those planned when it started.
    fn upto(&self) -> usize {
        self.with_plan(|plan| plan.writes.covered())
    }

    /// The planned state of one object: base state with the first `upto`
    /// changes' writes to it applied.
    fn planned_entry(&self, dn: &Dn, upto: usize) -> Result<Option<Entry>> {
        let cur = self.base.read(dn, &["*", "nTSecurityDescriptor"])?;
        let norm = dn.norm();
        Ok(self.with_plan(|plan| {
            plan.writes.writes_to(&norm, upto).fold(cur, |cur, i| {
                match plan.changes.get(i).and_then(|c| c.op.write_op()) {
                    Some(op) => apply_to(cur, &op),
                    None => cur,
                }
            })
        }))
    }

    /// Checks a write against the planned state, so structural mistakes are found
    /// when the plan is made (and shown by `--dry-run`), not half-way through applying.
    pub fn check(&self, op: &WriteOp) -> Result<()> {
        let pending = self.upto();
        let dn = op.dn();
        let exists = self.planned_entry(dn, pending)?.is_some();
        match op {
            WriteOp::Add { .. } => {
                if exists {
                    return Err(
                        Error::new(Kind::AlreadyExists, format!("{dn} already exists")).with_dn(dn)
                    );
                }
                if let Some(parent) = dn.parent().filter(|p| !p.is_root()) {
                    let is_nc = self
                        .base
                        .root_dse()
                        .map(|r| r.naming_contexts.contains(dn))
                        .unwrap_or(false);
                    if !is_nc && self.planned_entry(&parent, pending)?.is_none() {
                        return Err(Error::new(
                            Kind::NoSuchObject,
                            format!("the parent {parent} of {dn} does not exist"),
                        )
                        .with_dn(dn));
                    }
                }
            }
            WriteOp::Modify { .. } if !exists => {
                return Err(Error::new(Kind::NoSuchObject, format!("no object {dn}")).with_dn(dn));
            }
            WriteOp::Delete { .. } => {
                if !exists {
                    return Err(
                        Error::new(Kind::NoSuchObject, format!("no object {dn}")).with_dn(dn)
                    );
                }
                let req = SearchRequest::new(
                    dn.clone(),
                    crate::ad::Scope::OneLevel,
                    crate::directory::Filter::all(),
                )
                .attrs(["1.1"]);
                let mut has_child = false;
                self.search(&req, &mut |_| {
                    has_child = true;
                    Ok(())
                })?;
                if has_child {
                    return Err(Error::new(
                        Kind::NotAllowedOnNonLeaf,
                        format!("{dn} has children; delete them first"),
                    )
                    .with_dn(dn));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Applies one write to an in-memory entry (the planned state).
pub(crate) fn apply_to(cur: Option<Entry>, op: &WriteOp) -> Option<Entry> {
    match op {
        // A placeholder identity until the DC assigns the real one.
        WriteOp::Add { dn, attrs } => Some(Entry::created(dn, attrs.iter().cloned(), Guid::nil())),
        WriteOp::Modify { mods, sd_flags, .. } => cur.map(|mut e| {
            for m in mods {
                if sd_flags.is_some() && m.attr.eq_ignore_ascii_case("nTSecurityDescriptor") {
                    let new = m.values.first().cloned().unwrap_or_default();
                    if let Ok(merged) = crate::directory::security::merge_dacl(
                        e.get(&m.attr).first().map(|v| v.as_slice()),
                        &new,
                    ) {
                        e.set(&m.attr, vec![merged]);
                    }
                    continue;
                }
                match m.op {
                    ModOp::Replace => e.set(&m.attr, m.values.clone()),
                    ModOp::Add => e.add_values(&m.attr, m.values.clone()),
                    ModOp::Delete => e.remove_values(&m.attr, &m.values),
                }
            }
            e
        }),
        WriteOp::Delete { .. } => None,
    }
}

impl Directory for PlannedView {
    fn describe(&self) -> String {
        self.base.describe()
    }

    fn root_dse(&self) -> Result<RootDse> {
        self.base.root_dse()
    }

    fn search(&self, req: &SearchRequest, each: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()> {
        // The plan as it is now: what `each` plans meanwhile is not seen.
        let (pending, touched) = self.with_plan(|plan| {
            let upto = plan.writes.covered();
            // The written objects in the search's scope, in the order of their first write.
            let touched: Vec<Dn> = plan
                .writes
                .first_writes(upto)
                .filter_map(|i| plan.changes.get(i)?.op.write_dn())
                .filter(|dn| req.scope.contains(&req.base, dn))
                .cloned()
                .collect();
            (if plan.writes.is_empty() { None } else { Some(upto) }, touched)
        });
        let Some(pending) = pending else {
            return self.base.search(req, each);
        };
        let is_touched = |dn: &Dn| {
            let norm = dn.norm();
            self.with_plan(|plan| plan.writes.touches(&norm, pending))
        };
        // The base may not yet have the search base if the plan creates it.
        let base_planned = req.base.is_root() || self.planned_entry(&req.base, pending)?.is_some();
        if !base_planned {
            return Err(Error::new(Kind::NoSuchObject, format!("no object {}", req.base))
                .with_dn(&req.base));
        }
        let base_exists = req.base.is_root() || self.base.read(&req.base, &["1.1"])?.is_some();
        if base_exists {
            self.base.search(req, &mut |e| if is_touched(&e.dn) { Ok(()) } else { each(e) })?;
        }
        let mut emitted = 0usize;
        for dn in touched {
            if let Some(mut e) = self.planned_entry(&dn, pending)?
                && req.filter.matches(&e)
            {
                e.project(&req.attrs);
                each(e)?;
                emitted += 1;
                if req.size_limit > 0 && emitted >= req.size_limit {
                    break;
                }
            }
        }
        Ok(())
    }

    fn write(&self, op: &WriteOp) -> Result<()> {
        // The view itself is read-only: writes go through the plan.
        Err(Error::new(
            Kind::Plan,
            format!("internal: direct write to {} bypassed the plan", op.dn()),
        ))
    }

    fn bind_as(&self, user: &str, password: &secrecy::SecretString) -> Result<Arc<dyn Directory>> {
        self.base.bind_as(user, password)
    }
}

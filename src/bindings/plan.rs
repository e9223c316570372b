//! The `plan::` script module: the pending plan as a script sees it.

use std::sync::Arc;

use rhai::{Array, Map, Module};

use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::error::Error;
use crate::host::Host;
use crate::plan::render;

/// Builds the `plan::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    let h = host.clone();
    bind!(
        /// Number of changes planned so far.
        /// # Example
        /// ```rhai
        /// if plan::len() > 0 { print(`${plan::len()} change(s) planned`); }
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "len",
        [],
        move || h.plan.lock().map(|p| p.len() as i64).unwrap_or(0),
    );
    let h = host.clone();
    bind!(
        /// True when nothing is planned: the directory already matches.
        /// # Example
        /// ```rhai
        /// if plan::is_empty() { print("nothing to do: AD already matches Entra ID"); }
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "is_empty",
        [],
        move || h.plan.lock().map(|p| p.is_empty()).unwrap_or(true),
    );
    let h = host.clone();
    bind!(
        /// The planned changes as maps `#{ id, action, target, reason, … }` (the JSON plan: an add has `attributes`, a modify `modifications`, an ACL change `sddl_before` and `sddl_after`).
        /// # Example
        /// ```rhai
        /// for c in plan::changes() { print(`${c.id}: ${c.action} ${c.target} (${c.reason})`); }
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "changes",
        [],
        move || -> RhaiResult<Array> {
            let p = h.plan.lock().map_err(|_| Error::internal("plan lock poisoned")).rhai()?;
            let v = render::json(&p);
            rhai::serde::to_dynamic(v).map(|d| d.into_array().unwrap_or_default())
        },
    );
    let h = host.clone();
    bind!(
        /// The pending plan as text, as `--dry-run` prints it.
        /// # Example
        /// ```rhai
        /// print(plan::text());
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "text",
        [],
        move || h.plan.lock().map(|p| render::text(&p)).unwrap_or_default(),
    );
    let h = host.clone();
    bind!(
        /// Applies the pending plan now instead of at the end of the run (for loops such as `sync --param watch=60`) and clears it. Under `--dry-run` nothing is applied. Returns `#{ applied, failed, skipped }`.
        /// # Example
        /// ```rhai
        /// let done = plan::apply();
        /// if done.failed > 0 { report::warn(`${done.failed} change(s) failed; see the report`); }
        /// ```
        /// # Errors
        /// None: a change that fails is counted in `failed`, not thrown.
        &mut m,
        "apply",
        [],
        move || -> RhaiResult<Map> {
            let (plan, outcomes) = h.apply_pending().rhai()?;
            let count = |f: fn(&crate::plan::Outcome) -> bool| {
                outcomes.iter().filter(|o| f(o)).count() as i64
            };
            let mut out = Map::new();
            out.insert(
                "applied".into(),
                // A delete whose object was already gone is done, as planned.
                count(crate::plan::Outcome::is_done).into(),
            );
            out.insert(
                "failed".into(),
                count(|o| matches!(o, crate::plan::Outcome::Failed { .. })).into(),
            );
            out.insert(
                "skipped".into(),
                count(|o| matches!(o, crate::plan::Outcome::Skipped { .. })).into(),
            );
            out.insert("refused".into(), plan.is_refused().into());
            Ok(out)
        },
    );
    let h = host.clone();
    bind!(
        /// The pending plan as LDIF change records that `ldapmodify` accepts.
        /// # Example
        /// ```rhai
        /// print(plan::ldif());   // review, or feed to ldapmodify -f
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "ldif",
        [],
        move || h.plan.lock().map(|p| render::ldif(&p)).unwrap_or_default(),
    );
    m
}

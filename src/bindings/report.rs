//! The `report::` script module: findings, warnings and values for the run's report.

use std::sync::Arc;

use rhai::{Dynamic, ImmutableString, Module};

use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::error::{Error, Kind};
use crate::host::Host;
use crate::report::{Finding, Status};

fn add_finding(host: &Host, check: &str, status: &str, detail: &str, fix: &str) -> RhaiResult<()> {
    let status = Status::parse(status)
        .ok_or_else(|| {
            Error::new(
                Kind::InvalidArgument,
                format!("report::finding: status `{status}` is not one of ok, info, warn, fail"),
            )
        })
        .rhai()?;
    if let Ok(mut f) = host.findings.lock() {
        f.findings.push(Finding {
            check: check.into(),
            status,
            detail: detail.into(),
            fix: fix.into(),
        });
    }
    Ok(())
}

/// Builds the `report::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    let h = host.clone();
    bind!(
        /// Records a check result for the findings table. `status` is "ok", "info", "warn" or "fail"; any "fail" makes the run exit with code 1.
        /// # Example
        /// ```rhai
        /// report::finding("schema", "fail", "msDS-DeviceContainer is missing",
        ///     "run adprep /forestprep (Windows Server 2012 R2 or later)");
        /// ```
        /// # Errors
        /// `invalid_argument` for another status.
        &mut m,
        "finding",
        ["check", "status", "detail", "fix"],
        move |c: ImmutableString, s: ImmutableString, d: ImmutableString, f: ImmutableString| {
            add_finding(&h, &c, &s, &d, &f)
        },
    );
    let h = host.clone();
    bind!(
        /// Records a check result without a fix.
        /// # Example
        /// ```rhai
        /// report::finding("device location", "ok", "CN=RegisteredDevices,DC=contoso,DC=test");
        /// ```
        /// # Errors
        /// `invalid_argument` for a status other than ok, info, warn, fail.
        &mut m,
        "finding",
        ["check", "status", "detail"],
        move |c: ImmutableString, s: ImmutableString, d: ImmutableString| {
            add_finding(&h, &c, &s, &d, "")
        },
    );
    let h = host.clone();
    bind!(
        /// Records a warning (printed to stderr at once, shown after the plan, kept in the JSON report).
        /// # Example
        /// ```rhai
        /// report::warn("Entra Connect device writeback still seems to be on: objects it wrote are left alone");
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "warn",
        ["message"],
        move |s: ImmutableString| h.warn(&s),
    );
    let h = host.clone();
    bind!(
        /// Attaches a value to the JSON report's `data` object (counts, ids…). Maps and arrays keep their structure; a value with no JSON form (a `Dn`, `Sid`, …) is stored as its text.
        /// # Example
        /// ```rhai
        /// report::set("device_container", "CN=RegisteredDevices,DC=contoso,DC=test");
        /// report::set("sync", #{ creates: 12, updates: 3, deletes: 0 });
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "set",
        ["key", "value: ?"],
        move |k: ImmutableString, v: Dynamic| -> RhaiResult<()> {
            let j: serde_json::Value = rhai::serde::from_dynamic(&v)
                .unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
            if let Ok(mut f) = h.findings.lock() {
                f.data.insert(k.to_string(), j);
            }
            Ok(())
        },
    );
    let h = host.clone();
    bind!(
        /// Number of findings with status "fail" so far.
        /// # Example
        /// ```rhai
        /// if report::failed() > 0 { print("fix the failed checks before `dwb run enable`"); }
        /// ```
        /// # Errors
        /// None.
        &mut m,
        "failed",
        [],
        move || h.findings.lock().map(|f| f.failed() as i64).unwrap_or(0),
    );
    m
}

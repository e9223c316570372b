//! Applying a plan that no script made (`dwb apply`, `dwb undo`): the same
//! question, guards, apply, journal and report as `dwb run`.

use std::time::Instant;

use crate::cli::{ApplyOpts, Format};
use crate::exit;
use crate::host::Host;
use crate::plan::{Outcome, Plan};
use crate::report::{Findings, Report, RunStatus, Sources, Timings};

/// A report for `plan`, before it is applied.
pub fn report(host: &Host, plan: Plan, opts: &ApplyOpts) -> Report {
    Report {
        run_id: Some(host.run_id.clone()),
        script: host.script.clone(),
        parameters: Default::default(),
        directory: host.base_dir().ok().map(|d| d.describe()),
        sources: Sources {
            directory: host.directory().source().describe(),
            devices: host.devices.describe(),
        },
        unsaved_snapshot: None,
        dry_run: opts.dry_run,
        plan,
        plan_shown: false,
        outcomes: Vec::new(),
        findings: Findings::default(),
        timings: Timings::default(),
        status: RunStatus::Ok,
        exit_code: exit::OK,
        error: None,
    }
}

/// Asks, applies and reports. `problems`: changes already known to be refused
/// (objects changed since): the exit code is 4 when there are any.
pub fn finish(host: &Host, mut report: Report, opts: &ApplyOpts, problems: usize) -> i32 {
    let started = Instant::now();
    if report.plan.is_refused() {
        for r in &report.plan.refusals {
            eprintln!("error: {}: {}", crate::error::Kind::Refused.code(), r.message);
            eprintln!("  hint: {}", r.hint);
        }
        report.status = RunStatus::Refused;
        report.exit_code = exit::SCRIPT_ERROR;
    } else if !opts.dry_run
        && !report.plan.is_empty()
        && !super::confirm::confirmed(&mut report, opts.yes)
    {
        report.dry_run = true;
        eprintln!("Nothing was applied.");
    } else if !opts.dry_run && !report.plan.is_empty() {
        report.outcomes = host.apply(&report.plan, &mut |_, _| {});
        report.timings.apply_ms = started.elapsed().as_millis();
        if host.cancel().is_cancelled() {
            report.status = RunStatus::Interrupted;
            report.exit_code = exit::INTERRUPTED;
        } else if report.outcomes.iter().any(Outcome::lost_the_directory) {
            report.status = RunStatus::Error;
            report.exit_code = exit::SCRIPT_ERROR;
        } else if report.outcomes.iter().any(|o| !o.is_done()) {
            report.status = RunStatus::ChangesFailed;
            report.exit_code = exit::CHANGES_FAILED;
        }
    }
    if report.exit_code == exit::OK && problems > 0 {
        report.status = RunStatus::ChangesFailed;
        report.exit_code = exit::CHANGES_FAILED;
    }
    report.timings.total_ms = started.elapsed().as_millis();
    if let Some(path) = &opts.report {
        let written = std::fs::File::create(path).and_then(|f| report.write_json(f));
        if let Err(e) = written {
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    match opts.format {
        Format::Json => {
            if let Err(e) = report.write_json(std::io::stdout().lock()) {
                eprintln!("error: writing the report: {e}");
            }
        }
        Format::Text => print!("{}", report.to_text()),
    }
    report.exit_code
}

//! The end of every command that has a plan (`dwb run`, `dwb apply`, `dwb undo`):
//! refuse → confirm → apply → outcomes → status, then the report. One path, so
//! the three ask, apply and report alike.

use std::path::Path;
use std::time::Instant;

use super::confirm::Answer;
use crate::cli::{ApplyOpts, Format};
use crate::host::Host;
use crate::plan::{Outcome, Plan};
use crate::report::{Findings, Report, RunStatus, Sources, Timings};

/// A report for `plan` (a plan no script made: `apply`, `undo`), before it is applied.
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
        error: None,
    }
}

/// How the plan's end goes.
pub struct Settle {
    pub dry_run: bool,
    /// `--yes`: apply without asking.
    pub yes: bool,
    /// A progress bar on a terminal's stderr (not with `-q` or `--format json`).
    pub progress: bool,
}

/// Refuses, asks, applies: `report.status` and `report.outcomes` say how it went.
pub fn settle(host: &Host, report: &mut Report, how: &Settle) {
    if report.plan.is_refused() {
        // Refused before any change: shown (a dry run too), never applied.
        for r in &report.plan.refusals {
            crate::errln!("error: {}: {}", crate::error::Kind::Refused.code(), r.message);
            crate::errln!("  hint: {}", r.hint);
        }
        report.status = RunStatus::Refused;
        return;
    }
    if how.dry_run || report.plan.is_empty() {
        return;
    }
    match super::confirm::confirmed(report, how.yes, host.cancel()) {
        Answer::Declined => {
            // Declined at the prompt: reported like a dry run, nothing applied.
            report.dry_run = true;
            crate::errln!("Nothing was applied.");
        }
        Answer::Interrupted => {
            report.dry_run = true;
            report.status = RunStatus::Interrupted;
            crate::errln!("Interrupted: nothing was applied.");
        }
        Answer::NotAsked | Answer::Confirmed => apply(host, report, how),
    }
}

/// Applies `report`'s plan with a progress bar and sets its status.
fn apply(host: &Host, report: &mut Report, how: &Settle) {
    let started = Instant::now();
    let bar = progress_bar(report.plan.len(), !how.progress);
    report.outcomes = host.apply(&report.plan, &mut |done, _| bar.set_position(done as u64));
    bar.finish_and_clear();
    report.timings.apply_ms = started.elapsed().as_millis();
    if host.cancel().is_cancelled() {
        report.status = RunStatus::Interrupted;
    } else if report.outcomes.iter().any(Outcome::lost_the_directory) {
        // The DC stopped answering: the run itself failed, whatever was sent.
        report.status = RunStatus::Error;
    } else if report.outcomes.iter().any(|o| !o.is_done()) {
        report.status = RunStatus::ChangesFailed;
    }
}

/// How many changes a text plan lists on a terminal without `--all`.
const ON_A_TERMINAL: usize = 50;

/// Writes the report: the `--report` file, then stdout as JSON or text (text
/// not with `-q` after a clean run, nor after an error already printed). On a
/// terminal a long plan is cut to its first changes unless `all`.
pub fn output(report: &Report, format: Format, file: Option<&Path>, quiet: bool, all: bool) {
    crate::report::write_json(report, format == Format::Json, file);
    let clean = report.status == RunStatus::Ok;
    if format == Format::Text && !(quiet && clean) && report.error.is_none() {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let cut = (terminal && !all).then_some(ON_A_TERMINAL);
        crate::out!("{}", report.to_text_cut(cut));
        // stdout is the result; a warning's count belongs with the warnings.
        if !quiet && let Some(w) = report.warnings_line() {
            crate::errln!("{w}");
        }
    }
}

/// Asks, applies and reports a plan no script made. `problems`: changes already
/// known to be refused (objects changed since): the exit code is 4 when there are any.
pub fn finish(
    host: &Host,
    mut report: Report,
    opts: &ApplyOpts,
    problems: usize,
) -> crate::exit::Code {
    let started = Instant::now();
    let how =
        Settle { dry_run: opts.dry_run, yes: opts.yes, progress: opts.format == Format::Text };
    settle(host, &mut report, &how);
    keep_snapshot(host, &mut report, opts.write_snapshot.as_deref());
    if report.status == RunStatus::Ok && problems > 0 {
        report.status = RunStatus::ChangesFailed;
    }
    report.timings.total_ms = started.elapsed().as_millis();
    output(&report, opts.format, opts.report.as_deref(), false, opts.all);
    report.exit_code()
}

/// After changes to the demo or a `--snapshot`: `--write-snapshot FILE` writes
/// the result; without it the report says only the in-memory copy changed.
pub fn keep_snapshot(host: &Host, report: &mut Report, file: Option<&Path>) {
    let Some(snap) = host.directory().snapshot() else {
        if file.is_some() {
            crate::errln!(
                "warning: --write-snapshot only works with --snapshot or the demo directory"
            );
        }
        return;
    };
    match file {
        // The demo kept in the data directory is not lost.
        None if !report.outcomes.is_empty() && host.directory().in_memory_only().is_some() => {
            report.unsaved_snapshot = Some(crate::ad::Directory::describe(&*snap));
        }
        None => {}
        Some(path) => {
            if let Err(e) = std::fs::write(path, snap.to_ldif()) {
                crate::errln!("error: writing {}: {e}", path.display());
                report.status = RunStatus::Error;
            }
        }
    }
}

fn progress_bar(len: usize, hidden: bool) -> indicatif::ProgressBar {
    if hidden || len < 20 || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Some(style) =
        crate::progress::style("{spinner} applying {pos}/{len} changes [{bar:30}] {rate} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

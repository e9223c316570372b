//! `dwb undo RUN_ID`: the inverse of a journaled run, through the normal plan
//! (question, guards, apply, journal, report). Objects changed since the run
//! are left alone and reported; then the exit code is 4.

use super::applying;
use super::failure::fail;
use super::session::{Session, Signals};
use crate::cli::UndoArgs;
use crate::exit;
use crate::host::{Host, RunConfig};
use crate::plan::{journal, undo};
use crate::sources;

/// Runs `dwb undo`; returns the exit code.
pub fn undo(args: &UndoArgs) -> exit::Code {
    if let Err(e) = super::outputs::check_writable(&args.opts.files()) {
        return fail(&e);
    }
    let sources = match sources::resolve(&args.conn) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let found = journal::path_for(sources.loaded.profile_name.as_deref())
        .and_then(|p| journal::find(&p, &args.run_id));
    let run = match found {
        Ok(r) => r,
        Err(e) => return super::journal::unknown_run(&e),
    };
    let config = RunConfig {
        dry_run: args.opts.dry_run,
        script: format!("undo {}", run.run_id),
        snapshot_result: args.opts.write_snapshot.clone(),
        ..RunConfig::from_loaded(&sources.loaded)
    };
    let session = match Session::open(sources, Signals::Cancel, config) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    plan_and_apply(session.host(), &run, args)
}

fn plan_and_apply(host: &Host, run: &journal::Run, args: &UndoArgs) -> exit::Code {
    let threshold = args
        .delete_threshold
        .or(host.settings.writeback.as_ref().and_then(|w| w.delete_threshold).map(|t| t as usize))
        .unwrap_or(500);
    let dir = match host.base_dir() {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    if let Err(e) = super::directory_kind::same(
        "the run changed",
        &run.directory,
        &dir.describe(),
        "undo it where it was made: --snapshot FILE (the run's result), or --ldap-url/--profile",
    ) {
        return fail(&e);
    }
    if let Err(e) = undo::check_directory(run, &*dir) {
        return fail(&e);
    }
    let u = match undo::plan(run, &*dir, threshold) {
        Ok(u) => u,
        Err(e) => return fail(&e),
    };
    // The undo stays inside the fence of the run it inverts, whatever the journal says.
    if let Err(e) = fenced(&u.plan, run, &*dir) {
        return fail(&e);
    }
    report_and_apply(host, u, args)
}

/// The undo plan checked against the fence of the run's origin, in this forest.
fn fenced(
    plan: &crate::plan::Plan,
    run: &journal::Run,
    dir: &dyn crate::ad::Directory,
) -> crate::error::Result<()> {
    use crate::writeback::fence;
    let (config, located) = fence::read_forest(dir)?;
    let container = match located {
        Some(c) => c,
        None => dir.root_dse()?.default_nc()?.child("CN", "RegisteredDevices")?,
    };
    fence::check_undo(plan, &run.script, (&config, container), dir)
}

fn report_and_apply(host: &Host, u: undo::Undo, args: &UndoArgs) -> exit::Code {
    let mut report = applying::report(host, u.plan, &args.opts);
    report.parameters.insert("undo".into(), args.run_id.clone().into());
    for c in &u.conflicts {
        let w = format!("not undone, changed since the run: {c}");
        crate::errln!("warning: {}", crate::text::visible(&w));
        report.findings.warnings.push(w);
    }
    for n in &u.not_undone {
        let w = format!("not undone: {n}");
        crate::errln!("warning: {}", crate::text::visible(&w));
        report.findings.warnings.push(w);
    }
    report.findings.data.insert(
        "undo".into(),
        serde_json::json!({
            "conflicts": u.conflicts, "not_undone": u.not_undone, "already_undone": u.already,
        }),
    );
    applying::finish(host, report, &args.opts, u.conflicts.len())
}

//! `dwb run`: compile, validate parameters, run (recording the plan), apply
//! unless `--dry-run`, report.

use std::sync::Arc;
use std::time::Instant;

use rhai::Scope;

use super::script::{self, Script};
use super::{fail, host, runtime};
use crate::cli::{Format, RunArgs};
use crate::engine::{self, diagnostic::ScriptError, params};
use crate::exit;
use crate::host::{Host, PrintTo};
use crate::plan::{self, Outcome};
use crate::report::{Report, RunStatus, Sources, Timings};
use crate::sources::{self, DirectorySource};

/// A run that stops before its script runs (a usage or configuration error):
/// the error on stderr, and the JSON report too when one was asked for.
fn fail_early(args: &RunArgs, e: &crate::error::Error) -> i32 {
    let code = fail(e);
    let report = Report::failed_early(&args.script, code, crate::report::error_json(e));
    crate::report::write_json(&report, args.format == Format::Json, args.report.as_deref());
    code
}

/// Runs `dwb run`; returns the exit code.
pub fn run(args: RunArgs) -> i32 {
    let started = Instant::now();
    let script = match script::load(&args.script) {
        Ok(s) => s,
        Err(e) => return fail_early(&args, &e),
    };
    let sources = match sources::resolve(&args.conn) {
        Ok(x) => x,
        Err(e) => return fail_early(&args, &e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail_early(&args, &e),
    };
    let mut host = host(sources, &rt);
    // A snapshot costs nothing to open: load it now so a malformed file is a usage error
    // reported before the script starts.
    if let DirectorySource::Snapshot(_) = host.directory().source()
        && let Err(e) = host.directory().open()
    {
        return fail_early(&args, &e.with_hint("fix the LDIF file given with --snapshot"));
    }
    host.dry_run = args.dry_run;
    host.script = script.source.clone();
    host.quiet = args.quiet;
    host.site_dir = script.site_dir.clone();
    host.print_to = if args.format == Format::Json { PrintTo::Stderr } else { PrintTo::Stdout };
    crate::service::events::set_json(args.log_format == crate::cli::LogFormat::Json);
    if let Some(rate) = host.settings.writeback.as_ref().and_then(|w| w.max_writes_per_second) {
        crate::ad::ldap::pace::set_max_writes_per_second(rate);
    }
    let listen = args
        .metrics_listen
        .clone()
        .or_else(|| host.settings.service.as_ref().and_then(|s| s.metrics_listen.clone()));
    if let Some(listen) = listen {
        let addr = crate::service::server::parse_addr(&listen, args.metrics_allow_remote);
        match addr.and_then(crate::service::server::bind) {
            Ok(l) => crate::service::server::spawn(&rt, l, host.profile.clone()),
            Err(e) => return fail_early(&args, &e),
        }
    }
    let host = Arc::new(host);
    crate::cancel::listen(&rt, host.cancel().clone());
    let code = execute(&args, &script, &host, started);
    // Wait (briefly) for the workers to drop their tasks before the process exits:
    // a Kerberos connection's task frees its GSSAPI context when dropped, and MIT's
    // library destructors, run by exit(), must not race it (an abort in k5_mutex_lock).
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

fn execute(args: &RunArgs, script: &Script, host: &Arc<Host>, started: Instant) -> i32 {
    let engine = engine::build(host.clone());
    if let Ok(mut s) = host.texts.lock() {
        s.insert(script.source.clone(), script.text.clone());
    }
    let t0 = Instant::now();
    let mut ast = match engine.compile(&script.text) {
        Ok(a) => a,
        Err(e) => {
            let sources = host.texts.lock().map(|s| s.clone()).unwrap_or_default();
            let d = ScriptError::from_parse(&e, &script.source, &sources);
            eprint!("{}", d.render());
            let report = Report::failed_early(&script.source, exit::SCRIPT_ERROR, d.to_json());
            let json = args.format == Format::Json;
            crate::report::write_json(&report, json, args.report.as_deref());
            return exit::SCRIPT_ERROR;
        }
    };
    ast.set_source(script.source.as_str());
    let compile_ms = t0.elapsed().as_millis();
    let given: Vec<(String, String)> =
        match args.params.iter().map(|p| params::split_pair(p)).collect() {
            Ok(v) => v,
            Err(e) => return fail_early(args, &e),
        };
    let specs = match params::declared(&engine, &ast) {
        Ok(s) => s,
        Err(e) => return fail_early(args, &e),
    };
    let param_map = match params::validate(&specs, &given) {
        Ok(m) => m,
        Err(e) => return fail_early(args, &e),
    };
    let parameters: serde_json::Map<String, serde_json::Value> =
        given.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();

    let t1 = Instant::now();
    crate::service::round::begin();
    let mut scope = Scope::new();
    host.set_params(param_map.clone().into());
    scope.push_constant("params", param_map);
    let result = engine.run_ast_with_scope(&mut scope, &ast);
    let run_ms = t1.elapsed().as_millis();

    let plan = host.plan.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
    let findings = host.findings.lock().map(|f| f.clone()).unwrap_or_default();
    let directory = if host.dir_opened() {
        host.dir().ok().map(|d| crate::ad::Directory::describe(&*d))
    } else {
        None
    };
    let mut report = Report {
        run_id: Some(host.run_id.clone()),
        script: script.source.clone(),
        parameters,
        directory,
        sources: Sources {
            directory: host.directory().source().describe(),
            devices: host.devices.describe(),
        },
        unsaved_snapshot: None,
        dry_run: args.dry_run,
        plan,
        plan_shown: false,
        outcomes: Vec::new(),
        findings,
        timings: Timings { compile_ms, run_ms, ..Timings::default() },
        status: RunStatus::Ok,
        exit_code: exit::OK,
        error: None,
    };

    if let Err(e) = result {
        // The checks that stopped the script (enable: "not prepared") explain the error.
        if args.format == Format::Text && !report.findings.findings.is_empty() {
            println!("{}", crate::report::findings_table(&report.findings.findings));
        }
        let sources = host.texts.lock().map(|s| s.clone()).unwrap_or_default();
        let d = ScriptError::from_eval(&e, &script.source, &sources);
        eprint!("{}", d.render());
        report.exit_code = d.exit_code();
        report.status = if report.exit_code == exit::INTERRUPTED {
            RunStatus::Interrupted
        } else {
            RunStatus::Error
        };
        report.error = Some(d.to_json());
        if !report.plan.is_empty() {
            eprintln!("Nothing was applied: the script stopped before its plan was complete.");
        }
        record_round(host, &report);
        return finish(args, report, started);
    }

    // The plan as reviewed, saved before anything of it is applied.
    if let Some(path) = args.save_plan.as_deref().filter(|p| plan::saved::is_saved_plan(p))
        && let Err(e) = save_plan(path, &report, host)
    {
        eprintln!("error: {e}");
        report.exit_code = exit::SCRIPT_ERROR;
        return finish(args, report, started);
    }
    if report.plan.is_refused() {
        // Refused before any change: shown (a dry run too), never applied.
        for r in &report.plan.refusals {
            eprintln!("error: {}: {}", crate::error::Kind::Refused.code(), r.message);
            eprintln!("  hint: {}", r.hint);
        }
        report.status = RunStatus::Refused;
        report.exit_code = exit::SCRIPT_ERROR;
    } else if !args.dry_run
        && !report.plan.is_empty()
        && !super::confirm::confirmed(&mut report, args.yes)
    {
        // Declined at the prompt: shown like a dry run, nothing applied.
        report.dry_run = true;
        eprintln!("Nothing was applied.");
    } else if !args.dry_run && !report.plan.is_empty() {
        let t2 = Instant::now();
        let bar = progress_bar(report.plan.len(), args.quiet || args.format == Format::Json);
        let outcomes = host.apply(&report.plan, &mut |done, _| bar.set_position(done as u64));
        bar.finish_and_clear();
        report.timings.apply_ms = t2.elapsed().as_millis();
        report.outcomes = outcomes;
        if host.cancel().is_cancelled() {
            report.status = RunStatus::Interrupted;
            report.exit_code = exit::INTERRUPTED;
        } else if report.outcomes.iter().any(Outcome::lost_the_directory) {
            // The DC stopped answering: the run itself failed, whatever was sent.
            report.status = RunStatus::Error;
            report.exit_code = exit::SCRIPT_ERROR;
        } else if report.outcomes.iter().any(|o| !matches!(o, Outcome::Applied)) {
            report.status = RunStatus::ChangesFailed;
            report.exit_code = exit::CHANGES_FAILED;
        }
        if args.write_snapshot.is_none()
            && let Some(snap) = host.directory().snapshot()
        {
            report.unsaved_snapshot = Some(crate::ad::Directory::describe(&*snap));
        }
    }
    // Another writer keeps changing what dwb writes: not reverted again, but not ok.
    if report.exit_code == exit::OK && !report.dry_run && crate::service::round::contested() > 0 {
        report.status = RunStatus::ChangesFailed;
        report.exit_code = exit::CHANGES_FAILED;
    }
    if report.exit_code == exit::OK && report.findings.failed() > 0 {
        report.status = RunStatus::ChecksFailed;
        report.exit_code = exit::CHECKS_FAILED;
    }
    if let Some(path) = &args.write_snapshot {
        match host.directory().snapshot() {
            Some(s) => {
                if let Err(e) = std::fs::write(path, s.to_ldif()) {
                    eprintln!("error: writing {}: {e}", path.display());
                    report.exit_code = exit::SCRIPT_ERROR;
                }
            }
            None => eprintln!(
                "warning: --write-snapshot only works with --snapshot or the demo directory"
            ),
        }
    }
    record_round(host, &report);
    finish(args, report, started)
}

/// A run that synced (a timer's single sync, not a watch: its loop records each
/// round) leaves its outcome for `dwb health` and the metrics; a dry run,
/// declined or not, changes nothing and records nothing.
fn record_round(host: &Host, report: &Report) {
    if report.dry_run || !crate::service::round::synced() {
        return;
    }
    if report.plan.is_refused() {
        // Refused before applying: nothing reached Host::apply to say so.
        crate::service::round::note_apply(&report.plan, &[]);
    }
    let error = report.error.as_ref().map(|e| {
        let s = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        (s("code"), s("message"))
    });
    crate::service::close_round(host.profile.as_deref(), None, error, None);
}

/// `--save-plan FILE.json`: the plan with each change's precondition.
fn save_plan(path: &std::path::Path, report: &Report, host: &Host) -> crate::error::Result<()> {
    let dir = if plan::saved::needs_directory(&report.plan) || host.dir_opened() {
        Some(host.base_dir()?)
    } else {
        None
    };
    let origin = plan::saved::Origin {
        run_id: report.run_id.as_deref(),
        script: &report.script,
        parameters: &report.parameters,
    };
    plan::saved::save(path, &report.plan, dir.as_deref(), &origin)
}

fn progress_bar(len: usize, hidden: bool) -> indicatif::ProgressBar {
    if hidden || len < 20 || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} applying {pos}/{len} changes [{bar:30}] {per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn finish(args: &RunArgs, mut report: Report, started: Instant) -> i32 {
    report.timings.total_ms = started.elapsed().as_millis();
    if let Some(path) = &args.save_plan {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("ldif") => plan::render::ldif(&report.plan),
            // Written by `plan::saved::save` before the plan was applied.
            Some("json") => String::new(),
            _ => plan::render::text(&report.plan),
        };
        if !text.is_empty()
            && let Err(e) = std::fs::write(path, text)
        {
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    crate::report::write_json(&report, args.format == Format::Json, args.report.as_deref());
    match args.format {
        Format::Json => {}
        Format::Text if !(args.quiet && report.exit_code == exit::OK) && report.error.is_none() => {
            print!("{}", report.to_text())
        }
        Format::Text => {}
    }
    report.exit_code
}

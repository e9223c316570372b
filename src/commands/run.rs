//! `dwb run`: compile, validate parameters, run (recording the plan), apply
//! unless `--dry-run`, report.

use std::sync::Arc;
use std::time::Instant;

use rhai::Scope;

use super::applying;
use super::failure::{fail, script_error_code};
use super::script::{self, Script};
use super::session::{Session, Signals};
use crate::cli::{Format, RunArgs};
use crate::engine::{self, diagnostic::ScriptError, params};
use crate::exit;
use crate::host::{Host, PrintTo, RunConfig, lock};
use crate::plan;
use crate::report::{Report, RunStatus, Sources, Timings};
use crate::sources::{self, DirectorySource};

/// A run that stops before its script runs (a usage or configuration error):
/// the error on stderr, and the JSON report too when one was asked for.
fn fail_early(args: &RunArgs, e: &crate::error::Error) -> exit::Code {
    let code = fail(e);
    let report = Report::failed_early(&args.script, code, crate::report::error_json(e));
    crate::report::write_json(&report, args.format == Format::Json, args.report.as_deref());
    code
}

/// Runs `dwb run`; returns the exit code.
pub fn run(args: RunArgs) -> exit::Code {
    let started = Instant::now();
    let files = [
        ("--write-snapshot", args.write_snapshot.as_deref()),
        ("--save-plan", args.save_plan.as_deref()),
        ("--report", args.report.as_deref()),
    ];
    if let Err(e) = super::outputs::check_writable(&files) {
        return fail_early(&args, &e);
    }
    let script = match script::load(&args.script) {
        Ok(s) => s,
        Err(e) => return fail_early(&args, &e),
    };
    let sources = match sources::resolve(&args.conn) {
        Ok(x) => x,
        Err(e) => return fail_early(&args, &e),
    };
    let config = RunConfig {
        dry_run: args.dry_run,
        quiet: args.quiet,
        print_to: if args.format == Format::Json { PrintTo::Stderr } else { PrintTo::Stdout },
        site_dir: script.site_dir.clone(),
        script: script.source.clone(),
        snapshot_result: args.write_snapshot.clone(),
        ..RunConfig::from_loaded(&sources.loaded)
    };
    let session = match Session::open(sources, Signals::Cancel, config) {
        Ok(s) => s,
        Err(e) => return fail_early(&args, &e),
    };
    let host = session.host();
    // A snapshot costs nothing to open: load it now so a malformed file is a usage error
    // reported before the script starts.
    if let DirectorySource::Snapshot(_) = host.directory().source()
        && let Err(e) = host.directory().open()
    {
        return fail_early(&args, &e.with_hint("fix the LDIF file given with --snapshot"));
    }
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
            Ok(l) => {
                let profile = host.profile.clone();
                session.with_runtime(|rt| crate::service::server::spawn(rt, l, profile));
            }
            Err(e) => return fail_early(&args, &e),
        }
    }
    execute(&args, &script, host, started)
}

fn execute(args: &RunArgs, script: &Script, host: &Arc<Host>, started: Instant) -> exit::Code {
    let engine = engine::build(host.clone());
    lock(&host.texts).insert(script.source.clone(), script.text.clone());
    let t0 = Instant::now();
    let mut ast = match engine.compile(&script.text) {
        Ok(a) => a,
        Err(e) => {
            let sources = lock(&host.texts).clone();
            let d = ScriptError::from_parse(&e, &script.source, &sources);
            crate::errout!("{}", d.render());
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

    let plan = std::mem::take(&mut *lock(&host.plan));
    let findings = lock(&host.findings).clone();
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
        error: None,
    };

    if let Err(e) = result {
        // The checks that stopped the script (enable: "not prepared") explain the error.
        if args.format == Format::Text && !report.findings.findings.is_empty() {
            crate::outln!("{}", crate::report::findings_table(&report.findings.findings));
        }
        let sources = lock(&host.texts).clone();
        let d = ScriptError::from_eval(&e, &script.source, &sources);
        crate::errout!("{}", d.render());
        report.status = RunStatus::failed(script_error_code(&d));
        report.error = Some(d.to_json());
        if !report.plan.is_empty() {
            crate::errln!("Nothing was applied: the script stopped before its plan was complete.");
        }
        record_round(host, &report);
        return finish(args, report, started);
    }

    // The plan as reviewed, saved before anything of it is applied.
    if let Some(path) = args.save_plan.as_deref().filter(|p| plan::saved::is_saved_plan(p)) {
        match save_plan(path, &report, host) {
            // The digest that binds the file to this review, in the report too.
            Ok(digest) => {
                report.plan.digest = Some(digest.clone());
                report.findings.data.insert(
                    "saved_plan".into(),
                    serde_json::json!({ "file": path.display().to_string(), "digest": digest }),
                );
            }
            Err(e) => {
                crate::errln!("error: {e}");
                report.status = RunStatus::Error;
                return finish(args, report, started);
            }
        }
    }
    let how = applying::Settle {
        dry_run: args.dry_run,
        yes: args.yes,
        progress: !args.quiet && args.format == Format::Text,
    };
    applying::settle(host, &mut report, &how);
    if !report.outcomes.is_empty()
        && args.write_snapshot.is_none()
        && let Some(snap) = host.directory().in_memory_only()
    {
        report.unsaved_snapshot = Some(crate::ad::Directory::describe(&*snap));
    }
    // Another writer keeps changing what dwb writes: not reverted again, but not ok.
    if report.status == RunStatus::Ok && !report.dry_run && crate::service::round::contested() > 0 {
        report.status = RunStatus::ChangesFailed;
    }
    if report.status == RunStatus::Ok && report.findings.failed() > 0 {
        report.status = RunStatus::ChecksFailed;
    }
    if let Some(path) = &args.write_snapshot {
        match host.directory().snapshot() {
            Some(s) => {
                if let Err(e) = std::fs::write(path, s.to_ldif()) {
                    crate::errln!("error: writing {}: {e}", path.display());
                    report.status = RunStatus::Error;
                }
            }
            None => crate::errln!(
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
fn save_plan(path: &std::path::Path, report: &Report, host: &Host) -> crate::error::Result<String> {
    let dir = if plan::saved::needs_directory(&report.plan) || host.dir_opened() {
        Some(host.base_dir()?)
    } else {
        None
    };
    let origin = plan::saved::Origin {
        run_id: report.run_id.as_deref(),
        script: &report.script,
        parameters: &report.parameters,
        listed: report.findings.data.get("sync").and_then(|s| s["listed"].as_u64()),
    };
    let digest = plan::saved::save(path, &report.plan, dir.as_deref(), &origin)?;
    crate::errln!(
        "Saved the plan to {} (digest {digest}; `dwb apply {} --expect-digest {digest}` applies \
         only this file)",
        path.display(),
        path.display()
    );
    Ok(digest)
}

fn finish(args: &RunArgs, mut report: Report, started: Instant) -> exit::Code {
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
            crate::errln!("error: writing {}: {e}", path.display());
        }
    }
    applying::output(&report, args.format, args.report.as_deref(), args.quiet, args.all);
    report.exit_code()
}

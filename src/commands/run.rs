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
        eprint!("{}", d.render());
        report.status = RunStatus::failed(script_error_code(&d));
        report.error = Some(d.to_json());
        if !report.plan.is_empty() {
            eprintln!("Nothing was applied: the script stopped before its plan was complete.");
        }
        return finish(args, report, started);
    }

    // The plan as reviewed, saved before anything of it is applied.
    if let Some(path) = args.save_plan.as_deref().filter(|p| plan::saved::is_saved_plan(p))
        && let Err(e) = save_plan(path, &report, host)
    {
        eprintln!("error: {e}");
        report.status = RunStatus::Error;
        return finish(args, report, started);
    }
    let how = applying::Settle {
        dry_run: args.dry_run,
        yes: args.yes,
        progress: !args.quiet && args.format == Format::Text,
    };
    applying::settle(host, &mut report, &how);
    if !report.outcomes.is_empty()
        && args.write_snapshot.is_none()
        && let Some(snap) = host.directory().snapshot()
    {
        report.unsaved_snapshot = Some(crate::ad::Directory::describe(&*snap));
    }
    if report.status == RunStatus::Ok && report.findings.failed() > 0 {
        report.status = RunStatus::ChecksFailed;
    }
    if let Some(path) = &args.write_snapshot {
        match host.directory().snapshot() {
            Some(s) => {
                if let Err(e) = std::fs::write(path, s.to_ldif()) {
                    eprintln!("error: writing {}: {e}", path.display());
                    report.status = RunStatus::Error;
                }
            }
            None => eprintln!(
                "warning: --write-snapshot only works with --snapshot or the demo directory"
            ),
        }
    }
    finish(args, report, started)
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
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    applying::output(&report, args.format, args.report.as_deref(), args.quiet, args.all);
    report.exit_code()
}

//! `dwb apply FILE.json`: a saved plan, applied change for change, each only
//! if its object is still as the plan saw it.

use super::applying;
use super::failure::fail;
use super::session::{Session, Signals};
use crate::cli::ApplyArgs;
use crate::error::{Error, Kind, Result};
use crate::exit;
use crate::host::{Host, RunConfig};
use crate::plan::saved::{self, Saved};
use crate::sources;

/// The plan was made for this directory's domain.
fn check_directory(host: &Host, saved: &Saved) -> Result<()> {
    let Some(want) = &saved.naming_context else { return Ok(()) };
    let dir = host.base_dir()?;
    let have = dir.root_dse()?.default_nc()?;
    let want_dn = crate::directory::Dn::parse(want)?;
    if have != want_dn {
        return Err(Error::new(
            Kind::Config,
            format!(
                "the plan was made for {want} ({}); this directory is {have} ({})",
                saved.directory,
                dir.describe()
            ),
        )
        .with_hint("apply it against the directory it was made for (--ldap-url, --profile)"));
    }
    super::directory_kind::same(
        "the plan was made for",
        &saved.directory,
        &dir.describe(),
        "apply it where it was made: --snapshot FILE, or --ldap-url/--profile",
    )
}

/// The fence of the plan's origin, read against this forest (a plan without
/// directory writes needs no directory); the guards that trip again join the
/// file's refusals, which can only add to them.
fn fence(host: &Host, saved: &mut Saved, args: &ApplyArgs) -> crate::error::Result<()> {
    use crate::writeback::fence;
    let dir = match saved::needs_directory(&saved.plan) {
        true => Some(host.base_dir()?),
        false => None,
    };
    let (config, located) = match &dir {
        Some(d) => fence::read_forest(&**d)?,
        None => (crate::directory::Dn::parse("")?, None),
    };
    let nc = saved.naming_context.as_deref();
    let f = fence::of(&saved.script, &saved.parameters, nc, &config, located.as_ref())?;
    let pinned = args.expect_digest.is_some();
    for t in fence::check_saved(saved, &f, dir.as_deref(), pinned)? {
        if !saved.plan.refusals.iter().any(|r| r.guard == t.guard) {
            saved.plan.refusals.push(t);
        }
    }
    Ok(())
}

/// Runs `dwb apply`; returns the exit code.
pub fn apply(args: &ApplyArgs) -> exit::Code {
    if let Err(e) = super::outputs::check_writable(&args.opts.files()) {
        return fail(&e);
    }
    let saved = match saved::load(&args.file) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let sources = match sources::resolve(&args.conn) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    if let Err(e) =
        crate::writeback::fence::check_settings(&saved.plan, sources.loaded.path.as_deref())
    {
        return fail(&e);
    }
    let config = RunConfig {
        dry_run: args.opts.dry_run,
        script: format!("apply {}", args.file.display()),
        snapshot_result: args.opts.write_snapshot.clone(),
        ..RunConfig::from_loaded(&sources.loaded)
    };
    let session = match Session::open(sources, Signals::Cancel, config) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    run(session.host(), saved, args)
}

fn run(host: &Host, mut saved: Saved, args: &ApplyArgs) -> exit::Code {
    if let Err(e) = check_directory(host, &saved) {
        return fail(&e);
    }
    if let Err(e) = saved.verify(&args.file, args.expect_digest.as_deref()) {
        return fail(&e);
    }
    // The origin's fence, again: a plan edited by hand reaches no further than its script.
    if let Err(e) = fence(host, &mut saved, args) {
        return fail(&e);
    }
    let mut problems = 0;
    let mut warnings = Vec::new();
    for o in &saved.omitted {
        warnings.push(format!("not in the saved plan: {o}"));
    }
    if args.opts.dry_run {
        // What applying would refuse right now.
        let dir = match host.base_dir() {
            Ok(d) => d,
            Err(e) => return fail(&e),
        };
        match saved::check_now(&saved.plan, &*dir) {
            Ok(checks) => {
                for (c, why) in saved.plan.changes.iter().zip(checks) {
                    if let Some(why) = why {
                        problems += 1;
                        warnings.push(format!(
                            "change {} ({} {}) would be refused: {why}",
                            c.id,
                            c.op.verb(),
                            c.op.target()
                        ));
                    }
                }
            }
            Err(e) => return fail(&e),
        }
    }
    // The footer and the question name the file's digest, as `--save-plan` printed it.
    saved.plan.digest = Some(saved.computed.clone());
    let mut report = applying::report(host, saved.plan, &args.opts);
    report.parameters = saved.parameters;
    report.parameters.insert("saved_plan".into(), args.file.display().to_string().into());
    report.parameters.insert("made_by".into(), saved.script.into());
    report.parameters.insert("made_in_run".into(), saved.run_id.into());
    report.parameters.insert("made_at".into(), saved.created.into());
    report.parameters.insert("digest".into(), saved.computed.into());
    for w in warnings {
        crate::errln!("warning: {}", crate::text::visible(&w));
        report.findings.warnings.push(w);
    }
    let code = applying::finish(host, report, &args.opts, problems);
    if code == exit::CHANGES_FAILED && args.opts.dry_run {
        crate::errln!(
            "Some changes would be refused (their objects changed since the plan was made); \
             nothing was applied (--dry-run)."
        );
    } else if code == exit::CHANGES_FAILED {
        crate::errln!(
            "Some changes were refused or failed (their objects changed since the plan was \
             made, or the DC refused them); the others were applied."
        );
    }
    code
}

//! `dwb journal [RUN_ID]`: the runs the profile's journal holds, or one run's
//! changes with their values before and after.

use serde_json::{Value, json};

use super::failure::fail;
use crate::cli::{Conn, Format};
use crate::directory::Attr;
use crate::exit;
use crate::plan::journal::{self, Recorded, Run};
use crate::plan::render::display_value;
use crate::text::visible;

/// Runs `dwb journal`; returns the exit code.
pub fn show(run_id: Option<&str>, format: Format, conn: &Conn) -> exit::Code {
    let path = crate::config::load(conn.config.as_deref(), conn.profile.as_deref())
        .and_then(|l| journal::path_for(l.profile_name.as_deref()));
    let path = match path {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    match run_id {
        None => match journal::read(&path) {
            Ok(runs) => {
                list(&runs, format, &path);
                exit::OK
            }
            Err(e) => fail(&e),
        },
        Some(id) => match journal::find(&path, id) {
            Ok(run) => {
                one(&run, format);
                exit::OK
            }
            Err(e) => unknown_run(&e),
        },
    }
}

/// An error finding a run: no such run (or several) is a usage error, exit 3.
pub(super) fn unknown_run(e: &crate::error::Error) -> exit::Code {
    let code = fail(e);
    match e.kind {
        crate::error::Kind::NotFound | crate::error::Kind::Ambiguous => exit::USAGE,
        _ => code,
    }
}

fn list(runs: &[Run], format: Format, path: &std::path::Path) {
    if format == Format::Json {
        let v: Vec<Value> = runs.iter().map(Run::summary_json).collect();
        crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    if runs.is_empty() {
        crate::outln!("No runs in the journal {}.", path.display());
        return;
    }
    // Box drawing on a terminal, plain columns in a pipe or a file.
    let mut t = crate::text::table();
    t.set_header(["run id", "time", "script", "directory", "applied", "failed", "unconfirmed"]);
    // Ids, times and scripts are copied and grepped whole, and the counts and
    // headers read whole: never wrapped. A long directory (a snapshot's paths)
    // wraps in its own column, never narrower than its header.
    use comfy_table::{ColumnConstraint, Width};
    for i in [0, 1, 2, 4, 5, 6] {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    if let Some(c) = t.column_mut(3) {
        c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(16)));
    }
    for r in runs {
        t.add_row([
            r.run_id.clone(),
            r.time.clone(),
            // dwb's own scripts by name (the JSON keeps `<embedded>/scripts/…`):
            // a site's copy shows its path, so the two stay apart.
            visible(r.script.strip_prefix("<embedded>/scripts/").unwrap_or(&r.script)).into_owned(),
            visible(&super::directory_kind::shown(&r.directory)).into_owned(),
            r.count(Some("applied")).to_string(),
            r.count(Some("failed")).to_string(),
            r.count(None).to_string(),
        ]);
    }
    crate::outln!("{}\nJournal: {}", crate::text::render(&t), path.display());
}

fn values(attrs: &Option<Vec<Attr>>) -> Value {
    match attrs {
        None => Value::Null,
        Some(a) => Value::Object(
            a.iter()
                .map(|x| {
                    let v = x.values.iter().map(|v| display_value(&x.name, v).into()).collect();
                    (x.name.to_string(), Value::Array(v))
                })
                .collect(),
        ),
    }
}

fn change_text(c: &Recorded, out: &mut String) {
    let status = c.status.as_deref().unwrap_or("sent, not confirmed");
    out.push_str(&format!("{:>3}. {:<7} {} [{status}]\n", c.change, c.action, visible(&c.target)));
    if let Some(m) = &c.message {
        out.push_str(&format!("       {}\n", visible(m)));
    }
    let shown = |attrs: &Option<Vec<Attr>>, sign: &str, out: &mut String| {
        for a in attrs.iter().flatten() {
            if a.values.is_empty() {
                out.push_str(&format!("       {sign} {}: (none)\n", a.name));
            }
            for v in &a.values {
                let shown = match a.name.eq_ignore_ascii_case("nTSecurityDescriptor") {
                    true => crate::directory::security::SecurityDescriptor::from_bytes(v)
                        .ok()
                        .and_then(|sd| sd.to_sddl(None).ok())
                        .map(|t| if t.is_empty() { "(no DACL)".to_string() } else { t })
                        .unwrap_or_else(|| display_value(&a.name, v)),
                    false => display_value(&a.name, v),
                };
                let s: String = visible(&shown).chars().take(200).collect();
                out.push_str(&format!("       {sign} {}: {s}\n", a.name));
            }
        }
    };
    shown(&c.before, "before", out);
    shown(&c.after, "after ", out);
}

fn one(run: &Run, format: Format) {
    if format == Format::Json {
        let mut v = run.summary_json();
        let changes: Vec<Value> = run
            .changes
            .iter()
            .map(|c| {
                json!({
                    "change": c.change, "time": c.time, "action": c.action, "target": c.target,
                    "dn": c.dn, "device": c.device, "reason": c.reason,
                    "status": c.status.clone().unwrap_or_else(|| "unconfirmed".into()),
                    "message": c.message, "before": values(&c.before), "after": values(&c.after),
                    "before_exact": c.raw.get("before"), "after_exact": c.raw.get("after"),
                })
            })
            .collect();
        if let Some(o) = v.as_object_mut() {
            o.insert("changes".into(), Value::Array(changes));
        }
        crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let mut out = format!(
        "Run {} at {}: {} on {}\n",
        run.run_id,
        run.time,
        visible(&run.script),
        visible(&super::directory_kind::shown(&run.directory))
    );
    for c in &run.changes {
        change_text(c, &mut out);
    }
    out.push_str(&format!(
        "{} change(s) recorded: {} applied, {} failed, {} unconfirmed. Undo: dwb undo {}\n",
        run.changes.len(),
        run.count(Some("applied")),
        run.count(Some("failed")),
        run.count(None),
        run.run_id
    ));
    crate::out!("{out}");
}

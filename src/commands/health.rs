//! `dwb health`: the last sync round of a profile, judged for a monitor
//! (Nagios/Checkmk-style exit codes: 0 healthy, 1 degraded, 2 unknown).

use serde_json::json;

use crate::cli::{Format, HealthArgs};
use crate::service::{round, status};

/// Runs `dwb health`; returns the exit code.
pub fn health(args: &HealthArgs) -> i32 {
    let profile = match crate::config::load(args.config.as_deref(), args.profile.as_deref()) {
        Ok(l) => l.profile_name,
        Err(e) => {
            let h = status::Health::Unknown(e.to_string());
            return show(args, &h, None, None);
        }
    };
    let path = match status::path_for(profile.as_deref()) {
        Ok(p) => p,
        Err(e) => return show(args, &status::Health::Unknown(e.to_string()), None, None),
    };
    let loaded = status::load(&path);
    let health = match &loaded {
        Ok(s) => status::assess(s.as_ref(), args.max_age, round::now_unix()),
        Err(e) => status::Health::Unknown(e.to_string()),
    };
    let s = loaded.ok().flatten();
    show(args, &health, s.as_ref(), Some(&path))
}

fn show(
    args: &HealthArgs,
    health: &status::Health,
    s: Option<&status::Status>,
    path: Option<&std::path::Path>,
) -> i32 {
    let now = round::now_unix();
    match args.format {
        Format::Json => {
            let v = json!({
                "health": health.as_str(),
                "exit_code": health.exit_code(),
                "reasons": health.reasons(),
                "status_file": path.map(|p| p.display().to_string()),
                "age_s": s.map(|s| now.saturating_sub(s.last.finished_at)),
                "max_age_s": s.and_then(|s| status::allowed_age(s, args.max_age)),
                "status": s,
            });
            crate::commands::print_line(&v.to_string());
        }
        Format::Text => {
            let mut out = health.as_str().to_string();
            if let Some(s) = s {
                let l = &s.last;
                out.push_str(&format!(
                    ": last round {} ({}), {} s ago, {:.1} s; applied {}, failed {}",
                    l.outcome.as_str(),
                    l.mode.as_deref().unwrap_or("-"),
                    now.saturating_sub(l.finished_at),
                    l.duration_ms as f64 / 1000.0,
                    l.changes.applied(),
                    l.changes.failed(),
                ));
                if let Some(t) = s.last_success_at {
                    out.push_str(&format!("; last success {} s ago", now.saturating_sub(t)));
                }
                if let Some(t) = s.last_full_at {
                    out.push_str(&format!("; last full round {} s ago", now.saturating_sub(t)));
                }
            }
            for r in health.reasons() {
                out.push_str(&format!("\n  {}", crate::text::visible(&r)));
            }
            crate::commands::print_line(&out);
        }
    }
    health.exit_code()
}

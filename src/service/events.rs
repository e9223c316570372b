//! The service's log lines: one per round on stderr, with a stable event code
//! a log monitor can match, as text or (`--log-format json`) one JSON object
//! per line. Written with `write!`, never `eprintln!`: a closed stderr must not
//! stop the service.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use super::round::{RoundOutcome, RoundRecord};

pub use super::codes::*;

static JSON: AtomicBool = AtomicBool::new(false);

/// `--log-format json`: every event as one JSON object per line.
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::SeqCst);
}

fn emit(line: String) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// The code of a round's event.
pub fn code_of(r: &RoundRecord) -> &'static str {
    match r.outcome {
        RoundOutcome::Ok => ROUND,
        RoundOutcome::Refused => ROUND_REFUSED,
        RoundOutcome::Failed if r.error_code.as_deref() == Some(CHANGES_FAILED) => CHANGES_FAILED,
        RoundOutcome::Failed => ROUND_FAILED,
    }
}

/// One round's line. `failures` counts failed or refused rounds in a row
/// (this one included); `next` is the pause before the next round.
pub fn round(r: &RoundRecord, failures: u64, next: Option<Duration>) {
    let code = code_of(r);
    if JSON.load(Ordering::SeqCst) {
        emit(
            json!({
                "time": r.finished_at,
                "level": if r.outcome == RoundOutcome::Ok { "info" } else { "error" },
                "code": code,
                "event": "round",
                "outcome": r.outcome.as_str(),
                "mode": r.mode,
                "duration_ms": r.duration_ms,
                "changes": r.changes,
                "in_scope": r.in_scope,
                "skipped": r.skipped,
                "error_code": r.error_code,
                "message": r.message,
                "failures_in_a_row": failures,
                "next_round_s": next.map(|d| d.as_secs()),
            })
            .to_string(),
        );
        return;
    }
    let c = &r.changes;
    let next = next.map(|d| format!("; next round in {} s", d.as_secs())).unwrap_or_default();
    let why = match (&r.error_code, &r.message) {
        (Some(code), Some(m)) => format!("{code} {}", crate::text::visible(m)),
        _ => String::new(),
    };
    let line = match r.outcome {
        RoundOutcome::Ok => format!(
            "round ok ({}, {:.1} s): applied {} (add {}, modify {}, delete {}), failed 0; {} in scope, {} skipped{next}",
            r.mode.as_deref().unwrap_or("-"),
            r.duration_ms as f64 / 1000.0,
            c.applied(),
            c.add_applied,
            c.modify_applied,
            c.delete_applied,
            r.in_scope.unwrap_or(0),
            r.skipped.unwrap_or(0),
        ),
        RoundOutcome::Refused => {
            format!("sync round refused ({failures} in a row), nothing applied: {why}{next}")
        }
        RoundOutcome::Failed if code == CHANGES_FAILED => format!(
            "sync round failed ({failures} in a row): applied {}, failed {}: {why}{next}",
            c.applied(),
            c.failed()
        ),
        RoundOutcome::Failed => format!("sync round failed ({failures} in a row): {why}{next}"),
    };
    emit(format!("[{code}] {line}"));
}

/// A good round after `failures` failed or refused ones.
pub fn recovered(failures: u64) {
    if JSON.load(Ordering::SeqCst) {
        emit(
            json!({
                "time": super::round::now_unix(),
                "level": "info",
                "code": RECOVERED,
                "event": "recovered",
                "after_failed_rounds": failures,
            })
            .to_string(),
        );
    } else {
        emit(format!(
            "[{RECOVERED}] recovered: round ok after {failures} failed or refused round(s)"
        ));
    }
}

/// A device whose changes failed in [`super::backoff::QUARANTINE_AFTER`] rounds in a row.
pub fn quarantined(device: &str, f: &super::backoff::Failing) {
    if JSON.load(Ordering::SeqCst) {
        emit(
            json!({
                "time": super::round::now_unix(),
                "level": "warn",
                "code": QUARANTINED,
                "event": "quarantined",
                "device": device,
                "failures": f.failures,
                "last_error": f.last_error,
                "next_try_at": f.next_try_at,
            })
            .to_string(),
        );
    } else {
        emit(format!(
            "[{QUARANTINED}] device {device} quarantined: its changes failed in {} rounds in a row ({}); still tried, less often",
            f.failures,
            crate::text::visible(&f.last_error)
        ));
    }
}

//! dwb as an always-on service: what each sync round leaves for a monitor —
//! the status file (`dwb health`), the metrics (`--metrics-listen`) and one log
//! line per round with a stable event code.

pub mod backoff;
pub mod codes;
pub mod events;
pub mod round;
pub mod server;
pub mod status;

use std::time::Duration;

use round::{RoundOutcome, RoundRecord};

/// A closed round: what it did, and the devices now quarantined.
pub struct Closed {
    pub record: RoundRecord,
    pub quarantined: Vec<(String, backoff::Failing)>,
}

/// Closes the current round: records it in the profile's status file and the
/// metrics, and (in a watch, `interval` set) logs its line. `error` is the code
/// and message of the error that ended the round; `next` the pause before the
/// next one. A status file that cannot be written is reported, never fatal.
pub fn close_round(
    profile: Option<&str>,
    interval: Option<Duration>,
    error: Option<(String, String)>,
    next: Option<Duration>,
) -> Closed {
    let (record, devices) = round::end(error);
    let saved = status::path_for(profile).and_then(|path| {
        let before = status::load(&path).ok().flatten();
        let had_failures = before.as_ref().map_or(0, |s| s.consecutive_failures);
        let secs = interval.map(|i| i.as_secs());
        let now = status::Status::next(before, profile, secs, record.clone(), &devices);
        if interval.is_some() {
            backoff::remember(&now.failing);
        }
        status::save(&path, &now)?;
        Ok((had_failures, now))
    });
    let (before, failures, quarantined) = match saved {
        Ok((had, now)) => {
            let q = now.quarantined().into_iter().map(|(id, f)| (id.clone(), f.clone())).collect();
            (had, now.consecutive_failures, q)
        }
        Err(e) => {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("warning: the status file was not written: {e}\n"),
            );
            (0, u64::from(record.outcome != RoundOutcome::Ok), Vec::new())
        }
    };
    if interval.is_some() {
        events::round(&record, failures, next);
        let failed_now: Vec<&String> = devices.failed.iter().map(|(id, _)| id).collect();
        for (id, f) in &quarantined {
            if f.failures == backoff::QUARANTINE_AFTER && failed_now.contains(&id) {
                events::quarantined(id, f);
            }
        }
        if record.outcome == RoundOutcome::Ok && before > 0 {
            events::recovered(before);
        }
    }
    Closed { record, quarantined }
}

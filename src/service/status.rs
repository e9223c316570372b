//! The status file a monitor reads: one per profile in dwb's data directory
//! (`status/<profile>.json`), rewritten atomically after every round, kept
//! after the service stops. `dwb health` and `/healthz` judge it with the same
//! rule ([`assess`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::round::{RoundOutcome, RoundRecord};
use crate::error::{Error, Kind, Result};

/// Rounds by outcome since the status file was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rounds {
    pub ok: u64,
    pub failed: u64,
    pub refused: u64,
}

/// What the status file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub version: u32,
    pub profile: Option<String>,
    /// The process that wrote it last.
    pub pid: u32,
    /// The watch interval in seconds; None for a single run (a timer's full sync).
    pub interval_s: Option<u64>,
    pub last: RoundRecord,
    /// When a round last succeeded, and when a full round last did (Unix seconds).
    pub last_success_at: Option<u64>,
    pub last_full_at: Option<u64>,
    /// Failed or refused rounds since the last good one.
    pub consecutive_failures: u64,
    pub rounds: Rounds,
    /// Devices the DC refused in the last rounds, by Entra object id; those
    /// failing [`super::backoff::QUARANTINE_AFTER`] rounds in a row are quarantined.
    #[serde(default)]
    pub failing: super::backoff::FailingDevices,
}

impl Status {
    /// The status after `round`, given the one before it (if any).
    pub fn next(
        before: Option<Status>,
        profile: Option<&str>,
        interval_s: Option<u64>,
        round: RoundRecord,
        devices: &super::round::Devices,
    ) -> Status {
        let mut failing = before.as_ref().map(|s| s.failing.clone()).unwrap_or_default();
        let base = std::time::Duration::from_secs(interval_s.unwrap_or(60).max(1));
        super::backoff::update(
            &mut failing,
            &devices.failed,
            &devices.applied,
            round.finished_at,
            base,
        );
        let mut rounds = before.as_ref().map(|s| s.rounds).unwrap_or_default();
        match round.outcome {
            RoundOutcome::Ok => rounds.ok += 1,
            RoundOutcome::Failed => rounds.failed += 1,
            RoundOutcome::Refused => rounds.refused += 1,
        }
        let ok = round.outcome == RoundOutcome::Ok;
        let full_ok = ok && round.mode.as_deref() == Some("full");
        Status {
            version: 1,
            profile: profile.map(str::to_string),
            pid: std::process::id(),
            interval_s,
            last_success_at: if ok {
                Some(round.finished_at)
            } else {
                before.as_ref().and_then(|s| s.last_success_at)
            },
            last_full_at: if full_ok {
                Some(round.finished_at)
            } else {
                before.as_ref().and_then(|s| s.last_full_at)
            },
            consecutive_failures: if ok {
                0
            } else {
                before.as_ref().map_or(0, |s| s.consecutive_failures) + 1
            },
            rounds,
            failing,
            last: round,
        }
    }

    /// The quarantined devices: (Entra object id, how they fail).
    pub fn quarantined(&self) -> Vec<(&String, &super::backoff::Failing)> {
        self.failing.iter().filter(|(_, f)| f.quarantined()).collect()
    }
}

/// The status file of `profile`.
pub fn path_for(profile: Option<&str>) -> Result<PathBuf> {
    crate::config::profile_file("status", profile, "json")
}

/// Reads a status file; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Status>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::new(Kind::Io, format!("reading {}: {e}", path.display())));
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::new(Kind::Io, format!("{} is not a dwb status file: {e}", path.display()))
    })
}

/// Writes `status` to `path` (atomically; the directory is created).
pub fn save(path: &Path, status: &Status) -> Result<()> {
    if let Some(dir) = path.parent() {
        crate::private::own_dir(dir)
            .map_err(|e| Error::new(Kind::Io, format!("creating {}: {e}", dir.display())))?;
    }
    let text = serde_json::to_vec_pretty(status)
        .map_err(|e| Error::internal(format!("status file: {e}")))?;
    crate::fsutil::write_atomic_private(path, &text)
        .map_err(|e| Error::new(Kind::Io, format!("writing {}: {e}", path.display())))
}

/// A monitor's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// The last round failed or was refused, or it is older than the allowed age.
    Degraded(Vec<String>),
    /// No status (never ran), or it cannot be read.
    Unknown(String),
}

impl Health {
    /// `dwb health`'s exit code: 0 healthy, 1 degraded, 2 unknown (the
    /// Nagios/Checkmk convention, which dwb's own codes 0, 1 and 2 share).
    pub fn exit_code(&self) -> crate::exit::Code {
        match self {
            Health::Healthy => crate::exit::OK,
            Health::Degraded(_) => crate::exit::CHECKS_FAILED,
            Health::Unknown(_) => crate::exit::SCRIPT_ERROR,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded(_) => "degraded",
            Health::Unknown(_) => "unknown",
        }
    }

    pub fn reasons(&self) -> Vec<String> {
        match self {
            Health::Healthy => Vec::new(),
            Health::Degraded(r) => r.clone(),
            Health::Unknown(r) => vec![r.clone()],
        }
    }
}

/// The age after which a status counts as stale: `max_age` when given, else
/// three watch intervals (a single run's status has no default age limit).
pub fn allowed_age(status: &Status, max_age: Option<u64>) -> Option<u64> {
    max_age.or(status.interval_s.map(|i| i.saturating_mul(3)))
}

/// Judges a status at time `now` (Unix seconds).
pub fn assess(status: Option<&Status>, max_age: Option<u64>, now: u64) -> Health {
    let Some(s) = status else {
        return Health::Unknown("no round has been recorded for this profile yet".into());
    };
    let mut reasons = Vec::new();
    match s.last.outcome {
        RoundOutcome::Ok => {}
        RoundOutcome::Failed | RoundOutcome::Refused => reasons.push(format!(
            "the last round {}{}",
            if s.last.outcome == RoundOutcome::Failed { "failed" } else { "was refused" },
            match (&s.last.error_code, &s.last.message) {
                (Some(c), Some(m)) => format!(": {c} {m}"),
                _ => String::new(),
            }
        )),
    }
    let q = s.quarantined();
    if !q.is_empty() {
        let names: Vec<&str> = q.iter().take(5).map(|(id, _)| id.as_str()).collect();
        reasons.push(format!(
            "{} device(s) quarantined after {} or more failed rounds: {}{}",
            q.len(),
            super::backoff::QUARANTINE_AFTER,
            names.join(", "),
            if q.len() > names.len() { ", …" } else { "" }
        ));
    }
    let age = now.saturating_sub(s.last.finished_at);
    if let Some(limit) = allowed_age(s, max_age)
        && age > limit
    {
        reasons.push(format!("the last round ended {age} s ago (more than {limit} s)"));
    }
    if reasons.is_empty() { Health::Healthy } else { Health::Degraded(reasons) }
}

#[cfg(test)]
mod tests {
    use super::super::round::Changes;
    use super::*;

    fn round(outcome: RoundOutcome, finished_at: u64, mode: &str) -> RoundRecord {
        RoundRecord {
            outcome,
            mode: Some(mode.into()),
            started_at: finished_at.saturating_sub(2),
            finished_at,
            duration_ms: 2000,
            changes: Changes::default(),
            in_scope: Some(3),
            skipped: Some(0),
            error_code: (outcome != RoundOutcome::Ok).then(|| "DWB-NET-0001".into()),
            message: (outcome != RoundOutcome::Ok).then(|| "the DC cannot be reached".into()),
        }
    }

    #[test]
    fn rounds_accumulate_and_failures_reset_on_success() {
        let s = Status::next(
            None,
            Some("p"),
            Some(10),
            round(RoundOutcome::Ok, 100, "full"),
            &Default::default(),
        );
        assert_eq!(
            (s.last_success_at, s.last_full_at, s.consecutive_failures),
            (Some(100), Some(100), 0)
        );
        let s = Status::next(
            Some(s),
            Some("p"),
            Some(10),
            round(RoundOutcome::Failed, 110, "delta"),
            &Default::default(),
        );
        let s = Status::next(
            Some(s),
            Some("p"),
            Some(10),
            round(RoundOutcome::Refused, 120, "delta"),
            &Default::default(),
        );
        assert_eq!(s.consecutive_failures, 2);
        assert_eq!(s.rounds, Rounds { ok: 1, failed: 1, refused: 1 });
        assert_eq!(s.last_success_at, Some(100));
        let s = Status::next(
            Some(s),
            Some("p"),
            Some(10),
            round(RoundOutcome::Ok, 130, "delta"),
            &Default::default(),
        );
        assert_eq!(
            (s.last_success_at, s.last_full_at, s.consecutive_failures),
            (Some(130), Some(100), 0)
        );
    }

    #[test]
    fn health_follows_the_last_round_and_its_age() {
        let ok = Status::next(
            None,
            None,
            Some(10),
            round(RoundOutcome::Ok, 100, "full"),
            &Default::default(),
        );
        assert_eq!(assess(Some(&ok), None, 129), Health::Healthy);
        // Three intervals by default, or the limit given.
        assert_eq!(assess(Some(&ok), None, 131).exit_code().as_i32(), 1);
        assert_eq!(assess(Some(&ok), Some(100), 131), Health::Healthy);
        let failed = Status::next(
            Some(ok),
            None,
            Some(10),
            round(RoundOutcome::Failed, 110, "full"),
            &Default::default(),
        );
        let h = assess(Some(&failed), None, 111);
        assert_eq!(h.exit_code().as_i32(), 1);
        assert!(h.reasons()[0].contains("DWB-NET-0001"), "{h:?}");
        let refused = Status::next(
            None,
            None,
            None,
            round(RoundOutcome::Refused, 100, "full"),
            &Default::default(),
        );
        assert_eq!(assess(Some(&refused), None, 10_000).exit_code().as_i32(), 1);
        assert_eq!(assess(None, None, 0).exit_code().as_i32(), 2);
        // A single run's status (no interval) does not go stale by itself.
        let once = Status::next(
            None,
            None,
            None,
            round(RoundOutcome::Ok, 100, "full"),
            &Default::default(),
        );
        assert_eq!(assess(Some(&once), None, 1_000_000), Health::Healthy);
    }

    #[test]
    fn a_status_file_round_trips_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("status").join("p.json");
        assert_eq!(load(&path).unwrap(), None);
        let s = Status::next(
            None,
            Some("p"),
            Some(5),
            round(RoundOutcome::Ok, 100, "full"),
            &Default::default(),
        );
        save(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap(), Some(s));
        std::fs::write(&path, "{not json").unwrap();
        assert!(load(&path).is_err());
    }
}

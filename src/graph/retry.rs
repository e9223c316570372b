//! Retry policy (429/503/504, `Retry-After`, capped exponential backoff with
//! jitter), the observer hook that reports every wait, and the client counters.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::error::{GraphError, Result};
use crate::error::Kind;

/// How the client retries throttled and transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts per request, including the first (default 6).
    pub max_attempts: u32,
    /// Upper bound for a `Retry-After` wait (default 120 s).
    pub max_retry_after: Duration,
    /// First backoff when Graph sends no `Retry-After` (default 1 s).
    pub base_backoff: Duration,
    /// Upper bound for the exponential backoff (default 60 s).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_retry_after: Duration::from_secs(120),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `attempt + 1` (attempt counts from 1) without a
    /// `Retry-After`: `min(max, base * 2^(attempt-1))`, then "equal jitter"
    /// (half fixed, half random) so that parallel clients spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let raw = self.base_backoff.saturating_mul(1u32 << exp).min(self.max_backoff);
        let half = raw / 2;
        let jitter_ms = half.as_millis() as u64;
        let extra = if jitter_ms > 0 { rand::rng().random_range(0..=jitter_ms) } else { 0 };
        half + Duration::from_millis(extra)
    }

    /// Clamp a server-sent `Retry-After` to the configured cap.
    pub fn clamp_retry_after(&self, d: Duration) -> Duration {
        d.min(self.max_retry_after)
    }
}

/// Whether Graph's HTTP `status` says "not now": 429, 503 and 504 are
/// `Kind::Throttled`, and what is retried is what `Kind::is_transient` says.
pub(crate) fn transient_status(status: u16) -> bool {
    let kind = match status {
        429 | 503 | 504 => Kind::Throttled,
        _ => Kind::BadResponse,
    };
    kind.is_transient()
}

/// Parse a `Retry-After` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past means "now" (zero). Returns `None` for garbage.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Some servers send fractional seconds.
    if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() && f >= 0.0 {
            return Some(Duration::from_secs_f64(f.min(86_400.0)));
        }
        return None;
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// One wait before a retry, as reported to a [`GraphObserver`].
#[derive(Debug, Clone)]
pub struct RetryEvent {
    /// The attempt that failed (1 = first).
    pub attempt: u32,
    pub method: &'static str,
    pub url: String,
    /// HTTP status of the failed attempt; `None` for a transport error.
    pub status: Option<u16>,
    /// The raw `Retry-After` header, if sent.
    pub retry_after_header: Option<String>,
    /// The parsed `Retry-After` (before capping), if sent and valid.
    pub retry_after: Option<Duration>,
    /// How long the client actually waited (capped `Retry-After`, or backoff).
    pub wait: Duration,
    /// Why: `"throttled"` (429), `"unavailable"` (503/504), `"server_error"` (500/502,
    /// `$batch` members only), `"network"`, `"unauthorized"`.
    pub cause: &'static str,
}

/// Hook for tests, benchmarks and progress displays. All methods default to no-ops.
pub trait GraphObserver: Send + Sync {
    /// Called just before the client sleeps for a retry (or retries at once after a 401).
    fn on_retry(&self, _event: &RetryEvent) {}
    /// Called before each device-code poll wait.
    fn on_device_code_wait(&self, _wait: Duration) {}
    /// Called after each page is fetched (bytes = body size).
    fn on_page(&self, _url: &str, _bytes: usize) {}
}

/// An observer that records what it sees; handy in tests.
#[derive(Debug, Default)]
pub struct RecordingObserver {
    retries: Mutex<Vec<RetryEvent>>,
    polls: Mutex<Vec<Duration>>,
    pages: Mutex<Vec<(String, usize)>>,
}

impl RecordingObserver {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn retries(&self) -> Vec<RetryEvent> {
        self.retries.lock().map(|v| v.clone()).unwrap_or_default()
    }
    pub fn device_code_waits(&self) -> Vec<Duration> {
        self.polls.lock().map(|v| v.clone()).unwrap_or_default()
    }
    pub fn pages(&self) -> Vec<(String, usize)> {
        self.pages.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl GraphObserver for RecordingObserver {
    fn on_retry(&self, e: &RetryEvent) {
        if let Ok(mut v) = self.retries.lock() {
            v.push(e.clone());
        }
    }
    fn on_device_code_wait(&self, w: Duration) {
        if let Ok(mut v) = self.polls.lock() {
            v.push(w);
        }
    }
    fn on_page(&self, url: &str, bytes: usize) {
        if let Ok(mut v) = self.pages.lock() {
            v.push((url.to_string(), bytes));
        }
    }
}

/// Counters kept by every client (snapshot with [`crate::graph::GraphClient::stats`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub token_requests: AtomicU64,
    pub unauthorized_refreshes: AtomicU64,
    pub pages: AtomicU64,
    pub bytes: AtomicU64,
    pub waited_ms: AtomicU64,
    pub batches: AtomicU64,
    pub batch_members: AtomicU64,
}

impl Counters {
    pub fn bump(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> ClientStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests: l(&self.requests),
            retries: l(&self.retries),
            token_requests: l(&self.token_requests),
            unauthorized_refreshes: l(&self.unauthorized_refreshes),
            pages: l(&self.pages),
            bytes_read: l(&self.bytes),
            total_wait: Duration::from_millis(l(&self.waited_ms)),
            batches: l(&self.batches),
            batch_members: l(&self.batch_members),
        }
    }
}

/// A snapshot of a client's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent to Graph and the token endpoint (each attempt counts).
    pub requests: u64,
    /// Retries after 429/503/504/network errors, and re-sent `$batch` members.
    pub retries: u64,
    /// Token endpoint requests (client credentials, refresh, device-code polls).
    pub token_requests: u64,
    /// Times a 401 from Graph caused a token refresh.
    pub unauthorized_refreshes: u64,
    /// Collection pages read.
    pub pages: u64,
    /// Response body bytes read.
    pub bytes_read: u64,
    /// Total time spent waiting before retries.
    pub total_wait: Duration,
    /// `$batch` requests sent (one per batch; its HTTP attempts count in `requests`).
    pub batches: u64,
    /// Requests sent inside batches (a re-sent throttled member counts again).
    pub batch_members: u64,
}

/// Sleep unless cancelled.
pub(crate) async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> Result<()> {
    announce_long_wait(d, SystemTime::now());
    if d.is_zero() {
        if cancel.is_cancelled() {
            return Err(GraphError::cancelled());
        }
        return Ok(());
    }
    tokio::select! {
        _ = cancel.cancelled() => Err(GraphError::cancelled()),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

/// Waits longer than this are announced on stderr: a run that stops for minutes
/// on Graph's say-so says so, with the time it resumes.
pub const ANNOUNCE_WAIT: Duration = Duration::from_secs(30);

/// The line announcing a wait of `d` from `now`, if it is long enough to need one.
pub fn long_wait_line(d: Duration, now: SystemTime) -> Option<String> {
    (d > ANNOUNCE_WAIT).then(|| {
        format!(
            "dwb: Graph asked to wait (Retry-After or back-off): {} s, resuming at {}",
            d.as_secs(),
            httpdate::fmt_http_date(now + d)
        )
    })
}

fn announce_long_wait(d: Duration, now: SystemTime) {
    if let Some(line) = long_wait_line(d, now) {
        use std::io::Write as _;
        // A closed stderr is no reason to fail (or panic) the wait.
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_waits_are_announced_with_the_time_they_end() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(long_wait_line(Duration::from_secs(30), now), None);
        let line = long_wait_line(Duration::from_secs(120), now).unwrap();
        assert!(line.contains("120 s, resuming at Sun, 09 Sep 2001 01:48:40 GMT"), "{line}");
    }

    #[test]
    fn only_throttling_statuses_are_transient() {
        for s in [429, 503, 504] {
            assert!(transient_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 410, 500, 502] {
            assert!(!transient_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = now + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(later), now).unwrap_or_default();
        assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(29), "{d:?}");
        let past = now - Duration::from_secs(30);
        assert_eq!(parse_retry_after(&httpdate::fmt_http_date(past), now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
            ..Default::default()
        };
        for attempt in 1..12 {
            let b = p.backoff(attempt);
            let raw = Duration::from_millis((100u64 << (attempt - 1).min(20)).min(800));
            assert!(b >= raw / 2 && b <= raw, "attempt {attempt}: {b:?} vs {raw:?}");
        }
    }
}

//! Write pacing: `[writeback] max_writes_per_second` (or sync's
//! `--param max_writes_per_second`) caps how fast writes are sent to a DC, so a
//! large initial load does not crowd out the DC's other work. One rate for the
//! process; unlimited unless set. The writes still go out pipelined; only
//! their start times are spaced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Writes per second × 1000 (0 = unlimited).
static MILLI_RATE: AtomicU64 = AtomicU64::new(0);

/// Sets the rate (writes per second; 0 or less = unlimited).
pub fn set_max_writes_per_second(rate: f64) {
    let milli = if rate.is_finite() && rate > 0.0 { (rate * 1000.0).round().max(1.0) } else { 0.0 };
    MILLI_RATE.store(milli as u64, Ordering::SeqCst);
}

/// The rate in force, if any.
pub fn max_writes_per_second() -> Option<f64> {
    match MILLI_RATE.load(Ordering::SeqCst) {
        0 => None,
        m => Some(m as f64 / 1000.0),
    }
}

/// Spaces the starts of a batch of writes at the rate in force.
pub struct Pacer {
    every: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer at the current rate, or None when writes are not paced.
    pub fn current() -> Option<Pacer> {
        max_writes_per_second().map(Pacer::at)
    }

    pub fn at(rate: f64) -> Pacer {
        Pacer { every: Duration::from_secs_f64(1.0 / rate.max(0.001)), next: None }
    }

    /// Waits until the next write may start.
    pub async fn wait(&mut self) {
        let now = Instant::now();
        let at = self.next.map_or(now, |t| t.max(now));
        tokio::time::sleep_until(at).await;
        self.next = Some(at + self.every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Virtual time: the starts are spaced exactly, whatever the machine's speed.
    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_at_the_rate() {
        let mut p = Pacer::at(20.0);
        let t0 = Instant::now();
        for _ in 0..41 {
            p.wait().await;
        }
        assert_eq!(Instant::now() - t0, Duration::from_secs(2));
    }

    #[test]
    fn the_rate_is_unlimited_unless_set() {
        assert_eq!(max_writes_per_second(), None);
        set_max_writes_per_second(2.5);
        assert_eq!(max_writes_per_second(), Some(2.5));
        set_max_writes_per_second(0.0);
        assert_eq!(max_writes_per_second(), None);
    }
}

//! Process metrics in the Prometheus format: what a service's monitor scrapes
//! from `--metrics-listen` (`GET /metrics`). Counted wherever the event
//! happens (applying, the Graph client, the end of a round) into one
//! process-wide registry, so the code that counts knows nothing of HTTP; this
//! module depends on nothing else of dwb and may be used from any layer.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabel {
    op: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;

struct Metrics {
    registry: Registry,
    rounds: Family<OutcomeLabel, Counter>,
    last_success: F64Gauge,
    last_full: F64Gauge,
    round_duration: F64Gauge,
    changes: Family<ChangeLabel, Counter>,
    devices: Family<StateLabel, Gauge>,
    graph_requests: Family<CodeLabel, Counter>,
    throttled: Counter<f64, AtomicU64>,
    delta_token_age: F64Gauge,
}

fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let mut registry = Registry::default();
        let m = Metrics {
            rounds: Family::default(),
            last_success: F64Gauge::default(),
            last_full: F64Gauge::default(),
            round_duration: F64Gauge::default(),
            changes: Family::default(),
            devices: Family::default(),
            graph_requests: Family::default(),
            throttled: Counter::default(),
            delta_token_age: F64Gauge::default(),
            registry: Registry::default(),
        };
        // Counters get their `_total` suffix from the exposition format.
        registry.register(
            "dwb_rounds",
            "Sync rounds by outcome (ok, failed, refused)",
            m.rounds.clone(),
        );
        registry.register(
            "dwb_last_success_timestamp_seconds",
            "When a sync round last succeeded (Unix time)",
            m.last_success.clone(),
        );
        registry.register(
            "dwb_last_full_round_timestamp_seconds",
            "When a full sync round last succeeded (Unix time)",
            m.last_full.clone(),
        );
        registry.register(
            "dwb_round_duration_seconds",
            "How long the last sync round took",
            m.round_duration.clone(),
        );
        registry.register(
            "dwb_changes",
            "Directory changes by operation (add, modify, delete) and result (applied, failed)",
            m.changes.clone(),
        );
        registry.register(
            "dwb_devices",
            "Devices of the last sync: written back (in_scope) or skipped",
            m.devices.clone(),
        );
        registry.register(
            "dwb_graph_requests",
            "Microsoft Graph responses by HTTP status (\"network\": no response)",
            m.graph_requests.clone(),
        );
        registry.register(
            "dwb_graph_throttled_seconds",
            "Time spent waiting for Graph after 429/503/504 (Retry-After or back-off)",
            m.throttled.clone(),
        );
        registry.register(
            "dwb_delta_token_age_seconds",
            "Age of the delta token the last delta round used (Graph expires them after 7 days)",
            m.delta_token_age.clone(),
        );
        Metrics { registry, ..m }
    })
}

/// Counts `n` directory changes: `op` is add, modify or delete; `result`
/// applied or failed.
pub fn changes(op: &'static str, result: &'static str, n: u64) {
    if n > 0 {
        metrics().changes.get_or_create(&ChangeLabel { op, result }).inc_by(n);
    }
}

/// Counts a finished round; `outcome` is ok, failed or refused.
pub fn round(outcome: &'static str, duration_s: f64, finished_at: u64, full: bool) {
    let m = metrics();
    m.rounds.get_or_create(&OutcomeLabel { outcome }).inc();
    m.round_duration.set(duration_s);
    if outcome == "ok" {
        m.last_success.set(finished_at as f64);
        if full {
            m.last_full.set(finished_at as f64);
        }
    }
}

/// The last sync's device counts.
pub fn devices(in_scope: u64, skipped: u64) {
    let m = metrics();
    m.devices.get_or_create(&StateLabel { state: "in_scope" }).set(in_scope as i64);
    m.devices.get_or_create(&StateLabel { state: "skipped" }).set(skipped as i64);
}

/// A Graph response with HTTP `status` (None: no response at all).
pub fn graph_request(status: Option<u16>) {
    let code = status.map_or_else(|| "network".to_string(), |s| s.to_string());
    metrics().graph_requests.get_or_create(&CodeLabel { code }).inc();
}

/// Time waited because Graph throttled or was unavailable.
pub fn graph_throttled(seconds: f64) {
    metrics().throttled.inc_by(seconds);
}

/// The age of the delta token a round used.
pub fn delta_token_age(seconds: f64) {
    metrics().delta_token_age.set(seconds);
}

/// Every metric in the text exposition format (OpenMetrics, which Prometheus reads).
pub fn encode() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &metrics().registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample line that starts with `prefix`.
    fn sample(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    #[test]
    fn counts_appear_in_the_exposition_under_their_documented_names() {
        changes("modify", "applied", 2);
        changes("delete", "applied", 1);
        changes("add", "failed", 0); // zero adds no series
        round("refused", 0.5, 1_700_000_000, true);
        graph_request(Some(429));
        graph_request(None);
        graph_throttled(1.5);
        devices(20, 1);
        let text = encode();
        assert!(
            sample(&text, "dwb_changes_total{op=\"modify\",result=\"applied\"}").unwrap() >= 2.0,
            "{text}"
        );
        assert!(
            sample(&text, "dwb_changes_total{op=\"delete\",result=\"applied\"}").unwrap() >= 1.0
        );
        assert!(sample(&text, "dwb_rounds_total{outcome=\"refused\"}").unwrap() >= 1.0);
        assert!(sample(&text, "dwb_graph_requests_total{code=\"429\"}").unwrap() >= 1.0);
        assert!(sample(&text, "dwb_graph_requests_total{code=\"network\"}").unwrap() >= 1.0);
        assert!(sample(&text, "dwb_graph_throttled_seconds_total").unwrap() >= 1.5);
        assert_eq!(sample(&text, "dwb_devices{state=\"in_scope\"}"), Some(20.0));
        assert!(text.contains("# TYPE dwb_last_success_timestamp_seconds gauge"), "{text}");
        assert!(text.contains("# TYPE dwb_delta_token_age_seconds gauge"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"));
    }
}

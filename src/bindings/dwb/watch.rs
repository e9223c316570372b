//! `dwb::every(seconds, round)`: the watch loop of `sync --param watch=N`. A
//! round that fails (the DC unreachable, Graph down after its retries) is
//! logged and retried after a growing pause instead of ending writeback; a
//! Ctrl-C or SIGTERM lets the round in progress finish and then ends the loop
//! (a second one interrupts at once): Ctrl-C with exit 130, SIGTERM with 0.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, FnPtr, Module, NativeCallContext};

use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::host::Host;

/// The longest pause after failed rounds.
const MAX_BACKOFF: Duration = Duration::from_secs(900);

/// An error's code and message as scripts see them (dwb's error maps).
fn code_and_message(e: &EvalAltResult) -> (String, String) {
    if let EvalAltResult::ErrorRuntime(v, _) = e
        && let Some(m) = v.read_lock::<rhai::Map>()
        && let Some(msg) = m.get("message")
    {
        let code = m.get("code").map(|c| c.to_string()).unwrap_or_else(|| "DWB-SCRIPT-0100".into());
        return (code, msg.to_string());
    }
    if let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = e {
        return code_and_message(inner);
    }
    ("DWB-SCRIPT-0100".into(), e.to_string())
}

fn is_cancelled(e: &EvalAltResult) -> bool {
    matches!(e, EvalAltResult::ErrorTerminated(..))
        || matches!(e, EvalAltResult::ErrorRuntime(v, _)
            if v.read_lock::<rhai::Map>().is_some_and(|m| m.get("kind").is_some_and(|k| k.to_string() == "cancelled")))
        || matches!(e, EvalAltResult::ErrorInFunctionCall(_, _, inner, _) if is_cancelled(inner))
}

/// Waits `d`, returning early (false) when a stop was asked for.
fn pause(host: &Host, d: Duration) -> bool {
    // A pause beyond what a clock can count (`watch=9223372036854775807`)
    // lasts until the stop: adding it to now would overflow.
    let until = Instant::now().checked_add(d);
    while until.is_none_or(|u| Instant::now() < u) {
        if host.cancel().stop_requested() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    !host.cancel().stop_requested()
}

fn every(ctx: &NativeCallContext, host: &Host, seconds: i64, round: &FnPtr) -> RhaiResult<()> {
    let interval = Duration::from_secs(seconds.max(1) as u64);
    let cancel = host.cancel().clone();
    cancel.watching.store(true, std::sync::atomic::Ordering::SeqCst);
    let profile = host.profile.as_deref();
    let mut failures: u32 = 0;
    loop {
        host.check_cancelled().rhai()?;
        crate::service::round::begin();
        // The report and memory hold the last round's output and warnings, not
        // those of every round since the service started.
        if let Ok(mut f) = host.findings.lock() {
            *f = Default::default();
        }
        let wait = match round.call_within_context::<Dynamic>(ctx, ()) {
            Ok(_) => {
                failures = 0;
                let closed =
                    crate::service::close_round(profile, Some(interval), None, Some(interval));
                if let Ok(mut f) = host.findings.lock() {
                    let q: Vec<serde_json::Value> = closed
                        .quarantined
                        .iter()
                        .map(|(id, f)| serde_json::json!({"device": id, "failing": f}))
                        .collect();
                    f.data.insert("quarantined".into(), q.into());
                }
                interval
            }
            Err(e) if is_cancelled(&e) || host.cancel().is_cancelled() => return Err(e),
            Err(e) => {
                failures += 1;
                // Whatever the failed round planned is dropped, never applied later.
                if let Ok(mut p) = host.plan.lock() {
                    *p = Default::default();
                }
                let wait = interval
                    .saturating_mul(2u32.saturating_pow(failures - 1))
                    .min(MAX_BACKOFF.max(interval));
                let error = Some(code_and_message(&e));
                crate::service::close_round(profile, Some(interval), error, Some(wait));
                wait
            }
        };
        if !pause(host, wait) {
            break;
        }
    }
    crate::errln!("watch stopped between rounds");
    if host.cancel().stopped_by_interrupt() {
        // Ctrl-C is an interrupt whatever it found in flight: exit 130, as
        // scripts and shells expect; a service manager's SIGTERM is a clean stop.
        return Err(crate::error::Error::new(
            crate::error::Kind::Cancelled,
            "watch stopped by Ctrl-C between rounds",
        ))
        .rhai();
    }
    Ok(())
}

/// Graph expires a delta token it has not seen for 7 days (its docs; 410 or
/// 400 `syncStateNotFound`): a full round comes well before that, whatever the
/// interval asked for.
const MAX_FULL_EVERY: u64 = 6 * 24 * 3600;

/// Whether a watch's next round should be full: none yet for this profile, or
/// the last one ended `seconds` (at most 6 days) ago or earlier.
fn full_round_due(host: &Host, seconds: i64) -> bool {
    let every = (seconds.max(0) as u64).min(MAX_FULL_EVERY);
    let last = crate::service::status::path_for(host.profile.as_deref())
        .and_then(|p| crate::service::status::load(&p))
        .ok()
        .flatten()
        .and_then(|s| s.last_full_at);
    match last {
        Some(t) => crate::service::round::now_unix().saturating_sub(t) >= every,
        None => true,
    }
}

/// Adds `dwb::every`, `dwb::full_round_due` and `dwb::max_writes_per_second`
/// to the `dwb::` module.
pub(super) fn register(m: &mut Module, host: Arc<Host>) {
    let h = host.clone();
    bind!(
        /// True when a watch's next round should be a full one: no full round has succeeded for this profile yet, or the last one (the status file's `last_full_at`) ended `seconds` ago or earlier — at most 6 days, so a full round always comes before Graph expires a delta token (7 days). Delta rounds do not see changes of registered owners or users (Graph does not track navigation properties in delta), so only full rounds bound that drift.
        /// # Example
        /// ```rhai
        /// let mode = if dwb::full_round_due(86400) { "full" } else { "delta" };
        /// ```
        /// # Errors
        /// None: a missing or unreadable status file means a full round is due.
        m,
        "full_round_due",
        ["seconds"],
        move |seconds: i64| full_round_due(&h, seconds),
    );
    bind!(
        /// Caps how many directory writes per second the rest of the run sends to the DC (`0`: unlimited, the default; the profile's `[writeback] max_writes_per_second` sets it for every run). For large initial loads on production DCs.
        /// # Example
        /// ```rhai
        /// dwb::max_writes_per_second(50);
        /// ```
        /// # Errors
        /// `invalid_argument` for a negative rate.
        m,
        "max_writes_per_second",
        ["rate"],
        |rate: i64| -> RhaiResult<()> {
            if rate < 0 {
                return Err(crate::error::Error::invalid_argument(format!(
                    "dwb::max_writes_per_second: the rate must be 0 (unlimited) or more, got {rate}"
                )))
                .rhai();
            }
            crate::ad::ldap::pace::set_max_writes_per_second(rate as f64);
            Ok(())
        },
    );
    bind!(
        /// Runs `round` (a closure) every `seconds` until Ctrl-C or SIGTERM, which let the round in progress finish and end the loop (a second signal interrupts at once). A round that throws — the DC unreachable, Graph down after its retries — is logged as a warning, whatever it planned is dropped, and the next round comes after a pause that doubles with each failure in a row (at most 15 minutes).
        /// # Example
        /// ```rhai
        /// dwb::every(60, || {
        ///     writeback::sync_devices(#{});
        ///     let done = plan::apply();
        ///     print(`applied ${done.applied}, failed ${done.failed}`);
        /// });
        /// ```
        /// # Errors
        /// `cancelled` when interrupted by a second Ctrl-C.
        m,
        "every",
        ["seconds", "round"],
        move |ctx: NativeCallContext, seconds: i64, round: FnPtr| {
            every(&ctx, &host, seconds, &round)
        },
    );
}

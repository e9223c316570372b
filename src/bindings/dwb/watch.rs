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

/// An error's message as scripts see it (the `message` of dwb's error maps).
fn message(e: &EvalAltResult) -> String {
    if let EvalAltResult::ErrorRuntime(v, _) = e
        && let Some(m) = v.read_lock::<rhai::Map>()
        && let Some(msg) = m.get("message")
    {
        return msg.to_string();
    }
    e.to_string()
}

fn is_cancelled(e: &EvalAltResult) -> bool {
    matches!(e, EvalAltResult::ErrorTerminated(..))
        || matches!(e, EvalAltResult::ErrorRuntime(v, _)
            if v.read_lock::<rhai::Map>().is_some_and(|m| m.get("kind").is_some_and(|k| k.to_string() == "cancelled")))
        || matches!(e, EvalAltResult::ErrorInFunctionCall(_, _, inner, _) if is_cancelled(inner))
}

/// Waits `d`, returning early (false) when a stop was asked for.
fn pause(host: &Host, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
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
    let mut failures: u32 = 0;
    loop {
        host.check_cancelled().rhai()?;
        match round.call_within_context::<Dynamic>(ctx, ()) {
            Ok(_) => failures = 0,
            Err(e) if is_cancelled(&e) || host.cancel().is_cancelled() => return Err(e),
            Err(e) => {
                failures += 1;
                // Whatever the failed round planned is dropped, never applied later.
                if let Ok(mut p) = host.plan.lock() {
                    *p = Default::default();
                }
                let wait =
                    (interval * 2u32.saturating_pow(failures - 1)).min(MAX_BACKOFF.max(interval));
                host.warn(&format!(
                    "sync round failed ({failures} in a row): {}; next round in {} s",
                    message(&e),
                    wait.as_secs()
                ));
                if !pause(host, wait) {
                    break;
                }
                continue;
            }
        }
        if !pause(host, interval) {
            break;
        }
    }
    eprintln!("watch stopped between rounds");
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

/// Adds `dwb::every` to the `dwb::` module.
pub(super) fn register(m: &mut Module, host: Arc<Host>) {
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

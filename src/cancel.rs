//! Ctrl-C and the bridge from dwb's synchronous world (scripts, the `Directory`
//! trait) to the async clients (LDAP, Graph): one flag the script engine polls,
//! one token every await races, and `Blocking::block_on` to run a future from
//! a thread that is not a runtime worker.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

use crate::error::{Error, Kind, Result};

/// Ctrl-C state: a flag the script engine polls and a token every await races.
/// A watch loop asks for a softer stop: the first Ctrl-C or SIGTERM lets the
/// round in progress finish and ends the loop; a second one interrupts.
#[derive(Clone, Default)]
pub struct Cancel {
    pub flag: Arc<AtomicBool>,
    pub token: CancellationToken,
    /// Set while a watch loop runs: signals then stop between rounds.
    pub watching: Arc<AtomicBool>,
    /// A stop between rounds was asked for.
    pub stop: Arc<AtomicBool>,
    /// That stop came from Ctrl-C (SIGINT), which ends the run with 130; a
    /// SIGTERM (a service manager's stop) ends it with 0.
    pub stop_was_interrupt: Arc<AtomicBool>,
}

/// The signal that asked dwb to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Cancel {
    /// A Ctrl-C or SIGTERM: between rounds in a watch loop, at once otherwise.
    pub fn signal(&self, signal: Signal) {
        if self.watching.load(Ordering::SeqCst) && !self.stop.swap(true, Ordering::SeqCst) {
            self.stop_was_interrupt.store(signal == Signal::Interrupt, Ordering::SeqCst);
            crate::errln!("stopping after this round (Ctrl-C again stops at once)");
        } else {
            self.cancel();
        }
    }

    /// True once a stop between rounds (or an interrupt) was asked for.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.is_cancelled()
    }
    /// True when the stop between rounds was asked for with Ctrl-C.
    pub fn stopped_by_interrupt(&self) -> bool {
        self.stop_was_interrupt.load(Ordering::SeqCst)
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Stops what runs now without ending the process: sets the flag the
    /// engine polls and blocking calls race, never the token (a cancelled token
    /// stays cancelled, and the REPL's next line must be able to run).
    pub fn interrupt(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Clears an [`interrupt`](Cancel::interrupt), before the REPL's next line.
    pub fn clear_interrupt(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Errors with `Cancelled` once Ctrl-C was pressed.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() { Err(Error::new(Kind::Cancelled, "interrupted")) } else { Ok(()) }
    }
}

/// Runs futures on dwb's runtime from the calling (non-runtime) thread, racing Ctrl-C.
#[derive(Clone)]
pub struct Blocking {
    runtime: Option<tokio::runtime::Handle>,
    pub cancel: Cancel,
}

impl Blocking {
    pub fn new(runtime: Option<tokio::runtime::Handle>, cancel: Cancel) -> Blocking {
        Blocking { runtime, cancel }
    }

    /// The runtime, for clients that drive their own futures on it (LDAP).
    pub fn handle(&self) -> Result<&tokio::runtime::Handle> {
        self.runtime.as_ref().ok_or_else(|| Error::internal("no async runtime in this context"))
    }

    pub fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let token = self.cancel.token.clone();
        let flag = self.cancel.flag.clone();
        self.handle()?.block_on(async move {
            tokio::select! {
                r = fut => r,
                _ = token.cancelled() => Err(Error::new(Kind::Cancelled, "interrupted")),
                _ = flagged(flag) => Err(Error::new(Kind::Cancelled, "interrupted")),
            }
        })
    }
}

/// Ends once `flag` is set: an [`interrupt`](Cancel::interrupt) sets only the
/// flag, so awaits poll it too (every 50 ms: no one notices the wait).
async fn flagged(flag: Arc<AtomicBool>) {
    while !flag.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Turns Ctrl-C and SIGTERM into [`Cancel::signal`] for the rest of the process.
pub fn listen(rt: &tokio::runtime::Runtime, cancel: Cancel) {
    rt.spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let got = match term.as_mut() {
                Some(t) => tokio::select! {
                    r = tokio::signal::ctrl_c() => r.is_ok().then_some(Signal::Interrupt),
                    r = t.recv() => r.is_some().then_some(Signal::Terminate),
                },
                None => tokio::signal::ctrl_c().await.is_ok().then_some(Signal::Interrupt),
            };
            #[cfg(not(unix))]
            let got = tokio::signal::ctrl_c().await.is_ok().then_some(Signal::Interrupt);
            let Some(signal) = got else { break };
            cancel.signal(signal);
        }
    });
}

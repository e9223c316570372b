//! One run session: every command that reaches a directory or a tenant (`run`,
//! `apply`, `undo`, `explain`, `repl`, `snapshot`) opens it the same way —
//! resolved sources, the async runtime, the host, the Ctrl-C listener — and
//! closes it the same way, on every path out (it is closed when dropped).

use std::sync::Arc;
use std::time::Duration;

use crate::cancel::{Blocking, Cancel};
use crate::error::{Error, Result};
use crate::host::{Host, RunConfig};
use crate::sources::{DeviceSlot, DirectorySlot, Sources};

/// How long closing waits for the runtime's tasks to end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether Ctrl-C and SIGTERM cancel the session's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signals {
    /// Cancel: blocking calls end with "interrupted", the exit code is 130.
    Cancel,
    /// The REPL's: Ctrl-C stops the evaluation in progress and nothing else
    /// ([`Cancel::interrupt`]); the line editor reads Ctrl-C at the prompt itself
    /// (the terminal is raw then), and a cancelled token would stay cancelled
    /// for every later line.
    Evaluation,
}

/// An open session: the host every binding shares, on its own runtime.
pub struct Session {
    host: Arc<Host>,
    /// `None` only while closing.
    rt: Option<tokio::runtime::Runtime>,
}

impl Session {
    /// Opens a session on `sources`, configured once as `config` says
    /// (start from `RunConfig::from_loaded(&sources.loaded)`).
    pub fn open(sources: Sources, signals: Signals, config: RunConfig) -> Result<Session> {
        let rt = runtime()?;
        let host = Arc::new(new_host(sources, &rt, config));
        match signals {
            Signals::Cancel => crate::cancel::listen(&rt, host.cancel().clone()),
            Signals::Evaluation => {
                let cancel = host.cancel().clone();
                rt.spawn(async move {
                    while tokio::signal::ctrl_c().await.is_ok() {
                        cancel.interrupt();
                    }
                });
            }
        }
        Ok(Session { host, rt: Some(rt) })
    }

    /// The session's host.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// Starts something on the session's runtime that the run keeps beside it
    /// (a listener); it ends when the session closes.
    pub fn with_runtime(&self, start: impl FnOnce(&tokio::runtime::Runtime)) {
        if let Some(rt) = &self.rt {
            start(rt);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The demo's changes are kept (and its lock released) before anything ends.
        self.host.directory().close();
        // Wait (briefly) for the workers to drop their tasks before the process exits:
        // a Kerberos connection's task frees its GSSAPI context when dropped, and MIT's
        // library destructors, run by exit(), must not race it (an abort in k5_mutex_lock).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(CLOSE_TIMEOUT);
        }
    }
}

/// The run context on `rt`: the decided sources, opened lazily.
fn new_host(sources: Sources, rt: &tokio::runtime::Runtime, config: RunConfig) -> Host {
    let blocking = Blocking::new(Some(rt.handle().clone()), Cancel::default());
    let directory = DirectorySlot::new(sources.directory, blocking.clone());
    let devices = DeviceSlot::new(sources.devices, blocking.cancel.token.clone());
    Host::new(directory, devices, blocking, config)
}

/// A multi-thread runtime for the LDAP and Graph clients (scripts run on the
/// calling thread and block on it).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the async runtime: {e}")))
}

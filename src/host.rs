//! The run context every binding shares: the directory (connected lazily, seen
//! through the pending plan), the plan itself, what the run reports, and the
//! cancellation state. One `Host` per `dwb run`, REPL session or test.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio_util::sync::CancellationToken;

use crate::ad::Directory;
use crate::error::{Error, Kind, Result};
use crate::plan::Plan;
use crate::plan::view::PlannedView;
use crate::report::Findings;
use crate::sources::SourceMap;

/// Opens the directory when a script first needs it.
pub type Connector = Box<dyn Fn() -> Result<Arc<dyn Directory>> + Send + Sync>;

/// Where `print` output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintTo {
    Stdout,
    /// Keeps stdout clean for `--format json`.
    Stderr,
    /// Only recorded (tests, docs).
    Nowhere,
}

/// Ctrl-C state: a flag the script engine polls and a token every await races.
#[derive(Clone, Default)]
pub struct Cancel {
    pub flag: Arc<AtomicBool>,
    pub token: CancellationToken,
}

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// The shared run context.
pub struct Host {
    connector: Connector,
    dir: OnceLock<std::result::Result<Arc<PlannedView>, Error>>,
    pub plan: Arc<Mutex<Plan>>,
    pub findings: Mutex<Findings>,
    pub dry_run: bool,
    pub cancel: Cancel,
    pub runtime: Option<tokio::runtime::Handle>,
    pub sources: Arc<Mutex<SourceMap>>,
    /// A site directory whose `stdlib/` overrides the embedded one.
    pub site_dir: Option<PathBuf>,
    pub print_to: PrintTo,
    pub graph: crate::bindings::graph::GraphSlot,
}

impl Host {
    pub fn new(connector: Connector) -> Host {
        Host {
            connector,
            dir: OnceLock::new(),
            plan: Arc::new(Mutex::new(Plan::default())),
            findings: Mutex::new(Findings::default()),
            dry_run: false,
            cancel: Cancel::default(),
            runtime: None,
            sources: Arc::new(Mutex::new(SourceMap::default())),
            site_dir: None,
            print_to: PrintTo::Stdout,
            graph: Default::default(),
        }
    }

    /// A host with no directory (for `check`, `docs`, completion).
    pub fn offline() -> Host {
        Host::new(Box::new(|| Err(Error::new(Kind::Config, "no directory is available here"))))
    }

    /// The directory as it will be after the plan (connects on first use).
    pub fn dir(&self) -> Result<Arc<PlannedView>> {
        self.dir
            .get_or_init(|| (self.connector)().map(|d| Arc::new(PlannedView::new(d, self.plan.clone()))))
            .clone()
    }

    /// The directory without the plan laid over it (for applying).
    pub fn base_dir(&self) -> Result<Arc<dyn Directory>> {
        Ok(self.dir()?.base().clone())
    }

    /// True when a directory was opened during the run.
    pub fn dir_opened(&self) -> bool {
        self.dir.get().is_some_and(|d| d.is_ok())
    }

    /// Errors with `Cancelled` once Ctrl-C was pressed.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancel.is_cancelled() { Err(Error::new(Kind::Cancelled, "interrupted")) } else { Ok(()) }
    }

    /// Runs a future on dwb's runtime from the (non-runtime) script thread,
    /// racing Ctrl-C.
    pub fn block_on<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let rt = self.runtime.clone().ok_or_else(|| Error::internal("no async runtime in this context"))?;
        let token = self.cancel.token.clone();
        rt.block_on(async move {
            tokio::select! {
                r = fut => r,
                _ = token.cancelled() => Err(Error::new(Kind::Cancelled, "interrupted")),
            }
        })
    }
}

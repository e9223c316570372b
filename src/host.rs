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
    /// The site configuration file and profile (settings changes are written there).
    pub config_file: Option<PathBuf>,
    pub profile: Option<String>,
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
            config_file: None,
            profile: None,
        }
    }

    /// A host with no directory (for `check`, `docs`, completion).
    pub fn offline() -> Host {
        Host::new(Box::new(|| Err(Error::new(Kind::Config, "no directory is available here"))))
    }

    /// The directory as it will be after the plan (connects on first use).
    pub fn dir(&self) -> Result<Arc<PlannedView>> {
        self.dir
            .get_or_init(|| {
                (self.connector)().map(|d| Arc::new(PlannedView::new(d, self.plan.clone())))
            })
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
        if self.cancel.is_cancelled() {
            Err(Error::new(Kind::Cancelled, "interrupted"))
        } else {
            Ok(())
        }
    }

    /// Runs a future on dwb's runtime from the (non-runtime) script thread,
    /// racing Ctrl-C.
    pub fn block_on<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let rt = self
            .runtime
            .clone()
            .ok_or_else(|| Error::internal("no async runtime in this context"))?;
        let token = self.cancel.token.clone();
        rt.block_on(async move {
            tokio::select! {
                r = fut => r,
                _ = token.cancelled() => Err(Error::new(Kind::Cancelled, "interrupted")),
            }
        })
    }
}

impl Host {
    /// Applies the pending plan now (REPL `:apply`, `plan::apply()` in watch loops)
    /// and clears it. Returns the plan and its outcomes.
    pub fn apply_pending(&self) -> Result<(Plan, Vec<crate::plan::Outcome>)> {
        let plan = std::mem::take(
            &mut *self.plan.lock().map_err(|_| Error::internal("plan lock poisoned"))?,
        );
        if plan.is_empty() || self.dry_run {
            return Ok((plan, Vec::new()));
        }
        let dir = self.base_dir()?;
        let outcomes =
            crate::plan::apply::apply(&plan, &*dir, self, &self.cancel.flag, &mut |_, _| {});
        Ok((plan, outcomes))
    }
}

impl crate::plan::apply::OtherApplier for Host {
    fn apply(&self, op: &crate::plan::ChangeOp) -> Result<()> {
        use crate::plan::ChangeOp;
        match op {
            // A delta round's new deltaLink, kept aside until the changes applied.
            ChangeOp::Setting { file, key, value, .. } if key == "deltaLink" => {
                std::fs::rename(value, file)
                    .map_err(|e| Error::io(format!("moving {value} to {file}"), e))
            }
            ChangeOp::Setting { file, profile, key, value } => {
                crate::config::set_value(std::path::Path::new(file), profile, key, value)
            }
            ChangeOp::Http { method, url, body, .. } if method == "PATCH" => {
                let src = self.graph.get(self)?;
                let crate::bindings::graph::GraphSource::Client(c) = &*src else {
                    return Err(Error::new(Kind::Config, "a Graph change needs a Graph tenant"));
                };
                let enabled = body
                    .pointer("/features/deviceWritebackEnabled")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                let _ = url;
                self.block_on(async {
                    c.set_device_writeback(enabled)
                        .await
                        .map_err(crate::bindings::graph::from_graph)
                })
            }
            other => {
                Err(Error::new(Kind::Plan, format!("dwb cannot apply `{}` changes", other.verb())))
            }
        }
    }
}

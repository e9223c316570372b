//! The run context every binding shares: the directory (opened lazily, seen
//! through the pending plan), the device source, the plan itself, what the run
//! reports, and the cancellation state. One `Host` per `dwb run`, REPL session
//! or test.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::ad::Directory;
use crate::cancel::{Blocking, Cancel};
use crate::error::Result;
use crate::plan::journal::Journal;
use crate::plan::view::PlannedView;
use crate::plan::{Outcome, Plan, apply};
use crate::report::Findings;
use crate::sources::{DeviceSlot, DirectorySlot};

/// Where `print` output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintTo {
    Stdout,
    /// Keeps stdout clean for `--format json`.
    Stderr,
    /// Only recorded (tests, docs).
    Nowhere,
}

/// How a run is configured: decided once, before the host exists, and never
/// changed after (the host is shared by then).
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub dry_run: bool,
    /// `-q`: warnings are kept in the report but not printed.
    pub quiet: bool,
    pub print_to: PrintTo,
    /// A site directory whose `stdlib/` overrides the embedded one.
    pub site_dir: Option<PathBuf>,
    /// The site configuration file and profile (settings changes are written there).
    pub config_file: Option<PathBuf>,
    pub profile: Option<String>,
    /// The profile's settings (defaults scripts fall back to, e.g. `[writeback]`).
    pub settings: crate::config::Profile,
    /// What the journal names as the run's script (`sync`, `undo RUN`, `apply FILE`).
    pub script: String,
    /// `--write-snapshot FILE`: the journal names it beside the run's directory.
    pub snapshot_result: Option<PathBuf>,
}

impl Default for RunConfig {
    fn default() -> RunConfig {
        RunConfig {
            dry_run: false,
            quiet: false,
            print_to: PrintTo::Stdout,
            site_dir: None,
            config_file: None,
            profile: None,
            settings: Default::default(),
            script: String::new(),
            snapshot_result: None,
        }
    }
}

impl RunConfig {
    /// The configuration a loaded site file gives (its path, profile, settings).
    pub fn from_loaded(loaded: &crate::config::Loaded) -> RunConfig {
        RunConfig {
            config_file: loaded.path.clone(),
            profile: loaded.profile_name.clone(),
            settings: loaded.profile.clone(),
            ..RunConfig::default()
        }
    }
}

/// The one lock policy for the run's state: a lock poisoned by a panicking
/// thread is taken over as it is (dwb's code does not panic; a library's panic
/// must not also lose the plan, the findings or the journal).
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Every script text a run loaded, by the name its AST carries, so a
/// diagnostic can show the failing line of any file, embedded or on disk.
#[derive(Default, Clone)]
pub struct ScriptTexts {
    texts: HashMap<String, String>,
}

impl ScriptTexts {
    pub fn insert(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.texts.insert(name.into(), text.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }
}

/// The shared run context. Its configuration (`dry_run`, `quiet`, `print_to`,
/// `site_dir`, `config_file`, `profile`, `settings`, `script`) comes from the
/// `RunConfig` given to `new()`; the fields stay public for the bindings that read them.
pub struct Host {
    directory: DirectorySlot,
    /// The planned view, once the directory opened (a failure is tried again).
    view: Mutex<Option<Arc<PlannedView>>>,
    pub devices: DeviceSlot,
    pub plan: Arc<Mutex<Plan>>,
    pub findings: Mutex<Findings>,
    pub dry_run: bool,
    pub blocking: Blocking,
    pub texts: Arc<Mutex<ScriptTexts>>,
    /// A site directory whose `stdlib/` overrides the embedded one.
    pub site_dir: Option<PathBuf>,
    pub print_to: PrintTo,
    /// `-q`: warnings are kept in the report but not printed.
    pub quiet: bool,
    /// The site configuration file and profile (settings changes are written there).
    pub config_file: Option<PathBuf>,
    pub profile: Option<String>,
    /// The profile's settings (defaults scripts fall back to, e.g. `[writeback]`).
    pub settings: crate::config::Profile,
    /// The device containers this run holds the sync lock of.
    pub locks: crate::writeback::lock::Locks,
    /// This run's id: in its report, and on each of its journal lines.
    pub run_id: String,
    /// What the journal names as the run's script (`sync`, `undo RUN`, `apply FILE`).
    pub script: String,
    /// `--write-snapshot FILE`, named in the journal beside the directory.
    snapshot_result: Option<PathBuf>,
    /// The journal, opened when the first change is applied.
    journal: Mutex<Option<Arc<Journal>>>,
    /// The script's validated parameters: `params` in every scope (closures and
    /// functions included), not only the top level the run pushed it into.
    params: Mutex<Option<rhai::Dynamic>>,
}

impl Host {
    pub fn new(
        directory: DirectorySlot,
        devices: DeviceSlot,
        blocking: Blocking,
        config: RunConfig,
    ) -> Host {
        let RunConfig {
            dry_run,
            quiet,
            print_to,
            site_dir,
            config_file,
            profile,
            settings,
            script,
            snapshot_result,
        } = config;
        Host {
            directory,
            view: Mutex::new(None),
            devices,
            plan: Arc::new(Mutex::new(Plan::default())),
            findings: Mutex::new(Findings::default()),
            dry_run,
            blocking,
            texts: Arc::new(Mutex::new(ScriptTexts::default())),
            site_dir,
            print_to,
            quiet,
            config_file,
            profile,
            settings,
            locks: Default::default(),
            run_id: crate::plan::journal::new_run_id(),
            script,
            snapshot_result,
            journal: Mutex::new(None),
            params: Mutex::new(None),
        }
    }

    /// Sets the script's parameters (`params`), once they are validated.
    pub fn set_params(&self, params: rhai::Dynamic) {
        *lock(&self.params) = Some(params);
    }

    /// The script's parameters, when a run set them.
    pub fn params(&self) -> Option<rhai::Dynamic> {
        lock(&self.params).clone()
    }

    /// The profile's journal, opened on first use.
    pub fn journal(&self) -> Result<Arc<Journal>> {
        let mut j = lock(&self.journal);
        if let Some(j) = j.as_ref() {
            return Ok(j.clone());
        }
        let path = crate::plan::journal::path_for(self.profile.as_deref())?;
        let dir = crate::sources::dc::with_result(
            &self.base_dir()?.describe(),
            self.snapshot_result.as_deref(),
        );
        let opened = Arc::new(Journal::open(&path, &self.run_id, &self.script, &dir)?);
        *j = Some(opened.clone());
        Ok(opened)
    }

    /// A host with no directory and no device source (for `check`, `docs`, completion).
    pub fn offline() -> Host {
        Host::offline_with(RunConfig::default())
    }

    /// An offline host configured as `config` says (`check`: the site directory).
    pub fn offline_with(config: RunConfig) -> Host {
        Host::new(
            DirectorySlot::none(),
            DeviceSlot::default(),
            Blocking::new(None, Cancel::default()),
            config,
        )
    }

    /// A warning for the report (printed on stderr, kept in the JSON report).
    pub fn warn(&self, message: &str) {
        if !self.quiet {
            crate::errln!("warning: {}", crate::text::visible(message));
        }
        lock(&self.findings).warnings.push(message.to_string());
    }

    /// The directory as it will be after the plan (opens it on first use).
    pub fn dir(&self) -> Result<Arc<PlannedView>> {
        let mut view = lock(&self.view);
        if let Some(v) = view.as_ref() {
            return Ok(v.clone());
        }
        let v = Arc::new(PlannedView::new(self.directory.get()?, self.plan.clone()));
        *view = Some(v.clone());
        Ok(v)
    }

    /// The directory without the plan laid over it (for applying).
    pub fn base_dir(&self) -> Result<Arc<dyn Directory>> {
        Ok(self.dir()?.base().clone())
    }

    /// The directory slot (its source, and the snapshot behind it once opened).
    pub fn directory(&self) -> &DirectorySlot {
        &self.directory
    }

    /// True when a directory was opened during the run.
    pub fn dir_opened(&self) -> bool {
        self.directory.is_open()
    }

    pub fn cancel(&self) -> &Cancel {
        &self.blocking.cancel
    }

    /// Errors with `Cancelled` once Ctrl-C was pressed.
    pub fn check_cancelled(&self) -> Result<()> {
        self.blocking.cancel.check()
    }

    /// Runs a future on dwb's runtime from the (non-runtime) script thread, racing Ctrl-C.
    pub fn block_on<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.blocking.block_on(fut)
    }

    /// Applies `plan` to this run's directory and tenant; a refused plan not at all.
    /// In a watch, the changes of devices the DC keeps refusing wait for their
    /// pause to end (`service::backoff`); every run counts its changes for the
    /// service's status and metrics.
    pub fn apply(&self, plan: &Plan, progress: &mut dyn FnMut(usize, usize)) -> Vec<Outcome> {
        let now = crate::service::round::now_unix();
        let outcomes = match crate::service::backoff::hold_back(plan, now) {
            Some((kept, slots)) => {
                let applied = self.apply_unrecorded(&kept, progress);
                crate::service::backoff::merge(slots, applied)
            }
            None => self.apply_unrecorded(plan, progress),
        };
        crate::service::round::note_apply(plan, &outcomes);
        outcomes
    }

    fn apply_unrecorded(
        &self,
        plan: &Plan,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Vec<Outcome> {
        if let Some(r) = plan.refusals.first() {
            let reason = format!("not applied: the {} guard refused the plan", r.guard);
            return plan
                .changes
                .iter()
                .map(|_| Outcome::Skipped { reason: reason.clone() })
                .collect();
        }
        let dir = match self.base_dir() {
            Ok(d) => d,
            Err(e) => return plan.changes.iter().map(|_| apply::failed(&e)).collect(),
        };
        // Nothing is sent that the journal could not record.
        let journal = match self.journal() {
            Ok(j) => j,
            Err(e) => return plan.changes.iter().map(|_| apply::failed(&e)).collect(),
        };
        let graph = || self.devices.client();
        let targets = apply::Targets {
            dir: &*dir,
            graph: &graph,
            blocking: &self.blocking,
            journal: Some(&journal),
        };
        apply::apply(plan, &targets, progress)
    }

    /// Applies the pending plan now (REPL `:apply`, `plan::apply()` in watch loops)
    /// and clears it. Returns the plan and its outcomes.
    pub fn apply_pending(&self) -> Result<(Plan, Vec<Outcome>)> {
        let mut pending = lock(&self.plan);
        let plan = std::mem::take(&mut *pending);
        drop(pending);
        if plan.is_refused() && !self.dry_run {
            // Nothing of it is applied, but the round must know a guard refused it.
            crate::service::round::note_apply(&plan, &[]);
        }
        if plan.is_empty() || self.dry_run {
            return Ok((plan, Vec::new()));
        }
        let outcomes = self.apply(&plan, &mut |_, _| {});
        Ok((plan, outcomes))
    }
}

#![allow(clippy::result_large_err)] // handlers return axum `Response`s as errors
//! A local Microsoft Graph emulator (axum) that follows the documented contract
//! dwb relies on: the identity platform token and device-code endpoints, `/devices`
//! with `$select`/`$top`/`$filter=deviceId eq` or `displayName eq`/
//! `$expand=registeredOwners`/`$skiptoken` paging, `/devices/{id}`, `/devices/delta` (nextLink/deltaLink, changed properties
//! only, `@removed`), registered owners (with the `microsoft.graph.user` cast),
//! `/organization`, `/domains`, `/directory/onPremisesSynchronization` (delegated
//! only) and JSON batching (`POST /v1.0/$batch`, up to 20 members).
//!
//! Every Graph endpoint needs `Authorization: Bearer <token issued here>`. Errors
//! use Graph's shape and responses carry `request-id`/`client-request-id`.
//! Faults ([`Faults`]) can be injected per run and changed at runtime; a latency
//! ([`EmulatorState::latency_ms`]) delays every response.
//!
//! It is its own crate and does not depend on dwb: it implements Microsoft's
//! documented contract, so that dwb's client is tested against that contract
//! rather than against itself. Run it with
//! `cargo run -p dwb-graph-emulator -- --addr 127.0.0.1:8700 --devices 2000`.
//!
//! ```no_run
//! # async fn demo() -> dwb_graph_emulator::Result<()> {
//! use dwb_graph_emulator::{Emulator, generate};
//! let emu = Emulator::start(generate(1000, 42)).await?;
//! println!("{}", emu.base_url());
//! emu.with_state(|s| s.rename_device("some-id", "new name")).ok();
//! emu.stop().await;
//! # Ok(()) }
//! ```

mod batch;
mod cert;
pub mod cli;
mod delta;
mod devices;
mod directory;
mod error;
mod expand;
mod faults;
mod generate;
mod middleware;
mod quirks;
#[cfg(test)]
mod route_tests;
mod routes;
mod state;
mod tokens;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use error::{EmulatorError, Result};
pub use faults::{Faults, RetryAfter};
pub use generate::{HOSTILE_DISPLAY_NAMES, alt_sec_id_key, generate, iso8601};
pub use quirks::Quirks;
pub use state::{
    AppRegistration, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, DeviceCodeScript,
    DeviceRecord, EmulatorState,
};

/// One request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query as received.
    pub uri: String,
    /// `none`, `invalid`, `app_only` or `delegated`.
    pub auth: String,
    pub status: u16,
    /// A member of a `$batch` (the `POST /v1.0/$batch` itself is logged too).
    pub in_batch: bool,
}

/// The last client assertion the token endpoint accepted or rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssertionRecord {
    pub header: Value,
    pub claims: Value,
    /// `None` if it was accepted, else the AADSTS error text.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub delegated: bool,
    pub expires: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct CodeSession {
    pub client_id: String,
    pub polls: u32,
    pub expires: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Runtime {
    pub tokens: HashMap<String, Issued>,
    pub refresh_tokens: HashMap<String, String>,
    pub codes: HashMap<String, CodeSession>,
    pub graph_requests: u64,
    /// `$batch` members received (counted for their faults).
    pub batch_members: u64,
    pub log: VecDeque<RequestRecord>,
    pub last_assertion: Option<AssertionRecord>,
    /// Throttled requests (method and URI) and when their `Retry-After` ends.
    pub retry_not_before: HashMap<String, Instant>,
    /// Requests sent again before their `Retry-After` had passed.
    pub early_retries: u64,
}

const LOG_LIMIT: usize = 20_000;

impl Runtime {
    /// Counts `key` as an early retry when it comes back before its `Retry-After`.
    pub fn check_retry(&mut self, key: &str, now: Instant) {
        if let Some(until) = self.retry_not_before.get(key) {
            if now < *until {
                self.early_retries += 1;
            } else {
                self.retry_not_before.remove(key);
            }
        }
    }

    /// Remembers when a throttled `key` may come back (`retry_after` as sent).
    pub fn throttled(&mut self, key: String, retry_after: Option<&str>, now: Instant) {
        if let Some(wait) = retry_after.and_then(faults::retry_after_duration) {
            // A client that waits exactly as long may arrive a hair early by our clock.
            let slack = Duration::from_millis(20);
            self.retry_not_before.insert(key, now + wait.saturating_sub(slack));
        }
    }

    pub fn record(&mut self, r: RequestRecord) {
        if self.log.len() >= LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(r);
    }
}

pub(crate) struct World {
    pub state: EmulatorState,
    pub rt: Runtime,
}

pub(crate) struct Shared {
    world: Mutex<World>,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// The Graph routes alone, which serve the members of a `$batch`.
    pub members: OnceLock<axum::Router>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Start on `127.0.0.1:0` (a free port).
    pub async fn start(state: EmulatorState) -> Result<EmulatorHandle> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), state).await
    }

    /// Start on a given address.
    pub async fn start_on(addr: SocketAddr, state: EmulatorState) -> Result<EmulatorHandle> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            EmulatorError::Start(format!("cannot bind the emulator to {addr}: {e}"))
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| EmulatorError::Start(format!("cannot read the bound address: {e}")))?;
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            local.ip().to_string()
        };
        let host = if local.is_ipv6() && !local.ip().is_unspecified() {
            format!("[{host}]")
        } else {
            host
        };
        let base = format!("http://{host}:{}", local.port());
        let base_url = Url::parse(&base)
            .map_err(|e| EmulatorError::Start(format!("bad base URL {base}: {e}")))?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World { state, rt: Runtime::default() }),
            base,
            members: OnceLock::new(),
        });
        let app = routes::router(shared.clone());
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = r {
                tracing::warn!("graph emulator stopped with an error: {e}");
            }
        });
        Ok(EmulatorHandle { base_url, shared, cancel, task: Some(task) })
    }
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    base_url: Url,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT/` — both the login authority and the Graph root.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
    /// `http://127.0.0.1:PORT/v1.0`
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.shared.base)
    }
    pub fn tenant_id(&self) -> String {
        self.shared.lock().state.tenant_id.clone()
    }
    /// Read or change the tenant while the server runs.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut EmulatorState) -> R) -> R {
        f(&mut self.shared.lock().state)
    }
    /// Replace the fault configuration.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().state.faults = faults;
    }
    /// Requests received so far (most recent last; bounded).
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.shared.lock().rt.log.iter().cloned().collect()
    }
    /// Forgets the logged requests and the early retries counted so far.
    pub fn clear_request_log(&self) {
        let mut w = self.shared.lock();
        w.rt.log.clear();
        w.rt.early_retries = 0;
    }
    /// Graph (`/v1.0`) HTTP requests counted for fault injection (a `$batch` is one).
    pub fn graph_request_count(&self) -> u64 {
        self.shared.lock().rt.graph_requests
    }
    /// Requests (batch members included) sent again before the `Retry-After` of
    /// their throttled response had passed: 0 for a client that honours it.
    pub fn early_retry_count(&self) -> u64 {
        self.shared.lock().rt.early_retries
    }
    /// `$batch` members received so far.
    pub fn batch_member_count(&self) -> u64 {
        self.shared.lock().rt.batch_members
    }
    /// Delay every response by `ms` milliseconds from now on (0 = none).
    pub fn set_latency_ms(&self, ms: u64) {
        self.shared.lock().state.latency_ms = ms;
    }
    /// The last client assertion seen by the token endpoint.
    pub fn last_client_assertion(&self) -> Option<AssertionRecord> {
        self.shared.lock().rt.last_assertion.clone()
    }
    /// Invalidate every issued access token (as if they had expired).
    pub fn expire_all_tokens(&self) {
        let now = Instant::now();
        for t in self.shared.lock().rt.tokens.values_mut() {
            t.expires = now;
        }
    }
    /// Stop the server and wait for it.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Options for running the emulator as a process (the `dwb-graph-emulator` binary).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (default `127.0.0.1:0`).
    pub addr: SocketAddr,
    /// Generate this many devices (ignored when `state_file` is set).
    pub devices: usize,
    /// Load the tenant from this JSON state file instead of generating.
    pub state_file: Option<PathBuf>,
    /// Seed for generation.
    pub seed: u64,
    /// Faults active from the start.
    pub faults: Faults,
    /// Delay every response by this many milliseconds (overrides the state file's
    /// `latencyMs`); see [`EmulatorState::latency_ms`].
    pub latency_ms: Option<u64>,
    /// Print the URLs and credentials to stdout.
    pub print_urls: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            devices: 1000,
            state_file: None,
            seed: 1,
            faults: Faults::default(),
            latency_ms: None,
            print_urls: true,
        }
    }
}

/// Run the emulator until `shutdown` is cancelled.
pub async fn serve(opts: ServeOptions, shutdown: CancellationToken) -> Result<()> {
    let mut state = match &opts.state_file {
        Some(p) => EmulatorState::from_file(p)?,
        None => generate(opts.devices, opts.seed),
    };
    if opts.faults != Faults::default() {
        state.faults = opts.faults.clone();
    }
    if let Some(ms) = opts.latency_ms {
        state.latency_ms = ms;
    }
    let (tenant, n, latency) = (state.tenant_id.clone(), state.devices.len(), state.latency_ms);
    let secret_app = state.apps.iter().find(|a| a.client_secret.is_some()).cloned();
    let emu = Emulator::start_on(opts.addr, state).await?;
    if opts.print_urls {
        println!("dwb Graph emulator listening on {}", emu.base_url());
        println!("  login authority : {}", emu.base_url().as_str().trim_end_matches('/'));
        println!("  graph           : {}", emu.graph_url());
        println!(
            "  token endpoint  : {}/{tenant}/oauth2/v2.0/token",
            emu.base_url().as_str().trim_end_matches('/')
        );
        println!("  tenant          : {tenant}");
        if let Some(a) = secret_app {
            println!("  client id       : {}", a.client_id);
            println!("  client secret   : {}", a.client_secret.unwrap_or_default());
        }
        println!("  devices         : {n}");
        if latency > 0 {
            println!("  latency         : {latency} ms per response");
        }
    }
    shutdown.cancelled().await;
    emu.stop().await;
    Ok(())
}

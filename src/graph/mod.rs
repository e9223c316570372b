//! Microsoft Graph client (auth, paging, delta, throttling) and an offline reader
//! for exported device JSON.
//!
//! * [`GraphClient`] — hand-written on reqwest: client credentials (secret or
//!   certificate → app-only token), device-code sign-in (delegated token),
//!   token cache with early refresh, one request wrapper with retries that honour
//!   `Retry-After`, no redirects, the token sent only to the Graph host, bounded
//!   page size, cancellation.
//! * Reads at the directory's speed: the device listing can carry each device's
//!   registered owners (`$expand`, [`ListOptions::expand_owners`]), and devices or
//!   owners by id are fetched 20 per JSON batch, several batches in flight
//!   ([`GraphClient::get_devices_batch`], [`GraphClient::device_owners_batch`]).
//! * [`Device`] and friends — typed objects with precise errors.
//! * [`offline`] — `devices_from_file` / `devices_from_json` for Graph Explorer and
//!   `Get-MgDevice | ConvertTo-Json` exports.
//!
//! The local Graph emulator that tests and benches run against is a separate
//! crate of the workspace, `crates/dwb-graph-emulator` (a dev-dependency only:
//! it is not part of the dwb binary, and it does not depend on dwb).
//!
//! # Error codes
//!
//! Every [`GraphError`] has a stable `code()` (`DWB-GRAPH-00NN`) and a `kind()`
//! from a closed set; the codes are rows of dwb's one error registry
//! (`crate::error::registry`, printed by `dwb docs`), checked by a test.
//! Codes are never renumbered; new ones are appended.

pub mod auth;
pub mod batch;
pub mod cloud;
pub mod delta;
pub mod devices;
pub mod error;
mod http;
pub mod jwt;
mod lookups;
pub mod model;
pub mod offline;
mod pages;
pub mod permissions;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use auth::{Credential, DeviceCodePrompt, PromptFn, TokenKind};
pub use batch::{BATCH_MAX_REQUESTS, BatchGet, DEFAULT_BATCH_CONCURRENCY};
pub use cloud::{Cloud, Endpoints};
pub use delta::{DeltaOptions, DeltaPage, DeltaSummary, Removed};
pub use devices::{DevicePager, EXPAND_MAX_PAGE, ListOptions, ListSummary, OWNER_EXPAND_SELECT};
pub use error::{GraphError, Reason, Result};
pub use jwt::ClientCertificate;
pub use model::{
    AltSecIdError, AlternativeSecurityId, DEVICE_SELECT, Device, Domain, OnPremisesSync,
    Organization, Owner,
};
pub use offline::{devices_from_file, devices_from_json};
pub use retry::{ClientStats, GraphObserver, RecordingObserver, RetryEvent, RetryPolicy};

/// Default page size limit (32 MiB).
pub const DEFAULT_MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

/// Everything a [`GraphClient`] needs. Build with [`GraphConfig::new`] and adjust fields.
#[derive(Clone)]
pub struct GraphConfig {
    pub cloud: Cloud,
    /// Tenant id (GUID) or a verified domain.
    pub tenant: String,
    pub credential: Credential,
    pub retry: RetryPolicy,
    /// A response body larger than this is a `too_large` error (default 32 MiB).
    pub max_page_bytes: usize,
    /// Whole-request timeout, body included (default 120 s).
    pub timeout: Duration,
    /// Connect timeout (default 30 s).
    pub connect_timeout: Duration,
    /// Refresh tokens this long before they expire (default 5 min; at most half the lifetime).
    pub refresh_margin: Duration,
    /// Added to the device-code poll interval on `slow_down` (default 5 s).
    pub slow_down_step: Duration,
    /// Cancels every wait and request of the client.
    pub cancel: CancellationToken,
    pub observer: Option<Arc<dyn GraphObserver>>,
    /// JSON batches in flight at once in the batched lookups (default 8).
    pub batch_concurrency: usize,
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("cloud", &self.cloud)
            .field("tenant", &self.tenant)
            .field("credential", &self.credential)
            .field("retry", &self.retry)
            .field("max_page_bytes", &self.max_page_bytes)
            .field("timeout", &self.timeout)
            .field("batch_concurrency", &self.batch_concurrency)
            .finish_non_exhaustive()
    }
}

impl GraphConfig {
    pub fn new(cloud: Cloud, tenant: impl Into<String>, credential: Credential) -> Self {
        GraphConfig {
            cloud,
            tenant: tenant.into(),
            credential,
            retry: RetryPolicy::default(),
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
            refresh_margin: Duration::from_secs(300),
            slow_down_step: Duration::from_secs(5),
            cancel: CancellationToken::new(),
            observer: None,
            batch_concurrency: DEFAULT_BATCH_CONCURRENCY,
        }
    }
    pub fn with_retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }
    pub fn with_observer(mut self, o: Arc<dyn GraphObserver>) -> Self {
        self.observer = Some(o);
        self
    }
    pub fn with_cancel(mut self, c: CancellationToken) -> Self {
        self.cancel = c;
        self
    }
    pub fn with_max_page_bytes(mut self, n: usize) -> Self {
        self.max_page_bytes = n;
        self
    }
    pub fn with_batch_concurrency(mut self, n: usize) -> Self {
        self.batch_concurrency = n;
        self
    }
}

pub(crate) struct ClientInner {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoints: Endpoints,
    pub(crate) auth: auth::Authenticator,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_page_bytes: usize,
    pub(crate) cancel: CancellationToken,
    pub(crate) observer: Option<Arc<dyn GraphObserver>>,
    pub(crate) counters: retry::Counters,
    pub(crate) batch_concurrency: usize,
}

/// The Graph client. Cheap to clone; clones share the token cache and counters.
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph", &self.inner.endpoints.graph_root().as_str())
            .field("tenant", &self.inner.endpoints.tenant())
            .field("token_kind", &self.token_kind())
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// Validate the configuration and build the HTTP client. No network traffic.
    pub fn new(config: GraphConfig) -> Result<GraphClient> {
        let endpoints = Endpoints::new(&config.cloud, &config.tenant)?;
        if config.retry.max_attempts == 0 {
            return Err(GraphError::config("retry.max_attempts must be at least 1"));
        }
        if config.max_page_bytes < 1024 {
            return Err(GraphError::config("max_page_bytes must be at least 1024"));
        }
        if config.batch_concurrency == 0 {
            return Err(GraphError::config("batch_concurrency must be at least 1"));
        }
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("dwb/", env!("CARGO_PKG_VERSION")));
        let login = config.cloud.login_base()?;
        if cloud::is_loopback(&login) && cloud::is_loopback(endpoints.graph_root()) {
            b = b.no_proxy();
        }
        let http = b.build().map_err(|e| {
            GraphError::config(format!("cannot build the HTTP client: {}", http::error_chain(&e)))
        })?;
        Ok(GraphClient {
            inner: Arc::new(ClientInner {
                http,
                auth: auth::Authenticator::new(
                    config.credential,
                    config.refresh_margin,
                    config.slow_down_step,
                ),
                endpoints,
                retry: config.retry,
                max_page_bytes: config.max_page_bytes,
                cancel: config.cancel,
                observer: config.observer,
                counters: retry::Counters::default(),
                batch_concurrency: config.batch_concurrency,
            }),
        })
    }

    /// App-only (client credentials) or delegated (device code).
    pub fn token_kind(&self) -> TokenKind {
        self.inner.auth.kind()
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    pub fn client_id(&self) -> &str {
        self.inner.auth.credential().client_id()
    }

    /// The cancellation token all waits and requests observe.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Counters (requests, retries, token requests, pages, bytes, waiting time).
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// Acquire a token now (for device code: run the sign-in now) instead of on
    /// the first call.
    pub async fn sign_in(&self) -> Result<TokenKind> {
        self.inner.auth.token(&self.inner).await?;
        Ok(self.token_kind())
    }
}

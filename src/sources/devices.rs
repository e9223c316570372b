//! Where Entra devices come from: a Graph tenant (flags, `DWB_GRAPH_*`, the
//! profile), a Graph JSON export (`--devices`, `devices_file`), or the bundled
//! demo export. Opened on first use, once; the client secret file is read only
//! then, so commands that never list devices never need it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::cli::Conn;
use crate::config::{self, Loaded};
use crate::error::{Error, Result};
use crate::graph::{self, Cloud, Credential, Device, GraphClient, GraphConfig};

use super::env;

/// The device source as configured (nothing read or opened yet).
#[derive(Clone, Default)]
pub struct DeviceSettings {
    pub cloud: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    /// From `DWB_GRAPH_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// The profile's `client_secret_file`, read when the source opens.
    pub client_secret_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Custom login authority base URL (sovereign clouds, the emulator).
    pub authority: Option<String>,
    /// Custom Graph base URL.
    pub endpoint: Option<String>,
    pub devices_file: Option<PathBuf>,
    /// Nothing configured is the demo only when the directory is the demo too.
    pub demo_allowed: bool,
    /// How errors name each file setting (`--devices`, `client_secret_file in
    /// [profiles.contoso.graph] of ./dwb.toml`), by field name.
    pub keys: Vec<(&'static str, String)>,
}

/// Reads the device settings: flags, then `DWB_GRAPH_*`, then the profile.
pub fn decide(conn: &Conn, loaded: &Loaded) -> DeviceSettings {
    let g = loaded.profile.graph.clone().unwrap_or_default();
    let mut keys: Vec<(&'static str, String)> =
        ["client_secret_file", "certificate_file", "key_file", "devices_file", "cloud"]
            .into_iter()
            .map(|k| (k, loaded.key("graph", k)))
            .collect();
    if conn.devices.is_some() {
        keys.push(("devices_file", "--devices".into()));
    }
    DeviceSettings {
        cloud: g.cloud,
        tenant: env("DWB_GRAPH_TENANT").or(g.tenant),
        client_id: env("DWB_GRAPH_CLIENT_ID").or(g.client_id),
        client_secret: env("DWB_GRAPH_CLIENT_SECRET").map(SecretString::from),
        client_secret_file: g.client_secret_file,
        certificate_file: g.certificate_file,
        key_file: g.key_file,
        authority: env("DWB_GRAPH_AUTHORITY").or(g.authority),
        endpoint: env("DWB_GRAPH_ENDPOINT").or(g.endpoint),
        devices_file: conn.devices.clone().or(g.devices_file),
        demo_allowed: false,
        keys,
    }
}

impl DeviceSettings {
    /// How errors name the setting `field` (the last entry for it wins).
    fn key(&self, field: &str) -> String {
        self.keys
            .iter()
            .rev()
            .find(|(f, _)| *f == field)
            .map(|(_, k)| k.clone())
            .unwrap_or_else(|| field.to_string())
    }

    /// True when any Graph setting is given (then all the needed ones must be).
    fn graph_configured(&self) -> bool {
        self.tenant.is_some()
            || self.client_id.is_some()
            || self.client_secret.is_some()
            || self.client_secret_file.is_some()
            || self.certificate_file.is_some()
            || self.authority.is_some()
            || self.endpoint.is_some()
    }

    /// Which source these settings name, for reports (nothing is opened).
    pub fn describe(&self) -> String {
        if let Some(f) = &self.devices_file {
            return format!("file {}", f.display());
        }
        if self.graph_configured() {
            let tenant = self.tenant.as_deref().unwrap_or("(no tenant set)");
            let at = self.endpoint.clone().or(self.cloud.clone()).unwrap_or("global".into());
            return format!("graph tenant {tenant} ({at})");
        }
        if self.demo_allowed { format!("demo {DEMO_DEVICES_NAME}") } else { "none".into() }
    }

    /// What kind of source the settings name: `tenant`, `file`, `demo` or `none`.
    pub fn kind(&self) -> &'static str {
        if self.devices_file.is_some() {
            "file"
        } else if self.graph_configured() {
            "tenant"
        } else if self.demo_allowed {
            "demo"
        } else {
            "none"
        }
    }

    /// True when the settings name the bundled demo export.
    pub fn is_demo(&self) -> bool {
        self.devices_file.is_none() && !self.graph_configured() && self.demo_allowed
    }
}

/// Shown in messages for the demo export.
pub const DEMO_DEVICES_NAME: &str = "examples/contoso/devices.json";

/// An opened device source.
pub enum DeviceSource {
    Graph(GraphClient),
    /// A Graph export file (`path`), or the bundled demo export (`None`). Read
    /// each time devices are asked for, device by device: never held whole.
    File {
        name: String,
        path: Option<PathBuf>,
        /// The setting that names the file, for its errors.
        key: String,
    },
}

impl DeviceSource {
    pub fn describe(&self) -> String {
        match self {
            DeviceSource::Graph(c) => {
                format!("graph {} tenant {}", c.endpoints().graph_root(), c.endpoints().tenant())
            }
            DeviceSource::File { name, .. } => format!("file {name}"),
        }
    }

    /// Every device at once (for scripts' `graph::list_devices` and small reports).
    pub fn all_devices(
        &self,
        owners: bool,
        blocking: &crate::cancel::Blocking,
    ) -> Result<Vec<Device>> {
        let mut out = Vec::new();
        self.each_device(owners, blocking, |d| {
            out.push(d);
            true
        })?;
        Ok(out)
    }

    /// The Graph client, or a configuration error naming the file in use.
    pub fn client(&self) -> Result<&GraphClient> {
        match self {
            DeviceSource::Graph(c) => Ok(c),
            DeviceSource::File { name, .. } => Err(Error::config(format!(
                "this needs a Graph tenant; the device source is the file {name}"
            ))),
        }
    }
}

/// Opens the device source: the export file if one is given, a tenant if any
/// Graph setting is given (all the needed ones must be), the demo export only
/// next to the demo directory; anything else is a configuration error.
pub fn open(s: &DeviceSettings, cancel: &CancellationToken) -> Result<DeviceSource> {
    if let Some(f) = &s.devices_file {
        let key = s.key("devices_file");
        config::check_readable(f, &key)?;
        // Read when devices are asked for, device by device.
        return Ok(DeviceSource::File {
            name: f.display().to_string(),
            path: Some(f.clone()),
            key,
        });
    }
    if !s.graph_configured() {
        if !s.demo_allowed {
            return Err(Error::config(
                "no device source is configured for this directory: set DWB_GRAPH_TENANT, \
                 DWB_GRAPH_CLIENT_ID and DWB_GRAPH_CLIENT_SECRET (or tenant, client_id and \
                 client_secret_file or certificate_file under [profiles.<name>.graph] in \
                 dwb.toml), or give --devices FILE",
            )
            .with_hint(
                "the bundled demo devices are used only with the demo directory, never \
                 against a live DC or a --snapshot",
            ));
        }
        crate::errln!(
            "[demo] no Graph tenant configured: using {DEMO_DEVICES_NAME} — nothing real is read"
        );
        return Ok(DeviceSource::File {
            name: DEMO_DEVICES_NAME.into(),
            path: None,
            key: "the bundled demo export".into(),
        });
    }
    let missing: Vec<&str> = [
        ("DWB_GRAPH_TENANT (tenant)", s.tenant.is_none()),
        ("DWB_GRAPH_CLIENT_ID (client_id)", s.client_id.is_none()),
    ]
    .into_iter()
    .filter_map(|(k, m)| m.then_some(k))
    .collect();
    let (Some(tenant), Some(client_id), true) =
        (s.tenant.clone(), s.client_id.clone(), missing.is_empty())
    else {
        return Err(Error::config(format!(
            "the Graph tenant is only partly configured: {} missing",
            missing.join(" and ")
        ))
        .with_hint("set every Graph setting, or none and give --devices FILE"));
    };
    let cloud = match (&s.authority, &s.endpoint) {
        (Some(a), Some(e)) => Cloud::custom(a, e)?,
        (None, None) => cloud_preset(s)?,
        (given, _) => {
            let (set, unset) =
                if given.is_some() { ("authority", "endpoint") } else { ("endpoint", "authority") };
            return Err(Error::config(format!(
                "the Graph {set} is set but not its {unset}: set both (authority and endpoint \
                 under [profiles.<name>.graph], or DWB_GRAPH_AUTHORITY and DWB_GRAPH_ENDPOINT), \
                 or neither, to use a cloud preset"
            )));
        }
    };
    let secret = match (&s.client_secret, &s.client_secret_file) {
        (Some(secret), _) => Some(secret.clone()),
        (None, Some(f)) => Some(config::read_secret_file(
            f,
            &s.key("client_secret_file"),
            "DWB_GRAPH_CLIENT_SECRET",
        )?),
        (None, None) => None,
    };
    let credential = match (secret, &s.certificate_file) {
        (Some(secret), _) => Credential::client_secret(client_id, secret),
        (None, Some(cert)) => {
            config::check_readable(cert, &s.key("certificate_file"))?;
            let key = match &s.key_file {
                Some(k) => {
                    config::check_readable(k, &s.key("key_file"))?;
                    k.clone()
                }
                None => cert.clone(),
            };
            Credential::certificate(client_id, graph::ClientCertificate::from_files(cert, &key)?)
        }
        (None, None) => {
            return Err(Error::config(
                "no Graph credential: set DWB_GRAPH_CLIENT_SECRET, client_secret_file or \
                 certificate_file in the profile",
            ));
        }
    };
    let mut cfg = GraphConfig::new(cloud, tenant, credential).with_cancel(cancel.clone());
    // The longest wait a Retry-After may impose (README, "Graph throttling").
    if let Some(secs) = env("DWB_GRAPH_MAX_RETRY_AFTER") {
        let secs: u64 = secs.trim().parse().map_err(|_| {
            Error::config(format!("DWB_GRAPH_MAX_RETRY_AFTER `{secs}` is not a number of seconds"))
        })?;
        cfg = cfg.with_retry(graph::RetryPolicy {
            max_retry_after: std::time::Duration::from_secs(secs),
            ..Default::default()
        });
    }
    Ok(DeviceSource::Graph(GraphClient::new(cfg)?))
}

/// The cloud preset the settings name (`global` when none); a name dwb does
/// not know is an error naming the setting, with the closest preset.
fn cloud_preset(s: &DeviceSettings) -> Result<Cloud> {
    let Some(name) = s.cloud.as_deref() else { return Ok(Cloud::Global) };
    Cloud::from_name(name).map_err(|_| {
        const PRESETS: [&str; 4] = ["global", "usgov", "usgov-dod", "china"];
        let mut msg = format!("{} is `{name}`, not a cloud dwb knows", s.key("cloud"));
        if let Some(m) = crate::error::did_you_mean(name, PRESETS) {
            msg.push_str(&format!("; did you mean `{m}`?"));
        }
        Error::config(msg).with_hint(format!(
            "use {}, or set authority and endpoint for another cloud",
            PRESETS.join(", ")
        ))
    })
}

/// The device source of a run, opened when a script first needs it.
#[derive(Default)]
pub struct DeviceSlot {
    settings: Mutex<DeviceSettings>,
    cancel: CancellationToken,
    /// Only a success is kept (a file that appears later, a fixed setting).
    /// Shared with the warm-up thread, which opens the source in the background.
    source: Arc<Mutex<Option<Arc<DeviceSource>>>>,
}

impl DeviceSlot {
    pub fn new(settings: DeviceSettings, cancel: CancellationToken) -> DeviceSlot {
        DeviceSlot { settings: Mutex::new(settings), cancel, source: Default::default() }
    }

    /// The source (opens it on first use).
    pub fn get(&self) -> Result<Arc<DeviceSource>> {
        let mut slot = self.source.lock().map_err(|_| Error::internal("device slot poisoned"))?;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let settings = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
        let src = Arc::new(open(&settings, &self.cancel)?);
        *slot = Some(src.clone());
        Ok(src)
    }

    /// Opens a tenant source and asks for its app-only token in the background,
    /// so that Graph's first answer overlaps connecting to the DC. Nothing is
    /// reported here: a failure comes again with the first real request. A
    /// device-code sign-in is never started ahead (it asks the admin).
    ///
    /// Opening the client (TLS roots, credentials) happens on a worker thread
    /// too; a `get` meanwhile waits for it rather than opening a second one.
    pub fn warm_up(&self, blocking: &crate::cancel::Blocking) {
        if self.kind() != "tenant" {
            return;
        }
        let Ok(handle) = blocking.handle() else { return };
        let settings = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
        let (slot, cancel, rt) = (self.source.clone(), self.cancel.clone(), handle.clone());
        let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
        handle.spawn_blocking(move || {
            let Ok(mut held) = slot.lock() else { return };
            let _ = held_tx.send(());
            if held.is_none()
                && let Ok(src) = open(&settings, &cancel)
            {
                *held = Some(Arc::new(src));
            }
            if let Some(src) = held.as_ref()
                && let DeviceSource::Graph(c) = &**src
                && c.token_kind() == graph::TokenKind::AppOnly
            {
                let c = c.clone();
                rt.spawn(async move { c.sign_in().await });
            }
        });
        // Returns once the worker holds the slot: a `get` after this waits for it.
        let _ = held_rx.recv();
    }

    /// Which source the settings name (nothing is opened).
    pub fn describe(&self) -> String {
        self.settings.lock().map(|s| s.describe()).unwrap_or_default()
    }

    /// The kind of source the settings name (nothing is opened): see
    /// [`DeviceSettings::kind`].
    pub fn kind(&self) -> &'static str {
        self.settings.lock().map(|s| s.kind()).unwrap_or("none")
    }

    /// The Graph client of the source (errors when the source is a file).
    pub fn client(&self) -> Result<GraphClient> {
        self.get()?.client().cloned()
    }
}

//! Where Entra devices come from: a Graph tenant (flags, `DWB_GRAPH_*`, the
//! profile), a Graph JSON export (`--devices`, `devices_file`), or the bundled
//! demo export. Opened on first use, once; the client secret file is read only
//! then, so commands that never list devices never need it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::cli::Conn;
use crate::config::{self, Loaded};
use crate::embedded;
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
    /// Silences the demo announcement.
    pub quiet: bool,
}

/// Reads the device settings: flags, then `DWB_GRAPH_*`, then the profile.
pub fn decide(conn: &Conn, loaded: &Loaded) -> DeviceSettings {
    let g = loaded.profile.graph.clone().unwrap_or_default();
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
        quiet: false,
    }
}

/// An opened device source.
pub enum DeviceSource {
    Graph(GraphClient),
    /// A Graph export file (or the bundled demo export).
    File {
        name: String,
        devices: Arc<Vec<Device>>,
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

/// Opens the device source: the export file if one is given, a tenant if one
/// is configured, else the demo export.
pub fn open(s: &DeviceSettings, cancel: &CancellationToken) -> Result<DeviceSource> {
    if let Some(f) = &s.devices_file {
        let devices = graph::devices_from_file(f)?;
        return Ok(DeviceSource::File {
            name: f.display().to_string(),
            devices: Arc::new(devices),
        });
    }
    let (Some(tenant), Some(client_id)) = (s.tenant.clone(), s.client_id.clone()) else {
        if !s.quiet {
            eprintln!(
                "[demo] no Graph tenant configured: using examples/contoso/devices.json — \
                 nothing real is read"
            );
        }
        let devices = graph::devices_from_json(embedded::DEMO_DEVICES)?;
        return Ok(DeviceSource::File {
            name: "examples/contoso/devices.json".into(),
            devices: Arc::new(devices),
        });
    };
    let cloud = match (&s.authority, &s.endpoint) {
        (Some(a), Some(e)) => Cloud::custom(a, e)?,
        (None, None) => Cloud::from_name(s.cloud.as_deref().unwrap_or("global"))?,
        _ => {
            return Err(Error::config(
                "set both DWB_GRAPH_AUTHORITY and DWB_GRAPH_ENDPOINT (or neither, to use a cloud preset)",
            ));
        }
    };
    let secret = match (&s.client_secret, &s.client_secret_file) {
        (Some(secret), _) => Some(secret.clone()),
        (None, Some(f)) => Some(config::read_secret_file(f)?),
        (None, None) => None,
    };
    let credential = match (secret, &s.certificate_file) {
        (Some(secret), _) => Credential::client_secret(client_id, secret),
        (None, Some(cert)) => {
            let key = s.key_file.clone().unwrap_or_else(|| cert.clone());
            Credential::certificate(client_id, graph::ClientCertificate::from_files(cert, &key)?)
        }
        (None, None) => {
            return Err(Error::config(
                "no Graph credential: set DWB_GRAPH_CLIENT_SECRET, client_secret_file or \
                 certificate_file in the profile",
            ));
        }
    };
    let cfg = GraphConfig::new(cloud, tenant, credential).with_cancel(cancel.clone());
    Ok(DeviceSource::Graph(GraphClient::new(cfg)?))
}

/// The device source of a run, opened when a script first needs it.
#[derive(Default)]
pub struct DeviceSlot {
    settings: Mutex<DeviceSettings>,
    cancel: CancellationToken,
    source: OnceLock<Result<Arc<DeviceSource>>>,
}

impl DeviceSlot {
    pub fn new(settings: DeviceSettings, cancel: CancellationToken) -> DeviceSlot {
        DeviceSlot { settings: Mutex::new(settings), cancel, source: OnceLock::new() }
    }

    /// The source (opens it on first use).
    pub fn get(&self) -> Result<Arc<DeviceSource>> {
        self.source
            .get_or_init(|| {
                let s = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
                open(&s, &self.cancel).map(Arc::new)
            })
            .clone()
    }

    /// The Graph client of the source (errors when the source is a file).
    pub fn client(&self) -> Result<GraphClient> {
        self.get()?.client().cloned()
    }
}

//! The `graph::` script module: Entra devices and tenant facts from Microsoft
//! Graph (a tenant, a Graph JSON export, or the bundled demo export). The one
//! Graph write (`set_device_writeback`) is recorded in the plan like every write.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rhai::{Array, Dynamic, ImmutableString, Map, Module};
use secrecy::SecretString;

use super::convert::{opt_str, to_strings};
use super::{OrRhai, RhaiResult, check_options, reg};
use crate::error::{Error, Kind, Result};
use crate::graph::{
    self, Cloud, Credential, Device, GraphClient, GraphConfig, GraphError, ListOptions,
};
use crate::host::Host;
use crate::plan::ChangeOp;

/// Where Graph data comes from, as configured.
#[derive(Clone, Default)]
pub struct GraphSettings {
    pub cloud: Option<String>,
    pub tenant: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub certificate_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Custom login authority base URL (sovereign clouds, the emulator).
    pub authority: Option<String>,
    /// Custom Graph base URL.
    pub endpoint: Option<String>,
    pub devices_file: Option<PathBuf>,
    pub quiet: bool,
}

/// A configured source.
pub enum GraphSource {
    Client(GraphClient),
    Offline { name: String, devices: Arc<Vec<Device>> },
}

impl GraphSource {
    pub fn describe(&self) -> String {
        match self {
            GraphSource::Client(c) => {
                format!("graph {} tenant {}", c.endpoints().graph_root(), c.endpoints().tenant())
            }
            GraphSource::Offline { name, .. } => format!("file {name}"),
        }
    }
}

/// The Graph source of a run, created on first use.
#[derive(Default)]
pub struct GraphSlot {
    settings: Mutex<GraphSettings>,
    source: OnceLock<std::result::Result<Arc<GraphSource>, Error>>,
}

/// A Graph error as a dwb error, keeping Graph's code and kind.
pub fn from_graph(e: GraphError) -> Error {
    let mut out = Error::new(Kind::Graph, e.to_string()).with_code(e.code());
    out.kind_name = Some(e.kind());
    if e.kind() == "cancelled" {
        out.kind = Kind::Cancelled;
    }
    out
}

impl GraphSlot {
    pub fn configure(&self, s: GraphSettings) {
        if let Ok(mut g) = self.settings.lock() {
            *g = s;
        }
    }

    /// The source (opens it on first use).
    pub fn get(&self, host: &Host) -> Result<Arc<GraphSource>> {
        self.source.get_or_init(|| self.open(host).map(Arc::new)).clone()
    }

    fn open(&self, host: &Host) -> Result<GraphSource> {
        let s = self.settings.lock().map(|s| s.clone()).unwrap_or_default();
        if let Some(f) = &s.devices_file {
            let devices = graph::devices_from_file(f).map_err(from_graph)?;
            return Ok(GraphSource::Offline {
                name: f.display().to_string(),
                devices: Arc::new(devices),
            });
        }
        let (Some(tenant), Some(client_id)) = (s.tenant.clone(), s.client_id.clone()) else {
            if !s.quiet {
                eprintln!(
                    "[demo] no Graph tenant configured: using examples/contoso/devices.json — nothing real is read"
                );
            }
            let devices =
                graph::devices_from_json(crate::sources::DEMO_DEVICES).map_err(from_graph)?;
            return Ok(GraphSource::Offline {
                name: "examples/contoso/devices.json".into(),
                devices: Arc::new(devices),
            });
        };
        let cloud = match (&s.authority, &s.endpoint) {
            (Some(a), Some(e)) => Cloud::custom(a, e).map_err(from_graph)?,
            (None, None) => {
                Cloud::from_name(s.cloud.as_deref().unwrap_or("global")).map_err(from_graph)?
            }
            _ => {
                return Err(Error::config(
                    "set both DWB_GRAPH_AUTHORITY and DWB_GRAPH_ENDPOINT (or neither, to use a cloud preset)",
                ));
            }
        };
        let credential = match (&s.client_secret, &s.certificate_file) {
            (Some(secret), _) => Credential::client_secret(client_id, secret.clone()),
            (None, Some(cert)) => {
                let key = s.key_file.clone().unwrap_or_else(|| cert.clone());
                Credential::certificate(
                    client_id,
                    graph::ClientCertificate::from_files(cert, &key).map_err(from_graph)?,
                )
            }
            (None, None) => {
                return Err(Error::config(
                    "no Graph credential: set DWB_GRAPH_CLIENT_SECRET, client_secret_file or certificate_file in the profile",
                ));
            }
        };
        let cfg =
            GraphConfig::new(cloud, tenant, credential).with_cancel(host.cancel.token.clone());
        Ok(GraphSource::Client(GraphClient::new(cfg).map_err(from_graph)?))
    }
}

fn device_value(d: &Device) -> Dynamic {
    rhai::serde::to_dynamic(d.to_json()).unwrap_or(Dynamic::UNIT)
}

fn json_value(v: serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

fn client(host: &Host) -> Result<(Arc<GraphSource>, GraphClient)> {
    let src = host.graph.get(host)?;
    match &*src {
        GraphSource::Client(c) => {
            let c = c.clone();
            Ok((src, c))
        }
        GraphSource::Offline { name, .. } => Err(Error::new(
            Kind::Config,
            format!("this needs a Graph tenant; the device source is the file {name}"),
        )),
    }
}

fn list(host: &Host, opts: &Map) -> Result<Array> {
    check_options(opts, &["select", "filter", "top"], "graph::list_devices")?;
    let src = host.graph.get(host)?;
    match &*src {
        GraphSource::Offline { devices, .. } => Ok(devices.iter().map(device_value).collect()),
        GraphSource::Client(c) => {
            let mut lo = ListOptions::default();
            if let Some(s) = opts.get("select") {
                lo.select = to_strings(s)?;
            }
            lo.filter = opt_str(opts, "filter");
            if let Some(t) = opts.get("top") {
                lo.top = Some(
                    t.as_int()
                        .map_err(|_| {
                            Error::invalid_argument("graph::list_devices: `top` must be a number")
                        })?
                        .clamp(1, 999) as u32,
                );
            }
            let mut out = Array::new();
            host.block_on(async {
                c.list_devices(&lo, |d| {
                    out.push(device_value(&d));
                    std::ops::ControlFlow::Continue(())
                })
                .await
                .map_err(from_graph)
            })?;
            Ok(out)
        }
    }
}

fn get_device(host: &Host, id: &str) -> Result<Dynamic> {
    let src = host.graph.get(host)?;
    match &*src {
        GraphSource::Offline { devices, .. } => devices
            .iter()
            .find(|d| {
                d.id.eq_ignore_ascii_case(id)
                    || d.device_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(id))
            })
            .map(device_value)
            .ok_or_else(|| Error::new(Kind::NotFound, format!("no device {id} in the export"))),
        GraphSource::Client(c) => host
            .block_on(async { c.get_device(id).await.map_err(from_graph) })
            .map(|d| device_value(&d)),
    }
}

/// Builds the `graph::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    let h = host.clone();
    reg(
        &mut m,
        "source",
        &["-> String"],
        "Where devices come from: a Graph tenant, a Graph JSON export, or the bundled demo export.",
        move || -> RhaiResult<String> { Ok(h.graph.get(&h).rhai()?.describe()) },
    );
    let h = host.clone();
    reg(
        &mut m,
        "list_devices",
        &["-> Array"],
        "Every device (Graph `device` resources with their documented property names: id, deviceId, displayName, operatingSystem, trustType, accountEnabled, alternativeSecurityIds, …), following `@odata.nextLink` page by page.\n# Example\n```rhai\nfor d in graph::list_devices() { print(`${d.deviceId} ${d.displayName}`); }\n```\n# Errors\n`throttled` (after bounded retries), `auth`, `forbidden`, `bad_response`, `network`.",
        move || list(&h, &Map::new()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "list_devices",
        &["options: Map", "-> Array"],
        "Devices with `#{ select: [..], filter: \"deviceId eq '…'\", top: 999 }`.",
        move |o: Map| list(&h, &o).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "get_device",
        &["id: String", "-> Map"],
        "One device by object id or by deviceId.\n# Errors\n`not_found`.",
        move |id: ImmutableString| get_device(&h, &id).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "device_owners",
        &["id: String", "-> Array"],
        "The registered owners of a device (users, with `onPremisesSecurityIdentifier` when the app may read users).",
        move |id: ImmutableString| -> RhaiResult<Array> {
            let (_s, c) = client(&h).rhai()?;
            let owners =
                h.block_on(async { c.device_owners(&id).await.map_err(from_graph) }).rhai()?;
            Ok(owners
                .into_iter()
                .map(|o| json_value(serde_json::to_value(o).unwrap_or_default()))
                .collect())
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "delta_devices",
        &["state_file: String", "-> Map"],
        "One delta round: the first call lists everything and stores the deltaLink in `state_file`; later calls return only changes. Returns `#{ changed: [devices with the changed properties], removed: [#{ id, reason }], resumed }`.",
        move |state: ImmutableString| -> RhaiResult<Map> {
            let (_s, c) = client(&h).rhai()?;
            let (mut changed, mut removed) = (Array::new(), Array::new());
            let summary = h
                .block_on(async {
                    c.delta_devices(
                        std::path::Path::new(state.as_str()),
                        &graph::DeltaOptions::default(),
                        |page| {
                            changed.extend(page.changed.iter().map(device_value));
                            removed.extend(page.removed.iter().map(|r| {
                                json_value(serde_json::json!({"id": r.id, "reason": r.reason}))
                            }));
                            std::ops::ControlFlow::Continue(())
                        },
                    )
                    .await
                    .map_err(from_graph)
                })
                .rhai()?;
            let mut out = Map::new();
            out.insert("changed".into(), changed.into());
            out.insert("removed".into(), removed.into());
            out.insert("resumed".into(), summary.resumed.into());
            Ok(out)
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "organization",
        &["-> Map"],
        "The tenant (`/organization`): id, displayName, verifiedDomains, …",
        move || -> RhaiResult<Dynamic> {
            let (_s, c) = client(&h).rhai()?;
            let orgs = h.block_on(async { c.organization().await.map_err(from_graph) }).rhai()?;
            Ok(orgs
                .into_iter()
                .next()
                .map(|o| json_value(serde_json::to_value(o).unwrap_or_default()))
                .unwrap_or(Dynamic::UNIT))
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "domains",
        &["-> Array"],
        "The tenant's domains (`/domains`): id, isVerified, isInitial, authenticationType.",
        move || -> RhaiResult<Array> {
            let (_s, c) = client(&h).rhai()?;
            let ds = h.block_on(async { c.domains().await.map_err(from_graph) }).rhai()?;
            Ok(ds
                .into_iter()
                .map(|d| json_value(serde_json::to_value(d).unwrap_or_default()))
                .collect())
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "sync_features",
        &["-> Map"],
        "`/directory/onPremisesSynchronization` (features such as `deviceWritebackEnabled`). Delegated only: needs device-code sign-in as a Global Administrator.\n# Errors\n`delegated_only` with an app-only token.",
        move || -> RhaiResult<Dynamic> {
            let (_s, c) = client(&h).rhai()?;
            let f = h.block_on(async { c.sync_features().await.map_err(from_graph) }).rhai()?;
            Ok(json_value(serde_json::to_value(f).unwrap_or_default()))
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "set_device_writeback",
        &["enabled: bool", "-> ()"],
        "Plans `PATCH /directory/onPremisesSynchronization/{id}` with `features.deviceWritebackEnabled` (applied with the plan; delegated only).",
        move |on: bool| -> RhaiResult<()> {
            let (_s, c) = client(&h).rhai()?;
            if c.token_kind() != graph::TokenKind::Delegated {
                return Err(super::to_rhai(Error::new(Kind::Graph, "setting deviceWritebackEnabled needs a delegated sign-in (device code, Global Administrator): Graph does not allow application permissions for onPremisesSynchronization").with_code("DWB-GRAPH-0021")));
            }
            let url = format!("{}directory/onPremisesSynchronization", c.endpoints().graph_root());
            let body = serde_json::json!({ "features": { "deviceWritebackEnabled": on } });
            h.plan.lock().map_err(|_| super::to_rhai(Error::internal("plan lock"))).map(|mut p| {
                p.push(
                    ChangeOp::Http {
                        method: "PATCH".into(),
                        url,
                        body,
                        summary: format!("deviceWritebackEnabled = {on}"),
                    },
                    Some("tenant feature flag (spec §C.8)".into()),
                );
            })
        },
    );
    reg(
        &mut m,
        "devices_from_file",
        &["path: String", "-> Array"],
        "Devices from a Graph JSON export (Graph Explorer pages, several pages, a bare array, or `Get-MgDevice | ConvertTo-Json -Depth 5`).\n# Errors\n`bad_response` naming the file and device.",
        |p: ImmutableString| -> RhaiResult<Array> {
            let ds = graph::devices_from_file(p.as_str()).map_err(from_graph).rhai()?;
            Ok(ds.iter().map(device_value).collect())
        },
    );
    m
}

//! The `graph::` script module: Entra devices and tenant facts from Microsoft
//! Graph (a tenant, a Graph JSON export, or the bundled demo export). The one
//! Graph write (`set_device_writeback`) is recorded in the plan like every write.

use std::sync::Arc;

use rhai::{Array, Dynamic, ImmutableString, Map, Module};

use super::convert::to_strings;
use super::options::Options;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::error::{Error, Kind, Result};
use crate::graph::{self, Device, GraphClient, ListOptions};
use crate::host::Host;
use crate::plan::{ChangeOp, GraphChange};
use crate::sources::DeviceSource;

fn device_value(d: &Device) -> Dynamic {
    super::convert::device(d)
}

fn json_value(v: serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT)
}

fn client(host: &Host) -> Result<GraphClient> {
    host.devices.client()
}

fn list(host: &Host, opts: &Map) -> Result<Array> {
    let o = Options::read(opts, "graph::list_devices", &["select", "filter", "top"])?;
    let src = host.devices.get()?;
    match &*src {
        DeviceSource::File { .. } => {
            let mut out = Array::new();
            src.each_device(false, &host.blocking, |d| {
                out.push(device_value(&d));
                true
            })?;
            Ok(out)
        }
        DeviceSource::Graph(c) => {
            let mut lo = ListOptions::default();
            if let Some(s) = o.value("select") {
                lo.select = to_strings(s)?;
            }
            lo.filter = o.string("filter")?;
            lo.top = o.int("top")?.map(|t| t.clamp(1, 999) as u32);
            let mut out = Array::new();
            host.block_on(async {
                Ok(c.list_devices(&lo, |d| {
                    out.push(device_value(&d));
                    std::ops::ControlFlow::Continue(())
                })
                .await?)
            })?;
            Ok(out)
        }
    }
}

fn get_device(host: &Host, id: &str) -> Result<Dynamic> {
    let src = host.devices.get()?;
    match &*src {
        DeviceSource::File { .. } => {
            let mut found = None;
            src.each_device(false, &host.blocking, |d| {
                let hit = d.id.eq_ignore_ascii_case(id)
                    || d.device_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(id));
                if hit {
                    found = Some(device_value(&d));
                }
                !hit
            })?;
            found.ok_or_else(|| Error::new(Kind::NotFound, format!("no device {id} in the export")))
        }
        DeviceSource::Graph(c) => {
            host.block_on(async { Ok(c.get_device(id).await?) }).map(|d| device_value(&d))
        }
    }
}

/// Builds the `graph::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    register_devices(&mut m, &host);
    register_tenant(&mut m, &host);
    m
}

/// Registers the device source and the device reads.
fn register_devices(m: &mut Module, host: &Arc<Host>) {
    register_listing(m, host);
    register_changes(m, host);
}

/// Registers the device source and the device listings.
fn register_listing(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Where devices come from: a Graph tenant, a Graph JSON export, or the bundled demo export.
        /// # Example
        /// ```rhai
        /// print(`devices from ${graph::source()}`);
        /// ```
        /// # Errors
        /// `config` (the Graph settings are incomplete or unusable, or the export cannot be read), `bad_response` (the export is malformed): the source is opened on first use.
        m,
        "source",
        [],
        move || -> RhaiResult<String> { Ok(h.devices.get().rhai()?.describe()) },
    );
    let h = host.clone();
    bind!(
        /// Which kind of device source is configured, without opening it (no secret is read, nothing is sent): `"tenant"` (Graph settings are given), `"file"` (`--devices`), `"demo"` (the bundled export, next to the demo directory) or `"none"`. Checks that need Graph run only when a source is configured.
        /// # Example
        /// ```rhai
        /// if graph::source_kind() == "tenant" { print(graph::organization().displayName); }
        /// ```
        /// # Errors
        /// None.
        m,
        "source_kind",
        [],
        move || -> String { h.devices.kind().to_string() },
    );
    let h = host.clone();
    bind!(
        /// Every device (Graph `device` resources with their documented property names: id, deviceId, displayName, operatingSystem, trustType, accountEnabled, alternativeSecurityIds, …), following `@odata.nextLink` page by page. Each device is the map described under "Device fields" in Site hooks.
        /// # Example
        /// ```rhai
        /// for d in graph::list_devices() { print(`${d.deviceId} ${d.displayName}`); }
        /// ```
        /// # Errors
        /// `throttled` (after bounded retries), `auth`, `forbidden`, `bad_response`, `network`, `config`.
        m,
        "list_devices",
        [],
        move || list(&h, &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Devices with `#{ select: [..], filter: "…", top: 999 }` (Graph's `$select`, `$filter` and `$top`, 1–999). The options apply to a tenant; a JSON export returns all its devices.
        /// # Example
        /// ```rhai
        /// let enabled = graph::list_devices(#{ filter: "accountEnabled eq true", top: 999,
        ///     select: ["id", "deviceId", "displayName", "trustType", "alternativeSecurityIds"] });
        /// print(`${enabled.len()} enabled devices`);
        /// ```
        /// # Errors
        /// `unknown_option`, `invalid_argument` (`top` not a number), `config` (Graph rejected the query, HTTP 400), `throttled`, `auth`, `forbidden`, `bad_response`, `network`.
        m,
        "list_devices",
        ["options"],
        move |o: Map| list(&h, &o).rhai(),
    );
    let h = host.clone();
    bind!(
        /// One device by object id or by deviceId.
        /// # Example
        /// ```rhai
        /// let d = graph::get_device("265b893a-67d9-4107-b218-39acc36e1a70");   // a deviceId
        /// print(`${d.displayName} (${d.trustType}), object id ${d.id}`);
        /// ```
        /// # Errors
        /// `not_found`, `config` (`id` is not a GUID, or the deviceId matches several devices), `throttled`, `auth`, `forbidden`, `bad_response`, `network`.
        m,
        "get_device",
        ["id", "-> Map"],
        move |id: ImmutableString| get_device(&h, &id).rhai(),
    );
}

/// Registers the owners and the delta of devices.
fn register_changes(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// The registered owners of a device (users, with `onPremisesSecurityIdentifier` when the app may read users): maps with `id`, `@odata.type`, `userPrincipalName`, `displayName` and `onPremisesSecurityIdentifier` (`()` for cloud-only users). Needs a Graph tenant.
        /// # Example
        /// ```rhai
        /// for o in graph::device_owners("0a0977d6-47b2-4cc2-aa14-7d31c2b25b36") {
        ///     print(`${o.userPrincipalName}: ${o.onPremisesSecurityIdentifier}`);
        /// }
        /// ```
        /// # Errors
        /// `config` (the device source is a file), `not_found`, `forbidden`, `throttled`, `auth`, `bad_response`, `network`.
        m,
        "device_owners",
        ["id"],
        move |id: ImmutableString| -> RhaiResult<Array> {
            let c = client(&h).rhai()?;
            let owners = h.block_on(async { Ok(c.device_owners(&id).await?) }).rhai()?;
            Ok(owners
                .into_iter()
                .map(|o| json_value(serde_json::to_value(o).unwrap_or_default()))
                .collect())
        },
    );
    let h = host.clone();
    bind!(
        /// One delta round: the first call lists everything and stores the deltaLink in `state_file`; later calls return only changes. Returns `#{ changed: [devices with the changed properties], removed: [#{ id, reason }], resumed }`. Needs a Graph tenant. The state file is written by this call; `writeback::sync_devices` with `mode: "delta"` instead moves it only once its plan is applied.
        /// # Example
        /// ```rhai
        /// let round = graph::delta_devices("/var/lib/dwb/devices.delta");
        /// print(`${round.changed.len()} changed, ${round.removed.len()} removed (resumed: ${round.resumed})`);
        /// ```
        /// # Errors
        /// `config` (the device source is a file, or the state file cannot be read or written), `not_found` (the stored delta token expired, HTTP 410), `throttled`, `auth`, `forbidden`, `bad_response`, `network`.
        m,
        "delta_devices",
        ["state_file"],
        move |state: ImmutableString| -> RhaiResult<Map> {
            let c = client(&h).rhai()?;
            let (mut changed, mut removed) = (Array::new(), Array::new());
            let summary = h
                .block_on(async {
                    Ok(c.delta_devices(
                        std::path::Path::new(state.as_str()),
                        &graph::DeltaOptions::default(),
                        |page| {
                            // Only the changed properties: no `()` filled in for the rest.
                            changed.extend(page.changed.iter().map(|d| json_value(d.to_json())));
                            removed.extend(page.removed.iter().map(|r| {
                                json_value(serde_json::json!({"id": r.id, "reason": r.reason}))
                            }));
                            std::ops::ControlFlow::Continue(())
                        },
                    )
                    .await?)
                })
                .rhai()?;
            let mut out = Map::new();
            out.insert("changed".into(), changed.into());
            out.insert("removed".into(), removed.into());
            out.insert("resumed".into(), summary.resumed.into());
            Ok(out)
        },
    );
}

/// Registers the tenant reads and the writeback feature switch.
fn register_tenant(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// The tenant (`/organization`): id, displayName, verifiedDomains, … (`()` when Graph returns none). Needs a Graph tenant.
        /// # Example
        /// ```rhai
        /// let org = graph::organization();
        /// print(`${org.displayName} (tenant ${org.id})`);
        /// ```
        /// # Errors
        /// `config` (the device source is a file), `forbidden`, `throttled`, `auth`, `bad_response`, `network`.
        m,
        "organization",
        ["-> Map|()"],
        move || -> RhaiResult<Dynamic> {
            let c = client(&h).rhai()?;
            let orgs = h.block_on(async { Ok(c.organization().await?) }).rhai()?;
            Ok(orgs
                .into_iter()
                .next()
                .map(|o| json_value(serde_json::to_value(o).unwrap_or_default()))
                .unwrap_or(Dynamic::UNIT))
        },
    );
    let h = host.clone();
    bind!(
        /// The tenant's domains (`/domains`): id, isDefault, isVerified, isInitial, authenticationType. Needs a Graph tenant.
        /// # Example
        /// ```rhai
        /// let federated = graph::domains().filter(|d| d.isVerified && d.authenticationType == "Federated");
        /// for d in federated { print(d.id); }
        /// ```
        /// # Errors
        /// `config` (the device source is a file), `forbidden`, `throttled`, `auth`, `bad_response`, `network`.
        m,
        "domains",
        [],
        move || -> RhaiResult<Array> {
            let c = client(&h).rhai()?;
            let ds = h.block_on(async { Ok(c.domains().await?) }).rhai()?;
            Ok(ds
                .into_iter()
                .map(|d| json_value(serde_json::to_value(d).unwrap_or_default()))
                .collect())
        },
    );
    let h = host.clone();
    bind!(
        /// `/directory/onPremisesSynchronization` (features such as `deviceWritebackEnabled`): `#{ id, configuration, features }`. Delegated only: needs device-code sign-in as a Global Administrator.
        /// # Example
        /// ```rhai
        /// let onprem = graph::sync_features();
        /// print(`device writeback in the tenant: ${onprem.features.get("deviceWritebackEnabled")}`);
        /// ```
        /// # Errors
        /// `delegated_only` with an app-only token, `config` (the device source is a file), `forbidden`, `throttled`, `auth`, `bad_response`, `network`.
        m,
        "sync_features",
        ["-> Map"],
        move || -> RhaiResult<Dynamic> {
            let c = client(&h).rhai()?;
            let f = h.block_on(async { Ok(c.sync_features().await?) }).rhai()?;
            Ok(json_value(serde_json::to_value(f).unwrap_or_default()))
        },
    );
    let h = host.clone();
    bind!(
        /// The application permissions of the app-only token (its `roles` claim), e.g.
        /// `["Device.Read.All", "User.Read.All"]`; `()` with a delegated sign-in or a token
        /// whose claims cannot be read. Needs a Graph tenant.
        /// # Example
        /// ```rhai
        /// let roles = graph::app_roles();
        /// if roles != () && !("User.Read.All" in roles) { print("owners' SIDs unreadable"); }
        /// ```
        /// # Errors
        /// `config` (the device source is a file), `auth`, `network`.
        m,
        "app_roles",
        ["-> Array|()"],
        move || -> RhaiResult<Dynamic> {
            let c = client(&h).rhai()?;
            let roles = h.block_on(async { Ok(c.app_roles().await?) }).rhai()?;
            Ok(match roles {
                Some(r) => Dynamic::from_array(r.into_iter().map(Dynamic::from).collect()),
                None => Dynamic::UNIT,
            })
        },
    );
    let h = host.clone();
    bind!(
        /// Plans `PATCH /directory/onPremisesSynchronization/{id}` with `features.deviceWritebackEnabled` (applied with the plan; delegated only).
        /// # Example
        /// ```rhai
        /// graph::set_device_writeback(true);
        /// print(plan::text());   // shows the PATCH; nothing is sent before the plan is applied
        /// ```
        /// # Errors
        /// `graph` (code DWB-GRAPH-0021) without a delegated sign-in, `config` (the device source is a file).
        m,
        "set_device_writeback",
        ["enabled"],
        move |on: bool| -> RhaiResult<()> {
            let c = client(&h).rhai()?;
            if c.token_kind() != graph::TokenKind::Delegated {
                return Err(crate::bindings::register::to_rhai(Error::new(Kind::Graph, "setting deviceWritebackEnabled needs a delegated sign-in (device code, Global Administrator): Graph does not allow application permissions for onPremisesSynchronization").with_code("DWB-GRAPH-0021")));
            }
            h.plan
                .lock()
                .map_err(|_| crate::bindings::register::to_rhai(Error::internal("plan lock")))
                .map(|mut p| {
                    p.push(
                        ChangeOp::Graph(GraphChange::SetDeviceWriteback(on)),
                        Some("tenant feature flag (device-writeback.md §C.8)".into()),
                    );
                })
        },
    );
    bind!(
        /// Devices from a Graph JSON export (Graph Explorer pages, several pages, a bare array, or `Get-MgDevice | ConvertTo-Json -Depth 5`), as the same maps `graph::list_devices` returns.
        /// # Example
        /// ```rhai
        /// let exported = graph::devices_from_file("exports/devices-2026-09.json");
        /// let hybrid = exported.filter(|d| d.get("trustType") == "ServerAd");
        /// print(`${hybrid.len()} of ${exported.len()} devices are hybrid joined`);
        /// ```
        /// # Errors
        /// `bad_response` naming the file and device, `config` (the file cannot be read).
        m,
        "devices_from_file",
        ["path"],
        |p: ImmutableString| -> RhaiResult<Array> {
            let ds = graph::devices_from_file(p.as_str()).map_err(Error::from).rhai()?;
            Ok(ds.iter().map(device_value).collect())
        },
    );
}

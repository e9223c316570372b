//! The emulator's tenant: devices (with per-property change versions for delta),
//! users, owners, organization, domains, the sync object, registered apps and
//! faults. Serializable to/from a JSON state file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::faults::Faults;
use crate::error::{EmulatorError, Result, write_atomic};

/// The client id the generated state registers.
pub const DEFAULT_CLIENT_ID: &str = "5a1d7c3e-0b2f-4e8a-9c6d-1f2e3d4c5b6a";
/// The client secret of that app.
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-client-secret";
/// The tenant id of generated states.
pub const DEFAULT_TENANT_ID: &str = "0d5e0b0c-5e1f-4c3a-9d6b-3f2a1c0e7b55";

/// A registered application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRegistration {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// PEM certificate for client assertions (`x5t` and signature are checked).
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// Whether the device-code flow is enabled ("public client flows").
    #[serde(default = "yes")]
    pub allow_device_code: bool,
}

fn yes() -> bool {
    true
}

/// How device-code sign-ins proceed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceCodeScript {
    /// Polls answered `authorization_pending` before the outcome.
    pub pending_polls: u32,
    /// Answer the first poll with `slow_down`.
    pub slow_down_once: bool,
    /// `approve`, `decline` or `expire`.
    pub outcome: String,
    /// `interval` returned to the client (seconds).
    pub interval_secs: u64,
    pub expires_in_secs: u64,
}

impl Default for DeviceCodeScript {
    fn default() -> Self {
        DeviceCodeScript {
            pending_polls: 1,
            slow_down_once: false,
            outcome: "approve".into(),
            interval_secs: 5,
            expires_in_secs: 900,
        }
    }
}

/// A device plus the bookkeeping for delta.
#[derive(Debug, Clone)]
pub struct DeviceRecord {
    /// The Graph JSON properties (including `id`).
    pub props: Map<String, Value>,
    /// Object ids of the registered owners (users).
    pub owners: Vec<String>,
    /// Object ids of the registered users.
    pub users: Vec<String>,
    pub(crate) created: u64,
    pub(crate) changed: HashMap<String, u64>,
}

impl DeviceRecord {
    pub(crate) fn last_change(&self) -> u64 {
        self.changed.values().copied().max().unwrap_or(0).max(self.created)
    }
}

/// On-disk form of the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateDoc {
    tenant_id: String,
    #[serde(default)]
    organization: Option<Value>,
    #[serde(default)]
    domains: Vec<Value>,
    #[serde(default)]
    on_premises_synchronization: Option<Value>,
    #[serde(default)]
    apps: Vec<AppRegistration>,
    #[serde(default)]
    users: Vec<Value>,
    /// Graph device objects; extra `registeredOwners: [userId…]` and
    /// `registeredUsers: [userId…]` name owners and registered users.
    #[serde(default)]
    devices: Vec<Value>,
    #[serde(default = "yes")]
    user_read_all: bool,
    #[serde(default)]
    token_lifetime_secs: Option<u64>,
    #[serde(default)]
    delta_page_size: Option<usize>,
    #[serde(default)]
    device_code: DeviceCodeScript,
    #[serde(default)]
    faults: Faults,
    #[serde(default)]
    latency_ms: u64,
}

/// The emulated tenant. Mutate it through [`crate::EmulatorHandle::with_state`];
/// mutations are versioned so `/devices/delta` reports them.
#[derive(Debug, Clone)]
pub struct EmulatorState {
    pub tenant_id: String,
    pub organization: Value,
    pub domains: Vec<Value>,
    pub sync: Value,
    pub apps: Vec<AppRegistration>,
    pub users: BTreeMap<String, Value>,
    pub devices: BTreeMap<String, DeviceRecord>,
    /// Without User.Read.All, owners come back with only `@odata.type` and `id`.
    pub user_read_all: bool,
    pub token_lifetime_secs: u64,
    /// Items per delta page.
    pub delta_page_size: usize,
    pub device_code: DeviceCodeScript,
    pub faults: Faults,
    /// Every response (Graph and token endpoints) is sent this many milliseconds
    /// late: a network round trip, as a real tenant's (50–150 ms) would add. One
    /// `$batch` is one response, so it is delayed once. 0 = none.
    pub latency_ms: u64,
    /// How an expired delta token is refused: 410 Gone (the default), or 400 as
    /// Graph answers for directory resources; both with `syncStateNotFound`.
    pub expired_delta_status: u16,
    pub(crate) version: u64,
    pub(crate) tombstones: Vec<(String, String, u64)>,
    /// Delta tokens from before this version have expired (410 syncStateNotFound).
    pub(crate) delta_horizon: u64,
}

impl EmulatorState {
    /// An empty tenant with one app (client secret) and default organization.
    pub fn empty(tenant_id: &str) -> EmulatorState {
        EmulatorState {
            tenant_id: tenant_id.to_string(),
            organization: json!({
                "id": tenant_id, "displayName": "Contoso (emulated)", "onPremisesSyncEnabled": true,
                "verifiedDomains": [
                    {"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": false, "name": "contoso.com", "type": "Managed"},
                    {"capabilities": "Email", "isDefault": false, "isInitial": true, "name": "contoso.onmicrosoft.com", "type": "Managed"}
                ]
            }),
            domains: vec![
                json!({"id": "contoso.com", "authenticationType": "Managed", "isDefault": true, "isInitial": false, "isVerified": true}),
                json!({"id": "contoso.onmicrosoft.com", "authenticationType": "Managed", "isDefault": false, "isInitial": true, "isVerified": true}),
            ],
            sync: default_sync(tenant_id),
            apps: vec![AppRegistration {
                client_id: DEFAULT_CLIENT_ID.into(),
                client_secret: Some(DEFAULT_CLIENT_SECRET.into()),
                certificate_pem: None,
                allow_device_code: true,
            }],
            users: BTreeMap::new(),
            devices: BTreeMap::new(),
            user_read_all: true,
            token_lifetime_secs: 3599,
            delta_page_size: 200,
            device_code: DeviceCodeScript::default(),
            faults: Faults::default(),
            latency_ms: 0,
            expired_delta_status: 410,
            version: 1,
            tombstones: Vec::new(),
            delta_horizon: 0,
        }
    }

    /// Load a state from JSON (the format [`EmulatorState::to_json`] writes).
    pub fn from_json(text: &str) -> Result<EmulatorState> {
        let doc: StateDoc = serde_json::from_str(text)
            .map_err(|e| EmulatorError::invalid(format!("invalid emulator state: {e}")))?;
        let mut s = EmulatorState::empty(&doc.tenant_id);
        if let Some(o) = doc.organization {
            s.organization = o;
        }
        if !doc.domains.is_empty() {
            s.domains = doc.domains;
        }
        if let Some(x) = doc.on_premises_synchronization {
            s.sync = x;
        }
        if !doc.apps.is_empty() {
            s.apps = doc.apps;
        }
        s.user_read_all = doc.user_read_all;
        s.token_lifetime_secs = doc.token_lifetime_secs.unwrap_or(3599);
        s.delta_page_size = doc.delta_page_size.unwrap_or(200).clamp(1, 999);
        s.device_code = doc.device_code;
        s.faults = doc.faults;
        s.latency_ms = doc.latency_ms;
        for u in doc.users {
            let id = u.get("id").and_then(Value::as_str).map(str::to_string);
            match id {
                Some(id) => {
                    s.users.insert(id, u);
                }
                None => {
                    return Err(EmulatorError::invalid("a user in the state has no id"));
                }
            }
        }
        for d in doc.devices {
            s.add_device(d)?;
        }
        Ok(s)
    }

    /// Load a state file.
    pub fn from_file(path: &Path) -> Result<EmulatorState> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EmulatorError::io(path, format!("cannot read the emulator state: {e}")))?;
        Self::from_json(&text).map_err(|e| e.in_file(path))
    }

    /// The state as JSON (devices carry `registeredOwners` / `registeredUsers: [userId…]`).
    pub fn to_json(&self) -> Value {
        let devices: Vec<Value> = self
            .devices
            .values()
            .map(|d| {
                let mut p = d.props.clone();
                if !d.owners.is_empty() {
                    p.insert("registeredOwners".into(), json!(d.owners));
                }
                if !d.users.is_empty() {
                    p.insert("registeredUsers".into(), json!(d.users));
                }
                Value::Object(p)
            })
            .collect();
        json!({
            "tenantId": self.tenant_id,
            "organization": self.organization,
            "domains": self.domains,
            "onPremisesSynchronization": self.sync,
            "apps": self.apps,
            "users": self.users.values().collect::<Vec<_>>(),
            "devices": devices,
            "userReadAll": self.user_read_all,
            "tokenLifetimeSecs": self.token_lifetime_secs,
            "deltaPageSize": self.delta_page_size,
            "deviceCode": self.device_code,
            "faults": self.faults,
            "latencyMs": self.latency_ms,
        })
    }

    /// The devices as a Graph Explorer export (`{"@odata.context", "value": […]}`).
    pub fn graph_export(&self) -> Value {
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices",
            "value": self.devices.values().map(|d| Value::Object(d.props.clone())).collect::<Vec<_>>(),
        })
    }

    /// Write [`EmulatorState::graph_export`] to a file (pretty-printed).
    pub fn write_graph_export(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.graph_export())
            .map_err(|e| EmulatorError::io(path, format!("cannot encode the export: {e}")))?;
        write_atomic(path, &bytes)
    }

    fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// Add (or replace) a device from Graph JSON. `id` is generated when absent;
    /// `registeredOwners` and `registeredUsers` arrays of user ids set the owners
    /// and the registered users. Returns the id.
    pub fn add_device(&mut self, device: Value) -> Result<String> {
        let Value::Object(mut props) = device else {
            return Err(EmulatorError::invalid("a device must be a JSON object"));
        };
        let mut ids = |k: &str| -> Vec<String> {
            match props.remove(k) {
                Some(Value::Array(a)) => {
                    a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
                }
                _ => Vec::new(),
            }
        };
        let owners = ids("registeredOwners");
        let users = ids("registeredUsers");
        let id = match props.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                props.insert("id".into(), json!(id));
                id
            }
        };
        let v = self.bump();
        self.tombstones.retain(|(t, _, _)| t != &id);
        self.devices.insert(
            id.clone(),
            DeviceRecord { props, owners, users, created: v, changed: HashMap::new() },
        );
        Ok(id)
    }

    /// Merge `patch` (an object) into a device's properties; `null` values are
    /// stored as null. Only properties whose value changes get a new version.
    pub fn update_device(&mut self, id: &str, patch: Value) -> Result<()> {
        let Value::Object(patch) = patch else {
            return Err(EmulatorError::invalid("a device patch must be a JSON object"));
        };
        if !self.devices.contains_key(id) {
            return Err(EmulatorError::not_found(format!("no device {id} in the emulator")));
        }
        let v = self.bump();
        if let Some(d) = self.devices.get_mut(id) {
            for (k, val) in patch {
                if k == "id" {
                    continue;
                }
                if d.props.get(&k) != Some(&val) {
                    d.props.insert(k.clone(), val);
                    d.changed.insert(k, v);
                }
            }
        }
        Ok(())
    }

    /// Expires every delta token handed out so far, as Graph does after its
    /// retention period: resuming from one answers 410 with `syncStateNotFound`.
    pub fn expire_delta_tokens(&mut self) {
        // A new version: every token handed out so far is older, every new one is not.
        self.delta_horizon = self.bump();
    }

    pub fn rename_device(&mut self, id: &str, name: &str) -> Result<()> {
        self.update_device(id, json!({"displayName": name}))
    }

    pub fn set_account_enabled(&mut self, id: &str, enabled: bool) -> Result<()> {
        self.update_device(id, json!({"accountEnabled": enabled}))
    }

    /// Delete permanently: delta reports `@removed: {reason: "deleted"}`.
    pub fn delete_device(&mut self, id: &str) -> Result<()> {
        self.remove_device(id, "deleted")
    }

    /// Remove with a given `@removed.reason` (`deleted` or `changed`).
    pub fn remove_device(&mut self, id: &str, reason: &str) -> Result<()> {
        if self.devices.remove(id).is_none() {
            return Err(EmulatorError::not_found(format!("no device {id} in the emulator")));
        }
        let v = self.bump();
        self.tombstones.push((id.to_string(), reason.to_string(), v));
        Ok(())
    }

    /// Add a user (`id` required).
    pub fn add_user(&mut self, user: Value) -> Result<String> {
        let id = user
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| EmulatorError::invalid("a user needs an id"))?;
        self.users.insert(id.clone(), user);
        Ok(id)
    }

    /// Make `user_id` the (only) registered owner of a device.
    pub fn set_owner(&mut self, device_id: &str, user_id: &str) -> Result<()> {
        let d = self.devices.get_mut(device_id).ok_or_else(|| {
            EmulatorError::not_found(format!("no device {device_id} in the emulator"))
        })?;
        d.owners = vec![user_id.to_string()];
        Ok(())
    }

    /// Set the registered users of a device (user object ids, in order).
    pub fn set_registered_users(&mut self, device_id: &str, user_ids: &[&str]) -> Result<()> {
        let d = self.devices.get_mut(device_id).ok_or_else(|| {
            EmulatorError::not_found(format!("no device {device_id} in the emulator"))
        })?;
        d.users = user_ids.iter().map(|u| u.to_string()).collect();
        Ok(())
    }

    /// A device's properties.
    pub fn device(&self, id: &str) -> Option<&Map<String, Value>> {
        self.devices.get(id).map(|d| &d.props)
    }

    /// Find a device by `deviceId`.
    pub fn device_by_device_id(&self, device_id: &str) -> Option<&Map<String, Value>> {
        self.devices.values().map(|d| &d.props).find(|p| {
            p.get("deviceId")
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(device_id))
        })
    }

    /// Register a certificate (PEM) for an app, creating the app if needed.
    pub fn register_certificate(&mut self, client_id: &str, certificate_pem: &str) {
        match self.apps.iter_mut().find(|a| a.client_id == client_id) {
            Some(a) => a.certificate_pem = Some(certificate_pem.to_string()),
            None => self.apps.push(AppRegistration {
                client_id: client_id.to_string(),
                client_secret: None,
                certificate_pem: Some(certificate_pem.to_string()),
                allow_device_code: true,
            }),
        }
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// Does `tenant` (path segment) name this tenant (id or a domain)?
    pub(crate) fn is_our_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || matches!(tenant, "organizations" | "common")
            || self.domains.iter().any(|d| {
                d.get("id").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(tenant))
            })
    }
}

fn default_sync(tenant_id: &str) -> Value {
    json!({
        "id": tenant_id,
        "configuration": {"accidentalDeletionPrevention": {"synchronizationPreventionType": "enabledForCount", "alertThreshold": 500}},
        "features": {
            "passwordSyncEnabled": false, "passwordWritebackEnabled": false, "directoryExtensionsEnabled": false,
            "quarantineUponUpnConflictEnabled": true, "quarantineUponProxyAddressesConflictEnabled": true,
            "softMatchOnUpnEnabled": true, "cloudPasswordPolicyForPasswordSyncedUsersEnabled": false,
            "fopeConflictResolutionEnabled": false, "unifiedGroupWritebackEnabled": false, "userWritebackEnabled": false,
            "deviceWritebackEnabled": false, "synchronizeUpnForManagedUsersEnabled": true,
            "userForcePasswordChangeOnLogonEnabled": false, "concurrentOrgIdProvisioningEnabled": false,
            "concurrentCredentialUpdateEnabled": false, "groupWriteBackEnabled": false, "blockSoftMatchEnabled": false,
            "blockCloudObjectTakeoverThroughHardMatchEnabled": false, "bypassDirSyncOverridesEnabled": false
        }
    })
}

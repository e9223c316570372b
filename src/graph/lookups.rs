//! Devices, their owners and their registered users by id, 20 per JSON batch
//! ([`super::batch`]): what a sync needs after a delta round (delta cannot
//! `$expand`), for the registered users of a few devices (a listing expands
//! one relationship only), or for devices it has to look at again. Each id
//! gets its own result; an id whose device was deleted meanwhile is a
//! `not_found` error for that id only.

use std::collections::HashMap;

use serde_json::Value;
use url::form_urlencoded;

use super::GraphClient;
use super::batch::BatchGet;
use super::devices::{OWNER_EXPAND_SELECT, check_guid, parse_page, to_device};
use super::error::{GraphError, Result};
use super::model::{DEVICE_SELECT, Device, Owner};
use super::retry::Counters;

/// The user properties read by [`GraphClient::device_owners_batch`] and
/// [`GraphClient::device_users_batch`] (as [`GraphClient::device_owners`] reads them).
const OWNER_SELECT: &str = "id,onPremisesSecurityIdentifier,userPrincipalName";

/// `path?k=v&…` with the values percent-encoded.
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// The batch members for `ids` (valid GUIDs) and the errors for the others.
fn members<T>(
    ids: &[String],
    path: impl Fn(&str) -> String,
) -> (Vec<BatchGet>, HashMap<String, Result<T>>) {
    let mut gets = Vec::with_capacity(ids.len());
    let mut bad = HashMap::new();
    for id in ids {
        match check_guid(id, "device id") {
            Ok(g) => {
                gets.push(BatchGet { key: id.clone(), path: path(&g.hyphenated().to_string()) })
            }
            Err(e) => {
                bad.insert(id.clone(), Err(e.with_device(id.clone())));
            }
        }
    }
    (gets, bad)
}

/// Name the device in an error that does not name one yet.
fn about(id: &str, e: GraphError) -> GraphError {
    if e.device().is_some() { e } else { e.with_device(id) }
}

impl GraphClient {
    /// Devices by object id (dwb's properties, [`DEVICE_SELECT`]), 20 per batch.
    /// One entry per distinct id; `Err` only when the whole operation stops
    /// (cancelled, no token): see [`GraphClient::batch_get`].
    pub async fn get_devices_batch(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<Device>>> {
        self.devices_batch(ids, false).await
    }

    /// As [`GraphClient::get_devices_batch`], each device with its registered
    /// owners (`$expand=registeredOwners($select=id,onPremisesSecurityIdentifier,userPrincipalName)`
    /// on each GET), so [`Device::registered_owners`] is `Some`.
    pub async fn get_devices_with_owners_batch(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<Device>>> {
        self.devices_batch(ids, true).await
    }

    async fn devices_batch(
        &self,
        ids: &[String],
        owners: bool,
    ) -> Result<HashMap<String, Result<Device>>> {
        let select = DEVICE_SELECT.join(",");
        let expand = format!("registeredOwners($select={OWNER_EXPAND_SELECT})");
        let (gets, mut out) = members(ids, |g| {
            let mut q = vec![("$select", select.as_str())];
            if owners {
                q.push(("$expand", expand.as_str()));
            }
            with_query(&format!("devices/{g}"), &q)
        });
        let mut urls = HashMap::with_capacity(gets.len());
        for g in &gets {
            urls.insert(g.key.clone(), self.url(&g.path)?.to_string());
        }
        for (id, r) in self.batch_get(&gets).await? {
            let url = urls.get(&id).map(String::as_str).unwrap_or_default();
            let d = r.and_then(|v| to_device(v, &[], url)).map_err(|e| about(&id, e));
            out.insert(id, d);
        }
        Ok(out)
    }

    /// The registered owners (users, with their on-premises SIDs) of each device,
    /// 20 devices per batch; a device without owners has an empty list. Without
    /// User.Read.All Graph returns only `id` and `@odata.type` of each owner.
    pub async fn device_owners_batch(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<Vec<Owner>>>> {
        self.users_batch(ids, "registeredOwners").await
    }

    /// The registered users of each device (users, with their on-premises SIDs:
    /// `GET /devices/{id}/registeredUsers/microsoft.graph.user`), 20 devices per
    /// batch, every page of each; what `msDS-RegisteredUsers` is made of. "For
    /// cloud joined devices and registered personal devices, registered users are
    /// set to the same value as registered owners at the time of registration."
    pub async fn device_users_batch(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Result<Vec<Owner>>>> {
        self.users_batch(ids, "registeredUsers").await
    }

    /// The users of a device relationship (`registeredOwners`, `registeredUsers`).
    async fn users_batch(
        &self,
        ids: &[String],
        relation: &str,
    ) -> Result<HashMap<String, Result<Vec<Owner>>>> {
        let (gets, mut out) = members(ids, |g| {
            with_query(
                &format!("devices/{g}/{relation}/microsoft.graph.user"),
                &[("$select", OWNER_SELECT)],
            )
        });
        let paths: HashMap<String, String> =
            gets.iter().map(|g| (g.key.clone(), g.path.clone())).collect();
        for (id, r) in self.batch_get(&gets).await? {
            let path = paths.get(&id).cloned().unwrap_or_default();
            let owners = match r {
                Ok(v) => self.owner_page(v, &path).await,
                Err(e) => Err(e),
            };
            out.insert(id.clone(), owners.map_err(|e| about(&id, e)));
        }
        Ok(out)
    }

    /// The owners in a member's page, and in the pages its nextLink leads to.
    async fn owner_page(&self, v: Value, path: &str) -> Result<Vec<Owner>> {
        let url = self.url(path)?;
        let page = parse_page(v, url.as_str())?;
        Counters::bump(&self.inner.counters.pages, 1);
        let mut owners = Vec::with_capacity(page.items.len());
        for item in page.items {
            owners.push(
                Owner::from_json(item)
                    .map_err(|e| e.prefixed("a registered owner").with_url("GET", url.as_str()))?,
            );
        }
        // Further pages through `Owner::from_json` too, which tells an unread user.
        let mut next = page.next_link;
        while let Some(n) = next.take() {
            let url = self.inner.endpoints.check_link(&n, "@odata.nextLink")?;
            let page = parse_page(self.inner.get_json(url.clone()).await?, url.as_str())?;
            Counters::bump(&self.inner.counters.pages, 1);
            next = page.next_link;
            for item in page.items {
                owners.push(
                    Owner::from_json(item).map_err(|e| {
                        e.prefixed("a registered owner").with_url("GET", url.as_str())
                    })?,
                );
            }
        }
        Ok(owners)
    }
}

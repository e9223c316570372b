//! What a sync reads from Graph: the listing (with each device's registered
//! owners expanded, so a full sync makes no per-device request), the registered
//! users (a second listing that expands them, as Graph expands one relationship
//! per request), and, where `$expand` is not allowed (delta rounds), whole
//! devices, owners and users by id in JSON batches of 20, several in flight. A
//! lookup's failure is kept per device: one device's failure must not stop the
//! others.

use std::collections::HashMap;

use super::mapping::{Skip, SkipKind};
use crate::cancel::Blocking;
use crate::error::Result;
use crate::graph::{Device, GraphClient, ListOptions, Owner};

/// At most this many items of an expanded relationship come back, with no link
/// to more ("Use query parameters": `$expand` on directory objects "typically
/// returns a maximum of 20 items for the expanded relationship").
const EXPANDED_MAX: usize = 20;

/// The on-premises SID of a device's registered owner, if it has one.
pub fn owner_sid(owners: &[Owner]) -> Option<String> {
    owners.iter().find_map(|o| o.on_premises_security_identifier.clone())
}

/// The registered owner's on-premises SID of each device (None: no owner, or
/// a cloud-only one). Hybrid-joined devices have no registered owner (spec
/// docs/device-writeback.md §B.4): no request for them.
pub fn owner_sids(
    client: &GraphClient,
    devices: &[&Device],
    blocking: &Blocking,
) -> Result<HashMap<String, Result<Option<String>>>> {
    let ids: Vec<String> = devices
        .iter()
        .filter(|d| d.trust_type.as_deref() != Some("ServerAd"))
        .map(|d| d.id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = blocking.block_on(async { Ok(client.device_owners_batch(&ids).await?) })?;
    Ok(found
        .into_iter()
        .map(|(id, r)| (id, r.map(|o| owner_sid(&o)).map_err(Into::into)))
        .collect())
}

/// Whole devices by object id (a delta round carries only changed
/// properties), with their registered owners when `owners` is set.
pub fn devices(
    client: &GraphClient,
    ids: &[String],
    owners: bool,
    blocking: &Blocking,
) -> Result<HashMap<String, Result<Device>>> {
    Ok(devices_and_users(client, ids, owners, false, blocking)?.0)
}

/// Registered users by device id.
pub type UsersById = HashMap<String, Vec<Owner>>;

/// [`devices`] and, at the same time, the registered users of the same devices
/// when `users` is set (a delta round: two lookups, one round trip's wait).
pub fn devices_and_users(
    client: &GraphClient,
    ids: &[String],
    owners: bool,
    users: bool,
    blocking: &Blocking,
) -> Result<(HashMap<String, Result<Device>>, UsersById)> {
    if ids.is_empty() {
        return Ok((HashMap::new(), HashMap::new()));
    }
    let (found, with_users) = blocking.block_on(async {
        let devices = async {
            if owners {
                client.get_devices_with_owners_batch(ids).await
            } else {
                client.get_devices_batch(ids).await
            }
        };
        let registered =
            async { if users { client.device_users_batch(ids).await } else { Ok(HashMap::new()) } };
        let (d, u) = tokio::join!(devices, registered);
        Ok((d?, u?))
    })?;
    let devices = found.into_iter().map(|(id, r)| (id, r.map_err(Into::into))).collect();
    // A failed users lookup is left out: `registered_users` tries it again and reports it.
    let users = with_users.into_iter().filter_map(|(id, r)| Some((id, r.ok()?))).collect();
    Ok((devices, users))
}

/// Every device's registered users from one listing that expands them (the
/// only `$expand` a request may carry, so a second listing beside the owners').
/// Devices with as many users as an expansion returns at most are left out:
/// their list may be cut, they are looked up one by one (batched).
pub fn tenant_users(
    client: &GraphClient,
    blocking: &Blocking,
) -> Result<HashMap<String, Vec<Owner>>> {
    let task = start_tenant_users(client, blocking)?;
    join_tenant_users(task, blocking)
}

type UsersResult = crate::graph::Result<HashMap<String, Vec<Owner>>>;

/// A pending [`tenant_users`] listing; dropping it stops the listing.
pub struct UsersTask(tokio::task::JoinHandle<UsersResult>);

impl Drop for UsersTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts [`tenant_users`] on the runtime, to overlap the directory reads.
pub fn start_tenant_users(client: &GraphClient, blocking: &Blocking) -> Result<UsersTask> {
    let client = client.clone();
    Ok(UsersTask(blocking.handle()?.spawn(async move {
        let opts =
            ListOptions { select: vec!["id".into()], expand_users: true, ..Default::default() };
        let mut found = HashMap::new();
        client
            .list_devices(&opts, |d| {
                if let Some(users) = d.registered_users.filter(|u| u.len() < EXPANDED_MAX) {
                    found.insert(d.id, users);
                }
                std::ops::ControlFlow::Continue(())
            })
            .await?;
        Ok(found)
    })))
}

/// Waits for a listing [`start_tenant_users`] started.
pub fn join_tenant_users(
    mut task: UsersTask,
    blocking: &Blocking,
) -> Result<HashMap<String, Vec<Owner>>> {
    blocking.block_on(async {
        match (&mut task.0).await {
            Ok(r) => Ok(r?),
            Err(e) => Err(crate::error::Error::internal(format!("the users listing failed: {e}"))),
        }
    })
}

/// Attaches registered users to the devices that lack them: from `known`
/// (the tenant's listing, in a full round), else in JSON batches. Returns the
/// devices whose lookup failed.
pub fn registered_users(
    client: &GraphClient,
    devices: &mut [Device],
    known: Option<&HashMap<String, Vec<Owner>>>,
    blocking: &Blocking,
) -> Result<Vec<Skip>> {
    let wanted: Vec<usize> =
        (0..devices.len()).filter(|i| devices[*i].registered_users.is_none()).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: HashMap<String, Vec<Owner>> = HashMap::new();
    if let Some(known) = known {
        for i in &wanted {
            if let Some(u) = known.get(&devices[*i].id) {
                found.insert(devices[*i].id.clone(), u.clone());
            }
        }
    }
    let missing: Vec<String> = wanted
        .iter()
        .map(|i| devices[*i].id.clone())
        .filter(|id| !found.contains_key(id))
        .collect();
    let mut skips = Vec::new();
    if !missing.is_empty() {
        let looked_up =
            blocking.block_on(async { Ok(client.device_users_batch(&missing).await?) })?;
        for (id, r) in looked_up {
            match r {
                Ok(users) => {
                    found.insert(id, users);
                }
                Err(e) => skips.push(Skip::new(
                    id,
                    SkipKind::UsersLookup,
                    format!("registered users lookup failed: {}", crate::error::Error::from(e)),
                )),
            }
        }
    }
    for i in wanted {
        let d = &mut devices[i];
        d.registered_users = found.remove(&d.id);
    }
    Ok(skips)
}

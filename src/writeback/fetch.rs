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

/// As [`owner_sid`], or `None` when Graph sent an owner without its SID
/// ([`Owner::unread`]): what the owner is, is then unknown.
pub fn read_owner_sid(owners: &[Owner]) -> Option<Option<String>> {
    if owners.iter().any(|o| o.unread) { None } else { Some(owner_sid(owners)) }
}

/// A device's registered owner as a lookup found it: `Ok(None)` when Graph
/// sent the owner without its SID, `Ok(Some(None))` for no owner or a
/// cloud-only one.
pub type OwnerLookup = Result<Option<Option<String>>>;

/// The registered owner's on-premises SID of each device (see [`OwnerLookup`]).
/// Hybrid-joined devices have no registered owner (docs/device-writeback.md §B.4): no request for
/// them unless `hybrid` is set (their expansion was read and came back unread).
pub fn owner_sids(
    client: &GraphClient,
    devices: &[&Device],
    hybrid: bool,
    blocking: &Blocking,
) -> Result<HashMap<String, OwnerLookup>> {
    let ids: Vec<String> = devices
        .iter()
        .filter(|d| hybrid || d.trust_type.as_deref() != Some("ServerAd"))
        .map(|d| d.id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = blocking.block_on(async { Ok(client.device_owners_batch(&ids).await?) })?;
    Ok(found
        .into_iter()
        .map(|(id, r)| (id, r.map(|o| read_owner_sid(&o)).map_err(Into::into)))
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
    // A failed or unread users lookup is left out: `registered_users` tries it
    // again and reports it.
    let users = with_users
        .into_iter()
        .filter_map(|(id, r)| Some((id, r.ok().filter(|u| !u.iter().any(|o| o.unread))?)))
        .collect();
    Ok((devices, users))
}

/// Every device's registered users from one listing that expands them (the
/// only `$expand` a request may carry, so a second listing beside the owners').
/// Devices with as many users as an expansion returns at most are left out:
/// their list may be cut, they are looked up one by one (batched).
pub fn tenant_users(client: &GraphClient, blocking: &Blocking) -> Result<TenantUsers> {
    let task = start_tenant_users(client, blocking)?;
    join_tenant_users(task, blocking)
}

/// The tenant's registered users by device, and the warning to give when
/// Graph refused the listing that expands them (then none are known: each
/// device's are looked up by id).
pub type TenantUsers = (HashMap<String, Vec<Owner>>, Option<String>);

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

/// Waits for a listing [`start_tenant_users`] started. The registered users
/// are optional and have the documented per-device lookup
/// (`/devices/{id}/registeredUsers/microsoft.graph.user`): a 400 for the
/// expansion (a Graph service that does not support it) falls back to that
/// with a warning rather than failing the run.
pub fn join_tenant_users(mut task: UsersTask, blocking: &Blocking) -> Result<TenantUsers> {
    blocking.block_on(async {
        match (&mut task.0).await {
            Ok(Ok(found)) => Ok((found, None)),
            Ok(Err(e)) if e.reason() == crate::graph::Reason::BadRequest => {
                let warning = format!(
                    "Graph refused the listing that expands registeredUsers ({e}); \
                     the registered users are read device by device instead"
                );
                Ok((HashMap::new(), Some(warning)))
            }
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(crate::error::Error::internal(format!("the users listing failed: {e}"))),
        }
    })
}

/// What [`registered_users`] could not attach: the devices whose lookup
/// failed, and those whose users Graph sent without their SIDs
/// ([`Owner::unread`]; their `registered_users` stay `None`).
#[derive(Debug, Default)]
pub struct UsersMissing {
    pub failed: Vec<Skip>,
    pub unread: Vec<String>,
}

/// Attaches registered users to the devices that lack them: from `known`
/// (the tenant's listing, in a full round), else in JSON batches.
pub fn registered_users(
    client: &GraphClient,
    devices: &mut [Device],
    known: Option<&HashMap<String, Vec<Owner>>>,
    blocking: &Blocking,
) -> Result<UsersMissing> {
    let wanted: Vec<usize> =
        (0..devices.len()).filter(|i| devices[*i].registered_users.is_none()).collect();
    let mut out = UsersMissing::default();
    if wanted.is_empty() {
        return Ok(out);
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
    if !missing.is_empty() {
        let looked_up =
            blocking.block_on(async { Ok(client.device_users_batch(&missing).await?) })?;
        for (id, r) in looked_up {
            match r {
                Ok(users) if users.iter().any(|o| o.unread) => out.unread.push(id),
                Ok(users) => {
                    found.insert(id, users);
                }
                Err(e) => out.failed.push(Skip::new(
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
    Ok(out)
}

//! What a sync reads from Graph: the listing (with each device's registered
//! owners expanded, so a full sync makes no per-device request), and, where
//! `$expand` is not allowed (delta rounds), whole devices and owners by id in
//! JSON batches of 20, several in flight. A lookup's failure is kept per device:
//! one device's failure must not stop the others.

use std::collections::HashMap;

use crate::cancel::Blocking;
use crate::error::Result;
use crate::graph::{Device, GraphClient, ListOptions, Owner};

/// The on-premises SID of a device's registered owner, if it has one.
pub fn owner_sid(owners: &[Owner]) -> Option<String> {
    owners.iter().find_map(|o| o.on_premises_security_identifier.clone())
}

/// The registered owner's on-premises SID of each device (None: no owner, or
/// a cloud-only one). Hybrid-joined devices have no registered owner (spec
/// §B.4): no request for them.
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
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = blocking.block_on(async {
        Ok(if owners {
            client.get_devices_with_owners_batch(ids).await?
        } else {
            client.get_devices_batch(ids).await?
        })
    })?;
    Ok(found.into_iter().map(|(id, r)| (id, r.map_err(Into::into))).collect())
}

/// Every device of the tenant, page by page, with registered owners expanded
/// when `owners` is set (pages of at most 100 then, as Graph documents).
pub fn list_all(client: &GraphClient, owners: bool, blocking: &Blocking) -> Result<Vec<Device>> {
    let opts = ListOptions { expand_owners: owners, ..Default::default() };
    let mut all = Vec::new();
    blocking.block_on(async {
        client
            .list_devices(&opts, |d| {
                all.push(d);
                std::ops::ControlFlow::Continue(())
            })
            .await?;
        Ok(())
    })?;
    Ok(all)
}

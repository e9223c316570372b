//! What a sync reads from Graph besides the listing: registered owners and
//! whole devices, many at a time, each lookup's failure kept per device (one
//! device's failure must not stop the others).

use std::collections::HashMap;

use crate::cancel::Blocking;
use crate::error::{Error, Result};
use crate::graph::{Device, GraphClient};

/// How many Graph requests run at once when looking up owners or full devices.
const GRAPH_CONCURRENCY: usize = 16;

/// Runs `f` for every id with a bounded number of requests in flight.
fn concurrently<T, F, Fut>(
    blocking: &Blocking,
    ids: Vec<String>,
    f: F,
) -> Result<HashMap<String, Result<T>>>
where
    T: Send + 'static,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
{
    blocking.block_on(async {
        let mut out = HashMap::with_capacity(ids.len());
        let mut set = tokio::task::JoinSet::new();
        let mut it = ids.into_iter();
        loop {
            while set.len() < GRAPH_CONCURRENCY {
                let Some(id) = it.next() else { break };
                let fut = f(id.clone());
                set.spawn(async move { (id, fut.await) });
            }
            match set.join_next().await {
                Some(Ok((id, r))) => {
                    out.insert(id, r);
                }
                Some(Err(e)) => {
                    return Err(Error::internal(format!("a Graph lookup task failed: {e}")));
                }
                None => break,
            }
        }
        Ok(out)
    })
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
    let c = client.clone();
    let found = concurrently(blocking, ids, move |id| {
        let c = c.clone();
        async move { Ok(c.device_owners(&id).await?) }
    })?;
    Ok(found
        .into_iter()
        .map(|(id, r)| {
            (id, r.map(|owners| owners.into_iter().find_map(|o| o.on_premises_security_identifier)))
        })
        .collect())
}

/// Whole devices by object id (a delta round carries only changed properties).
pub fn devices(
    client: &GraphClient,
    ids: Vec<String>,
    blocking: &Blocking,
) -> Result<HashMap<String, Result<Device>>> {
    let c = client.clone();
    concurrently(blocking, ids, move |id| {
        let c = c.clone();
        async move { Ok(c.get_device(&id).await?) }
    })
}

/// Every device of the tenant, page by page.
pub fn list_all(client: &GraphClient, blocking: &Blocking) -> Result<Vec<Device>> {
    let mut all = Vec::new();
    blocking.block_on(async {
        client
            .list_devices(&Default::default(), |d| {
                all.push(d);
                std::ops::ControlFlow::Continue(())
            })
            .await?;
        Ok(())
    })?;
    Ok(all)
}

//! Reading a device source device by device. An export file is parsed as it
//! is read; a tenant's listing runs on the runtime from the moment it starts
//! and hands devices over a channel, so the consumer may block (on the
//! directory, on Graph batches) while the next page is already on its way, and
//! the listing overlaps whatever the caller does between starting and reading.

use std::ops::ControlFlow;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::devices::DeviceSource;
use crate::cancel::Blocking;
use crate::embedded;
use crate::error::{Error, Result};
use crate::graph::{self, Device};

/// A device listing in progress.
pub struct Listing<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    File(&'a DeviceSource),
    Graph {
        rx: UnboundedReceiver<Device>,
        task: JoinHandle<graph::Result<graph::ListSummary>>,
        blocking: &'a Blocking,
    },
}

pub(super) fn start<'a>(
    src: &'a DeviceSource,
    owners: bool,
    blocking: &'a Blocking,
) -> Result<Listing<'a>> {
    let inner = match src {
        DeviceSource::File { .. } => Inner::File(src),
        DeviceSource::Graph(c) => {
            let opts = graph::ListOptions { expand_owners: owners, ..Default::default() };
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let c = c.clone();
            let task = blocking.handle()?.spawn(async move {
                c.list_devices(&opts, |d| match tx.send(d) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                })
                .await
            });
            Inner::Graph { rx, task, blocking }
        }
    };
    Ok(Listing { inner })
}

impl Listing<'_> {
    /// Hands every device to `each` (false stops); returns how many were handed out.
    pub fn each(self, mut each: impl FnMut(Device) -> bool) -> Result<usize> {
        let mut n = 0;
        match self.inner {
            Inner::File(DeviceSource::File { path: Some(p), name, key }) => {
                // A file that is not a Graph export is the file's problem, not the script's.
                n = graph::offline::for_each_device_in_file(p, each).map_err(|e| {
                    let msg = e.message();
                    let msg = msg.strip_prefix(&format!("{name}: ")).unwrap_or(msg);
                    Error::config(format!("{name} ({key}): {msg}")).with_hint(
                        "give a Graph device export: the JSON of GET /devices (pages or an array)",
                    )
                })?;
            }
            Inner::File(_) => {
                for d in graph::devices_from_json(embedded::DEMO_DEVICES)? {
                    n += 1;
                    if !each(d) {
                        break;
                    }
                }
            }
            Inner::Graph { mut rx, task, blocking } => {
                while let Some(d) = rx.blocking_recv() {
                    n += 1;
                    if !each(d) {
                        break;
                    }
                }
                drop(rx);
                blocking.block_on(async {
                    match task.await {
                        Ok(r) => r.map(|_| ()).map_err(Into::into),
                        Err(e) => {
                            Err(Error::internal(format!("the Graph listing task failed: {e}")))
                        }
                    }
                })?;
            }
        }
        Ok(n)
    }
}

// The listing methods of a device source live here, beside the listing they
// start, so that `devices.rs` (the source) does not import this file back.
impl DeviceSource {
    /// Hands every device to `each` as it is read (false stops); returns how many.
    /// A tenant's listing expands registered owners when `owners` is set.
    pub fn each_device(
        &self,
        owners: bool,
        blocking: &Blocking,
        each: impl FnMut(Device) -> bool,
    ) -> Result<usize> {
        self.start_listing(owners, blocking)?.each(each)
    }

    /// Starts reading the devices: a tenant's listing begins on the runtime at
    /// once (so it overlaps what the caller does next, e.g. reading the
    /// container); [`Listing::each`] hands the devices out.
    pub fn start_listing<'a>(
        &'a self,
        owners: bool,
        blocking: &'a Blocking,
    ) -> Result<Listing<'a>> {
        start(self, owners, blocking)
    }
}

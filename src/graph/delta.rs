//! Device delta queries (docs/device-writeback.md §C.6) with the final `@odata.deltaLink` kept in a
//! small JSON state file, written atomically (temp file + rename).
//!
//! State file format (version 1):
//! `{"version":1,"graph":"https://graph.microsoft.com","tenant":"…","select":"id,deviceId,…",
//!   "deltaLink":"https://graph.microsoft.com/v1.0/devices/delta?$deltatoken=…","savedAt":"<HTTP-date>",
//!   "retry":["<object id>",…]}`; `retry` (optional) lists devices whose write failed in the
//! round the deltaLink ends: the next round reads them again.

use std::ops::ControlFlow;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::GraphClient;
use super::devices::{parse_page, to_device};
use super::error::{GraphError, Reason, Result};
use super::model::{DEVICE_SELECT, Device};
use super::retry::Counters;

/// Options for [`GraphClient::delta_devices`]. There is no owner expansion here:
/// "device: delta" documents only `$select` and `$filter=id eq` (the emulator
/// answers 400 to `$expand`); read the changed devices' owners with
/// [`GraphClient::device_owners_batch`].
#[derive(Debug, Clone)]
pub struct DeltaOptions {
    /// `$select` for the initial round (Graph encodes it into the tokens).
    pub select: Vec<String>,
}

impl Default for DeltaOptions {
    fn default() -> Self {
        DeltaOptions { select: DEVICE_SELECT.iter().map(|s| s.to_string()).collect() }
    }
}

/// A device that left the result: `reason` is `deleted` (permanently) or
/// `changed` (soft-deleted / out of scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub id: String,
    pub reason: String,
}

/// One delta page. `changed` devices carry only the changed properties (plus
/// `id`) in incremental rounds, all selected properties in the initial round.
#[derive(Debug, Clone, Default)]
pub struct DeltaPage {
    pub changed: Vec<Device>,
    pub removed: Vec<Removed>,
}

/// What a delta round did.
#[derive(Debug, Clone, Default)]
pub struct DeltaSummary {
    pub pages: u64,
    pub changed: u64,
    pub removed: u64,
    /// True if the round resumed from a stored deltaLink (false = initial full round).
    pub resumed: bool,
    /// True if the callback stopped the round (nothing was persisted).
    pub stopped: bool,
    /// The new deltaLink (persisted unless `stopped`).
    pub delta_link: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateFile {
    version: u32,
    graph: String,
    tenant: String,
    select: String,
    delta_link: String,
    #[serde(default)]
    saved_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retry: Vec<String>,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> GraphError {
    GraphError::new(Reason::Io, format!("cannot {what} the delta state file: {e}"))
        .with_file(path.display().to_string())
        .with_source(e)
}

fn load_state(path: &Path) -> Result<Option<StateFile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "read", e)),
    };
    let s: StateFile = serde_json::from_str(&text).map_err(|e| {
        GraphError::new(
            Reason::Config,
            format!("the delta state file is not valid: {e}; delete it to start over"),
        )
        .with_file(path.display().to_string())
    })?;
    if s.version != 1 {
        return Err(GraphError::config(format!(
            "delta state file version {} is not supported",
            s.version
        ))
        .with_file(path.display().to_string()));
    }
    Ok(Some(s))
}

/// Write `bytes` to `path` atomically (`fsutil::write_atomic`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // 0600 whatever the umask: a deltaLink, id hints.
    crate::fsutil::write_atomic_private(path, bytes).map_err(|e| io_err(path, "write", e))
}

fn parse_removed(v: &Value) -> Option<Removed> {
    let o = v.as_object()?;
    let r = o.get("@removed")?;
    let id = o.get("id").and_then(Value::as_str)?.to_string();
    let reason = r.get("reason").and_then(Value::as_str).unwrap_or("deleted").to_string();
    Some(Removed { id, reason })
}

impl GraphClient {
    /// One delta round. First call (no state file): `/devices/delta?$select=…`;
    /// later calls resume from the stored deltaLink. `on_page` sees each page's
    /// changed and removed devices; after the last page (and only if no callback
    /// returned `Break`) the new deltaLink is written atomically to `state_file`.
    pub async fn delta_devices<F>(
        &self,
        state_file: &Path,
        opts: &DeltaOptions,
        mut on_page: F,
    ) -> Result<DeltaSummary>
    where
        F: FnMut(DeltaPage) -> ControlFlow<()>,
    {
        let select = opts.select.join(",");
        let graph = self.inner.endpoints.graph_root().as_str().trim_end_matches('/').to_string();
        let tenant = self.inner.endpoints.tenant().to_string();
        let mut sum = DeltaSummary::default();
        let mut next: Url = match load_state(state_file)? {
            Some(s) => {
                if s.graph != graph || !s.tenant.eq_ignore_ascii_case(&tenant) {
                    return Err(GraphError::config(format!(
                        "the delta state file belongs to {} / tenant {}, not {graph} / {tenant}; use another file",
                        s.graph, s.tenant
                    ))
                    .with_file(state_file.display().to_string()));
                }
                if s.select != select {
                    return Err(GraphError::config(format!(
                        "the delta state file was made with $select={} but {select} was asked; \
                         delete the state file to start a full round",
                        s.select
                    ))
                    .with_file(state_file.display().to_string()));
                }
                sum.resumed = true;
                self.inner.endpoints.check_link(&s.delta_link, "stored deltaLink")?
            }
            None => {
                let mut u = self.url("devices/delta")?;
                if !select.is_empty() {
                    u.query_pairs_mut().append_pair("$select", &select);
                }
                u
            }
        };
        let mut follow = super::pages::Follow::new(&next);
        loop {
            let v = self.inner.get_json(next.clone()).await?;
            let page = parse_page(v, next.as_str())?;
            Counters::bump(&self.inner.counters.pages, 1);
            sum.pages += 1;
            follow.page(page.count, page.items.len());
            if page.next_link.is_some() && page.delta_link.is_some() {
                return Err(GraphError::new(
                    Reason::BadJson,
                    "a delta page has both @odata.nextLink and @odata.deltaLink",
                )
                .with_url("GET", next.as_str()));
            }
            // Check the links before anyone sees the page.
            let next_url = match &page.next_link {
                Some(n) => {
                    let n = self.inner.endpoints.check_link(n, "@odata.nextLink")?;
                    follow.next(&n)?;
                    Some(n)
                }
                None => None,
            };
            if let Some(d) = &page.delta_link {
                self.inner.endpoints.check_link(d, "@odata.deltaLink")?;
            }
            let mut out = DeltaPage::default();
            for item in page.items {
                if let Some(r) = parse_removed(&item) {
                    out.removed.push(r);
                } else {
                    out.changed.push(to_device(item, &[], next.as_str())?);
                }
            }
            sum.changed += out.changed.len() as u64;
            sum.removed += out.removed.len() as u64;
            if on_page(out).is_break() {
                sum.stopped = true;
                return Ok(sum);
            }
            match (next_url, page.delta_link) {
                (Some(n), None) => next = n,
                (None, Some(d)) => {
                    let st = StateFile {
                        version: 1,
                        graph,
                        tenant,
                        select,
                        delta_link: d.clone(),
                        saved_at: Some(httpdate::fmt_http_date(std::time::SystemTime::now())),
                        retry: Vec::new(),
                    };
                    let bytes = serde_json::to_vec_pretty(&st).map_err(|e| {
                        GraphError::new(Reason::Io, format!("cannot encode the delta state: {e}"))
                    })?;
                    write_atomic(state_file, &bytes)?;
                    sum.delta_link = Some(d);
                    return Ok(sum);
                }
                _ => {
                    return Err(GraphError::new(
                        Reason::BadJson,
                        "a delta page has neither @odata.nextLink nor @odata.deltaLink",
                    )
                    .with_url("GET", next.as_str()));
                }
            }
        }
    }

    /// "Sync from now": `$deltatoken=latest` returns no data, just a deltaLink,
    /// which is stored in `state_file`. Later `delta_devices` calls return only
    /// changes made after this call.
    pub async fn delta_from_now(&self, state_file: &Path, opts: &DeltaOptions) -> Result<String> {
        let _ = std::fs::remove_file(state_file);
        let mut u = self.url("devices/delta")?;
        {
            let mut q = u.query_pairs_mut();
            if !opts.select.is_empty() {
                q.append_pair("$select", &opts.select.join(","));
            }
            q.append_pair("$deltatoken", "latest");
        }
        // Reuse the round logic by seeding a state file with this URL.
        let st = StateFile {
            version: 1,
            graph: self.inner.endpoints.graph_root().as_str().trim_end_matches('/').to_string(),
            tenant: self.inner.endpoints.tenant().to_string(),
            select: opts.select.join(","),
            delta_link: u.to_string(),
            saved_at: None,
            retry: Vec::new(),
        };
        let bytes =
            serde_json::to_vec(&st).map_err(|e| GraphError::new(Reason::Io, e.to_string()))?;
        write_atomic(state_file, &bytes)?;
        let sum = self.delta_devices(state_file, opts, |_| ControlFlow::Continue(())).await?;
        sum.delta_link.ok_or_else(|| {
            GraphError::new(Reason::BadJson, "Graph returned no deltaLink for $deltatoken=latest")
        })
    }

    /// The deltaLink stored in a state file, if any.
    pub fn stored_delta_link(state_file: &Path) -> Result<Option<String>> {
        Ok(load_state(state_file)?.map(|s| s.delta_link))
    }

    /// The devices a state file says to read again (their write failed last round).
    pub fn stored_retry(state_file: &Path) -> Result<Vec<String>> {
        Ok(load_state(state_file)?.map(|s| s.retry).unwrap_or_default())
    }

    /// Records in a state file the devices to read again next round (atomic rewrite).
    pub fn set_retry(state_file: &Path, ids: &[String]) -> Result<()> {
        let Some(mut s) = load_state(state_file)? else {
            return Err(GraphError::new(Reason::Io, "no delta state to record retries in")
                .with_file(state_file.display().to_string()));
        };
        s.retry = ids.to_vec();
        let bytes = serde_json::to_vec_pretty(&s).map_err(|e| {
            GraphError::new(Reason::Io, format!("cannot encode the delta state: {e}"))
        })?;
        write_atomic(state_file, &bytes)
    }
}

//! Device listing (streamed page by page), single-device lookup, owners,
//! organization, domains and the delegated-only onPremisesSynchronization calls.

use std::ops::ControlFlow;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::error::{GraphError, Reason, Result};
use super::http::ReqBody;
use super::model::{DEVICE_SELECT, Device, Domain, OnPremisesSync, Organization, Owner};
use super::retry::Counters;
use super::{GraphClient, TokenKind};

/// The owner properties asked for with [`ListOptions::expand_owners`]: the SID is
/// what writeback needs (`msDS-RegisteredOwner`); `userPrincipalName`, which
/// every user has, tells a cloud-only user (SID null) from a user Graph sent
/// as "limited information" (everything but `id` null): see `Owner::unread`.
pub const OWNER_EXPAND_SELECT: &str = "id,onPremisesSecurityIdentifier,userPrincipalName";

/// The page size a listing with `$expand` asks for. The Graph known issues
/// (query parameters) say that `$expand` on relationships of directory objects
/// "Returns a maximum of 20 objects" (of the expanded relationship, with no
/// `@odata.nextLink`; up to 100 only for `/users?$expand=registeredDevices`);
/// they do not state a page size. Pages of at most 100 devices with `$expand`
/// are what tenants serve whatever `$top` says (answers on Microsoft Q&A and
/// Tech Community point to the `$expand` section of "Use query parameters"),
/// so dwb asks for 100 rather than rely on a `$top` Graph would not honour.
pub const EXPAND_MAX_PAGE: u32 = 100;

/// Options for [`GraphClient::list_devices`].
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// `$select`; empty = Graph's default property set. Default: [`DEVICE_SELECT`].
    pub select: Vec<String>,
    /// `$filter` passed as is (Graph supports e.g. `deviceId eq '…'`, `startswith(displayName,'x')`).
    pub filter: Option<String>,
    /// `$top` page size, 1..=999 (default 999; at most [`EXPAND_MAX_PAGE`] with
    /// `expand_owners`).
    pub top: Option<u32>,
    /// Also read each device's registered owners in the same pages
    /// (`$expand=registeredOwners($select=id,onPremisesSecurityIdentifier,userPrincipalName)`), into
    /// [`Device::registered_owners`]. "Use query parameters" documents that `$select`
    /// can be nested in `$expand` and that for directory objects `$expand` "typically
    /// returns a maximum of 20 items for the expanded relationship and has no
    /// @odata.nextLink" (a device has one owner: "Currently, there can be only one").
    /// The page size becomes at most 100 (see [`EXPAND_MAX_PAGE`]). A tenant may
    /// ignore the nested `$select` (the known issues: "No support for nesting
    /// other query parameters such as `$filter` and `$select` inside an
    /// `$expand` query"): owners then come without their SIDs and count as not
    /// read (`Owner::unread`); writeback looks them up by id. Not available
    /// with delta: "device: delta" documents only `$select` and `$filter`.
    pub expand_owners: bool,
    /// Read each device's registered users the same way
    /// (`$expand=registeredUsers($select=id,onPremisesSecurityIdentifier,userPrincipalName)`) into
    /// [`Device::registered_users`]. Graph expands one relationship per request:
    /// not together with `expand_owners`.
    pub expand_users: bool,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            select: DEVICE_SELECT.iter().map(|s| s.to_string()).collect(),
            filter: None,
            top: Some(999),
            expand_owners: false,
            expand_users: false,
        }
    }
}

/// What a full listing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListSummary {
    pub pages: u64,
    pub devices: u64,
    /// True when the callback stopped the listing.
    pub stopped: bool,
}

/// A listing's progress line on a terminal's stderr (devices, pages, rate,
/// time so far), cleared when the listing ends, whichever way; without a
/// terminal nothing (the summary is one log line, `-v`).
fn listing_progress() -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressFinish};
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_finish(ProgressFinish::AndClear);
    let template = "{spinner} listing Entra devices: {pos} so far, {msg}, {rate}, {elapsed}";
    if let Some(style) = crate::progress::style(template) {
        bar.set_style(style);
    }
    bar.set_message("0 page(s)");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// One page of a collection response.
pub(crate) struct RawPage {
    pub items: Vec<Value>,
    pub next_link: Option<String>,
    pub delta_link: Option<String>,
    /// `@odata.count`, when Graph announced the collection's size.
    pub count: Option<u64>,
}

pub(crate) fn parse_page(v: Value, url: &str) -> Result<RawPage> {
    let bad = |what: &str| {
        GraphError::new(Reason::BadJson, format!("Graph page {what}")).with_url("GET", url)
    };
    let Value::Object(mut o) = v else {
        return Err(bad("is not a JSON object"));
    };
    let items = match o.remove("value") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("has a 'value' that is not an array")),
        None => return Err(bad("has no 'value' array")),
    };
    let link = |o: &mut serde_json::Map<String, Value>, k: &str| match o.remove(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(&format!("has a '{k}' that is not a string"))),
    };
    let next_link = link(&mut o, "@odata.nextLink")?;
    let delta_link = link(&mut o, "@odata.deltaLink")?;
    let count = o.get("@odata.count").and_then(Value::as_u64);
    Ok(RawPage { items, next_link, delta_link, count })
}

/// Convert a page item to a device. A selected property that is absent reads
/// as `null`: Graph usually sends `null`, but OData does not promise it, and
/// no property is worth aborting a listing for. An absent expanded
/// relationship reads as not read (`None`), never as empty.
/// `required` is for a listing without `$select`, whose default properties
/// must include `deviceId`.
pub(crate) fn to_device(v: Value, required: &[&str], url: &str) -> Result<Device> {
    if let Value::Object(o) = &v {
        for r in required {
            if !o.contains_key(*r) {
                let id = o.get("id").and_then(Value::as_str).unwrap_or("(no id)").to_string();
                return Err(GraphError::new(
                    Reason::BadDevice,
                    format!("device {id}: property '{r}' is missing from Graph's response"),
                )
                .with_device(id)
                .with_field(*r)
                .with_url("GET", url));
            }
        }
    }
    Device::from_json(v).map_err(|e| e.with_url("GET", url))
}

/// Reject anything but a GUID before putting it in a URL or filter.
pub(crate) fn check_guid(s: &str, what: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s.trim())
        .map_err(|_| GraphError::config(format!("{what} '{s}' is not a GUID")))
}

/// Streams a device listing page by page (at most one page in memory).
pub struct DevicePager {
    client: GraphClient,
    next: Option<Url>,
    required: &'static [&'static str],
    pages: u64,
    /// The links followed (a listing that loops ends with an error).
    follow: Option<super::pages::Follow>,
}

impl DevicePager {
    /// The next page of devices, or `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Device>>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let inner = &self.client.inner;
        let v = inner.get_json(url.clone()).await?;
        let page = parse_page(v, url.as_str())?;
        Counters::bump(&inner.counters.pages, 1);
        self.pages += 1;
        let follow = self.follow.get_or_insert_with(|| super::pages::Follow::new(&url));
        follow.page(page.count, page.items.len());
        if let Some(n) = page.next_link {
            let n = inner.endpoints.check_link(&n, "@odata.nextLink")?;
            follow.next(&n)?;
            self.next = Some(n);
        }
        let mut out = Vec::with_capacity(page.items.len());
        for item in page.items {
            out.push(to_device(item, self.required, url.as_str())?);
        }
        Ok(Some(out))
    }
    /// Pages fetched so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }
    /// The URL of the next page, if any.
    pub fn next_url(&self) -> Option<&Url> {
        self.next.as_ref()
    }
}

impl GraphClient {
    /// A Graph v1.0 URL for a relative path.
    pub fn url(&self, path: &str) -> Result<Url> {
        self.inner.endpoints.graph_url(path)
    }

    /// Start a device listing (nothing is sent until the first `next_page`).
    pub fn devices(&self, opts: &ListOptions) -> Result<DevicePager> {
        if opts.expand_owners && opts.expand_users {
            return Err(GraphError::config(
                "Graph expands one relationship per request: registeredOwners or registeredUsers",
            ));
        }
        let expand = if opts.expand_owners {
            Some("registeredOwners")
        } else if opts.expand_users {
            Some("registeredUsers")
        } else {
            None
        };
        let mut url = self.url("devices")?;
        {
            let mut q = url.query_pairs_mut();
            if !opts.select.is_empty() {
                q.append_pair("$select", &opts.select.join(","));
            }
            if let Some(f) = &opts.filter {
                q.append_pair("$filter", f);
            }
            let top = match opts.top {
                Some(t) if !(1..=999).contains(&t) => {
                    return Err(GraphError::config(format!(
                        "$top must be between 1 and 999, not {t}"
                    )));
                }
                // Ask for the page size Graph serves with $expand rather than one it
                // would silently not honour.
                Some(t) if expand.is_some() => Some(t.min(EXPAND_MAX_PAGE)),
                None if expand.is_some() => Some(EXPAND_MAX_PAGE),
                t => t,
            };
            if let Some(t) = top {
                q.append_pair("$top", &t.to_string());
            }
            if let Some(rel) = expand {
                q.append_pair("$expand", &format!("{rel}($select={OWNER_EXPAND_SELECT})"));
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let required: &'static [&'static str] =
            if opts.select.is_empty() { &["deviceId"] } else { &[] };
        Ok(DevicePager { client: self.clone(), next: Some(url), required, pages: 0, follow: None })
    }

    /// List devices, following `@odata.nextLink` verbatim, calling `on_device`
    /// for each device as its page arrives. Return `ControlFlow::Break(())` to stop.
    pub async fn list_devices<F>(&self, opts: &ListOptions, mut on_device: F) -> Result<ListSummary>
    where
        F: FnMut(Device) -> ControlFlow<()>,
    {
        let pager = self.devices(opts)?;
        let mut sum = ListSummary::default();
        let started = std::time::Instant::now();
        let bar = listing_progress();
        // The next page is fetched and parsed on the runtime while this one's
        // devices are converted and handed out, so the listing runs at the
        // emulator's (or Graph's) pace rather than at the sum of both.
        let fetch = |url: Url| {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let v = inner.get_json(url.clone()).await;
                (url, v)
            })
        };
        let mut follow = pager.next.as_ref().map(super::pages::Follow::new);
        let mut pending = pager.next.clone().map(fetch);
        while let Some(handle) = pending.take() {
            let (url, v) = handle.await.map_err(|e| {
                GraphError::new(Reason::Network, format!("page fetch task failed: {e}"))
            })?;
            let page = parse_page(v?, url.as_str())?;
            Counters::bump(&self.inner.counters.pages, 1);
            let follow = follow.get_or_insert_with(|| super::pages::Follow::new(&url));
            follow.page(page.count, page.items.len());
            if let Some(n) = page.next_link {
                let n = self.inner.endpoints.check_link(&n, "@odata.nextLink")?;
                follow.next(&n)?;
                pending = Some(fetch(n));
            }
            sum.pages += 1;
            bar.set_message(format!("{} page(s)", sum.pages));
            for item in page.items {
                let d = match to_device(item, pager.required, url.as_str()) {
                    Ok(d) => d,
                    Err(e) => {
                        if let Some(h) = pending.take() {
                            h.abort();
                        }
                        return Err(e);
                    }
                };
                sum.devices += 1;
                bar.inc(1);
                if on_device(d).is_break() {
                    if let Some(h) = pending.take() {
                        h.abort();
                    }
                    sum.stopped = true;
                    return Ok(sum);
                }
            }
        }
        // A full sync lists twice at once (devices with owners, and their
        // registered users): say which listing this was.
        let what = match (opts.expand_users, opts.expand_owners) {
            (true, _) => " (their registered users)",
            (false, true) => " (with their registered owners)",
            (false, false) => "",
        };
        tracing::info!(
            "listed {} Entra device(s){what} in {} page(s), {:.1}s",
            sum.devices,
            sum.pages,
            started.elapsed().as_secs_f64()
        );
        Ok(sum)
    }

    /// One device by object `id` or by `deviceId` (tries `/devices/{id}`, then
    /// `$filter=deviceId eq '…'`).
    pub async fn get_device(&self, id_or_device_id: &str) -> Result<Device> {
        let g = check_guid(id_or_device_id, "device id")?.hyphenated().to_string();
        let select = DEVICE_SELECT.join(",");
        let mut url = self.url(&format!("devices/{g}"))?;
        url.query_pairs_mut().append_pair("$select", &select);
        match self.inner.get_json(url.clone()).await {
            Ok(v) => return to_device(v, &[], url.as_str()),
            Err(e) if e.reason() == Reason::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut url = self.url("devices")?;
        url.query_pairs_mut()
            .append_pair("$filter", &format!("deviceId eq '{g}'"))
            .append_pair("$select", &select);
        let page = parse_page(self.inner.get_json(url.clone()).await?, url.as_str())?;
        let mut found = Vec::new();
        for item in page.items {
            found.push(to_device(item, &[], url.as_str())?);
        }
        match found.len() {
            0 => {
                Err(GraphError::new(Reason::NotFound, format!("no device has id or deviceId {g}"))
                    .with_device(g))
            }
            1 => found.pop().ok_or_else(|| GraphError::new(Reason::NotFound, "no device")),
            n => {
                let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
                Err(GraphError::new(
                    Reason::Ambiguous,
                    format!(
                        "deviceId {g} matches {n} devices ({}); pass the object id instead",
                        ids.join(", ")
                    ),
                )
                .with_device(g))
            }
        }
    }

    /// The registered owners (users) of a device, with their on-premises SIDs.
    /// Without User.Read.All Graph returns only `id` and `@odata.type`.
    pub async fn device_owners(&self, id: &str) -> Result<Vec<Owner>> {
        let g = check_guid(id, "device id")?.hyphenated().to_string();
        let mut url = self.url(&format!("devices/{g}/registeredOwners/microsoft.graph.user"))?;
        url.query_pairs_mut()
            .append_pair("$select", "id,onPremisesSecurityIdentifier,userPrincipalName");
        self.collect_all(url).await
    }

    /// `/organization` (one entry for the tenant).
    pub async fn organization(&self) -> Result<Vec<Organization>> {
        self.collect_all(self.url("organization")?).await
    }

    /// `/domains`.
    pub async fn domains(&self) -> Result<Vec<Domain>> {
        self.collect_all(self.url("domains")?).await
    }

    /// GET any Graph v1.0 path (relative, e.g. `devices?$top=1`) or a full URL on
    /// the Graph host, returning the JSON body.
    pub async fn get_json(&self, path_or_url: &str) -> Result<Value> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            self.inner.endpoints.check_link(path_or_url, "URL")?
        } else {
            self.url(path_or_url)?
        };
        self.inner.get_json(url).await
    }

    /// Read every page of a small collection into typed values.
    pub(crate) async fn collect_all<T: DeserializeOwned>(&self, first: Url) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut follow = super::pages::Follow::new(&first);
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let page = parse_page(self.inner.get_json(url.clone()).await?, url.as_str())?;
            Counters::bump(&self.inner.counters.pages, 1);
            follow.page(page.count, page.items.len());
            if let Some(n) = page.next_link {
                let n = self.inner.endpoints.check_link(&n, "@odata.nextLink")?;
                follow.next(&n)?;
                next = Some(n);
            }
            for item in page.items {
                out.push(serde_json::from_value(item).map_err(|e| {
                    GraphError::new(
                        Reason::BadJson,
                        format!("unexpected object in the collection: {e}"),
                    )
                    .with_url("GET", url.as_str())
                })?);
            }
        }
        Ok(out)
    }

    fn require_delegated(&self, what: &str) -> Result<()> {
        if self.token_kind() == TokenKind::Delegated {
            return Ok(());
        }
        Err(GraphError::new(
            Reason::DelegatedOnly,
            format!(
                "{what} needs a delegated token: Graph does not support application permissions for \
                 /directory/onPremisesSynchronization (OnPremDirectorySynchronization.Read.All / .ReadWrite.All \
                 are delegated-only); use device-code sign-in as a Global Administrator"
            ),
        ))
    }

    /// `GET /directory/onPremisesSynchronization` (delegated only; not sent with an app-only token).
    pub async fn sync_features(&self) -> Result<OnPremisesSync> {
        self.require_delegated("reading onPremisesSynchronization")?;
        let url = self.url("directory/onPremisesSynchronization")?;
        let v = self.inner.get_json(url.clone()).await?;
        let entity = match v {
            Value::Object(mut o) if o.contains_key("value") => match o.remove("value") {
                Some(Value::Array(mut a)) if !a.is_empty() => a.swap_remove(0),
                _ => {
                    return Err(GraphError::new(
                        Reason::NotFound,
                        "the tenant has no onPremisesSynchronization object",
                    )
                    .with_url("GET", url.as_str()));
                }
            },
            other => other,
        };
        serde_json::from_value(entity).map_err(|e| {
            GraphError::new(
                Reason::BadJson,
                format!("unexpected onPremisesSynchronization object: {e}"),
            )
            .with_url("GET", url.as_str())
        })
    }

    /// Turn `features.deviceWritebackEnabled` on or off (delegated only).
    pub async fn set_device_writeback(&self, enabled: bool) -> Result<()> {
        self.require_delegated("changing deviceWritebackEnabled")?;
        let current = self.sync_features().await?;
        let id = check_guid(&current.id, "onPremisesSynchronization id")?.hyphenated().to_string();
        let url = self.url(&format!("directory/onPremisesSynchronization/{id}"))?;
        let body = json!({"features": {"deviceWritebackEnabled": enabled}});
        self.inner.graph(Method::PATCH, url, ReqBody::Json(body)).await?;
        Ok(())
    }
}

//! National clouds, endpoint URLs and the rules about which URLs dwb will talk to.

use std::net::IpAddr;

use url::{Host, Url};

use super::error::{GraphError, Reason, Result};

/// The Graph API version dwb uses.
pub const API_VERSION: &str = "v1.0";

/// Which Microsoft cloud (docs/device-writeback.md §C.1), or explicit URLs (emulator, proxies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// login.microsoftonline.com / graph.microsoft.com
    Global,
    /// US Gov L4 (GCC High): login.microsoftonline.us / graph.microsoft.us
    UsGov,
    /// US Gov L5 (DoD): login.microsoftonline.us / dod-graph.microsoft.us
    UsGovDod,
    /// China (21Vianet): login.chinacloudapi.cn / microsoftgraph.chinacloudapi.cn
    China,
    /// Explicit authority and Graph root (scheme + host [+ port]). `http://` is
    /// accepted only for loopback hosts.
    Custom { login: Url, graph: Url },
}

fn fixed(s: &str) -> Result<Url> {
    Url::parse(s).map_err(|e| GraphError::config(format!("built-in URL {s} is invalid: {e}")))
}

impl Cloud {
    /// Parse a cloud name as used in config files: `global` (`public`, `azurecloud`),
    /// `usgov` (`gcchigh`, `usgovl4`), `dod` (`usgovdod`, `usgovl5`), `china` (`21vianet`).
    pub fn from_name(name: &str) -> Result<Cloud> {
        match name.trim().to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "global" | "public" | "azurecloud" | "worldwide" => Ok(Cloud::Global),
            "usgov" | "gcchigh" | "usgovl4" | "azureusgovernment" => Ok(Cloud::UsGov),
            "dod" | "usgovdod" | "usgovl5" => Ok(Cloud::UsGovDod),
            "china" | "21vianet" | "azurechinacloud" => Ok(Cloud::China),
            other => Err(GraphError::config(format!(
                "unknown cloud '{other}': use global, usgov, dod or china, or give explicit login and graph URLs"
            ))),
        }
    }

    /// Custom cloud from two URL strings, validated.
    pub fn custom(login: &str, graph: &str) -> Result<Cloud> {
        let parse = |what: &str, s: &str| {
            Url::parse(s).map_err(|e| {
                GraphError::config(format!("{what} URL '{s}' is not a valid URL: {e}"))
            })
        };
        let c = Cloud::Custom { login: parse("login", login)?, graph: parse("graph", graph)? };
        c.validate()?;
        Ok(c)
    }

    /// The short name (`global`, `usgov`, `dod`, `china`, `custom`).
    pub fn name(&self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "dod",
            Cloud::China => "china",
            Cloud::Custom { .. } => "custom",
        }
    }

    /// The token authority root, e.g. `https://login.microsoftonline.com`.
    pub fn login_base(&self) -> Result<Url> {
        match self {
            Cloud::Global => fixed("https://login.microsoftonline.com"),
            Cloud::UsGov | Cloud::UsGovDod => fixed("https://login.microsoftonline.us"),
            Cloud::China => fixed("https://login.chinacloudapi.cn"),
            Cloud::Custom { login, .. } => Ok(normalize_root(login, false)),
        }
    }

    /// The Graph root without API version, e.g. `https://graph.microsoft.com`.
    pub fn graph_base(&self) -> Result<Url> {
        match self {
            Cloud::Global => fixed("https://graph.microsoft.com"),
            Cloud::UsGov => fixed("https://graph.microsoft.us"),
            Cloud::UsGovDod => fixed("https://dod-graph.microsoft.us"),
            Cloud::China => fixed("https://microsoftgraph.chinacloudapi.cn"),
            Cloud::Custom { graph, .. } => Ok(normalize_root(graph, true)),
        }
    }

    /// The client-credentials scope: `{graph root}/.default`.
    pub fn scope(&self) -> Result<String> {
        let g = self.graph_base()?;
        Ok(format!("{}/.default", g.as_str().trim_end_matches('/')))
    }

    /// Check the URLs: https, or http to a loopback host; no credentials, query or fragment.
    pub fn validate(&self) -> Result<()> {
        if let Cloud::Custom { login, graph } = self {
            check_url("login", login)?;
            check_url("graph", graph)?;
        }
        Ok(())
    }
}

/// Drop a trailing slash and, for Graph, a trailing `/v1.0`.
fn normalize_root(u: &Url, strip_version: bool) -> Url {
    let mut u = u.clone();
    let mut path = u.path().trim_end_matches('/').to_string();
    if strip_version && path.ends_with(&format!("/{API_VERSION}")) {
        path.truncate(path.len() - API_VERSION.len() - 1);
    }
    u.set_path(&path);
    u
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn check_url(what: &str, u: &Url) -> Result<()> {
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(u) => {}
        "http" => {
            return Err(GraphError::new(
                Reason::InsecureUrl,
                format!(
                    "{what} URL {u} uses http:// to a non-loopback host; use https:// \
                     (http:// is allowed only for 127.0.0.0/8, ::1 and localhost)"
                ),
            ));
        }
        s => {
            return Err(GraphError::config(format!(
                "{what} URL {u}: scheme '{s}' is not supported, use https://"
            )));
        }
    }
    if u.host().is_none() {
        return Err(GraphError::config(format!("{what} URL {u} has no host")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(GraphError::new(
            Reason::InsecureUrl,
            format!("{what} URL must not contain credentials"),
        ));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(GraphError::config(format!(
            "{what} URL {u} must not have a query or fragment"
        )));
    }
    Ok(())
}

/// Validate a tenant: a GUID, a domain name, or `organizations`/`common`.
pub fn check_tenant(t: &str) -> Result<()> {
    let ok = !t.is_empty()
        && t.len() <= 253
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !t.starts_with('.')
        && !t.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(GraphError::config(format!("tenant '{t}' is not a tenant id (GUID) or domain name")))
    }
}

/// The concrete endpoints of one cloud + tenant.
#[derive(Debug, Clone)]
pub struct Endpoints {
    login: Url,
    graph: Url,
    tenant: String,
    scope: String,
}

impl Endpoints {
    pub fn new(cloud: &Cloud, tenant: &str) -> Result<Endpoints> {
        cloud.validate()?;
        check_tenant(tenant)?;
        Ok(Endpoints {
            login: cloud.login_base()?,
            graph: cloud.graph_base()?,
            tenant: tenant.to_string(),
            scope: cloud.scope()?,
        })
    }
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
    /// `{graph}/.default`
    pub fn scope(&self) -> &str {
        &self.scope
    }
    /// The Graph root (no version).
    pub fn graph_root(&self) -> &Url {
        &self.graph
    }
    fn login_path(&self, leaf: &str) -> String {
        format!("{}/{}/oauth2/v2.0/{leaf}", self.login.as_str().trim_end_matches('/'), self.tenant)
    }
    /// `{login}/{tenant}/oauth2/v2.0/token` — also the `aud` of client assertions.
    pub fn token_url(&self) -> String {
        self.login_path("token")
    }
    /// `{login}/{tenant}/oauth2/v2.0/devicecode`
    pub fn devicecode_url(&self) -> String {
        self.login_path("devicecode")
    }
    /// `{graph}/v1.0/{path}`; `path` is relative (`devices`, `devices/delta`).
    pub fn graph_url(&self, path: &str) -> Result<Url> {
        let s = format!(
            "{}/{API_VERSION}/{}",
            self.graph.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        Url::parse(&s).map_err(|e| GraphError::config(format!("cannot build Graph URL {s}: {e}")))
    }
    /// True when `u` has the same scheme, host and port as the Graph root: the only
    /// place the bearer token is ever sent.
    pub fn is_graph_origin(&self, u: &Url) -> bool {
        u.scheme() == self.graph.scheme()
            && u.host_str().map(|h| h.to_ascii_lowercase())
                == self.graph.host_str().map(|h| h.to_ascii_lowercase())
            && u.port_or_known_default() == self.graph.port_or_known_default()
    }
    /// Parse and check a link Graph handed us (`@odata.nextLink`, `@odata.deltaLink`).
    pub fn check_link(&self, link: &str, what: &str) -> Result<Url> {
        let u = Url::parse(link).map_err(|e| {
            GraphError::new(Reason::BadJson, format!("{what} '{link}' is not a valid URL: {e}"))
        })?;
        if !self.is_graph_origin(&u) {
            return Err(GraphError::new(
                Reason::ForeignLink,
                format!(
                    "{what} points to {} which is not the configured Graph host {}; refusing to follow it \
                     (the access token is only ever sent to the Graph host)",
                    origin(&u),
                    origin(&self.graph)
                ),
            )
            .with_url("GET", link));
        }
        Ok(u)
    }
}

/// `scheme://host:port` of a URL, for messages.
pub fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

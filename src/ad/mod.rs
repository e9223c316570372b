//! The `Directory` seam: everything dwb does to Active Directory goes through
//! this trait, implemented by the LDAP backend (`ldap/`, real DCs) and the
//! snapshot backend (`snapshot.rs`, an LDIF export held in memory: the demo
//! default and offline what-ifs). Calls are blocking; the LDAP backend drives
//! its async client on dwb's runtime internally.

pub mod accounts;
pub mod discovery;
pub mod fsmo;
pub mod ldap;
pub mod schema;
pub mod snapshot;

use std::sync::Arc;

use secrecy::SecretString;

use crate::directory::{Attr, Dn, Entry, Filter};
use crate::error::{Error, Kind, Result};

/// Search scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Base,
    OneLevel,
    Subtree,
}

impl Scope {
    /// Parses the script spelling: `base`, `one` / `one_level`, `sub` / `subtree`.
    pub fn parse(s: &str) -> Result<Scope> {
        match s.to_ascii_lowercase().as_str() {
            "base" => Ok(Scope::Base),
            "one" | "one_level" | "onelevel" => Ok(Scope::OneLevel),
            "sub" | "subtree" => Ok(Scope::Subtree),
            other => Err(Error::new(
                Kind::InvalidArgument,
                format!("unknown scope `{other}`; use \"base\", \"one_level\" or \"subtree\""),
            )),
        }
    }

    /// True when `dn` is in this scope below `base`.
    pub fn contains(self, base: &Dn, dn: &Dn) -> bool {
        match self {
            Scope::Base => dn == base,
            Scope::OneLevel => dn.is_child_of(base),
            Scope::Subtree => dn.is_within(base),
        }
    }
}

/// SD flags control values (which parts of nTSecurityDescriptor to read/write).
pub mod sd_flags {
    pub const OWNER: u32 = 1;
    pub const GROUP: u32 = 2;
    pub const DACL: u32 = 4;
    pub const SACL: u32 = 8;
}

/// A search.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub base: Dn,
    pub scope: Scope,
    pub filter: Filter,
    /// Attributes to return; empty = all user attributes.
    pub attrs: Vec<String>,
    /// Send the SD flags control with this value (needed to read nTSecurityDescriptor without SACL rights).
    pub sd_flags: Option<u32>,
    /// Stop after this many entries (0 = no limit). Enforced by dwb, not the server.
    pub size_limit: usize,
}

impl SearchRequest {
    pub fn new(base: Dn, scope: Scope, filter: Filter) -> SearchRequest {
        SearchRequest { base, scope, filter, attrs: Vec::new(), sd_flags: None, size_limit: 0 }
    }

    pub fn attrs<I, S>(mut self, attrs: I) -> SearchRequest
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attrs = attrs.into_iter().map(Into::into).collect();
        self
    }
}

/// How one attribute is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModOp {
    Add,
    Delete,
    Replace,
}

/// One attribute change of a modify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modification {
    pub op: ModOp,
    pub attr: String,
    /// For `Delete`, empty means "all values"; for `Replace`, empty removes the attribute.
    pub values: Vec<Vec<u8>>,
}

/// A write the directory performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Add { dn: Dn, attrs: Vec<Attr> },
    Modify { dn: Dn, mods: Vec<Modification>, sd_flags: Option<u32> },
    Delete { dn: Dn },
}

impl WriteOp {
    pub fn dn(&self) -> &Dn {
        match self {
            WriteOp::Add { dn, .. } | WriteOp::Modify { dn, .. } | WriteOp::Delete { dn } => dn,
        }
    }
}

/// What the rootDSE says about a DC and its forest.
#[derive(Debug, Clone, Default)]
pub struct RootDse {
    pub default_naming_context: Option<Dn>,
    pub configuration_naming_context: Option<Dn>,
    pub schema_naming_context: Option<Dn>,
    pub root_domain_naming_context: Option<Dn>,
    pub naming_contexts: Vec<Dn>,
    pub dns_host_name: Option<String>,
    /// The bound DC's nTDSDSA object (`CN=NTDS Settings,CN=<dc>,CN=Servers,…`):
    /// what a role's `fSMORoleOwner` names when this DC holds the role.
    pub ds_service_name: Option<Dn>,
    pub forest_functionality: Option<u32>,
    pub domain_functionality: Option<u32>,
    pub dc_functionality: Option<u32>,
    pub supported_controls: Vec<String>,
}

impl RootDse {
    /// Builds the typed view from a rootDSE entry.
    pub fn from_entry(e: &Entry) -> RootDse {
        let dn = |n: &str| e.first_str(n).and_then(|s| Dn::parse(&s).ok());
        let num = |n: &str| e.first_str(n).and_then(|s| s.trim().parse().ok());
        RootDse {
            default_naming_context: dn("defaultNamingContext"),
            configuration_naming_context: dn("configurationNamingContext"),
            schema_naming_context: dn("schemaNamingContext"),
            root_domain_naming_context: dn("rootDomainNamingContext"),
            naming_contexts: e
                .strs("namingContexts")
                .iter()
                .filter_map(|s| Dn::parse(s).ok())
                .collect(),
            dns_host_name: e.first_str("dnsHostName"),
            ds_service_name: dn("dsServiceName"),
            forest_functionality: num("forestFunctionality"),
            domain_functionality: num("domainFunctionality"),
            dc_functionality: num("domainControllerFunctionality"),
            supported_controls: e.strs("supportedControl"),
        }
    }

    fn need(v: &Option<Dn>, what: &str) -> Result<Dn> {
        v.clone().ok_or_else(|| Error::new(Kind::NotFound, format!("the rootDSE has no {what}")))
    }

    pub fn default_nc(&self) -> Result<Dn> {
        Self::need(&self.default_naming_context, "defaultNamingContext")
    }

    pub fn config_nc(&self) -> Result<Dn> {
        Self::need(&self.configuration_naming_context, "configurationNamingContext")
    }

    pub fn schema_nc(&self) -> Result<Dn> {
        Self::need(&self.schema_naming_context, "schemaNamingContext")
    }
}

/// A directory dwb can read and write.
pub trait Directory: Send + Sync {
    /// Where this directory is, for messages and reports (never contains secrets).
    fn describe(&self) -> String;

    /// The rootDSE.
    fn root_dse(&self) -> Result<RootDse>;

    /// Runs a search, handing each entry to `each` as it arrives (paged on LDAP).
    /// An error from `each` stops the search and is returned.
    fn search(&self, req: &SearchRequest, each: &mut dyn FnMut(Entry) -> Result<()>) -> Result<()>;

    /// Performs one write.
    fn write(&self, op: &WriteOp) -> Result<()>;

    /// Performs several independent writes, reporting each outcome by index.
    /// Backends may pipeline them; the default runs them one by one. The writes
    /// are borrowed (from the plan): a backend copies only what it must keep.
    fn write_many(&self, ops: &[&WriteOp], done: &mut dyn FnMut(usize, Result<()>)) {
        for (i, op) in ops.iter().enumerate() {
            done(i, self.write(op));
        }
    }

    /// The same directory, bound with other credentials (to prove what an account can do).
    fn bind_as(&self, user: &str, _password: &SecretString) -> Result<Arc<dyn Directory>> {
        Err(Error::new(
            Kind::InvalidArgument,
            format!("{} cannot bind as `{user}`", self.describe()),
        ))
    }

    /// Collects a search into a vector.
    fn search_all(&self, req: &SearchRequest) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.search(req, &mut |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads one object (base search); `None` when it does not exist.
    fn read(&self, dn: &Dn, attrs: &[&str]) -> Result<Option<Entry>> {
        let mut req =
            SearchRequest::new(dn.clone(), Scope::Base, Filter::all()).attrs(attrs.iter().copied());
        if attrs.iter().any(|a| a.eq_ignore_ascii_case("nTSecurityDescriptor")) {
            // Owner, group and DACL: readable without the SACL privilege.
            req.sd_flags = Some(sd_flags::OWNER | sd_flags::GROUP | sd_flags::DACL);
        }
        match self.search_all(&req) {
            Ok(mut v) => Ok(v.pop()),
            Err(e) if e.kind == Kind::NoSuchObject => Ok(None),
            Err(e) => Err(e),
        }
    }
}

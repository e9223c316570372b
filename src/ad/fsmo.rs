//! The five operations master (FSMO) roles and who holds them. Each role lives
//! on one object whose `fSMORoleOwner` names the holder's nTDSDSA object
//! (MS-ADCAP 3.4.4.6.2.3.2): the schema NC head (schema master), the
//! Partitions container (domain naming master), the domain NC head (PDC
//! emulator), the object the domain's `rIDManagerReference` names (RID master)
//! and `CN=Infrastructure` (infrastructure master). The holder's server object
//! (the nTDSDSA's parent) has its `dNSHostName`. KB 3085068: the Entra Connect
//! wizard greys out device writeback when a role holder does not replicate.

use std::time::{Duration, Instant};

use super::{Directory, RootDse};
use crate::directory::Dn;
use crate::error::Result;

/// One FSMO role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    SchemaMaster,
    DomainNamingMaster,
    PdcEmulator,
    RidMaster,
    InfrastructureMaster,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::SchemaMaster,
        Role::DomainNamingMaster,
        Role::PdcEmulator,
        Role::RidMaster,
        Role::InfrastructureMaster,
    ];

    /// As `netdom query fsmo` names it.
    pub fn name(self) -> &'static str {
        match self {
            Role::SchemaMaster => "schema master",
            Role::DomainNamingMaster => "domain naming master",
            Role::PdcEmulator => "PDC emulator",
            Role::RidMaster => "RID master",
            Role::InfrastructureMaster => "infrastructure master",
        }
    }

    /// `forest` (one per forest) or `domain` (one per domain).
    pub fn scope(self) -> &'static str {
        match self {
            Role::SchemaMaster | Role::DomainNamingMaster => "forest",
            _ => "domain",
        }
    }
}

/// Who holds a role, as the directory records it.
#[derive(Debug, Clone)]
pub struct Holder {
    pub role: Role,
    /// The object that carries the role's `fSMORoleOwner`.
    pub object: Dn,
    /// The nTDSDSA object `fSMORoleOwner` names (`None`: the attribute or the
    /// role object is missing).
    pub owner: Option<Dn>,
    /// The holder's server object, when the nTDSDSA object exists.
    pub server: Option<Dn>,
    pub dns_host_name: Option<String>,
    /// `owner` is set but names no existing object (a DC removed without
    /// transferring its roles: they must be seized).
    pub owner_missing: bool,
    /// The DC this connection is bound to holds the role.
    pub bound: bool,
}

/// The role objects of the forest and of the bound domain.
fn role_objects(dir: &dyn Directory, root: &RootDse) -> Result<Vec<(Role, Dn)>> {
    let domain = root.default_nc()?;
    let rid = dir
        .read(&domain, &["rIDManagerReference"])?
        .and_then(|e| e.first_str("rIDManagerReference"))
        .and_then(|s| Dn::parse(&s).ok());
    let rid = match rid {
        Some(r) => r,
        None => domain.child("CN", "System")?.child("CN", "RID Manager$")?,
    };
    Ok(vec![
        (Role::SchemaMaster, root.schema_nc()?),
        (Role::DomainNamingMaster, root.config_nc()?.child("CN", "Partitions")?),
        (Role::PdcEmulator, domain.clone()),
        (Role::RidMaster, rid),
        (Role::InfrastructureMaster, domain.child("CN", "Infrastructure")?),
    ])
}

/// The five role holders (forest roles, then the bound domain's).
pub fn holders(dir: &dyn Directory, root: &RootDse) -> Result<Vec<Holder>> {
    let mut out = Vec::with_capacity(5);
    for (role, object) in role_objects(dir, root)? {
        let owner = dir
            .read(&object, &["fSMORoleOwner"])?
            .and_then(|e| e.first_str("fSMORoleOwner"))
            .and_then(|s| Dn::parse(&s).ok());
        let dsa = match &owner {
            Some(o) => dir.read(o, &["1.1"])?,
            None => None,
        };
        let server = owner.as_ref().filter(|_| dsa.is_some()).and_then(Dn::parent);
        let dns_host_name = match &server {
            Some(s) => dir.read(s, &["dNSHostName"])?.and_then(|e| e.first_str("dNSHostName")),
            None => None,
        };
        let bound = owner.as_ref().is_some_and(|o| root.ds_service_name.as_ref() == Some(o))
            || matches!((&dns_host_name, &root.dns_host_name),
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
        out.push(Holder {
            role,
            object,
            owner_missing: owner.is_some() && dsa.is_none(),
            owner,
            server,
            dns_host_name,
            bound,
        });
    }
    Ok(out)
}

/// Whether a TCP connection to `host:port` opens within `timeout` (name
/// resolution included); the error text otherwise. Nothing is sent.
pub async fn tcp_probe(
    host: &str,
    port: u16,
    timeout: Duration,
) -> std::result::Result<Duration, String> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(_stream)) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => Err(format!("no TCP connection to {host}:{port} within {timeout:?}")),
    }
}

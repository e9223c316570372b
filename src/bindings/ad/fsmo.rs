//! `ad::fsmo_roles`: the five operations master role holders (`crate::ad::fsmo`)
//! and whether dwb can reach each one — the bound DC itself, or a TCP connection
//! to the holder's `dNSHostName` within a short timeout. What `verify` reports
//! for KB 3085068's "a role holder does not replicate" cause.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Array, Dynamic, Map, Module};

use crate::ad::Directory;
use crate::ad::fsmo::{self, Holder};
use crate::bindings::options::Options;
use crate::bindings::register::{OrRhai, bind};
use crate::error::Result;
use crate::host::Host;
use crate::sources::DirectorySource;

/// Whether a holder was reached, and how (or why not).
type Reach = (Option<bool>, String);

fn holder_map(h: &Holder, reach: &Reach) -> Dynamic {
    let mut m = Map::new();
    let dn =
        |d: &Option<crate::directory::Dn>| d.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT);
    m.insert("role".into(), h.role.name().into());
    m.insert("scope".into(), h.role.scope().into());
    m.insert("object".into(), Dynamic::from(h.object.clone()));
    m.insert("holder".into(), dn(&h.owner));
    m.insert("server".into(), dn(&h.server));
    m.insert(
        "dns_host_name".into(),
        h.dns_host_name.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert("holder_missing".into(), h.owner_missing.into());
    m.insert("bound".into(), h.bound.into());
    m.insert("reachable".into(), reach.0.map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    m.insert("detail".into(), reach.1.clone().into());
    m.into()
}

fn roles(host: &Host, o: &Map) -> Result<Array> {
    let o = Options::read(o, "ad::fsmo_roles", &["probe", "port", "timeout_ms"])?;
    let port = o.int_in("port", 1..=65535)?.unwrap_or(389) as u16;
    let timeout = Duration::from_millis(o.int_in("timeout_ms", 1..=60_000)?.unwrap_or(3000) as u64);
    let probe = o.bool("probe")?.unwrap_or(true);
    let dir = host.dir()?;
    let root = dir.root_dse()?;
    let holders = fsmo::holders(&*dir, &root)?;
    // A snapshot is no DC: there is nobody to reach.
    let offline = matches!(
        host.directory().source(),
        DirectorySource::Snapshot(_) | DirectorySource::Demo | DirectorySource::None
    );
    let mut probed: HashMap<String, Reach> = HashMap::new();
    let mut out = Array::new();
    for h in &holders {
        let reach: Reach = match (&h.owner, &h.dns_host_name) {
            (None, _) => (Some(false), format!("{} has no fSMORoleOwner", h.object)),
            (Some(o), _) if h.owner_missing => {
                (Some(false), format!("the holder {o} does not exist (a removed DC?)"))
            }
            _ if h.bound && !offline => (Some(true), "the DC dwb is bound to".into()),
            _ if offline => (None, "not probed: the directory is a snapshot".into()),
            _ if !probe => (None, "not probed".into()),
            (Some(_), None) => {
                (Some(false), "the holder's server object has no dNSHostName".into())
            }
            (Some(_), Some(name)) => match probed.get(&name.to_ascii_lowercase()) {
                Some(r) => r.clone(),
                None => {
                    let r =
                        host.block_on(async { Ok(fsmo::tcp_probe(name, port, timeout).await) })?;
                    let reach = match r {
                        Ok(_) => (Some(true), format!("TCP connection to {name}:{port}")),
                        Err(e) => (Some(false), e),
                    };
                    probed.insert(name.to_ascii_lowercase(), reach.clone());
                    reach
                }
            },
        };
        out.push(holder_map(h, &reach));
    }
    Ok(out)
}

/// Adds `ad::fsmo_roles` to the `ad::` module.
pub(super) fn register(m: &mut Module, host: Arc<Host>) {
    let h = host.clone();
    bind!(
        /// The five operations master (FSMO) roles — schema master, domain naming master (forest), PDC emulator, RID master, infrastructure master (the bound domain) — each as `#{ role, scope: "forest"|"domain", object, holder, server, dns_host_name, holder_missing, bound, reachable, detail }`: `object` is the DN carrying the role's fSMORoleOwner, `holder` the nTDSDSA object it names, `server` and `dns_host_name` that DC's server object. `reachable` is true for the DC dwb is bound to and for a holder a TCP connection (`port`, default 389) opens to within `timeout_ms` (default 3000), false otherwise, and `()` when not probed (`probe: false`, or a snapshot); `detail` says which, or why not. Each holder is probed once.
        /// # Example
        /// ```rhai
        /// for r in ad::fsmo_roles() {
        ///     if r.reachable == false { print(`${r.role}: ${r.detail}`); }
        /// }
        /// ```
        /// # Errors
        /// `not_found` (the rootDSE lacks a naming context), `cancelled`.
        m,
        "fsmo_roles",
        [],
        move || roles(&h, &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// The role holders with `#{ probe: true, port: 389, timeout_ms: 3000 }`.
        /// # Example
        /// ```rhai
        /// let roles = ad::fsmo_roles(#{ timeout_ms: 1000 });
        /// let holders = roles.map(|r| `${r.role}: ${r.dns_host_name}`);
        /// print(holders);
        /// ```
        /// # Errors
        /// `unknown_option`, `invalid_argument` (`port`, `timeout_ms` out of range, `probe` not a bool), `not_found`, `cancelled`.
        m,
        "fsmo_roles",
        ["options"],
        move |o: Map| roles(&h, &o).rhai(),
    );
}

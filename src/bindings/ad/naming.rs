//! Where the directory is and its naming contexts: `ad::describe`,
//! `ad::root_dse`, `ad::domain_dn` and the other partitions, `ad::domain_sid`.

use std::sync::Arc;

use rhai::{Array, Dynamic, ImmutableString, Map, Module};

use crate::ad::{Directory, RootDse, discovery};
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::{Dn, Sid};
use crate::error::Result;
use crate::host::Host;

fn root_dse_map(host: &Host) -> Result<Map> {
    let r = host.dir()?.root_dse()?;
    let mut m = Map::new();
    let dn = |d: &Option<Dn>| d.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT);
    m.insert("default_naming_context".into(), dn(&r.default_naming_context));
    m.insert("configuration_naming_context".into(), dn(&r.configuration_naming_context));
    m.insert("schema_naming_context".into(), dn(&r.schema_naming_context));
    m.insert("root_domain_naming_context".into(), dn(&r.root_domain_naming_context));
    m.insert(
        "naming_contexts".into(),
        r.naming_contexts.iter().cloned().map(Dynamic::from).collect::<Array>().into(),
    );
    m.insert("dns_host_name".into(), r.dns_host_name.map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    let num = |v: Option<u32>| v.map(|x| Dynamic::from(x as i64)).unwrap_or(Dynamic::UNIT);
    m.insert("forest_functionality".into(), num(r.forest_functionality));
    m.insert("domain_functionality".into(), num(r.domain_functionality));
    m.insert("dc_functionality".into(), num(r.dc_functionality));
    Ok(m)
}

/// Runs `f` with the directory and its rootDSE (read once per connection): the
/// preamble of every binding that discovers something.
pub(super) fn with_root<T>(
    host: &Host,
    f: impl FnOnce(&dyn Directory, &RootDse) -> Result<T>,
) -> RhaiResult<T> {
    let d = host.dir().rhai()?;
    let r = d.root_dse().rhai()?;
    f(&*d, &r).rhai()
}

/// Registers where the directory is and its naming contexts.
pub(super) fn register(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Where the directory is: an LDAP URL, or `snapshot <file>` for the demo and offline what-ifs.
        /// # Example
        /// ```rhai
        /// print(`directory: ${ad::describe()}`);
        /// ```
        /// # Errors
        /// Only the connection errors (see Conventions): the directory is opened on first use.
        m,
        "describe",
        [],
        move || -> RhaiResult<String> { Ok(h.dir().rhai()?.describe()) },
    );
    let h = host.clone();
    bind!(
        /// The rootDSE: naming contexts (as `Dn`s), `dns_host_name` and functional levels.
        /// The map's keys: `default_naming_context`, `configuration_naming_context`, `schema_naming_context`, `root_domain_naming_context` (each a `Dn`, or `()` when the DC does not say), `naming_contexts` (array of `Dn`), `dns_host_name` (string or `()`), and `forest_functionality`, `domain_functionality`, `dc_functionality` (numbers, 7 = Windows Server 2016, or `()`).
        /// # Example
        /// ```rhai
        /// let root = ad::root_dse();
        /// print(`forest root ${root.root_domain_naming_context}, DC ${root.dns_host_name}`);
        /// ```
        /// # Errors
        /// Only the connection errors (see Conventions).
        m,
        "root_dse",
        [],
        move || root_dse_map(&h).rhai(),
    );
    let h = host.clone();
    bind!(
        /// The bound domain's DN (rootDSE defaultNamingContext).
        /// # Example
        /// ```rhai
        /// let devices = ad::domain_dn().child("CN", "RegisteredDevices");
        /// print(devices);   // CN=RegisteredDevices,DC=contoso,DC=test
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no defaultNamingContext.
        m,
        "domain_dn",
        [],
        move || with_root(&h, |_, r| r.default_nc()),
    );
    let h = host.clone();
    bind!(
        /// The forest's configuration partition (rootDSE configurationNamingContext); the Device Registration Configuration lives below its `CN=Services`.
        /// # Example
        /// ```rhai
        /// let services = ad::config_dn().child("CN", "Services");
        /// let drc = services.child("CN", "Device Registration Configuration");
        /// print(ad::exists(drc));
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no configurationNamingContext.
        m,
        "config_dn",
        [],
        move || with_root(&h, |_, r| r.config_nc()),
    );
    let h = host.clone();
    bind!(
        /// The schema partition (rootDSE schemaNamingContext).
        /// # Example
        /// ```rhai
        /// let cls = ad::get(ad::schema_dn().child("CN", "ms-DS-Device"), ["lDAPDisplayName", "schemaIDGUID"]);
        /// print(cls["schemaIDGUID"]);   // the Guid object ACEs use for msDS-Device
        /// ```
        /// # Errors
        /// `not_found` when the rootDSE has no schemaNamingContext.
        m,
        "schema_dn",
        [],
        move || with_root(&h, |_, r| r.schema_nc()),
    );
    let h = host.clone();
    bind!(
        /// The DN of the domain with this DNS name, confirmed by its crossRef in the Partitions container.
        /// # Example
        /// ```rhai
        /// let domain = ad::domain_dn_for("contoso.test");          // DC=contoso,DC=test
        /// let devices = domain.child("CN", "RegisteredDevices");
        /// ```
        /// # Errors
        /// `not_found` when the forest has no such domain (the hint lists the forest's domains), `invalid_argument` when `dns_name` is not a DNS name.
        m,
        "domain_dn_for",
        ["dns_name"],
        move |name: ImmutableString| -> RhaiResult<Dn> {
            with_root(&h, |d, r| discovery::domain_dn_for(d, r, &name))
        },
    );
    let h = host.clone();
    bind!(
        /// The bound domain's SID (the objectSid of the domain head).
        /// # Example
        /// ```rhai
        /// let sid = ad::domain_sid();
        /// print(`Domain Admins: ${sid}-512`);
        /// ```
        /// # Errors
        /// `not_found` (no defaultNamingContext, or the domain head has no objectSid), `no_such_object`.
        m,
        "domain_sid",
        [],
        move || -> RhaiResult<Sid> {
            with_root(&h, |d, r| discovery::domain_sid(d, &r.default_nc()?))
        },
    );
}

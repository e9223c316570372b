//! The `ad::` script module: reads (seeing the pending plan), writes recorded
//! in the plan, idempotent `ensure_*` helpers, discovery, accounts, typed
//! constructors and filter builders.

use std::sync::Arc;

use rhai::{Array, Dynamic, ImmutableString, Map, Module};

use super::convert::{entry, to_dn, to_strings, to_values};
use super::options::Options;
use super::{OrRhai, RhaiResult, reg};
use crate::ad::{
    Directory, ModOp, Modification, Scope, SearchRequest, WriteOp, accounts, discovery,
};
use crate::directory::{
    Attr, Dn, Filter, Guid, Sid, dn::escape_value as dn_escape,
    filter::escape_value as filter_escape,
};
use crate::error::{Error, Kind, Result};
use crate::host::Host;
use crate::plan::ChangeOp;

fn to_filter(v: &Dynamic) -> Result<Filter> {
    if let Some(f) = v.read_lock::<Filter>() {
        return Ok(f.clone());
    }
    if let Some(s) = v.read_lock::<ImmutableString>() {
        return Filter::parse(s.as_str());
    }
    Err(Error::new(
        Kind::InvalidArgument,
        format!("expected a filter (Filter or string), got {}", v.type_name()),
    ))
}

fn to_filters(arr: &Array) -> Result<Vec<Filter>> {
    arr.iter().map(to_filter).collect()
}

const SEARCH_OPTS: &[&str] = &["scope", "attrs", "limit", "sd_flags"];

fn search(host: &Host, base: &Dynamic, filter: &Dynamic, opts: &Map) -> Result<Array> {
    let o = Options::read(opts, "ad::search", SEARCH_OPTS)?;
    let scope = match o.string("scope")? {
        Some(s) => Scope::parse(&s)?,
        None => Scope::Subtree,
    };
    let mut req = SearchRequest::new(to_dn(base)?, scope, to_filter(filter)?);
    if let Some(a) = o.value("attrs") {
        req.attrs = to_strings(a)?;
    }
    if let Some(l) = o.int("limit")? {
        req.size_limit = l.max(0) as usize;
    }
    if let Some(f) = o.int("sd_flags")? {
        req.sd_flags = Some(f as u32);
    } else if req.attrs.iter().any(|a| a.eq_ignore_ascii_case("nTSecurityDescriptor")) {
        // Owner, group and DACL: readable without the SACL privilege.
        req.sd_flags = Some(7);
    }
    let dir = host.dir()?;
    let mut out = Array::new();
    dir.search(&req, &mut |e| {
        host.check_cancelled()?;
        out.push(entry(e));
        Ok(())
    })?;
    Ok(out)
}

fn read(host: &Host, dn: &Dynamic, attrs: &[String]) -> Result<Option<crate::directory::Entry>> {
    let dn = to_dn(dn)?;
    let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
    host.dir()?.read(&dn, &attrs)
}

/// The `reason` of a write's options map, its only key.
fn reason(opts: &Map, func: &str) -> Result<Option<String>> {
    Options::read(opts, func, &["reason"])?.string("reason")
}

/// Records a write in the plan after checking it against the planned state.
pub fn record(host: &Host, op: WriteOp, why: Option<String>) -> Result<()> {
    host.dir()?.check(&op)?;
    host.plan
        .lock()
        .map_err(|_| Error::internal("plan lock poisoned"))?
        .push(ChangeOp::Directory(op), why);
    Ok(())
}

fn attrs_from_map(m: &Map) -> Result<Vec<Attr>> {
    m.iter()
        .filter(|(_, v)| !v.is_unit())
        .map(|(k, v)| Ok(Attr::new(k.as_str(), to_values(k, v)?)))
        .collect()
}

fn same_values(attr: &str, a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let norm = |v: &Vec<u8>| -> Vec<u8> {
        match std::str::from_utf8(v) {
            Ok(s)
                if attr.to_ascii_lowercase().ends_with("location")
                    || attr.eq_ignore_ascii_case("distinguishedName") =>
            {
                Dn::parse(s).map(|d| d.norm().into_bytes()).unwrap_or_else(|_| v.clone())
            }
            _ => v.clone(),
        }
    };
    let mut x: Vec<Vec<u8>> = a.iter().map(norm).collect();
    let mut y: Vec<Vec<u8>> = b.iter().map(norm).collect();
    x.sort();
    y.sort();
    x == y
}

/// `ensure_object`: returns "created", "updated" or "unchanged".
fn ensure_object(
    host: &Host,
    dn: &Dynamic,
    class: &str,
    attrs: &Map,
    opts: &Map,
) -> Result<String> {
    let why = reason(opts, "ad::ensure_object")?;
    let dn = to_dn(dn)?;
    let desired = attrs_from_map(attrs)?;
    let names: Vec<&str> = desired.iter().map(|a| a.name.as_ref()).chain(["objectClass"]).collect();
    match host.dir()?.read(&dn, &names)? {
        None => {
            let mut all = vec![Attr::text("objectClass", [class])];
            all.extend(desired);
            record(
                host,
                WriteOp::Add { dn: dn.clone(), attrs: all },
                why.or_else(|| Some(format!("{class} is missing"))),
            )?;
            Ok("created".into())
        }
        Some(existing) => {
            if !existing.is_a(class) {
                return Err(Error::new(
                    Kind::ObjectClassViolation,
                    format!(
                        "{dn} exists but is not a {class} (objectClass: {})",
                        existing.strs("objectClass").join(", ")
                    ),
                )
                .with_dn(&dn)
                .with_hint("move or delete the object, then run again"));
            }
            let mods: Vec<Modification> = desired
                .into_iter()
                .filter(|a| !same_values(&a.name, existing.get(&a.name), &a.values))
                .map(|a| Modification {
                    op: ModOp::Replace,
                    attr: a.name.into_owned(),
                    values: a.values,
                })
                .collect();
            if mods.is_empty() {
                return Ok("unchanged".into());
            }
            let why = why.or_else(|| {
                Some(format!(
                    "{} differ from the desired values",
                    mods.iter().map(|m| m.attr.as_str()).collect::<Vec<_>>().join(", ")
                ))
            });
            record(host, WriteOp::Modify { dn, mods, sd_flags: None }, why)?;
            Ok("updated".into())
        }
    }
}

fn modify(host: &Host, dn: &Dynamic, changes: &Map, opts: &Map) -> Result<()> {
    let o = Options::read(changes, "ad::modify", &["add", "replace", "delete"])?;
    let why = reason(opts, "ad::modify")?;
    let mut mods = Vec::new();
    for (op_name, op) in
        [("add", ModOp::Add), ("replace", ModOp::Replace), ("delete", ModOp::Delete)]
    {
        let Some(v) = o.value(op_name) else { continue };
        let m = v
            .read_lock::<Map>()
            .ok_or_else(|| o.wrong_type(op_name, "a map of attribute → value(s)", v))?;
        for (k, val) in m.iter() {
            mods.push(Modification { op, attr: k.to_string(), values: to_values(k, val)? });
        }
    }
    if mods.is_empty() {
        return Err(Error::invalid_argument(
            "ad::modify: nothing to change; give #{ replace: #{…} }, #{ add: … } or #{ delete: … }",
        ));
    }
    record(host, WriteOp::Modify { dn: to_dn(dn)?, mods, sd_flags: None }, why)
}

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

fn account_map(a: accounts::Account) -> Map {
    let mut m = Map::new();
    m.insert("dn".into(), Dynamic::from(a.dn));
    m.insert("sid".into(), Dynamic::from(a.sid));
    m.insert("guid".into(), a.guid.map(Dynamic::from).unwrap_or(Dynamic::UNIT));
    m.insert(
        "sam_account_name".into(),
        a.sam_account_name.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert(
        "user_principal_name".into(),
        a.user_principal_name.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m
}

/// Builds the `ad::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    let h = host.clone();
    reg(
        &mut m,
        "describe",
        &["-> String"],
        "Where the directory is: an LDAP URL, or `snapshot <file>` for the demo and offline \
         what-ifs.\n\
         # Example\n\
         ```rhai\n\
         print(`directory: ${ad::describe()}`);\n\
         ```\n\
         # Errors\n\
         Only the connection errors (see Conventions): the directory is opened on first use.",
        move || -> RhaiResult<String> { Ok(h.dir().rhai()?.describe()) },
    );
    let h = host.clone();
    reg(
        &mut m,
        "root_dse",
        &["-> Map"],
        "The rootDSE: naming contexts (as `Dn`s), `dns_host_name` and functional levels.\n\
         The map's keys: `default_naming_context`, `configuration_naming_context`, \
         `schema_naming_context`, `root_domain_naming_context` (each a `Dn`, or `()` when the DC \
         does not say), `naming_contexts` (array of `Dn`), `dns_host_name` (string or `()`), and \
         `forest_functionality`, `domain_functionality`, `dc_functionality` (numbers, 7 = Windows \
         Server 2016, or `()`).\n\
         # Example\n\
         ```rhai\n\
         let root = ad::root_dse();\n\
         print(`forest root ${root.root_domain_naming_context}, DC ${root.dns_host_name}`);\n\
         ```\n\
         # Errors\n\
         Only the connection errors (see Conventions).",
        move || root_dse_map(&h).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "domain_dn",
        &["-> Dn"],
        "The bound domain's DN (rootDSE defaultNamingContext).\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n\
         print(devices);   // CN=RegisteredDevices,DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no defaultNamingContext.",
        move || h.dir().rhai()?.root_dse().and_then(|r| r.default_nc()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "config_dn",
        &["-> Dn"],
        "The forest's configuration partition (rootDSE configurationNamingContext); the Device \
         Registration Configuration lives below its `CN=Services`.\n\
         # Example\n\
         ```rhai\n\
         let services = ad::config_dn().child(\"CN\", \"Services\");\n\
         let drc = services.child(\"CN\", \"Device Registration Configuration\");\n\
         print(ad::exists(drc));\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no configurationNamingContext.",
        move || h.dir().rhai()?.root_dse().and_then(|r| r.config_nc()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "schema_dn",
        &["-> Dn"],
        "The schema partition (rootDSE schemaNamingContext).\n\
         # Example\n\
         ```rhai\n\
         let cls = ad::get(ad::schema_dn().child(\"CN\", \"ms-DS-Device\"), [\"lDAPDisplayName\", \
         \"schemaIDGUID\"]);\n\
         print(cls[\"schemaIDGUID\"]);   // the Guid object ACEs use for msDS-Device\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no schemaNamingContext.",
        move || h.dir().rhai()?.root_dse().and_then(|r| r.schema_nc()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "domain_dn_for",
        &["dns_name: String", "-> Dn"],
        "The DN of the domain with this DNS name, confirmed by its crossRef in the Partitions \
         container.\n\
         # Example\n\
         ```rhai\n\
         let domain = ad::domain_dn_for(\"contoso.test\");          // DC=contoso,DC=test\n\
         let devices = domain.child(\"CN\", \"RegisteredDevices\");\n\
         ```\n\
         # Errors\n\
         `not_found` when the forest has no such domain (the hint lists the forest's domains), \
         `invalid_argument` when `dns_name` is not a DNS name.",
        move |name: ImmutableString| -> RhaiResult<Dn> {
            let d = h.dir().rhai()?;
            let r = d.root_dse().rhai()?;
            discovery::domain_dn_for(&*d, &r, &name).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "domain_sid",
        &["-> Sid"],
        "The bound domain's SID (the objectSid of the domain head).\n\
         # Example\n\
         ```rhai\n\
         let sid = ad::domain_sid();\n\
         print(`Domain Admins: ${sid}-512`);\n\
         ```\n\
         # Errors\n\
         `not_found` (no defaultNamingContext, or the domain head has no objectSid), \
         `no_such_object`.",
        move || -> RhaiResult<Sid> {
            let d = h.dir().rhai()?;
            let dn = d.root_dse().and_then(|r| r.default_nc()).rhai()?;
            discovery::domain_sid(&*d, &dn).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "schema_has_class",
        &["name: String", "-> bool"],
        "True when the schema defines this object class (by lDAPDisplayName), as the Entra Connect \
         wizard checks for msDS-DeviceContainer.\n\
         # Example\n\
         ```rhai\n\
         if !ad::schema_has_class(\"msDS-DeviceContainer\") {\n\
         \x20   report::finding(\"schema\", \"fail\", \"msDS-DeviceContainer is missing\", \"run \
         adprep /forestprep\");\n\
         }\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no schemaNamingContext.",
        move |n: ImmutableString| -> RhaiResult<bool> {
            let d = h.dir().rhai()?;
            let r = d.root_dse().rhai()?;
            discovery::schema_has_class(&*d, &r, &n).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "schema_has_attribute",
        &["name: String", "-> bool"],
        "True when the schema defines this attribute (by lDAPDisplayName), e.g. msDS-IsCompliant \
         (Windows Server 2016 schema).\n\
         # Example\n\
         ```rhai\n\
         let compliance = ad::schema_has_attribute(\"msDS-IsCompliant\");\n\
         print(if compliance { \"msDS-IsCompliant is written back\" } else { \"2012 R2 schema\" \
         });\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no schemaNamingContext.",
        move |n: ImmutableString| -> RhaiResult<bool> {
            let d = h.dir().rhai()?;
            let r = d.root_dse().rhai()?;
            discovery::schema_has_attribute(&*d, &r, &n).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "attribute_syntax",
        &["name: String", "-> String"],
        "The attribute's `attributeSyntax` OID from the schema (2.5.5.10 octet string, 2.5.5.12 \
         Unicode, 2.5.5.1 DN, 2.5.5.8 Boolean, …), or `\"\"` when the schema has no such \
         attribute.\n\
         # Example\n\
         ```rhai\n\
         let oid = ad::attribute_syntax(\"msDS-CloudAnchor\");   // \"2.5.5.10\": bytes, not text\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no schemaNamingContext.",
        move |n: ImmutableString| -> RhaiResult<String> {
            let d = h.dir().rhai()?;
            let r = d.root_dse().rhai()?;
            Ok(discovery::attribute_syntax(&*d, &r, &n).rhai()?.unwrap_or_default())
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "schema_version",
        &["-> i64"],
        "The schema's objectVersion (69 = Windows Server 2012 R2, 85 = 2016, 88 = 2019), or -1 \
         when unknown. `verify` fails below 69; what dwb writes is decided by class and attribute \
         presence.\n\
         # Example\n\
         ```rhai\n\
         let v = ad::schema_version();\n\
         if v >= 0 && v < 69 { report::warn(`schema objectVersion ${v} is older than 2012 R2`); }\n\
         ```\n\
         # Errors\n\
         `not_found` when the rootDSE has no schemaNamingContext.",
        move || -> RhaiResult<i64> {
            let d = h.dir().rhai()?;
            let r = d.root_dse().rhai()?;
            Ok(discovery::schema_version(&*d, &r).rhai()?.map(i64::from).unwrap_or(-1))
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "resolve_account",
        &["name: String", "-> Map"],
        "Resolves `DOMAIN\\name`, a UPN, a sAMAccountName, a DN or a SID string to `#{ dn, sid, \
         guid, sam_account_name, user_principal_name }` (`dn` a `Dn`, `sid` a `Sid`, `guid` a \
         `Guid`; the names may be `()`).\n\
         # Example\n\
         ```rhai\n\
         let acct = ad::resolve_account(\"CONTOSO\\\\svc-dwb\");\n\
         print(`${acct.dn} ${acct.sid}`);\n\
         ```\n\
         # Errors\n\
         `not_found` (no such account, or an unknown `DOMAIN\\` prefix), `ambiguous` (several \
         accounts match), `invalid_argument` (empty name), `invalid_value` (the object is not a \
         security principal).",
        move |n: ImmutableString| -> RhaiResult<Map> {
            let d = h.dir().rhai()?;
            let r = d.root_dse().rhai()?;
            accounts::resolve_account(&*d, &r, &n).map(account_map).rhai()
        },
    );

    // Reads.
    let h = host.clone();
    reg(
        &mut m,
        "search",
        &["base: Dn|String", "filter: Filter|String", "-> Array"],
        "Subtree search; returns `Entry` values (paged on LDAP; sees changes planned earlier in \
         the run).\n\
         # Example\n\
         ```rhai\n\
         let config = ad::config_dn();\n\
         for e in ad::search(config, \"(objectClass=msDS-DeviceRegistrationService)\") { \
         print(e.dn); }\n\
         ```\n\
         # Errors\n\
         `no_such_object` (base missing), `invalid_filter`, `invalid_dn`, `invalid_argument` (base \
         or filter of another type).",
        move |b: Dynamic, f: Dynamic| search(&h, &b, &f, &Map::new()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "search",
        &["base: Dn|String", "filter: Filter|String", "options: Map", "-> Array"],
        "Search with options `#{ scope: \"base\"|\"one_level\"|\"subtree\", attrs: [..], limit: n, \
         sd_flags: n }`. Asking for `nTSecurityDescriptor` in `attrs` sets `sd_flags` to 7 (owner, \
         group, DACL) unless given, so no SACL rights are needed.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n\
         let found = ad::search(devices, ad::eq(\"objectClass\", \"msDS-Device\"),\n\
         \x20   #{ scope: \"one_level\", attrs: [\"displayName\", \"msDS-DeviceID\", \
         \"msDS-IsEnabled\"], limit: 100 });\n\
         print(`${found.len()} device objects`);\n\
         ```\n\
         # Errors\n\
         `unknown_option` (with a suggestion), `invalid_argument` (unknown scope, `limit` or \
         `sd_flags` not a number), `no_such_object`, `invalid_filter`, `invalid_dn`.",
        move |b: Dynamic, f: Dynamic, o: Map| search(&h, &b, &f, &o).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "list",
        &["base: Dn|String", "-> Array"],
        "The immediate children of `base` (a one-level search), as `Entry` values.\n\
         # Example\n\
         ```rhai\n\
         for child in ad::list(ad::config_dn().child(\"CN\", \"Services\")) { print(child.dn); }\n\
         ```\n\
         # Errors\n\
         `no_such_object` (base missing), `invalid_dn`.",
        move |b: Dynamic| {
            search(
                &h,
                &b,
                &Dynamic::from(Filter::all()),
                &Map::from_iter([("scope".into(), Dynamic::from("one_level"))]),
            )
            .rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "list",
        &["base: Dn|String", "filter: Filter|String", "-> Array"],
        "The immediate children of `base` matching `filter`.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let disabled = ad::list(devices, ad::eq(\"msDS-IsEnabled\", false));\n\
         print(`${disabled.len()} disabled devices`);\n\
         ```\n\
         # Errors\n\
         `no_such_object` (base missing), `invalid_filter`, `invalid_dn`.",
        move |b: Dynamic, f: Dynamic| {
            search(&h, &b, &f, &Map::from_iter([("scope".into(), Dynamic::from("one_level"))]))
                .rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "get",
        &["dn: Dn|String", "-> Entry"],
        "Reads exactly one object, with its attributes (`nTSecurityDescriptor` only when asked for \
         by name, see the two-argument form).\n\
         # Example\n\
         ```rhai\n\
         let users = ad::get(\"CN=Users,DC=contoso,DC=test\");\n\
         print(users[\"objectGUID\"]);\n\
         ```\n\
         # Errors\n\
         `not_found` when it does not exist, `invalid_dn`.",
        move |d: Dynamic| -> RhaiResult<Dynamic> {
            let dn = to_dn(&d).rhai()?;
            read(&h, &d, &[]).rhai()?.map(entry).ok_or_else(|| {
                super::to_rhai(Error::new(Kind::NotFound, format!("no object {dn}")).with_dn(&dn))
            })
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "get",
        &["dn: Dn|String", "attrs: Array", "-> Entry"],
        "Reads exactly one object with the given attributes (`nTSecurityDescriptor` must be asked \
         for by name).\n\
         # Example\n\
         ```rhai\n\
         import \"dwb/names\" as names;\n\
         let drs = ad::get(names::drs_dn(ad::config_dn()), [\"msDS-DeviceLocation\", \
         \"msDS-IsEnabled\"]);\n\
         print(drs[\"msDS-DeviceLocation\"]);   // CN=RegisteredDevices,DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         `not_found` when it does not exist, `invalid_dn`.",
        move |d: Dynamic, a: Array| -> RhaiResult<Dynamic> {
            let dn = to_dn(&d).rhai()?;
            let attrs = to_strings(&Dynamic::from_array(a)).rhai()?;
            read(&h, &d, &attrs).rhai()?.map(entry).ok_or_else(|| {
                super::to_rhai(Error::new(Kind::NotFound, format!("no object {dn}")).with_dn(&dn))
            })
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "find",
        &["dn: Dn|String", "-> Entry|()"],
        "Reads an object, or returns `()` when it does not exist.\n\
         # Example\n\
         ```rhai\n\
         let c = ad::find(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         if c == () { print(\"not prepared yet\"); } else { \
         print(c.is_a(\"msDS-DeviceContainer\")); }\n\
         ```\n\
         # Errors\n\
         `invalid_dn`.",
        move |d: Dynamic| -> RhaiResult<Dynamic> {
            Ok(read(&h, &d, &[]).rhai()?.map(entry).unwrap_or(Dynamic::UNIT))
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "exists",
        &["dn: Dn|String", "-> bool"],
        "True when the object exists (in the planned state: an object planned earlier in the run \
         exists, one planned for deletion does not).\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n\
         if !ad::exists(devices) { report::warn(devices + \" is missing: run `dwb run prepare`\"); \
         }\n\
         ```\n\
         # Errors\n\
         `invalid_dn`.",
        move |d: Dynamic| -> RhaiResult<bool> {
            Ok(read(&h, &d, &["1.1".into()]).rhai()?.is_some())
        },
    );

    // Writes (recorded in the plan).
    let h = host.clone();
    reg(
        &mut m,
        "add",
        &["dn: Dn|String", "attrs: Map", "-> ()"],
        "Plans creating an object. `attrs` maps attribute names to a value or an array of values \
         (a `()` value is left out); booleans become TRUE/FALSE, GUIDs and SIDs their binary \
         forms, and text for a GUID- or SID-typed attribute (msDS-DeviceID, msDS-RegisteredOwner) \
         is converted.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n\
         ad::add(devices, #{ objectClass: \"msDS-DeviceContainer\" });\n\
         ```\n\
         # Errors\n\
         `already_exists`, `no_such_object` (parent missing) — found when planning, before \
         anything is written; `invalid_dn`, `invalid_value` (e.g. a malformed GUID for \
         msDS-DeviceID), `invalid_argument` (a value that cannot be stored, such as a map).",
        move |d: Dynamic, a: Map| -> RhaiResult<()> {
            let dn = to_dn(&d).rhai()?;
            record(&h, WriteOp::Add { dn, attrs: attrs_from_map(&a).rhai()? }, None).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "add",
        &["dn: Dn|String", "attrs: Map", "options: Map", "-> ()"],
        "Plans creating an object, with `#{ reason: \"…\" }` shown in the plan.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         ad::add(devices, #{ objectClass: \"msDS-DeviceContainer\" },\n\
         \x20   #{ reason: \"container for written-back devices\" });\n\
         ```\n\
         # Errors\n\
         `unknown_option`, `already_exists`, `no_such_object` (parent missing), `invalid_dn`, \
         `invalid_value`, `invalid_argument`.",
        move |d: Dynamic, a: Map, o: Map| -> RhaiResult<()> {
            let why = reason(&o, "ad::add").rhai()?;
            let dn = to_dn(&d).rhai()?;
            record(&h, WriteOp::Add { dn, attrs: attrs_from_map(&a).rhai()? }, why).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "modify",
        &["dn: Dn|String", "changes: Map", "-> ()"],
        "Plans a modify: `#{ replace: #{attr: v}, add: #{attr: v}, delete: #{attr: () or v} }`. \
         `delete` with `()` removes every value of the attribute; values convert as for \
         `ad::add`.\n\
         # Example\n\
         ```rhai\n\
         import \"dwb/names\" as names;\n\
         ad::modify(names::drs_dn(ad::config_dn()), #{ replace: #{ \"msDS-IsEnabled\": true } });\n\
         ```\n\
         # Errors\n\
         `no_such_object`, `unknown_option` (a key other than add, replace, delete), \
         `invalid_argument` (nothing to change, or an operation that is not a map), \
         `invalid_value`, `invalid_dn`.",
        move |d: Dynamic, c: Map| modify(&h, &d, &c, &Map::new()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "modify",
        &["dn: Dn|String", "changes: Map", "options: Map", "-> ()"],
        "Plans a modify with `#{ reason: \"…\" }` shown in the plan.\n\
         # Example\n\
         ```rhai\n\
         let dev = \
         \"CN=265b893a-67d9-4107-b218-39acc36e1a70,CN=RegisteredDevices,DC=contoso,DC=test\";\n\
         ad::modify(dev, #{ delete: #{ \"msDS-DevicePhysicalIDs\": () } }, #{ reason: \"stale \
         hardware ids\" });\n\
         ```\n\
         # Errors\n\
         `no_such_object`, `unknown_option`, `invalid_argument`, `invalid_value`, `invalid_dn`.",
        move |d: Dynamic, c: Map, o: Map| modify(&h, &d, &c, &o).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "delete",
        &["dn: Dn|String", "-> ()"],
        "Plans deleting a leaf object.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         ad::delete(devices.child(\"CN\", \"265b893a-67d9-4107-b218-39acc36e1a70\"));\n\
         ```\n\
         # Errors\n\
         `no_such_object`, `not_allowed_on_non_leaf` (it has children), `invalid_dn`.",
        move |d: Dynamic| -> RhaiResult<()> {
            record(&h, WriteOp::Delete { dn: to_dn(&d).rhai()? }, None).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "delete",
        &["dn: Dn|String", "options: Map", "-> ()"],
        "Plans deleting a leaf object with `#{ reason: \"…\" }`.\n\
         # Example\n\
         ```rhai\n\
         let dev = \
         \"CN=265b893a-67d9-4107-b218-39acc36e1a70,CN=RegisteredDevices,DC=contoso,DC=test\";\n\
         ad::delete(dev, #{ reason: \"the device was deleted from Entra ID\" });\n\
         ```\n\
         # Errors\n\
         `unknown_option`, `no_such_object`, `not_allowed_on_non_leaf`, `invalid_dn`.",
        move |d: Dynamic, o: Map| -> RhaiResult<()> {
            let why = reason(&o, "ad::delete").rhai()?;
            record(&h, WriteOp::Delete { dn: to_dn(&d).rhai()? }, why).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "ensure_object",
        &["dn: Dn|String", "class: String", "attrs: Map", "-> String"],
        "Idempotent: plans creating the object with `attrs` if missing, or replacing the \
         attributes that differ. Returns \"created\", \"updated\" or \"unchanged\".\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n\
         print(ad::ensure_object(devices, \"msDS-DeviceContainer\", #{}));   // \"created\" the \
         first time\n\
         ```\n\
         # Errors\n\
         `object_class_violation` when the object exists with another class, `no_such_object` \
         (parent missing), `invalid_dn`, `invalid_value`, `invalid_argument`.",
        move |d: Dynamic, c: ImmutableString, a: Map| {
            ensure_object(&h, &d, &c, &a, &Map::new()).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "ensure_object",
        &["dn: Dn|String", "class: String", "attrs: Map", "options: Map", "-> String"],
        "`ensure_object` with `#{ reason: \"…\" }` shown in the plan.\n\
         # Example\n\
         ```rhai\n\
         import \"dwb/names\" as names;\n\
         let devices = ad::domain_dn().child(\"CN\", \"RegisteredDevices\");\n\
         ad::ensure_object(names::drs_dn(ad::config_dn()), \"msDS-DeviceRegistrationService\",\n\
         \x20   #{ \"msDS-DeviceLocation\": devices, \"msDS-IsEnabled\": true },\n\
         \x20   #{ reason: \"DRS object pointing at the device container\" });\n\
         ```\n\
         # Errors\n\
         `unknown_option`, `object_class_violation`, `no_such_object`, `invalid_dn`, \
         `invalid_value`, `invalid_argument`.",
        move |d: Dynamic, c: ImmutableString, a: Map, o: Map| {
            ensure_object(&h, &d, &c, &a, &o).rhai()
        },
    );
    let h = host.clone();
    reg(
        &mut m,
        "ensure_container",
        &["dn: Dn|String", "-> String"],
        "Idempotent: plans creating a `container` object if missing. Returns \"created\" or \
         \"unchanged\".\n\
         # Example\n\
         ```rhai\n\
         let drc = ad::config_dn().child(\"CN\", \"Services\").child(\"CN\", \"Device Registration \
         Configuration\");\n\
         ad::ensure_container(drc);\n\
         ```\n\
         # Errors\n\
         `object_class_violation` when the object exists but is not a container, `no_such_object` \
         (parent missing), `invalid_dn`.",
        move |d: Dynamic| ensure_object(&h, &d, "container", &Map::new(), &Map::new()).rhai(),
    );
    let h = host.clone();
    reg(
        &mut m,
        "ensure_absent",
        &["dn: Dn|String", "-> String"],
        "Idempotent: plans deleting the (leaf) object if it exists. Returns \"deleted\" or \
         \"absent\".\n\
         # Example\n\
         ```rhai\n\
         let probe = \"CN=dwb-probe-1,CN=RegisteredDevices,DC=contoso,DC=test\";\n\
         if ad::ensure_absent(probe) == \"deleted\" { print(`removing the leftover ${probe}`); }\n\
         ```\n\
         # Errors\n\
         `not_allowed_on_non_leaf`, `invalid_dn`.",
        move |d: Dynamic| -> RhaiResult<String> {
            if read(&h, &d, &["1.1".into()]).rhai()?.is_none() {
                return Ok("absent".into());
            }
            record(&h, WriteOp::Delete { dn: to_dn(&d).rhai()? }, None).rhai()?;
            Ok("deleted".into())
        },
    );

    super::acl::register(&mut m, host.clone());
    super::probe::register(&mut m, host.clone());
    super::fsmo::register(&mut m, host.clone());

    // Typed values and escaping.
    reg(
        &mut m,
        "dn",
        &["text: String", "-> Dn"],
        "Parses an RFC 4514 DN.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         print(devices.parent());   // DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         `invalid_dn` with the position.",
        |s: ImmutableString| Dn::parse(&s).rhai(),
    );
    reg(
        &mut m,
        "guid",
        &["text: String", "-> Guid"],
        "Parses a GUID (`xxxxxxxx-xxxx-…`, braces allowed, any case).\n\
         # Example\n\
         ```rhai\n\
         let id = ad::guid(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\");   // a device's deviceId\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let found = ad::search(devices, ad::eq(\"msDS-DeviceID\", id));\n\
         ```\n\
         # Errors\n\
         `invalid_value`.",
        |s: ImmutableString| -> RhaiResult<Guid> {
            s.parse::<Guid>().map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        &mut m,
        "guid",
        &["bytes: Blob", "-> Guid"],
        "A GUID from 16 bytes in AD's order (objectGUID, msDS-DeviceID).\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::guid(\"4c299165-6e8f-4b45-a5ba-c5d250a707ff\").bytes();\n\
         print(ad::guid(raw));   // 4c299165-6e8f-4b45-a5ba-c5d250a707ff\n\
         ```\n\
         # Errors\n\
         `invalid_value` when the blob is not 16 bytes.",
        |b: rhai::Blob| -> RhaiResult<Guid> {
            Guid::from_bytes(&b).map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        &mut m,
        "sid",
        &["text: String", "-> Sid"],
        "Parses an `S-1-5-…` SID.\n\
         # Example\n\
         ```rhai\n\
         let owner = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\");\n\
         print(owner.rid);   // 1103\n\
         ```\n\
         # Errors\n\
         `invalid_value`.",
        |s: ImmutableString| -> RhaiResult<Sid> {
            s.parse::<Sid>().map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        &mut m,
        "sid",
        &["bytes: Blob", "-> Sid"],
        "A SID from its binary form (objectSid, msDS-RegisteredOwner).\n\
         # Example\n\
         ```rhai\n\
         let raw = ad::sid(\"S-1-5-21-3651501729-163766517-147658709-1103\").bytes();\n\
         print(ad::sid(raw));   // S-1-5-21-3651501729-163766517-147658709-1103\n\
         ```\n\
         # Errors\n\
         `invalid_value` when the bytes are not a SID.",
        |b: rhai::Blob| -> RhaiResult<Sid> {
            Sid::from_bytes(&b).map_err(|e| Error::new(Kind::InvalidValue, e.to_string())).rhai()
        },
    );
    reg(
        &mut m,
        "escape_dn",
        &["value: String", "-> String"],
        "Escapes a value for use inside a DN string (RFC 4514). Prefer `dn.child(attr, value)`, \
         which escapes for you.\n\
         # Example\n\
         ```rhai\n\
         let dn = \"CN=\" + ad::escape_dn(\"Smith, John\") + \",CN=Users,DC=contoso,DC=test\";\n\
         print(dn);   // CN=Smith\\, John,CN=Users,DC=contoso,DC=test\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString| dn_escape(&s),
    );
    reg(
        &mut m,
        "escape_filter",
        &["value: String", "-> String"],
        "Escapes a value for use inside a filter string (RFC 4515). Prefer `ad::eq(attr, value)`, \
         which escapes for you.\n\
         # Example\n\
         ```rhai\n\
         let f = \"(displayName=\" + ad::escape_filter(\"LT-*(test)\") + \")\";\n\
         print(f);   // (displayName=LT-\\2a\\28test\\29)\n\
         ```\n\
         # Errors\n\
         None.",
        |s: ImmutableString| filter_escape(s.as_bytes()),
    );
    reg(
        &mut m,
        "filter",
        &["text: String", "-> Filter"],
        "Parses an RFC 4515 filter string.\n\
         # Example\n\
         ```rhai\n\
         let stale = ad::filter(\"(&(objectClass=msDS-Device)(msDS-IsEnabled=FALSE))\");\n\
         ```\n\
         # Errors\n\
         `invalid_filter` with the position.",
        |s: ImmutableString| Filter::parse(&s).rhai(),
    );
    reg(
        &mut m,
        "eq",
        &["attr: String", "value: ?", "-> Filter"],
        "`(attr=value)` with the value escaped: safe for any input, including binary GUIDs and \
         SIDs. The value may be a string, number, bool, `Guid`, `Sid`, `Dn` or blob (converted as \
         for `ad::add`; of an array, the first value is used).\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         let name = \"LT-000023\";\n\
         ad::search(devices, ad::and([ad::eq(\"objectClass\", \"msDS-Device\"), \
         ad::eq(\"displayName\", name)]));\n\
         ```\n\
         # Errors\n\
         `invalid_value` (malformed text for a GUID- or SID-typed attribute), `invalid_argument` \
         (a value that cannot be compared, such as a map).",
        |a: ImmutableString, v: Dynamic| -> RhaiResult<Filter> {
            let vals = to_values(&a, &v).rhai()?;
            let first = vals.into_iter().next().unwrap_or_default();
            Ok(Filter::eq(&a, first))
        },
    );
    reg(
        &mut m,
        "present",
        &["attr: String", "-> Filter"],
        "`(attr=*)`: the attribute has a value.\n\
         # Example\n\
         ```rhai\n\
         let devices = ad::dn(\"CN=RegisteredDevices,DC=contoso,DC=test\");\n\
         // Devices with no cloud anchor were not written back (AD FS device registration made \
         them).\n\
         let drs_made = ad::search(devices, ad::not(ad::present(\"msDS-CloudAnchor\")));\n\
         ```\n\
         # Errors\n\
         None.",
        |a: ImmutableString| Filter::present(&a),
    );
    reg(
        &mut m,
        "and",
        &["filters: Array", "-> Filter"],
        "`(&…)` of filters or filter strings.\n\
         # Example\n\
         ```rhai\n\
         let f = ad::and([ad::eq(\"objectClass\", \"msDS-Device\"), \"(msDS-IsManaged=TRUE)\"]);\n\
         print(f);   // (&(objectClass=msDS-Device)(msDS-IsManaged=TRUE))\n\
         ```\n\
         # Errors\n\
         `invalid_filter` (a string that does not parse), `invalid_argument` (an element that is \
         neither).",
        |a: Array| -> RhaiResult<Filter> { Ok(Filter::And(to_filters(&a).rhai()?)) },
    );
    reg(
        &mut m,
        "or",
        &["filters: Array", "-> Filter"],
        "`(|…)` of filters or filter strings.\n\
         # Example\n\
         ```rhai\n\
         let mobile = ad::or([ad::eq(\"msDS-DeviceOSType\", \"iOS\"), \
         ad::eq(\"msDS-DeviceOSType\", \"Android\")]);\n\
         ```\n\
         # Errors\n\
         `invalid_filter` (a string that does not parse), `invalid_argument` (an element that is \
         neither).",
        |a: Array| -> RhaiResult<Filter> { Ok(Filter::Or(to_filters(&a).rhai()?)) },
    );
    reg(
        &mut m,
        "not",
        &["filter: Filter|String", "-> Filter"],
        "`(!…)`.\n\
         # Example\n\
         ```rhai\n\
         let enabled = ad::not(\"(msDS-IsEnabled=FALSE)\");\n\
         ```\n\
         # Errors\n\
         `invalid_filter`, `invalid_argument` (neither a filter nor a string).",
        |f: Dynamic| -> RhaiResult<Filter> { Ok(Filter::Not(Box::new(to_filter(&f).rhai()?))) },
    );
    m
}

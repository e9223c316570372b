//! Searches that see the changes planned earlier in the run: `ad::search`,
//! `ad::list`, `ad::find`.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, Module};

use super::filter::to_filter;
use super::read::read;
use crate::ad::Directory;
use crate::ad::{Scope, SearchRequest};
use crate::bindings::convert::{entry, to_dn, to_strings};
use crate::bindings::options::Options;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::Filter;
use crate::error::Result;
use crate::host::Host;

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

/// Registers the searches.
pub(super) fn register(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Subtree search; returns `Entry` values (paged on LDAP; sees changes planned earlier in the run).
        /// # Example
        /// ```rhai
        /// let config = ad::config_dn();
        /// for e in ad::search(config, "(objectClass=msDS-DeviceRegistrationService)") { print(e.dn); }
        /// ```
        /// # Errors
        /// `no_such_object` (base missing), `invalid_filter`, `invalid_dn`, `invalid_argument` (base or filter of another type).
        m,
        "search",
        ["base: Dn|String", "filter: Filter|String"],
        move |b: Dynamic, f: Dynamic| search(&h, &b, &f, &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Search with options `#{ scope: "base"|"one_level"|"subtree", attrs: [..], limit: n, sd_flags: n }`. Asking for `nTSecurityDescriptor` in `attrs` sets `sd_flags` to 7 (owner, group, DACL) unless given, so no SACL rights are needed.
        /// # Example
        /// ```rhai
        /// let devices = ad::domain_dn().child("CN", "RegisteredDevices");
        /// let found = ad::search(devices, ad::eq("objectClass", "msDS-Device"),
        ///     #{ scope: "one_level", attrs: ["displayName", "msDS-DeviceID", "msDS-IsEnabled"], limit: 100 });
        /// print(`${found.len()} device objects`);
        /// ```
        /// # Errors
        /// `unknown_option` (with a suggestion), `invalid_argument` (unknown scope, `limit` or `sd_flags` not a number), `no_such_object`, `invalid_filter`, `invalid_dn`.
        m,
        "search",
        ["base: Dn|String", "filter: Filter|String", "options"],
        move |b: Dynamic, f: Dynamic, o: Map| search(&h, &b, &f, &o).rhai(),
    );
    let h = host.clone();
    bind!(
        /// The immediate children of `base` (a one-level search), as `Entry` values.
        /// # Example
        /// ```rhai
        /// for child in ad::list(ad::config_dn().child("CN", "Services")) { print(child.dn); }
        /// ```
        /// # Errors
        /// `no_such_object` (base missing), `invalid_dn`.
        m,
        "list",
        ["base: Dn|String"],
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
    bind!(
        /// The immediate children of `base` matching `filter`.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let disabled = ad::list(devices, ad::eq("msDS-IsEnabled", false));
        /// print(`${disabled.len()} disabled devices`);
        /// ```
        /// # Errors
        /// `no_such_object` (base missing), `invalid_filter`, `invalid_dn`.
        m,
        "list",
        ["base: Dn|String", "filter: Filter|String"],
        move |b: Dynamic, f: Dynamic| {
            search(&h, &b, &f, &Map::from_iter([("scope".into(), Dynamic::from("one_level"))]))
                .rhai()
        },
    );
    let h = host.clone();
    bind!(
        /// Reads an object, or returns `()` when it does not exist.
        /// # Example
        /// ```rhai
        /// let c = ad::find("CN=RegisteredDevices,DC=contoso,DC=test");
        /// if c == () { print("not prepared yet"); } else { print(c.is_a("msDS-DeviceContainer")); }
        /// ```
        /// # Errors
        /// `invalid_dn`.
        m,
        "find",
        ["dn: Dn|String", "-> Entry|()"],
        move |d: Dynamic| -> RhaiResult<Dynamic> {
            Ok(read(&h, &d, &[]).rhai()?.map(entry).unwrap_or(Dynamic::UNIT))
        },
    );
}

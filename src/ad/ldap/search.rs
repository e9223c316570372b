//! Paged searches, streamed: each page is fetched on the runtime, then its
//! entries are handed to the caller's callback on the caller's thread (so a
//! callback may itself use the directory), and only then is the next page
//! requested. At most one page is held in memory.
//!
//! Entries are parsed straight from the protocol tags into raw bytes, so
//! binary values stay exact, and search result references (AD's
//! continuations to other partitions) and intermediate messages are skipped.
//! ldap3's `SearchEntry::construct` is never used: it panics on anything but
//! a well-formed entry with a UTF-8 DN.

use std::time::Duration;

use ldap3::SearchOptions;
use ldap3::asn1::{PL, StructureTag};

use super::LdapDirectory;
use super::controls;
use super::paging::{PageEnd, PageRequest, Pager, Step};
use super::result::{Op, client_error};
use crate::ad::{Scope, SearchRequest};
use crate::directory::{Dn, Entry};
use crate::error::{Error, Kind, Result};

/// The search parameters as ldap3 wants them.
struct Spec {
    base: Dn,
    base_str: String,
    scope: ldap3::Scope,
    filter: String,
    attrs: Vec<String>,
    sd_flags: Option<u32>,
}

struct Page {
    entries: Vec<Entry>,
    end: PageEnd,
}

/// Runs `req`, calling `each` for every entry.
pub(super) fn run(
    dir: &LdapDirectory,
    req: &SearchRequest,
    each: &mut dyn FnMut(Entry) -> Result<()>,
) -> Result<()> {
    let spec = Spec {
        base_str: req.base.to_string(),
        base: req.base.clone(),
        scope: match req.scope {
            Scope::Base => ldap3::Scope::Base,
            Scope::OneLevel => ldap3::Scope::OneLevel,
            Scope::Subtree => ldap3::Scope::Subtree,
        },
        filter: req.filter.to_string(),
        attrs: req.attrs.clone(),
        sd_flags: req.sd_flags,
    };
    let timeout = dir.settings.op_timeout;
    let mut pager = Pager::new(dir.settings.effective_page_size(), req.size_limit);
    let mut request = pager.first();
    loop {
        let page = dir.run("searching", fetch_page(dir, &spec, &request, &mut pager, timeout))?;
        tracing::debug!(base = %spec.base_str, entries = page.entries.len(), rc = page.end.rc, "LDAP page");
        let live_cookie = page.end.cookie.clone().filter(|c| !c.is_empty() && page.end.rc == 0);
        for e in page.entries {
            if let Err(err) = each(e) {
                if let Some(c) = live_cookie {
                    release(dir, &spec, c);
                }
                return Err(err);
            }
        }
        match pager.end_page(page.end) {
            Step::Next(r) => request = r,
            Step::Done { release: cookie } => {
                tracing::debug!(base = %spec.base_str, entries = pager.delivered(), "LDAP search done");
                if let Some(c) = cookie {
                    release(dir, &spec, c);
                }
                return Ok(());
            }
            Step::Fail(e) => return Err(if e.dn.is_none() { e.with_dn(&spec.base) } else { e }),
        }
    }
}

/// One page: sends the request, collects entries until the page ends or the
/// size limit is reached (then the operation is abandoned).
async fn fetch_page(
    dir: &LdapDirectory,
    spec: &Spec,
    req: &PageRequest,
    pager: &mut Pager,
    timeout: Duration,
) -> Result<Page> {
    let mut ldap = dir.handle().await?;
    // A base search returns one entry at most: no paging (also spares the
    // rootDSE a control some servers refuse there).
    let mut ctrls = if spec.scope == ldap3::Scope::Base || !req.paged {
        Vec::new()
    } else {
        vec![controls::paged_request(req.size, &req.cookie)]
    };
    if let Some(flags) = spec.sd_flags {
        ctrls.push(controls::sd_flags(flags));
    }
    let fail = |e| client_error(Op::Search, Some(&spec.base), e, timeout);
    let mut stream = ldap
        .clone()
        .with_controls(ctrls)
        .with_search_options(SearchOptions::new().sizelimit(req.size_limit))
        .with_timeout(timeout)
        .streaming_search(&spec.base_str, spec.scope, &spec.filter, spec.attrs.clone())
        .await
        .map_err(fail)?;
    let mut entries = Vec::new();
    loop {
        match stream.next().await.map_err(fail)? {
            None => break,
            Some(item) => {
                let Some(entry) = parse_entry(item.0)? else { continue };
                if pager.accept() {
                    entries.push(entry);
                } else if !req.paged {
                    // A server that ignores the size limit of a one-page search
                    // (Samba) sends every match: read them, deliver none.
                    // Abandoning would leave them arriving for no operation.
                    continue;
                } else {
                    // Enough entries: stop this operation on the server too.
                    let id = stream.ldap_handle().last_id();
                    let _ = stream.finish().await;
                    let _ = ldap.abandon(id).await;
                    let end =
                        PageEnd { rc: 0, text: String::new(), refs: Vec::new(), cookie: None };
                    return Ok(Page { entries, end });
                }
            }
        }
    }
    let res = stream.finish().await;
    let cookie = controls::paged_cookie(&res.ctrls);
    Ok(Page { entries, end: PageEnd { rc: res.rc, text: res.text, refs: res.refs, cookie } })
}

/// Tells the server a paged search will not be continued (RFC 2696: size 0
/// with the cookie), so it can drop the state. Best effort.
fn release(dir: &LdapDirectory, spec: &Spec, cookie: Vec<u8>) {
    let timeout = Duration::from_secs(5);
    let r = dir.run("ending a paged search", async {
        let ldap = dir.handle().await?;
        let mut stream = ldap
            .clone()
            .with_controls(controls::paged_request(0, &cookie))
            .with_timeout(timeout)
            .streaming_search(&spec.base_str, spec.scope, &spec.filter, vec!["1.1".to_string()])
            .await
            .map_err(|e| client_error(Op::Search, None, e, timeout))?;
        while let Ok(Some(_)) = stream.next().await {}
        let _ = stream.finish().await;
        Ok(())
    });
    if let Err(e) = r {
        tracing::debug!(error = %e, "could not release a paged search");
    }
}

/// Builds an entry from a protocol message; `None` for references and
/// intermediate messages. Never panics on a malformed message.
pub(super) fn parse_entry(tag: StructureTag) -> Result<Option<Entry>> {
    const SEARCH_RESULT_ENTRY: u64 = 4;
    if tag.id != SEARCH_RESULT_ENTRY {
        return Ok(None);
    }
    let bad = |what: &str| {
        Error::new(Kind::ProtocolError, format!("malformed search result entry: {what}"))
    };
    let PL::C(parts) = tag.payload else { return Err(bad("not constructed")) };
    let mut parts = parts.into_iter();
    let dn_bytes = primitive(parts.next()).ok_or_else(|| bad("no DN"))?;
    let dn_text = String::from_utf8(dn_bytes).map_err(|_| bad("the DN is not UTF-8"))?;
    let dn = Dn::parse(&dn_text).map_err(|e| {
        Error::new(
            Kind::InvalidDn,
            format!("the server returned a DN dwb cannot parse: {}", e.message),
        )
        .with_dn(&dn_text)
    })?;
    let mut entry = Entry::new(dn);
    let attrs = constructed(parts.next()).ok_or_else(|| bad("no attribute list"))?;
    for attr in attrs {
        let mut pieces =
            constructed(Some(attr)).ok_or_else(|| bad("attribute is not a sequence"))?.into_iter();
        let name = primitive(pieces.next())
            .and_then(|n| String::from_utf8(n).ok())
            .ok_or_else(|| bad("attribute name"))?;
        let values = constructed(pieces.next()).ok_or_else(|| bad("attribute values"))?;
        let values: Option<Vec<Vec<u8>>> = values.into_iter().map(|v| primitive(Some(v))).collect();
        let values = values.ok_or_else(|| bad("attribute value is not an octet string"))?;
        // An attribute listed without values (typesOnly, or a value the
        // reader may not see) is still worth knowing about only if it has values.
        if !values.is_empty() {
            entry.add_values(&name, values);
        }
    }
    Ok(Some(entry))
}

fn primitive(t: Option<StructureTag>) -> Option<Vec<u8>> {
    match t?.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

fn constructed(t: Option<StructureTag>) -> Option<Vec<StructureTag>> {
    match t?.payload {
        PL::C(v) => Some(v),
        PL::P(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::TagClass;

    fn p(v: &[u8]) -> StructureTag {
        StructureTag { class: TagClass::Universal, id: 4, payload: PL::P(v.to_vec()) }
    }

    fn c(id: u64, v: Vec<StructureTag>) -> StructureTag {
        StructureTag { class: TagClass::Universal, id, payload: PL::C(v) }
    }

    fn entry_tag(dn: &[u8], attrs: Vec<(&str, Vec<&[u8]>)>) -> StructureTag {
        let attrs = attrs
            .into_iter()
            .map(|(n, vs)| c(16, vec![p(n.as_bytes()), c(17, vs.into_iter().map(p).collect())]))
            .collect();
        StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![p(dn), c(16, attrs)]),
        }
    }

    #[test]
    fn binary_and_text_values_are_kept_exactly() {
        let guid: &[u8] = &[
            0x3b, 0x2a, 0x1c, 0x6f, 0x5e, 0x4d, 0x60, 0x4f, 0x8a, 0x7b, 0x9c, 0x0d, 0x1e, 0x2f,
            0x3a, 0xff,
        ];
        let ascii_guid: &[u8] = b"0123456789abcdef"; // a binary value that happens to be UTF-8
        let tag = entry_tag(
            b"CN=dev\\2C1,CN=RegisteredDevices,DC=contoso,DC=test",
            vec![
                ("objectGUID", vec![guid]),
                ("msDS-DeviceID", vec![ascii_guid]),
                ("displayName", vec!["Gerät".as_bytes()]),
            ],
        );
        let e = parse_entry(tag).unwrap().unwrap();
        assert_eq!(e.dn.rdn_value(), Some("dev,1"));
        assert_eq!(e.get("objectguid"), [guid.to_vec()]);
        assert_eq!(e.get("MSDS-DEVICEID"), [ascii_guid.to_vec()]);
        assert_eq!(e.first_str("displayName").as_deref(), Some("Gerät"));
    }

    #[test]
    fn references_and_intermediates_are_skipped() {
        let reference = StructureTag {
            class: TagClass::Application,
            id: 19,
            payload: PL::C(vec![p(b"ldap://contoso.test/CN=Configuration,DC=contoso,DC=test")]),
        };
        assert!(parse_entry(reference).unwrap().is_none());
        let intermediate =
            StructureTag { class: TagClass::Application, id: 25, payload: PL::C(vec![]) };
        assert!(parse_entry(intermediate).unwrap().is_none());
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        let no_dn = StructureTag { class: TagClass::Application, id: 4, payload: PL::C(vec![]) };
        assert_eq!(parse_entry(no_dn).unwrap_err().kind, Kind::ProtocolError);
        let prim = StructureTag { class: TagClass::Application, id: 4, payload: PL::P(vec![1, 2]) };
        assert_eq!(parse_entry(prim).unwrap_err().kind, Kind::ProtocolError);
        assert_eq!(
            parse_entry(entry_tag(&[0xff, 0xfe], vec![])).unwrap_err().kind,
            Kind::ProtocolError
        );
        assert_eq!(parse_entry(entry_tag(b"not a dn", vec![])).unwrap_err().kind, Kind::InvalidDn);
        let bad_values = StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![p(b"CN=x"), c(16, vec![c(16, vec![p(b"cn"), p(b"flat")])])]),
        };
        assert_eq!(parse_entry(bad_values).unwrap_err().kind, Kind::ProtocolError);
    }

    #[test]
    fn the_root_dse_has_an_empty_dn() {
        let e = parse_entry(entry_tag(b"", vec![("dnsHostName", vec![b"DC1.contoso.test"])]))
            .unwrap()
            .unwrap();
        assert!(e.dn.is_root());
    }
}

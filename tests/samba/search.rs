//! Reads: paging over more entries than a page holds, limits, GUID/SID
//! round trips against what Samba returns, binary filters, references from
//! the domain root, and the SD flags control.

use std::sync::OnceLock;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use dwb::ad::{Directory, Scope, SearchRequest, WriteOp, sd_flags};
use dwb::directory::{Dn, Filter, Guid, Sid};
use dwb::error::{Error, Kind};

use super::{admin, connect, device_attrs, device_container};
use crate::support::samba::SambaDc;

const DEVICES: usize = 2500;

/// A device container on the shared DC holding 2,500 devices, added once
/// with `write_many`.
fn big_container() -> &'static Dn {
    static BIG: OnceLock<Dn> = OnceLock::new();
    BIG.get_or_init(|| {
        let dc = SambaDc::shared();
        let dir = admin(dc);
        let container = device_container(&dir, dc, "paging");
        let ops: Vec<WriteOp> = (0..DEVICES)
            .map(|i| {
                let id = Guid::new_random();
                let dn = container.child("CN", &id.to_string()).unwrap();
                WriteOp::Add { dn, attrs: device_attrs(&format!("PAGING-{i:05}"), id) }
            })
            .collect();
        let t = Instant::now();
        let mut seen = vec![0u32; DEVICES];
        dir.write_many(&ops.iter().collect::<Vec<_>>(), &mut |i, r| {
            r.unwrap_or_else(|e| panic!("add #{i}: {e:?}"));
            seen[i] += 1;
        });
        assert!(seen.iter().all(|n| *n == 1), "every index is reported exactly once");
        eprintln!("samba lab: {DEVICES} devices added with write_many in {:.1?}", t.elapsed());
        container
    })
}

fn devices_under(base: &Dn) -> SearchRequest {
    SearchRequest::new(base.clone(), Scope::OneLevel, Filter::eq("objectClass", "msDS-Device"))
        .attrs(["displayName"])
}

#[test]
fn paging_streams_all_2500_entries() {
    let dc = SambaDc::shared();
    let base = big_container();
    let dir = admin(dc);
    assert_eq!(dir.settings().effective_page_size(), 1000);
    let mut names = Vec::new();
    let t = Instant::now();
    dir.search(&devices_under(base), &mut |e| {
        names.push(e.first_str("displayName").unwrap());
        Ok(())
    })
    .unwrap();
    eprintln!("samba lab: paged search of {DEVICES} entries in {:.1?}", t.elapsed());
    names.sort();
    names.dedup();
    assert_eq!(names.len(), DEVICES);
    assert_eq!(names.first().map(String::as_str), Some("PAGING-00000"));
    assert_eq!(names.last().map(String::as_str), Some("PAGING-02499"));

    // The real ldapsearch, paging at 1000, counts the same.
    let base_s = base.to_string();
    let ldif = dc.ldapsearch(&[
        "-E",
        "pr=1000/noprompt",
        "-b",
        &base_s,
        "-s",
        "one",
        "(objectClass=msDS-Device)",
        "1.1",
    ]);
    assert_eq!(ldif.lines().filter(|l| l.starts_with("dn:")).count(), DEVICES);

    // Smaller pages: 9 round trips, the same entries.
    let mut s = dc.settings();
    s.page_size = 300;
    let n = connect(&s).unwrap().search_all(&devices_under(base)).unwrap().len();
    assert_eq!(n, DEVICES);
}

#[test]
fn size_limit_is_enforced_by_dwb() {
    // Samba ignores the request's size limit; dwb stops by itself.
    let dir = admin(SambaDc::shared());
    let base = big_container();
    for limit in [1, 10, 1000, 1001, 2499] {
        let mut req = devices_under(base);
        req.size_limit = limit;
        assert_eq!(dir.search_all(&req).unwrap().len(), limit, "limit {limit}");
    }
    // The connection is still in order after the abandoned searches.
    assert_eq!(dir.search_all(&devices_under(base)).unwrap().len(), DEVICES);
}

#[test]
fn an_error_from_the_callback_stops_the_search() {
    let dir = admin(SambaDc::shared());
    let mut calls = 0;
    let e = dir
        .search(&devices_under(big_container()), &mut |_| {
            calls += 1;
            if calls == 1500 { Err(Error::new(Kind::Verification, "enough")) } else { Ok(()) }
        })
        .unwrap_err();
    assert_eq!(e.kind, Kind::Verification);
    assert_eq!(calls, 1500);
    // The callback can use the directory itself (it runs outside the runtime).
    let mut nested = 0;
    dir.search(&devices_under(big_container()).clone(), &mut |e| {
        if nested < 3 {
            assert!(dir.read(&e.dn, &["cn"]).unwrap().is_some());
        }
        nested += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(nested, DEVICES);
}

#[test]
fn guid_and_sid_round_trip_against_ldapsearch() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let admin_dn = Dn::parse("CN=Administrator,CN=Users,DC=contoso,DC=test").unwrap();
    // Attribute names match case-insensitively.
    let e = dir.read(&admin_dn, &["OBJECTGUID", "objectsid"]).unwrap().unwrap();
    let guid = Guid::from_bytes(&e.get("objectGUID")[0]).unwrap();
    let sid = Sid::from_bytes(&e.get("objectSid")[0]).unwrap();

    let ldif =
        dc.ldapsearch(&["-b", &admin_dn.to_string(), "-s", "base", "objectGUID", "objectSid"]);
    let b64 = |attr: &str| {
        let line = ldif.lines().find_map(|l| l.strip_prefix(&format!("{attr}:: "))).unwrap();
        B64.decode(line).unwrap()
    };
    assert_eq!(Guid::from_bytes(&b64("objectGUID")).unwrap(), guid);
    assert_eq!(e.get("objectGUID")[0], b64("objectGUID"), "bytes are kept exactly");
    assert_eq!(Sid::from_bytes(&b64("objectSid")).unwrap(), sid);
    assert!(sid.to_string().starts_with("S-1-5-21-"), "{sid}");
    assert_eq!(sid.rid(), Some(500));
    assert!(sid.to_string().ends_with("-500"));

    // Binary equality filters find exactly that object, from the domain root.
    for f in [Filter::eq("objectGUID", guid.to_bytes()), Filter::eq("objectSid", sid.to_bytes())] {
        let req = SearchRequest::new(dc.domain_dn(), Scope::Subtree, f.clone()).attrs(["cn"]);
        let found = dir.search_all(&req).unwrap();
        assert_eq!(found.len(), 1, "{f}");
        assert_eq!(found[0].dn, admin_dn);
    }
    // ldapsearch agrees on the escaped filter string dwb sends.
    let f = Filter::eq("objectGUID", guid.to_bytes()).to_string();
    assert_eq!(
        super::ldif_dns(&dc.ldapsearch(&["-b", "DC=contoso,DC=test", &f, "1.1"])),
        [admin_dn]
    );
}

#[test]
fn subtree_search_from_the_domain_root_skips_references() {
    // Samba answers with continuation references to the Configuration,
    // Schema and DNS partitions; they must be skipped, not parsed as entries.
    let dc = SambaDc::shared();
    let raw = dc.ldapsearch(&["-b", "DC=contoso,DC=test", "(cn=Administrator)", "1.1"]);
    assert!(raw.contains("# ref"), "Samba no longer sends references?\n{raw}");
    let dir = admin(dc);
    let req = SearchRequest::new(dc.domain_dn(), Scope::Subtree, Filter::eq("cn", "Administrator"))
        .attrs(["cn"]);
    let found = dir.search_all(&req).unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn a_missing_base_is_no_such_object() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let missing = dc.domain_dn().child("OU", "does-not-exist").unwrap();
    let e = dir
        .search_all(&SearchRequest::new(missing.clone(), Scope::Subtree, Filter::all()))
        .unwrap_err();
    assert_eq!(e.kind, Kind::NoSuchObject);
    assert_eq!(e.dn.as_deref(), Some(missing.to_string().as_str()));
    assert!(e.server_text.is_some(), "{e:?}");
    assert_eq!(dir.read(&missing, &[]).unwrap(), None);
}

/// The control word and the four offsets of a self-relative security descriptor.
fn sd_header(sd: &[u8]) -> (u16, [u32; 4]) {
    assert!(sd.len() >= 20, "SD of {} bytes", sd.len());
    assert_eq!(sd[0], 1, "revision");
    let u32_at = |i: usize| u32::from_le_bytes(sd[i..i + 4].try_into().unwrap());
    (u16::from_le_bytes([sd[2], sd[3]]), [u32_at(4), u32_at(8), u32_at(12), u32_at(16)])
}

#[test]
fn sd_flags_read_leaves_out_the_sacl() {
    const SACL_PRESENT: u16 = 0x0010;
    const DACL_PRESENT: u16 = 0x0004;
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let users = dc.domain_dn().child("CN", "Users").unwrap();
    let mut req = SearchRequest::new(users.clone(), Scope::Base, Filter::all())
        .attrs(["nTSecurityDescriptor"]);
    req.sd_flags = Some(sd_flags::OWNER | sd_flags::GROUP | sd_flags::DACL);
    let e = dir.search_all(&req).unwrap().pop().unwrap();
    let (control, [owner, group, sacl, dacl]) = sd_header(&e.get("nTSecurityDescriptor")[0]);
    assert_eq!(control & SACL_PRESENT, 0, "control {control:#06x}");
    assert_eq!(sacl, 0);
    assert_ne!(control & DACL_PRESENT, 0);
    assert!(owner != 0 && group != 0 && dacl != 0);

    // Without the control, Administrator gets the SACL too: the control was sent.
    req.sd_flags = None;
    let e = dir.search_all(&req).unwrap().pop().unwrap();
    let (control, [_, _, sacl, _]) = sd_header(&e.get("nTSecurityDescriptor")[0]);
    assert_ne!(control & SACL_PRESENT, 0, "control {control:#06x}");
    assert_ne!(sacl, 0);

    // DACL only: no owner, no group.
    req.sd_flags = Some(sd_flags::DACL);
    let e = dir.search_all(&req).unwrap().pop().unwrap();
    let (_, [owner, group, sacl, dacl]) = sd_header(&e.get("nTSecurityDescriptor")[0]);
    assert_eq!((owner, group, sacl), (0, 0, 0));
    assert_ne!(dacl, 0);
}

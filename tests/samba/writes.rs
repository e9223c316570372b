//! Writes: modifications and binary values, `write_many` outcomes by index
//! and under cancellation, SD flags on modify, and the 2016 schema variant.

use std::time::{Duration, Instant};

use dwb::ad::ldap::LdapDirectory;
use dwb::ad::{Directory, ModOp, Modification, Scope, SearchRequest, WriteOp, sd_flags};
use dwb::directory::{Attr, Filter, Guid};
use dwb::error::Kind;
use tokio_util::sync::CancellationToken;

use super::{admin, device_attrs, device_container, rt};
use crate::support::samba::{Options, SambaDc, Schema};

fn m(op: ModOp, attr: &str, values: &[&[u8]]) -> Modification {
    Modification { op, attr: attr.into(), values: values.iter().map(|v| v.to_vec()).collect() }
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[test]
fn modifications_and_binary_values() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let ou = dc.create_ou("writes-mods");
    let modify = |mods: Vec<Modification>| {
        dir.write(&WriteOp::Modify { dn: ou.clone(), mods, sd_flags: None }).unwrap()
    };
    let description =
        || sorted(dir.read(&ou, &["description"]).unwrap().unwrap().get("description").to_vec());

    modify(vec![m(ModOp::Replace, "description", &[b"a", b"b"])]);
    assert_eq!(description(), [b"a".to_vec(), b"b".to_vec()]);
    modify(vec![m(ModOp::Delete, "description", &[b"a"]), m(ModOp::Add, "description", &[b"c"])]);
    assert_eq!(description(), [b"b".to_vec(), b"c".to_vec()]);
    modify(vec![m(ModOp::Delete, "description", &[])]);
    assert!(description().is_empty());

    // Every byte value survives a round trip through an octet-string attribute.
    let container = device_container(&dir, dc, "writes-binary");
    let id = Guid::new_random();
    let dev = container.child("CN", &id.to_string()).unwrap();
    let mut attrs = device_attrs("BINARY", id);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    attrs.push(Attr::new("msDS-CloudAnchor", vec![all_bytes.clone()]));
    dir.write(&WriteOp::Add { dn: dev.clone(), attrs }).unwrap();
    let e = dir.read(&dev, &["msDS-CloudAnchor", "msDS-DeviceID"]).unwrap().unwrap();
    assert_eq!(e.get("msds-cloudanchor"), [all_bytes]);
    assert_eq!(Guid::from_bytes(&e.get("msDS-DeviceID")[0]).unwrap(), id);
    // And the device is found by its binary msDS-DeviceID.
    let req = SearchRequest::new(
        container.clone(),
        Scope::OneLevel,
        Filter::eq("msDS-DeviceID", id.to_bytes()),
    );
    assert_eq!(dir.search_all(&req).unwrap().len(), 1);
}

#[test]
fn write_many_reports_each_outcome_by_index() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let ou = dc.create_ou("writes-many");
    let existing = ou.child("OU", "existing").unwrap();
    let new_ou = |name: &str| WriteOp::Add {
        dn: ou.child("OU", name).unwrap(),
        attrs: vec![Attr::text("objectClass", ["organizationalUnit"])],
    };
    dir.write(&new_ou("existing")).unwrap();
    let ops = [
        new_ou("n1"),
        new_ou("existing"),
        WriteOp::Modify {
            dn: ou.child("OU", "missing").unwrap(),
            mods: vec![m(ModOp::Replace, "description", &[b"x"])],
            sd_flags: None,
        },
        new_ou("n2"),
        WriteOp::Delete { dn: ou.child("OU", "never-was").unwrap() },
        WriteOp::Modify {
            dn: existing.clone(),
            mods: vec![m(ModOp::Replace, "description", &[b"ok"])],
            sd_flags: None,
        },
    ];
    let mut outcomes: Vec<Option<dwb::error::Result<()>>> = vec![None; ops.len()];
    dir.write_many(&ops.iter().collect::<Vec<_>>(), &mut |i, r| {
        assert!(outcomes[i].is_none(), "index {i} reported twice");
        outcomes[i] = Some(r);
    });
    let kinds: Vec<Option<Kind>> = outcomes
        .into_iter()
        .map(|o| o.expect("every index is reported").err().map(|e| e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(Kind::AlreadyExists),
            Some(Kind::NoSuchObject),
            None,
            Some(Kind::NoSuchObject),
            None
        ]
    );
    assert!(dir.read(&ou.child("OU", "n2").unwrap(), &[]).unwrap().is_some());
    let mut called = false;
    dir.write_many(&[], &mut |_, _| called = true);
    assert!(!called);
}

#[test]
fn write_many_under_cancellation_reports_every_index() {
    let dc = SambaDc::start();
    let cancel = CancellationToken::new();
    let dir =
        LdapDirectory::connect(&dc.settings(), rt().handle().clone(), cancel.clone()).unwrap();
    let ou = dc.create_ou("writes-cancel");
    let ops: Vec<WriteOp> = (0..100)
        .map(|i| WriteOp::Add {
            dn: ou.child("OU", &format!("c{i}")).unwrap(),
            attrs: vec![Attr::text("objectClass", ["organizationalUnit"])],
        })
        .collect();
    dc.pause(); // nothing completes until cancelled
    let trigger = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        trigger.cancel();
    });
    let started = Instant::now();
    let mut seen = vec![0; ops.len()];
    dir.write_many(&ops.iter().collect::<Vec<_>>(), &mut |i, r| {
        seen[i] += 1;
        assert_eq!(r.unwrap_err().kind, Kind::Cancelled);
    });
    t.join().unwrap();
    dc.resume();
    assert!(seen.iter().all(|n| *n == 1), "{seen:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn sd_flags_on_modify_writes_the_dacl_back() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let ou = dc.create_ou("writes-sd");
    let read = || {
        let mut req = SearchRequest::new(ou.clone(), Scope::Base, Filter::all())
            .attrs(["nTSecurityDescriptor"]);
        req.sd_flags = Some(sd_flags::DACL);
        dir.search_all(&req).unwrap().pop().unwrap().get("nTSecurityDescriptor")[0].clone()
    };
    let before = read();
    let write = WriteOp::Modify {
        dn: ou.clone(),
        mods: vec![Modification {
            op: ModOp::Replace,
            attr: "nTSecurityDescriptor".into(),
            values: vec![before.clone()],
        }],
        sd_flags: Some(sd_flags::DACL),
    };
    dir.write(&write).unwrap();
    assert_eq!(read(), before, "writing the DACL back unchanged is a no-op");
    // The owner survived a DACL-only write (the control was honoured).
    let mut req =
        SearchRequest::new(ou.clone(), Scope::Base, Filter::all()).attrs(["nTSecurityDescriptor"]);
    req.sd_flags = Some(sd_flags::OWNER | sd_flags::DACL);
    let full = dir.search_all(&req).unwrap().pop().unwrap().get("nTSecurityDescriptor")[0].clone();
    let owner_offset = u32::from_le_bytes(full[4..8].try_into().unwrap());
    assert_ne!(owner_offset, 0);
}

#[test]
fn the_2016_schema_variant_has_the_newer_device_attributes() {
    let dc = SambaDc::start_with(Options { schema: Schema::Device2016, ..Options::default() });
    let dir = admin(&dc);
    let container = device_container(&dir, &dc, "schema2016");
    let id = Guid::new_random();
    let dn = container.child("CN", &id.to_string()).unwrap();
    let mut attrs = device_attrs("COMPLIANT", id);
    attrs.push(Attr::text("msDS-IsCompliant", ["TRUE"]));
    attrs.push(Attr::text("msDS-DeviceTrustType", ["2"]));
    dir.write(&WriteOp::Add { dn: dn.clone(), attrs }).unwrap();
    let e = dir.read(&dn, &["msDS-IsCompliant", "msDS-DeviceTrustType"]).unwrap().unwrap();
    assert_eq!(e.first_str("msDS-IsCompliant").as_deref(), Some("TRUE"));
    assert_eq!(e.first_str("msDS-DeviceTrustType").as_deref(), Some("2"));
}

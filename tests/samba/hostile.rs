//! Hostile names: values that would change a DN's or a filter's structure if
//! they were pasted into strings. Each becomes a device's CN and displayName;
//! the DC must either refuse it cleanly or store it exactly where intended,
//! and an equality filter on it must match that device only, as seen by dwb
//! and by `ldapsearch`.

use dwb::ad::{Directory, Scope, SearchRequest, WriteOp};
use dwb::directory::{Dn, Filter, Guid};
use dwb::error::Kind;

use super::{admin, device_attrs, device_container, ldif_dns};
use crate::support::samba::SambaDc;

fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("filter injection", "*)(objectClass=*".to_string()),
        ("DN injection", ",CN=Admins".to_string()),
        ("NUL byte", "a\0b".to_string()),
        ("backslash", "back\\slash".to_string()),
        ("leading #", "#hash".to_string()),
        ("leading space", " lead".to_string()),
        ("trailing space", "trail ".to_string()),
        ("RFC 4514 specials", "a+b=c;<d>\"e\"".to_string()),
        ("non-ASCII", "Gerät-äöü-日本-😀".to_string()),
        ("10 KB", "x".repeat(10 * 1024)),
    ]
}

fn short(v: &str) -> String {
    if v.len() > 120 {
        format!("{}… ({} bytes)", v.chars().take(100).collect::<String>(), v.len())
    } else {
        v.to_string()
    }
}

#[test]
fn hostile_names_never_change_structure() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let container = device_container(&dir, dc, "hostile");
    let container_s = container.to_string();
    let mut stored = Vec::new();

    for (label, value) in hostile_values() {
        let dn = container.child("CN", &value).unwrap();
        let op = WriteOp::Add { dn: dn.clone(), attrs: device_attrs(&value, Guid::new_random()) };
        match dir.write(&op) {
            Err(e) => {
                // A clean refusal from the DC, never a broken connection.
                assert!(
                    matches!(
                        e.kind,
                        Kind::InvalidSyntax
                            | Kind::ConstraintViolation
                            | Kind::InvalidDnSyntax
                            | Kind::NamingViolation
                    ),
                    "{label}: {:?} {:?}",
                    e.kind,
                    e.server_text
                );
                eprintln!(
                    "hostile {label}: refused ({}: {})",
                    e.kind.as_str(),
                    short(&e.server_text.unwrap_or_default())
                );
                continue;
            }
            Ok(()) => eprintln!("hostile {label}: stored"),
        }
        // dwb reads it back at exactly that DN, value intact.
        let e = dir
            .read(&dn, &["displayName", "cn"])
            .unwrap()
            .unwrap_or_else(|| panic!("{label}: not at {}", short(&dn.to_string())));
        assert_eq!(e.dn, dn, "{label}");
        assert!(e.dn.is_child_of(&container), "{label}");
        assert_eq!(e.get("displayName"), [value.as_bytes().to_vec()], "{label}");
        assert_eq!(e.dn.rdn_value(), Some(value.as_str()), "{label}");

        // An equality filter on the value matches this device only.
        let filter = Filter::eq("displayName", value.as_bytes());
        let req =
            SearchRequest::new(container.clone(), Scope::OneLevel, filter.clone()).attrs(["cn"]);
        let found = dir.search_all(&req).unwrap();
        assert_eq!(found.iter().map(|e| &e.dn).collect::<Vec<_>>(), [&dn], "{label}");

        // The same through the real ldapsearch: the filter string dwb prints,
        // and a base search on the DN string dwb prints.
        let theirs = ldif_dns(&dc.ldapsearch(&[
            "-b",
            &container_s,
            "-s",
            "one",
            &filter.to_string(),
            "1.1",
        ]));
        assert_eq!(theirs, std::slice::from_ref(&dn), "{label}");
        let theirs = ldif_dns(&dc.ldapsearch(&["-b", &dn.to_string(), "-s", "base", "1.1"]));
        assert_eq!(theirs, std::slice::from_ref(&dn), "{label}");
        stored.push(dn);
    }

    // A 10 KB RDN with a short displayName: Samba does not enforce cn's
    // rangeUpper, so this one is stored; the DN must round-trip intact.
    let long_cn = container.child("CN", &"y".repeat(10 * 1024)).unwrap();
    let op =
        WriteOp::Add { dn: long_cn.clone(), attrs: device_attrs("LONG-CN", Guid::new_random()) };
    match dir.write(&op) {
        Ok(()) => {
            let e = dir.read(&long_cn, &["cn"]).unwrap().expect("stored");
            assert_eq!(e.dn, long_cn);
            assert_eq!(e.get("cn"), [vec![b'y'; 10 * 1024]]);
            stored.push(long_cn);
        }
        Err(e) => assert!(
            matches!(
                e.kind,
                Kind::InvalidSyntax | Kind::ConstraintViolation | Kind::InvalidDnSyntax
            ),
            "{:?}",
            e.kind
        ),
    }

    // Nothing landed anywhere else: the container holds exactly the stored
    // devices, all direct children, and no `CN=Admins` appeared.
    let one =
        ldif_dns(&dc.ldapsearch(&["-b", &container_s, "-s", "one", "(objectClass=*)", "1.1"]));
    let sub =
        ldif_dns(&dc.ldapsearch(&["-b", &container_s, "-s", "sub", "(objectClass=*)", "1.1"]));
    assert_eq!(one.len(), stored.len());
    assert_eq!(sub.len(), stored.len() + 1);
    for dn in &stored {
        assert!(one.contains(dn));
    }
    let admins = dc.ldapsearch(&["-b", "DC=contoso,DC=test", "(|(cn=Admins)(name=Admins))", "1.1"]);
    assert!(ldif_dns(&admins).is_empty(), "{admins}");
    assert!(stored.len() >= 8, "most hostile names are legal CNs; only {} stored", stored.len());

    // And a wildcard-looking value as a filter does not match everything.
    let star = Filter::eq("displayName", "*");
    let req = SearchRequest::new(container.clone(), Scope::OneLevel, star).attrs(["cn"]);
    assert!(dir.search_all(&req).unwrap().is_empty());
}

#[test]
fn hostile_values_in_dns_of_searches_and_deletes() {
    // A DN that parses to one RDN stays one RDN on the wire.
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let base = dc.create_ou("hostile-ou");
    let tricky = base.child("OU", "x,OU=y").unwrap();
    assert_eq!(tricky.depth(), base.depth() + 1);
    dir.write(&WriteOp::Add {
        dn: tricky.clone(),
        attrs: vec![dwb::directory::Attr::text("objectClass", ["organizationalUnit"])],
    })
    .unwrap();
    let found = dir
        .search_all(&SearchRequest::new(base.clone(), Scope::Subtree, Filter::all()).attrs(["ou"]))
        .unwrap();
    let dns: Vec<&Dn> = found.iter().map(|e| &e.dn).collect();
    assert_eq!(dns.len(), 2, "{dns:?}");
    assert!(dns.contains(&&tricky));
    assert_eq!(
        found.iter().find(|e| e.dn == tricky).unwrap().first_str("ou").as_deref(),
        Some("x,OU=y")
    );
    dir.write(&WriteOp::Delete { dn: tricky.clone() }).unwrap();
    assert!(dir.read(&tricky, &[]).unwrap().is_none());
    assert!(dir.read(&base, &[]).unwrap().is_some());
}

//! Every result code dwb can provoke on Samba arrives as its kind, with the
//! DN and the server's diagnostic text.

use dwb::ad::{Directory, ModOp, Modification, WriteOp};
use dwb::directory::{Attr, Dn, Guid};
use dwb::error::{Error, Kind};
use secrecy::SecretString;

use super::{admin, device_attrs, device_container};
use crate::support::samba::SambaDc;

/// Asserts the kind, that the error names `dn` and carries server text
/// containing `text`.
#[track_caller]
fn expect(r: dwb::error::Result<()>, kind: Kind, dn: &Dn, text: &str) -> Error {
    let e = r.expect_err("the DC accepted it");
    assert_eq!(e.kind, kind, "{e:?}");
    assert_eq!(e.dn.as_deref(), Some(dn.to_string().as_str()), "{e:?}");
    let server = e.server_text.clone().unwrap_or_default();
    assert!(server.contains(text), "server text {server:?} lacks {text:?}");
    assert_eq!(e.code(), kind.code());
    e
}

fn modify(dn: &Dn, op: ModOp, attr: &str, values: &[&[u8]]) -> WriteOp {
    WriteOp::Modify {
        dn: dn.clone(),
        mods: vec![Modification {
            op,
            attr: attr.into(),
            values: values.iter().map(|v| v.to_vec()).collect(),
        }],
        sd_flags: None,
    }
}

fn ou(dn: &Dn) -> WriteOp {
    WriteOp::Add { dn: dn.clone(), attrs: vec![Attr::text("objectClass", ["organizationalUnit"])] }
}

#[test]
fn object_and_tree_errors() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let base = dc.create_ou("errors-tree");

    let missing = base.child("OU", "missing").unwrap();
    expect(
        dir.write(&modify(&missing, ModOp::Replace, "description", &[b"x"])),
        Kind::NoSuchObject,
        &missing,
        "",
    );
    expect(dir.write(&WriteOp::Delete { dn: missing.clone() }), Kind::NoSuchObject, &missing, "");
    let orphan = missing.child("OU", "child").unwrap();
    expect(dir.write(&ou(&orphan)), Kind::NoSuchObject, &orphan, "parent does not exist");

    let a = base.child("OU", "a").unwrap();
    dir.write(&ou(&a)).unwrap();
    expect(dir.write(&ou(&a)), Kind::AlreadyExists, &a, "");

    dir.write(&ou(&a.child("OU", "leaf").unwrap())).unwrap();
    expect(dir.write(&WriteOp::Delete { dn: a.clone() }), Kind::NotAllowedOnNonLeaf, &a, "");

    expect(
        dir.write(&modify(&a, ModOp::Delete, "ou", &[])),
        Kind::NotAllowedOnRdn,
        &a,
        "must use 'rename'",
    );

    let abstract_only = base.child("OU", "abstract").unwrap();
    let add_top =
        WriteOp::Add { dn: abstract_only.clone(), attrs: vec![Attr::text("objectClass", ["top"])] };
    expect(dir.write(&add_top), Kind::UnwillingToPerform, &abstract_only, "structural class");
    expect(
        dir.write(&WriteOp::Modify { dn: a.clone(), mods: vec![], sd_flags: None }),
        Kind::UnwillingToPerform,
        &a,
        "",
    );
}

#[test]
fn attribute_errors() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let a = dc.create_ou("errors-attrs");
    dir.write(&modify(&a, ModOp::Replace, "description", &[b"one"])).unwrap();

    expect(
        dir.write(&modify(&a, ModOp::Add, "description", &[b"one"])),
        Kind::AttributeOrValueExists,
        &a,
        "already exists",
    );
    expect(
        dir.write(&modify(&a, ModOp::Delete, "description", &[b"two"])),
        Kind::NoSuchAttribute,
        &a,
        "no matching attribute value",
    );
    // Samba reports an attribute missing from the schema as noSuchAttribute
    // (16), where the RFC would say undefinedAttributeType (17).
    expect(
        dir.write(&modify(&a, ModOp::Replace, "dwbNoSuchAttr", &[b"x"])),
        Kind::NoSuchAttribute,
        &a,
        "not found in the schema",
    );
    expect(
        dir.write(&modify(&a, ModOp::Replace, "objectGUID", &[&[1; 16]])),
        Kind::ConstraintViolation,
        &a,
        "only be modified as system",
    );
    expect(
        dir.write(&modify(&a, ModOp::Replace, "objectClass", &[b"user"])),
        Kind::ObjectClassViolation,
        &a,
        "structural objectClass",
    );
}

#[test]
fn device_schema_errors() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let container = device_container(&dir, dc, "errors-devices");
    let device = |name: &str| container.child("CN", name).unwrap();
    let add = |dn: &Dn, attrs: Vec<Attr>| WriteOp::Add { dn: dn.clone(), attrs };
    let without = |attr: &str| -> Vec<Attr> {
        device_attrs("DEV", Guid::new_random())
            .into_iter()
            .filter(|a| !a.name.eq_ignore_ascii_case(attr))
            .collect()
    };
    let with = |extra: Attr| -> Vec<Attr> {
        let mut v: Vec<Attr> = device_attrs("DEV", Guid::new_random())
            .into_iter()
            .filter(|a| !a.name.eq_ignore_ascii_case(&extra.name))
            .collect();
        v.push(extra);
        v
    };

    let d = device("missing-must");
    expect(
        dir.write(&add(&d, without("altSecurityIdentities"))),
        Kind::ObjectClassViolation,
        &d,
        "altSecurityIdentities",
    );

    let users =
        dc.domain_dn().child("CN", "Users").unwrap().child("CN", "misplaced-device").unwrap();
    expect(
        dir.write(&add(&users, device_attrs("DEV", Guid::new_random()))),
        Kind::NamingViolation,
        &users,
        "not a valid child class",
    );

    let d = device("two-names");
    expect(
        dir.write(&add(&d, with(Attr::text("displayName", ["one", "two"])))),
        Kind::ConstraintViolation,
        &d,
        "SINGLE-VALUE",
    );

    let d = device("bad-bool");
    expect(
        dir.write(&add(&d, with(Attr::text("msDS-IsEnabled", ["yes"])))),
        Kind::InvalidSyntax,
        &d,
        "",
    );

    let d = device("short-id");
    expect(
        dir.write(&add(&d, with(Attr::new("msDS-DeviceID", vec![vec![7; 15]])))),
        Kind::InvalidSyntax,
        &d,
        "msDS-DeviceID",
    );

    // The 2016 attributes are not in Samba's 2012 R2 schema.
    let d = device("compliant");
    expect(
        dir.write(&add(&d, with(Attr::text("msDS-IsCompliant", ["TRUE"])))),
        Kind::NoSuchAttribute,
        &d,
        "not found in the schema",
    );

    // A valid device is accepted, and then modified.
    let ok = device("valid");
    dir.write(&add(&ok, device_attrs("VALID", Guid::new_random()))).unwrap();
    dir.write(&modify(&ok, ModOp::Replace, "msDS-IsEnabled", &[b"FALSE"])).unwrap();
    assert_eq!(
        dir.read(&ok, &["msDS-IsEnabled"]).unwrap().unwrap().first_str("msds-isenabled").as_deref(),
        Some("FALSE")
    );
}

#[test]
fn device_location_is_system_only_after_add() {
    // The Device Registration Service object as dwb's prepare step creates
    // it: msDS-DeviceLocation is accepted on add, refused on modify.
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let base = dc.create_ou("errors-drs");
    let cont = base.child("CN", "Device Registration Configuration").unwrap();
    dir.write(&WriteOp::Add {
        dn: cont.clone(),
        attrs: vec![Attr::text("objectClass", ["container"])],
    })
    .unwrap();
    let services = cont.child("CN", "Device Registration Services").unwrap();
    let class = Attr::text("objectClass", ["msDS-DeviceRegistrationServiceContainer"]);
    dir.write(&WriteOp::Add { dn: services.clone(), attrs: vec![class] }).unwrap();
    let drs = services.child("CN", "DeviceRegistrationService").unwrap();
    let location = base.to_string();
    dir.write(&WriteOp::Add {
        dn: drs.clone(),
        attrs: vec![
            Attr::text("objectClass", ["msDS-DeviceRegistrationService"]),
            Attr::text("msDS-IsEnabled", ["TRUE"]),
            Attr::text("msDS-DeviceLocation", [location.as_str()]),
        ],
    })
    .unwrap();
    let again = modify(
        &drs,
        ModOp::Replace,
        "msDS-DeviceLocation",
        &[dc.domain_dn().to_string().as_bytes()],
    );
    expect(dir.write(&again), Kind::ConstraintViolation, &drs, "only be modified as system");
}

#[test]
fn unprivileged_user_gets_insufficient_access() {
    let dc = SambaDc::shared();
    let dir = admin(dc);
    let base = dc.create_ou("errors-acl");
    let name = dc.unique_name("user").replace('-', "");
    let password = "Unpr1v-Passw0rd!";
    dc.samba_tool_as_admin(&["user", "create", &name, password]);

    let user_dir =
        dir.bind_as(&format!("{name}@contoso.test"), &SecretString::from(password)).unwrap();
    assert!(user_dir.describe().contains(&name));
    // Reading is allowed to authenticated users …
    assert!(user_dir.read(&base, &["ou"]).unwrap().is_some());
    // … creating objects is not.
    let target = base.child("OU", "not-yours").unwrap();
    let e = expect(user_dir.write(&ou(&target)), Kind::InsufficientAccess, &target, "");
    assert!(e.hint.is_some());
    assert!(dir.read(&target, &[]).unwrap().is_none());
    // The admin connection is unaffected.
    dir.write(&ou(&target)).unwrap();

    let Err(e) = dir.bind_as(&format!("CONTOSO\\{name}"), &SecretString::from("not-it")) else {
        panic!("bound with a wrong password")
    };
    assert_eq!(e.kind, Kind::InvalidCredentials);
    assert!(!format!("{e:?}").contains("not-it"));
}

//! Script bindings against the snapshot directory: directory checks, typed
//! values and hostile input that must never change a DN's or filter's structure.

use crate::support::Dir;

#[test]
fn directory_checks_surface_as_kinds() {
    let d = Dir::new();
    d.write("checks.rhai", r#"
fn kind(f) { let r = "ok"; try { f.call(); } catch (e) { r = e.kind; } r }
let base = ad::domain_dn();
print(kind(|| ad::add(base.child("CN", "Users"), #{ objectClass: "container" })));
print(kind(|| ad::add(ad::dn("CN=x,CN=nowhere,DC=contoso,DC=test"), #{ objectClass: "container" })));
print(kind(|| ad::delete(base.child("CN", "Users"))));
print(kind(|| ad::modify(base.child("CN", "ghost"), #{ replace: #{ description: "x" } })));
print(kind(|| ad::dn("CN=a,,DC=x")));
"#);
    let o = d.run(&["run", "checks.rhai", "--dry-run"]);
    o.code(0);
    let lines: Vec<&str> = o.stdout.lines().take(5).collect();
    assert_eq!(
        lines,
        [
            "already_exists",
            "no_such_object",
            "not_allowed_on_non_leaf",
            "no_such_object",
            "invalid_dn"
        ]
    );
}

#[test]
fn typed_values() {
    let d = Dir::new();
    d.write(
        "types.rhai",
        r#"
let admin = ad::resolve_account("CONTOSO\\Administrator");
print(`rid=${admin.sid.rid} guid_len=${admin.guid.bytes().len()}`);
let upn = ad::resolve_account("alice@contoso.test");
print(upn.dn);
let g = ad::guid("{5DF2B673-6D41-4774-B3E8-D52E8EE9FF99}");
print(g);
print(ad::guid(g.bytes()) == g);
print(ad::sid("S-1-5-32-544").bytes().len());
let e = ad::get(ad::domain_dn());
print(type_of(e["objectGUID"]));
print(type_of(e["objectSid"]));
print(ad::dn("cn=USERS,dc=contoso,dc=test") == ad::dn("CN=Users,DC=contoso,DC=test"));
try { ad::resolve_account("CONTOSO\\nobody"); } catch (e) { print(e.kind); }
try { ad::resolve_account("NOPE\\x"); } catch (e) { print(e.hint); }
"#,
    );
    let o = d.run(&["run", "types.rhai"]);
    o.code(0).stdout_has("rid=500 guid_len=16").stdout_has("CN=alice,CN=Users,DC=contoso,DC=test").stdout_has("5df2b673-6d41-4774-b3e8-d52e8ee9ff99\ntrue\n16\nGuid\nSid\ntrue\nnot_found\nknown domains: CONTOSO");
}

#[test]
fn hostile_values_stay_values() {
    let d = Dir::new();
    d.write("hostile.rhai", r##"
let base = ad::domain_dn().child("CN", "Users");
let names = ["*)(objectClass=*", ",CN=Admins", "a\\b", "#lead", " lead", "trail ", "é ü 😀", "x+y=z;<>\""];
let long = "n";
long.pad(10000, "x");
names.push(long);
for n in names {
    let dn = base.child("CN", n);
    ad::add(dn, #{ objectClass: "container", description: n });
    let hits = ad::search(base, ad::eq("description", n));
    if hits.len() != 1 || hits[0].dn != dn || dn.parent() != base || dn.rdn_value != n { throw `structure changed for ${n}`; }
}
print(`ok ${names.len()}`);
print(ad::eq("cn", "*)(objectClass=*").to_string());
"##);
    let o = d.run(&["run", "hostile.rhai", "--write-snapshot", "after.ldif"]);
    o.code(0).stdout_has("ok 9").stdout_has("(cn=\\2a\\29\\28objectClass=\\2a)");
    // The written state loads back with every object where it was meant to be.
    d.write("count.rhai", "print(ad::list(ad::domain_dn().child(\"CN\", \"Users\"), \"(objectClass=container)\").len());\n");
    d.run(&["run", "count.rhai", "--snapshot", "after.ldif"]).code(0).stdout_has("9");
}

#[test]
fn a_malformed_descriptor_is_an_error_never_a_write() {
    let d = Dir::new();
    // An object whose stored nTSecurityDescriptor is garbage (a truncated header).
    let mut ldif = d.read_repo("examples/contoso/directory.ldif");
    ldif.push_str("\ndn: CN=Broken,DC=contoso,DC=test\nobjectClass: container\nnTSecurityDescriptor:: AQAEgBQAAAA=\n");
    d.write("broken.ldif", &ldif);
    d.write(
        "grant.rhai",
        r#"
print(ad::attribute_syntax("msDS-DeviceID"));
ad::grant(ad::dn("CN=Broken,DC=contoso,DC=test"), "CONTOSO\\svc-dwb", "RPWP");
"#,
    );
    let o = d.run(&[
        "run",
        "grant.rhai",
        "--snapshot",
        "broken.ldif",
        "--write-snapshot",
        "after.ldif",
    ]);
    o.code(2).stdout_has("2.5.5.10").stderr_has("security_descriptor").stderr_has("is malformed");
    assert!(!d.join("after.ldif").exists(), "nothing may be written after a malformed descriptor");
}

#[test]
fn role_holders_and_the_tenant_flag_on_a_snapshot() {
    let d = Dir::new();
    d.write(
        "forest.rhai",
        r#"
import "dwb/checks" as checks;
for r in ad::fsmo_roles() {
    print(`${r.role}|${r.scope}|${r.dns_host_name}|${r.reachable}|${r.detail}`);
}
print(graph::source_kind());
try { ad::fsmo_roles(#{ timeout_ms: 0 }); } catch (e) { print(e.kind); }
try { ad::fsmo_roles(#{ probes: true }); } catch (e) { print(e.kind); }
checks::tenant_writeback_finding(true);
checks::tenant_writeback_finding(false);
checks::tenant_writeback_finding(());
"#,
    );
    let o = d.run(&["run", "forest.rhai", "--format", "json"]);
    o.code(0);
    let j = o.json();
    let out: Vec<&str> =
        j["output"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    let not_probed = "DC1.contoso.test||not probed: the directory is a snapshot";
    assert_eq!(
        out,
        [
            format!("schema master|forest|{not_probed}"),
            format!("domain naming master|forest|{not_probed}"),
            format!("PDC emulator|domain|{not_probed}"),
            format!("RID master|domain|{not_probed}"),
            format!("infrastructure master|domain|{not_probed}"),
            "demo".to_string(),
            "invalid_argument".to_string(),
            "unknown_option".to_string(),
        ]
    );
    let f: Vec<(&str, &str)> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["status"].as_str().unwrap(), f["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].0, "warn");
    assert!(f[0].1.contains("Entra Connect may be writing devices back too"), "{f:?}");
    assert_eq!((f[1].0, f[2].0), ("ok", "info"));
}

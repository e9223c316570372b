//! Graph as a real tenant may answer, within its documented contract, against
//! the lab DC: the emulator's tenant modes (`Quirks`, "limited information"
//! without User.Read.All) and what `dwb run sync` makes of them. Never lose
//! directory data because Graph did not send it: an owner or registered user
//! Graph sent without its `onPremisesSecurityIdentifier` is looked up by id
//! (`/devices/{id}/registeredOwners/microsoft.graph.user?$select=…`), and if
//! that does not yield it either, `msDS-RegisteredOwner` / `msDS-RegisteredUsers`
//! stay in AD exactly as they were, the device reported.

use std::collections::{BTreeMap, BTreeSet};

use dwb_graph_emulator::{DEFAULT_TENANT_ID, EmulatorState};
use serde_json::{Value, json};

use super::sync::{Lab, by_dn, new_device, warnings, with_action, writes};

/// `S-1-5-21-…` from a binary SID, decoded here (not by dwb).
fn sid_text(b: &[u8]) -> String {
    let auth = b[2..8].iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
    let subs: Vec<String> = b[8..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
        .collect();
    format!("S-{}-{auth}-{}", b[0], subs.join("-"))
}

/// An AD user made with samba-tool, and its SID as ldapsearch reads it.
fn ad_user(lab: &Lab, name: &str) -> String {
    lab.dc.samba_tool_as_admin(&["user", "create", name, "Us3r!Passw0rd-lab"]);
    let dn = format!("CN={name},CN=Users,DC=contoso,DC=test");
    let out = lab.dc.ldapsearch(&["-b", &dn, "-s", "base", "(objectClass=*)", "objectSid"]);
    let objs = super::sync::parse_ldif(&out);
    sid_text(&objs[0].one("objectSid").unwrap())
}

/// Device ids by role, and the owner / users SIDs each should have in AD.
struct Tenant {
    /// d1: owner a, users a+b; d2: owner b, users b; d3: a cloud-only owner and
    /// user; d4: none (an explicitly empty relationship).
    ids: [String; 4],
    a: String,
    b: String,
}

/// Four devices whose owners and users are users of the lab's forest.
fn lab(name: &'static str) -> (Lab, Tenant) {
    let mut state = EmulatorState::empty(DEFAULT_TENANT_ID);
    let mut ids = Vec::new();
    for n in 0..4 {
        let (v, id) = new_device(n, &format!("CONTRACT-{n}"));
        state.add_device(v).unwrap();
        ids.push(id);
    }
    let lab = Lab::start(name, state);
    let (a, b) = (ad_user(&lab, "contract-a"), ad_user(&lab, "contract-b"));
    lab.emu.with_state(|s| {
        for (id, sid) in [("u-a", json!(a)), ("u-b", json!(b)), ("u-cloud", Value::Null)] {
            s.add_user(json!({"id": id, "userPrincipalName": format!("{id}@contoso.test"),
                              "displayName": id, "onPremisesSecurityIdentifier": sid}))
                .unwrap();
        }
        s.set_owner(&ids[0], "u-a").unwrap();
        s.set_registered_users(&ids[0], &["u-a", "u-b"]).unwrap();
        s.set_owner(&ids[1], "u-b").unwrap();
        s.set_registered_users(&ids[1], &["u-b"]).unwrap();
        s.set_owner(&ids[2], "u-cloud").unwrap();
        s.set_registered_users(&ids[2], &["u-cloud"]).unwrap();
    });
    let ids: [String; 4] = ids.try_into().unwrap();
    (lab, Tenant { ids, a, b })
}

type Relations = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

/// msDS-RegisteredOwner and msDS-RegisteredUsers of every device object (as SIDs), by device id.
fn relations(lab: &Lab, t: &Tenant) -> Relations {
    let devices: BTreeMap<String, String> =
        lab.devices().into_iter().map(|d| (d.id.clone(), d.dn().to_ascii_lowercase())).collect();
    let objs = by_dn(lab.objects());
    let sids = |o: &super::sync::Obj, a: &str| o.get(a).iter().map(|v| sid_text(v)).collect();
    t.ids
        .iter()
        .map(|id| {
            let o = &objs[&devices[id]];
            (id.clone(), (sids(o, "msDS-RegisteredOwner"), sids(o, "msDS-RegisteredUsers")))
        })
        .collect()
}

fn set(v: &[&String]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What the tenant says, as AD should hold it.
fn expected(t: &Tenant) -> Relations {
    let none = BTreeSet::new();
    BTreeMap::from([
        (t.ids[0].clone(), (set(&[&t.a]), set(&[&t.a, &t.b]))),
        (t.ids[1].clone(), (set(&[&t.b]), set(&[&t.b]))),
        (t.ids[2].clone(), (none.clone(), none.clone())),
        (t.ids[3].clone(), (none.clone(), none)),
    ])
}

/// No planned write touches the owner or users attributes.
fn touches_relations(report: &Value) -> Vec<Value> {
    writes(report)
        .into_iter()
        .filter(|c| {
            c["modifications"].as_array().into_iter().flatten().any(|m| {
                let a = m["attribute"].as_str().unwrap_or("");
                a.eq_ignore_ascii_case("msDS-RegisteredOwner")
                    || a.eq_ignore_ascii_case("msDS-RegisteredUsers")
            })
        })
        .collect()
}

fn left_as_it_is(report: &Value) -> Vec<String> {
    warnings(report).into_iter().filter(|w| w.contains("left as it is")).collect()
}

/// A delta round after the first one, with one device renamed: only its
/// displayName is written.
fn delta_round_renaming(lab: &Lab, delta: &[&str], id: &str) -> Value {
    lab.emu.with_state(|s| s.rename_device(id, "CONTRACT-RENAMED").unwrap());
    let (out, report) = lab.sync(delta);
    out.code(0);
    let modifies = with_action(&report, "modify");
    assert_eq!(writes(&report).len(), 1, "{report:#}");
    let attrs: Vec<&str> = modifies[0]["modifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["attribute"].as_str().unwrap())
        .collect();
    assert_eq!(attrs, ["displayName"], "{report:#}");
    report
}

#[test]
fn owners_graph_sent_unread_are_looked_up_in_batches_not_one_request_per_device() {
    // At 100,000 devices one lookup request per device is hours of round trips.
    let (lab, t) = lab("graph_contract_batched_lookups");
    let extra = 96;
    lab.emu.with_state(|s| {
        for n in 0..extra {
            let (v, id) = new_device(100 + n, &format!("CONTRACT-X{n}"));
            s.add_device(v).unwrap();
            s.set_owner(&id, "u-a").unwrap();
        }
        s.quirks.expand_select_ignored = true;
    });
    let before = lab.emu.graph_request_count();
    let (out, report) = lab.sync(&[]);
    out.code(0);
    let requests = lab.emu.graph_request_count() - before;
    let devices = extra as u64 + 4;
    assert!(left_as_it_is(&report).is_empty(), "{:?}", warnings(&report));
    assert_eq!(relations(&lab, &t), expected(&t), "the owners read by id reached AD");
    // 100 devices' owners, 20 per batch: 5 batches, plus the listings and checks.
    assert!(requests <= 20, "{requests} Graph requests for {devices} devices");
}

#[test]
fn a_nested_select_graph_ignores_never_removes_owners_and_users() {
    let (lab, t) = lab("graph_contract_nested_select");
    lab.sync(&[]).0.code(0);
    assert_eq!(relations(&lab, &t), expected(&t), "the lab's starting point");

    // Graph drops the $select nested in $expand: owners come with their default
    // properties, no onPremisesSecurityIdentifier. A full sync reads them by id.
    lab.emu.with_state(|s| s.quirks.expand_select_ignored = true);
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert!(writes(&report).is_empty(), "nothing changed in the tenant: {report:#}");
    assert_eq!(relations(&lab, &t), expected(&t));
    assert!(left_as_it_is(&report).is_empty(), "{:?}", warnings(&report));

    // And still correct: an owner change reaches AD through the lookups.
    lab.emu.with_state(|s| {
        s.set_owner(&t.ids[1], "u-a").unwrap();
        s.set_registered_users(&t.ids[1], &["u-a"]).unwrap();
    });
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert_eq!(touches_relations(&report).len(), 1, "{report:#}");
    let mut want = expected(&t);
    want.insert(t.ids[1].clone(), (set(&[&t.a]), set(&[&t.a])));
    assert_eq!(relations(&lab, &t), want);

    // Delta rounds: the first lists everything, the next reads the changed
    // device with $expand (ignored) and then by id.
    let state = lab.dir.join("delta.json");
    let state_arg = format!("state={}", state.display());
    let delta = ["mode=delta", state_arg.as_str()];
    let (out, report) = lab.sync(&delta);
    out.code(0);
    assert!(writes(&report).is_empty(), "{report:#}");
    assert_eq!(relations(&lab, &t), want);
    let report = delta_round_renaming(&lab, &delta, &t.ids[0]);
    assert!(left_as_it_is(&report).is_empty(), "{:?}", warnings(&report));
    assert_eq!(relations(&lab, &t), want);
}

#[test]
fn limited_information_leaves_owners_and_users_as_they_are() {
    let (lab, t) = lab("graph_contract_limited_information");
    lab.sync(&[]).0.code(0);
    assert_eq!(relations(&lab, &t), expected(&t), "the lab's starting point");

    // Without User.Read.All Graph sends the users of a relationship as "limited
    // information" (id and @odata.type): unread, also by id. Nothing is removed.
    lab.emu.with_state(|s| s.user_read_all = false);
    let (out, report) = lab.sync(&[]);
    out.code(0);
    assert!(touches_relations(&report).is_empty(), "{report:#}");
    assert_eq!(relations(&lab, &t), expected(&t));
    let notes = left_as_it_is(&report);
    assert_eq!(notes.len(), 2, "{:?}", warnings(&report));
    assert!(notes[0].starts_with("msDS-RegisteredOwner left as it is on 3 device(s)"), "{notes:?}");
    assert!(notes[1].starts_with("msDS-RegisteredUsers left as it is on 3 device(s)"), "{notes:?}");
    assert!(notes.iter().all(|n| n.contains(&t.ids[0]) && !n.contains(&t.ids[3])), "{notes:?}");

    let state = lab.dir.join("delta.json");
    let state_arg = format!("state={}", state.display());
    let delta = ["mode=delta", state_arg.as_str()];
    let (out, report) = lab.sync(&delta);
    out.code(0);
    assert!(writes(&report).is_empty(), "{report:#}");
    assert_eq!(relations(&lab, &t), expected(&t));
    let report = delta_round_renaming(&lab, &delta, &t.ids[0]);
    assert_eq!(left_as_it_is(&report).len(), 2, "{:?}", warnings(&report));
    assert_eq!(relations(&lab, &t), expected(&t));
}

#[test]
fn base64url_keys_absent_properties_and_a_refused_users_expansion_are_read() {
    let (lab, t) = lab("graph_contract_lenient");
    // One device with properties Graph may leave out rather than send as null.
    let (sparse, sparse_id) = new_device(9, "CONTRACT-SPARSE");
    lab.emu.with_state(|s| {
        let mut v = sparse;
        let o = v.as_object_mut().unwrap();
        for k in ["operatingSystem", "operatingSystemVersion", "physicalIds", "isManaged"] {
            o.insert(k.into(), Value::Null);
        }
        s.add_device(v).unwrap();
        s.quirks.base64url_keys = true;
        s.quirks.absent_nulls = true;
        s.quirks.expand_users_rejected = true;
    });
    let (out, report) = lab.sync(&[]);
    out.code(0);
    super::sync::assert_converged(&lab);
    assert_eq!(relations(&lab, &t), expected(&t), "the users read device by device");
    let refused: Vec<String> = warnings(&report)
        .into_iter()
        .filter(|w| w.contains("refused the listing that expands registeredUsers"))
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", warnings(&report));
    let objs = by_dn(lab.objects());
    let sparse = lab.devices().into_iter().find(|d| d.id == sparse_id).unwrap();
    let o = &objs[&sparse.dn().to_ascii_lowercase()];
    assert!(o.get("msDS-DeviceOSType").is_empty() && o.get("msDS-IsManaged").is_empty());

    // A delta round reads the same way; nothing changed.
    let state = lab.dir.join("delta.json");
    let state_arg = format!("state={}", state.display());
    let (out, report) = lab.sync(&["mode=delta", state_arg.as_str()]);
    out.code(0);
    assert!(writes(&report).is_empty(), "{report:#}");
}

/// Every device object's uSNChanged, by DN: what changed in AD.
fn usns(lab: &Lab) -> BTreeMap<String, u64> {
    lab.objects().iter().map(|o| (o.dn.to_ascii_lowercase(), o.usn())).collect()
}

#[test]
fn a_token_without_the_permissions_a_sync_needs_changes_nothing_and_names_them() {
    let (lab, t) = lab("graph_contract_permissions");
    lab.sync(&[]).0.code(0);
    let before = usns(&lab);

    // Without User.Read.All: an error naming it and the options that turn the
    // attributes that need it off; nothing in AD changes.
    lab.emu.with_state(|s| {
        s.app_roles = vec!["Device.Read.All".into()];
        s.user_read_all = false;
        s.rename_device(&t.ids[0], "CONTRACT-RENAMED").unwrap();
    });
    let (out, report) = lab.sync(&[]);
    assert_ne!(out.code, 0, "{report:#}");
    let text = super::sync::error_text(&out, &report);
    assert!(text.contains("User.Read.All") && text.contains("owners=false"), "{text}");
    assert!(text.contains("registered_users=false"), "{text}");
    assert_eq!(usns(&lab), before, "nothing in AD changed");
    assert_eq!(relations(&lab, &t), expected(&t));

    // Without Device.Read.All nothing can be listed.
    lab.emu.with_state(|s| s.app_roles = vec!["User.Read.All".into()]);
    let (out, report) = lab.sync(&[]);
    assert_ne!(out.code, 0, "{report:#}");
    let text = super::sync::error_text(&out, &report);
    assert!(text.contains("Device.Read.All"), "{text}");
    assert_eq!(usns(&lab), before, "nothing in AD changed");

    // With the owners and registered users turned off, Device.Read.All is enough.
    lab.emu.with_state(|s| s.app_roles = vec!["Device.Read.All".into()]);
    let (out, report) = lab.sync(&["owners=false", "registered_users=false"]);
    out.code(0);
    assert!(!writes(&report).is_empty(), "the rename is written: {report:#}");
}

/// verify's "app permissions" finding: status and detail.
fn app_permissions(lab: &Lab) -> (String, String) {
    let out = lab.run(&["run", "verify", "--format", "json", "--param", "drift=true"]);
    let r: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", out.stdout, out.stderr));
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "app permissions")
        .unwrap_or_else(|| panic!("no app permissions finding: {r:#}"))
        .clone();
    (f["status"].as_str().unwrap().to_string(), f["detail"].as_str().unwrap().to_string())
}

#[test]
fn verify_reports_the_apps_permissions() {
    let (lab, _) = lab("graph_contract_verify_permissions");
    lab.sync(&[]).0.code(0);
    let (status, detail) = app_permissions(&lab);
    assert_eq!(status, "ok", "{detail}");
    assert!(detail.contains("Device.Read.All, User.Read.All"), "{detail}");
    lab.emu.with_state(|s| s.app_roles = vec!["Device.Read.All".into()]);
    let (status, detail) = app_permissions(&lab);
    assert_eq!(status, "warn", "{detail}");
    assert!(detail.contains("lacks User.Read.All"), "{detail}");
    lab.emu.with_state(|s| s.app_roles = Vec::new());
    let (status, detail) = app_permissions(&lab);
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("lacks Device.Read.All") && detail.contains("has: none"), "{detail}");
}

#[test]
fn where_graph_has_no_device_delta_a_delta_round_is_a_full_one() {
    let (lab, t) = lab("graph_contract_no_delta");
    lab.emu.with_state(|s| s.quirks.delta_unavailable = true);
    let state = lab.dir.join("delta.json");
    let state_arg = format!("state={}", state.display());
    let delta = ["mode=delta", state_arg.as_str()];
    let (out, report) = lab.sync(&delta);
    out.code(0);
    super::sync::assert_converged(&lab);
    assert_eq!(relations(&lab, &t), expected(&t));
    let notices: Vec<String> = warnings(&report)
        .into_iter()
        .filter(|w| w.contains("does not offer device delta here"))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", warnings(&report));
    assert!(notices[0].ends_with("this round is a full sync"), "{notices:?}");
    assert_eq!(report["data"]["sync"]["mode"], "full", "the report names the mode that ran");
    assert!(!state.exists(), "no delta state without delta");
    // The next round too, and it sees a change as a full round does.
    lab.emu.with_state(|s| s.rename_device(&t.ids[1], "CONTRACT-RENAMED").unwrap());
    let (out, report) = lab.sync(&delta);
    out.code(0);
    assert_eq!(with_action(&report, "modify").len(), 1, "{report:#}");
    super::sync::assert_converged(&lab);
}

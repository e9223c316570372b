//! Graph reads at the directory's speed: owners with the device listing
//! (`$expand`) and devices/owners by id in JSON batches, against the emulator.
//! Waits are checked through the observer, never against the clock.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// Each device's owners and their SIDs, as the emulator holds them.
fn owners_in_state(emu: &EmulatorHandle) -> BTreeMap<String, Vec<(String, Option<String>)>> {
    emu.with_state(|s| {
        s.devices
            .iter()
            .map(|(id, d)| {
                let owners = d
                    .owners
                    .iter()
                    .map(|u| {
                        let sid = s.users[u]["onPremisesSecurityIdentifier"].as_str();
                        (u.clone(), sid.map(str::to_string))
                    })
                    .collect();
                (id.clone(), owners)
            })
            .collect()
    })
}

fn owner_pairs(owners: &[Owner]) -> Vec<(String, Option<String>)> {
    owners.iter().map(|o| (o.id.clone(), o.on_premises_security_identifier.clone())).collect()
}

fn first_ids(emu: &EmulatorHandle, n: usize) -> Vec<String> {
    emu.with_state(|s| s.devices.keys().take(n).cloned().collect())
}

/// The `$batch` POSTs and the members the emulator served, in order.
fn batch_log(emu: &EmulatorHandle) -> (usize, Vec<String>) {
    let log = emu.request_log();
    let posts = log.iter().filter(|r| r.method == "POST" && r.uri == "/v1.0/$batch").count();
    (posts, log.into_iter().filter(|r| r.in_batch).map(|r| r.uri).collect())
}

#[tokio::test]
async fn expanded_listing_returns_owners_with_sids_in_pages_of_100() {
    let emu = emulator(250).await;
    let (c, _) = client(&emu);
    let want = owners_in_state(&emu);
    let opts = ListOptions { expand_owners: true, ..Default::default() };
    assert_eq!(opts.top, Some(999), "the caller's page size stays 999");
    let (devices, sum) = all_devices(&c, &opts).await;
    assert_eq!((devices.len(), sum.pages), (250, 3), "999 is asked as 100 with $expand");
    let first = graph_requests(&emu).into_iter().find(|r| r.contains("/devices?")).unwrap();
    assert!(first.contains("%24top=100"), "{first}");
    assert!(
        first.contains(
            "%24expand=registeredOwners%28%24select%3Did%2ConPremisesSecurityIdentifier%29"
        ),
        "{first}"
    );
    let mut with_sid = 0;
    for d in &devices {
        let owners = d.registered_owners.as_deref().expect("expanded");
        assert_eq!(owner_pairs(owners), want[&d.id], "device {}", d.id);
        with_sid += owners.iter().filter(|o| o.on_premises_security_identifier.is_some()).count();
        assert!(d.x509_alt_security_ids().is_ok() && d.device_id.is_some());
    }
    assert!(with_sid > 20, "synced owners carry their SIDs ({with_sid})");

    // A smaller page size is kept; without the option nothing is expanded.
    let (devices, sum) =
        all_devices(&c, &ListOptions { top: Some(60), expand_owners: true, ..Default::default() })
            .await;
    assert_eq!((devices.len(), sum.pages), (250, 5));
    let (devices, _) = all_devices(&c, &ListOptions::default()).await;
    assert!(devices.iter().all(|d| d.registered_owners.is_none()));
}

#[tokio::test]
async fn forty_five_ids_are_three_batches() {
    let emu = emulator(80).await;
    let (c, _) = client(&emu);
    let ids = first_ids(&emu, 45);
    c.sign_in().await.unwrap();
    emu.clear_request_log();
    let got = c.get_devices_batch(&ids).await.unwrap();
    assert_eq!(got.len(), 45);
    for id in &ids {
        let d = got[id].as_ref().unwrap();
        let name = emu.with_state(|s| s.devices[id].props["displayName"].clone());
        assert_eq!((d.id.as_str(), d.display_name.as_deref()), (id.as_str(), name.as_str()));
        assert!(d.registered_owners.is_none());
    }
    let (posts, members) = batch_log(&emu);
    assert_eq!((posts, members.len()), (3, 45), "20 + 20 + 5");
    let s = c.stats();
    assert_eq!((s.batches, s.batch_members, s.retries), (3, 45, 0));

    let want = owners_in_state(&emu);
    let owners = c.device_owners_batch(&ids).await.unwrap();
    for id in &ids {
        assert_eq!(owner_pairs(owners[id].as_ref().unwrap()), want[id], "device {id}");
    }
    let with = c.get_devices_with_owners_batch(&ids[..3]).await.unwrap();
    for id in &ids[..3] {
        let d = with[id].as_ref().unwrap();
        assert_eq!(owner_pairs(d.registered_owners.as_deref().unwrap()), want[id]);
    }
    assert!(c.get_devices_batch(&[]).await.unwrap().is_empty());
    assert_eq!(c.stats().batches, 3 + 3 + 1, "nothing sent for no ids");

    // One batch at a time gives the same answers.
    let (cfg, _) = config(&emu, secret());
    let one = GraphClient::new(cfg.with_batch_concurrency(1)).unwrap();
    let got1 = one.get_devices_batch(&ids).await.unwrap();
    assert!(ids.iter().all(|id| got1[id].as_ref().unwrap().id == *id));
    let (cfg, _) = config(&emu, secret());
    let e = GraphClient::new(cfg.with_batch_concurrency(0)).unwrap_err();
    assert_eq!(e.kind().as_str(), "config");
}

#[tokio::test]
async fn throttled_members_are_resent_after_their_retry_after() {
    let emu = emulator(30).await;
    let (c, obs) = client(&emu);
    let ids = first_ids(&emu, 10);
    c.sign_in().await.unwrap();
    emu.clear_request_log();
    emu.set_faults(Faults {
        batch_throttle_next: 3,
        retry_after: RetryAfter::Seconds(1),
        ..Default::default()
    });
    let got = c.get_devices_batch(&ids).await.unwrap();
    assert!(ids.iter().all(|id| got[id].as_ref().unwrap().id == *id), "all answered");
    let r = obs.retries();
    assert_eq!(r.len(), 3, "{r:?}");
    for ev in &r {
        assert_eq!(
            (ev.status, ev.cause, ev.retry_after_header.as_deref(), ev.attempt),
            (Some(429), "throttled", Some("1"), 1)
        );
        assert_eq!(ev.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(ev.wait, Duration::from_secs(1), "waited what the member's Retry-After said");
        assert!(ev.url.contains("/v1.0/devices/"), "{}", ev.url);
    }
    // Only the throttled members went again; the others kept their first answers.
    let (posts, members) = batch_log(&emu);
    assert_eq!((posts, members.len()), (2, 13));
    let throttled: BTreeSet<String> = emu
        .request_log()
        .into_iter()
        .filter(|x| x.in_batch && x.status == 429)
        .map(|x| x.uri)
        .collect();
    let resent: BTreeSet<String> = members[10..].iter().cloned().collect();
    assert_eq!(throttled, resent);
    let s = c.stats();
    assert_eq!((s.batches, s.batch_members, s.retries), (2, 13, 3));
    assert_eq!(s.total_wait, Duration::from_secs(1), "one wait for the round, not one each");
}

#[tokio::test]
async fn a_deleted_device_is_not_found_for_its_id_only() {
    let emu = emulator(20).await;
    let (c, _) = client(&emu);
    let mut ids = first_ids(&emu, 4);
    emu.with_state(|s| s.delete_device(&ids[3]).unwrap());
    let unknown = uuid::Uuid::new_v4().to_string();
    ids.push(unknown.clone());
    ids.push("not-a-guid".into());
    let got = c.get_devices_batch(&ids).await.unwrap();
    assert_eq!(got.len(), 6);
    assert!(ids[..3].iter().all(|id| got[id].as_ref().unwrap().id == *id));
    for id in [&ids[3], &unknown] {
        let e = got[id].as_ref().unwrap_err();
        assert_eq!(
            (e.kind().as_str(), e.code(), e.status()),
            ("not_found", "DWB-GRAPH-0030", Some(404))
        );
        assert_eq!(e.device(), Some(id.as_str()));
        assert_eq!(e.graph_code(), Some("Request_ResourceNotFound"));
    }
    let e = got["not-a-guid"].as_ref().unwrap_err();
    assert_eq!((e.kind().as_str(), e.device()), ("config", Some("not-a-guid")));
    let owners = c.device_owners_batch(&ids).await.unwrap();
    assert_eq!(owners[&unknown].as_ref().unwrap_err().kind().as_str(), "not_found");
    assert!(owners[&ids[0]].is_ok());
}

#[tokio::test]
async fn server_error_members_are_retried_with_backoff_then_given_up() {
    let emu = emulator(10).await;
    let (c, obs) = client(&emu);
    let ids = first_ids(&emu, 5);
    emu.set_faults(Faults { batch_error_next: 2, batch_error_status: 500, ..Default::default() });
    let got = c.get_devices_batch(&ids).await.unwrap();
    assert!(ids.iter().all(|id| got[id].is_ok()));
    let r = obs.retries();
    assert_eq!(r.len(), 2);
    for ev in &r {
        assert_eq!((ev.status, ev.cause, ev.retry_after), (Some(500), "server_error", None));
        // fast_retry: base 10 ms, equal jitter → [5, 10] ms before the 2nd attempt.
        assert!(ev.wait >= Duration::from_millis(5) && ev.wait <= Duration::from_millis(10));
    }

    // Failing every time: bounded attempts, then the member's own error.
    emu.set_faults(Faults {
        batch_error_next: 1000,
        batch_error_status: 500,
        ..Default::default()
    });
    let got = c.get_devices_batch(&ids[..2]).await.unwrap();
    for id in &ids[..2] {
        let e = got[id].as_ref().unwrap_err();
        assert_eq!(
            (e.kind().as_str(), e.status(), e.attempts()),
            ("bad_response", Some(500), Some(4))
        );
        assert_eq!(e.device(), Some(id.as_str()));
    }
    emu.set_faults(Faults {
        batch_error_next: 1000,
        batch_error_status: 503,
        ..Default::default()
    });
    let e = c.get_devices_batch(&ids[..1]).await.unwrap().remove(&ids[0]).unwrap().unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.code(), e.attempts()),
        ("throttled", "DWB-GRAPH-0040", Some(4))
    );
}

#[tokio::test]
async fn cancellation_stops_a_batched_lookup() {
    let emu = emulator(5).await;
    let (c, _) = client(&emu);
    let ids = first_ids(&emu, 5);
    emu.set_faults(Faults {
        batch_throttle_next: 1,
        retry_after: RetryAfter::Seconds(4),
        ..Default::default()
    });
    let cancel = c.cancel_token().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let e = c.get_devices_batch(&ids).await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("cancelled", "DWB-GRAPH-0070"));
}

#[tokio::test]
async fn the_emulator_refuses_a_batch_of_21() {
    let emu = emulator(1).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = emu.base_url().as_str().trim_end_matches('/').to_string();
    let v: Value = http
        .post(format!("{base}/{}/oauth2/v2.0/token", emu.tenant_id()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
            ("scope", &format!("{base}/.default")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["access_token"].as_str().unwrap().to_string();
    let batch = |n: usize| {
        let requests: Vec<Value> = (1..=n)
            .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/domains"}))
            .collect();
        json!({ "requests": requests })
    };
    let post = |body: Value| {
        http.post(format!("{}/$batch", emu.graph_url())).bearer_auth(&token).json(&body).send()
    };
    let r = post(batch(21)).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "BadRequest");
    let r = post(batch(20)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let statuses: BTreeSet<u64> =
        v["responses"].as_array().unwrap().iter().map(|m| m["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, BTreeSet::from([200]));
}

#[tokio::test]
async fn registered_users_come_with_a_listing_or_in_batches() {
    let emu = emulator(250).await;
    let (c, _) = client(&emu);
    let want: BTreeMap<String, Vec<(String, Option<String>)>> = emu.with_state(|s| {
        s.devices
            .iter()
            .map(|(id, d)| {
                let users = d
                    .users
                    .iter()
                    .map(|u| {
                        let sid = s.users[u]["onPremisesSecurityIdentifier"].as_str();
                        (u.clone(), sid.map(str::to_string))
                    })
                    .collect();
                (id.clone(), users)
            })
            .collect()
    });
    assert!(want.values().filter(|u| !u.is_empty()).count() > 50, "the tenant has users");
    let opts = ListOptions { select: vec!["id".into()], expand_users: true, ..Default::default() };
    let (devices, sum) = all_devices(&c, &opts).await;
    assert_eq!((devices.len(), sum.pages), (250, 3), "pages of 100 with $expand");
    let first = graph_requests(&emu).into_iter().find(|r| r.contains("/devices?")).unwrap();
    assert!(first.contains("%24expand=registeredUsers%28"), "{first}");
    for d in &devices {
        assert!(d.registered_owners.is_none());
        assert_eq!(owner_pairs(d.registered_users.as_deref().unwrap()), want[&d.id], "{}", d.id);
    }
    // Graph expands one relationship per request.
    let both = ListOptions { expand_owners: true, expand_users: true, ..Default::default() };
    assert_eq!(c.devices(&both).err().unwrap().kind().as_str(), "config");

    let ids = first_ids(&emu, 45);
    emu.clear_request_log();
    let users = c.device_users_batch(&ids).await.unwrap();
    for id in &ids {
        assert_eq!(owner_pairs(users[id].as_ref().unwrap()), want[id], "device {id}");
    }
    let (posts, members) = batch_log(&emu);
    assert_eq!((posts, members.len()), (3, 45), "20 + 20 + 5");
    assert!(
        members.iter().all(|m| m.contains("/registeredUsers/microsoft.graph.user?")),
        "{members:?}"
    );
}

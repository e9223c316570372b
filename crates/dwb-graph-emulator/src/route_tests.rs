//! Route tests without a socket: requests go through the real router (auth and
//! fault middleware included) with `oneshot`; the bearer token is registered
//! directly in the runtime.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::{EmulatorState, Faults, Issued, Runtime, Shared, World, generate, routes};

const TOKEN: &str = "emu.app.route-test";

struct App {
    router: axum::Router,
    shared: Arc<Shared>,
}

fn app(state: EmulatorState) -> App {
    let shared = Arc::new(Shared {
        world: Mutex::new(World { state, rt: Runtime::default() }),
        base: "http://127.0.0.1:9".into(),
        members: OnceLock::new(),
    });
    shared.lock().rt.tokens.insert(
        TOKEN.into(),
        Issued { delegated: false, expires: Instant::now() + Duration::from_secs(600) },
    );
    App { router: routes::router(shared.clone()), shared }
}

impl App {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn device_ids(&self) -> Vec<String> {
        self.shared.lock().state.devices.keys().cloned().collect()
    }
}

/// URL-encode a query value the way clients do.
fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test]
async fn expanded_listing_caps_the_page_and_selects_owner_properties() {
    let a = app(generate(250, 3));
    let expand = enc("registeredOwners($select=id,onPremisesSecurityIdentifier)");
    let uri = format!("/v1.0/devices?$select=id,deviceId&$top=999&$expand={expand}");
    let (st, page) = a.call("GET", &uri, None).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let items = page["value"].as_array().unwrap();
    assert_eq!(items.len(), 100, "$top=999 with $expand gives pages of 100");
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert!(next.contains("%24expand=registeredOwners") && next.contains("%24top=100"), "{next}");
    let mut with_owner = 0;
    for d in items {
        let owners = d["registeredOwners"].as_array().unwrap();
        for o in owners {
            with_owner += 1;
            let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["@odata.type", "id", "onPremisesSecurityIdentifier"], "{o}");
        }
    }
    assert!(with_owner > 0, "the generated tenant has owners");
    // The nextLink is followed verbatim and keeps the expansion.
    let path = next.trim_start_matches("http://127.0.0.1:9");
    let (st, page2) = a.call("GET", path, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page2["value"][0]["registeredOwners"].is_array());

    // Only one level, one relationship, nested $select only; never on delta.
    for bad in ["registeredOwners,memberOf", "registeredOwners($filter=id eq 'x')", "owners"] {
        let (st, _) = a.call("GET", &format!("/v1.0/devices?$expand={}", enc(bad)), None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (st, e) = a.call("GET", &format!("/v1.0/devices/delta?$expand={expand}"), None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], "Request_UnsupportedQuery");
}

#[tokio::test]
async fn expanded_relationship_holds_at_most_20_items() {
    let mut s = generate(1, 1);
    let id = s.devices.keys().next().cloned().unwrap();
    let users: Vec<String> = s.users.keys().take(8).cloned().collect();
    for i in 0..25 {
        s.add_user(json!({"id": format!("u-{i:02}"), "onPremisesSecurityIdentifier": null}))
            .unwrap();
    }
    let mut owners: Vec<String> = (0..25).map(|i| format!("u-{i:02}")).collect();
    owners.extend(users);
    s.devices.get_mut(&id).unwrap().owners = owners;
    let a = app(s);
    let (st, d) =
        a.call("GET", &format!("/v1.0/devices/{id}?$expand=registeredOwners"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["registeredOwners"].as_array().unwrap().len(), 20);
    assert!(d.get("registeredOwners@odata.nextLink").is_none());
    // The relationship itself is not capped.
    let (_, all) = a.call("GET", &format!("/v1.0/devices/{id}/registeredOwners"), None).await;
    assert_eq!(all["value"].as_array().unwrap().len(), 33);
}

#[tokio::test]
async fn registered_users_are_their_own_relationship() {
    let mut s = EmulatorState::empty("t");
    for (id, sid) in [("u-1", json!("S-1-5-21-1-2-3-1101")), ("u-2", Value::Null)] {
        s.add_user(json!({"id": id, "onPremisesSecurityIdentifier": sid})).unwrap();
    }
    let d =
        json!({"deviceId": "d", "registeredOwners": ["u-1"], "registeredUsers": ["u-2", "u-1"]});
    let dev = s.add_device(d).unwrap();
    let a = app(s);
    let cast = format!(
        "/v1.0/devices/{dev}/registeredUsers/microsoft.graph.user\
         ?$select=id,onPremisesSecurityIdentifier"
    );
    let (st, users) = a.call("GET", &cast, None).await;
    assert_eq!(st, StatusCode::OK, "{users}");
    let ids: Vec<&str> =
        users["value"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["u-2", "u-1"]);
    assert_eq!(users["value"][1]["onPremisesSecurityIdentifier"], "S-1-5-21-1-2-3-1101");
    let (_, owners) = a.call("GET", &format!("/v1.0/devices/{dev}/registeredOwners"), None).await;
    assert_eq!(owners["value"].as_array().unwrap().len(), 1);
    let expand = enc("registeredUsers($select=id,onPremisesSecurityIdentifier)");
    let (st, page) =
        a.call("GET", &format!("/v1.0/devices?$select=id&$expand={expand}"), None).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let d = &page["value"][0];
    assert_eq!(d["registeredUsers"].as_array().unwrap().len(), 2);
    assert!(d.get("registeredOwners").is_none(), "only the asked relationship is expanded");
    let both = enc("registeredOwners,registeredUsers");
    let (st, _) = a.call("GET", &format!("/v1.0/devices?$expand={both}"), None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "one relationship per request");
    // The state round-trips both relationships.
    let json = a.shared.lock().state.to_json();
    let back = EmulatorState::from_json(&json.to_string()).unwrap();
    assert_eq!(back.devices[&dev].users, ["u-2", "u-1"]);
    assert_eq!(back.devices[&dev].owners, ["u-1"]);
}

fn get(id: &str, url: &str) -> Value {
    json!({"id": id, "method": "GET", "url": url})
}

#[tokio::test]
async fn batch_answers_each_member_by_id() {
    let a = app(generate(30, 4));
    let ids = a.device_ids();
    let missing = "00000000-0000-0000-0000-000000000001";
    let body = json!({"requests": [
        get("1", &format!("/devices/{}?$select=id,displayName", ids[0])),
        get("2", &format!("/devices/{missing}")),
        get("3", &format!("devices/{}/registeredOwners/microsoft.graph.user", ids[1])),
        get("4", "https://graph.microsoft.com/v1.0/devices"),
    ]});
    let (st, v) = a.call("POST", "/v1.0/$batch", Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r = v["responses"].as_array().unwrap();
    let order: Vec<&str> = r.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(order, ["4", "3", "2", "1"], "answered in another order than asked");
    let by = |id: &str| r.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(by("1")["status"], 200);
    assert_eq!(by("1")["body"]["id"], ids[0].as_str());
    assert!(by("1")["headers"]["Content-Type"].as_str().unwrap().starts_with("application/json"));
    assert_eq!(by("2")["status"], 404);
    assert_eq!(by("2")["body"]["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(by("3")["status"], 200);
    assert!(by("3")["body"]["value"].is_array());
    assert_eq!(by("4")["status"], 400);
    let log = a.shared.lock().rt.log.clone();
    assert_eq!(log.iter().filter(|r| r.in_batch).count(), 3, "served members are logged");
    assert_eq!(a.shared.lock().rt.graph_requests, 1, "the batch is one HTTP request");
}

#[tokio::test]
async fn malformed_batches_are_400() {
    let a = app(generate(2, 4));
    let many: Vec<Value> = (0..21).map(|i| get(&i.to_string(), "/organization")).collect();
    let twenty: Vec<Value> = (0..20).map(|i| get(&i.to_string(), "/organization")).collect();
    for (what, body) in [
        ("21 requests", json!({ "requests": many })),
        ("no requests", json!({"requests": []})),
        ("not an array", json!({"requests": {}})),
        ("duplicate ids", json!({"requests": [get("a", "/domains"), get("A", "/domains")]})),
        ("no url", json!({"requests": [{"id": "1", "method": "GET"}]})),
        (
            "body without Content-Type",
            json!({"requests": [{"id": "1", "method": "PATCH", "url": "/x", "body": {}}]}),
        ),
    ] {
        let (st, e) = a.call("POST", "/v1.0/$batch", Some(body)).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{what}: {e}");
        assert_eq!(e["error"]["code"], "BadRequest", "{what}");
    }
    let (st, v) = a.call("POST", "/v1.0/$batch", Some(json!({ "requests": twenty }))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["responses"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn batch_member_faults_throttle_and_fail_single_members() {
    let a = app(generate(10, 4));
    let ids = a.device_ids();
    a.shared.lock().state.faults =
        "batch_throttle_next=2,retry_after=7,batch_error_next=1,batch_error_status=503"
            .parse::<Faults>()
            .unwrap();
    let reqs: Vec<Value> = ids
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, d)| get(&i.to_string(), &format!("/devices/{d}")))
        .collect();
    let (st, v) = a.call("POST", "/v1.0/$batch", Some(json!({ "requests": reqs }))).await;
    assert_eq!(st, StatusCode::OK, "members fail, the batch does not");
    let r = v["responses"].as_array().unwrap();
    let count = |s: u64| r.iter().filter(|m| m["status"] == s).count();
    assert_eq!((count(429), count(503), count(200)), (2, 1, 2), "{v}");
    for m in r.iter().filter(|m| m["status"] == 429) {
        assert_eq!(m["headers"]["Retry-After"], "7", "{m}");
        assert_eq!(m["body"]["error"]["code"], "TooManyRequests");
    }
    assert_eq!(a.shared.lock().rt.batch_members, 5);
    // Consumed: the next batch is clean.
    let (_, v) =
        a.call("POST", "/v1.0/$batch", Some(json!({"requests": [get("x", "/domains")]}))).await;
    assert_eq!(v["responses"][0]["status"], 200);
}

#[tokio::test]
async fn a_retry_before_retry_after_has_passed_is_counted() {
    let a = app(generate(3, 5));
    a.shared.lock().state.faults = "throttle_next=1,retry_after=1".parse::<Faults>().unwrap();
    let early = || a.shared.lock().rt.early_retries;
    let (st, _) = a.call("GET", "/v1.0/devices", None).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    // Another request is not a retry; the same one at once is an early one.
    assert_eq!(a.call("GET", "/v1.0/domains", None).await.0, StatusCode::OK);
    assert_eq!(early(), 0);
    assert_eq!(a.call("GET", "/v1.0/devices", None).await.0, StatusCode::OK);
    assert_eq!(early(), 1);

    // Waiting as asked is not counted.
    a.shared.lock().state.faults = "throttle_next=1,retry_after=1".parse::<Faults>().unwrap();
    let page = "/v1.0/devices?$top=2";
    assert_eq!(a.call("GET", page, None).await.0, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(a.call("GET", page, None).await.0, StatusCode::OK);
    assert_eq!(early(), 1);
}

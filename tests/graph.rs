//! Graph client against the in-process Graph emulator (real reqwest, real HTTP on
//! 127.0.0.1). No test asserts a wall-clock budget: waits are checked through the
//! client's observer against the Retry-After the emulator sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dwb::graph::*;
use dwb_graph_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Emulator, EmulatorHandle, EmulatorState, Faults,
    HOSTILE_DISPLAY_NAMES, RetryAfter, ServeOptions, generate,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// Owners with the listing ($expand) and batched lookups ($batch).
mod reads;

// ---- helpers ---------------------------------------------------------------------

fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

async fn emulator(n: usize) -> EmulatorHandle {
    init();
    Emulator::start(generate(n, 42)).await.unwrap()
}

fn secret() -> Credential {
    Credential::ClientSecret {
        client_id: DEFAULT_CLIENT_ID.into(),
        secret: SecretString::from(DEFAULT_CLIENT_SECRET),
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_retry_after: Duration::from_secs(5),
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

/// Login authority and Graph root both at the emulator.
fn cloud(emu: &EmulatorHandle) -> Cloud {
    Cloud::Custom { login: emu.base_url().clone(), graph: emu.base_url().clone() }
}

fn config(emu: &EmulatorHandle, cred: Credential) -> (GraphConfig, Arc<RecordingObserver>) {
    let obs = Arc::new(RecordingObserver::new());
    let cfg = GraphConfig::new(cloud(emu), emu.tenant_id(), cred)
        .with_retry(fast_retry())
        .with_observer(obs.clone());
    (cfg, obs)
}

fn client(emu: &EmulatorHandle) -> (GraphClient, Arc<RecordingObserver>) {
    let (cfg, obs) = config(emu, secret());
    (GraphClient::new(cfg).unwrap(), obs)
}

async fn all_devices(c: &GraphClient, opts: &ListOptions) -> (Vec<Device>, ListSummary) {
    let mut v = Vec::new();
    let sum = c
        .list_devices(opts, |d| {
            v.push(d);
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    (v, sum)
}

fn graph_requests(emu: &EmulatorHandle) -> Vec<String> {
    emu.request_log()
        .into_iter()
        .filter(|r| r.uri.starts_with("/v1.0"))
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect()
}

/// A tiny HTTP/1.1 server that records each request's path and whether it had an
/// Authorization header. Token requests get a token; other requests get `reply`.
#[derive(Clone)]
enum Reply {
    NotFound,
    Redirect(String),
    /// 200 with no Content-Length, streaming this many bytes until EOF.
    Endless(usize),
}

struct RawServer {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<(String, bool)>>>,
}

impl RawServer {
    async fn start(reply: Reply) -> RawServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let h = h.clone();
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = sock.read(&mut tmp).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&tmp[..n]);
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let auth =
                        head.lines().any(|l| l.to_ascii_lowercase().starts_with("authorization:"));
                    h.lock().unwrap().push((path.clone(), auth));
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let Ok(n) = sock.read(&mut tmp).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&tmp[..n]);
                    }
                    if path.contains("/oauth2/v2.0/token") {
                        let body = r#"{"token_type":"Bearer","expires_in":3600,"access_token":"raw-token"}"#;
                        let r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(r.as_bytes()).await;
                        return;
                    }
                    match reply {
                        Reply::NotFound => {
                            let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                        }
                        Reply::Redirect(to) => {
                            let r = format!(
                                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            );
                            let _ = sock.write_all(r.as_bytes()).await;
                        }
                        Reply::Endless(total) => {
                            let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"value\":[").await;
                            let block = vec![b' '; 1 << 20];
                            let mut sent = 0;
                            while sent < total {
                                if sock.write_all(&block).await.is_err() {
                                    return;
                                }
                                sent += block.len();
                            }
                            let _ = sock.write_all(b"]}").await;
                        }
                    }
                });
            }
        });
        RawServer { addr, hits }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn hits(&self) -> Vec<(String, bool)> {
        self.hits.lock().unwrap().clone()
    }
}

/// Self-signed RSA certificate + PKCS#8 key made with the openssl CLI.
fn make_cert(dir: &Path, name: &str) -> (String, SecretString, String) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.crt"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-sha256",
            "-days",
            "2",
            "-subj",
            "/CN=dwb-graph-test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl must be installed");
    assert!(out.status.success(), "openssl req failed: {}", String::from_utf8_lossy(&out.stderr));
    // x5t computed independently: openssl's SHA-1 fingerprint → base64url.
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let fp = String::from_utf8(fp.stdout).unwrap();
    let hex: String = fp.trim().rsplit('=').next().unwrap().replace(':', "");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    (
        std::fs::read_to_string(cert).unwrap(),
        SecretString::from(std::fs::read_to_string(key).unwrap()),
        URL_SAFE_NO_PAD.encode(bytes),
    )
}

// ---- clouds ------------------------------------------------------------------------

#[test]
fn clouds_hosts_scope_and_http_rules() {
    let g = Cloud::Global;
    assert_eq!(g.login_base().unwrap().as_str(), "https://login.microsoftonline.com/");
    assert_eq!(g.scope().unwrap(), "https://graph.microsoft.com/.default");
    assert_eq!(Cloud::UsGov.scope().unwrap(), "https://graph.microsoft.us/.default");
    assert_eq!(Cloud::UsGovDod.scope().unwrap(), "https://dod-graph.microsoft.us/.default");
    assert_eq!(Cloud::UsGovDod.login_base().unwrap().host_str(), Some("login.microsoftonline.us"));
    assert_eq!(Cloud::China.scope().unwrap(), "https://microsoftgraph.chinacloudapi.cn/.default");
    assert_eq!(Cloud::China.login_base().unwrap().host_str(), Some("login.chinacloudapi.cn"));
    assert_eq!(Cloud::from_name("GCC-High").unwrap(), Cloud::UsGov);
    assert_eq!(Cloud::from_name("bogus").unwrap_err().kind().as_str(), "config");

    let e = Endpoints::new(&g, "contoso.onmicrosoft.com").unwrap();
    assert_eq!(
        e.token_url(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(
        e.graph_url("devices").unwrap().as_str(),
        "https://graph.microsoft.com/v1.0/devices"
    );
    assert_eq!(Endpoints::new(&g, "../evil").unwrap_err().kind().as_str(), "config");

    for ok in [
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "http://localhost:1",
        "http://[::1]:5",
        "https://graph.example.org",
    ] {
        Cloud::custom(ok, ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in ["http://10.0.0.1", "http://graph.example.org", "http://192.168.1.5:80"] {
        let e = Cloud::custom(bad, "https://graph.example.org").unwrap_err();
        assert_eq!((e.kind().as_str(), e.code()), ("config", "DWB-GRAPH-0002"), "{bad}");
        assert!(e.to_string().contains("loopback"), "{e}");
    }
    assert!(Cloud::custom("https://u:p@login.example.org", "https://g.example.org").is_err());
    // A custom Graph root may be given with /v1.0; the scope is the root.
    let c = Cloud::custom("http://127.0.0.1:1", "http://127.0.0.1:1/v1.0/").unwrap();
    assert_eq!(c.scope().unwrap(), "http://127.0.0.1:1/.default");
}

#[test]
fn error_code_table_is_stable_and_documented() {
    // Documented = a row of the error registry that `dwb docs` prints.
    let documented =
        |code: &str, kind: &str| dwb::error::registry::lookup(code).is_some_and(|c| c.kind == kind);
    let kinds = [
        "auth",
        "throttled",
        "not_found",
        "forbidden",
        "delegated_only",
        "bad_response",
        "network",
        "cancelled",
        "config",
        "too_large",
    ];
    let mut codes = HashSet::new();
    for r in error::ALL_REASONS {
        assert!(codes.insert(r.code()), "duplicate code {}", r.code());
        assert!(kinds.contains(&r.kind().as_str()), "{:?}", r);
        assert!(documented(r.code(), r.kind().as_str()), "{} not documented", r.code());
    }
}

// ---- tokens --------------------------------------------------------------------

#[tokio::test]
async fn client_secret_token_is_cached_and_wrong_secret_is_auth_error() {
    let emu = emulator(5).await;
    let (c, _) = client(&emu);
    assert_eq!(c.token_kind(), TokenKind::AppOnly);
    let org = c.organization().await.unwrap();
    assert_eq!(org[0].id, emu.tenant_id());
    c.domains().await.unwrap();
    assert_eq!(c.stats().token_requests, 1, "the token is cached");

    let bad = Credential::ClientSecret {
        client_id: DEFAULT_CLIENT_ID.into(),
        secret: SecretString::from("hunter2-wrong"),
    };
    let (cfg, _) = config(&emu, bad);
    assert!(!format!("{cfg:?}").contains("hunter2"), "secrets never in Debug");
    let e = GraphClient::new(cfg).unwrap().organization().await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("auth", "DWB-GRAPH-0010"));
    assert_eq!(e.graph_code(), Some("invalid_client"));
    assert!(e.graph_message().unwrap().contains("AADSTS7000215"));
    assert_eq!(e.status(), Some(401));
    assert!(!e.to_string().contains("hunter2") && !format!("{e:?}").contains("hunter2"));
    // No Graph request was made without a token.
    assert!(
        emu.request_log()
            .iter()
            .filter(|r| r.uri.starts_with("/v1.0"))
            .all(|r| r.auth == "app_only")
    );
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let emu = emulator(1).await;
    emu.with_state(|s| s.token_lifetime_secs = 6);
    let (c, _) = client(&emu);
    c.organization().await.unwrap();
    c.organization().await.unwrap();
    assert_eq!(c.stats().token_requests, 1);
    // Margin = min(5 min, lifetime / 2) = 3 s: after 3.1 s the client refreshes on its own.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    c.organization().await.unwrap();
    let s = c.stats();
    assert_eq!(
        (s.token_requests, s.unauthorized_refreshes),
        (2, 0),
        "refreshed before Graph said 401"
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<GraphClient>();
    send_sync::<GraphError>();
    send_sync::<Device>();
    send_sync::<EmulatorHandle>();
    let c = GraphClient::new(GraphConfig::new(Cloud::Global, "contoso.com", secret())).unwrap();
    send(&c.organization());
    send(&c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())));
    send(&c.delta_devices(Path::new("x"), &DeltaOptions::default(), |_| ControlFlow::Continue(())));
    send(&c.sync_features());
}

#[tokio::test]
async fn certificate_client_assertion_is_verified_by_the_emulator() {
    let emu = emulator(3).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, expected_x5t) = make_cert(dir.path(), "app");
    emu.with_state(|s| s.register_certificate("11111111-2222-3333-4444-555555555555", &cert));
    let cc =
        ClientCertificate::from_files(&dir.path().join("app.crt"), &dir.path().join("app.key"))
            .unwrap();
    assert_eq!(cc.x5t(), expected_x5t);
    assert!(!format!("{cc:?}").contains("PRIVATE"));
    let cred = Credential::Certificate {
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        certificate: cc,
    };
    let (cfg, _) = config(&emu, cred);
    let c = GraphClient::new(cfg).unwrap();
    c.organization().await.unwrap();

    let rec = emu.last_client_assertion().unwrap();
    assert_eq!(rec.error, None);
    assert_eq!(rec.header["alg"], "RS256");
    assert_eq!(rec.header["x5t"], expected_x5t);
    let claims = &rec.claims;
    assert_eq!(claims["aud"], c.endpoints().token_url());
    assert_eq!(claims["iss"], "11111111-2222-3333-4444-555555555555");
    assert_eq!(claims["sub"], claims["iss"]);
    assert_eq!(
        uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap().get_version_num(),
        4
    );
    let (nbf, iat, exp) = (
        claims["nbf"].as_u64().unwrap(),
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(nbf <= iat && exp > iat && exp - nbf <= 600);

    // Another key pair than the registered certificate: the emulator rejects it.
    let (cert2, key2, _) = make_cert(dir.path(), "other");
    let cred2 = Credential::Certificate {
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        certificate: ClientCertificate::from_pem(&cert2, &key2).unwrap(),
    };
    let (cfg2, _) = config(&emu, cred2);
    let e = GraphClient::new(cfg2).unwrap().organization().await.unwrap_err();
    assert_eq!(e.kind().as_str(), "auth");
    assert!(e.graph_message().unwrap().contains("AADSTS700027"), "{e}");
    // A key that does not belong to the certificate is refused locally.
    let e = ClientCertificate::from_pem(&cert, &key2).unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("config", "DWB-GRAPH-0003"));
    assert!(ClientCertificate::from_pem("no pem here", &key).is_err());
}

fn device_code_client(
    emu: &EmulatorHandle,
    messages: Arc<Mutex<Vec<String>>>,
) -> (GraphClient, Arc<RecordingObserver>) {
    let prompt: PromptFn =
        Arc::new(move |p: &DeviceCodePrompt| messages.lock().unwrap().push(p.message.clone()));
    let cred =
        Credential::DeviceCode { client_id: DEFAULT_CLIENT_ID.into(), prompt, scopes: vec![] };
    let (mut cfg, obs) = config(emu, cred);
    cfg.slow_down_step = Duration::from_millis(50);
    (GraphClient::new(cfg).unwrap(), obs)
}

#[tokio::test]
async fn device_code_pending_slow_down_approved_then_delegated_calls() {
    let emu = emulator(3).await;
    emu.with_state(|s| {
        s.device_code.pending_polls = 2;
        s.device_code.slow_down_once = true;
        s.device_code.interval_secs = 0;
    });
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let (c, obs) = device_code_client(&emu, msgs.clone());
    assert_eq!(c.token_kind(), TokenKind::Delegated);
    assert_eq!(c.sign_in().await.unwrap(), TokenKind::Delegated);
    let m = msgs.lock().unwrap().clone();
    assert_eq!(m.len(), 1);
    assert!(m[0].contains("/devicelogin") && m[0].contains("enter the code"), "{m:?}");
    // interval 0, then slow_down adds the step (50 ms) for every later poll.
    let waits = obs.device_code_waits();
    assert_eq!(
        waits,
        vec![
            Duration::ZERO,
            Duration::from_millis(50),
            Duration::from_millis(50),
            Duration::from_millis(50)
        ]
    );

    let sync = c.sync_features().await.unwrap();
    assert_eq!(sync.device_writeback_enabled(), Some(false));
    c.set_device_writeback(true).await.unwrap();
    assert_eq!(
        emu.with_state(|s| s.sync["features"]["deviceWritebackEnabled"].clone()),
        json!(true)
    );
    assert_eq!(c.sync_features().await.unwrap().device_writeback_enabled(), Some(true));
    let patch = emu.request_log().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.auth, "delegated");
    assert_eq!(patch.status, 204);

    // A 401 on a delegated session is healed with the refresh token, not a new sign-in.
    emu.expire_all_tokens();
    c.sync_features().await.unwrap();
    assert_eq!(msgs.lock().unwrap().len(), 1, "no second device-code prompt");
}

#[tokio::test]
async fn device_code_honours_interval_and_reports_declined_and_expired() {
    let emu = emulator(1).await;
    emu.with_state(|s| {
        s.device_code.pending_polls = 0;
        s.device_code.interval_secs = 1;
    });
    let (c, obs) = device_code_client(&emu, Arc::new(Mutex::new(Vec::new())));
    c.sign_in().await.unwrap();
    assert_eq!(obs.device_code_waits(), vec![Duration::from_secs(1)]);

    emu.with_state(|s| {
        s.device_code.interval_secs = 0;
        s.device_code.outcome = "decline".into();
    });
    let (c, _) = device_code_client(&emu, Arc::new(Mutex::new(Vec::new())));
    let e = c.sign_in().await.unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.code(), e.graph_code()),
        ("auth", "DWB-GRAPH-0012", Some("authorization_declined"))
    );

    emu.with_state(|s| s.device_code.outcome = "expire".into());
    let (c, _) = device_code_client(&emu, Arc::new(Mutex::new(Vec::new())));
    let e = c.sign_in().await.unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.code(), e.graph_code()),
        ("auth", "DWB-GRAPH-0013", Some("expired_token"))
    );
}

#[tokio::test]
async fn delegated_only_api_with_app_token_fails_without_calling_graph() {
    let emu = emulator(1).await;
    let (c, _) = client(&emu);
    for e in [c.sync_features().await.unwrap_err(), c.set_device_writeback(true).await.unwrap_err()]
    {
        assert_eq!((e.kind().as_str(), e.code()), ("delegated_only", "DWB-GRAPH-0021"));
        assert!(
            e.message().contains("application permissions")
                && e.message().contains("Global Administrator"),
            "{e}"
        );
    }
    assert!(emu.request_log().is_empty(), "nothing was sent: {:?}", emu.request_log());
    // The emulator itself refuses an app-only token like Graph does.
    let e = c.get_json("directory/onPremisesSynchronization").await.unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.status(), e.graph_code()),
        ("forbidden", Some(403), Some("Authorization_RequestDenied"))
    );
    assert!(e.request_id().is_some() && e.client_request_id().is_some());
}

// ---- paging, select, lookups --------------------------------------------------------------

#[tokio::test]
async fn paging_2500_devices_in_pages_of_999() {
    let emu = emulator(2500).await;
    let (c, obs) = client(&emu);
    let (devs, sum) = all_devices(&c, &ListOptions::default()).await;
    assert_eq!((sum.pages, sum.devices, sum.stopped), (3, 2500, false));
    let ids: BTreeSet<String> = devs.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 2500, "every id once");
    let expected: BTreeSet<String> = emu.with_state(|s| s.devices.keys().cloned().collect());
    assert_eq!(ids, expected);
    let pages = obs.pages();
    assert_eq!(pages.len(), 3);
    assert!(pages[1].0.contains("skiptoken") && pages[2].0.contains("skiptoken"));
    let reqs = graph_requests(&emu);
    assert!(reqs[0].contains("%24top=999") && reqs[0].contains("%24select="), "{}", reqs[0]);

    // Stopping early.
    let mut n = 0;
    let sum = c
        .list_devices(&ListOptions::default(), |_| {
            n += 1;
            if n == 10 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
        .await
        .unwrap();
    assert!(sum.stopped && sum.devices == 10 && sum.pages == 1);
}

#[tokio::test]
async fn pager_streams_page_by_page_with_bounded_pages() {
    let emu = emulator(5000).await;
    let (c, _) = client(&emu);
    let mut pager = c.devices(&ListOptions::default()).unwrap();
    let (mut total, mut largest) = (0, 0);
    while let Some(page) = pager.next_page().await.unwrap() {
        largest = largest.max(page.len());
        total += page.len();
    }
    assert_eq!((total, largest, pager.pages()), (5000, 999, 6));
}

#[tokio::test]
async fn select_top_and_filter_follow_graph_rules() {
    let emu = emulator(30).await;
    let (c, _) = client(&emu);
    let opts = ListOptions {
        select: vec!["id".into(), "deviceId".into(), "displayName".into()],
        filter: None,
        top: Some(7),
        expand_owners: false,
        expand_users: false,
    };
    let (devs, sum) = all_devices(&c, &opts).await;
    assert_eq!((devs.len(), sum.pages), (30, 5));
    assert!(devs.iter().all(|d| d.device_id.is_some()
        && d.operating_system.is_none()
        && d.alternative_security_ids.is_empty()));
    assert!(devs.iter().all(|d| d.extra.is_empty()), "only selected properties come back");

    let target = devs[3].clone();
    let opts = ListOptions {
        filter: Some(format!("deviceId eq '{}'", target.device_id.clone().unwrap())),
        ..Default::default()
    };
    let (found, _) = all_devices(&c, &opts).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, target.id);

    let unsupported =
        ListOptions { filter: Some("startswith(displayName,'A')".into()), ..Default::default() };
    let e = c.list_devices(&unsupported, |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.status(), e.graph_code()),
        ("config", Some(400), Some("Request_UnsupportedQuery"))
    );
    let bad_select = ListOptions { select: vec!["id".into(), "nope".into()], ..Default::default() };
    let e = c.list_devices(&bad_select, |_| ControlFlow::Continue(())).await.unwrap_err();
    assert!(e.graph_message().unwrap().contains("'nope'"), "{e}");
    let e = c.get_json("devices?$top=1000").await.unwrap_err();
    assert_eq!((e.status(), e.graph_code()), (Some(400), Some("Request_BadRequest")));
    assert!(e.graph_message().unwrap().contains("between 1 and 999"));
    let e = c.devices(&ListOptions { top: Some(0), ..Default::default() }).err().unwrap();
    assert_eq!(e.kind().as_str(), "config");
}

#[tokio::test]
async fn get_device_by_object_id_or_device_id() {
    let emu = emulator(20).await;
    let (c, _) = client(&emu);
    let (id, device_id) = emu.with_state(|s| {
        let d = s.devices.values().next().unwrap();
        (
            d.props["id"].as_str().unwrap().to_string(),
            d.props["deviceId"].as_str().unwrap().to_string(),
        )
    });
    assert_eq!(c.get_device(&id).await.unwrap().device_id.as_deref(), Some(device_id.as_str()));
    emu.clear_request_log();
    assert_eq!(c.get_device(&device_id.to_uppercase()).await.unwrap().id, id);
    let reqs = graph_requests(&emu);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs[1].contains("%24filter=deviceId+eq+"), "{reqs:?}");
    let e = c.get_device(&uuid::Uuid::new_v4().to_string()).await.unwrap_err();
    assert_eq!(e.kind().as_str(), "not_found");
    let e = c.get_device("x' or 1 eq 1").await.unwrap_err();
    assert_eq!(e.kind().as_str(), "config");
}

#[tokio::test]
async fn owners_with_and_without_user_read_all() {
    let emu = emulator(200).await;
    let (c, _) = client(&emu);
    let (dev, uid, sid) = emu.with_state(|s| {
        s.devices
            .values()
            .find_map(|d| {
                let u = s.users.get(d.owners.first()?)?;
                let sid = u["onPremisesSecurityIdentifier"].as_str()?;
                Some((
                    d.props["id"].as_str()?.to_string(),
                    u["id"].as_str()?.to_string(),
                    sid.to_string(),
                ))
            })
            .unwrap()
    });
    let owners = c.device_owners(&dev).await.unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].id, uid);
    assert_eq!(owners[0].on_premises_security_identifier.as_deref(), Some(sid.as_str()));
    assert!(sid.starts_with("S-1-5-21-"));
    assert!(owners[0].user_principal_name.is_some());
    assert!(graph_requests(&emu).last().unwrap().contains("/registeredOwners/microsoft.graph.user?%24select=id%2ConPremisesSecurityIdentifier%2CuserPrincipalName"));

    emu.with_state(|s| s.user_read_all = false);
    let owners = c.device_owners(&dev).await.unwrap();
    assert_eq!(owners[0].id, uid);
    assert_eq!(owners[0].odata_type.as_deref(), Some("#microsoft.graph.user"));
    assert!(
        owners[0].on_premises_security_identifier.is_none()
            && owners[0].user_principal_name.is_none()
    );
    // Hybrid devices usually have no owner and cloud-only owners have no SID.
    let (hybrid_without, cloud_only) = emu.with_state(|s| {
        let h = s
            .devices
            .values()
            .filter(|d| d.props["trustType"] == "ServerAd" && d.owners.is_empty())
            .count();
        let c = s.users.values().filter(|u| u["onPremisesSecurityIdentifier"].is_null()).count();
        (h, c)
    });
    assert!(hybrid_without > 50 && cloud_only > 0);
}

// ---- delta ---------------------------------------------------------------------------

#[tokio::test]
async fn delta_rounds_with_adds_changes_and_removals() {
    let emu = emulator(300).await;
    emu.with_state(|s| s.delta_page_size = 100);
    let (c, _) = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("delta.json");
    let opts = DeltaOptions::default();

    let mut changed = Vec::new();
    let sum = c
        .delta_devices(&state, &opts, |p| {
            assert!(p.removed.is_empty());
            changed.extend(p.changed);
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!((sum.pages, sum.changed, sum.removed, sum.resumed), (3, 300, 0, false));
    assert!(changed.iter().all(|d| d.device_id.is_some() && d.trust_type.is_some()));
    let link1 = GraphClient::stored_delta_link(&state).unwrap().unwrap();
    assert_eq!(sum.delta_link.as_deref(), Some(link1.as_str()));
    assert!(link1.starts_with(emu.base_url().as_str()) && link1.contains("deltatoken"));
    assert!(graph_requests(&emu)[0].contains("/v1.0/devices/delta?%24select="));

    let ids: Vec<String> = emu.with_state(|s| s.devices.keys().take(3).cloned().collect());
    let new_id = emu.with_state(|s| {
        s.rename_device(&ids[0], "renamed *)(cn=*").unwrap();
        s.set_account_enabled(&ids[1], false).unwrap();
        s.delete_device(&ids[2]).unwrap();
        s.add_device(json!({"deviceId": uuid::Uuid::new_v4().to_string(), "displayName": "NEW-PC", "accountEnabled": true,
            "trustType": "AzureAd", "operatingSystem": "Windows"}))
            .unwrap()
    });
    let mut page = DeltaPage::default();
    let sum = c
        .delta_devices(&state, &opts, |p| {
            page.changed.extend(p.changed);
            page.removed.extend(p.removed);
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert!(sum.resumed);
    assert_eq!((sum.changed, sum.removed), (3, 1));
    assert_eq!(page.removed, vec![Removed { id: ids[2].clone(), reason: "deleted".into() }]);
    let by_id = |id: &str| page.changed.iter().find(|d| d.id == id).unwrap().clone();
    let renamed = by_id(&ids[0]);
    assert_eq!(renamed.display_name.as_deref(), Some("renamed *)(cn=*"));
    assert!(
        renamed.device_id.is_none() && renamed.account_enabled.is_none(),
        "only changed properties + id"
    );
    let disabled = by_id(&ids[1]);
    assert_eq!((disabled.account_enabled, disabled.display_name.clone()), (Some(false), None));
    let added = by_id(&new_id);
    assert_eq!(added.display_name.as_deref(), Some("NEW-PC"));
    assert!(added.device_id.is_some());
    let link2 = GraphClient::stored_delta_link(&state).unwrap().unwrap();
    assert_ne!(link1, link2);

    // Nothing changed: an empty round. No temp files are left behind.
    let sum = c.delta_devices(&state, &opts, |_| ControlFlow::Continue(())).await.unwrap();
    assert_eq!((sum.changed, sum.removed, sum.pages), (0, 0, 1));
    let files: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // A stopped round does not move the stored link.
    emu.with_state(|s| s.rename_device(&ids[0], "again").unwrap());
    let before = GraphClient::stored_delta_link(&state).unwrap();
    let sum = c.delta_devices(&state, &opts, |_| ControlFlow::Break(())).await.unwrap();
    assert!(sum.stopped);
    assert_eq!(GraphClient::stored_delta_link(&state).unwrap(), before);

    // Another $select with the same state file is refused.
    let other = DeltaOptions { select: vec!["id".into()] };
    assert_eq!(
        c.delta_devices(&state, &other, |_| ControlFlow::Continue(()))
            .await
            .unwrap_err()
            .kind()
            .as_str(),
        "config"
    );
}

#[tokio::test]
async fn delta_from_now_returns_only_later_changes() {
    let emu = emulator(50).await;
    let (c, _) = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("d.json");
    let link = c.delta_from_now(&state, &DeltaOptions::default()).await.unwrap();
    assert!(link.contains("deltatoken"));
    let id = emu.with_state(|s| s.devices.keys().next().cloned().unwrap());
    emu.with_state(|s| s.rename_device(&id, "later").unwrap());
    let mut seen = Vec::new();
    c.delta_devices(&state, &DeltaOptions::default(), |p| {
        seen.extend(p.changed);
        ControlFlow::Continue(())
    })
    .await
    .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].display_name.as_deref(), Some("later"));
}

// ---- throttling, 401, cancellation -------------------------------------------------------

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let emu = emulator(1).await;
    let (c, obs) = client(&emu);
    c.sign_in().await.unwrap();
    emu.set_faults(Faults {
        throttle_next: 1,
        retry_after: RetryAfter::Seconds(1),
        ..Default::default()
    });
    c.organization().await.unwrap();
    let r = obs.retries();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].status, r[0].cause, r[0].retry_after_header.as_deref()),
        (Some(429), "throttled", Some("1"))
    );
    assert_eq!(r[0].retry_after, Some(Duration::from_secs(1)));
    assert_eq!(r[0].wait, Duration::from_secs(1), "waited exactly what Retry-After said");
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured_and_capped() {
    let emu = emulator(1).await;
    let (c, obs) = client(&emu);
    c.sign_in().await.unwrap();
    emu.set_faults(Faults {
        throttle_next: 1,
        throttle_status: 503,
        retry_after: RetryAfter::HttpDate(2),
        ..Default::default()
    });
    c.organization().await.unwrap();
    let r = obs.retries();
    let ev = &r[0];
    assert_eq!(ev.status, Some(503));
    assert!(httpdate::parse_http_date(ev.retry_after_header.as_deref().unwrap()).is_ok());
    let ra = ev.retry_after.unwrap();
    assert!(ra > Duration::from_millis(100) && ra <= Duration::from_secs(2), "{ra:?}");
    assert_eq!(ev.wait, ra);

    // A Retry-After above the cap waits the cap.
    let (mut cfg, obs) = config(&emu, secret());
    cfg.retry.max_retry_after = Duration::from_millis(300);
    let c = GraphClient::new(cfg).unwrap();
    c.sign_in().await.unwrap();
    emu.set_faults(Faults {
        throttle_next: 1,
        retry_after: RetryAfter::Seconds(3600),
        ..Default::default()
    });
    c.organization().await.unwrap();
    let ev = &obs.retries()[0];
    assert_eq!(
        (ev.retry_after, ev.wait),
        (Some(Duration::from_secs(3600)), Duration::from_millis(300))
    );
}

#[tokio::test]
async fn backoff_without_retry_after_then_bounded_attempts() {
    let emu = emulator(1).await;
    let (c, obs) = client(&emu);
    c.sign_in().await.unwrap();
    emu.set_faults(Faults { throttle_next: 2, throttle_status: 503, ..Default::default() });
    c.organization().await.unwrap();
    let r = obs.retries();
    assert_eq!(r.len(), 2);
    assert!(
        r.iter()
            .all(|e| e.retry_after.is_none() && e.status == Some(503) && e.cause == "unavailable")
    );
    // Equal jitter around base 10 ms, doubling: [5,10] then [10,20].
    assert!(
        r[0].wait >= Duration::from_millis(5) && r[0].wait <= Duration::from_millis(10),
        "{:?}",
        r[0].wait
    );
    assert!(
        r[1].wait >= Duration::from_millis(10) && r[1].wait <= Duration::from_millis(20),
        "{:?}",
        r[1].wait
    );

    emu.set_faults(Faults {
        throttle_every: 1,
        retry_after: RetryAfter::Seconds(0),
        ..Default::default()
    });
    let before = emu.graph_request_count();
    let e = c.organization().await.unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.code(), e.status(), e.attempts()),
        ("throttled", "DWB-GRAPH-0040", Some(429), Some(4))
    );
    assert_eq!(e.graph_code(), Some("TooManyRequests"));
    assert!(e.request_id().is_some() && e.url().unwrap().ends_with("/v1.0/organization"));
    assert_eq!(emu.graph_request_count() - before, 4, "bounded attempts");
    emu.set_faults(Faults::default());
    // 504 is retried too.
    emu.set_faults(Faults { throttle_next: 1, throttle_status: 504, ..Default::default() });
    c.organization().await.unwrap();
}

#[tokio::test]
async fn unauthorized_triggers_exactly_one_refresh() {
    let emu = emulator(1).await;
    let (c, obs) = client(&emu);
    c.sign_in().await.unwrap();
    emu.set_faults(Faults { unauthorized_next: 1, ..Default::default() });
    c.organization().await.unwrap();
    let s = c.stats();
    assert_eq!((s.token_requests, s.unauthorized_refreshes), (2, 1));
    assert_eq!(obs.retries().last().unwrap().cause, "unauthorized");

    emu.set_faults(Faults { unauthorized_next: 2, ..Default::default() });
    let e = c.organization().await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code(), e.status()), ("auth", "DWB-GRAPH-0011", Some(401)));
    assert_eq!(e.graph_code(), Some("InvalidAuthenticationToken"));
    assert_eq!(c.stats().token_requests, 3);
}

#[tokio::test]
async fn cancellation_interrupts_a_retry_wait() {
    let emu = emulator(1).await;
    let (c, _) = client(&emu);
    c.sign_in().await.unwrap();
    emu.set_faults(Faults {
        throttle_next: 1,
        retry_after: RetryAfter::Seconds(4),
        ..Default::default()
    });
    let cancel = c.cancel_token().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let e = c.organization().await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("cancelled", "DWB-GRAPH-0070"));
}

#[tokio::test]
async fn slow_responses_succeed_or_time_out_as_network_errors() {
    let emu = emulator(3).await;
    let (c, _) = client(&emu);
    emu.set_faults(Faults { delay_ms: 50, ..Default::default() });
    assert_eq!(c.organization().await.unwrap().len(), 1);

    let (mut cfg, _) = config(&emu, secret());
    cfg.timeout = Duration::from_millis(100);
    cfg.retry.max_attempts = 2;
    let c = GraphClient::new(cfg).unwrap();
    c.sign_in().await.unwrap();
    emu.set_faults(Faults { delay_ms: 400, ..Default::default() });
    let e = c.organization().await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.attempts()), ("network", Some(2)));
    assert!(e.to_string().contains("timed out"), "{e}");
}

// ---- hostile and malformed payloads ----------------------------------------------------------

#[tokio::test]
async fn malformed_json_page_is_bad_response() {
    let emu = emulator(20).await;
    let (c, _) = client(&emu);
    emu.set_faults(Faults { malformed_next: 1, ..Default::default() });
    let e =
        c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("bad_response", "DWB-GRAPH-0051"));
    assert!(e.url().unwrap().contains("/v1.0/devices") && e.request_id().is_some(), "{e}");
}

#[tokio::test]
async fn wrongly_typed_or_missing_properties_name_the_device() {
    let emu = emulator(20).await;
    let (c, _) = client(&emu);
    let id = emu.with_state(|s| s.devices.keys().nth(5).cloned().unwrap());
    emu.with_state(|s| s.update_device(&id, json!({"accountEnabled": "yes"})).unwrap());
    let e =
        c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("bad_response", "DWB-GRAPH-0052"));
    assert_eq!((e.device(), e.field()), (Some(id.as_str()), Some("accountEnabled")));
    assert!(e.to_string().contains(&id) && e.to_string().contains("boolean"), "{e}");

    emu.with_state(|s| {
        s.update_device(
            &id,
            json!({"accountEnabled": true, "alternativeSecurityIds": [{"type": "2", "key": "x"}]}),
        )
        .unwrap()
    });
    let e =
        c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!(e.field(), Some("alternativeSecurityIds[0].type"));

    // Without $select dwb still requires deviceId.
    let no_dev_id =
        emu.with_state(|s| s.add_device(json!({"displayName": "no device id"})).unwrap());
    emu.with_state(|s| s.update_device(&id, json!({"alternativeSecurityIds": []})).unwrap());
    let opts = ListOptions { select: vec![], ..Default::default() };
    let e = c.list_devices(&opts, |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!((e.device(), e.field()), (Some(no_dev_id.as_str()), Some("deviceId")));
    assert!(e.to_string().contains("missing"));
}

#[tokio::test]
async fn oversized_page_is_too_large_with_or_without_content_length() {
    let emu = emulator(5).await;
    let (c, _) = client(&emu);
    emu.set_faults(Faults {
        oversize_next: 1,
        oversize_bytes: 50 * 1024 * 1024,
        ..Default::default()
    });
    let e =
        c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("too_large", "DWB-GRAPH-0080"));
    assert!(
        e.message().contains("/v1.0/devices")
            && e.message().contains(&DEFAULT_MAX_PAGE_BYTES.to_string()),
        "{e}"
    );

    // No Content-Length: the body is read incrementally and abandoned at the limit.
    let raw = RawServer::start(Reply::Endless(50 * 1024 * 1024)).await;
    let cloud = Cloud::custom(&raw.url(), &raw.url()).unwrap();
    let obs = Arc::new(RecordingObserver::new());
    let cfg = GraphConfig::new(cloud, "contoso.com", secret())
        .with_max_page_bytes(4 * 1024 * 1024)
        .with_observer(obs);
    let c = GraphClient::new(cfg).unwrap();
    let e =
        c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_eq!(e.kind().as_str(), "too_large");
    assert!(e.message().contains("more than"), "{e}");
}

#[tokio::test]
async fn next_link_to_another_host_is_refused_and_gets_no_token() {
    let other = RawServer::start(Reply::NotFound).await;
    let emu = emulator(30).await;
    emu.set_faults(Faults { foreign_next_link: Some(other.url()), ..Default::default() });
    let (c, _) = client(&emu);
    let opts = ListOptions { top: Some(10), ..Default::default() };
    let mut seen = 0;
    let e = c
        .list_devices(&opts, |_| {
            seen += 1;
            ControlFlow::Continue(())
        })
        .await
        .unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("bad_response", "DWB-GRAPH-0054"));
    assert!(e.message().contains(&other.url()), "{e}");
    assert_eq!(seen, 0, "the page with the bad link is refused as a whole");
    // Also for a URL handed in directly.
    let e = c.get_json(&format!("{}/v1.0/devices", other.url())).await.unwrap_err();
    assert_eq!(e.code(), "DWB-GRAPH-0054");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(other.hits().is_empty(), "the other host received nothing: {:?}", other.hits());

    // A deltaLink to another host is refused too, and nothing is persisted.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("d.json");
    let e = c
        .delta_devices(&state, &DeltaOptions::default(), |_| ControlFlow::Continue(()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "DWB-GRAPH-0054");
    assert!(!state.exists());
    assert!(other.hits().iter().all(|(_, auth)| !auth));
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let target = RawServer::start(Reply::NotFound).await;
    let graph =
        RawServer::start(Reply::Redirect(format!("{}/v1.0/organization", target.url()))).await;
    let cloud = Cloud::custom(&graph.url(), &graph.url()).unwrap();
    init();
    let c =
        GraphClient::new(GraphConfig::new(cloud, "contoso.com", secret()).with_retry(fast_retry()))
            .unwrap();
    let e = c.organization().await.unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.code(), e.status()),
        ("bad_response", "DWB-GRAPH-0055", Some(302))
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(target.hits().is_empty());
    assert!(graph.hits().iter().any(|(p, auth)| p == "/v1.0/organization" && *auth));
}

#[tokio::test]
async fn emulator_speaks_graph_error_shape_without_a_token() {
    let emu = emulator(1).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .get(format!("{}/devices", emu.graph_url()))
        .header("client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["client-request-id"], "abc-123");
    assert!(r.headers().contains_key("request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(v["error"]["innerError"]["client-request-id"], "abc-123");
    assert!(v["error"]["innerError"]["date"].as_str().unwrap().ends_with('Z'));
    let r = http
        .get(format!("{}/devices", emu.graph_url()))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.base_url().as_str().trim_end_matches('/'),
            "wrong-tenant.example"
        ))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert!(v["error_description"].as_str().unwrap().starts_with("AADSTS90002"));
}

// ---- devices, alternative security ids, hostile names -------------------------------------------

#[test]
fn alternative_security_id_decoding() {
    let good = AlternativeSecurityId::x509_key(
        "1BBF43F156D6544D87BD98580273C75F0344DA56",
        "zw4/fMMN7MbkH3DB7XrbDgnGchQ/wkRHkkb32d2M5Nk=",
    );
    let a = AlternativeSecurityId { kind: Some(2), identity_provider: None, key: Some(good) };
    assert_eq!(
        a.x509_value().unwrap(),
        "X509:<SHA1-TP-PUBKEY>1BBF43F156D6544D87BD98580273C75F0344DA56zw4/fMMN7MbkH3DB7XrbDgnGchQ/wkRHkkb32d2M5Nk="
    );
    assert_eq!(a.thumbprint().as_deref(), Some("1BBF43F156D6544D87BD98580273C75F0344DA56"));

    let with = |k: &str| {
        AlternativeSecurityId { kind: Some(2), identity_provider: None, key: Some(k.into()) }
            .x509_value()
    };
    assert!(matches!(with("not base64 !!"), Err(AltSecIdError::NotBase64(_))));
    assert!(matches!(with(&STANDARD.encode([b'X', 0, b'5'])), Err(AltSecIdError::OddLength(3))));
    assert!(matches!(
        with(&STANDARD.encode([0x00, 0xD8, b'A', 0])),
        Err(AltSecIdError::NotUtf16(_))
    ));
    // UTF-8 instead of UTF-16LE decodes to garbage and fails the prefix check.
    assert!(matches!(
        with(&STANDARD.encode("X509:<SHA1-TP-PUBKEY>ABC")),
        Err(AltSecIdError::WrongPrefix(_))
    ));
    assert!(matches!(
        with(&STANDARD.encode("X5".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>())),
        Err(AltSecIdError::WrongPrefix(_))
    ));

    let d = Device::from_json(json!({"id": "dev-1", "alternativeSecurityIds": [{"type": 1, "key": "zz"}, {"type": 2, "key": "%%%"}]})).unwrap();
    let e = d.x509_alt_security_ids().unwrap_err();
    assert_eq!(
        (e.kind().as_str(), e.code(), e.device(), e.field()),
        ("bad_response", "DWB-GRAPH-0053", Some("dev-1"), Some("alternativeSecurityIds[1].key"))
    );
}

#[tokio::test]
async fn generated_devices_have_valid_keys_and_hostile_names_survive() {
    let emu = emulator(200).await;
    let (c, _) = client(&emu);
    let (devs, _) = all_devices(&c, &ListOptions::default()).await;
    let names: HashSet<String> = devs.iter().filter_map(|d| d.display_name.clone()).collect();
    for h in HOSTILE_DISPLAY_NAMES {
        assert!(names.contains(*h), "missing hostile name {h:?}");
    }
    let mut without = 0;
    for d in &devs {
        if d.has_x509_key() {
            for v in d.x509_alt_security_ids().unwrap() {
                assert!(v.starts_with("X509:<SHA1-TP-PUBKEY>"));
                let tp = &v[21..61];
                assert!(tp.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
                assert_eq!(STANDARD.decode(&v[61..]).unwrap().len(), 32, "base64 SHA-256");
            }
        } else {
            without += 1;
        }
        d.device_uuid().unwrap();
    }
    assert!(without > 0 && without < 20, "a few devices without a type-2 key: {without}");
    let trust: HashSet<_> = devs.iter().filter_map(|d| d.trust_type.clone()).collect();
    assert_eq!(trust.len(), 3);
    assert!(devs.iter().any(|d| d.account_enabled == Some(false)));
}

// ---- offline ------------------------------------------------------------------------------

#[test]
fn offline_formats() {
    let d1 = json!({"id": "a1", "deviceId": "4c299165-6e8f-4b45-a5ba-c5d250a707ff", "displayName": "One"});
    let d2 = json!({"id": "a2", "deviceId": "5c299165-6e8f-4b45-a5ba-c5d250a707ff", "displayName": "Two"});
    let page = json!({"@odata.context": "x", "value": [d1.clone()], "@odata.nextLink": "https://graph.microsoft.com/v1.0/devices?$skiptoken=1"});
    let page2 = json!({"value": [d2.clone()]});
    let ids = |v: Vec<Device>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(ids(devices_from_json(&page.to_string()).unwrap()), ["a1"]);
    assert_eq!(ids(devices_from_json(&json!([page, page2]).to_string()).unwrap()), ["a1", "a2"]);
    assert_eq!(
        ids(devices_from_json(&format!("{page}\n{page2}\n")).unwrap()),
        ["a1", "a2"],
        "NDJSON pages"
    );
    assert_eq!(
        ids(devices_from_json(&format!("{page}{page2}")).unwrap()),
        ["a1", "a2"],
        "concatenated pages"
    );
    assert_eq!(ids(devices_from_json(&json!([d1, d2]).to_string()).unwrap()), ["a1", "a2"]);
    assert_eq!(
        ids(devices_from_json(&d2.to_string()).unwrap()),
        ["a2"],
        "single ConvertTo-Json object"
    );
    assert!(devices_from_json("[]").unwrap().is_empty());

    // Get-MgDevice | ConvertTo-Json -Depth 5 (PowerShell casing, Key as byte[]).
    let key = AlternativeSecurityId::x509_key(
        "1BBF43F156D6544D87BD98580273C75F0344DA56",
        "zw4/fMMN7MbkH3DB7XrbDgnGchQ/wkRHkkb32d2M5Nk=",
    );
    let key_bytes: Vec<u8> = STANDARD.decode(&key).unwrap();
    let ps = json!([{
        "Id": "p1", "DeviceId": "6c299165-6e8f-4b45-a5ba-c5d250a707ff", "DisplayName": "PS-PC", "AccountEnabled": true,
        "OperatingSystem": "Windows", "TrustType": "ServerAd", "PhysicalIds": ["[GID]:g:1"], "DeviceVersion": 2,
        "ApproximateLastSignInDateTime": {"value": "/Date(1700000000000)/", "DateTime": "Tuesday, November 14, 2023 10:13:20 PM"},
        "AlternativeSecurityIds": [{"Type": 2, "IdentityProvider": null, "Key": key_bytes}],
        "AdditionalProperties": {"@odata.type": "#microsoft.graph.device", "extensionAttributes": {}}
    }, {
        "Id": "p2", "DeviceId": "7c299165-6e8f-4b45-a5ba-c5d250a707ff", "AlternativeSecurityIds": [{"Type": 2, "Key": key}]
    }]);
    let devs = devices_from_json(&ps.to_string()).unwrap();
    assert_eq!(devs[0].display_name.as_deref(), Some("PS-PC"));
    assert_eq!((devs[0].account_enabled, devs[0].device_version), (Some(true), Some(2)));
    assert_eq!(
        devs[0].approximate_last_sign_in_date_time.as_deref(),
        Some("Tuesday, November 14, 2023 10:13:20 PM")
    );
    assert_eq!(devs[0].extra["@odata.type"], "#microsoft.graph.device");
    for d in &devs {
        assert_eq!(
            d.x509_alt_security_ids().unwrap()[0],
            format!(
                "X509:<SHA1-TP-PUBKEY>1BBF43F156D6544D87BD98580273C75F0344DA56zw4/fMMN7MbkH3DB7XrbDgnGchQ/wkRHkkb32d2M5Nk="
            )
        );
    }

    // Files: Windows PowerShell 5.1 writes UTF-16LE with BOM; emulator export round trip.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ps51.json");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(ps.to_string().encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&p, bytes).unwrap();
    assert_eq!(devices_from_file(&p).unwrap().len(), 2);
    let state = generate(40, 9);
    let export = dir.path().join("devices.json");
    state.write_graph_export(&export).unwrap();
    let devs = devices_from_file(&export).unwrap();
    assert_eq!(devs.len(), 40);
    assert!(devs.iter().any(|d| d.display_name.as_deref() == Some(HOSTILE_DISPLAY_NAMES[0])));
    for d in &devs {
        assert_eq!(&Device::from_json(d.to_json()).unwrap(), d, "Device JSON round trip");
        let via_serde: Device = serde_json::from_value(d.to_json()).unwrap();
        assert_eq!(&via_serde, d);
    }
}

#[test]
fn offline_errors_name_the_file_and_device() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.json");
    std::fs::write(&p, "{\"value\": [ {\"id\": \"a\"}, ").unwrap();
    let e = devices_from_file(&p).unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("bad_response", "DWB-GRAPH-0051"));
    assert!(e.to_string().contains("broken.json") && e.to_string().contains("line 1"), "{e}");

    let e = devices_from_json(
        &json!({"value": [{"id": "ok", "deviceId": "x"}, {"deviceId": "d-2"}]}).to_string(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("page 1, device 1") && e.to_string().contains("d-2"), "{e}");
    assert_eq!(e.field(), Some("id"));

    let e =
        devices_from_json(&json!([{"id": "dev-9", "isManaged": "true"}]).to_string()).unwrap_err();
    assert_eq!(
        (e.device(), e.field(), e.code()),
        (Some("dev-9"), Some("isManaged"), "DWB-GRAPH-0052")
    );

    let truncated = json!([{"Id": "t1", "AlternativeSecurityIds": ["Microsoft.Graph.PowerShell.Models.MicrosoftGraphAlternativeSecurityId"]}]);
    let e = devices_from_json(&truncated.to_string()).unwrap_err();
    assert!(e.to_string().contains("-Depth"), "{e}");
    assert!(devices_from_json("").is_err());
    assert!(devices_from_json("42").is_err());
    let e = devices_from_file(dir.path().join("missing.json")).unwrap_err();
    assert_eq!((e.kind().as_str(), e.code()), ("config", "DWB-GRAPH-0004"));
}

// ---- emulator state and CLI entry ----------------------------------------------------------

#[tokio::test]
async fn emulator_state_round_trip_faults_parsing_and_serve() {
    let s = generate(25, 3);
    let text = s.to_json().to_string();
    let back = EmulatorState::from_json(&text).unwrap();
    assert_eq!(back.devices.len(), 25);
    assert_eq!(back.to_json(), s.to_json());

    let f: Faults =
        "throttle_next=3,retry_after=date:5,delay_ms=10,foreign_next_link=http://127.0.0.1:9"
            .parse()
            .unwrap();
    assert_eq!((f.throttle_next, f.retry_after, f.delay_ms), (3, RetryAfter::HttpDate(5), 10));
    assert!("bogus=1".parse::<Faults>().is_err());

    init();
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    std::fs::write(&state_file, text).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let opts =
        ServeOptions { state_file: Some(state_file), print_urls: false, ..Default::default() };
    let task = tokio::spawn(dwb_graph_emulator::serve(opts, stop.clone()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.cancel();
    task.await.unwrap().unwrap();
}

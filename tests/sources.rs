//! Sources that settle (issue #20): a Graph listing whose `@odata.nextLink`
//! points back at a page already fetched ends with an error after that page,
//! for a full listing, the page-by-page pager and a delta round, instead of
//! being followed for ever.

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use dwb::graph::*;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A Graph stand-in whose every collection page is empty and links to itself.
struct LoopServer {
    url: String,
    hits: Arc<Mutex<Vec<String>>>,
}

impl LoopServer {
    async fn start() -> LoopServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let (h, base) = (hits.clone(), url.clone());
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (h, base) = (h.clone(), base.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let body = if path.contains("/oauth2/v2.0/token") {
                        r#"{"token_type":"Bearer","expires_in":3600,"access_token":"t"}"#.into()
                    } else {
                        h.lock().unwrap().push(path.clone());
                        let own = format!("{base}{}", path.split('?').next().unwrap_or(""));
                        let own = format!("{own}?$skiptoken=again");
                        serde_json::json!({ "value": [], "@odata.nextLink": own }).to_string()
                    };
                    let r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(r.as_bytes()).await;
                });
            }
        });
        LoopServer { url, hits }
    }

    fn client(&self) -> GraphClient {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let cloud = Cloud::custom(&self.url, &self.url).unwrap();
        let cred = Credential::ClientSecret {
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            secret: SecretString::from("s"),
        };
        GraphClient::new(GraphConfig::new(cloud, "contoso.com", cred)).unwrap()
    }

    fn hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

fn assert_loops(e: &GraphError) {
    assert_eq!(e.kind().as_str(), "bad_response", "{e}");
    assert!(e.message().contains("already followed"), "{e}");
}

#[tokio::test]
async fn a_self_looping_next_link_ends_the_listing_with_an_error() {
    let server = LoopServer::start().await;
    let c = server.client();
    let e =
        c.list_devices(&ListOptions::default(), |_| ControlFlow::Continue(())).await.unwrap_err();
    assert_loops(&e);
    // The first page, then its link once: never a third request.
    assert_eq!(server.hits(), 2);

    let mut pager = c.devices(&ListOptions::default()).unwrap();
    assert!(pager.next_page().await.unwrap().is_some());
    let e = pager.next_page().await.unwrap_err();
    assert_loops(&e);
    assert_eq!(server.hits(), 4);

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let e = c.delta_devices(&state, &DeltaOptions::default(), |_| ControlFlow::Continue(())).await;
    assert_loops(&e.unwrap_err());
    assert_eq!(server.hits(), 6);
    assert!(!state.exists(), "no deltaLink was kept from a listing that did not end");
}

/// A device whose deviceId is 10 MB of junk is skipped, and named, not echoed
/// whole: stderr and the JSON report stay small and note the value's size.
#[test]
fn a_ten_megabyte_device_id_is_clipped_in_messages_and_reports() {
    let d = crate::support::Dir::prepared();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/contoso/devices.json");
    let mut devices: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo).unwrap()).unwrap();
    let list = match devices.get_mut("value") {
        Some(v) => v.as_array_mut().unwrap(),
        None => devices.as_array_mut().unwrap(),
    };
    let huge = "x".repeat(10 * 1024 * 1024);
    list[0]["deviceId"] = huge.clone().into();
    let victim = list[0]["id"].as_str().unwrap().to_string();
    d.write("big.json", &devices.to_string());
    let o = d.run(&[
        "run",
        "sync",
        "--snapshot",
        "prepared.ldif",
        "--devices",
        "big.json",
        "--dry-run",
        "--format",
        "json",
    ]);
    o.code(0);
    assert!(o.stdout.len() < 1024 * 1024, "the report echoes the value: {} bytes", o.stdout.len());
    assert!(o.stderr.len() < 64 * 1024, "stderr echoes the value: {} bytes", o.stderr.len());
    let report = o.json();
    let warnings: Vec<&str> =
        report["warnings"].as_array().unwrap().iter().filter_map(|w| w.as_str()).collect();
    let reason = warnings
        .iter()
        .find(|w| w.contains(&victim))
        .unwrap_or_else(|| panic!("no warning names {victim}: {warnings:?}"));
    assert!(reason.contains(&format!("({} bytes in all)", huge.len())), "{reason}");
}

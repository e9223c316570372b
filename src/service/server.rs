//! `--metrics-listen ADDR:PORT`: `GET /metrics` (Prometheus) and `GET /healthz`
//! (200 healthy, 503 otherwise: the rule of `dwb health`, read from the same
//! status file), for as long as the run lasts. Loopback unless a remote address
//! is explicitly allowed: the metrics name the tenant's device counts and the
//! errors the service meets.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::status;
use crate::error::{Error, Result};

/// Parses `ADDR:PORT` (a bare `PORT`, `:PORT` or `localhost:PORT` means 127.0.0.1).
pub fn parse_addr(s: &str, allow_remote: bool) -> Result<SocketAddr> {
    let t = s.trim();
    // `localhost:9464` is what an administrator writes for loopback; it is
    // taken as 127.0.0.1, not looked up (no resolver decides where metrics go).
    let port_only = match t.get(..10) {
        Some(host) if host.eq_ignore_ascii_case("localhost:") => &t[10..],
        _ => t.strip_prefix(':').unwrap_or(t),
    };
    let addr = match port_only.parse::<u16>() {
        Ok(port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        Err(_) => t.parse::<SocketAddr>().map_err(|_| {
            Error::config(format!(
                "metrics listen address `{s}` (--metrics-listen, or metrics_listen under \
                 [profiles.<name>.service] in dwb.toml) is not ADDR:PORT"
            ))
            .with_hint("e.g. 127.0.0.1:9464, [::1]:9464 or a bare port (9464: on 127.0.0.1)")
        })?,
    };
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(Error::config(format!(
            "metrics listen address {addr} is not a loopback address"
        ))
        .with_hint(
            "serve metrics on 127.0.0.1 (a local Prometheus agent or reverse proxy), or allow \
             other addresses explicitly with --metrics-allow-remote",
        ));
    }
    Ok(addr)
}

/// Binds the listener now, so a taken port is an error before the run starts.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)
        .map_err(|e| Error::config(format!("cannot listen on {addr} for metrics: {e}")))?;
    l.set_nonblocking(true)
        .map_err(|e| Error::config(format!("cannot listen on {addr} for metrics: {e}")))?;
    Ok(l)
}

/// Serves on `listener` until the runtime shuts down.
pub fn spawn(
    rt: &tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    profile: Option<String>,
) {
    rt.spawn(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let profile = profile.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let reply = respond(&req, profile.as_deref());
                    async move { Ok::<_, Infallible>(reply) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn respond(req: &Request<Incoming>, profile: Option<&str>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            crate::metrics::encode(),
        ),
        (&Method::GET, "/healthz") => {
            let health = match status::path_for(profile).and_then(|p| status::load(&p)) {
                Ok(s) => status::assess(s.as_ref(), None, super::round::now_unix()),
                Err(e) => status::Health::Unknown(e.to_string()),
            };
            let code = if health == status::Health::Healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let mut body = format!("{}\n", health.as_str());
            for r in health.reasons() {
                body.push_str(&format!("{r}\n"));
            }
            reply(code, "text/plain; charset=utf-8", body)
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_loopback_unless_allowed() {
        assert_eq!(parse_addr("9464", false).unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(parse_addr(":9464", false).unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(parse_addr("[::1]:9464", false).unwrap().to_string(), "[::1]:9464");
        let e = parse_addr("0.0.0.0:9464", false).unwrap_err();
        assert!(e.to_string().contains("not a loopback address"), "{e}");
        assert!(parse_addr("0.0.0.0:9464", true).is_ok());
        let e = parse_addr("nonsense", false).unwrap_err();
        assert!(e.to_string().contains("metrics_listen under [profiles.<name>.service]"), "{e}");
        // Loopback by name, as administrators write it; never resolved.
        assert_eq!(parse_addr("localhost:9464", false).unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(parse_addr("LocalHost:9464", false).unwrap().to_string(), "127.0.0.1:9464");
        assert!(parse_addr("localhost:", false).is_err());
        assert!(parse_addr("localhost.evil:9464", false).is_err());
    }
}

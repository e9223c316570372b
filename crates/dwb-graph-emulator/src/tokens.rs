//! The identity platform side of the emulator: `/{tenant}/oauth2/v2.0/token`
//! (client credentials with a secret or a verified client assertion, device
//! code, refresh token) and `/{tenant}/oauth2/v2.0/devicecode`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Value, json};

use super::routes::now_iso;
use super::{AssertionRecord, CodeSession, Issued, RequestRecord, Shared, World};
use crate::cert::{
    ASSERTION_LIFETIME_SECS, ASSERTION_TYPE, certificate_public_key, first_certificate, unix_now,
    x5t,
};

type S = Arc<Shared>;

/// The identity platform's error shape.
fn aad_error(status: StatusCode, error: &str, aadsts: u32, text: &str) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = uuid::Uuid::new_v4().to_string();
    let ts = now_iso();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{aadsts}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"),
        "error_codes": [aadsts],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
    });
    (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
        .into_response()
}

fn bad(error: &str, aadsts: u32, text: &str) -> Response {
    aad_error(StatusCode::BAD_REQUEST, error, aadsts, text)
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}.{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// An app-only access token shaped as the identity platform's: a JWT whose
/// payload carries `roles`, the application permissions granted (Microsoft
/// identity platform, "Access token claims reference"). Unsigned: the
/// emulator accepts it by lookup, and clients only read the claims.
fn app_token(w: &World) -> String {
    use base64::Engine as _;
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let header = enc(json!({"typ": "JWT", "alg": "none"}));
    let claims = enc(json!({
        "aud": "https://graph.microsoft.com",
        "tid": w.state.tenant_id,
        "roles": w.state.app_roles,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    }));
    format!("{header}.{claims}.{}", uuid::Uuid::new_v4().simple())
}

fn issue(w: &mut World, delegated: bool) -> Response {
    let life = w.state.token_lifetime_secs;
    let access = if delegated { random_token("emu.del") } else { app_token(w) };
    w.rt.tokens.insert(
        access.clone(),
        Issued { delegated, expires: Instant::now() + Duration::from_secs(life) },
    );
    let mut body = json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": access});
    if delegated {
        let rt = random_token("emu.rt");
        w.rt.refresh_tokens.insert(rt.clone(), String::new());
        body["refresh_token"] = json!(rt);
        body["scope"] =
            json!("Device.Read.All OnPremDirectorySynchronization.ReadWrite.All User.Read.All");
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
        .into_response()
}

fn log(s: &S, path: String, label: &str, r: &Response) {
    s.lock().rt.record(RequestRecord {
        method: "POST".into(),
        uri: path,
        auth: label.into(),
        status: r.status().as_u16(),
        in_batch: false,
    });
}

pub(crate) async fn token(
    State(s): State<S>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = token_inner(&s, &tenant, &f);
    log(
        &s,
        format!("/{tenant}/oauth2/v2.0/token"),
        f.get("grant_type").map(String::as_str).unwrap_or("none"),
        &r,
    );
    r
}

fn token_inner(s: &S, tenant: &str, f: &HashMap<String, String>) -> Response {
    let mut w = s.lock();
    if !w.state.is_our_tenant(tenant) {
        return bad("invalid_request", 90002, &format!("Tenant '{tenant}' not found."));
    }
    let grant = f.get("grant_type").map(String::as_str).unwrap_or("");
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    match grant {
        "client_credentials" => {
            let Some(app) = w.state.app(&client_id).cloned() else {
                return bad(
                    "unauthorized_client",
                    700016,
                    &format!(
                        "Application with identifier '{client_id}' was not found in the directory."
                    ),
                );
            };
            let want_scope = format!("{}/.default", s.base);
            if f.get("scope").map(String::as_str) != Some(want_scope.as_str()) {
                return bad(
                    "invalid_scope",
                    1002012,
                    &format!(
                        "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier ({want_scope}).",
                        f.get("scope").map(String::as_str).unwrap_or("")
                    ),
                );
            }
            if let Some(secret) = f.get("client_secret") {
                if app.client_secret.as_deref() != Some(secret.as_str()) {
                    return aad_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        7000215,
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                    );
                }
                return issue(&mut w, false);
            }
            if let Some(assertion) = f.get("client_assertion") {
                if f.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
                    return bad(
                        "invalid_request",
                        50027,
                        "Invalid client_assertion_type; expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                    );
                }
                let token_url = format!("{}/{tenant}/oauth2/v2.0/token", s.base);
                let (rec, result) = verify_assertion(
                    assertion,
                    &client_id,
                    &token_url,
                    app.certificate_pem.as_deref(),
                );
                w.rt.last_assertion = Some(rec);
                return match result {
                    Ok(()) => issue(&mut w, false),
                    Err((status, code, n, text)) => aad_error(status, code, n, &text),
                };
            }
            aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            )
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let code = f.get("device_code").cloned().unwrap_or_default();
            let script = w.state.device_code.clone();
            let Some(sess) = w.rt.codes.get_mut(&code) else {
                return bad(
                    "invalid_grant",
                    70000,
                    "The provided value for the input parameter 'device_code' is not valid.",
                );
            };
            if sess.client_id != client_id {
                return bad(
                    "invalid_grant",
                    70000,
                    "The device code was issued to another client.",
                );
            }
            sess.polls += 1;
            let polls = sess.polls;
            let expired = Instant::now() > sess.expires;
            let extra = u32::from(script.slow_down_once);
            if expired {
                w.rt.codes.remove(&code);
                return bad(
                    "expired_token",
                    70020,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                );
            }
            if script.slow_down_once && polls == 1 {
                return bad("slow_down", 70000, "Polling too fast; slow down.");
            }
            if polls <= script.pending_polls + extra {
                return bad(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                );
            }
            w.rt.codes.remove(&code);
            match script.outcome.as_str() {
                "decline" => {
                    bad("authorization_declined", 70000, "The user declined the sign-in request.")
                }
                "expire" => bad(
                    "expired_token",
                    70020,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                ),
                _ => issue(&mut w, true),
            }
        }
        "refresh_token" => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            if w.rt.refresh_tokens.remove(&rt).is_none() {
                return bad(
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid (refresh token unknown).",
                );
            }
            issue(&mut w, true)
        }
        other => bad(
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

type Reject = (StatusCode, &'static str, u32, String);

/// Check a client assertion: RS256, `x5t` of the registered certificate, signature,
/// `aud` = token endpoint, `iss` = `sub` = client_id, `exp`/`nbf`, lifetime ≤ 10 min, `jti`.
fn verify_assertion(
    jwt: &str,
    client_id: &str,
    token_url: &str,
    cert_pem: Option<&str>,
) -> (AssertionRecord, Result<(), Reject>) {
    let (header, claims) = split_jwt(jwt);
    let mut rec = AssertionRecord { header, claims, error: None };
    let result = check_assertion(jwt, &rec, client_id, token_url, cert_pem);
    if let Err((_, _, n, text)) = &result {
        rec.error = Some(format!("AADSTS{n}: {text}"));
    }
    (rec, result)
}

fn split_jwt(jwt: &str) -> (Value, Value) {
    use base64::Engine as _;
    let part = |i: usize| {
        jwt.split('.')
            .nth(i)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null)
    };
    (part(0), part(1))
}

fn check_assertion(
    jwt: &str,
    rec: &AssertionRecord,
    client_id: &str,
    token_url: &str,
    cert_pem: Option<&str>,
) -> Result<(), Reject> {
    let invalid = |n: u32, t: &str| (StatusCode::UNAUTHORIZED, "invalid_client", n, t.to_string());
    let Some(pem) = cert_pem else {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation. No certificate is registered for this application.",
        ));
    };
    let der = first_certificate(pem)
        .ok_or_else(|| invalid(700027, "The registered certificate cannot be read."))?;
    if rec.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(invalid(
            5002738,
            "Invalid JWT token. 'RS256' is the only supported signing algorithm.",
        ));
    }
    if rec.header.get("x5t").and_then(Value::as_str) != Some(x5t(&der).as_str()) {
        return Err(invalid(
            700027,
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: 'x5t']",
        ));
    }
    let key = certificate_public_key(&der)
        .ok_or_else(|| invalid(700027, "The registered certificate has no RSA key."))?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[token_url]);
    v.set_issuer(&[client_id]);
    v.sub = Some(client_id.to_string());
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    v.validate_nbf = true;
    v.leeway = 60;
    if let Err(e) = jsonwebtoken::decode::<Value>(jwt, &key, &v) {
        use jsonwebtoken::errors::ErrorKind as K;
        return Err(match e.kind() {
            K::InvalidSignature => invalid(700027, "Client assertion failed signature validation."),
            K::ExpiredSignature | K::ImmatureSignature => {
                invalid(700024, "Client assertion is not within its valid time range.")
            }
            K::InvalidAudience => invalid(
                700212,
                &format!(
                    "No matching federated identity record found / invalid audience; the audience must be '{token_url}'."
                ),
            ),
            K::InvalidIssuer | K::InvalidSubject => invalid(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            ),
            K::MissingRequiredClaim(c) => {
                invalid(50027, &format!("JWT token is invalid: the '{c}' claim is missing."))
            }
            _ => invalid(50027, &format!("JWT token is invalid or malformed: {e}")),
        });
    }
    let num = |k: &str| rec.claims.get(k).and_then(Value::as_u64).unwrap_or(0);
    let start = num("nbf").min(if num("iat") > 0 { num("iat") } else { u64::MAX });
    if num("exp").saturating_sub(start) > ASSERTION_LIFETIME_SECS + 60
        || num("exp") > unix_now() + ASSERTION_LIFETIME_SECS + 60
    {
        return Err(invalid(700024, "Client assertion lifetime is longer than 10 minutes."));
    }
    if rec.claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(invalid(50027, "JWT token is invalid: the 'jti' claim is missing."));
    }
    Ok(())
}

pub(crate) async fn devicecode(
    State(s): State<S>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let r = devicecode_inner(&s, &tenant, &f);
    log(&s, format!("/{tenant}/oauth2/v2.0/devicecode"), "none", &r);
    r
}

fn devicecode_inner(s: &S, tenant: &str, f: &HashMap<String, String>) -> Response {
    let mut w = s.lock();
    if !w.state.is_our_tenant(tenant) {
        return bad("invalid_request", 90002, &format!("Tenant '{tenant}' not found."));
    }
    let client_id = f.get("client_id").cloned().unwrap_or_default();
    match w.state.app(&client_id) {
        None => {
            return bad(
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            );
        }
        Some(a) if !a.allow_device_code => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        Some(_) => {}
    }
    let scope = f.get("scope").cloned().unwrap_or_default();
    if !scope.split_whitespace().any(|x| x.starts_with(&s.base)) {
        return bad(
            "invalid_scope",
            70011,
            &format!("The provided value for the input parameter 'scope' is not valid: '{scope}'."),
        );
    }
    let script = w.state.device_code.clone();
    let device_code = random_token("emu.dc");
    let user_code: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .take(9)
        .collect::<String>()
        .to_uppercase();
    let user_code = if user_code.len() < 9 { "EMULATOR9".to_string() } else { user_code };
    w.rt.codes.insert(
        device_code.clone(),
        CodeSession {
            client_id,
            polls: 0,
            expires: Instant::now() + Duration::from_secs(script.expires_in_secs),
        },
    );
    let uri = format!("{}/devicelogin", s.base);
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": uri,
        "expires_in": script.expires_in_secs,
        "interval": script.interval_secs,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
        .into_response()
}

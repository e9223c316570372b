//! Certificate credentials: PEM parsing, the `x5t` thumbprint and the RS256
//! client-assertion JWT (RFC 7523) the Microsoft identity platform accepts.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::error::{GraphError, Reason, Result};

/// Lifetime of a client assertion (the identity platform accepts up to 10 min).
pub const ASSERTION_LIFETIME_SECS: u64 = 600;

/// The `client_assertion_type` for JWT bearer client authentication.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// All PEM blocks in `text` as `(label, DER bytes)`.
pub fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut b64 = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            let l = l.trim();
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                continue; // RFC 1421 headers (Proc-Type etc.)
            }
            b64.push_str(l);
        }
        if !closed {
            return Err(GraphError::new(
                Reason::Credential,
                format!("PEM block '{label}' is not terminated"),
            ));
        }
        let der = STANDARD.decode(b64.as_bytes()).map_err(|e| {
            GraphError::new(
                Reason::Credential,
                format!("PEM block '{label}' is not valid base64: {e}"),
            )
        })?;
        out.push((label.to_string(), der));
    }
    Ok(out)
}

/// SHA-1 of the certificate DER, base64url without padding: the JWT `x5t`.
pub fn x5t(cert_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der).as_ref())
}

/// SHA-1 of the certificate DER as uppercase hex (Windows "thumbprint").
pub fn thumbprint_hex(cert_der: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The first `CERTIFICATE` block of a PEM text, as DER.
pub fn first_certificate(pem: &str) -> Result<Vec<u8>> {
    pem_blocks(pem)?.into_iter().find(|(l, _)| l == "CERTIFICATE").map(|(_, d)| d).ok_or_else(
        || GraphError::new(Reason::Credential, "no '-----BEGIN CERTIFICATE-----' block found"),
    )
}

/// A decoding key for the RSA public key inside a PEM certificate.
pub fn certificate_public_key(cert_der: &[u8]) -> Result<DecodingKey> {
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(cert_der)
    );
    DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
        GraphError::new(
            Reason::Credential,
            format!("the certificate does not hold an RSA public key: {e}"),
        )
    })
}

/// The claims of a client assertion.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AssertionClaims {
    pub aud: String,
    pub iss: String,
    pub sub: String,
    pub jti: String,
    pub nbf: u64,
    pub iat: u64,
    pub exp: u64,
}

/// A certificate credential: the RSA private key and its certificate.
#[derive(Clone)]
pub struct ClientCertificate {
    key: EncodingKey,
    cert_der: Vec<u8>,
    x5t: String,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint", &thumbprint_hex(&self.cert_der))
            .field("key", &"[REDACTED]")
            .finish()
    }
}

impl ClientCertificate {
    /// From a PEM certificate and a PEM RSA private key (PKCS#1 or PKCS#8,
    /// unencrypted). Both may come from the same combined PEM file.
    /// Checks that the key belongs to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &SecretString) -> Result<ClientCertificate> {
        let cert_der = first_certificate(cert_pem)?;
        let key_text = key_pem.expose_secret();
        if key_text.contains("ENCRYPTED PRIVATE KEY") {
            return Err(GraphError::new(
                Reason::Credential,
                "the private key is encrypted; convert it with `openssl pkey -in key.pem -out plain.pem`",
            ));
        }
        let key_block = pem_blocks(key_text)?
            .into_iter()
            .find(|(l, _)| l == "PRIVATE KEY" || l == "RSA PRIVATE KEY")
            .ok_or_else(|| {
                GraphError::new(
                    Reason::Credential,
                    "no '-----BEGIN PRIVATE KEY-----' or 'RSA PRIVATE KEY' block found",
                )
            })?;
        let pem = format!(
            "-----BEGIN {l}-----\n{b}\n-----END {l}-----\n",
            l = key_block.0,
            b = STANDARD.encode(&key_block.1)
        );
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
            GraphError::new(
                Reason::Credential,
                format!("the private key is not a usable RSA key: {e}"),
            )
        })?;
        let c = ClientCertificate { x5t: x5t(&cert_der), key, cert_der };
        c.check_pair()?;
        Ok(c)
    }

    /// From two PEM files (they may be the same combined file).
    pub fn from_files(
        cert_path: &std::path::Path,
        key_path: &std::path::Path,
    ) -> Result<ClientCertificate> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| {
                GraphError::new(Reason::Io, format!("cannot read {}: {e}", p.display()))
                    .with_file(p.display().to_string())
            })
        };
        let cert = read(cert_path)?;
        let key = SecretString::from(read(key_path)?);
        Self::from_pem(&cert, &key).map_err(|e| e.with_file(cert_path.display().to_string()))
    }

    /// Sign a probe and verify it with the certificate's public key.
    fn check_pair(&self) -> Result<()> {
        let now = unix_now();
        let claims = AssertionClaims {
            aud: "probe".into(),
            iss: "probe".into(),
            sub: "probe".into(),
            jti: "probe".into(),
            nbf: now,
            iat: now,
            exp: now + 60,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| {
                GraphError::new(
                    Reason::Credential,
                    format!("cannot sign with the private key: {e}"),
                )
            })?;
        let pubkey = certificate_public_key(&self.cert_der)?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_audience(&["probe"]);
        jsonwebtoken::decode::<AssertionClaims>(&token, &pubkey, &v).map_err(|_| {
            GraphError::new(
                Reason::Credential,
                "the private key does not belong to the certificate",
            )
        })?;
        Ok(())
    }

    /// `x5t` header value (base64url SHA-1 of the certificate DER).
    pub fn x5t(&self) -> &str {
        &self.x5t
    }
    /// Uppercase hex SHA-1 thumbprint, as shown in the Entra portal.
    pub fn thumbprint(&self) -> String {
        thumbprint_hex(&self.cert_der)
    }

    /// Build the signed client assertion for `token_url`.
    pub fn assertion(&self, client_id: &str, token_url: &str) -> Result<SecretString> {
        let now = unix_now();
        let claims = AssertionClaims {
            aud: token_url.to_string(),
            iss: client_id.to_string(),
            sub: client_id.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".into());
        header.x5t = Some(self.x5t.clone());
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| {
            GraphError::new(Reason::Credential, format!("cannot sign the client assertion: {e}"))
        })?;
        Ok(SecretString::from(jwt))
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

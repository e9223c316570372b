//! What the token endpoint needs to check a certificate client assertion
//! (RFC 7523, as the Microsoft identity platform documents it): the PEM
//! certificate registered for the app, its `x5t` thumbprint and its RSA key.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;

/// The identity platform accepts client assertions valid for up to 10 minutes.
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 600;

/// The `client_assertion_type` for JWT bearer client authentication.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The DER of the first `CERTIFICATE` block of a PEM text.
pub(crate) fn first_certificate(pem: &str) -> Option<Vec<u8>> {
    let mut lines = pem.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "-----BEGIN CERTIFICATE-----" {
            continue;
        }
        let mut b64 = String::new();
        for l in lines.by_ref() {
            if l == "-----END CERTIFICATE-----" {
                return STANDARD.decode(b64.as_bytes()).ok();
            }
            if !l.contains(':') {
                b64.push_str(l); // RFC 1421 headers (`Proc-Type: …`) are skipped
            }
        }
        return None; // not terminated
    }
    None
}

/// base64url (no padding) of the SHA-1 of the certificate DER: the JWT `x5t`.
pub(crate) fn x5t(cert_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der).as_ref())
}

/// The RSA public key of a certificate, for signature verification.
pub(crate) fn certificate_public_key(cert_der: &[u8]) -> Option<DecodingKey> {
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(cert_der)
    );
    DecodingKey::from_rsa_pem(pem.as_bytes()).ok()
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_parsing_and_thumbprint() {
        let der = b"not really a certificate";
        let pem = format!(
            "junk\n-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n{}\n\
             -----END CERTIFICATE-----\n",
            STANDARD.encode(der)
        );
        assert_eq!(first_certificate(&pem).as_deref(), Some(&der[..]));
        assert_eq!(first_certificate("-----BEGIN CERTIFICATE-----\nAAAA\n"), None);
        assert_eq!(first_certificate("nothing"), None);
        // SHA-1("abc") = a9993e36…, base64url without padding.
        assert_eq!(x5t(b"abc"), "qZk-NkcGgWq6PiVxeFDCbJzQ2J0");
        assert!(certificate_public_key(der).is_none());
    }
}

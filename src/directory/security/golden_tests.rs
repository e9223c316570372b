//! Golden vectors from Samba (`tests/data/sd-vectors.json`, written by
//! `tests/data/gen-sd-vectors.py`, which is run by hand, not by the tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde::Deserialize;

use super::SecurityDescriptor;
use crate::directory::sid::Sid;

#[derive(Debug, Deserialize)]
pub(super) struct Vector {
    pub sddl_in: String,
    pub domain_sid: String,
    pub b64: String,
    pub sddl_samba: String,
    #[serde(default)]
    pub layout: Option<String>,
    #[serde(default)]
    pub sddl_dwb: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

pub(super) fn vectors() -> Vec<Vector> {
    serde_json::from_str(include_str!("../../../tests/data/sd-vectors.json")).unwrap()
}

/// Standard base64 (the generator's `b64encode`), test-only.
pub(super) fn b64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => unreachable!("not base64: {c}"),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

pub(super) fn vector_bytes() -> Vec<Vec<u8>> {
    vectors().iter().map(|v| b64(&v.b64)).collect()
}

fn check(v: &Vector) -> Result<(), String> {
    let dom: Sid = v.domain_sid.parse().map_err(|e| format!("domain: {e}"))?;
    let bytes = b64(&v.b64);

    // (a) Samba's bytes parse and re-encode byte for byte.
    let sd = SecurityDescriptor::from_bytes(&bytes).map_err(|e| format!("from_bytes: {e}"))?;
    let again = sd.to_bytes().map_err(|e| format!("to_bytes: {e}"))?;
    if again != bytes {
        return Err(format!("re-encoding differs:\n  samba {bytes:02x?}\n  dwb   {again:02x?}"));
    }

    // (b) dwb's SDDL of those bytes: Samba's string, and the same model.
    let ours = sd.to_sddl(Some(&dom)).map_err(|e| format!("to_sddl: {e}"))?;
    let expected = v.sddl_dwb.as_deref().unwrap_or(&v.sddl_samba);
    if ours != expected {
        return Err(format!("SDDL differs:\n  expected {expected}\n  dwb      {ours}"));
    }
    let from_ours = SecurityDescriptor::from_sddl(&ours, Some(&dom))
        .map_err(|e| format!("parse own SDDL: {e}"))?;
    let from_expected = SecurityDescriptor::from_sddl(expected, Some(&dom))
        .map_err(|e| format!("parse Samba SDDL: {e}"))?;
    if from_ours != from_expected || from_ours != sd {
        return Err(format!("SDDL models differ:\n  bytes {sd:?}\n  sddl  {from_ours:?}"));
    }

    // (c) dwb's encoding of sddl_in: the same model as Samba's bytes, and (in
    // Samba's layout, which is dwb's default) the same bytes.
    let from_in = SecurityDescriptor::from_sddl(&v.sddl_in, Some(&dom))
        .map_err(|e| format!("parse sddl_in: {e}"))?;
    let encoded = from_in.to_bytes().map_err(|e| format!("to_bytes of sddl_in: {e}"))?;
    let reparsed =
        SecurityDescriptor::from_bytes(&encoded).map_err(|e| format!("from_bytes(own): {e}"))?;
    if reparsed != sd {
        return Err(format!("sddl_in model differs:\n  samba {sd:?}\n  dwb   {reparsed:?}"));
    }
    if v.layout.is_none() && encoded != bytes {
        return Err(format!(
            "sddl_in encoding differs:\n  samba {bytes:02x?}\n  dwb   {encoded:02x?}"
        ));
    }
    let order = sd.part_order();
    let at = |p| order.iter().position(|x| *x == p);
    if v.layout.as_deref() == Some("windows") && at(super::SdPart::Dacl) > at(super::SdPart::Owner)
    {
        return Err("Windows layout not recorded".into());
    }
    Ok(())
}

#[test]
fn samba_golden_vectors() {
    let vectors = vectors();
    assert!(vectors.len() >= 40, "only {} vectors", vectors.len());
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|v| {
            check(v)
                .err()
                .map(|e| format!("{} [{}]: {e}", v.sddl_in, v.note.as_deref().unwrap_or("")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n\n")
    );
}

#[test]
fn vectors_cover_what_they_should() {
    let all: String = vectors().iter().map(|v| format!("{}\n", v.sddl_samba)).collect();
    for needle in [
        "(A;",
        "(D;",
        "(OA;",
        "(OD;",
        "(AU;",
        "(OU;",
        "5df2b673-6d41-4774-b3e8-d52e8ee9ff99",
        "D:P",
        "D:PARAI",
        "S:AI",
        "OICINPIOIDSAFA",
        "0x12345678",
        ";DA)",
        ";EA)",
        ";SA)",
        ";EK)",
        ";BA)",
        "D:(A;;RPLCLORC;;;AU)",
    ] {
        assert!(all.contains(needle), "no vector has {needle}");
    }
    let vs = vectors();
    assert!(vs.iter().any(|v| v.layout.as_deref() == Some("windows")));
    assert!(
        vs.iter().any(|v| v.sddl_dwb.as_deref().is_some_and(|s| s.contains("NO_ACCESS_CONTROL")))
    );
    assert!(vs.iter().any(|v| v.sddl_samba.matches('(').count() >= 40));
}

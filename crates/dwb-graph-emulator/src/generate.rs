//! Deterministic generation of a realistic tenant: trust types, OS mix,
//! disabled devices, owners (synced users with SIDs, cloud-only users), X.509
//! alternative security ids built as docs/device-writeback.md §C.4 says, a few devices without a
//! type-2 key, and hostile display names.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::state::{DEFAULT_TENANT_ID, EmulatorState};

/// Display names that break naive LDAP filters, DNs or terminals. Generated
/// tenants with at least 7 + 11·k devices contain the first k+1 of them.
pub const HOSTILE_DISPLAY_NAMES: &[&str] = &[
    "*)(objectClass=*",
    ",CN=Admins",
    "#leading-hash",
    " leading space",
    "trailing space ",
    "back\\slash",
    "Zoë's Surface — Ünïcødé 📱",
    "ДОМ-ПК-01",
    "\"quoted\"<angle>;semi+plus=eq",
    "CN=Fake,OU=Evil,DC=contoso,DC=com",
    "LONG-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
];

fn uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// `YYYY-MM-DDThh:mm:ssZ` for a Unix time.
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A realistic X.509 alternative security id key: base64(UTF-16LE(
/// `X509:<SHA1-TP-PUBKEY>` + 40 hex SHA-1 thumbprint + base64 SHA-256 of the public key)).
pub(crate) fn x509_key(rng: &mut StdRng) -> String {
    let mut cert = [0u8; 64];
    rng.fill(&mut cert[..]);
    let mut pubkey = [0u8; 270];
    rng.fill(&mut pubkey[..]);
    let tp = hex_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert).as_ref());
    let hash = STANDARD.encode(digest::digest(&digest::SHA256, &pubkey).as_ref());
    alt_sec_id_key(&tp, &hash)
}

/// The `key` of a type-2 (X.509) `alternativeSecurityId` as Entra stores it for a
/// registered device (docs/device-writeback.md §C.4): base64 of the UTF-16LE text
/// `X509:<SHA1-TP-PUBKEY>` + thumbprint (40 hex) + base64 SHA-256 of the public key.
pub fn alt_sec_id_key(thumbprint_hex: &str, public_key_hash_b64: &str) -> String {
    let text = format!("X509:<SHA1-TP-PUBKEY>{thumbprint_hex}{public_key_hash_b64}");
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    STANDARD.encode(bytes)
}

/// Generate a tenant with `n` devices, deterministic for a given `seed`.
pub fn generate(n: usize, seed: u64) -> EmulatorState {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = EmulatorState::empty(DEFAULT_TENANT_ID);
    let (a, b, c) = (
        rng.random_range(1_000_000_000u64..4_000_000_000),
        rng.random_range(1_000_000_000u64..4_000_000_000),
        rng.random_range(1_000_000_000u64..4_000_000_000),
    );
    let n_users = (n / 4).max(8);
    let mut user_ids = Vec::with_capacity(n_users);
    for i in 0..n_users {
        let id = uuid(&mut rng);
        let synced = i % 3 != 2; // two thirds synced from AD
        let sid =
            if synced { json!(format!("S-1-5-21-{a}-{b}-{c}-{}", 1100 + i)) } else { Value::Null };
        let upn = if synced {
            format!("user{i:05}@contoso.com")
        } else {
            format!("cloud{i:05}@contoso.onmicrosoft.com")
        };
        let _ = s.add_user(json!({
            "id": id, "userPrincipalName": upn, "displayName": format!("User {i:05}"),
            "onPremisesSecurityIdentifier": sid, "onPremisesSyncEnabled": if synced { json!(true) } else { Value::Null },
        }));
        user_ids.push(id);
    }
    let now: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z
    for i in 0..n {
        let r: f64 = rng.random();
        let trust = if r < 0.5 {
            "ServerAd"
        } else if r < 0.8 {
            "AzureAd"
        } else {
            "Workplace"
        };
        let (os, ver, name) = match trust {
            "ServerAd" => {
                let vers =
                    ["10.0.19045.5011", "10.0.22631.4317", "10.0.26100.2033", "10.0.17763.6414"];
                let v = vers[rng.random_range(0..vers.len())];
                let prefix = if v.starts_with("10.0.17763") { "SRV" } else { "WS" };
                ("Windows", v.to_string(), format!("{prefix}-{i:06}"))
            }
            "AzureAd" => (
                "Windows",
                format!("10.0.22631.{}", rng.random_range(3000..4500)),
                format!("LT-{i:06}"),
            ),
            _ => match rng.random_range(0..4) {
                0 => (
                    "IPhone",
                    format!("17.{}.{}", rng.random_range(0..7), rng.random_range(0..3)),
                    format!("iPhone-{i:06}"),
                ),
                1 => (
                    "AndroidForWork",
                    format!("{}", rng.random_range(12..15)),
                    format!("Pixel-{i:06}"),
                ),
                2 => ("MacMDM", format!("14.{}.1", rng.random_range(0..7)), format!("MBP-{i:06}")),
                _ => ("Windows", "10.0.19045.4291".to_string(), format!("HOME-PC-{i:06}")),
            },
        };
        let display_name =
            if i >= 7 && (i - 7) % 11 == 0 && (i - 7) / 11 < HOSTILE_DISPLAY_NAMES.len() {
                HOSTILE_DISPLAY_NAMES[(i - 7) / 11].to_string()
            } else {
                name
            };
        let device_id = uuid(&mut rng);
        let alt = if rng.random_bool(0.03) {
            if rng.random_bool(0.5) {
                json!([])
            } else {
                json!([{"type": 1, "identityProvider": "urn:federation:contoso", "key": STANDARD.encode(device_id.as_bytes())}])
            }
        } else {
            json!([{"type": 2, "identityProvider": null, "key": x509_key(&mut rng)}])
        };
        let mut phys = vec![format!(
            "[USER-GID]:{}:{}",
            uuid(&mut rng),
            rng.random_range(1_000_000_000u64..9_999_999_999)
        )];
        phys.push(format!("[GID]:g:{}", rng.random_range(1_000_000_000u64..9_999_999_999)));
        if trust != "Workplace" {
            phys.push(format!("[HWID]:h:{}", rng.random_range(1_000_000_000u64..9_999_999_999)));
        }
        if trust == "ServerAd" {
            phys.push(format!("[ZDID]:{}", uuid(&mut rng)));
        }
        let tri = |rng: &mut StdRng, p: f64| {
            if rng.random_bool(0.1) { Value::Null } else { json!(rng.random_bool(p)) }
        };
        let is_managed = tri(&mut rng, 0.8);
        let is_compliant = tri(&mut rng, 0.7);
        let last = now - rng.random_range(0..120 * 86_400);
        let created = last - rng.random_range(0..900 * 86_400);
        let id = uuid(&mut rng);
        let mut owners = Vec::new();
        let has_owner =
            if trust == "ServerAd" { rng.random_bool(0.05) } else { rng.random_bool(0.95) };
        if has_owner {
            owners.push(user_ids[rng.random_range(0..user_ids.len())].clone());
        }
        let _ = s.add_device(json!({
            "id": id,
            "deviceId": device_id,
            "displayName": display_name,
            "operatingSystem": os,
            "operatingSystemVersion": ver,
            "trustType": trust,
            "accountEnabled": rng.random_bool(0.92),
            "alternativeSecurityIds": alt,
            "physicalIds": phys,
            "isCompliant": is_compliant,
            "isManaged": is_managed,
            "approximateLastSignInDateTime": iso8601(last),
            "createdDateTime": iso8601(created),
            "registrationDateTime": iso8601(created),
            "onPremisesSyncEnabled": if trust == "ServerAd" { json!(true) } else { Value::Null },
            "onPremisesLastSyncDateTime": if trust == "ServerAd" { json!(iso8601(now - 1800)) } else { Value::Null },
            "deviceVersion": 2,
            "profileType": "RegisteredDevice",
            "manufacturer": if os == "Windows" { json!("Contoso Hardware") } else { Value::Null },
            "model": if os == "Windows" { json!("Model 5") } else { Value::Null },
            "mdmAppId": if is_managed == json!(true) { json!("0000000a-0000-0000-c000-000000000000") } else { Value::Null },
            "systemLabels": [],
            "extensionAttributes": {"extensionAttribute1": null, "extensionAttribute2": null},
            // "For cloud joined devices and registered personal devices, registered
            // users are set to the same value as registered owners" (Graph docs).
            "registeredUsers": owners.clone(),
            "registeredOwners": owners,
        }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_793_491_200), "2026-11-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn alt_sec_id_keys_are_utf16le_base64() {
        let k = alt_sec_id_key("AB", "cd=");
        let raw = STANDARD.decode(k).unwrap();
        let units: Vec<u16> = raw.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(String::from_utf16(&units).unwrap(), "X509:<SHA1-TP-PUBKEY>ABcd=");
    }

    #[test]
    fn generation_is_deterministic() {
        let a = generate(50, 7).to_json();
        let b = generate(50, 7).to_json();
        assert_eq!(a, b);
    }
}

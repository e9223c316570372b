//! The two request controls dwb sends, encoded by hand (a few bytes of BER),
//! and the paged-results response parsed without panics (ldap3's own parser
//! panics on a malformed value).
//!
//! - SD flags, LDAP_SERVER_SD_FLAGS_OID 1.2.840.113556.1.4.801:
//!   `SEQUENCE { INTEGER flags }`, e.g. `30 03 02 01 07` for owner|group|DACL.
//! - Simple paged results, RFC 2696, 1.2.840.113556.1.4.319:
//!   `SEQUENCE { INTEGER size, OCTET STRING cookie }` both ways.

use ldap3::controls::{Control, RawControl};

pub(super) const SD_FLAGS_OID: &str = "1.2.840.113556.1.4.801";
pub(super) const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// The SD flags control. Critical: a server that cannot honour it must fail
/// the operation rather than silently touch the wrong parts of a descriptor.
pub(super) fn sd_flags(flags: u32) -> RawControl {
    RawControl {
        ctype: SD_FLAGS_OID.to_string(),
        crit: true,
        val: Some(sequence(&integer(i64::from(flags)))),
    }
}

/// A paged-results request for `size` entries after `cookie` (empty at first).
pub(super) fn paged_request(size: i32, cookie: &[u8]) -> RawControl {
    let mut body = integer(i64::from(size));
    body.extend(tlv(0x04, cookie));
    RawControl { ctype: PAGED_RESULTS_OID.to_string(), crit: false, val: Some(sequence(&body)) }
}

/// The paged-results response among `ctrls`: `None` when the server sent
/// none, `Some(cookie)` otherwise (empty = last page). A malformed value is
/// treated as "no control" so the search ends instead of looping.
pub(super) fn paged_cookie(ctrls: &[Control]) -> Option<Vec<u8>> {
    let raw = ctrls.iter().map(|c| &c.1).find(|c| c.ctype == PAGED_RESULTS_OID)?;
    parse_paged_value(raw.val.as_deref()?)
}

/// Parses `SEQUENCE { INTEGER size, OCTET STRING cookie }` → cookie.
pub(super) fn parse_paged_value(v: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, rest) = read_tlv(v)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (t1, _size, after) = read_tlv(body)?;
    let (t2, cookie, end) = read_tlv(after)?;
    (t1 == 0x02 && t2 == 0x04 && end.is_empty()).then(|| cookie.to_vec())
}

fn sequence(body: &[u8]) -> Vec<u8> {
    tlv(0x30, body)
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// A BER INTEGER in minimal two's complement.
fn integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(0x02, &bytes[start..])
}

/// One definite-length TLV: (tag, value, rest).
fn read_tlv(v: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = v.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (lb, rest) = rest.split_at(n);
        (lb.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_flags_bytes() {
        assert_eq!(sd_flags(4).val.unwrap(), [0x30, 0x03, 0x02, 0x01, 0x04]);
        assert_eq!(sd_flags(7).val.unwrap(), [0x30, 0x03, 0x02, 0x01, 0x07]);
        assert_eq!(sd_flags(15).val.unwrap(), [0x30, 0x03, 0x02, 0x01, 0x0f]);
        // 0x80 needs a leading zero to stay positive.
        assert_eq!(sd_flags(0x80).val.unwrap(), [0x30, 0x04, 0x02, 0x02, 0x00, 0x80]);
        assert!(sd_flags(4).crit);
        assert_eq!(sd_flags(4).ctype, "1.2.840.113556.1.4.801");
    }

    #[test]
    fn integers() {
        assert_eq!(integer(0), [0x02, 0x01, 0x00]);
        assert_eq!(integer(1000), [0x02, 0x02, 0x03, 0xe8]);
        assert_eq!(integer(-1), [0x02, 0x01, 0xff]);
        assert_eq!(integer(-129), [0x02, 0x02, 0xff, 0x7f]);
    }

    #[test]
    fn paged_round_trip_with_long_cookie() {
        let cookie: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let c = paged_request(1000, &cookie);
        assert!(!c.crit);
        let v = c.val.unwrap();
        assert_eq!(&v[..4], [0x30, 0x82, 0x01, 0x34]);
        assert_eq!(parse_paged_value(&v), Some(cookie));
        assert_eq!(parse_paged_value(&paged_request(1000, &[]).val.unwrap()), Some(vec![]));
    }

    #[test]
    fn malformed_paged_values_are_rejected() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x02, 0x01, 0x00],
            &[0x04, 0x00],
            &[0x30, 0x03, 0x02, 0x01, 0x00],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(parse_paged_value(bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn finds_the_paged_control_among_others() {
        let other = Control(None, RawControl { ctype: "1.2.3".into(), crit: false, val: None });
        let paged = Control(None, paged_request(0, b"abc"));
        assert_eq!(paged_cookie(&[other.clone(), paged]), Some(b"abc".to_vec()));
        assert_eq!(paged_cookie(&[other]), None);
    }
}

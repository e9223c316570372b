//! Windows security identifiers: the binary form AD stores (`objectSid`,
//! `msDS-RegisteredOwner`, inside security descriptors) and the `S-1-5-…` string form.
//!
//! Binary layout ([MS-DTYP] 2.4.2.2): revision (1), sub-authority count (1),
//! identifier authority (6, big-endian), sub-authorities (4 each, little-endian).

use std::fmt;
use std::str::FromStr;

/// A parsed security identifier.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    revision: u8,
    authority: u64,
    sub_authorities: Vec<u32>,
}

/// Why bytes or text are not a SID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidError {
    #[error("SID is {0} bytes; at least 8 are needed")]
    TooShort(usize),
    #[error(
        "SID says it has {count} sub-authorities, which needs {needed} bytes, but {got} were given"
    )]
    Length { count: u8, needed: usize, got: usize },
    #[error("SID revision {0} is not 1")]
    Revision(u8),
    #[error("SID has {0} sub-authorities; at most 15 are allowed")]
    TooManySubAuthorities(usize),
    #[error("`{0}` is not a SID in S-1-… form")]
    Syntax(String),
}

impl Sid {
    /// Largest number of sub-authorities a SID may carry.
    pub const MAX_SUB_AUTHORITIES: usize = 15;

    /// Builds a SID from an identifier authority and sub-authorities.
    pub fn new(authority: u64, sub_authorities: Vec<u32>) -> Result<Sid, SidError> {
        if sub_authorities.len() > Self::MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities(sub_authorities.len()));
        }
        Ok(Sid { revision: 1, authority: authority & 0xFFFF_FFFF_FFFF, sub_authorities })
    }

    /// Parses the binary form. Trailing bytes after the SID are an error; use
    /// [`Sid::from_prefix`] when a SID is embedded in a larger structure.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sid, SidError> {
        let (sid, used) = Self::from_prefix(bytes)?;
        if used != bytes.len() {
            return Err(SidError::Length {
                count: sid.sub_authorities.len() as u8,
                needed: used,
                got: bytes.len(),
            });
        }
        Ok(sid)
    }

    /// Parses a SID at the start of `bytes`; returns it and the number of bytes used.
    pub fn from_prefix(bytes: &[u8]) -> Result<(Sid, usize), SidError> {
        let [revision, count, a0, a1, a2, a3, a4, a5, rest @ ..] = bytes else {
            return Err(SidError::TooShort(bytes.len()));
        };
        if *revision != 1 {
            return Err(SidError::Revision(*revision));
        }
        let count = *count;
        if count as usize > Self::MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities(count as usize));
        }
        let needed = 8 + 4 * count as usize;
        if bytes.len() < needed {
            return Err(SidError::Length { count, needed, got: bytes.len() });
        }
        let authority = u64::from_be_bytes([0, 0, *a0, *a1, *a2, *a3, *a4, *a5]);
        let sub_authorities = rest
            .chunks_exact(4)
            .take(count as usize)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((Sid { revision: 1, authority, sub_authorities }, needed))
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.byte_len());
        out.push(self.revision);
        out.push(self.sub_authorities.len() as u8);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for s in &self.sub_authorities {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// Length of the binary form.
    pub fn byte_len(&self) -> usize {
        8 + 4 * self.sub_authorities.len()
    }

    /// The identifier authority (5 for NT AUTHORITY).
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities, in order.
    pub fn sub_authorities(&self) -> &[u32] {
        &self.sub_authorities
    }

    /// The last sub-authority (the RID of an account SID).
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// The SID without its last sub-authority: for an account, its domain SID.
    pub fn domain(&self) -> Option<Sid> {
        let (_, head) = self.sub_authorities.split_last()?;
        Some(Sid { revision: 1, authority: self.authority, sub_authorities: head.to_vec() })
    }

    /// This SID with `rid` appended (domain SID + RID → account SID).
    pub fn with_rid(&self, rid: u32) -> Result<Sid, SidError> {
        let mut subs = self.sub_authorities.clone();
        subs.push(rid);
        Sid::new(self.authority, subs)
    }

    /// True when `self` is an account SID inside `domain` (domain SID + one RID).
    pub fn is_in_domain(&self, domain: &Sid) -> bool {
        self.domain().as_ref() == Some(domain)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{}-", self.revision)?;
        // [MS-DTYP] 2.4.2.1: authorities of 2^32 and above print as hex.
        if self.authority >= 1 << 32 {
            write!(f, "0x{:012X}", self.authority)?;
        } else {
            write!(f, "{}", self.authority)?;
        }
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

impl FromStr for Sid {
    type Err = SidError;

    fn from_str(s: &str) -> Result<Sid, SidError> {
        let bad = || SidError::Syntax(s.chars().take(80).collect());
        let t = s.trim();
        let rest = t.strip_prefix("S-").or_else(|| t.strip_prefix("s-")).ok_or_else(bad)?;
        let mut parts = rest.split('-');
        let revision: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if revision != 1 {
            return Err(SidError::Revision(revision));
        }
        let auth = parts.next().ok_or_else(bad)?;
        let authority =
            if let Some(hex) = auth.strip_prefix("0x").or_else(|| auth.strip_prefix("0X")) {
                u64::from_str_radix(hex, 16).map_err(|_| bad())?
            } else {
                auth.parse::<u64>().map_err(|_| bad())?
            };
        if authority > 0xFFFF_FFFF_FFFF {
            return Err(bad());
        }
        let subs = parts
            .map(|p| {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    p.parse::<u32>().ok()
                }
            })
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(bad)?;
        Sid::new(authority, subs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrators_round_trip() {
        let sid: Sid = "S-1-5-32-544".parse().unwrap();
        let bytes = sid.to_bytes();
        assert_eq!(bytes, [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]);
        assert_eq!(Sid::from_bytes(&bytes).unwrap(), sid);
        assert_eq!(sid.to_string(), "S-1-5-32-544");
    }

    #[test]
    fn lab_administrator_sid_from_samba() {
        // msDS-RegisteredOwner value from the lab LDIF (base64 AQUAAAAAAAUVAAAA9a7LHnEG8XLS9ycM9AEAAA==).
        let bytes = [
            1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xf5, 0xae, 0xcb, 0x1e, 0x71, 0x06, 0xf1, 0x72,
            0xd2, 0xf7, 0x27, 0x0c, 0xf4, 0x01, 0, 0,
        ];
        let sid = Sid::from_bytes(&bytes).unwrap();
        assert_eq!(sid.rid(), Some(500));
        assert_eq!(sid.to_string(), "S-1-5-21-516665077-1928398449-203945938-500");
        assert!(sid.is_in_domain(&"S-1-5-21-516665077-1928398449-203945938".parse().unwrap()));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "S-1",
            "S-2-5-1",
            "S-1-5-x",
            "S-1-5--1",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
            "S-1-5-99999999999",
        ] {
            assert!(s.parse::<Sid>().is_err(), "{s}");
        }
        assert!(Sid::from_bytes(&[1, 1, 0, 0, 0, 0, 0, 5]).is_err());
        assert!(Sid::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 5, 9]).is_err());
        assert!(Sid::from_bytes(&[]).is_err());
    }
}

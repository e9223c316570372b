//! GUIDs as AD stores them (`objectGUID`, `msDS-DeviceID`, `schemaIDGUID`,
//! `rightsGuid`): 16 bytes with the first three fields little-endian
//! (.NET `Guid.ToByteArray()` order), printed in the canonical lower-case form
//! that Microsoft Graph uses for `deviceId`.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// A GUID; `to_bytes` gives AD's byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(Uuid);

/// Why a value is not a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuidError {
    #[error("a GUID is 16 bytes; got {0}")]
    Length(usize),
    #[error("`{0}` is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")]
    Syntax(String),
}

impl Guid {
    /// From AD's byte order (mixed-endian).
    pub fn from_bytes(bytes: &[u8]) -> Result<Guid, GuidError> {
        let arr: [u8; 16] = bytes.try_into().map_err(|_| GuidError::Length(bytes.len()))?;
        Ok(Guid(Uuid::from_bytes_le(arr)))
    }

    /// AD's byte order (mixed-endian), as stored in `objectGUID`.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0.to_bytes_le()
    }

    /// A new random GUID.
    pub fn new_random() -> Guid {
        Guid(Uuid::new_v4())
    }

    /// The nil GUID.
    pub fn nil() -> Guid {
        Guid(Uuid::nil())
    }

    /// The inner `uuid::Uuid`.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for Guid {
    fn from(u: Uuid) -> Guid {
        Guid(u)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = GuidError;

    /// Accepts the hyphenated form, optionally in braces (`{…}` as PowerShell prints it).
    fn from_str(s: &str) -> Result<Guid, GuidError> {
        let t = s.trim();
        let t = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(t);
        if t.len() != 36 {
            return Err(GuidError::Syntax(s.chars().take(80).collect()));
        }
        Uuid::parse_str(t).map(Guid).map_err(|_| GuidError::Syntax(s.chars().take(80).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_byte_order() {
        // The lab device: CN=6f1c2a3b-… has msDS-DeviceID:: Oyocb15NYE+Ke5wNHi86Sw==
        let g: Guid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b".parse().unwrap();
        let b = g.to_bytes();
        assert_eq!(b[..4], [0x3b, 0x2a, 0x1c, 0x6f]);
        assert_eq!(b[4..6], [0x5e, 0x4d]);
        assert_eq!(b[6..8], [0x60, 0x4f]);
        assert_eq!(b[8..], [0x8a, 0x7b, 0x9c, 0x0d, 0x1e, 0x2f, 0x3a, 0x4b]);
        assert_eq!(Guid::from_bytes(&b).unwrap(), g);
    }

    #[test]
    fn schema_guid_of_msds_device() {
        let g: Guid = "{5DF2B673-6D41-4774-B3E8-D52E8EE9FF99}".parse().unwrap();
        assert_eq!(g.to_string(), "5df2b673-6d41-4774-b3e8-d52e8ee9ff99");
        assert!("5df2b6736d414774b3e8d52e8ee9ff99".parse::<Guid>().is_err());
        assert!(Guid::from_bytes(&[0; 15]).is_err());
    }
}

//! The forms a value of a device object can take, and the container's
//! convention for new ones. Entra Connect and AD FS wrote the objects dwb takes
//! over, and neither documents its byte forms (connect-objects.md): the cloud
//! anchor may be UTF-8 or UTF-16LE, a registered owner a binary SID or its
//! `S-1-5-21-…` text. dwb reads every form and compares values by what they
//! mean, so taking over an object never rewrites a value only for its form; a
//! value dwb writes new follows the form the container already uses.

use crate::ad::{Directory, Scope, SearchRequest};
use crate::directory::{Dn, Filter, Guid, Sid};
use crate::error::Result;

/// How `msDS-CloudAnchor` (an octet string) encodes `Device_<objectId>` — [U] in docs/device-writeback.md §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnchorEncoding {
    /// UTF-8 bytes (the default: what Entra Connect's exports show as text).
    #[default]
    Utf8,
    /// UTF-16LE bytes.
    Utf16Le,
}

impl AnchorEncoding {
    pub fn parse(s: &str) -> Option<AnchorEncoding> {
        match s.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Some(AnchorEncoding::Utf8),
            "utf16le" | "utf-16le" | "unicode" => Some(AnchorEncoding::Utf16Le),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AnchorEncoding::Utf8 => "utf8",
            AnchorEncoding::Utf16Le => "utf16le",
        }
    }
}

/// The cloud anchor bytes of a device object id.
pub fn anchor_bytes(object_id: &str, enc: AnchorEncoding) -> Vec<u8> {
    let s = format!("Device_{object_id}");
    match enc {
        AnchorEncoding::Utf8 => s.into_bytes(),
        AnchorEncoding::Utf16Le => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
    }
}

/// Reads an anchor back to the object id (either encoding), if it is one of ours.
pub fn anchor_object_id(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.starts_with("Device_"))
        .map(str::to_string)
        .or_else(|| {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> =
                bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok().filter(|t| t.starts_with("Device_"))
        })?;
    Some(text["Device_".len()..].to_string())
}

/// How `msDS-RegisteredOwner` / `msDS-RegisteredUsers` hold a SID. The schema
/// says binary; a script used on a production AD FS domain reads the owner as
/// ASCII text, which suggests AD FS / Connect store the text ([U]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidForm {
    /// The binary SID (MS-DTYP 2.4.2.2): the schema's syntax, dwb's default.
    #[default]
    Binary,
    /// The SID's text `S-1-5-21-…`, one byte per character.
    Text,
}

impl SidForm {
    pub fn parse(s: &str) -> Option<SidForm> {
        match s.to_ascii_lowercase().as_str() {
            "binary" => Some(SidForm::Binary),
            "text" => Some(SidForm::Text),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SidForm::Binary => "binary",
            SidForm::Text => "text",
        }
    }

    /// The bytes of `sid` in this form.
    pub fn bytes(self, sid: &Sid) -> Vec<u8> {
        match self {
            SidForm::Binary => sid.to_bytes(),
            SidForm::Text => sid.to_string().into_bytes(),
        }
    }
}

/// The SID a value denotes, binary or text (with or without a trailing NUL).
pub fn sid_of(bytes: &[u8]) -> Option<Sid> {
    if bytes.first() == Some(&1)
        && let Ok(sid) = Sid::from_bytes(bytes)
    {
        return Some(sid);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim_end_matches('\0');
    text.parse().ok()
}

/// The form a SID value is in, if it is one.
pub fn sid_form_of(bytes: &[u8]) -> Option<SidForm> {
    if bytes.first() == Some(&1) && Sid::from_bytes(bytes).is_ok() {
        return Some(SidForm::Binary);
    }
    sid_of(bytes).map(|_| SidForm::Text)
}

/// The encoding an anchor value is in, if it is an anchor.
pub fn anchor_encoding_of(bytes: &[u8]) -> Option<AnchorEncoding> {
    anchor_object_id(bytes)?;
    Some(if std::str::from_utf8(bytes).is_ok_and(|t| t.starts_with("Device_")) {
        AnchorEncoding::Utf8
    } else {
        AnchorEncoding::Utf16Le
    })
}

/// The GUID a value denotes: 16 bytes, or its text (either case, braces or not).
pub fn guid_of(bytes: &[u8]) -> Option<Guid> {
    if bytes.len() == 16 {
        return Guid::from_bytes(bytes).ok();
    }
    let text = std::str::from_utf8(bytes).ok()?.trim().trim_matches(['{', '}']);
    uuid::Uuid::parse_str(text).ok().map(Guid::from)
}

/// What a value of `attr` means, where two byte forms can mean the same: the
/// key it is compared by. `None`: compared by its bytes.
fn meaning(attr: &str, bytes: &[u8]) -> Option<String> {
    let is = |n: &str| attr.eq_ignore_ascii_case(n);
    if is("msDS-CloudAnchor") {
        anchor_object_id(bytes).map(|id| id.to_ascii_lowercase())
    } else if is("msDS-RegisteredOwner") || is("msDS-RegisteredUsers") {
        sid_of(bytes).map(|s| s.to_string())
    } else if is("msDS-DeviceID") {
        guid_of(bytes).map(|g| g.to_string())
    } else {
        None
    }
}

/// Whether two sets of values of `attr` mean the same (order aside).
pub fn same_meaning(attr: &str, have: &[Vec<u8>], want: &[Vec<u8>]) -> bool {
    let key = |v: &Vec<u8>| match meaning(attr, v) {
        Some(m) => (true, m.into_bytes()),
        None => (false, v.clone()),
    };
    let mut x: Vec<(bool, Vec<u8>)> = have.iter().map(key).collect();
    let mut y: Vec<(bool, Vec<u8>)> = want.iter().map(key).collect();
    x.sort();
    x.dedup();
    y.sort();
    y.dedup();
    x == y && have.len() == want.len()
}

/// The forms the objects already in a container use, as counted from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Convention {
    pub anchors_utf8: usize,
    pub anchors_utf16le: usize,
    pub sids_binary: usize,
    pub sids_text: usize,
}

impl Convention {
    /// Counts the forms of one object's values.
    pub fn count(&mut self, anchor: &[Vec<u8>], sids: &[&[Vec<u8>]]) {
        for a in anchor {
            match anchor_encoding_of(a) {
                Some(AnchorEncoding::Utf8) => self.anchors_utf8 += 1,
                Some(AnchorEncoding::Utf16Le) => self.anchors_utf16le += 1,
                None => {}
            }
        }
        for v in sids.iter().flat_map(|vs| vs.iter()) {
            match sid_form_of(v) {
                Some(SidForm::Binary) => self.sids_binary += 1,
                Some(SidForm::Text) => self.sids_text += 1,
                None => {}
            }
        }
    }

    /// The anchor encoding the container uses (the majority), if it holds any anchor.
    pub fn anchor(&self) -> Option<AnchorEncoding> {
        match (self.anchors_utf8, self.anchors_utf16le) {
            (0, 0) => None,
            (a, b) if b > a => Some(AnchorEncoding::Utf16Le),
            _ => Some(AnchorEncoding::Utf8),
        }
    }

    /// The SID form the container uses (the majority), if it holds any SID value.
    pub fn sid(&self) -> Option<SidForm> {
        match (self.sids_binary, self.sids_text) {
            (0, 0) => None,
            (a, b) if b > a => Some(SidForm::Text),
            _ => Some(SidForm::Binary),
        }
    }

    /// Both forms are in use: worth a warning (one writer changed its form, or two wrote).
    pub fn mixed(&self) -> bool {
        (self.anchors_utf8 > 0 && self.anchors_utf16le > 0)
            || (self.sids_binary > 0 && self.sids_text > 0)
    }

    /// One line for a report.
    pub fn describe(&self) -> String {
        let anchor = match self.anchor() {
            None => "no anchors yet".to_string(),
            Some(e) => format!(
                "anchors {} ({} UTF-8, {} UTF-16LE)",
                e.as_str(),
                self.anchors_utf8,
                self.anchors_utf16le
            ),
        };
        let sid = match self.sid() {
            None => "no owner SIDs yet".to_string(),
            Some(f) => format!(
                "owner SIDs {} ({} binary, {} text)",
                f.as_str(),
                self.sids_binary,
                self.sids_text
            ),
        };
        format!("{anchor}; {sid}")
    }
}

/// How many anchored objects a convention is read from: enough to see the
/// form, few enough to cost one small search per round.
const SAMPLE: usize = 200;

/// The convention of the anchored objects in `container` (a sample of them).
pub fn detect(dir: &dyn Directory, container: &Dn) -> Result<Convention> {
    let filter = Filter::And(vec![
        Filter::eq("objectClass", "msDS-Device"),
        Filter::present("msDS-CloudAnchor"),
    ]);
    let mut req = SearchRequest::new(container.clone(), Scope::OneLevel, filter).attrs([
        "msDS-CloudAnchor",
        "msDS-RegisteredOwner",
        "msDS-RegisteredUsers",
    ]);
    req.size_limit = SAMPLE;
    let mut conv = Convention::default();
    let mut seen = 0;
    let r = dir.search(&req, &mut |e| {
        seen += 1;
        conv.count(
            e.get("msDS-CloudAnchor"),
            &[e.get("msDS-RegisteredOwner"), e.get("msDS-RegisteredUsers")],
        );
        Ok(())
    });
    match r {
        Ok(()) => Ok(conv),
        // The size limit reached: the sample is what it is for.
        Err(_) if seen >= SAMPLE => Ok(conv),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::writeback::mapping::anchor_bytes;

    #[test]
    fn sids_compare_by_meaning() {
        let sid: Sid = "S-1-5-21-1-2-3-1105".parse().unwrap();
        let bin = SidForm::Binary.bytes(&sid);
        let text = SidForm::Text.bytes(&sid);
        assert_eq!(text, b"S-1-5-21-1-2-3-1105");
        assert_eq!(sid_of(&bin), Some(sid.clone()));
        assert_eq!(sid_of(&text), Some(sid.clone()));
        assert_eq!(sid_of(b"S-1-5-21-1-2-3-1105\0"), Some(sid.clone()));
        assert_eq!(sid_form_of(&text), Some(SidForm::Text));
        assert_eq!(sid_form_of(&bin), Some(SidForm::Binary));
        assert!(same_meaning(
            "msDS-RegisteredOwner",
            std::slice::from_ref(&text),
            std::slice::from_ref(&bin)
        ));
        let other = SidForm::Binary.bytes(&"S-1-5-21-1-2-3-1106".parse().unwrap());
        assert!(!same_meaning(
            "msDS-RegisteredOwner",
            std::slice::from_ref(&text),
            std::slice::from_ref(&other)
        ));
        assert!(same_meaning(
            "msds-registeredusers",
            &[text.clone(), other.clone()],
            &[other.clone(), bin.clone()]
        ));
        assert!(!same_meaning(
            "msDS-RegisteredUsers",
            std::slice::from_ref(&text),
            &[bin.clone(), other]
        ));
        // Other attributes compare by their bytes.
        assert!(!same_meaning("displayName", &[text], &[bin]));
    }

    #[test]
    fn anchors_and_device_ids_compare_by_meaning() {
        let id = "c9d9f9b3-0c91-4080-b392-78f775903b3a";
        let upper = anchor_bytes(&id.to_ascii_uppercase(), AnchorEncoding::Utf16Le);
        let lower = anchor_bytes(id, AnchorEncoding::Utf8);
        assert!(same_meaning(
            "msDS-CloudAnchor",
            std::slice::from_ref(&upper),
            std::slice::from_ref(&lower)
        ));
        assert_eq!(anchor_encoding_of(&upper), Some(AnchorEncoding::Utf16Le));
        assert_eq!(anchor_encoding_of(&lower), Some(AnchorEncoding::Utf8));
        let other = anchor_bytes("00000000-0c91-4080-b392-78f775903b3a", AnchorEncoding::Utf8);
        assert!(!same_meaning("msDS-CloudAnchor", &[upper], &[other]));
        let g: Guid = Guid::from(uuid::Uuid::parse_str(id).unwrap());
        let text = format!("{{{}}}", id.to_ascii_uppercase()).into_bytes();
        assert!(same_meaning("msDS-DeviceID", &[text], &[g.to_bytes().to_vec()]));
    }

    #[test]
    fn the_convention_is_the_majority() {
        let sid: Sid = "S-1-5-21-1-2-3-1105".parse().unwrap();
        let mut c = Convention::default();
        assert_eq!((c.anchor(), c.sid()), (None, None));
        c.count(&[anchor_bytes("a", AnchorEncoding::Utf16Le)], &[&[SidForm::Text.bytes(&sid)]]);
        assert_eq!(c.anchor(), Some(AnchorEncoding::Utf16Le));
        assert_eq!(c.sid(), Some(SidForm::Text));
        assert!(!c.mixed());
        c.count(&[anchor_bytes("b", AnchorEncoding::Utf8)], &[&[SidForm::Binary.bytes(&sid)]]);
        assert!(c.mixed());
        assert!(c.describe().contains("1 UTF-16LE"), "{}", c.describe());
    }
}

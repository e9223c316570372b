//! The self-relative binary form ([MS-DTYP] 2.4.6), as `nTSecurityDescriptor` holds it.
//!
//! Decoding is total: it reads through bounds-checked helpers only, so
//! truncated input, offsets out of range, overlapping parts, ACE counts or
//! sizes that lie all become an [`SdError`] with the byte offset concerned.
//! Everything that decodes is re-encoded to the very same bytes (see the
//! module docs of `security`); encoding fails only when an edited ACL no
//! longer fits the 16-bit size fields.

use super::acl::{
    Ace, AceType, Acl, AclEntry, INHERITED_OBJECT_TYPE_PRESENT, OBJECT_TYPE_PRESENT, RawAce,
};
use super::{Layout, SD_REVISION, SdPart, SecurityDescriptor};
use crate::directory::guid::Guid;
use crate::directory::sid::{Sid, SidError};

const HEADER_LEN: usize = 20;

/// A descriptor's bytes could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("security descriptor byte {offset}: {kind}")]
pub struct SdError {
    /// Byte offset into the descriptor where the problem was found.
    pub offset: usize,
    pub kind: SdErrorKind,
}

/// What was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdErrorKind {
    #[error("{what} needs {needed} bytes but only {available} remain")]
    Truncated { what: &'static str, needed: usize, available: usize },
    #[error("descriptor revision {0} is not 1")]
    Revision(u8),
    #[error("{what} offset {value} is outside the {len}-byte descriptor")]
    OffsetOutOfRange { what: &'static str, value: u32, len: usize },
    #[error("{what} overlaps the header or another part (which ends at byte {previous_end})")]
    Overlap { what: &'static str, previous_end: usize },
    #[error("ACL revision {0} is not 2, 3 or 4")]
    AclRevision(u8),
    #[error("ACL size {0} is smaller than the 8-byte ACL header")]
    AclSize(u16),
    #[error("ACE {index} of the ACL does not fit: {detail}")]
    AceBounds { index: usize, detail: String },
    #[error("ACE size {size} is too small for a type {ace_type} ACE (needs at least {needed})")]
    AceSize { ace_type: u8, size: u16, needed: usize },
    #[error(
        "object ACE flags {0:#x} have bits other than OBJECT_TYPE_PRESENT and INHERITED_OBJECT_TYPE_PRESENT"
    )]
    ObjectFlags(u32),
    #[error("bad SID: {0}")]
    Sid(SidError),
    #[error("{what} is {len} bytes, more than its {max}-byte size field can say")]
    TooLarge { what: &'static str, len: usize, max: usize },
}

fn err(offset: usize, kind: SdErrorKind) -> SdError {
    SdError { offset, kind }
}

/// Bounds-checked little-endian reads; `base` is where `bytes` starts in the descriptor.
struct Reader<'a> {
    bytes: &'a [u8],
    base: usize,
}

impl<'a> Reader<'a> {
    fn slice(&self, at: usize, len: usize, what: &'static str) -> Result<&'a [u8], SdError> {
        at.checked_add(len).and_then(|end| self.bytes.get(at..end)).ok_or_else(|| {
            err(
                self.base + at,
                SdErrorKind::Truncated {
                    what,
                    needed: len,
                    available: self.bytes.len().saturating_sub(at),
                },
            )
        })
    }

    fn u8(&self, at: usize, what: &'static str) -> Result<u8, SdError> {
        Ok(self.array::<1>(at, what)?[0])
    }

    fn u16(&self, at: usize, what: &'static str) -> Result<u16, SdError> {
        Ok(u16::from_le_bytes(self.array(at, what)?))
    }

    fn u32(&self, at: usize, what: &'static str) -> Result<u32, SdError> {
        Ok(u32::from_le_bytes(self.array(at, what)?))
    }

    fn array<const N: usize>(&self, at: usize, what: &'static str) -> Result<[u8; N], SdError> {
        let s = self.slice(at, N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn guid(&self, at: usize, what: &'static str) -> Result<Guid, SdError> {
        // 16 bytes are guaranteed by `slice`, so from_bytes cannot fail; map anyway.
        Guid::from_bytes(self.slice(at, 16, what)?).map_err(|_| {
            err(self.base + at, SdErrorKind::Truncated { what, needed: 16, available: 0 })
        })
    }

    fn sid(&self, at: usize) -> Result<(Sid, usize), SdError> {
        let rest = self.bytes.get(at..).unwrap_or_default();
        Sid::from_prefix(rest).map_err(|e| err(self.base + at, SdErrorKind::Sid(e)))
    }
}

impl SecurityDescriptor {
    /// Decodes a self-relative descriptor. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecurityDescriptor, SdError> {
        let r = Reader { bytes, base: 0 };
        r.slice(0, HEADER_LEN, "descriptor header")?;
        let revision = r.u8(0, "revision")?;
        if revision != SD_REVISION {
            return Err(err(0, SdErrorKind::Revision(revision)));
        }
        let mut sd = SecurityDescriptor::new();
        sd.sbz1 = r.u8(1, "Sbz1")?;
        sd.control = r.u16(2, "control")?;

        // (start, end, part) of every present part, to check overlaps and record the layout.
        let mut spans: Vec<(usize, usize, SdPart)> = Vec::new();
        for (field, part, what) in [
            (4, SdPart::Owner, "owner"),
            (8, SdPart::Group, "group"),
            (12, SdPart::Sacl, "SACL"),
            (16, SdPart::Dacl, "DACL"),
        ] {
            let value = r.u32(field, what)?;
            if value == 0 {
                continue;
            }
            let start = usize::try_from(value).unwrap_or(usize::MAX);
            if start < HEADER_LEN || start >= bytes.len() {
                return Err(err(
                    field,
                    SdErrorKind::OffsetOutOfRange { what, value, len: bytes.len() },
                ));
            }
            let len = match part {
                SdPart::Owner | SdPart::Group => {
                    let (sid, used) = r.sid(start)?;
                    if part == SdPart::Owner {
                        sd.owner = Some(sid)
                    } else {
                        sd.group = Some(sid)
                    }
                    used
                }
                SdPart::Sacl | SdPart::Dacl => {
                    let (acl, used) = decode_acl(bytes, start)?;
                    if part == SdPart::Sacl {
                        sd.sacl = Some(acl)
                    } else {
                        sd.dacl = Some(acl)
                    }
                    used
                }
            };
            spans.push((start, start + len, part));
        }

        spans.sort_by_key(|s| s.0);
        let mut layout = Layout::default();
        let mut end = HEADER_LEN;
        for (start, stop, part) in spans {
            let gap = bytes.get(end..start).ok_or_else(|| {
                err(start, SdErrorKind::Overlap { what: part_name(part), previous_end: end })
            })?;
            if !gap.is_empty() {
                layout.gaps.push((part, gap.to_vec()));
            }
            layout.order.push(part);
            end = stop;
        }
        layout.trailing = bytes.get(end..).unwrap_or_default().to_vec();
        sd.layout = layout;
        Ok(sd)
    }

    /// Encodes the descriptor: byte-identical to the input for an untouched
    /// parsed descriptor, otherwise parts one after another in [`Self::part_order`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, SdError> {
        let mut out = vec![self.revision, self.sbz1];
        out.extend_from_slice(&self.control.to_le_bytes());
        out.resize(HEADER_LEN, 0);
        for part in self.part_order() {
            let field = match part {
                SdPart::Owner => 4,
                SdPart::Group => 8,
                SdPart::Sacl => 12,
                SdPart::Dacl => 16,
            };
            let present = match part {
                SdPart::Owner => self.owner.is_some(),
                SdPart::Group => self.group.is_some(),
                SdPart::Sacl => self.sacl.is_some(),
                SdPart::Dacl => self.dacl.is_some(),
            };
            if !present {
                continue;
            }
            if let Some((_, gap)) = self.layout.gaps.iter().find(|(p, _)| *p == part) {
                out.extend_from_slice(gap);
            }
            let offset = u32::try_from(out.len()).map_err(|_| {
                err(
                    out.len(),
                    SdErrorKind::TooLarge {
                        what: "descriptor",
                        len: out.len(),
                        max: u32::MAX as usize,
                    },
                )
            })?;
            if let Some(slot) = out.get_mut(field..field + 4) {
                slot.copy_from_slice(&offset.to_le_bytes());
            }
            match part {
                SdPart::Owner => out.extend(self.owner.iter().flat_map(Sid::to_bytes)),
                SdPart::Group => out.extend(self.group.iter().flat_map(Sid::to_bytes)),
                SdPart::Sacl => encode_acl_opt(self.sacl.as_ref(), &mut out)?,
                SdPart::Dacl => encode_acl_opt(self.dacl.as_ref(), &mut out)?,
            }
        }
        out.extend_from_slice(&self.layout.trailing);
        Ok(out)
    }
}

fn part_name(p: SdPart) -> &'static str {
    match p {
        SdPart::Owner => "owner",
        SdPart::Group => "group",
        SdPart::Sacl => "SACL",
        SdPart::Dacl => "DACL",
    }
}

/// Decodes the ACL at `start`; returns it and its declared size.
fn decode_acl(bytes: &[u8], start: usize) -> Result<(Acl, usize), SdError> {
    let whole = Reader { bytes: bytes.get(start..).unwrap_or_default(), base: start };
    let revision = whole.u8(0, "ACL header")?;
    let size = whole.u16(2, "ACL header")?;
    let count = whole.u16(4, "ACL header")?;
    let mut acl = Acl::with_revision(revision);
    acl.sbz1 = whole.u8(1, "ACL header")?;
    acl.sbz2 = whole.u16(6, "ACL header")?;
    if !(2..=4).contains(&revision) {
        return Err(err(start, SdErrorKind::AclRevision(revision)));
    }
    if size < 8 {
        return Err(err(start + 2, SdErrorKind::AclSize(size)));
    }
    let size = usize::from(size);
    // From here on only the ACL's declared bytes are visible, so an ACE cannot run past them.
    let r = Reader { bytes: whole.slice(0, size, "ACL (AclSize)")?, base: start };
    let mut at = 8;
    for index in 0..usize::from(count) {
        let bounds = |detail: String| err(start + at, SdErrorKind::AceBounds { index, detail });
        let ace_size = usize::from(r.u16(at + 2, "ACE header").map_err(|_| {
            bounds(format!("its header passes the ACL's end at {size} (AceCount {count} lies?)"))
        })?);
        if ace_size < 4 {
            return Err(bounds(format!("AceSize {ace_size} is smaller than the ACE header")));
        }
        let ace_bytes = r
            .slice(at, ace_size, "ACE")
            .map_err(|_| bounds(format!("AceSize {ace_size} passes the ACL's end at {size}")))?;
        acl.entries.push(decode_ace(ace_bytes, start + at)?);
        at += ace_size;
    }
    acl.padding = r.bytes.get(at..).unwrap_or_default().to_vec();
    Ok((acl, size))
}

fn decode_ace(bytes: &[u8], base: usize) -> Result<AclEntry, SdError> {
    let r = Reader { bytes, base };
    let code = r.u8(0, "ACE type")?;
    let flags = r.u8(1, "ACE flags")?;
    let Some(ace_type) = AceType::from_code(code) else {
        return Ok(AclEntry::Raw(RawAce {
            ace_type: code,
            flags,
            body: bytes.get(4..).unwrap_or_default().to_vec(),
        }));
    };
    let too_small = |needed: usize| {
        err(
            base + 2,
            SdErrorKind::AceSize {
                ace_type: code,
                size: u16::try_from(bytes.len()).unwrap_or(u16::MAX),
                needed,
            },
        )
    };
    let mask = r.u32(4, "access mask").map_err(|_| too_small(16))?;
    let mut at = 8;
    let (mut object_type, mut inherited_object_type) = (None, None);
    if ace_type.is_object() {
        let oflags = r.u32(at, "object flags").map_err(|_| too_small(20))?;
        if oflags & !(OBJECT_TYPE_PRESENT | INHERITED_OBJECT_TYPE_PRESENT) != 0 {
            return Err(err(base + at, SdErrorKind::ObjectFlags(oflags)));
        }
        at += 4;
        if oflags & OBJECT_TYPE_PRESENT != 0 {
            object_type = Some(r.guid(at, "ObjectType GUID").map_err(|_| too_small(at + 16 + 8))?);
            at += 16;
        }
        if oflags & INHERITED_OBJECT_TYPE_PRESENT != 0 {
            inherited_object_type =
                Some(r.guid(at, "InheritedObjectType GUID").map_err(|_| too_small(at + 16 + 8))?);
            at += 16;
        }
    }
    let (trustee, used) = r.sid(at)?;
    Ok(AclEntry::Ace(Ace {
        ace_type,
        flags,
        mask,
        object_type,
        inherited_object_type,
        trustee,
        extra: bytes.get(at + used..).unwrap_or_default().to_vec(),
    }))
}

fn encode_acl_opt(acl: Option<&Acl>, out: &mut Vec<u8>) -> Result<(), SdError> {
    match acl {
        Some(acl) => encode_acl(acl, out),
        None => Ok(()),
    }
}

pub(crate) fn encode_acl(acl: &Acl, out: &mut Vec<u8>) -> Result<(), SdError> {
    let at = out.len();
    let len = acl.byte_len();
    let size = u16::try_from(len)
        .map_err(|_| err(at, SdErrorKind::TooLarge { what: "ACL", len, max: 0xFFFF }))?;
    let n = acl.entries.len();
    let count = u16::try_from(n)
        .map_err(|_| err(at, SdErrorKind::TooLarge { what: "ACE count", len: n, max: 0xFFFF }))?;
    out.push(acl.revision);
    out.push(acl.sbz1);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&acl.sbz2.to_le_bytes());
    for entry in &acl.entries {
        encode_entry(entry, out)?;
    }
    out.extend_from_slice(&acl.padding);
    Ok(())
}

fn encode_entry(entry: &AclEntry, out: &mut Vec<u8>) -> Result<(), SdError> {
    let at = out.len();
    let len = entry.byte_len();
    let size = u16::try_from(len)
        .map_err(|_| err(at, SdErrorKind::TooLarge { what: "ACE", len, max: 0xFFFF }))?;
    match entry {
        AclEntry::Raw(raw) => {
            out.extend_from_slice(&[raw.ace_type, raw.flags]);
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&raw.body);
        }
        AclEntry::Ace(ace) => {
            out.extend_from_slice(&[ace.ace_type.code(), ace.flags]);
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&ace.mask.to_le_bytes());
            if ace.ace_type.is_object() {
                let mut oflags = 0u32;
                if ace.object_type.is_some() {
                    oflags |= OBJECT_TYPE_PRESENT;
                }
                if ace.inherited_object_type.is_some() {
                    oflags |= INHERITED_OBJECT_TYPE_PRESENT;
                }
                out.extend_from_slice(&oflags.to_le_bytes());
                for g in ace.object_type.iter().chain(ace.inherited_object_type.iter()) {
                    out.extend_from_slice(&g.to_bytes());
                }
            }
            out.extend_from_slice(&ace.trustee.to_bytes());
            out.extend_from_slice(&ace.extra);
        }
    }
    Ok(())
}

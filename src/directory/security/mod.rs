//! Windows security descriptors ([MS-DTYP] 2.4.6): the `nTSecurityDescriptor`
//! model, its self-relative binary codec, SDDL, and the DACL edits that
//! `ad::grant` / `ad::revoke` / `ad::has_access` are built on.
//!
//! Invariants the rest of dwb relies on:
//!
//! * **Parsing never panics.** Any byte string either parses or yields an
//!   [`SdError`] naming the byte offset and the problem; any string either
//!   parses as SDDL or yields an [`SddlError`] naming the character position.
//! * **Untouched descriptors round-trip byte for byte.** [`SecurityDescriptor::from_bytes`]
//!   keeps everything a later [`SecurityDescriptor::to_bytes`] needs: the order
//!   the parts were laid out in (Samba writes owner, group, SACL, DACL; Windows
//!   writes SACL, DACL, owner, group), unreferenced bytes between parts, bytes
//!   after the last part, ACL padding, bytes after an ACE's SID, reserved
//!   fields, and ACE types dwb does not model ([`RawAce`]). Writing back what
//!   was read therefore cannot corrupt a directory's ACLs.
//! * **Edits keep the result well-formed.** Parts are always written one after
//!   the other in the recorded order (parts new to the descriptor go last in
//!   Samba's order), so offsets and sizes are recomputed from the model and
//!   can never point outside the buffer.
//! * **Equality is semantic.** `==` compares every field that is encoded but
//!   ignores the layout, so a descriptor parsed from Windows-ordered bytes
//!   equals the same descriptor parsed from Samba-ordered bytes or from SDDL.
//! * **SDDL follows Samba** (the release Debian ships, 4.17) so that
//!   [`SecurityDescriptor::to_sddl`] can be compared with Samba's `as_sddl`:
//!   the same aliases, the same order of right, ACE-flag and ACL-flag letters,
//!   `0x%08x` for masks without letters, ACL revision 4 for parsed ACLs. The
//!   deliberate differences are documented in [`sddl`].
//!
//! The `control` word is kept exactly as stored; [`SecurityDescriptor::set_dacl`]
//! and friends keep the PRESENT bits in step with the parts. A NULL DACL
//! (DACL_PRESENT without a DACL) grants everyone everything; no edit here turns
//! one into a real DACL behind the caller's back.

mod acl;
mod acl_edit;
mod aliases;
mod binary;
pub mod rights;
pub mod sddl;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod prop_tests;

pub use acl::{
    ACL_REVISION, ACL_REVISION_DS, Ace, AceKind, AceType, Acl, AclEntry, RawAce, ace_flags,
};
pub use acl_edit::{Dacl, Inherit};
pub use binary::{SdError, SdErrorKind};
pub use rights::{effective_rights, has_access, map_generic};
pub use sddl::SddlError;

use crate::directory::sid::Sid;

/// Bits of the descriptor's `control` word ([MS-DTYP] 2.4.6).
pub mod control {
    pub const SE_OWNER_DEFAULTED: u16 = 0x0001;
    pub const SE_GROUP_DEFAULTED: u16 = 0x0002;
    pub const SE_DACL_PRESENT: u16 = 0x0004;
    pub const SE_DACL_DEFAULTED: u16 = 0x0008;
    pub const SE_SACL_PRESENT: u16 = 0x0010;
    pub const SE_SACL_DEFAULTED: u16 = 0x0020;
    pub const SE_DACL_TRUSTED: u16 = 0x0040;
    pub const SE_SERVER_SECURITY: u16 = 0x0080;
    pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
    pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
    pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
    pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
    pub const SE_DACL_PROTECTED: u16 = 0x1000;
    pub const SE_SACL_PROTECTED: u16 = 0x2000;
    pub const SE_RM_CONTROL_VALID: u16 = 0x4000;
    pub const SE_SELF_RELATIVE: u16 = 0x8000;

    /// The bits that describe the DACL; [`super::SecurityDescriptor::dacl_only`] keeps these.
    pub const DACL_BITS: u16 = SE_DACL_PRESENT
        | SE_DACL_DEFAULTED
        | SE_DACL_TRUSTED
        | SE_DACL_AUTO_INHERIT_REQ
        | SE_DACL_AUTO_INHERITED
        | SE_DACL_PROTECTED;
}

/// The only descriptor revision [MS-DTYP] defines.
pub const SD_REVISION: u8 = 1;

/// One of the four variable parts of a self-relative descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdPart {
    Owner,
    Group,
    Sacl,
    Dacl,
}

impl SdPart {
    /// Samba's order, used for descriptors that were not parsed from bytes.
    pub const SAMBA_ORDER: [SdPart; 4] = [SdPart::Owner, SdPart::Group, SdPart::Sacl, SdPart::Dacl];
    /// The order Windows writes.
    pub const WINDOWS_ORDER: [SdPart; 4] =
        [SdPart::Sacl, SdPart::Dacl, SdPart::Owner, SdPart::Group];
}

/// Where the parts of a parsed descriptor sat, so that writing it back gives
/// the same bytes. Not part of the descriptor's meaning (ignored by `==`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Parts in the order they appeared; parts not listed are written after these.
    pub(crate) order: Vec<SdPart>,
    /// Unreferenced bytes found just before a part, keyed by that part.
    pub(crate) gaps: Vec<(SdPart, Vec<u8>)>,
    /// Bytes after the last part.
    pub(crate) trailing: Vec<u8>,
}

/// A security descriptor. Fields are public; see the module docs for invariants.
#[derive(Debug, Clone)]
pub struct SecurityDescriptor {
    /// Always [`SD_REVISION`] for parsed descriptors.
    pub revision: u8,
    /// `Sbz1` (the resource-manager control byte when SE_RM_CONTROL_VALID is set).
    pub sbz1: u8,
    /// The control word, as stored; see [`control`].
    pub control: u16,
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    pub sacl: Option<Acl>,
    pub dacl: Option<Acl>,
    pub(crate) layout: Layout,
}

impl PartialEq for SecurityDescriptor {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
            && self.sbz1 == other.sbz1
            && self.control == other.control
            && self.owner == other.owner
            && self.group == other.group
            && self.sacl == other.sacl
            && self.dacl == other.dacl
    }
}

impl Eq for SecurityDescriptor {}

impl Default for SecurityDescriptor {
    fn default() -> Self {
        SecurityDescriptor::new()
    }
}

impl SecurityDescriptor {
    /// An empty self-relative descriptor: no owner, group, SACL or DACL.
    pub fn new() -> SecurityDescriptor {
        SecurityDescriptor {
            revision: SD_REVISION,
            sbz1: 0,
            control: control::SE_SELF_RELATIVE,
            owner: None,
            group: None,
            sacl: None,
            dacl: None,
            layout: Layout::default(),
        }
    }

    /// True when `bit` (one of [`control`]) is set.
    pub fn has_control(&self, bit: u16) -> bool {
        self.control & bit == bit
    }

    /// DACL_PRESENT is set but there is no DACL: everyone is granted everything.
    pub fn has_null_dacl(&self) -> bool {
        self.has_control(control::SE_DACL_PRESENT) && self.dacl.is_none()
    }

    /// Replaces the DACL and sets or clears DACL_PRESENT to match.
    pub fn set_dacl(&mut self, dacl: Option<Acl>) {
        self.control = set_bit(self.control, control::SE_DACL_PRESENT, dacl.is_some());
        self.dacl = dacl;
    }

    /// Makes the descriptor a NULL DACL one (DACL_PRESENT, no DACL).
    pub fn set_null_dacl(&mut self) {
        self.control |= control::SE_DACL_PRESENT;
        self.dacl = None;
    }

    /// A descriptor carrying only the DACL and its control bits, for writing
    /// `nTSecurityDescriptor` with the LDAP SD-flags control set to DACL only
    /// (so the server leaves owner, group and SACL alone). Laid out afresh.
    pub fn dacl_only(&self) -> SecurityDescriptor {
        SecurityDescriptor {
            revision: SD_REVISION,
            sbz1: 0,
            control: control::SE_SELF_RELATIVE | (self.control & control::DACL_BITS),
            owner: None,
            group: None,
            sacl: None,
            dacl: self.dacl.clone(),
            layout: Layout::default(),
        }
    }

    /// Takes the DACL and its control bits from `new`, keeping owner, group and
    /// SACL: what a DC does for a write with the SD-flags control set to DACL.
    pub fn replace_dacl_from(&mut self, new: &SecurityDescriptor) {
        self.set_dacl(new.dacl.clone());
        self.control = (self.control & !control::DACL_BITS) | (new.control & control::DACL_BITS);
    }

    /// The order parts will be written in: the recorded order, then any parts
    /// not recorded in Samba's order.
    pub fn part_order(&self) -> Vec<SdPart> {
        let mut order = self.layout.order.clone();
        for p in SdPart::SAMBA_ORDER {
            if !order.contains(&p) {
                order.push(p);
            }
        }
        order
    }

    /// Forgets the parsed layout and writes parts in `order` (parts missing
    /// from it go after, in Samba's order) with nothing between them.
    pub fn relayout(&mut self, order: &[SdPart]) {
        let mut o = Vec::new();
        for p in order {
            if !o.contains(p) {
                o.push(*p);
            }
        }
        self.layout = Layout { order: o, gaps: Vec::new(), trailing: Vec::new() };
    }

    /// Rights `trustee_sids` hold on the object (or on the property / extended
    /// right `object_type`), see [`effective_rights`]. No DACL or a NULL DACL
    /// grants everything ([`rights::AD_ALL`]). Owner implied rights are not added.
    pub fn effective_rights(
        &self,
        trustee_sids: &[Sid],
        object_type: Option<crate::directory::guid::Guid>,
    ) -> u32 {
        match (&self.dacl, self.has_control(control::SE_DACL_PRESENT)) {
            (Some(dacl), true) => effective_rights(dacl, trustee_sids, object_type),
            _ => rights::AD_ALL,
        }
    }
}

/// Replaces the DACL of `existing` (a stored descriptor, or none) by the DACL of
/// `new_dacl_only` (a DACL-only descriptor), as a DC does for a write with SD
/// flags = DACL. The planned view and the snapshot backend both need this.
pub fn merge_dacl(existing: Option<&[u8]>, new_dacl_only: &[u8]) -> Result<Vec<u8>, SdError> {
    let new = SecurityDescriptor::from_bytes(new_dacl_only)?;
    let mut sd = match existing {
        Some(b) => SecurityDescriptor::from_bytes(b)?,
        None => SecurityDescriptor::new(),
    };
    sd.replace_dacl_from(&new);
    sd.to_bytes()
}

fn set_bit(word: u16, bit: u16, on: bool) -> u16 {
    if on { word | bit } else { word & !bit }
}

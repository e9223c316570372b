//! ACLs and ACEs ([MS-DTYP] 2.4.4, 2.4.5).
//!
//! Six ACE types are modelled ([`AceType`]); every other type is a [`RawAce`]
//! whose bytes are kept as read. A modelled ACE keeps whatever follows its SID
//! inside its declared size (`extra`), and an ACL keeps whatever follows its
//! last ACE inside its declared size (`padding`), so both re-encode exactly.

use crate::directory::guid::Guid;
use crate::directory::sid::Sid;

/// ACE flag bits ([MS-DTYP] 2.4.4.1).
pub mod ace_flags {
    pub const OBJECT_INHERIT: u8 = 0x01;
    pub const CONTAINER_INHERIT: u8 = 0x02;
    pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
    pub const INHERIT_ONLY: u8 = 0x08;
    pub const INHERITED: u8 = 0x10;
    pub const SUCCESSFUL_ACCESS: u8 = 0x40;
    pub const FAILED_ACCESS: u8 = 0x80;
    /// Every defined bit; 0x20 has no meaning and no SDDL letter.
    pub const ALL: u8 = 0xDF;
}

/// Bits of an object ACE's `Flags` field.
pub(crate) const OBJECT_TYPE_PRESENT: u32 = 0x1;
pub(crate) const INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;

/// ACL revision for ACLs without object ACEs.
pub const ACL_REVISION: u8 = 2;
/// ACL revision required once an ACL holds object ACEs (ACL_REVISION_DS).
pub const ACL_REVISION_DS: u8 = 4;

/// The ACE types dwb understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AceType {
    AccessAllowed,
    AccessDenied,
    SystemAudit,
    AccessAllowedObject,
    AccessDeniedObject,
    SystemAuditObject,
}

/// Whether an ACE grants, denies or audits, whatever its object-ness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AceKind {
    Allow,
    Deny,
    Audit,
}

impl AceType {
    /// The `AceType` byte.
    pub fn code(self) -> u8 {
        match self {
            AceType::AccessAllowed => 0,
            AceType::AccessDenied => 1,
            AceType::SystemAudit => 2,
            AceType::AccessAllowedObject => 5,
            AceType::AccessDeniedObject => 6,
            AceType::SystemAuditObject => 7,
        }
    }

    /// The type for an `AceType` byte, if modelled.
    pub fn from_code(code: u8) -> Option<AceType> {
        Some(match code {
            0 => AceType::AccessAllowed,
            1 => AceType::AccessDenied,
            2 => AceType::SystemAudit,
            5 => AceType::AccessAllowedObject,
            6 => AceType::AccessDeniedObject,
            7 => AceType::SystemAuditObject,
            _ => return None,
        })
    }

    /// True for the three `*_OBJECT_ACE` types, which carry GUIDs.
    pub fn is_object(self) -> bool {
        matches!(
            self,
            AceType::AccessAllowedObject | AceType::AccessDeniedObject | AceType::SystemAuditObject
        )
    }

    pub fn kind(self) -> AceKind {
        match self {
            AceType::AccessAllowed | AceType::AccessAllowedObject => AceKind::Allow,
            AceType::AccessDenied | AceType::AccessDeniedObject => AceKind::Deny,
            AceType::SystemAudit | AceType::SystemAuditObject => AceKind::Audit,
        }
    }

    /// The same kind, object or not.
    pub fn with_object(self, object: bool) -> AceType {
        match (self.kind(), object) {
            (AceKind::Allow, false) => AceType::AccessAllowed,
            (AceKind::Deny, false) => AceType::AccessDenied,
            (AceKind::Audit, false) => AceType::SystemAudit,
            (AceKind::Allow, true) => AceType::AccessAllowedObject,
            (AceKind::Deny, true) => AceType::AccessDeniedObject,
            (AceKind::Audit, true) => AceType::SystemAuditObject,
        }
    }
}

/// A modelled ACE. For non-object types the GUID fields must be `None`
/// (the encoder does not write them, so they would be lost).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ace {
    pub ace_type: AceType,
    /// See [`ace_flags`].
    pub flags: u8,
    pub mask: u32,
    /// Property, property set, extended right or child class the ACE is about.
    pub object_type: Option<Guid>,
    /// Class of child objects that inherit the ACE.
    pub inherited_object_type: Option<Guid>,
    pub trustee: Sid,
    /// Bytes after the SID inside the ACE's declared size (padding or
    /// application data), kept so the ACE re-encodes identically.
    pub extra: Vec<u8>,
}

impl Ace {
    /// A bare ACE of `ace_type`; see also the constructors in `acl_edit`.
    pub fn new(ace_type: AceType, flags: u8, mask: u32, trustee: Sid) -> Ace {
        Ace {
            ace_type,
            flags,
            mask,
            object_type: None,
            inherited_object_type: None,
            trustee,
            extra: Vec::new(),
        }
    }

    pub fn has_flag(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// Inherited from a parent (ID), as opposed to explicit.
    pub fn is_inherited(&self) -> bool {
        self.has_flag(ace_flags::INHERITED)
    }

    /// Applies to children only (IO), not to the object itself.
    pub fn is_inherit_only(&self) -> bool {
        self.has_flag(ace_flags::INHERIT_ONLY)
    }

    /// Encoded size in bytes.
    pub fn byte_len(&self) -> usize {
        let mut n = 8 + self.trustee.byte_len() + self.extra.len();
        if self.ace_type.is_object() {
            n += 4;
            n += if self.object_type.is_some() { 16 } else { 0 };
            n += if self.inherited_object_type.is_some() { 16 } else { 0 };
        }
        n
    }
}

/// An ACE of a type dwb does not model (callback, alarm, mandatory label,
/// resource attribute, …), kept as its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAce {
    pub ace_type: u8,
    pub flags: u8,
    /// Everything after the 4-byte ACE header.
    pub body: Vec<u8>,
}

impl RawAce {
    pub fn is_inherited(&self) -> bool {
        self.flags & ace_flags::INHERITED != 0
    }
}

/// One entry of an ACL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AclEntry {
    Ace(Ace),
    Raw(RawAce),
}

impl AclEntry {
    pub fn as_ace(&self) -> Option<&Ace> {
        match self {
            AclEntry::Ace(a) => Some(a),
            AclEntry::Raw(_) => None,
        }
    }

    pub fn flags(&self) -> u8 {
        match self {
            AclEntry::Ace(a) => a.flags,
            AclEntry::Raw(r) => r.flags,
        }
    }

    pub fn is_inherited(&self) -> bool {
        self.flags() & ace_flags::INHERITED != 0
    }

    /// Encoded size in bytes.
    pub fn byte_len(&self) -> usize {
        match self {
            AclEntry::Ace(a) => a.byte_len(),
            AclEntry::Raw(r) => 4 + r.body.len(),
        }
    }
}

impl From<Ace> for AclEntry {
    fn from(a: Ace) -> AclEntry {
        AclEntry::Ace(a)
    }
}

/// An access-control list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    /// [`ACL_REVISION`] (2) or [`ACL_REVISION_DS`] (4); 3 is accepted on input.
    pub revision: u8,
    pub sbz1: u8,
    pub sbz2: u16,
    pub entries: Vec<AclEntry>,
    /// Bytes after the last ACE inside the declared `AclSize`.
    pub padding: Vec<u8>,
}

impl Default for Acl {
    fn default() -> Self {
        Acl::new()
    }
}

impl Acl {
    /// An empty ACL of revision 2; adding an object ACE through
    /// [`Acl::grant`] raises it to 4.
    pub fn new() -> Acl {
        Acl::with_revision(ACL_REVISION)
    }

    pub fn with_revision(revision: u8) -> Acl {
        Acl { revision, sbz1: 0, sbz2: 0, entries: Vec::new(), padding: Vec::new() }
    }

    /// The modelled ACEs, skipping raw ones.
    pub fn aces(&self) -> impl Iterator<Item = &Ace> {
        self.entries.iter().filter_map(AclEntry::as_ace)
    }

    /// Encoded size in bytes.
    pub fn byte_len(&self) -> usize {
        8 + self.entries.iter().map(AclEntry::byte_len).sum::<usize>() + self.padding.len()
    }
}

//! Access-mask bits with their AD names, the generic mapping AD applies, and
//! the access evaluation behind `ad::has_access`.
//!
//! Evaluation follows Windows's walk over a DACL: ACEs are taken in order;
//! an allow ACE grants the bits not already denied, a deny ACE denies the
//! bits not already granted. Inherit-only ACEs and unmodelled ACE types are
//! skipped. Generic bits are mapped with [`map_generic`] before comparing, so
//! `GA` and `RPWPCRCCDCLCLORCWOWDSDDTSW` are the same thing.

use super::acl::{AceKind, Acl};
use crate::directory::guid::Guid;
use crate::directory::sid::Sid;

/// Create child (`CC`).
pub const CREATE_CHILD: u32 = 0x0000_0001;
/// Delete child (`DC`).
pub const DELETE_CHILD: u32 = 0x0000_0002;
/// List contents (`LC`).
pub const LIST_CHILDREN: u32 = 0x0000_0004;
/// Validated write (`SW`).
pub const SELF_WRITE: u32 = 0x0000_0008;
/// Read property (`RP`).
pub const READ_PROPERTY: u32 = 0x0000_0010;
/// Write property (`WP`).
pub const WRITE_PROPERTY: u32 = 0x0000_0020;
/// Delete tree (`DT`).
pub const DELETE_TREE: u32 = 0x0000_0040;
/// List object (`LO`).
pub const LIST_OBJECT: u32 = 0x0000_0080;
/// Control access / extended right (`CR`).
pub const CONTROL_ACCESS: u32 = 0x0000_0100;
/// Standard delete (`SD`).
pub const DELETE: u32 = 0x0001_0000;
/// Read control (`RC`).
pub const READ_CONTROL: u32 = 0x0002_0000;
/// Write DAC (`WD`).
pub const WRITE_DAC: u32 = 0x0004_0000;
/// Write owner (`WO`).
pub const WRITE_OWNER: u32 = 0x0008_0000;
/// Generic all (`GA`).
pub const GENERIC_ALL: u32 = 0x1000_0000;
/// Generic execute (`GX`).
pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
/// Generic write (`GW`).
pub const GENERIC_WRITE: u32 = 0x4000_0000;
/// Generic read (`GR`).
pub const GENERIC_READ: u32 = 0x8000_0000;

/// What `GR` means on an AD object: RC | LC | RP | LO.
pub const AD_GENERIC_READ: u32 = 0x0002_0094;
/// What `GW` means on an AD object: RC | WP | SW.
pub const AD_GENERIC_WRITE: u32 = 0x0002_0028;
/// What `GX` means on an AD object: RC | LC.
pub const AD_GENERIC_EXECUTE: u32 = 0x0002_0004;
/// What `GA` means on an AD object: every AD-specific and standard right.
pub const AD_ALL: u32 = 0x000F_01FF;

/// Right letters in the order Samba 4.17 prints them; a mask made only of
/// these bits prints as letters, any other mask as `0x%08x`.
pub(crate) const AD_RIGHT_LETTERS: [(&str, u32); 17] = [
    ("RP", READ_PROPERTY),
    ("WP", WRITE_PROPERTY),
    ("CR", CONTROL_ACCESS),
    ("CC", CREATE_CHILD),
    ("DC", DELETE_CHILD),
    ("LC", LIST_CHILDREN),
    ("LO", LIST_OBJECT),
    ("RC", READ_CONTROL),
    ("WO", WRITE_OWNER),
    ("WD", WRITE_DAC),
    ("SD", DELETE),
    ("DT", DELETE_TREE),
    ("SW", SELF_WRITE),
    ("GA", GENERIC_ALL),
    ("GR", GENERIC_READ),
    ("GW", GENERIC_WRITE),
    ("GX", GENERIC_EXECUTE),
];

/// File and registry right letters accepted when parsing SDDL (never printed),
/// with their [MS-DTYP] 2.5.1.1 values.
pub(crate) const OTHER_RIGHT_LETTERS: [(&str, u32); 8] = [
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
];

/// The value of a two-letter right, if it is one.
pub fn right_by_letters(letters: &str) -> Option<u32> {
    AD_RIGHT_LETTERS
        .iter()
        .chain(OTHER_RIGHT_LETTERS.iter())
        .find(|(l, _)| *l == letters)
        .map(|(_, v)| *v)
}

/// Formats a mask the way Samba 4.17 does: letters when every set bit has one
/// (empty for 0), otherwise `0x` and eight lower-case hex digits.
pub fn format_mask(mask: u32) -> String {
    let known = AD_RIGHT_LETTERS.iter().fold(0, |acc, (_, v)| acc | v);
    if mask & !known != 0 {
        return format!("0x{mask:08x}");
    }
    AD_RIGHT_LETTERS.iter().filter(|(_, v)| mask & v != 0).map(|(l, _)| *l).collect()
}

/// Replaces the generic bits of `mask` by what they mean on an AD object.
pub fn map_generic(mask: u32) -> u32 {
    let mut out = mask & !(GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ);
    for (bit, meaning) in [
        (GENERIC_READ, AD_GENERIC_READ),
        (GENERIC_WRITE, AD_GENERIC_WRITE),
        (GENERIC_EXECUTE, AD_GENERIC_EXECUTE),
        (GENERIC_ALL, AD_ALL),
    ] {
        if mask & bit != 0 {
            out |= meaning;
        }
    }
    out
}

/// The rights (generic bits mapped) that `dacl` gives a principal whose token
/// holds `trustee_sids`, on the object itself (`object_type` `None`) or on the
/// property / property set / extended right / child class `object_type`.
///
/// Explicit and inherited ACEs count; inherit-only ones do not. An object ACE
/// applies when it names no object type or names `object_type`. Deny ACEs win
/// only over bits not granted by an earlier ACE, as in Windows's access check
/// (for a canonical DACL: denies first). Owner-implied rights are not added.
pub fn effective_rights(dacl: &Acl, trustee_sids: &[Sid], object_type: Option<Guid>) -> u32 {
    let (mut granted, mut denied) = (0u32, 0u32);
    for ace in dacl.aces() {
        if ace.is_inherit_only() || !trustee_sids.contains(&ace.trustee) {
            continue;
        }
        // An object ACE about one property or right says nothing about others.
        if let Some(t) = ace.object_type
            && object_type != Some(t)
        {
            continue;
        }
        let bits = map_generic(ace.mask);
        match ace.ace_type.kind() {
            AceKind::Allow => granted |= bits & !denied,
            AceKind::Deny => denied |= bits & !granted,
            AceKind::Audit => {}
        }
    }
    granted
}

/// True when [`effective_rights`] includes every bit of `wanted` (generic bits mapped).
pub fn has_access(
    dacl: &Acl,
    trustee_sids: &[Sid],
    object_type: Option<Guid>,
    wanted: u32,
) -> bool {
    let wanted = map_generic(wanted);
    effective_rights(dacl, trustee_sids, object_type) & wanted == wanted
}

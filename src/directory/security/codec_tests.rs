//! Hand-built edge cases for the binary codec and the SDDL parser: the
//! shapes Samba never writes but a directory might hold, and the errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::binary::SdErrorKind as K;
use super::{AclEntry, SdPart, SecurityDescriptor, control as c};
use crate::directory::sid::Sid;

/// header(rev 1, control, offsets) + body.
fn sd(control: u16, offsets: [u32; 4], body: &[u8]) -> Vec<u8> {
    let mut out = vec![1, 0];
    out.extend_from_slice(&control.to_le_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(body);
    out
}

const WORLD: [u8; 12] = [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];

fn dacl_with(aces: &[&[u8]], padding: &[u8]) -> Vec<u8> {
    let size = 8 + aces.iter().map(|a| a.len()).sum::<usize>() + padding.len();
    let mut out = vec![2, 0];
    out.extend_from_slice(&(size as u16).to_le_bytes());
    out.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    for a in aces {
        out.extend_from_slice(a);
    }
    out.extend_from_slice(padding);
    out
}

fn allow_world(extra: &[u8]) -> Vec<u8> {
    let size = 8 + WORLD.len() + extra.len();
    let mut out = vec![0, 0, size as u8, 0, 0x10, 0, 0, 0];
    out.extend_from_slice(&WORLD);
    out.extend_from_slice(extra);
    out
}

#[test]
fn odd_but_valid_shapes_round_trip_exactly() {
    // Callback ACE (0x09) with application data, allow ACE with 4 bytes after
    // its SID, ACL padding, a gap before the DACL and bytes after it.
    let callback: Vec<u8> = [&[9u8, 0, 24, 0, 0x10, 0, 0, 0][..], &WORLD, b"artx"].concat();
    let dacl = dacl_with(&[&callback, &allow_world(&[0xAA, 0, 0, 0])], &[0, 0, 0, 0]);
    let mut body = vec![0xEE; 4];
    body.extend_from_slice(&dacl);
    body.extend_from_slice(&[1, 2, 3]);
    let bytes = sd(c::SE_SELF_RELATIVE | c::SE_DACL_PRESENT, [0, 0, 0, 24], &body);
    let parsed = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(parsed.to_bytes().unwrap(), bytes);
    let acl = parsed.dacl.as_ref().unwrap();
    assert!(
        matches!(&acl.entries[0], AclEntry::Raw(r) if r.ace_type == 9 && r.body.ends_with(b"artx"))
    );
    assert_eq!(acl.aces().next().unwrap().extra, [0xAA, 0, 0, 0]);
    assert_eq!(acl.padding, [0, 0, 0, 0]);
    assert!(parsed.to_sddl(None).is_err(), "a callback ACE has no SDDL form here");

    // Editing keeps the gap and trailing bytes but stays well-formed.
    let mut edited = parsed.clone();
    edited.dacl.as_mut().unwrap().entries.remove(0);
    let re = SecurityDescriptor::from_bytes(&edited.to_bytes().unwrap()).unwrap();
    assert_eq!(re, edited);
    assert_eq!(edited.dacl_only().to_bytes().unwrap().len(), 20 + 8 + 24 + 4);
}

#[test]
fn windows_order_is_kept_and_relayout_is_canonical() {
    let sid544: Sid = "S-1-5-32-544".parse().unwrap();
    let dacl = dacl_with(&[&allow_world(&[])], &[]);
    let dacl_len = dacl.len() as u32;
    let mut body = dacl.clone();
    body.extend_from_slice(&sid544.to_bytes());
    let bytes = sd(c::SE_SELF_RELATIVE | c::SE_DACL_PRESENT, [20 + dacl_len, 0, 0, 20], &body);
    let mut parsed = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert_eq!(parsed.to_bytes().unwrap(), bytes);
    assert_eq!(parsed.part_order()[..2], [SdPart::Dacl, SdPart::Owner]);
    parsed.relayout(&SdPart::SAMBA_ORDER);
    let samba = parsed.to_bytes().unwrap();
    assert_eq!(samba[4..8], 20u32.to_le_bytes());
    assert_eq!(SecurityDescriptor::from_bytes(&samba).unwrap(), parsed);
}

fn kind(bytes: &[u8]) -> (usize, K) {
    let e = SecurityDescriptor::from_bytes(bytes).unwrap_err();
    assert!(!e.to_string().is_empty());
    (e.offset, e.kind)
}

#[test]
fn malformed_input_is_a_typed_error_with_offset() {
    let p = c::SE_SELF_RELATIVE | c::SE_DACL_PRESENT;
    assert!(matches!(kind(&[1, 0, 4]), (0, K::Truncated { .. })));
    assert!(matches!(kind(&sd(p, [0; 4], &[])[..19]), (0, K::Truncated { .. })));
    let mut bad_rev = sd(p, [0; 4], &[]);
    bad_rev[0] = 2;
    assert!(matches!(kind(&bad_rev), (0, K::Revision(2))));
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 99], &[0; 8])),
        (16, K::OffsetOutOfRange { value: 99, .. })
    ));
    assert!(matches!(kind(&sd(p, [0, 0, 0, 4], &[0; 8])), (16, K::OffsetOutOfRange { .. })));
    assert!(matches!(kind(&sd(p, [u32::MAX, 0, 0, 0], &[])), (4, K::OffsetOutOfRange { .. })));
    // Owner and group on the same bytes.
    assert!(matches!(kind(&sd(p, [20, 20, 0, 0], &WORLD)), (20, K::Overlap { .. })));
    // Owner starting inside the DACL's padding.
    let mut body = dacl_with(&[], &WORLD[..8]);
    body.extend_from_slice(&WORLD[8..]);
    assert!(matches!(kind(&sd(p, [28, 0, 0, 20], &body)), (28, K::Overlap { .. })));
    // ACL revision, size smaller than the header, size past the end.
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 20], &[9, 0, 8, 0, 0, 0, 0, 0])),
        (20, K::AclRevision(9))
    ));
    assert!(matches!(kind(&sd(p, [0, 0, 0, 20], &[2, 0, 4, 0, 0, 0, 0, 0])), (22, K::AclSize(4))));
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 20], &[2, 0, 64, 0, 0, 0, 0, 0])),
        (20, K::Truncated { .. })
    ));
    // AceCount 0xFFFF with one ACE.
    let mut lying = dacl_with(&[&allow_world(&[])], &[]);
    lying[4..6].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert!(matches!(kind(&sd(p, [0, 0, 0, 20], &lying)), (48, K::AceBounds { index: 1, .. })));
    // AceSize past the ACL, AceSize 0, AceSize too small for the SID.
    let mut big = allow_world(&[]);
    big[2] = 200;
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 20], &dacl_with(&[&big], &[]))),
        (28, K::AceBounds { index: 0, .. })
    ));
    let zero = [0u8, 0, 0, 0];
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 20], &dacl_with(&[&zero], &[]))),
        (28, K::AceBounds { .. })
    ));
    let mut small = allow_world(&[]);
    small[2] = 12;
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 20], &dacl_with(&[&small[..12]], &[]))),
        (36, K::Sid(_))
    ));
    // Object ACE with undefined object flags.
    let obj: Vec<u8> = [&[5u8, 0, 24, 0, 0x10, 0, 0, 0, 4, 0, 0, 0][..], &WORLD].concat();
    assert!(matches!(
        kind(&sd(p, [0, 0, 0, 20], &dacl_with(&[&obj], &[]))),
        (36, K::ObjectFlags(4))
    ));
    // Owner SID with revision 2.
    let mut sid = WORLD;
    sid[0] = 2;
    assert!(matches!(kind(&sd(p, [20, 0, 0, 0], &sid)), (20, K::Sid(_))));
}

fn sddl_err(text: &str, domain: Option<&Sid>) -> (usize, String) {
    let e = SecurityDescriptor::from_sddl(text, domain).unwrap_err();
    (e.pos, e.msg)
}

#[test]
fn sddl_errors_point_at_the_problem() {
    let d: Sid = "S-1-5-21-1-2-3".parse().unwrap();
    let dom = Some(&d);
    assert_eq!(sddl_err("O:DA", None).0, 2);
    assert!(sddl_err("O:DA", None).1.contains("no domain SID"));
    assert_eq!(sddl_err("D:(XA;;FA;;;WD;(@User.x == 1))", dom).0, 3);
    assert!(sddl_err("D:(ML;;NW;;;LW)", dom).1.contains("unsupported ACE type"));
    assert_eq!(sddl_err("D:(A;;RP;;;WD;)", dom).0, 14);
    assert_eq!(sddl_err("D:(A;;RP;;WD)", dom).0, 12);
    assert_eq!(sddl_err("D:(A;CIXX;RP;;;WD)", dom).0, 7);
    assert_eq!(sddl_err("D:(A;;RPxx;;;WD)", dom).0, 8);
    assert_eq!(sddl_err("D:(A;;0x100000000;;;WD)", dom).0, 6);
    assert_eq!(sddl_err("D:(A;;RP;;;WDX)", dom).0, 11);
    assert_eq!(sddl_err("D:(A;;RP;5df2b673-6d41-4774-b3e8-d52e8ee9ff99;;WD)", dom).0, 9);
    assert_eq!(sddl_err("D:(OA;;RP;5df2b673;;WD)", dom).0, 10);
    assert_eq!(sddl_err("D:(A;;RP;;;WD", dom).0, 2);
    assert_eq!(sddl_err("D:(A;;RP;;;WD)X", dom).0, 14);
    assert_eq!(sddl_err("O:BAO:BA", dom).0, 4);
    assert_eq!(sddl_err("éO:ZZ", dom).0, 0);
    assert_eq!(sddl_err("O:BAG:ZZ", dom).0, 6);
    assert_eq!(sddl_err("D:éé(A;;RP;;;WD)", dom).0, 2);
    assert_eq!(sddl_err("D:(A;;RP;;;S-1-5-32-544 )", dom).0, 23);
    assert_eq!(sddl_err("D:NO_ACCESS_CONTROL(A;;RP;;;WD)", dom).0, 19);
}

#[test]
fn sddl_accepts_the_windows_and_mstdyp_spellings() {
    let p = |s: &str| SecurityDescriptor::from_sddl(s, None).unwrap();
    let null = p("D:PNO_ACCESS_CONTROLS:NO_ACCESS_CONTROL");
    assert!(null.has_null_dacl() && null.sacl.is_none() && null.has_control(c::SE_DACL_PROTECTED));
    assert_eq!(null.to_sddl(None).unwrap(), "D:PNO_ACCESS_CONTROLS:NO_ACCESS_CONTROL");
    let masks = p("D:(A;;16;;;WD)(A;;020;;;WD)(A;;0X10;;;WD)(A;;FA;;;WD)(A;;KA;;;s-1-1-0)");
    let got: Vec<u32> = masks.dacl.unwrap().aces().map(|a| a.mask).collect();
    assert_eq!(got, [16, 16, 16, 0x1F01FF, 0xF003F]);
    let hex_auth = p("O:S-1-0x123456789ABC-1D:");
    assert_eq!(hex_auth.owner.unwrap().authority(), 0x1234_5678_9ABC);
    assert_eq!(
        p("").to_bytes().unwrap(),
        [1, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn sddl_refuses_what_it_cannot_say() {
    let mut sd = SecurityDescriptor::from_sddl("O:BAD:(A;;RP;;;WD)", None).unwrap();
    assert_eq!(sd.to_sddl(None).unwrap(), "O:BAD:(A;;RP;;;WD)");
    if let Some(AclEntry::Ace(a)) = sd.dacl.as_mut().and_then(|d| d.entries.first_mut()) {
        a.flags = 0x20;
    }
    let e = sd.to_sddl(None).unwrap_err();
    assert_eq!((e.pos, e.msg.contains("0x20")), (6, true));
}

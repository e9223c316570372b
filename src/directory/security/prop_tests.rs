//! Property tests: round trips over generated descriptors, and no panics on
//! arbitrary or mutated input. Case counts are kept low enough for a 2-core CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use super::golden_tests::{vector_bytes, vectors};
use super::{
    Ace, AceType, Acl, AclEntry, Layout, RawAce, SdPart, SecurityDescriptor, ace_flags,
    control as c,
};
use crate::directory::guid::Guid;
use crate::directory::sid::Sid;

fn dom() -> Sid {
    "S-1-5-21-516664053-1928398449-203945938".parse().unwrap()
}

fn sid() -> impl Strategy<Value = Sid> {
    prop_oneof![
        prop::sample::select(vec![
            "S-1-1-0",
            "S-1-5-11",
            "S-1-5-18",
            "S-1-5-32-544",
            "S-1-3-0",
            "S-1-5-84-0-0-0-0-0"
        ])
        .prop_map(|s| s.parse().unwrap()),
        prop::sample::select(vec![498u32, 500, 512, 513, 519, 526, 527, 1107, 9999])
            .prop_map(|r| dom().with_rid(r).unwrap()),
        (0u64..=0xFFFF_FFFF_FFFF, prop::collection::vec(any::<u32>(), 0..=15))
            .prop_map(|(a, subs)| Sid::new(a, subs).unwrap()),
    ]
}

fn guid() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(|b| Guid::from_bytes(&b).unwrap())
}

/// ACEs SDDL can express.
fn ace() -> impl Strategy<Value = Ace> {
    let types = prop::sample::select(vec![
        AceType::AccessAllowed,
        AceType::AccessDenied,
        AceType::SystemAudit,
        AceType::AccessAllowedObject,
        AceType::AccessDeniedObject,
        AceType::SystemAuditObject,
    ]);
    let mask = prop_oneof![
        any::<u32>(),
        prop::sample::select(vec![0, 0x10, 0x20094, 0xF01FF, 0x1000_0000])
    ];
    (types, any::<u8>(), mask, prop::option::of(guid()), prop::option::of(guid()), sid()).prop_map(
        |(t, flags, mask, o, i, trustee)| {
            let mut a = Ace::new(t, flags & ace_flags::ALL, mask, trustee);
            if t.is_object() {
                a.object_type = o;
                a.inherited_object_type = i;
            }
            a
        },
    )
}

/// An ACL the SDDL parser would produce: revision 4, modelled ACEs only.
fn sddl_acl() -> impl Strategy<Value = Acl> {
    prop::collection::vec(ace(), 0..6).prop_map(|aces| {
        let mut acl = Acl::with_revision(4);
        acl.entries = aces.into_iter().map(AclEntry::Ace).collect();
        acl
    })
}

/// `None`: absent; `Some(None)`: NULL ACL; `Some(Some(acl))`: an ACL.
fn sddl_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    let part = || prop::option::of(prop::option::of(sddl_acl()));
    (prop::option::of(sid()), prop::option::of(sid()), part(), part(), any::<u16>()).prop_map(
        |(owner, group, dacl, sacl, flag_bits)| {
            let mut sd = SecurityDescriptor::new();
            sd.owner = owner;
            sd.group = group;
            let dflags =
                c::SE_DACL_PROTECTED | c::SE_DACL_AUTO_INHERIT_REQ | c::SE_DACL_AUTO_INHERITED;
            if let Some(d) = dacl {
                sd.control |= c::SE_DACL_PRESENT | (flag_bits & dflags);
                sd.dacl = d;
            }
            if let Some(s) = sacl {
                sd.control |= c::SE_SACL_PRESENT | (flag_bits & (dflags << 1));
                sd.sacl = s;
            }
            sd
        },
    )
}

/// ACL entries including what SDDL cannot express: raw ACEs, bytes after SIDs.
fn any_entry() -> impl Strategy<Value = AclEntry> {
    let raw_type = prop::sample::select(vec![3u8, 4, 8, 9, 0x0b, 0x11, 0x12, 0x13, 0xff]);
    prop_oneof![
        (ace(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..6)).prop_map(
            |(mut a, f, extra)| {
                a.flags = f;
                a.extra = extra;
                AclEntry::Ace(a)
            }
        ),
        (raw_type, any::<u8>(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(t, f, body)| AclEntry::Raw(RawAce { ace_type: t, flags: f, body })),
    ]
}

fn any_acl() -> impl Strategy<Value = Acl> {
    (
        2u8..=4,
        any::<u8>(),
        any::<u16>(),
        prop::collection::vec(any_entry(), 0..5),
        prop::collection::vec(any::<u8>(), 0..5),
    )
        .prop_map(|(revision, sbz1, sbz2, entries, padding)| Acl {
            revision,
            sbz1,
            sbz2,
            entries,
            padding,
        })
}

/// Any encodable descriptor, with a random part order, gaps and trailing bytes.
fn any_descriptor() -> impl Strategy<Value = SecurityDescriptor> {
    let gap = || prop::collection::vec(any::<u8>(), 0..4);
    (
        (any::<u8>(), any::<u16>(), prop::option::of(sid()), prop::option::of(sid())),
        (prop::option::of(any_acl()), prop::option::of(any_acl())),
        Just(SdPart::SAMBA_ORDER.to_vec()).prop_shuffle(),
        (gap(), gap(), gap(), gap(), gap()),
    )
        .prop_map(
            |((sbz1, control, owner, group), (sacl, dacl), order, (g0, g1, g2, g3, trailing))| {
                let mut sd = SecurityDescriptor {
                    sbz1,
                    control,
                    owner,
                    group,
                    sacl,
                    dacl,
                    ..SecurityDescriptor::new()
                };
                let gaps = order
                    .iter()
                    .copied()
                    .zip([g0, g1, g2, g3])
                    .filter(|(_, g)| !g.is_empty())
                    .collect();
                sd.layout = Layout { order, gaps, trailing };
                sd
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn sddl_binary_sddl_round_trip(sd in sddl_descriptor()) {
        let d = dom();
        let text = sd.to_sddl(Some(&d)).unwrap();
        let parsed = SecurityDescriptor::from_sddl(&text, Some(&d)).unwrap();
        prop_assert_eq!(&parsed, &sd, "{}", text);
        let bytes = parsed.to_bytes().unwrap();
        let decoded = SecurityDescriptor::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&decoded, &sd);
        prop_assert_eq!(decoded.to_sddl(Some(&d)).unwrap(), text.clone());
        // Without a domain, domain SIDs print as S-1-… and still round-trip.
        let plain = sd.to_sddl(None).unwrap();
        prop_assert_eq!(SecurityDescriptor::from_sddl(&plain, None).unwrap(), sd);
    }

    #[test]
    fn binary_model_binary_identity(sd in any_descriptor()) {
        let bytes = sd.to_bytes().unwrap();
        let decoded = SecurityDescriptor::from_bytes(&bytes).unwrap();
        prop_assert_eq!(&decoded, &sd);
        prop_assert_eq!(decoded.to_bytes().unwrap(), bytes);
        let present = |d: &SecurityDescriptor| -> Vec<SdPart> {
            let has = |p: &SdPart| match p {
                SdPart::Owner => d.owner.is_some(),
                SdPart::Group => d.group.is_some(),
                SdPart::Sacl => d.sacl.is_some(),
                SdPart::Dacl => d.dacl.is_some(),
            };
            d.part_order().into_iter().filter(has).collect()
        };
        prop_assert_eq!(present(&decoded), present(&sd));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        if let Ok(sd) = SecurityDescriptor::from_bytes(&bytes) {
            prop_assert_eq!(sd.to_bytes().unwrap(), bytes);
        }
    }

    #[test]
    fn mutated_vectors_never_panic_and_round_trip_if_accepted(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let all = vector_bytes();
        let mut bytes = pick.get(&all).clone();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Ok(sd) = SecurityDescriptor::from_bytes(&bytes) {
            prop_assert_eq!(sd.to_bytes().unwrap(), bytes);
            let _ = sd.to_sddl(Some(&dom()));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,60}") {
        let _ = SecurityDescriptor::from_sddl(&text, Some(&dom()));
    }

    #[test]
    fn sddl_like_strings_never_panic_and_reparse(
        text in "([OGDS]:|\\(|\\)|;|[ADOUPIRCNSGWXLYE]{1,2}|S-1-5-[0-9]{1,3}|0x[0-9a-f]{1,9}|5df2b673-6d41-4774-b3e8-d52e8ee9ff99|NO_ACCESS_CONTROL|é){0,24}"
    ) {
        for domain in [Some(dom()), None] {
            if let Ok(sd) = SecurityDescriptor::from_sddl(&text, domain.as_ref()) {
                let again = sd.to_sddl(domain.as_ref()).unwrap();
                prop_assert_eq!(SecurityDescriptor::from_sddl(&again, domain.as_ref()).unwrap(), sd);
            }
        }
    }

    #[test]
    fn mutated_vector_sddl_never_panics_and_reparses(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
            vec!['(', ')', ';', ':', 'D', 'S', 'A', 'O', 'I', '-', '0', 'x', 'é'])), 1..4),
    ) {
        let all = vectors();
        let v = pick.get(&all);
        let mut text: Vec<char> = v.sddl_samba.chars().collect();
        for (at, op, ch) in edits {
            let i = at.index(text.len() + 1);
            match op {
                0 => text.insert(i, ch),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = ch,
                _ => text.push(ch),
            }
        }
        let text: String = text.into_iter().collect();
        let d: Sid = v.domain_sid.parse().unwrap();
        match SecurityDescriptor::from_sddl(&text, Some(&d)) {
            Ok(sd) => {
                let again = sd.to_sddl(Some(&d)).unwrap();
                prop_assert_eq!(SecurityDescriptor::from_sddl(&again, Some(&d)).unwrap(), sd);
            }
            Err(e) => prop_assert!(e.pos <= text.chars().count(), "{} at {}", e.msg, e.pos),
        }
    }
}

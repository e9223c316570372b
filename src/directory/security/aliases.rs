//! Two-letter SID aliases of SDDL, exactly the set Samba 4.17 knows.
//!
//! Well-known aliases stand for fixed SIDs. Relative aliases are a RID under
//! a domain: the domain's own (DA, DU, …), the machine's (LA, LG) or the
//! forest root's (EA, SA, EK, RO). Like Samba, dwb uses the one domain SID it
//! is given for all three; AD writeback only ever deals with one domain.
//!
//! Formatting picks aliases the way Samba's `sddl_encode_sid` does: a
//! well-known SID by exact match first, else a SID that is exactly the domain
//! SID plus one RID by its RID, else the `S-1-…` form.

use crate::directory::sid::Sid;

/// SID authorities used below.
const WORLD: u64 = 1;
const CREATOR: u64 = 3;
const NT: u64 = 5;
const APP_PACKAGE: u64 = 15;
const MANDATORY_LABEL: u64 = 16;
const IDENTITY: u64 = 18;

/// (alias, authority, sub-authorities), in Samba's table order.
const WELL_KNOWN: &[(&str, u64, &[u32])] = &[
    ("WD", WORLD, &[0]),
    ("CO", CREATOR, &[0]),
    ("CG", CREATOR, &[1]),
    ("OW", CREATOR, &[4]),
    ("NU", NT, &[2]),
    ("IU", NT, &[4]),
    ("SU", NT, &[6]),
    ("AN", NT, &[7]),
    ("ED", NT, &[9]),
    ("PS", NT, &[10]),
    ("AU", NT, &[11]),
    ("RC", NT, &[12]),
    ("SY", NT, &[18]),
    ("LS", NT, &[19]),
    ("NS", NT, &[20]),
    ("WR", NT, &[33]),
    ("BA", NT, &[32, 544]),
    ("BU", NT, &[32, 545]),
    ("BG", NT, &[32, 546]),
    ("PU", NT, &[32, 547]),
    ("AO", NT, &[32, 548]),
    ("SO", NT, &[32, 549]),
    ("PO", NT, &[32, 550]),
    ("BO", NT, &[32, 551]),
    ("RE", NT, &[32, 552]),
    ("RU", NT, &[32, 554]),
    ("RD", NT, &[32, 555]),
    ("NO", NT, &[32, 556]),
    ("MU", NT, &[32, 558]),
    ("LU", NT, &[32, 559]),
    ("IS", NT, &[32, 568]),
    ("CY", NT, &[32, 569]),
    ("ER", NT, &[32, 573]),
    ("CD", NT, &[32, 574]),
    ("RA", NT, &[32, 575]),
    ("ES", NT, &[32, 576]),
    ("MS", NT, &[32, 577]),
    ("HA", NT, &[32, 578]),
    ("AA", NT, &[32, 579]),
    ("RM", NT, &[32, 580]),
    ("UD", NT, &[84, 0, 0, 0, 0, 0]),
    ("AC", APP_PACKAGE, &[2, 1]),
    ("LW", MANDATORY_LABEL, &[4096]),
    ("ME", MANDATORY_LABEL, &[8192]),
    ("MP", MANDATORY_LABEL, &[8448]),
    ("HI", MANDATORY_LABEL, &[12288]),
    ("SI", MANDATORY_LABEL, &[16384]),
    ("AS", IDENTITY, &[1]),
    ("SS", IDENTITY, &[2]),
];

/// (alias, RID) of the aliases relative to the domain (or machine, or forest
/// root, which dwb takes to be the same), in Samba's table order.
const RELATIVE: &[(&str, u32)] = &[
    ("RO", 498),
    ("LA", 500),
    ("LG", 501),
    ("DA", 512),
    ("DU", 513),
    ("DG", 514),
    ("DC", 515),
    ("DD", 516),
    ("CA", 517),
    ("SA", 518),
    ("EA", 519),
    ("PA", 520),
    ("CN", 522),
    ("AP", 525),
    ("KA", 526),
    ("EK", 527),
    ("RS", 553),
];

/// What an alias stands for.
pub(crate) enum Alias {
    Sid(Sid),
    /// A RID under the domain SID, which the caller must supply.
    Relative(u32),
}

/// Looks up a two-letter alias.
pub(crate) fn lookup(alias: &str) -> Option<Alias> {
    if let Some((_, auth, subs)) = WELL_KNOWN.iter().find(|(a, _, _)| *a == alias) {
        return Sid::new(*auth, subs.to_vec()).ok().map(Alias::Sid);
    }
    RELATIVE.iter().find(|(a, _)| *a == alias).map(|(_, rid)| Alias::Relative(*rid))
}

/// The SDDL spelling of `sid`: an alias where Samba would use one, else `S-1-…`.
pub(crate) fn format_sid(sid: &Sid, domain: Option<&Sid>) -> String {
    let well_known = WELL_KNOWN
        .iter()
        .find(|(_, auth, subs)| sid.authority() == *auth && sid.sub_authorities() == *subs);
    if let Some((alias, _, _)) = well_known {
        return (*alias).to_string();
    }
    if let (Some(domain), Some(rid)) = (domain, sid.rid())
        && sid.is_in_domain(domain)
        && let Some((alias, _)) = RELATIVE.iter().find(|(_, r)| *r == rid)
    {
        return (*alias).to_string();
    }
    sid.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_resolves_and_formats_back() {
        let dom: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        for (alias, _, _) in WELL_KNOWN {
            let Some(Alias::Sid(sid)) = lookup(alias) else { unreachable!("{alias}") };
            assert_eq!(format_sid(&sid, None), *alias);
        }
        for (alias, rid) in RELATIVE {
            let sid = dom.with_rid(*rid).unwrap();
            assert_eq!(format_sid(&sid, Some(&dom)), *alias);
            assert_eq!(format_sid(&sid, None), sid.to_string());
        }
        assert_eq!(WELL_KNOWN.len() + RELATIVE.len(), 66, "Samba 4.17 knows 66 aliases");
    }
}

//! DACL edits for `ad::grant` / `ad::revoke`: idempotent, canonical, and
//! aware of the split form Windows and Samba store inheritable generic ACEs in.
//!
//! An ACE is compared by its *effect*, per key (allow/deny/audit, trustee,
//! object type, inherited object type):
//!
//! * on the object itself: the generic-mapped mask, unless inherit-only;
//! * on children: the generic-mapped mask under its inheritance flags
//!   (CI, OI, NP), if it has CI or OI.
//!
//! When an inheritable ACE such as `(A;CI;GA;;;X)` is stored, the server
//! splits it into `(A;CIIO;GA;;;X)` (children, generic bits kept — they are
//! mapped on the child) and `(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;X)` (this
//! object, mapped). Both halves have parts of the original's effect, so
//! `grant` sees them as already granting it and `revoke` removes both.
//!
//! Only explicit ACEs are considered or touched: inherited (ID) ACEs belong
//! to the parent and are rewritten by the server's propagation.

use super::acl::{ACL_REVISION_DS, Ace, AceKind, AceType, Acl, AclEntry, ace_flags};
use super::rights::map_generic;
use crate::directory::guid::Guid;
use crate::directory::sid::Sid;

/// The DACL is an [`Acl`]; the name reads better where edits happen.
pub type Dacl = Acl;

/// Where a granted right applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Inherit {
    /// This object only (no flags).
    This,
    /// This object and all descendants (CI).
    ThisAndChildren,
    /// Descendants only (CI | IO).
    Children,
}

impl Inherit {
    /// The ACE flags this choice stands for.
    pub fn flags(self) -> u8 {
        match self {
            Inherit::This => 0,
            Inherit::ThisAndChildren => ace_flags::CONTAINER_INHERIT,
            Inherit::Children => ace_flags::CONTAINER_INHERIT | ace_flags::INHERIT_ONLY,
        }
    }
}

impl Ace {
    /// `(A;flags;mask;;;trustee)`.
    pub fn allow(trustee: Sid, mask: u32, inherit: Inherit) -> Ace {
        Ace::new(AceType::AccessAllowed, inherit.flags(), mask, trustee)
    }

    /// `(D;flags;mask;;;trustee)`.
    pub fn deny(trustee: Sid, mask: u32, inherit: Inherit) -> Ace {
        Ace::new(AceType::AccessDenied, inherit.flags(), mask, trustee)
    }

    /// An allow ACE limited to a property / extended right / child class
    /// (`object_type`) and/or to children of a class (`inherited_object_type`);
    /// an `OA` ACE when either is given, else a plain `A` one.
    pub fn allow_object(
        trustee: Sid,
        mask: u32,
        inherit: Inherit,
        object_type: Option<Guid>,
        inherited_object_type: Option<Guid>,
    ) -> Ace {
        Ace::allow(trustee, mask, inherit).with_object_types(object_type, inherited_object_type)
    }

    /// The deny counterpart of [`Ace::allow_object`].
    pub fn deny_object(
        trustee: Sid,
        mask: u32,
        inherit: Inherit,
        object_type: Option<Guid>,
        inherited_object_type: Option<Guid>,
    ) -> Ace {
        Ace::deny(trustee, mask, inherit).with_object_types(object_type, inherited_object_type)
    }

    /// Sets the GUIDs, switching to the object ACE type when any is given.
    pub fn with_object_types(
        mut self,
        object_type: Option<Guid>,
        inherited_object_type: Option<Guid>,
    ) -> Ace {
        let object = object_type.is_some() || inherited_object_type.is_some();
        self.ace_type = self.ace_type.with_object(object);
        self.object_type = object_type;
        self.inherited_object_type = inherited_object_type;
        self
    }

    /// Who, what kind, and about which object types: ACEs with equal keys can
    /// stand in for each other. Audit flags count for audit ACEs.
    fn key(&self) -> (AceKind, &Sid, Option<Guid>, Option<Guid>, u8) {
        let kind = self.ace_type.kind();
        let audit = if kind == AceKind::Audit {
            self.flags & (ace_flags::SUCCESSFUL_ACCESS | ace_flags::FAILED_ACCESS)
        } else {
            0
        };
        // Non-object ACE types carry no GUIDs on the wire, so ignore stray ones.
        let (o, i) = if self.ace_type.is_object() {
            (self.object_type, self.inherited_object_type)
        } else {
            (None, None)
        };
        (kind, &self.trustee, o, i, audit)
    }

    /// (mapped rights on this object, (inheritance flags, mapped rights) for children).
    fn effect(&self) -> (u32, Option<(u8, u32)>) {
        let mapped = map_generic(self.mask);
        let here = if self.is_inherit_only() { 0 } else { mapped };
        let inherit = self.flags & (ace_flags::CONTAINER_INHERIT | ace_flags::OBJECT_INHERIT);
        let children = (inherit != 0 && mapped != 0)
            .then_some((self.flags & (inherit | ace_flags::NO_PROPAGATE_INHERIT), mapped));
        (here, children)
    }
}

fn explicit_aces(acl: &Acl) -> impl Iterator<Item = &Ace> {
    acl.aces().filter(|a| !a.is_inherited())
}

impl Acl {
    /// Adds `ace` unless explicit ACEs with the same key already give at least
    /// its effect (see the module docs); returns whether the ACL changed.
    ///
    /// A new deny goes after the leading explicit denies, a new allow (or
    /// audit) before the first inherited ACE, which keeps a canonical ACL
    /// canonical. The revision becomes 4 when an object ACE is added.
    pub fn grant(&mut self, ace: Ace) -> bool {
        let key = ace.key();
        let (here, children) = ace.effect();
        let (mut have_here, mut have_children) = (0u32, 0u32);
        for e in explicit_aces(self).filter(|e| e.key() == key) {
            let (h, c) = e.effect();
            have_here |= h;
            if let (Some((want_flags, _)), Some((flags, bits))) = (children, c)
                && flags == want_flags
            {
                have_children |= bits;
            }
        }
        let covered =
            here & !have_here == 0 && children.is_none_or(|(_, bits)| bits & !have_children == 0);
        if covered {
            return false;
        }
        let explicit_deny = |e: &AclEntry| matches!(e, AclEntry::Ace(a) if a.ace_type.kind() == AceKind::Deny && !a.is_inherited());
        let at = match ace.ace_type.kind() {
            AceKind::Deny => {
                self.entries.iter().position(|e| !explicit_deny(e)).unwrap_or(self.entries.len())
            }
            _ if ace.is_inherited() => self.entries.len(),
            _ => self.entries.iter().position(AclEntry::is_inherited).unwrap_or(self.entries.len()),
        };
        if ace.ace_type.is_object() && self.revision < ACL_REVISION_DS {
            self.revision = ACL_REVISION_DS;
        }
        self.entries.insert(at, AclEntry::Ace(ace));
        true
    }

    /// Removes the explicit ACEs that a `grant(ace)` would have added or found
    /// sufficient as its stored split form: same key, and each of their
    /// effects (on this object, on children) is either absent or exactly
    /// `ace`'s. Inherited ACEs are never removed. Returns how many went.
    pub fn revoke(&mut self, ace: &Ace) -> usize {
        let key = ace.key();
        let (here, children) = ace.effect();
        let before = self.entries.len();
        self.entries.retain(|entry| {
            let AclEntry::Ace(e) = entry else { return true };
            if e.is_inherited() || e.key() != key {
                return true;
            }
            let (h, c) = e.effect();
            let matches =
                (h != 0 || c.is_some()) && (h == 0 || h == here) && (c.is_none() || c == children);
            !matches
        });
        before - self.entries.len()
    }

    /// Removes every explicit modelled ACE whose trustee is `trustee`; returns how many.
    pub fn revoke_trustee(&mut self, trustee: &Sid) -> usize {
        let before = self.entries.len();
        self.entries.retain(
            |e| !matches!(e, AclEntry::Ace(a) if !a.is_inherited() && a.trustee == *trustee),
        );
        before - self.entries.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::directory::security::{SecurityDescriptor, effective_rights, has_access, rights};

    fn dom() -> Sid {
        "S-1-5-21-1-2-3".parse().unwrap()
    }

    fn dacl(sddl: &str) -> Acl {
        SecurityDescriptor::from_sddl(sddl, Some(&dom())).unwrap().dacl.unwrap()
    }

    fn sddl(acl: &Acl) -> String {
        let mut sd = SecurityDescriptor::new();
        sd.set_dacl(Some(acl.clone()));
        sd.to_sddl(Some(&dom())).unwrap()
    }

    fn da() -> Sid {
        dom().with_rid(512).unwrap()
    }

    const DEVICE: &str = "5df2b673-6d41-4774-b3e8-d52e8ee9ff99";

    #[test]
    fn grant_is_idempotent_and_canonical() {
        let mut acl = dacl("D:(D;;WP;;;WD)(A;;RP;;;AU)(A;ID;RP;;;SY)");
        assert!(acl.grant(Ace::allow(
            da(),
            rights::READ_PROPERTY | rights::WRITE_PROPERTY,
            Inherit::This
        )));
        assert!(!acl.grant(Ace::allow(da(), rights::WRITE_PROPERTY, Inherit::This)));
        assert!(acl.grant(Ace::deny(da(), rights::DELETE, Inherit::This)));
        assert_eq!(
            sddl(&acl),
            "D:(D;;WP;;;WD)(D;;SD;;;DA)(A;;RP;;;AU)(A;;RPWP;;;DA)(A;ID;RP;;;SY)"
        );
        assert_eq!(
            acl.revoke(&Ace::allow(
                da(),
                rights::READ_PROPERTY | rights::WRITE_PROPERTY,
                Inherit::This
            )),
            1
        );
        assert_eq!(acl.revoke(&Ace::deny(da(), rights::DELETE, Inherit::This)), 1);
        assert_eq!(sddl(&acl), "D:(D;;WP;;;WD)(A;;RP;;;AU)(A;ID;RP;;;SY)");
    }

    #[test]
    fn split_generic_form_counts_as_granted_and_is_revoked_whole() {
        let mut acl =
            dacl("D:(A;CIIO;GA;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;CIID;GA;;;DA)");
        let ga = Ace::allow(da(), rights::GENERIC_ALL, Inherit::ThisAndChildren);
        assert!(!acl.grant(ga.clone()));
        assert!(!acl.grant(Ace::allow(da(), rights::GENERIC_ALL, Inherit::Children)));
        assert!(!acl.grant(Ace::allow(da(), rights::AD_ALL, Inherit::This)));
        assert_eq!(acl.revoke(&ga), 2);
        assert_eq!(sddl(&acl), "D:(A;CIID;GA;;;DA)", "inherited ACE stays");
    }

    #[test]
    fn inheritance_and_object_types_are_part_of_the_effect() {
        let dev: Guid = DEVICE.parse().unwrap();
        let mut acl = Acl::new();
        assert!(acl.grant(Ace::allow(da(), rights::READ_PROPERTY, Inherit::This)));
        assert!(acl.grant(Ace::allow(da(), rights::READ_PROPERTY, Inherit::ThisAndChildren)));
        assert!(!acl.grant(Ace::allow(da(), rights::READ_PROPERTY, Inherit::Children)));
        assert_eq!(acl.revision, 2);
        assert!(acl.grant(Ace::allow_object(
            da(),
            rights::GENERIC_ALL,
            Inherit::Children,
            None,
            Some(dev)
        )));
        assert_eq!(acl.revision, 4, "object ACE needs ACL_REVISION_DS");
        assert!(!acl.grant(Ace::allow_object(
            da(),
            rights::AD_ALL,
            Inherit::Children,
            None,
            Some(dev)
        )));
        // An OA ACE without GUIDs is the same as an A ACE.
        assert!(!acl.grant(Ace::new(AceType::AccessAllowedObject, 0, rights::READ_PROPERTY, da())));
        assert_eq!(sddl(&acl), format!("D:(A;;RP;;;DA)(A;CI;RP;;;DA)(OA;CIIO;GA;;{DEVICE};DA)"));
        assert_eq!(acl.revoke(&Ace::allow(da(), rights::READ_PROPERTY, Inherit::This)), 1);
        assert_eq!(acl.revoke_trustee(&da()), 2);
        assert!(acl.entries.is_empty());
    }

    #[test]
    fn effective_rights_follow_order_generic_mapping_and_object_types() {
        let dev: Guid = DEVICE.parse().unwrap();
        let au: Sid = "S-1-5-11".parse().unwrap();
        let me = [da(), au.clone()];
        let acl = dacl(&format!(
            "D:(OD;;WP;{DEVICE};;DA)(A;;GR;;;AU)(A;CIIO;GA;;;DA)(OA;;WPCR;{DEVICE};;DA)(A;ID;SD;;;DA)(D;;RC;;;DA)"
        ));
        assert_eq!(effective_rights(&acl, &me, None), rights::AD_GENERIC_READ | rights::DELETE);
        assert_eq!(
            effective_rights(&acl, &me, Some(dev)),
            rights::AD_GENERIC_READ | rights::DELETE | rights::CONTROL_ACCESS
        );
        assert!(has_access(&acl, &me, None, rights::GENERIC_READ));
        assert!(!has_access(&acl, &me, Some(dev), rights::WRITE_PROPERTY));
        assert_eq!(effective_rights(&acl, &[au], None), rights::AD_GENERIC_READ);
        let mut null = SecurityDescriptor::new();
        null.set_null_dacl();
        assert_eq!(null.effective_rights(&[], None), rights::AD_ALL);
    }
}

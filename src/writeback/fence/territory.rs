//! dwb's territory in a forest: the objects each standard script writes and
//! how, so a saved plan (or an undo) is held to what its origin could do. A
//! plan of any other origin (a site's own script, a forged `script`) may do
//! only what one of the standard scripts could.

use crate::ad::WriteOp;
use crate::directory::security::rights::{
    CREATE_CHILD, DELETE_CHILD, LIST_CHILDREN, LIST_OBJECT, READ_CONTROL, READ_PROPERTY,
    SELF_WRITE, WRITE_PROPERTY,
};
use crate::directory::security::{Ace, AceKind, ace_flags};
use crate::directory::{Attr, Dn};
use crate::error::Result;
use crate::plan::ChangeOp;
use crate::plan::acl::AclEdit;

/// The script a plan or a journaled run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Sync,
    Prepare,
    Adopt,
    Retire,
    Enable,
    /// Reads only: its plans hold no changes.
    Verify,
    /// A site's own script, or a `script` field nobody can vouch for.
    Other,
}

impl Origin {
    /// The origin a plan's `script` names: only dwb's embedded scripts are
    /// standard (a file of the same name on disk may do anything).
    pub fn of(script: &str) -> Origin {
        match script.strip_prefix("<embedded>/scripts/") {
            Some("sync.rhai") => Origin::Sync,
            Some("prepare.rhai") => Origin::Prepare,
            Some("adopt.rhai") => Origin::Adopt,
            Some("retire.rhai") => Origin::Retire,
            Some("enable.rhai") => Origin::Enable,
            Some("verify.rhai") => Origin::Verify,
            _ => Origin::Other,
        }
    }
}

/// The objects of one forest that prepare, retire and enable manage (names
/// as in stdlib/names.rhai) and the device container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    pub drc: Dn,
    pub drs_container: Dn,
    pub drs: Dn,
    pub container: Dn,
    /// enable's hybrid-join service connection point.
    pub scp: Dn,
}

/// The SCP's name (scripts/enable.rhai; docs/device-writeback.md §A.2 #5).
const SCP_CN: &str = "62a0ff2e-97b9-4513-943f-0d221bd30080";

impl Places {
    pub fn new(config: &Dn, container: Dn) -> Result<Places> {
        let drc =
            config.child("CN", "Services")?.child("CN", "Device Registration Configuration")?;
        let drs_container = drc.child("CN", "Device Registration Services")?;
        let drs = drs_container.child("CN", "DeviceRegistrationService")?;
        let scp = drc.child("CN", SCP_CN)?;
        Ok(Places { drc, drs_container, drs, container, scp })
    }

    /// The prepare object at `dn` and its class.
    fn prepared(&self, dn: &Dn) -> Option<&'static str> {
        [
            (&self.drc, "container"),
            (&self.drs_container, "msDS-DeviceRegistrationServiceContainer"),
            (&self.drs, "msDS-DeviceRegistrationService"),
            (&self.container, "msDS-DeviceContainer"),
        ]
        .into_iter()
        .find(|(p, _)| *p == dn)
        .map(|(_, class)| class)
    }

    /// The objects whose DACL prepare grants the connector its rights on.
    fn acl_target(&self, dn: &Dn) -> bool {
        *dn == self.drc || *dn == self.container
    }
}

fn is(name: &str, want: &str) -> bool {
    name.eq_ignore_ascii_case(want)
}

fn lower(values: &[Vec<u8>]) -> Vec<String> {
    values.iter().map(|v| String::from_utf8_lossy(v).to_ascii_lowercase()).collect()
}

/// The class a create gives its object: exactly `class`.
fn only_class(attrs: &[Attr], class: &str) -> bool {
    attrs
        .iter()
        .find(|a| is(&a.name, "objectClass"))
        .is_some_and(|a| lower(&a.values) == [class.to_ascii_lowercase()])
}

/// The rights prepare's ACEs give (stdlib/permissions.rhai): reading and
/// writing properties, listing, self-write, creating and deleting children.
/// Never WRITE_DAC, WRITE_OWNER, DELETE, GENERIC_ALL or control access.
const GRANTABLE: u32 = READ_PROPERTY
    | WRITE_PROPERTY
    | LIST_CHILDREN
    | LIST_OBJECT
    | READ_CONTROL
    | SELF_WRITE
    | CREATE_CHILD
    | DELETE_CHILD;

/// Trustees no grant of dwb's may name: everyone, every signed-in account,
/// anonymous, the builtin users and guests, and every user or computer of a
/// domain (its Domain Users, Guests and Computers groups).
fn broad(ace: &Ace) -> bool {
    let sid = ace.trustee.to_string();
    ["S-1-1-0", "S-1-5-11", "S-1-5-7", "S-1-5-32-545", "S-1-5-32-546"].contains(&sid.as_str())
        || (sid.starts_with("S-1-5-21-")
            && ["-513", "-514", "-515"].iter().any(|r| sid.ends_with(r)))
}

/// True when `ace` is one prepare could grant.
pub fn grantable(ace: &Ace) -> bool {
    let inherit = ace_flags::CONTAINER_INHERIT
        | ace_flags::OBJECT_INHERIT
        | ace_flags::NO_PROPAGATE_INHERIT
        | ace_flags::INHERIT_ONLY;
    ace.ace_type.kind() == AceKind::Allow
        && ace.mask & !GRANTABLE == 0
        && ace.flags & !inherit == 0
        && !broad(ace)
}

/// What prepare writes: the four objects with their classes (the DRS also
/// with its location, the device container, and msDS-IsEnabled), the DRS
/// enabled again, and grants of the connector's rights; no deletes.
pub fn prepare(op: &ChangeOp, p: &Places) -> std::result::Result<(), String> {
    let ok = match op {
        ChangeOp::Directory(WriteOp::Add { dn, attrs }) => p.prepared(dn).is_some_and(|class| {
            only_class(attrs, class)
                && attrs.iter().all(|a| match a.name.to_ascii_lowercase().as_str() {
                    "objectclass" => true,
                    "msds-devicelocation" => {
                        *dn == p.drs && lower(&a.values) == [p.container.to_string().to_lowercase()]
                    }
                    "msds-isenabled" => *dn == p.drs,
                    _ => false,
                })
        }),
        ChangeOp::Directory(WriteOp::Modify { dn, mods, sd_flags }) => {
            *dn == p.drs && sd_flags.is_none() && mods.iter().all(|m| is(&m.attr, "msDS-IsEnabled"))
        }
        ChangeOp::Acl { dn, edits, .. } => {
            p.acl_target(dn) && edits.iter().all(|e| matches!(e, AclEdit::Grant(a) if grantable(a)))
        }
        _ => false,
    };
    ok.then_some(()).ok_or_else(|| {
        format!(
            "prepare only creates the device registration objects under {} and {}, enables \
             the registration service and grants the connector's rights on them",
            p.drc, p.container
        )
    })
}

/// What retire writes: deletes of the device objects in the container (whose
/// ownership is checked against the directory), the marker removed from them
/// (`handback`), and with `prepare=true` deletes of what prepare created and
/// revokes of ACEs on the objects prepare grants on.
pub fn retire(op: &ChangeOp, p: &Places, with_prepare: bool) -> std::result::Result<(), String> {
    let ok = match op {
        ChangeOp::Directory(WriteOp::Delete { dn }) => {
            dn.is_child_of(&p.container)
                || (with_prepare && (*dn == p.drs || *dn == p.drs_container || *dn == p.container))
        }
        ChangeOp::Directory(WriteOp::Modify { dn, mods, sd_flags }) => {
            dn.is_child_of(&p.container)
                && sd_flags.is_none()
                && mods
                    .iter()
                    .all(|m| m.op == crate::ad::ModOp::Delete && is(&m.attr, "adminDescription"))
        }
        ChangeOp::Acl { dn, edits, .. } => {
            with_prepare
                && p.acl_target(dn)
                && edits.iter().all(|e| matches!(e, AclEdit::Revoke(_)))
        }
        _ => false,
    };
    ok.then_some(()).ok_or_else(|| {
        format!(
            "retire only deletes the device objects dwb owns in {} (or removes its marker) \
             and, with prepare=true, what prepare created and the connector's ACEs",
            p.container
        )
    })
}

/// What enable writes: the site's settings, the tenant's writeback flag and
/// the hybrid-join SCP (its class and keywords).
pub fn enable(op: &ChangeOp, p: &Places) -> std::result::Result<(), String> {
    let keywords = |a: &str| is(a, "keywords");
    let ok = match op {
        ChangeOp::Setting { .. } | ChangeOp::Graph(_) => true,
        ChangeOp::Directory(WriteOp::Add { dn, attrs }) => {
            *dn == p.scp
                && only_class(attrs, "serviceConnectionPoint")
                && attrs.iter().all(|a| is(&a.name, "objectClass") || keywords(&a.name))
        }
        ChangeOp::Directory(WriteOp::Modify { dn, mods, sd_flags }) => {
            *dn == p.scp && sd_flags.is_none() && mods.iter().all(|m| keywords(&m.attr))
        }
        _ => false,
    };
    ok.then_some(()).ok_or_else(|| {
        format!(
            "enable only writes the site's settings, the tenant's writeback flag and the \
             service connection point {}",
            p.scp
        )
    })
}

/// The undo of a run of prepare or retire (`prepared`) or enable (`enabled`):
/// the objects those scripts manage put back as they were (created with
/// their class and without a security descriptor, re-enabled or re-keyworded,
/// deleted) and the connector's ACEs granted or revoked. Device objects are
/// checked apart (see `check_undo`).
pub fn undo(op: &ChangeOp, p: &Places, prepared: bool, enabled: bool) -> bool {
    let class_of = |attrs: &[Attr], class: &str| {
        let class = class.to_ascii_lowercase();
        attrs.iter().any(|a| is(&a.name, "objectClass") && lower(&a.values).contains(&class))
            && !attrs.iter().any(|a| is(&a.name, "nTSecurityDescriptor"))
    };
    let prep = |dn: &Dn| if prepared { p.prepared(dn) } else { None };
    let scp = |dn: &Dn| enabled && *dn == p.scp;
    match op {
        ChangeOp::Directory(WriteOp::Add { dn, attrs }) => match prep(dn) {
            Some(class) => class_of(attrs, class),
            None => scp(dn) && class_of(attrs, "serviceConnectionPoint"),
        },
        ChangeOp::Directory(WriteOp::Modify { dn, mods, sd_flags }) => {
            sd_flags.is_none()
                && ((prepared
                    && *dn == p.drs
                    && mods.iter().all(|m| is(&m.attr, "msDS-IsEnabled")))
                    || (scp(dn) && mods.iter().all(|m| is(&m.attr, "keywords"))))
        }
        ChangeOp::Directory(WriteOp::Delete { dn }) => prep(dn).is_some() || scp(dn),
        ChangeOp::Acl { dn, edits, .. } => {
            prepared
                && p.acl_target(dn)
                && edits.iter().all(|e| match e {
                    AclEdit::Grant(a) => grantable(a),
                    AclEdit::Revoke(_) => true,
                })
        }
        ChangeOp::Setting { .. } | ChangeOp::Graph(_) => enabled,
        ChangeOp::StateCommit { .. } => false,
    }
}

/// dwb's territory, for a plan or an undo of any other origin (a site's own
/// script): the device registration objects (the DRC's subtree) and the
/// device container, written in anything but their security descriptors
/// (ACL changes: prepare's grants, or revokes), created only where and as
/// prepare and enable create them; device objects directly under
/// the container (checked by the caller); the site's settings and the
/// tenant's flag. Nothing else in the directory.
pub fn other(op: &ChangeOp, p: &Places) -> bool {
    let registration = |dn: &Dn| dn.is_within(&p.drc) || *dn == p.container;
    match op {
        // Created only where prepare and enable create, with their classes.
        ChangeOp::Directory(WriteOp::Add { dn, attrs }) => {
            let class = if *dn == p.scp { Some("serviceConnectionPoint") } else { p.prepared(dn) };
            let class = class.map(str::to_ascii_lowercase);
            class.is_some_and(|c| {
                attrs.iter().any(|a| is(&a.name, "objectClass") && lower(&a.values).contains(&c))
            }) && !attrs.iter().any(|a| is(&a.name, "nTSecurityDescriptor"))
        }
        ChangeOp::Directory(WriteOp::Modify { dn, mods, sd_flags }) => {
            registration(dn)
                && sd_flags.is_none()
                && !mods.iter().any(|m| is(&m.attr, "nTSecurityDescriptor"))
        }
        ChangeOp::Directory(WriteOp::Delete { dn }) => registration(dn),
        ChangeOp::Acl { dn, edits, .. } => {
            p.acl_target(dn)
                && edits.iter().all(|e| match e {
                    AclEdit::Grant(a) => grantable(a),
                    AclEdit::Revoke(_) => true,
                })
        }
        ChangeOp::Setting { .. } | ChangeOp::Graph(_) => true,
        ChangeOp::StateCommit { .. } => false,
    }
}

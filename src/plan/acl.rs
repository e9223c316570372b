//! DACL changes. A planned grant or revoke is kept as *edits* and applied at
//! apply time by read-modify-write: the DACL is read again (with the SD flags
//! control, so no SACL privilege is needed), checked against what the plan
//! showed, edited, and written back with SD flags = DACL only, so owner, group
//! and SACL are never touched. An object created by the same plan gets its
//! server-assigned default DACL first, and the edits go on top of it.

use crate::ad::{Directory, ModOp, Modification, WriteOp, sd_flags};
use crate::directory::Dn;
use crate::directory::security::{Ace, SecurityDescriptor};
use crate::error::{Error, Kind, Result};

/// One edit of a DACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclEdit {
    Grant(Ace),
    Revoke(Ace),
}

/// Reads an object's descriptor (owner, group, DACL). `None` when the object
/// has none (or the backend stores none, as a snapshot may).
pub fn read_sd(dir: &dyn Directory, dn: &Dn) -> Result<Option<SecurityDescriptor>> {
    let e = dir
        .read(dn, &["nTSecurityDescriptor"])?
        .ok_or_else(|| Error::new(Kind::NoSuchObject, format!("no object {dn}")).with_dn(dn))?;
    match e.get("nTSecurityDescriptor").first() {
        None => Ok(None),
        Some(raw) => SecurityDescriptor::from_bytes(raw).map(Some).map_err(|err| {
            Error::new(
                Kind::Security,
                format!("the security descriptor of {dn} is malformed: {err}; nothing was written"),
            )
            .with_dn(dn)
        }),
    }
}

/// Applies `edits` to a descriptor; returns whether anything changed.
pub fn edit(sd: &mut SecurityDescriptor, edits: &[AclEdit]) -> bool {
    let mut dacl = sd.dacl.clone().unwrap_or_default();
    let mut changed = false;
    for e in edits {
        changed |= match e {
            AclEdit::Grant(ace) => dacl.grant(ace.clone()),
            AclEdit::Revoke(ace) => dacl.revoke(ace) > 0,
        };
    }
    if changed {
        sd.set_dacl(Some(dacl));
    }
    changed
}

/// The modify that writes `sd`'s DACL.
pub fn dacl_write(dn: &Dn, sd: &SecurityDescriptor) -> Result<WriteOp> {
    let bytes = sd
        .dacl_only()
        .to_bytes()
        .map_err(|e| Error::new(Kind::Security, format!("encoding the DACL of {dn}: {e}")))?;
    Ok(WriteOp::Modify {
        dn: dn.clone(),
        mods: vec![Modification {
            op: ModOp::Replace,
            attr: "nTSecurityDescriptor".into(),
            values: vec![bytes],
        }],
        sd_flags: Some(sd_flags::DACL),
    })
}

/// A planned DACL change at apply time: reads and checks the DACL and edits it.
/// Returns the DACL-only descriptor as it is now and the write that applies the
/// edits; `None` when they change nothing.
pub fn prepare(
    dir: &dyn Directory,
    dn: &Dn,
    edits: &[AclEdit],
    expected: Option<&[u8]>,
) -> Result<Option<(Vec<u8>, WriteOp)>> {
    let mut sd = read_sd(dir, dn)?.unwrap_or_default();
    let before = sd
        .dacl_only()
        .to_bytes()
        .map_err(|e| Error::new(Kind::Security, format!("encoding the DACL of {dn}: {e}")))?;
    if let Some(exp) = expected {
        let exp = SecurityDescriptor::from_bytes(exp)
            .map_err(|e| Error::new(Kind::Security, e.to_string()))?;
        if exp.dacl != sd.dacl {
            return Err(Error::new(
                Kind::Plan,
                format!("the DACL of {dn} changed after the plan was made; nothing was written"),
            )
            .with_dn(dn)
            .with_hint("run again to plan against the current DACL"));
        }
    }
    if !edit(&mut sd, edits) {
        return Ok(None);
    }
    Ok(Some((before, dacl_write(dn, &sd)?)))
}

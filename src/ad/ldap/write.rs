//! Writes: add, modify (with the SD flags control when asked) and delete,
//! retried with capped exponential backoff while the DC says `busy` or
//! `unavailable` (it did not perform the operation then, so a retry is safe;
//! after a timeout or a lost connection it may have, so those are not retried).
//!
//! `write_many` pipelines: up to [`WINDOW`] operations are in flight at once
//! on the one multiplexed connection (ldap3 matches replies by message id),
//! and each outcome is reported by index as it arrives. The callback runs on
//! the caller's thread, never inside the runtime.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ldap3::Mod;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::LdapDirectory;
use super::controls;
use super::result::{Op, check, client_error};
use crate::ad::{ModOp, Modification, WriteOp};
use crate::directory::Attr;
use crate::error::{Error, Kind, Result};

/// Operations in flight at once in `write_many`.
pub(super) const WINDOW: usize = 24;
/// Attempts per operation while the DC answers busy/unavailable.
pub(super) const MAX_ATTEMPTS: u32 = 5;
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// What the caller is doing, for cancellation messages.
pub(super) fn verb(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::Add { .. } => "adding an object",
        WriteOp::Modify { .. } => "modifying an object",
        WriteOp::Delete { .. } => "deleting an object",
    }
}

/// The delay before attempt `attempt + 1` after `attempt` failed with
/// `kind`; `None` when the error is final.
pub(super) fn retry_delay(kind: Kind, attempt: u32) -> Option<Duration> {
    if !kind.is_transient() || attempt >= MAX_ATTEMPTS {
        return None;
    }
    let factor = 1u32 << (attempt.saturating_sub(1)).min(16);
    Some(FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY))
}

/// One write, retried while the DC is busy. Waits race `cancel`.
pub(super) async fn with_retry(
    ldap: ldap3::Ldap,
    op: &WriteOp,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut attempt = 1;
    loop {
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::new(Kind::Cancelled, "interrupted while the write was in flight: it may or may not have reached the DC; the next run converges").with_dn(op.dn())),
            r = once(ldap.clone(), op, timeout) => r,
        };
        match outcome {
            Err(e) => match retry_delay(e.kind, attempt) {
                Some(delay) => {
                    tracing::info!(dn = %op.dn(), kind = e.kind.as_str(), attempt, "DC busy; retrying in {delay:?}");
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Err(e),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    attempt += 1;
                }
                None => return Err(e),
            },
            ok => return ok,
        }
    }
}

/// One attempt.
async fn once(mut ldap: ldap3::Ldap, op: &WriteOp, timeout: Duration) -> Result<()> {
    match op {
        WriteOp::Add { dn, attrs } => {
            let attrs = add_attrs(attrs).map_err(|e| e.with_dn(dn))?;
            let res = ldap.with_timeout(timeout).add(&dn.to_string(), attrs).await;
            check(Op::Add, Some(dn), res.map_err(|e| client_error(Op::Add, Some(dn), e, timeout))?)
        }
        WriteOp::Modify { dn, mods, sd_flags } => {
            let mods = ldap_mods(mods).map_err(|e| e.with_dn(dn))?;
            let h = ldap.with_timeout(timeout);
            let h = match sd_flags {
                Some(f) => h.with_controls(controls::sd_flags(*f)),
                None => h,
            };
            let res = h.modify(&dn.to_string(), mods).await;
            check(
                Op::Modify,
                Some(dn),
                res.map_err(|e| client_error(Op::Modify, Some(dn), e, timeout))?,
            )
        }
        WriteOp::Delete { dn } => {
            let res = ldap.with_timeout(timeout).delete(&dn.to_string()).await;
            check(
                Op::Delete,
                Some(dn),
                res.map_err(|e| client_error(Op::Delete, Some(dn), e, timeout))?,
            )
        }
    }
}

/// An add's attribute list as ldap3 takes it.
type AddAttrs = Vec<(Vec<u8>, HashSet<Vec<u8>>)>;

/// The attribute list of an add. Every attribute needs a value.
pub(super) fn add_attrs(attrs: &[Attr]) -> Result<AddAttrs> {
    attrs
        .iter()
        .map(|a| {
            if a.values.is_empty() {
                return Err(Error::new(
                    Kind::InvalidArgument,
                    format!("add: attribute `{}` has no values", a.name),
                ));
            }
            Ok((a.name.as_bytes().to_vec(), a.values.iter().cloned().collect()))
        })
        .collect()
}

/// The modifications as ldap3 sends them.
pub(super) fn ldap_mods(mods: &[Modification]) -> Result<Vec<Mod<Vec<u8>>>> {
    mods.iter()
        .map(|m| {
            let name = m.attr.as_bytes().to_vec();
            let values: HashSet<Vec<u8>> = m.values.iter().cloned().collect();
            Ok(match m.op {
                ModOp::Add if values.is_empty() => {
                    return Err(Error::new(
                        Kind::InvalidArgument,
                        format!("modify: adding to `{}` needs values", m.attr),
                    ));
                }
                ModOp::Add => Mod::Add(name, values),
                ModOp::Delete => Mod::Delete(name, values),
                ModOp::Replace => Mod::Replace(name, values),
            })
        })
        .collect()
}

/// `write_many`: pipelined on the runtime, outcomes reported here.
pub(super) fn pipelined(
    dir: &LdapDirectory,
    ops: &[&WriteOp],
    done: &mut dyn FnMut(usize, Result<()>),
) {
    if ops.is_empty() {
        return;
    }
    let ldap = match dir.run("connecting", dir.handle()) {
        Ok(l) => l,
        Err(e) => {
            for (i, op) in ops.iter().enumerate() {
                done(i, Err(e.clone().with_dn(op.dn())));
            }
            return;
        }
    };
    // The one copy: the writes go to tasks on the runtime, which own what they use.
    let ops: Arc<Vec<WriteOp>> = Arc::new(ops.iter().map(|op| (*op).clone()).collect());
    let n = ops.len();
    let timeout = dir.settings.op_timeout;
    let cancel = dir.cancel.clone();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<()>)>();
    let pacer = super::pace::Pacer::current();
    let task = dir.rt.spawn(pump(ldap, ops.clone(), timeout, cancel, pacer, tx));
    let mut reported = vec![false; n];
    for (i, r) in rx.iter() {
        if let Some(slot) = reported.get_mut(i) {
            *slot = true;
        }
        done(i, r);
    }
    drop(task);
    // The pump always reports every index; this covers a runtime shut down under it.
    for ((i, op), _) in ops.iter().enumerate().zip(&reported).filter(|(_, r)| !**r) {
        done(
            i,
            Err(Error::internal("the write was not performed: the runtime stopped")
                .with_dn(op.dn())),
        );
    }
}

/// Keeps up to `WINDOW` writes in flight and sends each outcome to `tx`.
async fn pump(
    ldap: ldap3::Ldap,
    ops: Arc<Vec<WriteOp>>,
    timeout: Duration,
    cancel: CancellationToken,
    mut pacer: Option<super::pace::Pacer>,
    tx: std::sync::mpsc::Sender<(usize, Result<()>)>,
) {
    let mut set = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut next = 0;
    // After a timeout or a lost connection the DC is not answering: sending the
    // rest would cost one timeout per window. Stop and report them unsent.
    let mut stalled = false;
    loop {
        while set.len() < WINDOW && next < ops.len() && !cancel.is_cancelled() && !stalled {
            if let Some(p) = pacer.as_mut() {
                p.wait().await;
            }
            let (l, o, c, i) = (ldap.clone(), ops.clone(), cancel.clone(), next);
            let handle = set.spawn(async move {
                let r = match o.get(i) {
                    Some(op) => with_retry(l, op, timeout, &c).await,
                    None => Err(Error::internal("write index out of range")),
                };
                (i, r)
            });
            index_of.insert(handle.id(), i);
            next += 1;
        }
        match set.join_next_with_id().await {
            None => break,
            Some(Ok((id, (i, r)))) => {
                index_of.remove(&id);
                if let Err(e) = &r {
                    stalled |= matches!(e.kind, Kind::Timeout | Kind::Network);
                }
                let _ = tx.send((i, r));
            }
            Some(Err(join)) => {
                if let Some(i) = index_of.remove(&join.id()) {
                    let _ = tx
                        .send((i, Err(Error::internal(format!("the write task failed: {join}")))));
                }
            }
        }
    }
    // Never started: interrupted, or the DC stopped answering.
    let why = if stalled {
        "not sent: the DC stopped answering (timeout or lost connection)"
    } else {
        "not sent: interrupted"
    };
    for (i, op) in ops.iter().enumerate().skip(next) {
        let _ = tx.send((i, Err(Error::new(Kind::Cancelled, why).with_dn(op.dn()))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Dn;

    #[test]
    fn backoff_is_exponential_capped_and_bounded() {
        let delays: Vec<_> = (1..=MAX_ATTEMPTS).map(|a| retry_delay(Kind::Busy, a)).collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_millis(200)),
                Some(Duration::from_millis(400)),
                Some(Duration::from_millis(800)),
                Some(Duration::from_millis(1600)),
                None
            ]
        );
        assert_eq!(retry_delay(Kind::Unavailable, 1), Some(Duration::from_millis(200)));
        assert!(retry_delay(Kind::Busy, 40).is_none());
        for k in [Kind::Timeout, Kind::Network, Kind::AlreadyExists, Kind::InsufficientAccess] {
            assert_eq!(retry_delay(k, 1), None, "{k:?} must not be retried");
        }
    }

    #[test]
    fn modifications_map_to_ldap3() {
        let mods = vec![
            Modification {
                op: ModOp::Replace,
                attr: "msDS-IsEnabled".into(),
                values: vec![b"TRUE".to_vec()],
            },
            Modification { op: ModOp::Delete, attr: "description".into(), values: vec![] },
            Modification {
                op: ModOp::Add,
                attr: "msDS-DeviceID".into(),
                values: vec![vec![0, 0xff, 0x80]],
            },
            Modification { op: ModOp::Replace, attr: "info".into(), values: vec![] },
        ];
        let m = ldap_mods(&mods).unwrap();
        assert_eq!(
            m[0],
            Mod::Replace(b"msDS-IsEnabled".to_vec(), HashSet::from([b"TRUE".to_vec()]))
        );
        assert_eq!(m[1], Mod::Delete(b"description".to_vec(), HashSet::new()));
        assert_eq!(m[2], Mod::Add(b"msDS-DeviceID".to_vec(), HashSet::from([vec![0, 0xff, 0x80]])));
        assert_eq!(m[3], Mod::Replace(b"info".to_vec(), HashSet::new()));
        let empty_add = [Modification { op: ModOp::Add, attr: "x".into(), values: vec![] }];
        assert_eq!(ldap_mods(&empty_add).unwrap_err().kind, Kind::InvalidArgument);
    }

    #[test]
    fn add_needs_values() {
        assert!(add_attrs(&[Attr::text("objectClass", ["container"])]).is_ok());
        assert_eq!(add_attrs(&[Attr::new("cn", vec![])]).unwrap_err().kind, Kind::InvalidArgument);
    }

    #[test]
    fn verbs() {
        let dn = Dn::parse("CN=x,DC=y").unwrap();
        assert_eq!(verb(&WriteOp::Delete { dn }), "deleting an object");
    }
}

//! Which devices have not signed in for a while, in Entra ID and as their
//! written-back objects say: what `verify --param stale_days=N` lists. AD FS's
//! DRS deletes `msDS-Device` objects whose `msDS-ApproximateLastLogonTimeStamp`
//! is older than the DRS object's `msDS-MaximumRegistrationInactivityPeriod`
//! (MS-DVRE, StaleDeviceCleanup; spec §E), so the two values side by side show
//! both the devices nobody uses and the objects AD FS would delete although
//! their device is in use (a timestamp dwb has not written yet).

use super::mapping::last_logon_value;
use super::state;
use crate::ad::Directory;
use crate::directory::{Dn, Entry, FileTime, Guid};
use crate::error::Result;
use crate::graph::Device;

/// A device and its object's timestamps.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub device_id: Option<String>,
    pub display_name: Option<String>,
    /// `approximateLastSignInDateTime`; `None` when the device never signed in.
    pub entra: Option<FileTime>,
    /// The written-back object, if the container holds one.
    pub dn: Option<Dn>,
    /// Its `msDS-ApproximateLastLogonTimeStamp`.
    pub ad: Option<FileTime>,
}

/// What [`report`] found.
#[derive(Debug, Clone)]
pub struct StaleReport {
    pub days: i64,
    pub now: FileTime,
    /// Devices whose last sign-in is before this.
    pub cutoff: FileTime,
    pub listed: usize,
    /// Last signed in more than `days` days ago in Entra ID, oldest first.
    pub stale: Vec<Row>,
    /// Never signed in (no `approximateLastSignInDateTime`).
    pub never: Vec<Row>,
    /// Signed in within `days` days, but their object's timestamp is older or
    /// missing: AD FS would treat them as stale.
    pub ad_behind: Vec<Row>,
    /// Devices whose timestamp is not a time: (object id, why).
    pub unreadable: Vec<(String, String)>,
}

/// The object of a device in the container: by cloud anchor (either
/// encoding), else by msDS-DeviceID.
fn object_of<'a>(cur: &'a state::CurrentState, d: &Device) -> Option<&'a Entry> {
    if let Some(c) = cur.anchored(&d.id) {
        return Some(&c.entry);
    }
    let guid: Guid = d.device_id.as_deref()?.parse().ok()?;
    cur.with_device_id(&guid).map(|c| &c.entry)
}

/// The devices of `devices` that last signed in more than `days` days before
/// `now`, with the timestamps of their objects in `container`.
pub fn report(
    dir: &dyn Directory,
    devices: &[Device],
    container: &Dn,
    marker: &str,
    days: i64,
    now: FileTime,
) -> Result<StaleReport> {
    let cur = state::current_state(dir, container, marker, &mut |_| ())?;
    let cutoff = now.minus_days(days);
    let mut out = StaleReport {
        days,
        now,
        cutoff,
        listed: devices.len(),
        stale: Vec::new(),
        never: Vec::new(),
        ad_behind: Vec::new(),
        unreadable: Vec::new(),
    };
    for d in devices {
        let entra = match last_logon_value(d) {
            Ok(t) => t,
            Err(why) => {
                out.unreadable.push((d.id.clone(), why));
                continue;
            }
        };
        let obj = object_of(&cur, d);
        let ad = obj.and_then(|e| e.first_str("msDS-ApproximateLastLogonTimeStamp"));
        let row = Row {
            id: d.id.clone(),
            device_id: d.device_id.clone(),
            display_name: d.display_name.clone(),
            entra,
            dn: obj.map(|e| e.dn.clone()),
            ad: ad.as_deref().and_then(FileTime::from_decimal),
        };
        match entra {
            None => out.never.push(row),
            Some(t) if t < cutoff => out.stale.push(row),
            Some(_) if row.dn.is_some() && row.ad.is_none_or(|a| a < cutoff) => {
                out.ad_behind.push(row)
            }
            Some(_) => {}
        }
    }
    out.stale.sort_by_key(|r| (r.entra, r.id.clone()));
    out.ad_behind.sort_by_key(|r| (r.ad, r.id.clone()));
    Ok(out)
}

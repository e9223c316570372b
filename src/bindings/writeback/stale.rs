//! Device activity in the `writeback::` module: `writeback::stale_devices`
//! (Entra's last sign-ins beside the written-back objects' timestamps, for
//! `verify --param stale_days=N`).

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, Module};

use crate::bindings::options::Options;
use crate::bindings::register::{OrRhai, bind};
use crate::directory::FileTime;
use crate::error::Result;
use crate::host::Host;
use crate::writeback::planner::DEFAULT_MARKER;
use crate::writeback::stale::{self, Row, StaleReport};
use crate::writeback::sync;

fn time(t: Option<FileTime>) -> Dynamic {
    t.map(|t| Dynamic::from(t.to_iso8601())).unwrap_or(Dynamic::UNIT)
}

fn row(r: &Row, now: FileTime) -> Dynamic {
    let mut m = Map::new();
    let opt = |s: &Option<String>| s.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT);
    let days =
        |t: Option<FileTime>| t.map(|t| Dynamic::from(t.days_until(now))).unwrap_or(Dynamic::UNIT);
    m.insert("id".into(), r.id.clone().into());
    m.insert("deviceId".into(), opt(&r.device_id));
    m.insert("displayName".into(), opt(&r.display_name));
    m.insert("entra_last_sign_in".into(), time(r.entra));
    m.insert("entra_days".into(), days(r.entra));
    // Text, not a `Dn`: the result goes into the report as it is.
    let dn = r.dn.as_ref().map(|d| Dynamic::from(d.to_string()));
    m.insert("dn".into(), dn.unwrap_or(Dynamic::UNIT));
    m.insert("ad_last_logon".into(), time(r.ad));
    m.insert("ad_days".into(), days(r.ad));
    m.into()
}

fn result_map(r: &StaleReport) -> Map {
    let rows = |v: &[Row]| -> Array { v.iter().map(|x| row(x, r.now)).collect() };
    let mut out = Map::new();
    out.insert("days".into(), r.days.into());
    out.insert("now".into(), r.now.to_iso8601().into());
    out.insert("cutoff".into(), r.cutoff.to_iso8601().into());
    out.insert("listed".into(), (r.listed as i64).into());
    out.insert("stale".into(), rows(&r.stale).into());
    out.insert("never_signed_in".into(), rows(&r.never).into());
    out.insert("ad_behind".into(), rows(&r.ad_behind).into());
    let bad: Array = r
        .unreadable
        .iter()
        .map(|(id, why)| {
            let mut m = Map::new();
            m.insert("id".into(), id.clone().into());
            m.insert("reason".into(), why.clone().into());
            m.into()
        })
        .collect();
    out.insert("unreadable".into(), bad.into());
    out
}

fn stale_devices(host: &Host, map: &Map) -> Result<Map> {
    let o = Options::read(map, "writeback::stale_devices", &["days", "container", "marker"])?;
    let days = match o.int("days")? {
        Some(d) if d > 0 => d,
        Some(d) => return Err(o.invalid("days", format_args!("is {d}; it must be above 0"))),
        None => return Err(o.invalid("days", "is missing: give the number of days (above 0)")),
    };
    let dir = host.dir()?;
    let container = sync::container(&*dir, o.dn("container")?.as_ref())?;
    let marker = o.string("marker")?.unwrap_or_else(|| DEFAULT_MARKER.to_string());
    let src = host.devices.get()?;
    let devices = src.all_devices(false, &host.blocking)?;
    let r = stale::report(&*dir, &devices, &container, &marker, days, FileTime::now())?;
    Ok(result_map(&r))
}

/// Adds `writeback::stale_devices` to the `writeback::` module.
pub fn register(m: &mut Module, host: Arc<Host>) {
    let h = host.clone();
    bind!(
        /// The devices whose last sign-in (`approximateLastSignInDateTime`) is more than `days` days ago, each beside its written-back object's msDS-ApproximateLastLogonTimeStamp — the value AD FS's StaleDeviceCleanup compares with the DRS object's msDS-MaximumRegistrationInactivityPeriod. Options: `#{ days: N, container: Dn, marker }` (the container defaults to where the DeviceRegistrationService points). Reads every device of the device source and the container's objects; writes nothing. Returns `#{ days, now, cutoff, listed, stale, never_signed_in, ad_behind, unreadable }`: `stale` (oldest first), `never_signed_in` and `ad_behind` (signed in within `days` days, but the object's timestamp is older or missing: AD FS would count them stale) are arrays of `#{ id, deviceId, displayName, entra_last_sign_in, entra_days, dn, ad_last_logon, ad_days }` (times as ISO 8601 UTC text, ages in whole days, the object's DN as text, `()` when there is none), so the map can go into the report as it is; `unreadable` lists `#{ id, reason }` for timestamps that are not times.
        /// # Example
        /// ```rhai
        /// let r = writeback::stale_devices(#{ days: 90 });
        /// for d in r.stale {
        ///     print(`${d.displayName}: Entra ${d.entra_days} days, AD ${d.ad_days} days`);
        /// }
        /// ```
        /// # Errors
        /// `invalid_argument` (`days` missing or not above 0), `unknown_option`, `no_such_object` (the container is missing), `invalid_dn`, `config` (no device source), and the Graph errors.
        m,
        "stale_devices",
        ["options"],
        move |o: Map| stale_devices(&h, &o).rhai(),
    );
}

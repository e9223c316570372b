//! The `dwb::` script module: the run (dry run, version, profile, settings),
//! errors as values, tables, and `dwb::every` (`watch`).

mod watch;

use std::sync::Arc;

use rhai::{Array, Dynamic, ImmutableString, Map, Module};

use crate::ad::Directory;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::directory::Dn;
use crate::error::Error;
use crate::host::Host;

/// The map `dwb::error` builds: the registry's kind for `code`.
fn error_map(code: &str, message: &str, hint: Option<&str>) -> RhaiResult<Map> {
    let entry = crate::error::registry::lookup(code)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "dwb::error: `{code}` is not in dwb's error registry (see `dwb docs`)"
            ))
        })
        .rhai()?;
    let mut m = Map::new();
    m.insert("code".into(), entry.code.into());
    m.insert("kind".into(), entry.kind.into());
    m.insert("message".into(), message.into());
    m.insert("hint".into(), hint.map(|h| Dynamic::from(h.to_string())).unwrap_or(Dynamic::UNIT));
    Ok(m)
}

/// The `[writeback]` keys scripts may record.
const SETTING_KEYS: &[&str] = &["forest", "domain", "container", "tenant_id"];

/// What `value` becomes in the file: `None` when `current` already says the
/// same; a domain DN in the DNS spelling when the file spells it that way.
fn setting_value(current: Option<&str>, value: &str) -> Option<String> {
    let Some(cur) = current.map(str::trim).filter(|c| !c.is_empty()) else {
        return Some(value.to_string());
    };
    if cur == value {
        return None;
    }
    let (cur_dn, new_dn) = (Dn::parse(cur).ok(), Dn::parse(value).ok());
    if let (Some(a), Some(b)) = (&cur_dn, &new_dn)
        && !a.is_root()
        && a == b
    {
        return None;
    }
    // `contoso.com` in the file and `DC=contoso,DC=com` from the directory.
    let file_is_dns = !cur.contains('=') && Dn::from_dns_name(cur).is_ok();
    if file_is_dns && let Some(dns) = new_dn.as_ref().and_then(Dn::to_dns_name) {
        return (!dns.eq_ignore_ascii_case(cur)).then_some(dns);
    }
    if Dn::from_dns_name(value).is_ok() && value.eq_ignore_ascii_case(cur) {
        return None;
    }
    Some(value.to_string())
}

/// `dwb::set_setting`: a `Setting` change, unless the profile already holds the value.
fn plan_setting(h: &Host, key: &str, value: &str) -> crate::error::Result<()> {
    if !SETTING_KEYS.contains(&key) {
        let mut msg = format!("dwb::set_setting: `{key}` is not a setting scripts record");
        if let Some(s) = crate::error::did_you_mean(key, SETTING_KEYS.iter().copied()) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        return Err(Error::invalid_argument(msg)
            .with_hint(format!("the keys are: {}", SETTING_KEYS.join(", "))));
    }
    let file = h.config_file.clone().ok_or_else(|| {
        Error::config("no dwb.toml in use: create one (dwb init) or pass --config")
    })?;
    let profile = h
        .profile
        .clone()
        .ok_or_else(|| Error::config("no profile in use: pass --profile or set default_profile"))?;
    let wb = h.settings.writeback.clone().unwrap_or_default();
    let current = match key {
        "forest" => wb.forest,
        "domain" => wb.domain,
        "container" => wb.container,
        _ => wb.tenant_id,
    };
    let Some(value) = setting_value(current.as_deref(), value) else {
        return Ok(());
    };
    let mut plan = h.plan.lock().map_err(|_| Error::internal("plan lock poisoned"))?;
    let planned = plan.changes.iter().any(|c| {
        matches!(&c.op, crate::plan::ChangeOp::Setting { key: k, profile: p, .. }
            if k == key && *p == profile)
    });
    if !planned {
        plan.push(
            crate::plan::ChangeOp::Setting {
                file: file.display().to_string(),
                profile,
                key: key.to_string(),
                value,
            },
            Some("record the writeback target in the site configuration".into()),
        );
    }
    Ok(())
}

/// Builds the `dwb::` module.
pub fn module(host: Arc<Host>) -> Module {
    let mut m = Module::new();
    watch::register(&mut m, host.clone());
    register_run(&mut m, &host);
    register_values(&mut m, &host);
    m
}

/// Registers what scripts learn about the run.
fn register_run(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// True under `--dry-run`: the plan is shown, nothing is applied.
        /// # Example
        /// ```rhai
        /// if dwb::dry_run() { print("dry run: nothing will be written"); }
        /// ```
        /// # Errors
        /// None.
        m,
        "dry_run",
        [],
        move || h.dry_run,
    );
    bind!(
        /// dwb's version.
        /// # Example
        /// ```rhai
        /// report::set("dwb_version", dwb::version());
        /// ```
        /// # Errors
        /// None.
        m,
        "version",
        [],
        || env!("CARGO_PKG_VERSION").to_string(),
    );
    let h = host.clone();
    bind!(
        /// Waits `seconds` (negative counts as 0), checking for Ctrl-C every 100 ms.
        /// # Example
        /// ```rhai
        /// dwb::sleep(60);   // between two sync rounds
        /// ```
        /// # Errors
        /// `cancelled` when the run is interrupted (Ctrl-C) while waiting.
        m,
        "sleep",
        ["seconds"],
        move |secs: i64| -> RhaiResult<()> {
            let until =
                std::time::Instant::now() + std::time::Duration::from_secs(secs.max(0) as u64);
            while std::time::Instant::now() < until {
                h.check_cancelled().rhai()?;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Ok(())
        },
    );
    let h = host.clone();
    bind!(
        /// The config file and profile in use: `#{ file, profile }` (either may be `()`).
        /// # Example
        /// ```rhai
        /// let p = dwb::profile();
        /// if p.file == () { report::warn("no dwb.toml in use: run `dwb init`"); }
        /// ```
        /// # Errors
        /// None.
        m,
        "profile",
        [],
        move || -> Map {
            let mut m = Map::new();
            m.insert(
                "file".into(),
                h.config_file
                    .as_ref()
                    .map(|p| Dynamic::from(p.display().to_string()))
                    .unwrap_or(Dynamic::UNIT),
            );
            m.insert(
                "profile".into(),
                h.profile.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
            );
            m
        },
    );
    let h = host.clone();
    bind!(
        /// Plans writing `[profiles.<profile>.writeback] key = value` into the site's dwb.toml (applied with the plan; comments are kept). `key` is `forest`, `domain`, `container` or `tenant_id`. Nothing is planned when the profile already holds the value, in any spelling of it: a DN compares as a DN (case, spaces), and a domain the file names by its DNS name (`contoso.com`) stays a DNS name.
        /// # Example
        /// ```rhai
        /// dwb::set_setting("container", "CN=RegisteredDevices,DC=contoso,DC=test");
        /// ```
        /// # Errors
        /// `config` when no config file or profile is in use; `invalid_argument` for another key.
        m,
        "set_setting",
        ["key", "value"],
        move |k: ImmutableString, v: ImmutableString| -> RhaiResult<()> {
            plan_setting(&h, &k, &v).rhai()
        },
    );
}

/// Registers errors as values and tables.
fn register_values(m: &mut Module, host: &Arc<Host>) {
    bind!(
        /// An error value to `throw`, with a code from dwb's error registry (`dwb docs` lists them) and that code's kind, so scripts never invent codes no reference lists. The map is `#{ code, kind, message, hint }`, like the errors dwb's functions throw.
        /// # Example
        /// ```rhai
        /// throw dwb::error("DWB-ENABLE-0001", "not prepared");
        /// ```
        /// # Errors
        /// `invalid_argument` when the code is not in the registry.
        m,
        "error",
        ["code", "message"],
        |code: ImmutableString, message: ImmutableString| error_map(&code, &message, None),
    );
    bind!(
        /// An error value to `throw`, with a hint saying what to do about it.
        /// # Example
        /// ```rhai
        /// throw dwb::error("DWB-PREP-0001", "Active Directory Schema does not support msDS-Device",
        ///     "upgrade the forest schema to Windows Server 2012 R2 or later (adprep /forestprep)");
        /// ```
        /// # Errors
        /// `invalid_argument` when the code is not in the registry.
        m,
        "error",
        ["code", "message", "hint"],
        |code: ImmutableString, message: ImmutableString, hint: ImmutableString| {
            error_map(&code, &message, Some(&hint))
        },
    );
    let h = host.clone();
    bind!(
        /// True when running on a snapshot (the bundled demo or `--snapshot FILE`) rather than a live DC.
        /// # Example
        /// ```rhai
        /// if dwb::is_demo() { print("snapshot: nothing real is touched"); }
        /// ```
        /// # Errors
        /// Only the connection errors (see Conventions): it opens the directory.
        m,
        "is_demo",
        [],
        move || -> RhaiResult<bool> { Ok(h.dir().rhai()?.describe().starts_with("snapshot")) },
    );
    bind!(
        /// Formats an array of maps as a text table (columns from the first row's keys; rows that are not maps are left out): with box drawing on a terminal, plain columns when the output goes to a pipe or file.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// print(dwb::table(ad::list(devices).map(|e| #{ name: e["displayName"], enabled: e["msDS-IsEnabled"] })));
        /// ```
        /// # Errors
        /// None.
        m,
        "table",
        ["rows"],
        |rows: Array| -> String {
            let maps: Vec<Map> = rows.into_iter().filter_map(|r| r.try_cast::<Map>()).collect();
            let Some(first) = maps.first() else { return String::new() };
            let cols: Vec<String> = first.keys().map(|k| k.to_string()).collect();
            let mut t = crate::text::table();
            t.set_header(cols.clone());
            for r in &maps {
                t.add_row(
                    cols.iter()
                        .map(|c| {
                            r.get(c.as_str())
                                .map(|v| crate::text::visible(&v.to_string()).into_owned())
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>(),
                );
            }
            crate::text::render(&t)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::setting_value;

    #[test]
    fn settings_keep_the_files_spelling() {
        let dn = "CN=RegisteredDevices,DC=contoso,DC=test";
        assert_eq!(setting_value(None, dn).as_deref(), Some(dn));
        assert_eq!(setting_value(Some(dn), dn), None);
        assert_eq!(setting_value(Some("cn=registereddevices, dc=Contoso, dc=TEST"), dn), None);
        assert_eq!(setting_value(Some("contoso.test"), "DC=contoso,DC=test"), None);
        assert_eq!(setting_value(Some("CONTOSO.test"), "DC=contoso,DC=test"), None);
        // Another domain: written, in the file's (DNS) spelling.
        assert_eq!(
            setting_value(Some("contoso.com"), "DC=contoso,DC=test").as_deref(),
            Some("contoso.test")
        );
        assert_eq!(setting_value(Some("DC=a,DC=b"), "DC=c,DC=d").as_deref(), Some("DC=c,DC=d"));
    }
}

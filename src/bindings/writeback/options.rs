//! The options of `writeback::sync_devices` (and of `drift`, `explain`,
//! `ownership`), declared once: [`SYNC_OPTIONS`] is what the reader accepts,
//! what the docs list, and what a test holds `scripts/sync.rhai`'s parameters
//! and `stdlib/writeback.rhai`'s `options()` to.

use rhai::Map;

use crate::bindings::options::Options;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::writeback::mapping::{AnchorEncoding, OptionalAttrs};
use crate::writeback::sync::{Mode, SyncRequest};

/// The function named in option errors.
pub const FUNC: &str = "writeback::sync_devices";

/// One sync option: its key, its type as scripts write it, its default and
/// what it does.
pub struct SyncOption {
    pub name: &'static str,
    /// `bool`, `int`, `string`, `Dn|String` or `map`.
    pub ty: &'static str,
    /// As a script would write it; "" when the default is computed.
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every option of a sync, in the order the docs list them.
pub const SYNC_OPTIONS: &[SyncOption] = &[
    SyncOption {
        name: "mode",
        ty: "string",
        default: "\"full\"",
        doc: "\"full\" (list every device) or \"delta\" (changes since the last run)",
    },
    SyncOption {
        name: "state",
        ty: "string",
        default: "",
        doc: "delta: the file that keeps Graph's deltaLink (default \
              `<data dir>/delta/<profile>-<tenant>-<container>.json`)",
    },
    SyncOption {
        name: "container",
        ty: "Dn|String",
        default: "",
        doc: "the device container (default: where the DeviceRegistrationService points)",
    },
    SyncOption {
        name: "delete_threshold",
        ty: "int",
        default: "500",
        doc: "refuse a plan that deletes more objects than this (default: the profile's \
              `[writeback]` setting, else 500)",
    },
    SyncOption {
        name: "delete_threshold_percent",
        ty: "int",
        default: "25",
        doc: "refuse a plan that deletes more than this share (0 to 100) of the objects dwb \
              owns in the container (default: the profile's `[writeback]` setting, else 25)",
    },
    SyncOption {
        name: "take_over",
        ty: "bool",
        default: "false",
        doc: "manage anchored objects another writer (Entra Connect) created (those whose \
              device is gone get the marker only, listed in `gone`: the next sync deletes them)",
    },
    SyncOption {
        name: "adopt",
        ty: "bool",
        default: "false",
        doc: "plan only the anchored objects without dwb's marker (the `adopt` script): the \
              marker and the differences, no create, no delete; `gone` lists those whose device \
              is not in Entra ID (they get the marker only: the next sync deletes them under its \
              guards, as it does with `take_over`)",
    },
    SyncOption {
        name: "anchor_encoding",
        ty: "string",
        default: "\"auto\"",
        doc: "msDS-CloudAnchor's byte encoding for new values: \"utf8\", \"utf16le\" or \
              \"auto\" (the form the container's objects use, else utf8)",
    },
    SyncOption {
        name: "sid_form",
        ty: "string",
        default: "\"auto\"",
        doc: "how new msDS-RegisteredOwner/msDS-RegisteredUsers values are written: \
              \"binary\", \"text\" or \"auto\" (the form the container's objects use, else \
              binary)",
    },
    SyncOption {
        name: "allow_empty",
        ty: "bool",
        default: "false",
        doc: "let a device source that lists no device delete every written-back object",
    },
    SyncOption {
        name: "owners",
        ty: "bool",
        default: "true",
        doc: "look up the registered owners and write msDS-RegisteredOwner",
    },
    SyncOption {
        name: "marker",
        ty: "string",
        default: "\"dwb-writeback\"",
        doc: "the marker that tells dwb's objects from other writers'",
    },
    SyncOption {
        name: "optional_attributes",
        ty: "map",
        default: "#{ last_logon: true, registered_users: true, trust_type: true }",
        doc: "which of msDS-ApproximateLastLogonTimeStamp (`last_logon`), msDS-RegisteredUsers \
              (`registered_users`) and msDS-DeviceTrustType (`trust_type`) to write where the \
              schema has them; a key left out stays on",
    },
];

/// The keys of `optional_attributes`.
pub const OPTIONAL_KEYS: &[&str] = &["last_logon", "registered_users", "trust_type"];

/// The option names, for the reader.
fn keys() -> Vec<&'static str> {
    SYNC_OPTIONS.iter().map(|o| o.name).collect()
}

/// The options as a Markdown list, for the docs of every function taking them.
pub fn doc_list() -> String {
    SYNC_OPTIONS
        .iter()
        .map(|o| {
            let default = if o.default.is_empty() {
                String::new()
            } else {
                format!(", default `{}`", o.default)
            };
            format!("- `{}` ({}{default}): {}", o.name, o.ty, o.doc)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `optional_attributes: #{ last_logon: bool, registered_users: bool, trust_type: bool }`;
/// a key left out stays on.
pub fn optional_attributes(m: &Map) -> Result<OptionalAttrs> {
    let o = Options::read(m, "writeback::sync_devices: optional_attributes", OPTIONAL_KEYS)?;
    Ok(OptionalAttrs {
        last_logon: o.bool("last_logon")?.unwrap_or(true),
        registered_users: o.bool("registered_users")?.unwrap_or(true),
        trust_type: o.bool("trust_type")?.unwrap_or(true),
    })
}

/// A `SyncRequest` from the script's options map; thresholds not given come
/// from the profile's `[writeback]` settings, else dwb's defaults.
pub fn request(host: &Host, map: &Map) -> Result<SyncRequest> {
    let o = Options::read(map, FUNC, &keys())?;
    let mut req = SyncRequest { container: o.dn("container")?, ..SyncRequest::default() };
    // "auto" (or not given): the container's convention, else dwb's default.
    if let Some(s) =
        o.choice("anchor_encoding", &["auto", "utf8", "utf16le"])?.filter(|s| s != "auto")
    {
        req.anchor = Some(
            AnchorEncoding::parse(&s)
                .ok_or_else(|| o.invalid("anchor_encoding", format_args!("`{s}` is unknown")))?,
        );
    }
    if let Some(s) = o.choice("sid_form", &["auto", "binary", "text"])?.filter(|s| s != "auto") {
        req.sid_form = Some(
            crate::writeback::forms::SidForm::parse(&s)
                .ok_or_else(|| o.invalid("sid_form", format_args!("`{s}` is unknown")))?,
        );
    }
    req.adopt = o.bool("adopt")?.unwrap_or(false);
    let wb = host.settings.writeback.clone().unwrap_or_default();
    if let Some(t) = o.int("delete_threshold")?.or(wb.delete_threshold.map(|t| t as i64)) {
        req.delete_threshold = t.max(0) as usize;
    }
    let percent = o.int("delete_threshold_percent")?;
    if let Some(p) = percent.or(wb.delete_threshold_percent.map(i64::from)) {
        if !(0..=100).contains(&p) {
            return Err(Error::invalid_argument(format!(
                "delete_threshold_percent is {p}; it must be between 0 and 100"
            )));
        }
        req.delete_threshold_percent = p as u32;
    }
    req.take_over = o.bool("take_over")?.unwrap_or(false);
    req.allow_empty = o.bool("allow_empty")?.unwrap_or(false);
    req.owners = o.bool("owners")?.unwrap_or(true);
    if let Some(m) = o.string("marker")? {
        req.marker = m;
    }
    if let Some(m) = o.map("optional_attributes")? {
        req.optional = optional_attributes(&m)?;
    }
    req.mode = match o.choice("mode", &["full", "delta"])?.as_deref().unwrap_or("full") {
        "delta" => {
            Mode::Delta { state: o.string("state")?.filter(|s| !s.is_empty()).map(Into::into) }
        }
        _ => Mode::Full,
    };
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_takes_exactly_the_declared_options() {
        let mut names = keys();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SYNC_OPTIONS.len(), "an option is declared twice");
        for o in SYNC_OPTIONS {
            assert!(
                ["bool", "int", "string", "Dn|String", "map"].contains(&o.ty),
                "{}: unknown type {}",
                o.name,
                o.ty
            );
            assert!(doc_list().contains(&format!("`{}`", o.name)));
        }
    }
}

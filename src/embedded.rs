//! The files embedded in the binary: the standard scripts, the stdlib, the demo
//! directory and device export, and the example site configuration.

/// An embedded file: name and text.
pub struct Embedded {
    pub name: &'static str,
    pub text: &'static str,
}

/// The standard scripts (`scripts/`), embedded so `dwb run prepare.rhai` works anywhere.
pub const SCRIPTS: &[Embedded] = &[
    Embedded { name: "prepare.rhai", text: include_str!("../scripts/prepare.rhai") },
    Embedded { name: "verify.rhai", text: include_str!("../scripts/verify.rhai") },
    Embedded { name: "enable.rhai", text: include_str!("../scripts/enable.rhai") },
    Embedded { name: "sync.rhai", text: include_str!("../scripts/sync.rhai") },
    Embedded { name: "adopt.rhai", text: include_str!("../scripts/adopt.rhai") },
    Embedded { name: "retire.rhai", text: include_str!("../scripts/retire.rhai") },
];

/// The Rhai library (`stdlib/`), imported as `import "dwb/<name>"`.
pub const STDLIB: &[Embedded] = &[
    Embedded { name: "prepare.rhai", text: include_str!("../stdlib/prepare.rhai") },
    Embedded { name: "checks.rhai", text: include_str!("../stdlib/checks.rhai") },
    Embedded { name: "names.rhai", text: include_str!("../stdlib/names.rhai") },
    Embedded { name: "permissions.rhai", text: include_str!("../stdlib/permissions.rhai") },
    Embedded { name: "writeback.rhai", text: include_str!("../stdlib/writeback.rhai") },
    Embedded { name: "site.rhai", text: include_str!("../stdlib/site.rhai") },
];

/// The demo directory and device export (`examples/contoso/`).
pub const DEMO_LDIF: &str = include_str!("../examples/contoso/directory.ldif");
/// The demo's Graph device export.
pub const DEMO_DEVICES: &str = include_str!("../examples/contoso/devices.json");
/// Shown in messages for the demo snapshot.
pub const DEMO_NAME: &str = "examples/contoso/directory.ldif";

/// The example site configuration written by `dwb init`.
pub const EXAMPLE_CONFIG: &str = include_str!("../examples/dwb.toml");

/// Looks up a standard script by name (`prepare`, `prepare.rhai`).
pub fn script(name: &str) -> Option<&'static Embedded> {
    let want = if name.ends_with(".rhai") { name.to_string() } else { format!("{name}.rhai") };
    SCRIPTS.iter().find(|s| s.name == want)
}

/// Looks up a stdlib module by import path (`dwb/prepare`).
pub fn stdlib(path: &str) -> Option<&'static Embedded> {
    let name = path.strip_prefix("dwb/")?;
    let want = if name.ends_with(".rhai") { name.to_string() } else { format!("{name}.rhai") };
    STDLIB.iter().find(|s| s.name == want)
}

//! Options maps: one strict reader for every binding, and the sync options
//! declared once — the standard sync script, its `options()` helper and the
//! docs are held to that declaration.

use std::sync::Arc;

use dwb::bindings::writeback::options::{OPTIONAL_KEYS, SYNC_OPTIONS, request};
use dwb::commands::docs;
use dwb::engine::params::ParamType;
use dwb::host::Host;
use rhai::{Dynamic, Map};

use crate::support::Dir;

#[test]
fn a_sync_option_of_the_wrong_type_is_an_error_naming_it() {
    let d = Dir::new();
    d.write(
        "opts.rhai",
        r#"
fn err(f) { let r = "no error"; try { f.call(); } catch (e) { r = `${e.kind}: ${e.message}`; } r }
print(err(|| writeback::sync_devices(#{ take_over: "true" })));
print(err(|| writeback::sync_devices(#{ owners: 0 })));
print(err(|| writeback::drift(#{ optional_attributes: #{ last_logon: "no" } })));
print(err(|| writeback::sync_devices(#{ take_ovr: true })));
print(err(|| writeback::stale_devices(#{ days: "90" })));
print(err(|| ad::search(ad::domain_dn(), "(cn=x)", #{ limit: "10" })));
"#,
    );
    let o = d.run(&["run", "opts.rhai", "--dry-run"]);
    o.code(0);
    let lines: Vec<&str> = o.stdout.lines().take(6).collect();
    assert_eq!(
        lines,
        [
            "invalid_argument: writeback::sync_devices: `take_over` must be a bool (true or false), not a string (\"true\")",
            "invalid_argument: writeback::sync_devices: `owners` must be a bool (true or false), not an integer (0)",
            "invalid_argument: writeback::sync_devices: optional_attributes: `last_logon` must be a bool (true or false), not a string (\"no\")",
            "unknown_option: writeback::sync_devices: unknown option `take_ovr`; did you mean `take_over`?",
            "invalid_argument: writeback::stale_devices: `days` must be an integer, not a string (\"90\")",
            "invalid_argument: ad::search: `limit` must be an integer, not a string (\"10\")",
        ]
    );
}

/// The parameter type a sync option of type `ty` is given as on the command line.
fn param_type(ty: &str) -> Option<ParamType> {
    match ty {
        "bool" => Some(ParamType::Bool),
        "int" => Some(ParamType::Int),
        "string" | "Dn|String" => Some(ParamType::String),
        _ => None,
    }
}

#[test]
fn the_sync_script_and_the_docs_agree_with_the_declared_options() {
    let scripts = docs::scripts();
    let sync =
        scripts.iter().find(|s| s.name == "sync.rhai").expect("sync.rhai is a standard script");
    // Every parameter but the script's own (`watch`: seconds between rounds,
    // `full_every`: how often a delta watch runs a full round, `max_writes_per_second`:
    // the run's write rate) is a sync option, or a key of `optional_attributes`, of the
    // same type.
    let own = ["watch", "full_every", "max_writes_per_second"];
    let mut params = Map::new();
    for p in sync.params.iter().filter(|p| !own.contains(&p.name.as_str())) {
        let want = if OPTIONAL_KEYS.contains(&p.name.as_str()) {
            Some(ParamType::Bool)
        } else {
            let o = SYNC_OPTIONS.iter().find(|o| o.name == p.name);
            let o =
                o.unwrap_or_else(|| panic!("sync.rhai's parameter `{}` is no sync option", p.name));
            param_type(o.ty)
        };
        assert_eq!(Some(p.ty), want, "sync.rhai's parameter `{}`", p.name);
        let v: Dynamic = match p.ty {
            ParamType::Bool => true.into(),
            ParamType::Int => Dynamic::from(7_i64),
            _ if p.name == "container" => "CN=Devices,DC=contoso,DC=test".into(),
            _ if !p.choices.is_empty() => p.choices[p.choices.len() - 1].clone().into(),
            _ => "x".into(),
        };
        params.insert(p.name.as_str().into(), v);
    }
    for name in own {
        params.insert(name.into(), Dynamic::from(0_i64));
    }
    // `options(params)` of stdlib/writeback.rhai passes each of them on, and the reader takes the result.
    let engine = dwb::engine::build(Arc::new(Host::offline()));
    let mut scope = rhai::Scope::new();
    scope.push("p", params.clone());
    let opts: Map = engine
        .eval_with_scope(&mut scope, "import \"dwb/writeback\" as wb; wb::options(p)")
        .expect("options(params) runs");
    let optional =
        opts.get("optional_attributes").and_then(|v| v.read_lock::<Map>().map(|m| m.clone()));
    for (name, v) in params.iter().filter(|(k, _)| !own.contains(&k.as_str())) {
        let passed = if OPTIONAL_KEYS.contains(&name.as_str()) {
            optional.as_ref().and_then(|m| m.get(name.as_str()).cloned())
        } else {
            opts.get(name.as_str()).cloned()
        };
        assert_eq!(passed.map(|x| x.to_string()), Some(v.to_string()), "options() drops `{name}`");
    }
    request(&Host::offline(), &opts).expect("the reader takes what options() returns");
    // The docs of the functions taking the options list each of them.
    let fns = docs::collect();
    let doc = &fns.iter().find(|f| f.name == "writeback::sync_devices").expect("documented").doc;
    for o in SYNC_OPTIONS {
        assert!(
            doc.contains(&format!("- `{}` ({}", o.name, o.ty)),
            "the docs miss `{}`:\n{doc}",
            o.name
        );
    }
    for k in OPTIONAL_KEYS {
        assert!(doc.contains(&format!("`{k}`")), "the docs miss `optional_attributes.{k}`");
    }
}

//! `engine::build()` is the only place a Rhai engine is configured; `dwb run`,
//! `check`, `repl`, `docs` and the tests all use it, so what a test proves is
//! what users get.

pub mod diagnostic;
pub mod params;
pub mod resolver;

use std::sync::Arc;

use rhai::{Dynamic, Engine};

use crate::host::{Host, PrintTo};

/// Builds the engine for `host`.
pub fn build(host: Arc<Host>) -> Engine {
    let mut engine = Engine::new();
    // Limits: generous for 100k-device syncs, small enough to stop runaway scripts.
    engine.set_max_call_levels(64);
    engine.set_max_expr_depths(256, 128);
    engine.set_max_string_size(64 << 20);
    engine.set_max_array_size(10_000_000);
    engine.set_max_map_size(10_000_000);
    engine.set_max_modules(256);
    engine.set_strict_variables(true);
    engine.set_fail_on_invalid_map_property(true);

    let h = host.clone();
    engine.on_progress(move |_| {
        if h.cancel().is_cancelled() { Some(Dynamic::from("interrupted")) } else { None }
    });

    // `params` is pushed into the top-level scope only; a closure or a function
    // body has its own scope, where Rhai would otherwise resolve the name to the
    // script's `fn params()` (a function pointer). A local `params` still wins.
    let h = host.clone();
    #[allow(deprecated)] // `on_var` is marked volatile, not deprecated
    engine.on_var(move |name, _, ctx| {
        if name != "params" || ctx.scope().contains("params") {
            return Ok(None);
        }
        Ok(h.params())
    });

    let h = host.clone();
    engine.on_print(move |s| emit(&h, s.to_string()));
    let h = host.clone();
    engine.on_debug(move |s, src, pos| {
        let at = match (src, pos.line()) {
            (Some(src), Some(line)) => format!("{src}:{line}: "),
            _ => String::new(),
        };
        emit(&h, format!("[debug] {at}{s}"));
    });

    engine.set_module_resolver(resolver::DwbResolver::new(host.clone()));
    crate::bindings::register_all(&mut engine, host);
    engine
}

fn emit(host: &Host, line: String) {
    match host.print_to {
        PrintTo::Stdout => crate::outln!("{line}"),
        PrintTo::Stderr => crate::errln!("{line}"),
        PrintTo::Nowhere => {}
    }
    if let Ok(mut f) = host.findings.lock() {
        f.output.push(line);
    }
}

//! `dwb explain DEVICE`: `writeback::explain` run on the same engine as
//! `dwb run` (so the site module's hooks are the ones a sync uses), printed as
//! text or JSON. Several matching devices: listed, exit 3.

use std::sync::Arc;

use rhai::{Dynamic, Map, Scope};
use serde_json::Value;

use super::failure::{fail, script_error_code};
use super::session::{Session, Signals};
use crate::cli::{ExplainArgs, Format};
use crate::engine::{self, diagnostic::ScriptError};
use crate::error::Kind;
use crate::exit;
use crate::host::{PrintTo, RunConfig, lock};
use crate::sources;
use crate::text::visible;

const SOURCE: &str = "<explain>";
const CALL: &str = "writeback::explain(device, options)";

/// Runs `dwb explain`; returns the exit code.
pub fn explain(args: &ExplainArgs) -> exit::Code {
    let sources = match sources::resolve(&args.conn) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let config = RunConfig {
        dry_run: true,
        site_dir: Some(".".into()),
        print_to: PrintTo::Stderr,
        ..RunConfig::from_loaded(&sources.loaded)
    };
    let session = match Session::open(sources, Signals::Cancel, config) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    run(args, session.host())
}

fn run(args: &ExplainArgs, host: &Arc<crate::host::Host>) -> exit::Code {
    let engine = engine::build(host.clone());
    let mut options = Map::new();
    if let Some(c) = &args.container {
        options.insert("container".into(), c.clone().into());
    }
    if args.take_over {
        options.insert("take_over".into(), true.into());
    }
    let mut scope = Scope::new();
    scope.push("device", args.device.clone());
    scope.push("options", options);
    lock(&host.texts).insert(SOURCE, CALL);
    let v = match evaluate(&engine, &mut scope, host) {
        Ok(v) => v,
        Err(code) => return code,
    };
    match args.format {
        Format::Json => crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Format::Text => crate::out!("{}", text(&v)),
    }
    exit::OK
}

/// Runs the call; an error is printed here and becomes the exit code.
fn evaluate(
    engine: &rhai::Engine,
    scope: &mut Scope,
    host: &crate::host::Host,
) -> Result<Value, exit::Code> {
    let mut ast = engine.compile_with_scope(scope, CALL).map_err(|e| {
        crate::errln!("error: internal: {e}");
        exit::SCRIPT_ERROR
    })?;
    ast.set_source(SOURCE);
    let d = engine.eval_ast_with_scope::<Dynamic>(scope, &ast).map_err(|e| {
        let texts = lock(&host.texts).clone();
        let d = ScriptError::from_eval(&e, SOURCE, &texts);
        if matches!(d.error_kind(), Some(Kind::Ambiguous | Kind::NotFound)) {
            // Nothing by that name, or several: a usage problem, with the list.
            let lines: Vec<String> = d.message.lines().map(|l| visible(l).into_owned()).collect();
            crate::errln!("error: {}: {}", d.code, lines.join("\n"));
            return exit::USAGE;
        }
        // Raised at dwb's own call (not in a site hook): its source is no help.
        if d.at.as_ref().is_none_or(|a| a.source == SOURCE) {
            crate::errout!("{}", d.render_without_frame());
        } else {
            crate::errout!("{}", d.render());
        }
        script_error_code(&d)
    })?;
    rhai::serde::from_dynamic::<Value>(&d).map_err(|e| {
        crate::errln!("error: internal: {e}");
        exit::SCRIPT_ERROR
    })
}

fn joined(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Array(a) if a.is_empty() => "(none)".into(),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                let s = match x {
                    Value::String(s) => s.clone(),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                };
                visible(&s).chars().take(80).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => visible(&other.to_string()).into_owned(),
    }
}

/// The explanation for people.
pub fn text(v: &Value) -> String {
    let s = |k: &str| visible(v[k].as_str().unwrap_or("-")).into_owned();
    let mut out = String::new();
    match v["device"].as_object() {
        Some(d) => {
            let f = |k: &str| d.get(k).map(|x| joined(&Value::Array(vec![x.clone()])));
            out.push_str(&format!(
                "Entra device: {} (object id {}, deviceId {}, {} {}, trust {}, enabled {})\n",
                f("displayName").unwrap_or_default(),
                f("id").unwrap_or_default(),
                f("deviceId").unwrap_or_default(),
                f("operatingSystem").unwrap_or_default(),
                f("operatingSystemVersion").unwrap_or_default(),
                f("trustType").unwrap_or_default(),
                f("accountEnabled").unwrap_or_default(),
            ));
        }
        None => out.push_str("Entra device: none\n"),
    }
    let scope = if v["in_scope"].as_bool() == Some(true) { "yes" } else { "no" };
    // The reason may say "in scope: …" itself: not twice.
    let reason = s("reason");
    let reason = ["in scope: ", "not in scope: ", "out of scope: "]
        .iter()
        .find_map(|p| reason.strip_prefix(p))
        .unwrap_or(&reason);
    out.push_str(&format!("In scope:     {scope}: {reason}\n"));
    out.push_str(&format!("Object:       {} (container {})\n", s("dn"), s("container")));
    out.push_str(&format!("Ownership:    {}\n", s("ownership")));
    // Box drawing on a terminal, plain columns in a pipe or a file.
    let mut t = crate::text::table();
    t.set_header(["attribute", "Entra (what dwb writes)", "AD", "action"]);
    for a in v["attributes"].as_array().into_iter().flatten() {
        t.add_row([
            a["name"].as_str().unwrap_or_default().to_string(),
            joined(&a["entra"]),
            joined(&a["ad"]),
            a["action"].as_str().unwrap_or_default().to_string(),
        ]);
    }
    out.push_str(&format!("{}\n", crate::text::render(&t)));
    // "none: nothing: the object is up to date" says nothing twice: the action
    // only when the sentence does not already start with it.
    let (action, next) = (s("action"), s("next_sync"));
    if action == "none" || next.starts_with(&action) {
        out.push_str(&format!("Next sync:    {next}\n"));
    } else {
        out.push_str(&format!("Next sync:    {action}: {next}\n"));
    }
    out
}

//! `dwb docs`: every function (registered and stdlib) documented with an
//! example, every example compiling with the real engine, headings nested
//! (module `##`, function `###`, its sections `####`), and the site hooks'
//! section naming every device field and attribute the code uses.

use std::sync::Arc;

use dwb::commands::docs::{self, FnDoc};
use dwb::embedded;
use dwb::graph::model::DEVICE_SELECT;
use dwb::writeback::mapping::MANAGED;

use crate::support::Dir;

fn reference() -> String {
    let out = Dir::new().run(&["docs"]);
    out.code(0);
    out.stdout.clone()
}

/// The `## name` section of the Markdown, up to the next `## `.
fn section<'a>(md: &'a str, heading: &str) -> &'a str {
    let start = md.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("no ## {heading}"));
    let rest = &md[start + 1..];
    let end = rest[3..].find("\n## ").map(|e| e + 4).unwrap_or(rest.len());
    &rest[..end]
}

/// Lines outside ``` fences.
fn prose(md: &str) -> Vec<&str> {
    let mut fenced = false;
    md.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

#[test]
fn every_function_has_an_example_and_its_errors() {
    let registered = docs::collect();
    assert!(registered.len() > 100, "only {} registered functions", registered.len());
    let mut missing = Vec::new();
    for d in &registered {
        if d.examples.is_empty() || !d.doc.contains("\n# Example\n") {
            missing.push(format!("{}: no # Example with a ```rhai block", d.signature));
        }
        if d.errors.is_empty() {
            missing.push(format!("{}: no # Errors section", d.signature));
        }
        if d.summary.is_empty() || d.summary.starts_with('#') {
            missing.push(format!("{}: no summary line", d.signature));
        }
    }
    let lib = docs::stdlib();
    for d in &lib {
        if d.examples.is_empty() {
            missing.push(format!("{} ({}): no ```rhai example", d.usage, d.module));
        }
        if d.summary.is_empty() {
            missing.push(format!("{} ({}): no doc comment", d.usage, d.module));
        }
    }
    assert!(missing.is_empty(), "{} undocumented:\n{}", missing.len(), missing.join("\n"));

    // Every public `fn` of every stdlib module is in the reference (a module that failed
    // to compile, or a function the AST walk missed, would be absent).
    for m in embedded::STDLIB {
        let (module, _) = docs::stdlib_module(m);
        let defined: Vec<&str> = m
            .text
            .lines()
            .filter_map(|l| l.strip_prefix("fn "))
            .filter_map(|l| l.split('(').next())
            .collect();
        let documented: Vec<&str> =
            lib.iter().filter(|d| d.module == module).map(|d| d.name.as_str()).collect();
        assert_eq!(documented, defined, "{module}: documented functions differ from its fns");
    }
}

#[test]
fn every_documented_signature_is_the_registered_functions() {
    // The signatures are derived from the closures' types; a registration whose
    // parameter names do not match the closure's parameters, that writes a type
    // the closure already has, or that leaves a `Dynamic` without the types it
    // accepts, is listed.
    let registered = docs::collect();
    assert!(registered.len() > 100);
    let problems = dwb::bindings::signature::problems();
    assert!(
        problems.is_empty(),
        "{} signature problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // And the signatures show real types: every parameter is named and typed.
    for d in &registered {
        let (_, rest) = d.signature.split_once('(').unwrap_or_default();
        // Up to the `)` that closes the parameter list (a return type may be `Map|()`).
        let params = rest.split_once(") -> ").map(|p| p.0).unwrap_or(rest.trim_end_matches(')'));
        for p in params.split(", ").filter(|p| !p.is_empty()) {
            let (name, ty) = p.split_once(": ").unwrap_or((p, ""));
            assert!(!name.is_empty() && name != "_", "{}: an unnamed parameter", d.signature);
            assert!(!ty.is_empty() || name == "value", "{}: `{name}` has no type", d.signature);
        }
    }
}

#[test]
fn every_example_compiles_with_the_real_engine() {
    let engine = dwb::engine::build(Arc::new(dwb::host::Host::offline()));
    // The check has teeth: the engine refuses undefined variables and unknown modules
    // at compile time, so an example cannot use a name it never defined.
    assert!(engine.compile("print(container_dn);").is_err());
    assert!(engine.compile("nosuch::list(1);").is_err());

    let md = reference();
    let blocks = docs::rhai_blocks(&md);
    let functions = docs::all().len();
    assert!(blocks.len() >= functions, "{} examples for {functions} functions", blocks.len());
    let failures: Vec<String> = blocks
        .iter()
        .filter_map(|b| engine.compile(b).err().map(|e| format!("{e}\n---\n{b}\n---")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} example(s) do not compile:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn headings_nest_module_function_section() {
    let md = reference();
    let lines = prose(&md);
    let titles: Vec<&&str> = lines.iter().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(titles, [&"# dwb script reference"], "one title, nothing else at level 1");
    for l in &lines {
        assert!(!l.starts_with("# Example") && !l.starts_with("# Errors"), "top-level {l:?}");
    }
    // A `####` belongs to the `###` before it, within the same `##`.
    let mut level = 0;
    for l in &lines {
        let depth = l.chars().take_while(|c| *c == '#').count();
        if depth == 0 || !l[depth..].starts_with(' ') {
            continue;
        }
        assert!(depth <= level + 1, "{l:?} skips a level (after a level-{level} heading)");
        level = depth;
    }
    let sections: Vec<&str> =
        lines.iter().filter_map(|l| l.strip_prefix("## ")).map(str::trim).collect();
    let mut want: Vec<String> = ["ad", "graph", "writeback", "plan", "report", "dwb"]
        .iter()
        .map(|m| format!("`{m}::`"))
        .collect();
    want.extend(docs::TYPES.iter().map(|t| format!("Type `{t}`")));
    want.extend(embedded::STDLIB.iter().map(|m| format!("`{}`", docs::stdlib_module(m).0)));
    want.extend(
        ["Contents", "Conventions", "Site hooks", "Standard scripts", "Errors"].map(String::from),
    );
    for w in &want {
        assert!(sections.contains(&w.as_str()), "no `## {w}` in {sections:?}");
    }
    // Each function has its own `###`, and a `#### Example` below it.
    let all = docs::all();
    for d in &all {
        assert!(md.contains(&format!("\n### `{}`\n", d.usage)), "no ### for {}", d.usage);
    }
    let examples = lines.iter().filter(|l| **l == "#### Example").count();
    assert!(examples >= all.len(), "{examples} #### Example headings for {} functions", all.len());
    // The table of contents links to anchors that exist.
    for link in section(&md, "Contents").split("](#").skip(1) {
        let id = link.split(')').next().unwrap_or_default();
        assert!(md.contains(&format!("<a id=\"{id}\"></a>")), "contents link #{id} has no anchor");
    }
}

#[test]
fn site_hooks_name_every_device_field_and_attribute() {
    let md = reference();
    let hooks = section(&md, "Site hooks");
    for h in ["fn in_scope(device) -> bool", "fn map_device(device, attrs) -> Map|()"] {
        assert!(hooks.contains(h), "the hooks section lacks `{h}`");
    }
    assert!(hooks.contains("stdlib/site.rhai"), "the hooks section names the site module");
    for field in DEVICE_SELECT {
        assert!(hooks.contains(&format!("| `{field}` |")), "device field {field} is not described");
    }
    for attr in MANAGED.iter().chain(&["objectClass", "adminDescription"]) {
        assert!(hooks.contains(&format!("| `{attr}` |")), "attribute {attr} is not described");
    }
}

#[test]
fn json_lists_every_function_with_its_structure() {
    let out = Dir::new().run(&["docs", "--format", "json"]);
    let arr = out.code(0).json();
    let fns = arr.as_array().unwrap();
    let want: Vec<FnDoc> = docs::all();
    assert_eq!(fns.len(), want.len());
    for f in fns {
        let sig = f["signature"].as_str().unwrap();
        assert!(!f["doc"].as_str().unwrap().trim().is_empty(), "{sig} has no doc");
        assert!(!f["module"].as_str().unwrap().is_empty(), "{sig} has no module");
        assert!(!f["examples"].as_array().unwrap().is_empty(), "{sig} has no examples");
    }
    let find =
        |sig: &str| fns.iter().find(|f| f["signature"] == sig).unwrap_or_else(|| panic!("{sig}"));
    let search = find("ad::search(base: Dn|String, filter: Filter|String) -> Array");
    assert_eq!(search["module"], "ad");
    assert!(search["errors"].as_str().unwrap().contains("`no_such_object`"));
    let child = find("child(dn: Dn, attr: String, value: String) -> Dn");
    assert_eq!(child["module"], "Dn");
    assert_eq!(child["usage"], "dn.child(attr: String, value: String) -> Dn");
    let drs = find("drs_dn(config_dn)");
    assert_eq!(drs["module"], "dwb/names");
    assert_eq!(drs["usage"], "names::drs_dn(config_dn)");
}

#[test]
fn standard_scripts_are_listed_with_their_parameters() {
    let md = reference();
    let scripts = section(&md, "Standard scripts");
    for s in embedded::SCRIPTS {
        assert!(scripts.contains(&format!("### `{}`", s.name)), "{} is not listed", s.name);
    }
    assert!(scripts.contains("| `connector_account` | string | required |"));
    assert!(scripts.contains("| `mode` | string | `full` |"));
    assert!(scripts.contains("| `delete_threshold` | int |"));
}

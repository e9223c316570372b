//! The error registry (`src/error/registry.rs`) against what dwb raises: every
//! `Kind`, every Graph reason, every code literal in the sources, the standard
//! scripts and the stdlib, and what `dwb docs` prints.

use std::collections::BTreeSet;
use std::path::Path;

use dwb::error::{Kind, registry};
use dwb::graph::error::ALL_REASONS;

use crate::support::Dir;

/// Every `DWB-XXX-NNNN` literal in the files under `dir` with extension `ext`.
fn code_literals(dir: &Path, ext: &str, out: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            code_literals(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            let text = std::fs::read_to_string(&p).unwrap();
            let bytes = text.as_bytes();
            let mut i = 0;
            while let Some(at) = text[i..].find("DWB-") {
                let start = i + at;
                let end = text[start + 4..]
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'))
                    .map(|n| start + 4 + n)
                    .unwrap_or(text.len());
                let code = &text[start..end];
                let is_code = code.len() > 9
                    && code[code.len() - 5..].starts_with('-')
                    && bytes[end - 4..end].iter().all(u8::is_ascii_digit);
                if is_code {
                    out.insert((code.to_string(), p.display().to_string()));
                }
                i = end;
            }
        }
    }
}

#[test]
fn registry_matches_what_is_raised() {
    let mut seen = BTreeSet::new();
    for c in registry::all() {
        assert!(seen.insert(c.code), "{} is in the registry twice", c.code);
    }
    for k in Kind::ALL {
        let e = registry::lookup(k.code()).unwrap_or_else(|| panic!("{k:?} not in the registry"));
        assert_eq!(e.kind, k.as_str(), "{k:?}");
    }
    for r in ALL_REASONS {
        let e = registry::lookup(r.code())
            .unwrap_or_else(|| panic!("Graph reason {r:?} ({}) not in the registry", r.code()));
        assert_eq!(e.kind, r.kind().as_str(), "Graph reason {r:?}");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    code_literals(&root.join("src"), "rs", &mut used);
    for dir in ["scripts", "stdlib"] {
        code_literals(&root.join(dir), "rhai", &mut used);
    }
    for (code, file) in &used {
        let retired = registry::RETIRED.iter().any(|(c, _)| c == code);
        assert!(
            registry::lookup(code).is_some() || retired,
            "{file} raises {code}, which the registry lacks"
        );
    }
    // Every row is raised somewhere: by a Kind, a Graph reason, or a literal
    // outside the registry itself.
    let raised: BTreeSet<&str> = Kind::ALL
        .iter()
        .map(|k| k.code())
        .chain(ALL_REASONS.iter().map(|r| r.code()))
        .chain(used.iter().filter(|(_, f)| !f.ends_with("registry.rs")).map(|(c, _)| c.as_str()))
        .collect();
    for c in registry::all() {
        assert!(raised.contains(c.code), "{} is in the registry but nothing raises it", c.code);
    }
}

#[test]
fn docs_print_the_registry_and_scripts_cannot_invent_codes() {
    let d = Dir::new();
    let md = d.run(&["docs"]);
    md.code(0).stdout_has("## Errors");
    for c in registry::all() {
        md.stdout_has(&format!("| {} | {} |", c.code, c.kind));
    }
    d.write(
        "t.rhai",
        "try { throw dwb::error(\"DWB-PREP-0001\", \"m\", \"h\"); } catch (e) {\n\
         print(`${e.code} ${e.kind} ${e.hint}`); }\n\
         throw dwb::error(\"DWB-MADE-0001\", \"invented\");\n",
    );
    let out = d.run(&[
        "run",
        "t.rhai",
        "--snapshot",
        &d.write("e.ldif", "version: 1\n").display().to_string(),
    ]);
    out.stdout_has("DWB-PREP-0001 schema_missing h")
        .stderr_has("`DWB-MADE-0001` is not in dwb's error registry");
    assert_eq!(out.code, 2, "{}", out.stderr);
}

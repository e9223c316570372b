//! The Markdown reference: `#` title, `##` per module, type and stdlib module,
//! `###` per function, and a function's own sections (`# Example`, `# Errors`)
//! one level below it (`####`).

use super::{FnDoc, ScriptDoc, TYPES, module_doc, stdlib_module};
use crate::embedded;

/// The script modules, in the order the reference shows them, with what they hold.
const MODULES: &[(&str, &str)] = &[
    (
        "ad",
        "Active Directory: reads that see the pending plan, writes recorded in the plan, \
         idempotent `ensure_*` helpers, ACLs, discovery, accounts, typed values and filters.",
    ),
    (
        "graph",
        "Microsoft Graph: Entra devices and tenant facts, from a tenant, a Graph JSON export or \
         the bundled demo export.",
    ),
    (
        "writeback",
        "The device sync: Entra devices written to the device container as msDS-Device \
         objects, planned like every other write. It calls the site hooks (see Site hooks).",
    ),
    (
        "plan",
        "The pending plan: every write a script makes is recorded here, shown by `--dry-run` and \
         applied at the end of the run.",
    ),
    ("report", "Findings, warnings and data for the run's report (the table and `--format json`)."),
    ("dwb", "The run itself: dry run, profile and settings, registry errors, helpers."),
];

/// What each type is and where values of it come from.
const TYPE_NOTES: &[(&str, &str)] = &[
    (
        "Dn",
        "A distinguished name, compared case-insensitively and escaped per RFC 4514. From \
         `ad::dn(text)`, `ad::domain_dn()`, `dn.child(attr, value)` and every read's `e.dn`.",
    ),
    ("Guid", "A GUID (objectGUID, msDS-DeviceID, Graph's `deviceId`). From `ad::guid` and reads."),
    ("Sid", "A security identifier. From `ad::sid`, `ad::domain_sid()` and accounts' `sid`."),
    (
        "Filter",
        "An LDAP filter: built with `ad::eq`, `ad::and`, … (values escaped) or parsed by \
         `ad::filter`. Wherever a filter is taken, a filter string works too.",
    ),
    (
        "Entry",
        "A directory object as a read returns it (`ad::get`, `ad::search`, …): its DN and \
         attributes, values typed by the attribute's syntax.",
    ),
    (
        "SecurityDescriptor",
        "An nTSecurityDescriptor: owner, group and DACL. From `ad::get_acl` or an \
         `nTSecurityDescriptor` attribute asked for by name.",
    ),
];

const CONVENTIONS: &str = include_str!("conventions.md");
const SITE_HOOKS: &str = include_str!("site_hooks.md");

fn anchor(id: &str) -> String {
    format!("\n<a id=\"{id}\"></a>\n\n")
}

fn type_id(t: &str) -> String {
    format!("type-{}", t.to_ascii_lowercase())
}

fn stdlib_id(module: &str) -> String {
    module.replace('/', "-")
}

/// A function's doc with its sections one level below the function's `###`.
fn body(doc: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push_str(&format!("\n###{line}\n\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn function(out: &mut String, d: &FnDoc) {
    out.push_str(&format!("\n### `{}`\n\n{}", d.usage, body(&d.doc)));
}

fn contents(stdlib: &[(String, String)]) -> String {
    let link = |label: String, id: String| format!("[{label}](#{id})");
    let modules: Vec<String> =
        MODULES.iter().map(|(m, _)| link(format!("`{m}::`"), m.to_string())).collect();
    let types: Vec<String> = TYPES.iter().map(|t| link(format!("`{t}`"), type_id(t))).collect();
    let lib: Vec<String> =
        stdlib.iter().map(|(m, _)| link(format!("`{m}`"), stdlib_id(m))).collect();
    format!(
        "\n## Contents\n\n\
         - [Conventions](#conventions): calls, arguments, the plan, errors\n\
         - Modules: {}\n\
         - Types and methods: {}\n\
         - [Site hooks](#site-hooks): `in_scope(device)`, `map_device(device, attrs)`, the \
         device fields\n\
         - Library: {}\n\
         - [Standard scripts](#standard-scripts)\n\
         - [Errors](#errors): every code and kind\n",
        modules.join(", "),
        types.join(", "),
        lib.join(", "),
    )
}

fn scripts_section(out: &mut String, scripts: &[ScriptDoc]) {
    out.push_str(&anchor("standard-scripts"));
    out.push_str(
        "## Standard scripts\n\nRun with `dwb run <name> [--param key=value …]`; `dwb init` \
         copies them (and the library) into a site to edit.\n",
    );
    for s in scripts {
        out.push_str(&format!("\n### `{}`\n\n{}\n", s.name, s.purpose));
        if s.params.is_empty() {
            continue;
        }
        out.push_str("\n| parameter | type | default | meaning |\n|---|---|---|---|\n");
        for p in &s.params {
            let default = if p.required {
                "required".to_string()
            } else {
                match p.default.as_deref() {
                    Some("") => "`\"\"`".to_string(),
                    Some(d) => format!("`{d}`"),
                    None => "none".into(),
                }
            };
            let ty = format!("{:?}", p.ty).to_ascii_lowercase();
            let mut help = p.help.replace('|', "\\|");
            if !p.choices.is_empty() {
                let one_of: Vec<String> = p.choices.iter().map(|c| format!("`{c}`")).collect();
                help.push_str(&format!(" (one of {})", one_of.join(", ")));
            }
            out.push_str(&format!("| `{}` | {ty} | {default} | {help} |\n", p.name));
        }
    }
}

fn in_module<'a>(docs: &'a [FnDoc], m: &'a str) -> impl Iterator<Item = &'a FnDoc> {
    docs.iter().filter(move |d| d.module == m)
}

/// The Markdown reference of `docs` (registered and stdlib functions) and `scripts`.
pub fn markdown(docs: &[FnDoc], scripts: &[ScriptDoc]) -> String {
    let stdlib: Vec<(String, String)> = embedded::STDLIB.iter().map(stdlib_module).collect();
    let lib_count = docs.iter().filter(|d| d.module.starts_with("dwb/")).count();
    let mut out = format!(
        "# dwb script reference\n\nGenerated by `dwb docs` from the functions dwb registers \
         ({} functions and methods) and the library in `stdlib/` ({lib_count} functions). \
         Errors are thrown as maps `#{{ code, kind, message, dn, server_text, hint }}`.\n",
        docs.len() - lib_count,
    );
    out.push_str(&contents(&stdlib));
    out.push_str(&anchor("conventions"));
    out.push_str(CONVENTIONS.trim_end());
    out.push('\n');
    for (m, note) in MODULES {
        out.push_str(&anchor(m));
        out.push_str(&format!("## `{m}::`\n\n{note}\n"));
        in_module(docs, m).for_each(|d| function(&mut out, d));
    }
    for (t, note) in TYPE_NOTES {
        out.push_str(&anchor(&type_id(t)));
        out.push_str(&format!("## Type `{t}`\n\n{note}\n"));
        // Methods, then properties and the indexer, then operators.
        let mut methods: Vec<&FnDoc> = in_module(docs, t).collect();
        methods.sort_by_key(|d| {
            let rank = match d.usage.chars().next() {
                Some('(') => 2,
                _ if d.usage.contains('(') => 0,
                _ => 1,
            };
            (rank, d.usage.clone())
        });
        methods.into_iter().for_each(|d| function(&mut out, d));
    }
    out.push_str(&anchor("site-hooks"));
    out.push_str(SITE_HOOKS.trim_end());
    out.push('\n');
    for (module, alias) in &stdlib {
        let text = embedded::stdlib(module).map(|m| module_doc(m.text)).unwrap_or_default();
        out.push_str(&anchor(&stdlib_id(module)));
        out.push_str(&format!(
            "## `{module}`\n\n{text}\n\nImport with `import \"{module}\" as {alias};` (a site's \
             own `stdlib/` copy wins).\n"
        ));
        in_module(docs, module).for_each(|d| function(&mut out, d));
    }
    scripts_section(&mut out, scripts);
    out.push_str(&anchor("errors"));
    out.push_str(
        "## Errors\n\nEvery code dwb raises, with the `kind` scripts see as `e.kind`.\n\n",
    );
    out.push_str(&crate::error::registry::markdown());
    out
}

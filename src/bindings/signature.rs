//! A binding's documented signature, derived from its Rust types: the
//! registration names the parameters (`&["base", "filter", "options"]`) and the
//! types come from the closure. Only a `Dynamic` parameter or return value
//! says which types it accepts (`"dn: Dn|String"`, `"-> Entry|()"`), since its
//! Rust type cannot; an annotation anywhere else, a `Dynamic` without one, or a
//! name count that differs from the closure's is a problem that
//! [`problems`] lists and a test holds to none.

use std::sync::Mutex;

static PROBLEMS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The signature problems found by every registration so far.
pub fn problems() -> Vec<String> {
    PROBLEMS.lock().map(|p| p.clone()).unwrap_or_default()
}

/// The script name of a Rust type as `type_name` spells it: `&mut dwb::directory::dn::Dn`
/// → `Dn`, `rhai::types::immutable_string::ImmutableString` → `String`.
pub fn script_type(rust: &str) -> String {
    let t = rust.trim().trim_start_matches("&mut ").trim_start_matches('&').trim();
    if let Some(inner) = t.strip_prefix("core::result::Result<") {
        return script_type(&first_generic(inner));
    }
    if t.starts_with("alloc::collections::btree::map::BTreeMap<") {
        return "Map".into();
    }
    if t == "alloc::vec::Vec<u8>" {
        return "Blob".into();
    }
    if t.starts_with("alloc::vec::Vec<") {
        return "Array".into();
    }
    let base = t.split('<').next().unwrap_or(t);
    match base.rsplit("::").next().unwrap_or(base) {
        "str" | "String" | "ImmutableString" => "String".into(),
        "EntryValue" => "Entry".into(),
        "SdValue" => "SecurityDescriptor".into(),
        other => other.into(),
    }
}

/// The first generic argument of `T, U>` (up to the top-level comma).
fn first_generic(s: &str) -> String {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if depth == 0 => return s[..i].to_string(),
            '>' => depth -= 1,
            ',' if depth == 0 => return s[..i].to_string(),
            _ => {}
        }
    }
    s.to_string()
}

/// Rhai's parameter info (`name: Type` each, the return type last) for the
/// function `name` whose parameters are named by `given` and typed by `types`
/// (Rust type names), returning `ret`. Problems are recorded for [`problems`].
pub fn derive(name: &str, given: &[&str], types: &[&str], ret: &str) -> Vec<String> {
    let (found, problems) = check(name, given, types, ret);
    if !problems.is_empty()
        && let Ok(mut p) = PROBLEMS.lock()
    {
        p.extend(problems);
    }
    found
}

/// [`derive`] without recording: the parameter info and the problems.
pub fn check(name: &str, given: &[&str], types: &[&str], ret: &str) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let (params, returns): (Vec<&str>, Vec<&str>) =
        given.iter().partition(|p| !p.trim_start().starts_with("->"));
    if params.len() != types.len() {
        problems.push(format!(
            "{name}: {} parameter name(s) for {} parameter(s)",
            params.len(),
            types.len()
        ));
    }
    let mut out = Vec::with_capacity(types.len() + 1);
    for (i, t) in types.iter().enumerate() {
        let derived = script_type(t);
        let entry = params.get(i).copied().unwrap_or("_");
        let (pname, said) = match entry.split_once(':') {
            Some((n, t)) => (n.trim(), Some(t.trim())),
            None => (entry.trim(), None),
        };
        out.push(format!("{pname}: {}", annotated(name, pname, &derived, said, &mut problems)));
    }
    let said = returns.first().map(|r| r.trim().trim_start_matches("->").trim());
    let ret = script_type(ret);
    // Rhai shows no return type for `()`.
    if ret != "()" || said.is_some() {
        out.push(annotated(name, "the return value", &ret, said, &mut problems));
    }
    (out, problems)
}

/// The type shown for one parameter (or the return value): the derived one,
/// or for `Dynamic` the accepted types the registration names.
fn annotated(
    func: &str,
    what: &str,
    derived: &str,
    said: Option<&str>,
    problems: &mut Vec<String>,
) -> String {
    match (derived, said) {
        ("Dynamic", Some(s)) => s.to_string(),
        ("Dynamic", None) => {
            problems.push(format!("{func}: {what} is Dynamic; name the types it accepts"));
            derived.to_string()
        }
        (_, Some(s)) if s != derived => {
            problems.push(format!("{func}: {what} is documented as {s} but is {derived}"));
            derived.to_string()
        }
        (_, Some(_)) => {
            problems.push(format!("{func}: {what}'s type {derived} is derived; do not write it"));
            derived.to_string()
        }
        _ => derived.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_types_become_script_types() {
        assert_eq!(script_type("&mut dwb::directory::dn::Dn"), "Dn");
        assert_eq!(script_type("rhai::types::immutable_string::ImmutableString"), "String");
        assert_eq!(script_type("&str"), "String");
        assert_eq!(
            script_type(
                "core::result::Result<bool, alloc::boxed::Box<rhai::types::error::EvalAltResult>>"
            ),
            "bool"
        );
        assert_eq!(
            script_type(
                "alloc::collections::btree::map::BTreeMap<smartstring::SmartString<smartstring::config::LazyCompact>, rhai::types::dynamic::Dynamic>"
            ),
            "Map"
        );
        assert_eq!(script_type("alloc::vec::Vec<rhai::types::dynamic::Dynamic>"), "Array");
        assert_eq!(script_type("alloc::vec::Vec<u8>"), "Blob");
        assert_eq!(script_type("dwb::bindings::values::EntryValue"), "Entry");
    }

    #[test]
    fn only_dynamic_names_its_types() {
        let dynamic = "rhai::types::dynamic::Dynamic";
        let (info, problems) = check("f", &["dn: Dn|String", "n"], &[dynamic, "i64"], "bool");
        assert_eq!(info, ["dn: Dn|String", "n: i64", "bool"]);
        assert!(problems.is_empty(), "{problems:?}");
        let (_, problems) = check("f", &["dn", "n: String"], &[dynamic, "i64"], dynamic);
        assert_eq!(
            problems,
            [
                "f: dn is Dynamic; name the types it accepts",
                "f: n is documented as String but is i64",
                "f: the return value is Dynamic; name the types it accepts",
            ]
        );
        let (_, problems) = check("f", &["a", "b"], &["i64"], "bool");
        assert_eq!(problems, ["f: 2 parameter name(s) for 1 parameter(s)"]);
    }
}

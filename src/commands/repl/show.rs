//! How the REPL shows a value: the way an administrator reads it. An entry is
//! LDIF-like text (GUIDs, SIDs and security descriptors in their string
//! forms), a `Dn`, `Sid`, `Guid` or `Filter` its string, an array of entries a
//! short table, maps and other arrays JSON, a string itself. `:raw` shows the
//! structure with the type of every value instead. Everything goes through
//! `text::visible`: directory values can hold control characters.

use rhai::{Array, Blob, Dynamic, Map};
use serde_json::Value;

use crate::bindings::values::{EntryValue, SdValue};
use crate::directory::syntax::{Syntax, syntax_of};
use crate::directory::{Dn, Entry, Filter, Guid, Sid};
use crate::plan::render::display_value;
use crate::text::visible;

/// Rows of an entry table shown before "… N more".
const TABLE_ROWS: usize = 20;

/// The value for people (`None` for `()`: nothing is printed).
pub fn show(v: &Dynamic) -> Option<String> {
    if v.is_unit() {
        return None;
    }
    if let Some(s) = scalar(v) {
        return Some(s);
    }
    if let Some(e) = v.read_lock::<EntryValue>() {
        return Some(ldif(&e.0));
    }
    if let Some(a) = v.read_lock::<Array>()
        && !a.is_empty()
        && a.iter().all(|x| x.is::<EntryValue>())
    {
        return Some(entry_table(&a));
    }
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return Some(visible(s.as_str()).into_owned());
    }
    // JSON escapes line breaks inside strings; `visible` then catches the rest per line.
    let text = serde_json::to_string_pretty(&json(v)).unwrap_or_default();
    Some(text.lines().map(|l| visible(l).into_owned()).collect::<Vec<_>>().join("\n"))
}

/// A dwb value with a string form, as that string.
fn scalar(v: &Dynamic) -> Option<String> {
    let s = if let Some(d) = v.read_lock::<Dn>() {
        d.to_string()
    } else if let Some(s) = v.read_lock::<Sid>() {
        s.to_string()
    } else if let Some(g) = v.read_lock::<Guid>() {
        g.to_string()
    } else if let Some(f) = v.read_lock::<Filter>() {
        f.to_string()
    } else if let Some(sd) = v.read_lock::<SdValue>() {
        crate::bindings::values::sddl(&sd).unwrap_or_else(|e| format!("<{e}>"))
    } else {
        return None;
    };
    Some(visible(&s).into_owned())
}

/// An attribute value as text: GUIDs, SIDs and descriptors in their string forms.
fn attr_text(name: &str, v: &[u8]) -> String {
    if syntax_of(name) == Syntax::SecurityDescriptor {
        let sd = SdValue { bytes: v.to_vec(), domain: None };
        if let Ok(s) = crate::bindings::values::sddl(&sd) {
            return s;
        }
    }
    display_value(name, v)
}

/// An entry as LDIF-like lines: `dn: …`, then `name: value` per value.
pub fn ldif(e: &Entry) -> String {
    let mut out = format!("dn: {}", visible(&e.dn.to_string()));
    for a in e.attrs() {
        for v in &a.values {
            out.push_str(&format!("\n{}: {}", a.name, visible(&attr_text(&a.name, v))));
        }
    }
    out
}

/// Entries as a table: the DN and the attributes every entry has (a few), or
/// the most specific object class when they have many.
fn entry_table(entries: &Array) -> String {
    let es: Vec<EntryValue> = entries.iter().filter_map(|e| e.clone().try_cast()).collect();
    let mut cols: Vec<String> = es.first().map(|e| e.0.names()).unwrap_or_default();
    cols.retain(|c| es.iter().all(|e| e.0.has(c)));
    if cols.len() > 4 {
        cols.retain(|c| c.eq_ignore_ascii_case("objectClass"));
    }
    let mut t = crate::text::table();
    t.set_header(std::iter::once("dn".to_string()).chain(cols.iter().cloned()));
    for e in es.iter().take(TABLE_ROWS) {
        let mut row = vec![visible(&e.0.dn.to_string()).into_owned()];
        for c in &cols {
            let vals = e.0.get(c);
            let cell = if c.eq_ignore_ascii_case("objectClass") {
                vals.last().map(|v| attr_text(c, v)).unwrap_or_default()
            } else {
                vals.iter().map(|v| attr_text(c, v)).collect::<Vec<_>>().join(", ")
            };
            row.push(visible(&cell).into_owned());
        }
        t.add_row(row);
    }
    let mut out = crate::text::render(&t);
    out.push_str(&format!("\n{} entr{}", es.len(), if es.len() == 1 { "y" } else { "ies" }));
    if es.len() > TABLE_ROWS {
        out.push_str(&format!(", the first {TABLE_ROWS} shown (index one: x[{TABLE_ROWS}])"));
    }
    out
}

/// A value as JSON: dwb's values as their strings, an entry as an object.
pub fn json(v: &Dynamic) -> Value {
    if let Some(s) = scalar(v) {
        return Value::String(s);
    }
    if let Some(e) = v.read_lock::<EntryValue>() {
        let mut m = serde_json::Map::new();
        m.insert("dn".into(), Value::String(e.0.dn.to_string()));
        for a in e.0.attrs() {
            let vals: Vec<Value> =
                a.values.iter().map(|x| Value::String(attr_text(&a.name, x))).collect();
            let one = vals.len() == 1;
            let v = if one { vals.into_iter().next().unwrap_or_default() } else { vals.into() };
            m.insert(a.name.to_string(), v);
        }
        return Value::Object(m);
    }
    if let Some(a) = v.read_lock::<Array>() {
        return Value::Array(a.iter().map(json).collect());
    }
    if let Some(m) = v.read_lock::<Map>() {
        return Value::Object(m.iter().map(|(k, x)| (k.to_string(), json(x))).collect());
    }
    if let Some(b) = v.read_lock::<Blob>() {
        return Value::String(format!("blob({} bytes)", b.len()));
    }
    if let Ok(b) = v.as_bool() {
        return Value::Bool(b);
    }
    if let Ok(i) = v.as_int() {
        return Value::from(i);
    }
    if let Ok(f) = v.as_float() {
        return Value::from(f);
    }
    if v.is_unit() {
        return Value::Null;
    }
    Value::String(v.to_string())
}

/// The structure of a value with every type named (`:raw`).
pub fn raw(v: &Dynamic) -> String {
    let mut out = String::new();
    raw_into(v, 0, &mut out);
    out
}

fn raw_into(v: &Dynamic, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    let typed = |t: &str, s: &str| format!("{t}({:?})", visible(s));
    if let Some(d) = v.read_lock::<Dn>() {
        out.push_str(&typed("Dn", &d.to_string()));
    } else if let Some(s) = v.read_lock::<Sid>() {
        out.push_str(&typed("Sid", &s.to_string()));
    } else if let Some(g) = v.read_lock::<Guid>() {
        out.push_str(&typed("Guid", &g.to_string()));
    } else if let Some(f) = v.read_lock::<Filter>() {
        out.push_str(&typed("Filter", &f.to_string()));
    } else if let Some(sd) = v.read_lock::<SdValue>() {
        let s = crate::bindings::values::sddl(&sd).unwrap_or_else(|e| format!("<{e}>"));
        out.push_str(&typed("SecurityDescriptor", &s));
    } else if let Some(e) = v.read_lock::<EntryValue>() {
        out.push_str(&format!("Entry {{\n{pad}dn: {}", typed("Dn", &e.0.dn.to_string())));
        for a in e.0.attrs() {
            let vals: Vec<String> = a
                .values
                .iter()
                .map(|x| raw(&crate::bindings::convert::from_value(&a.name, x)))
                .collect();
            out.push_str(&format!(",\n{pad}{:?}: [{}]", a.name, vals.join(", ")));
        }
        out.push_str(&format!("\n{close}}}"));
    } else if let Some(a) = v.read_lock::<Array>() {
        if a.is_empty() {
            out.push_str("[]");
            return;
        }
        out.push_str("[\n");
        for (i, x) in a.iter().enumerate() {
            out.push_str(&pad);
            raw_into(x, indent + 1, out);
            out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
        }
        out.push_str(&format!("{close}]"));
    } else if let Some(m) = v.read_lock::<Map>() {
        if m.is_empty() {
            out.push_str("#{}");
            return;
        }
        out.push_str("#{\n");
        for (i, (k, x)) in m.iter().enumerate() {
            out.push_str(&format!("{pad}{:?}: ", k.as_str()));
            raw_into(x, indent + 1, out);
            out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
        }
        out.push_str(&format!("{close}}}"));
    } else if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        out.push_str(&format!("{:?}", s.as_str()));
    } else if let Some(b) = v.read_lock::<Blob>() {
        out.push_str(&format!("Blob({} bytes)", b.len()));
    } else if v.is_unit() {
        out.push_str("()");
    } else {
        out.push_str(&format!("{} ({})", visible(&v.to_string()), short_type(v.type_name())));
    }
}

/// `i64`, `bool`, … (Rust paths shortened to their last segment).
fn short_type(t: &str) -> &str {
    t.rsplit("::").next().unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Attr, Dn, Entry};

    fn entry() -> Dynamic {
        let dn = Dn::parse("CN=PC1,CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        let guid: Guid = "3b2a1c6f-5e4d-4a60-8a7b-9c0d1e2f3a4b".parse().unwrap();
        let e = Entry::with_attrs(
            dn,
            [
                Attr::text("objectClass", ["top", "msDS-Device"]),
                Attr::new("objectGUID", vec![guid.to_bytes().to_vec()]),
                Attr::text("displayName", ["evil\nchangetype: delete"]),
            ],
        );
        crate::bindings::convert::entry(e)
    }

    #[test]
    fn entries_read_as_ldif() {
        let text = show(&entry()).unwrap();
        assert!(text.starts_with("dn: CN=PC1,CN=RegisteredDevices,DC=contoso,DC=test\n"), "{text}");
        assert!(text.contains("objectGUID: 3b2a1c6f-5e4d-4a60-8a7b-9c0d1e2f3a4b"), "{text}");
        assert!(text.contains("displayName: evil\\nchangetype: delete"), "{text}");
        assert!(raw(&entry()).contains("\"objectGUID\": [Guid(\"3b2a1c6f-"), "{}", raw(&entry()));
    }

    #[test]
    fn arrays_of_entries_are_a_table_and_maps_json() {
        let arr: Array = vec![entry(), entry()];
        let text = show(&Dynamic::from_array(arr)).unwrap();
        assert!(text.contains("dn") && text.contains("msDS-Device"), "{text}");
        assert!(text.ends_with("2 entries"), "{text}");
        let mut m = Map::new();
        m.insert("dn".into(), Dynamic::from(Dn::parse("DC=contoso,DC=test").unwrap()));
        m.insert("n".into(), Dynamic::from(3_i64));
        let text = show(&Dynamic::from_map(m)).unwrap();
        assert!(text.contains("\"dn\": \"DC=contoso,DC=test\"") && text.contains("\"n\": 3"));
        assert!(text.starts_with("{\n  "), "{text}");
        assert_eq!(show(&Dynamic::UNIT), None);
        assert_eq!(show(&Dynamic::from(Dn::parse("DC=a").unwrap())).as_deref(), Some("DC=a"));
    }
}

//! Preconditions and the reads behind them. Before a batch of writes is sent,
//! the objects whose values the journal needs or whose precondition must be
//! checked are read with ONE search per 100 objects of a container (an OR of
//! their DNs), not one base read per change.

use std::collections::HashMap;

use super::values::{is_system, same, values_of};
use super::{Change, ChangeOp, Expect};
use crate::ad::{Directory, Scope, SearchRequest, WriteOp};
use crate::directory::{Attr, Dn, Entry, Filter};
use crate::error::{Kind, Result};
use crate::text::visible;

/// Reads `dns` (their `attrs`; `*` for all user attributes): one one-level
/// search per parent and 100 objects (an OR of their DNs), so a batch of a
/// sync — all in one container — costs one search per 100 objects. A search
/// never crosses a naming context: a lone object, or one whose parent cannot be
/// searched (a naming context's head), is read by itself. Returns the entries
/// found, by normalised DN; an object that does not exist is absent from the map.
pub fn read_many(
    dir: &dyn Directory,
    dns: &[&Dn],
    attrs: &[String],
) -> Result<HashMap<String, Entry>> {
    let mut out = HashMap::new();
    let mut groups: Vec<(Dn, Vec<&Dn>)> = Vec::new();
    for dn in dns {
        let parent = dn.parent().unwrap_or_default();
        match groups.iter_mut().find(|(p, _)| *p == parent) {
            Some((_, g)) => g.push(dn),
            None => groups.push((parent, vec![dn])),
        }
    }
    let names: Vec<&str> = attrs.iter().map(String::as_str).collect();
    for (parent, group) in groups {
        for chunk in group.chunks(100) {
            let searched = if chunk.len() > 1 && !parent.is_root() {
                let terms: Vec<Filter> =
                    chunk.iter().map(|d| Filter::eq("distinguishedName", d.to_string())).collect();
                let req = SearchRequest::new(parent.clone(), Scope::OneLevel, Filter::Or(terms))
                    .attrs(attrs.iter().cloned());
                let mut found = Vec::new();
                match dir.search(&req, &mut |e| {
                    found.push(e);
                    Ok(())
                }) {
                    Ok(()) => Some(found),
                    // The parent is not searchable (gone, or above a naming context).
                    Err(e) if e.kind == Kind::NoSuchObject => None,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            match searched {
                Some(found) => {
                    for e in found {
                        out.insert(e.dn.norm(), e);
                    }
                }
                None => {
                    for dn in chunk {
                        if let Some(e) = dir.read(dn, &names)? {
                            out.insert(e.dn.norm(), e);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The attributes a precondition names.
pub fn names(expect: &Expect) -> Vec<String> {
    match expect {
        Expect::Absent => Vec::new(),
        Expect::Values(attrs) => attrs.iter().map(|a| a.name.to_string()).collect(),
    }
}

fn shown(values: &[Vec<u8>], attr: &str) -> String {
    if values.is_empty() {
        return "(none)".into();
    }
    let v: Vec<String> = values
        .iter()
        .take(3)
        .map(|v| visible(&super::render::display_value(attr, v)).into_owned())
        .collect();
    let more = if values.len() > 3 { format!(" and {} more", values.len() - 3) } else { "".into() };
    format!("{}{more}", v.join(", "))
}

/// `Ok(())` when `current` meets `expect`, else why not (names the attribute).
pub fn check(expect: &Expect, dn: &Dn, current: Option<&Entry>) -> std::result::Result<(), String> {
    match (expect, current) {
        (Expect::Absent, None) => Ok(()),
        (Expect::Absent, Some(_)) => Err(format!("{dn} exists now; the plan expected it absent")),
        (Expect::Values(_), None) => Err(format!("{dn} no longer exists")),
        (Expect::Values(attrs), Some(e)) => {
            for a in attrs.iter().filter(|a| !is_system(&a.name)) {
                let have = e.get(&a.name);
                if !same(have, &a.values) {
                    return Err(format!(
                        "{dn} changed: {} is {}, the plan expected {}",
                        a.name,
                        shown(have, &a.name),
                        shown(&a.values, &a.name)
                    ));
                }
            }
            Ok(())
        }
    }
}

/// What must be read before `c` is sent: its DN and the attributes, when the
/// journal needs its old values (`journal`) or it carries a precondition.
pub fn needs_read(c: &Change, journal: bool) -> Option<(Dn, Vec<String>)> {
    let ChangeOp::Directory(op) = &c.op else { return None };
    let mut attrs: Vec<String> = c.expect.as_ref().map(names).unwrap_or_default();
    match op {
        // "Absent" names no attribute, yet the object must be looked for: a
        // create of an object someone made since the plan is refused, not sent.
        WriteOp::Add { .. } if matches!(c.expect, Some(Expect::Absent)) => {
            attrs.push("objectClass".into());
        }
        WriteOp::Add { .. } => {}
        // The whole entry, so an undo can re-create it.
        WriteOp::Delete { .. } if journal => attrs.push("*".into()),
        WriteOp::Delete { .. } => {}
        WriteOp::Modify { mods, .. } if journal && c.before.is_none() => {
            attrs.extend(super::values::touched(mods));
        }
        WriteOp::Modify { .. } => {}
    }
    (!attrs.is_empty()).then(|| (op.dn().clone(), attrs))
}

/// The old values the journal records for a directory write, from what was read
/// (`current`) or what the plan knew.
pub fn before_of(c: &Change, current: Option<&Entry>) -> Option<Vec<Attr>> {
    let ChangeOp::Directory(op) = &c.op else { return None };
    match op {
        WriteOp::Add { .. } => None,
        WriteOp::Delete { .. } => {
            current.map(|e| e.attrs().cloned().collect()).or_else(|| c.before.clone())
        }
        WriteOp::Modify { mods, .. } => {
            let names = super::values::touched(mods);
            match (&c.before, current) {
                (Some(b), _) => {
                    let e = Entry::with_attrs(Dn::root(), b.iter().cloned());
                    Some(values_of(&e, &names))
                }
                (None, Some(e)) => Some(values_of(e, &names)),
                (None, None) => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_attribute() {
        let dn = Dn::parse("CN=d,CN=c,DC=x").unwrap();
        let e = Entry::with_attrs(dn.clone(), [Attr::text("displayName", ["edited"])]);
        let want = Expect::Values(vec![Attr::text("displayName", ["orig"])]);
        let why = check(&want, &dn, Some(&e)).unwrap_err();
        assert!(why.contains("displayName is edited, the plan expected orig"), "{why}");
        assert!(check(&Expect::Absent, &dn, None).is_ok());
        assert!(check(&want, &dn, None).unwrap_err().contains("no longer exists"));
    }
}

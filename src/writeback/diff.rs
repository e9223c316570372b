//! Per-attribute diff of a device object against its desired state: only the
//! managed attributes that differ are replaced (or removed), so a no-change
//! resync writes nothing and attributes other writers own are never touched.

use crate::ad::{ModOp, Modification};
use crate::directory::{Attr, Entry};

/// Equal as sets (an attribute's values are a set to the DC), and values equal
/// in meaning are the same (an anchor in UTF-16LE and in UTF-8, a SID as text
/// and binary: `forms`), so a value is never rewritten for its form.
fn same(name: &str, a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let mut x: Vec<&Vec<u8>> = a.iter().collect();
    let mut y: Vec<&Vec<u8>> = b.iter().collect();
    x.sort();
    x.dedup();
    y.sort();
    y.dedup();
    x == y || super::forms::same_meaning(name, a, b)
}

/// `values` without repeats, in their order: the DC refuses a value given
/// twice (attributeOrValueExists), and a source may send one twice.
fn distinct(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::with_capacity(values.len());
    values.iter().filter(|v| seen.insert(v.as_slice())).cloned().collect()
}

/// The modifications that turn `current` into `desired` for the `managed` attributes.
pub fn diff(current: &Entry, desired: &[Attr], managed: &[&str]) -> Vec<Modification> {
    let mut mods = Vec::new();
    for name in managed {
        let want: &[Vec<u8>] = desired
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.values.as_slice())
            .unwrap_or(&[]);
        let have = current.get(name);
        if same(name, have, want) {
            continue;
        }
        if want.is_empty() {
            mods.push(Modification {
                op: ModOp::Delete,
                attr: name.to_string(),
                values: Vec::new(),
            });
        } else {
            mods.push(Modification {
                op: ModOp::Replace,
                attr: name.to_string(),
                values: distinct(want),
            });
        }
    }
    mods
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Dn;

    #[test]
    fn only_changed_attributes() {
        let cur = Entry::with_attrs(
            Dn::parse("CN=d,DC=x").unwrap(),
            [
                Attr::text("displayName", ["a"]),
                Attr::text("msDS-DevicePhysicalIDs", ["1", "2"]),
                Attr::text("description", ["theirs"]),
            ],
        );
        let want = vec![
            Attr::text("displayName", ["a"]),
            Attr::text("msDS-DevicePhysicalIDs", ["2", "1"]),
            Attr::text("msDS-IsEnabled", ["TRUE"]),
        ];
        let m = diff(
            &cur,
            &want,
            &["displayName", "msDS-DevicePhysicalIDs", "msDS-IsEnabled", "msDS-DeviceOSType"],
        );
        assert_eq!(
            m,
            vec![Modification {
                op: ModOp::Replace,
                attr: "msDS-IsEnabled".into(),
                values: vec![b"TRUE".to_vec()]
            }]
        );
        let gone = diff(&cur, &[], &["displayName"]);
        assert_eq!(gone[0].op, ModOp::Delete);
    }

    /// 100,000 values, some repeated: diffed and applied as sets, written once each.
    #[test]
    fn many_values_are_distinct_and_diffed_as_sets() {
        let many: Vec<String> = (0..100_000).map(|i| format!("[GID]:g:{}", i % 60_000)).collect();
        let want = vec![Attr::text("msDS-DevicePhysicalIDs", many.iter().map(String::as_str))];
        let cur = Entry::with_attrs(Dn::parse("CN=d,DC=x").unwrap(), []);
        let m = diff(&cur, &want, &["msDS-DevicePhysicalIDs"]);
        assert_eq!(m[0].values.len(), 60_000);
        let mut e = cur.clone();
        e.add_values("msDS-DevicePhysicalIDs", m[0].values.clone());
        e.add_values("msDS-DevicePhysicalIDs", want[0].values.clone());
        assert_eq!(e.get("msDS-DevicePhysicalIDs").len(), 60_000);
        assert!(diff(&e, &want, &["msDS-DevicePhysicalIDs"]).is_empty(), "the same set");
        e.remove_values("msDS-DevicePhysicalIDs", &m[0].values[..30_000]);
        assert_eq!(e.get("msDS-DevicePhysicalIDs").len(), 30_000);
    }
}

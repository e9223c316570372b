//! Per-attribute diff of a device object against its desired state: only the
//! managed attributes that differ are replaced (or removed), so a no-change
//! resync writes nothing and attributes other writers own are never touched.

use crate::ad::{ModOp, Modification};
use crate::directory::{Attr, Entry};

/// Values equal in meaning are the same (an anchor in UTF-16LE and in UTF-8, a
/// SID as text and binary: `forms`), so a value is never rewritten for its form.
fn same(name: &str, a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let mut x: Vec<&Vec<u8>> = a.iter().collect();
    let mut y: Vec<&Vec<u8>> = b.iter().collect();
    x.sort();
    y.sort();
    x == y || super::forms::same_meaning(name, a, b)
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
                values: want.to_vec(),
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
}

//! The plan for people (text), for `ldapmodify` (LDIF change records, binary
//! values base64) and for machines (JSON).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::{ChangeOp, Plan};
use crate::ad::{ModOp, WriteOp};
use crate::directory::ldif::{attr_line, dn_line};
use crate::directory::syntax::{Syntax, syntax_of};
use crate::directory::{Guid, Sid};
use crate::text::visible;

/// A value as people should read it: GUIDs and SIDs in their string forms,
/// other binary as base64, text as is.
pub fn display_value(attr: &str, v: &[u8]) -> String {
    match syntax_of(attr) {
        Syntax::Guid => Guid::from_bytes(v)
            .map(|g| g.to_string())
            .unwrap_or_else(|_| format!("base64:{}", B64.encode(v))),
        Syntax::Sid => Sid::from_bytes(v)
            .map(|s| s.to_string())
            .unwrap_or_else(|_| format!("base64:{}", B64.encode(v))),
        Syntax::Binary | Syntax::SecurityDescriptor => match std::str::from_utf8(v) {
            Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => {
                format!("{s:?} (bytes)")
            }
            _ => format!("base64:{}", B64.encode(v)),
        },
        Syntax::Text => match std::str::from_utf8(v) {
            Ok(s) => s.to_string(),
            Err(_) => format!("base64:{}", B64.encode(v)),
        },
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}… ({} chars)", s.chars().take(max).collect::<String>(), s.chars().count())
    } else {
        s.to_string()
    }
}

/// The plan as text for people.
pub fn text(plan: &Plan) -> String {
    if plan.is_empty() {
        return "No changes: the directory already matches.\n".to_string();
    }
    let mut out = String::new();
    for c in &plan.changes {
        out.push_str(&format!("{:>3}. {:<7} {}\n", c.id, c.op.verb(), visible(&c.op.target())));
        if let Some(r) = &c.reason {
            out.push_str(&format!("       why: {}\n", visible(r)));
        }
        match &c.op {
            ChangeOp::Directory(WriteOp::Add { attrs, .. }) => {
                for a in attrs {
                    value_lines(&mut out, "+", &a.name, &a.values);
                }
            }
            ChangeOp::Directory(WriteOp::Modify { mods, .. }) => {
                for m in mods {
                    let sign = match m.op {
                        ModOp::Add => "+",
                        ModOp::Delete => "-",
                        ModOp::Replace => "~",
                    };
                    if m.op == ModOp::Replace
                        && let Some(old) = old_values(c, &m.attr)
                    {
                        let (old, new) =
                            (values_line(&m.attr, old), values_line(&m.attr, &m.values));
                        out.push_str(&format!("       ~ {}: {old} → {new}\n", m.attr));
                        continue;
                    }
                    if m.values.is_empty() {
                        out.push_str(&format!("       {sign} {} (all values)\n", m.attr));
                    }
                    value_lines(&mut out, sign, &m.attr, &m.values);
                }
            }
            ChangeOp::Directory(WriteOp::Delete { .. }) => {}
            ChangeOp::Acl { before, after, .. } => {
                out.push_str(&format!(
                    "       before: {}\n       after:  {}\n",
                    visible(before),
                    visible(after)
                ));
            }
            ChangeOp::Graph(g) => {
                let (method, _, body) = g.request();
                out.push_str(&format!("       {method} {}\n       body: {body}\n", g.summary()));
            }
            ChangeOp::Setting { value, .. } => {
                out.push_str(&format!("       = {}\n", visible(value)))
            }
            ChangeOp::StateCommit { pending, .. } => {
                out.push_str(&format!("       = {}\n", visible(&pending.display().to_string())))
            }
        }
    }
    out.push_str(&counts_line(plan));
    out
}

/// What the planner read of `attr` before the change (a sync's container
/// state, a saved plan's or an undo's precondition), when it knows.
fn old_values<'a>(c: &'a super::Change, attr: &str) -> Option<&'a [Vec<u8>]> {
    let expected = match &c.expect {
        Some(super::Expect::Values(v)) => Some(v),
        _ => None,
    };
    c.before
        .iter()
        .chain(expected)
        .flatten()
        .find(|a| a.name.eq_ignore_ascii_case(attr))
        .map(|a| a.values.as_slice())
}

/// How many values of one attribute a text plan shows (a device may carry
/// thousands; `--format json` and a saved plan keep them all).
const VALUES_SHOWN: usize = 10;

/// What the text leaves out of `values`, said once: `; and 2990 more`.
fn more(values: &[Vec<u8>]) -> String {
    match values.len().saturating_sub(VALUES_SHOWN) {
        0 => String::new(),
        n => format!(" (and {n} more; --format json lists them all)"),
    }
}

/// One line per value of `attr` (the first [`VALUES_SHOWN`]), each clipped.
fn value_lines(out: &mut String, sign: &str, attr: &str, values: &[Vec<u8>]) {
    for v in values.iter().take(VALUES_SHOWN) {
        let shown = truncate(&visible(&display_value(attr, v)), 200);
        out.push_str(&format!("       {sign} {attr}: {shown}\n"));
    }
    if values.len() > VALUES_SHOWN {
        out.push_str(&format!("       {sign} {attr}: …{}\n", more(values)));
    }
}

/// An attribute's values on one line (the first [`VALUES_SHOWN`]), each
/// clipped: `(none)` when there are none.
fn values_line(attr: &str, values: &[Vec<u8>]) -> String {
    if values.is_empty() {
        return "(none)".into();
    }
    let shown: Vec<String> = values
        .iter()
        .take(VALUES_SHOWN)
        .map(|v| crate::text::clip(&visible(&display_value(attr, v)), VALUE_CLIP).into_owned())
        .collect();
    format!("{}{}", shown.join("; "), more(values))
}

/// How much of a value an old → new line shows (the full values are in `--format json`).
const VALUE_CLIP: usize = 100;

/// The plan's last line: how many changes of each kind, and the digest of
/// the saved plan file it is, if any.
pub fn counts_line(plan: &Plan) -> String {
    let counts: Vec<String> = plan.counts().iter().map(|(k, n)| format!("{n} {k}")).collect();
    let digest = plan.digest.as_ref().map(|d| format!("; saved plan digest {d}"));
    format!("Plan: {} change(s): {}{}\n", plan.len(), counts.join(", "), digest.unwrap_or_default())
}

/// The directory part of the plan as LDIF change records that `ldapmodify`
/// accepts unchanged. Non-directory changes appear as comments.
pub fn ldif(plan: &Plan) -> String {
    let mut out = String::from("version: 1\n\n");
    for c in &plan.changes {
        out.push_str(&format!("# {}. {} {}\n", c.id, c.op.verb(), visible(&c.op.target())));
        if let Some(r) = &c.reason {
            out.push_str(&format!("# why: {}\n", visible(r)));
        }
        let Some(op) = c.op.write_op() else {
            out.push_str("# (not a directory change)\n\n");
            continue;
        };
        if let ChangeOp::Acl { before, after, .. } = &c.op {
            out.push_str(&format!("# before: {}\n# after:  {}\n", visible(before), visible(after)));
        }
        out.push_str(&dn_line(op.dn()));
        out.push('\n');
        if let WriteOp::Modify { sd_flags: Some(flags), .. } = &*op {
            // RFC 2849 control line: the SD flags control (critical), so only the DACL
            // is written; owner, group and SACL stay as they are.
            out.push_str(&format!(
                "control: {SD_FLAGS_OID} true:: {}\n",
                B64.encode(sd_flags_value(*flags))
            ));
        }
        match &*op {
            WriteOp::Add { attrs, .. } => {
                out.push_str("changetype: add\n");
                for a in attrs {
                    for v in &a.values {
                        out.push_str(&attr_line(&a.name, v));
                        out.push('\n');
                    }
                }
            }
            WriteOp::Modify { mods, .. } => {
                out.push_str("changetype: modify\n");
                for m in mods {
                    let verb = match m.op {
                        ModOp::Add => "add",
                        ModOp::Delete => "delete",
                        ModOp::Replace => "replace",
                    };
                    out.push_str(&format!("{verb}: {}\n", m.attr));
                    for v in &m.values {
                        out.push_str(&attr_line(&m.attr, v));
                        out.push('\n');
                    }
                    out.push_str("-\n");
                }
            }
            WriteOp::Delete { .. } => out.push_str("changetype: delete\n"),
        }
        out.push('\n');
    }
    out
}

/// LDAP_SERVER_SD_FLAGS_OID (MS-ADTS 3.1.1.3.4.1.11).
const SD_FLAGS_OID: &str = "1.2.840.113556.1.4.801";

/// The control's value: BER `SEQUENCE { INTEGER flags }`.
fn sd_flags_value(flags: u32) -> Vec<u8> {
    let mut int: Vec<u8> = flags.to_be_bytes().to_vec();
    while int.len() > 1 && int[0] == 0 && int[1] & 0x80 == 0 {
        int.remove(0);
    }
    if int[0] & 0x80 != 0 {
        int.insert(0, 0);
    }
    let mut out = vec![0x30, int.len() as u8 + 2, 0x02, int.len() as u8];
    out.extend(int);
    out
}

fn values_json(attr: &str, values: &[Vec<u8>]) -> Value {
    Value::Array(values.iter().map(|v| Value::String(display_value(attr, v))).collect())
}

/// One change as JSON.
pub fn change_json(c: &super::Change) -> Value {
    let mut v =
        json!({ "id": c.id, "action": c.op.verb(), "target": c.op.target(), "reason": c.reason });
    let detail = match &c.op {
        ChangeOp::Directory(WriteOp::Add { attrs, .. }) => {
            json!({ "attributes": attrs.iter().map(|a| (a.name.to_string(), values_json(&a.name, &a.values))).collect::<serde_json::Map<_, _>>() })
        }
        ChangeOp::Directory(WriteOp::Modify { mods, .. }) => json!({
            "modifications": mods.iter().map(|m| json!({"op": m.op, "attribute": m.attr, "values": values_json(&m.attr, &m.values)})).collect::<Vec<_>>()
        }),
        ChangeOp::Directory(WriteOp::Delete { .. }) => json!({}),
        ChangeOp::Acl { before, after, .. } => {
            json!({ "sddl_before": before, "sddl_after": after })
        }
        ChangeOp::Graph(g) => {
            let (method, path, body) = g.request();
            json!({ "method": method, "url": path, "body": body, "summary": g.summary() })
        }
        ChangeOp::Setting { file, profile, key, value } => {
            json!({ "file": file, "profile": profile, "key": key, "value": value })
        }
        ChangeOp::StateCommit { pending, state, retry } => json!({
            "file": state.display().to_string(), "profile": "", "key": "deltaLink",
            "value": pending.display().to_string(), "retry": retry
        }),
    };
    if let (Some(obj), Value::Object(d)) = (v.as_object_mut(), detail) {
        obj.extend(d);
    }
    v
}

/// The plan as JSON.
pub fn json(plan: &Plan) -> Value {
    Value::Array(plan.changes.iter().map(change_json).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::Modification;
    use crate::directory::{Attr, Dn};

    fn sample() -> Plan {
        let mut p = Plan::default();
        let dn = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        p.push(
            ChangeOp::Directory(WriteOp::Add {
                dn: dn.clone(),
                attrs: vec![Attr::text("objectClass", ["msDS-DeviceContainer"])],
            }),
            Some("device container".into()),
        );
        let dev = dn.child("CN", "é,x").unwrap();
        p.push(
            ChangeOp::Directory(WriteOp::Modify {
                dn: dev.clone(),
                mods: vec![Modification {
                    op: ModOp::Replace,
                    attr: "msDS-DeviceID".into(),
                    values: vec![vec![1; 16]],
                }],
                sd_flags: None,
            }),
            None,
        );
        p.push(ChangeOp::Directory(WriteOp::Delete { dn: dev }), None);
        p
    }

    #[test]
    fn ldif_is_ldapmodify_input() {
        let out = ldif(&sample());
        assert!(out.contains("dn: CN=RegisteredDevices,DC=contoso,DC=test\nchangetype: add\nobjectClass: msDS-DeviceContainer\n"));
        assert!(out.contains("dn:: "), "non-ASCII DN must be base64:\n{out}");
        assert!(
            out.contains("replace: msDS-DeviceID\nmsDS-DeviceID:: AQEBAQEBAQEBAQEBAQEBAQ==\n-\n")
        );
        assert!(out.contains("changetype: delete\n"));
    }

    #[test]
    fn sd_flags_control_value() {
        assert_eq!(B64.encode(sd_flags_value(4)), "MAMCAQQ=");
        assert_eq!(B64.encode(sd_flags_value(7)), "MAMCAQc=");
        assert_eq!(sd_flags_value(0x80), vec![0x30, 4, 2, 2, 0, 0x80]);
    }

    #[test]
    fn text_and_json() {
        let t = text(&sample());
        assert!(t.contains("create  CN=RegisteredDevices"));
        assert!(t.contains("~ msDS-DeviceID: 01010101-0101-0101-0101-010101010101"));
        assert!(t.ends_with("Plan: 3 change(s): 1 create, 1 modify, 1 delete\n"));
        // With what the planner read before, a replace shows old → new.
        let mut p = sample();
        p.changes[1].before = Some(vec![Attr::new("msds-deviceid", vec![vec![2; 16]])]);
        assert!(
            text(&p).contains(
                "~ msDS-DeviceID: 02020202-0202-0202-0202-020202020202 → \
                 01010101-0101-0101-0101-010101010101"
            ),
            "{}",
            text(&p)
        );
        let j = json(&sample());
        assert_eq!(j[0]["action"], "create");
        assert_eq!(j[1]["modifications"][0]["op"], "replace");
    }

    #[test]
    fn thousands_of_values_are_ten_lines_and_a_count_in_text_all_in_json() {
        let ids: Vec<Vec<u8>> = (0..3000).map(|i| format!("id-{i}").into_bytes()).collect();
        let mut p = sample();
        let ChangeOp::Directory(WriteOp::Modify { mods, .. }) = &mut p.changes[1].op else {
            panic!("the sample's second change is a modify")
        };
        mods[0] = Modification {
            op: ModOp::Replace,
            attr: "msDS-DevicePhysicalIDs".into(),
            values: ids.clone(),
        };
        p.changes[1].before = Some(vec![Attr::new("msDS-DevicePhysicalIDs", ids.clone())]);
        let t = text(&p);
        let line = t.lines().find(|l| l.contains("~ msDS-DevicePhysicalIDs")).unwrap();
        assert!(line.len() < 400, "{} characters", line.len());
        assert_eq!(line.matches("(and 2990 more; --format json lists them all)").count(), 2);
        let ChangeOp::Directory(WriteOp::Add { attrs, .. }) = &mut p.changes[0].op else {
            panic!("the sample's first change is an add")
        };
        attrs.push(Attr::new("msDS-DevicePhysicalIDs", ids));
        let t = text(&p);
        let added = t.lines().filter(|l| l.contains("+ msDS-DevicePhysicalIDs")).count();
        assert_eq!(added, 11, "ten values and the count:\n{t}");
        let j = json(&p);
        assert_eq!(j[1]["modifications"][0]["values"].as_array().unwrap().len(), 3000);
    }
}

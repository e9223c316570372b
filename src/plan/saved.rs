//! Saved plans (`--save-plan FILE.json`, format `dwb.plan/1`): the plan as
//! reviewed, to be applied later by `dwb apply FILE.json` change for change,
//! without running the script again. Every value is exact (base64); the file
//! names the directory it was made for (its domain naming context); and every
//! directory change carries its precondition: `{"absent": true}` for a create,
//! `{"values": {attr: [base64…]}}` for a modify (the attributes it touches, as
//! they were) and a delete (the object's attributes as the plan saw them). A
//! change whose object no longer matches is refused when applied.
//!
//! Preconditions come from what the plan knows (a sync's container state) and,
//! for other changes, from one read per 100 objects when the plan is saved; a
//! change of an object touched earlier in the same plan expects the state the
//! earlier changes leave. A delta round's deltaLink move is not saved: the
//! next delta round reads those devices again.
//!
//! The file carries `digest`: SHA-256 of its canonical contents (the JSON
//! without `digest`, keys sorted, no spaces). `--save-plan` prints it where the
//! plan is reviewed; `dwb apply` recomputes it and refuses a file that does not
//! match (exit 3), and `dwb apply --expect-digest HEX` refuses any file but the
//! one reviewed. What a change needs to be checked is required, never
//! defaulted: the naming context (for directory changes), every directory
//! change's precondition, the refusals and the origin script.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::acl::AclEdit;
use super::values::{from_json, to_json, user_attrs, values_of};
use super::{Change, ChangeOp, Expect, GraphChange, Plan, Refusal};
use crate::ad::{Directory, ModOp, Modification, WriteOp};
use crate::directory::security::{Acl, SecurityDescriptor};
use crate::directory::{Dn, Entry};
use crate::error::{Error, Kind, Result};

pub const FORMAT: &str = "dwb.plan/1";

/// True for the file names `--save-plan` writes in this format.
pub fn is_saved_plan(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// A saved plan, loaded.
pub struct Saved {
    pub plan: Plan,
    pub script: String,
    pub run_id: String,
    pub created: String,
    pub parameters: serde_json::Map<String, Value>,
    /// `describe()` of the directory it was made for.
    pub directory: String,
    /// Its domain naming context: the plan applies to that domain only.
    pub naming_context: Option<String>,
    /// Changes of the original plan not in the file, with why.
    pub omitted: Vec<String>,
    /// How many devices the sync's source listed, as recorded (`source.listed`).
    pub listed: Option<u64>,
    /// The digest the file states (checked against its contents by [`Saved::verify`]).
    pub digest: String,
    /// The digest of the file's contents, as loaded.
    pub computed: String,
}

impl Saved {
    /// `Ok` when the file's contents match its digest and, if given, the
    /// digest the reviewer pinned (`--expect-digest`).
    pub fn verify(&self, path: &Path, expected: Option<&str>) -> Result<()> {
        if !self.digest.eq_ignore_ascii_case(&self.computed) {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!(
                    "{}: the plan's contents do not match its digest (the file says {}, its \
                     contents are {}): it was changed after it was saved; nothing was applied",
                    path.display(),
                    crate::text::clip(&self.digest, 64),
                    self.computed
                ),
            )
            .with_hint("save the plan again (`dwb run … --save-plan FILE.json`) and review it"));
        }
        if let Some(want) = expected
            && !want.trim().eq_ignore_ascii_case(&self.computed)
        {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!(
                    "{}: digest {} is not the reviewed one ({}); nothing was applied",
                    path.display(),
                    self.computed,
                    crate::text::clip(want.trim(), 64)
                ),
            )
            .with_hint("apply the file that was reviewed"));
        }
        Ok(())
    }
}

/// SHA-256 (hex) of a saved plan's canonical contents: the document without
/// its `digest`, keys sorted, compact.
pub fn digest_of(doc: &Value) -> String {
    let mut doc = doc.clone();
    if let Some(o) = doc.as_object_mut() {
        o.remove("digest");
    }
    let mut text = String::new();
    write_canonical(&doc, &mut text);
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compact JSON with keys in sorted order whatever the map type keeps.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn b64(v: &[u8]) -> Value {
    Value::String(B64.encode(v))
}

/// The planned state of every object the plan touches, just before each of its
/// changes: what the plan knows, else one read per 100 objects.
pub fn preconditions(plan: &Plan, dir: &dyn Directory) -> Result<Vec<Option<Expect>>> {
    let mut unknown: Vec<Dn> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for c in &plan.changes {
        let Some(op) = c.op.write_op() else { continue };
        let n = op.dn().norm();
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        let known = c.before.is_some() || matches!(*op, WriteOp::Add { .. });
        if !known {
            unknown.push(op.dn().clone());
        }
    }
    let refs: Vec<&Dn> = unknown.iter().collect();
    let read = super::expect::read_many(dir, &refs, &["*".to_string()])?;
    let mut state: HashMap<String, Option<Entry>> = HashMap::new();
    let mut out = Vec::with_capacity(plan.len());
    for c in &plan.changes {
        let ChangeOp::Directory(op) = &c.op else {
            out.push(None);
            continue;
        };
        let key = op.dn().norm();
        let cur: Option<Entry> = match state.get(&key) {
            Some(s) => s.clone(),
            None => match (&c.before, op) {
                (_, WriteOp::Add { .. }) => None,
                (Some(b), _) => Some(Entry::with_attrs(op.dn().clone(), b.iter().cloned())),
                (None, _) => read.get(&key).cloned(),
            },
        };
        out.push(Some(match (op, &cur) {
            (WriteOp::Add { .. }, _) => Expect::Absent,
            (WriteOp::Modify { mods, .. }, Some(e)) => {
                Expect::Values(values_of(e, &super::values::touched(mods)))
            }
            (WriteOp::Delete { .. }, Some(e)) => Expect::Values(user_attrs(e)),
            // Not there now: the DC refuses the write; expect it to exist.
            (_, None) => Expect::Values(Vec::new()),
        }));
        state.insert(key, super::view::apply_to(cur, op));
    }
    Ok(out)
}

fn expect_json(e: &Expect) -> Value {
    match e {
        Expect::Absent => json!({ "absent": true }),
        Expect::Values(attrs) => json!({ "values": to_json(attrs) }),
    }
}

fn ace_json(e: &AclEdit) -> Result<Value> {
    let (verb, ace) = match e {
        AclEdit::Grant(a) => ("grant", a),
        AclEdit::Revoke(a) => ("revoke", a),
    };
    let mut acl = Acl::new();
    acl.grant(ace.clone());
    let mut sd = SecurityDescriptor::new();
    sd.set_dacl(Some(acl));
    let bytes = sd.to_bytes().map_err(|e| Error::new(Kind::Security, e.to_string()))?;
    Ok(json!({ verb: B64.encode(bytes) }))
}

fn change_json(c: &Change, expect: Option<&Expect>) -> Result<Option<Value>> {
    let mut v = json!({ "id": c.id, "reason": c.reason, "device": c.device });
    let detail = match &c.op {
        ChangeOp::Directory(WriteOp::Add { dn, attrs }) => {
            json!({ "action": "create", "dn": dn.to_string(), "attributes": to_json(attrs) })
        }
        ChangeOp::Directory(WriteOp::Modify { dn, mods, sd_flags }) => json!({
            "action": "modify", "dn": dn.to_string(), "sd_flags": sd_flags,
            "modifications": mods.iter().map(|m| json!({
                "op": m.op, "attribute": m.attr,
                "values": m.values.iter().map(|x| b64(x)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
        ChangeOp::Directory(WriteOp::Delete { dn }) => {
            json!({ "action": "delete", "dn": dn.to_string() })
        }
        ChangeOp::Acl { dn, before, after, descriptor, edits, expected } => json!({
            "action": "acl", "dn": dn.to_string(), "sddl_before": before, "sddl_after": after,
            "descriptor": b64(descriptor),
            "edits": edits.iter().map(ace_json).collect::<Result<Vec<_>>>()?,
            "expected": expected.as_deref().map(b64),
        }),
        ChangeOp::Graph(GraphChange::SetDeviceWriteback(on)) => {
            json!({ "action": "http", "set_device_writeback": on })
        }
        ChangeOp::Setting { file, profile, key, value } => json!({
            "action": "setting", "file": file, "profile": profile, "key": key, "value": value
        }),
        ChangeOp::StateCommit { .. } => return Ok(None),
    };
    if let (Some(obj), Value::Object(d)) = (v.as_object_mut(), detail) {
        obj.extend(d);
        if let Some(e) = expect {
            obj.insert("expect".into(), expect_json(e));
        }
    }
    Ok(Some(v))
}

/// Who made a saved plan: the run it came from.
pub struct Origin<'a> {
    pub run_id: Option<&'a str>,
    pub script: &'a str,
    pub parameters: &'a serde_json::Map<String, Value>,
    /// How many devices a sync's source listed (its report's `sync.listed`):
    /// the empty-source guard is evaluated again on it at apply.
    pub listed: Option<u64>,
}

/// True when saving `plan` needs the directory (for its preconditions).
pub fn needs_directory(plan: &Plan) -> bool {
    plan.changes.iter().any(|c| c.op.write_op().is_some())
}

/// Writes a run's plan to `path` as a saved plan; `dir` (the directory the plan
/// was made against, without the plan over it) gives each change its precondition.
/// Returns the plan's digest (to be shown where the plan is reviewed).
pub fn save(
    path: &Path,
    plan: &Plan,
    dir: Option<&dyn Directory>,
    origin: &Origin,
) -> Result<String> {
    let (expects, directory, nc) = match dir {
        Some(dir) => {
            let nc =
                dir.root_dse().ok().and_then(|r| r.default_naming_context).map(|d| d.to_string());
            (preconditions(plan, dir)?, Some(anchored(dir.describe())), nc)
        }
        None => (vec![None; plan.len()], None, None),
    };
    let mut changes = Vec::new();
    let mut omitted = Vec::new();
    for (c, e) in plan.changes.iter().zip(&expects) {
        match change_json(c, e.as_ref())? {
            Some(v) => changes.push(v),
            None => omitted.push(format!(
                "{}. {} {}: the delta state is not saved; the next delta round reads these \
                 devices again",
                c.id,
                c.op.verb(),
                c.op.target()
            )),
        }
    }
    let mut doc = json!({
        "format": FORMAT, "dwb_version": env!("CARGO_PKG_VERSION"),
        "created": super::journal::now_utc(), "run_id": origin.run_id, "script": origin.script,
        "parameters": origin.parameters, "directory": directory, "naming_context": nc,
        "refusals": plan.refusals, "omitted": omitted, "changes": changes,
        "source": origin.listed.map(|n| json!({ "listed": n })),
    });
    let digest = digest_of(&doc);
    if let Some(o) = doc.as_object_mut() {
        o.insert("digest".into(), Value::String(digest.clone()));
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| Error::internal(e.to_string()))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Error::io(format!("writing the saved plan {}", path.display()), e))?;
    Ok(digest)
}

/// A snapshot file's description with its path made absolute: the plan is
/// applied from wherever its reviewer stands (`--snapshot` is compared as a
/// file, not as the name typed where the plan was made).
fn anchored(described: String) -> String {
    match described.strip_prefix("snapshot ") {
        Some(p) if p != crate::embedded::DEMO_NAME && Path::new(p).is_relative() => {
            match std::path::absolute(p) {
                Ok(abs) => format!("snapshot {}", abs.display()),
                Err(_) => described,
            }
        }
        _ => described,
    }
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::new(Kind::InvalidArgument, format!("{}: {msg}", path.display()))
        .with_hint("a saved plan is the .json file `dwb run … --save-plan FILE.json` wrote")
}

fn decode(s: Option<&str>, what: &str) -> std::result::Result<Vec<u8>, String> {
    let s = s.ok_or_else(|| format!("{what} is missing"))?;
    B64.decode(s).map_err(|e| format!("{what} is not base64: {e}"))
}

fn parse_edit(v: &Value) -> std::result::Result<AclEdit, String> {
    let (verb, b) =
        if let Some(b) = v.get("grant") { ("grant", b) } else { ("revoke", &v["revoke"]) };
    let sd = SecurityDescriptor::from_bytes(&decode(b.as_str(), "an ACL edit")?)
        .map_err(|e| e.to_string())?;
    let ace = sd
        .dacl
        .as_ref()
        .and_then(|d| d.aces().next().cloned())
        .ok_or_else(|| "an ACL edit holds no ACE".to_string())?;
    Ok(if verb == "grant" { AclEdit::Grant(ace) } else { AclEdit::Revoke(ace) })
}

/// The SDDL before and after a DACL change and the planned descriptor, computed
/// from its precondition and its edits (the file's `sddl_*` are not read).
fn acl_display(
    expected: Option<&[u8]>,
    edits: &[AclEdit],
) -> std::result::Result<(String, String, Vec<u8>), String> {
    let sddl = |sd: &SecurityDescriptor| sd.to_sddl(None).map_err(|e| e.to_string());
    let Some(exp) = expected else {
        let mut shown = Vec::new();
        for e in edits {
            let (verb, ace) = match e {
                AclEdit::Grant(a) => ("grant", a),
                AclEdit::Revoke(a) => ("revoke", a),
            };
            let mut acl = Acl::new();
            acl.grant(ace.clone());
            let mut one = SecurityDescriptor::new();
            one.set_dacl(Some(acl));
            shown.push(format!("{verb} {}", sddl(&one)?.trim_start_matches("D:")));
        }
        let before = "(object created by this plan: its class's default DACL)".to_string();
        return Ok((before.clone(), format!("{before}, then {}", shown.join(", ")), Vec::new()));
    };
    let mut sd = SecurityDescriptor::from_bytes(exp).map_err(|e| e.to_string())?;
    let before = sddl(&sd.dacl_only())?;
    super::acl::edit(&mut sd, edits);
    let descriptor = sd.dacl_only().to_bytes().map_err(|e| e.to_string())?;
    Ok((before, sddl(&sd.dacl_only())?, descriptor))
}

fn parse_op(v: &Value) -> std::result::Result<ChangeOp, String> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let dn = || -> std::result::Result<Dn, String> {
        Dn::parse(&s("dn").ok_or("`dn` is missing")?).map_err(|e| e.to_string())
    };
    let attrs = |k: &str| from_json(&v[k], k).map_err(|e| e.message);
    Ok(match s("action").as_deref() {
        Some("create") => {
            ChangeOp::Directory(WriteOp::Add { dn: dn()?, attrs: attrs("attributes")? })
        }
        Some("modify") => {
            let mut mods = Vec::new();
            for m in v["modifications"].as_array().ok_or("`modifications` is missing")? {
                let op = match m["op"].as_str() {
                    Some("add") => ModOp::Add,
                    Some("delete") => ModOp::Delete,
                    Some("replace") => ModOp::Replace,
                    other => return Err(format!("unknown modification op {other:?}")),
                };
                let values = m["values"]
                    .as_array()
                    .ok_or("modification values are missing")?
                    .iter()
                    .map(|x| decode(x.as_str(), "a value"))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let attr = m["attribute"].as_str().ok_or("a modification has no attribute")?;
                mods.push(Modification { op, attr: attr.to_string(), values });
            }
            let sd_flags = v["sd_flags"].as_u64().map(|f| f as u32);
            ChangeOp::Directory(WriteOp::Modify { dn: dn()?, mods, sd_flags })
        }
        Some("delete") => ChangeOp::Directory(WriteOp::Delete { dn: dn()? }),
        Some("acl") => {
            let edits: Vec<AclEdit> = v["edits"]
                .as_array()
                .ok_or("`edits` is missing")?
                .iter()
                .map(parse_edit)
                .collect::<std::result::Result<_, _>>()?;
            let expected = match v["expected"].as_str() {
                None => None,
                s => Some(decode(s, "`expected`")?),
            };
            // What is shown comes from what is applied (the edits on the expected
            // DACL), never from the file's display text.
            let (before, after, descriptor) = acl_display(expected.as_deref(), &edits)?;
            ChangeOp::Acl { dn: dn()?, before, after, descriptor, edits, expected }
        }
        Some("http") => ChangeOp::Graph(GraphChange::SetDeviceWriteback(
            v["set_device_writeback"].as_bool().ok_or("`set_device_writeback` is missing")?,
        )),
        Some("setting") => ChangeOp::Setting {
            file: s("file").ok_or("`file` is missing")?,
            profile: s("profile").ok_or("`profile` is missing")?,
            key: s("key").ok_or("`key` is missing")?,
            value: s("value").ok_or("`value` is missing")?,
        },
        other => return Err(format!("unknown action {other:?}")),
    })
}

fn parse_expect(v: &Value) -> std::result::Result<Option<Expect>, String> {
    match v.get("expect") {
        None | Some(Value::Null) => Ok(None),
        Some(e) if e.get("absent").and_then(Value::as_bool) == Some(true) => {
            Ok(Some(Expect::Absent))
        }
        Some(e) => {
            Ok(Some(Expect::Values(from_json(&e["values"], "`expect`").map_err(|e| e.message)?)))
        }
    }
}

/// Reads a saved plan.
pub fn load(path: &Path) -> Result<Saved> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading the saved plan {}", path.display()), e))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| bad(path, format!("not JSON: {e}")))?;
    match doc.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(bad(path, format!("format `{other}`; this dwb reads `{FORMAT}`")));
        }
        None => return Err(bad(path, "not a saved plan (no `format`)")),
    }
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let required = |k: &str| s(k).ok_or_else(|| bad(path, format!("`{k}` is missing")));
    let digest = required("digest")?;
    let script = required("script").and_then(|v| match v.is_empty() {
        true => Err(bad(path, "`script` (the plan's origin) is empty")),
        false => Ok(v),
    })?;
    let mut plan = Plan::default();
    for (i, v) in
        doc["changes"].as_array().ok_or_else(|| bad(path, "no `changes`"))?.iter().enumerate()
    {
        let op = parse_op(v).map_err(|m| bad(path, format!("change {}: {m}", i + 1)))?;
        let expect = parse_expect(v).map_err(|m| bad(path, format!("change {}: {m}", i + 1)))?;
        // A directory change without its precondition would be applied blind.
        if matches!(op, ChangeOp::Directory(_)) && expect.is_none() {
            return Err(bad(path, format!("change {}: `expect` is missing", i + 1)));
        }
        let reason = v["reason"].as_str().map(str::to_string);
        let device = v["device"].as_str().map(str::to_string);
        plan.push_for(op, reason, device);
        if let Some(c) = plan.changes.last_mut() {
            c.expect = expect;
        }
    }
    let refusals = doc.get("refusals").ok_or_else(|| bad(path, "`refusals` is missing"))?;
    plan.refusals = serde_json::from_value::<Vec<RefusalIn>>(refusals.clone())
        .map_err(|e| bad(path, format!("`refusals`: {e}")))?
        .into_iter()
        .map(|r| Refusal { guard: r.guard, message: r.message, hint: r.hint, changes: r.changes })
        .collect();
    let naming_context = s("naming_context");
    if naming_context.is_none() && plan.changes.iter().any(|c| c.op.write_op().is_some()) {
        return Err(bad(path, "`naming_context` is missing (the plan has directory changes)"));
    }
    Ok(Saved {
        computed: digest_of(&doc),
        digest,
        plan,
        script,
        run_id: s("run_id").unwrap_or_default(),
        created: s("created").unwrap_or_default(),
        parameters: doc["parameters"].as_object().cloned().unwrap_or_default(),
        directory: s("directory").unwrap_or_default(),
        naming_context,
        listed: doc["source"]["listed"].as_u64(),
        omitted: doc["omitted"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusalIn {
    guard: String,
    message: String,
    hint: String,
    changes: Vec<usize>,
}

/// Why each change would be refused if applied now (a dry run of a saved plan):
/// one read per 100 objects.
pub fn check_now(plan: &Plan, dir: &dyn Directory) -> Result<Vec<Option<String>>> {
    let dns: Vec<&Dn> = plan
        .changes
        .iter()
        .filter(|c| c.expect.is_some())
        .filter_map(|c| match &c.op {
            ChangeOp::Directory(op) => Some(op.dn()),
            _ => None,
        })
        .collect();
    let cur = super::expect::read_many(dir, &dns, &["*".to_string()])?;
    let mut touched: Vec<String> = Vec::new();
    Ok(plan
        .changes
        .iter()
        .map(|c| {
            let ChangeOp::Directory(op) = &c.op else { return None };
            let key = op.dn().norm();
            // A later change of an object the plan changes first: checked when applied.
            let first = !touched.contains(&key);
            touched.push(key.clone());
            let e = c.expect.as_ref()?;
            if !first {
                return None;
            }
            // A delete of an object already gone is done when applied, not refused.
            if matches!(op, WriteOp::Delete { .. }) && !cur.contains_key(&key) {
                return None;
            }
            super::expect::check(e, op.dn(), cur.get(&key)).err()
        })
        .collect())
}

//! The ACL part of `ad::`: read a DACL, grant and revoke (recorded in the plan
//! with an SDDL before/after), and check effective access. Class, attribute
//! and extended-right names resolve to GUIDs from the schema.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map, Module};

use crate::ad::{Directory, discovery};
use crate::bindings::convert::to_dn;
use crate::bindings::options::Options;
use crate::bindings::register::{OrRhai, RhaiResult, bind};
use crate::bindings::values::SdValue;
use crate::directory::security::{Ace, Inherit, SecurityDescriptor, rights};
use crate::directory::{Dn, Guid, Sid};
use crate::error::{Error, Kind, Result};
use crate::host::Host;
use crate::plan::ChangeOp;
use crate::plan::acl::{AclEdit, dacl_write, edit, read_sd};

const ACE_OPTS: &[&str] = &["inherit", "object_type", "inherited_object_type", "deny", "reason"];

/// A rights mask from `0x…`, a number, letters (`"RPWP"`, `"GR|GW"`, `"CC DC"`) or an array of them.
pub fn parse_rights(v: &Dynamic) -> Result<u32> {
    if let Ok(i) = v.as_int() {
        return u32::try_from(i)
            .map_err(|_| Error::invalid_argument(format!("rights mask {i} is out of range")));
    }
    if let Some(arr) = v.read_lock::<Array>() {
        return arr.iter().try_fold(0u32, |acc, x| Ok(acc | parse_rights(x)?));
    }
    let s = v.to_string();
    let mut mask = 0u32;
    for tok in
        s.split(|c: char| c == '|' || c == ',' || c.is_whitespace()).filter(|t| !t.is_empty())
    {
        if let Some(hex) = tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
            mask |= u32::from_str_radix(hex, 16).map_err(|_| {
                Error::invalid_argument(format!("`{tok}` is not a hex rights mask"))
            })?;
            continue;
        }
        if tok.len() % 2 != 0 || !tok.is_ascii() {
            return Err(Error::invalid_argument(format!(
                "`{tok}` is not a list of two-letter rights (CC DC LC SW RP WP DT LO CR SD RC WD WO GA GR GW GX)"
            )));
        }
        for pair in tok.as_bytes().chunks(2) {
            let p = std::str::from_utf8(pair).unwrap_or_default();
            mask |= rights::right_by_letters(p).ok_or_else(|| {
                Error::invalid_argument(format!("unknown right `{p}` in `{tok}`"))
            })?;
        }
    }
    if mask == 0 {
        return Err(Error::invalid_argument("no rights given"));
    }
    Ok(mask)
}

/// A trustee SID from a `Sid`, an account map (`ad::resolve_account`) or a name.
fn trustee(dir: &dyn Directory, v: &Dynamic) -> Result<Sid> {
    if let Some(s) = v.read_lock::<Sid>() {
        return Ok(s.clone());
    }
    if let Some(m) = v.read_lock::<Map>()
        && let Some(s) = m.get("sid").and_then(|s| s.read_lock::<Sid>().map(|x| x.clone()))
    {
        return Ok(s);
    }
    let name = v.to_string();
    if let Ok(s) = name.parse::<Sid>() {
        return Ok(s);
    }
    let root = dir.root_dse()?;
    Ok(crate::ad::accounts::resolve_account(dir, &root, &name)?.sid)
}

/// A GUID from a GUID string or a schema / extended-right name.
fn object_guid(dir: &dyn Directory, name: &str) -> Result<Guid> {
    if let Ok(g) = name.parse::<Guid>() {
        return Ok(g);
    }
    let root = dir.root_dse()?;
    discovery::schema_guid(dir, &root, name)
        .or_else(|_| discovery::extended_right_guid(dir, &root, name))
        .map_err(|_| {
            Error::new(
                Kind::SchemaMissing,
                format!("`{name}` is not a class, attribute or extended right in this forest"),
            )
        })
}

/// The ACE a grant/revoke/has_access call describes.
fn ace_from(
    dir: &dyn Directory,
    who: &Dynamic,
    rights_v: &Dynamic,
    opts: &Map,
    func: &str,
) -> Result<Ace> {
    let o = Options::read(opts, func, ACE_OPTS)?;
    let sid = trustee(dir, who)?;
    let mask = parse_rights(rights_v)?;
    let inherit = match o.choice("inherit", &["this", "this_and_children", "children"])?.as_deref()
    {
        Some("this_and_children") => Inherit::ThisAndChildren,
        Some("children") => Inherit::Children,
        _ => Inherit::This,
    };
    let ot = o.string("object_type")?.map(|n| object_guid(dir, &n)).transpose()?;
    let iot = o.string("inherited_object_type")?.map(|n| object_guid(dir, &n)).transpose()?;
    let deny = o.bool("deny")?.unwrap_or(false);
    Ok(match (deny, ot.is_some() || iot.is_some()) {
        (false, false) => Ace::allow(sid, mask, inherit),
        (true, false) => Ace::deny(sid, mask, inherit),
        (false, true) => Ace::allow_object(sid, mask, inherit, ot, iot),
        (true, true) => Ace::deny_object(sid, mask, inherit, ot, iot),
    })
}

fn domain_sid(dir: &dyn Directory) -> Option<Sid> {
    let root = dir.root_dse().ok()?;
    discovery::domain_sid(dir, &root.default_nc().ok()?).ok()
}

fn dacl_sddl(sd: &SecurityDescriptor, domain: Option<&Sid>) -> String {
    sd.dacl_only().to_sddl(domain).unwrap_or_else(|e| format!("<{e}>"))
}

/// The DACL an object the plan creates gets from its class's
/// `defaultSecurityDescriptor` (its structural class: the last objectClass the
/// add names). `None` when the schema gives none.
fn class_default(dir: &dyn Directory, dn: &Dn) -> Result<Option<SecurityDescriptor>> {
    let Some(e) = dir.read(dn, &["objectClass"])? else { return Ok(None) };
    let Some(class) = e.strs("objectClass").into_iter().rfind(|c| !c.eq_ignore_ascii_case("top"))
    else {
        return Ok(None);
    };
    let root = dir.root_dse()?;
    let Some(sddl) = discovery::default_security_descriptor(dir, &root, &class)? else {
        return Ok(None);
    };
    let sd = SecurityDescriptor::from_sddl(&sddl, domain_sid(dir).as_ref()).map_err(|e| {
        Error::new(Kind::Security, format!("the defaultSecurityDescriptor of {class}: {e}"))
    })?;
    Ok(Some(sd.dacl_only()))
}

/// Plans a grant or revoke; returns whether the DACL changes.
fn change(
    host: &Host,
    dn_v: &Dynamic,
    who: &Dynamic,
    rights_v: &Dynamic,
    opts: &Map,
    grant: bool,
) -> Result<bool> {
    let func = if grant { "ad::grant" } else { "ad::revoke" };
    let dir = host.dir()?;
    let dn: Dn = to_dn(dn_v)?;
    let ace = ace_from(&*dir, who, rights_v, opts, func)?;
    // The base directory tells whether the object exists now (then the plan checks
    // at apply time that its DACL is still what was shown).
    let existing = read_sd(&**dir.base(), &dn).ok();
    let planned = match (&existing, read_sd(&*dir, &dn)?) {
        // Created by this plan: the DC will give it its class's default DACL, so the
        // plan starts from that (and the LDIF plan writes default + edits).
        (None, None) => class_default(&*dir, &dn)?,
        (_, p) => p,
    };
    let mut sd = planned.clone().unwrap_or_default();
    let edit_op = if grant { AclEdit::Grant(ace) } else { AclEdit::Revoke(ace) };
    if !edit(&mut sd, std::slice::from_ref(&edit_op)) {
        return Ok(false);
    }
    let domain = domain_sid(&*dir);
    let before = match (&existing, &planned) {
        (None, _) => "(object created by this plan: its class's default DACL)".to_string(),
        (_, Some(p)) => dacl_sddl(p, domain.as_ref()),
        (_, None) => "D:".to_string(),
    };
    // For an object the plan creates, `sd` is its class's default DACL plus the edits.
    let after = dacl_sddl(&sd, domain.as_ref());
    let descriptor = match dacl_write(&dn, &sd)? {
        crate::ad::WriteOp::Modify { mods, .. } => {
            mods.into_iter().next().and_then(|m| m.values.into_iter().next()).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let expected = existing
        .flatten()
        .map(|e| e.dacl_only().to_bytes())
        .transpose()
        .map_err(|e| Error::new(Kind::Security, e.to_string()))?;
    let why = Options::read(opts, func, ACE_OPTS)?.string("reason")?;
    let mut plan = host.plan.lock().map_err(|_| Error::internal("plan lock poisoned"))?;
    // Consecutive edits of one DACL become one change: one read-modify-write.
    if let Some(last) = plan.changes.last_mut()
        && let ChangeOp::Acl { dn: ldn, after: lafter, descriptor: ldesc, edits: ledits, .. } =
            &mut last.op
        && *ldn == dn
    {
        *lafter = after;
        *ldesc = descriptor;
        ledits.push(edit_op);
        if let Some(w) = why {
            last.reason = Some(match last.reason.take() {
                Some(r) => format!("{r}; {w}"),
                None => w,
            });
        }
        return Ok(true);
    }
    plan.push(ChangeOp::Acl { dn, before, after, descriptor, edits: vec![edit_op], expected }, why);
    Ok(true)
}

fn has_access(
    host: &Host,
    dn_v: &Dynamic,
    who: &Dynamic,
    rights_v: &Dynamic,
    opts: &Map,
) -> Result<bool> {
    let o = Options::read(opts, "ad::has_access", &["object_type"])?;
    let dir = host.dir()?;
    let dn = to_dn(dn_v)?;
    let sid = trustee(&*dir, who)?;
    let mask = rights::map_generic(parse_rights(rights_v)?);
    let ot = o.string("object_type")?.map(|n| object_guid(&*dir, &n)).transpose()?;
    let sd = read_sd(&*dir, &dn)?.unwrap_or_default();
    // The token: the account, its groups as the DC computes them (tokenGroups), and
    // the well-known SIDs every authenticated account has.
    let mut sids = vec![
        sid.clone(),
        "S-1-1-0".parse().map_err(|_| Error::internal("sid"))?,
        "S-1-5-11".parse().map_err(|_| Error::internal("sid"))?,
    ];
    if let Ok(root) = dir.root_dse()
        && let Ok(acct) = crate::ad::accounts::resolve_account(&*dir, &root, &sid.to_string())
        && let Ok(Some(e)) = dir.read(&acct.dn, &["tokenGroups"])
    {
        sids.extend(e.get("tokenGroups").iter().filter_map(|b| Sid::from_bytes(b).ok()));
    }
    Ok(sd.effective_rights(&sids, ot) & mask == mask)
}

/// Adds the ACL functions to the `ad::` module.
pub(super) fn register(m: &mut Module, host: Arc<Host>) {
    register_edits(m, &host);
    register_checks(m, &host);
}

/// Registers reading and editing DACLs.
fn register_edits(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// Reads an object's owner, group and DACL (with the SD flags control, so no SACL rights are needed). Print it or call `.to_sddl()`; `.aces()` lists the ACEs.
        /// # Example
        /// ```rhai
        /// print(ad::get_acl(ad::domain_dn().child("CN", "RegisteredDevices")).to_sddl());
        /// ```
        /// # Errors
        /// `no_such_object`, `security_descriptor` (malformed), `invalid_dn`.
        m,
        "get_acl",
        ["dn: Dn|String"],
        move |d: Dynamic| -> RhaiResult<SdValue> {
            let dir = h.dir().rhai()?;
            let dn = to_dn(&d).rhai()?;
            let sd = read_sd(&*dir, &dn).rhai()?.unwrap_or_default();
            let bytes =
                sd.to_bytes().map_err(|e| Error::new(Kind::Security, e.to_string())).rhai()?;
            Ok(SdValue { bytes, domain: domain_sid(&*dir) })
        },
    );
    let h = host.clone();
    bind!(
        /// Plans adding an allow ACE on the object only. Idempotent: returns false (and plans nothing) when an equivalent explicit ACE exists, including the split form a DC stores for inheritable generic rights. `trustee` is a `Sid`, an account map from `ad::resolve_account`, a SID string or an account name; `rights` as for `ad::rights`.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// if ad::grant(devices, "CONTOSO\\svc-dwb", "RPWPLCLORCSW") { print("ACE to add"); }
        /// ```
        /// # Errors
        /// `not_found` or `ambiguous` (trustee), `invalid_argument` (rights), `no_such_object`, `security_descriptor` (the object's descriptor is malformed), `invalid_dn`.
        m,
        "grant",
        ["dn: Dn|String", "trustee: String|Sid|Map", "rights: String|i64|Array"],
        move |d: Dynamic, w: Dynamic, r: Dynamic| change(&h, &d, &w, &r, &Map::new(), true).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Plans adding an ACE with `#{ inherit: "this"|"this_and_children"|"children", object_type: "msDS-Device" | GUID, inherited_object_type: …, deny: false, reason: "…" }`. New ACEs go in canonical order (explicit deny, explicit allow, inherited); the plan shows the DACL as SDDL before and after, and consecutive edits of one DACL become one change.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let acct = ad::resolve_account("CONTOSO\\svc-dwb");
        /// ad::grant(devices, acct, "CCDC", #{ object_type: "msDS-Device", reason: "create and delete devices" });
        /// ad::grant(devices, acct, "GR|GW", #{ inherit: "this_and_children" });
        /// ```
        /// # Errors
        /// `unknown_option`, `schema_missing` (unknown class, attribute or right), `not_found` or `ambiguous` (trustee), `invalid_argument` (rights or `inherit`), `no_such_object`, `security_descriptor`.
        m,
        "grant",
        ["dn: Dn|String", "trustee: String|Sid|Map", "rights: String|i64|Array", "options"],
        move |d: Dynamic, w: Dynamic, r: Dynamic, o: Map| change(&h, &d, &w, &r, &o, true).rhai(),
    );
    let h = host.clone();
    bind!(
        /// Plans removing exactly the explicit ACEs a matching `ad::grant` added (never inherited ones). Returns whether anything changes.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// ad::revoke(devices, "CONTOSO\\svc-old-sync", "RPWPLCLORCSW");
        /// ```
        /// # Errors
        /// `not_found` or `ambiguous` (trustee), `invalid_argument` (rights), `no_such_object`, `security_descriptor`.
        m,
        "revoke",
        ["dn: Dn|String", "trustee: String|Sid|Map", "rights: String|i64|Array"],
        move |d: Dynamic, w: Dynamic, r: Dynamic| change(&h, &d, &w, &r, &Map::new(), false).rhai(),
    );
    let h = host.clone();
    bind!(
        /// `ad::revoke` with the same options as the grant it undoes.
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// ad::revoke(devices, "CONTOSO\\svc-old-sync", "CCDC",
        ///     #{ object_type: "msDS-Device", reason: "the old sync account is retired" });
        /// ```
        /// # Errors
        /// `unknown_option`, `schema_missing`, `not_found` or `ambiguous` (trustee), `invalid_argument`, `no_such_object`, `security_descriptor`.
        m,
        "revoke",
        ["dn: Dn|String", "trustee: String|Sid|Map", "rights: String|i64|Array", "options"],
        move |d: Dynamic, w: Dynamic, r: Dynamic, o: Map| change(&h, &d, &w, &r, &o, false).rhai(),
    );
}

/// Registers the access checks and the rights names.
fn register_checks(m: &mut Module, host: &Arc<Host>) {
    let h = host.clone();
    bind!(
        /// True when the trustee (with its groups and Authenticated Users) effectively has all `rights` on the object, counting explicit and inherited ACEs, with generic rights mapped (GA = RPWPCRCCDCLCLORCWOWDSDDTSW).
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// if !ad::has_access(devices, "CONTOSO\\svc-dwb", "RPWP") {
        ///     report::finding("permissions", "fail", "svc-dwb cannot read and write devices", "run prepare");
        /// }
        /// ```
        /// # Errors
        /// `not_found` or `ambiguous` (trustee), `invalid_argument` (rights), `no_such_object`, `security_descriptor`.
        m,
        "has_access",
        ["dn: Dn|String", "trustee: String|Sid|Map", "rights: String|i64|Array"],
        move |d: Dynamic, w: Dynamic, r: Dynamic| has_access(&h, &d, &w, &r, &Map::new()).rhai(),
    );
    let h = host.clone();
    bind!(
        /// `ad::has_access` for an object type: `#{ object_type: "msDS-Device" }` (e.g. create child of that class).
        /// # Example
        /// ```rhai
        /// let devices = ad::dn("CN=RegisteredDevices,DC=contoso,DC=test");
        /// let can_create = ad::has_access(devices, "CONTOSO\\svc-dwb", "CC", #{ object_type: "msDS-Device" });
        /// ```
        /// # Errors
        /// `unknown_option` (only `object_type` is allowed), `schema_missing`, `not_found` or `ambiguous` (trustee), `invalid_argument`, `no_such_object`, `security_descriptor`.
        m,
        "has_access",
        ["dn: Dn|String", "trustee: String|Sid|Map", "rights: String|i64|Array", "options"],
        move |d: Dynamic, w: Dynamic, r: Dynamic, o: Map| has_access(&h, &d, &w, &r, &o).rhai(),
    );
    bind!(
        /// The access mask for rights given as letters, names or numbers (`"GR|GW"` → 0xC0000000). Letters are AD's two-letter rights (CC DC LC SW RP WP DT LO CR SD RC WD WO GA GR GW GX), separated by nothing, `|`, `,` or spaces; `0x…` is a hex mask; an array ORs its items.
        /// # Example
        /// ```rhai
        /// print(ad::rights("GR|GW"));        // 3221225472 (0xC0000000)
        /// print(ad::rights(["RP", "WP"]));   // 48
        /// ```
        /// # Errors
        /// `invalid_argument` (unknown letters, a bad hex mask, a number out of range, or no rights).
        m,
        "rights",
        ["rights: String|i64|Array"],
        |r: Dynamic| -> RhaiResult<i64> { parse_rights(&r).map(i64::from).rhai() },
    );
    bind!(
        /// A mask as AD right letters (`0x200BC` → `RPWPLCLORCSW`).
        /// # Example
        /// ```rhai
        /// print(ad::rights_text(0x200BC));   // RPWPLCLORCSW
        /// ```
        /// # Errors
        /// None.
        m,
        "rights_text",
        ["mask"],
        |mask: i64| rights::format_mask(mask as u32),
    );
}

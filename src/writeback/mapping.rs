//! Entra device → `msDS-Device`, per docs/device-writeback.md §B.3. Native for
//! speed: a 100,000-device plan maps in well under a second. Where that document
//! marks a fact unknown, the choice is an option here and documented in the
//! README ("Choices where the specification is unknown").

use crate::ad::{Directory, ModOp, Modification, RootDse, discovery};
use crate::directory::{Attr, Entry, FileTime, Guid, Sid};
use crate::error::Result;
use crate::graph::model::{Device, Owner};
use crate::writeback::forms::SidForm;
pub use crate::writeback::forms::{AnchorEncoding, anchor_bytes, anchor_object_id};

/// The optional attributes (docs/device-writeback.md §B.3: Entra Connect writes none of them): what
/// a sync asks for (`optional_attributes` of `writeback::sync_devices`, all on
/// by default), then what the mapping writes — asked for *and* in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAttrs {
    /// `msDS-ApproximateLastLogonTimeStamp` from `approximateLastSignInDateTime`
    /// ([`last_logon_value`]), so AD FS's StaleDeviceCleanup sees Entra's activity.
    pub last_logon: bool,
    /// `msDS-RegisteredUsers` from `registeredUsers` ([`registered_user_sids`]).
    pub registered_users: bool,
    /// `msDS-DeviceTrustType` from `trustType` ([`trust_type_value`]; Windows
    /// Server 2016 schema).
    pub trust_type: bool,
}

impl Default for OptionalAttrs {
    fn default() -> Self {
        OptionalAttrs::ALL
    }
}

impl OptionalAttrs {
    pub const ALL: OptionalAttrs =
        OptionalAttrs { last_logon: true, registered_users: true, trust_type: true };
    pub const NONE: OptionalAttrs =
        OptionalAttrs { last_logon: false, registered_users: false, trust_type: false };

    /// The attribute each flag writes.
    pub const ATTRIBUTES: [&'static str; 3] =
        ["msDS-ApproximateLastLogonTimeStamp", "msDS-RegisteredUsers", "msDS-DeviceTrustType"];

    /// What of `self` the live schema can hold (a 2012 R2 schema has the first
    /// two; msDS-DeviceTrustType arrives with Windows Server 2016).
    pub fn in_schema(self, dir: &dyn Directory, root: &RootDse) -> Result<OptionalAttrs> {
        let has = |on: bool, name: &str| -> Result<bool> {
            Ok(on && discovery::schema_has_attribute(dir, root, name)?)
        };
        let [last_logon, users, trust] = Self::ATTRIBUTES;
        Ok(OptionalAttrs {
            last_logon: has(self.last_logon, last_logon)?,
            registered_users: has(self.registered_users, users)?,
            trust_type: has(self.trust_type, trust)?,
        })
    }
}

/// Options of the mapping.
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    pub anchor: AnchorEncoding,
    /// The schema has msDS-IsCompliant (Windows Server 2016 schema).
    pub write_compliance: bool,
    /// SIDs of the forest's domains: an owner outside them is not written.
    pub forest_domains: Vec<Sid>,
    /// The optional attributes written (asked for and in the schema).
    pub optional: OptionalAttrs,
    /// How msDS-RegisteredOwner / msDS-RegisteredUsers hold a SID.
    pub sid_form: SidForm,
}

/// The attributes dwb manages on a device object; others are never touched.
pub const MANAGED: &[&str] = &[
    "msDS-DeviceID",
    "displayName",
    "altSecurityIdentities",
    "msDS-IsEnabled",
    "msDS-DeviceOSType",
    "msDS-DeviceOSVersion",
    "msDS-DevicePhysicalIDs",
    "msDS-CloudAnchor",
    "msDS-DeviceObjectVersion",
    "msDS-IsManaged",
    "msDS-RegisteredOwner",
    "msDS-IsCompliant",
    "msDS-ApproximateLastLogonTimeStamp",
    "msDS-RegisteredUsers",
    "msDS-DeviceTrustType",
];

/// Why a device is not written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The Entra object id.
    pub device: String,
    /// The device's display name, where the source gave one: shown beside the id.
    pub name: Option<String>,
    pub kind: SkipKind,
    pub reason: String,
}

impl Skip {
    /// A skip; the id and reason are clipped (a source's 10 MB value is named, not echoed).
    pub fn new(device: impl Into<String>, kind: SkipKind, reason: impl Into<String>) -> Skip {
        let clip = |s: String| match crate::text::clip(&s, 4 * crate::text::CLIP) {
            std::borrow::Cow::Borrowed(_) => s,
            std::borrow::Cow::Owned(c) => c,
        };
        Skip { device: clip(device.into()), name: None, kind, reason: clip(reason.into()) }
    }

    /// The skip with the device's display name (clipped like the id).
    pub fn named(mut self, name: Option<&str>) -> Skip {
        self.name = name.map(|n| crate::text::clip(n, crate::text::CLIP).into_owned());
        self
    }

    /// The device as a person finds it: `NAME (id)`, or the id alone.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({})", crate::text::visible(n), self.device),
            None => self.device.clone(),
        }
    }
}

/// The kinds of skips, for summaries (a reason line per kind, not per device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipKind {
    /// No deviceId, or one that is not a GUID.
    BadDeviceId,
    /// No type-2 (X509) alternativeSecurityIds key.
    NoKey,
    /// A key that cannot be decoded.
    BadKey,
    /// A Graph value dwb cannot convert (a timestamp that is not a time).
    BadValue,
    /// A value the schema cannot hold.
    Schema,
    /// The site's map_device returned ().
    Site,
    /// The registered owner could not be looked up.
    OwnerLookup,
    /// The registered users could not be looked up.
    UsersLookup,
    /// The device could not be read from Graph (a delta round retries it).
    Unreadable,
    /// An object another writer owns.
    Foreign,
    /// Another device listed with the same deviceId, or an object with the
    /// same msDS-DeviceID but not this device's anchor.
    DuplicateDeviceId,
}

impl SkipKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipKind::BadDeviceId => "bad_device_id",
            SkipKind::NoKey => "no_key",
            SkipKind::BadKey => "bad_key",
            SkipKind::BadValue => "bad_value",
            SkipKind::Schema => "schema",
            SkipKind::Site => "site",
            SkipKind::OwnerLookup => "owner_lookup",
            SkipKind::UsersLookup => "users_lookup",
            SkipKind::Unreadable => "unreadable",
            SkipKind::Foreign => "foreign",
            SkipKind::DuplicateDeviceId => "duplicate_device_id",
        }
    }

    /// What the devices of this kind have in common, for a summary line.
    pub fn summary(self) -> &'static str {
        match self {
            SkipKind::BadDeviceId => "no valid deviceId",
            SkipKind::NoKey => "no type-2 (X509) key: msDS-Device requires altSecurityIdentities",
            SkipKind::BadKey => "an alternativeSecurityIds key that cannot be decoded",
            SkipKind::BadValue => "a Graph value dwb cannot convert",
            SkipKind::Schema => "a value the schema cannot hold",
            SkipKind::Site => "skipped by the site (map_device returned ())",
            SkipKind::OwnerLookup => "the registered owner could not be looked up",
            SkipKind::UsersLookup => "the registered users could not be looked up",
            SkipKind::Unreadable => "could not be read from Graph (tried again next round)",
            SkipKind::Foreign => {
                "the object was written by another writer (take_over=true manages it)"
            }
            // Two causes share this kind: another device in Entra ID with the
            // same deviceId, or an object in AD with it and another anchor.
            SkipKind::DuplicateDeviceId => {
                "the deviceId is another device's too (in Entra ID, or an object in AD with \
                 another anchor)"
            }
        }
    }
}

/// One line per kind of skip: how many, why, and the first few devices (with
/// their own reason where it differs per device). The full list belongs in the
/// JSON report, not on a terminal.
pub fn summarize(skipped: &[Skip], examples: usize) -> Vec<String> {
    let mut by_kind: std::collections::BTreeMap<SkipKind, Vec<&Skip>> = Default::default();
    for s in skipped {
        by_kind.entry(s.kind).or_default().push(s);
    }
    by_kind
        .into_iter()
        .map(|(kind, list)| {
            let same = list.iter().all(|s| s.reason == list[0].reason);
            let shown: Vec<String> = list
                .iter()
                .take(examples)
                .map(|s| if same { s.label() } else { format!("{}: {}", s.label(), s.reason) })
                .collect();
            let more = if list.len() > examples {
                format!(", and {} more (the JSON report lists them all)", list.len() - examples)
            } else {
                String::new()
            };
            let why =
                if same && list.len() == 1 { list[0].reason.as_str() } else { kind.summary() };
            format!("{} device(s) skipped, {why}: {}{more}", list.len(), shown.join(", "))
        })
        .collect()
}

fn bool_text(b: bool) -> &'static str {
    if b { "TRUE" } else { "FALSE" }
}

/// `msDS-ApproximateLastLogonTimeStamp`: `approximateLastSignInDateTime` as a
/// FILETIME (100-ns intervals since 1601-01-01 UTC, decimal). `Ok(None)` when
/// the device never signed in (no value, or Graph's `0001-01-01T00:00:00Z`).
pub fn last_logon_value(d: &Device) -> std::result::Result<Option<FileTime>, String> {
    match d.approximate_last_sign_in_date_time.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => {
            FileTime::parse_iso8601(t).map_err(|e| format!("approximateLastSignInDateTime {e}"))
        }
    }
}

/// Drops a replace of `msDS-ApproximateLastLogonTimeStamp` that would move the
/// object's timestamp back: AD FS updates it too, when a device authenticates on
/// premises, and an older Entra value must not undo that activity (AD FS's
/// cleanup would then delete a device in use). Removing it (the option turned
/// off) still goes through.
pub fn without_older_logon(current: &Entry, mods: Vec<Modification>) -> Vec<Modification> {
    const ATTR: &str = "msDS-ApproximateLastLogonTimeStamp";
    let have = current.first_str(ATTR).as_deref().and_then(FileTime::from_decimal);
    mods.into_iter()
        .filter(|m| {
            let older = |v: &Vec<u8>| {
                let want = std::str::from_utf8(v).ok().and_then(FileTime::from_decimal);
                matches!((have, want), (Some(h), Some(w)) if w < h)
            };
            !(m.op == ModOp::Replace
                && m.attr.eq_ignore_ascii_case(ATTR)
                && m.values.iter().all(older))
        })
        .collect()
}

/// `msDS-RegisteredUsers`: the on-premises SIDs of the registered users that
/// belong to one of this forest's domains, each once (cloud-only users and users
/// of other forests have none to write). Empty when the users were not read.
pub fn registered_user_sids(users: Option<&[Owner]>, forest_domains: &[Sid]) -> Vec<Sid> {
    let mut out: Vec<Sid> = Vec::new();
    for u in users.unwrap_or_default() {
        let Some(sid) =
            u.on_premises_security_identifier.as_deref().and_then(|s| s.parse::<Sid>().ok())
        else {
            continue;
        };
        if forest_domains.iter().any(|dom| sid.is_in_domain(dom)) && !out.contains(&sid) {
            out.push(sid);
        }
    }
    out
}

/// `msDS-DeviceTrustType` for a Graph `trustType`. Only the value the AD FS DRS
/// writes for a domain join is known (MS-DVRJ: 2), so only hybrid-joined
/// (`ServerAd`) devices get one; `Workplace` and `AzureAd` stay unset until
/// their values are known (docs/device-writeback.md §6 #5 [U]).
pub fn trust_type_value(trust_type: Option<&str>) -> Option<i64> {
    match trust_type {
        Some("ServerAd") => Some(2),
        _ => None,
    }
}

/// The RDN value and attributes of the device object, or why it is skipped.
/// `owner_sid` is the registered owner's on-premises SID, if it has one.
pub fn desired(
    d: &Device,
    opts: &MapOptions,
    owner_sid: Option<&str>,
) -> Result<(String, Vec<Attr>), Skip> {
    let skip = |kind: SkipKind, reason: String| Skip::new(d.id.clone(), kind, reason);
    let uuid = d.device_uuid().map_err(|e| skip(SkipKind::BadDeviceId, e.to_string()))?;
    let device_id = Guid::from(uuid);
    let keys = d
        .x509_alt_security_ids()
        .map_err(|e| skip(SkipKind::BadKey, format!("bad alternativeSecurityIds key: {e}")))?;
    if keys.is_empty() {
        return Err(skip(
            SkipKind::NoKey,
            "no type-2 (X509) alternativeSecurityIds key: msDS-Device requires \
             altSecurityIdentities"
                .into(),
        ));
    }
    let cn = device_id.to_string();
    let display = d.display_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| cn.clone());
    let mut attrs = vec![
        Attr::text("objectClass", ["msDS-Device"]),
        Attr::new("msDS-DeviceID", vec![device_id.to_bytes().to_vec()]),
        Attr::text("displayName", [display]),
        Attr::text("altSecurityIdentities", keys),
        Attr::text("msDS-IsEnabled", [bool_text(d.account_enabled.unwrap_or(false))]),
        Attr::new("msDS-CloudAnchor", vec![anchor_bytes(&d.id, opts.anchor)]),
        Attr::text("msDS-DeviceObjectVersion", [d.device_version.unwrap_or(2).to_string()]),
    ];
    if let Some(os) = d.operating_system.as_ref().filter(|s| !s.is_empty()) {
        attrs.push(Attr::text("msDS-DeviceOSType", [os]));
    }
    if let Some(v) = d.operating_system_version.as_ref().filter(|s| !s.is_empty()) {
        attrs.push(Attr::text("msDS-DeviceOSVersion", [v]));
    }
    let phys: Vec<&String> = d.physical_ids.iter().filter(|p| !p.is_empty()).collect();
    if !phys.is_empty() {
        attrs.push(Attr::text("msDS-DevicePhysicalIDs", phys));
    }
    if let Some(m) = d.is_managed {
        attrs.push(Attr::text("msDS-IsManaged", [bool_text(m)]));
    }
    if opts.write_compliance
        && let Some(c) = d.is_compliant
    {
        attrs.push(Attr::text("msDS-IsCompliant", [bool_text(c)]));
    }
    // An owner SID that is not a SID says nothing about who the owner is: the
    // device is skipped (its object keeps its owner) rather than written without one.
    let owner = match owner_sid.filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<Sid>().map_err(|_| {
            let shown = crate::text::clip(s, 80).into_owned();
            skip(
                SkipKind::BadValue,
                format!(
                    "the registered owner's onPremisesSecurityIdentifier is not a SID: {shown}"
                ),
            )
        })?),
        None => None,
    };
    if let Some(sid) = owner
        && opts.forest_domains.iter().any(|dom| sid.is_in_domain(dom))
    {
        attrs.push(Attr::new("msDS-RegisteredOwner", vec![opts.sid_form.bytes(&sid)]));
    }
    attrs.extend(optional(d, opts).map_err(|r| skip(SkipKind::BadValue, r))?);
    Ok((cn, attrs))
}

/// The optional attributes of [`OptionalAttrs`] a device gets; a timestamp
/// that is not a time skips the device (its object keeps what it has).
fn optional(d: &Device, opts: &MapOptions) -> std::result::Result<Vec<Attr>, String> {
    let mut attrs = Vec::new();
    if opts.optional.last_logon
        && let Some(t) = last_logon_value(d)?
    {
        attrs.push(Attr::text("msDS-ApproximateLastLogonTimeStamp", [t.to_decimal()]));
    }
    if opts.optional.registered_users {
        let sids = registered_user_sids(d.registered_users.as_deref(), &opts.forest_domains);
        if !sids.is_empty() {
            let values = sids.iter().map(|s| opts.sid_form.bytes(s)).collect();
            attrs.push(Attr::new("msDS-RegisteredUsers", values));
        }
    }
    if opts.optional.trust_type
        && let Some(n) = trust_type_value(d.trust_type.as_deref())
    {
        attrs.push(Attr::text("msDS-DeviceTrustType", [n.to_string()]));
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn device(json: serde_json::Value) -> Device {
        Device::from_json(json).unwrap()
    }

    fn key(text: &str) -> String {
        let bytes: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn maps_a_device() {
        let k = "X509:<SHA1-TP-PUBKEY>1BBF43F156D6544D87BD98580273C75F0344DA56zw4/fMMN7MbkH3DB7XrbDgnGchQ/wkRHkkb32d2M5Nk=";
        let d = device(serde_json::json!({
            "id": "c9d9f9b3-0c91-4080-b392-78f775903b3a", "deviceId": "4c299165-6e8f-4b45-a5ba-c5d250a707ff",
            "displayName": "*)(objectClass=*", "accountEnabled": false, "operatingSystem": "Windows",
            "operatingSystemVersion": "10.0.19045", "physicalIds": ["[GID]:g:1"], "isManaged": true, "isCompliant": true,
            "alternativeSecurityIds": [{ "type": 2, "identityProvider": null, "key": key(k) }]
        }));
        let dom: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let opts = MapOptions { forest_domains: vec![dom], ..MapOptions::default() };
        let (cn, attrs) = desired(&d, &opts, Some("S-1-5-21-1-2-3-1105")).unwrap();
        assert_eq!(cn, "4c299165-6e8f-4b45-a5ba-c5d250a707ff");
        let get = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.values.clone());
        assert_eq!(get("displayName").unwrap(), vec![b"*)(objectClass=*".to_vec()]);
        assert_eq!(get("altSecurityIdentities").unwrap(), vec![k.as_bytes().to_vec()]);
        assert_eq!(get("msDS-IsEnabled").unwrap(), vec![b"FALSE".to_vec()]);
        assert_eq!(get("msDS-DeviceID").unwrap()[0][..4], [0x65, 0x91, 0x29, 0x4c]);
        assert_eq!(
            anchor_object_id(&get("msDS-CloudAnchor").unwrap()[0]).as_deref(),
            Some("c9d9f9b3-0c91-4080-b392-78f775903b3a")
        );
        assert!(get("msDS-RegisteredOwner").is_some());
        assert!(get("msDS-IsCompliant").is_none(), "no 2016 schema, no compliance");
        // An owner from another forest is not written.
        let (_, attrs) = desired(&d, &opts, Some("S-1-5-21-9-9-9-1105")).unwrap();
        assert!(!attrs.iter().any(|a| a.name == "msDS-RegisteredOwner"));
    }

    #[test]
    fn skips_devices_that_cannot_be_written() {
        let no_key = device(
            serde_json::json!({ "id": "a", "deviceId": "4c299165-6e8f-4b45-a5ba-c5d250a707ff" }),
        );
        assert!(
            desired(&no_key, &MapOptions::default(), None)
                .unwrap_err()
                .reason
                .contains("no type-2")
        );
        let bad_id = device(serde_json::json!({ "id": "b", "deviceId": "nope" }));
        assert!(desired(&bad_id, &MapOptions::default(), None).is_err());
        let bad_key = device(
            serde_json::json!({ "id": "c", "deviceId": "4c299165-6e8f-4b45-a5ba-c5d250a707ff",
            "alternativeSecurityIds": [{ "type": 2, "key": "!!!" }] }),
        );
        assert!(
            desired(&bad_key, &MapOptions::default(), None)
                .unwrap_err()
                .reason
                .contains("bad alternativeSecurityIds")
        );
    }

    #[test]
    fn optional_attributes_follow_their_rules() {
        let k = "X509:<SHA1-TP-PUBKEY>1BBF43F156D6544D87BD98580273C75F0344DA56zw4/fMMN7MbkH3DB7XrbDgnGchQ/wkRHkkb32d2M5Nk=";
        // As dwb selects them: a user whose properties are all null is unread
        // (`Owner::unread`), so a cloud-only user comes with its UPN.
        let user = |sid| serde_json::json!({ "id": "u", "onPremisesSecurityIdentifier": sid, "userPrincipalName": "u@contoso.com" });
        let users: Vec<serde_json::Value> = [
            Some("S-1-5-21-1-2-3-1105"),
            Some("S-1-5-21-9-9-9-1105"),
            None,
            Some("S-1-5-21-1-2-3-1105"),
            Some("S-1-5-21-1-2-3-1106"),
        ]
        .into_iter()
        .map(user)
        .collect();
        let d = device(serde_json::json!({
            "id": "c9d9f9b3-0c91-4080-b392-78f775903b3a",
            "deviceId": "4c299165-6e8f-4b45-a5ba-c5d250a707ff",
            "trustType": "ServerAd", "approximateLastSignInDateTime": "2024-01-01T00:00:00Z",
            "alternativeSecurityIds": [{ "type": 2, "key": key(k) }], "registeredUsers": users
        }));
        let dom: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let opts = MapOptions { forest_domains: vec![dom], ..MapOptions::default() };
        let (_, attrs) = desired(&d, &opts, None).unwrap();
        let get =
            |attrs: &[Attr], n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.values.clone());
        assert_eq!(
            get(&attrs, "msDS-ApproximateLastLogonTimeStamp").unwrap(),
            vec![b"133485408000000000".to_vec()]
        );
        let users = get(&attrs, "msDS-RegisteredUsers").unwrap();
        let want: Vec<Vec<u8>> = ["S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1106"]
            .iter()
            .map(|s| s.parse::<Sid>().unwrap().to_bytes())
            .collect();
        assert_eq!(
            users, want,
            "this forest's users, each once, cloud-only and foreign ones left out"
        );
        assert_eq!(get(&attrs, "msDS-DeviceTrustType").unwrap(), vec![b"2".to_vec()]);
        // Switched off (or not in the schema): none of them.
        let off = MapOptions { optional: OptionalAttrs::NONE, ..opts.clone() };
        let (_, attrs) = desired(&d, &off, None).unwrap();
        for a in OptionalAttrs::ATTRIBUTES {
            assert!(get(&attrs, a).is_none(), "{a} written although off");
        }
        // Only hybrid-joined devices have a known trust type.
        assert_eq!(trust_type_value(Some("AzureAd")), None);
        assert_eq!(trust_type_value(Some("Workplace")), None);
        assert_eq!(trust_type_value(None), None);
        // A device that never signed in has no timestamp; a timestamp that is not a time skips it.
        let mut never = d.clone();
        never.approximate_last_sign_in_date_time = Some("0001-01-01T00:00:00Z".into());
        let (_, attrs) = desired(&never, &opts, None).unwrap();
        assert!(get(&attrs, "msDS-ApproximateLastLogonTimeStamp").is_none());
        let mut bad = d.clone();
        bad.approximate_last_sign_in_date_time = Some("yesterday".into());
        let skip = desired(&bad, &opts, None).unwrap_err();
        assert!(skip.reason.contains("approximateLastSignInDateTime"), "{}", skip.reason);
    }

    #[test]
    fn the_timestamp_never_moves_back() {
        let dn = crate::directory::Dn::parse("CN=d,DC=x").unwrap();
        let at = |t: &str| {
            Entry::with_attrs(dn.clone(), [Attr::text("msDS-ApproximateLastLogonTimeStamp", [t])])
        };
        let set = |t: &str| Modification {
            op: ModOp::Replace,
            attr: "msDS-ApproximateLastLogonTimeStamp".into(),
            values: vec![t.as_bytes().to_vec()],
        };
        let other = Modification { op: ModOp::Replace, attr: "displayName".into(), values: vec![] };
        let cur = at("133485408000000000");
        let kept = without_older_logon(&cur, vec![set("133485407000000000"), other.clone()]);
        assert_eq!(kept, vec![other.clone()], "an older value is not written");
        let newer = set("133485409000000000");
        assert_eq!(without_older_logon(&cur, vec![newer.clone()]), vec![newer]);
        let gone = Modification { op: ModOp::Delete, ..set("") };
        assert_eq!(without_older_logon(&cur, vec![gone.clone()]), vec![gone]);
        let none = Entry::with_attrs(dn.clone(), []);
        assert_eq!(without_older_logon(&none, vec![set("1")]).len(), 1);
    }

    #[test]
    fn anchors_in_both_encodings() {
        for enc in [AnchorEncoding::Utf8, AnchorEncoding::Utf16Le] {
            assert_eq!(anchor_object_id(&anchor_bytes("abc", enc)).as_deref(), Some("abc"));
        }
        assert_eq!(anchor_object_id(b"User_x"), None);
    }
}

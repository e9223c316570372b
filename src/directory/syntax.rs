//! Attribute syntaxes dwb needs to know: which attributes hold binary values
//! (so they are never turned into lossy strings) and what typed value a script
//! gets for them. The LDAP backend extends this from the live schema
//! (`attributeSyntax` 2.5.5.10 / 2.5.5.17 / 2.5.5.15 are binary).

/// How a script sees an attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Text,
    Guid,
    Sid,
    SecurityDescriptor,
    Binary,
}

const GUID_ATTRS: &[&str] = &[
    "objectguid",
    "msds-deviceid",
    "schemaidguid",
    "attributesecurityguid",
    "rightsguid",
    "invocationid",
    "msds-generationid",
];
const SID_ATTRS: &[&str] = &[
    "objectsid",
    "msds-registeredowner",
    "msds-registeredusers",
    "tokengroups",
    "sidhistory",
    "securityidentifier",
];
const SD_ATTRS: &[&str] = &["ntsecuritydescriptor", "msds-allowedtoactonbehalfofotheridentity"];
const BINARY_ATTRS: &[&str] = &[
    "msds-cloudanchor",
    "usercertificate",
    "cacertificate",
    "thumbnailphoto",
    "jpegphoto",
    "logonhours",
    "msds-issuercertificates",
    "msds-issuerpubliccertificates",
    "msds-cloudissuerpubliccertificates",
    "msds-keycredentiallink-bl",
    "replpropertymetadata",
    "repluptodatevector",
    "dsasignature",
    "msexchmailboxguid",
    "msds-consistencyguid",
    "mS-DS-ConsistencyGuid",
    "unicodepwd",
    "supplementalcredentials",
    "oMObjectClass",
    "msds-trustforesttrustinfo",
    "pekList",
    "currentValue",
    "priorValue",
];

/// The syntax of an attribute by name (case-insensitive).
pub fn syntax_of(name: &str) -> Syntax {
    let n = name.to_ascii_lowercase();
    if GUID_ATTRS.contains(&n.as_str()) {
        Syntax::Guid
    } else if SID_ATTRS.contains(&n.as_str()) {
        Syntax::Sid
    } else if SD_ATTRS.contains(&n.as_str()) {
        Syntax::SecurityDescriptor
    } else if BINARY_ATTRS.iter().any(|b| b.eq_ignore_ascii_case(&n)) {
        Syntax::Binary
    } else {
        Syntax::Text
    }
}

/// True when values of `name` are bytes rather than text.
pub fn is_binary(name: &str) -> bool {
    syntax_of(name) != Syntax::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_syntaxes() {
        assert_eq!(syntax_of("objectGUID"), Syntax::Guid);
        assert_eq!(syntax_of("msDS-DeviceID"), Syntax::Guid);
        assert_eq!(syntax_of("msDS-RegisteredOwner"), Syntax::Sid);
        assert_eq!(syntax_of("nTSecurityDescriptor"), Syntax::SecurityDescriptor);
        assert_eq!(syntax_of("msDS-CloudAnchor"), Syntax::Binary);
        assert_eq!(syntax_of("displayName"), Syntax::Text);
    }
}

//! What the live schema allows an attribute to hold: its syntax, whether it is
//! single-valued, and its `rangeLower`/`rangeUpper` (MS-ADTS 3.1.1.2.3: for
//! string syntaxes a length — UTF-16 code units for Unicode strings, bytes for
//! the others —, for integers the value). Read once per run, so a value the DC
//! would refuse is found when the plan is made and no write request is sent.

use std::collections::HashMap;

use super::{Directory, RootDse, Scope, SearchRequest};
use crate::directory::{Dn, Filter};
use crate::error::Result;

/// One attribute's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRule {
    pub name: String,
    /// The `attributeSyntax` OID (2.5.5.12 Unicode string, 2.5.5.10 octet string, …).
    pub syntax: String,
    pub single_valued: bool,
    pub range_lower: Option<i64>,
    pub range_upper: Option<i64>,
}

/// The rules of some attributes, by lower-cased lDAPDisplayName.
#[derive(Debug, Clone, Default)]
pub struct SchemaRules {
    rules: HashMap<String, AttributeRule>,
}

/// Syntaxes whose range is a length in UTF-16 code units.
const UNICODE: &str = "2.5.5.12";
/// Syntaxes whose range is the integer value.
const INTEGERS: &[&str] = &["2.5.5.9", "2.5.5.16"];
const BOOLEAN: &str = "2.5.5.8";
const DN: &str = "2.5.5.1";

impl SchemaRules {
    /// Reads the rules of `names` from the schema partition, in one search.
    pub fn read(dir: &dyn Directory, root: &RootDse, names: &[&str]) -> Result<SchemaRules> {
        let schema = root.schema_nc()?;
        let terms = names.iter().map(|n| Filter::eq("lDAPDisplayName", *n)).collect();
        let filter =
            Filter::And(vec![Filter::eq("objectClass", "attributeSchema"), Filter::Or(terms)]);
        let req = SearchRequest::new(schema, Scope::OneLevel, filter).attrs([
            "lDAPDisplayName",
            "attributeSyntax",
            "isSingleValued",
            "rangeLower",
            "rangeUpper",
        ]);
        let mut rules = HashMap::new();
        dir.search(&req, &mut |e| {
            let Some(name) = e.first_str("lDAPDisplayName") else { return Ok(()) };
            let int = |a: &str| e.first_str(a).and_then(|v| v.trim().parse::<i64>().ok());
            let rule = AttributeRule {
                syntax: e.first_str("attributeSyntax").unwrap_or_default(),
                single_valued: e.first_str("isSingleValued").is_some_and(|v| v == "TRUE"),
                range_lower: int("rangeLower"),
                range_upper: int("rangeUpper"),
                name: name.clone(),
            };
            rules.insert(name.to_ascii_lowercase(), rule);
            Ok(())
        })?;
        Ok(SchemaRules { rules })
    }

    /// Adds the rules of `other`.
    pub fn extend(&mut self, other: SchemaRules) {
        self.rules.extend(other.rules);
    }

    pub fn get(&self, name: &str) -> Option<&AttributeRule> {
        self.rules.get(&name.to_ascii_lowercase())
    }

    /// Why the DC would refuse `values` for `name`, or `None` when they fit.
    /// `None` too for an attribute these rules were not read for.
    pub fn refuses(&self, name: &str, values: &[Vec<u8>]) -> Option<String> {
        let rule = self.get(name)?;
        if rule.single_valued && values.len() > 1 {
            return Some(format!(
                "{name} has {} values; the schema allows one (single-valued)",
                values.len()
            ));
        }
        values.iter().find_map(|v| rule.refuses_value(v))
    }
}

impl AttributeRule {
    fn refuses_value(&self, v: &[u8]) -> Option<String> {
        let name = &self.name;
        let text = std::str::from_utf8(v);
        if self.syntax == BOOLEAN && !matches!(v, b"TRUE" | b"FALSE") {
            return Some(format!("{name} must be TRUE or FALSE"));
        }
        if self.syntax == DN && text.map_or(true, |t| Dn::parse(t).is_err()) {
            return Some(format!("{name} is not a valid DN"));
        }
        if INTEGERS.contains(&self.syntax.as_str()) {
            let Some(n) = text.ok().and_then(|t| t.parse::<i64>().ok()) else {
                return Some(format!("{name} is not an integer"));
            };
            if let Some(lo) = self.range_lower.filter(|lo| n < *lo) {
                return Some(format!("{name} is {n}; the schema allows at least {lo}"));
            }
            if let Some(hi) = self.range_upper.filter(|hi| n > *hi) {
                return Some(format!("{name} is {n}; the schema allows at most {hi}"));
            }
            return None;
        }
        let (len, unit) = match (self.syntax.as_str(), text) {
            (UNICODE, Ok(t)) => (t.encode_utf16().count() as i64, "characters"),
            (UNICODE, Err(_)) => return Some(format!("{name} is not valid UTF-8 text")),
            _ => (v.len() as i64, "bytes"),
        };
        if let Some(hi) = self.range_upper.filter(|hi| len > *hi) {
            return Some(format!("{name} is {len} {unit}; the schema allows at most {hi}"));
        }
        if let Some(lo) = self.range_lower.filter(|lo| len < *lo) {
            return Some(format!("{name} is {len} {unit}; the schema allows at least {lo}"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> SchemaRules {
        let r = |name: &str, syntax: &str, single: bool, lo: Option<i64>, hi: Option<i64>| {
            let rule = AttributeRule {
                name: name.into(),
                syntax: syntax.into(),
                single_valued: single,
                range_lower: lo,
                range_upper: hi,
            };
            (name.to_ascii_lowercase(), rule)
        };
        SchemaRules {
            rules: [
                r("displayName", "2.5.5.12", true, Some(0), Some(256)),
                r("msDS-CloudAnchor", "2.5.5.10", true, None, Some(16)),
                r("msDS-DeviceObjectVersion", "2.5.5.9", true, Some(0), Some(10)),
                r("msDS-IsEnabled", "2.5.5.8", true, None, None),
                r("msDS-DevicePhysicalIDs", "2.5.5.12", false, None, Some(8)),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn limits_name_the_attribute_and_the_limit() {
        let r = rules();
        let long = "A".repeat(300).into_bytes();
        assert_eq!(
            r.refuses("displayName", &[long]).unwrap(),
            "displayName is 300 characters; the schema allows at most 256"
        );
        // UTF-16 code units, not bytes: 256 × "é" is 512 bytes but fits.
        assert_eq!(r.refuses("displayName", &["é".repeat(256).into_bytes()]), None);
        assert!(r.refuses("displayName", &["𝄞".repeat(129).into_bytes()]).is_some());
        assert_eq!(r.refuses("DISPLAYNAME", &[b"ok".to_vec()]), None);
        assert!(r.refuses("displayName", &[b"a".to_vec(), b"b".to_vec()]).unwrap().contains("one"));
        assert!(r.refuses("msDS-CloudAnchor", &[vec![0; 17]]).unwrap().contains("17 bytes"));
        assert!(
            r.refuses("msDS-DeviceObjectVersion", &[b"11".to_vec()])
                .unwrap()
                .contains("at most 10")
        );
        assert!(
            r.refuses("msDS-DeviceObjectVersion", &[b"x".to_vec()]).unwrap().contains("integer")
        );
        assert!(r.refuses("msDS-IsEnabled", &[b"yes".to_vec()]).is_some());
        assert_eq!(
            r.refuses("msDS-DevicePhysicalIDs", &[b"12345678".to_vec(), b"1".to_vec()]),
            None
        );
        assert_eq!(r.refuses("unknownAttr", &[vec![0; 1000]]), None);
    }
}

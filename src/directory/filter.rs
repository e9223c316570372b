//! LDAP search filters (RFC 4515): a typed tree whose values are raw bytes,
//! escaped only when printed, so a value from outside can never change a
//! filter's structure. Also evaluates filters against entries, for the
//! snapshot directory and for reads that must see the pending plan.

use std::fmt;

use super::entry::Entry;
use super::syntax::is_binary;
use crate::error::{Error, Kind};

/// A search filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equal(String, Vec<u8>),
    Substrings { attr: String, initial: Option<Vec<u8>>, any: Vec<Vec<u8>>, fin: Option<Vec<u8>> },
    GreaterOrEqual(String, Vec<u8>),
    LessOrEqual(String, Vec<u8>),
    Present(String),
    Approx(String, Vec<u8>),
    Extensible { attr: Option<String>, rule: Option<String>, value: Vec<u8>, dn_attrs: bool },
}

/// OID of AD's bitwise-AND matching rule.
pub const RULE_BIT_AND: &str = "1.2.840.113556.1.4.803";
/// OID of AD's bitwise-OR matching rule.
pub const RULE_BIT_OR: &str = "1.2.840.113556.1.4.804";

impl Filter {
    /// `(attr=value)`, value taken literally.
    pub fn eq(attr: &str, value: impl AsRef<[u8]>) -> Filter {
        Filter::Equal(attr.to_string(), value.as_ref().to_vec())
    }

    /// `(attr=*)`.
    pub fn present(attr: &str) -> Filter {
        Filter::Present(attr.to_string())
    }

    /// `(objectClass=*)`, matching everything.
    pub fn all() -> Filter {
        Filter::present("objectClass")
    }

    /// Parses an RFC 4515 filter string. The outer parentheses may be omitted.
    pub fn parse(s: &str) -> Result<Filter, Error> {
        let t = s.trim();
        let owned;
        let text = if t.starts_with('(') {
            t
        } else {
            owned = format!("({t})");
            &owned
        };
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        let f = p.filter().map_err(|(pos, msg)| bad(s, pos, msg))?;
        if p.i != p.s.len() {
            return Err(bad(s, p.i, "unexpected text after the filter"));
        }
        Ok(f)
    }

    /// Evaluates the filter against an entry. Text values compare
    /// case-insensitively (AD's default matching); binary values byte for byte.
    pub fn matches(&self, e: &Entry) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(e)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(e)),
            Filter::Not(f) => !f.matches(e),
            Filter::Present(a) => {
                a.eq_ignore_ascii_case("objectClass") || is_dn_attr(a) || e.has(a)
            }
            // An object's distinguishedName is its DN on a DC, whether or not an
            // export kept the attribute: a search for it must find the object.
            Filter::Equal(a, v) | Filter::Approx(a, v) if is_dn_attr(a) => {
                value_eq(a, e.dn.to_string().as_bytes(), v)
            }
            Filter::Equal(a, v) | Filter::Approx(a, v) => {
                e.get(a).iter().any(|x| value_eq(a, x, v))
            }
            Filter::GreaterOrEqual(a, v) => {
                e.get(a).iter().any(|x| compare(a, x, v) != std::cmp::Ordering::Less)
            }
            Filter::LessOrEqual(a, v) => {
                e.get(a).iter().any(|x| compare(a, x, v) != std::cmp::Ordering::Greater)
            }
            Filter::Substrings { attr, initial, any, fin } => e.get(attr).iter().any(|x| {
                let x = fold(attr, x);
                let mut rest: &[u8] = &x;
                if let Some(i) = initial {
                    let i = fold(attr, i);
                    if !rest.starts_with(&i) {
                        return false;
                    }
                    rest = &rest[i.len()..];
                }
                for a in any {
                    let a = fold(attr, a);
                    match find(rest, &a) {
                        Some(pos) => rest = &rest[pos + a.len()..],
                        None => return false,
                    }
                }
                match fin {
                    Some(f) => rest.ends_with(&fold(attr, f)),
                    None => true,
                }
            }),
            Filter::Extensible { attr: Some(a), rule: Some(rule), value, .. }
                if rule == RULE_BIT_AND || rule == RULE_BIT_OR =>
            {
                let Some(want) =
                    std::str::from_utf8(value).ok().and_then(|v| v.trim().parse::<i64>().ok())
                else {
                    return false;
                };
                e.get(a)
                    .iter()
                    .filter_map(|x| std::str::from_utf8(x).ok()?.trim().parse::<i64>().ok())
                    .any(
                        |have| {
                            if rule == RULE_BIT_AND {
                                have & want == want
                            } else {
                                have & want != 0
                            }
                        },
                    )
            }
            Filter::Extensible { attr: Some(a), rule: None, value, .. } => {
                e.get(a).iter().any(|x| value_eq(a, x, value))
            }
            Filter::Extensible { .. } => false,
        }
    }
}

fn bad(s: &str, pos: usize, msg: &str) -> Error {
    let shown: String = s.chars().take(200).collect();
    Error::new(
        Kind::InvalidFilter,
        format!("invalid LDAP filter `{shown}`: {msg} at character {}", pos + 1),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn fold(attr: &str, v: &[u8]) -> Vec<u8> {
    if is_binary(attr) {
        v.to_vec()
    } else {
        match std::str::from_utf8(v) {
            Ok(s) => s.to_lowercase().into_bytes(),
            Err(_) => v.to_vec(),
        }
    }
}

fn is_dn_attr(attr: &str) -> bool {
    attr.eq_ignore_ascii_case("distinguishedName")
}

fn value_eq(attr: &str, have: &[u8], want: &[u8]) -> bool {
    if (attr.eq_ignore_ascii_case("distinguishedName")
        || attr.to_ascii_lowercase().ends_with("location"))
        && let (Ok(a), Ok(b)) = (std::str::from_utf8(have), std::str::from_utf8(want))
        && let (Ok(a), Ok(b)) = (super::dn::Dn::parse(a), super::dn::Dn::parse(b))
    {
        return a == b;
    }
    fold(attr, have) == fold(attr, want)
}

fn compare(attr: &str, have: &[u8], want: &[u8]) -> std::cmp::Ordering {
    let num = |v: &[u8]| std::str::from_utf8(v).ok().and_then(|s| s.trim().parse::<i128>().ok());
    match (num(have), num(want)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => fold(attr, have).cmp(&fold(attr, want)),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

type PResult<T> = Result<T, (usize, &'static str)>;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, msg: &'static str) -> PResult<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err((self.i, msg))
        }
    }

    fn filter(&mut self) -> PResult<Filter> {
        self.expect(b'(', "expected `(`")?;
        let f = match self.peek() {
            Some(b'&') => {
                self.i += 1;
                Filter::And(self.list()?)
            }
            Some(b'|') => {
                self.i += 1;
                Filter::Or(self.list()?)
            }
            Some(b'!') => {
                self.i += 1;
                Filter::Not(Box::new(self.filter()?))
            }
            Some(_) => self.item()?,
            None => return Err((self.i, "unexpected end")),
        };
        self.expect(b')', "expected `)`")?;
        Ok(f)
    }

    fn list(&mut self) -> PResult<Vec<Filter>> {
        let mut v = Vec::new();
        while self.peek() == Some(b'(') {
            v.push(self.filter()?);
        }
        if v.is_empty() {
            return Err((self.i, "`&` and `|` need at least one filter"));
        }
        Ok(v)
    }

    fn item(&mut self) -> PResult<Filter> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b';' {
                self.i += 1;
            } else {
                break;
            }
        }
        let attr = std::str::from_utf8(&self.s[start..self.i])
            .map_err(|_| (start, "bad attribute"))?
            .to_string();
        match self.peek() {
            Some(b':') => return self.extensible(attr),
            _ if attr.is_empty() => return Err((self.i, "expected an attribute name")),
            _ => {}
        }
        let op = match (self.peek(), self.s.get(self.i + 1).copied()) {
            (Some(b'='), _) => {
                self.i += 1;
                b'='
            }
            (Some(c @ (b'>' | b'<' | b'~')), Some(b'=')) => {
                self.i += 2;
                c
            }
            _ => return Err((self.i, "expected `=`, `>=`, `<=` or `~=`")),
        };
        let parts = self.value_parts()?;
        match op {
            b'=' if parts.len() == 2 && parts[0].is_empty() && parts[1].is_empty() => {
                Ok(Filter::Present(attr))
            }
            b'=' if parts.len() > 1 => {
                let n = parts.len();
                let initial = Some(parts[0].clone()).filter(|p| !p.is_empty());
                let fin = Some(parts[n - 1].clone()).filter(|p| !p.is_empty());
                let any = parts[1..n - 1].iter().filter(|p| !p.is_empty()).cloned().collect();
                Ok(Filter::Substrings { attr, initial, any, fin })
            }
            _ if parts.len() > 1 => Err((self.i, "`*` is only allowed with `=`")),
            b'=' => Ok(Filter::Equal(attr, parts.into_iter().next().unwrap_or_default())),
            b'>' => Ok(Filter::GreaterOrEqual(attr, parts.into_iter().next().unwrap_or_default())),
            b'<' => Ok(Filter::LessOrEqual(attr, parts.into_iter().next().unwrap_or_default())),
            _ => Ok(Filter::Approx(attr, parts.into_iter().next().unwrap_or_default())),
        }
    }

    fn extensible(&mut self, attr: String) -> PResult<Filter> {
        let mut dn_attrs = false;
        let mut rule = None;
        loop {
            self.expect(b':', "expected `:`")?;
            if self.peek() == Some(b'=') {
                self.i += 1;
                break;
            }
            let start = self.i;
            while let Some(c) = self.peek() {
                if c.is_ascii_alphanumeric() || c == b'.' || c == b'-' {
                    self.i += 1;
                } else {
                    break;
                }
            }
            let word =
                std::str::from_utf8(&self.s[start..self.i]).map_err(|_| (start, "bad rule"))?;
            if word.eq_ignore_ascii_case("dn") {
                dn_attrs = true;
            } else if !word.is_empty() {
                rule = Some(word.to_string());
            } else {
                return Err((self.i, "expected a matching rule"));
            }
        }
        let parts = self.value_parts()?;
        if parts.len() != 1 {
            return Err((self.i, "`*` is not allowed in an extensible match"));
        }
        let attr = Some(attr).filter(|a| !a.is_empty());
        if attr.is_none() && rule.is_none() {
            return Err((self.i, "extensible match needs an attribute or a rule"));
        }
        Ok(Filter::Extensible {
            attr,
            rule,
            value: parts.into_iter().next().unwrap_or_default(),
            dn_attrs,
        })
    }

    /// Reads an assertion value, split at unescaped `*`.
    fn value_parts(&mut self) -> PResult<Vec<Vec<u8>>> {
        let mut parts = vec![Vec::new()];
        loop {
            match self.peek() {
                None => return Err((self.i, "unterminated value")),
                Some(b')') => break,
                Some(b'(') => return Err((self.i, "`(` in a value must be escaped as \\28")),
                Some(b'*') => {
                    self.i += 1;
                    parts.push(Vec::new());
                }
                Some(b'\\') => {
                    let h =
                        self.s.get(self.i + 1..self.i + 3).ok_or((self.i, "incomplete escape"))?;
                    let hs = std::str::from_utf8(h).map_err(|_| (self.i, "bad escape"))?;
                    let b = u8::from_str_radix(hs, 16)
                        .map_err(|_| (self.i, "`\\` must be followed by two hex digits"))?;
                    if let Some(last) = parts.last_mut() {
                        last.push(b);
                    }
                    self.i += 3;
                }
                Some(c) => {
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                    self.i += 1;
                }
            }
        }
        Ok(parts)
    }
}

/// Escapes bytes for use as an assertion value (RFC 4515 §3): `*()\` and NUL,
/// plus every non-printable or non-ASCII byte, so the result is plain ASCII.
pub fn escape_value(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for &b in v {
        match b {
            b'*' | b'(' | b')' | b'\\' | 0 => out.push_str(&format!("\\{b:02x}")),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:02x}")),
        }
    }
    out
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(fs) | Filter::Or(fs) => {
                f.write_str(if matches!(self, Filter::And(_)) { "(&" } else { "(|" })?;
                for x in fs {
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            Filter::Not(x) => write!(f, "(!{x})"),
            Filter::Equal(a, v) => write!(f, "({a}={})", escape_value(v)),
            Filter::Approx(a, v) => write!(f, "({a}~={})", escape_value(v)),
            Filter::GreaterOrEqual(a, v) => write!(f, "({a}>={})", escape_value(v)),
            Filter::LessOrEqual(a, v) => write!(f, "({a}<={})", escape_value(v)),
            Filter::Present(a) => write!(f, "({a}=*)"),
            Filter::Substrings { attr, initial, any, fin } => {
                write!(f, "({attr}=")?;
                if let Some(i) = initial {
                    f.write_str(&escape_value(i))?;
                }
                f.write_str("*")?;
                for a in any {
                    write!(f, "{}*", escape_value(a))?;
                }
                if let Some(x) = fin {
                    f.write_str(&escape_value(x))?;
                }
                f.write_str(")")
            }
            Filter::Extensible { attr, rule, value, dn_attrs } => {
                f.write_str("(")?;
                if let Some(a) = attr {
                    f.write_str(a)?;
                }
                if *dn_attrs {
                    f.write_str(":dn")?;
                }
                if let Some(r) = rule {
                    write!(f, ":{r}")?;
                }
                write!(f, ":={})", escape_value(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::dn::Dn;
    use crate::directory::entry::Attr;

    fn entry() -> Entry {
        Entry::with_attrs(
            Dn::parse("CN=dev1,CN=RegisteredDevices,DC=contoso,DC=test").unwrap(),
            [
                Attr::text("objectClass", ["top", "msDS-Device"]),
                Attr::text("displayName", ["Laptop *)(objectClass=*"]),
                Attr::text("userAccountControl", ["66048"]),
                Attr::new("msDS-DeviceID", vec![vec![0x3b, 0x2a, b'A', 0]]),
            ],
        )
    }

    #[test]
    fn distinguished_name_is_the_entrys_dn_when_the_export_left_it_out() {
        let e = entry();
        assert!(!e.has("distinguishedName"));
        let own =
            Filter::eq("distinguishedName", "cn=DEV1,CN=RegisteredDevices,DC=contoso,DC=test");
        assert!(own.matches(&e));
        assert!(Filter::present("distinguishedName").matches(&e));
        let other =
            Filter::eq("distinguishedName", "CN=dev2,CN=RegisteredDevices,DC=contoso,DC=test");
        assert!(!other.matches(&e));
    }

    #[test]
    fn round_trip() {
        for s in [
            "(&(objectClass=msDS-Device)(|(cn=a*b*c)(!(displayName=x))))",
            "(userAccountControl:1.2.840.113556.1.4.803:=2)",
            "(cn>=m)",
            "(msDS-DeviceID=\\3b\\2aA\\00)",
        ] {
            let f = Filter::parse(s).unwrap();
            assert_eq!(Filter::parse(&f.to_string()).unwrap(), f, "{s}");
        }
        assert_eq!(Filter::parse("cn=x").unwrap(), Filter::eq("cn", "x"));
    }

    #[test]
    fn hostile_values_stay_values() {
        let f = Filter::And(vec![
            Filter::eq("objectClass", "msDS-Device"),
            Filter::eq("displayName", "*)(objectClass=*"),
        ]);
        let printed = f.to_string();
        assert_eq!(
            printed,
            "(&(objectClass=msDS-Device)(displayName=\\2a\\29\\28objectClass=\\2a))"
        );
        assert_eq!(Filter::parse(&printed).unwrap(), f);
        let nul = Filter::eq("cn", "a\0b\\c");
        assert_eq!(Filter::parse(&nul.to_string()).unwrap(), nul);
        let long = Filter::eq("cn", "é".repeat(5000));
        assert_eq!(Filter::parse(&long.to_string()).unwrap(), long);
    }

    #[test]
    fn evaluation() {
        let e = entry();
        let t = |s: &str| Filter::parse(s).unwrap().matches(&e);
        assert!(t("(objectclass=MSDS-DEVICE)"));
        assert!(t("(displayName=laptop*)"));
        assert!(t("(displayName=*\\2a\\29\\28objectClass=\\2a)"));
        assert!(!t("(displayName=Laptop)"));
        assert!(t("(userAccountControl:1.2.840.113556.1.4.803:=512)"));
        assert!(!t("(userAccountControl:1.2.840.113556.1.4.803:=2)"));
        assert!(t("(msDS-DeviceID=\\3b\\2aA\\00)"));
        assert!(!t("(msDS-DeviceID=\\3b\\2aa\\00)"), "binary values are case-sensitive");
        assert!(!t("(&(cn=*)(!(cn=zzz)))"), "cn is absent from this entry");
        assert!(t("(userAccountControl>=66000)"));
    }

    #[test]
    fn errors_have_positions() {
        for s in ["(cn=a", "(&)", "(cn=a(b)", "(=x)", "(cn=\\zz)", "(cn=a)x"] {
            let e = Filter::parse(s).unwrap_err();
            assert_eq!(e.kind, Kind::InvalidFilter, "{s}");
            assert!(e.message.contains("at character"), "{}", e.message);
        }
    }
}

//! Distinguished names (RFC 4514). A `Dn` holds unescaped attribute values, so
//! escaping happens in exactly one place (`Display`) and a value taken from
//! outside — a device name, an account name — can never change a DN's structure.
//! Comparison is case-insensitive, as AD compares DNs.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::error::{Error, Kind};

/// One attribute-value pair of an RDN (`CN=Users`).
#[derive(Clone, Debug)]
pub struct Ava {
    pub attr: String,
    pub value: String,
}

/// A relative distinguished name: usually one AVA, several when joined with `+`.
/// Shared: the DNs of 100,000 devices in one container share its parent RDNs.
#[derive(Clone, Debug)]
pub struct Rdn(pub std::sync::Arc<[Ava]>);

/// A distinguished name, most specific RDN first.
#[derive(Clone, Default)]
pub struct Dn {
    rdns: Vec<Rdn>,
}

impl Dn {
    /// The empty DN (the rootDSE).
    pub fn root() -> Dn {
        Dn { rdns: Vec::new() }
    }

    /// Parses an RFC 4514 string.
    pub fn parse(s: &str) -> Result<Dn, Error> {
        parse_dn(s).map_err(|(pos, msg)| {
            Error::new(
                Kind::InvalidDn,
                format!("`{}` is not a valid DN: {msg} at character {}", shorten(s), pos + 1),
            )
        })
    }

    /// True for the empty DN.
    pub fn is_root(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The RDNs, most specific first.
    pub fn rdns(&self) -> &[Rdn] {
        &self.rdns
    }

    /// Number of RDNs.
    pub fn depth(&self) -> usize {
        self.rdns.len()
    }

    /// The parent DN (`None` for the root).
    pub fn parent(&self) -> Option<Dn> {
        if self.rdns.is_empty() { None } else { Some(Dn { rdns: self.rdns[1..].to_vec() }) }
    }

    /// A child of this DN: `attr=value,<self>`. `value` is taken literally and
    /// escaped on output, whatever characters it contains.
    pub fn child(&self, attr: &str, value: &str) -> Result<Dn, Error> {
        if attr.is_empty()
            || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(Error::new(
                Kind::InvalidDn,
                format!("`{}` is not an attribute type for an RDN", shorten(attr)),
            ));
        }
        if value.is_empty() {
            return Err(Error::new(Kind::InvalidDn, "an RDN value cannot be empty"));
        }
        let mut rdns = Vec::with_capacity(self.rdns.len() + 1);
        rdns.push(Rdn(std::sync::Arc::from([Ava {
            attr: attr.to_string(),
            value: value.to_string(),
        }])));
        rdns.extend(self.rdns.iter().cloned());
        Ok(Dn { rdns })
    }

    /// The first RDN's (first) value, unescaped: `Users` for `CN=Users,DC=…`.
    pub fn rdn_value(&self) -> Option<&str> {
        self.rdns.first().and_then(|r| r.0.first()).map(|a| a.value.as_str())
    }

    /// The first RDN's attribute type.
    pub fn rdn_attr(&self) -> Option<&str> {
        self.rdns.first().and_then(|r| r.0.first()).map(|a| a.attr.as_str())
    }

    /// True when `self` is `other` or below it.
    pub fn is_within(&self, other: &Dn) -> bool {
        let n = other.rdns.len();
        self.rdns.len() >= n
            && self.rdns[self.rdns.len() - n..].iter().zip(&other.rdns).all(|(a, b)| rdn_eq(a, b))
    }

    /// True when `self` is an immediate child of `other`.
    pub fn is_child_of(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len() + 1 && self.is_within(other)
    }

    /// The normalised form used as a map key: lower-case types and values, escaped.
    pub fn norm(&self) -> String {
        let mut out = String::new();
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut avas: Vec<String> = rdn
                .0
                .iter()
                .map(|a| {
                    format!("{}={}", a.attr.to_lowercase(), escape_value(&a.value.to_lowercase()))
                })
                .collect();
            avas.sort();
            out.push_str(&avas.join("+"));
        }
        out
    }

    /// `DC=contoso,DC=test` → `contoso.test`, when the DN is all DC components.
    pub fn to_dns_name(&self) -> Option<String> {
        let parts: Option<Vec<&str>> = self
            .rdns
            .iter()
            .map(|r| match &r.0[..] {
                [a] if a.attr.eq_ignore_ascii_case("dc") => Some(a.value.as_str()),
                _ => None,
            })
            .collect();
        parts.filter(|p| !p.is_empty()).map(|p| p.join("."))
    }

    /// `contoso.test` → `DC=contoso,DC=test`.
    pub fn from_dns_name(name: &str) -> Result<Dn, Error> {
        let name = name.trim().trim_end_matches('.');
        if name.is_empty()
            || name
                .split('.')
                .any(|l| l.is_empty() || !l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        {
            return Err(Error::new(
                Kind::InvalidArgument,
                format!("`{}` is not a DNS domain name", shorten(name)),
            ));
        }
        Ok(Dn {
            rdns: name
                .split('.')
                .map(|l| Rdn(vec![Ava { attr: "DC".into(), value: l.into() }].into()))
                .collect(),
        })
    }
}

fn rdn_eq(a: &Rdn, b: &Rdn) -> bool {
    a.0.len() == b.0.len()
        && a.0.iter().all(|x| {
            b.0.iter().any(|y| {
                x.attr.eq_ignore_ascii_case(&y.attr)
                    && x.value.to_lowercase() == y.value.to_lowercase()
            })
        })
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Escapes an attribute value for use in a DN string (RFC 4514 §2.4).
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 4);
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i + 1 == n => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn parse_dn(s: &str) -> Result<Dn, (usize, &'static str)> {
    let bytes = s.as_bytes();
    let mut rdns = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i] == b' ' {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if i == bytes.len() {
        return Ok(Dn::root());
    }
    let mut avas = Vec::new();
    loop {
        skip_ws(&mut i);
        let start = i;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b'.')
        {
            i += 1;
        }
        if i == start {
            return Err((i, "expected an attribute type"));
        }
        let attr = &s[start..i];
        skip_ws(&mut i);
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err((i, "expected `=`"));
        }
        i += 1;
        skip_ws(&mut i);
        let mut raw: Vec<u8> = Vec::new();
        let mut last_significant = 0usize; // length of raw up to the last escaped or non-space byte
        if i < bytes.len() && bytes[i] == b'#' {
            // AD never returns BER-encoded (#hex) values; refusing them keeps one value form.
            return Err((
                i,
                "BER-encoded (#…) values are not supported; escape a leading # as \\#",
            ));
        }
        {
            while i < bytes.len() {
                let b = bytes[i];
                match b {
                    b',' | b';' | b'+' => break,
                    b'\\' => {
                        let Some(&n) = bytes.get(i + 1) else { return Err((i, "dangling `\\`")) };
                        if n.is_ascii_hexdigit() {
                            let Some(&m) = bytes.get(i + 2) else {
                                return Err((i, "incomplete hex escape"));
                            };
                            let hex = [n, m];
                            let hs =
                                std::str::from_utf8(&hex).map_err(|_| (i, "bad hex escape"))?;
                            let v =
                                u8::from_str_radix(hs, 16).map_err(|_| (i, "bad hex escape"))?;
                            raw.push(v);
                            i += 3;
                        } else if b" \"#+,;<=>\\".contains(&n) {
                            raw.push(n);
                            i += 2;
                        } else {
                            return Err((i, "invalid escape"));
                        }
                        last_significant = raw.len();
                        continue;
                    }
                    b'"' | b'<' | b'>' | 0 => return Err((i, "character must be escaped")),
                    _ => {
                        raw.push(b);
                        if b != b' ' {
                            last_significant = raw.len();
                        }
                        i += 1;
                    }
                }
            }
        }
        raw.truncate(last_significant);
        if raw.is_empty() {
            return Err((i, "empty attribute value"));
        }
        let value = String::from_utf8(raw).map_err(|_| (i, "value is not UTF-8"))?;
        avas.push(Ava { attr: attr.to_string(), value });
        if i >= bytes.len() {
            rdns.push(Rdn(std::mem::take(&mut avas).into()));
            break;
        }
        match bytes[i] {
            b'+' => {}
            _ => rdns.push(Rdn(std::mem::take(&mut avas).into())),
        }
        i += 1;
        skip_ws(&mut i);
        if i >= bytes.len() {
            return Err((i, "DN ends with a separator"));
        }
    }
    Ok(Dn { rdns })
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, a) in rdn.0.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}={}", a.attr, escape_value(&a.value))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dn({self})")
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len() && self.is_within(other)
    }
}

impl Eq for Dn {}

impl Hash for Dn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.norm().hash(state);
    }
}

impl FromStr for Dn {
    type Err = Error;
    fn from_str(s: &str) -> Result<Dn, Error> {
        Dn::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let dn = Dn::parse(
            "CN=Device Registration Configuration, CN=Services,CN=Configuration,DC=contoso,DC=test",
        )
        .unwrap();
        assert_eq!(dn.depth(), 5);
        assert_eq!(
            dn.to_string(),
            "CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=test"
        );
        assert_eq!(dn.rdn_value(), Some("Device Registration Configuration"));
        assert_eq!(
            dn.parent().unwrap().to_string(),
            "CN=Services,CN=Configuration,DC=contoso,DC=test"
        );
    }

    #[test]
    fn case_insensitive_equality() {
        let a = Dn::parse("cn=users,dc=CONTOSO,dc=test").unwrap();
        let b = Dn::parse("CN=Users,DC=contoso,DC=test").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.norm(), b.norm());
        assert!(b.is_child_of(&Dn::parse("dc=contoso,dc=test").unwrap()));
    }

    #[test]
    fn hostile_values_cannot_change_structure() {
        let base = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=test").unwrap();
        for v in [
            ",CN=Admins",
            "*)(objectClass=*",
            "a\0b",
            "\\",
            "#lead",
            " lead",
            "trail ",
            "x+y=z",
            "é\u{1F600}ü",
            "\"q\"<>;",
            "\n",
        ] {
            let dn = base.child("CN", v).unwrap();
            let printed = dn.to_string();
            let back = Dn::parse(&printed).unwrap();
            assert_eq!(back.depth(), 4, "{printed}");
            assert_eq!(back.rdn_value(), Some(v), "{printed}");
            assert!(back.is_child_of(&base));
        }
        let long = "x".repeat(10_000);
        assert_eq!(
            Dn::parse(&base.child("CN", &long).unwrap().to_string()).unwrap().rdn_value(),
            Some(long.as_str())
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_value(",CN=Admins"), "\\,CN\\=Admins");
        assert_eq!(escape_value("#x "), "\\#x\\ ");
        assert_eq!(Dn::parse("CN=a\\2Cb,DC=x").unwrap().rdn_value(), Some("a,b"));
        assert_eq!(Dn::parse("CN=a\\,b ,DC=x").unwrap().rdn_value(), Some("a,b"));
    }

    #[test]
    fn errors() {
        for s in ["CN", "CN=", "=x", "CN=a,", "CN=a\\", "CN=a\"b", "CN=a,,DC=x"] {
            let e = Dn::parse(s).unwrap_err();
            assert_eq!(e.kind, Kind::InvalidDn, "{s}");
        }
        assert!(Dn::parse("").unwrap().is_root());
    }

    #[test]
    fn dns_names() {
        let dn = Dn::from_dns_name("contoso.test").unwrap();
        assert_eq!(dn.to_string(), "DC=contoso,DC=test");
        assert_eq!(dn.to_dns_name().as_deref(), Some("contoso.test"));
        assert!(Dn::from_dns_name("bad..name").is_err());
    }
}

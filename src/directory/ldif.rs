//! LDIF (RFC 2849): reading content records as `ldapsearch -LLL` and `ldifde`
//! write them, and writing entries and change records that `ldapmodify` accepts.
//! Values that are binary or not SAFE-STRINGs are written base64 (`::`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::dn::Dn;
use super::entry::Entry;
use super::syntax::is_binary;
use crate::error::{Error, Kind};

/// One parsed content record with the line it started on.
#[derive(Debug, Clone)]
pub struct Record {
    pub line: usize,
    pub entry: Entry,
}

/// Parses LDIF content records. `source` names the input in errors.
pub fn parse(text: &str, source: &str) -> Result<Vec<Record>, Error> {
    let err = |line: usize, msg: String| Error::new(Kind::Ldif, format!("{source}:{line}: {msg}"));
    // Unfold continuation lines first, remembering where each logical line began.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let n = idx + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = raw.strip_prefix(' ') {
            match logical.last_mut() {
                Some((_, l)) if !l.is_empty() => l.push_str(cont),
                _ => return Err(err(n, "continuation line with nothing to continue".into())),
            }
        } else {
            logical.push((n, raw.to_string()));
        }
    }
    let mut records = Vec::new();
    let mut cur: Option<(usize, Entry)> = None;
    let mut first = true;
    for (n, line) in logical {
        if line.is_empty() {
            if let Some((l, e)) = cur.take() {
                records.push(Record { line: l, entry: e });
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some(colon) = line.find(':') else {
            return Err(err(n, format!("expected `attribute: value`, got `{}`", shorten(&line))));
        };
        let name = &line[..colon];
        let rest = &line[colon + 1..];
        let value: Vec<u8> = if let Some(b) = rest.strip_prefix(':') {
            B64.decode(b.trim())
                .map_err(|e| err(n, format!("bad base64 value for `{name}`: {e}")))?
        } else if rest.starts_with('<') {
            return Err(err(n, format!("URL values (`{name}:<`) are not supported")));
        } else {
            rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec()
        };
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
        {
            return Err(err(n, format!("`{}` is not an attribute name", shorten(name))));
        }
        if first && cur.is_none() && name.eq_ignore_ascii_case("version") {
            first = false;
            continue;
        }
        first = false;
        if name.eq_ignore_ascii_case("dn") {
            if let Some((l, e)) = cur.take() {
                return Err(err(
                    n,
                    format!(
                        "record starting at line {l} ({}) is not followed by a blank line",
                        e.dn
                    ),
                ));
            }
            let s = String::from_utf8(value).map_err(|_| err(n, "DN is not UTF-8".into()))?;
            let dn = Dn::parse(&s).map_err(|e| err(n, e.message))?;
            cur = Some((n, Entry::new(dn)));
            continue;
        }
        let Some((_, e)) = cur.as_mut() else {
            return Err(err(n, format!("`{name}` before any `dn:` line")));
        };
        if name.eq_ignore_ascii_case("changetype") {
            if value.as_slice() != b"add" {
                return Err(err(
                    n,
                    "only content records (or `changetype: add`) can be loaded".into(),
                ));
            }
            continue;
        }
        e.add_values(name, vec![value]);
    }
    if let Some((l, e)) = cur.take() {
        records.push(Record { line: l, entry: e });
    }
    Ok(records)
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

/// True when `v` can be written after `name: ` without base64 (RFC 2849 SAFE-STRING).
fn is_safe(v: &[u8]) -> bool {
    match v.first() {
        None => true,
        Some(b' ' | b':' | b'<') => false,
        Some(_) => {
            v.last() != Some(&b' ')
                && v.iter().all(|&b| (0x01..=0x7f).contains(&b) && b != b'\n' && b != b'\r')
        }
    }
}

/// One `name: value` line (folded at 76 columns), base64 when needed.
pub fn attr_line(name: &str, value: &[u8]) -> String {
    let line = if is_binary(name) || !is_safe(value) {
        format!("{name}:: {}", B64.encode(value))
    } else {
        format!("{name}: {}", String::from_utf8_lossy(value))
    };
    fold(&line)
}

/// The `dn:` line for a DN.
pub fn dn_line(dn: &Dn) -> String {
    attr_line("dn", dn.to_string().as_bytes())
}

fn fold(line: &str) -> String {
    const WIDTH: usize = 76;
    if line.len() <= WIDTH {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len() + line.len() / WIDTH * 2);
    let mut width = 0;
    let mut limit = WIDTH;
    for c in line.chars() {
        let w = c.len_utf8();
        if width + w > limit {
            out.push_str("\n ");
            width = 0;
            limit = WIDTH - 1;
        }
        out.push(c);
        width += w;
    }
    out
}

/// An entry as a content record (no trailing blank line).
pub fn write_entry(e: &Entry) -> String {
    let mut out = dn_line(&e.dn);
    out.push('\n');
    for a in e.attrs() {
        for v in &a.values {
            out.push_str(&attr_line(&a.name, v));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldapsearch_output() {
        let text = "version: 1\n\n# comment\ndn: CN=RegisteredDevices,DC=contoso,\n DC=test\nobjectClass: top\nobjectClass: msDS-DeviceContainer\nobjectGUID:: Oyocb15NYE+Ke5wNHi86Sw==\n\ndn:: Q049w6ksREM9eA==\ncn: x\n";
        let recs = parse(text, "t.ldif").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].line, 4);
        assert_eq!(recs[0].entry.dn.to_string(), "CN=RegisteredDevices,DC=contoso,DC=test");
        assert_eq!(recs[0].entry.get("objectguid")[0].len(), 16);
        assert_eq!(recs[1].entry.dn.rdn_value(), Some("é"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("dn: CN=a,DC=x\ncn a\n", "bad.ldif").unwrap_err();
        assert!(e.message.starts_with("bad.ldif:2:"), "{}", e.message);
        let e = parse("dn: CN=a,DC=x\nobjectGUID:: !!!\n", "bad.ldif").unwrap_err();
        assert!(e.message.starts_with("bad.ldif:2:"), "{}", e.message);
        let e = parse("cn: x\n", "bad.ldif").unwrap_err();
        assert!(e.message.contains(":1:"));
        let e = parse("dn: CN=a,DC=x\ncn: a\ndn: CN=b,DC=x\n", "bad.ldif").unwrap_err();
        assert!(e.message.contains(":3:"), "{}", e.message);
    }

    #[test]
    fn writes_base64_when_needed() {
        assert_eq!(attr_line("cn", b"plain"), "cn: plain");
        assert_eq!(attr_line("cn", b" lead"), "cn:: IGxlYWQ=");
        assert_eq!(attr_line("cn", "é".as_bytes()), "cn:: w6k=");
        assert!(attr_line("objectGUID", b"abcdabcdabcdabcd").starts_with("objectGUID:: "));
        let long = attr_line("description", "x".repeat(200).as_bytes());
        assert!(long.lines().all(|l| l.len() <= 76));
        let back = parse(&format!("dn: CN=a,DC=x\n{long}\n"), "t").unwrap();
        assert_eq!(back[0].entry.get("description")[0], "x".repeat(200).into_bytes());
    }
}

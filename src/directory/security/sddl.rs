//! SDDL ([MS-DTYP] 2.5.1): parse and print, in Samba 4.17's dialect.
//!
//! Output matches Samba's `as_sddl(domain_sid)` string for string (checked
//! against the golden vectors), except where SDDL cannot say what the
//! descriptor holds or dwb is deliberately more faithful:
//!
//! * a NULL DACL / SACL (PRESENT bit, no ACL) prints as `D:NO_ACCESS_CONTROL`
//!   (as Windows does); Samba drops the section, turning it into "no DACL";
//! * SIDs whose identifier authority is 2^32 − 1 or more print in the
//!   [MS-DTYP] form `S-1-0x…` with 12 upper-case digits (Samba: `0x%llx`).
//!
//! Parsing accepts every well-formed string Samba 4.17 does (all golden
//! vectors' inputs and outputs), plus
//! `NO_ACCESS_CONTROL`, `s-1-…`, decimal and octal masks, `FA` as
//! FILE_ALL_ACCESS 0x1F01FF (Samba 4.17 reads 0x1FF) and the `K*` key rights;
//! it rejects what Samba silently ignores (trailing junk after a right, SID
//! or GUID, lower-case rights, GUIDs on non-object ACEs, a seventh ACE field).
//! ACLs parsed from SDDL get revision 4 and descriptors the SELF_RELATIVE bit,
//! as in Samba. ACE types other than A, D, OA, OD, AU, OU are an error.

use super::SecurityDescriptor;
use super::acl::{ACL_REVISION_DS, Ace, AceType, Acl, AclEntry, ace_flags};
use super::aliases::{self, Alias};
use super::control as c;
use super::rights;
use crate::directory::guid::Guid;
use crate::directory::sid::Sid;

/// SDDL that could not be parsed (or a descriptor SDDL cannot express).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDDL character {pos}: {msg}")]
pub struct SddlError {
    /// Character (not byte) position in the SDDL string.
    pub pos: usize,
    pub msg: String,
}

const ACE_FLAG_LETTERS: [(&str, u8); 7] = [
    ("OI", ace_flags::OBJECT_INHERIT),
    ("CI", ace_flags::CONTAINER_INHERIT),
    ("NP", ace_flags::NO_PROPAGATE_INHERIT),
    ("IO", ace_flags::INHERIT_ONLY),
    ("ID", ace_flags::INHERITED),
    ("SA", ace_flags::SUCCESSFUL_ACCESS),
    ("FA", ace_flags::FAILED_ACCESS),
];

const ACE_TYPE_LETTERS: [(&str, AceType); 6] = [
    ("A", AceType::AccessAllowed),
    ("D", AceType::AccessDenied),
    ("AU", AceType::SystemAudit),
    ("OA", AceType::AccessAllowedObject),
    ("OD", AceType::AccessDeniedObject),
    ("OU", AceType::SystemAuditObject),
];

/// The DACL's (P, AR, AI) control bits, in Samba's print order; a SACL's are
/// each one bit higher.
const DACL_FLAG_LETTERS: [(&str, u16); 3] = [
    ("P", c::SE_DACL_PROTECTED),
    ("AR", c::SE_DACL_AUTO_INHERIT_REQ),
    ("AI", c::SE_DACL_AUTO_INHERITED),
];

const NO_ACCESS_CONTROL: &str = "NO_ACCESS_CONTROL";

impl SecurityDescriptor {
    /// Parses SDDL. `domain` resolves domain-relative aliases (DA, DU, EA, …);
    /// without it they are an error. Never panics.
    pub fn from_sddl(text: &str, domain: Option<&Sid>) -> Result<SecurityDescriptor, SddlError> {
        Parser { text, s: text.as_bytes(), i: 0, domain }.descriptor()
    }

    /// Prints SDDL as Samba 4.17 does (see the module docs for the differences).
    /// Fails only for what SDDL has no syntax for: unmodelled ACE types and ACE flag 0x20.
    pub fn to_sddl(&self, domain: Option<&Sid>) -> Result<String, SddlError> {
        let mut out = String::new();
        if let Some(o) = &self.owner {
            out.push_str("O:");
            out.push_str(&aliases::format_sid(o, domain));
        }
        if let Some(g) = &self.group {
            out.push_str("G:");
            out.push_str(&aliases::format_sid(g, domain));
        }
        if self.has_control(c::SE_DACL_PRESENT) {
            out.push_str("D:");
            format_acl(&mut out, self.dacl.as_ref(), self.control, domain)?;
        }
        if self.has_control(c::SE_SACL_PRESENT) {
            out.push_str("S:");
            format_acl(&mut out, self.sacl.as_ref(), self.control >> 1, domain)?;
        }
        Ok(out)
    }
}

/// `flags` holds the ACL's P/AR/AI bits at the DACL positions.
fn format_acl(
    out: &mut String,
    acl: Option<&Acl>,
    flags: u16,
    domain: Option<&Sid>,
) -> Result<(), SddlError> {
    for (letters, bit) in DACL_FLAG_LETTERS {
        if flags & bit != 0 {
            out.push_str(letters);
        }
    }
    let Some(acl) = acl else {
        out.push_str(NO_ACCESS_CONTROL);
        return Ok(());
    };
    for entry in &acl.entries {
        let unsayable = |msg: String| SddlError { pos: out.chars().count(), msg };
        let ace = match entry {
            AclEntry::Ace(a) => a,
            AclEntry::Raw(r) => {
                return Err(unsayable(format!(
                    "ACE type {:#04x} has no SDDL form here",
                    r.ace_type
                )));
            }
        };
        if ace.flags & !ace_flags::ALL != 0 {
            return Err(unsayable(format!(
                "ACE flags {:#04x} include a bit SDDL has no letter for",
                ace.flags
            )));
        }
        let ty = ACE_TYPE_LETTERS.iter().find(|(_, t)| *t == ace.ace_type).map_or("", |(l, _)| *l);
        let flags: String =
            ACE_FLAG_LETTERS.iter().filter(|(_, f)| ace.flags & f != 0).map(|(l, _)| *l).collect();
        let guid = |g: Option<Guid>| {
            if ace.ace_type.is_object() { g.map(|g| g.to_string()) } else { None }
        };
        out.push_str(&format!(
            "({ty};{flags};{};{};{};{})",
            rights::format_mask(ace.mask),
            guid(ace.object_type).unwrap_or_default(),
            guid(ace.inherited_object_type).unwrap_or_default(),
            aliases::format_sid(&ace.trustee, domain),
        ));
    }
    Ok(())
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
    domain: Option<&'a Sid>,
}

impl<'a> Parser<'a> {
    fn err(&self, byte: usize, msg: impl Into<String>) -> SddlError {
        // Count UTF-8 lead bytes so the position is in characters even after non-ASCII input.
        let pos =
            self.s.get(..byte).unwrap_or(self.s).iter().filter(|b| (**b & 0xC0) != 0x80).count();
        SddlError { pos, msg: msg.into() }
    }

    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or_default()
    }

    fn descriptor(mut self) -> Result<SecurityDescriptor, SddlError> {
        let mut sd = SecurityDescriptor::new();
        let (mut seen_o, mut seen_g, mut seen_d, mut seen_s) = (false, false, false, false);
        while let Some(&letter) = self.s.get(self.i) {
            let start = self.i;
            if self.s.get(self.i + 1) != Some(&b':') || !matches!(letter, b'O' | b'G' | b'D' | b'S')
            {
                return Err(self.err(start, "expected a section: O:, G:, D: or S:"));
            }
            let seen = match letter {
                b'O' => &mut seen_o,
                b'G' => &mut seen_g,
                b'D' => &mut seen_d,
                _ => &mut seen_s,
            };
            if std::mem::replace(seen, true) {
                return Err(self.err(start, format!("second {}: section", letter as char)));
            }
            self.i += 2;
            match letter {
                b'O' => sd.owner = Some(self.section_sid()?),
                b'G' => sd.group = Some(self.section_sid()?),
                b'D' => {
                    let (acl, flags) = self.acl()?;
                    sd.control |= c::SE_DACL_PRESENT | flags;
                    sd.dacl = acl;
                }
                _ => {
                    let (acl, flags) = self.acl()?;
                    sd.control |= c::SE_SACL_PRESENT | (flags << 1);
                    sd.sacl = acl;
                }
            }
        }
        Ok(sd)
    }

    /// The SID of an O: or G: section, which ends where the next section starts.
    fn section_sid(&mut self) -> Result<Sid, SddlError> {
        let rest = self.rest();
        let len = if rest.starts_with(b"S-") || rest.starts_with(b"s-") {
            let body = rest
                .iter()
                .skip(2)
                .take_while(|b| b.is_ascii_hexdigit() || matches!(b, b'-' | b'x' | b'X'));
            let mut len = 2 + body.count();
            // "…-544D:(" — the D belongs to the next section, not to a hex authority.
            if len > 2 && rest.get(len - 1) == Some(&b'D') && rest.get(len) == Some(&b':') {
                len -= 1;
            }
            len
        } else {
            2.min(rest.len())
        };
        let start = self.i;
        self.i += len;
        self.sid(start, self.i)
    }

    /// The SID spelled by bytes `start..end` (an alias or `S-1-…`), all of them.
    fn sid(&self, start: usize, end: usize) -> Result<Sid, SddlError> {
        let tok = self.text.get(start..end).unwrap_or_default();
        if let Some(body) = tok.strip_prefix("S-").or_else(|| tok.strip_prefix("s-")) {
            // Sid's own parser forgives surrounding blanks; SDDL does not.
            if let Some(k) =
                body.find(|ch: char| !(ch.is_ascii_hexdigit() || matches!(ch, '-' | 'x' | 'X')))
            {
                return Err(self.err(start + 2 + k, format!("unexpected character in SID `{tok}`")));
            }
            return tok.parse().map_err(|e| self.err(start, format!("bad SID `{tok}`: {e}")));
        }
        match aliases::lookup(tok) {
            Some(Alias::Sid(sid)) => Ok(sid),
            Some(Alias::Relative(rid)) => {
                let domain = self.domain.ok_or_else(|| {
                    self.err(
                        start,
                        format!("`{tok}` is relative to the domain, but no domain SID was given"),
                    )
                })?;
                domain.with_rid(rid).map_err(|e| self.err(start, format!("`{tok}`: {e}")))
            }
            None if tok.is_empty() => Err(self.err(start, "expected a SID or SID alias")),
            None => Err(self.err(start, format!("unknown SID alias `{tok}`"))),
        }
    }

    /// ACL flags then ACEs (or NO_ACCESS_CONTROL); returns the flags at the DACL bit positions.
    fn acl(&mut self) -> Result<(Option<Acl>, u16), SddlError> {
        let mut flags = 0u16;
        let mut null = false;
        'flags: loop {
            let rest = self.rest();
            if !null && rest.starts_with(NO_ACCESS_CONTROL.as_bytes()) {
                null = true;
                self.i += NO_ACCESS_CONTROL.len();
                continue;
            }
            for (letters, bit) in DACL_FLAG_LETTERS {
                if rest.starts_with(letters.as_bytes()) {
                    flags |= bit;
                    self.i += letters.len();
                    continue 'flags;
                }
            }
            break;
        }
        if null {
            if self.rest().first() == Some(&b'(') {
                return Err(self.err(self.i, "ACEs after NO_ACCESS_CONTROL"));
            }
            return Ok((None, flags));
        }
        let mut acl = Acl::with_revision(ACL_REVISION_DS);
        while self.rest().first() == Some(&b'(') {
            acl.entries.push(AclEntry::Ace(self.ace()?));
        }
        Ok((Some(acl), flags))
    }

    fn ace(&mut self) -> Result<Ace, SddlError> {
        let open = self.i;
        let close = open
            + 1
            + self
                .rest()
                .iter()
                .skip(1)
                .position(|b| *b == b')')
                .ok_or_else(|| self.err(open, "ACE has no closing `)`"))?;
        // Fields as (start, end) byte ranges.
        let mut fields = Vec::new();
        let mut start = open + 1;
        for (k, b) in self.s.get(open + 1..close).unwrap_or_default().iter().enumerate() {
            if *b == b';' {
                fields.push((start, open + 1 + k));
                start = open + 2 + k;
            }
        }
        fields.push((start, close));
        let field = |n: usize| fields.get(n).copied().unwrap_or((close, close));
        let bytes = |(a, b): (usize, usize)| self.s.get(a..b).unwrap_or_default();

        let (ts, te) = field(0);
        let ace_type = ACE_TYPE_LETTERS
            .iter()
            .find(|(l, _)| l.as_bytes() == bytes((ts, te)))
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let t = String::from_utf8_lossy(bytes((ts, te)));
                self.err(ts, format!("unsupported ACE type `{t}` (dwb knows A, D, OA, OD, AU, OU)"))
            })?;
        if fields.len() != 6 {
            let at = fields.get(6).map_or(close, |f| f.0);
            return Err(self.err(
                at,
                format!("an ACE has 6 fields separated by `;`, this one has {}", fields.len()),
            ));
        }

        let (fs, fe) = field(1);
        let mut flags = 0u8;
        let mut at = fs;
        while at < fe {
            let two = self.s.get(at..at + 2).unwrap_or_default();
            let bit = ACE_FLAG_LETTERS.iter().find(|(l, _)| l.as_bytes() == two).map(|(_, b)| *b);
            flags |=
                bit.ok_or_else(|| self.err(at, "unknown ACE flag (known: OI CI NP IO ID SA FA)"))?;
            at += 2;
        }

        let mask = self.mask(field(2))?;
        let object_type = self.guid(field(3), ace_type)?;
        let inherited_object_type = self.guid(field(4), ace_type)?;
        let (ss, se) = field(5);
        let trustee = self.sid(ss, se)?;
        self.i = close + 1;
        Ok(Ace {
            ace_type,
            flags,
            mask,
            object_type,
            inherited_object_type,
            trustee,
            extra: Vec::new(),
        })
    }

    fn mask(&self, (start, end): (usize, usize)) -> Result<u32, SddlError> {
        let tok = self.s.get(start..end).unwrap_or_default();
        let Some(first) = tok.first() else { return Ok(0) };
        if first.is_ascii_digit() {
            let (digits, radix) = match tok {
                [b'0', b'x' | b'X', hex @ ..] => (hex, 16),
                [b'0', oct @ ..] if !oct.is_empty() => (oct, 8),
                dec => (dec, 10),
            };
            let text = std::str::from_utf8(digits).unwrap_or("");
            let ok = !digits.is_empty() && digits.iter().all(|d| char::from(*d).is_digit(radix));
            return ok
                .then(|| u32::from_str_radix(text, radix).ok())
                .flatten()
                .ok_or_else(|| self.err(start, "access mask is not a 32-bit number"));
        }
        let mut mask = 0u32;
        let mut at = start;
        while at < end {
            let two = self.text.get(at..at + 2).unwrap_or_default();
            mask |= rights::right_by_letters(two)
                .ok_or_else(|| self.err(at, "unknown access right"))?;
            at += 2;
        }
        Ok(mask)
    }

    fn guid(
        &self,
        (start, end): (usize, usize),
        ace_type: AceType,
    ) -> Result<Option<Guid>, SddlError> {
        let tok = self.text.get(start..end).unwrap_or_default();
        if tok.is_empty() {
            return Ok(None);
        }
        if !ace_type.is_object() {
            return Err(self.err(start, "only object ACE types (OA, OD, OU) take GUIDs"));
        }
        if tok.len() != 36 {
            return Err(self.err(
                start,
                format!("`{tok}` is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"),
            ));
        }
        tok.parse().map(Some).map_err(|e| self.err(start, format!("{e}")))
    }
}

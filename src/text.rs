//! Text for people's terminals. Directory and Graph values are attacker-
//! controlled (anyone can register a device and name it), so everything dwb
//! prints for a reviewer goes through [`visible`]: line breaks, NUL and other
//! control characters, and the Unicode formatting characters that reorder or
//! hide text (bidirectional overrides, zero-width characters) are shown as
//! escapes, so a value can never fake a line of the plan. LDIF (base64) and
//! JSON keep values exact.

use std::borrow::Cow;

/// True for characters that must not reach a terminal as themselves.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}'              // Arabic letter mark
            | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}'              // zero-width no-break space (BOM)
        )
}

/// `s` with every hidden character (and the backslash) escaped:
/// `\n`, `\r`, `\t`, `\0`, `\\`, otherwise `\u{XXXX}`.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| hidden(c) || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\\' => out.push_str("\\\\"),
            c if hidden(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The most of a value a message or report echoes (characters).
pub const CLIP: usize = 200;

/// `s` cut to `max` characters, the total size noted when it was longer: a
/// 10 MB value from a source is named, not echoed whole into stderr and reports.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes in all)", &s[..end], s.len())),
    }
}

/// A table for stdout. On a terminal: box drawing, fitted to the terminal's
/// width. Anywhere else (a pipe, a file, a ticket): plain columns under a
/// dashed header, at most `$COLUMNS` (else 120) wide, so the output greps,
/// diffs and pastes cleanly.
pub fn table() -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        // A terminal that reports no size (a fresh pseudo-terminal) is not 0 columns wide.
        if t.width().is_none_or(|w| w < 40) {
            t.set_width(100);
        }
    } else {
        t.load_preset(PLAIN);
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok());
        t.set_width(width.filter(|w| *w >= 40).unwrap_or(120));
    }
    t
}

/// A table's text without the padding at the end of each line.
pub fn render(t: &comfy_table::Table) -> String {
    t.lines().map(|l| l.trim_end().to_string()).collect::<Vec<_>>().join("\n")
}

/// comfy-table's components, in its order: no borders or column lines, only
/// the header underline (`-`, a gap at each column boundary).
const PLAIN: &str = "     -             ";

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn long_values_are_clipped_with_their_size() {
        assert_eq!(super::clip("short", 10), "short");
        let big = "é".repeat(5_000_000);
        let c = super::clip(&big, 3);
        assert_eq!(c, "ééé… (10000000 bytes in all)");
    }

    #[test]
    fn plain_tables_have_no_box_drawing() {
        let mut t = super::table();
        t.set_header(["check", "status"]).add_row(["schema", "ok"]);
        let text = super::render(&t);
        assert!(text.is_ascii(), "{text}");
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text:?}");
        assert!(text.contains("check") && text.contains("-----"), "{text}");
    }

    #[test]
    fn escapes_what_could_fake_a_line() {
        assert_eq!(visible("plain é ü 名前"), "plain é ü 名前");
        assert_eq!(visible("evil\nchangetype: delete"), "evil\\nchangetype: delete");
        assert_eq!(visible("a\r\n\0b\tc"), "a\\r\\n\\0b\\tc");
        assert_eq!(visible("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(visible("zero\u{200b}width\u{feff}"), "zero\\u{200b}width\\u{feff}");
        assert_eq!(visible("esc\u{1b}[31m"), "esc\\u{001b}[31m");
        assert_eq!(visible("back\\slash"), "back\\\\slash");
        assert_eq!(visible("c1\u{85}"), "c1\\u{0085}");
    }
}

//! Several syntax errors from one file. Rhai's parser stops at the first
//! error, so after each one the statement holding it is blanked out (spaces,
//! newlines kept, so every later line and column is unchanged) and the file is
//! parsed again. A statement is cut at `;` and after a block that ends it, at
//! the innermost brace level first; when blanking it makes the next token an
//! error (a dangling `else`), the statement around it is blanked instead. A
//! blanked `let x …` leaves `let x;` behind so later uses of `x` still parse.

use rhai::{AST, Engine, ParseError};

/// Give up after this many errors: the rest is likely noise.
const MAX_ERRORS: usize = 50;

/// What the parser said about a file.
pub struct Parsed {
    /// Every syntax error found, in file order.
    pub errors: Vec<ParseError>,
    /// The AST of the file once the broken statements were blanked (`None`
    /// when it still does not parse).
    pub ast: Option<AST>,
    /// Functions defined in blanked statements (calls to them are not errors).
    pub lost_fns: Vec<String>,
}

/// A statement: char offsets `start..end` at brace depth `depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    start: usize,
    end: usize,
    depth: usize,
}

/// Parses `text`, collecting every syntax error (see the module doc).
pub fn parse_all(engine: &Engine, text: &str) -> Parsed {
    let mut chars: Vec<char> = text.chars().collect();
    let mut out = Parsed { errors: Vec::new(), ast: None, lost_fns: Vec::new() };
    let mut last: Option<usize> = None;
    loop {
        let err = match engine.compile(chars.iter().collect::<String>()) {
            Ok(ast) => {
                out.ast = Some(ast);
                return out;
            }
            Err(e) => e,
        };
        let at = offset(&chars, &err);
        // No progress (or the end of the file): stop with what we have.
        let stuck = match (at, last) {
            (None, _) => true,
            (Some(a), Some(l)) => a <= l,
            _ => false,
        };
        out.errors.push(err);
        let Some(at) = at.filter(|_| !stuck && out.errors.len() < MAX_ERRORS) else {
            return out;
        };
        last = Some(at);
        let items = statements(&chars);
        let mut around: Vec<Item> =
            items.into_iter().filter(|i| i.start <= at && at <= i.end).collect();
        around.sort_by_key(|i| (std::cmp::Reverse(i.depth), at >= i.end));
        if around.is_empty() {
            around.push(line_of(&chars, at));
        }
        let mut next = chars.clone();
        for (k, item) in around.iter().enumerate() {
            let trial = blank(&chars, *item);
            let accept = k + 1 == around.len() || {
                match engine.compile(trial.iter().collect::<String>()) {
                    Ok(_) => true,
                    Err(e) => match offset(&trial, &e) {
                        None => true,
                        Some(o) => o > first_token(&trial, item.end),
                    },
                }
            };
            if accept {
                out.lost_fns.extend(fn_names(&chars[item.start..item.end.min(chars.len())]));
                next = trial;
                break;
            }
        }
        chars = next;
    }
}

/// The char offset of an error's position.
fn offset(chars: &[char], e: &ParseError) -> Option<usize> {
    let pos = e.position();
    let (line, col) = (pos.line()?, pos.position().unwrap_or(1));
    let mut cur = 1;
    let mut start = 0;
    if line > 1 {
        for (i, c) in chars.iter().enumerate() {
            if *c == '\n' {
                cur += 1;
                if cur == line {
                    start = i + 1;
                    break;
                }
            }
        }
        if cur != line {
            return None;
        }
    }
    let o = start + col.saturating_sub(1);
    (o < chars.len()).then_some(o)
}

/// The first char at or after `from` that is not white space.
fn first_token(chars: &[char], from: usize) -> usize {
    (from..chars.len()).find(|&i| !chars[i].is_whitespace()).unwrap_or(chars.len())
}

/// The whole line holding `at`, as a last resort.
fn line_of(chars: &[char], at: usize) -> Item {
    let start = chars[..at].iter().rposition(|c| *c == '\n').map(|i| i + 1).unwrap_or(0);
    let end = (at..chars.len()).find(|&i| chars[i] == '\n').unwrap_or(chars.len());
    Item { start, end, depth: 0 }
}

/// `chars` with `item` replaced by spaces (newlines kept); `let x …` keeps `let x;`.
fn blank(chars: &[char], item: Item) -> Vec<char> {
    let mut out = chars.to_vec();
    let end = item.end.min(out.len());
    let keep = declared_name(&chars[item.start..end]);
    for c in &mut out[item.start..end] {
        if *c != '\n' {
            *c = ' ';
        }
    }
    if let Some(decl) = keep
        && decl.chars().count() <= end - item.start
    {
        for (i, c) in decl.chars().enumerate() {
            out[item.start + i] = c;
        }
    }
    out
}

/// `let x;` for a statement `let x = …` (or `const x = …`), so `x` stays declared.
fn declared_name(stmt: &[char]) -> Option<String> {
    let text: String = stmt.iter().collect();
    let rest = text.strip_prefix("let ").or_else(|| text.strip_prefix("const "))?;
    let name: String =
        rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then(|| format!("let {name};"))
}

/// The names after `fn` in a blanked statement.
fn fn_names(stmt: &[char]) -> Vec<String> {
    let text: String = stmt.iter().collect();
    let words: Vec<&str> = text.split(|c: char| !(c.is_alphanumeric() || c == '_')).collect();
    words.windows(2).filter(|w| w[0] == "fn").map(|w| w[1].to_string()).collect()
}

/// The statements of a Rhai text at every brace level (strings, comments and
/// interpolations skipped).
fn statements(chars: &[char]) -> Vec<Item> {
    struct Frame {
        start: Option<usize>,
        parens: u32,
    }
    let mut items = Vec::new();
    let mut stack = vec![Frame { start: None, parens: 0 }];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && next == Some('/') {
            i = (i..chars.len()).find(|&j| chars[j] == '\n').unwrap_or(chars.len());
            continue;
        }
        if c == '/' && next == Some('*') {
            i = skip_block_comment(chars, i);
            continue;
        }
        let depth = stack.len() - 1;
        let Some(top) = stack.last_mut() else { break };
        if top.start.is_none() && c != '}' && c != ';' {
            top.start = Some(i);
        }
        match c {
            '"' | '\'' => i = skip_quoted(chars, i, c),
            '`' => i = skip_backtick(chars, i),
            '(' | '[' => {
                top.parens += 1;
                i += 1;
            }
            ')' | ']' => {
                top.parens = top.parens.saturating_sub(1);
                i += 1;
            }
            // `;` never belongs inside `(…)` or `[…]` (a closure's body is a block of
            // its own): it ends the statement even after an unclosed parenthesis.
            ';' => {
                top.parens = 0;
                if let Some(s) = top.start.take() {
                    items.push(Item { start: s, end: i + 1, depth });
                }
                i += 1;
            }
            '{' => {
                stack.push(Frame { start: None, parens: 0 });
                i += 1;
            }
            '}' => {
                if let Some(s) = top.start.take() {
                    items.push(Item { start: s, end: i, depth });
                }
                if stack.len() > 1 {
                    stack.pop();
                }
                i += 1;
                // A block ends its statement unless more of it follows (`else`, `catch`,
                // an operator, the rest of a call).
                let Some(outer) = stack.last_mut() else { break };
                let j = first_token(chars, i);
                let word: String =
                    chars[j..].iter().take_while(|c| c.is_alphanumeric() || **c == '_').collect();
                let continues = word.is_empty() || word == "else" || word == "catch";
                if outer.parens == 0
                    && !continues
                    && let Some(s) = outer.start.take()
                {
                    items.push(Item { start: s, end: i, depth: stack.len() - 1 });
                }
            }
            _ => i += 1,
        }
    }
    for (depth, f) in stack.iter().enumerate() {
        if let Some(s) = f.start {
            items.push(Item { start: s, end: chars.len(), depth });
        }
    }
    items
}

fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// Past a `"…"` or `'…'` literal starting at `i` (escapes honoured).
fn skip_quoted(chars: &[char], mut i: usize, quote: char) -> usize {
    i += 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Past a `` `…` `` literal starting at `i`, with `${…}` interpolations.
fn skip_backtick(chars: &[char], mut i: usize) -> usize {
    i += 1;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('`', _) => return i + 1,
            ('$', Some('{')) => i = skip_code(chars, i + 2),
            _ => i += 1,
        }
    }
    i
}

/// Past the code of an interpolation up to its closing `}`.
fn skip_code(chars: &[char], mut i: usize) -> usize {
    let mut depth = 1;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' => i = skip_quoted(chars, i, chars[i]),
            '`' => i = skip_backtick(chars, i),
            '{' => {
                depth += 1;
                i += 1;
            }
            '}' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<usize> {
        let p = parse_all(&Engine::new(), text);
        p.errors.iter().filter_map(|e| e.position().line()).collect()
    }

    #[test]
    fn finds_every_broken_statement() {
        let text = "let a = 1 +;\nlet b = a;\nfn f(x) {\n  let y = x *;\n  y\n}\nlet c = ;\n\
                    if a { 1 } else { let q = ( ; }\nprint(`${a} ${b}`);\n\
                    let z = (;\nprint(z +);\n";
        assert_eq!(lines(text), [1, 4, 7, 8, 10, 11]);
    }

    #[test]
    fn keeps_declarations_and_functions() {
        let e = Engine::new();
        let p = parse_all(&e, "let a = 1 +;\nprint(a);\nfn g() { let = 2; }\n");
        assert_eq!(p.errors.len(), 2);
        assert!(p.ast.is_some());
        let p = parse_all(&e, "fn g( { }\ng();\n");
        assert!(p.lost_fns.contains(&"g".to_string()), "{:?}", p.lost_fns);
    }

    #[test]
    fn a_clean_file_has_no_errors_and_an_unclosed_one_stops() {
        let e = Engine::new();
        assert!(parse_all(&e, "let a = `x ${ #{ b: 1 }.b }`; // }\n").errors.is_empty());
        let p = parse_all(&e, "fn f() {\n  let a = 1;\n");
        assert_eq!(p.errors.len(), 1);
        assert!(p.ast.is_none());
    }
}

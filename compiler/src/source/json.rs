//! A strict JSON reader producing the same positioned node tree as the YAML
//! reader (much faster than going through the YAML parser, and strictly JSON).

use super::yaml::{duplicate_key_message, remove_duplicate_keys, Key, Node, Value};
use crate::diagnostics::{Diagnostic, Pos};

/// Deepest nesting accepted (as for YAML).
const MAX_NESTING: usize = 128;

enum Seg<'t> {
    Key(&'t str),
    Index(usize),
}

struct Reader<'t, 'e> {
    file: &'t str,
    text: &'t str,
    b: &'t [u8],
    i: usize,
    line: u32,
    line_start: usize,
    /// Column cache: byte offset and its 1-based column on the current line.
    col_at: (usize, u32),
    path: Vec<Seg<'t>>,
    /// Entries of the maps and items of the lists being read, so each finished
    /// collection is allocated once, at its exact size.
    entries: Vec<(Key, Node)>,
    items: Vec<Node>,
    errors: &'e mut Vec<Diagnostic>,
}

/// A syntax error: where and what.
struct SyntaxError(Pos, String);

type R<T> = Result<T, SyntaxError>;

impl<'t> Reader<'t, '_> {
    fn pos(&mut self) -> Pos {
        let (from, col) = if self.col_at.0 >= self.line_start && self.col_at.0 <= self.i {
            self.col_at
        } else {
            (self.line_start, 1)
        };
        let extra = self.text[from..self.i].chars().count() as u32;
        self.col_at = (self.i, col + extra);
        Pos {
            line: self.line,
            column: col + extra,
        }
    }

    fn fail<T>(&mut self, msg: impl Into<String>) -> R<T> {
        let at = self.pos();
        Err(SyntaxError(at, msg.into()))
    }

    fn unexpected<T>(&mut self, expected: &str) -> R<T> {
        match self.text[self.i..].chars().next() {
            None => self.fail(format!("expected {expected}, found the end of the file")),
            Some(c) => self.fail(format!("expected {expected}, found {c:?}")),
        }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                _ => break,
            }
        }
    }

    fn path(&self) -> String {
        let mut p = String::new();
        for s in &self.path {
            match s {
                Seg::Key(k) => {
                    if !p.is_empty() {
                        p.push('.');
                    }
                    p.push_str(k);
                }
                Seg::Index(i) => p.push_str(&format!("[{i}]")),
            }
        }
        p
    }

    fn value(&mut self) -> R<Node> {
        self.ws();
        let pos = self.pos();
        let value = match self.b.get(self.i) {
            Some(b'{') => {
                if self.path.len() >= MAX_NESTING {
                    return self.fail(format!("nesting deeper than {MAX_NESTING} levels"));
                }
                self.i += 1;
                let first = self.entries.len();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let kpos = self.pos();
                        if self.b.get(self.i) != Some(&b'"') {
                            return self.unexpected("a string key");
                        }
                        let raw_start = self.i + 1;
                        let name = self.string()?;
                        let raw = &self.text[raw_start..self.i - 1];
                        self.ws();
                        if self.b.get(self.i) != Some(&b':') {
                            return self.unexpected("`:`");
                        }
                        self.i += 1;
                        self.path.push(Seg::Key(raw));
                        let v = self.value()?;
                        self.path.pop();
                        self.entries.push((Key { name, pos: kpos }, v));
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return self.unexpected("`,` or `}`"),
                        }
                    }
                }
                let mut entries: Vec<(Key, Node)> = self.entries.drain(first..).collect();
                let mut dups = Vec::new();
                remove_duplicate_keys(&mut entries, |p, n, f| dups.push((p, n, f)));
                if !dups.is_empty() {
                    let ctx = self.path();
                    for (p, n, f) in dups {
                        let msg = duplicate_key_message(&n, f);
                        self.errors
                            .push(Diagnostic::new(self.file, Some(p), ctx.clone(), msg));
                    }
                }
                Value::Map(entries)
            }
            Some(b'[') => {
                if self.path.len() >= MAX_NESTING {
                    return self.fail(format!("nesting deeper than {MAX_NESTING} levels"));
                }
                self.i += 1;
                let first = self.items.len();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.path.push(Seg::Index(self.items.len() - first));
                        let v = self.value()?;
                        self.items.push(v);
                        self.path.pop();
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return self.unexpected("`,` or `]`"),
                        }
                    }
                }
                Value::Seq(self.items.drain(first..).collect())
            }
            Some(b'"') => Value::String(self.string()?),
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Value::Bool(true)
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Value::Bool(false)
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Value::Null
            }
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return self.unexpected("a value"),
        };
        Ok(Node { pos, value })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> R<Value> {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 {
            return self.unexpected("a digit");
        }
        if n > 1 && self.b[int_start] == b'0' {
            self.i = int_start + 1;
            return self.fail("a number may not have leading zeros");
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.unexpected("a digit");
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.unexpected("a digit");
            }
        }
        let text = &self.text[start..self.i];
        match text.parse::<f64>() {
            Ok(value) => Ok(Value::Number {
                value,
                text: text.into(),
            }),
            Err(_) => self.fail(format!("invalid number {text}")),
        }
    }

    fn hex4(&mut self) -> R<u32> {
        let h = self.text.get(self.i..self.i + 4).unwrap_or("");
        match (h.len() == 4 && h.bytes().all(|c| c.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(h, 16).ok())
            .flatten()
        {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.fail("expected 4 hex digits after `\\u`"),
        }
    }

    /// Reads a string starting at its opening quote.
    fn string(&mut self) -> R<String> {
        self.i += 1;
        let start = self.i;
        // Fast path: no escapes.
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    let s = self.text[start..self.i].to_owned();
                    self.i += 1;
                    return Ok(s);
                }
                b'\\' => break,
                0..=0x1f => return self.fail("control character in a string (escape it)"),
                _ => self.i += 1,
            }
        }
        let mut out = self.text[start..self.i].to_owned();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return self.fail("unterminated string");
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.b.get(self.i).copied();
                    self.i += 1;
                    match e {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if !self.b[self.i..].starts_with(b"\\u") {
                                    return self.fail("unpaired surrogate in `\\u` escape");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.fail("unpaired surrogate in `\\u` escape");
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            match char::from_u32(cp) {
                                Some(ch) => out.push(ch),
                                None => return self.fail("unpaired surrogate in `\\u` escape"),
                            }
                        }
                        _ => {
                            self.i -= 1;
                            return self.fail("invalid escape in a string");
                        }
                    }
                }
                0..=0x1f => return self.fail("control character in a string (escape it)"),
                _ => {
                    let ch_len = self.text[self.i..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&self.text[self.i..self.i + ch_len]);
                    self.i += ch_len;
                }
            }
        }
    }
}

/// Parses a JSON document into a node tree. Errors go to `errors`; the tree is
/// `None` after a syntax error. An empty (all-whitespace) file is a `Null` node.
pub fn parse(file: &str, text: &str, errors: &mut Vec<Diagnostic>) -> Option<Node> {
    let mut r = Reader {
        file,
        text,
        b: text.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
        col_at: (0, 1),
        path: Vec::new(),
        entries: Vec::new(),
        items: Vec::new(),
        errors,
    };
    r.ws();
    if r.i == r.b.len() {
        return Some(Node {
            pos: Pos { line: 1, column: 1 },
            value: Value::Null,
        });
    }
    let result = r.value().and_then(|n| {
        r.ws();
        if r.i < r.b.len() {
            r.unexpected("the end of the file")
        } else {
            Ok(n)
        }
    });
    match result {
        Ok(n) => Some(n),
        Err(SyntaxError(at, msg)) => {
            r.errors.push(Diagnostic::new(
                file,
                Some(at),
                "",
                format!("invalid JSON: {msg}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(s: &str) -> Node {
        let mut e = Vec::new();
        let n = parse("t.json", s, &mut e);
        assert!(e.is_empty(), "{e:?}");
        n.unwrap()
    }

    fn parse_err(s: &str) -> String {
        let mut e = Vec::new();
        assert!(parse("t.json", s, &mut e).is_none());
        e[0].to_string()
    }

    #[test]
    fn values_and_positions() {
        let n = parse_ok(
            "{\"a\": [1, -2.5e1, \"x\\u00e9\\ud83d\\ude00\\n\", true, null],\n \"é\": {}}",
        );
        let Value::Map(m) = n.value else { panic!() };
        let Value::Seq(items) = &m[0].1.value else {
            panic!()
        };
        assert_eq!(
            items[1].value,
            Value::Number {
                value: -25.0,
                text: "-2.5e1".into()
            }
        );
        assert_eq!(items[2].value, Value::String("xé😀\n".into()));
        assert_eq!(
            items[2].pos,
            Pos {
                line: 1,
                column: 19
            }
        );
        assert_eq!(m[1].0.pos, Pos { line: 2, column: 2 });
        assert_eq!(m[1].1.pos, Pos { line: 2, column: 7 });
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            parse_err("{\"a\": 1,}"),
            "t.json:1:9: invalid JSON: expected a string key, found '}'"
        );
        assert_eq!(
            parse_err("[01]"),
            "t.json:1:3: invalid JSON: a number may not have leading zeros"
        );
        assert_eq!(
            parse_err("{\"a\" 1}"),
            "t.json:1:6: invalid JSON: expected `:`, found '1'"
        );
        assert_eq!(
            parse_err("[1] x"),
            "t.json:1:5: invalid JSON: expected the end of the file, found 'x'"
        );
        assert_eq!(
            parse_err("[\"a\tb\"]"),
            "t.json:1:4: invalid JSON: control character in a string (escape it)"
        );
        assert_eq!(
            parse_err("[tru]"),
            "t.json:1:2: invalid JSON: expected a value, found 't'"
        );
        assert_eq!(
            parse_err("{"),
            "t.json:1:2: invalid JSON: expected a string key, found the end of the file"
        );
    }
}

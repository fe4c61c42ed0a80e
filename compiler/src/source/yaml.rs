//! A positioned node tree built from YAML (or JSON, a subset of YAML 1.2) with
//! plain scalars resolved per the YAML 1.2 core schema.

use crate::diagnostics::{Diagnostic, Pos};
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};
use std::borrow::Cow;
use thiserror::Error;

/// Deepest nesting of collections accepted (keeps every later walk shallow).
const MAX_NESTING: usize = 128;

/// A node with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub value: Value,
}

/// A resolved YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An int or float; `text` is the scalar as written (for decimal checks).
    Number {
        /// The value (may be infinite or NaN: `.inf`, `.nan`).
        value: f64,
        /// The source text.
        text: Box<str>,
    },
    /// A string (any quoted scalar, or a plain one that is nothing else).
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in source order, duplicates removed.
    Map(Vec<(Key, Node)>),
    /// Something already reported as an error (an alias); never reported again.
    Invalid,
}

/// A map key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where it is.
    pub pos: Pos,
}

impl Value {
    /// What the value is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number { .. } => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
            Value::Invalid => "an invalid value",
        }
    }
}

/// Structural problems found while building the tree.
#[derive(Debug, Error, Clone, PartialEq)]
enum TreeError {
    #[error("YAML anchors and aliases are not supported; repeat the value instead")]
    Anchor,
    #[error("unsupported YAML tag `{0}` (only `!!str`, `!!map` and `!!seq` are allowed)")]
    Tag(String),
    #[error("map keys must be strings, found {0}")]
    ComplexKey(&'static str),
    #[error("duplicate key \"{name}\" (first defined at {first})")]
    DuplicateKey { name: String, first: Pos },
    #[error("a file holds one document; found a second one")]
    MultipleDocuments,
    #[error("nesting deeper than {MAX_NESTING} levels")]
    TooDeep,
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        column: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
    }
}

/// Resolves a plain scalar per the YAML 1.2 core schema.
#[cfg(test)]
pub fn resolve_plain(s: &str) -> Value {
    resolve_non_string(s).unwrap_or_else(|| Value::String(s.to_owned()))
}

/// The value of a plain scalar that is not a string (`None` for strings).
fn resolve_non_string(s: &str) -> Option<Value> {
    let first = *s.as_bytes().first().unwrap_or(&b'~');
    if !(first.is_ascii_digit() || b"~nNtTfF.+-".contains(&first) || s.is_empty()) {
        return None;
    }
    Some(match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => number(s, f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => number(s, f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => number(s, f64::NAN),
        _ => return resolve_number(s),
    })
}

fn resolve_number(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    if let Some(v) = s.strip_prefix("0x").and_then(|hex| radix_value(hex, 4)) {
        return Some(number(s, v));
    }
    if let Some(v) = s.strip_prefix("0o").and_then(|oct| radix_value(oct, 3)) {
        return Some(number(s, v));
    }
    if is_core_float(b) {
        if let Ok(v) = s.parse::<f64>() {
            return Some(number(s, v));
        }
    }
    None
}

/// The value of the digits of a `0x` (`bits` = 4) or `0o` (`bits` = 3) integer,
/// correctly rounded to the nearest double (infinite beyond `f64::MAX`), however
/// many digits; `None` unless there are digits and all are valid. (Parsing into a
/// `u64` instead turned anything above 2^64 into a string.)
fn radix_value(digits: &str, bits: u32) -> Option<f64> {
    let radix = 1 << bits;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    // The leading 16 hex or 21 octal digits fit a u64 exactly (at least 61
    // significant bits); any non-zero digit after them sets the lowest bit, far
    // below the 53-bit rounding position, so the u64 → f64 conversion (round to
    // nearest, ties to even) rounds as the whole number would.
    let (top, rest) = digits.split_at(digits.len().min((64 / bits) as usize));
    let mut n = match top {
        "" => 0,
        _ => u64::from_str_radix(top, radix).ok()?,
    };
    if rest.bytes().any(|c| c != b'0') {
        n |= 1;
    }
    let mut value = n as f64;
    // Scaling by a power of two is exact until it overflows to infinity.
    let mut shift = rest.len().saturating_mul(bits as usize);
    while shift > 0 && value.is_finite() && value != 0.0 {
        let k = shift.min(1000);
        value *= f64::from_bits((1023 + k as u64) << 52);
        shift -= k;
    }
    Some(value)
}

fn number(text: &str, value: f64) -> Value {
    Value::Number {
        value,
        text: text.into(),
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (ints included).
fn is_core_float(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = digits(&mut i);
        if int == 0 && frac == 0 {
            return false;
        }
    } else if int == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Removes the second and later entries of a key, reporting each as
/// `(position, key, position of the first)`.
pub fn remove_duplicate_keys(
    entries: &mut Vec<(Key, Node)>,
    mut report: impl FnMut(Pos, String, Pos),
) {
    if entries.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_unstable_by(|&a, &b| entries[a].0.name.cmp(&entries[b].0.name).then(a.cmp(&b)));
    let mut drop = vec![false; entries.len()];
    let mut first = order[0];
    for w in order.windows(2) {
        if entries[w[0]].0.name == entries[w[1]].0.name {
            drop[w[1]] = true;
            report(
                entries[w[1]].0.pos,
                entries[w[1]].0.name.clone(),
                entries[first].0.pos,
            );
        } else {
            first = w[1];
        }
    }
    if drop.iter().any(|&d| d) {
        let mut i = 0;
        entries.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
}

/// The message of a duplicate key.
pub fn duplicate_key_message(name: &str, first: Pos) -> String {
    TreeError::DuplicateKey {
        name: name.to_owned(),
        first,
    }
    .to_string()
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Key, Node)>, Option<Key>),
}

struct Builder<'a> {
    file: &'a str,
    errors: &'a mut Vec<Diagnostic>,
    stack: Vec<Frame>,
    root: Option<Node>,
}

impl Builder<'_> {
    /// Path of the node being built, e.g. `flags.a.rules[0]`.
    fn path(&self) -> String {
        let mut p = String::new();
        for f in &self.stack {
            match f {
                Frame::Seq(_, items) => p.push_str(&format!("[{}]", items.len())),
                Frame::Map(_, _, Some(k)) => {
                    if !p.is_empty() {
                        p.push('.');
                    }
                    p.push_str(&k.name);
                }
                Frame::Map(_, _, None) => {}
            }
        }
        p
    }

    fn error(&mut self, at: Pos, e: TreeError) {
        let ctx = self.path();
        self.errors
            .push(Diagnostic::new(self.file, Some(at), ctx, e.to_string()));
    }

    fn check_tag(&mut self, at: Pos, tag: Option<&Tag>, allowed: &str) -> bool {
        match tag {
            None => false,
            Some(t) if t.is_yaml_core_schema() && t.suffix == allowed => true,
            Some(t) => {
                self.error(at, TreeError::Tag(t.to_string()));
                false
            }
        }
    }

    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, key)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => {
                    let name = match node.value {
                        Value::Seq(_) | Value::Map(_) => {
                            let what = node.value.describe();
                            self.error(node.pos, TreeError::ComplexKey(what));
                            String::new()
                        }
                        // Replaced by the source text in `scalar`.
                        Value::String(s) => s,
                        _ => String::new(),
                    };
                    if let Some(Frame::Map(_, _, key)) = self.stack.last_mut() {
                        *key = Some(Key {
                            name,
                            pos: node.pos,
                        });
                    }
                }
            },
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map(_, _, None)))
    }

    fn scalar(&mut self, text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>, at: Pos) {
        let forced_str = self.check_tag(at, tag, "str");
        let value = if self.expecting_key() || forced_str || !matches!(style, ScalarStyle::Plain) {
            Value::String(text.into_owned())
        } else {
            resolve_non_string(&text).unwrap_or_else(|| Value::String(text.into_owned()))
        };
        self.push_node(Node { pos: at, value });
    }

    fn finish_map(&mut self, at: Pos, mut entries: Vec<(Key, Node)>) {
        let mut dups = Vec::new();
        remove_duplicate_keys(&mut entries, |pos, name, first| {
            dups.push((pos, name, first))
        });
        for (pos, name, first) in dups {
            self.error(pos, TreeError::DuplicateKey { name, first });
        }
        self.push_node(Node {
            pos: at,
            value: Value::Map(entries),
        });
    }
}

/// Parses one YAML (or JSON) document into a node tree. Errors go to `errors`; the
/// tree is `None` when the text could not be parsed at all. An empty document is a
/// `Null` node.
pub fn parse(file: &str, text: &str, errors: &mut Vec<Diagnostic>) -> Option<Node> {
    let mut b = Builder {
        file,
        errors,
        stack: Vec::new(),
        root: None,
    };
    let mut documents = 0;
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (ev, span): (Event<'_>, Span) = match ev {
            Ok(e) => e,
            Err(e) => {
                let at = pos(e.marker());
                b.errors.push(Diagnostic::new(
                    file,
                    Some(at),
                    "",
                    format!("invalid YAML: {}", e.info()),
                ));
                return None;
            }
        };
        let at = pos(&span.start);
        match ev {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    b.error(at, TreeError::MultipleDocuments);
                    break;
                }
            }
            Event::Alias(_) => {
                b.error(at, TreeError::Anchor);
                b.push_node(Node {
                    pos: at,
                    value: Value::Invalid,
                });
            }
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 {
                    b.error(at, TreeError::Anchor);
                }
                b.scalar(text, style, tag.as_deref(), at);
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                if anchor != 0 {
                    b.error(at, TreeError::Anchor);
                }
                b.check_tag(at, tag.as_deref(), if is_map { "map" } else { "seq" });
                if b.stack.len() >= MAX_NESTING {
                    b.error(at, TreeError::TooDeep);
                    return None;
                }
                b.stack.push(if is_map {
                    Frame::Map(at, Vec::new(), None)
                } else {
                    Frame::Seq(at, Vec::new())
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(p, items)) = b.stack.pop() {
                    b.push_node(Node {
                        pos: p,
                        value: Value::Seq(items),
                    });
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(p, entries, _)) = b.stack.pop() {
                    b.finish_map(p, entries);
                }
            }
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
    }
    Some(b.root.unwrap_or(Node {
        pos: Pos { line: 1, column: 1 },
        value: Value::Null,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> (Option<Node>, Vec<String>) {
        let mut errs = Vec::new();
        let n = parse("t.yaml", src, &mut errs);
        errs.sort_by_key(|e| (e.line, e.column));
        (n, errs.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn core_schema() {
        for (s, want) in [
            ("", "null"),
            ("~", "null"),
            ("True", "a boolean"),
            ("yes", "a string"),
            ("on", "a string"),
            ("0x1F", "a number"),
            ("0o17", "a number"),
            ("-1.5e3", "a number"),
            (".5", "a number"),
            ("1.", "a number"),
            (".inf", "a number"),
            ("1_000", "a string"),
            ("2024-01-01", "a string"),
            (".", "a string"),
        ] {
            assert_eq!(resolve_plain(s).describe(), want, "{s:?}");
        }
        assert_eq!(
            resolve_plain("0x1F"),
            Value::Number {
                value: 31.0,
                text: "0x1F".into()
            }
        );
    }

    #[test]
    fn hex_and_octal_beyond_u64_stay_numbers() {
        // The core schema makes `0x[0-9a-fA-F]+` and `0o[0-7]+` ints whatever
        // their size: too large for u64 is a (rounded) number, never a string.
        let value = |s: &str| match resolve_plain(s) {
            Value::Number { value, .. } => value,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(value("0x10000000000000000"), 18446744073709551616.0);
        assert_eq!(value("0x0000000000000000001F"), 31.0);
        assert_eq!(value("0o2000000000000000000000"), 18446744073709551616.0);
        assert_eq!(value("0xFFFFFFFFFFFFFFFFFF"), 4722366482869645213695.0);
        // Correctly rounded: just above a halfway point rounds up; exactly on
        // it rounds to even (down, then up).
        assert_eq!(
            value("0x20000000000001000000001"),
            2f64.powi(89) + 2f64.powi(37)
        );
        assert_eq!(value("0x20000000000001000000000"), 2f64.powi(89));
        assert_eq!(
            value("0x20000000000003000000000"),
            2f64.powi(89) + 2f64.powi(38)
        );
        assert_eq!(value(&format!("0x1{}", "0".repeat(256))), f64::INFINITY);
        assert_eq!(value(&format!("0o1{}", "0".repeat(400))), f64::INFINITY);
        assert_eq!(resolve_plain("0x").describe(), "a string");
        assert_eq!(resolve_plain("0x1G").describe(), "a string");
        assert_eq!(resolve_plain("0o8").describe(), "a string");
    }

    #[test]
    fn positions_and_quoted_scalars() {
        let (n, errs) = tree("a:\n  b: '1'\n  c: [1, \"x\"]\n");
        assert!(errs.is_empty(), "{errs:?}");
        let Value::Map(top) = n.unwrap().value else {
            panic!()
        };
        assert_eq!(top[0].0.pos, Pos { line: 1, column: 1 });
        let Value::Map(inner) = &top[0].1.value else {
            panic!()
        };
        assert_eq!(inner[0].1.value, Value::String("1".into()));
        assert_eq!(inner[0].1.pos, Pos { line: 2, column: 6 });
        assert_eq!(inner[1].1.pos, Pos { line: 3, column: 6 });
    }

    #[test]
    fn duplicate_keys_and_anchors() {
        let (_, errs) = tree("a: 1\nb: &x 2\na: 3\nc: *x\n");
        assert_eq!(
            errs,
            [
                "t.yaml:2:4: b: YAML anchors and aliases are not supported; repeat the value instead",
                "t.yaml:3:1: duplicate key \"a\" (first defined at 1:1)",
                "t.yaml:4:4: c: YAML anchors and aliases are not supported; repeat the value instead",
            ]
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let (n, errs) = tree("a: [1, 2\n");
        assert!(n.is_none());
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("t.yaml:2:1: invalid YAML:"), "{errs:?}");
    }
}

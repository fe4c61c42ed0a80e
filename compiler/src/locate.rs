//! Where a diagnostic is in a JSON document, as a JSON path.
//!
//! The compiler locates errors by line and column. A program that builds the
//! source as JSON documents (the control plane does, one per flag or segment)
//! turns that position back into the path of the value it points at, so a
//! client that sent JSON is told `$.rules[0].clauses[1].op` rather than
//! `3:41`.
//!
//! ```
//! use edgeflag_compiler::{compile_sources, locate};
//! let doc = r#"{"flags": {"a": {"rules": [{"clauses": [{"attribute": "x", "op": "nope", "values": []}], "serve": "on"}]}}}"#;
//! let errors = compile_sources(&[("a.json".into(), doc.into())]).unwrap_err();
//! let d = errors.iter().next().unwrap();
//! let path = locate::json_path(doc, d.line.unwrap(), d.column.unwrap()).unwrap();
//! assert_eq!(path, "$.flags.a.rules[0].clauses[0].op");
//! ```

use crate::diagnostics::Pos;
use crate::source::json;
use crate::source::yaml::{Node, Value};

/// The JSON path (`$.a.b[0]`, keys that are not identifiers quoted as
/// `$["a b"]`) of the key or value at `line`:`column` (1-based, columns in
/// characters) of the JSON document `text`: the deepest one starting there,
/// else the deepest one starting before it. `None` when `text` is not JSON.
pub fn json_path(text: &str, line: u32, column: u32) -> Option<String> {
    let mut errors = Vec::new();
    let root = json::parse("", text, &mut errors)?;
    let at = Pos { line, column };
    let mut best: (Pos, Vec<Step<'_>>) = (root.pos, Vec::new());
    let mut path = Vec::new();
    visit(&root, at, &mut path, &mut best);
    Some(render(&best.1))
}

#[derive(Clone, Copy)]
enum Step<'n> {
    Key(&'n str),
    Index(usize),
}

/// Keeps in `best` the path of the last node (in document order) that starts
/// at or before `at`; document order visits parents before children, so ties
/// go to the deepest.
fn visit<'n>(node: &'n Node, at: Pos, path: &mut Vec<Step<'n>>, best: &mut (Pos, Vec<Step<'n>>)) {
    fn offer<'n>(pos: Pos, at: Pos, path: &[Step<'n>], best: &mut (Pos, Vec<Step<'n>>)) {
        if pos <= at && pos >= best.0 {
            *best = (pos, path.to_vec());
        }
    }
    offer(node.pos, at, path, best);
    match &node.value {
        Value::Map(entries) => {
            for (key, value) in entries {
                if key.pos > at {
                    break;
                }
                path.push(Step::Key(&key.name));
                offer(key.pos, at, path, best);
                visit(value, at, path, best);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.pos > at {
                    break;
                }
                path.push(Step::Index(i));
                visit(item, at, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

fn render(steps: &[Step<'_>]) -> String {
    let mut out = String::from("$");
    for step in steps {
        match step {
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(k) if is_identifier(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Key(k) => {
                out.push('[');
                out.push_str(&serde_json::Value::String((*k).to_owned()).to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Keys written `.key`: letters, digits, `_` and `-`, not starting with a digit.
fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::json_path;

    #[test]
    fn points_at_keys_values_and_items() {
        let doc = "{\n  \"flags\": {\n    \"a b\": {\"tags\": [\"x\", 3]}\n  }\n}";
        assert_eq!(json_path(doc, 1, 1).unwrap(), "$");
        assert_eq!(json_path(doc, 2, 3).unwrap(), "$.flags");
        assert_eq!(json_path(doc, 3, 5).unwrap(), "$.flags[\"a b\"]");
        // The second item of the list, `3`.
        let col = doc.lines().nth(2).unwrap().find('3').unwrap() as u32 + 1;
        assert_eq!(json_path(doc, 3, col).unwrap(), "$.flags[\"a b\"].tags[1]");
        // Between tokens: the nearest value before.
        assert_eq!(json_path(doc, 4, 2).unwrap(), "$.flags[\"a b\"].tags[1]");
    }

    #[test]
    fn not_json_is_none() {
        assert_eq!(json_path("{", 1, 1), None);
    }
}

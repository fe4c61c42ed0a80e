//! A source project as JSON documents: each flag's and segment's definition
//! (what sits under `flags.<key>` / `segments.<key>`), the environments and
//! the `client_side` settings. The control plane stores a project this way;
//! `edgeflag push` sends a YAML or JSON tree that becomes these documents.
//!
//! ```
//! use edgeflag_compiler::documents::documents;
//! let files = [("flags.yaml".to_owned(),
//!     "environments: [staging]\nflags:\n  a:\n    fallthrough: \"off\"\n    tags: [x]\n".to_owned())];
//! let docs = documents(&files).unwrap();
//! assert_eq!(docs.environments, ["staging"]);
//! assert_eq!(docs.flags[0].0, "a");
//! assert_eq!(docs.flags[0].1, serde_json::json!({"fallthrough": "off", "tags": ["x"]}));
//! ```

pub use crate::source::schema::ENV_FIELDS;
use crate::source::yaml::{Node, Value as Yaml};
use crate::Diagnostics;
use serde_json::{Map, Number, Value};
use std::path::Path;

/// A project's documents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Documents {
    /// The declared environments, in order (empty: none declared).
    pub environments: Vec<String>,
    /// The `client_side` settings (`{"clear_attributes": [...]}`), if any.
    pub client_side: Option<Value>,
    /// Flags in source order: key and definition.
    pub flags: Vec<(String, Value)>,
    /// Segments in source order: key and definition.
    pub segments: Vec<(String, Value)>,
}

/// Reads a file or a directory as [`crate::compile_path`] does: `(name, text)`
/// per source file, in merge order, or the errors met reading.
pub fn read_sources(path: &Path) -> Result<Vec<(String, String)>, Diagnostics> {
    let (files, diags) = crate::read_path(path);
    if diags.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(diags))
    }
}

/// The documents of `files`, which must pass every check of
/// [`crate::compile_sources`] (else its errors).
pub fn documents(files: &[(String, String)]) -> Result<Documents, Diagnostics> {
    crate::check_files(files, Vec::new())?;
    let mut docs = Documents::default();
    for (name, text) in files {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut errors = Vec::new();
        let root = if crate::source::is_json(name) {
            crate::source::json::parse(name, text, &mut errors)
        } else {
            crate::source::yaml::parse(name, text, &mut errors)
        };
        let Some(Node {
            value: Yaml::Map(top),
            ..
        }) = root
        else {
            continue;
        };
        for (key, node) in top {
            match (key.name.as_str(), &node.value) {
                ("flags", Yaml::Map(entries)) => docs
                    .flags
                    .extend(entries.iter().map(|(k, v)| (k.name.clone(), json(v)))),
                ("segments", Yaml::Map(entries)) => docs
                    .segments
                    .extend(entries.iter().map(|(k, v)| (k.name.clone(), json(v)))),
                ("environments", Yaml::Seq(items)) => docs.environments.extend(
                    items
                        .iter()
                        .filter_map(|i| json(i).as_str().map(str::to_owned)),
                ),
                ("client_side", _) => docs.client_side = Some(json(&node)),
                _ => {}
            }
        }
    }
    Ok(docs)
}

/// A node as JSON: integers stay integers (also when written `0x10` or
/// `1e3` in YAML), other numbers are floats.
fn json(node: &Node) -> Value {
    match &node.value {
        Yaml::Null | Yaml::Invalid => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Number { value, text } => {
            if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
                Value::from(*value as i64)
            } else {
                Number::from_f64(*value).map_or(Value::Null, Value::Number)
            }
        }
        Yaml::Seq(items) => Value::Array(items.iter().map(json).collect()),
        Yaml::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_give_the_same_documents_and_they_compile_the_same() {
        let yaml = "environments: [a, b]\nclient_side: {clear_attributes: [email]}\n\
                    segments:\n  s: {include: [u1]}\nflags:\n  f:\n    variations: {x: 1, y: 2.5}\n    \
                    fallthrough: x\n    off_variation: x\n    environments:\n      b: {fallthrough: y}\n";
        let docs = documents(&[("p.yaml".into(), yaml.into())]).unwrap();
        assert_eq!(docs.environments, ["a", "b"]);
        assert_eq!(
            docs.client_side,
            Some(serde_json::json!({"clear_attributes": ["email"]}))
        );
        assert_eq!(
            docs.flags[0].1["variations"],
            serde_json::json!({"x": 1, "y": 2.5})
        );
        // The documents as one JSON source compile to the same bodies.
        let as_json = serde_json::json!({
            "environments": docs.environments,
            "client_side": docs.client_side,
            "segments": {"s": docs.segments[0].1},
            "flags": {"f": docs.flags[0].1},
        });
        let a = crate::compile_sources(&[("p.yaml".into(), yaml.into())]).unwrap();
        let b = crate::compile_sources(&[("p.json".into(), as_json.to_string())]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_sources_give_their_errors() {
        let err =
            documents(&[("p.yaml".into(), "flags: {a: {fallthrough: maybe}}".into())]).unwrap_err();
        assert!(err.to_string().contains("unknown variation"), "{err}");
    }
}

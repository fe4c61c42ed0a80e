//! A project held as JSON resources (what the control plane stores), checked
//! as compiler input, with every error located in the resource it is in.
//!
//! This is the one place that policy lives: the control plane (`edgeflag
//! server`) validates every change with it and answers 422 with the
//! [`Problem`]s, and the dashboard validates as you type with the same code
//! built to WASM (`edgeflag-validate`), so both say the same thing.
//!
//! Each flag and segment becomes one small JSON source file
//! (`flags/<key>.json` holding `{"flags": {"<key>": …}}`), the environments
//! and settings one more (`project.json`). The compiler then checks the whole
//! project exactly as it checks a directory of YAML, with the same messages; a
//! diagnostic's file says which resource it is in, and its line and column,
//! located in that file, become a JSON path relative to the resource's
//! definition ([`crate::locate`]).
//!
//! ```
//! use edgeflag_compiler::resources::{compile, Resources};
//! use serde_json::json;
//!
//! let bad = json!({"rules": [{"clauses": [{"attribute": "x", "op": "sometimes", "values": []}], "serve": "on"}]});
//! let settings = json!({});
//! let project = Resources {
//!     environments: vec!["production"],
//!     settings: &settings,
//!     flags: vec![("checkout", &bad)],
//!     segments: vec![],
//! };
//! let problems = compile(&project).unwrap_err();
//! assert_eq!(problems[0].kind, "flag");
//! assert_eq!(problems[0].key, "checkout");
//! assert_eq!(problems[0].path.as_deref(), Some("$.rules[0].clauses[0].op"));
//! ```

use crate::{CompiledEnv, Diagnostics};
use serde::Serialize;
use serde_json::Value;

/// A project as plain JSON resources, borrowed from whoever holds them.
#[derive(Debug, Clone)]
pub struct Resources<'a> {
    /// Environment names, in order.
    pub environments: Vec<&'a str>,
    /// Project settings; only `client_side` is compiler input.
    pub settings: &'a Value,
    /// Flags as `(key, definition)`, in any order.
    pub flags: Vec<(&'a str, &'a Value)>,
    /// Segments as `(key, definition)`, in any order.
    pub segments: Vec<(&'a str, &'a Value)>,
}

/// One compile error, located in the API's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What kind of resource it is in: `flag`, `segment` or `project` (`file`
    /// for [`file_problems`]).
    pub kind: String,
    /// The resource's key (empty for the project).
    pub key: String,
    /// JSON path in the resource's definition (`$.rules[0].clauses[1].op`),
    /// when the error has a position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For an error in a pushed file (`kind` `file`, `key` its name): the
    /// line, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// And the column, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What the error is in, e.g. `flag "checkout" rule 1 clause 2`.
    pub context: String,
    /// What is wrong.
    pub message: String,
}

/// The source files of `r`, as `(name, text)`: `project.json` first, then
/// flags and segments, each sorted by key.
pub fn sources(r: &Resources<'_>) -> Vec<(String, String)> {
    let mut files = Vec::with_capacity(r.flags.len() + r.segments.len() + 1);
    let mut project = serde_json::Map::new();
    let envs: Vec<Value> = r.environments.iter().map(|e| (*e).into()).collect();
    project.insert("environments".into(), envs.into());
    if let Some(cs) = r.settings.get("client_side") {
        project.insert("client_side".into(), cs.clone());
    }
    files.push((
        "project.json".to_owned(),
        Value::Object(project).to_string(),
    ));
    for (kind, docs) in [("flags", &r.flags), ("segments", &r.segments)] {
        let mut docs = docs.clone();
        docs.sort_by(|a, b| a.0.cmp(b.0));
        for (key, def) in docs {
            let text = serde_json::json!({ kind: { key: def } }).to_string();
            files.push((format!("{kind}/{key}.json"), text));
        }
    }
    files
}

/// Compiles `r`: every environment's bodies, or every error located.
pub fn compile(r: &Resources<'_>) -> Result<Vec<CompiledEnv>, Vec<Problem>> {
    let files = sources(r);
    crate::compile_sources(&files).map_err(|d| locate(&files, &d))
}

/// Checks `r`: every error located, none when it compiles.
pub fn problems(r: &Resources<'_>) -> Vec<Problem> {
    compile(r).err().unwrap_or_default()
}

/// Errors in source files a caller sent (`edgeflag push`), by file, line and
/// column.
pub fn file_problems(diags: &Diagnostics) -> Vec<Problem> {
    diags
        .iter()
        .map(|d| Problem {
            kind: "file".to_owned(),
            key: d.file.clone(),
            path: None,
            line: d.line,
            column: d.column,
            context: d.context.clone(),
            message: d.message.clone(),
        })
        .collect()
}

/// Locates each diagnostic in the resource it came from.
fn locate(files: &[(String, String)], diags: &Diagnostics) -> Vec<Problem> {
    diags
        .iter()
        .map(|d| {
            let (kind, key) = match d.file.split_once('/') {
                Some(("flags", rest)) => ("flag", rest.trim_end_matches(".json")),
                Some(("segments", rest)) => ("segment", rest.trim_end_matches(".json")),
                _ => ("project", ""),
            };
            let text = files.iter().find(|(n, _)| *n == d.file).map(|(_, t)| t);
            let path = match (text, d.line, d.column) {
                (Some(text), Some(line), Some(col)) => {
                    crate::locate::json_path(text, line, col).map(|p| relative(&p, kind, key))
                }
                _ => None,
            };
            Problem {
                kind: kind.to_owned(),
                key: key.to_owned(),
                path,
                line: None,
                column: None,
                context: d.context.clone(),
                message: d.message.clone(),
            }
        })
        .collect()
}

/// `$.flags.a.rules[0]` → `$.rules[0]` for flag `a` (the path inside its
/// definition); the project file's paths stay as they are.
fn relative(path: &str, kind: &str, key: &str) -> String {
    if kind == "project" {
        return path.to_owned();
    }
    let table = if kind == "flag" { "flags" } else { "segments" };
    let quoted = Value::String(key.to_owned()).to_string();
    for prefix in [format!("$.{table}.{key}"), format!("$.{table}[{quoted}]")] {
        if let Some(rest) = path.strip_prefix(&prefix) {
            return format!("${rest}");
        }
    }
    // The error is on the wrapper itself (the key): the definition as a whole.
    "$".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_are_located_in_the_flag_by_json_path() {
        let ok = json!({});
        let bad = json!({"rules": [{"clauses": [{"attribute": "country", "op": "in", "values": ["DE"]},
                                                {"attribute": "x", "op": "sometimes", "values": []}],
                                    "serve": "on"}],
                         "fallthrough": "maybe"});
        let settings = json!({});
        let r = Resources {
            environments: vec!["production"],
            settings: &settings,
            flags: vec![("ok", &ok), ("bad", &bad)],
            segments: vec![],
        };
        let problems = problems(&r);
        let paths: Vec<_> = problems
            .iter()
            .map(|p| (p.kind.as_str(), p.key.as_str(), p.path.clone().unwrap()))
            .collect();
        assert!(paths.contains(&("flag", "bad", "$.rules[0].clauses[1].op".into())));
        assert!(paths.contains(&("flag", "bad", "$.fallthrough".into())));
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn resources_are_sorted_by_key() {
        let (a, b) = (json!({}), json!({}));
        let settings = json!({"client_side": {"clear_attributes": []}, "other": 1});
        let r = Resources {
            environments: vec!["staging", "production"],
            settings: &settings,
            flags: vec![("b", &b), ("a", &a)],
            segments: vec![],
        };
        let names: Vec<_> = sources(&r).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["project.json", "flags/a.json", "flags/b.json"]);
        assert!(sources(&r)[0].1.contains("client_side"));
        assert!(!sources(&r)[0].1.contains("other"));
    }
}

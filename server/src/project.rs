//! The stored project as compiler input, and compile errors as the API reports
//! them.
//!
//! Each flag and segment becomes one small JSON source file
//! (`flags/<key>.json` holding `{"flags": {"<key>": …}}`), the environments
//! and settings one more (`project.json`). The compiler then checks the whole
//! project exactly as it checks a directory of YAML, with the same messages; a
//! diagnostic's file says which resource it is in, and its line and column,
//! located in that file, become a JSON path relative to the resource's
//! definition ([`edgeflag_compiler::locate`]).

use crate::db::Snapshot;
use edgeflag_compiler::{CompiledEnv, Diagnostics};
use serde::Serialize;

/// One compile error, located in the API's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// What kind of resource it is in: `flag`, `segment` or `project`.
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

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.key.is_empty() {
            write!(f, " {:?}", self.key)?;
        }
        if let Some(p) = &self.path {
            write!(f, " at {p}")?;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if !self.context.is_empty() {
            write!(f, ": {}", self.context)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The source files of `s`, as `(name, text)`.
pub fn sources(s: &Snapshot) -> Vec<(String, String)> {
    let mut files = Vec::with_capacity(s.flags.len() + s.segments.len() + 1);
    let mut project = serde_json::Map::new();
    let envs: Vec<_> = s.environments.iter().map(|e| e.name.clone()).collect();
    project.insert("environments".into(), envs.into());
    if let Some(cs) = s.settings.get("client_side") {
        project.insert("client_side".into(), cs.clone());
    }
    files.push((
        "project.json".to_owned(),
        serde_json::Value::Object(project).to_string(),
    ));
    for (kind, docs) in [("flags", &s.flags), ("segments", &s.segments)] {
        for (key, doc) in docs {
            let text = serde_json::json!({ kind: { key: doc.definition } }).to_string();
            files.push((format!("{kind}/{key}.json"), text));
        }
    }
    files
}

/// Compiles `s`: every environment's bodies, or every error located.
pub fn compile(s: &Snapshot) -> Result<Vec<CompiledEnv>, Vec<Problem>> {
    let files = sources(s);
    edgeflag_compiler::compile_sources(&files).map_err(|d| locate(&files, &d))
}

/// Errors in files a caller sent (`edgeflag push`), by file, line and column.
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
                    edgeflag_compiler::locate::json_path(text, line, col)
                        .map(|p| relative(&p, kind, key))
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
    let quoted = serde_json::Value::String(key.to_owned()).to_string();
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
    use crate::db::Doc;
    use serde_json::json;

    fn snapshot(flags: &[(&str, serde_json::Value)]) -> Snapshot {
        let mut s = Snapshot {
            environments: vec![crate::db::Env {
                name: "production".into(),
                revision: 1,
                protected: false,
            }],
            settings: json!({}),
            ..Snapshot::default()
        };
        for (k, d) in flags {
            s.flags.insert(
                (*k).into(),
                Doc {
                    key: (*k).into(),
                    definition: d.clone(),
                    revision: 1,
                    updated_at: 0,
                },
            );
        }
        s
    }

    #[test]
    fn errors_are_located_in_the_flag_by_json_path() {
        let s = snapshot(&[
            ("ok", json!({})),
            (
                "bad",
                json!({"rules": [{"clauses": [{"attribute": "country", "op": "in", "values": ["DE"]},
                                              {"attribute": "x", "op": "sometimes", "values": []}],
                                  "serve": "on"}],
                       "fallthrough": "maybe"}),
            ),
        ]);
        let problems = compile(&s).unwrap_err();
        let paths: Vec<_> = problems
            .iter()
            .map(|p| (p.kind.as_str(), p.key.as_str(), p.path.clone().unwrap()))
            .collect();
        assert!(
            paths.contains(&("flag", "bad", "$.rules[0].clauses[1].op".into())),
            "{problems:?}"
        );
        assert!(
            paths.contains(&("flag", "bad", "$.fallthrough".into())),
            "{problems:?}"
        );
        assert!(
            paths.contains(&("flag", "bad", "$.rules[0].clauses[1].values".into())),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn a_valid_project_compiles_per_environment() {
        let s = snapshot(&[("a", json!({"enabled": false}))]);
        let envs = compile(&s).unwrap();
        assert_eq!(envs.len(), 1);
        assert_eq!(envs[0].name, "production");
        assert_eq!(envs[0].body.flags.len(), 1);
    }
}

//! The stored project as compiler input, and compile errors as the API reports
//! them.
//!
//! The policy (one JSON source file per resource, the whole project compiled,
//! each diagnostic located by JSON path in its resource's definition) is
//! [`edgeflag_compiler::resources`], shared with the dashboard's validation as
//! you type (`edgeflag-validate`, the same code built to WASM). This module
//! hands it the stored [`Snapshot`] and gives its problems the API's schema.

use crate::db::Snapshot;
use edgeflag_compiler::resources::{self, Resources};
use edgeflag_compiler::{CompiledEnv, Diagnostics};
use serde::Serialize;

/// One compile error, located in the API's terms: the fields of
/// [`resources::Problem`], with an OpenAPI schema.
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

impl From<resources::Problem> for Problem {
    fn from(p: resources::Problem) -> Problem {
        Problem {
            kind: p.kind,
            key: p.key,
            path: p.path,
            line: p.line,
            column: p.column,
            context: p.context,
            message: p.message,
        }
    }
}

/// `s` as the compiler's [`Resources`].
fn resources(s: &Snapshot) -> Resources<'_> {
    Resources {
        environments: s.environments.iter().map(|e| e.name.as_str()).collect(),
        settings: &s.settings,
        flags: s
            .flags
            .iter()
            .map(|(k, d)| (k.as_str(), &d.definition))
            .collect(),
        segments: s
            .segments
            .iter()
            .map(|(k, d)| (k.as_str(), &d.definition))
            .collect(),
    }
}

/// The source files of `s`, as `(name, text)`.
pub fn sources(s: &Snapshot) -> Vec<(String, String)> {
    resources::sources(&resources(s))
}

/// Compiles `s`: every environment's bodies, or every error located.
pub fn compile(s: &Snapshot) -> Result<Vec<CompiledEnv>, Vec<Problem>> {
    resources::compile(&resources(s)).map_err(|ps| ps.into_iter().map(Problem::from).collect())
}

/// Errors in files a caller sent (`edgeflag push`), by file, line and column.
pub fn file_problems(diags: &Diagnostics) -> Vec<Problem> {
    resources::file_problems(diags)
        .into_iter()
        .map(Problem::from)
        .collect()
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

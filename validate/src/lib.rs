//! # edgeflag-validate
//!
//! The control plane's validation of a project, for the browser: the
//! dashboard builds the project it holds (with the resource being edited
//! replaced), calls [`validate`] in WASM as you type, and shows the problems
//! next to their fields exactly as it shows a 422's. The policy is
//! [`edgeflag_compiler::resources`], the code the server runs, so the
//! messages and JSON paths are the server's.
//!
//! The project is one JSON object:
//!
//! ```json
//! {"environments": ["staging", "production"],
//!  "settings": {"client_side": {…}},
//!  "flags": {"<key>": <definition>, …},
//!  "segments": {"<key>": <definition>, …}}
//! ```
//!
//! Every member is optional. A top-level `client_side` (as in the
//! `project.json` of `GET /api/v1/project`) is read as `settings.client_side`,
//! so the merged files of that answer are a project too.
//!
//! ```
//! let problems = edgeflag_validate::validate(
//!     r#"{"environments": ["production"],
//!         "flags": {"a": {"fallthrough": "maybe"}}}"#,
//! );
//! let problems: serde_json::Value = serde_json::from_str(&problems).unwrap();
//! assert_eq!(problems[0]["kind"], "flag");
//! assert_eq!(problems[0]["path"], "$.fallthrough");
//! ```
#![warn(missing_docs)]

use edgeflag_compiler::resources::{self, Problem, Resources};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::wasm_bindgen;

/// The problems of the project `project_json` (see the crate docs), as a JSON
/// array shaped like the `problems` of the server's 422 answer; `[]` when it
/// compiles. Input that is not such a project is one problem of kind
/// `project`.
#[wasm_bindgen]
pub fn validate(project_json: &str) -> String {
    let problems = match serde_json::from_str::<Value>(project_json) {
        Ok(project) => check(&project),
        Err(e) => vec![malformed(format!("the project is not JSON: {e}"))],
    };
    serde_json::to_string(&problems).unwrap_or_else(|_| "[]".to_owned())
}

/// The problems of `project` (see the crate docs).
pub fn check(project: &Value) -> Vec<Problem> {
    let Some(obj) = project.as_object() else {
        return vec![malformed("the project is not a JSON object".into())];
    };
    let empty = Map::new();
    let table = |name: &str| obj.get(name).and_then(Value::as_object).unwrap_or(&empty);
    let mut settings = obj
        .get("settings")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    if let (Some(cs), Some(s)) = (obj.get("client_side"), settings.as_object_mut()) {
        s.insert("client_side".into(), cs.clone());
    }
    let environments = obj
        .get("environments")
        .and_then(Value::as_array)
        .map(|envs| envs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let r = Resources {
        environments,
        settings: &settings,
        flags: entries(table("flags")),
        segments: entries(table("segments")),
    };
    resources::problems(&r)
}

fn entries(t: &Map<String, Value>) -> Vec<(&str, &Value)> {
    t.iter().map(|(k, v)| (k.as_str(), v)).collect()
}

fn malformed(message: String) -> Problem {
    Problem {
        kind: "project".into(),
        key: String::new(),
        path: None,
        line: None,
        column: None,
        context: String::new(),
        message,
    }
}

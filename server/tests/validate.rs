//! The dashboard's validation as you type (`edgeflag-validate`, built to WASM)
//! says exactly what the server's 422 says: the same problems, messages and
//! JSON paths, for a project built the way the dashboard builds it (the files
//! of `GET /api/v1/project` merged, the edited resource replaced).

mod common;
use common::TestServer;
use reqwest::Method;
use serde_json::{json, Map, Value};

/// The project of `GET /api/v1/project` as one object, with `kind`/`key` set
/// to `def`.
async fn project_with(s: &TestServer, kind: &str, key: &str, def: &Value) -> Value {
    let files = s.admin(Method::GET, "/api/v1/project", None, 200).await;
    let mut project = Map::new();
    for f in files["files"].as_array().unwrap() {
        let doc: Value = serde_json::from_str(f["text"].as_str().unwrap()).unwrap();
        for (k, v) in doc.as_object().unwrap() {
            match (project.get_mut(k), v) {
                (Some(Value::Object(table)), Value::Object(more)) => {
                    table.extend(more.clone());
                }
                _ => {
                    project.insert(k.clone(), v.clone());
                }
            }
        }
    }
    let table = project.entry(kind.to_owned()).or_insert_with(|| json!({}));
    table[key] = def.clone();
    Value::Object(project)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_validation_gives_the_problems_of_a_422() {
    let s = TestServer::start(&common::Backend::Sqlite, "validate").await;
    s.admin(
        Method::POST,
        "/api/v1/segments",
        Some(json!({"key": "beta", "definition": {"include": ["u1"]}})),
        201,
    )
    .await;
    s.admin(
        Method::POST,
        "/api/v1/flags",
        Some(json!({"key": "checkout", "definition": {}})),
        201,
    )
    .await;
    let clause = |c: Value| json!({"rules": [{"clauses": [c], "serve": "on"}]});
    let bad_flags = [
        clause(json!({"attribute": "x", "op": "sometimes", "values": []})),
        clause(json!({"attribute": "x", "op": "matches", "values": ["("]})),
        clause(json!({"attribute": "v", "op": "semver_lt", "values": ["1.x"]})),
        clause(json!({"op": "in_segment", "values": ["nobody"]})),
        json!({"rules": [{"clauses": [], "serve": "maybe"}], "fallthrough": "never"}),
    ];
    for def in &bad_flags {
        let (status, _, answer) = s
            .call(
                Some(common::ADMIN),
                Method::PUT,
                "/api/v1/flags/checkout",
                Some(json!({ "definition": def })),
                &[],
            )
            .await;
        assert_eq!(status, 422, "{answer:#}");
        let project = project_with(&s, "flags", "checkout", def).await;
        let live: Value =
            serde_json::from_str(&edgeflag_validate::validate(&project.to_string())).unwrap();
        assert!(!live.as_array().unwrap().is_empty(), "{def}");
        assert_eq!(live, answer["problems"], "{def}");
    }
    // A segment, and a flag that is fine: no problems.
    let bad_segment =
        json!({"rules": [{"clauses": [{"attribute": "a", "op": "gt", "values": ["x"]}]}]});
    let (status, _, answer) = s
        .call(
            Some(common::ADMIN),
            Method::PUT,
            "/api/v1/segments/beta",
            Some(json!({ "definition": bad_segment })),
            &[],
        )
        .await;
    assert_eq!(status, 422, "{answer:#}");
    let project = project_with(&s, "segments", "beta", &bad_segment).await;
    let live: Value =
        serde_json::from_str(&edgeflag_validate::validate(&project.to_string())).unwrap();
    assert_eq!(live, answer["problems"]);
    let fine = project_with(&s, "flags", "checkout", &json!({"fallthrough": "off"})).await;
    assert_eq!(edgeflag_validate::validate(&fine.to_string()), "[]");
    s.stop().await;
}

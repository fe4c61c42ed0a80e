//! The API scenarios, each run against SQLite (tests/sqlite.rs) and a real
//! PostgreSQL server (tests/postgres.rs).

use super::{Backend, TestServer, ADMIN};
use edgeflag_evaluator::Context;
use reqwest::Method;
use serde_json::{json, Value};

fn on_for(rs: &edgeflag_evaluator::Ruleset, flag: &str, user: &str) -> bool {
    rs.bool_value(flag, &Context::new(user), false)
}

/// Create, read, replace with `If-Match`, refuse invalid changes with every
/// problem located, delete; what is served follows each change.
pub async fn crud_validation_and_concurrency(backend: Backend) {
    let s = TestServer::start(&backend, "crud").await;
    let envs = s
        .admin(Method::GET, "/api/v1/environments", None, 200)
        .await;
    let names: Vec<_> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["staging", "production"]);

    let created = s
        .admin(
            Method::POST,
            "/api/v1/flags",
            Some(json!({"key": "checkout", "definition": {"fallthrough": "on", "description": "new checkout"}})),
            201,
        )
        .await;
    let rev = created["revision"].as_i64().unwrap();
    assert!(created["published"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["environment"] == "production" && p["new"] == true));
    assert!(on_for(&s.served("production").await, "checkout", "u1"));
    assert!(on_for(&s.served("staging").await, "checkout", "u1"));

    // A retried POST with the same Idempotency-Key gets the first answer; the
    // key with another body is refused.
    let once = json!({"key": "retried", "definition": {}});
    let key = [("idempotency-key", "create-retried-1")];
    let (st1, _, first) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags",
            Some(once.clone()),
            &key,
        )
        .await;
    let (st2, h2, second) = s
        .call(Some(ADMIN), Method::POST, "/api/v1/flags", Some(once), &key)
        .await;
    assert_eq!((st1.as_u16(), st2.as_u16()), (201, 201), "{second:#}");
    assert_eq!(first, second);
    assert_eq!(h2["idempotent-replayed"], "true");
    let (st, _, v) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags",
            Some(json!({"key": "other"})),
            &key,
        )
        .await;
    assert_eq!(st, 422, "{v:#}");
    assert_eq!(v["error"], "IDEMPOTENCY_KEY_REUSED");
    let audit = s
        .admin(Method::GET, "/api/v1/audit?key=retried", None, 200)
        .await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "applied once");
    s.admin(Method::DELETE, "/api/v1/flags/retried", None, 200)
        .await;

    // Creating it again conflicts.
    let (st, _, _) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags",
            Some(json!({"key": "checkout"})),
            &[],
        )
        .await;
    assert_eq!(st, 409);

    // Read: the ETag is the revision.
    let (st, headers, got) = s
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/v1/flags/checkout",
            None,
            &[],
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(headers["etag"], format!("\"{rev}\"").as_str());
    assert_eq!(got["definition"]["description"], "new checkout");

    // An invalid replacement: 422 with every problem located by JSON path,
    // and nothing changes (the served version stays).
    let before = s.served("production").await.header().version;
    let bad = json!({"definition": {
        "rules": [{"clauses": [{"attribute": "country", "op": "within", "values": ["DE"]}], "serve": "on"}],
        "fallthrough": "maybe"}});
    let (st, _, err) = s
        .call(
            Some(ADMIN),
            Method::PUT,
            "/api/v1/flags/checkout",
            Some(bad),
            &[],
        )
        .await;
    assert_eq!(st, 422, "{err:#}");
    assert_eq!(err["error"], "INVALID");
    let paths: Vec<_> = err["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        paths.contains(&"$.rules[0].clauses[0].op".to_owned()),
        "{err:#}"
    );
    assert!(paths.contains(&"$.fallthrough".to_owned()), "{err:#}");
    assert!(err["problems"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["kind"] == "flag" && p["key"] == "checkout"));
    assert!(
        err["message"].as_str().unwrap().contains("within"),
        "{err:#}"
    );
    assert_eq!(s.served("production").await.header().version, before);
    let (_, _, same) = s
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/v1/flags/checkout",
            None,
            &[],
        )
        .await;
    assert_eq!(same["revision"].as_i64().unwrap(), rev);

    // If-Match: the current ETag wins, a stale one gets 412.
    let good = json!({"definition": {"fallthrough": "off"}});
    let etag = format!("\"{rev}\"");
    let (st, h, v) = s
        .call(
            Some(ADMIN),
            Method::PUT,
            "/api/v1/flags/checkout",
            Some(good.clone()),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(st, 200, "{v:#}");
    let new_etag = h["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let (st, _, v) = s
        .call(
            Some(ADMIN),
            Method::PUT,
            "/api/v1/flags/checkout",
            Some(good),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(st, 412, "{v:#}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("changed since you read it"));
    assert!(!on_for(&s.served("production").await, "checkout", "u1"));

    // A prerequisite keeps its flag: deleting it is invalid.
    s.admin(
        Method::POST,
        "/api/v1/flags",
        Some(json!({"key": "payments", "definition": {"prerequisites": [{"flag": "checkout", "variations": ["on"]}]}})),
        201,
    )
    .await;
    let (st, _, v) = s
        .call(
            Some(ADMIN),
            Method::DELETE,
            "/api/v1/flags/checkout",
            None,
            &[],
        )
        .await;
    assert_eq!(st, 422, "{v:#}");
    assert!(v["problems"][0]["key"] == "payments", "{v:#}");
    s.admin(Method::DELETE, "/api/v1/flags/payments", None, 200)
        .await;
    s.admin(Method::DELETE, "/api/v1/flags/checkout", None, 200)
        .await;
    let (st, _, _) = s
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/v1/flags/checkout",
            None,
            &[],
        )
        .await;
    assert_eq!(st, 404);
    assert!(s.served("production").await.flag_id("checkout").is_none());

    // Segments work the same way and flags can use them.
    s.admin(
        Method::POST,
        "/api/v1/segments",
        Some(json!({"key": "testers", "definition": {"include": ["u7"]}})),
        201,
    )
    .await;
    s.admin(
        Method::PUT,
        "/api/v1/flags/beta",
        Some(json!({"definition": {"rules": [{"clauses": [{"op": "in_segment", "values": ["testers"]}], "serve": "on"}], "fallthrough": "off"}})),
        200,
    )
    .await;
    let rs = s.served("production").await;
    assert!(on_for(&rs, "beta", "u7"));
    assert!(!on_for(&rs, "beta", "u8"));
    let (st, _, v) = s
        .call(
            Some(ADMIN),
            Method::DELETE,
            "/api/v1/segments/testers",
            None,
            &[],
        )
        .await;
    assert_eq!(st, 422, "a used segment stays: {v:#}");
    s.stop().await;
}

/// The kill switch and the other per-environment moves reach what the origin
/// serves in that environment only, and each is audited.
pub async fn targeting_moves_and_audit(backend: Backend) {
    let s = TestServer::start(&backend, "moves").await;
    s.admin(
        Method::POST,
        "/api/v1/flags",
        Some(json!({"key": "search", "definition": {
            "rules": [{"id": "de", "clauses": [{"attribute": "country", "op": "in", "values": ["DE"]}], "serve": "off"},
                      {"id": "beta", "clauses": [{"attribute": "beta", "op": "in", "values": [true]}], "serve": "on"}],
            "fallthrough": "on"}})),
        201,
    )
    .await;
    let (st, h, v) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags/search/environments/production/toggle",
            Some(json!({"enabled": false, "comment": "incident 42"})),
            &[("x-request-id", "req-kill-1")],
        )
        .await;
    assert_eq!(st, 200, "{v:#}");
    assert_eq!(h["x-request-id"], "req-kill-1");
    assert!(!on_for(&s.served("production").await, "search", "u1"));
    assert!(on_for(&s.served("staging").await, "search", "u1"));

    let state = s
        .admin(
            Method::GET,
            "/api/v1/flags/search/environments/production",
            None,
            200,
        )
        .await;
    assert_eq!(state["fields"]["enabled"], false);
    assert_eq!(state["overridden"], json!(["enabled"]));

    let audit = s
        .admin(Method::GET, "/api/v1/audit?key=search&kind=flag", None, 200)
        .await;
    let last = &audit[0];
    assert_eq!(last["action"], "flag.turn_off");
    assert_eq!(last["actor"], "token:bootstrap");
    assert_eq!(last["request_id"], "req-kill-1");
    assert_eq!(last["comment"], "incident 42");
    assert!(last["before"]["environments"].is_null());
    assert_eq!(
        last["after"]["environments"]["production"]["enabled"],
        false
    );
    assert_eq!(audit[1]["action"], "flag.create");

    // Back on, then a 10 % rollout in staging only.
    s.admin(
        Method::POST,
        "/api/v1/flags/search/environments/production/toggle",
        Some(json!({"enabled": true})),
        200,
    )
    .await;
    s.admin(
        Method::POST,
        "/api/v1/flags/search/environments/staging/rollout",
        Some(json!({"weights": {"on": 10, "off": 90}})),
        200,
    )
    .await;
    let rs = s.served("staging").await;
    let on = (0..2000)
        .filter(|i| on_for(&rs, "search", &format!("user-{i}")))
        .count();
    assert!((120..=280).contains(&on), "about 10 % of 2000 on, got {on}");
    assert!(on_for(&s.served("production").await, "search", "user-1"));
    // Weights that do not add up are refused with the compiler's message.
    let (st, _, v) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags/search/environments/staging/rollout",
            Some(json!({"weights": {"on": 10, "off": 80}})),
            &[],
        )
        .await;
    assert_eq!(st, 422, "{v:#}");
    assert!(
        v["problems"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("$.environments.staging.fallthrough"),
        "{v:#}"
    );

    // Targets: add two, remove one.
    s.admin(
        Method::POST,
        "/api/v1/flags/search/environments/production/targets",
        Some(json!({"variation": "off", "add": ["vip-1", "vip-2"]})),
        200,
    )
    .await;
    s.admin(
        Method::POST,
        "/api/v1/flags/search/environments/production/targets",
        Some(json!({"variation": "off", "remove": ["vip-1"]})),
        200,
    )
    .await;
    let rs = s.served("production").await;
    assert!(on_for(&rs, "search", "vip-1"));
    assert!(!on_for(&rs, "search", "vip-2"));

    // Reorder: "beta" before "de" means a German beta user gets on.
    let de_beta = Context::new("u9").with("country", "DE").with("beta", true);
    assert!(!s
        .served("production")
        .await
        .bool_value("search", &de_beta, true));
    let (st, _, v) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags/search/environments/production/rules/order",
            Some(json!({"order": ["beta"]})),
            &[],
        )
        .await;
    assert_eq!(st, 400, "every id must be listed: {v:#}");
    s.admin(
        Method::POST,
        "/api/v1/flags/search/environments/production/rules/order",
        Some(json!({"order": ["beta", "de"]})),
        200,
    )
    .await;
    assert!(s
        .served("production")
        .await
        .bool_value("search", &de_beta, false));

    // Unknown environment or flag: 404.
    let (st, _, _) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags/search/environments/qa/toggle",
            Some(json!({"enabled": true})),
            &[],
        )
        .await;
    assert_eq!(st, 404);
    let (st, _, _) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/flags/nope/environments/staging/toggle",
            Some(json!({"enabled": true})),
            &[],
        )
        .await;
    assert_eq!(st, 404);

    // The API's series are on the origin's /metrics.
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let toggles =
        r#"route="/api/v1/flags/{key}/environments/{env}/toggle",method="POST",status="200""#;
    assert!(
        metrics.contains(&format!(
            "edgeflag_api_request_seconds_count{{{toggles}}} 2"
        )),
        "{metrics}"
    );
    let count = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(count("edgeflag_changes_total{outcome=\"applied\"}") >= 7);
    assert_eq!(count("edgeflag_changes_total{outcome=\"invalid\"}"), 1);
    assert!(count("edgeflag_publish_seconds_count") >= 7);
    assert!(metrics.contains("edgeflag_serve_ruleset_version{env=\"production\"}"));

    // JSON lines export, filtered by actor.
    let (st, h, body) = s
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/v1/audit?actor=token:bootstrap&format=jsonl",
            None,
            &[],
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "application/jsonl");
    let lines: Vec<Value> = body
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 7, "{lines:?}");
    assert!(lines
        .windows(2)
        .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()));
    s.stop().await;
}

/// 401 without an identity, 403 for a lesser role on every endpoint that needs
/// more, environment limits and protected environments.
pub async fn roles_and_refusals(backend: Backend) {
    let s = TestServer::start(&backend, "roles").await;
    s.admin(
        Method::POST,
        "/api/v1/flags",
        Some(json!({"key": "f"})),
        201,
    )
    .await;
    s.admin(
        Method::POST,
        "/api/v1/segments",
        Some(json!({"key": "seg"})),
        201,
    )
    .await;
    let viewer = s.token("ci-reader", "viewer", None).await;
    let editor = s.token("pm", "editor", None).await;
    let stager = s.token("stager", "editor", Some(&["staging"])).await;

    // No token, an unknown token.
    for token in [None, Some("efk_nope")] {
        let (st, _, v) = s.call(token, Method::GET, "/api/v1/flags", None, &[]).await;
        assert_eq!(st, 401, "{v:#}");
        assert_eq!(v["error"], "UNAUTHORIZED");
    }
    let (_, _, v) = s.call(None, Method::GET, "/api/v1/flags", None, &[]).await;
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("Authorization: Bearer"));

    // Every read works for a viewer.
    for path in [
        "/api/v1/flags",
        "/api/v1/flags/f",
        "/api/v1/segments",
        "/api/v1/segments/seg",
        "/api/v1/environments",
        "/api/v1/flags/f/environments/staging",
        "/api/v1/audit",
        "/api/v1/environments/production/history",
        "/api/v1/openapi.json",
    ] {
        let (st, _, v) = s.call(Some(&viewer), Method::GET, path, None, &[]).await;
        assert_eq!(st, 200, "viewer GET {path}: {v:#}");
        let (st, _, _) = s.call(None, Method::GET, path, None, &[]).await;
        assert_eq!(st, 401, "anonymous GET {path}");
    }

    // Every write is refused to a viewer.
    let writes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::POST, "/api/v1/flags", Some(json!({"key": "g"}))),
        (
            Method::PUT,
            "/api/v1/flags/f",
            Some(json!({"definition": {}})),
        ),
        (Method::DELETE, "/api/v1/flags/f", None),
        (Method::POST, "/api/v1/segments", Some(json!({"key": "s2"}))),
        (
            Method::PUT,
            "/api/v1/segments/seg",
            Some(json!({"definition": {}})),
        ),
        (Method::DELETE, "/api/v1/segments/seg", None),
        (
            Method::POST,
            "/api/v1/flags/f/environments/staging/toggle",
            Some(json!({"enabled": false})),
        ),
        (
            Method::POST,
            "/api/v1/flags/f/environments/staging/rollout",
            Some(json!({"weights": {"on": 50, "off": 50}})),
        ),
        (
            Method::POST,
            "/api/v1/flags/f/environments/staging/targets",
            Some(json!({"variation": "on", "add": ["a"]})),
        ),
        (
            Method::POST,
            "/api/v1/flags/f/environments/staging/rules/order",
            Some(json!({"order": []})),
        ),
        (
            Method::POST,
            "/api/v1/rollback",
            Some(json!({"revision": 1})),
        ),
    ];
    for (m, path, body) in &writes {
        let (st, _, v) = s
            .call(Some(&viewer), m.clone(), path, body.clone(), &[])
            .await;
        assert_eq!(st, 403, "viewer {m} {path}: {v:#}");
        assert_eq!(v["error"], "FORBIDDEN");
        assert!(
            v["message"].as_str().unwrap().contains("editor role"),
            "{v:#}"
        );
    }

    // Admin-only endpoints are refused to an editor.
    let admin_only: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/api/v1/tokens", None),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "admin"})),
        ),
        (Method::DELETE, "/api/v1/tokens/whatever", None),
        (
            Method::POST,
            "/api/v1/environments",
            Some(json!({"name": "qa"})),
        ),
        (
            Method::PUT,
            "/api/v1/environments/staging",
            Some(json!({"protected": true})),
        ),
        (Method::DELETE, "/api/v1/environments/staging", None),
    ];
    for (m, path, body) in &admin_only {
        let (st, _, v) = s
            .call(Some(&editor), m.clone(), path, body.clone(), &[])
            .await;
        assert_eq!(st, 403, "editor {m} {path}: {v:#}");
        assert!(
            v["message"].as_str().unwrap().contains("admin role"),
            "{v:#}"
        );
    }

    // An editor limited to staging: staging yes, production no, and no
    // change of a field every environment serves.
    let toggle = |env: &str| format!("/api/v1/flags/f/environments/{env}/toggle");
    let (st, _, v) = s
        .call(
            Some(&stager),
            Method::POST,
            &toggle("staging"),
            Some(json!({"enabled": false})),
            &[],
        )
        .await;
    assert_eq!(st, 200, "{v:#}");
    let (st, _, v) = s
        .call(
            Some(&stager),
            Method::POST,
            &toggle("production"),
            Some(json!({"enabled": false})),
            &[],
        )
        .await;
    assert_eq!(st, 403, "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains("\"production\""),
        "{v:#}"
    );
    let (st, _, v) = s
        .call(
            Some(&stager),
            Method::PUT,
            "/api/v1/flags/f",
            Some(json!({"definition": {"fallthrough": "off"}})),
            &[],
        )
        .await;
    assert_eq!(st, 403, "{v:#}");
    assert!(
        on_for(&s.served("production").await, "f", "u"),
        "production is unchanged"
    );

    // Protect production: the editor is refused there, the admin is not.
    s.admin(
        Method::PUT,
        "/api/v1/environments/production",
        Some(json!({"protected": true})),
        200,
    )
    .await;
    let (st, _, v) = s
        .call(
            Some(&editor),
            Method::POST,
            &toggle("production"),
            Some(json!({"enabled": false})),
            &[],
        )
        .await;
    assert_eq!(st, 403, "{v:#}");
    assert!(
        v["message"].as_str().unwrap().contains("protected"),
        "{v:#}"
    );
    let (st, _, v) = s
        .call(
            Some(&editor),
            Method::POST,
            &toggle("staging"),
            Some(json!({"enabled": true})),
            &[],
        )
        .await;
    assert_eq!(st, 200, "{v:#}");
    s.admin(
        Method::POST,
        &toggle("production"),
        Some(json!({"enabled": false})),
        200,
    )
    .await;

    // A deleted token is refused from then on.
    let tokens = s.admin(Method::GET, "/api/v1/tokens", None, 200).await;
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "pm")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tokens
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("secret").is_none() && t.get("hash").is_none()));
    s.admin(Method::DELETE, &format!("/api/v1/tokens/{id}"), None, 204)
        .await;
    let (st, _, _) = s
        .call(Some(&editor), Method::GET, "/api/v1/flags", None, &[])
        .await;
    assert_eq!(st, 401);
    s.stop().await;
}

/// Lists page through everything in key order; search and filters run on the
/// server.
pub async fn lists_page_and_search(backend: Backend) {
    let s = TestServer::start(&backend, "lists").await;
    for i in 0..25 {
        let tags = if i % 5 == 0 {
            json!(["payments"])
        } else {
            json!(["search"])
        };
        let def = json!({"tags": tags, "owner": if i < 3 { "team-a" } else { "team-b" },
                         "temporary": i % 2 == 0, "description": format!("Flag number {i}")});
        s.admin(
            Method::POST,
            "/api/v1/flags",
            Some(json!({"key": format!("f-{i:02}"), "definition": def})),
            201,
        )
        .await;
    }
    let mut keys = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .admin(
                Method::GET,
                &format!("/api/v1/flags?limit=10&after={after}"),
                None,
                200,
            )
            .await;
        keys.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["key"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(n) => after = n.to_owned(),
            None => break,
        }
        assert!(keys.len() <= 25);
    }
    let want: Vec<_> = (0..25).map(|i| format!("f-{i:02}")).collect();
    assert_eq!(keys, want);

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(
        count(
            &s.admin(Method::GET, "/api/v1/flags?tag=payments", None, 200)
                .await
        ),
        5
    );
    assert_eq!(
        count(
            &s.admin(Method::GET, "/api/v1/flags?owner=team-a", None, 200)
                .await
        ),
        3
    );
    assert_eq!(
        count(
            &s.admin(Method::GET, "/api/v1/flags?temporary=true", None, 200)
                .await
        ),
        13
    );
    let found = s
        .admin(Method::GET, "/api/v1/flags?q=NUMBER%2017", None, 200)
        .await;
    assert_eq!(found["items"][0]["key"], "f-17");
    assert_eq!(count(&found), 1);
    // `%` and `_` are text, not wildcards.
    assert_eq!(
        count(&s.admin(Method::GET, "/api/v1/flags?q=%25", None, 200).await),
        0
    );
    let paged = s
        .admin(Method::GET, "/api/v1/flags?tag=search&limit=4", None, 200)
        .await;
    assert_eq!(count(&paged), 4);
    assert_eq!(paged["next"], "f-04");

    // Expired (a date passed) and kill-switched (off in one environment).
    for (key, def) in [
        ("x-old", json!({"expires": "2001-01-01"})),
        ("x-new", json!({"expires": "2999-01-01"})),
        (
            "x-off",
            json!({"environments": {"production": {"enabled": false}}}),
        ),
        (
            "x-off-all",
            json!({"enabled": false, "environments": {"staging": {"enabled": true}}}),
        ),
    ] {
        s.admin(
            Method::POST,
            "/api/v1/flags",
            Some(json!({"key": key, "definition": def})),
            201,
        )
        .await;
    }
    let keys_of = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let expired = s
        .admin(Method::GET, "/api/v1/flags?expired=true", None, 200)
        .await;
    assert_eq!(keys_of(&expired), ["x-old"]);
    let current = s
        .admin(Method::GET, "/api/v1/flags?expired=false&q=x-", None, 200)
        .await;
    assert_eq!(keys_of(&current), ["x-new", "x-off", "x-off-all"]);
    let off = s
        .admin(Method::GET, "/api/v1/flags?off_in=production", None, 200)
        .await;
    assert_eq!(keys_of(&off), ["x-off", "x-off-all"]);
    let off = s
        .admin(Method::GET, "/api/v1/flags?off_in=staging", None, 200)
        .await;
    assert_eq!(count(&off), 0, "{off}");
    s.stop().await;
}

/// History lists versions with their revisions; a rollback restores every
/// resource to an earlier revision in one audited change.
pub async fn history_and_rollback(backend: Backend) {
    let s = TestServer::start(&backend, "history").await;
    let c = s
        .admin(
            Method::POST,
            "/api/v1/flags",
            Some(json!({"key": "a", "definition": {"fallthrough": "on"}})),
            201,
        )
        .await;
    let good = c["revision"].as_i64().unwrap();
    s.admin(
        Method::PUT,
        "/api/v1/flags/a",
        Some(json!({"definition": {"fallthrough": "off"}})),
        200,
    )
    .await;
    s.admin(
        Method::POST,
        "/api/v1/flags",
        Some(json!({"key": "b"})),
        201,
    )
    .await;
    assert!(!on_for(&s.served("production").await, "a", "u"));

    let h = s
        .admin(
            Method::GET,
            "/api/v1/environments/production/history",
            None,
            200,
        )
        .await;
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(h["current"], versions[0]["version"]);
    assert!(versions.iter().any(|v| v["revision"] == good), "{h:#}");
    assert!(
        versions[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains('b')),
        "{h:#}"
    );

    let r = s
        .admin(
            Method::POST,
            "/api/v1/rollback",
            Some(json!({"revision": good, "comment": "bad release"})),
            200,
        )
        .await;
    assert!(r["revision"].as_i64().unwrap() > good);
    let rs = s.served("production").await;
    assert!(on_for(&rs, "a", "u"));
    assert!(
        rs.flag_id("b").is_none(),
        "b did not exist at revision {good}"
    );
    let (st, _, _) = s
        .call(Some(ADMIN), Method::GET, "/api/v1/flags/b", None, &[])
        .await;
    assert_eq!(st, 404);
    let audit = s
        .admin(Method::GET, "/api/v1/audit?limit=2", None, 200)
        .await;
    assert!(audit
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["action"] == "rollback" && r["comment"] == "bad release"));
    let (st, _, _) = s
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/v1/rollback",
            Some(json!({"revision": 9999})),
            &[],
        )
        .await;
    assert_eq!(st, 400);
    s.stop().await;
}

/// The OpenAPI document is generated, 3.1, and names every route.
pub async fn openapi_document(backend: Backend) {
    let s = TestServer::start(&backend, "openapi").await;
    let doc = s
        .admin(Method::GET, "/api/v1/openapi.json", None, 200)
        .await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/flags",
        "/api/v1/flags/{key}",
        "/api/v1/flags/{key}/environments/{env}/toggle",
        "/api/v1/segments/{key}",
        "/api/v1/audit",
        "/api/v1/tokens",
        "/api/v1/rollback",
        "/api/v1/environments/{env}/history",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ApiError"].is_object());
    s.stop().await;
}

/// State survives a restart: the same database and directory, versions go on.
pub async fn restart_keeps_state(backend: Backend) {
    let s = TestServer::start(&backend, "restart").await;
    s.admin(
        Method::POST,
        "/api/v1/flags",
        Some(json!({"key": "kept", "definition": {"fallthrough": "on"}})),
        201,
    )
    .await;
    let v1 = s.served("production").await.header().version;
    let (data, db) = s.stop().await;
    let s = TestServer::start_at(data, db).await;
    assert_eq!(
        s.served("production").await.header().version,
        v1,
        "a restart publishes nothing new"
    );
    s.admin(
        Method::POST,
        "/api/v1/flags/kept/environments/production/toggle",
        Some(json!({"enabled": false})),
        200,
    )
    .await;
    let rs = s.served("production").await;
    assert!(rs.header().version > v1);
    assert!(!on_for(&rs, "kept", "u"));
    // The server answers OFREP on the origin's paths too.
    let ofrep: Value = reqwest::Client::new()
        .post(format!(
            "{}/production/ofrep/v1/evaluate/flags/kept",
            s.base
        ))
        .json(&json!({"context": {"targetingKey": "u"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ofrep["value"], false, "{ofrep:#}");
    assert_eq!(ofrep["reason"], "DISABLED", "{ofrep:#}");
    s.stop().await;
}

/// Two server processes' worth of servers on one PostgreSQL database and one
/// publish directory, 40 concurrent writers: nothing lost, every change its
/// own revision, published versions strictly increasing with revisions.
pub async fn two_servers_share_one_database(backend: Backend) {
    let a = TestServer::start(&backend, "two").await;
    let b = TestServer::start_at(a.data.clone(), a.database.clone()).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (base, key) = (server.base.clone(), format!("w-{i:02}"));
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let resp = http
                .post(format!("{base}/api/v1/flags"))
                .bearer_auth(ADMIN)
                .json(&json!({"key": key, "definition": {"fallthrough": "on"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
            resp.json::<Value>().await.unwrap()["revision"]
                .as_i64()
                .unwrap()
        }));
    }
    let mut revisions = Vec::new();
    for t in tasks {
        revisions.push(t.await.unwrap());
    }
    revisions.sort();
    revisions.dedup();
    assert_eq!(revisions.len(), 40, "every change has its own revision");
    assert_eq!(
        revisions[39] - revisions[0],
        39,
        "and they are consecutive: {revisions:?}"
    );
    for s in [&a, &b] {
        let page = s
            .admin(Method::GET, "/api/v1/flags?limit=100", None, 200)
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 40);
    }
    let rs = a.served("production").await;
    assert!((0..40).all(|i| rs.flag_id(&format!("w-{i:02}")).is_some()));
    let h = a
        .admin(
            Method::GET,
            "/api/v1/environments/production/history",
            None,
            200,
        )
        .await;
    let pairs: Vec<(u64, i64)> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| Some((v["version"].as_u64()?, v["revision"].as_i64()?)))
        .collect();
    assert!(pairs.len() >= 40, "{h:#}");
    assert!(
        pairs.windows(2).all(|w| w[0].0 > w[1].0 && w[0].1 > w[1].1),
        "versions follow revisions: {pairs:?}"
    );

    // A change through one server reaches the push subscribers of the other.
    let mut events = reqwest::Client::new()
        .get(format!("{}/production/events", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let changed = a
        .admin(
            Method::POST,
            "/api/v1/flags/w-00/environments/production/toggle",
            Some(json!({"enabled": false})),
            200,
        )
        .await;
    let version = changed["published"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["environment"] == "production")
        .unwrap()["version"]
        .as_u64()
        .unwrap();
    let want = format!("\"version\":{version},");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&want) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .unwrap_or_else(|_| {
                panic!("no announcement of v{version} from the other server: {seen}")
            })
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!b
        .served("production")
        .await
        .bool_value("w-00", &Context::new("u"), true));
    b.stop().await;
    a.stop().await;
}

/// The session cookie (`name=value`) a response set.
fn session_cookie(headers: &reqwest::header::HeaderMap) -> String {
    let set = headers
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

/// Dashboard users: the first admin from the setup link, sign-in, sessions,
/// CSRF on every change, roles for users, the sign-in rate limit, sign-out and
/// deletion ending sessions.
pub async fn users_sessions_and_csrf(backend: Backend) {
    let s = TestServer::start(&backend, "users").await;
    let setup = s.setup.clone().expect("a new server has a setup secret");
    let (st, _, _) = s
        .call(None, Method::GET, "/api/v1/session", None, &[])
        .await;
    assert_eq!(st, 401);

    // The setup link: a wrong secret, a weak password, then the first admin.
    let mut body = json!({"token": "wrong", "username": "ana", "password": "a long passphrase"});
    let (st, _, v) = s
        .call(None, Method::POST, "/api/v1/setup", Some(body.clone()), &[])
        .await;
    assert_eq!(st, 403, "{v:#}");
    body["token"] = json!(setup);
    body["password"] = json!("short");
    let (st, _, v) = s
        .call(None, Method::POST, "/api/v1/setup", Some(body.clone()), &[])
        .await;
    assert_eq!(st, 400, "{v:#}");
    assert!(v["message"].as_str().unwrap().contains("at least 10"));
    body["password"] = json!("a long passphrase");
    let (st, headers, v) = s
        .call(None, Method::POST, "/api/v1/setup", Some(body.clone()), &[])
        .await;
    assert_eq!(st, 200, "{v:#}");
    assert_eq!(v["user"]["name"], "ana");
    assert_eq!(v["user"]["role"], "admin");
    let ana = session_cookie(&headers);
    let ana_csrf = v["csrf"].as_str().unwrap().to_owned();
    assert_eq!(ana_csrf.len(), 64);
    let (st, _, _) = s
        .call(None, Method::POST, "/api/v1/setup", Some(body), &[])
        .await;
    assert_eq!(st, 409, "setup works once");

    // The cookie reads; a change needs the CSRF token too.
    let (st, _, v) = s
        .call(
            None,
            Method::GET,
            "/api/v1/session",
            None,
            &[("cookie", &ana)],
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["csrf"].as_str()),
        (200, Some(ana_csrf.as_str()))
    );
    let (st, _, _) = s
        .call(
            None,
            Method::GET,
            "/api/v1/flags",
            None,
            &[("cookie", &ana)],
        )
        .await;
    assert_eq!(st, 200);
    let flag = json!({"key": "dash"});
    for csrf in [None, Some("0".repeat(64))] {
        let mut headers = vec![("cookie", ana.as_str())];
        if let Some(c) = &csrf {
            headers.push(("x-csrf-token", c));
        }
        let (st, _, v) = s
            .call(
                None,
                Method::POST,
                "/api/v1/flags",
                Some(flag.clone()),
                &headers,
            )
            .await;
        assert_eq!(st, 403, "{v:#}");
        assert!(v["message"].as_str().unwrap().contains("CSRF"), "{v:#}");
    }
    let with_csrf = [
        ("cookie", ana.as_str()),
        ("x-csrf-token", ana_csrf.as_str()),
    ];
    let (st, _, v) = s
        .call(None, Method::POST, "/api/v1/flags", Some(flag), &with_csrf)
        .await;
    assert_eq!(st, 201, "{v:#}");
    let audit = s
        .admin(Method::GET, "/api/v1/audit?key=dash", None, 200)
        .await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["actor"] == "user:ana"),
        "{audit:#}"
    );

    // Users: made by admins only, names unique, passwords checked.
    let user = |name: &str, role: &str, envs: Option<&[&str]>| {
        let mut u = json!({"name": name, "password": format!("{name} password 123"), "role": role});
        if let Some(e) = envs {
            u["environments"] = json!(e);
        }
        u
    };
    let (st, _, v) = s
        .call(
            None,
            Method::POST,
            "/api/v1/users",
            Some(user("ed", "editor", Some(&["staging"]))),
            &with_csrf,
        )
        .await;
    assert_eq!(st, 201, "{v:#}");
    let ed_id = v["id"].as_str().unwrap().to_owned();
    assert!(v.get("password").is_none());
    let (st, _, _) = s
        .call(
            None,
            Method::POST,
            "/api/v1/users",
            Some(user("ed", "viewer", None)),
            &with_csrf,
        )
        .await;
    assert_eq!(st, 409);
    let mut weak = user("vic", "viewer", None);
    weak["password"] = json!("123");
    let (st, _, _) = s
        .call(None, Method::POST, "/api/v1/users", Some(weak), &with_csrf)
        .await;
    assert_eq!(st, 400);
    s.admin(
        Method::POST,
        "/api/v1/users",
        Some(user("vic", "viewer", None)),
        201,
    )
    .await;
    let editor = s.token("users-editor", "editor", None).await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/users".to_owned(), None),
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            Some(user("x", "admin", None)),
        ),
        (Method::DELETE, format!("/api/v1/users/{ed_id}"), None),
    ] {
        let (st, _, v) = s
            .call(Some(&editor), method.clone(), &path, body, &[])
            .await;
        assert_eq!(st, 403, "editor {method} {path}: {v:#}");
        assert!(
            v["message"].as_str().unwrap().contains("admin role"),
            "{v:#}"
        );
    }
    let listed = s.admin(Method::GET, "/api/v1/users", None, 200).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ana", "ed", "vic"]);

    // A user's role and environments apply to its session.
    let sign_in = |name: &str, password: String| json!({"username": name, "password": password});
    let (st, headers, v) = s
        .call(
            None,
            Method::POST,
            "/api/v1/session",
            Some(sign_in("ed", "ed password 123".into())),
            &[],
        )
        .await;
    assert_eq!(st, 200, "{v:#}");
    let ed = session_cookie(&headers);
    let ed_csrf = v["csrf"].as_str().unwrap().to_owned();
    let ed_headers = [("cookie", ed.as_str()), ("x-csrf-token", ed_csrf.as_str())];
    let (st, _, v) = s
        .call(
            None,
            Method::POST,
            "/api/v1/flags/dash/environments/production/toggle",
            Some(json!({"enabled": false})),
            &ed_headers,
        )
        .await;
    assert_eq!(st, 403, "{v:#}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("limited to staging"),
        "{v:#}"
    );
    let (st, _, v) = s
        .call(
            None,
            Method::POST,
            "/api/v1/flags/dash/environments/staging/toggle",
            Some(json!({"enabled": false})),
            &ed_headers,
        )
        .await;
    assert_eq!(st, 200, "{v:#}");

    // Five wrong passwords, then 429 with Retry-After, even for the right one.
    for _ in 0..5 {
        let (st, _, v) = s
            .call(
                None,
                Method::POST,
                "/api/v1/session",
                Some(sign_in("vic", "wrong password!".into())),
                &[],
            )
            .await;
        assert_eq!(st, 401, "{v:#}");
        assert_eq!(v["message"], "wrong user name or password");
    }
    let (st, headers, v) = s
        .call(
            None,
            Method::POST,
            "/api/v1/session",
            Some(sign_in("vic", "vic password 123".into())),
            &[],
        )
        .await;
    assert_eq!(st, 429, "{v:#}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // An unknown name is refused the same way as a wrong password.
    let (st, _, v) = s
        .call(
            None,
            Method::POST,
            "/api/v1/session",
            Some(sign_in("nobody", "whatever it is".into())),
            &[],
        )
        .await;
    assert_eq!(
        (st.as_u16(), &v["message"]),
        (401, &json!("wrong user name or password"))
    );

    // Signing out ends the session; deleting a user ends its sessions.
    let (st, headers, _) = s
        .call(None, Method::DELETE, "/api/v1/session", None, &ed_headers)
        .await;
    assert_eq!(st, 204);
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (st, _, v) = s
        .call(None, Method::GET, "/api/v1/flags", None, &[("cookie", &ed)])
        .await;
    assert_eq!(st, 401, "{v:#}");
    assert!(v["message"].as_str().unwrap().contains("sign in again"));
    let (_, headers, _) = s
        .call(
            None,
            Method::POST,
            "/api/v1/session",
            Some(sign_in("ed", "ed password 123".into())),
            &[],
        )
        .await;
    let ed_again = session_cookie(&headers);
    let (st, _, _) = s
        .call(
            None,
            Method::DELETE,
            &format!("/api/v1/users/{ed_id}"),
            None,
            &with_csrf,
        )
        .await;
    assert_eq!(st, 204);
    let (st, _, _) = s
        .call(
            None,
            Method::GET,
            "/api/v1/flags",
            None,
            &[("cookie", &ed_again)],
        )
        .await;
    assert_eq!(st, 401, "a deleted user's session ends");

    // Behind TLS the cookie is Secure; a restart prints no setup link any more.
    let (_, headers, _) = s
        .call(
            None,
            Method::POST,
            "/api/v1/session",
            Some(sign_in("ana", "a long passphrase".into())),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(headers["set-cookie"].to_str().unwrap().contains("; Secure"));
    let (data, database) = s.stop().await;
    let s = TestServer::start_at(data, database).await;
    assert_eq!(s.setup, None);
    let (st, _, _) = s
        .call(
            None,
            Method::GET,
            "/api/v1/session",
            None,
            &[("cookie", &ana)],
        )
        .await;
    assert_eq!(st, 200, "sessions survive a restart");
    s.stop().await;
}

/// `/` serves the dashboard (or, in a binary built without it, how to build
/// it) with a strict Content-Security-Policy; unknown assets are 404s, and
/// the origin's paths still answer beside it.
pub async fn dashboard_is_served(backend: Backend) {
    let s = TestServer::start(&backend, "dashboard").await;
    let http = reqwest::Client::new();
    let resp = http.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = resp.text().await.unwrap();
    if edgeflag_server::dashboard::is_built() {
        assert!(
            page.contains("/_dashboard/"),
            "the built index loads its assets: {page}"
        );
        let script = page
            .split("src=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the index names its script");
        let js = http
            .get(format!("{}{script}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), 200, "{script}");
        assert!(js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert!(js.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
    } else {
        assert!(page.contains("npm run build"), "{page}");
    }
    let missing = http
        .get(format!("{}/_dashboard/assets/nope.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let efr = http
        .get(format!("{}/staging/current.efr", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(efr.status(), 200, "the origin's paths still answer");
    s.stop().await;
}

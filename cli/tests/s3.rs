//! Publishing to real S3-compatible stores, run by `scripts/test.sh` with the local
//! stack up (`infra/local/stack.sh start`; feature `stack-tests`):
//! Garage (S3 API for writes, its web endpoint for anonymous reads), nginx as a
//! revalidating CDN in front of Garage, and moto, which enforces conditional
//! writes as AWS S3 does, for racing publishers.

use edgeflag_testkit::project as support;

use edgeflag_evaluator::{Context, Ruleset};
use edgeflag_testkit::project::ControlPlane;
use reqwest::{header, StatusCode};
use serde_json::json;
use support::{
    assert_every_racer_landed, edgeflag, edgeflag_env, ok, ok_env, publish_concurrently, s,
    scratch, write_source,
};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the stack with `infra/local/stack.sh start` and `eval \"$(infra/local/stack.sh env)\"`")
    })
}

/// A prefix of its own per run, so reruns against a kept Garage start empty.
fn prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("test-{name}-{nanos}")
}

async fn fetch(url: &str, etag: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    req.send().await.expect("GET succeeds")
}

#[tokio::test]
async fn garage_and_the_cdn_serve_each_published_version_with_etags() {
    let (endpoint, bucket) = (var("EDGEFLAG_S3_ENDPOINT"), var("EDGEFLAG_S3_BUCKET"));
    let prefix = prefix("garage");
    let dest = format!("s3://{bucket}/{prefix}");
    let src = scratch("s3-garage");
    write_source(&src, true, 0.1);
    let out = ok(&[
        "publish",
        s(&src),
        "--to",
        &dest,
        "--endpoint-url",
        &endpoint,
    ]);
    assert!(out.contains("published production v1"), "{out}");

    let ctx = Context::new("u1");
    for base in [var("EDGEFLAG_GARAGE_WEB_URL"), var("EDGEFLAG_CDN_URL")] {
        let url = format!("{base}/{prefix}/production/current.efr");
        let resp = fetch(&url, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let h = resp.headers().clone();
        assert_eq!(
            h[header::CONTENT_TYPE],
            "application/vnd.edgeflag.ruleset",
            "{url}"
        );
        assert_eq!(
            h[header::CACHE_CONTROL],
            "public, max-age=0, must-revalidate",
            "{url}"
        );
        let etag = h[header::ETAG].to_str().unwrap().to_string();
        let rs = Ruleset::from_bytes(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(rs.header().version, 1);
        assert!(rs.bool_value("checkout", &ctx, false));
        let resp = fetch(&url, Some(&etag)).await;
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{url}");
        let v1 = format!("{base}/{prefix}/production/versions/{:020}.efr", 1);
        let resp = fetch(&v1, None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{v1}");
        assert_eq!(
            resp.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }

    // The kill switch: published, and visible at once through both paths
    // (the CDN revalidates current.efr by ETag on every request).
    let cdn_url = format!(
        "{}/{prefix}/production/current.efr",
        var("EDGEFLAG_CDN_URL")
    );
    let old_etag = fetch(&cdn_url, None).await.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_string();
    write_source(&src, false, 0.1);
    let out = ok(&[
        "publish",
        s(&src),
        "--to",
        &dest,
        "--endpoint-url",
        &endpoint,
        "--env",
        "production",
    ]);
    assert!(out.contains("published production v2 (was v1)"), "{out}");
    for base in [var("EDGEFLAG_GARAGE_WEB_URL"), var("EDGEFLAG_CDN_URL")] {
        let url = format!("{base}/{prefix}/production/current.efr");
        let resp = fetch(&url, Some(&old_etag)).await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{url}: the new version, not a 304"
        );
        let rs = Ruleset::from_bytes(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(rs.header().version, 2, "{url}");
        assert!(!rs.bool_value("checkout", &ctx, true), "{url}");
    }

    // Rollback and history through S3.
    let out = ok(&[
        "rollback",
        "--to",
        &dest,
        "--endpoint-url",
        &endpoint,
        "--env",
        "production",
        "--version",
        "1",
    ]);
    assert!(out.contains("as v3"), "{out}");
    let rs = Ruleset::from_bytes(&fetch(&cdn_url, None).await.bytes().await.unwrap()).unwrap();
    assert_eq!(rs.header().version, 3);
    assert!(rs.bool_value("checkout", &ctx, false));
    let out = ok(&[
        "history",
        "--to",
        &dest,
        "--endpoint-url",
        &endpoint,
        "--env",
        "production",
    ]);
    assert!(out.contains("latest v3"), "{out}");
    assert!(out.contains("rollback to v1 by test-suite"), "{out}");
    let audit = format!(
        "{}/{prefix}/production/audit/{:020}.json",
        var("EDGEFLAG_GARAGE_WEB_URL"),
        3
    );
    let record: serde_json::Value = fetch(&audit, None).await.json().await.unwrap();
    assert_eq!(record["action"]["kind"], "rollback");
    assert_eq!(record["previous_version"], 2);
}

#[tokio::test]
async fn a_publish_that_cannot_reach_the_store_fails_and_changes_nothing() {
    let (endpoint, bucket) = (var("EDGEFLAG_S3_ENDPOINT"), var("EDGEFLAG_S3_BUCKET"));
    let prefix = prefix("unreachable");
    let dest = format!("s3://{bucket}/{prefix}");
    let src = scratch("s3-unreachable");
    write_source(&src, true, 0.1);
    ok(&[
        "publish",
        s(&src),
        "--to",
        &dest,
        "--endpoint-url",
        &endpoint,
    ]);
    write_source(&src, false, 0.1);
    // Nothing listens on port 9 of loopback.
    let o = edgeflag(&[
        "publish",
        s(&src),
        "--to",
        &dest,
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("s3://{bucket}/{prefix}/")),
        "names the object: {err}"
    );
    // Wrong credentials: refused by Garage, nothing changes.
    let o = edgeflag_env(
        &[
            "publish",
            s(&src),
            "--to",
            &dest,
            "--endpoint-url",
            &endpoint,
        ],
        &[("AWS_SECRET_ACCESS_KEY", "wrong")],
    );
    assert!(!o.status.success());
    let url = format!(
        "{}/{prefix}/production/current.efr",
        var("EDGEFLAG_CDN_URL")
    );
    let rs = Ruleset::from_bytes(&fetch(&url, None).await.bytes().await.unwrap()).unwrap();
    assert_eq!(rs.header().version, 1);
    assert!(rs.bool_value("checkout", &Context::new("u"), false));
}

#[tokio::test]
async fn racing_publishers_lose_no_update_on_a_store_that_enforces_conditional_writes() {
    let endpoint = var("EDGEFLAG_MOTO_ENDPOINT");
    let bucket = var("EDGEFLAG_S3_BUCKET");
    let prefix = prefix("race");
    let dest = format!("s3://{bucket}/{prefix}");
    let src = scratch("s3-race");
    write_source(&src, true, 0.5);
    const N: usize = 5;
    // moto accepts any credentials.
    let moto = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    publish_concurrently(
        N,
        &[
            "publish",
            s(&src),
            "--to",
            &dest,
            "--endpoint-url",
            &endpoint,
            "--env",
            "production",
            "--force",
        ],
        &moto,
    );
    let history = ok_env(
        &[
            "history",
            "--to",
            &dest,
            "--endpoint-url",
            &endpoint,
            "--env",
            "production",
            "--json",
        ],
        &moto,
    );
    let manifest: serde_json::Value = serde_json::from_str(&history).unwrap();
    let versions = assert_every_racer_landed(&manifest, N);
    assert_eq!(manifest["latest"], versions[N - 1]);
}

/// A fresh database on the test script's PostgreSQL server.
async fn fresh_database(name: &str) -> String {
    let admin = var("EDGEFLAG_TEST_POSTGRES_URL");
    sqlx::any::install_default_drivers();
    let db = format!("t_{name}_{}", std::process::id());
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
        .execute(&pool)
        .await;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&pool)
        .await
        .expect("create a test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{db}")
}

/// Reads an event stream until it announces `version` (or fails after 10 s).
async fn announced(events: &mut reqwest::Response, version: u64, who: &str) {
    let want = format!("\"version\":{version},");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(&want) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .unwrap_or_else(|_| panic!("{who}: no announcement of v{version}: {seen}"))
            .expect("the stream reads")
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The production version a change published.
fn published_version(answer: &serde_json::Value) -> u64 {
    answer["published"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["environment"] == "production"))
        .and_then(|p| p["version"].as_u64())
        .unwrap_or_else(|| panic!("no production publish in {answer}"))
}

const ADMIN: &str = "efk_s3_two_servers_0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn two_server_processes_on_one_postgres_publish_to_s3_once_and_push_to_each_others_subscribers(
) {
    let (endpoint, bucket) = (var("EDGEFLAG_S3_ENDPOINT"), var("EDGEFLAG_S3_BUCKET"));
    let database = fresh_database("two_s3").await;
    let prefix = prefix("two-servers");
    let dest = format!("s3://{bucket}/{prefix}");
    let (data_a, data_b) = (scratch("two-s3-a"), scratch("two-s3-b"));
    let args = |data: &std::path::Path| {
        vec![
            "--data".to_owned(),
            s(data).to_owned(),
            "--database".to_owned(),
            database.clone(),
            "--publish".to_owned(),
            dest.clone(),
            "--endpoint-url".to_owned(),
            endpoint.clone(),
        ]
    };
    let env = [("EDGEFLAG_BOOTSTRAP_TOKEN", ADMIN)];
    let args_a = args(&data_a);
    let a = ControlPlane::start(&args_a.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    let args_b = args(&data_b);
    let b = ControlPlane::start(&args_b.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    let http = reqwest::Client::new();
    let post = |base: &str, path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };

    // A change through A reaches B's push subscribers: B's origin serves no
    // shared directory, so only A's notification can tell it.
    let mut b_events = http
        .get(format!("{}/production/events", b.base))
        .send()
        .await
        .unwrap();
    assert_eq!(b_events.status(), StatusCode::OK);
    let resp = post(
        &a.base,
        "/api/v1/flags",
        json!({"key": "checkout", "definition": {"fallthrough": "on"}}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v = published_version(&resp.json().await.unwrap());
    announced(&mut b_events, v, "B after a change through A").await;
    let served = |base: String| {
        let http = http.clone();
        async move {
            let bytes = http
                .get(format!("{base}/production/current.efr"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            Ruleset::from_bytes(&bytes).unwrap()
        }
    };
    let on_b = served(b.base.clone()).await;
    assert_eq!(on_b.header().version, v);
    assert!(on_b.bool_value("checkout", &Context::new("u1"), false));
    assert!(
        !data_a.join("published").join("production").exists(),
        "published to S3, not to the data directory"
    );

    // Concurrent changes through both: each published once, in order.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let resp = http
                .post(format!("{base}/api/v1/flags"))
                .bearer_auth(ADMIN)
                .json(&json!({"key": format!("w-{i:02}"), "definition": {"fallthrough": "on"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::CREATED);
            published_version(&resp.json().await.unwrap())
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort_unstable();
    let want: Vec<u64> = (v + 1..=v + 20).collect();
    assert_eq!(versions, want, "one new version per change, none twice");
    let history = ok(&[
        "history",
        "--to",
        &dest,
        "--endpoint-url",
        &endpoint,
        "--env",
        "production",
        "--json",
    ]);
    let manifest: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(manifest["latest"], v + 20, "{manifest}");

    // And the other way: a kill switch through B reaches A's subscribers,
    // and the CDN in front of the bucket serves it.
    let mut a_events = http
        .get(format!("{}/production/events", a.base))
        .send()
        .await
        .unwrap();
    let resp = post(
        &b.base,
        "/api/v1/flags/checkout/environments/production/toggle",
        json!({"enabled": false}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let off = published_version(&resp.json().await.unwrap());
    assert_eq!(off, v + 21);
    announced(&mut a_events, off, "A after a kill switch through B").await;
    for base in [a.base.clone(), b.base.clone()] {
        let rs = served(base.clone()).await;
        assert_eq!(rs.header().version, off, "{base}");
        assert!(
            !rs.bool_value("checkout", &Context::new("u1"), true),
            "{base}"
        );
    }
    let cdn = fetch(
        &format!(
            "{}/{prefix}/production/current.efr",
            var("EDGEFLAG_CDN_URL")
        ),
        None,
    )
    .await;
    let rs = Ruleset::from_bytes(&cdn.bytes().await.unwrap()).unwrap();
    assert_eq!(rs.header().version, off);
    drop((a, b));
}

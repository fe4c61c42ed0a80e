//! OFREP on the real origin over loopback HTTP: single and bulk evaluation of
//! every flag type with the reasons of `tests/vectors/openfeature.json`, every
//! error shape and status, the bulk ETag and 304, keys (401, 403, client keys
//! seeing only client-side flags), the rate limit (429 + Retry-After) and the
//! connection cap (503 + Retry-After), CORS preflights, the OFREP event
//! stream, `/metrics`, and a new ruleset changing the answers and the ETag.
//!
//! Each test runs its own origin over a scratch source published by
//! `--watch`. Every loop is bounded in count and time.

use edgeflag_origin::{Config, Cors, OfrepKeys, Origin, State};
use edgeflag_testkit::project::scratch;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The test source: one flag per type and per reason, two of them client-side.
/// `banner_default` is what `banner` serves to everyone outside Germany (the
/// flip).
fn source(banner_default: &str) -> String {
    format!(
        r#"environments: [production, staging]
segments:
  staff:
    include: [user-42]
flags:
  banner:
    client_side: true
    rules:
      - id: germans
        clauses: [{{attribute: country, op: in, values: [DE]}}]
        serve: "on"
    fallthrough: "{banner_default}"
  theme:
    client_side: true
    variations: {{light: light, dark: dark}}
    off_variation: light
    targets: {{dark: [user-7]}}
    fallthrough: light
  limit:
    variations: {{high: 2.5, low: 10}}
    off_variation: low
    fallthrough: high
  layout:
    variations: {{grid: {{cols: 2, dense: true, tags: [a, b]}}}}
    off_variation: grid
    fallthrough: grid
  kill:
    enabled: false
  gated:
    prerequisites: [{{flag: kill, variations: ["on"]}}]
  rollout:
    fallthrough: {{rollout: {{"on": 50, "off": 50}}}}
  experiment:
    rules:
      - id: french
        clauses: [{{attribute: country, op: in, values: [FR]}}]
        serve: {{rollout: {{"on": 50, "off": 50}}}}
    fallthrough: "off"
  by-org:
    fallthrough: {{rollout: {{"on": 50, "off": 50}}, bucket_by: org}}
  staff-only:
    rules:
      - clauses: [{{op: in_segment, values: [staff]}}]
        serve: "on"
    fallthrough: "off"
"#
    )
}

/// Flags marked client-side in [`source`].
const CLIENT_FLAGS: [&str; 2] = ["banner", "theme"];
/// Every flag of [`source`].
const ALL_FLAGS: usize = 10;

/// A running in-process origin, stopped on drop.
struct Running {
    addr: SocketAddr,
    base: String,
    src: PathBuf,
    root: PathBuf,
    state: Arc<State>,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts an origin over a scratch copy of [`source`], configured by
/// `configure`.
async fn start(name: &str, configure: impl FnOnce(Config, &Path) -> Config) -> Running {
    start_over(name, &source("off"), configure).await
}

/// Starts an origin over a scratch source `text`.
async fn start_over(
    name: &str,
    text: &str,
    configure: impl FnOnce(Config, &Path) -> Config,
) -> Running {
    let root = scratch(name);
    let (src, dir) = (root.join("src"), root.join("pub"));
    std::fs::create_dir_all(&src).expect("source dir");
    std::fs::write(src.join("flags.yaml"), text).expect("source");
    let config = Config::new(dir)
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .watch(src.clone(), "test-suite".into());
    let origin = Origin::start(configure(config, &root))
        .await
        .expect("origin starts");
    let addr = origin.local_addr().expect("bound");
    let state = origin.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(origin.run_until(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        base: format!("http://{addr}"),
        src,
        root,
        state,
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

/// A response: status, headers, body as JSON (`Null` when empty or not JSON).
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Running {
    async fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = tokio::time::timeout(Duration::from_secs(10), req.send())
            .await
            .expect("an answer within 10 s")
            .expect("the request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `POST /production/ofrep/v1/evaluate/flags/{key}` with `context`.
    async fn single(&self, key: &str, context: Value) -> Answer {
        let body = json!({ "context": context }).to_string();
        self.post(
            &format!("/production/ofrep/v1/evaluate/flags/{key}"),
            &body,
            &[],
        )
        .await
    }

    /// `POST /<env>/ofrep/v1/evaluate/flags` with `context`.
    async fn bulk(&self, env: &str, context: Value, headers: &[(&str, &str)]) -> Answer {
        let body = json!({ "context": context }).to_string();
        self.post(&format!("/{env}/ofrep/v1/evaluate/flags"), &body, headers)
            .await
    }

    fn version(&self, env: &str) -> u64 {
        self.state.current(env).map_or(0, |c| c.version)
    }

    /// Rewrites the source with `banner` serving `banner_default` and waits
    /// (at most 10 s) for the new version of production to be served.
    async fn flip(&self, banner_default: &str) -> u64 {
        let before = self.version("production");
        let tmp = self.src.join(".flags.yaml.tmp");
        std::fs::write(&tmp, source(banner_default)).expect("write source");
        std::fs::rename(&tmp, self.src.join("flags.yaml")).expect("rename source");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.version("production");
            if now > before {
                return now;
            }
            assert!(Instant::now() < deadline, "no new version within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn metric(&self, line: &str) -> u64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line} in\n{text}"))
    }
}

/// The OpenFeature reason the vectors give an edgeflag reason kind.
fn vector_reason(edgeflag: &str, in_rollout: bool) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/openfeature.json");
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json");
    let rows = vectors["reasons"].as_array().expect("reasons");
    rows.iter()
        .find(|r| r["edgeflag"] == edgeflag && r["in_rollout"] == in_rollout)
        .and_then(|r| r["openfeature"].as_str())
        .unwrap_or_else(|| panic!("no vector for {edgeflag} in_rollout={in_rollout}"))
        .to_string()
}

fn keys(list: &[&Value]) -> Vec<String> {
    let mut k: Vec<String> = list
        .iter()
        .map(|f| f["key"].as_str().expect("a key").to_string())
        .collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_evaluation_serves_every_type_with_the_vectors_reasons() {
    let o = start("ofrep-single", |c, _| c).await;
    let version = o.version("production");
    assert!(version >= 1);
    // (flag, context, value, variant, edgeflag reason, in a rollout)
    let cases = [
        (
            "banner",
            json!({"targetingKey": "u1", "country": "DE"}),
            json!(true),
            "on",
            "RULE_MATCH",
            false,
        ),
        (
            "banner",
            json!({"targetingKey": "u1", "country": "US"}),
            json!(false),
            "off",
            "FALLTHROUGH",
            false,
        ),
        (
            "theme",
            json!({"targetingKey": "user-7"}),
            json!("dark"),
            "dark",
            "TARGET_MATCH",
            false,
        ),
        (
            "theme",
            json!({"targetingKey": "u1"}),
            json!("light"),
            "light",
            "FALLTHROUGH",
            false,
        ),
        (
            "limit",
            json!({"targetingKey": "u1"}),
            json!(2.5),
            "high",
            "FALLTHROUGH",
            false,
        ),
        (
            "layout",
            json!({"targetingKey": "u1"}),
            json!({"cols": 2, "dense": true, "tags": ["a", "b"]}),
            "grid",
            "FALLTHROUGH",
            false,
        ),
        (
            "kill",
            json!({"targetingKey": "u1"}),
            json!(false),
            "off",
            "OFF",
            false,
        ),
        (
            "gated",
            json!({"targetingKey": "u1"}),
            json!(false),
            "off",
            "PREREQUISITE_FAILED",
            false,
        ),
        (
            "by-org",
            json!({"targetingKey": "u1"}),
            json!(false),
            "off",
            "DEFAULT",
            false,
        ),
    ];
    for (flag, ctx, value, variant, edgeflag, in_rollout) in cases {
        let a = o.single(flag, ctx.clone()).await;
        assert_eq!(a.status, 200, "{flag} {ctx}: {}", a.body);
        assert_eq!(a.header("content-type"), Some("application/json"));
        let b = &a.body;
        assert_eq!(b["key"], flag);
        assert_eq!(b["value"], value, "{flag} {ctx}");
        assert_eq!(b["variant"], variant, "{flag} {ctx}");
        assert_eq!(
            b["reason"],
            vector_reason(edgeflag, in_rollout),
            "{flag} {ctx}"
        );
        let m = &b["metadata"];
        assert_eq!(m["edgeflagReason"], edgeflag, "{flag} {ctx}");
        assert_eq!(m["environment"], "production");
        assert_eq!(m["rulesetVersion"], version);
        assert!(m["rulesetEpoch"].as_u64().is_some_and(|e| e > 0));
        assert!(b.get("errorCode").is_none());
    }
    // Integers are integers.
    let a = o
        .single("limit", json!({"targetingKey": "u1", "org": "x"}))
        .await;
    assert_eq!(a.body["value"], 2.5);
    // Rule metadata: index and id.
    let a = o
        .single("banner", json!({"targetingKey": "u1", "country": "DE"}))
        .await;
    assert_eq!(a.body["metadata"]["ruleIndex"], 0);
    assert_eq!(a.body["metadata"]["ruleId"], "germans");
    let a = o.single("gated", json!({"targetingKey": "u1"})).await;
    assert_eq!(a.body["metadata"]["prerequisite"], "kill");

    // Rollouts: SPLIT whatever step served, the edgeflag kind in metadata.
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..64 {
        let a = o
            .single("rollout", json!({"targetingKey": format!("user-{i}")}))
            .await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body["reason"], vector_reason("FALLTHROUGH", true));
        assert_eq!(a.body["metadata"]["edgeflagReason"], "FALLTHROUGH");
        seen.insert(a.body["variant"].as_str().expect("variant").to_string());
        let a = o
            .single(
                "experiment",
                json!({"targetingKey": format!("user-{i}"), "country": "FR"}),
            )
            .await;
        assert_eq!(a.body["reason"], vector_reason("RULE_MATCH", true));
        assert_eq!(a.body["metadata"]["ruleId"], "french");
    }
    assert_eq!(
        seen.len(),
        2,
        "a 50/50 rollout serves both over 64 keys: {seen:?}"
    );

    // `key` stands in for `targetingKey`; nested objects are dotted attributes.
    let a = o.single("theme", json!({"key": "user-7"})).await;
    assert_eq!(a.body["variant"], "dark");

    // ERROR per the vectors: FLAG_NOT_FOUND, 404, with the key.
    let a = o.single("nope", json!({"targetingKey": "u1"})).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["key"], "nope");
    assert_eq!(a.body["errorCode"], "FLAG_NOT_FOUND");
    assert!(a.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("nope")));

    // 9 cases, 3 metadata checks, 64 × 2 rollouts, 1 `key`.
    assert_eq!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"single\",outcome=\"ok\"}")
            .await,
        9 + 3 + 128 + 1
    );
    assert_eq!(
        o.metric(
            "edgeflag_serve_ofrep_requests_total{endpoint=\"single\",outcome=\"flag_not_found\"}"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_evaluates_every_flag_with_an_etag_and_304s_a_match() {
    let o = start("ofrep-bulk", |c, _| c).await;
    let ctx = json!({"targetingKey": "user-7", "country": "DE", "address": {"city": "Berlin"}});
    let a = o.bulk("production", ctx.clone(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let flags: Vec<&Value> = a.body["flags"].as_array().expect("flags").iter().collect();
    assert_eq!(flags.len(), ALL_FLAGS, "{}", a.body);
    let by_key = |k: &str| {
        flags
            .iter()
            .find(|f| f["key"] == k)
            .copied()
            .unwrap_or_else(|| panic!("{k} in {}", a.body))
    };
    assert_eq!(by_key("banner")["value"], true);
    assert_eq!(by_key("banner")["reason"], "TARGETING_MATCH");
    assert_eq!(by_key("banner")["metadata"]["ruleId"], "germans");
    assert_eq!(by_key("theme")["value"], "dark");
    assert_eq!(by_key("limit")["value"], 2.5);
    assert_eq!(by_key("layout")["value"]["cols"], 2);
    assert_eq!(by_key("kill")["reason"], "DISABLED");
    assert_eq!(by_key("rollout")["reason"], "SPLIT");
    // The ruleset's position is in the response's metadata, once.
    assert_eq!(a.body["metadata"]["environment"], "production");
    assert_eq!(
        a.body["metadata"]["rulesetVersion"],
        o.version("production")
    );
    assert!(by_key("banner")["metadata"].get("rulesetVersion").is_none());
    // The environment's event stream, in OFREP's format.
    assert_eq!(
        a.body["eventStreams"],
        json!([{"type": "sse", "endpoint": {"requestUri": "/production/events?format=ofrep"}}])
    );
    let etag = a.header("etag").expect("an ETag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    // The same request: 304, no body.
    let again = o
        .bulk("production", ctx.clone(), &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(again.body, Value::Null);
    // The same context written otherwise (key order, spacing): still 304.
    let reordered = r#"{ "context": { "address": {"city": "Berlin"}, "country": "DE", "targetingKey": "user-7" } }"#;
    let same = o
        .post(
            "/production/ofrep/v1/evaluate/flags",
            reordered,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(same.status, 304);
    // Another context: another tag, 200.
    let other = o
        .bulk(
            "production",
            json!({"targetingKey": "u2"}),
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(other.status, 200);
    assert_ne!(other.header("etag"), Some(etag.as_str()));

    // Another environment is evaluated from its own ruleset.
    let staging = o.bulk("staging", ctx.clone(), &[]).await;
    assert_eq!(staging.status, 200);
    assert_eq!(staging.body["metadata"]["environment"], "staging");
    assert_ne!(staging.header("etag"), Some(etag.as_str()));

    // Open origin: the client ruleset path sees the client-side flags only.
    let client = o.bulk("production.client", ctx.clone(), &[]).await;
    assert_eq!(client.status, 200, "{}", client.body);
    let listed: Vec<&Value> = client.body["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .collect();
    assert_eq!(keys(&listed), CLIENT_FLAGS);
    assert_eq!(
        listed
            .iter()
            .find(|f| f["key"] == "banner")
            .expect("banner")["value"],
        true
    );
    assert_eq!(
        client.body["eventStreams"][0]["endpoint"]["requestUri"],
        "/production.client/events?format=ofrep"
    );
    let a = o
        .post(
            "/production.client/ofrep/v1/evaluate/flags/limit",
            r#"{"context":{"targetingKey":"u1"}}"#,
            &[],
        )
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["errorCode"], "FLAG_NOT_FOUND");

    assert_eq!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"bulk\",outcome=\"not_modified\"}")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_the_ofrep_shape_and_status() {
    let o = start("ofrep-errors", |c, _| c).await;
    let single = "/production/ofrep/v1/evaluate/flags/banner";
    let bulk = "/production/ofrep/v1/evaluate/flags";

    // PARSE_ERROR: not JSON, saying where.
    let a = o.post(single, "{\"context\": {\"a\": }", &[]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["key"], "banner");
    assert_eq!(a.body["errorCode"], "PARSE_ERROR");
    let details = a.body["errorDetails"].as_str().expect("details");
    assert!(details.contains("line 1, column 19"), "{details}");
    // No context object, saying where.
    for body in [
        "{}",
        r#"{"context": null}"#,
        r#"{"context": [1]}"#,
        "[]",
        "",
    ] {
        for path in [single, bulk] {
            let a = o.post(path, body, &[]).await;
            assert_eq!(a.status, 400, "{path} {body:?}");
            assert_eq!(a.body["errorCode"], "PARSE_ERROR", "{path} {body:?}");
        }
    }
    let a = o.post(single, "{}", &[]).await;
    assert!(a.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("`context`")));
    // Bulk errors have no key.
    let a = o.post(bulk, "{}", &[]).await;
    assert!(a.body.get("key").is_none(), "{}", a.body);

    // INVALID_CONTEXT, naming the attribute's dotted path.
    let a = o
        .post(
            single,
            r#"{"context":{"targetingKey":"u","user":{"tags":[true]}}}"#,
            &[],
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["errorCode"], "INVALID_CONTEXT");
    assert!(
        a.body["errorDetails"]
            .as_str()
            .is_some_and(|d| d.contains("user.tags")),
        "{}",
        a.body
    );
    let a = o.post(bulk, r#"{"context":{"targetingKey":7}}"#, &[]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["errorCode"], "INVALID_CONTEXT");
    assert!(a.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("targetingKey")));

    // TARGETING_KEY_MISSING: only where evaluation reads the key.
    let anon = json!({"country": "US"});
    for (flag, ctx, step) in [
        ("rollout", &anon, "fallthrough rollout"),
        ("theme", &anon, "individual targets"),
        ("staff-only", &anon, "a clause of rule 0"),
        (
            "experiment",
            &json!({"country": "FR"}),
            "the rollout of rule 0",
        ),
    ] {
        let a = o.single(flag, ctx.clone()).await;
        assert_eq!(a.status, 400, "{flag}: {}", a.body);
        assert_eq!(a.body["key"], flag);
        assert_eq!(a.body["errorCode"], "TARGETING_KEY_MISSING");
        assert!(
            a.body["errorDetails"]
                .as_str()
                .is_some_and(|d| d.contains(step)),
            "{flag}: {}",
            a.body
        );
    }
    // Flags whose result did not depend on the key evaluate normally: a rule
    // that reads no key decided, or the rollout rule did not match.
    for flag in [
        "banner",
        "limit",
        "layout",
        "kill",
        "gated",
        "by-org",
        "experiment",
    ] {
        let a = o.single(flag, anon.clone()).await;
        assert_eq!(a.status, 200, "{flag}: {}", a.body);
    }
    // In bulk: the items that need the key are errors, the others evaluate.
    let a = o.bulk("production", anon.clone(), &[]).await;
    assert_eq!(a.status, 200);
    let flags = a.body["flags"].as_array().expect("flags");
    assert_eq!(flags.len(), ALL_FLAGS);
    let errors: Vec<&Value> = flags
        .iter()
        .filter(|f| f.get("errorCode").is_some())
        .collect();
    assert_eq!(keys(&errors), ["rollout", "staff-only", "theme"]);
    let fr = o.bulk("production", json!({"country": "FR"}), &[]).await;
    let errors: Vec<&Value> = fr.body["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter(|f| f.get("errorCode").is_some())
        .collect();
    assert_eq!(
        keys(&errors),
        ["experiment", "rollout", "staff-only", "theme"]
    );
    for e in &errors {
        assert_eq!(e["errorCode"], "TARGETING_KEY_MISSING");
        assert!(e["errorDetails"].as_str().is_some());
        assert!(e.get("value").is_none());
    }

    // FLAG_NOT_FOUND, and environments that are not served.
    let a = o.single("nope", json!({"targetingKey": "u"})).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (404, &json!("FLAG_NOT_FOUND"))
    );
    let a = o
        .post(
            "/nowhere/ofrep/v1/evaluate/flags/banner",
            r#"{"context":{}}"#,
            &[],
        )
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["key"], "banner");
    assert!(a.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("nowhere")));
    let a = o
        .post("/nowhere/ofrep/v1/evaluate/flags", r#"{"context":{}}"#, &[])
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["errorCode"], "GENERAL");

    // Over the body limit: 413, PARSE_ERROR.
    let big = format!(r#"{{"context":{{"pad":"{}"}}}}"#, "x".repeat(70 << 10));
    let a = o.post(bulk, &big, &[]).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.body["errorCode"], "PARSE_ERROR");

    // Only POST.
    let resp = o
        .http
        .get(format!("{}{single}", o.base))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 405);

    assert_eq!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"single\",outcome=\"targeting_key_missing\"}")
            .await,
        4
    );
    assert!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"bulk\",outcome=\"parse_error\"}")
            .await
            >= 5
    );
    assert_eq!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"bulk\",outcome=\"too_large\"}")
            .await,
        1
    );
}

const SERVER_TOKEN: &str = "srv-production-0123456789abcdef";
const CLIENT_TOKEN: &str = "cli-production-0123456789abcdef";
const STAGING_TOKEN: &str = "srv-staging-0123456789abcdef";

/// Writes a keys file (mode 0600) under `root` and loads it.
fn keys_file(root: &Path) -> OfrepKeys {
    let path = root.join("ofrep-keys");
    std::fs::write(
        &path,
        format!(
            "# test keys\nserver production {SERVER_TOKEN}\nclient production {CLIENT_TOKEN}\n\
             server staging {STAGING_TOKEN}\n"
        ),
    )
    .expect("keys file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    OfrepKeys::load(&path).expect("keys load")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_gate_requests_and_client_keys_see_only_client_side_flags() {
    let o = start("ofrep-keys", |c, root| c.ofrep_keys(Some(keys_file(root)))).await;
    let ctx = json!({"targetingKey": "user-7", "country": "DE"});

    // No key, another scheme, an unknown token: 401 with WWW-Authenticate.
    let server = bearer(SERVER_TOKEN);
    for (headers, why) in [
        (vec![], "Authorization: Bearer"),
        (vec![("authorization", "Basic dXNlcjpwYXNz")], "not `Bearer"),
        (
            vec![("authorization", "Bearer not-a-key-of-this-origin")],
            "not an OFREP key",
        ),
    ] {
        let a = o.bulk("production", ctx.clone(), &headers).await;
        assert_eq!(a.status, 401, "{headers:?}");
        let challenge = a.header("www-authenticate").expect("a challenge");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            a.body["errorDetails"]
                .as_str()
                .is_some_and(|d| d.contains(why)),
            "{headers:?}: {}",
            a.body
        );
        let single = o
            .post(
                "/production/ofrep/v1/evaluate/flags/banner",
                &json!({"context": ctx}).to_string(),
                &headers,
            )
            .await;
        assert_eq!(single.status, 401);
    }
    let a = o
        .bulk(
            "production",
            ctx.clone(),
            &[("authorization", "Bearer not-a-key-of-this-origin")],
        )
        .await;
    assert!(a
        .header("www-authenticate")
        .is_some_and(|c| c.contains("invalid_token")));

    // A key of another environment: 403.
    let staging = bearer(STAGING_TOKEN);
    let a = o
        .bulk("production", ctx.clone(), &[("authorization", &staging)])
        .await;
    assert_eq!(a.status, 403);
    assert!(a.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("staging")));
    let a = o
        .bulk(
            "production.client",
            ctx.clone(),
            &[("authorization", &staging)],
        )
        .await;
    assert_eq!(a.status, 403);
    let a = o
        .bulk("staging", ctx.clone(), &[("authorization", &staging)])
        .await;
    assert_eq!(a.status, 200);

    // The server key sees every flag; on the client path, the client ones.
    let a = o
        .bulk("production", ctx.clone(), &[("authorization", &server)])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["flags"].as_array().map(Vec::len), Some(ALL_FLAGS));
    let a = o
        .bulk(
            "production.client",
            ctx.clone(),
            &[("authorization", &server)],
        )
        .await;
    let listed: Vec<&Value> = a.body["flags"].as_array().expect("flags").iter().collect();
    assert_eq!(keys(&listed), CLIENT_FLAGS);

    // The client key: client-side flags only, whatever the path, and the
    // client ruleset's event stream.
    let client = bearer(CLIENT_TOKEN);
    for env in ["production", "production.client"] {
        let a = o
            .bulk(env, ctx.clone(), &[("authorization", &client)])
            .await;
        assert_eq!(a.status, 200, "{env}: {}", a.body);
        let listed: Vec<&Value> = a.body["flags"].as_array().expect("flags").iter().collect();
        assert_eq!(keys(&listed), CLIENT_FLAGS, "{env}");
        let theme = listed.iter().find(|f| f["key"] == "theme").expect("theme");
        // Targets are hashed in the client ruleset; the answer is the same.
        assert_eq!(theme["value"], "dark");
        assert_eq!(theme["reason"], "TARGETING_MATCH");
        assert_eq!(a.body["metadata"]["environment"], "production.client");
        assert_eq!(
            a.body["eventStreams"][0]["endpoint"]["requestUri"],
            "/production.client/events?format=ofrep"
        );
        let body = json!({"context": ctx}).to_string();
        let path = format!("/{env}/ofrep/v1/evaluate/flags/limit");
        let a = o.post(&path, &body, &[("authorization", &client)]).await;
        assert_eq!(
            a.status, 404,
            "a server-only flag is not found for a client key"
        );
        assert_eq!(a.body["errorCode"], "FLAG_NOT_FOUND");
        let path = format!("/{env}/ofrep/v1/evaluate/flags/banner");
        let a = o.post(&path, &body, &[("authorization", &client)]).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body["value"], true);
    }
    // An environment without client-side flags has no client ruleset: a
    // client key sees no flag, and is pointed at the environment's own stream.
    let plain = start_over(
        "ofrep-keys-no-client-flags",
        "environments: [production]\nflags:\n  server-only: {}\n",
        |c, root| c.ofrep_keys(Some(keys_file(root))),
    )
    .await;
    assert!(plain.state.current("production.client").is_none());
    let a = plain
        .bulk("production", ctx.clone(), &[("authorization", &client)])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["flags"], json!([]));
    assert_eq!(a.body["metadata"]["environment"], "production.client");
    assert_eq!(
        a.body["eventStreams"][0]["endpoint"]["requestUri"],
        "/production/events?format=ofrep"
    );
    let etag = a.header("etag").expect("etag").to_string();
    let again = plain
        .bulk(
            "production",
            ctx.clone(),
            &[("authorization", &client), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, 304);
    let a = plain
        .post(
            "/production/ofrep/v1/evaluate/flags/server-only",
            &json!({"context": ctx}).to_string(),
            &[("authorization", &client)],
        )
        .await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (404, &json!("FLAG_NOT_FOUND"))
    );

    // The ruleset files stay open: keys are for OFREP.
    let resp = o
        .http
        .get(format!("{}/production/current.efr", o.base))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status().as_u16(), 200);

    assert_eq!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"bulk\",outcome=\"unauthorized\"}")
            .await,
        4
    );
    assert_eq!(
        o.metric("edgeflag_serve_ofrep_requests_total{endpoint=\"bulk\",outcome=\"forbidden\"}")
            .await,
        2
    );
}

/// Sends requests until one is refused, at most `max` of them and for at most
/// 10 s; returns how many passed and the refusal.
async fn until_refused(o: &Running, token: Option<&str>, max: usize) -> (usize, Answer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    for passed in 0..max {
        assert!(Instant::now() < deadline, "no refusal within 10 s");
        let a = o
            .bulk("production", json!({"targetingKey": "u1"}), &headers)
            .await;
        if a.status != 200 {
            return (passed, a);
        }
    }
    panic!("{max} requests passed a rate meant to refuse some");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_over_the_rate_get_429_with_retry_after() {
    const RATE: u32 = 5;
    let open = start("ofrep-rate-open", |c, _| c.ofrep_rate(RATE)).await;
    let (passed, refused) = until_refused(&open, None, 50).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    // The burst is one second's worth, plus what refilled while it ran.
    assert!(
        passed >= RATE as usize && passed <= 2 * RATE as usize,
        "{passed}"
    );
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=1).contains(&retry), "{retry}");
    assert!(refused.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("retry after")));
    // After the wait, requests pass again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let a = open
        .bulk("production", json!({"targetingKey": "u1"}), &[])
        .await;
    assert_eq!(a.status, 200);
    assert!(
        open.metric(
            "edgeflag_serve_ofrep_requests_total{endpoint=\"bulk\",outcome=\"rate_limited\"}"
        )
        .await
            >= 1
    );

    // With keys, each key has its own bucket.
    let keyed = start("ofrep-rate-keys", |c, root| {
        c.ofrep_rate(RATE).ofrep_keys(Some(keys_file(root)))
    })
    .await;
    let (_, refused) = until_refused(&keyed, Some(SERVER_TOKEN), 50).await;
    assert_eq!(refused.status, 429);
    assert!(refused.body["errorDetails"]
        .as_str()
        .is_some_and(|d| d.contains("this key")));
    let client = bearer(CLIENT_TOKEN);
    let a = keyed
        .bulk(
            "production",
            json!({"targetingKey": "u1"}),
            &[("authorization", &client)],
        )
        .await;
    assert_eq!(a.status, 200, "another key is not limited by the first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_still_answers_503_with_retry_after() {
    let o = start("ofrep-connection-cap", |c, _| c.max_connections(1)).await;
    // Hold the one slot with a keep-alive connection that has been answered.
    let mut held = TcpStream::connect(o.addr).await.expect("connect");
    held.write_all(b"GET /healthz HTTP/1.1\r\nHost: o\r\n\r\n")
        .await
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), held.read(&mut buf))
        .await
        .expect("answer within 10 s")
        .expect("readable");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let mut over = TcpStream::connect(o.addr).await.expect("connect");
    let body = r#"{"context":{"targetingKey":"u1"}}"#;
    let req = format!(
        "POST /production/ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: o\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    over.write_all(req.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout_at(deadline, over.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .expect("readable");
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_and_headers_on_the_ofrep_routes() {
    let o = start("ofrep-cors", |c, _| {
        c.cors(Cors::Origins(vec!["https://app.example".into()]))
    })
    .await;
    for path in [
        "/production/ofrep/v1/evaluate/flags",
        "/production.client/ofrep/v1/evaluate/flags/banner",
    ] {
        let resp = o
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", o.base))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .expect("preflight");
        assert_eq!(resp.status().as_u16(), 204, "{path}");
        let h = resp.headers();
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(get("access-control-allow-origin"), "https://app.example");
        assert!(
            get("access-control-allow-methods").contains("POST"),
            "{path}"
        );
        let allowed = get("access-control-allow-headers").to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert_eq!(get("vary"), "Origin");
    }
    let a = o
        .post(
            "/production/ofrep/v1/evaluate/flags",
            r#"{"context":{"targetingKey":"u1"}}"#,
            &[("origin", "https://app.example")],
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(a
        .header("access-control-expose-headers")
        .is_some_and(|e| e.contains("ETag")));
    let a = o
        .post(
            "/production/ofrep/v1/evaluate/flags",
            r#"{"context":{"targetingKey":"u1"}}"#,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(a.header("access-control-allow-origin"), None);

    let off = start("ofrep-cors-none", |c, _| c.cors(Cors::Disabled)).await;
    let a = off
        .post(
            "/production/ofrep/v1/evaluate/flags",
            r#"{"context":{"targetingKey":"u1"}}"#,
            &[("origin", "https://app.example")],
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("access-control-allow-origin"), None);
}

/// Reads the event stream until its text contains `needle` (at most 10 s).
async fn await_text(resp: &mut reqwest::Response, needle: &str, seen: &mut String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within 10 s: {seen}"))
            .expect("stream readable")
            .unwrap_or_else(|| panic!("stream ended before {needle:?}: {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_ruleset_changes_the_answers_the_bulk_etag_and_is_announced() {
    let o = start("ofrep-flip", |c, _| c).await;
    let us = json!({"targetingKey": "u1", "country": "US"});
    let a = o.single("banner", us.clone()).await;
    assert_eq!(a.body["value"], false);
    let before = o.bulk("production", us.clone(), &[]).await;
    let etag = before.header("etag").expect("etag").to_string();
    let client_before = o.bulk("production.client", us.clone(), &[]).await;
    let client_etag = client_before.header("etag").expect("etag").to_string();

    // Subscribe to both streams in OFREP's format before the flip.
    let mut streams = Vec::new();
    for env in ["production", "production.client"] {
        let resp = o
            .http
            .get(format!("{}/{env}/events?format=ofrep", o.base))
            .send()
            .await
            .expect("events");
        assert_eq!(resp.status().as_u16(), 200);
        streams.push(resp);
    }
    let mut seen = [String::new(), String::new()];
    for (s, text) in streams.iter_mut().zip(seen.iter_mut()) {
        await_text(s, "refetchEvaluation", text).await;
    }

    let version = o.flip("on").await;
    let a = o.single("banner", us.clone()).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["value"], true, "the new ruleset answers");
    assert_eq!(a.body["metadata"]["rulesetVersion"], version);
    let after = o
        .bulk("production", us.clone(), &[("if-none-match", &etag)])
        .await;
    assert_eq!(after.status, 200, "the old ETag no longer matches");
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    let banner = after.body["flags"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["key"] == "banner"))
        .expect("banner");
    assert_eq!(banner["value"], true);
    let client_after = o
        .bulk(
            "production.client",
            us.clone(),
            &[("if-none-match", &client_etag)],
        )
        .await;
    assert_eq!(client_after.status, 200);
    assert_ne!(client_after.header("etag"), Some(client_etag.as_str()));

    // Both streams announce the new ruleset as OFREP's refetch message.
    let etag_of = |env: &str| o.state.current(env).expect("served").etag.clone();
    for ((s, text), env) in streams
        .iter_mut()
        .zip(seen.iter_mut())
        .zip(["production", "production.client"])
    {
        let wanted = serde_json::to_string(&etag_of(env)).expect("json string");
        await_text(s, &wanted, text).await;
        assert!(!text.contains("event: ruleset"), "{text}");
        assert!(
            text.contains("data: {\"type\":\"refetchEvaluation\""),
            "{text}"
        );
    }
    // The plain stream is unchanged: `ruleset` events.
    let mut plain = o
        .http
        .get(format!("{}/production/events", o.base))
        .send()
        .await
        .expect("events");
    let mut text = String::new();
    await_text(&mut plain, "event: ruleset", &mut text).await;
    let _ = &o.root;
}

//! `edgeflag serve` as a real process on loopback: ETag/304, HEAD, CORS, the
//! event stream, `--watch` (including a source that fails validation), rulesets
//! published by another process, refused files, health, metrics, 1,000
//! concurrent pollers, SIGTERM with open event streams, and the limit, CORS and
//! OFREP flags (the limits and OFREP themselves are tested in-process in
//! `origin/tests/`).

use edgeflag_testkit::project as support;

use edgeflag_evaluator::{Context, Ruleset};
use reqwest::{header, StatusCode};
use std::time::Duration;
use support::{ok, project, s, write_source, Server};

/// Polls `check` every 20 ms until it returns `Some`, for at most 10 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("request succeeds")
}

async fn metric(base: &str, line_prefix: &str) -> u64 {
    let text = get(&format!("{base}/metrics")).await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads one `ruleset` event's data from an SSE response.
async fn next_event(resp: &mut reqwest::Response, buf: &mut String) -> serde_json::Value {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                assert!(block.contains("event: ruleset"), "{block}");
                return serde_json::from_str(data.trim()).expect("event data is JSON");
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .expect("stream readable")
            .expect("stream still open");
        buf.push_str(std::str::from_utf8(&chunk).expect("utf-8 events"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_rulesets_with_etags_and_pushes_each_new_version() {
    let (src, dir) = project("serve-watch", true, 0.1);
    let server = Server::start(&dir, 0, &["--watch", s(&src)]);
    let url = format!("{}/production/current.efr", server.base);
    let http = reqwest::Client::new();

    let resp = get(&url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    assert_eq!(
        h[header::CACHE_CONTROL],
        "public, max-age=0, must-revalidate"
    );
    assert_eq!(h[header::CONTENT_TYPE], "application/vnd.edgeflag.ruleset");
    assert_eq!(
        h[header::LINK],
        "</production/events>; rel=\"edgeflag-events\""
    );
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let rs = Ruleset::from_bytes(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(rs.header().version, 1);
    assert!(rs.bool_value("checkout", &Context::new("u"), false));

    let resp = http
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());

    let resp = http.head(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::ETAG].to_str().unwrap(), etag);

    let resp = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "http://example.test")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "if-none-match")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let allow = resp.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap();
    assert!(allow.contains("If-None-Match"), "{allow}");

    let health: serde_json::Value = get(&format!("{}/healthz", server.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["environments"]["production"], 1);
    assert_eq!(health["environments"]["staging"], 1);

    // Subscribe, then flip the kill switch in the source.
    let mut events = http
        .get(format!("{}/production/events", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut buf = String::new();
    let first = next_event(&mut events, &mut buf).await;
    assert_eq!(first["env"], "production");
    assert_eq!(first["version"], 1);
    assert_eq!(first["etag"], etag.as_str());

    write_source(&src, false, 0.1);
    let pushed = next_event(&mut events, &mut buf).await;
    assert_eq!(pushed["version"], 2);
    let resp = http
        .get(&url)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::ETAG].to_str().unwrap(),
        pushed["etag"].as_str().unwrap()
    );
    let rs = Ruleset::from_bytes(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(rs.header().version, 2);
    assert!(!rs.bool_value("checkout", &Context::new("u"), true));

    // A source that fails validation: reported, and v2 keeps serving.
    std::fs::write(
        src.join("flags.yaml"),
        "flags:\n  checkout:\n    enabled: maybe\n",
    )
    .unwrap();
    let base = server.base.clone();
    eventually("the failed compile to be counted", || {
        let base = base.clone();
        async move {
            (metric(
                &base,
                "edgeflag_serve_watch_publishes_total{result=\"failed\"}",
            )
            .await
                >= 1)
                .then_some(())
        }
    })
    .await;
    let rs = Ruleset::from_bytes(&get(&url).await.bytes().await.unwrap()).unwrap();
    assert_eq!(rs.header().version, 2);

    // The rest of the layout, and nothing outside it.
    let v1 = get(&format!(
        "{}/production/versions/{:020}.efr",
        server.base, 1
    ))
    .await;
    assert_eq!(v1.status(), StatusCode::OK);
    assert_eq!(
        v1.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let manifest: serde_json::Value = get(&format!("{}/production/manifest.json", server.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["latest"], 2);
    for path in [
        "/production/../../etc/passwd",
        "/production/.edgeflag.lock",
        "/.edgeflag.lock",
        "/production/other.txt",
        "/nope/current.efr",
    ] {
        let resp = get(&format!("{}{path}", server.base)).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }

    let not_modified = metric(
        &server.base,
        "edgeflag_serve_ruleset_requests_total{status=\"304\"}",
    )
    .await;
    assert!(not_modified >= 1);
    let served = metric(
        &server.base,
        "edgeflag_serve_ruleset_version{env=\"production\"}",
    )
    .await;
    assert_eq!(served, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picks_up_other_publishers_and_refuses_bad_files() {
    let (src, dir) = project("serve-dir", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let server = Server::start(&dir, 0, &[]);
    let url = format!("{}/production/current.efr", server.base);
    let good = get(&url).await.bytes().await.unwrap();
    assert_eq!(Ruleset::from_bytes(&good).unwrap().header().version, 1);

    // Another process publishes into the directory: served without a restart.
    write_source(&src, false, 0.1);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let u = url.clone();
    let v2 = eventually("v2 to be served", || {
        let u = u.clone();
        async move {
            let b = get(&u).await.bytes().await.ok()?;
            let rs = Ruleset::from_bytes(&b).ok()?;
            (rs.header().version == 2).then_some(b)
        }
    })
    .await;

    // Truncated, corrupt, older, and another environment's ruleset dropped in
    // place: each refused, v2 keeps serving.
    let current = dir.join("production/current.efr");
    let older = std::fs::read(dir.join("production/versions/00000000000000000001.efr")).unwrap();
    let staging = std::fs::read(dir.join("staging/current.efr")).unwrap();
    let mut corrupt = v2.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x40;
    let bad_files: [(&str, Vec<u8>); 4] = [
        ("truncated", v2[..v2.len() / 2].to_vec()),
        ("corrupt", corrupt),
        ("older", older),
        ("other environment", staging),
    ];
    for (i, (what, bytes)) in bad_files.into_iter().enumerate() {
        let tmp = dir.join("production/.bad.tmp");
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, &current).unwrap();
        let base = server.base.clone();
        eventually(what, || {
            let base = base.clone();
            async move {
                (metric(&base, "edgeflag_serve_reloads_total{result=\"refused\"}").await > i as u64)
                    .then_some(())
            }
        })
        .await;
        assert_eq!(
            get(&url).await.bytes().await.unwrap(),
            v2,
            "{what}: still serving v2"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_a_thousand_concurrent_pollers() {
    let (src, dir) = project("serve-load", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let server = Server::start(&dir, 0, &[]);
    let url = format!("{}/production/current.efr", server.base);
    const CLIENTS: usize = 1000;
    const POLLS: usize = 5;
    // Each poller has its own connection, opened before any polling starts, so
    // all 1,000 are held open at once.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CLIENTS));
    // Clients are built before any request: building one (TLS set-up included)
    // is synchronous work that would otherwise stall the runtime while other
    // pollers' requests are in flight and their timeouts run.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        })
        .collect();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|http| {
            let (url, start) = (url.clone(), start.clone());
            tokio::spawn(async move {
                let first = async {
                    let first = http.get(&url).send().await.map_err(|e| format!("{e:?}"))?;
                    let etag = first
                        .headers()
                        .get(header::ETAG)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                        .ok_or_else(|| format!("no ETag on a {}", first.status()))?;
                    first.bytes().await.map_err(|e| e.to_string())?;
                    Ok::<_, String>(etag)
                }
                .await;
                // Every poller reaches the barrier, even one whose first request
                // failed: otherwise the others would wait for it forever.
                start.wait().await;
                let etag = first?;
                let mut not_modified = 0;
                for _ in 0..POLLS {
                    let r = http
                        .get(&url)
                        .header(header::IF_NONE_MATCH, &etag)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status() == StatusCode::NOT_MODIFIED {
                        not_modified += 1;
                    }
                }
                Ok::<_, String>(not_modified)
            })
        })
        .collect();
    let mut errors = Vec::new();
    let mut total = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(n) => total += n,
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(
        total,
        CLIENTS * POLLS,
        "every conditional poll answered 304"
    );
    let counted = metric(
        &server.base,
        "edgeflag_serve_ruleset_requests_total{status=\"304\"}",
    )
    .await;
    assert_eq!(counted, (CLIENTS * POLLS) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_soon_after_sigterm_even_with_open_event_streams() {
    let (src, dir) = project("serve-sigterm", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let mut server = Server::start(&dir, 0, &[]);
    let http = reqwest::Client::new();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut events = http
            .get(format!("{}/production/events", server.base))
            .send()
            .await
            .unwrap();
        let mut buf = String::new();
        assert_eq!(next_event(&mut events, &mut buf).await["version"], 1);
        streams.push(events);
    }
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    // Generous: serve gives responses in flight 0.5 s, and ends event streams
    // at once.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    for mut events in streams {
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(_)) = events.chunk().await {}
        })
        .await;
        assert!(ended.is_ok(), "the event stream ended");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_and_cors_flags_take_effect() {
    let (src, dir) = project("serve-flags", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let server = Server::start(
        &dir,
        0,
        &[
            "--max-subscribers",
            "1",
            "--idle-timeout",
            "300ms",
            "--header-read-timeout",
            "5s",
            "--max-connections",
            "100",
            "--cors-origin",
            "https://app.example",
            "--cors-origin",
            "http://localhost:3000",
        ],
    );
    let http = reqwest::Client::new();
    let url = format!("{}/production/current.efr", server.base);

    let resp = http
        .get(&url)
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:3000"
    );
    assert_eq!(resp.headers()[header::VARY], "Origin");
    let resp = http
        .get(&url)
        .header("Origin", "https://other.example")
        .send()
        .await
        .unwrap();
    assert!(!resp
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let resp = http
        .get(format!("{}/metrics", server.base))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(!resp
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    let mut first = http
        .get(format!("{}/production/events", server.base))
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    assert_eq!(next_event(&mut first, &mut buf).await["version"], 1);
    let second = http
        .get(format!("{}/staging/events", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(second.headers().contains_key(header::RETRY_AFTER));

    // An idle keep-alive connection is closed after 300 ms (10 s allowed).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 1024];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "idle connection still open after 10 s");
    assert!(got.starts_with(b"HTTP/1.1 200"));

    for bad in [
        &["--cors-origin", "app.example"][..],
        &["--cors-origin", "*", "--cors-origin", "https://a.example"],
    ] {
        let out = support::edgeflag(&[&["serve", "--dir", s(&dir)][..], bad].concat());
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--cors-origin"),
            "{bad:?}"
        );
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ofrep_keys_and_rate_flags_take_effect() {
    use std::os::unix::fs::PermissionsExt;
    let (src, dir) = project("serve-ofrep-flags", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let keys = dir.parent().expect("project root").join("ofrep-keys");
    std::fs::write(&keys, "server production serve-test-token-0123456789\n").unwrap();

    // A keys file every user may read is refused, naming the fix.
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = support::edgeflag(&["serve", "--dir", s(&dir), "--ofrep-keys", s(&keys)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ofrep-keys") && err.contains("chmod"),
        "{err}"
    );

    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = Server::start(&dir, 0, &["--ofrep-keys", s(&keys), "--ofrep-rate", "2"]);
    let http = reqwest::Client::new();
    let url = format!(
        "{}/production/ofrep/v1/evaluate/flags/checkout",
        server.base
    );
    let body = r#"{"context":{"targetingKey":"u1"}}"#;
    let resp = http.post(&url).body(body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key(header::WWW_AUTHENTICATE));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = http
            .post(&url)
            .bearer_auth("serve-test-token-0123456789")
            .body(body)
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
        if resp.status() == StatusCode::OK {
            let v: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(v["value"], true);
            assert_eq!(v["reason"], "DEFAULT");
        } else {
            assert!(resp.headers().contains_key(header::RETRY_AFTER));
        }
    }
    assert_eq!(statuses[0], StatusCode::OK);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "two a second, four at once: {statuses:?}"
    );
}

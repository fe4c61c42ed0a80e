//! The origin's limits against real connections on loopback: header-read and
//! idle timeouts, the connection and subscriber caps, event streams only for
//! served environments, streamed layout files with a size bound, no symbolic
//! links followed, no path traversal, and CORS only where browsers poll.
//!
//! The origin runs in the test process, so each connection costs two
//! descriptors here; tests run in parallel, and CI may run with `ulimit -n` 1024:
//! no test holds more than 200 connections. Every wait is bounded.

use edgeflag_origin::{Config, Cors, Origin, State};
use edgeflag_testkit::project::{project, write_source};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A running in-process origin, stopped on drop.
struct Running {
    addr: SocketAddr,
    base: String,
    src: PathBuf,
    dir: PathBuf,
    state: Arc<State>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts an origin over a scratch project `name` (staging and production,
/// published by `--watch` at start), configured by `configure`.
async fn start(name: &str, configure: impl FnOnce(Config) -> Config) -> Running {
    let (src, dir) = project(name, true, 0.1);
    let config = Config::new(dir.clone())
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .watch(src.clone(), "test-suite".into());
    start_with(configure(config), src, dir).await
}

async fn start_with(config: Config, src: PathBuf, dir: PathBuf) -> Running {
    let origin = Origin::start(config).await.expect("origin starts");
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
        dir,
        state,
        _stop: stop,
    }
}

/// A response read off a raw connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (head and `Content-Length` body) within 10 s.
async fn read_response(s: &mut TcpStream) -> Raw {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .expect("a response within 10 s")
            .expect("readable");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut raw = Raw {
        status,
        head,
        body: buf[head_end..].to_vec(),
    };
    let len: usize = raw
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.body.len() < len {
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .expect("the body within 10 s")
            .expect("readable");
        assert!(n > 0, "closed inside the body");
        raw.body.extend_from_slice(&chunk[..n]);
    }
    raw
}

/// `GET path` on a new connection; the connection stays open (keep-alive).
async fn get_raw(addr: SocketAddr, path: &str, extra: &str) -> (TcpStream, Raw) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let resp = request(&mut s, path, extra).await;
    (s, resp)
}

async fn request(s: &mut TcpStream, path: &str, extra: &str) -> Raw {
    let req = format!("GET {path} HTTP/1.1\r\nHost: origin.test\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    read_response(s).await
}

/// Whether the server closes `s` (EOF or reset, after any bytes it still
/// sends) before `deadline`.
async fn closed_before(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

async fn metric(base: &str, line_prefix: &str) -> i64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Reads SSE chunks until one holds a `ruleset` event with `"version":N`.
async fn await_event_version(resp: &mut reqwest::Response, version: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let needle = format!("\"version\":{version}");
    let mut seen = String::new();
    while !seen.contains(&needle) {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event for v{version} within 10 s: {seen}"))
            .expect("stream readable")
            .unwrap_or_else(|| panic!("stream ended before v{version}: {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_after_the_header_read_timeout() {
    let origin = start("origin-header-timeout", |c| {
        c.header_read_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_secs(60))
    })
    .await;
    const HALF_SENT: usize = 200;
    let mut sockets = Vec::new();
    for _ in 0..HALF_SENT {
        let mut s = TcpStream::connect(origin.addr).await.expect("connect");
        s.write_all(b"GET /production/current.efr HTTP/1.1\r\nHost: origin.test\r\n")
            .await
            .expect("send half a request");
        sockets.push(s);
    }
    // Generous: the server's own timeout is 300 ms.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = 0;
    for s in &mut sockets {
        if !closed_before(s, deadline).await {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "connections still open 10 s after a 300 ms header timeout"
    );
    assert!(
        metric(
            &origin.base,
            "edgeflag_serve_connection_timeouts_total{timeout=\"header\"}"
        )
        .await
            >= HALF_SENT as i64
    );
    // A real poll is still answered.
    let (_, resp) = get_raw(origin.addr, "/production/current.efr", "").await;
    assert_eq!(resp.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_silent_connections_are_closed_but_event_streams_are_not() {
    let origin = start("origin-idle-timeout", |c| {
        c.idle_timeout(Duration::from_millis(300))
            .header_read_timeout(Duration::from_secs(10))
    })
    .await;
    let http = reqwest::Client::new();
    let mut events = http
        .get(format!("{}/production/events", origin.base))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(events.status(), 200);
    await_event_version(&mut events, 1).await;

    const IDLE: usize = 150;
    const SILENT: usize = 50;
    let mut sockets = Vec::new();
    for _ in 0..SILENT {
        sockets.push(TcpStream::connect(origin.addr).await.expect("connect"));
    }
    for _ in 0..IDLE {
        let (s, resp) = get_raw(origin.addr, "/production/current.efr", "").await;
        assert_eq!(resp.status, 200);
        assert!(resp.header("connection").is_none_or(|v| v != "close"));
        sockets.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = 0;
    for s in &mut sockets {
        if !closed_before(s, deadline).await {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "idle connections still open 10 s after a 300 ms idle timeout"
    );
    assert!(
        metric(
            &origin.base,
            "edgeflag_serve_connection_timeouts_total{timeout=\"idle\"}"
        )
        .await
            >= (IDLE + SILENT) as i64
    );

    // The event stream, quiet all this time (well past the idle timeout), is a
    // response in flight: it still carries the next version.
    write_source(&origin.src, false, 0.1);
    await_event_version(&mut events, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_get_503_with_retry_after_and_open_ones_keep_working() {
    const CAP: usize = 20;
    let origin = start("origin-connection-cap", |c| c.max_connections(CAP)).await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        let (s, resp) = get_raw(origin.addr, "/production/current.efr", "").await;
        assert_eq!(resp.status, 200);
        held.push(s);
    }

    let (mut over, resp) = get_raw(origin.addr, "/production/current.efr", "").await;
    assert_eq!(resp.status, 503, "{}", resp.head);
    let retry: u64 = resp
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(retry >= 1);
    assert!(
        closed_before(&mut over, Instant::now() + Duration::from_secs(10)).await,
        "a refused connection is closed"
    );

    // Every held connection still works.
    for s in &mut held {
        let resp = request(s, "/production/current.efr", "").await;
        assert_eq!(resp.status, 200);
    }
    // Closing one frees its slot (the server notices the close asynchronously).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut s = loop {
        let (s, resp) = get_raw(origin.addr, "/healthz", "").await;
        if resp.status == 200 {
            break s;
        }
        assert_eq!(resp.status, 503);
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let metrics = request(&mut s, "/metrics", "").await;
    let text = String::from_utf8_lossy(&metrics.body);
    let refused: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("edgeflag_serve_refused_total{what=\"connection\"}")?
                .trim()
                .parse()
                .ok()
        })
        .expect("the refusal counter");
    assert!(refused >= 1, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_over_the_cap_get_503_and_leaving_frees_the_slot() {
    const CAP: usize = 3;
    let origin = start("origin-subscriber-cap", |c| c.max_subscribers(CAP)).await;
    let http = reqwest::Client::new();
    let url = format!("{}/production/events", origin.base);
    let mut streams = Vec::new();
    for _ in 0..CAP {
        let mut s = http.get(&url).send().await.expect("subscribe");
        assert_eq!(s.status(), 200);
        await_event_version(&mut s, 1).await;
        streams.push(s);
    }
    let refused = http.get(&url).send().await.expect("answered");
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    // Another environment counts against the same total.
    let refused = http
        .get(format!("{}/staging/events", origin.base))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 503);

    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = loop {
        let resp = http.get(&url).send().await.expect("answered");
        if resp.status() == 200 {
            break resp;
        }
        assert_eq!(resp.status(), 503);
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    await_event_version(&mut again, 1).await;
    assert!(
        metric(
            &origin.base,
            "edgeflag_serve_refused_total{what=\"subscriber\"}"
        )
        .await
            >= 2
    );
    assert_eq!(
        metric(&origin.base, "edgeflag_serve_sse_clients").await,
        CAP as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_for_an_unknown_environment_are_not_found() {
    let origin = start("origin-unknown-env", |c| c).await;
    for env in ["nope", "production-typo", "a"] {
        let resp = reqwest::get(format!("{}/{env}/events", origin.base))
            .await
            .expect("answered");
        assert_eq!(resp.status(), 404, "{env}");
    }
    assert_eq!(metric(&origin.base, "edgeflag_serve_sse_clients").await, 0);
    let ok = reqwest::get(format!("{}/production/events", origin.base))
        .await
        .expect("answered");
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_files_stream_with_etags_and_oversized_ones_are_refused() {
    let origin = start("origin-files", |c| c).await;
    let key = "production/versions/00000000000000000001.efr";
    let bytes = std::fs::read(origin.dir.join(key)).expect("v1 published");
    let (mut s, resp) = get_raw(origin.addr, &format!("/{key}"), "").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, bytes);
    let etag = edgeflag_publish::layout::etag_of(&bytes);
    assert_eq!(resp.header("etag"), Some(etag.as_str()));
    assert_eq!(
        resp.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    let resp = request(
        &mut s,
        &format!("/{key}"),
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert_eq!(resp.status, 304);
    assert!(resp.body.is_empty());
    let (_, manifest) = get_raw(origin.addr, "/production/manifest.json", "").await;
    assert_eq!(manifest.status, 200);
    let m: serde_json::Value = serde_json::from_slice(&manifest.body).expect("manifest JSON");
    assert_eq!(m["latest"], 1);

    // Over the bound (a sparse file: nothing is written to disk).
    let big = origin
        .dir
        .join("production/versions/00000000000000000099.efr");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(edgeflag_origin::MAX_FILE_BYTES + 1))
        .expect("sparse file");
    let (_, resp) = get_raw(
        origin.addr,
        "/production/versions/00000000000000000099.efr",
        "",
    )
    .await;
    assert_eq!(resp.status, 404);
    assert!(resp.body.len() < 1024);
    assert!(metric(&origin.base, "edgeflag_serve_refused_total{what=\"file\"}").await >= 1);
    let _ = std::fs::remove_file(&big);
}

/// Publishes the test project into `dest` (both environments, version 1).
async fn publish_into(src: &Path, dest: &Path) {
    let compiled = edgeflag_compiler::compile_path(src).expect("the source compiles");
    let store = edgeflag_publish::store::Store::Dir(edgeflag_publish::store::DirStore::new(
        dest.to_path_buf(),
    ));
    for env in &compiled {
        let p = edgeflag_publish::Publication::new(&env.name, &env.body).actor("test-suite");
        edgeflag_publish::publish(&store, &p)
            .await
            .expect("published");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_in_the_publish_directory_are_not_followed() {
    use std::os::unix::fs::symlink;
    let (src, dir) = project("origin-symlinks", true, 0.1);
    let outside = dir.with_file_name("outside");
    let _ = std::fs::remove_dir_all(&outside);
    publish_into(&src, &outside).await;
    publish_into(&src, &dir).await;
    std::fs::write(outside.join("secret.json"), "{\"secret\": true}").expect("secret");
    // A linked environment directory, and linked files in a real one.
    std::fs::remove_dir_all(dir.join("staging")).expect("remove staging");
    symlink(outside.join("staging"), dir.join("staging")).expect("link staging");
    symlink(
        outside.join("production/versions/00000000000000000001.efr"),
        dir.join("production/versions/00000000000000000099.efr"),
    )
    .expect("link a version");
    symlink(
        outside.join("secret.json"),
        dir.join("production/audit/00000000000000000099.json"),
    )
    .expect("link an audit record");

    let config = Config::new(dir.clone()).listen(SocketAddr::from(([127, 0, 0, 1], 0)));
    let origin = start_with(config, src, dir).await;
    assert_eq!(
        origin
            .state
            .versions()
            .into_iter()
            .map(|(e, _)| e)
            .collect::<Vec<_>>(),
        ["production"],
        "the linked staging directory is not loaded"
    );
    let (_, resp) = get_raw(origin.addr, "/production/current.efr", "").await;
    assert_eq!(resp.status, 200);
    for path in [
        "/staging/current.efr",
        "/staging/manifest.json",
        "/staging/versions/00000000000000000001.efr",
        "/staging/events",
        "/production/versions/00000000000000000099.efr",
        "/production/audit/00000000000000000099.json",
    ] {
        let (_, resp) = get_raw(origin.addr, path, "").await;
        assert_eq!(resp.status, 404, "{path}");
    }
    assert!(
        metric(
            &origin.base,
            "edgeflag_serve_reloads_total{result=\"refused\"}"
        )
        .await
            >= 1,
        "the linked environment is counted as refused"
    );
    assert!(metric(&origin.base, "edgeflag_serve_refused_total{what=\"file\"}").await >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_is_refused() {
    let origin = start("origin-traversal", |c| c).await;
    // A file beside the publish directory that traversal would reach.
    std::fs::write(origin.dir.with_file_name("manifest.json"), "{}").expect("bait");
    for path in [
        "/production/../staging/manifest.json",
        "/production/../../manifest.json",
        "/production/%2e%2e/%2e%2e/manifest.json",
        "/%2e%2e/manifest.json",
        "/production/versions/..%2f..%2fmanifest.json",
        "/production%2fmanifest.json",
        "/production/versions/%2e%2e%2fmanifest.json",
        "/production//manifest.json",
        "/./production/manifest.json",
        "/production/.edgeflag.lock",
    ] {
        let (_, resp) = get_raw(origin.addr, path, "").await;
        assert!(
            resp.status == 404 || resp.status == 400,
            "{path}: {}",
            resp.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_headers_only_where_browsers_poll() {
    let origin = start("origin-cors-default", |c| c).await;
    let with_origin = "Origin: https://app.example\r\n";
    let polled = [
        "/production/current.efr",
        "/production/versions/00000000000000000001.efr",
    ];
    for path in polled {
        let (_, resp) = get_raw(origin.addr, path, with_origin).await;
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(
            resp.header("access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert!(
            resp.header("access-control-expose-headers").is_some(),
            "{path}"
        );
    }
    let mut events = TcpStream::connect(origin.addr).await.expect("connect");
    events
        .write_all(
            format!("GET /production/events HTTP/1.1\r\nHost: o\r\n{with_origin}\r\n").as_bytes(),
        )
        .await
        .expect("send");
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout_at(deadline, events.read(&mut chunk))
            .await
            .expect("event stream head within 10 s")
            .expect("readable");
        assert!(n > 0);
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    for path in [
        "/metrics",
        "/healthz",
        "/production/manifest.json",
        "/production/audit/00000000000000000001.json",
    ] {
        let (_, resp) = get_raw(origin.addr, path, with_origin).await;
        assert_eq!(resp.status, 200, "{path}");
        assert_eq!(resp.header("access-control-allow-origin"), None, "{path}");
        assert_eq!(resp.header("access-control-expose-headers"), None, "{path}");
    }

    // A list: only listed origins are echoed, and caches are told it varies.
    let listed = start("origin-cors-list", |c| {
        c.cors(Cors::Origins(vec!["https://app.example".into()]))
    })
    .await;
    let (_, resp) = get_raw(listed.addr, "/production/current.efr", with_origin).await;
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(resp.header("vary"), Some("Origin"));
    let (_, resp) = get_raw(
        listed.addr,
        "/production/current.efr",
        "Origin: https://evil.example\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("access-control-allow-origin"), None);
    assert_eq!(resp.header("vary"), Some("Origin"));
    let (_, resp) = get_raw(listed.addr, "/metrics", with_origin).await;
    assert_eq!(resp.header("access-control-allow-origin"), None);

    let disabled = start("origin-cors-none", |c| c.cors(Cors::Disabled)).await;
    let (_, resp) = get_raw(disabled.addr, "/production/current.efr", with_origin).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_event_streams_and_returns() {
    let (src, dir) = project("origin-stop", true, 0.1);
    let config = Config::new(dir.clone())
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .watch(src, "test-suite".into());
    let origin = Origin::start(config).await.expect("origin starts");
    let base = format!("http://{}", origin.local_addr().expect("bound"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(origin.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut s = http
            .get(format!("{base}/production/events"))
            .send()
            .await
            .expect("subscribe");
        await_event_version(&mut s, 1).await;
        streams.push(s);
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("run_until returns within 5 s of the stop")
        .expect("the task did not panic")
        .expect("no server error");
    for mut s in streams {
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(_)) = s.chunk().await {}
        })
        .await;
        assert!(end.is_ok(), "the event stream ended");
    }
}

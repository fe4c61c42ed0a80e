//! OFREP throughput on loopback, next to the 304 rate of `current.efr`:
//! requests a second for
//!
//! * `GET /production/current.efr` with a matching `If-None-Match` (304);
//! * `POST .../ofrep/v1/evaluate/flags/{key}` (one flag, a rule match);
//! * `POST .../ofrep/v1/evaluate/flags` (all 50 flags of the bench source);
//! * the same bulk request with its `If-None-Match` (304).
//!
//! The origin runs in this process on its own runtime (one worker per core,
//! as `edgeflag serve`); the load comes from `OFREP_BENCH_CONNECTIONS`
//! keep-alive connections (default 64) on a single-threaded runtime, each
//! sending its next request when the previous answer is read, for
//! `OFREP_BENCH_SECS` seconds per scenario (default 3) and at most 2,000,000
//! requests. Client and origin share the machine's cores, as wrk would. The
//! rate limit is off (`ofrep_rate(0)`).
//!
//! `cargo bench -p edgeflag-origin --bench ofrep`

use edgeflag_origin::{Config, Origin};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_REQUESTS: u64 = 2_000_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 50 flags: booleans with a rule, strings with targets, numbers, JSON
/// objects, and percentage rollouts.
fn source() -> String {
    let mut s = String::from("environments: [production]\nflags:\n");
    for i in 0..10 {
        s.push_str(&format!(
            "  bool-{i}:\n    rules:\n      - id: r{i}\n        clauses: [{{attribute: country, op: in, values: [DE, AT]}}]\n        serve: \"on\"\n    fallthrough: \"off\"\n\
             \x20 string-{i}:\n    variations: {{a: alpha, b: beta}}\n    off_variation: a\n    targets: {{b: [user-{i}]}}\n    fallthrough: a\n\
             \x20 number-{i}:\n    variations: {{low: 1, high: 2.5}}\n    off_variation: low\n    fallthrough: high\n\
             \x20 object-{i}:\n    variations: {{v: {{cols: {i}, dense: true}}}}\n    off_variation: v\n    fallthrough: v\n\
             \x20 rollout-{i}:\n    fallthrough: {{rollout: {{\"on\": 50, \"off\": 50}}}}\n"
        ));
    }
    s
}

/// A raw request and how to tell its expected answer.
struct Scenario {
    name: &'static str,
    request: Vec<u8>,
    status: &'static [u8],
}

/// Reads one response (head and `Content-Length` body) into `buf`; returns
/// whether its status line starts with `status`.
async fn read_response(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    status: &[u8],
) -> std::io::Result<bool> {
    buf.clear();
    let mut chunk = [0u8; 16 << 10];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf[9..].starts_with(status))
}

/// Drives `connections` keep-alive connections with `sc` for `secs`; returns
/// (answers as expected, others, elapsed).
async fn run(addr: SocketAddr, sc: &Scenario, connections: u64, secs: u64) -> (u64, u64, Duration) {
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let request = Arc::new(sc.request.clone());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (ok, bad, stop, request) = (ok.clone(), bad.clone(), stop.clone(), request.clone());
        let status = sc.status;
        tasks.push(tokio::task::spawn_local(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else {
                bad.fetch_add(1, Relaxed);
                return;
            };
            let _ = s.set_nodelay(true);
            let mut buf = Vec::with_capacity(16 << 10);
            while !stop.load(Relaxed) {
                if Instant::now() >= deadline
                    || ok.load(Relaxed) + bad.load(Relaxed) >= MAX_REQUESTS
                {
                    stop.store(true, Relaxed);
                    break;
                }
                if s.write_all(&request).await.is_err() {
                    bad.fetch_add(1, Relaxed);
                    return;
                }
                match read_response(&mut s, &mut buf, status).await {
                    Ok(true) => ok.fetch_add(1, Relaxed),
                    Ok(false) => bad.fetch_add(1, Relaxed),
                    Err(_) => {
                        bad.fetch_add(1, Relaxed);
                        return;
                    }
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Relaxed), bad.load(Relaxed), started.elapsed())
}

fn post(path: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The ETag of a one-off request's answer.
async fn etag_of(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("send");
    let mut buf = Vec::new();
    assert!(read_response(&mut s, &mut buf, b"200")
        .await
        .expect("answer"));
    let head = String::from_utf8_lossy(&buf).to_string();
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("etag").then(|| v.trim().to_string())
        })
        .expect("an ETag")
}

fn main() {
    let secs = env_u64("OFREP_BENCH_SECS", 3).clamp(1, 60);
    let connections = env_u64("OFREP_BENCH_CONNECTIONS", 64).clamp(1, 512);
    let root = std::env::temp_dir().join(format!("edgeflag-ofrep-bench-{}", std::process::id()));
    let (src, dir) = (root.join("src"), root.join("pub"));
    std::fs::create_dir_all(&src).expect("source dir");
    std::fs::write(src.join("flags.yaml"), source()).expect("source");

    // The origin, on its own runtime and thread.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let config = Config::new(dir)
                .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
                .watch(src, "bench".into())
                .ofrep_rate(0);
            let origin = Origin::start(config).await.expect("origin starts");
            addr_tx
                .send(origin.local_addr().expect("bound"))
                .expect("send addr");
            origin
                .run_until(async {
                    let _ = stop_rx.await;
                })
                .await
                .expect("origin ran");
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("origin address");

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&client, async {
        let context = r#"{"context":{"targetingKey":"user-3","country":"DE","plan":"pro","email":"a@example.com"}}"#;
        let current = b"GET /production/current.efr HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec();
        let current_etag = etag_of(addr, &current).await;
        let bulk_path = "/production/ofrep/v1/evaluate/flags";
        let bulk_etag = etag_of(addr, &post(bulk_path, context, "")).await;
        let scenarios = [
            Scenario {
                name: "current.efr 304",
                request: format!(
                    "GET /production/current.efr HTTP/1.1\r\nHost: bench\r\nIf-None-Match: {current_etag}\r\n\r\n"
                )
                .into_bytes(),
                status: b"304",
            },
            Scenario {
                name: "OFREP single (1 flag)",
                request: post("/production/ofrep/v1/evaluate/flags/bool-3", context, ""),
                status: b"200",
            },
            Scenario {
                name: "OFREP bulk (50 flags)",
                request: post(bulk_path, context, ""),
                status: b"200",
            },
            Scenario {
                name: "OFREP bulk 304",
                request: post(bulk_path, context, &format!("If-None-Match: {bulk_etag}\r\n")),
                status: b"304",
            },
        ];
        println!(
            "OFREP on loopback: {connections} connections, {secs} s per scenario, {} cores shared by client and origin",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        for sc in &scenarios {
            let (ok, bad, took) = run(addr, sc, connections, secs).await;
            let rate = ok as f64 / took.as_secs_f64();
            println!(
                "  {:<24} {:>9.0} req/s  ({ok} answers in {:.2} s{})",
                sc.name,
                rate,
                took.as_secs_f64(),
                if bad > 0 { format!(", {bad} unexpected") } else { String::new() }
            );
            assert_eq!(bad, 0, "{}: unexpected answers", sc.name);
        }
    });
    let _ = stop_tx.send(());
    let _ = server.join();
    let _ = std::fs::remove_dir_all(&root);
}

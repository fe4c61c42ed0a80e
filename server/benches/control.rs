//! The control plane under load, on loopback (not criterion: latencies per
//! client and throughput over many writers, bounded in count and time).
//!
//! 1. **Kill switch → clients.** A real `edgeflag-server` (SQLite), a flag
//!    on; `KILL_ROUNDS` (default 20) times: the API toggle is sent, and the
//!    clock runs until a polling client (500 ms, push off) and a push client
//!    (SSE) each evaluate the new value. p50/p99/max per kind. The clock
//!    includes the whole change: compile, commit, audit, publish, answer.
//! 2. **Writers.** `WRITERS` (default 50) concurrent writers each create
//!    `WRITES` (default 10) flags, on SQLite and — when
//!    `EDGEFLAG_TEST_POSTGRES_URL` names a server — on PostgreSQL. Reports
//!    changes/s and checks: every request 201 (no 5xx), every change its own
//!    revision, published versions strictly increasing.
//!
//! `cargo bench -p edgeflag-server --bench control`.

use edgeflag_client::Client;
use edgeflag_evaluator::Context;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TOKEN: &str = "efk_bench_admin_0123456789abcdef0123456789abcdef";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(name: &str, database: Option<String>) -> Running {
    let data = std::env::temp_dir().join(format!("edgeflag-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let config = edgeflag_server::Config::new(data)
        .listen("127.0.0.1:0".parse().unwrap())
        .database(database)
        .bootstrap_token(Some(TOKEN.into()));
    let server = edgeflag_server::Server::start(config)
        .await
        .expect("server starts");
    let base = format!("http://{}", server.local_addr().unwrap());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = server
            .run_until(async {
                let _ = rx.await;
            })
            .await;
    });
    Running { base, stop, task }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let resp = http
        .post(url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    println!(
        "{name:<34} n={:<4} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1]
    );
}

async fn kill_switch() {
    let rounds = env_usize("KILL_ROUNDS", 20);
    let s = start("kill", None).await;
    let http = reqwest::Client::new();
    let (st, _) = post(
        &http,
        format!("{}/api/v1/flags", s.base),
        json!({"key": "kill", "definition": {}}),
    )
    .await;
    assert_eq!(st, 201);
    let url = format!("{}/production/current.efr", s.base);
    let polling = Client::builder(&url).push(false).start().unwrap();
    let pushed = Client::builder(&url)
        .push_poll_interval(Duration::from_secs(60))
        .start()
        .unwrap();
    polling.ready(Duration::from_secs(5)).await;
    pushed.ready(Duration::from_secs(5)).await;
    let ctx = Context::new("u1");
    let (mut poll_ms, mut push_ms, mut api_ms) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let enabled = round % 2 == 1;
        // Let the push client's stream settle after the previous round.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let t0 = Instant::now();
        let (st, _) = post(
            &http,
            format!(
                "{}/api/v1/flags/kill/environments/production/toggle",
                s.base
            ),
            json!({"enabled": enabled}),
        )
        .await;
        assert_eq!(st, 200);
        api_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        let (mut poll_at, mut push_at) = (None, None);
        let deadline = t0 + Duration::from_secs(5);
        while (poll_at.is_none() || push_at.is_none()) && Instant::now() < deadline {
            if poll_at.is_none() && polling.bool_value("kill", &ctx, !enabled) == enabled {
                poll_at = Some(t0.elapsed());
            }
            if push_at.is_none() && pushed.bool_value("kill", &ctx, !enabled) == enabled {
                push_at = Some(t0.elapsed());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        poll_ms.push(
            poll_at
                .expect("the polling client saw the flip within 5 s")
                .as_secs_f64()
                * 1e3,
        );
        push_ms.push(
            push_at
                .expect("the push client saw the flip within 5 s")
                .as_secs_f64()
                * 1e3,
        );
    }
    println!("kill switch via the API ({rounds} flips, SQLite):");
    summary("  API answer (published)", api_ms);
    summary("  polling client (500 ms)", poll_ms);
    summary("  push client (SSE)", push_ms);
    polling.close();
    pushed.close();
    let _ = s.stop.send(());
    let _ = s.task.await;
}

async fn writers(label: &str, database: Option<String>) {
    let (n, each) = (env_usize("WRITERS", 50), env_usize("WRITES", 10));
    let s = start(label, database).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..n {
        let base = s.base.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut revisions = Vec::new();
            for i in 0..each {
                let (st, v) = post(
                    &http,
                    format!("{base}/api/v1/flags"),
                    json!({"key": format!("w{w}-{i}")}),
                )
                .await;
                assert_eq!(st, 201, "writer {w}: {v}");
                revisions.push(v["revision"].as_i64().unwrap());
            }
            revisions
        }));
    }
    let mut revisions = Vec::new();
    for t in tasks {
        revisions.extend(t.await.unwrap());
    }
    let took = started.elapsed();
    let total = revisions.len();
    revisions.sort();
    revisions.dedup();
    assert_eq!(revisions.len(), total, "every change its own revision");
    let http = reqwest::Client::new();
    let h: Value = http
        .get(format!("{}/api/v1/environments/production/history", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions: Vec<u64> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] > w[1]),
        "versions strictly increase"
    );
    assert!(versions.len() > total, "every change was published");
    println!(
        "{label:<10} {n} writers x {each}: {total} changes in {:.2} s = {:.0} changes/s (each compiled, committed, audited, published)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    let _ = s.stop.send(());
    let _ = s.task.await;
}

/// A new database on the server of `admin_url`, for one run.
async fn fresh_database(admin_url: &str) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    let name = format!("bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create a database");
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        kill_switch().await;
        writers("SQLite", None).await;
        match std::env::var("EDGEFLAG_TEST_POSTGRES_URL") {
            Ok(url) => writers("PostgreSQL", Some(fresh_database(&url).await)).await,
            Err(_) => println!(
                "PostgreSQL: not run (set EDGEFLAG_TEST_POSTGRES_URL; infra/local/postgres.sh)"
            ),
        }
    });
}

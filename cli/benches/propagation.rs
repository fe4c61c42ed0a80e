//! Kill-switch propagation: publish a flip and measure, per client, the time
//! until it evaluates the new value. Reports p50/p99/max for
//!
//! * 1,000 polling clients (default 500 ms interval, phases spread over one
//!   interval as in a running fleet) against (a) `edgeflag serve`, (b) Garage's
//!   web endpoint, (c) nginx revalidating in front of Garage;
//! * push-subscribed clients (SSE, polling only once a minute) against
//!   `edgeflag serve` — S3 and CDNs have no push channel.
//!
//! The clock starts just before `edgeflag publish` runs, so publishing (compile,
//! five object writes) is included. (b) and (c) need the local stack
//! (`infra/local/stack.sh start`, `eval "$(infra/local/stack.sh env)"`) and are
//! reported as not run otherwise.
//!
//! `cargo bench -p edgeflag-cli --bench propagation` (`PROPAGATION_CLIENTS`,
//! `PROPAGATION_ROUNDS` to change the defaults of 1000 and 3).

use edgeflag_client::Client;
use edgeflag_evaluator::Context;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeflag_testkit::project as support;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn publish(src: &Path, to: &str, endpoint: Option<&str>) {
    let mut args = vec![
        "publish",
        support::s(src),
        "--to",
        to,
        "--env",
        "production",
    ];
    if let Some(e) = endpoint {
        args.extend(["--endpoint-url", e]);
    }
    support::ok(&args);
}

/// Per-client time of the flip, in a shared slot.
type Seen = Arc<Mutex<Vec<Option<Instant>>>>;

/// Starts `n` clients on `url`, spread over one poll interval; each records the
/// first moment it evaluates `checkout` as `expect`.
async fn start_clients(
    url: &str,
    n: usize,
    push: bool,
    seen: &Seen,
    expect: Arc<Mutex<bool>>,
) -> Vec<Client> {
    let mut clients = Vec::with_capacity(n);
    let spread = edgeflag_client::DEFAULT_POLL_INTERVAL;
    for i in 0..n {
        let (seen, expect) = (seen.clone(), expect.clone());
        let mut b = Client::builder(url).on_change(move |rs| {
            let want = *expect.lock().unwrap();
            if rs.bool_value("checkout", &Context::new("u"), !want) == want {
                let mut s = seen.lock().unwrap();
                if s[i].is_none() {
                    s[i] = Some(Instant::now());
                }
            }
        });
        b = if push {
            b.poll_interval(Duration::from_secs(60))
        } else {
            b.push(false)
        };
        clients.push(b.start().expect("client starts"));
        tokio::time::sleep(spread / n as u32).await;
    }
    for c in &clients {
        assert!(
            c.ready(Duration::from_secs(30)).await,
            "client not ready: {:?}",
            c.status()
        );
    }
    clients
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Where flips are published, and what the source says now.
struct Publisher {
    src: PathBuf,
    to: String,
    endpoint: Option<String>,
    on: bool,
}

/// Runs `rounds` flips with `clients_n` clients on `url` and prints the delays.
async fn measure(
    label: &str,
    url: &str,
    clients_n: usize,
    push: bool,
    rounds: usize,
    p: &mut Publisher,
) {
    let seen: Seen = Arc::new(Mutex::new(vec![None; clients_n]));
    let expect = Arc::new(Mutex::new(false));
    let clients = start_clients(url, clients_n, push, &seen, expect.clone()).await;
    let mut delays = Vec::with_capacity(clients_n * rounds);
    let mut missing = 0;
    for _ in 0..rounds {
        // Let the fleet settle into its polling phases.
        tokio::time::sleep(Duration::from_millis(700)).await;
        p.on = !p.on;
        *expect.lock().unwrap() = p.on;
        seen.lock().unwrap().iter_mut().for_each(|s| *s = None);
        support::write_source(&p.src, p.on, 0.1);
        let t0 = Instant::now();
        let (src2, to2, ep2) = (p.src.clone(), p.to.clone(), p.endpoint.clone());
        tokio::task::spawn_blocking(move || publish(&src2, &to2, ep2.as_deref()))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let done = seen.lock().unwrap().iter().all(Option::is_some);
            if done || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for s in seen.lock().unwrap().iter() {
            match s {
                Some(t) => delays.push(t.duration_since(t0)),
                None => missing += 1,
            }
        }
    }
    drop(clients);
    delays.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if delays.is_empty() {
        println!("{label:<44} no client saw the change");
        return;
    }
    println!(
        "{label:<44} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms   ({} samples{})",
        ms(percentile(&delays, 0.5)),
        ms(percentile(&delays, 0.99)),
        ms(*delays.last().unwrap()),
        delays.len(),
        if missing > 0 {
            format!(", {missing} MISSED")
        } else {
            String::new()
        }
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing we use.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_usize("PROPAGATION_CLIENTS", 1000);
    let rounds = env_usize("PROPAGATION_ROUNDS", 3);
    let push_n = env_usize("PROPAGATION_PUSH_CLIENTS", 1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("kill-switch propagation: {n} polling clients, {push_n} push clients, {rounds} flips each\n");
    rt.block_on(async {
        let (src, dir) = support::project("propagation", true, 0.1);
        let mut p = Publisher {
            src: src.clone(),
            to: dir.to_str().unwrap().to_string(),
            endpoint: None,
            on: true,
        };
        publish(&src, &p.to, None);
        let origin = support::Server::start(&dir, 0, &[]);
        let url = format!("{}/production/current.efr", origin.base);
        measure("(a) edgeflag serve, polling", &url, n, false, rounds, &mut p).await;
        measure("(a) edgeflag serve, push (SSE)", &url, push_n, true, rounds, &mut p).await;
        drop(origin);

        let stack = (
            std::env::var("EDGEFLAG_S3_ENDPOINT"),
            std::env::var("EDGEFLAG_S3_BUCKET"),
            std::env::var("EDGEFLAG_GARAGE_WEB_URL"),
            std::env::var("EDGEFLAG_CDN_URL"),
        );
        let (Ok(endpoint), Ok(bucket), Ok(web), Ok(cdn)) = stack else {
            println!("(b) Garage, (c) nginx in front of Garage: not run (start the stack: infra/local/stack.sh start; eval \"$(infra/local/stack.sh env)\")");
            return;
        };
        let prefix = format!("propagation-{}", std::process::id());
        let to = format!("s3://{bucket}/{prefix}");
        publish(&src, &to, Some(&endpoint));
        p.to = to;
        p.endpoint = Some(endpoint);
        let url = format!("{web}/{prefix}/production/current.efr");
        measure("(b) Garage web endpoint, polling", &url, n, false, rounds, &mut p).await;
        let url = format!("{cdn}/{prefix}/production/current.efr");
        measure("(c) nginx (revalidating) + Garage, polling", &url, n, false, rounds, &mut p).await;
    });
}

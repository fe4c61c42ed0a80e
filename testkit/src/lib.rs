//! # edgeflag-testkit
//!
//! Test support shared by the workspace's crates, so each test file does not carry
//! its own copy (not published):
//!
//! | module | holds |
//! |---|---|
//! | [`rulesets`] | [`rulesets::Builder`]: bodies and encoded rulesets built by hand, below the compiler |
//! | [`alloc`] | a counting global allocator, to prove a path allocates nothing |
//! | [`origin`] | a misbehaving HTTP origin on loopback for client tests |
//! | [`project`] | scratch flag projects, running the `edgeflag` binary, a running `edgeflag serve` |
//!
//! and the small helpers below.
#![warn(missing_docs)]

pub mod alloc;
pub mod origin;
pub mod project;
pub mod rulesets;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Polls `f` every 20 ms until it holds; fails the test after 10 s.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A path named `name` in a fresh, empty directory of its own.
pub fn temp_path(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "edgeflag-test-{}-{n}-{}",
        std::process::id(),
        name.replace(['/', '.'], "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temp directory");
    dir.join(name)
}

/// A URL of [`origin::RULESET_PATH`] on a loopback port nothing listens on.
pub async fn dead_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}{}", origin::RULESET_PATH)
}

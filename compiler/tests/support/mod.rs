//! Helpers shared by the tests that run the `edgeflag` binary as a process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Runs `edgeflag ARGS` to completion.
pub fn edgeflag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgeflag"))
        .args(args)
        .env("EDGEFLAG_ACTOR", "test-suite")
        .output()
        .expect("runs the edgeflag binary")
}

/// Runs `edgeflag ARGS` and asserts it succeeded; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let o = edgeflag(args);
    assert!(
        o.status.success(),
        "edgeflag {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A one-file flag source with a kill switch `checkout` (on or off) and a
/// numeric knob whose value is `knob`, for environments staging and production.
pub fn source(checkout_on: bool, knob: f64) -> String {
    format!(
        "environments: [staging, production]\n\
         flags:\n\
         \x20 checkout:\n\
         \x20   enabled: {checkout_on}\n\
         \x20 skip-rate:\n\
         \x20   variations: {{a: {knob}}}\n\
         \x20   off_variation: a\n\
         \x20   fallthrough: a\n"
    )
}

/// Writes [`source`] to `dir/flags.yaml` (atomically, as editors do).
pub fn write_source(dir: &Path, checkout_on: bool, knob: f64) {
    let tmp = dir.join(".flags.yaml.tmp");
    std::fs::write(&tmp, source(checkout_on, knob)).expect("write source");
    std::fs::rename(&tmp, dir.join("flags.yaml")).expect("rename source");
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A running `edgeflag serve`, killed on drop.
pub struct Server {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `edgeflag serve --dir DIR --listen 127.0.0.1:PORT [EXTRA…]` (port 0
    /// picks a free one) and waits for its "listening on" line.
    pub fn start(dir: &Path, port: u16, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgeflag"))
            .args([
                "serve",
                "--dir",
                s(dir),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .env("EDGEFLAG_ACTOR", "test-suite")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn edgeflag serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("serve printed a line")
            .expect("readable stdout");
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in base url")
    }

    /// Stops it (SIGKILL) and waits.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

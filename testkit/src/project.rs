//! Scratch flag projects, and the `edgeflag` binary run as a process: one-shot
//! commands, racing publishers, and a running `edgeflag serve`.
//!
//! The binary is found beside the test executable (`target/<profile>/edgeflag`,
//! which cargo builds before the tests of the crate that owns it), or at
//! `$EDGEFLAG_BIN`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The directory of the running test executable's profile (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("target/<profile>/deps");
    if deps.ends_with("deps") {
        deps.parent().expect("target/<profile>").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// The `edgeflag` binary: `$EDGEFLAG_BIN`, else `target/<profile>/edgeflag`.
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("EDGEFLAG_BIN") {
        return PathBuf::from(p);
    }
    let p = profile_dir().join(format!("edgeflag{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.is_file(),
        "{} not found: run the tests of edgeflag-cli (cargo builds its binary first) or set EDGEFLAG_BIN",
        p.display()
    );
    p
}

/// `edgeflag ARGS` with extra environment variables, not yet started.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args).env("EDGEFLAG_ACTOR", "test-suite");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `edgeflag ARGS` to completion.
pub fn edgeflag(args: &[&str]) -> Output {
    edgeflag_env(args, &[])
}

/// Runs `edgeflag ARGS` with extra environment variables to completion.
pub fn edgeflag_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env)
        .output()
        .expect("runs the edgeflag binary")
}

/// Runs `edgeflag ARGS` and asserts it succeeded; returns stdout.
pub fn ok(args: &[&str]) -> String {
    ok_env(args, &[])
}

/// Runs `edgeflag ARGS` with extra environment variables and asserts it
/// succeeded; returns stdout.
pub fn ok_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = edgeflag_env(args, env);
    assert!(
        o.status.success(),
        "edgeflag {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `n` processes of `edgeflag ARGS --actor publisher-<i>` at once and
/// asserts that each succeeded.
pub fn publish_concurrently(n: usize, args: &[&str], env: &[(&str, &str)]) {
    let children: Vec<_> = (0..n)
        .map(|i| {
            command(args, env)
                .args(["--actor", &format!("publisher-{i}")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn edgeflag")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().expect("edgeflag ran");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// Asserts that a manifest lists one version per racing `publisher-<i>` of
/// [`publish_concurrently`], strictly increasing; returns the versions.
pub fn assert_every_racer_landed(manifest: &serde_json::Value, n: usize) -> Vec<u64> {
    let entries = manifest["versions"].as_array().expect("versions");
    let versions: Vec<u64> = entries
        .iter()
        .map(|e| e["version"].as_u64().expect("version"))
        .collect();
    assert_eq!(versions.len(), n, "no update lost: {manifest}");
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    let mut actors: Vec<&str> = entries
        .iter()
        .map(|e| e["actor"].as_str().expect("actor"))
        .collect();
    actors.sort_unstable();
    let expected: Vec<String> = (0..n).map(|i| format!("publisher-{i}")).collect();
    assert_eq!(
        actors,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    versions
}

/// A fresh scratch directory `target/tmp/<name>`.
pub fn scratch(name: &str) -> PathBuf {
    let target = profile_dir();
    let target = target.parent().unwrap_or(&target);
    let dir = target.join("tmp").join(name);
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

/// A scratch project `name`: a source directory holding [`source`] and an empty
/// publish directory beside it. Returns `(src, pub)`.
pub fn project(name: &str, checkout_on: bool, knob: f64) -> (PathBuf, PathBuf) {
    let root = scratch(name);
    let (src, dest) = (root.join("src"), root.join("pub"));
    std::fs::create_dir_all(&src).expect("source dir");
    write_source(&src, checkout_on, knob);
    (src, dest)
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
        let mut child = Command::new(bin())
            .args([
                "serve",
                "--dir",
                s(dir),
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .env("EDGEFLAG_ACTOR", "test-suite")
            .env("EDGEFLAG_LOG", "warn")
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

/// A running `edgeflag server` (the control plane) on a free loopback port,
/// killed when dropped (also when a test fails).
#[derive(Debug)]
pub struct ControlPlane {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The admin token it printed on a first start.
    pub token: Option<String>,
}

impl ControlPlane {
    /// Starts `edgeflag server --listen 127.0.0.1:0 <args>` with `env` set
    /// (`EDGEFLAG_BOOTSTRAP_TOKEN` only when `env` gives it), and reads its
    /// first lines: where it listens and the token it made, if any.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ControlPlane {
        let mut child = Command::new(bin())
            .args(["server", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("EDGEFLAG_BOOTSTRAP_TOKEN")
            .envs(env.iter().copied())
            .env("EDGEFLAG_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn edgeflag server");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let first = lines
            .next()
            .expect("a first line")
            .expect("readable stdout");
        let base = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_owned();
        let mut token = None;
        for line in lines.by_ref() {
            let line = line.expect("readable stdout");
            if let Some(t) = line.trim().strip_prefix("export EDGEFLAG_TOKEN=") {
                token = Some(t.to_owned());
            }
            if line.contains("curl") || line.contains("sign in with") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        ControlPlane { child, base, token }
    }

    /// Kills the process (as a crash would).
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()
    }

    /// Waits for the process to end.
    pub fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.wait()
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

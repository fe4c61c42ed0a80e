//! Counters `edgeflag serve` exposes at `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

/// The server's counters and gauges. All relaxed atomics: no lock on the request path.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Ruleset responses with a body (`200`).
    pub ruleset_full: AtomicU64,
    /// Ruleset requests answered `304 Not Modified`.
    pub ruleset_not_modified: AtomicU64,
    /// Other files of the layout served.
    pub files: AtomicU64,
    /// Requests answered `404`.
    pub not_found: AtomicU64,
    /// Body bytes sent.
    pub bytes_sent: AtomicU64,
    /// Open event-stream subscriptions.
    pub sse_clients: AtomicI64,
    /// Events sent to subscribers.
    pub sse_events: AtomicU64,
    /// Event streams refused at the subscriber cap (`503`).
    pub sse_refused: AtomicU64,
    /// Open connections.
    pub connections: AtomicI64,
    /// Connections refused at the connection cap (`503`, then closed).
    pub connections_refused: AtomicU64,
    /// Connections closed for sending no complete request head in time.
    pub header_timeouts: AtomicU64,
    /// Keep-alive connections closed for being idle too long.
    pub idle_timeouts: AtomicU64,
    /// Files of the layout refused: a symbolic link, replaced while opened, too large.
    pub files_refused: AtomicU64,
    /// New rulesets picked up from the directory.
    pub reloads: AtomicU64,
    /// Files in the directory refused (corrupt, older, wrong environment).
    pub reload_refused: AtomicU64,
    /// `--watch` publishes that succeeded.
    pub publish_ok: AtomicU64,
    /// `--watch` compiles or publishes that failed.
    pub publish_failed: AtomicU64,
    /// OFREP requests by endpoint and outcome.
    pub(crate) ofrep: crate::ofrep::OfrepRequests,
    /// More series from a server that mounts the origin ([`Metrics::extend`]).
    extension: Extension,
}

/// A renderer of more series, set once.
#[derive(Default)]
struct Extension(std::sync::OnceLock<Box<dyn Fn() -> String + Send + Sync>>);

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Extension(set)"
        } else {
            "Extension(none)"
        })
    }
}

impl Metrics {
    /// Appends what `render` returns (Prometheus text, its own `# HELP`/`# TYPE`
    /// lines included) to every `/metrics` answer: a server that mounts the
    /// origin (the control plane) exports its series on the same endpoint. Set
    /// once; `false` when already set.
    pub fn extend(&self, render: impl Fn() -> String + Send + Sync + 'static) -> bool {
        self.extension.0.set(Box::new(render)).is_ok()
    }

    /// The text exposition, with one `edgeflag_serve_ruleset_version` gauge per
    /// environment.
    pub fn render(&self, versions: &[(String, u64)]) -> String {
        let mut out = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, kind: &str, samples: &[(&str, i64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let g = |a: &AtomicU64| a.load(Relaxed) as i64;
        counter(
            "edgeflag_serve_ruleset_requests_total",
            "Ruleset requests by outcome.",
            "counter",
            &[
                ("{status=\"200\"}", g(&self.ruleset_full)),
                ("{status=\"304\"}", g(&self.ruleset_not_modified)),
            ],
        );
        counter(
            "edgeflag_serve_file_requests_total",
            "Requests for versions, manifests and audit records.",
            "counter",
            &[("", g(&self.files))],
        );
        counter(
            "edgeflag_serve_not_found_total",
            "Requests answered 404.",
            "counter",
            &[("", g(&self.not_found))],
        );
        counter(
            "edgeflag_serve_sent_bytes_total",
            "Response body bytes sent.",
            "counter",
            &[("", g(&self.bytes_sent))],
        );
        counter(
            "edgeflag_serve_sse_clients",
            "Open event-stream subscriptions.",
            "gauge",
            &[("", self.sse_clients.load(Relaxed))],
        );
        counter(
            "edgeflag_serve_sse_events_total",
            "Events sent to subscribers.",
            "counter",
            &[("", g(&self.sse_events))],
        );
        counter(
            "edgeflag_serve_refused_total",
            "Connections, event streams and files refused, by what.",
            "counter",
            &[
                ("{what=\"connection\"}", g(&self.connections_refused)),
                ("{what=\"subscriber\"}", g(&self.sse_refused)),
                ("{what=\"file\"}", g(&self.files_refused)),
            ],
        );
        counter(
            "edgeflag_serve_connections",
            "Open connections.",
            "gauge",
            &[("", self.connections.load(Relaxed))],
        );
        counter(
            "edgeflag_serve_connection_timeouts_total",
            "Connections closed by a timeout, by which.",
            "counter",
            &[
                ("{timeout=\"header\"}", g(&self.header_timeouts)),
                ("{timeout=\"idle\"}", g(&self.idle_timeouts)),
            ],
        );
        counter(
            "edgeflag_serve_reloads_total",
            "Rulesets picked up from the directory, by result.",
            "counter",
            &[
                ("{result=\"loaded\"}", g(&self.reloads)),
                ("{result=\"refused\"}", g(&self.reload_refused)),
            ],
        );
        counter(
            "edgeflag_serve_watch_publishes_total",
            "--watch compiles and publishes, by result.",
            "counter",
            &[
                ("{result=\"ok\"}", g(&self.publish_ok)),
                ("{result=\"failed\"}", g(&self.publish_failed)),
            ],
        );
        self.ofrep.render(&mut out);
        let _ = writeln!(
            out,
            "# HELP edgeflag_serve_ruleset_version Version served per environment.\n\
             # TYPE edgeflag_serve_ruleset_version gauge"
        );
        for (env, v) in versions {
            let _ = writeln!(out, "edgeflag_serve_ruleset_version{{env=\"{env}\"}} {v}");
        }
        if let Some(render) = self.extension.0.get() {
            out.push_str(&render());
        }
        out
    }
}

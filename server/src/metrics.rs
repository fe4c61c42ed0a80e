//! The control plane's Prometheus series, exported on the origin's
//! `/metrics` beside its own:
//!
//! - `edgeflag_api_request_seconds` — histogram of API request latency by
//!   route (the matched pattern, e.g. `/api/v1/flags/{key}`), method and status;
//! - `edgeflag_changes_total` — changes by outcome (`applied`, `invalid`,
//!   `denied`, `conflict`, `failed`);
//! - `edgeflag_publish_seconds` — histogram of the publish step of a change;
//! - `edgeflag_publish_failures_total` — publishes that failed (retried).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A cumulative histogram over [`BUCKETS`].
#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// What a change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed and published.
    Applied,
    /// Refused by the compiler (422).
    Invalid,
    /// Refused for the caller's rights (403).
    Denied,
    /// A stale `If-Match`, an existing or missing resource.
    Conflict,
    /// The database or the store failed.
    Failed,
}

/// The server's series.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    changes: [AtomicU64; 5],
    publish: Mutex<Histogram>,
    publish_failures: AtomicU64,
}

impl ServerMetrics {
    /// Records one API request.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            m.entry((route.to_owned(), method.to_owned(), status))
                .or_default()
                .observe(took);
        }
    }

    /// Records a change's outcome.
    pub fn change(&self, outcome: Outcome) {
        self.changes[outcome as usize].fetch_add(1, Relaxed);
    }

    /// Records one publish step: how long, and whether it failed.
    pub fn publish(&self, took: Duration, ok: bool) {
        if let Ok(mut h) = self.publish.lock() {
            h.observe(took);
        }
        if !ok {
            self.publish_failures.fetch_add(1, Relaxed);
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP edgeflag_api_request_seconds Admin API request latency by route, method and status.\n\
             # TYPE edgeflag_api_request_seconds histogram\n",
        );
        if let Ok(m) = self.requests.lock() {
            for ((route, method, status), h) in m.iter() {
                let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
                h.render(&mut out, "edgeflag_api_request_seconds", &labels);
            }
        }
        out.push_str(
            "# HELP edgeflag_changes_total Changes by outcome.\n# TYPE edgeflag_changes_total counter\n",
        );
        for (i, name) in ["applied", "invalid", "denied", "conflict", "failed"]
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                out,
                "edgeflag_changes_total{{outcome=\"{name}\"}} {}",
                self.changes[i].load(Relaxed)
            );
        }
        out.push_str(
            "# HELP edgeflag_publish_seconds Time to publish a change to every environment.\n\
             # TYPE edgeflag_publish_seconds histogram\n",
        );
        if let Ok(h) = self.publish.lock() {
            h.render(&mut out, "edgeflag_publish_seconds", "");
        }
        let _ = writeln!(
            out,
            "# HELP edgeflag_publish_failures_total Publishes that failed (retried until they succeed).\n\
             # TYPE edgeflag_publish_failures_total counter\n\
             edgeflag_publish_failures_total {}",
            self.publish_failures.load(Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_rendered_per_label_set() {
        let m = ServerMetrics::default();
        m.request("/api/v1/flags", "GET", 200, Duration::from_millis(3));
        m.request("/api/v1/flags", "GET", 200, Duration::from_millis(30));
        m.change(Outcome::Applied);
        m.change(Outcome::Invalid);
        m.publish(Duration::from_millis(2), false);
        let text = m.render();
        let l = r#"route="/api/v1/flags",method="GET",status="200""#;
        assert!(text.contains(&format!(
            "edgeflag_api_request_seconds_bucket{{{l},le=\"0.0025\"}} 0"
        )));
        assert!(text.contains(&format!(
            "edgeflag_api_request_seconds_bucket{{{l},le=\"0.005\"}} 1"
        )));
        assert!(text.contains(&format!(
            "edgeflag_api_request_seconds_bucket{{{l},le=\"+Inf\"}} 2"
        )));
        assert!(text.contains(&format!("edgeflag_api_request_seconds_count{{{l}}} 2")));
        assert!(text.contains("edgeflag_changes_total{outcome=\"applied\"} 1"));
        assert!(text.contains("edgeflag_changes_total{outcome=\"invalid\"} 1"));
        assert!(text.contains("edgeflag_publish_seconds_count 1"));
        assert!(text.contains("edgeflag_publish_failures_total 1"));
    }
}

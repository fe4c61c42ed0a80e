//! The background task: conditional GETs of the ruleset URL on a timer (and when
//! the event stream announces a newer version), verification of what arrives,
//! the atomic swap, backoff and `Retry-After`.

use super::error::FetchError;
use super::push::{self, PushConfig, PushMsg};
use super::{
    cache, note_held, run_callbacks, OriginBehind, Shared, Source, MAX_RETRY_AFTER,
    PUSH_FETCH_SPACING,
};
use edgeflag_evaluator::accept::{Policy, Position, Refusal, Verdict};
use edgeflag_evaluator::format::{HEADER_LEN, MAX_BODY_LEN};
use edgeflag_evaluator::Ruleset;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_LENGTH, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

/// Settings of the poll loop, fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub url: Url,
    pub poll_interval: Duration,
    pub push_poll_interval: Duration,
    pub timeout: Duration,
    pub max_backoff: Duration,
    pub push_idle_timeout: Duration,
    pub push: bool,
    pub cache_file: Option<PathBuf>,
}

/// The wait after `failures` consecutive failures: `base · 2^failures` capped at
/// `max`, with equal jitter (uniformly between half and all of it).
pub(crate) fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    let exp = base
        .checked_mul(1u32 << failures.min(20))
        .unwrap_or(max)
        .min(max);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

/// `d` ± 10 %, so clients started together do not poll in lockstep.
fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.9 + 0.2 * fastrand::f64())
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// What a successful request brought.
enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
}

/// The push task, aborted when dropped (so it stops with the poll loop).
struct PushTask {
    url: Url,
    task: JoinHandle<()>,
    rx: mpsc::Receiver<PushMsg>,
}

impl Drop for PushTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) struct Poller {
    cfg: Config,
    http: reqwest::Client,
    shared: Arc<Shared>,
    /// The one acceptance policy of this client: trusted keys, and the enforced
    /// environment (configured, or learned).
    policy: Policy,
    /// ETag of the held ruleset as the origin serves it.
    etag: Option<String>,
    failures: u32,
    /// No request before this instant (`Retry-After`).
    not_before: Option<Instant>,
    push: Option<PushTask>,
    push_connected: bool,
    /// Newest position announced by the event stream.
    announced: Option<Position>,
    /// An announcement asks for a fetch not made yet (deferred by
    /// [`PUSH_FETCH_SPACING`] or `Retry-After`).
    push_pending: bool,
    /// When the last fetch prompted by an announcement started.
    last_push_fetch: Option<Instant>,
    /// When the held ruleset expires, until it has been reported stale.
    stale_at: Option<Instant>,
}

impl Poller {
    pub(crate) fn new(
        cfg: Config,
        policy: Policy,
        http: reqwest::Client,
        shared: Arc<Shared>,
    ) -> Poller {
        let stale_at = shared
            .current
            .load()
            .as_ref()
            .and_then(|rs| expiry_instant(rs.header().expires_at_ms));
        Poller {
            cfg,
            http,
            shared,
            policy,
            stale_at,
            etag: None,
            failures: 0,
            not_before: None,
            push: None,
            push_connected: false,
            announced: None,
            push_pending: false,
            last_push_fetch: None,
        }
    }

    fn held_position(&self) -> Option<Position> {
        self.shared
            .current
            .load()
            .as_ref()
            .map(|rs| Position::of(rs.header()))
    }

    pub(crate) async fn run(self) {
        let span = tracing::info_span!("edgeflag_client", url = %self.cfg.url);
        self.run_loop().instrument(span).await
    }

    async fn run_loop(mut self) {
        let mut next = Instant::now();
        loop {
            let stale_at = self.stale_at;
            let fetch_now = tokio::select! {
                _ = tokio::time::sleep_until(next) => true,
                _ = sleep_until_opt(stale_at) => {
                    self.check_stale();
                    false
                }
                msg = recv_push(&mut self.push) => match msg {
                    Some(msg) => self.on_push(msg, &mut next),
                    None => {
                        self.push = None;
                        false
                    }
                },
            };
            if !fetch_now {
                continue;
            }
            if let Some(nb) = self.not_before {
                if Instant::now() < nb {
                    next = nb;
                    continue;
                }
                self.not_before = None;
            }
            if self.push_pending {
                // This fetch serves every announcement received so far.
                self.push_pending = false;
                self.last_push_fetch = Some(Instant::now());
            }
            // The only request in flight: announcements wait in the channel meanwhile.
            let result = self.poll_once().await;
            next = Instant::now() + self.delay_after(result);
            // Also on every tick, not only at the timer: the wall clock may have
            // jumped past the expiry.
            self.check_stale();
        }
    }

    /// Reports the held ruleset stale, once, when its expiry has passed: a
    /// warning and the `on_stale` callbacks. It keeps serving.
    fn check_stale(&mut self) {
        if self.stale_at.is_none() {
            return;
        }
        let Some(rs) = self.shared.current.load_full() else {
            return;
        };
        let h = rs.header();
        if !h.is_expired(now_ms()) {
            // Not yet (the timer may fire early after a clock change): re-arm.
            self.stale_at = expiry_instant(h.expires_at_ms);
            return;
        }
        self.stale_at = None;
        self.shared.status().stale = true;
        tracing::warn!(
            version = h.version,
            epoch = h.epoch,
            expired_at_ms = h.expires_at_ms,
            "the held ruleset has expired and is STALE; still serving it until the origin \
             delivers a newer one (is the publisher re-signing? is the origin reachable?)"
        );
        run_callbacks(&self.shared.stale_callbacks, &rs, "on_stale");
    }

    /// Handles a message of the push task; returns whether to fetch now.
    fn on_push(&mut self, msg: PushMsg, next: &mut Instant) -> bool {
        match msg {
            PushMsg::Connected => {
                self.push_connected = true;
                self.shared.status().push_connected = true;
                false
            }
            PushMsg::Disconnected { reason, refused } => {
                if self.push_connected {
                    tracing::warn!(error = %reason, "event stream lost; polling every {:?}", self.cfg.poll_interval);
                }
                if refused {
                    // Not a failed fetch (`consecutive_failures` is about those),
                    // but worth seeing in the status.
                    let mut st = self.shared.status();
                    st.last_error = Some(reason);
                    st.last_error_at = Some(SystemTime::now());
                    st.last_refusal = None;
                }
                self.push_connected = false;
                self.shared.status().push_connected = false;
                // Resume normal polling now rather than after the slow interval.
                let soon = Instant::now() + jitter(self.cfg.poll_interval);
                if self.failures == 0 && soon < *next {
                    *next = soon;
                }
                false
            }
            PushMsg::Announced { env, position } => {
                if let (Some(e), Some(want)) = (&env, self.policy.expected_environment()) {
                    if e != want {
                        return false;
                    }
                }
                self.announced = Some(self.announced.map_or(position, |a| a.max(position)));
                let newer = self.held_position().is_none_or(|h| position > h);
                if !newer {
                    return false;
                }
                self.push_pending = true;
                if let Some(last) = self.last_push_fetch {
                    let at = last + PUSH_FETCH_SPACING;
                    if Instant::now() < at {
                        // Coalesced: one fetch when the spacing is over gets the newest.
                        tracing::trace!(%position, "event stream announced a newer version; fetching soon");
                        *next = (*next).min(at);
                        return false;
                    }
                }
                tracing::debug!(%position, "event stream announced a newer version; fetching");
                true
            }
        }
    }

    /// Wait before the next poll, after recording the outcome.
    fn delay_after(&mut self, result: Result<(), FetchError>) -> Duration {
        let now = SystemTime::now();
        match result {
            Ok(()) => {
                if self.failures > 0 {
                    tracing::info!(failures = self.failures, "origin reachable again");
                }
                self.failures = 0;
                let mut st = self.shared.status();
                st.consecutive_failures = 0;
                st.checked_at = Some(now);
                drop(st);
                // While push is connected, poll slowly, unless the stream announced
                // a version not fetched yet (a CDN may lag behind the event).
                let behind = match (self.announced, self.held_position()) {
                    (Some(a), Some(h)) => a > h,
                    (Some(_), None) => true,
                    _ => false,
                };
                if self.push_connected && !behind {
                    jitter(self.cfg.push_poll_interval)
                } else {
                    jitter(self.cfg.poll_interval)
                }
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let msg = e.to_string();
                tracing::warn!(error = %msg, failures = self.failures, "ruleset fetch failed; keeping the held ruleset");
                let mut st = self.shared.status();
                st.consecutive_failures = self.failures;
                st.last_error = Some(msg);
                st.last_error_at = Some(now);
                st.last_refusal = e.refusal().cloned();
                drop(st);
                let mut wait = backoff(self.cfg.poll_interval, self.cfg.max_backoff, self.failures);
                if let Some(ra) = e.retry_after() {
                    let ra = ra.min(MAX_RETRY_AFTER);
                    self.not_before = Some(Instant::now() + ra);
                    wait = wait.max(ra);
                }
                wait
            }
        }
    }

    /// One conditional GET and what follows from it.
    async fn poll_once(&mut self) -> Result<(), FetchError> {
        self.shared.status().fetches += 1;
        match self.fetch().await? {
            Fetched::NotModified => {
                tracing::trace!("not modified");
                Ok(())
            }
            Fetched::Body { bytes, etag } => self.consider(bytes, etag).await,
        }
    }

    async fn fetch(&mut self) -> Result<Fetched, FetchError> {
        let timeout = self.cfg.timeout;
        let mut req = self
            .http
            .get(self.cfg.url.clone())
            .timeout(timeout)
            .header(ACCEPT, "application/vnd.edgeflag.ruleset, */*;q=0.5");
        if let Some(etag) = &self.etag {
            req = req.header(IF_NONE_MATCH, etag.as_str());
        }
        let map_err = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout(timeout)
            } else {
                FetchError::Request(error_chain(&e))
            }
        };
        let exchange = async {
            let mut resp = req.send().await.map_err(map_err)?;
            let status = resp.status();
            if status == StatusCode::NOT_MODIFIED || status.is_success() {
                // Relative links resolve against the URL that answered (after
                // redirects).
                let base = resp.url().clone();
                self.note_link(resp.headers(), &base);
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if status != StatusCode::OK {
                let retry_after = if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE
                {
                    resp.headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after)
                } else {
                    None
                };
                return Err(FetchError::Status {
                    status: status.as_u16(),
                    retry_after,
                });
            }
            let etag = resp
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let limit = (HEADER_LEN + MAX_BODY_LEN) as u64;
            let declared = resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(len) = declared {
                if len > limit {
                    return Err(FetchError::Request(format!(
                        "Content-Length {len} exceeds the largest ruleset ({limit} bytes)"
                    )));
                }
            }
            let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        if (bytes.len() + c.len()) as u64 > limit {
                            return Err(FetchError::Request(format!(
                                "body exceeds the largest ruleset ({limit} bytes)"
                            )));
                        }
                        bytes.extend_from_slice(&c);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(match declared {
                            Some(expected)
                                if !e.is_timeout() && (bytes.len() as u64) < expected =>
                            {
                                FetchError::Truncated {
                                    expected,
                                    got: bytes.len(),
                                }
                            }
                            _ => map_err(e),
                        })
                    }
                }
            }
            if let Some(expected) = declared {
                if bytes.len() as u64 != expected {
                    return Err(FetchError::Truncated {
                        expected,
                        got: bytes.len(),
                    });
                }
            }
            Ok(Fetched::Body { bytes, etag })
        };
        // reqwest's timeout covers the body too; this is a backstop.
        match tokio::time::timeout(timeout + Duration::from_millis(100), exchange).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    /// Starts (or retargets) the push task when the origin announces an event stream.
    fn note_link(&mut self, headers: &HeaderMap, base: &Url) {
        if !self.cfg.push {
            return;
        }
        let Some(url) = push::events_link(headers, base) else {
            return;
        };
        if self.push.as_ref().is_some_and(|p| p.url == url) {
            return;
        }
        tracing::debug!(events = %url, "origin announces an event stream");
        let (tx, rx) = mpsc::channel(16);
        let cfg = PushConfig {
            connect_timeout: self.cfg.timeout,
            idle_timeout: self.cfg.push_idle_timeout,
            base_backoff: self.cfg.poll_interval.max(Duration::from_millis(500)),
            max_backoff: self.cfg.max_backoff,
        };
        let task = tokio::spawn(
            push::run(self.http.clone(), url.clone(), cfg, tx).instrument(tracing::Span::current()),
        );
        // Replacing an older task drops (aborts) it.
        self.push = Some(PushTask { url, task, rx });
        if self.push_connected {
            self.push_connected = false;
            self.shared.status().push_connected = false;
        }
    }

    /// Verifies a downloaded ruleset and installs it when it is acceptable.
    async fn consider(&mut self, bytes: Vec<u8>, etag: Option<String>) -> Result<(), FetchError> {
        // Decoding a large ruleset takes milliseconds: keep it off the async workers.
        let (rs, bytes) = match tokio::task::spawn_blocking(move || {
            let rs = Ruleset::from_bytes(&bytes);
            (rs, bytes)
        })
        .await
        {
            Ok((rs, bytes)) => (rs?, bytes),
            Err(e) => return Err(FetchError::Request(format!("decoder failed: {e}"))),
        };
        let held = self.shared.current.load_full();
        match self
            .policy
            .check(held.as_ref().map(|h| h.header()), &rs, Some(now_ms()))
        {
            Ok(Verdict::Newer) => {}
            Ok(Verdict::Same) => {
                // The same ruleset (perhaps served with a new ETag).
                self.etag = etag;
                self.shared.status().origin_behind = None;
                return Ok(());
            }
            Err(refusal) => {
                if let Refusal::Older { held, found } = &refusal {
                    self.origin_behind(*held, *found);
                }
                return Err(FetchError::Refused(refusal));
            }
        }
        if let Some(h) = held
            .as_ref()
            .filter(|h| h.header().environment != rs.header().environment)
        {
            tracing::warn!(
                held = %h.header().environment,
                found = %rs.header().environment,
                "replacing the cached ruleset of another environment"
            );
        }
        self.etag = etag;
        self.install(rs, bytes).await;
        Ok(())
    }

    /// The origin serves an older ruleset than the one held: say so loudly, once
    /// per refused position, and count it. It happens when a destination was
    /// restored to an older state (or a CDN edge is stale); the way out is to
    /// publish again with `--new-epoch`, which every client accepts.
    fn origin_behind(&mut self, held: Position, served: Position) {
        let mut st = self.shared.status();
        st.refused_older = st.refused_older.saturating_add(1);
        if st.origin_behind.is_none_or(|b| b.served != served) {
            tracing::error!(
                %held,
                %served,
                "the origin serves an older ruleset than this client holds; keeping {held}. \
                 If the destination was reset or restored, publish with --new-epoch"
            );
        }
        st.origin_behind = Some(OriginBehind { held, served });
    }

    async fn install(&mut self, rs: Ruleset, bytes: Vec<u8>) {
        let env = rs.header().environment.clone();
        let version = rs.header().version;
        let rs = Arc::new(rs);
        self.shared.current.store(Some(rs.clone()));
        if self.policy.expected_environment().is_none() {
            tracing::info!(environment = %env, "learned the environment");
            self.policy = std::mem::take(&mut self.policy).environment(env.clone());
        }
        self.stale_at = expiry_instant(rs.header().expires_at_ms);
        let verified_by = self.policy.verified_by(rs.header());
        {
            let mut st = self.shared.status();
            note_held(&mut st, &self.policy, rs.header());
            st.environment = Some(env);
            st.version = Some(version);
            st.epoch = Some(rs.header().epoch);
            st.origin_behind = None;
            st.source = Some(Source::Origin);
            st.updated_at = Some(SystemTime::now());
        }
        self.shared.version.send_replace(Some(version));
        match verified_by {
            Some(key) => tracing::info!(version, %key, "installed a new ruleset"),
            None => tracing::info!(version, "installed a new ruleset (unverified)"),
        }
        run_callbacks(&self.shared.callbacks, &rs, "on_change");
        if let Some(path) = &self.cfg.cache_file {
            if let Err(e) = cache::store(path.clone(), bytes.into()).await {
                tracing::warn!(cache = %path.display(), error = %e, "cannot write the cache file");
            }
        }
    }
}

/// When to check a header's expiry next: at the expiry (now, when it has
/// passed), or in a day when it is further away (the check re-arms the timer);
/// `None` without an expiry.
fn expiry_instant(expires_at_ms: Option<i64>) -> Option<Instant> {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let left = expires_at_ms?.saturating_sub(now_ms()).clamp(0, DAY_MS);
    Some(Instant::now() + Duration::from_millis(left.unsigned_abs()))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn recv_push(push: &mut Option<PushTask>) -> Option<PushMsg> {
    match push {
        Some(p) => p.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// An error with its sources (`reqwest` puts the useful part in the chain).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = inner.source();
    }
    s
}

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_equal_jitter_up_to_the_cap() {
        let base = Duration::from_millis(500);
        let max = Duration::from_secs(30);
        for _ in 0..100 {
            let d1 = backoff(base, max, 1);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d3 = backoff(base, max, 3);
            assert!(d3 >= Duration::from_secs(2) && d3 <= Duration::from_secs(4));
            let d40 = backoff(base, max, 40);
            assert!(d40 >= Duration::from_secs(15) && d40 <= max);
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        let later = SystemTime::now() + Duration::from_secs(100);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(d > Duration::from_secs(90) && d <= Duration::from_secs(100));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}

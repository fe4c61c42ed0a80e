//! # edgeflag-client
//!
//! Keeps the newest good ruleset of one environment in memory in a service,
//! fetched from an HTTP origin as described in `docs/distribution.md`.
//!
//! * It polls `current.efr` with `If-None-Match`; a `304` costs a few hundred bytes.
//! * When the origin announces an event stream (`Link: <…>; rel="edgeflag-events"`,
//!   as `edgeflag serve` does) it subscribes and fetches as soon as an event
//!   announces a newer version, and slows polling down to a safety net.
//! * It refuses corrupt, truncated, older or other-environment rulesets and keeps
//!   the last good one; errors back off exponentially with jitter and honour
//!   `Retry-After`.
//! * With trusted keys ([`ClientBuilder::trust`], [`ClientBuilder::trust_file`])
//!   it takes only rulesets signed by one of them, from the origin, the cache file
//!   and the bootstrap alike; [`Status::verified_by`] names the key, and
//!   [`Status::last_refusal`] says why a ruleset was refused. Without keys,
//!   rulesets are taken *unverified* ([`Status::signatures_required`] is false).
//! * A download that has already expired is refused (a replay). A held ruleset
//!   that expires keeps serving but is reported *stale* ([`Status::stale`], a
//!   warning, [`ClientBuilder::on_stale`]) until a newer one arrives.
//! * Evaluation reads the current ruleset through an [`arc_swap`] pointer: it never
//!   blocks and never waits for the network.
//!
//! See [`Client`] for an example.

#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod cache;
mod error;
mod poll;
mod push;
mod sse;

pub use error::ClientError;

use arc_swap::ArcSwapOption;
use edgeflag_evaluator::accept::{Policy, Position, Refusal, Verdict};
use edgeflag_evaluator::signature::{KeyId, TrustedKeys};
use edgeflag_evaluator::{Context, Header, Ruleset};
use reqwest::Url;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Default [`ClientBuilder::poll_interval`]: 500 ms.
///
/// A flag change (a kill switch above all) should reach every poller within a
/// second. Through a CDN that revalidates `current.efr` on every request
/// (`max-age=0, must-revalidate`), a change is visible to a poller at most one
/// interval (plus jitter of ±10 %) and one round trip after it is published, so
/// 500 ms keeps the worst case under 1 s with room for the round trip. An
/// unchanged poll is a `304` of about 300 bytes, i.e. two requests per second and
/// well under 1 kB/s per process. Origins that announce an event stream make the
/// interval matter less: with push connected the client polls only every
/// [`DEFAULT_PUSH_POLL_INTERVAL`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Default [`ClientBuilder::push_poll_interval`]: the safety-net poll while the
/// event stream is connected (30 s).
pub const DEFAULT_PUSH_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// Default [`ClientBuilder::timeout`] of one request, connect to last body byte (5 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default [`ClientBuilder::max_backoff`] (30 s).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Default [`ClientBuilder::push_idle_timeout`] (45 s: three missed keep-alives of
/// `edgeflag serve`, which sends one every 15 s).
pub const DEFAULT_PUSH_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// Shortest time between two fetches prompted by the event stream (100 ms).
///
/// A stream announcing versions faster than that (a publishing loop, a buggy or
/// hostile origin: one announced a version every millisecond) would otherwise make
/// every client fetch `current.efr` once per announcement, hundreds of times a
/// second. Announcements arriving within the spacing are coalesced into one fetch,
/// made when the spacing is over, of whatever is newest then; at most one fetch is
/// in flight. The first announcement after a quiet period fetches at once, so a
/// single change (a kill switch) is not delayed, and in a burst the newest version
/// arrives at most this much later. 100 ms is well under the 1 s propagation target
/// of [`DEFAULT_POLL_INTERVAL`] and caps push-prompted fetches at 10 per second.
pub const PUSH_FETCH_SPACING: Duration = Duration::from_millis(100);

/// Longest wait a `Retry-After` header can impose (5 min); longer requests are
/// capped so a misconfigured origin cannot silence a client for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

type Callback = Box<dyn Fn(&Ruleset) + Send + Sync + 'static>;

/// A ruleset held at start, and where it came from.
type Held = (Ruleset, Source);

enum Bootstrap {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Keys given to [`ClientBuilder::trust`] or [`ClientBuilder::trust_file`].
enum Keys {
    Given(TrustedKeys),
    File(PathBuf),
}

/// Most redirects followed for one request (as reqwest's default policy).
pub const MAX_REDIRECTS: usize = 10;

/// Which HTTP redirects the client follows ([`ClientBuilder::redirects`]), for the
/// ruleset and for the event stream alike.
///
/// A redirect the policy refuses fails that request: the client keeps its ruleset,
/// [`Status::last_error`] names the redirect, and it retries with its backoff.
/// Whatever the policy, the client never follows a redirect from `https` to `http`
/// (a downgrade would let anyone on the path serve flags) and there is no opt-in:
/// configure an `http://` URL if plain HTTP is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Redirects {
    /// Follow none: every redirect is an error.
    None,
    /// Follow redirects to the origin (scheme, host and port) of the URL first
    /// requested, at most [`MAX_REDIRECTS`] of them. The default: a path moved
    /// within the origin is followed, a redirect to another host, port or scheme
    /// (`http` to `https` included) is not.
    #[default]
    SameOrigin,
    /// Follow redirects to any host, at most [`MAX_REDIRECTS`] of them, but never
    /// from `https` to `http`.
    Any,
}

impl Redirects {
    /// Whether to follow a redirect to `next` after requesting `previous` (the
    /// first URL requested first); the reason when not.
    fn check(self, previous: &[Url], next: &Url) -> Result<(), String> {
        let refuse = |why: String| Err(format!("redirect to {next} refused: {why}"));
        let Some(first) = previous.first() else {
            return Ok(());
        };
        if next.scheme() != "https" && previous.iter().any(|u| u.scheme() == "https") {
            return refuse("a redirect from https to http is never followed".to_owned());
        }
        if previous.len() > MAX_REDIRECTS {
            return refuse(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match self {
            Redirects::None => {
                refuse("the client follows no redirects (Redirects::None)".to_owned())
            }
            Redirects::Any => Ok(()),
            Redirects::SameOrigin => {
                let same = first.scheme() == next.scheme()
                    && first.host_str() == next.host_str()
                    && first.port_or_known_default() == next.port_or_known_default();
                if same {
                    Ok(())
                } else {
                    refuse(format!(
                        "{} is another origin than {} (Redirects::SameOrigin; Redirects::Any allows it)",
                        next.origin().ascii_serialization(),
                        first.origin().ascii_serialization()
                    ))
                }
            }
        }
    }

    /// The reqwest policy applying this one.
    fn policy(self) -> reqwest::redirect::Policy {
        reqwest::redirect::Policy::custom(move |attempt| {
            match self.check(attempt.previous(), attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(why),
            }
        })
    }
}

/// Where the ruleset a client holds came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// [`ClientBuilder::bootstrap_bytes`] or [`ClientBuilder::bootstrap_file`].
    Bootstrap,
    /// The [`ClientBuilder::cache_file`], loaded at start.
    Cache,
    /// Downloaded from the origin.
    Origin,
}

/// A snapshot of a client's state, from [`Client::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The environment the client accepts rulesets for: configured with
    /// [`ClientBuilder::environment`], else learned from the bootstrap ruleset or
    /// the first ruleset downloaded (`None` until then).
    pub environment: Option<String>,
    /// Version of the held ruleset (`None` until the client has one).
    pub version: Option<u64>,
    /// Epoch of the held ruleset: rulesets order by `(epoch, version)`
    /// (see `edgeflag_evaluator::accept`).
    pub epoch: Option<u64>,
    /// Where the held ruleset came from.
    pub source: Option<Source>,
    /// When the held ruleset was installed (loaded at start or swapped in).
    pub updated_at: Option<SystemTime>,
    /// When the origin last confirmed the held ruleset is current (a `304`, or a
    /// `200` that was accepted or was identical to the held one).
    pub checked_at: Option<SystemTime>,
    /// The most recent error (a failed request, a refused ruleset, or an event
    /// stream dropped for what it sent: an oversized line or event, a forbidden
    /// redirect), kept after the client recovers;
    /// [`consecutive_failures`](Self::consecutive_failures) tells whether a failed
    /// fetch is current (event-stream errors do not count as failed fetches).
    pub last_error: Option<String>,
    /// Why the acceptance policy refused a ruleset, when that is what
    /// [`last_error`](Self::last_error) reports (`None` when the last error is of
    /// another kind): [`Refusal::kind`] is a stable code such as `UNSIGNED`,
    /// `UNKNOWN_KEY`, `BAD_SIGNATURE`, `EXPIRED` or `OLDER_VERSION`. Also set at
    /// start when the cache file was refused (other than for being older than the
    /// bootstrap).
    pub last_refusal: Option<Refusal>,
    /// When [`last_error`](Self::last_error) happened.
    pub last_error_at: Option<SystemTime>,
    /// Failed fetches since the last success (0 when healthy).
    pub consecutive_failures: u32,
    /// Whether the event stream is connected.
    pub push_connected: bool,
    /// Requests made to the ruleset URL (polls and push-triggered fetches).
    pub fetches: u64,
    /// Whether the background task has been stopped with [`Client::close`].
    pub closed: bool,
    /// Set while the origin serves an older ruleset than the one held (a
    /// destination restored to an older state, or a stale CDN edge): the client
    /// keeps what it holds, which the origin may never reach. Cleared when the
    /// origin serves the held ruleset or a newer one.
    pub origin_behind: Option<OriginBehind>,
    /// Downloads refused as older than the held ruleset, since start.
    pub refused_older: u64,
    /// Whether the client checks signatures: keys were given with
    /// [`ClientBuilder::trust`] or [`ClientBuilder::trust_file`], and every
    /// ruleset it holds (downloaded, cached or bootstrap) was signed by one of
    /// them. Without keys every ruleset is taken unverified.
    pub signatures_required: bool,
    /// The trusted key whose signature was verified on the held ruleset. `None`
    /// when nothing is held or when the client trusts no keys: the held ruleset is
    /// then *unverified*, even if it carries a signature (nobody checked it).
    pub verified_by: Option<KeyId>,
    /// When the held ruleset expires (its header's expiry; only signed rulesets
    /// have one). `None` when it never expires or nothing is held.
    pub expires_at: Option<SystemTime>,
    /// Whether the held ruleset has expired ([`expires_at`](Self::expires_at) has
    /// passed). A stale ruleset keeps serving (evaluation is never worse than the
    /// defaults), but the publisher has stopped vouching for it: the origin has
    /// not delivered a newer one in time, or the client is cut off from it. The
    /// client logs a warning and runs the [`ClientBuilder::on_stale`] callbacks
    /// once when it becomes stale; a newer, unexpired ruleset clears it.
    pub stale: bool,
}

/// The held and the served position when the origin is behind the client
/// ([`Status::origin_behind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginBehind {
    /// What the client holds (and keeps serving).
    pub held: Position,
    /// What the origin serves.
    pub served: Position,
}

impl Status {
    /// Time since the held ruleset was installed ([`updated_at`](Self::updated_at)).
    pub fn age(&self) -> Option<Duration> {
        self.updated_at
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default())
    }

    /// Time since the origin last confirmed the held ruleset
    /// ([`checked_at`](Self::checked_at)): how stale the client may be.
    pub fn since_checked(&self) -> Option<Duration> {
        self.checked_at
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default())
    }
}

/// State shared between the client handles and the background task.
pub(crate) struct Shared {
    pub(crate) current: ArcSwapOption<Ruleset>,
    pub(crate) status: Mutex<Status>,
    /// The held version, for [`Client::wait_for_version`] and [`Client::ready`].
    pub(crate) version: watch::Sender<Option<u64>>,
    pub(crate) callbacks: Vec<Callback>,
    pub(crate) stale_callbacks: Vec<Callback>,
}

impl Shared {
    pub(crate) fn status(&self) -> MutexGuard<'_, Status> {
        // A panic while holding the lock cannot leave a Status half-written in a
        // way that matters; keep serving it.
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `callbacks` with `rs`, catching (and logging) panics.
pub(crate) fn run_callbacks(callbacks: &[Callback], rs: &Ruleset, what: &str) {
    for cb in callbacks {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(rs)));
        if r.is_err() {
            tracing::error!(version = rs.header().version, "an {what} callback panicked");
        }
    }
}

/// A header's expiry as a time.
pub(crate) fn expires_at(header: &Header) -> Option<SystemTime> {
    let ms = u64::try_from(header.expires_at_ms?).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

/// Records the held ruleset's trust and freshness in the status.
pub(crate) fn note_held(st: &mut Status, policy: &Policy, header: &Header) {
    st.verified_by = policy.verified_by(header);
    st.expires_at = expires_at(header);
    st.stale = is_stale(st.expires_at);
}

/// Whether a ruleset expiring at `at` is stale now.
pub(crate) fn is_stale(at: Option<SystemTime>) -> bool {
    at.is_some_and(|at| SystemTime::now() >= at)
}

/// Configures and starts a [`Client`]; see [`Client::builder`].
#[must_use = "a builder does nothing until start() is called"]
pub struct ClientBuilder {
    url: String,
    environment: Option<String>,
    poll_interval: Duration,
    push_poll_interval: Duration,
    timeout: Duration,
    max_backoff: Duration,
    push_idle_timeout: Duration,
    bootstrap: Option<Bootstrap>,
    cache_file: Option<PathBuf>,
    push: bool,
    redirects: Redirects,
    keys: Vec<Keys>,
    callbacks: Vec<Callback>,
    stale_callbacks: Vec<Callback>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("environment", &self.environment)
            .field("poll_interval", &self.poll_interval)
            .field("push_poll_interval", &self.push_poll_interval)
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field("push_idle_timeout", &self.push_idle_timeout)
            .field("bootstrap", &self.bootstrap.is_some())
            .field("cache_file", &self.cache_file)
            .field("push", &self.push)
            .field("redirects", &self.redirects)
            .field("trust", &self.keys.len())
            .field("on_change", &self.callbacks.len())
            .field("on_stale", &self.stale_callbacks.len())
            .finish()
    }
}

impl ClientBuilder {
    /// The environment the client accepts. Without it, the environment is learned
    /// from the bootstrap ruleset or the first ruleset downloaded and enforced from
    /// then on. (A ruleset loaded from the cache file does not set it, so a cache
    /// left over from another configuration cannot lock the client out.)
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.environment = Some(env.into());
        self
    }

    /// Time between polls while no event stream is connected (default
    /// [`DEFAULT_POLL_INTERVAL`], whose documentation explains the choice). Each
    /// wait is jittered by ±10 %.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Time between safety-net polls while the event stream is connected (default
    /// [`DEFAULT_PUSH_POLL_INTERVAL`]; never shorter than the poll interval).
    pub fn push_poll_interval(mut self, interval: Duration) -> Self {
        self.push_poll_interval = interval;
        self
    }

    /// Timeout of one request, from connecting to the last byte of the body
    /// (default [`DEFAULT_TIMEOUT`]). A slower response counts as a failure.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Longest wait between retries after failures (default
    /// [`DEFAULT_MAX_BACKOFF`]). The wait after `n` consecutive failures is
    /// `poll_interval · 2^n`, capped at this, with equal jitter (between half and
    /// all of it). `Retry-After` can impose a longer wait (up to
    /// [`MAX_RETRY_AFTER`]).
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// How long the event stream may stay silent before it is considered dead and
    /// reopened (default [`DEFAULT_PUSH_IDLE_TIMEOUT`]).
    pub fn push_idle_timeout(mut self, timeout: Duration) -> Self {
        self.push_idle_timeout = timeout;
        self
    }

    /// A ruleset to serve from the start, before (or without) any download. It is
    /// verified by [`start`](Self::start), which fails if it is invalid or, with
    /// [`trust`](Self::trust)ed keys, not signed by one of them. An expired one is
    /// loaded, and reported [`stale`](Status::stale).
    pub fn bootstrap_bytes(mut self, bytes: Vec<u8>) -> Self {
        self.bootstrap = Some(Bootstrap::Bytes(bytes));
        self
    }

    /// Like [`bootstrap_bytes`](Self::bootstrap_bytes), read from a file by
    /// [`start`](Self::start) (which fails if it cannot be read or is invalid).
    pub fn bootstrap_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.bootstrap = Some(Bootstrap::File(path.into()));
        self
    }

    /// Keeps a copy of the last ruleset accepted from the origin in this file
    /// (replaced atomically: written to a temporary file in the same directory,
    /// then renamed) and loads it at start, so a restarted service has its flags
    /// while the origin is unreachable. An unreadable or invalid cache is logged
    /// and ignored, as is, with [`trust`](Self::trust)ed keys, one that is
    /// unsigned or not signed by them. An expired cache is loaded, and reported
    /// [`stale`](Status::stale). When both a bootstrap ruleset and a cached one
    /// are present, the newer version of the configured environment wins.
    pub fn cache_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_file = Some(path.into());
        self
    }

    /// Whether to subscribe to the event stream the origin announces (default
    /// `true`). Without push the client only polls.
    pub fn push(mut self, enabled: bool) -> Self {
        self.push = enabled;
        self
    }

    /// Which redirects to follow, for the ruleset and the event stream (default
    /// [`Redirects::SameOrigin`]; never from `https` to `http`).
    pub fn redirects(mut self, redirects: Redirects) -> Self {
        self.redirects = redirects;
        self
    }

    /// Accept only rulesets signed by one of `keys` — from the origin, the cache
    /// file and the bootstrap alike. An unsigned ruleset, one signed by another
    /// key, or one whose signature does not match its content is refused: a
    /// download is refused and the held ruleset keeps serving
    /// ([`Status::last_refusal`] says why), a cache file is ignored with a
    /// warning, a bootstrap makes [`start`](Self::start) fail. The key that
    /// verified the held ruleset is [`Status::verified_by`].
    ///
    /// Without keys (the default) signatures are not checked and every ruleset is
    /// taken *unverified*. Call several times, or combine with
    /// [`trust_file`](Self::trust_file), to trust several keys (to rotate: trust
    /// the new key, publish with it, then drop the old one). Keys as text (one
    /// `edgeflag-ed25519-public:…` line each) are read with
    /// [`TrustedKeys::parse`]. An empty set makes [`start`](Self::start) fail.
    pub fn trust(mut self, keys: TrustedKeys) -> Self {
        self.keys.push(Keys::Given(keys));
        self
    }

    /// Like [`trust`](Self::trust), with the keys of a `KEY.pub` file (one public
    /// key per line, `#` comments), read by [`start`](Self::start), which fails
    /// if the file cannot be read or holds no valid key.
    pub fn trust_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.keys.push(Keys::File(path.into()));
        self
    }

    /// Registers a callback run on the background task once when the held
    /// ruleset becomes stale ([`Status::stale`]: its expiry has passed), with that
    /// ruleset; again only after a newer ruleset arrived and expired in turn. It
    /// also runs shortly after start for an expired cached or bootstrap ruleset.
    /// The client keeps serving the stale ruleset; use this to alert. Same rules
    /// as [`on_change`](Self::on_change).
    pub fn on_stale(mut self, f: impl Fn(&Ruleset) + Send + Sync + 'static) -> Self {
        self.stale_callbacks.push(Box::new(f));
        self
    }

    /// Registers a callback run on the background task after each ruleset swapped
    /// in from the origin, with the new ruleset (not for the bootstrap or cached
    /// ruleset loaded by [`start`](Self::start)). Call several times to register
    /// several; they run in registration order. Keep them short; a panic in one is
    /// caught and logged.
    pub fn on_change(mut self, f: impl Fn(&Ruleset) + Send + Sync + 'static) -> Self {
        self.callbacks.push(Box::new(f));
        self
    }

    /// Loads the bootstrap and cached rulesets, then spawns the background task on
    /// the current tokio runtime. The first fetch starts immediately.
    ///
    /// Fails on an invalid URL or setting, an unreadable or invalid bootstrap
    /// ruleset, or when called outside a tokio runtime. Reads the bootstrap and
    /// cache files synchronously.
    pub fn start(self) -> Result<Client, ClientError> {
        let url = self.checked_url()?;
        self.check_settings()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .user_agent(concat!("edgeflag-client/", env!("CARGO_PKG_VERSION")))
            .redirect(self.redirects.policy())
            .build()
            .map_err(ClientError::Http)?;
        let mut policy = self.policy()?;
        let initial = self.initial_ruleset(&mut policy)?;
        let shared = Arc::new(Shared::new(
            initial,
            &policy,
            self.callbacks,
            self.stale_callbacks,
        ));
        let poller = poll::Poller::new(
            poll::Config {
                url,
                poll_interval: self.poll_interval,
                push_poll_interval: self.push_poll_interval.max(self.poll_interval),
                timeout: self.timeout,
                max_backoff: self.max_backoff,
                push_idle_timeout: self.push_idle_timeout,
                push: self.push,
                cache_file: self.cache_file,
            },
            policy,
            http,
            shared.clone(),
        );
        let task = runtime.spawn(poller.run());
        Ok(Client {
            inner: Arc::new(Handle { shared, task }),
        })
    }

    /// The ruleset URL, if it parses and is `http` or `https`.
    fn checked_url(&self) -> Result<Url, ClientError> {
        let url = Url::parse(&self.url).map_err(|e| ClientError::InvalidUrl {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::InvalidUrl {
                url: self.url.clone(),
                reason: format!("scheme {:?} is not http or https", url.scheme()),
            });
        }
        Ok(url)
    }

    /// Durations must not be zero; an environment name must fit a header.
    fn check_settings(&self) -> Result<(), ClientError> {
        for (name, d) in [
            ("poll_interval", self.poll_interval),
            ("timeout", self.timeout),
            ("max_backoff", self.max_backoff),
            ("push_idle_timeout", self.push_idle_timeout),
        ] {
            if d.is_zero() {
                return Err(ClientError::Config(format!("{name} must not be zero")));
            }
        }
        if let Some(env) = &self.environment {
            if env.is_empty() || env.len() > edgeflag_evaluator::format::MAX_ENV_LEN {
                return Err(ClientError::Config(format!(
                    "environment name must be 1 to {} bytes",
                    edgeflag_evaluator::format::MAX_ENV_LEN
                )));
            }
        }
        Ok(())
    }

    /// The acceptance policy of this client: the configured environment (if any)
    /// and the trusted keys (if any). Built here only; the environment is added
    /// when learned (from the bootstrap, or the first download).
    fn policy(&self) -> Result<Policy, ClientError> {
        let policy = Policy::new().trust_opt(self.trusted_keys()?);
        Ok(match &self.environment {
            Some(env) => policy.environment(env.clone()),
            None => policy,
        })
    }

    /// The keys of every [`trust`](Self::trust) and [`trust_file`](Self::trust_file)
    /// call, merged (a key given twice counts once); `None` without any.
    fn trusted_keys(&self) -> Result<Option<TrustedKeys>, ClientError> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let mut all = TrustedKeys::default();
        for keys in &self.keys {
            let (keys, path) = match keys {
                Keys::Given(k) => (k.clone(), None),
                Keys::File(path) => {
                    let text =
                        std::fs::read_to_string(path).map_err(|source| ClientError::KeyFile {
                            path: path.clone(),
                            source,
                        })?;
                    let keys =
                        TrustedKeys::parse(&text).map_err(|source| ClientError::InvalidKeys {
                            path: Some(path.clone()),
                            source,
                        })?;
                    (keys, Some(path))
                }
            };
            for key in keys.iter() {
                if all.get(key.id()).is_none() {
                    all.add(key.clone())
                        .map_err(|source| ClientError::InvalidKeys {
                            path: path.cloned(),
                            source,
                        })?;
                }
            }
        }
        if all.is_empty() {
            // An empty set would refuse every ruleset: surely not what was meant.
            return Err(ClientError::Config(
                "trust() was given an empty set of keys".to_owned(),
            ));
        }
        Ok(Some(all))
    }

    /// What the client holds before its first fetch: the bootstrap ruleset, or
    /// the cached one when the acceptance policy lets it replace the bootstrap.
    /// Sets the policy's environment from the bootstrap when none is configured.
    fn initial_ruleset(&self, policy: &mut Policy) -> Result<Initial, ClientError> {
        let mut environment = policy.expected_environment().map(str::to_owned);
        let mut initial: Option<Held> = None;
        if let Some(b) = &self.bootstrap {
            let bytes = match b {
                Bootstrap::Bytes(b) => b.clone(),
                Bootstrap::File(path) => {
                    std::fs::read(path).map_err(|source| ClientError::BootstrapFile {
                        path: path.clone(),
                        source,
                    })?
                }
            };
            let rs = Ruleset::from_bytes(&bytes).map_err(ClientError::Bootstrap)?;
            let found = &rs.header().environment;
            match &environment {
                Some(expected) if expected != found => {
                    return Err(ClientError::EnvironmentMismatch {
                        expected: expected.clone(),
                        found: found.clone(),
                    })
                }
                Some(_) => {}
                None => environment = Some(found.clone()),
            }
            // A local source: taken even when expired (then reported stale), but
            // with keys it must be signed by one of them like any other.
            policy
                .check(None, &rs, None)
                .map_err(ClientError::BootstrapRefused)?;
            initial = Some((rs, Source::Bootstrap));
        }
        if let (None, Some(env)) = (policy.expected_environment(), &environment) {
            *policy = std::mem::take(policy).environment(env.clone());
        }
        let mut out = Initial {
            held: initial,
            problem: None,
        };
        let Some(path) = &self.cache_file else {
            return Ok(out);
        };
        let cached = match cache::load(path) {
            Ok(None) => return Ok(out),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the cached ruleset");
                out.problem = Some((e, None));
                return Ok(out);
            }
            Ok(Some((rs, _))) => rs,
        };
        let held = out.held.as_ref().map(|(rs, _)| rs.header());
        match policy.check(held, &cached, None) {
            Ok(Verdict::Newer) => {
                tracing::info!(
                    cache = %path.display(),
                    version = cached.header().version,
                    verified_by = ?policy.verified_by(cached.header()),
                    "loaded the cached ruleset"
                );
                out.held = Some((cached, Source::Cache));
            }
            Ok(Verdict::Same) => {}
            Err(refusal) => {
                tracing::warn!(
                    cache = %path.display(),
                    "ignoring the cached ruleset: {refusal}"
                );
                // Older than the bootstrap is routine (a newer bootstrap
                // deployed); anything else is worth seeing in the status.
                if !matches!(refusal, Refusal::Older { .. }) {
                    let msg = format!(
                        "cache file {} ignored: {}",
                        path.display(),
                        error::refused_text(&refusal)
                    );
                    out.problem = Some((msg, Some(refusal)));
                }
            }
        }
        Ok(out)
    }
}

/// What [`ClientBuilder::start`] found before the first fetch.
struct Initial {
    /// The ruleset to serve from the start.
    held: Option<Held>,
    /// Why the cache file was ignored, when that is worth reporting.
    problem: Option<(String, Option<Refusal>)>,
}

impl Shared {
    /// The shared state at start, holding the initial ruleset if there is one.
    fn new(
        initial: Initial,
        policy: &Policy,
        callbacks: Vec<Callback>,
        stale_callbacks: Vec<Callback>,
    ) -> Shared {
        let mut status = Status {
            environment: policy.expected_environment().map(str::to_owned),
            version: None,
            epoch: None,
            source: None,
            updated_at: None,
            checked_at: None,
            last_error: None,
            last_error_at: None,
            consecutive_failures: 0,
            push_connected: false,
            fetches: 0,
            closed: false,
            origin_behind: None,
            refused_older: 0,
            last_refusal: None,
            signatures_required: policy.trusted_keys().is_some(),
            verified_by: None,
            expires_at: None,
            stale: false,
        };
        if let Some((msg, refusal)) = initial.problem {
            status.last_error = Some(msg);
            status.last_error_at = Some(SystemTime::now());
            status.last_refusal = refusal;
        }
        let current = ArcSwapOption::empty();
        let mut held = None;
        if let Some((rs, source)) = initial.held {
            note_held(&mut status, policy, rs.header());
            status.version = Some(rs.header().version);
            status.epoch = Some(rs.header().epoch);
            status.source = Some(source);
            status.updated_at = Some(SystemTime::now());
            held = Some(rs.header().version);
            current.store(Some(Arc::new(rs)));
        }
        Shared {
            current,
            status: Mutex::new(status),
            version: watch::channel(held).0,
            callbacks,
            stale_callbacks,
        }
    }
}

struct Handle {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keeps the newest good ruleset of one environment, fetched from an HTTP origin
/// by a background task, and evaluates flags against it.
///
/// Cloning is cheap (an `Arc`); all clones share one background task, which stops
/// when the last clone is dropped or [`close`](Self::close) is called. Evaluation
/// never blocks: it reads the current ruleset through an atomic pointer.
///
/// ```no_run
/// use edgeflag_client::Client;
/// use edgeflag_evaluator::Context;
/// use std::time::Duration;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::builder("http://127.0.0.1:8080/production/current.efr")
///     .environment("production")
///     .trust_file("/etc/myservice/edgeflag-KEY.pub")
///     .cache_file("/var/cache/myservice/production.efr")
///     .on_change(|rs| println!("now at version {}", rs.header().version))
///     .on_stale(|rs| eprintln!("flags v{} expired; still serving them", rs.header().version))
///     .start()?;
///
/// // Wait (a bounded time) for a first ruleset; without one, getters return the
/// // default given.
/// if !client.ready(Duration::from_secs(2)).await {
///     eprintln!("no ruleset yet: {:?}", client.status().last_error);
/// }
///
/// let ctx = Context::new("user-42").with("country", "DE");
/// if client.bool_value("new-checkout", &ctx, false) {
///     // new code path
/// }
///
/// // Several evaluations against one consistent snapshot:
/// if let Some(rules) = client.ruleset() {
///     let detail = rules.evaluate("new-checkout", &ctx);
///     println!("{:?} because {}", detail.value, detail.reason.kind());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Handle>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("status", &self.status())
            .finish()
    }
}

impl Client {
    /// A builder for a client polling `url`, the `current.efr` of one environment
    /// (for example `http://127.0.0.1:8080/production/current.efr`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            environment: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            push_poll_interval: DEFAULT_PUSH_POLL_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            max_backoff: DEFAULT_MAX_BACKOFF,
            push_idle_timeout: DEFAULT_PUSH_IDLE_TIMEOUT,
            bootstrap: None,
            cache_file: None,
            push: true,
            redirects: Redirects::default(),
            keys: Vec::new(),
            callbacks: Vec::new(),
            stale_callbacks: Vec::new(),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The current ruleset, or `None` before the first one arrives. The snapshot
    /// stays valid (and unchanged) while held, whatever the client swaps in
    /// meanwhile: use it for several evaluations that must agree.
    pub fn ruleset(&self) -> Option<Arc<Ruleset>> {
        self.shared().current.load_full()
    }

    /// [`Ruleset::bool_value`] on the current ruleset; `default` without one.
    pub fn bool_value(&self, key: &str, ctx: &Context, default: bool) -> bool {
        match &*self.shared().current.load() {
            Some(rs) => rs.bool_value(key, ctx, default),
            None => default,
        }
    }

    /// [`Ruleset::number_value`] on the current ruleset; `default` without one.
    pub fn number_value(&self, key: &str, ctx: &Context, default: f64) -> f64 {
        match &*self.shared().current.load() {
            Some(rs) => rs.number_value(key, ctx, default),
            None => default,
        }
    }

    /// [`Ruleset::string_value`] on the current ruleset; `default` without one.
    /// Returns an owned string because the ruleset may be swapped right after; use
    /// [`ruleset`](Self::ruleset) to borrow from a snapshot instead.
    pub fn string_value(&self, key: &str, ctx: &Context, default: &str) -> String {
        match &*self.shared().current.load() {
            Some(rs) => rs.string_value(key, ctx, default).to_owned(),
            None => default.to_owned(),
        }
    }

    /// [`Ruleset::json_value`] (the JSON text of the variation) on the current
    /// ruleset; `default` without one.
    pub fn json_value(&self, key: &str, ctx: &Context, default: &str) -> String {
        match &*self.shared().current.load() {
            Some(rs) => rs.json_value(key, ctx, default).to_owned(),
            None => default.to_owned(),
        }
    }

    /// A snapshot of the client's state. [`Status::stale`] is as of now, even
    /// between the background task's checks.
    pub fn status(&self) -> Status {
        let mut st = self.shared().status().clone();
        st.stale = is_stale(st.expires_at);
        st
    }

    /// Waits until the client holds version `version` or newer, at most `timeout`.
    /// Returns whether it does.
    pub async fn wait_for_version(&self, version: u64, timeout: Duration) -> bool {
        self.wait_until(timeout, |v| v.is_some_and(|v| v >= version))
            .await
    }

    /// Waits until the client holds a ruleset (any version, including a bootstrap
    /// or cached one), at most `timeout`. Returns whether it does.
    pub async fn ready(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |v| v.is_some()).await
    }

    async fn wait_until(&self, timeout: Duration, f: impl FnMut(&Option<u64>) -> bool) -> bool {
        let mut rx = self.shared().version.subscribe();
        let reached = matches!(
            tokio::time::timeout(timeout, rx.wait_for(f)).await,
            Ok(Ok(_))
        );
        reached
    }

    /// Stops the background task (for every clone). The held ruleset stays
    /// available for evaluation; it is no longer updated.
    pub fn close(&self) {
        self.inner.task.abort();
        let mut st = self.shared().status();
        st.closed = true;
        st.push_connected = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<Url> {
        list.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    #[test]
    fn redirect_policies() {
        let http = urls(&["http://h:8080/production/current.efr"]);
        let https = urls(&["https://h/production/current.efr"]);
        let to = |u: &str| Url::parse(u).unwrap();
        let same = to("http://h:8080/moved/current.efr");
        let other_port = to("http://h:9090/production/current.efr");
        let other_host = to("https://evil.example/production/current.efr");

        assert!(Redirects::SameOrigin.check(&http, &same).is_ok());
        let err = Redirects::SameOrigin.check(&http, &other_port).unwrap_err();
        assert!(
            err.contains("another origin") && err.contains("h:9090"),
            "{err}"
        );
        assert!(Redirects::SameOrigin.check(&https, &other_host).is_err());
        // http to https on the same host is another origin too.
        assert!(Redirects::SameOrigin
            .check(&http, &to("https://h:8080/x"))
            .is_err());
        assert!(Redirects::SameOrigin
            .check(&https, &to("https://h:443/x"))
            .is_ok());

        assert!(Redirects::None.check(&http, &same).is_err());

        assert!(Redirects::Any.check(&http, &other_port).is_ok());
        assert!(Redirects::Any.check(&https, &other_host).is_ok());
        // Never https to http, with any policy, also later in a chain.
        for policy in [Redirects::SameOrigin, Redirects::Any] {
            let err = policy.check(&https, &to("http://h/production/current.efr"));
            assert!(err.is_err_and(|e| e.contains("https to http")));
            let chain = urls(&["http://a/x", "https://b/y"]);
            assert!(policy.check(&chain, &to("http://a/x")).is_err());
        }
        let long: Vec<Url> = (0..=MAX_REDIRECTS)
            .map(|i| to(&format!("http://h:8080/{i}")))
            .collect();
        assert!(Redirects::Any.check(&long, &same).is_err());
        assert!(Redirects::Any.check(&long[..MAX_REDIRECTS], &same).is_ok());
    }
}

//! # edgeflag-origin
//!
//! The embedded origin as a library: serves a publish directory (what
//! `edgeflag-publish` writes) over HTTP with strong ETags and 304s, pushes each
//! new version over Server-Sent Events, and exposes `/healthz` and `/metrics`.
//! Routes are listed in `docs/distribution.md`.
//!
//! [`router`] returns the routes over a shared [`State`], so another server (the
//! control plane) can mount them beside its own (the subscriber cap and CORS are
//! set on the [`State`]; the connection limits are the mounting server's job);
//! [`Origin::start`] is the whole stand-alone origin (`edgeflag serve`): it loads
//! the directory, watches it, optionally compiles and publishes a source on every
//! change, and serves connections with the limits below.
//!
//! ```no_run
//! # async fn run() -> Result<(), edgeflag_origin::ServeError> {
//! let config = edgeflag_origin::Config::new("published".into());
//! let origin = edgeflag_origin::Origin::start(config).await?;
//! println!("listening on http://{}", origin.local_addr()?);
//! origin.run_until(edgeflag_origin::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Limits
//!
//! What one client, or many, may hold, each a [`Config`] builder method (and an
//! `edgeflag serve` flag):
//!
//! | limit | default | beyond it |
//! |---|---|---|
//! | [`Config::header_read_timeout()`] | 10 s | the connection is closed (half-sent requests do not stay open); counted from a request's first byte |
//! | [`Config::idle_timeout()`] | 75 s | a connection with no request in flight and nothing sent (fresh or between requests) is closed; an open event stream is a response in flight, never idle |
//! | [`Config::max_connections()`] | 10,000 | `503` + `Retry-After`, then closed; open connections keep working |
//! | [`Config::max_subscribers()`] | 10,000 | `/<env>/events` answers `503` + `Retry-After`; a subscriber that leaves frees its slot |
//! | [`Config::ofrep_rate()`] | 10,000/s | OFREP answers `429` + `Retry-After` (a bucket per key, or one for the origin without keys) |
//!
//! `/<env>/events` is only for environments served (`404` otherwise). Layout
//! files other than `current.efr` are streamed from disk, at most
//! [`MAX_FILE_BYTES`]. No symbolic link below the publish directory is followed,
//! by the routes or by the directory scan: a linked environment or file is
//! refused and logged. Refusals are counted at `/metrics`
//! (`edgeflag_serve_refused_total`, `edgeflag_serve_connection_timeouts_total`).
//!
//! ## OFREP
//!
//! `POST /<env>/ofrep/v1/evaluate/flags[/{key}]` evaluates flags for
//! OpenFeature providers (the OpenFeature Remote Evaluation Protocol) from the
//! rulesets in memory; a provider's base URL is `http://host:port/<env>`.
//! Optional keys ([`OfrepKeys`], [`Config::ofrep_keys`]): `server` keys see
//! every flag, `client` keys only the client-side ones. Details, errors and the
//! `TARGETING_KEY_MISSING` rule: `docs/distribution.md` ("OFREP").
//!
//! ## CORS
//!
//! Only the routes browsers use carry CORS headers: `current.efr`,
//! `versions/*.efr`, `events` and the OFREP routes, by the [`Cors`] policy
//! ([`Cors::Any`] by default; a list of origins echoes the request's `Origin`
//! when listed, with `Vary: Origin`). `/metrics`, `/healthz`, manifests and audit records never do.
//!
//! Nothing here prints: events are logged with `tracing`.
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod confine;
mod cors;
mod http;
mod metrics;
mod ofrep;
mod serve;
mod state;
mod watch;

pub use cors::{Cors, CorsError};
pub use http::{router, DEFAULT_MAX_SUBSCRIBERS, KEEP_ALIVE, MAX_FILE_BYTES};
pub use metrics::Metrics;
pub use ofrep::{
    KeyKind, OfrepKeys, OfrepKeysError, DEFAULT_OFREP_RATE, MAX_BODY_BYTES as MAX_OFREP_BODY_BYTES,
    MIN_TOKEN_LEN,
};
pub use state::{Announce, Current, OfferRefused, Offered, State};

use axum::Router;
use edgeflag_evaluator::signature::{Signer, TrustedKeys};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why the origin could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Setting up a file watcher failed.
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// The watched path.
        path: String,
        /// The cause.
        source: notify::Error,
    },
    /// The server stopped with an error.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Default [`Config::header_read_timeout`] (10 s).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`Config::idle_timeout`] (75 s): above the clients' 30 s poll while
/// their event stream is connected, so a polling client keeps its connection.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

/// Default [`Config::max_connections`]: 10,000, with [`DEFAULT_MAX_SUBSCRIBERS`]
/// streams among them. Keep it below the process's open-file limit (`ulimit -n`),
/// less a few dozen for files and the watcher: at the limit `accept` fails and
/// nobody is told to retry.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// What to serve and where, and the limits that keep one client (or many) from
/// starving the others.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The publish directory.
    pub dir: PathBuf,
    /// Listening address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Source to compile and publish on change.
    pub watch: Option<PathBuf>,
    /// Audit-log actor for `watch` publishes.
    pub actor: String,
    /// Serve only files signed by these keys (see [`Config::trust`]).
    pub trust: Option<TrustedKeys>,
    /// Sign `watch` publishes, and sign again before they lapse.
    pub signer: Option<Arc<dyn Signer>>,
    /// Lifetime of signed `watch` publishes (`None`: never expire).
    pub lifetime: Option<std::time::Duration>,
    /// How long a client has to send a complete request head, from its first
    /// byte.
    pub header_read_timeout: Duration,
    /// How long a connection may wait with no request in flight and no byte of
    /// a new one (fresh, or between keep-alive requests) before it is closed.
    /// Open event streams are in flight and never idle.
    pub idle_timeout: Duration,
    /// Open connections at most; one more is answered `503` with `Retry-After`
    /// and closed.
    pub max_connections: usize,
    /// Open event streams at most (all environments together); one more is
    /// answered `503` with `Retry-After`.
    pub max_subscribers: usize,
    /// Which browser origins may read the rulesets across origins.
    pub cors: Cors,
    /// OFREP keys; `None`: OFREP is open, like the ruleset files.
    pub ofrep_keys: Option<OfrepKeys>,
    /// OFREP requests a second per key (for the whole origin without keys);
    /// `0`: no limit.
    pub ofrep_rate: u32,
}

impl Config {
    /// Serves `dir` on `127.0.0.1:8080`, no source watch, actor `edgeflag-origin`,
    /// the default limits and CORS for any origin on the ruleset routes.
    pub fn new(dir: PathBuf) -> Config {
        Config {
            dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            watch: None,
            actor: "edgeflag-origin".into(),
            trust: None,
            signer: None,
            lifetime: Some(edgeflag_publish::DEFAULT_LIFETIME),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            cors: Cors::Any,
            ofrep_keys: None,
            ofrep_rate: DEFAULT_OFREP_RATE,
        }
    }

    /// Serve only rulesets signed by one of `keys`: the directory watch refuses
    /// unsigned, tampered and unknown-key files and keeps serving the last good
    /// one.
    pub fn trust(mut self, keys: Option<TrustedKeys>) -> Config {
        self.trust = keys;
        self
    }

    /// Sign what `watch` publishes with `signer`, each ruleset fresh for
    /// `lifetime`; the origin publishes a re-signed version before half of it
    /// has passed, so clients never see it lapse while the origin runs.
    pub fn sign(
        mut self,
        signer: Arc<dyn Signer>,
        lifetime: Option<std::time::Duration>,
    ) -> Config {
        self.signer = Some(signer);
        self.lifetime = lifetime;
        self
    }

    /// Listen on `addr` instead.
    pub fn listen(mut self, addr: SocketAddr) -> Config {
        self.listen = addr;
        self
    }

    /// Compile and publish `src` into the directory at start and on every change,
    /// as `actor` in the audit log.
    pub fn watch(mut self, src: PathBuf, actor: String) -> Config {
        self.watch = Some(src);
        self.actor = actor;
        self
    }

    /// Close a connection whose request head is not complete within `timeout`
    /// (default [`DEFAULT_HEADER_READ_TIMEOUT`]).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Config {
        self.header_read_timeout = timeout;
        self
    }

    /// Close a keep-alive connection idle for `timeout` (default
    /// [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Config {
        self.idle_timeout = timeout;
        self
    }

    /// At most `n` open connections (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, n: usize) -> Config {
        self.max_connections = n;
        self
    }

    /// At most `n` open event streams (default [`DEFAULT_MAX_SUBSCRIBERS`]).
    pub fn max_subscribers(mut self, n: usize) -> Config {
        self.max_subscribers = n;
        self
    }

    /// The CORS policy of the ruleset and OFREP routes (default [`Cors::Any`]).
    pub fn cors(mut self, cors: Cors) -> Config {
        self.cors = cors;
        self
    }

    /// Require one of `keys` for OFREP requests (`None`: open).
    pub fn ofrep_keys(mut self, keys: Option<OfrepKeys>) -> Config {
        self.ofrep_keys = keys;
        self
    }

    /// At most `n` OFREP requests a second per key, or for the whole origin
    /// without keys (default [`DEFAULT_OFREP_RATE`]; `0`: no limit).
    pub fn ofrep_rate(mut self, n: u32) -> Config {
        self.ofrep_rate = n;
        self
    }
}

/// A bound, loaded origin, not yet answering: [`Origin::run_until`] serves.
#[derive(Debug)]
pub struct Origin {
    state: Arc<State>,
    listener: tokio::net::TcpListener,
    limits: serve::Limits,
}

impl Origin {
    /// Publishes the watched source (if any), loads the directory, starts the
    /// watchers and binds the socket.
    pub async fn start(config: Config) -> Result<Origin, ServeError> {
        let state = Arc::new(
            State::new(config.dir.clone())
                .cors(config.cors.clone())
                .max_subscribers(config.max_subscribers)
                .trusting(config.trust.clone())
                .ofrep(config.ofrep_keys.clone(), config.ofrep_rate),
        );
        if let Some(src) = &config.watch {
            let source = watch::Source {
                path: src.clone(),
                actor: config.actor.clone(),
                signer: config.signer.clone(),
                lifetime: config.lifetime,
            };
            watch::compile_and_publish(&state, &source).await;
            watch::spawn(state.clone(), source).map_err(|source| ServeError::Watch {
                path: src.display().to_string(),
                source,
            })?;
        }
        state.refresh();
        watch::spawn_dir_watch(state.clone()).map_err(|source| ServeError::Watch {
            path: config.dir.display().to_string(),
            source,
        })?;
        let listener = listen(config.listen).map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
        let limits = serve::Limits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        };
        if let Some(files) = serve::open_file_limit() {
            // Connections, refusals in progress, and some room for files.
            let wanted = (limits.max_connections + serve::REFUSALS_AT_ONCE + 64) as u64;
            if wanted > files {
                tracing::warn!(
                    "the open-file limit is {files}, below {} connections plus room \
                     for files; at the limit new connections fail without an answer: \
                     raise `ulimit -n` or lower the connection cap",
                    limits.max_connections
                );
            }
        }
        Ok(Origin {
            state,
            listener,
            limits,
        })
    }

    /// The bound address (the port is known even when `0` was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state: what is served, its metrics.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Serves until `stop` completes, then stops accepting, closes idle
    /// connections, ends the event streams, and gives responses still in flight
    /// [`SHUTDOWN_GRACE`] before returning.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        self.run_with_until(Router::new(), stop).await
    }

    /// As [`Origin::run_until`], serving `extra` routes beside the origin's
    /// (the control plane mounts its API and dashboard this way, so one
    /// address, one connection loop and one set of limits serve both).
    /// `extra` must not set a fallback.
    pub async fn run_with_until(
        self,
        extra: Router,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = extra.merge(router(self.state.clone()));
        serve::serve(
            self.listener,
            self.state,
            app,
            self.limits,
            stop,
            SHUTDOWN_GRACE,
        )
        .await;
        Ok(())
    }
}

/// How long responses in flight get after the stop signal.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Connections the kernel may queue before `accept`. A kill switch pushed to
/// thousands of subscribers makes them all connect at once to fetch it; with
/// tokio's default of 1,024 the overflow waits for a SYN retry (1 s).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with the origin's listen backlog (also for servers that mount
/// [`router`] themselves).
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

//! # edgeflag-origin
//!
//! The embedded origin as a library: serves a publish directory (what
//! `edgeflag-publish` writes) over HTTP with strong ETags and 304s, pushes each
//! new version over Server-Sent Events, and exposes `/healthz` and `/metrics`.
//! Routes are listed in `docs/distribution.md`.
//!
//! [`router`] returns the routes over a shared [`State`], so another server (the
//! control plane) can mount them beside its own; [`Origin::start`] is the whole
//! stand-alone origin (`edgeflag serve`): it loads the directory, watches it, and
//! optionally compiles and publishes a source on every change.
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
//! Nothing here prints: events are logged with `tracing`.
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod http;
mod metrics;
mod state;
mod watch;

pub use http::{router, KEEP_ALIVE};
pub use metrics::Metrics;
pub use state::{Announce, Current, State};

use edgeflag_evaluator::signature::{Signer, TrustedKeys};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

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

/// What to serve and where.
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
}

impl Config {
    /// Serves `dir` on `127.0.0.1:8080`, no source watch, actor `edgeflag-origin`.
    pub fn new(dir: PathBuf) -> Config {
        Config {
            dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            watch: None,
            actor: "edgeflag-origin".into(),
            trust: None,
            signer: None,
            lifetime: Some(edgeflag_publish::DEFAULT_LIFETIME),
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
}

/// A bound, loaded origin, not yet answering: [`Origin::run_until`] serves.
#[derive(Debug)]
pub struct Origin {
    state: Arc<State>,
    listener: tokio::net::TcpListener,
}

impl Origin {
    /// Publishes the watched source (if any), loads the directory, starts the
    /// watchers and binds the socket.
    pub async fn start(config: Config) -> Result<Origin, ServeError> {
        let state = Arc::new(State::new(config.dir.clone()).trusting(config.trust.clone()));
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
        Ok(Origin { state, listener })
    }

    /// The bound address (the port is known even when `0` was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state: what is served, its metrics.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Serves until `stop` completes, then gives open responses (event streams
    /// never end by themselves) [`SHUTDOWN_GRACE`] before returning.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server =
            axum::serve(self.listener, router(self.state)).with_graceful_shutdown(async move {
                stop.await;
                let _ = stop_tx.send(true);
            });
        let deadline = async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            result = server => result?,
            () = deadline => {}
        }
        Ok(())
    }
}

/// How long open responses (event streams included) get after the stop signal.
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

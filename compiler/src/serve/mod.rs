//! `edgeflag serve`: the embedded origin. Serves a publish directory over HTTP
//! (axum on tokio) with strong ETags and 304s, pushes each new version over
//! Server-Sent Events, exposes `/healthz` and `/metrics`, and with `--watch`
//! recompiles and republishes on every source change. Routes are listed in
//! `docs/distribution.md`.

mod http;
mod metrics;
mod state;
mod watch;

use state::State;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
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
pub struct Config {
    /// The publish directory.
    pub dir: PathBuf,
    /// Listening address (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Source to compile and publish on change.
    pub watch: Option<PathBuf>,
    /// Audit-log actor for `--watch` publishes.
    pub actor: String,
}

/// Runs the server until Ctrl-C or SIGTERM. Prints `listening on http://ADDR`
/// on stdout once the socket is bound.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let state = Arc::new(State::new(config.dir.clone()));
    if let Some(src) = &config.watch {
        watch::compile_and_publish(&state, src, &config.actor).await;
        watch::spawn(state.clone(), src.clone(), config.actor.clone()).map_err(|source| {
            ServeError::Watch {
                path: src.display().to_string(),
                source,
            }
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
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    for (env, v) in state.versions() {
        println!("  http://{addr}/{env}/current.efr (v{v})");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // Graceful shutdown waits for open responses, and event streams never end:
    // give them a moment after the signal, then stop.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, http::router(state)).with_graceful_shutdown(async move {
        shutdown().await;
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

/// How long open responses (event streams included) get after Ctrl-C or SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Connections the kernel may queue before `accept`. A kill switch pushed to
/// thousands of subscribers makes them all connect at once to fetch it; with
/// tokio's default of 1,024 the overflow waits for a SYN retry (1 s).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn shutdown() {
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

//! Accepting and serving connections with limits `axum::serve` does not have:
//!
//! * a **header-read timeout**: a request head must be complete within it,
//!   counted from its first byte (so half-sent requests do not stay open);
//! * an **idle timeout**: a connection with no request in flight and no byte of
//!   a new one (a fresh connection that sends nothing, a keep-alive connection
//!   between requests) is closed after it. A response in flight, such as an
//!   event stream, is not idle, however long it lasts. (Not counting the header
//!   timeout from the accept lets clients that connect ahead of time, or that
//!   are slow under load, keep their connection until they speak.)
//! * a **connection cap**: beyond it a new connection is answered `503` with
//!   `Retry-After` and closed, so the open ones (and the process's file
//!   descriptors) are not starved.
//!
//! Each connection is HTTP/1.1 through hyper, with the router as its service. A
//! watchdog per connection follows what the connection is doing (bytes read,
//! requests begun, response bodies dropped) and drops the connection when a
//! timeout passes.

use crate::state::State;
use axum::body::{Body, Bytes};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// The connection limits (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Refusals answered at once; beyond this many a refused connection is closed
/// without an answer (each holds a descriptor for up to [`REFUSAL_TIME`]).
pub(crate) const REFUSALS_AT_ONCE: usize = 128;

/// How long a refusal may take: write the `503`, then read what the client sent
/// until it closes (closing with unread data would reset the connection and
/// could destroy the `503` before the client reads it).
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// Pause after an accept error such as "too many open files", so the loop does
/// not spin while descriptors are short.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The refusal; its `Retry-After` is [`crate::http::RETRY_AFTER_SECS`].
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    Retry-After: 1\r\n\
    Cache-Control: no-store\r\n\
    Content-Type: text/plain\r\n\
    Content-Length: 21\r\n\
    Connection: close\r\n\r\n\
    too many connections\n";
const _: () = assert!(crate::http::RETRY_AFTER_SECS == 1);

/// Serves `listener` until `stop` completes, then closes idle connections, ends
/// event streams, and gives responses in flight `grace` before dropping them.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let open = Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let refusing = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _peer)) => tcp,
                    Err(e) if is_per_connection(&e) => continue,
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                match open.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let conn = connection(tcp, state.clone(), app.clone(), limits, stop_rx.clone(), slot);
                        connections.spawn(conn);
                    }
                    Err(_) => refuse(tcp, &refusing, &state),
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    state.end_streams();
    let drained = async { while connections.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(grace, drained).await;
    // Dropping the set aborts what is left.
}

/// Accept errors that concern one connection only (it was reset before accept).
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Answers `503` + `Retry-After` on a connection over the cap, off the accept
/// loop, and closes it.
fn refuse(tcp: TcpStream, refusing: &Arc<Semaphore>, state: &State) {
    state.metrics.connections_refused.fetch_add(1, Relaxed);
    tracing::debug!("connection refused: connection cap reached");
    let Ok(slot) = refusing.clone().try_acquire_owned() else {
        return; // dropping `tcp` closes it
    };
    tokio::spawn(async move {
        let _slot = slot;
        let mut tcp = tcp;
        let answer = async {
            tcp.write_all(BUSY).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 4096];
            let mut read = 0;
            while read < 64 << 10 {
                match tcp.read(&mut sink).await? {
                    0 => break,
                    n => read += n,
                }
            }
            Ok::<_, std::io::Error>(())
        };
        let _ = tokio::time::timeout(REFUSAL_TIME, answer).await;
    });
}

/// One connection: hyper's HTTP/1.1 over the router, raced against the
/// watchdog and the stop signal.
async fn connection(
    tcp: TcpStream,
    state: Arc<State>,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let _open = Open::new(state.clone());
    let _ = tcp.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        io: tcp,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let in_flight = InFlight::begin(activity.clone());
            let app = app.clone();
            async move {
                let resp = match app.oneshot(req.map(Body::new)).await {
                    Ok(resp) => resp,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(resp.map(|body| {
                    Body::new(Tracked {
                        body,
                        _in_flight: in_flight,
                    })
                }))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog keeps the time (hyper's own header timeout would also
    // count the idle wait between requests).
    builder
        .keep_alive(true)
        .header_read_timeout(None::<Duration>);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
                break;
            }
            which = watchdog(&activity, &limits) => {
                let counter = match which {
                    Timeout::Header => &state.metrics.header_timeouts,
                    Timeout::Idle => &state.metrics.idle_timeouts,
                };
                counter.fetch_add(1, Relaxed);
                tracing::debug!("closing a connection: {which:?} timeout");
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The open-connections gauge, for one connection's life.
struct Open(Arc<State>);

impl Open {
    fn new(state: Arc<State>) -> Open {
        state.metrics.connections.fetch_add(1, Relaxed);
        Open(state)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.metrics.connections.fetch_sub(1, Relaxed);
    }
}

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy)]
enum Timeout {
    Header,
    Idle,
}

/// What a connection is doing, for its watchdog.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

#[derive(Clone, Copy)]
struct Phase {
    /// Requests whose response body has not been dropped yet.
    in_flight: usize,
    /// When the last response ended (or the connection was accepted).
    idle_since: Instant,
    /// When the head now due started: the first byte read while idle. `None`
    /// while idle with nothing read, or while a request is in flight.
    head_since: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity {
            phase: Mutex::new(Phase {
                in_flight: 0,
                idle_since: now,
                head_since: None,
            }),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Phase) -> bool) {
        let changed = match self.phase.lock() {
            Ok(mut phase) => f(&mut phase),
            Err(_) => false,
        };
        if changed {
            self.changed.notify_waiters();
        }
    }

    fn bytes_read(&self) {
        self.update(|p| {
            let starts = p.in_flight == 0 && p.head_since.is_none();
            if starts {
                p.head_since = Some(Instant::now());
            }
            starts
        });
    }

    /// When the connection is to be closed, and why; `None` while busy (or
    /// never).
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Timeout)> {
        let p = *self.phase.lock().ok()?;
        if p.in_flight > 0 {
            return None;
        }
        // A timeout too long to add to the clock never passes.
        match p.head_since {
            Some(t) => Some((t.checked_add(limits.header_read_timeout)?, Timeout::Header)),
            None => Some((
                p.idle_since.checked_add(limits.idle_timeout)?,
                Timeout::Idle,
            )),
        }
    }
}

/// Completes when a timeout has passed; re-reads the deadline whenever the
/// activity changes.
async fn watchdog(activity: &Activity, limits: &Limits) -> Timeout {
    loop {
        // Registered before reading the deadline, so no change is missed.
        let changed = activity.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match activity.deadline(limits) {
            None => changed.await,
            Some((at, which)) => {
                if Instant::now() >= at {
                    return which;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = changed => {}
                }
            }
        }
    }
}

/// A request in flight, from the call of the service to the drop of the
/// response body.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> InFlight {
        activity.update(|p| {
            p.in_flight += 1;
            p.head_since = None;
            true
        });
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|p| {
            p.in_flight = p.in_flight.saturating_sub(1);
            if p.in_flight == 0 {
                p.idle_since = Instant::now();
                p.head_since = None;
            }
            true
        });
    }
}

/// A response body that keeps its request in flight until hyper drops it.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the activity when bytes arrive.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The soft limit on open files, where the platform tells it (`/proc` on Linux).
pub(crate) fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

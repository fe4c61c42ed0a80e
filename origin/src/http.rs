//! The routes: rulesets and the other layout files with ETag/304, the event
//! stream (for served environments, up to a subscriber cap), OFREP evaluation
//! (see `ofrep`), health and metrics, and CORS on the routes browsers use
//! across origins.

use crate::confine::{self, Refused};
use crate::cors::Cors;
use crate::state::{Announce, State};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use edgeflag_publish::layout::Kind;
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::io::ReaderStream;

/// How often an idle event stream carries a comment, so clients and proxies can
/// tell a quiet stream from a dead one.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The router over shared state.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/{env}/events", get(events))
        .route("/{env}/current.efr", get(current))
        .route("/{env}/ofrep/v1/evaluate/flags", post(crate::ofrep::bulk))
        .route(
            "/{env}/ofrep/v1/evaluate/flags/{key}",
            post(crate::ofrep::single),
        )
        .fallback(file)
        .layer(middleware::from_fn_with_state(state.clone(), cors))
        .with_state(state)
}

/// Default [`State::max_subscribers`]: open event streams in total.
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 10_000;

/// Files of the layout other than `current.efr` (served from memory) larger than
/// this are not served: a manifest of a million versions is about 100 MB less than
/// this, and a ruleset is far smaller.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// What a refused subscriber or connection is told to wait, in seconds.
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

/// What the routes enforce beyond the files: CORS, the subscriber cap, and the
/// signal that ends event streams at shutdown.
#[derive(Debug)]
pub(crate) struct Routes {
    cors: Cors,
    subscribers: Arc<Semaphore>,
    max_subscribers: usize,
    closing: watch::Sender<bool>,
}

impl Default for Routes {
    fn default() -> Routes {
        Routes {
            cors: Cors::Any,
            subscribers: Arc::new(Semaphore::new(DEFAULT_MAX_SUBSCRIBERS)),
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            closing: watch::channel(false).0,
        }
    }
}

impl State {
    /// Which browser origins may read the rulesets ([`Cors::Any`] unless set).
    pub fn cors(mut self, cors: Cors) -> State {
        self.routes.cors = cors;
        self
    }

    /// At most `n` open event streams in total (default
    /// [`DEFAULT_MAX_SUBSCRIBERS`]); one more is answered `503` with
    /// `Retry-After`. A subscriber that disconnects frees its slot.
    pub fn max_subscribers(mut self, n: usize) -> State {
        let n = n.min(Semaphore::MAX_PERMITS);
        self.routes.subscribers = Arc::new(Semaphore::new(n));
        self.routes.max_subscribers = n;
        self
    }

    /// The subscriber cap in force.
    pub fn subscriber_limit(&self) -> usize {
        self.routes.max_subscribers
    }

    /// Ends every open event stream (and refuses new ones), so a graceful
    /// shutdown need not wait for streams that never end by themselves.
    pub fn end_streams(&self) {
        self.routes.closing.send_replace(true);
    }
}

/// CORS by the state's policy (see [`Cors`]).
async fn cors(Extract(state): Extract<Arc<State>>, req: Request<Body>, next: Next) -> Response {
    crate::cors::layer(&state.routes.cors, req, next).await
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, lists, `*`).
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let wanted = strip(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == wanted)
}

/// A body (or a 304) with the layout's headers. `body` is only produced when
/// the answer is not a 304 (so a fresh poll opens nothing).
fn respond(
    state: &State,
    headers: &HeaderMap,
    kind: Kind,
    etag: &str,
    link: Option<String>,
    len: u64,
    body: impl FnOnce() -> Body,
) -> Response {
    let mut builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, kind.cache_control());
    if let Some(link) = link {
        builder = builder.header(header::LINK, link);
    }
    let fresh = not_modified(headers, etag);
    let m = &state.metrics;
    let counter = match (kind, fresh) {
        (Kind::Current, true) => &m.ruleset_not_modified,
        (Kind::Current, false) => &m.ruleset_full,
        _ => &m.files,
    };
    counter.fetch_add(1, Relaxed);
    if fresh {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    state.metrics.bytes_sent.fetch_add(len, Relaxed);
    builder
        .header(header::CONTENT_TYPE, kind.content_type())
        .header(header::CONTENT_LENGTH, len)
        .body(body())
        .unwrap_or_default()
}

fn not_found(state: &State) -> Response {
    state.metrics.not_found.fetch_add(1, Relaxed);
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// `503` with `Retry-After`, for a caller over a cap.
pub(crate) fn busy(what: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        what,
    )
        .into_response()
}

/// `GET|HEAD /<env>/current.efr`, from memory.
async fn current(
    Extract(state): Extract<Arc<State>>,
    Path(env): Path<String>,
    headers: HeaderMap,
) -> Response {
    match state.current(&env) {
        Some(c) => {
            let link = format!("</{env}/events>; rel=\"edgeflag-events\"");
            let len = c.bytes.len() as u64;
            respond(
                &state,
                &headers,
                Kind::Current,
                &c.etag,
                Some(link),
                len,
                || Body::from(c.bytes.clone()),
            )
        }
        None => not_found(&state),
    }
}

/// Whether `key` (the request path without its leading `/`) can name a file of
/// the layout: a valid environment first, then segments of letters, digits, `-`,
/// `_` and inner dots only. Nothing is decoded: `%2e%2e` or `%2f` is refused, not
/// turned into `..` or `/`.
fn is_layout_key(key: &str) -> bool {
    key.split('/')
        .next()
        .is_some_and(edgeflag_compiler::is_valid_environment)
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// Every other file of the layout (versions, manifest, audit records), streamed
/// from disk without following links (see `confine`), up to [`MAX_FILE_BYTES`].
async fn file(Extract(state): Extract<Arc<State>>, req: Request<Body>) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let key = req.uri().path().trim_start_matches('/').to_string();
    let Some(kind) = Kind::of(&key).filter(|_| is_layout_key(&key)) else {
        return not_found(&state);
    };
    let dir = state.dir.clone();
    let k = key.clone();
    // Open, check and hash off the runtime's threads; the body is streamed below.
    let opened = tokio::task::spawn_blocking(move || {
        let (mut file, len) = confine::open(&dir, &k, MAX_FILE_BYTES)?;
        let etag = hash_file(&mut file, len).map_err(|source| Refused::Io {
            path: dir.join(&k),
            source,
        })?;
        Ok::<_, Refused>((file, len, etag))
    })
    .await;
    let (file, len, etag) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(refused)) => {
            if refused.is_suspicious() {
                state.metrics.files_refused.fetch_add(1, Relaxed);
                tracing::warn!("not serving /{key}: {refused}");
            }
            return not_found(&state);
        }
        Err(join) => {
            tracing::error!("reading /{key} failed: {join}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    respond(&state, req.headers(), kind, &etag, None, len, move || {
        // Exactly the bytes hashed: a file that grew since is cut at `len`.
        let file = tokio::fs::File::from_std(file).take(len);
        Body::from_stream(ReaderStream::with_capacity(file, FILE_CHUNK))
    })
}

/// Read size when streaming a file.
const FILE_CHUNK: usize = 64 << 10;

/// The layout's ETag of the first `len` bytes of `file` (what
/// [`edgeflag_publish::layout::etag_of`] gives for them),
/// read in chunks; leaves the file at its start.
fn hash_file(file: &mut std::fs::File, len: u64) -> std::io::Result<String> {
    use std::io::{Read, Seek};
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0; FILE_CHUNK];
    let mut limited = (&mut *file).take(len);
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    file.rewind()?;
    Ok(format!("\"{:032x}\"", hasher.digest128()))
}

/// `GET /healthz`: the environments served and their versions.
async fn health(Extract(state): Extract<Arc<State>>) -> Response {
    let envs: serde_json::Map<String, serde_json::Value> = state
        .versions()
        .into_iter()
        .map(|(env, v)| (env, v.into()))
        .collect();
    let body = serde_json::json!({"status": "ok", "environments": envs});
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(Extract(state): Extract<Arc<State>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(&state.versions()),
    )
        .into_response()
}

fn event_for(a: &Announce, ofrep: bool) -> Event {
    if ofrep {
        return crate::ofrep::refetch_event(a);
    }
    let data =
        serde_json::json!({"env": a.env, "version": a.version, "epoch": a.epoch, "etag": a.etag});
    Event::default().event("ruleset").data(data.to_string())
}

/// An open subscription: holds its slot of the subscriber cap and decrements
/// the gauge when the stream is dropped.
struct Subscribed {
    state: Arc<State>,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.state.metrics.sse_clients.fetch_sub(1, Relaxed);
    }
}

/// `GET /<env>/events`: the current version at once, then every new one. Only
/// for served environments (`404` otherwise), and at most
/// [`State::max_subscribers`] at once (`503` beyond). With `?format=ofrep` the
/// events are OFREP's `refetchEvaluation` messages instead of `ruleset` events.
async fn events(
    Extract(state): Extract<Arc<State>>,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    // Only served environments: a stream for any other name would never carry
    // an event and would only hold a slot.
    let Some(current) = state.current(&env) else {
        return Err(not_found(&state));
    };
    let mut closing = state.routes.closing.subscribe();
    if *closing.borrow_and_update() {
        return Err(busy("shutting down\n"));
    }
    let Ok(slot) = state.routes.subscribers.clone().try_acquire_owned() else {
        state.metrics.sse_refused.fetch_add(1, Relaxed);
        tracing::debug!(env = %env, "event stream refused: subscriber cap reached");
        return Err(busy("too many subscribers\n"));
    };
    state.metrics.sse_clients.fetch_add(1, Relaxed);
    let guard = Arc::new(Subscribed {
        state: state.clone(),
        _slot: slot,
    });
    let receiver = BroadcastStream::new(state.announce.subscribe());
    let first = Announce {
        env: env.clone(),
        version: current.version,
        epoch: current.header.epoch,
        etag: current.etag.clone(),
    };
    let ofrep = crate::ofrep::wants_ofrep_events(query.as_deref());
    let live_state = state.clone();
    let live = receiver.filter_map(move |msg| {
        let (state, env, guard) = (live_state.clone(), env.clone(), guard.clone());
        async move {
            let _alive = guard;
            let announce = match msg {
                Ok(a) if a.env == env => a,
                Ok(_) => return None,
                // Fell behind: announce what is current now instead.
                Err(BroadcastStreamRecvError::Lagged(_)) => {
                    let c = state.current(&env)?;
                    Announce {
                        env: env.clone(),
                        version: c.version,
                        epoch: c.header.epoch,
                        etag: c.etag.clone(),
                    }
                }
            };
            state.metrics.sse_events.fetch_add(1, Relaxed);
            Some(Ok(event_for(&announce, ofrep)))
        }
    });
    let head = stream::once(async move { Ok(event_for(&first, ofrep)) });
    // The stream ends when the server shuts down.
    let closed = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    Ok(Sse::new(head.chain(live).take_until(closed))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hashing_a_file_gives_the_layout_etag() {
        let path = std::env::temp_dir().join(format!("edgeflag-hash-{}", std::process::id()));
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let etag = hash_file(&mut file, bytes.len() as u64).unwrap();
        assert_eq!(etag, edgeflag_publish::layout::etag_of(&bytes));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn layout_keys() {
        for ok in [
            "production/versions/00000000000000000001.efr",
            "p/manifest.json",
        ] {
            assert!(is_layout_key(ok), "{ok}");
        }
        for bad in [
            "production/../x/manifest.json",
            "production/%2e%2e/manifest.json",
            "production%2fmanifest.json",
            "production//manifest.json",
            "production/.edgeflag.lock",
            "../production/manifest.json",
            "production/versions/a\\b.efr",
        ] {
            assert!(!is_layout_key(bad), "{bad}");
        }
    }

    #[test]
    fn if_none_match_forms() {
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, "\"a\""));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"b\", W/\"a\""),
        );
        assert!(not_modified(&h, "\"a\""));
        assert!(!not_modified(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, "\"c\""));
    }
}

//! The routes: rulesets and the other layout files with ETag/304, the event
//! stream, health and metrics, and CORS for browsers polling across origins.

use crate::state::{Announce, State};
use axum::body::Body;
use axum::extract::{Path, State as Extract};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use edgeflag_publish::layout::{etag_of, Kind};
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

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
        .fallback(file)
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

/// Adds CORS headers to every response and answers preflights.
async fn cors(req: Request<Body>, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Link, Retry-After"),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("If-None-Match, Cache-Control, Last-Event-ID"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    resp
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, lists, `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let wanted = strip(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == wanted)
}

/// A body (or a 304) with the layout's headers.
fn respond(
    state: &State,
    headers: &HeaderMap,
    kind: Kind,
    bytes: axum::body::Bytes,
    etag: &str,
    link: Option<String>,
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
    state
        .metrics
        .bytes_sent
        .fetch_add(bytes.len() as u64, Relaxed);
    builder
        .header(header::CONTENT_TYPE, kind.content_type())
        .body(Body::from(bytes))
        .unwrap_or_default()
}

fn not_found(state: &State) -> Response {
    state.metrics.not_found.fetch_add(1, Relaxed);
    (StatusCode::NOT_FOUND, "not found\n").into_response()
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
            respond(
                &state,
                &headers,
                Kind::Current,
                c.bytes.clone(),
                &c.etag,
                Some(link),
            )
        }
        None => not_found(&state),
    }
}

/// Every other file of the layout (versions, manifest, audit records), from disk.
async fn file(Extract(state): Extract<Arc<State>>, req: Request<Body>) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let key = req.uri().path().trim_start_matches('/');
    let safe = key
        .split('/')
        .all(|seg| !seg.is_empty() && !seg.starts_with('.'))
        && key
            .split('/')
            .next()
            .is_some_and(edgeflag_compiler::is_valid_environment);
    let Some(kind) = Kind::of(key).filter(|_| safe) else {
        return not_found(&state);
    };
    let path = state.dir.join(key);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let etag = etag_of(&bytes);
            respond(&state, req.headers(), kind, bytes.into(), &etag, None)
        }
        Err(_) => not_found(&state),
    }
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

fn event_for(a: &Announce) -> Event {
    let data =
        serde_json::json!({"env": a.env, "version": a.version, "epoch": a.epoch, "etag": a.etag});
    Event::default().event("ruleset").data(data.to_string())
}

/// Decrements the subscriber gauge when a stream is dropped.
struct Subscribed(Arc<State>);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.metrics.sse_clients.fetch_sub(1, Relaxed);
    }
}

/// `GET /<env>/events`: the current version at once, then every new one.
async fn events(
    Extract(state): Extract<Arc<State>>,
    Path(env): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    if !edgeflag_compiler::is_valid_environment(&env) {
        return Err(not_found(&state));
    }
    state.metrics.sse_clients.fetch_add(1, Relaxed);
    let guard = Arc::new(Subscribed(state.clone()));
    let receiver = BroadcastStream::new(state.announce.subscribe());
    let first = state.current(&env).map(|c| Announce {
        env: env.clone(),
        version: c.version,
        epoch: c.header.epoch,
        etag: c.etag.clone(),
    });
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
            Some(Ok(event_for(&announce)))
        }
    });
    let head = stream::iter(first.map(|a| Ok(event_for(&a))));
    Ok(Sse::new(head.chain(live))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

#[cfg(test)]
mod tests {
    use super::*;

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

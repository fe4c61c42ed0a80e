//! `Idempotency-Key` on POSTs: a retried request with the same key (from the
//! same token) gets the first answer again instead of applying twice. The
//! same key with another method, path or body is refused (422). Answers are
//! kept for a day; only answers below 500 are kept (a failure may be retried).

use super::{ApiError, App};
use crate::auth::{hash, hex};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::Arc;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// How long an answer is replayed.
const KEEP_MS: i64 = 24 * 60 * 60 * 1000;

/// The largest request or answer body kept (the API's bodies are small).
const MAX_BODY: usize = 4 << 20;

/// The middleware (POST requests with the header only).
pub async fn layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    match replay_or_run(&app, key, req, next).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn replay_or_run(
    app: &App,
    key: HeaderValue,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let bad = |m: &str| ApiError::bad_request(m.to_owned()).into_response();
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| bad("Idempotency-Key must be 1 to 255 visible ASCII characters"))?
        .to_owned();
    // Scoped by the caller's token (an anonymous request is refused later
    // anyway, and is not replayed).
    let Some(token) = super::Credential::of(req.headers()).map(|c| c.scope()) else {
        return Ok(next.run(req).await);
    };
    let scope = hash(&format!("{token}:{key}"));
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| bad("the request body is larger than 4 MiB"))?;
    let mut fp = Sha256::new();
    fp.update(parts.method.as_str().as_bytes());
    fp.update([0]);
    fp.update(parts.uri.path().as_bytes());
    fp.update([0]);
    fp.update(&bytes);
    let fingerprint = hex(&fp.finalize());

    let db_err = |e: sqlx::Error| ApiError::from(e).into_response();
    let mut conn = app.engine.db.pool.acquire().await.map_err(db_err)?;
    let now = edgeflag_publish::now_ms();
    let row = sqlx::query(
        "SELECT fingerprint, status, body FROM idempotency WHERE scope = $1 AND at > $2",
    )
    .bind(&scope)
    .bind(now - KEEP_MS)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some(row) = row {
        let (stored_fp, status, body): (String, i64, String) = (
            row.try_get(0).map_err(db_err)?,
            row.try_get(1).map_err(db_err)?,
            row.try_get(2).map_err(db_err)?,
        );
        if stored_fp != fingerprint {
            return Err(ApiError::new(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used for another request; use a new key for a new request",
            )
            .into_response());
        }
        let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(resp);
    }
    drop(conn);

    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if resp.status().is_server_error() {
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    if let Ok(text) = std::str::from_utf8(&bytes) {
        if let Ok(mut conn) = app.engine.db.pool.acquire().await {
            let _ = sqlx::query("DELETE FROM idempotency WHERE at <= $1")
                .bind(now - KEEP_MS)
                .execute(&mut *conn)
                .await;
            let stored = sqlx::query(
                "INSERT INTO idempotency (scope, fingerprint, status, body, at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (scope) DO NOTHING",
            )
            .bind(&scope)
            .bind(&fingerprint)
            .bind(i64::from(parts.status.as_u16()))
            .bind(text)
            .bind(now)
            .execute(&mut *conn)
            .await;
            if let Err(e) = stored {
                tracing::warn!("keeping the answer of an Idempotency-Key: {e}");
            }
        }
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

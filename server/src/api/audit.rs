//! The audit log: every change, who made it, when, before and after. Append
//! only: no route updates or deletes a record.

use super::{ApiError, App, Caller};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use std::sync::Arc;

/// One audit record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Record {
    /// Its id (increasing).
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// Who (`token:<name>`).
    pub actor: String,
    /// What, e.g. `flag.update`, `flag.turn_off`, `rollback`.
    pub action: String,
    /// The resource's kind: `flag`, `segment`, `environment`, `settings`, `token`.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// The project revision the change made.
    pub revision: i64,
    /// The resource before (absent: it did not exist).
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The resource after (absent: deleted).
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The request that made it.
    pub request_id: String,
    /// The caller's comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only this kind of resource (`flag`, `segment`, …).
    kind: Option<String>,
    /// Only this resource key (e.g. a flag's).
    key: Option<String>,
    /// Only this actor.
    actor: Option<String>,
    /// From this time on (Unix ms, inclusive).
    since: Option<i64>,
    /// Before this time (Unix ms, exclusive).
    until: Option<i64>,
    /// Records older than this id (the `id` of the last record of the
    /// previous page).
    before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    limit: Option<i64>,
    /// `jsonl`: JSON lines instead of a JSON array (for export).
    format: Option<String>,
}

/// The audit log, newest first, filtered.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [Record]), (status = 401, body = ApiError)))]
pub async fn list(
    State(app): State<Arc<App>>,
    _: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let mut sql = String::from(
        "SELECT id, at, actor, action, kind, key, revision, before, after, request_id, comment \
         FROM audit WHERE id < $1 AND at >= $2 AND at < $3",
    );
    let mut n = 3;
    for (value, column) in [(&q.kind, "kind"), (&q.key, "key"), (&q.actor, "actor")] {
        if value.is_some() {
            n += 1;
            sql.push_str(&format!(" AND {column} = ${n}"));
        }
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    let mut query = sqlx::query(&sql)
        .bind(q.before.unwrap_or(i64::MAX))
        .bind(q.since.unwrap_or(i64::MIN))
        .bind(q.until.unwrap_or(i64::MAX));
    for v in [&q.kind, &q.key, &q.actor].into_iter().flatten() {
        query = query.bind(v);
    }
    let mut conn = app.engine.db.pool.acquire().await?;
    let rows = query.fetch_all(&mut *conn).await?;
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        records.push(Record {
            id: row.try_get(0)?,
            at: row.try_get(1)?,
            actor: row.try_get(2)?,
            action: row.try_get(3)?,
            kind: row.try_get(4)?,
            key: row.try_get(5)?,
            revision: row.try_get(6)?,
            before: json(row.try_get(7)?),
            after: json(row.try_get(8)?),
            request_id: row.try_get(9)?,
            comment: row.try_get(10)?,
        });
    }
    if q.format.as_deref() == Some("jsonl") {
        let mut out = String::new();
        for r in &records {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
        return Ok(([(header::CONTENT_TYPE, "application/jsonl")], out).into_response());
    }
    Ok(Json(records).into_response())
}

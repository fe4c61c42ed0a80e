//! Flags and segments: list (search, filters, pages), create, read, replace,
//! delete. A definition is the rule language's JSON form of the flag or
//! segment (what sits under `flags.<key>` in a source file), metadata and
//! per-environment overrides included.

use super::{if_match, with_etag, ApiError, App, Caller, RequestId};
use crate::auth::Role;
use crate::change::{Applied, Edit, Expect, Published, Request, Target};
use crate::db::Doc;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use std::sync::Arc;

/// A flag or segment as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resource {
    /// Its key.
    pub key: String,
    /// Its definition in the rule language's JSON form.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Its revision (also its `ETag`, quoted).
    pub revision: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

impl From<Doc> for Resource {
    fn from(d: Doc) -> Resource {
        Resource {
            key: d.key,
            definition: d.definition,
            revision: d.revision,
            updated_at: d.updated_at,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    /// The items, by key.
    pub items: Vec<Resource>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// What a change did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Changed {
    /// The resource as stored now (absent after a delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// The project revision the change made.
    pub revision: i64,
    /// What each environment serves now.
    pub published: Vec<Published>,
}

impl Changed {
    pub(crate) fn of(applied: Applied) -> Changed {
        let resource = applied
            .resources
            .into_iter()
            .next()
            .and_then(|(_, doc)| doc)
            .map(Resource::from);
        Changed {
            resource,
            revision: applied.revision,
            published: applied.published,
        }
    }

    pub(crate) fn respond(self, status: StatusCode) -> Response {
        match &self.resource {
            Some(r) => {
                let rev = r.revision;
                with_etag(rev, (status, Json(self)))
            }
            None => (status, Json(self)).into_response(),
        }
    }
}

/// Filters of a list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Text in the key or anywhere in the definition (case-insensitive).
    q: Option<String>,
    /// Only those with this tag.
    tag: Option<String>,
    /// Only those of this owner.
    owner: Option<String>,
    /// Only temporary (`true`) or permanent (`false`) ones.
    temporary: Option<bool>,
    /// Only those whose `expires` date has passed (`true`) or has not or is
    /// unset (`false`), by today's UTC date.
    expired: Option<bool>,
    /// Only flags turned off (kill-switched) in this environment.
    off_in: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<usize>,
    /// The `next` of the previous page.
    after: Option<String>,
}

/// A new flag or segment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Create {
    /// Its key.
    pub key: String,
    /// Its definition (default `{}`: a boolean flag with the rule language's
    /// defaults).
    #[schema(value_type = Object)]
    #[serde(default = "empty")]
    pub definition: Value,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// A replacement definition.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Put {
    /// The whole new definition.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// Why a delete happens.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteQuery {
    /// Why, for the audit log.
    comment: Option<String>,
}

fn empty() -> Value {
    Value::Object(Default::default())
}

#[derive(Clone, Copy)]
enum Kind {
    Flag,
    Segment,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Flag => "flags",
            Kind::Segment => "segments",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Flag => "flag",
            Kind::Segment => "segment",
        }
    }
    fn target(self, key: &str) -> Target {
        match self {
            Kind::Flag => Target::Flag(key.to_owned()),
            Kind::Segment => Target::Segment(key.to_owned()),
        }
    }
}

/// Keys longer than this are refused before anything is read (the compiler
/// has its own, stricter rule).
const MAX_KEY: usize = 256;

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ApiError::bad_request(format!(
            "a key has 1 to {MAX_KEY} bytes; got {}",
            key.len()
        )));
    }
    Ok(())
}

fn check_definition(v: &Value) -> Result<(), ApiError> {
    if v.is_object() {
        Ok(())
    } else {
        Err(ApiError::bad_request("`definition` must be a JSON object"))
    }
}

async fn list(app: &App, kind: Kind, q: ListQuery) -> Result<Page, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let pattern = q.q.as_deref().map(|t| {
        let escaped = t
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let filtered = q.tag.is_some()
        || q.owner.is_some()
        || q.temporary.is_some()
        || q.expired.is_some()
        || q.off_in.is_some();
    let today = edgeflag_compiler::describe::rfc3339_ms(edgeflag_publish::now_ms())
        .get(..10)
        .map(str::to_owned)
        .unwrap_or_default();
    let mut sql = format!(
        "SELECT key, definition, revision, updated_at FROM {} WHERE key > $1",
        kind.table()
    );
    if pattern.is_some() {
        sql.push_str(
            " AND (LOWER(key) LIKE $2 ESCAPE '\\' OR LOWER(definition) LIKE $2 ESCAPE '\\')",
        );
    }
    sql.push_str(" ORDER BY key");
    if !filtered {
        sql.push_str(&format!(" LIMIT {}", limit + 1));
    }
    let mut query = sqlx::query(&sql).bind(q.after.unwrap_or_default());
    if let Some(p) = &pattern {
        query = query.bind(p);
    }
    let mut conn = app.engine.db.pool.acquire().await?;
    let rows = query.fetch_all(&mut *conn).await?;
    let mut items = Vec::new();
    let mut next = None;
    for row in rows {
        let text: String = row.try_get(1)?;
        let definition: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let wanted = q.tag.as_ref().is_none_or(|t| {
            definition["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|x| x.as_str() == Some(t)))
        }) && q
            .owner
            .as_ref()
            .is_none_or(|o| definition["owner"].as_str() == Some(o))
            && q.temporary
                .is_none_or(|t| definition["temporary"].as_bool().unwrap_or(false) == t)
            && q.expired.is_none_or(|e| {
                // `YYYY-MM-DD` compares as text.
                let passed = definition["expires"]
                    .as_str()
                    .is_some_and(|d| d < today.as_str());
                passed == e
            })
            && q.off_in
                .as_deref()
                .is_none_or(|env| !enabled_in(&definition, env));
        if !wanted {
            continue;
        }
        if items.len() == limit {
            next = items.last().map(|r: &Resource| r.key.clone());
            break;
        }
        items.push(Resource {
            key: row.try_get(0)?,
            definition,
            revision: row.try_get(2)?,
            updated_at: row.try_get(3)?,
        });
    }
    Ok(Page { items, next })
}

/// Whether a flag's definition is on in `env` (its override, else the flag's
/// `enabled`, default on).
fn enabled_in(definition: &Value, env: &str) -> bool {
    let over = &definition["environments"][env]["enabled"];
    over.as_bool()
        .or_else(|| definition["enabled"].as_bool())
        .unwrap_or(true)
}

async fn read(app: &App, kind: Kind, key: &str) -> Result<Resource, ApiError> {
    let sql = format!(
        "SELECT key, definition, revision, updated_at FROM {} WHERE key = $1",
        kind.table()
    );
    let mut conn = app.engine.db.pool.acquire().await?;
    let row = sqlx::query(&sql)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {key:?} does not exist", kind.name())))?;
    let text: String = row.try_get(1)?;
    Ok(Resource {
        key: row.try_get(0)?,
        definition: serde_json::from_str(&text).unwrap_or(Value::Null),
        revision: row.try_get(2)?,
        updated_at: row.try_get(3)?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn write(
    app: &App,
    who: &Caller,
    rid: &RequestId,
    kind: Kind,
    key: &str,
    after: Option<Value>,
    expect: Expect,
    action: &str,
    comment: Option<&str>,
) -> Result<Changed, ApiError> {
    who.0
        .require(Role::Editor, &format!("changing a {}", kind.name()))?;
    check_key(key)?;
    if let Some(v) = &after {
        check_definition(v)?;
    }
    let edit = Edit {
        target: kind.target(key),
        after,
        expect,
    };
    apply_one(app, who, rid, edit, action, comment).await
}

/// Applies one edit as `who`'s change (the step every single-resource write
/// of the API ends with).
pub(crate) async fn apply_one(
    app: &App,
    who: &Caller,
    rid: &RequestId,
    edit: Edit,
    action: &str,
    comment: Option<&str>,
) -> Result<Changed, ApiError> {
    let req = Request {
        who: &who.0,
        request_id: &rid.0,
        action,
        comment,
    };
    Ok(Changed::of(app.engine.apply(&req, &[edit]).await?))
}

/// Lists flags, by key, a page at a time.
#[utoipa::path(get, path = "/api/v1/flags", tag = "flags", params(ListQuery),
    responses((status = 200, body = Page), (status = 401, body = ApiError)))]
pub async fn list_flags(
    State(app): State<Arc<App>>,
    _: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    Ok(Json(list(&app, Kind::Flag, q).await?))
}

/// Creates a flag; validated, published and audited before the answer.
#[utoipa::path(post, path = "/api/v1/flags", tag = "flags", request_body = Create,
    responses((status = 201, body = Changed), (status = 409, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_flag(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Json(body): Json<Create>,
) -> Result<Response, ApiError> {
    let key = body.key.clone();
    let c = write(
        &app,
        &who,
        &rid,
        Kind::Flag,
        &key,
        Some(body.definition),
        Expect::Absent,
        "flag.create",
        body.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::CREATED))
}

/// Reads a flag (with its `ETag`).
#[utoipa::path(get, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path)),
    responses((status = 200, body = Resource), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn get_flag(
    State(app): State<Arc<App>>,
    _: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let r = read(&app, Kind::Flag, &key).await?;
    Ok(with_etag(r.revision, Json(r)))
}

/// Replaces a flag's definition (creates it when missing and no `If-Match`
/// is sent). `If-Match` with the `ETag` read refuses a lost update (412).
#[utoipa::path(put, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path)), request_body = Put,
    responses((status = 200, body = Changed), (status = 412, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn put_flag(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Put>,
) -> Result<Response, ApiError> {
    let expect = if_match(&headers, Expect::Any)?;
    let c = write(
        &app,
        &who,
        &rid,
        Kind::Flag,
        &key,
        Some(body.definition),
        expect,
        "flag.update",
        body.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::OK))
}

/// Deletes a flag (refused with 422 while another flag requires it).
#[utoipa::path(delete, path = "/api/v1/flags/{key}", tag = "flags", params(("key" = String, Path), DeleteQuery),
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 412, body = ApiError),
              (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete_flag(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path(key): Path<String>,
    Query(q): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expect = if_match(&headers, Expect::Present)?;
    let c = write(
        &app,
        &who,
        &rid,
        Kind::Flag,
        &key,
        None,
        expect,
        "flag.delete",
        q.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::OK))
}

/// Lists segments, by key, a page at a time.
#[utoipa::path(get, path = "/api/v1/segments", tag = "segments", params(ListQuery),
    responses((status = 200, body = Page), (status = 401, body = ApiError)))]
pub async fn list_segments(
    State(app): State<Arc<App>>,
    _: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    Ok(Json(list(&app, Kind::Segment, q).await?))
}

/// Creates a segment.
#[utoipa::path(post, path = "/api/v1/segments", tag = "segments", request_body = Create,
    responses((status = 201, body = Changed), (status = 409, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_segment(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Json(body): Json<Create>,
) -> Result<Response, ApiError> {
    let key = body.key.clone();
    let c = write(
        &app,
        &who,
        &rid,
        Kind::Segment,
        &key,
        Some(body.definition),
        Expect::Absent,
        "segment.create",
        body.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::CREATED))
}

/// Reads a segment (with its `ETag`).
#[utoipa::path(get, path = "/api/v1/segments/{key}", tag = "segments", params(("key" = String, Path)),
    responses((status = 200, body = Resource), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn get_segment(
    State(app): State<Arc<App>>,
    _: Caller,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let r = read(&app, Kind::Segment, &key).await?;
    Ok(with_etag(r.revision, Json(r)))
}

/// Replaces a segment's definition.
#[utoipa::path(put, path = "/api/v1/segments/{key}", tag = "segments", params(("key" = String, Path)), request_body = Put,
    responses((status = 200, body = Changed), (status = 412, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn put_segment(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path(key): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Put>,
) -> Result<Response, ApiError> {
    let expect = if_match(&headers, Expect::Any)?;
    let c = write(
        &app,
        &who,
        &rid,
        Kind::Segment,
        &key,
        Some(body.definition),
        expect,
        "segment.update",
        body.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::OK))
}

/// Deletes a segment (refused with 422 while a rule uses it).
#[utoipa::path(delete, path = "/api/v1/segments/{key}", tag = "segments", params(("key" = String, Path), DeleteQuery),
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete_segment(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path(key): Path<String>,
    Query(q): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expect = if_match(&headers, Expect::Present)?;
    let c = write(
        &app,
        &who,
        &rid,
        Kind::Segment,
        &key,
        None,
        expect,
        "segment.delete",
        q.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::OK))
}

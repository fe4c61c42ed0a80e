//! History: the versions an environment published (from its manifest) with
//! the project revision each came from; and one-call rollback of the project
//! to an earlier revision.

use super::resources::Changed;
use super::{ApiError, App, Caller, RequestId};
use crate::auth::Role;
use crate::change::{Edit, Expect, Request, Target};
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One published version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    /// The version.
    pub version: u64,
    /// When (Unix ms).
    pub at: i64,
    /// Who published it.
    pub actor: String,
    /// Why: `publish`, `rollback to N` or `resign`.
    pub action: String,
    /// What changed, one line per change.
    pub changes: Vec<String>,
    /// The project revision it came from (absent for versions published
    /// before this server adopted the destination).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

/// An environment's published versions, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    /// The environment.
    pub environment: String,
    /// The version served now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// Every version.
    pub versions: Vec<Version>,
}

/// A rollback of the project to an earlier revision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Rollback {
    /// The revision to return to (every flag, segment, environment and
    /// setting as it was then).
    pub revision: i64,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// The versions `env` published.
#[utoipa::path(get, path = "/api/v1/environments/{env}/history", tag = "history", params(("env" = String, Path)),
    responses((status = 200, body = History), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn history(
    State(app): State<Arc<App>>,
    _: Caller,
    Path(env): Path<String>,
) -> Result<Json<History>, ApiError> {
    if !edgeflag_compiler::is_valid_environment(&env) {
        return Err(ApiError::not_found(format!(
            "environment {env:?} does not exist"
        )));
    }
    let manifest = edgeflag_publish::history(&app.engine.store, &env)
        .await
        .map_err(|e| {
            ApiError::new(
                503,
                "UNAVAILABLE",
                format!("reading the history of {env}: {e}"),
            )
        })?
        .ok_or_else(|| ApiError::not_found(format!("nothing was published to {env:?}")))?;
    let mut conn = app.engine.db.pool.acquire().await?;
    let rows = sqlx::query("SELECT version, revision FROM publications WHERE environment = $1")
        .bind(&env)
        .fetch_all(&mut *conn)
        .await?;
    let mut revisions = BTreeMap::new();
    for row in rows {
        revisions.insert(row.try_get::<i64, _>(0)? as u64, row.try_get::<i64, _>(1)?);
    }
    let versions = manifest
        .versions
        .iter()
        .rev()
        .map(|e| Version {
            version: e.version,
            at: e.created_at_ms,
            actor: e.actor.clone(),
            action: match e.action {
                edgeflag_publish::manifest::Action::Publish => "publish".to_owned(),
                edgeflag_publish::manifest::Action::Rollback { to } => format!("rollback to {to}"),
                edgeflag_publish::manifest::Action::Resign => "resign".to_owned(),
            },
            changes: e.changes.clone(),
            revision: revisions.get(&e.version).copied(),
        })
        .collect();
    Ok(Json(History {
        current: app.origin.current(&env).map(|c| c.version),
        environment: env,
        versions,
    }))
}

/// Returns every flag, segment, environment and setting to what it was at
/// `revision`, as one change (validated, published, audited as `rollback`).
#[utoipa::path(post, path = "/api/v1/rollback", tag = "history", request_body = Rollback,
    responses((status = 200, body = Changed), (status = 400, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn rollback(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Json(body): Json<Rollback>,
) -> Result<Json<Changed>, ApiError> {
    who.0.require(Role::Editor, "rolling back")?;
    let mut conn = app.engine.db.pool.acquire().await?;
    let (current, _) = crate::db::revisions(&mut conn).await?;
    if body.revision < 0 || body.revision >= current {
        return Err(ApiError::bad_request(format!(
            "revision {} is not an earlier revision (the project is at {current})",
            body.revision
        )));
    }
    // The state at R of everything changed since: the `before` of its first
    // change after R.
    let rows = sqlx::query(
        "SELECT kind, key, before FROM audit WHERE revision > $1 \
         AND kind IN ('flag', 'segment', 'environment', 'settings') ORDER BY id",
    )
    .bind(body.revision)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut first: BTreeMap<Target, Option<serde_json::Value>> = BTreeMap::new();
    for row in rows {
        let (kind, key): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let before: Option<String> = row.try_get(2)?;
        let target = match kind.as_str() {
            "flag" => Target::Flag(key),
            "segment" => Target::Segment(key),
            "environment" => Target::Environment(key),
            _ => Target::Settings,
        };
        first
            .entry(target)
            .or_insert_with(|| before.and_then(|b| serde_json::from_str(&b).ok()));
    }
    // Environments first (flags may override them), deletions of flags last.
    let edits: Vec<Edit> = first
        .into_iter()
        .map(|(target, after)| Edit {
            target,
            after,
            expect: Expect::Any,
        })
        .collect();
    let req = Request {
        who: &who.0,
        request_id: &rid.0,
        action: "rollback",
        comment: body.comment.as_deref(),
    };
    Ok(Json(Changed::of(app.engine.apply(&req, &edits).await?)))
}

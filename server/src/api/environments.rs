//! Environments: list (with the version each serves now), create, protect,
//! delete. Only admins change them.

use super::resources::Changed;
use super::{if_match, ApiError, App, Caller, RequestId};
use crate::auth::Role;
use crate::change::{Edit, Expect, Target};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// An environment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Environment {
    /// Its name (also its path on the origin: `/<name>/current.efr`).
    pub name: String,
    /// Whether only admins may change what it serves.
    pub protected: bool,
    /// Its revision.
    pub revision: i64,
    /// The version the origin serves now (absent before the first publish).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving: Option<u64>,
    /// The version its client ruleset (`<name>.client`) serves, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving_client: Option<u64>,
}

/// A new environment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewEnvironment {
    /// Its name (`[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, not ending in `.client`).
    pub name: String,
    /// Only admins may change it (default false).
    #[serde(default)]
    pub protected: bool,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// A change of an environment's settings.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EnvironmentUpdate {
    /// Only admins may change it.
    pub protected: bool,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn change(
    app: &App,
    who: &Caller,
    rid: &RequestId,
    name: &str,
    after: Option<serde_json::Value>,
    expect: Expect,
    action: &str,
    comment: Option<&str>,
) -> Result<Changed, ApiError> {
    who.0.require(Role::Admin, "changing environments")?;
    if !edgeflag_compiler::is_valid_environment(name) {
        return Err(ApiError::bad_request(format!(
            "{name:?} is not a valid environment name: [A-Za-z0-9][A-Za-z0-9._-]{{0,63}}"
        )));
    }
    let edit = Edit {
        target: Target::Environment(name.to_owned()),
        after,
        expect,
    };
    super::resources::apply_one(app, who, rid, edit, action, comment).await
}

/// Every environment, in order, with what it serves now.
#[utoipa::path(get, path = "/api/v1/environments", tag = "environments",
    responses((status = 200, body = [Environment]), (status = 401, body = ApiError)))]
pub async fn list(
    State(app): State<Arc<App>>,
    _: Caller,
) -> Result<Json<Vec<Environment>>, ApiError> {
    let mut conn = app.engine.db.pool.acquire().await?;
    let snap = crate::db::snapshot(&mut conn).await?;
    let serving = |env: &str| app.origin.current(env).map(|c| c.version);
    Ok(Json(
        snap.environments
            .into_iter()
            .map(|e| Environment {
                serving: serving(&e.name),
                serving_client: serving(&edgeflag_compiler::client::client_environment(&e.name)),
                name: e.name,
                protected: e.protected,
                revision: e.revision,
            })
            .collect(),
    ))
}

/// Creates an environment (admin); it is published at once.
#[utoipa::path(post, path = "/api/v1/environments", tag = "environments", request_body = NewEnvironment,
    responses((status = 201, body = Changed), (status = 409, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Json(body): Json<NewEnvironment>,
) -> Result<Response, ApiError> {
    let after = serde_json::json!({ "protected": body.protected });
    let c = change(
        &app,
        &who,
        &rid,
        &body.name,
        Some(after),
        Expect::Absent,
        "environment.create",
        body.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::CREATED))
}

/// Protects or unprotects an environment (admin).
#[utoipa::path(put, path = "/api/v1/environments/{env}", tag = "environments", params(("env" = String, Path)),
    request_body = EnvironmentUpdate,
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 412, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path(env): Path<String>,
    headers: HeaderMap,
    Json(body): Json<EnvironmentUpdate>,
) -> Result<Response, ApiError> {
    let expect = if_match(&headers, Expect::Present)?;
    let after = serde_json::json!({ "protected": body.protected });
    let c = change(
        &app,
        &who,
        &rid,
        &env,
        Some(after),
        expect,
        "environment.update",
        body.comment.as_deref(),
    )
    .await?;
    Ok(c.respond(StatusCode::OK))
}

/// Deletes an environment (admin). Its last rulesets stay where they were
/// published; nothing publishes to it any more. The last environment cannot
/// be deleted, nor one a flag overrides.
#[utoipa::path(delete, path = "/api/v1/environments/{env}", tag = "environments", params(("env" = String, Path)),
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path(env): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let expect = if_match(&headers, Expect::Present)?;
    let c = change(
        &app,
        &who,
        &rid,
        &env,
        None,
        expect,
        "environment.delete",
        None,
    )
    .await?;
    Ok(c.respond(StatusCode::OK))
}

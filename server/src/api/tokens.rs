//! API tokens (admin only): list, create (the secret is shown once), delete.

use super::{ApiError, App, Caller};
use crate::auth::{self, Role, TokenInfo};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A new token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// A name, shown in the audit log as `token:<name>`.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Limit it to these environments (default: all).
    pub environments: Option<Vec<String>>,
}

/// A token just made: the only time its secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token as listed.
    #[serde(flatten)]
    pub token: TokenInfo,
    /// The secret, for `Authorization: Bearer …`. Not stored; not shown again.
    pub secret: String,
}

/// Every token (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = [TokenInfo]), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(app): State<Arc<App>>,
    who: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    who.0.require(Role::Admin, "listing tokens")?;
    let mut conn = app.engine.db.pool.acquire().await?;
    Ok(Json(auth::list(&mut conn).await?))
}

/// Makes a token (admin).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn create(
    State(app): State<Arc<App>>,
    who: Caller,
    Json(body): Json<NewToken>,
) -> Result<Response, ApiError> {
    who.0.require(Role::Admin, "making tokens")?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 || name.contains(|c: char| c.is_control()) {
        return Err(ApiError::bad_request(
            "a token's name has 1 to 100 printable characters",
        ));
    }
    super::check_environment_limit(body.environments.as_deref())?;
    let secret = auth::new_secret("efk_");
    let mut conn = app.engine.db.pool.acquire().await?;
    let token = auth::insert(
        &mut conn,
        &secret,
        name,
        body.role,
        body.environments.as_deref(),
        &who.0.actor,
    )
    .await?;
    tracing::info!(target: "edgeflag_server::change", actor = %who.0.actor, token = %token.id, role = body.role.as_str(), "token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })).into_response())
}

/// Deletes (revokes) a token (admin); it is refused from the next request on.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    who: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.0.require(Role::Admin, "deleting tokens")?;
    let mut conn = app.engine.db.pool.acquire().await?;
    if auth::delete(&mut conn, &id).await? {
        tracing::info!(target: "edgeflag_server::change", actor = %who.0.actor, token = %id, "token deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("token {id:?} does not exist")))
    }
}

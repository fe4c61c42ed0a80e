//! Dashboard users (admin only): list, create, delete.

use super::{ApiError, App, Caller};
use crate::auth::Role;
use crate::users::{self, UserInfo};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;

/// A new user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    /// The name it signs in with.
    pub name: String,
    /// Its password (at least 10 characters).
    pub password: String,
    /// Its role.
    pub role: Role,
    /// Limit it to these environments (default: all).
    pub environments: Option<Vec<String>>,
}

/// Hashes a password on the blocking pool (Argon2 takes tens of
/// milliseconds of CPU; the async workers keep answering meanwhile).
pub(super) async fn hash_off_thread(password: &str) -> Result<String, ApiError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || users::hash_password(&password))
        .await
        .map_err(|_| ApiError::new(500, "INTERNAL", "hashing the password failed"))
}

/// Every user (never their passwords).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = [UserInfo]), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(app): State<Arc<App>>,
    who: Caller,
) -> Result<Json<Vec<UserInfo>>, ApiError> {
    who.0.require(Role::Admin, "listing users")?;
    let mut conn = app.engine.db.pool.acquire().await?;
    Ok(Json(users::list(&mut conn).await?))
}

/// Makes a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserInfo), (status = 400, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(app): State<Arc<App>>,
    who: Caller,
    Json(body): Json<NewUser>,
) -> Result<Response, ApiError> {
    who.0.require(Role::Admin, "making users")?;
    users::check_new(&body.name, &body.password).map_err(ApiError::bad_request)?;
    super::check_environment_limit(body.environments.as_deref())?;
    let phc = hash_off_thread(&body.password).await?;
    let mut conn = app.engine.db.pool.acquire().await?;
    let user = users::insert(
        &mut conn,
        &body.name,
        &phc,
        body.role,
        body.environments.as_deref(),
        &who.0.actor,
    )
    .await?
    .ok_or_else(|| ApiError::new(409, "CONFLICT", format!("user {:?} exists", body.name)))?;
    tracing::info!(target: "edgeflag_server::change", actor = %who.0.actor, user = %user.name, role = body.role.as_str(), "user created");
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Deletes a user (admin) and ends its sessions.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(app): State<Arc<App>>,
    who: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.0.require(Role::Admin, "deleting users")?;
    if who.0.token_id == format!("user:{id}") {
        return Err(ApiError::bad_request(
            "you cannot delete your own user; ask another admin",
        ));
    }
    let mut conn = app.engine.db.pool.acquire().await?;
    if users::delete(&mut conn, &id).await? {
        tracing::info!(target: "edgeflag_server::change", actor = %who.0.actor, user = %id, "user deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("user {id:?} does not exist")))
    }
}

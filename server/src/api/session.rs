//! Signing in and out of the dashboard, and the first admin's setup.
//!
//! `POST /api/v1/session` checks a name and password and sets the session
//! cookie; the answer carries the CSRF token the dashboard sends back on every
//! change. `POST /api/v1/setup` makes the first admin with the one-time secret
//! the server printed at start (as the link `/?setup=…`).

use super::{ApiError, App, Credential};
use crate::auth::{self, Role};
use crate::users::{self, UserInfo};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// Who is signed in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// The user's (or token's) name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The environments it may change; `null`: all.
    pub environments: Option<Vec<String>>,
}

/// A session: who, and the CSRF token to send as `X-CSRF-Token` on changes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Who is signed in.
    pub user: Me,
    /// The CSRF token (empty for a bearer token, which needs none).
    pub csrf: String,
}

/// A sign-in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// The first admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Setup {
    /// The setup secret from the link the server printed.
    pub token: String,
    /// The admin's user name.
    pub username: String,
    /// The admin's password.
    pub password: String,
}

fn info(user: &UserInfo, csrf: String) -> SessionInfo {
    SessionInfo {
        user: Me {
            name: user.name.clone(),
            role: user.role,
            environments: user.environments.clone(),
        },
        csrf,
    }
}

/// Behind a TLS-terminating proxy the cookie is `Secure`.
fn on_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn with_cookie(status: StatusCode, cookie: String, body: Option<SessionInfo>) -> Response {
    let mut resp = match body {
        Some(b) => (status, Json(b)).into_response(),
        None => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Who the request's session (or token) is.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError)))]
pub async fn get(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let credential = Credential::of(&headers).ok_or(auth::Denied::NoToken)?;
    let mut conn = app.engine.db.pool.acquire().await?;
    let body = match credential {
        Credential::Session(secret) => {
            let (user, csrf) = users::session(&mut conn, secret)
                .await?
                .ok_or(auth::Denied::NoSession)?;
            info(&user, csrf)
        }
        Credential::Bearer(secret) => {
            let who = auth::identify(&mut conn, secret)
                .await?
                .ok_or(auth::Denied::UnknownToken)?;
            SessionInfo {
                user: Me {
                    name: who.actor,
                    role: who.role,
                    environments: who.environments,
                },
                csrf: String::new(),
            }
        }
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// A password hash to check against when the user does not exist, so a
/// wrong name takes as long as a wrong password.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| users::hash_password("edgeflag decoy password"))
}

/// Signs in: sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError),
              (status = 429, body = ApiError, description = "Too many failed sign-ins; see Retry-After")),
    security(()))]
pub async fn sign_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    if let Err(secs) = app.sign_in.check(&body.username) {
        return Err(ApiError::new(
            429,
            "TOO_MANY_REQUESTS",
            format!("too many failed sign-ins for this name; try again in {secs} s"),
        )
        .retry_after(secs));
    }
    let mut conn = app.engine.db.pool.acquire().await?;
    let found = if body.password.len() > users::MAX_PASSWORD {
        None
    } else {
        users::find(&mut conn, &body.username).await?
    };
    let (user, phc) = match found {
        Some((user, phc)) => (Some(user), phc),
        None => (None, decoy().to_owned()),
    };
    let password = body.password.clone();
    let matches = tokio::task::spawn_blocking(move || users::verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| matches) else {
        app.sign_in.failed(&body.username);
        return Err(ApiError::new(
            401,
            "UNAUTHORIZED",
            "wrong user name or password",
        ));
    };
    app.sign_in.succeeded(&body.username);
    let opened = users::open_session(&mut conn, &user.id).await?;
    tracing::info!(target: "edgeflag_server::change", actor = %format!("user:{}", user.name), "signed in");
    Ok(with_cookie(
        StatusCode::OK,
        users::set_cookie(Some(&opened.secret), on_tls(&headers)),
        Some(info(&user, opened.csrf)),
    ))
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 403, body = ApiError)))]
pub async fn sign_out(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(Credential::Session(secret)) = Credential::of(&headers) {
        let mut conn = app.engine.db.pool.acquire().await?;
        if let Some((_, csrf)) = users::session(&mut conn, secret).await? {
            if !users::echoes_csrf(&headers, &csrf) {
                return Err(auth::Denied::Csrf.into());
            }
            users::close_session(&mut conn, secret).await?;
        }
    }
    Ok(with_cookie(
        StatusCode::NO_CONTENT,
        users::set_cookie(None, on_tls(&headers)),
        None,
    ))
}

/// Makes the first admin with the setup secret printed at start, and signs
/// it in.
#[utoipa::path(post, path = "/api/v1/setup", tag = "session", request_body = Setup,
    responses((status = 200, body = SessionInfo), (status = 400, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError)),
    security(()))]
pub async fn setup(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(body): Json<Setup>,
) -> Result<Response, ApiError> {
    let mut conn = app.engine.db.pool.acquire().await?;
    if users::count(&mut conn).await? > 0 {
        return Err(ApiError::new(
            409,
            "CONFLICT",
            "setup is done: a user exists; sign in",
        ));
    }
    users::check_new(&body.username, &body.password).map_err(ApiError::bad_request)?;
    if !app.take_setup(&body.token) {
        return Err(ApiError::new(
            403,
            "FORBIDDEN",
            "this setup link is not valid: use the one the server printed at its last start",
        ));
    }
    let phc = super::users::hash_off_thread(&body.password).await?;
    let user = users::insert(&mut conn, &body.username, &phc, Role::Admin, None, "setup")
        .await?
        .ok_or_else(|| ApiError::new(409, "CONFLICT", "setup is done: sign in"))?;
    let opened = users::open_session(&mut conn, &user.id).await?;
    tracing::info!(target: "edgeflag_server::change", actor = %format!("user:{}", user.name), "first admin set up");
    Ok(with_cookie(
        StatusCode::OK,
        users::set_cookie(Some(&opened.secret), on_tls(&headers)),
        Some(info(&user, opened.csrf)),
    ))
}

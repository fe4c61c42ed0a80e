//! The admin REST API under `/api/v1`, and its OpenAPI 3.1 document at
//! `/api/v1/openapi.json` (generated from the handlers' annotations).
//!
//! Every route needs a token (`Authorization: Bearer …`, see [`crate::auth`])
//! or a dashboard session ([`crate::users`]; changes then need its CSRF
//! token), except signing in and the first admin's setup;
//! resources carry an `ETag` (their revision) and writes take `If-Match`;
//! POSTs take an `Idempotency-Key` ([`idempotency`]).

mod audit;
mod environments;
mod error;
mod history;
pub mod idempotency;
mod project;
mod resources;
mod session;
mod targeting;
mod tokens;
mod users;

pub use error::ApiError;

use crate::auth::{self, Identity};
use crate::change::{Engine, Expect};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use utoipa::OpenApi;

/// What the API handlers share.
#[derive(Debug)]
pub struct App {
    /// The change engine (and the database).
    pub engine: Engine,
    /// What the origin serves (for "which version is live").
    pub origin: Arc<edgeflag_origin::State>,
    /// Request ids: a process prefix and a counter.
    ids: (String, AtomicU64),
    /// The sign-in rate limit.
    pub sign_in: crate::users::SignInLimit,
    /// The hash of this process's one-time setup secret, while no user
    /// exists.
    setup: std::sync::Mutex<Option<String>>,
}

impl App {
    /// Shared state over `engine`, serving through `origin`.
    pub fn new(engine: Engine, origin: Arc<edgeflag_origin::State>) -> App {
        App {
            engine,
            origin,
            ids: (auth::new_secret("")[..8].to_owned(), AtomicU64::new(0)),
            sign_in: crate::users::SignInLimit::default(),
            setup: std::sync::Mutex::new(None),
        }
    }

    /// A new one-time setup secret for the first admin (the previous one stops
    /// working). Shown once, as the link `/?setup=<secret>`.
    pub fn new_setup_secret(&self) -> String {
        let secret = auth::new_secret("");
        *self.setup.lock().unwrap_or_else(|p| p.into_inner()) = Some(auth::hash(&secret));
        secret
    }

    /// Uses up the setup secret if `secret` is it.
    fn take_setup(&self, secret: &str) -> bool {
        let mut held = self.setup.lock().unwrap_or_else(|p| p.into_inner());
        if held.as_deref() == Some(auth::hash(secret).as_str()) {
            *held = None;
            true
        } else {
            false
        }
    }

    fn next_request_id(&self) -> String {
        let n = self.ids.1.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n}", self.ids.0)
    }
}

/// The request id of a request (from `X-Request-Id` when the caller sent a
/// reasonable one, else made here), also sent back in `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

/// What a request authenticates with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential<'h> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'h str),
    /// The dashboard's session cookie.
    Session(&'h str),
}

impl Credential<'_> {
    /// The bearer token, else the session cookie, of `headers`.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Credential<'_>> {
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            let v = v.to_str().ok()?;
            return v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(|t| Credential::Bearer(t.trim()));
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| crate::users::cookie(v, crate::users::SESSION_COOKIE))
            .map(Credential::Session)
    }

    /// A stable name of the credential (for scoping idempotency keys).
    pub(crate) fn scope(&self) -> String {
        match self {
            Credential::Bearer(t) => auth::hash(t),
            Credential::Session(s) => auth::hash(&format!("session:{s}")),
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        let credential = Credential::of(&parts.headers).ok_or(auth::Denied::NoToken)?;
        let mut conn = app.engine.db.pool.acquire().await?;
        match credential {
            Credential::Bearer(secret) => {
                let who = auth::identify(&mut conn, secret)
                    .await?
                    .ok_or(auth::Denied::UnknownToken)?;
                Ok(Caller(who))
            }
            Credential::Session(secret) => {
                let (user, csrf) = crate::users::session(&mut conn, secret)
                    .await?
                    .ok_or(auth::Denied::NoSession)?;
                let safe = matches!(
                    parts.method,
                    axum::http::Method::GET | axum::http::Method::HEAD
                );
                if !safe && !crate::users::echoes_csrf(&parts.headers, &csrf) {
                    return Err(auth::Denied::Csrf.into());
                }
                Ok(Caller(user.identity()))
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<RequestId, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId("unknown".into())))
    }
}

/// Gives every request an id and logs one line per request with it.
async fn request_log(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| app.next_request_id(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    let took = started.elapsed();
    app.engine
        .metrics
        .request(&route, method.as_str(), status, took);
    tracing::info!(
        target: "edgeflag_server::request",
        request_id = %id,
        method = %method,
        path = %path,
        status,
        micros = took.as_micros() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// `If-Match: "12"` (or `W/"12"`, or `12`) → [`Expect::Revision`]; absent →
/// `otherwise`; `*` → [`Expect::Present`].
pub(crate) fn if_match(headers: &HeaderMap, otherwise: Expect) -> Result<Expect, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(otherwise);
    };
    let text = v
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match is not ASCII"))?
        .trim();
    if text == "*" {
        return Ok(Expect::Present);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Expect::Revision).map_err(|_| {
        ApiError::bad_request(format!(
            "If-Match {text:?} is not an ETag of this API (a quoted revision, e.g. \"12\")"
        ))
    })
}

/// Refuses an environment limit (of a new token or user) that is empty or
/// names something that cannot be an environment; `None` (all) passes.
pub(crate) fn check_environment_limit(environments: Option<&[String]>) -> Result<(), ApiError> {
    match environments {
        Some(envs)
            if envs.is_empty()
                || envs
                    .iter()
                    .any(|e| !edgeflag_compiler::is_valid_environment(e)) =>
        {
            Err(ApiError::bad_request(
                "`environments` lists valid environment names (omit it for all)",
            ))
        }
        _ => Ok(()),
    }
}

/// A JSON answer with an `ETag` of `revision`.
pub(crate) fn with_etag(revision: i64, body: impl IntoResponse) -> Response {
    let mut resp = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "edgeflag admin API",
        description = "Environments, flags, segments, targeting, history, audit log and tokens of an edgeflag server. Every change is validated by the compiler, published, and audited before the answer.",
        version = "1"
    ),
    paths(
        environments::list, environments::create, environments::update, environments::delete,
        resources::list_flags, resources::create_flag, resources::get_flag, resources::put_flag, resources::delete_flag,
        resources::list_segments, resources::create_segment, resources::get_segment, resources::put_segment, resources::delete_segment,
        targeting::state, targeting::toggle, targeting::rollout, targeting::targets, targeting::reorder,
        history::history, history::rollback,
        project::get, project::put,
        audit::list,
        tokens::list, tokens::create, tokens::delete,
        session::get, session::sign_in, session::sign_out, session::setup,
        users::list, users::create, users::delete,
        openapi,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document"), (status = 401, body = ApiError)))]
async fn openapi(_: Caller) -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}

/// The `/api/v1` routes.
pub fn router(app: Arc<App>) -> Router {
    let flag_env = "/api/v1/flags/{key}/environments/{env}";
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            "/api/v1/environments",
            get(environments::list).post(environments::create),
        )
        .route(
            "/api/v1/environments/{env}",
            axum::routing::put(environments::update).delete(environments::delete),
        )
        .route("/api/v1/environments/{env}/history", get(history::history))
        .route("/api/v1/rollback", post(history::rollback))
        .route("/api/v1/project", get(project::get).put(project::put))
        .route(
            "/api/v1/flags",
            get(resources::list_flags).post(resources::create_flag),
        )
        .route(
            "/api/v1/flags/{key}",
            get(resources::get_flag)
                .put(resources::put_flag)
                .delete(resources::delete_flag),
        )
        .route(flag_env, get(targeting::state))
        .route(&format!("{flag_env}/toggle"), post(targeting::toggle))
        .route(&format!("{flag_env}/rollout"), post(targeting::rollout))
        .route(&format!("{flag_env}/targets"), post(targeting::targets))
        .route(&format!("{flag_env}/rules/order"), post(targeting::reorder))
        .route(
            "/api/v1/segments",
            get(resources::list_segments).post(resources::create_segment),
        )
        .route(
            "/api/v1/segments/{key}",
            get(resources::get_segment)
                .put(resources::put_segment)
                .delete(resources::delete_segment),
        )
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(tokens::delete))
        .route(
            "/api/v1/session",
            get(session::get)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/api/v1/setup", post(session::setup))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{id}", axum::routing::delete(users::delete))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            idempotency::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            request_log,
        ))
        .with_state(app)
}

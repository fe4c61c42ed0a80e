//! A flag in one environment: what it serves there, and the small moves a
//! release makes (like LaunchDarkly's semantic patch): toggle, set the
//! rollout, add or remove targets, reorder rules.
//!
//! Each move writes the environment's override (`definition.environments.<env>`)
//! and goes through the same change path as a full replace: compiled,
//! published, audited. The flag's other environments are untouched, so an
//! editor limited to one environment may make them.

use super::resources::Changed;
use super::{if_match, ApiError, App, Caller, RequestId};
use crate::auth::Role;
use crate::change::{ChangeError, Edit, Expect, Request, Target};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

use edgeflag_compiler::documents::ENV_FIELDS;

/// What a flag serves in one environment: its own fields with the
/// environment's overrides applied.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnvState {
    /// The flag.
    pub key: String,
    /// The environment.
    pub environment: String,
    /// The flag's revision (its `ETag`).
    pub revision: i64,
    /// The effective fields (`enabled`, `off_variation`, `prerequisites`,
    /// `targets`, `rules`, `fallthrough`); absent ones take the rule
    /// language's defaults.
    #[schema(value_type = Object)]
    pub fields: Value,
    /// Which of them the environment overrides.
    pub overridden: Vec<String>,
}

/// Turn a flag on or off in an environment (the kill switch).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Toggle {
    /// On (targeting applies) or off (serves the off variation).
    pub enabled: bool,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// Set the fallthrough rollout.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Rollout {
    /// Percent per variation, e.g. `{"on": 10, "off": 90}` (up to three
    /// decimals; they sum to 100).
    pub weights: BTreeMap<String, Value>,
    /// The attribute to bucket by (default `key`).
    pub bucket_by: Option<String>,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// Add and remove individual targets of one variation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Targets {
    /// The variation they are served.
    pub variation: String,
    /// Keys to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// A new order of the rules, by rule id.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Reorder {
    /// Every rule's `id`, in the new order.
    pub order: Vec<String>,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

async fn load(app: &App, key: &str, env: &str) -> Result<(Value, i64), ApiError> {
    let mut conn = app.engine.db.pool.acquire().await?;
    let known = sqlx::query("SELECT name FROM environments WHERE name = $1")
        .bind(env)
        .fetch_optional(&mut *conn)
        .await?;
    if known.is_none() {
        return Err(ApiError::not_found(format!(
            "environment {env:?} does not exist"
        )));
    }
    let row = sqlx::query("SELECT definition, revision FROM flags WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("flag {key:?} does not exist")))?;
    let text: String = row.try_get(0)?;
    let def = serde_json::from_str(&text).unwrap_or(Value::Object(Map::new()));
    Ok((def, row.try_get(1)?))
}

/// The effective fields of `def` in `env`, and which are overridden.
fn effective(def: &Value, env: &str) -> (Map<String, Value>, Vec<String>) {
    let over = def.get("environments").and_then(|e| e.get(env));
    let mut fields = Map::new();
    let mut overridden = Vec::new();
    for f in ENV_FIELDS {
        if let Some(v) = over.and_then(|o| o.get(f)) {
            fields.insert(f.into(), v.clone());
            overridden.push(f.to_owned());
        } else if let Some(v) = def.get(f) {
            fields.insert(f.into(), v.clone());
        }
    }
    (fields, overridden)
}

/// Sets `environments.<env>.<field>` in `def`.
fn set_override(def: &mut Value, env: &str, field: &str, value: Value) -> Result<(), ApiError> {
    let obj = def
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the stored definition is not an object"))?;
    let envs = obj
        .entry("environments")
        .or_insert_with(|| Value::Object(Map::new()));
    let over = envs
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("`environments` of the flag is not an object"))?
        .entry(env)
        .or_insert_with(|| Value::Object(Map::new()));
    over.as_object_mut()
        .ok_or_else(|| {
            ApiError::bad_request(format!("`environments.{env}` of the flag is not an object"))
        })?
        .insert(field.into(), value);
    Ok(())
}

/// Reads the flag, lets `edit` change its definition, and applies that as a
/// change; retried when another change wins the race in between (unless the
/// caller sent `If-Match`, which then fails with 412).
#[allow(clippy::too_many_arguments)]
async fn modify(
    app: &App,
    who: &Caller,
    rid: &RequestId,
    headers: &HeaderMap,
    key: &str,
    env: &str,
    action: &str,
    comment: Option<&str>,
    edit: impl Fn(&mut Value) -> Result<(), ApiError>,
) -> Result<Response, ApiError> {
    who.0.require(Role::Editor, "changing a flag")?;
    let pinned = if_match(headers, Expect::Any)?;
    for _ in 0..5 {
        let (mut def, revision) = load(app, key, env).await?;
        edit(&mut def)?;
        let expect = match pinned {
            Expect::Revision(r) => Expect::Revision(r),
            _ => Expect::Revision(revision),
        };
        let req = Request {
            who: &who.0,
            request_id: &rid.0,
            action,
            comment,
        };
        let e = Edit {
            target: Target::Flag(key.to_owned()),
            after: Some(def),
            expect,
        };
        match app.engine.apply(&req, &[e]).await {
            Ok(applied) => return Ok(Changed::of(applied).respond(StatusCode::OK)),
            Err(ChangeError::Conflict { .. }) if !matches!(pinned, Expect::Revision(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        409,
        "CONFLICT",
        format!("flag {key:?} kept changing while this change was applied; retry"),
    ))
}

/// What a flag serves in one environment.
#[utoipa::path(get, path = "/api/v1/flags/{key}/environments/{env}", tag = "targeting",
    params(("key" = String, Path), ("env" = String, Path)),
    responses((status = 200, body = EnvState), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn state(
    State(app): State<Arc<App>>,
    _: Caller,
    Path((key, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (def, revision) = load(&app, &key, &env).await?;
    let (fields, overridden) = effective(&def, &env);
    let body = EnvState {
        key,
        environment: env,
        revision,
        fields: Value::Object(fields),
        overridden,
    };
    Ok(super::with_etag(revision, Json(body)))
}

/// Turns a flag on or off in one environment: the kill switch.
#[utoipa::path(post, path = "/api/v1/flags/{key}/environments/{env}/toggle", tag = "targeting",
    params(("key" = String, Path), ("env" = String, Path)), request_body = Toggle,
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 412, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn toggle(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Toggle>,
) -> Result<Response, ApiError> {
    let action = if body.enabled {
        "flag.turn_on"
    } else {
        "flag.turn_off"
    };
    modify(
        &app,
        &who,
        &rid,
        &headers,
        &key,
        &env,
        action,
        body.comment.as_deref(),
        |def| set_override(def, &env, "enabled", Value::Bool(body.enabled)),
    )
    .await
}

/// Sets the fallthrough of a flag in one environment to a percentage rollout.
#[utoipa::path(post, path = "/api/v1/flags/{key}/environments/{env}/rollout", tag = "targeting",
    params(("key" = String, Path), ("env" = String, Path)), request_body = Rollout,
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn rollout(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Rollout>,
) -> Result<Response, ApiError> {
    let mut rollout: Map<String, Value> = body.weights.clone().into_iter().collect();
    if let Some(by) = &body.bucket_by {
        rollout.insert("bucket_by".into(), Value::String(by.clone()));
    }
    let serve = serde_json::json!({ "rollout": rollout });
    modify(
        &app,
        &who,
        &rid,
        &headers,
        &key,
        &env,
        "flag.rollout",
        body.comment.as_deref(),
        |def| set_override(def, &env, "fallthrough", serve.clone()),
    )
    .await
}

/// Adds and removes individual targets of one variation in one environment.
#[utoipa::path(post, path = "/api/v1/flags/{key}/environments/{env}/targets", tag = "targeting",
    params(("key" = String, Path), ("env" = String, Path)), request_body = Targets,
    responses((status = 200, body = Changed), (status = 404, body = ApiError), (status = 422, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn targets(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Targets>,
) -> Result<Response, ApiError> {
    modify(
        &app,
        &who,
        &rid,
        &headers,
        &key,
        &env,
        "flag.targets",
        body.comment.as_deref(),
        |def| {
            let (fields, _) = effective(def, &env);
            let mut targets = match fields.get("targets") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let list = targets
                .entry(body.variation.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(keys) = list else {
                return Err(ApiError::bad_request(format!(
                    "targets of variation {:?} are not a list",
                    body.variation
                )));
            };
            keys.retain(|k| !body.remove.iter().any(|r| k.as_str() == Some(r)));
            for add in &body.add {
                if !keys.iter().any(|k| k.as_str() == Some(add)) {
                    keys.push(Value::String(add.clone()));
                }
            }
            if keys.is_empty() {
                targets.remove(&body.variation);
            }
            set_override(def, &env, "targets", Value::Object(targets))
        },
    )
    .await
}

/// Reorders the rules of a flag in one environment, by rule id.
#[utoipa::path(post, path = "/api/v1/flags/{key}/environments/{env}/rules/order", tag = "targeting",
    params(("key" = String, Path), ("env" = String, Path)), request_body = Reorder,
    responses((status = 200, body = Changed), (status = 400, body = ApiError), (status = 404, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn reorder(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Path((key, env)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Reorder>,
) -> Result<Response, ApiError> {
    modify(&app, &who, &rid, &headers, &key, &env, "flag.reorder_rules", body.comment.as_deref(), |def| {
        let (fields, _) = effective(def, &env);
        let rules = match fields.get("rules") {
            Some(Value::Array(r)) => r.clone(),
            _ => Vec::new(),
        };
        let id_of = |r: &Value| r.get("id").and_then(Value::as_str).map(str::to_owned);
        let mut ids: Vec<String> = rules.iter().filter_map(id_of).collect();
        let mut wanted = body.order.clone();
        ids.sort();
        wanted.sort();
        if rules.iter().any(|r| id_of(r).is_none()) || ids != wanted {
            return Err(ApiError::bad_request(format!(
                "`order` must list every rule id of the flag in {env:?} once (they are: {}); rules without an id cannot be reordered",
                rules.iter().filter_map(id_of).collect::<Vec<_>>().join(", ")
            )));
        }
        let ordered = body
            .order
            .iter()
            .filter_map(|id| rules.iter().find(|r| id_of(r).as_deref() == Some(id)).cloned())
            .collect();
        set_override(def, &env, "rules", Value::Array(ordered))
    })
    .await
}

//! Flags as code through the API: the whole project as source files, read
//! (`edgeflag pull`) and replaced in one audited change (`edgeflag push`).

use super::{ApiError, App, Caller, RequestId};
use crate::auth::Role;
use crate::change::{Edit, EnvChanges, Expect, Options, Published, Request, Target};
use crate::project::{file_problems, sources};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// One source file.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct File {
    /// Its name (`.json` files are read as JSON, others as YAML).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The project as source files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Files {
    /// The project revision they are.
    pub revision: i64,
    /// `project.json` (environments, `client_side`), `flags/<key>.json`,
    /// `segments/<key>.json`: the tree `edgeflag pull` writes.
    pub files: Vec<File>,
}

/// A replacement of the whole project.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Push {
    /// The source tree, as `edgeflag compile` would read it.
    pub files: Vec<File>,
    /// Check and show the changes, apply nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why, for the audit log.
    pub comment: Option<String>,
}

/// One resource a push creates, updates or deletes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceChange {
    /// `flag`, `segment`, `environment` or `settings`.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// `created`, `updated` or `deleted`.
    pub change: String,
}

/// What a push did (or, for a dry run, would do).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pushed {
    /// Whether nothing was applied.
    pub dry_run: bool,
    /// The project revision now (unchanged for a dry run or no change).
    pub revision: i64,
    /// Each resource that changes.
    pub resources: Vec<ResourceChange>,
    /// What changes in each environment's rules.
    pub changes: Vec<EnvChanges>,
    /// What was published.
    pub published: Vec<Published>,
}

/// The project as source files (what `edgeflag pull` writes).
#[utoipa::path(get, path = "/api/v1/project", tag = "project",
    responses((status = 200, body = Files), (status = 401, body = ApiError)))]
pub async fn get(State(app): State<Arc<App>>, _: Caller) -> Result<Json<Files>, ApiError> {
    let mut conn = app.engine.db.pool.acquire().await?;
    let snap = crate::db::snapshot(&mut conn).await?;
    let files = sources(&snap)
        .into_iter()
        .map(|(name, text)| {
            let pretty = serde_json::from_str::<Value>(&text)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or(text);
            File {
                name,
                text: pretty + "\n",
            }
        })
        .collect();
    Ok(Json(Files {
        revision: snap.revision,
        files,
    }))
}

/// Makes the project what the files say, as one audited change (`edgeflag
/// push`). Resources the files do not name are deleted; with no
/// `environments` declared, the environments stay as they are.
#[utoipa::path(put, path = "/api/v1/project", tag = "project", request_body = Push,
    responses((status = 200, body = Pushed), (status = 422, body = ApiError), (status = 401, body = ApiError),
              (status = 403, body = ApiError)))]
pub async fn put(
    State(app): State<Arc<App>>,
    who: Caller,
    rid: RequestId,
    Json(body): Json<Push>,
) -> Result<Json<Pushed>, ApiError> {
    who.0.require(Role::Editor, "pushing a project")?;
    let files: Vec<(String, String)> = body.files.into_iter().map(|f| (f.name, f.text)).collect();
    let docs = edgeflag_compiler::documents::documents(&files)
        .map_err(|d| crate::change::ChangeError::Invalid(file_problems(&d)))?;
    let mut conn = app.engine.db.pool.acquire().await?;
    let current = crate::db::snapshot(&mut conn).await?;
    drop(conn);

    let mut edits = Vec::new();
    let mut listed = Vec::new();
    let mut edit = |target: Target, after: Option<Value>, change: &str| {
        listed.push(ResourceChange {
            kind: target.kind().to_owned(),
            key: target.key().to_owned(),
            change: change.to_owned(),
        });
        edits.push(Edit {
            target,
            after,
            expect: Expect::Any,
        });
    };
    if !docs.environments.is_empty() {
        for name in &docs.environments {
            if !current.environments.iter().any(|e| e.name == *name) {
                let after = serde_json::json!({ "protected": false });
                edit(Target::Environment(name.clone()), Some(after), "created");
            }
        }
        for e in &current.environments {
            if !docs.environments.contains(&e.name) {
                edit(Target::Environment(e.name.clone()), None, "deleted");
            }
        }
    }
    if current.settings.get("client_side") != docs.client_side.as_ref() {
        let mut settings = current.settings.as_object().cloned().unwrap_or_default();
        match &docs.client_side {
            Some(cs) => settings.insert("client_side".into(), cs.clone()),
            None => settings.remove("client_side"),
        };
        edit(Target::Settings, Some(Value::Object(settings)), "updated");
    }
    let tables = [
        (
            &docs.flags,
            &current.flags,
            Target::Flag as fn(String) -> Target,
        ),
        (
            &docs.segments,
            &current.segments,
            Target::Segment as fn(String) -> Target,
        ),
    ];
    for (wanted, stored, target) in tables {
        for (key, def) in wanted {
            match stored.get(key) {
                Some(doc) if doc.definition == *def => {}
                Some(_) => edit(target(key.clone()), Some(def.clone()), "updated"),
                None => edit(target(key.clone()), Some(def.clone()), "created"),
            }
        }
        for key in stored.keys() {
            if !wanted.iter().any(|(k, _)| k == key) {
                edit(target(key.clone()), None, "deleted");
            }
        }
    }
    if edits.is_empty() {
        return Ok(Json(Pushed {
            dry_run: body.dry_run,
            revision: current.revision,
            resources: Vec::new(),
            changes: Vec::new(),
            published: Vec::new(),
        }));
    }
    let req = Request {
        who: &who.0,
        request_id: &rid.0,
        action: "push",
        comment: body.comment.as_deref(),
    };
    let options = Options {
        dry_run: body.dry_run,
        diff: true,
    };
    let applied = app.engine.apply_with(&req, &edits, options).await?;
    Ok(Json(Pushed {
        dry_run: body.dry_run,
        revision: applied.revision,
        resources: listed,
        changes: applied.changes,
        published: applied.published,
    }))
}

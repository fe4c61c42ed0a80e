//! Every change, the one way: lock, validate, commit, publish.
//!
//! 1. Take the change lock (in the process, and across processes on
//!    PostgreSQL with a session advisory lock held until the publish is done),
//!    so changes are applied and published one at a time, in order.
//! 2. Read the project, apply the edits in memory, checking each `If-Match`.
//! 3. Compile the whole project with the compiler library. Any error: nothing
//!    is written; the caller gets every problem (422).
//! 4. Check the caller against every environment whose ruleset changes.
//! 5. Commit the resources, the audit records and the new project revision in
//!    one transaction.
//! 6. Publish every changed environment (and its client ruleset) to the store,
//!    then record `published_revision`. The API answers after this.
//!
//! A crash between 5 and 6 leaves `published_revision < revision`; the next
//! start (and a retry loop while the store fails) publishes the committed
//! state. Publishing unchanged rules is a no-op, so repeating it is safe.

use crate::auth::{Denied, Identity};
use crate::db::{self, Backend, Db, DbError, Doc, Env, Snapshot};
use crate::project::{self, Problem};
use edgeflag_compiler::CompiledEnv;
use edgeflag_evaluator::signature::Signer;
use edgeflag_publish::store::Store;
use edgeflag_publish::{Outcome, Publication, PublishError, Signing};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// What a change writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A flag, by key.
    Flag(String),
    /// A segment, by key.
    Segment(String),
    /// An environment, by name.
    Environment(String),
    /// The project settings.
    Settings,
}

impl Target {
    /// `flag`, `segment`, `environment`, `settings`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Flag(_) => "flag",
            Target::Segment(_) => "segment",
            Target::Environment(_) => "environment",
            Target::Settings => "settings",
        }
    }

    /// The key (empty for settings).
    pub fn key(&self) -> &str {
        match self {
            Target::Flag(k) | Target::Segment(k) | Target::Environment(k) => k,
            Target::Settings => "",
        }
    }
}

/// What the edit expects to find (`If-Match` and create/update semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there.
    Any,
    /// Nothing: a create (409 when it exists).
    Absent,
    /// Something: an update or delete (404 when missing).
    Present,
    /// Exactly this revision (412 otherwise).
    Revision(i64),
}

/// One resource's new value.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// Which resource.
    pub target: Target,
    /// Its new definition (`None`: delete it). For an environment:
    /// `{"protected": bool}`.
    pub after: Option<Value>,
    /// What must be there now.
    pub expect: Expect,
}

/// Who changes what, why.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The caller.
    pub who: &'a Identity,
    /// The request id (logged and audited).
    pub request_id: &'a str,
    /// The audit action, e.g. `flag.update`, `flag.toggle`.
    pub action: &'a str,
    /// The caller's comment.
    pub comment: Option<&'a str>,
}

/// What one environment's publish did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Published {
    /// The environment (`<env>.client` for a client ruleset).
    pub environment: String,
    /// The version now current.
    pub version: u64,
    /// Whether this change wrote it (false: its rules did not change).
    pub new: bool,
}

/// A change that was applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The project revision it made (the resources' new ETag); for a dry run,
    /// the revision it was checked against.
    pub revision: i64,
    /// Each edited resource as stored now (`None`: deleted).
    pub resources: Vec<(Target, Option<Doc>)>,
    /// What was published (nothing for a dry run).
    pub published: Vec<Published>,
    /// What changes in each environment's rules, when asked for
    /// ([`Options::diff`]).
    pub changes: Vec<EnvChanges>,
}

/// What a change does to one environment's compiled rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EnvChanges {
    /// The environment.
    pub environment: String,
    /// One line per change ([`edgeflag_compiler::diff::lines`]).
    pub lines: Vec<String>,
}

/// How to apply a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Check everything (compile, rights) but write and publish nothing.
    pub dry_run: bool,
    /// Report what changes per environment ([`Applied::changes`]).
    pub diff: bool,
}

/// Why a change was not applied (or not published).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// The resource does not exist.
    #[error("{0} {1:?} does not exist")]
    NotFound(&'static str, String),
    /// A create found it already there.
    #[error("{0} {1:?} already exists")]
    Exists(&'static str, String),
    /// `If-Match` named another revision.
    #[error("{kind} {key:?} is at revision {current}, not {expected}: it changed since you read it; read it again and retry")]
    Conflict {
        /// The kind.
        kind: &'static str,
        /// The key.
        key: String,
        /// The revision sent.
        expected: i64,
        /// The revision stored.
        current: i64,
    },
    /// The change does not compile.
    #[error("the change is invalid ({} problems)", .0.len())]
    Invalid(Vec<Problem>),
    /// The request is malformed in a way the compiler does not see.
    #[error("{0}")]
    Refused(String),
    /// The caller may not make it.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The database failed; nothing changed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Committed as `revision` but not yet published: it is retried.
    #[error("saved as revision {revision} but not yet published ({source}); publishing is retried every few seconds")]
    NotPublished {
        /// The committed revision.
        revision: i64,
        /// Why.
        source: PublishError,
    },
}

impl From<sqlx::Error> for ChangeError {
    fn from(e: sqlx::Error) -> ChangeError {
        ChangeError::Db(DbError::Sql(e))
    }
}

/// How the server signs what it publishes.
#[derive(Clone)]
pub struct SignWith {
    /// The key.
    pub signer: Arc<dyn Signer>,
    /// How long each ruleset stays fresh.
    pub lifetime: Option<Duration>,
}

impl std::fmt::Debug for SignWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignWith")
            .field("key_id", &self.signer.key_id())
            .finish()
    }
}

/// The change engine: database, store, and what was last compiled.
pub struct Engine {
    /// The database.
    pub db: Db,
    /// Where rulesets are published.
    pub store: Store,
    /// Signing, if configured.
    pub sign: Option<SignWith>,
    /// This process's origin, synced after each publish
    /// ([`crate::served::sync`]).
    pub origin: Option<Arc<edgeflag_origin::State>>,
    /// Changes and publishes, for `/metrics`.
    pub metrics: Arc<crate::metrics::ServerMetrics>,
    /// The in-process change lock, and the last compile it made.
    lock: Mutex<Option<(i64, Vec<CompiledEnv>)>>,
    /// Test hook: abort the process between commit and publish.
    crash_after_commit: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("db", &self.db).finish()
    }
}

/// The environment variable that makes the server abort right after a
/// change's commit, before its publish (the crash-repair test uses it).
pub const CRASH_AFTER_COMMIT: &str = "EDGEFLAG_TEST_CRASH_AFTER_COMMIT";

impl Engine {
    /// An engine over `db` publishing to `store`.
    pub fn new(db: Db, store: Store, sign: Option<SignWith>) -> Engine {
        Engine {
            db,
            store,
            sign,
            origin: None,
            metrics: Arc::default(),
            lock: Mutex::new(None),
            crash_after_commit: std::env::var_os(CRASH_AFTER_COMMIT).is_some(),
        }
    }

    /// Applies `edits` as one change (see the module docs).
    pub async fn apply(&self, req: &Request<'_>, edits: &[Edit]) -> Result<Applied, ChangeError> {
        self.apply_with(req, edits, Options::default()).await
    }

    /// [`Engine::apply`] with [`Options`]: a dry run, the changes per environment.
    pub async fn apply_with(
        &self,
        req: &Request<'_>,
        edits: &[Edit],
        options: Options,
    ) -> Result<Applied, ChangeError> {
        let mut cache = self.lock.lock().await;
        let mut conn = self.db.pool.acquire().await?;
        self.db.lock_session(&mut conn).await?;
        let result = self
            .apply_locked(&mut conn, &mut cache, req, edits, options)
            .await;
        if self.db.unlock_session(&mut conn).await.is_err() {
            // The session keeps the lock: close it rather than return it.
            let _ = conn.detach();
        }
        if options.dry_run {
            return result;
        }
        use crate::metrics::Outcome;
        self.metrics.change(match &result {
            Ok(_) => Outcome::Applied,
            Err(ChangeError::Invalid(_) | ChangeError::Refused(_)) => Outcome::Invalid,
            Err(ChangeError::Denied(_)) => Outcome::Denied,
            Err(
                ChangeError::NotFound(..) | ChangeError::Exists(..) | ChangeError::Conflict { .. },
            ) => Outcome::Conflict,
            Err(ChangeError::Db(_) | ChangeError::NotPublished { .. }) => Outcome::Failed,
        });
        match &result {
            Ok(applied) => tracing::info!(
                target: "edgeflag_server::change",
                request_id = %req.request_id,
                actor = %req.who.actor,
                action = %req.action,
                revision = applied.revision,
                published = applied.published.iter().filter(|p| p.new).count(),
                "change applied"
            ),
            Err(e) => tracing::info!(
                target: "edgeflag_server::change",
                request_id = %req.request_id,
                actor = %req.who.actor,
                action = %req.action,
                "change refused: {e}"
            ),
        }
        result
    }

    async fn apply_locked(
        &self,
        conn: &mut sqlx::AnyConnection,
        cache: &mut Option<(i64, Vec<CompiledEnv>)>,
        req: &Request<'_>,
        edits: &[Edit],
        options: Options,
    ) -> Result<Applied, ChangeError> {
        let before = db::snapshot(conn).await?;
        let old_envs = match cache.take() {
            Some((rev, envs)) if rev == before.revision => envs,
            _ => project::compile(&before).unwrap_or_default(),
        };
        let revision = before.revision + 1;
        let mut after = before.clone();
        let now = edgeflag_publish::now_ms();
        for edit in edits {
            apply_edit(&mut after, edit, revision, now)?;
        }
        if after.environments.is_empty() {
            return Err(ChangeError::Refused(
                "a project needs at least one environment".into(),
            ));
        }
        let new_envs = match project::compile(&after) {
            Ok(envs) => envs,
            Err(problems) => {
                *cache = Some((before.revision, old_envs));
                return Err(ChangeError::Invalid(problems));
            }
        };
        for env in &new_envs {
            let old = old_envs.iter().find(|o| o.name == env.name);
            if old != Some(env) {
                let protected = after
                    .environments
                    .iter()
                    .any(|e| e.name == env.name && e.protected);
                if let Err(denied) = req.who.may_change(&env.name, protected) {
                    *cache = Some((before.revision, old_envs));
                    return Err(denied.into());
                }
            }
        }
        let changes = if options.diff {
            env_changes(&old_envs, &new_envs)
        } else {
            Vec::new()
        };
        let resources = edits
            .iter()
            .map(|e| (e.target.clone(), stored(&after, &e.target)))
            .collect();
        if options.dry_run {
            *cache = Some((before.revision, old_envs));
            return Ok(Applied {
                revision: before.revision,
                resources,
                published: Vec::new(),
                changes,
            });
        }
        self.commit(conn, req, &before, &after, edits, revision, now)
            .await?;
        if self.crash_after_commit {
            std::process::abort();
        }
        let published = self
            .publish(conn, &new_envs, revision, req.who.actor.as_str())
            .await;
        *cache = Some((revision, new_envs));
        let published =
            published.map_err(|source| ChangeError::NotPublished { revision, source })?;
        Ok(Applied {
            revision,
            resources,
            published,
            changes,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        conn: &mut sqlx::AnyConnection,
        req: &Request<'_>,
        before: &Snapshot,
        after: &Snapshot,
        edits: &[Edit],
        revision: i64,
        now: i64,
    ) -> Result<(), ChangeError> {
        use sqlx::Connection;
        let mut tx = conn.begin().await?;
        let next_audit: i64 = {
            use sqlx::Row;
            sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM audit")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?
        };
        for (i, edit) in edits.iter().enumerate() {
            write_target(&mut tx, after, &edit.target, now).await?;
            let old = json_of(before, &edit.target);
            let new = json_of(after, &edit.target);
            sqlx::query(
                "INSERT INTO audit (id, at, actor, action, kind, key, revision, before, after, request_id, comment) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(next_audit + i as i64)
            .bind(now)
            .bind(&req.who.actor)
            .bind(req.action)
            .bind(edit.target.kind())
            .bind(edit.target.key())
            .bind(revision)
            .bind(old.map(|v| v.to_string()))
            .bind(new.map(|v| v.to_string()))
            .bind(req.request_id)
            .bind(req.comment)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE project SET revision = $1 WHERE id = 1")
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Publishes every ruleset of `envs` (unchanged ones are no-ops) and
    /// records `revision` as published.
    async fn publish(
        &self,
        conn: &mut sqlx::AnyConnection,
        envs: &[CompiledEnv],
        revision: i64,
        actor: &str,
    ) -> Result<Vec<Published>, PublishError> {
        let started = std::time::Instant::now();
        let mut out = Vec::new();
        let signing = self.sign.as_ref().map(|s| Signing {
            signer: s.signer.as_ref(),
            lifetime: s.lifetime,
        });
        let mut result = Ok(());
        for env in envs {
            for (name, body) in env.rulesets() {
                let p = Publication::new(&name, body).actor(actor).signed(signing);
                match edgeflag_publish::publish(&self.store, &p).await {
                    Ok(Outcome::Published { version, .. }) => {
                        let _ = sqlx::query(
                            "INSERT INTO publications (environment, version, revision, at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (environment, version) DO NOTHING",
                        )
                        .bind(&name)
                        .bind(version as i64)
                        .bind(revision)
                        .bind(edgeflag_publish::now_ms())
                        .execute(&mut *conn)
                        .await;
                        out.push(Published {
                            environment: name,
                            version,
                            new: true,
                        });
                    }
                    Ok(Outcome::Unchanged { version }) => out.push(Published {
                        environment: name,
                        version,
                        new: false,
                    }),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        let names: Vec<String> = out.iter().map(|p| p.environment.clone()).collect();
        if let Some(origin) = &self.origin {
            crate::served::sync(&self.store, origin, &names).await;
        }
        if self.db.backend == Backend::Postgres && out.iter().any(|p| p.new) {
            // Other servers on this database sync what was published.
            let _ = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::served::CHANNEL)
                .bind(crate::served::payload(&names))
                .execute(&mut *conn)
                .await;
        }
        self.metrics.publish(started.elapsed(), result.is_ok());
        result?;
        let _ = sqlx::query(
            "UPDATE project SET published_revision = $1 WHERE id = 1 AND published_revision < $1",
        )
        .bind(revision)
        .execute(&mut *conn)
        .await;
        Ok(out)
    }

    /// Every ruleset name of the last compile (`<env>` and `<env>.client`).
    pub async fn environments(&self) -> Vec<String> {
        let cache = self.lock.lock().await;
        cache.as_ref().map_or_else(Vec::new, |(_, envs)| {
            envs.iter()
                .flat_map(|e| e.rulesets().map(|(name, _)| name))
                .collect()
        })
    }

    /// Publishes the committed project if it is ahead of what was published
    /// (or `always`); what it published. Run at start and by the retry loop.
    pub async fn repair(&self, always: bool) -> Result<Vec<Published>, ChangeError> {
        let mut cache = self.lock.lock().await;
        let mut conn = self.db.pool.acquire().await?;
        self.db.lock_session(&mut conn).await?;
        let result = async {
            let (revision, published) = db::revisions(&mut conn).await?;
            if !always && published >= revision {
                return Ok(Vec::new());
            }
            let snap = db::snapshot(&mut conn).await?;
            let envs = project::compile(&snap).map_err(ChangeError::Invalid)?;
            let out = self
                .publish(&mut conn, &envs, snap.revision, "edgeflag-server")
                .await
                .map_err(|source| ChangeError::NotPublished {
                    revision: snap.revision,
                    source,
                });
            *cache = Some((snap.revision, envs));
            out
        }
        .await;
        if self.db.unlock_session(&mut conn).await.is_err() {
            let _ = conn.detach();
        }
        result
    }
}

/// What changes between two compiles, per environment (new environments
/// compare with an empty one; removed ones are not listed).
fn env_changes(old: &[CompiledEnv], new: &[CompiledEnv]) -> Vec<EnvChanges> {
    let empty = |name: &str| CompiledEnv {
        name: name.to_owned(),
        body: Default::default(),
        client: None,
    };
    new.iter()
        .filter_map(|env| {
            let before = old
                .iter()
                .find(|o| o.name == env.name)
                .cloned()
                .unwrap_or_else(|| empty(&env.name));
            let (a, b) = (before.to_ruleset().ok()?, env.to_ruleset().ok()?);
            let lines = edgeflag_compiler::diff::lines(&edgeflag_compiler::diff::diff(&a, &b));
            (!lines.is_empty()).then(|| EnvChanges {
                environment: env.name.clone(),
                lines,
            })
        })
        .collect()
}

/// The stored resource `t` in `s`.
fn stored(s: &Snapshot, t: &Target) -> Option<Doc> {
    match t {
        Target::Flag(k) => s.flags.get(k).cloned(),
        Target::Segment(k) => s.segments.get(k).cloned(),
        Target::Environment(k) => s.environments.iter().find(|e| e.name == *k).map(|e| Doc {
            key: e.name.clone(),
            definition: serde_json::json!({ "protected": e.protected }),
            revision: e.revision,
            updated_at: 0,
        }),
        Target::Settings => Some(Doc {
            key: String::new(),
            definition: s.settings.clone(),
            revision: s.revision,
            updated_at: 0,
        }),
    }
}

fn json_of(s: &Snapshot, t: &Target) -> Option<Value> {
    stored(s, t).map(|d| d.definition)
}

/// The current revision of `t` in `s`, if it exists.
fn revision_of(s: &Snapshot, t: &Target) -> Option<i64> {
    stored(s, t).map(|d| d.revision)
}

fn apply_edit(s: &mut Snapshot, edit: &Edit, revision: i64, now: i64) -> Result<(), ChangeError> {
    let current = revision_of(s, &edit.target);
    let (kind, key) = (edit.target.kind(), edit.target.key().to_owned());
    match (edit.expect, current) {
        (Expect::Absent, Some(_)) => return Err(ChangeError::Exists(kind, key)),
        (Expect::Present | Expect::Revision(_), None) => {
            return Err(ChangeError::NotFound(kind, key))
        }
        (Expect::Revision(expected), Some(current)) if expected != current => {
            return Err(ChangeError::Conflict {
                kind,
                key,
                expected,
                current,
            })
        }
        _ => {}
    }
    if edit.after.is_none() && current.is_none() {
        // Deleting what is not there: a no-op for `Any` (a rollback), else 404.
        return match edit.expect {
            Expect::Any => Ok(()),
            _ => Err(ChangeError::NotFound(kind, key)),
        };
    }
    let doc = |definition: Value| Doc {
        key: key.clone(),
        definition,
        revision,
        updated_at: now,
    };
    match (&edit.target, &edit.after) {
        (Target::Flag(k), Some(v)) => {
            s.flags.insert(k.clone(), doc(v.clone()));
        }
        (Target::Flag(k), None) => {
            s.flags.remove(k);
        }
        (Target::Segment(k), Some(v)) => {
            s.segments.insert(k.clone(), doc(v.clone()));
        }
        (Target::Segment(k), None) => {
            s.segments.remove(k);
        }
        (Target::Environment(name), Some(v)) => {
            let protected = v.get("protected").and_then(Value::as_bool).unwrap_or(false);
            match s.environments.iter_mut().find(|e| e.name == *name) {
                Some(e) => {
                    e.protected = protected;
                    e.revision = revision;
                }
                None => s.environments.push(Env {
                    name: name.clone(),
                    revision,
                    protected,
                }),
            }
        }
        (Target::Environment(name), None) => s.environments.retain(|e| e.name != *name),
        (Target::Settings, v) => s.settings = v.clone().unwrap_or_else(|| serde_json::json!({})),
    }
    Ok(())
}

/// Writes `t` as it is in `s` (deleting it when absent).
async fn write_target(
    tx: &mut sqlx::AnyConnection,
    s: &Snapshot,
    t: &Target,
    now: i64,
) -> Result<(), sqlx::Error> {
    match t {
        Target::Flag(k) | Target::Segment(k) => {
            let (table, doc) = match t {
                Target::Flag(_) => ("flags", s.flags.get(k)),
                _ => ("segments", s.segments.get(k)),
            };
            match doc {
                Some(doc) => {
                    let sql = format!(
                        "INSERT INTO {table} (key, definition, revision, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key) DO UPDATE SET definition = $2, revision = $3, updated_at = $4"
                    );
                    sqlx::query(&sql)
                        .bind(k)
                        .bind(doc.definition.to_string())
                        .bind(doc.revision)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query(&format!("DELETE FROM {table} WHERE key = $1"))
                        .bind(k)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        Target::Environment(name) => match s.environments.iter().position(|e| e.name == *name) {
            Some(pos) => {
                let e = &s.environments[pos];
                sqlx::query(
                        "INSERT INTO environments (name, position, revision, protected) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (name) DO UPDATE SET revision = $3, protected = $4",
                    )
                    .bind(name)
                    .bind(pos as i64)
                    .bind(e.revision)
                    .bind(i64::from(e.protected))
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM environments WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
        },
        Target::Settings => {
            sqlx::query("UPDATE project SET settings = $1 WHERE id = 1")
                .bind(s.settings.to_string())
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

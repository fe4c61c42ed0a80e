//! The database: SQLite (the embedded default, a file in the data directory) or
//! PostgreSQL, through one `sqlx::Any` pool so every query is written once.
//! Migrations are embedded in the binary and run at start.
//!
//! Every statement here is plain SQL both engines read the same way: `$1`
//! placeholders, `TEXT` and `BIGINT` columns, `ON CONFLICT` upserts.

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// Which engine a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://…`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

impl Backend {
    /// The engine of `url`, or `None` for another scheme.
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The URL names no supported engine.
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://…")]
    Url(String),
    /// A query failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// The migrations could not run.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored JSON document does not parse (the database was edited by hand).
    #[error("stored {what} is not valid JSON: {source}")]
    Json {
        /// Which row.
        what: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// The migrations, embedded at build time.
#[derive(Debug)]
struct Embedded;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "model", include_str!("../migrations/0001_model.sql")),
    (2, "users", include_str!("../migrations/0002_users.sql")),
];

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, sqlx::error::BoxDynError>> + Send + 's>>
    {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, name, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(name),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// An open database with its schema up to date.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// Which engine.
    pub backend: Backend,
}

impl Db {
    /// Connects to `url` (creating a SQLite file when missing) and runs the
    /// migrations.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        let backend = Backend::of(url).ok_or_else(|| DbError::Url(url.to_owned()))?;
        sqlx::any::install_default_drivers();
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => Cow::Owned(format!("{url}?mode=rwc")),
            _ => Cow::Borrowed(url),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets readers go on while the one writer commits; writers wait
            // for each other instead of failing at once.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Migrator::new(Embedded).await?.run(&pool).await?;
        Ok(Db { pool, backend })
    }

    /// Serializes changes across processes sharing the database. PostgreSQL:
    /// a session advisory lock on `conn`, held until [`Db::unlock_session`],
    /// so the publish after a commit is covered too (and released by the
    /// server if the process dies). SQLite serves one process, whose change
    /// lock is enough.
    pub async fn lock_session(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(CHANGE_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Releases [`Db::lock_session`].
    pub async fn unlock_session(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(CHANGE_LOCK)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// The advisory lock key of the change lock.
const CHANGE_LOCK: i64 = 7_206_151_945;

/// A stored flag or segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// Its key.
    pub key: String,
    /// The rule-language JSON of it.
    pub definition: serde_json::Value,
    /// The project revision that last wrote it.
    pub revision: i64,
    /// When (Unix ms).
    pub updated_at: i64,
}

/// A stored environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// Its name.
    pub name: String,
    /// The project revision that last wrote it.
    pub revision: i64,
    /// Whether only admins may change what it serves.
    pub protected: bool,
}

/// Everything that is compiled: the project at one revision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The project revision.
    pub revision: i64,
    /// The last revision published in full.
    pub published_revision: i64,
    /// Project settings (`client_side.clear_attributes`).
    pub settings: serde_json::Value,
    /// Environments in order.
    pub environments: Vec<Env>,
    /// Flags by key.
    pub flags: std::collections::BTreeMap<String, Doc>,
    /// Segments by key.
    pub segments: std::collections::BTreeMap<String, Doc>,
}

fn parse_json(what: impl FnOnce() -> String, text: &str) -> Result<serde_json::Value, DbError> {
    serde_json::from_str(text).map_err(|source| DbError::Json {
        what: what(),
        source,
    })
}

/// Reads the whole project.
pub async fn snapshot(conn: &mut AnyConnection) -> Result<Snapshot, DbError> {
    let row =
        sqlx::query("SELECT revision, published_revision, settings FROM project WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let mut s = Snapshot {
        revision: row.try_get(0)?,
        published_revision: row.try_get(1)?,
        settings: parse_json(|| "project settings".into(), &row.try_get::<String, _>(2)?)?,
        ..Snapshot::default()
    };
    for row in
        sqlx::query("SELECT name, revision, protected FROM environments ORDER BY position, name")
            .fetch_all(&mut *conn)
            .await?
    {
        s.environments.push(Env {
            name: row.try_get(0)?,
            revision: row.try_get(1)?,
            protected: row.try_get::<i64, _>(2)? != 0,
        });
    }
    for (table, map) in [("flags", &mut s.flags), ("segments", &mut s.segments)] {
        let sql = format!("SELECT key, definition, revision, updated_at FROM {table}");
        for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
            let key: String = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            let definition = parse_json(|| format!("{table}.{key}"), &text)?;
            let doc = Doc {
                key: key.clone(),
                definition,
                revision: row.try_get(2)?,
                updated_at: row.try_get(3)?,
            };
            map.insert(key, doc);
        }
    }
    Ok(s)
}

/// The project's `(revision, published_revision)`.
pub async fn revisions(conn: &mut AnyConnection) -> Result<(i64, i64), DbError> {
    let row = sqlx::query("SELECT revision, published_revision FROM project WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

//! # edgeflag-publish
//!
//! Publishing compiled rulesets to a destination, rolling back, and reading the
//! history. The object layout and the protocol for racing publishers are in
//! `docs/distribution.md`; [`layout`] holds the keys, [`store`] the two kinds of
//! destination, [`manifest`] the version index and audit records.
#![warn(missing_docs)]

pub mod dest;
pub mod layout;
pub mod manifest;
pub mod store;

use edgeflag_compiler::describe::rfc3339_ms;
use edgeflag_compiler::diff;
use edgeflag_evaluator::format::{self, EncodeOptions, HEADER_LEN};
use edgeflag_evaluator::model::Body;
use edgeflag_evaluator::{DecodeError, Ruleset};
use manifest::{Action, AuditRecord, Entry, Manifest};
use std::time::{SystemTime, UNIX_EPOCH};
use store::{Condition, Put, Store, StoreError};

/// How many times a publish restarts after losing a race before giving up.
const ATTEMPTS: u32 = 16;

/// Waits a little before retrying after a lost race: a random 0–25 ms times the
/// attempt number, so racing publishers spread out instead of colliding again.
async fn back_off(attempt: u32) {
    let jitter = fastrand::u64(0..25);
    tokio::time::sleep(std::time::Duration::from_millis(
        jitter * u64::from(attempt + 1),
    ))
    .await;
}

/// Why a publish, rollback or history read failed. Nothing is half-done: the
/// previous `current.efr` keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `manifest.json` is not a valid manifest.
    #[error("{key}: invalid manifest: {source}")]
    Manifest {
        /// The manifest key.
        key: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Encoding the ruleset failed.
    #[error("environment {env}: {source}")]
    Encode {
        /// The environment.
        env: String,
        /// The cause.
        source: format::EncodeError,
    },
    /// A stored ruleset (for rollback) or the freshly encoded one does not load.
    #[error("{key}: {source}")]
    Decode {
        /// The ruleset key.
        key: String,
        /// The cause.
        source: DecodeError,
    },
    /// A stored ruleset belongs to another environment.
    #[error("{key}: ruleset is for environment {found:?}, expected {expected:?}")]
    WrongEnvironment {
        /// The ruleset key.
        key: String,
        /// Its environment.
        found: String,
        /// The environment asked for.
        expected: String,
    },
    /// `rollback --version N` names a version that was never published.
    #[error("environment {env}: version {version} not found ({key} does not exist)")]
    VersionNotFound {
        /// The environment.
        env: String,
        /// The version asked for.
        version: u64,
        /// The key looked up.
        key: String,
    },
    /// Other publishers kept winning the race.
    #[error(
        "environment {env}: gave up after {ATTEMPTS} attempts: other publishers kept writing first"
    )]
    Contended {
        /// The environment.
        env: String,
    },
}

/// What a publish of one environment did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A new version was written and `current.efr` points at it (unless an even
    /// newer version from another publisher already does).
    Published {
        /// The new version.
        version: u64,
        /// The version it replaced.
        previous: Option<u64>,
        /// Size in bytes.
        size: usize,
        /// Checksum from the header.
        checksum: u64,
        /// What changed.
        changes: Vec<String>,
    },
    /// The rules are identical to `current.efr`'s; nothing was written.
    Unchanged {
        /// The version that stays current.
        version: u64,
    },
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn empty_ruleset(env: &str) -> Result<Ruleset, PublishError> {
    let bytes = format::encode(
        &Body::default(),
        &EncodeOptions {
            environment: env,
            version: 0,
            created_at_ms: 0,
        },
    )
    .map_err(|source| PublishError::Encode {
        env: env.into(),
        source,
    })?;
    Ruleset::from_bytes(&bytes).map_err(|source| PublishError::Decode {
        key: "(empty ruleset)".into(),
        source,
    })
}

async fn read_manifest(store: &Store, env: &str) -> Result<(Manifest, Condition), PublishError> {
    let key = layout::manifest(env);
    match store.get(&key).await? {
        None => Ok((Manifest::new(env), Condition::Absent)),
        Some(obj) => {
            let m = serde_json::from_slice(&obj.bytes)
                .map_err(|source| PublishError::Manifest { key, source })?;
            Ok((m, Condition::Matches(obj.etag)))
        }
    }
}

/// Publishes `body` as the next version of `env`: the protocol of
/// `docs/distribution.md` (immutable version, audit record, manifest, then
/// `current.efr`, each with a precondition, restarting on a lost race).
///
/// Skips the write when `force` is false, the action is a publish, and the rules
/// are byte-identical to the current ruleset's.
pub async fn publish_body(
    store: &Store,
    env: &str,
    body: &Body,
    action: Action,
    actor: &str,
    force: bool,
) -> Result<Outcome, PublishError> {
    // Versions known to be taken: by a racing publisher, or left behind by one
    // that stopped between writing the version and the manifest.
    let mut taken = 0;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            back_off(attempt).await;
        }
        let (mut manifest, manifest_cond) = read_manifest(store, env).await?;
        let current_key = layout::current(env);
        let current = store.get(&current_key).await?;
        // A current ruleset whose body no longer loads is still a version to
        // exceed and to replace; it is not a base for a diff.
        let (current_version, current_rs) = match current
            .as_ref()
            .and_then(|o| format::read_header(&o.bytes).ok())
        {
            Some((header, body)) => (
                Some(header.version),
                format::decode_body(body)
                    .and_then(|b| Ruleset::from_body(header, b))
                    .ok(),
            ),
            None => (None, None),
        };
        let next = manifest.latest.max(current_version.unwrap_or(0)).max(taken) + 1;
        let created_at_ms = now_ms();
        let bytes = format::encode(
            body,
            &EncodeOptions {
                environment: env,
                version: next,
                created_at_ms,
            },
        )
        .map_err(|source| PublishError::Encode {
            env: env.into(),
            source,
        })?;
        if let (false, Action::Publish, Some(cur)) = (force, &action, &current) {
            if cur.bytes.get(HEADER_LEN..) == bytes.get(HEADER_LEN..) {
                return Ok(Outcome::Unchanged {
                    version: current_version.unwrap_or(0),
                });
            }
        }
        // Never publish what a client would refuse.
        let new_rs = Ruleset::from_bytes(&bytes).map_err(|source| PublishError::Decode {
            key: layout::version(env, next),
            source,
        })?;
        let base = match current_rs {
            Some(rs) => rs,
            None => empty_ruleset(env)?,
        };
        let changes = diff::lines(&diff::diff(&base, &new_rs));
        let checksum = new_rs.header().checksum;
        let size = bytes.len();

        if store
            .put(
                &layout::version(env, next),
                bytes.clone(),
                Condition::Absent,
            )
            .await?
            == Put::Conflict
        {
            taken = next;
            continue;
        }
        let record = AuditRecord {
            environment: env.to_string(),
            version: next,
            previous_version: current_version,
            action: action.clone(),
            actor: actor.to_string(),
            at_ms: created_at_ms,
            at: rfc3339_ms(created_at_ms),
            checksum: format!("{checksum:016x}"),
            changes: changes.clone(),
            tool: concat!("edgeflag ", env!("CARGO_PKG_VERSION")).to_string(),
        };
        manifest.latest = next;
        manifest.versions.push(Entry {
            version: next,
            created_at_ms,
            checksum: record.checksum.clone(),
            size: size as u64,
            action: action.clone(),
            actor: actor.to_string(),
            changes: changes.clone(),
        });
        let manifest_json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        if store
            .put(&layout::manifest(env), manifest_json, manifest_cond)
            .await?
            == Put::Conflict
        {
            continue;
        }
        // The version is ours now; record who made it.
        let record_json = serde_json::to_vec_pretty(&record).unwrap_or_default();
        store
            .put(&layout::audit(env, next), record_json, Condition::Absent)
            .await?;
        advance_current(store, env, next, bytes).await?;
        return Ok(Outcome::Published {
            version: next,
            previous: current_version,
            size,
            checksum,
            changes,
        });
    }
    Err(PublishError::Contended { env: env.into() })
}

/// Points `current.efr` at `version` unless it already holds that or a newer one.
async fn advance_current(
    store: &Store,
    env: &str,
    version: u64,
    bytes: Vec<u8>,
) -> Result<(), PublishError> {
    let key = layout::current(env);
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            back_off(attempt).await;
        }
        let cond = match store.get(&key).await? {
            None => Condition::Absent,
            Some(obj) => {
                let held = format::read_header(&obj.bytes).map(|(h, _)| h.version);
                if held.is_ok_and(|v| v >= version) {
                    return Ok(());
                }
                Condition::Matches(obj.etag)
            }
        };
        if store.put(&key, bytes.clone(), cond).await? == Put::Written {
            return Ok(());
        }
    }
    Err(PublishError::Contended { env: env.into() })
}

/// Republishes the rules of `version` as a new, higher version of `env`.
pub async fn rollback(
    store: &Store,
    env: &str,
    version: u64,
    actor: &str,
) -> Result<Outcome, PublishError> {
    let key = layout::version(env, version);
    let Some(obj) = store.get(&key).await? else {
        return Err(PublishError::VersionNotFound {
            env: env.into(),
            version,
            key,
        });
    };
    let decode = |source| PublishError::Decode {
        key: key.clone(),
        source,
    };
    let (header, body) = format::read_header(&obj.bytes).map_err(decode)?;
    if header.environment != env {
        return Err(PublishError::WrongEnvironment {
            key,
            found: header.environment,
            expected: env.into(),
        });
    }
    let body = format::decode_body(body).map_err(decode)?;
    publish_body(
        store,
        env,
        &body,
        Action::Rollback { to: version },
        actor,
        true,
    )
    .await
}

/// Reads `env`'s manifest; `None` when nothing was ever published there.
pub async fn history(store: &Store, env: &str) -> Result<Option<Manifest>, PublishError> {
    let key = layout::manifest(env);
    match store.get(&key).await? {
        None => Ok(None),
        Some(obj) => serde_json::from_slice(&obj.bytes)
            .map(Some)
            .map_err(|source| PublishError::Manifest { key, source }),
    }
}

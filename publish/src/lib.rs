//! # edgeflag-publish
//!
//! Publishing compiled rulesets to a destination, rolling back, and reading the
//! history. The object layout and the protocol for racing publishers are in
//! `docs/distribution.md`; [`layout`] holds the keys, [`store`] the two kinds of
//! destination, [`manifest`] the version index and audit records.
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod dest;
pub mod layout;
pub mod manifest;
pub mod store;

use edgeflag_compiler::describe::rfc3339_ms;
use edgeflag_compiler::diff;
use edgeflag_evaluator::accept::Position;
use edgeflag_evaluator::format::{self, EncodeOptions, Header, HEADER_LEN};
use edgeflag_evaluator::model::Body;
use edgeflag_evaluator::{DecodeError, Ruleset};
use manifest::{Action, AuditRecord, Entry, Manifest};
use std::time::{SystemTime, UNIX_EPOCH};
use store::{Condition, Put, Store, StoreError};

/// How many times a publish restarts after losing a race before giving up.
const ATTEMPTS: u32 = 16;

/// The highest version a publish writes: 2^53 − 1. JavaScript clients hold
/// versions as numbers, which are exact only up to here; beyond it two versions
/// could compare equal. A destination whose manifest or `current.efr` is at (or
/// claims to be past) this version refuses further publishes with
/// [`PublishError::VersionExhausted`].
pub use edgeflag_evaluator::format::MAX_VERSION;

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
#[non_exhaustive]
pub enum PublishError {
    /// An environment name that is not `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`
    /// ([`edgeflag_compiler::is_valid_environment`]): it would not stay one path
    /// segment or key component (`../x`, `a/b`). Checked before any key is built.
    #[error(
        "invalid environment {env:?}: a name must match [A-Za-z0-9][A-Za-z0-9._-]{{0,63}} \
         (letters, digits, `.`, `_`, `-`, starting with a letter or digit: one path segment)"
    )]
    InvalidEnvironment {
        /// The name given.
        env: String,
    },
    /// The destination's latest version is [`MAX_VERSION`] or above: there is no
    /// next version. A new epoch does not help (version keys must not repeat).
    #[error(
        "environment {env}: latest version {latest} leaves no next version: versions \
         stop at {MAX_VERSION} (2^53 - 1, the largest a JavaScript client holds exactly); \
         nothing was written. To recover, move the environment's objects ({env}/ under \
         the destination) aside and publish again: a fresh destination starts a new, \
         later epoch at version 1, which clients accept"
    )]
    VersionExhausted {
        /// The environment.
        env: String,
        /// The highest version the manifest or `current.efr` claims.
        latest: u64,
    },
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
        /// Its epoch.
        epoch: u64,
        /// Whether it began a new epoch (a fresh destination, or `new_epoch`).
        new_epoch: bool,
        /// The version it replaced.
        previous: Option<u64>,
        /// Size in bytes.
        size: usize,
        /// Checksum from the header.
        checksum: u64,
        /// What changed, one line per change ([`edgeflag_compiler::diff::lines`]).
        changes: Vec<String>,
    },
    /// The rules are identical to `current.efr`'s; nothing was written.
    Unchanged {
        /// The version that stays current.
        version: u64,
    },
}

/// One change to publish: an environment's new body and who makes it why.
///
/// ```
/// use edgeflag_publish::{manifest::Action, Publication};
/// let body = edgeflag_evaluator::model::Body::default();
/// let p = Publication::new("production", &body).actor("ann").force(true);
/// assert_eq!(p.action, Action::Publish);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Publication<'a> {
    /// The environment.
    pub environment: &'a str,
    /// Its compiled rules.
    pub body: &'a Body,
    /// Why (publish, or rollback to a version).
    pub action: Action,
    /// Who, for the audit log.
    pub actor: &'a str,
    /// Publish even when the rules equal the current ones.
    pub force: bool,
    /// Begin a new epoch (clients then accept this version whatever they hold):
    /// the way back after a destination was restored to an older state.
    pub new_epoch: bool,
}

impl<'a> Publication<'a> {
    /// A publish of `body` as the next version of `environment`, by `unknown`.
    pub fn new(environment: &'a str, body: &'a Body) -> Publication<'a> {
        Publication {
            environment,
            body,
            action: Action::Publish,
            actor: "unknown",
            force: false,
            new_epoch: false,
        }
    }

    /// Who publishes.
    pub fn actor(mut self, actor: &'a str) -> Self {
        self.actor = actor;
        self
    }

    /// Why (default [`Action::Publish`]).
    pub fn action(mut self, action: Action) -> Self {
        self.action = action;
        self
    }

    /// Publish even when nothing changed.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Begin a new epoch.
    pub fn new_epoch(mut self, new_epoch: bool) -> Self {
        self.new_epoch = new_epoch;
        self
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Refuses an environment name that would not stay one key component.
fn check_environment(env: &str) -> Result<(), PublishError> {
    if edgeflag_compiler::is_valid_environment(env) {
        Ok(())
    } else {
        Err(PublishError::InvalidEnvironment { env: env.into() })
    }
}

fn empty_ruleset(env: &str) -> Result<Ruleset, PublishError> {
    let bytes =
        format::encode(&Body::default(), &EncodeOptions::unpublished(env)).map_err(|source| {
            PublishError::Encode {
                env: env.into(),
                source,
            }
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

/// What the destination holds for an environment when a publish attempt starts.
struct Held {
    manifest: Manifest,
    manifest_cond: Condition,
    /// `current.efr`'s bytes, if any.
    current: Option<Vec<u8>>,
    /// Its header, if it reads.
    header: Option<Header>,
    /// It as a ruleset, if its body loads too (the base of the change summary).
    ruleset: Option<Ruleset>,
}

async fn read_held(store: &Store, env: &str) -> Result<Held, PublishError> {
    let (manifest, manifest_cond) = read_manifest(store, env).await?;
    let current = store.get(&layout::current(env)).await?.map(|o| o.bytes);
    // A current ruleset whose body no longer loads is still a version to exceed
    // and to replace; it is not a base for a diff.
    let (header, ruleset) = match current.as_deref().and_then(|b| format::read_header(b).ok()) {
        Some((header, body)) => {
            let rs = format::decode_body(body)
                .and_then(|b| Ruleset::from_body(header.clone(), b))
                .ok();
            (Some(header), rs)
        }
        None => (None, None),
    };
    Ok(Held {
        manifest,
        manifest_cond,
        current,
        header,
        ruleset,
    })
}

/// The epoch of the next version: the manifest's (else `current.efr`'s), or a
/// new one — now, and above every epoch seen — for a fresh destination or when
/// asked. A destination that was wiped therefore starts a later epoch than any
/// client holds, and clients follow it without a restart.
fn next_epoch(held: &Held, new_epoch: bool) -> (u64, bool) {
    let known = if held.manifest.epoch > 0 || held.manifest.latest > 0 {
        Some(held.manifest.epoch)
    } else {
        held.header.as_ref().map(|h| h.epoch)
    };
    match known {
        Some(e) if !new_epoch && e > 0 => (e, false),
        _ => {
            let floor = known.unwrap_or(0).saturating_add(1);
            (u64::try_from(now_ms()).unwrap_or(0).max(floor), true)
        }
    }
}

/// Publishes `p.body` as the next version of `p.environment`: the protocol of
/// `docs/distribution.md` (immutable version, manifest, audit record, then
/// `current.efr`, each with a precondition, restarting on a lost race).
///
/// Skips the write when `force` is false, the action is a publish, and the rules
/// are byte-identical to the current ruleset's.
///
/// Fails with [`PublishError::InvalidEnvironment`] before touching the store when
/// the environment name is not valid, and with [`PublishError::VersionExhausted`]
/// (writing nothing) when no version up to [`MAX_VERSION`] is left.
pub async fn publish(store: &Store, p: &Publication<'_>) -> Result<Outcome, PublishError> {
    let env = p.environment;
    check_environment(env)?;
    // Versions known to be taken: by a racing publisher, or left behind by one
    // that stopped between writing the version and the manifest.
    let mut taken = 0;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            back_off(attempt).await;
        }
        let held = read_held(store, env).await?;
        let current_version = held.header.as_ref().map(|h| h.version);
        let latest = held
            .manifest
            .latest
            .max(current_version.unwrap_or(0))
            .max(taken);
        let Some(next) = latest.checked_add(1).filter(|&v| v <= MAX_VERSION) else {
            return Err(PublishError::VersionExhausted {
                env: env.into(),
                latest,
            });
        };
        let (epoch, new_epoch) = next_epoch(&held, p.new_epoch);
        let created_at_ms = now_ms();
        let bytes = format::encode(
            p.body,
            &EncodeOptions {
                environment: env,
                version: next,
                epoch,
                created_at_ms,
            },
        )
        .map_err(|source| PublishError::Encode {
            env: env.into(),
            source,
        })?;
        let unchanged = held
            .current
            .as_ref()
            .is_some_and(|cur| cur.get(HEADER_LEN..) == bytes.get(HEADER_LEN..));
        if unchanged && !p.force && !new_epoch && p.action == Action::Publish {
            return Ok(Outcome::Unchanged {
                version: current_version.unwrap_or(0),
            });
        }
        // Never publish what a client would refuse.
        let new_rs = Ruleset::from_bytes(&bytes).map_err(|source| PublishError::Decode {
            key: layout::version(env, next),
            source,
        })?;
        let base = match held.ruleset {
            Some(rs) => rs,
            None => empty_ruleset(env)?,
        };
        let changes = diff::lines(&diff::diff(&base, &new_rs));
        let checksum = new_rs.header().checksum;
        let size = bytes.len();

        let version_key = layout::version(env, next);
        if store
            .put(&version_key, bytes.clone(), Condition::Absent)
            .await?
            == Put::Conflict
        {
            taken = next;
            continue;
        }
        let record = AuditRecord {
            environment: env.to_string(),
            version: next,
            epoch,
            previous_version: current_version,
            action: p.action.clone(),
            actor: p.actor.to_string(),
            at_ms: created_at_ms,
            at: rfc3339_ms(created_at_ms),
            checksum: format!("{checksum:016x}"),
            changes: changes.clone(),
            tool: concat!("edgeflag ", env!("CARGO_PKG_VERSION")).to_string(),
        };
        let mut manifest = held.manifest;
        manifest.latest = next;
        manifest.epoch = epoch;
        manifest.versions.push(Entry {
            version: next,
            epoch,
            created_at_ms,
            checksum: record.checksum.clone(),
            size: size as u64,
            action: p.action.clone(),
            actor: p.actor.to_string(),
            changes: changes.clone(),
        });
        let manifest_json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        if store
            .put(&layout::manifest(env), manifest_json, held.manifest_cond)
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
        advance_current(
            store,
            env,
            Position {
                epoch,
                version: next,
            },
            bytes,
        )
        .await?;
        return Ok(Outcome::Published {
            version: next,
            epoch,
            new_epoch,
            previous: current_version,
            size,
            checksum,
            changes,
        });
    }
    Err(PublishError::Contended { env: env.into() })
}

/// Points `current.efr` at `position` unless it already holds that or a newer one.
async fn advance_current(
    store: &Store,
    env: &str,
    position: Position,
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
                let held = format::read_header(&obj.bytes).map(|(h, _)| Position::of(&h));
                if held.is_ok_and(|h| h >= position) {
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
/// Refuses an invalid environment name before reading anything.
pub async fn rollback(
    store: &Store,
    env: &str,
    version: u64,
    actor: &str,
) -> Result<Outcome, PublishError> {
    check_environment(env)?;
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
    let p = Publication::new(env, &body)
        .action(Action::Rollback { to: version })
        .actor(actor)
        .force(true);
    publish(store, &p).await
}

/// Reads `env`'s manifest; `None` when nothing was ever published there.
/// Refuses an invalid environment name before reading anything.
pub async fn history(store: &Store, env: &str) -> Result<Option<Manifest>, PublishError> {
    check_environment(env)?;
    let key = layout::manifest(env);
    match store.get(&key).await? {
        None => Ok(None),
        Some(obj) => serde_json::from_slice(&obj.bytes)
            .map(Some)
            .map_err(|source| PublishError::Manifest { key, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::DirStore;

    fn scratch(name: &str) -> std::path::PathBuf {
        let root =
            std::env::temp_dir().join(format!("edgeflag-publish-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        root
    }

    #[tokio::test]
    async fn versions_stop_at_the_largest_exact_javascript_number() {
        let root = scratch("exhausted");
        let store = Store::Dir(DirStore::new(root.clone()));
        let body = Body::default();
        let p = Publication::new("production", &body).force(true);
        publish(&store, &p).await.unwrap();
        // A manifest one below the limit: the next version is the last one.
        let path = root.join("production/manifest.json");
        let mut m: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m.latest = (1 << 53) - 2;
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        let out = publish(&store, &p).await.unwrap();
        assert!(
            matches!(out, Outcome::Published { version, .. } if version == (1 << 53) - 1),
            "{out:?}"
        );
        let before = std::fs::read(root.join("production/current.efr")).unwrap();
        for p in [p.clone(), p.clone().new_epoch(true)] {
            let err = publish(&store, &p).await.expect_err("no version left");
            let msg = err.to_string();
            assert!(msg.contains("9007199254740991"), "{msg}");
        }
        assert_eq!(
            std::fs::read(root.join("production/current.efr")).unwrap(),
            before
        );
        assert!(!root
            .join("production/versions/00000000009007199254740992.efr")
            .exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn environment_names_are_checked_before_they_become_keys() {
        let root = scratch("env-names");
        let store = Store::Dir(DirStore::new(root.clone()));
        let body = Body::default();
        for env in ["../x", "a/b", "", ".hidden", "/abs"] {
            let p = Publication::new(env, &body);
            let errs = [
                publish(&store, &p).await.map(|_| ()),
                rollback(&store, env, 1, "t").await.map(|_| ()),
                history(&store, env).await.map(|_| ()),
            ];
            for e in errs {
                let msg = e.expect_err("refused").to_string();
                assert!(msg.contains(&format!("{env:?}")), "{msg}");
                assert!(msg.contains("[A-Za-z0-9][A-Za-z0-9._-]{0,63}"), "{msg}");
            }
        }
        assert!(!root.exists(), "nothing written");
    }
}

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
use edgeflag_evaluator::signature::{SignError, Signer};
use edgeflag_evaluator::{DecodeError, Ruleset};
use manifest::{Action, AuditRecord, Entry, Manifest};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
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
    /// There is no `current.efr` to sign again.
    #[error("environment {env}: nothing published at {key}")]
    NothingPublished {
        /// The environment.
        env: String,
        /// The key looked up.
        key: String,
    },
    /// Signing failed (the signer's message says why); nothing was written.
    #[error("environment {env}: signing failed: {source}")]
    Sign {
        /// The environment.
        env: String,
        /// The cause.
        source: SignError,
    },
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
    /// How to sign it; `None` publishes unsigned.
    pub signing: Option<Signing<'a>>,
}

/// How rulesets are signed: by whom, and how long each stays fresh.
///
/// A signed publish whose rules did not change still publishes (as
/// [`Action::Resign`]) when the current ruleset is unsigned, signed by another
/// key, or past half its lifetime: running `edgeflag publish` on a schedule
/// keeps rulesets fresh.
#[derive(Clone, Copy)]
pub struct Signing<'a> {
    /// The key (or KMS) that signs.
    pub signer: &'a dyn Signer,
    /// How long a ruleset stays fresh after it is published; `None`: it never
    /// expires (readers then cannot tell a replayed old ruleset from a new one).
    pub lifetime: Option<Duration>,
}

impl std::fmt::Debug for Signing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signing")
            .field("key_id", &self.signer.key_id())
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl<'a> Signing<'a> {
    /// Signing by `signer`, fresh for [`DEFAULT_LIFETIME`].
    pub fn new(signer: &'a dyn Signer) -> Signing<'a> {
        Signing {
            signer,
            lifetime: Some(DEFAULT_LIFETIME),
        }
    }

    /// Fresh for `lifetime` (`None`: never expires).
    pub fn lifetime(mut self, lifetime: Option<Duration>) -> Signing<'a> {
        self.lifetime = lifetime;
        self
    }

    /// The expiry of a ruleset created at `created_at_ms`.
    fn expires_at(&self, created_at_ms: i64) -> Option<i64> {
        self.lifetime
            .map(|l| created_at_ms.saturating_add(i64::try_from(l.as_millis()).unwrap_or(i64::MAX)))
    }

    /// Whether `current` needs signing again: unsigned, signed by another key,
    /// or past half its lifetime at `now_ms`.
    fn needs_resign(&self, current: &Header, now_ms: i64) -> bool {
        let Some(seal) = current.signature else {
            return true;
        };
        if seal.key_id != self.signer.key_id() {
            return true;
        }
        match current.expires_at_ms {
            None => self.lifetime.is_some(),
            Some(at) => {
                let half = (at - current.created_at_ms) / 2;
                now_ms >= current.created_at_ms.saturating_add(half)
            }
        }
    }
}

/// How long a signed ruleset stays fresh by default: 30 days.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

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
            signing: None,
        }
    }

    /// Sign with `signing` (default: unsigned).
    pub fn signed(mut self, signing: Option<Signing<'a>>) -> Self {
        self.signing = signing;
        self
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
        let mut bytes = format::encode(
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
        let mut action = p.action.clone();
        if unchanged && !p.force && !new_epoch && p.action == Action::Publish {
            let resign = match (&p.signing, &held.header) {
                (Some(s), Some(h)) => s.needs_resign(h, created_at_ms),
                _ => false,
            };
            if !resign {
                return Ok(Outcome::Unchanged {
                    version: current_version.unwrap_or(0),
                });
            }
            action = Action::Resign;
        }
        if let Some(s) = &p.signing {
            format::sign(&mut bytes, s.signer, s.expires_at(created_at_ms)).map_err(|source| {
                PublishError::Sign {
                    env: env.into(),
                    source,
                }
            })?;
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
            action: action.clone(),
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
            action: action.clone(),
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

/// Republishes the rules of `version` as a new, higher version of `env`, signed
/// with `signing` when given. Refuses an invalid environment name before reading
/// anything.
pub async fn rollback(
    store: &Store,
    env: &str,
    version: u64,
    actor: &str,
    signing: Option<Signing<'_>>,
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
        .force(true)
        .signed(signing);
    publish(store, &p).await
}

/// Signs `env`'s current rules again, with a fresh expiry, as a new version
/// ([`Action::Resign`]): what a scheduled job (or `edgeflag serve --watch`) runs
/// before the current ruleset lapses.
pub async fn resign(
    store: &Store,
    env: &str,
    actor: &str,
    signing: Signing<'_>,
) -> Result<Outcome, PublishError> {
    check_environment(env)?;
    let key = layout::current(env);
    let Some(obj) = store.get(&key).await? else {
        return Err(PublishError::NothingPublished {
            env: env.into(),
            key,
        });
    };
    let decode = |source| PublishError::Decode {
        key: key.clone(),
        source,
    };
    let (_, body) = format::read_header(&obj.bytes).map_err(decode)?;
    let body = format::decode_body(body).map_err(decode)?;
    let p = Publication::new(env, &body)
        .action(Action::Resign)
        .actor(actor)
        .force(true)
        .signed(Some(signing));
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
                rollback(&store, env, 1, "t", None).await.map(|_| ()),
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

    #[tokio::test]
    async fn signed_publishes_verify_and_are_signed_again_when_needed() {
        use edgeflag_evaluator::accept::Policy;
        use edgeflag_evaluator::signature::{SecretKey, TrustedKeys};
        let root = scratch("signed");
        let store = Store::Dir(DirStore::new(root.clone()));
        let key = SecretKey::from_seed([5; 32]);
        let other = SecretKey::from_seed([6; 32]);
        let body = Body::default();
        let current = || {
            let bytes = std::fs::read(root.join("production/current.efr")).unwrap();
            Ruleset::from_bytes(&bytes).unwrap()
        };
        let signing = Signing::new(&key);
        let p = Publication::new("production", &body).signed(Some(signing));
        assert!(matches!(
            publish(&store, &p).await.unwrap(),
            Outcome::Published { version: 1, .. }
        ));
        let rs = current();
        let mut trusted = TrustedKeys::default();
        trusted.add(key.public_key()).unwrap();
        let policy = Policy::new().trust(trusted);
        assert!(policy.check(None, &rs, Some(now_ms())).is_ok());
        let h = rs.header();
        assert_eq!(h.signature.map(|s| s.key_id), Some(key.key_id()));
        let lifetime = h.expires_at_ms.unwrap() - h.created_at_ms;
        assert_eq!(lifetime, DEFAULT_LIFETIME.as_millis() as i64);

        // Same rules, same key, fresh: nothing to do.
        assert_eq!(
            publish(&store, &p).await.unwrap(),
            Outcome::Unchanged { version: 1 }
        );
        // Same rules, another key (rotation): signed again as a new version.
        let rotated = Publication::new("production", &body).signed(Some(Signing::new(&other)));
        assert!(matches!(
            publish(&store, &rotated).await.unwrap(),
            Outcome::Published { version: 2, .. }
        ));
        assert_eq!(
            current().header().signature.map(|s| s.key_id),
            Some(other.key_id())
        );
        // Past half its lifetime: signed again.
        let short = Signing::new(&key).lifetime(Some(Duration::from_millis(4)));
        let p = Publication::new("production", &body).signed(Some(short));
        publish(&store, &p).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(matches!(
            publish(&store, &p).await.unwrap(),
            Outcome::Published { version: 4, .. }
        ));
        let m = history(&store, "production").await.unwrap().unwrap();
        let actions: Vec<_> = m.versions.iter().map(|e| e.action.clone()).collect();
        assert_eq!(
            actions,
            [
                Action::Publish,
                Action::Resign,
                Action::Resign,
                Action::Resign
            ]
        );
        // An explicit re-sign, and a signed rollback.
        resign(&store, "production", "cron", Signing::new(&key))
            .await
            .unwrap();
        assert_eq!(current().header().version, 5);
        rollback(&store, "production", 1, "ann", Some(Signing::new(&key)))
            .await
            .unwrap();
        assert!(policy.check(None, &current(), Some(now_ms())).is_ok());
        // Unsigned publishes stay unsigned.
        let plain = Publication::new("production", &body).force(true);
        publish(&store, &plain).await.unwrap();
        assert!(current().header().signature.is_none());
        std::fs::remove_dir_all(&root).unwrap();
    }
}

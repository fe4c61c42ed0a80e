//! What the server holds: each environment's current ruleset in memory, as
//! bytes and decoded (so a poll or an OFREP evaluation is answered without
//! touching the disk), reloaded when the directory changes, and a broadcast of
//! every new version for the event streams.

use crate::confine::{self, Refused};
use crate::metrics::Metrics;
use edgeflag_evaluator::accept::{Policy, Verdict};
use edgeflag_evaluator::format::Header;
use edgeflag_evaluator::signature::TrustedKeys;
use edgeflag_evaluator::Ruleset;
use edgeflag_publish::layout::{self, etag_of};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio::sync::broadcast;

/// One environment's served ruleset.
#[derive(Debug)]
pub struct Current {
    /// The file's bytes.
    pub bytes: axum::body::Bytes,
    /// Strong ETag of the bytes.
    pub etag: String,
    /// Version from the header.
    pub version: u64,
    /// The verified header.
    pub header: Header,
    /// The decoded ruleset, evaluated by the OFREP routes without touching the
    /// disk.
    pub ruleset: Ruleset,
    /// Which flags read the targeting key, computed once per ruleset.
    pub(crate) key_use: crate::ofrep::KeyUses,
}

/// Size and modification time of a file, to skip re-reading unchanged files.
type Stamp = (u64, Option<SystemTime>);

/// An announcement of a new version, sent on the event streams.
#[derive(Debug, Clone)]
pub struct Announce {
    /// The environment.
    pub env: String,
    /// The new version.
    pub version: u64,
    /// Its epoch.
    pub epoch: u64,
    /// Its ETag.
    pub etag: String,
}

/// Shared server state.
#[derive(Debug)]
pub struct State {
    /// The publish directory.
    pub dir: PathBuf,
    current: RwLock<HashMap<String, Arc<Current>>>,
    seen: Mutex<HashMap<String, Stamp>>,
    /// New versions, for `/<env>/events`.
    pub announce: broadcast::Sender<Announce>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Keys a file must be signed by to be served; `None`: any verified file.
    trust: Option<TrustedKeys>,
    /// CORS, the subscriber cap, the end of streams (set in `http`).
    pub(crate) routes: crate::http::Routes,
    /// OFREP keys and rate buckets (set in `ofrep`).
    pub(crate) ofrep: crate::ofrep::Ofrep,
}

impl State {
    /// Empty state over `dir`; call [`State::refresh`] to load.
    pub fn new(dir: PathBuf) -> State {
        State {
            dir,
            current: RwLock::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            announce: broadcast::channel(1024).0,
            metrics: Metrics::default(),
            trust: None,
            routes: crate::http::Routes::default(),
            ofrep: crate::ofrep::Ofrep::default(),
        }
    }

    /// Serves only files signed by one of `keys` (an unsigned, tampered or
    /// unknown-key file is refused and the served one stays).
    pub fn trusting(mut self, keys: Option<TrustedKeys>) -> State {
        self.trust = keys;
        self
    }

    /// The ruleset served for `env`.
    pub fn current(&self, env: &str) -> Option<Arc<Current>> {
        self.current.read().ok()?.get(env).cloned()
    }

    /// `(environment, version)` pairs, sorted.
    pub fn versions(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .current
            .read()
            .map(|m| m.iter().map(|(k, c)| (k.clone(), c.version)).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Re-reads every `<env>/current.efr` whose size or modification time
    /// changed. A file that does not verify, or that the acceptance policy
    /// refuses (another environment, older, same version with other content),
    /// is refused (logged and counted); the served one stays.
    pub fn refresh(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Some(env) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !edgeflag_compiler::is_valid_environment(&env) {
                continue;
            }
            let key = layout::current(&env);
            let path = self.dir.join(&key);
            let refuse = |why: String| {
                self.metrics.reload_refused.fetch_add(1, Relaxed);
                tracing::warn!(file = %path.display(), "not serving: {why}");
            };
            // No link is followed, in the environment's name or below it.
            let meta = match confine::metadata(&self.dir, &key) {
                Ok(meta) => meta,
                Err(refused) => {
                    if let Refused::Symlink { stamp, .. } = refused {
                        // Refused once per change of the link itself, not on
                        // every rescan.
                        let new = self
                            .seen
                            .lock()
                            .is_ok_and(|mut seen| seen.insert(env.clone(), stamp) != Some(stamp));
                        if new {
                            refuse(refused.to_string());
                        }
                    }
                    continue;
                }
            };
            let stamp = (meta.len(), meta.modified().ok());
            if let Ok(mut seen) = self.seen.lock() {
                if seen.get(&env) == Some(&stamp) {
                    continue;
                }
                seen.insert(env.clone(), stamp);
            }
            let bytes = match confine::read(&self.dir, &key, crate::http::MAX_FILE_BYTES) {
                Ok(bytes) => bytes,
                Err(e) if e.is_suspicious() => {
                    refuse(e.to_string());
                    continue;
                }
                Err(_) => continue,
            };
            if let Err(e) = self.offer(&env, bytes) {
                tracing::warn!(file = %path.display(), "not serving: {e}");
            }
        }
    }

    /// Serves `bytes` as `env`'s ruleset if it verifies and may replace the one
    /// served: the path by which a directory rescan, and a server that
    /// publishes elsewhere (S3) or hears of another process's publish, hand
    /// the origin a ruleset. Subscribers are told of a new version.
    ///
    /// A ruleset identical to the one served is [`Offered::Same`] without
    /// being decoded again. A refused one is counted and logged by the caller;
    /// the served one stays.
    pub fn offer(&self, env: &str, bytes: Vec<u8>) -> Result<Offered, OfferRefused> {
        if !edgeflag_compiler::is_valid_environment(env) {
            return Err(OfferRefused::Environment(env.to_owned()));
        }
        if bytes.len() as u64 > crate::http::MAX_FILE_BYTES {
            self.metrics.reload_refused.fetch_add(1, Relaxed);
            return Err(OfferRefused::TooLarge(bytes.len()));
        }
        let held = self.current(env);
        let etag = etag_of(&bytes);
        if held.as_ref().is_some_and(|h| h.etag == etag) {
            return Ok(Offered::Same);
        }
        let refused = |e: OfferRefused| {
            self.metrics.reload_refused.fetch_add(1, Relaxed);
            e
        };
        // Decoded in full, not just the header: a file that every client
        // would refuse (bad invariants, over budget) is never served.
        let ruleset = Ruleset::from_bytes(&bytes).map_err(|e| refused(e.into()))?;
        // The name it is offered under is the environment; the one policy
        // decides whether it may replace what is served. These are the
        // origin's own sources: an expired ruleset is still served (and
        // reported), clients decide about freshness.
        let policy = Policy::new().environment(env).trust_opt(self.trust.clone());
        let held_header = held.as_ref().map(|h| &h.header);
        match policy.check(held_header, &ruleset, None) {
            Ok(Verdict::Newer) => {}
            Ok(Verdict::Same) => return Ok(Offered::Same),
            Err(refusal) => return Err(refused(refusal.into())),
        }
        let header = ruleset.header().clone();
        let key_use = crate::ofrep::KeyUses::of(&ruleset);
        let (version, epoch) = (header.version, header.epoch);
        let current = Arc::new(Current {
            bytes: bytes.into(),
            etag: etag.clone(),
            version,
            header,
            ruleset,
            key_use,
        });
        if let Ok(mut map) = self.current.write() {
            map.insert(env.to_owned(), current);
        }
        self.metrics.reloads.fetch_add(1, Relaxed);
        tracing::info!(env = %env, version, "serving new ruleset");
        // No subscribers is not an error.
        let _ = self.announce.send(Announce {
            env: env.to_owned(),
            version,
            epoch,
            etag,
        });
        Ok(Offered::New { version })
    }
}

/// What [`State::offer`] did with a ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// It is served now.
    New {
        /// Its version.
        version: u64,
    },
    /// It is the one already served.
    Same,
}

/// Why [`State::offer`] refused a ruleset (the served one stays).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfferRefused {
    /// Not an environment name.
    #[error("{0:?} is not an environment name")]
    Environment(String),
    /// Larger than any ruleset the origin serves.
    #[error("{0} bytes is more than the origin serves ({max} bytes)", max = crate::http::MAX_FILE_BYTES)]
    TooLarge(usize),
    /// It does not verify or decode.
    #[error(transparent)]
    Decode(#[from] edgeflag_evaluator::DecodeError),
    /// The acceptance policy refuses it (another environment, older, same
    /// version with other content, not signed by a trusted key).
    #[error(transparent)]
    Policy(#[from] edgeflag_evaluator::accept::Refusal),
}

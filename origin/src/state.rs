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
            let held = self.current(&env);
            let bytes = match confine::read(&self.dir, &key, crate::http::MAX_FILE_BYTES) {
                Ok(bytes) => bytes,
                Err(e) if e.is_suspicious() => {
                    refuse(e.to_string());
                    continue;
                }
                Err(_) => continue,
            };
            // Decoded in full, not just the header: a file that every client
            // would refuse (bad invariants, over budget) is never served.
            let ruleset = match Ruleset::from_bytes(&bytes) {
                Ok(rs) => rs,
                Err(e) => {
                    refuse(e.to_string());
                    continue;
                }
            };
            // The directory names the environment; the one policy decides
            // whether this file may replace what is served. The directory is
            // the origin's own source: an expired file is still served (and
            // reported), clients decide about freshness.
            let policy = Policy::new()
                .environment(env.as_str())
                .trust_opt(self.trust.clone());
            let held_header = held.as_ref().map(|h| &h.header);
            match policy.check(held_header, &ruleset, None) {
                Ok(Verdict::Newer) => {}
                Ok(Verdict::Same) => continue,
                Err(refusal) => {
                    refuse(refusal.to_string());
                    continue;
                }
            }
            let header = ruleset.header().clone();
            let key_use = crate::ofrep::KeyUses::of(&ruleset);
            let etag = etag_of(&bytes);
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
                map.insert(env.clone(), current);
            }
            self.metrics.reloads.fetch_add(1, Relaxed);
            tracing::info!(env = %env, version, "serving new ruleset");
            // No subscribers is not an error.
            let _ = self.announce.send(Announce {
                env,
                version,
                epoch,
                etag,
            });
        }
    }
}

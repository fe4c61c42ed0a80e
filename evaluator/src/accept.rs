//! May this ruleset replace the one held? The one answer every reader gives: the
//! Rust client, the origin's directory watch and (through the WASM binding) the
//! JavaScript client all call [`Policy::check`].
//!
//! A verified ruleset (checksum, invariants: [`crate::Ruleset::from_bytes`]) is
//! accepted in place of the held one when
//!
//! 1. with trusted keys ([`Policy::trust`]), it is signed by one of them and the
//!    signature covers exactly these bytes; without keys, signed and unsigned
//!    rulesets are accepted unverified, and readers say so in their status,
//! 2. it is for the expected environment ([`Policy::environment`], or the held
//!    ruleset's when none is set),
//! 3. when it arrived over the network, it has not expired (a replay of an old,
//!    validly signed ruleset) and its epoch is not from the future,
//! 4. its [`Position`] — `(epoch, version)` — is not older than the held one's,
//!    nor more than [`MAX_VERSION_STEP`] versions ahead within one epoch, and
//! 5. at the same position it is the same ruleset (same checksum): two different
//!    rulesets claiming one version mean a publisher or a store is broken, and
//!    neither is trusted over the other.
//!
//! A ruleset that was compiled but never published (`edgeflag compile`, epoch 0
//! and version 0, the offline bootstrap) is replaced by any other ruleset of its
//! environment. A ruleset the reader already holds keeps serving after it expires:
//! evaluation is never worse than the defaults, and the reader reports it stale
//! ([`crate::Header::is_expired`]).
//!
//! ```
//! use edgeflag_evaluator::accept::{Policy, Refusal, Verdict};
//! use edgeflag_evaluator::{format, model::Body, Ruleset};
//!
//! let ruleset = |epoch, version| {
//!     let bytes = format::encode(&Body::default(), &format::EncodeOptions {
//!         environment: "production", version, epoch, created_at_ms: 0,
//!     }).unwrap();
//!     Ruleset::from_bytes(&bytes).unwrap()
//! };
//! let policy = Policy::new().environment("production");
//! let held = ruleset(1_700_000_000_000, 7);
//! let now = Some(1_750_000_000_000);
//!
//! assert_eq!(policy.check(Some(held.header()), &ruleset(1_700_000_000_000, 8), now), Ok(Verdict::Newer));
//! assert_eq!(policy.check(Some(held.header()), &held, now), Ok(Verdict::Same));
//! assert!(matches!(
//!     policy.check(Some(held.header()), &ruleset(1_700_000_000_000, 6), now),
//!     Err(Refusal::Older { .. })
//! ));
//! // A destination that was reset starts a new, later epoch at version 1.
//! assert_eq!(policy.check(Some(held.header()), &ruleset(1_740_000_000_000, 1), now), Ok(Verdict::Newer));
//! // The offline bootstrap (`edgeflag compile`) gives way to whatever is published.
//! assert_eq!(policy.check(Some(ruleset(0, 0).header()), &held, now), Ok(Verdict::Newer));
//! ```

use crate::format::Header;
use crate::signature::{KeyId, TrustedKeys};
use crate::Ruleset;
use std::cmp::Ordering;
use std::fmt;

/// Where a ruleset stands in its environment's history: the epoch (when the
/// version series began, Unix ms; 0 = never published), then the version within
/// it. Later epochs are newer whatever their versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The version series.
    pub epoch: u64,
    /// The version within the series.
    pub version: u64,
}

impl Position {
    /// The position of the ruleset with this header.
    pub fn of(header: &Header) -> Position {
        Position {
            epoch: header.epoch,
            version: header.version,
        }
    }

    /// Whether this is the position of a compiled, never-published ruleset.
    pub fn is_unpublished(self) -> bool {
        self.epoch == 0 && self.version == 0
    }
}

impl fmt::Display for Position {
    /// `v7 (epoch 1700000000000)`, or `v7` in epoch 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch == 0 {
            write!(f, "v{}", self.version)
        } else {
            write!(f, "v{} (epoch {})", self.version, self.epoch)
        }
    }
}

/// What to do with an acceptable ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is newer (or there is none held): install it.
    Newer,
    /// It is the ruleset held (same position, same checksum): keep the held one;
    /// only its transport metadata (an ETag) may have changed.
    Same,
}

/// Why a verified ruleset may not replace the one held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// It is for another environment.
    #[error("ruleset is for environment {found:?}, expected {expected:?}")]
    WrongEnvironment {
        /// The environment expected.
        expected: String,
        /// The ruleset's environment.
        found: String,
    },
    /// It is older than the one held.
    #[error("ruleset {found} is older than the one held ({held})")]
    Older {
        /// The held ruleset's position.
        held: Position,
        /// The refused ruleset's position.
        found: Position,
    },
    /// Same position as the held ruleset, different content.
    #[error(
        "ruleset {position} differs from the one held under the same version (checksum {found:016x}, held {held:016x})"
    )]
    SameVersionDiffers {
        /// The shared position.
        position: Position,
        /// The held ruleset's checksum.
        held: u64,
        /// The refused ruleset's checksum.
        found: u64,
    },
    /// Keys are trusted and the ruleset is not signed.
    #[error("ruleset is not signed, and this reader only accepts signed rulesets")]
    Unsigned,
    /// Signed by a key this reader does not trust.
    #[error("ruleset is signed by key {key_id}, which is not trusted")]
    UnknownKey {
        /// The key named in the header.
        key_id: KeyId,
    },
    /// The signature does not match the content (it was changed after signing,
    /// or the signature is forged).
    #[error("ruleset signature by key {key_id} does not verify: the content was changed or the signature is forged")]
    BadSignature {
        /// The key named in the header.
        key_id: KeyId,
    },
    /// It expired before it arrived (perhaps a replay of an old ruleset).
    #[error(
        "ruleset {position} expired at {expired_at_ms} (Unix ms), before it arrived at {now_ms}"
    )]
    Expired {
        /// Its position.
        position: Position,
        /// When it expired.
        expired_at_ms: i64,
        /// When it arrived.
        now_ms: i64,
    },
    /// Its epoch is later than now (plus [`MAX_CLOCK_SKEW_MS`]): no publisher
    /// can have begun that series yet.
    #[error("ruleset {found} claims an epoch in the future (now {now_ms} Unix ms)")]
    FutureEpoch {
        /// Its position.
        found: Position,
        /// When it arrived.
        now_ms: i64,
    },
    /// More than [`MAX_VERSION_STEP`] versions ahead of the held one in the same
    /// epoch: no publisher counts that fast.
    #[error("ruleset {found} jumps more than {MAX_VERSION_STEP} versions ahead of the one held ({held})")]
    VersionJump {
        /// The held ruleset's position.
        held: Position,
        /// The refused ruleset's position.
        found: Position,
    },
}

impl Refusal {
    /// A stable code for logs, metrics and the JavaScript `DecodeError.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::WrongEnvironment { .. } => "WRONG_ENVIRONMENT",
            Refusal::Older { .. } => "OLDER_VERSION",
            Refusal::SameVersionDiffers { .. } => "SAME_VERSION_DIFFERS",
            Refusal::Unsigned => "UNSIGNED",
            Refusal::UnknownKey { .. } => "UNKNOWN_KEY",
            Refusal::BadSignature { .. } => "BAD_SIGNATURE",
            Refusal::Expired { .. } => "EXPIRED",
            Refusal::FutureEpoch { .. } => "FUTURE_EPOCH",
            Refusal::VersionJump { .. } => "VERSION_JUMP",
        }
    }
}

/// Most versions a ruleset may be ahead of the held one within an epoch: 2^32
/// (a publish a second for 136 years). A larger jump is a forged counter meant
/// to make every later version look old.
pub const MAX_VERSION_STEP: u64 = 1 << 32;

/// How far in the future a network ruleset's epoch may be (one day), for
/// readers whose clocks run behind the publisher's.
pub const MAX_CLOCK_SKEW_MS: i64 = 24 * 60 * 60 * 1000;

/// The acceptance rules of one reader (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    environment: Option<String>,
    keys: Option<TrustedKeys>,
}

impl Policy {
    /// A policy that expects the held ruleset's environment (any, when none is
    /// held) and trusts no keys (signatures are not checked).
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Accept only rulesets of `environment` when one is given; otherwise as
    /// [`Policy::new`]. For readers whose environment is configured or learned.
    pub fn for_environment(environment: Option<&str>) -> Policy {
        Policy {
            environment: environment.map(str::to_owned),
            keys: None,
        }
    }

    /// Accept only rulesets of `environment`.
    pub fn environment(mut self, environment: impl Into<String>) -> Policy {
        self.environment = Some(environment.into());
        self
    }

    /// Accept only rulesets signed by one of `keys`. An empty set trusts
    /// nothing: every ruleset is refused.
    pub fn trust(mut self, keys: TrustedKeys) -> Policy {
        self.keys = Some(keys);
        self
    }

    /// [`Policy::trust`] when keys are given.
    pub fn trust_opt(self, keys: Option<TrustedKeys>) -> Policy {
        match keys {
            Some(keys) => self.trust(keys),
            None => self,
        }
    }

    /// The environment this policy requires, if one is set.
    pub fn expected_environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The keys this policy trusts; `None` when signatures are not checked.
    pub fn trusted_keys(&self) -> Option<&TrustedKeys> {
        self.keys.as_ref()
    }

    /// The key whose signature was verified on `accepted`, a ruleset this policy
    /// accepted; `None` when the policy checks no signatures (the ruleset is
    /// unverified, whether or not it carries one).
    pub fn verified_by(&self, accepted: &Header) -> Option<KeyId> {
        self.keys.as_ref()?;
        accepted.signature.map(|s| s.key_id)
    }

    /// Whether `candidate` may replace `held` (`None`: nothing held yet).
    ///
    /// `now_ms` is the time (Unix ms) when the candidate arrived over the
    /// network: an expired one is refused, as is an epoch from the future. Pass
    /// `None` for the reader's own trusted sources — its disk cache, a bootstrap
    /// file, the publish directory it serves — whose ruleset is taken even when
    /// expired (and then reported stale).
    pub fn check(
        &self,
        held: Option<&Header>,
        candidate: &Ruleset,
        now_ms: Option<i64>,
    ) -> Result<Verdict, Refusal> {
        self.check_signature(candidate)?;
        let c = candidate.header();
        let expected = self
            .environment
            .as_deref()
            .or(held.map(|h| h.environment.as_str()));
        if let Some(expected) = expected {
            if c.environment != expected {
                return Err(Refusal::WrongEnvironment {
                    expected: expected.to_owned(),
                    found: c.environment.clone(),
                });
            }
        }
        let now = Position::of(c);
        if let Some(now_ms) = now_ms {
            if let Some(at) = c.expires_at_ms.filter(|_| c.is_expired(now_ms)) {
                return Err(Refusal::Expired {
                    position: now,
                    expired_at_ms: at,
                    now_ms,
                });
            }
            if i128::from(c.epoch) > i128::from(now_ms) + i128::from(MAX_CLOCK_SKEW_MS) {
                return Err(Refusal::FutureEpoch { found: now, now_ms });
            }
        }
        let Some(held) = held.filter(|h| h.environment == c.environment) else {
            return Ok(Verdict::Newer);
        };
        let was = Position::of(held);
        match now.cmp(&was) {
            Ordering::Greater
                if now.epoch == was.epoch
                    && !was.is_unpublished()
                    && now.version - was.version > MAX_VERSION_STEP =>
            {
                Err(Refusal::VersionJump {
                    held: was,
                    found: now,
                })
            }
            Ordering::Greater => Ok(Verdict::Newer),
            _ if held.checksum == c.checksum && now == was => Ok(Verdict::Same),
            _ if was.is_unpublished() => Ok(Verdict::Newer),
            Ordering::Less => Err(Refusal::Older {
                held: was,
                found: now,
            }),
            Ordering::Equal => Err(Refusal::SameVersionDiffers {
                position: now,
                held: held.checksum,
                found: c.checksum,
            }),
        }
    }

    fn check_signature(&self, candidate: &Ruleset) -> Result<(), Refusal> {
        let Some(keys) = &self.keys else {
            return Ok(());
        };
        let seal = candidate.header().signature.ok_or(Refusal::Unsigned)?;
        let key = keys.get(seal.key_id).ok_or(Refusal::UnknownKey {
            key_id: seal.key_id,
        })?;
        match candidate.signed_digest() {
            Some(digest) if key.verifies(digest, &seal.signature) => Ok(()),
            _ => Err(Refusal::BadSignature {
                key_id: seal.key_id,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{self, EncodeOptions};
    use crate::model::Body;
    use crate::signature::{SecretKey, Signer as _};

    /// A ruleset; `variant` changes the content (and checksum), not the position.
    fn rs(env: &str, epoch: u64, version: u64, variant: i64) -> Ruleset {
        Ruleset::from_bytes(&bytes(env, epoch, version, variant)).unwrap()
    }

    fn bytes(env: &str, epoch: u64, version: u64, variant: i64) -> Vec<u8> {
        let opts = EncodeOptions {
            environment: env,
            version,
            epoch,
            created_at_ms: variant,
        };
        format::encode(&Body::default(), &opts).unwrap()
    }

    fn signed(key: &SecretKey, epoch: u64, version: u64, expires: Option<i64>) -> Vec<u8> {
        let mut b = bytes("production", epoch, version, 0);
        format::sign(&mut b, key, expires).unwrap();
        b
    }

    fn trusting(keys: &[&SecretKey]) -> Policy {
        let mut t = TrustedKeys::default();
        for k in keys {
            t.add(k.public_key()).unwrap();
        }
        Policy::new().trust(t)
    }

    const E1: u64 = 1_700_000_000_000;
    const E2: u64 = 1_800_000_000_000;
    const NOW: Option<i64> = Some(1_850_000_000_000);

    #[test]
    fn nothing_held_accepts_any_ruleset_of_the_expected_environment() {
        let p = Policy::new().environment("production");
        assert_eq!(
            p.check(None, &rs("production", E1, 1, 1), NOW),
            Ok(Verdict::Newer)
        );
        assert_eq!(
            p.check(None, &rs("staging", E1, 1, 1), NOW),
            Err(Refusal::WrongEnvironment {
                expected: "production".into(),
                found: "staging".into()
            })
        );
        assert_eq!(
            Policy::new().check(None, &rs("staging", E1, 1, 1), NOW),
            Ok(Verdict::Newer)
        );
    }

    #[test]
    fn without_a_set_environment_the_held_one_is_expected() {
        let held = rs("production", E1, 5, 1);
        let r = Policy::new().check(Some(held.header()), &rs("staging", E1, 9, 2), NOW);
        assert_eq!(r.map_err(|e| e.kind()), Err("WRONG_ENVIRONMENT"));
    }

    #[test]
    fn versions_order_within_an_epoch() {
        let p = Policy::new();
        let held = rs("production", E1, 5, 50);
        let h = Some(held.header());
        assert_eq!(
            p.check(h, &rs("production", E1, 6, 60), NOW),
            Ok(Verdict::Newer)
        );
        assert_eq!(
            p.check(h, &rs("production", E1, 4, 40), NOW),
            Err(Refusal::Older {
                held: Position {
                    epoch: E1,
                    version: 5
                },
                found: Position {
                    epoch: E1,
                    version: 4
                },
            })
        );
    }

    #[test]
    fn a_later_epoch_is_newer_whatever_its_version_and_an_earlier_one_older() {
        let p = Policy::new();
        let held = rs("production", E1, 500, 1);
        assert_eq!(
            p.check(Some(held.header()), &rs("production", E2, 1, 2), NOW),
            Ok(Verdict::Newer)
        );
        let held = rs("production", E2, 1, 2);
        assert_eq!(
            p.check(Some(held.header()), &rs("production", E1, 500, 1), NOW)
                .map_err(|e| e.kind()),
            Err("OLDER_VERSION")
        );
    }

    #[test]
    fn same_version_must_mean_same_checksum() {
        let p = Policy::new();
        let held = rs("production", E1, 5, 50);
        let h = Some(held.header());
        assert_eq!(
            p.check(h, &rs("production", E1, 5, 50), NOW),
            Ok(Verdict::Same)
        );
        let other = rs("production", E1, 5, 51);
        let err = p.check(h, &other, NOW).unwrap_err();
        assert_eq!(
            err,
            Refusal::SameVersionDiffers {
                position: Position {
                    epoch: E1,
                    version: 5
                },
                held: held.header().checksum,
                found: other.header().checksum,
            }
        );
        assert!(err.to_string().starts_with(
            "ruleset v5 (epoch 1700000000000) differs from the one held under the same version"
        ));
    }

    #[test]
    fn an_unpublished_ruleset_gives_way_to_any_other() {
        let p = Policy::new();
        let compiled = rs("production", 0, 0, 7);
        let c = Some(compiled.header());
        assert_eq!(
            p.check(c, &rs("production", E1, 1, 8), NOW),
            Ok(Verdict::Newer)
        );
        // Another compile of other rules: also replaces it.
        assert_eq!(
            p.check(c, &rs("production", 0, 0, 9), NOW),
            Ok(Verdict::Newer)
        );
        assert_eq!(p.check(c, &compiled, NOW), Ok(Verdict::Same));
        // But a published ruleset never gives way to a compiled one.
        let published = rs("production", E1, 1, 8);
        assert_eq!(
            p.check(Some(published.header()), &compiled, NOW)
                .map_err(|e| e.kind()),
            Err("OLDER_VERSION")
        );
    }

    #[test]
    fn a_held_ruleset_of_another_environment_is_replaced_when_the_policy_names_one() {
        // A disk cache of another environment must not block the configured one.
        let p = Policy::new().environment("production");
        let cached = rs("staging", E2, 900, 1);
        assert_eq!(
            p.check(Some(cached.header()), &rs("production", E1, 1, 2), NOW),
            Ok(Verdict::Newer)
        );
    }

    #[test]
    fn versions_may_not_jump_absurdly_within_an_epoch() {
        let p = Policy::new();
        let held = rs("production", E1, 5, 0);
        let h = Some(held.header());
        let far = rs("production", E1, 5 + MAX_VERSION_STEP + 1, 0);
        assert_eq!(
            p.check(h, &far, NOW).map_err(|e| e.kind()),
            Err("VERSION_JUMP")
        );
        let edge = rs("production", E1, 5 + MAX_VERSION_STEP, 0);
        assert_eq!(p.check(h, &edge, NOW), Ok(Verdict::Newer));
        // A new epoch starts its own count; nothing held starts anywhere.
        assert_eq!(p.check(None, &far, NOW), Ok(Verdict::Newer));
        // The offline bootstrap gives way to any published version.
        let compiled = rs("production", 0, 0, 0);
        let big = rs("production", E1, format::MAX_VERSION, 0);
        assert_eq!(
            p.check(Some(compiled.header()), &big, NOW),
            Ok(Verdict::Newer)
        );
    }

    #[test]
    fn an_epoch_from_the_future_is_refused_from_the_network_only() {
        let p = Policy::new();
        let now = NOW.unwrap();
        let future = rs("production", (now + MAX_CLOCK_SKEW_MS + 1) as u64, 1, 0);
        assert_eq!(
            p.check(None, &future, NOW).map_err(|e| e.kind()),
            Err("FUTURE_EPOCH")
        );
        let soon = rs("production", (now + MAX_CLOCK_SKEW_MS) as u64, 1, 0);
        assert_eq!(p.check(None, &soon, NOW), Ok(Verdict::Newer));
        assert_eq!(p.check(None, &future, None), Ok(Verdict::Newer));
    }

    #[test]
    fn with_trusted_keys_only_their_valid_signatures_are_accepted() {
        let key = SecretKey::from_seed([1; 32]);
        let other = SecretKey::from_seed([2; 32]);
        let p = trusting(&[&key]);
        let good = Ruleset::from_bytes(&signed(&key, E1, 3, None)).unwrap();
        assert_eq!(p.check(None, &good, NOW), Ok(Verdict::Newer));
        assert_eq!(p.verified_by(good.header()), Some(key.key_id()));
        assert_eq!(Policy::new().verified_by(good.header()), None);

        // Unsigned.
        let unsigned = rs("production", E1, 3, 0);
        assert_eq!(p.check(None, &unsigned, NOW), Err(Refusal::Unsigned));
        // Signed by a key nobody trusts.
        let stranger = Ruleset::from_bytes(&signed(&other, E1, 3, None)).unwrap();
        assert_eq!(
            p.check(None, &stranger, NOW),
            Err(Refusal::UnknownKey {
                key_id: other.key_id()
            })
        );
        // Tampered after signing, checksum recomputed: the signature no longer verifies.
        let mut tampered = signed(&key, E1, 3, None);
        tampered[8] = 9; // version 3 -> 9
        fix_checksum(&mut tampered);
        let tampered = Ruleset::from_bytes(&tampered).unwrap();
        assert_eq!(tampered.header().version, 9);
        assert_eq!(
            p.check(None, &tampered, NOW),
            Err(Refusal::BadSignature {
                key_id: key.key_id()
            })
        );
        // A signature copied onto other content under the same key id.
        let mut forged = bytes("production", E1, 4, 0);
        let sig_source = signed(&key, E1, 3, None);
        forged[29] = 1;
        forged[112..120].copy_from_slice(&sig_source[112..120]);
        forged[128..192].copy_from_slice(&sig_source[128..192]);
        fix_checksum(&mut forged);
        let forged = Ruleset::from_bytes(&forged).unwrap();
        assert_eq!(
            p.check(None, &forged, NOW).map_err(|e| e.kind()),
            Err("BAD_SIGNATURE")
        );
        // A ruleset built without bytes cannot be verified.
        let (header, _) = format::read_header(&sig_source).unwrap();
        let from_body = Ruleset::from_body(header, Body::default()).unwrap();
        assert_eq!(
            p.check(None, &from_body, NOW).map_err(|e| e.kind()),
            Err("BAD_SIGNATURE")
        );
        // Without keys everything is accepted, unverified.
        assert_eq!(
            Policy::new().check(None, &tampered, NOW),
            Ok(Verdict::Newer)
        );
        assert_eq!(
            Policy::new().check(None, &unsigned, NOW),
            Ok(Verdict::Newer)
        );
    }

    #[test]
    fn rotation_trusts_old_and_new_keys_at_once() {
        let old = SecretKey::from_seed([1; 32]);
        let new = SecretKey::from_seed([2; 32]);
        let p = trusting(&[&old, &new]);
        let v1 = Ruleset::from_bytes(&signed(&old, E1, 1, None)).unwrap();
        let v2 = Ruleset::from_bytes(&signed(&new, E1, 2, None)).unwrap();
        assert_eq!(p.check(None, &v1, NOW), Ok(Verdict::Newer));
        assert_eq!(p.check(Some(v1.header()), &v2, NOW), Ok(Verdict::Newer));
        assert_eq!(p.verified_by(v2.header()), Some(new.key_id()));
    }

    #[test]
    fn an_expired_ruleset_is_refused_from_the_network_but_taken_from_a_local_source() {
        let key = SecretKey::from_seed([1; 32]);
        let p = trusting(&[&key]);
        let now = NOW.unwrap();
        let expired = Ruleset::from_bytes(&signed(&key, E1, 3, Some(now))).unwrap();
        assert_eq!(
            p.check(None, &expired, NOW),
            Err(Refusal::Expired {
                position: Position {
                    epoch: E1,
                    version: 3
                },
                expired_at_ms: now,
                now_ms: now
            })
        );
        assert_eq!(p.check(None, &expired, None), Ok(Verdict::Newer));
        assert!(expired.header().is_expired(now));
        let fresh = Ruleset::from_bytes(&signed(&key, E1, 3, Some(now + 1))).unwrap();
        assert_eq!(p.check(None, &fresh, NOW), Ok(Verdict::Newer));
        assert!(!fresh.header().is_expired(now));
        // A re-signed ruleset with a later expiry is the same version with other
        // bytes: publishers re-sign under a new version.
        assert_eq!(
            p.check(
                Some(fresh.header()),
                &Ruleset::from_bytes(&signed(&key, E1, 3, Some(now + 2))).unwrap(),
                NOW
            )
            .map_err(|e| e.kind()),
            Err("SAME_VERSION_DIFFERS")
        );
    }

    fn fix_checksum(b: &mut [u8]) {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&b[..120]);
        h.update(&b[192..]);
        let sum = h.digest();
        b[120..128].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn positions_display_their_epoch_only_when_published() {
        assert_eq!(
            Position {
                epoch: 0,
                version: 3
            }
            .to_string(),
            "v3"
        );
        assert_eq!(
            Position {
                epoch: 5,
                version: 3
            }
            .to_string(),
            "v3 (epoch 5)"
        );
    }
}

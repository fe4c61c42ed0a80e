//! May this ruleset replace the one held? The one answer every reader gives: the
//! Rust client, the origin's directory watch and (through the WASM binding) the
//! JavaScript client all call [`Policy::check`].
//!
//! A verified ruleset (checksum, invariants: [`crate::Ruleset::from_bytes`]) is
//! accepted in place of the held one when
//!
//! 1. it is for the expected environment ([`Policy::environment`], or the held
//!    ruleset's when none is set),
//! 2. its [`Position`] — `(epoch, version)` — is not older than the held one's, and
//! 3. at the same position it is the same ruleset (same checksum): two different
//!    rulesets claiming one version mean a publisher or a store is broken, and
//!    neither is trusted over the other.
//!
//! A ruleset that was compiled but never published (`edgeflag compile`, epoch 0
//! and version 0, the offline bootstrap) is replaced by any other ruleset of its
//! environment. Signature and expiry checks will join these rules here.
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
//!
//! assert_eq!(policy.check(Some(held.header()), ruleset(1_700_000_000_000, 8).header()), Ok(Verdict::Newer));
//! assert_eq!(policy.check(Some(held.header()), held.header()), Ok(Verdict::Same));
//! assert!(matches!(
//!     policy.check(Some(held.header()), ruleset(1_700_000_000_000, 6).header()),
//!     Err(Refusal::Older { .. })
//! ));
//! // A destination that was reset starts a new, later epoch at version 1.
//! assert_eq!(policy.check(Some(held.header()), ruleset(1_800_000_000_000, 1).header()), Ok(Verdict::Newer));
//! // The offline bootstrap (`edgeflag compile`) gives way to whatever is published.
//! assert_eq!(policy.check(Some(ruleset(0, 0).header()), held.header()), Ok(Verdict::Newer));
//! ```

use crate::format::Header;
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
}

impl Refusal {
    /// A stable code for logs, metrics and the JavaScript `DecodeError.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::WrongEnvironment { .. } => "WRONG_ENVIRONMENT",
            Refusal::Older { .. } => "OLDER_VERSION",
            Refusal::SameVersionDiffers { .. } => "SAME_VERSION_DIFFERS",
        }
    }
}

/// The acceptance rules of one reader (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    environment: Option<String>,
}

impl Policy {
    /// A policy that expects the held ruleset's environment (any, when none is held).
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Accept only rulesets of `environment` when one is given; otherwise as
    /// [`Policy::new`]. For readers whose environment is configured or learned.
    pub fn for_environment(environment: Option<&str>) -> Policy {
        Policy {
            environment: environment.map(str::to_owned),
        }
    }

    /// Accept only rulesets of `environment`.
    pub fn environment(mut self, environment: impl Into<String>) -> Policy {
        self.environment = Some(environment.into());
        self
    }

    /// The environment this policy requires, if one is set.
    pub fn expected_environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// Whether `candidate` may replace `held` (`None`: nothing held yet).
    /// Both headers come from verified rulesets.
    pub fn check(&self, held: Option<&Header>, candidate: &Header) -> Result<Verdict, Refusal> {
        let expected = self
            .environment
            .as_deref()
            .or(held.map(|h| h.environment.as_str()));
        if let Some(expected) = expected {
            if candidate.environment != expected {
                return Err(Refusal::WrongEnvironment {
                    expected: expected.to_owned(),
                    found: candidate.environment.clone(),
                });
            }
        }
        let Some(held) = held.filter(|h| h.environment == candidate.environment) else {
            return Ok(Verdict::Newer);
        };
        let (was, now) = (Position::of(held), Position::of(candidate));
        match now.cmp(&was) {
            Ordering::Greater => Ok(Verdict::Newer),
            _ if held.checksum == candidate.checksum && now == was => Ok(Verdict::Same),
            _ if was.is_unpublished() => Ok(Verdict::Newer),
            Ordering::Less => Err(Refusal::Older {
                held: was,
                found: now,
            }),
            Ordering::Equal => Err(Refusal::SameVersionDiffers {
                position: now,
                held: held.checksum,
                found: candidate.checksum,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(env: &str, epoch: u64, version: u64, checksum: u64) -> Header {
        Header {
            format_version: crate::format::FORMAT_VERSION,
            environment: env.into(),
            version,
            epoch,
            created_at_ms: 0,
            body_len: 0,
            checksum,
            signature_alg: 0,
        }
    }

    const E1: u64 = 1_700_000_000_000;
    const E2: u64 = 1_800_000_000_000;

    #[test]
    fn nothing_held_accepts_any_ruleset_of_the_expected_environment() {
        let p = Policy::new().environment("production");
        assert_eq!(
            p.check(None, &header("production", E1, 1, 1)),
            Ok(Verdict::Newer)
        );
        assert_eq!(
            p.check(None, &header("staging", E1, 1, 1)),
            Err(Refusal::WrongEnvironment {
                expected: "production".into(),
                found: "staging".into()
            })
        );
        assert_eq!(
            Policy::new().check(None, &header("staging", E1, 1, 1)),
            Ok(Verdict::Newer)
        );
    }

    #[test]
    fn without_a_set_environment_the_held_one_is_expected() {
        let held = header("production", E1, 5, 1);
        let r = Policy::new().check(Some(&held), &header("staging", E1, 9, 2));
        assert_eq!(r.map_err(|e| e.kind()), Err("WRONG_ENVIRONMENT"));
    }

    #[test]
    fn versions_order_within_an_epoch() {
        let p = Policy::new();
        let held = header("production", E1, 5, 50);
        assert_eq!(
            p.check(Some(&held), &header("production", E1, 6, 60)),
            Ok(Verdict::Newer)
        );
        assert_eq!(
            p.check(Some(&held), &header("production", E1, 4, 40)),
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
        let held = header("production", E1, 500, 1);
        assert_eq!(
            p.check(Some(&held), &header("production", E2, 1, 2)),
            Ok(Verdict::Newer)
        );
        let held = header("production", E2, 1, 2);
        assert_eq!(
            p.check(Some(&held), &header("production", E1, 500, 1))
                .map_err(|e| e.kind()),
            Err("OLDER_VERSION")
        );
    }

    #[test]
    fn same_version_must_mean_same_checksum() {
        let p = Policy::new();
        let held = header("production", E1, 5, 50);
        assert_eq!(
            p.check(Some(&held), &header("production", E1, 5, 50)),
            Ok(Verdict::Same)
        );
        let err = p
            .check(Some(&held), &header("production", E1, 5, 51))
            .unwrap_err();
        assert_eq!(
            err,
            Refusal::SameVersionDiffers {
                position: Position {
                    epoch: E1,
                    version: 5
                },
                held: 50,
                found: 51
            }
        );
        assert_eq!(
            err.to_string(),
            "ruleset v5 (epoch 1700000000000) differs from the one held under the same version \
             (checksum 0000000000000033, held 0000000000000032)"
        );
    }

    #[test]
    fn an_unpublished_ruleset_gives_way_to_any_other() {
        let p = Policy::new();
        let compiled = header("production", 0, 0, 7);
        assert_eq!(
            p.check(Some(&compiled), &header("production", E1, 1, 8)),
            Ok(Verdict::Newer)
        );
        // Another compile of other rules: also replaces it.
        assert_eq!(
            p.check(Some(&compiled), &header("production", 0, 0, 9)),
            Ok(Verdict::Newer)
        );
        assert_eq!(p.check(Some(&compiled), &compiled), Ok(Verdict::Same));
        // But a published ruleset never gives way to a compiled one.
        let published = header("production", E1, 1, 8);
        assert_eq!(
            p.check(Some(&published), &compiled).map_err(|e| e.kind()),
            Err("OLDER_VERSION")
        );
    }

    #[test]
    fn a_held_ruleset_of_another_environment_is_replaced_when_the_policy_names_one() {
        // A disk cache of another environment must not block the configured one.
        let p = Policy::new().environment("production");
        let cached = header("staging", E2, 900, 1);
        assert_eq!(
            p.check(Some(&cached), &header("production", E1, 1, 2)),
            Ok(Verdict::Newer)
        );
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

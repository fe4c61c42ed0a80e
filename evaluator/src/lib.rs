//! # edgeflag-evaluator
//!
//! Loads an edgeflag binary ruleset (produced by `edgeflag compile`) and evaluates
//! feature flags in memory: no network call and no allocation per evaluation.
//! The default feature set has no I/O and no async code, so the crate builds for
//! `wasm32-unknown-unknown`.
//!
//! ```no_run
//! use edgeflag_evaluator::{Context, Ruleset};
//!
//! let bytes = std::fs::read("out/production.efr").unwrap();
//! let rules = Ruleset::from_bytes(&bytes).expect("a valid ruleset");
//! let ctx = Context::new("user-42").with("country", "DE").with("plan", "pro");
//!
//! if rules.bool_value("new-checkout", &ctx, false) {
//!     // new code path
//! }
//! let detail = rules.evaluate("new-checkout", &ctx);
//! println!("{:?} because {}", detail.value, detail.reason.kind());
//! ```
//!
//! The `edgeflag-client` crate keeps a ruleset up to date from an HTTP origin
//! (polling with ETags, push over Server-Sent Events, on-disk cache); see
//! `docs/distribution.md`. This crate knows nothing of HTTP.
//!
//! The evaluation semantics are specified in `docs/rule-language.md`; the binary
//! format in `docs/binary-format.md`.
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod accept;
pub mod bucket;
pub mod context;
mod eval;
pub mod format;
pub mod instant;
mod invariant;
#[cfg(feature = "json")]
pub mod json;
pub mod model;
mod ruleset;
pub mod semver;
pub mod signature;

pub use context::{AttrValue, Context, Scalar};
pub use eval::{Detail, ErrorKind, FlagValue, Reason};
pub use format::{DecodeError, Header};
pub use invariant::Invariant;
pub use ruleset::{Ruleset, MAX_DEPTH};

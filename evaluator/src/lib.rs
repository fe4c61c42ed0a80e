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
//!
//! ## Bounds
//!
//! Loading never trusts the bytes. Besides every index and ordering
//! ([`Invariant`]), the loader bounds what a ruleset may cost, and the compiler
//! applies the same bounds with the same code ([`limits`]):
//!
//! - the body is at most 64 MiB ([`format::MAX_BODY_LEN`]), and decoding it
//!   allocates at most 8 bytes per body byte plus 16 MiB;
//! - prerequisite chains and segment nesting are at most [`MAX_DEPTH`] (32) deep,
//!   and no flag lists a prerequisite twice nor a clause a segment twice;
//! - one evaluation of a flag takes at most [`limits::MAX_EVAL_COST`] (100 000)
//!   steps, counted over prerequisites and segments as evaluation repeats them;
//! - at most [`limits::MAX_REGEXES`] (1024) distinct regexes, none listed twice,
//!   each at most 16 KiB of pattern and 1 MiB compiled, all together at most
//!   256 KiB of patterns and [`limits::REGEX_MEMORY_BUDGET`] (8 MiB) of basic
//!   compiled engines (the `regex-perf` engines hold up to ~3× that in all),
//!   with a lazy-DFA cache of at most 64 KiB each per evaluating thread.
#![warn(missing_docs)]
// Only the `edgeflag` binary talks to the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod accept;
pub mod bucket;
pub mod context;
mod eval;
pub mod format;
pub mod hashed;
pub mod instant;
mod invariant;
#[cfg(feature = "json")]
pub mod json;
pub mod limits;
pub mod model;
pub mod openfeature;
mod ruleset;
pub mod semver;
pub mod signature;

pub use context::{AttrValue, Context, Scalar};
pub use eval::{Detail, ErrorKind, FlagValue, Reason};
pub use format::{DecodeError, Header};
pub use invariant::Invariant;
pub use ruleset::{Ruleset, MAX_DEPTH};

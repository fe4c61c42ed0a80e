//! The one mapping from edgeflag results to OpenFeature's reasons and error
//! codes, used by the OpenFeature providers and the OFREP endpoint. The cases
//! are data in `tests/vectors/openfeature.json`, which every user's tests read.
//!
//! | edgeflag | OpenFeature |
//! |---|---|
//! | `OFF` | `DISABLED` |
//! | `PREREQUISITE_FAILED` | `DEFAULT` (the off variation serves; the edgeflag reason stays in the flag metadata) |
//! | `TARGET_MATCH`, `RULE_MATCH` | `TARGETING_MATCH` |
//! | `FALLTHROUGH`, `DEFAULT` | `DEFAULT` |
//! | any of these chosen by a percentage rollout | `SPLIT` |
//! | `ERROR` | `ERROR`, with `FLAG_NOT_FOUND` or `TYPE_MISMATCH` (for `WRONG_TYPE`) |
//!
//! ```
//! use edgeflag_evaluator::{format, model::Body, openfeature, Context, Ruleset};
//! let bytes = format::encode(&Body::default(), &format::EncodeOptions::unpublished("p")).unwrap();
//! let rs = Ruleset::from_bytes(&bytes).unwrap();
//! let d = rs.evaluate("missing", &Context::new("u1"));
//! assert_eq!(openfeature::reason(&d), "ERROR");
//! assert_eq!(openfeature::error_code(&d), Some("FLAG_NOT_FOUND"));
//! ```

use crate::eval::{Detail, ErrorKind, Reason};

/// The OpenFeature reason of a result.
pub fn reason<T>(d: &Detail<'_, T>) -> &'static str {
    match d.reason {
        Reason::Error(_) => "ERROR",
        _ if d.in_rollout => "SPLIT",
        Reason::Off => "DISABLED",
        Reason::TargetMatch | Reason::RuleMatch { .. } => "TARGETING_MATCH",
        Reason::PrerequisiteFailed { .. } | Reason::Fallthrough | Reason::Default => "DEFAULT",
    }
}

/// The OpenFeature error code of a result, `None` unless it is an error.
pub fn error_code<T>(d: &Detail<'_, T>) -> Option<&'static str> {
    match d.reason {
        Reason::Error(kind) => Some(error_code_of(kind)),
        _ => None,
    }
}

/// The OpenFeature error code of an edgeflag error kind.
pub fn error_code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::FlagNotFound => "FLAG_NOT_FOUND",
        ErrorKind::WrongType => "TYPE_MISMATCH",
    }
}

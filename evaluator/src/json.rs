//! JSON rendering of evaluation details, and the one JSON context parser
//! ([`parse_context`]) (feature `json`).
//!
//! A detail renders as
//! `{"value":…,"variation":"on","variation_index":0,"reason":{"kind":"RULE_MATCH","rule_index":0,"rule_id":"r1"},"in_rollout":false}`.
//! `PREREQUISITE_FAILED` reasons carry `prerequisite`, `ERROR` reasons `error_kind`.
//! Numbers that are integers (|n| < 2^53) render without a fraction, as JavaScript
//! renders them; JSON values render as the compact text the compiler stored.

use crate::context::Context;
use crate::eval::{Detail, FlagValue, Reason};
use crate::model::SAFE_INTEGER_LIMIT;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

impl Serialize for FlagValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FlagValue::Bool(b) => s.serialize_bool(b),
            FlagValue::Number(n) => {
                if n.fract() == 0.0 && n.abs() < SAFE_INTEGER_LIMIT {
                    s.serialize_i64(n as i64)
                } else {
                    s.serialize_f64(n)
                }
            }
            FlagValue::String(v) => s.serialize_str(v),
            FlagValue::Json(text) => match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => raw.serialize(s),
                Err(_) => s.serialize_unit(),
            },
        }
    }
}

impl Serialize for Reason<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", self.kind())?;
        match self {
            Reason::PrerequisiteFailed { prerequisite } => {
                m.serialize_entry("prerequisite", prerequisite)?
            }
            Reason::RuleMatch {
                rule_index,
                rule_id,
            } => {
                m.serialize_entry("rule_index", rule_index)?;
                m.serialize_entry("rule_id", rule_id)?;
            }
            Reason::Error(kind) => m.serialize_entry("error_kind", kind.as_str())?,
            _ => {}
        }
        m.end()
    }
}

impl<T: Serialize> Serialize for Detail<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("value", &self.value)?;
        m.serialize_entry("variation", &self.variation)?;
        m.serialize_entry("variation_index", &self.variation_index)?;
        m.serialize_entry("reason", &self.reason)?;
        m.serialize_entry("in_rollout", &self.in_rollout)?;
        m.end()
    }
}

/// Parses a context from the JSON text of an object of attributes (`null` means
/// absent; list elements are strings or numbers; `key`, when present, is a
/// string). The one parser behind `edgeflag eval --context`/`--contexts` and the
/// WASM build's `Context.fromJSON`; errors name the offending attribute.
///
/// ```
/// use edgeflag_evaluator::json::parse_context;
/// let ctx = parse_context(r#"{"key":"u1","age":41,"tags":["a",2],"plan":null}"#).unwrap();
/// assert_eq!(ctx.key(), Some("u1"));
/// assert!(ctx.get("plan").is_none());
/// let err = parse_context(r#"{"key":"u1","tags":[true]}"#).unwrap_err();
/// assert!(err.to_string().contains("tags"));
/// ```
pub fn parse_context(text: &str) -> Result<Context, serde_json::Error> {
    serde_json::from_str(text)
}

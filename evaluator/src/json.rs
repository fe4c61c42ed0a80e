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

/// Why an OpenFeature evaluation context cannot be an edgeflag [`Context`]
/// (OpenFeature's `INVALID_CONTEXT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("attribute {path:?}: {message}")]
pub struct ContextError {
    /// The attribute, as a dotted path (`address.country`).
    pub path: String,
    /// What is wrong with it.
    pub message: &'static str,
}

/// Deepest nesting of objects [`context_from_openfeature`] flattens.
pub const MAX_CONTEXT_DEPTH: usize = 8;

/// The one mapping of an OpenFeature evaluation context (as JSON: what OFREP
/// receives, and what the providers build from their SDK's context) to an
/// edgeflag [`Context`]:
///
/// - `targetingKey` (a string) is the context key; without it, a string `key`
///   field is;
/// - strings, numbers and booleans are attributes of the same name; `null` is
///   absent;
/// - an array of strings and numbers is a list attribute (other elements are an
///   error);
/// - a nested object is flattened with `.`: `{"address": {"country": "DE"}}` is
///   the attribute `address.country`, down to [`MAX_CONTEXT_DEPTH`] levels.
///
/// ```
/// use edgeflag_evaluator::json::context_from_openfeature;
/// let v = serde_json::json!({"targetingKey": "u1", "plan": "pro",
///     "address": {"country": "DE"}, "tags": ["a", 2], "gone": null});
/// let ctx = context_from_openfeature(v.as_object().unwrap()).unwrap();
/// assert_eq!(ctx.key(), Some("u1"));
/// assert!(ctx.get("address.country").is_some());
/// assert!(ctx.get("gone").is_none());
/// let bad = serde_json::json!({"targetingKey": 7});
/// let err = context_from_openfeature(bad.as_object().unwrap()).unwrap_err();
/// assert_eq!(err.path, "targetingKey");
/// ```
pub fn context_from_openfeature(
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Result<Context, ContextError> {
    use serde_json::Value;
    let mut ctx = Context::default();
    let key = match fields.get("targetingKey") {
        Some(v) => Some(("targetingKey", v)),
        None => fields.get("key").map(|v| ("key", v)),
    };
    if let Some((name, v)) = key {
        match v {
            Value::String(s) => {
                ctx.set("key", s.as_str());
            }
            Value::Null => {}
            _ => {
                return Err(ContextError {
                    path: name.to_owned(),
                    message: "the targeting key must be a string",
                })
            }
        }
    }
    fn add(
        ctx: &mut Context,
        prefix: &str,
        fields: &serde_json::Map<String, Value>,
        depth: usize,
    ) -> Result<(), ContextError> {
        for (name, v) in fields {
            if depth == 0 && (name == "targetingKey" || name == "key") {
                continue;
            }
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let err = |message| ContextError {
                path: path.clone(),
                message,
            };
            match v {
                Value::Null => {}
                Value::Bool(b) => {
                    ctx.set(&path, *b);
                }
                Value::Number(n) => {
                    ctx.set(&path, n.as_f64().ok_or_else(|| err("not a finite number"))?);
                }
                Value::String(s) => {
                    ctx.set(&path, s.as_str());
                }
                Value::Array(items) => {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        list.push(match item {
                            Value::String(s) => crate::Scalar::String(s.as_str().into()),
                            Value::Number(n) => crate::Scalar::Number(
                                n.as_f64().ok_or_else(|| err("not a finite number"))?,
                            ),
                            _ => return Err(err("list elements must be strings or numbers")),
                        });
                    }
                    ctx.set(&path, crate::AttrValue::List(list.into()));
                }
                Value::Object(inner) => {
                    if depth + 1 >= MAX_CONTEXT_DEPTH {
                        return Err(err("objects nested too deeply"));
                    }
                    add(ctx, &path, inner, depth + 1)?;
                }
            }
        }
        Ok(())
    }
    add(&mut ctx, "", fields, 0)?;
    Ok(ctx)
}

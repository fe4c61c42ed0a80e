//! JSON flag values as OpenFeature structures.
//!
//! A JSON flag's variation is stored as compact JSON text; `resolve_struct_value`
//! parses it straight into an [`open_feature::StructValue`] (no intermediate
//! `serde_json::Value`):
//!
//! | JSON | [`open_feature::Value`] |
//! |---|---|
//! | object | `Struct` |
//! | array | `Array` |
//! | string, boolean | `String`, `Bool` |
//! | integer in `i64` range | `Int` |
//! | any other number | `Float` |
//! | `null` in an object | the field is left out (OpenFeature has no null) |
//! | `null` in an array | an error (leaving it out would move the elements after it) |
//!
//! Only an object is a structure: a flag whose value is a JSON array (or whose
//! array holds a `null`) is `TYPE_MISMATCH` for `resolve_struct_value`.

use open_feature::{StructValue, Value};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;

/// Why a JSON flag value is not an OpenFeature structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StructError {
    /// The value is valid JSON, but not an object (an array), or an array in it
    /// holds a `null`.
    #[error("{0}")]
    NotAStructure(&'static str),
    /// The text is not JSON (the compiler stores only valid JSON, so this
    /// means a ruleset built by other means).
    #[error("not valid JSON: {0}")]
    Invalid(String),
}

/// Parses a JSON flag value (the compact text a ruleset stores) into a
/// structure.
///
/// ```
/// use edgeflag_openfeature::value::{to_struct, StructError};
/// use open_feature::Value;
/// let s = to_struct(r#"{"steps":3,"ratio":0.5,"methods":["card"],"gone":null}"#).unwrap();
/// assert_eq!(s.fields["steps"], Value::Int(3));
/// assert_eq!(s.fields["methods"], Value::Array(vec![Value::String("card".into())]));
/// assert!(!s.fields.contains_key("gone"));
/// assert!(matches!(to_struct("[1, 2]"), Err(StructError::NotAStructure(_))));
/// ```
pub fn to_struct(json: &str) -> Result<StructValue, StructError> {
    match serde_json::from_str::<Of>(json) {
        Ok(Of(Some(Value::Struct(s)))) => Ok(s),
        Ok(Of(Some(Value::Array(_)))) => Err(StructError::NotAStructure(
            "the value is a JSON array, not an object",
        )),
        Ok(_) => Err(StructError::NotAStructure("the value is not a JSON object")),
        Err(e) if e.is_data() => Err(StructError::NotAStructure(NULL_IN_ARRAY)),
        Err(e) => Err(StructError::Invalid(e.to_string())),
    }
}

const NULL_IN_ARRAY: &str =
    "an array in the value holds a null, which OpenFeature cannot represent";

/// A JSON value as an OpenFeature value; `None` for `null`.
struct Of(Option<Value>);

impl<'de> Deserialize<'de> for Of {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OfVisitor)
    }
}

struct OfVisitor;

impl<'de> Visitor<'de> for OfVisitor {
    type Value = Of;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Of, E> {
        Ok(Of(Some(Value::Bool(b))))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Of, E> {
        Ok(Of(Some(Value::Int(n))))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Of, E> {
        Ok(Of(Some(match i64::try_from(n) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(n as f64),
        })))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Of, E> {
        Ok(Of(Some(Value::Float(n))))
    }

    fn visit_str<E>(self, s: &str) -> Result<Of, E> {
        Ok(Of(Some(Value::String(s.to_owned()))))
    }

    fn visit_string<E>(self, s: String) -> Result<Of, E> {
        Ok(Of(Some(Value::String(s))))
    }

    fn visit_unit<E>(self) -> Result<Of, E> {
        Ok(Of(None))
    }

    fn visit_none<E>(self) -> Result<Of, E> {
        Ok(Of(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Of, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(Of(item)) = seq.next_element()? {
            match item {
                Some(v) => items.push(v),
                None => return Err(de::Error::custom(NULL_IN_ARRAY)),
            }
        }
        Ok(Of(Some(Value::Array(items))))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Of, A::Error> {
        let mut fields = HashMap::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((name, Of(v))) = map.next_entry::<String, Of>()? {
            if let Some(v) = v {
                fields.insert(name, v);
            }
        }
        Ok(Of(Some(Value::Struct(StructValue { fields }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_kind() {
        let s = to_struct(
            r#"{"i":-7,"big":9223372036854775807,"bigger":18446744073709551615,"f":1.5,"e":1e3}"#,
        )
        .unwrap();
        assert_eq!(s.fields["i"], Value::Int(-7));
        assert_eq!(s.fields["big"], Value::Int(i64::MAX));
        assert_eq!(s.fields["bigger"], Value::Float(18446744073709551615.0));
        assert_eq!(s.fields["f"], Value::Float(1.5));
        assert_eq!(s.fields["e"], Value::Float(1000.0));
    }

    #[test]
    fn nesting_is_kept() {
        let s = to_struct(r#"{"a":{"b":[{"c":true},"x",[1]]}}"#).unwrap();
        let b = &s.fields["a"].as_struct().unwrap().fields["b"];
        let items = b.as_array().unwrap();
        assert_eq!(items[0].as_struct().unwrap().fields["c"], Value::Bool(true));
        assert_eq!(items[1], Value::String("x".into()));
        assert_eq!(items[2], Value::Array(vec![Value::Int(1)]));
    }

    #[test]
    fn what_is_not_a_structure_is_said() {
        for (json, what) in [
            ("[1]", "array"),
            ("3", "not a JSON object"),
            ("null", "not a JSON object"),
            (r#"{"a":[1,null]}"#, "null"),
        ] {
            let err = to_struct(json).unwrap_err();
            assert!(
                matches!(err, StructError::NotAStructure(m) if m.contains(what)),
                "{json}: {err:?}"
            );
        }
        assert!(matches!(to_struct("{"), Err(StructError::Invalid(_))));
    }
}

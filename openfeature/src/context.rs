//! OpenFeature evaluation contexts as edgeflag [`Context`]s.
//!
//! The SDK's [`EvaluationContext`] is first written as the JSON object an
//! OpenFeature context is on the wire (what OFREP receives), then handed to
//! [`context_from_openfeature`], the one mapping of such an object to a
//! [`Context`] (`targetingKey` is the key, nested objects are flattened with
//! dots; see its documentation). What this module adds is only the JSON form of
//! the values the Rust SDK can hold:
//!
//! | `EvaluationContextFieldValue` | JSON |
//! |---|---|
//! | `Bool`, `Int`, `String` | the same |
//! | `Float` | a number; NaN and infinities are `INVALID_CONTEXT` |
//! | `DateTime` | an RFC 3339 string in UTC (`2026-03-02T10:00:00.5Z`), which `before`/`after` clauses read as an instant |
//! | `Struct` holding an [`open_feature::StructValue`], an [`open_feature::Value`], a `serde_json::Value` or a `serde_json::Map` | that object (or value) |
//! | `Struct` holding anything else | `INVALID_CONTEXT`: the SDK keeps it as `dyn Any`, which cannot be read |
//!
//! The targeting key, when set, is written as `targetingKey` (over a custom
//! field of that name).
//!
//! ```
//! use edgeflag_openfeature::context::to_context;
//! use open_feature::{EvaluationContext, StructValue};
//!
//! let address = StructValue::default().with_field("country", "DE");
//! let ctx = EvaluationContext::default()
//!     .with_targeting_key("user-42")
//!     .with_custom_field("plan", "pro")
//!     .with_custom_field("address", open_feature::EvaluationContextFieldValue::new_struct(address));
//! let ctx = to_context(&ctx).unwrap();
//! assert_eq!(ctx.key(), Some("user-42"));
//! assert!(ctx.get("address.country").is_some());
//! ```

use edgeflag_evaluator::json::{context_from_openfeature, ContextError, MAX_CONTEXT_DEPTH};
use edgeflag_evaluator::Context;
use open_feature::{EvaluationContext, EvaluationContextFieldValue, StructValue, Value};
use serde_json::{Map, Number, Value as Json};
use std::any::Any;

/// The edgeflag context of an OpenFeature evaluation context: [`to_json`], then
/// [`context_from_openfeature`]. An error is OpenFeature's `INVALID_CONTEXT` and
/// names the attribute.
pub fn to_context(ctx: &EvaluationContext) -> Result<Context, ContextError> {
    context_from_openfeature(&to_json(ctx)?)
}

/// The JSON object of an OpenFeature evaluation context, as described in the
/// [module documentation](self).
///
/// ```
/// use edgeflag_openfeature::context::to_json;
/// use open_feature::EvaluationContext;
///
/// let ctx = EvaluationContext::default().with_targeting_key("u1").with_custom_field("age", 41);
/// let json = to_json(&ctx).unwrap();
/// assert_eq!(serde_json::Value::Object(json), serde_json::json!({"targetingKey": "u1", "age": 41}));
///
/// let bad = EvaluationContext::default().with_custom_field("ratio", f64::NAN);
/// assert_eq!(to_json(&bad).unwrap_err().path, "ratio");
/// ```
pub fn to_json(ctx: &EvaluationContext) -> Result<Map<String, Json>, ContextError> {
    let mut out = Map::new();
    for (name, value) in &ctx.custom_fields {
        let json = field(value).map_err(|bad| bad.at(name))?;
        out.insert(name.clone(), json);
    }
    if let Some(key) = &ctx.targeting_key {
        out.insert("targetingKey".to_owned(), Json::String(key.clone()));
    }
    Ok(out)
}

/// A value that has no JSON form: what is wrong, and where below the attribute
/// (innermost segment first; built only on the error path).
struct Bad {
    below: Vec<String>,
    message: &'static str,
}

impl Bad {
    fn new(message: &'static str) -> Bad {
        Bad {
            below: Vec::new(),
            message,
        }
    }

    /// Adds the name of the enclosing field.
    fn inside(mut self, name: &str) -> Bad {
        self.below.push(name.to_owned());
        self
    }

    /// The error, for the top-level attribute `name`.
    fn at(self, name: &str) -> ContextError {
        let mut path = name.to_owned();
        for segment in self.below.iter().rev() {
            path.push('.');
            path.push_str(segment);
        }
        ContextError {
            path,
            message: self.message,
        }
    }
}

fn number(f: f64) -> Result<Json, Bad> {
    Number::from_f64(f)
        .map(Json::Number)
        .ok_or_else(|| Bad::new("not a finite number"))
}

fn field(value: &EvaluationContextFieldValue) -> Result<Json, Bad> {
    Ok(match value {
        EvaluationContextFieldValue::Bool(b) => Json::Bool(*b),
        EvaluationContextFieldValue::Int(i) => Json::Number((*i).into()),
        EvaluationContextFieldValue::Float(f) => number(*f)?,
        EvaluationContextFieldValue::String(s) => Json::String(s.clone()),
        EvaluationContextFieldValue::DateTime(t) => Json::String(
            rfc3339(t.unix_timestamp_nanos())
                .ok_or_else(|| Bad::new("a date-time outside the years 0000 to 9999 (RFC 3339)"))?,
        ),
        EvaluationContextFieldValue::Struct(any) => structure(&**any)?,
    })
}

/// The JSON of a `Struct` field, for the types the provider can read.
fn structure(any: &(dyn Any + Send + Sync)) -> Result<Json, Bad> {
    if let Some(s) = any.downcast_ref::<StructValue>() {
        object(s, 1)
    } else if let Some(v) = any.downcast_ref::<Value>() {
        value(v, 1)
    } else if let Some(v) = any.downcast_ref::<Json>() {
        Ok(v.clone())
    } else if let Some(m) = any.downcast_ref::<Map<String, Json>>() {
        Ok(Json::Object(m.clone()))
    } else {
        Err(Bad::new(
            "a structure of a type the provider cannot read (give an open_feature::StructValue, \
             an open_feature::Value or a serde_json::Value)",
        ))
    }
}

/// Deeper than this, a value is refused before it is converted (the mapping
/// refuses objects nested deeper than [`MAX_CONTEXT_DEPTH`] anyway); bounds the
/// recursion on what a caller built.
const MAX_DEPTH: usize = MAX_CONTEXT_DEPTH + 1;

fn object(s: &StructValue, depth: usize) -> Result<Json, Bad> {
    if depth > MAX_DEPTH {
        return Err(Bad::new("objects nested too deeply"));
    }
    let mut out = Map::new();
    for (name, v) in &s.fields {
        let json = value(v, depth + 1).map_err(|bad| bad.inside(name))?;
        out.insert(name.clone(), json);
    }
    Ok(Json::Object(out))
}

fn value(v: &Value, depth: usize) -> Result<Json, Bad> {
    Ok(match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Float(f) => number(*f)?,
        Value::String(s) => Json::String(s.clone()),
        Value::Struct(s) => object(s, depth)?,
        Value::Array(items) => {
            if depth > MAX_DEPTH {
                return Err(Bad::new("objects nested too deeply"));
            }
            // An element's error names the list (as the mapping does).
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(value(item, depth + 1)?);
            }
            Json::Array(out)
        }
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` for nanoseconds since the Unix epoch; `None`
/// outside the years RFC 3339 can write.
fn rfc3339(unix_nanos: i128) -> Option<String> {
    const NANOS: i128 = 1_000_000_000;
    let secs = unix_nanos.div_euclid(NANOS);
    let nanos = unix_nanos.rem_euclid(NANOS);
    let days = i64::try_from(secs.div_euclid(86_400)).ok()?;
    let in_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let (hh, mm, ss) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use open_feature::EvaluationContextFieldValue as F;
    use serde_json::json;

    fn json_of(ctx: &EvaluationContext) -> Json {
        Json::Object(to_json(ctx).expect("converts"))
    }

    #[test]
    fn dates_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_772_445_600_500_000_000).as_deref(),
            Some("2026-03-02T10:00:00.5Z")
        );
        assert_eq!(
            rfc3339(-1).as_deref(),
            Some("1969-12-31T23:59:59.999999999Z")
        );
        // 2000-02-29 (a leap day of a century leap year).
        assert_eq!(
            rfc3339(951_782_400 * 1_000_000_000).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        // Year 10000 and year -1 have no RFC 3339 form.
        assert_eq!(rfc3339(253_402_300_800 * 1_000_000_000), None);
        assert_eq!(rfc3339(-62_167_219_201 * 1_000_000_000), None);
        assert_eq!(
            rfc3339(-62_167_219_200 * 1_000_000_000).as_deref(),
            Some("0000-01-01T00:00:00Z")
        );
        // The evaluator's parser reads each back as the same instant.
        for nanos in [
            0i128,
            1_772_445_600_500_000_000,
            -1,
            4_102_444_800_123_456_789,
            -62_167_219_200 * 1_000_000_000,
            253_402_300_799 * 1_000_000_000 + 999_999_999,
        ] {
            let text = rfc3339(nanos).unwrap();
            let parsed = edgeflag_evaluator::instant::parse_rfc3339(&text);
            assert_eq!(
                parsed,
                Some(edgeflag_evaluator::model::Instant(nanos)),
                "{text}"
            );
        }
    }

    #[test]
    fn every_field_type_has_its_json_form() {
        let nested = StructValue::default()
            .with_field("country", "DE")
            .with_field("zip", 10115)
            .with_field("tags", vec!["a", "b"])
            .with_field("inner", StructValue::default().with_field("x", 1.5));
        let ctx = EvaluationContext::default()
            .with_targeting_key("u1")
            .with_custom_field("b", true)
            .with_custom_field("i", -3)
            .with_custom_field("f", 0.25)
            .with_custom_field("s", "text")
            .with_custom_field("address", F::new_struct(nested))
            .with_custom_field("serde", F::new_struct(json!({"plan": "pro"})))
            .with_custom_field("value", F::new_struct(Value::from(vec![1, 2])));
        assert_eq!(
            json_of(&ctx),
            json!({
                "targetingKey": "u1", "b": true, "i": -3, "f": 0.25, "s": "text",
                "address": {"country": "DE", "zip": 10115, "tags": ["a", "b"], "inner": {"x": 1.5}},
                "serde": {"plan": "pro"},
                "value": [1, 2],
            })
        );
        let c = to_context(&ctx).unwrap();
        assert_eq!(c.key(), Some("u1"));
        for name in [
            "b",
            "i",
            "f",
            "s",
            "address.country",
            "address.inner.x",
            "serde.plan",
        ] {
            assert!(c.get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_date_time_is_its_utc_rfc3339_text() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_772_445_600)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
        let ctx = EvaluationContext::default().with_custom_field("seen", t);
        assert_eq!(json_of(&ctx), json!({"seen": "2026-03-02T10:00:00Z"}));
        let far = time::OffsetDateTime::from_unix_timestamp(-62_167_219_201).unwrap();
        let ctx = EvaluationContext::default().with_custom_field("far", far);
        assert_eq!(to_context(&ctx).unwrap_err().path, "far");
    }

    #[test]
    fn the_targeting_key_wins_over_a_field_of_its_name() {
        let ctx = EvaluationContext::default()
            .with_custom_field("targetingKey", "field")
            .with_targeting_key("key");
        assert_eq!(to_context(&ctx).unwrap().key(), Some("key"));
        // Without a targeting key, a string `key` field is the key (the mapping's rule).
        let ctx = EvaluationContext::default().with_custom_field("key", "k");
        assert_eq!(to_context(&ctx).unwrap().key(), Some("k"));
    }

    #[test]
    fn what_has_no_json_form_is_an_error_naming_the_attribute() {
        let deep = StructValue::default().with_field(
            "a",
            StructValue::default().with_field("ratio", f64::INFINITY),
        );
        let ctx = EvaluationContext::default().with_custom_field("top", F::new_struct(deep));
        let err = to_context(&ctx).unwrap_err();
        assert_eq!(err.path, "top.a.ratio");
        assert_eq!(err.message, "not a finite number");

        let ctx = EvaluationContext::default().with_custom_field("opaque", F::new_struct(7u8));
        let err = to_context(&ctx).unwrap_err();
        assert_eq!(err.path, "opaque");
        assert!(err.to_string().contains("cannot read"), "{err}");

        // The mapping's own errors come through unchanged.
        let ctx = EvaluationContext::default()
            .with_custom_field("flags", F::new_struct(Value::from(vec![true])));
        let err = to_context(&ctx).unwrap_err();
        assert_eq!(err.path, "flags");

        // Deep nesting stops before the conversion recurses far.
        let mut v = Value::Int(1);
        for _ in 0..100 {
            v = Value::Struct(StructValue::default().with_field("x", v));
        }
        let ctx = EvaluationContext::default().with_custom_field("deep", F::new_struct(v));
        let err = to_context(&ctx).unwrap_err();
        assert_eq!(err.message, "objects nested too deeply");
        assert!(err.path.starts_with("deep.x"), "{}", err.path);
    }
}

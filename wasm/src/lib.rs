//! WebAssembly bindings of `edgeflag-evaluator` (wasm-bindgen).
//!
//! A thin skin: every answer comes from the evaluator crate, and details are
//! rendered to JSON by the evaluator's `json` feature (serde_json), so the bytes
//! are the ones the native `edgeflag eval` prints. The npm package (`wasm/npm/`)
//! wraps these raw exports in the public JavaScript API.
//!
//! Crossing the JS↔WASM boundary is the expensive part of a WASM evaluator, so a
//! context is built once from one JSON string ([`Context::from_json`]) and then
//! passed by handle, and the typed getters take a flag id (resolved once with
//! [`Ruleset::flag_id`] and cached on the JavaScript side) instead of a string.

use edgeflag_evaluator as ef;
use ef::{DecodeError, FlagValue};
use serde::Serializer as _;
use wasm_bindgen::prelude::*;

/// A loaded, verified ruleset.
#[wasm_bindgen]
pub struct Ruleset {
    inner: ef::Ruleset,
}

/// The attributes of the subject of an evaluation, built once and reused.
#[wasm_bindgen]
pub struct Context {
    inner: ef::Context,
}

/// The stable code of a [`DecodeError`] (the JavaScript `DecodeError.kind`).
pub fn decode_error_kind(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated { .. } => "TRUNCATED",
        DecodeError::BadMagic => "BAD_MAGIC",
        DecodeError::UnsupportedVersion { .. } => "UNSUPPORTED_VERSION",
        DecodeError::BadHeader(_) => "BAD_HEADER",
        DecodeError::TrailingBytes(_) => "TRAILING_BYTES",
        DecodeError::ChecksumMismatch { .. } => "CHECKSUM_MISMATCH",
        DecodeError::Body(_) => "MALFORMED_BODY",
        DecodeError::Invalid(_) => "INVALID",
        // `DecodeError` is non-exhaustive: a kind added to the evaluator reads as
        // UNKNOWN (with the evaluator's message) until it gets its own code here.
        _ => "UNKNOWN",
    }
}

/// Which typed evaluation a detail comes from.
#[derive(Clone, Copy)]
enum Getter {
    Any,
    Bool,
    String,
    Number,
    Json,
}

impl Getter {
    fn from_code(code: u8) -> Option<Getter> {
        Some(match code {
            0 => Getter::Any,
            1 => Getter::Bool,
            2 => Getter::String,
            3 => Getter::Number,
            4 => Getter::Json,
            _ => return None,
        })
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing a detail cannot fail: every key is a string and every number
    // finite (the loader refuses anything else).
    serde_json::to_string(v).unwrap_or_default()
}

impl Ruleset {
    /// Decodes and verifies a ruleset (the native part of `fromBytes`).
    pub fn decode(bytes: &[u8]) -> Result<Ruleset, DecodeError> {
        ef::Ruleset::from_bytes(bytes).map(|inner| Ruleset { inner })
    }

    /// The evaluator's ruleset.
    pub fn inner(&self) -> &ef::Ruleset {
        &self.inner
    }

    /// The acceptance policy's answer for this ruleset replacing `held`.
    fn check(&self, held: Option<&Ruleset>, environment: Option<String>) -> Result<bool, JsError> {
        let policy = ef::accept::Policy::for_environment(environment.as_deref());
        match policy.check(held.map(|h| h.inner.header()), &self.inner, None) {
            Ok(ef::accept::Verdict::Newer) => Ok(true),
            Ok(ef::accept::Verdict::Same) => Ok(false),
            Err(refusal) => Err(JsError::new(&format!("{}: {refusal}", refusal.kind()))),
        }
    }

    /// The detail of `key` through `getter`, as JSON.
    fn detail(&self, key: &str, ctx: &ef::Context, getter: Getter) -> String {
        let rs = &self.inner;
        // Typed details render as the untyped evaluation does (`5`, not `5.0`;
        // JSON as JSON, not as a string).
        let d = match getter {
            Getter::Any => rs.evaluate(key, ctx),
            Getter::Bool => rs.bool_detail(key, ctx).map_value(FlagValue::Bool),
            Getter::String => rs.string_detail(key, ctx).map_value(FlagValue::String),
            Getter::Number => rs.number_detail(key, ctx).map_value(FlagValue::Number),
            Getter::Json => rs.json_detail(key, ctx).map_value(FlagValue::Json),
        };
        to_json(&d)
    }

    /// Every flag's detail as one JSON object `{"<key>": detail, …}` in stored
    /// order: the line `edgeflag eval --contexts` prints for a context.
    pub fn all_flags_json(&self, ctx: &ef::Context) -> String {
        let mut out = Vec::with_capacity(128 * self.inner.len() + 2);
        let mut ser = serde_json::Serializer::new(&mut out);
        if ser.collect_map(self.inner.all_flags(ctx)).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn served(&self, id: i32, ctx: &ef::Context) -> Option<FlagValue<'_>> {
        let id = u32::try_from(id).ok()?;
        if id as usize >= self.inner.len() {
            return None;
        }
        self.inner.evaluate_id(id, ctx).value
    }
}

#[wasm_bindgen]
impl Ruleset {
    /// Decodes and verifies a ruleset. Throws an `Error` whose message is
    /// `"<KIND>: <reason>"` (the package turns it into a `DecodeError`).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Ruleset, JsError> {
        Ruleset::decode(bytes).map_err(|e| JsError::new(&format!("{}: {e}", decode_error_kind(&e))))
    }

    /// Ruleset version (a per-environment counter; higher is newer).
    #[wasm_bindgen(getter)]
    pub fn version(&self) -> f64 {
        self.inner.header().version as f64
    }

    /// Environment the ruleset was compiled for.
    #[wasm_bindgen(getter)]
    pub fn environment(&self) -> String {
        self.inner.header().environment.clone()
    }

    /// The version series (Unix ms when it began; 0 = compiled, never
    /// published). Rulesets order by `(epoch, version)`.
    #[wasm_bindgen(getter)]
    pub fn epoch(&self) -> f64 {
        self.inner.header().epoch as f64
    }

    /// The header checksum, 16 hex digits.
    #[wasm_bindgen(getter)]
    pub fn checksum(&self) -> String {
        format!("{:016x}", self.inner.header().checksum)
    }

    /// Whether this ruleset may replace `held` for a client of `environment`
    /// (`undefined`: the held one's): the evaluator's one acceptance policy.
    /// Returns `true` to install it, `false` when it is the held ruleset; throws
    /// `"<KIND>: <reason>"` (WRONG_ENVIRONMENT, OLDER_VERSION,
    /// SAME_VERSION_DIFFERS) when it must be refused.
    #[wasm_bindgen(js_name = checkReplaces)]
    pub fn check_replaces(
        &self,
        held: &Ruleset,
        environment: Option<String>,
    ) -> Result<bool, JsError> {
        self.check(Some(held), environment)
    }

    /// [`check_replaces`](Self::check_replaces) when no ruleset is held yet (only
    /// the environment is checked).
    #[wasm_bindgen(js_name = checkFirst)]
    pub fn check_first(&self, environment: Option<String>) -> Result<bool, JsError> {
        self.check(None, environment)
    }

    /// Creation time, Unix milliseconds.
    #[wasm_bindgen(getter, js_name = createdAtMs)]
    pub fn created_at_ms(&self) -> f64 {
        self.inner.header().created_at_ms as f64
    }

    /// Number of flags.
    #[wasm_bindgen(getter, js_name = flagCount)]
    pub fn flag_count(&self) -> u32 {
        self.inner.len() as u32
    }

    /// Flag keys in stored order, as a JSON array.
    #[wasm_bindgen(js_name = flagKeysJSON)]
    pub fn flag_keys_json(&self) -> String {
        to_json(&self.inner.flag_keys().collect::<Vec<_>>())
    }

    /// The id of a flag, or -1 when no flag has this key.
    #[wasm_bindgen(js_name = flagId)]
    pub fn flag_id(&self, key: &str) -> i32 {
        self.inner.flag_id(key).map_or(-1, |id| id as i32)
    }

    /// The detail of a flag as JSON; `getter` 0 = untyped, 1 = bool, 2 = string,
    /// 3 = number, 4 = json (typed getters answer `WRONG_TYPE` for other flags).
    #[wasm_bindgen(js_name = detailJSON)]
    pub fn detail_json(&self, key: &str, ctx: &Context, getter: u8) -> Result<String, JsError> {
        let g = Getter::from_code(getter).ok_or_else(|| JsError::new("unknown getter"))?;
        Ok(self.detail(key, &ctx.inner, g))
    }

    /// Every flag's detail, `{"<key>": detail, …}`, as JSON.
    #[wasm_bindgen(js_name = allFlagsJSON)]
    pub fn all_flags_json_js(&self, ctx: &Context) -> String {
        self.all_flags_json(&ctx.inner)
    }

    /// A boolean flag's value by id: 1 = true, 0 = false, 2 = no boolean value
    /// (unknown id or another type: the caller's default applies).
    #[wasm_bindgen(js_name = boolById)]
    pub fn bool_by_id(&self, id: i32, ctx: &Context) -> u8 {
        match self.served(id, &ctx.inner) {
            Some(FlagValue::Bool(b)) => u8::from(b),
            _ => 2,
        }
    }

    /// A number flag's value by id, or NaN when there is none (flag values are
    /// always finite: the loader refuses others).
    #[wasm_bindgen(js_name = numberById)]
    pub fn number_by_id(&self, id: i32, ctx: &Context) -> f64 {
        match self.served(id, &ctx.inner) {
            Some(FlagValue::Number(n)) => n,
            _ => f64::NAN,
        }
    }

    /// A string flag's value by id, or `undefined` (the caller's default applies).
    #[wasm_bindgen(js_name = stringById)]
    pub fn string_by_id(&self, id: i32, ctx: &Context) -> Option<String> {
        match self.served(id, &ctx.inner) {
            Some(FlagValue::String(s)) => Some(s.to_owned()),
            _ => None,
        }
    }

    /// A JSON flag's value by id as compact JSON text, or `undefined`.
    #[wasm_bindgen(js_name = jsonById)]
    pub fn json_by_id(&self, id: i32, ctx: &Context) -> Option<String> {
        match self.served(id, &ctx.inner) {
            Some(FlagValue::Json(s)) => Some(s.to_owned()),
            _ => None,
        }
    }
}

impl Context {
    /// Parses a context from JSON text (the native part of `fromJSON`).
    pub fn parse(text: &str) -> Result<Context, serde_json::Error> {
        ef::json::parse_context(text).map(|inner| Context { inner })
    }

    /// The evaluator's context.
    pub fn inner(&self) -> &ef::Context {
        &self.inner
    }
}

#[wasm_bindgen]
impl Context {
    /// Builds a context from the JSON text of an object of attributes (`null`
    /// means absent). Throws with the offending attribute's name.
    #[wasm_bindgen(js_name = fromJSON)]
    pub fn from_json(text: &str) -> Result<Context, JsError> {
        Context::parse(text).map_err(|e| JsError::new(&format!("invalid context: {e}")))
    }

    /// The `key` attribute when it is a string.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> Option<String> {
        self.inner.key().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getter_codes() {
        assert!(Getter::from_code(4).is_some());
        assert!(Getter::from_code(5).is_none());
    }

    #[test]
    fn context_errors_name_the_attribute() {
        let err = Context::parse(r#"{"key":"u","tags":[true]}"#).err();
        assert!(err.is_some_and(|e| e.to_string().contains("tags")));
    }
}

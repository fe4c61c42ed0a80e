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

/// The public keys a reader trusts, parsed once (the client checks every
/// download against the same set).
#[wasm_bindgen]
pub struct TrustedKeys {
    inner: ef::signature::TrustedKeys,
}

/// The stable code of a [`KeyError`](ef::signature::KeyError) (the JavaScript
/// `KeyError.kind`).
pub fn key_error_kind(e: &ef::signature::KeyError) -> &'static str {
    use ef::signature::KeyError as K;
    match e {
        K::Prefix { .. } => "KEY_PREFIX",
        K::Hex { .. } => "KEY_HEX",
        K::Invalid => "KEY_INVALID",
        K::Empty => "KEY_EMPTY",
        K::TooMany => "KEY_TOO_MANY",
        K::Duplicate(_) => "KEY_DUPLICATE",
        _ => "UNKNOWN",
    }
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
        // Ids come from `flagId`; an id out of range, or of a prerequisite a
        // client ruleset carries but hides, serves nothing.
        let flag = self.inner.body().flags.get(id as usize)?;
        if self.inner.is_client() && !flag.client_side {
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

    /// When the ruleset stops being fresh (Unix ms), or `undefined` when it does
    /// not expire (only signed rulesets expire).
    #[wasm_bindgen(getter, js_name = expiresAtMs)]
    pub fn expires_at_ms(&self) -> Option<f64> {
        self.inner.header().expires_at_ms.map(|ms| ms as f64)
    }

    /// The id (16 hex digits) of the key the signature names, or `undefined` when
    /// unsigned. Only a [`Policy`] trusting keys verifies the signature.
    #[wasm_bindgen(getter, js_name = signedBy)]
    pub fn signed_by(&self) -> Option<String> {
        self.inner.header().signature.map(|s| s.key_id.to_string())
    }

    /// Whether the ruleset has expired at `now_ms` (never, without an expiry).
    #[wasm_bindgen(js_name = isExpired)]
    pub fn is_expired(&self, now_ms: f64) -> bool {
        self.inner.header().is_expired(now_ms as i64)
    }

    /// Creation time, Unix milliseconds.
    #[wasm_bindgen(getter, js_name = createdAtMs)]
    pub fn created_at_ms(&self) -> f64 {
        self.inner.header().created_at_ms as f64
    }

    /// Whether this is a client ruleset (what browsers load, published as
    /// `<env>.client`: only client-side flags, with target keys, segment
    /// members and the values of `in` clauses hashed) rather than a server
    /// ruleset (every flag, user ids in clear).
    #[wasm_bindgen(getter, js_name = isClient)]
    pub fn is_client(&self) -> bool {
        self.inner.is_client()
    }

    /// Number of flags callers may see: every flag of a server ruleset, the
    /// client-side flags of a client ruleset (as many as
    /// [`flag_keys_json`](Self::flag_keys_json) lists; the prerequisites a client
    /// ruleset carries stay hidden).
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

fn refusal_error(refusal: &ef::accept::Refusal) -> JsError {
    JsError::new(&format!("{}: {refusal}", refusal.kind()))
}

/// A Unix-ms time from JavaScript (a finite number; `NaN` reads as 0).
fn ms(t: f64) -> i64 {
    t as i64
}

#[wasm_bindgen]
impl TrustedKeys {
    /// Reads public keys, one `edgeflag-ed25519-public:<64 hex>` per line (blank
    /// lines and `#` comments skipped; at least one). Throws
    /// `"<KIND>: <reason>"` (KEY_PREFIX, KEY_HEX, KEY_INVALID, KEY_EMPTY,
    /// KEY_TOO_MANY, KEY_DUPLICATE).
    pub fn parse(text: &str) -> Result<TrustedKeys, JsError> {
        ef::signature::TrustedKeys::parse(text)
            .map(|inner| TrustedKeys { inner })
            .map_err(|e| JsError::new(&format!("{}: {e}", key_error_kind(&e))))
    }

    /// The trusted keys' ids (16 hex digits each), as a JSON array.
    #[wasm_bindgen(js_name = idsJSON)]
    pub fn ids_json(&self) -> String {
        to_json(
            &self
                .inner
                .iter()
                .map(|k| k.id().to_string())
                .collect::<Vec<_>>(),
        )
    }
}

/// The evaluator's acceptance policy ([`ef::accept::Policy`]) of one reader.
#[wasm_bindgen]
pub struct Policy {
    inner: ef::accept::Policy,
}

impl Policy {
    /// The policy's answer for `candidate` replacing `held` (native part of the
    /// `check*` exports).
    pub fn check(
        &self,
        held: Option<&Ruleset>,
        candidate: &Ruleset,
        now_ms: Option<i64>,
    ) -> Result<bool, ef::accept::Refusal> {
        let held = held.map(|h| h.inner.header());
        match self.inner.check(held, &candidate.inner, now_ms)? {
            ef::accept::Verdict::Newer => Ok(true),
            ef::accept::Verdict::Same => Ok(false),
        }
    }
}

#[wasm_bindgen]
impl Policy {
    /// A policy accepting rulesets of `environment` (`undefined`: the held one's)
    /// and checking no signatures until [`trust`](Self::trust) is called.
    #[wasm_bindgen(constructor)]
    pub fn new(environment: Option<String>) -> Policy {
        Policy {
            inner: ef::accept::Policy::for_environment(environment.as_deref()),
        }
    }

    /// Accept only rulesets signed by one of `keys` (copied; `keys` stays usable).
    pub fn trust(&mut self, keys: &TrustedKeys) {
        self.inner = std::mem::take(&mut self.inner).trust(keys.inner.clone());
    }

    /// Whether `candidate` may be installed when nothing is held. `now_ms`: when
    /// it arrived over the network (`undefined`: a trusted local source such as a
    /// bootstrap, taken even when expired). `true` to install it; throws
    /// `"<KIND>: <reason>"` (UNSIGNED, UNKNOWN_KEY, BAD_SIGNATURE,
    /// WRONG_ENVIRONMENT, EXPIRED, FUTURE_EPOCH) when refused.
    #[wasm_bindgen(js_name = checkFirst)]
    pub fn check_first(&self, candidate: &Ruleset, now_ms: Option<f64>) -> Result<bool, JsError> {
        self.check(None, candidate, now_ms.map(ms))
            .map_err(|r| refusal_error(&r))
    }

    /// Whether `candidate` may replace `held`: `true` to install it, `false` when
    /// it is the held ruleset; throws as [`check_first`](Self::check_first), and
    /// OLDER_VERSION, VERSION_JUMP, SAME_VERSION_DIFFERS.
    #[wasm_bindgen(js_name = checkReplaces)]
    pub fn check_replaces(
        &self,
        candidate: &Ruleset,
        held: &Ruleset,
        now_ms: Option<f64>,
    ) -> Result<bool, JsError> {
        self.check(Some(held), candidate, now_ms.map(ms))
            .map_err(|r| refusal_error(&r))
    }

    /// The id of the key whose signature was verified on `accepted` (a ruleset
    /// this policy accepted), or `undefined` when the policy checks no signatures.
    #[wasm_bindgen(js_name = verifiedBy)]
    pub fn verified_by(&self, accepted: &Ruleset) -> Option<String> {
        self.inner
            .verified_by(accepted.inner.header())
            .map(|id| id.to_string())
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

    fn ruleset(
        version: u64,
        key: Option<&ef::signature::SecretKey>,
        expires: Option<i64>,
    ) -> Ruleset {
        let opts = ef::format::EncodeOptions {
            environment: "production",
            version,
            epoch: 1_700_000_000_000,
            created_at_ms: 0,
        };
        let mut bytes = ef::format::encode(&ef::model::Body::default(), &opts).unwrap();
        if let Some(key) = key {
            ef::format::sign(&mut bytes, key, expires).unwrap();
        }
        Ruleset::decode(&bytes).unwrap()
    }

    #[test]
    fn a_policy_with_trusted_keys_verifies_and_names_the_key() {
        use ef::signature::{SecretKey, Signer as _};
        let key = SecretKey::from_seed([1; 32]);
        let other = SecretKey::from_seed([2; 32]);
        let keys = ef::signature::TrustedKeys::parse(&key.public_key().to_string()).unwrap();
        let mut policy = Policy::new(None);
        policy.inner = policy.inner.trust(keys);
        let now = Some(1_800_000_000_000);

        let signed = ruleset(1, Some(&key), Some(1_900_000_000_000));
        assert_eq!(policy.check(None, &signed, now), Ok(true));
        assert_eq!(policy.verified_by(&signed), Some(key.key_id().to_string()));
        assert_eq!(signed.signed_by(), Some(key.key_id().to_string()));
        assert_eq!(signed.expires_at_ms(), Some(1.9e12));
        assert!(!signed.is_expired(1.8e12) && signed.is_expired(1.9e12));

        let kind = |r: Result<bool, ef::accept::Refusal>| r.map_err(|e| e.kind());
        assert_eq!(
            kind(policy.check(None, &ruleset(1, None, None), now)),
            Err("UNSIGNED")
        );
        assert_eq!(
            kind(policy.check(None, &ruleset(1, Some(&other), None), now)),
            Err("UNKNOWN_KEY")
        );
        let expired = ruleset(2, Some(&key), Some(1_750_000_000_000));
        assert_eq!(
            kind(policy.check(Some(&signed), &expired, now)),
            Err("EXPIRED")
        );
        assert_eq!(policy.check(Some(&signed), &expired, None), Ok(true));
        // Without keys nothing is verified.
        assert_eq!(Policy::new(None).verified_by(&signed), None);
        assert_eq!(
            Policy::new(None).check(None, &ruleset(1, None, None), now),
            Ok(true)
        );
    }

    #[test]
    fn key_errors_have_stable_kinds() {
        let kind = |t: &str| {
            ef::signature::TrustedKeys::parse(t)
                .map(|_| ())
                .map_err(|e| key_error_kind(&e))
        };
        assert_eq!(kind(""), Err("KEY_EMPTY"));
        assert_eq!(kind("ssh-ed25519 AAAA"), Err("KEY_PREFIX"));
        assert_eq!(kind("edgeflag-ed25519-public:zz"), Err("KEY_HEX"));
    }

    #[test]
    fn context_errors_name_the_attribute() {
        let err = Context::parse(r#"{"key":"u","tags":[true]}"#).err();
        assert!(err.is_some_and(|e| e.to_string().contains("tags")));
    }
}

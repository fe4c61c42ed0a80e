//! Shared fixtures for the edgeflag benchmarks: one engine-neutral description of a
//! flag set, rendered into each engine's own serialized format (edgeflag source
//! JSON/YAML compiled to a binary ruleset, Unleash `ClientFeatures` JSON, LaunchDarkly
//! flag JSON), loaders for each engine, and equivalent contexts.
//!
//! Scenarios (see `bench/README.md` for how each engine expresses them):
//! - **S1**: boolean flag [`S1_KEY`], enabled, no rules.
//! - **S2**: boolean flag [`S2_KEY`] with one 3-clause rule (country in 5 values AND
//!   plan == "pro" AND email ends with "@example.com") serving `on`, and a fallthrough
//!   50/50 rollout by context key. [`Subject::miss`] matches the first two clauses
//!   and misses the third, so every engine evaluates all three clauses and then
//!   buckets the key.
//! - **S3**: the S2 flag among [`BIG`] flags; the others are S2-style flags with
//!   other keys and values.

use std::collections::HashMap;

use launchdarkly_server_sdk_evaluation as ld;
use serde::Deserialize;
use serde_json::{json, Value};
use unleash_yggdrasil as unleash;

/// Key of the S1 flag (no rules).
pub const S1_KEY: &str = "flag-s1";
/// Key of the S2 flag (3-clause rule, then a 50/50 rollout).
pub const S2_KEY: &str = "flag-s2";
/// Number of flags of the large (S3 / load / compile) set.
pub const BIG: usize = 10_000;

/// The S2 rule's countries.
pub const S2_COUNTRIES: [&str; 5] = ["DE", "FR", "NL", "AT", "CH"];
/// The S2 rule's plan.
pub const S2_PLAN: &str = "pro";
/// The S2 rule's email suffix.
pub const S2_EMAIL_SUFFIX: &str = "@example.com";

const COUNTRY_POOL: [&str; 30] = [
    "US", "GB", "IE", "ES", "PT", "IT", "BE", "LU", "DK", "SE", "NO", "FI", "PL", "CZ", "SK", "HU",
    "RO", "BG", "GR", "TR", "CA", "MX", "BR", "AR", "JP", "KR", "CN", "IN", "AU", "NZ",
];
const PLAN_POOL: [&str; 5] = ["team", "enterprise", "starter", "free", "pro"];

/// A rule: `country in countries AND plan == plan AND email ends_with suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Accepted countries.
    pub countries: Vec<String>,
    /// The plan.
    pub plan: String,
    /// The email suffix.
    pub email_suffix: String,
}

/// An engine-neutral boolean flag. Without a rule it is S1-style (enabled, serves
/// `on` to everyone); with a rule it is S2-style (the rule serves `on`, otherwise a
/// 50/50 `on`/`off` rollout by context key salted with the flag key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSpec {
    /// The flag key.
    pub key: String,
    /// The single rule, if any.
    pub rule: Option<RuleSpec>,
}

/// The S1 flag.
pub fn s1_flag() -> FlagSpec {
    FlagSpec {
        key: S1_KEY.into(),
        rule: None,
    }
}

/// The S2 flag.
pub fn s2_flag() -> FlagSpec {
    FlagSpec {
        key: S2_KEY.into(),
        rule: Some(RuleSpec {
            countries: S2_COUNTRIES.iter().map(|s| s.to_string()).collect(),
            plan: S2_PLAN.into(),
            email_suffix: S2_EMAIL_SUFFIX.into(),
        }),
    }
}

/// The small set used by S1 and S2: the S1 and the S2 flag.
pub fn small_set() -> Vec<FlagSpec> {
    vec![s1_flag(), s2_flag()]
}

/// `n` S2-style flags, the S2 flag itself in the middle; the others have keys
/// `flag-00000`… and their own countries, plan and email suffix.
pub fn big_set(n: usize) -> Vec<FlagSpec> {
    (0..n)
        .map(|i| {
            if i == n / 2 {
                return s2_flag();
            }
            let countries = (0..5)
                .map(|j| COUNTRY_POOL[(i + j) % COUNTRY_POOL.len()].to_string())
                .collect();
            FlagSpec {
                key: format!("flag-{i:05}"),
                rule: Some(RuleSpec {
                    countries,
                    plan: PLAN_POOL[i % PLAN_POOL.len()].into(),
                    email_suffix: format!("@tenant{i}.example.com"),
                }),
            }
        })
        .collect()
}

/// The subject of an evaluation, before it is turned into each engine's context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Context key (Unleash: `userId`).
    pub key: String,
    /// `country` attribute.
    pub country: String,
    /// `plan` attribute.
    pub plan: String,
    /// `email` attribute.
    pub email: String,
}

impl Subject {
    /// Matches the S2 rule's first two clauses and misses the third (email).
    pub fn miss(key: &str) -> Subject {
        Subject {
            key: key.into(),
            country: "DE".into(),
            plan: "pro".into(),
            email: format!("{key}@example.org"),
        }
    }

    /// Matches all three clauses of the S2 rule.
    pub fn hit(key: &str) -> Subject {
        Subject {
            email: format!("{key}@example.com"),
            ..Subject::miss(key)
        }
    }
}

/// The subject the evaluation benches use.
pub fn bench_subject() -> Subject {
    Subject::miss("user-42")
}

// ---------------------------------------------------------------- edgeflag

/// The flags as an edgeflag source document (JSON text).
pub fn edgeflag_source_json(flags: &[FlagSpec]) -> String {
    let mut map = serde_json::Map::new();
    for f in flags {
        let v = match &f.rule {
            None => json!({ "enabled": true }),
            Some(r) => json!({
                "rules": [{
                    "id": "r1",
                    "clauses": [
                        { "attribute": "country", "op": "in", "values": r.countries },
                        { "attribute": "plan", "op": "in", "values": [r.plan] },
                        { "attribute": "email", "op": "ends_with", "values": [r.email_suffix] },
                    ],
                    "serve": "on",
                }],
                "fallthrough": { "rollout": { "on": 50, "off": 50 } },
            }),
        };
        map.insert(f.key.clone(), v);
    }
    serde_json::to_string(&json!({ "flags": map })).expect("JSON")
}

/// The flags as an edgeflag source document (YAML text, block style, every string
/// quoted).
pub fn edgeflag_source_yaml(flags: &[FlagSpec]) -> String {
    use std::fmt::Write;
    let mut s = String::from("flags:\n");
    for f in flags {
        let _ = writeln!(s, "  \"{}\":", f.key);
        match &f.rule {
            None => s.push_str("    enabled: true\n"),
            Some(r) => {
                let countries = r
                    .countries
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = write!(
                    s,
                    "    rules:\n      - id: \"r1\"\n        clauses:\n          \
                     - attribute: \"country\"\n            op: \"in\"\n            values: [{countries}]\n          \
                     - attribute: \"plan\"\n            op: \"in\"\n            values: [\"{}\"]\n          \
                     - attribute: \"email\"\n            op: \"ends_with\"\n            values: [\"{}\"]\n        \
                     serve: \"on\"\n    fallthrough:\n      rollout:\n        \"on\": 50\n        \"off\": 50\n",
                    r.plan, r.email_suffix
                );
            }
        }
    }
    s
}

/// Compiles edgeflag sources (file name, text) and encodes the single `default`
/// environment into a binary ruleset: what `edgeflag compile` does.
pub fn edgeflag_compile(sources: &[(String, String)]) -> Vec<u8> {
    let envs = match edgeflag_compiler::compile_sources(sources) {
        Ok(envs) => envs,
        Err(e) => panic!("edgeflag sources do not compile: {e:?}"),
    };
    let env = envs.into_iter().next().expect("one environment");
    edgeflag_evaluator::format::encode(
        &env.body,
        &edgeflag_evaluator::format::EncodeOptions {
            environment: &env.name,
            version: 1,
            epoch: 1,
            created_at_ms: 0,
        },
    )
    .expect("encodable")
}

/// The binary ruleset of these flags (compiled from their JSON source).
pub fn edgeflag_ruleset_bytes(flags: &[FlagSpec]) -> Vec<u8> {
    edgeflag_compile(&[("flags.json".into(), edgeflag_source_json(flags))])
}

/// Decodes a binary ruleset.
pub fn edgeflag_load(bytes: &[u8]) -> edgeflag_evaluator::Ruleset {
    edgeflag_evaluator::Ruleset::from_bytes(bytes).expect("valid ruleset")
}

/// The subject as an edgeflag context.
pub fn edgeflag_context(s: &Subject) -> edgeflag_evaluator::Context {
    edgeflag_evaluator::Context::new(s.key.as_str())
        .with("country", s.country.as_str())
        .with("plan", s.plan.as_str())
        .with("email", s.email.as_str())
}

// ---------------------------------------------------------------- Unleash

/// The flags as an Unleash `ClientFeatures` document (what `/api/client/features`
/// returns). S1: one `default` strategy. S2: a `default` strategy with three
/// constraints, then a `flexibleRollout` of 50 % sticky on `userId`, group id = the
/// flag key; strategies are OR-ed, so the toggle is on when the constraints match
/// or the key is in the rollout.
pub fn unleash_json(flags: &[FlagSpec]) -> String {
    let features: Vec<Value> = flags
        .iter()
        .map(|f| {
            let strategies = match &f.rule {
                None => json!([{ "name": "default", "constraints": [], "parameters": {} }]),
                Some(r) => json!([
                    {
                        "name": "default",
                        "constraints": [
                            { "contextName": "country", "operator": "IN", "values": r.countries,
                              "caseInsensitive": false, "inverted": false },
                            { "contextName": "plan", "operator": "IN", "values": [r.plan],
                              "caseInsensitive": false, "inverted": false },
                            { "contextName": "email", "operator": "STR_ENDS_WITH",
                              "values": [r.email_suffix], "caseInsensitive": false, "inverted": false },
                        ],
                        "parameters": {},
                    },
                    {
                        "name": "flexibleRollout",
                        "constraints": [],
                        "parameters": { "rollout": "50", "stickiness": "default", "groupId": f.key },
                    },
                ]),
            };
            json!({
                "name": f.key,
                "type": "release",
                "enabled": true,
                "project": "default",
                "stale": false,
                "impressionData": false,
                "strategies": strategies,
                "variants": [],
            })
        })
        .collect();
    serde_json::to_string(&json!({ "version": 2, "features": features, "query": null }))
        .expect("JSON")
}

/// Deserializes `ClientFeatures` JSON and hands it to a fresh engine (which compiles
/// every toggle's strategies).
pub fn unleash_load(json: &str) -> unleash::EngineState {
    let features: unleash::ClientFeatures =
        serde_json::from_str(json).expect("valid ClientFeatures");
    let engine = unleash::EngineState::default();
    if let Some(warnings) = engine.take_state(unleash::UpdateMessage::FullResponse(features)) {
        panic!("Unleash state warnings: {warnings:?}");
    }
    engine
}

/// The subject as an Unleash context (`userId` = key; the rest are properties).
pub fn unleash_context(s: &Subject) -> unleash::Context {
    let properties = HashMap::from([
        ("country".to_string(), s.country.clone()),
        ("plan".to_string(), s.plan.clone()),
        ("email".to_string(), s.email.clone()),
    ]);
    unleash::Context {
        user_id: Some(s.key.clone()),
        session_id: None,
        environment: None,
        app_name: None,
        current_time: None,
        remote_address: None,
        properties: Some(properties),
    }
}

/// Unleash's `is_enabled` (no external strategy results).
#[inline]
pub fn unleash_enabled(engine: &unleash::EngineState, key: &str, ctx: &unleash::Context) -> bool {
    engine.is_enabled(key, ctx, &None)
}

// ---------------------------------------------------------------- LaunchDarkly

/// The flags as LaunchDarkly's server-side data payload (`{"flags": {...},
/// "segments": {}}`, the shape of the SDK's `put` event / the relay's
/// `/sdk/latest-all`). Variations `[true, false]`; S2: one rule with three `user`
/// clauses serving variation 0, fallthrough a rollout of 50000/50000 (LD weights are
/// in 0.001 %) bucketed by `key`, salt = the flag key.
pub fn launchdarkly_json(flags: &[FlagSpec]) -> String {
    let mut map = serde_json::Map::new();
    for (i, f) in flags.iter().enumerate() {
        let (rules, fallthrough) = match &f.rule {
            None => (json!([]), json!({ "variation": 0 })),
            Some(r) => (
                json!([{
                    "id": format!("rule-{i}"),
                    "clauses": [
                        { "contextKind": "user", "attribute": "country", "op": "in",
                          "values": r.countries, "negate": false },
                        { "contextKind": "user", "attribute": "plan", "op": "in",
                          "values": [r.plan], "negate": false },
                        { "contextKind": "user", "attribute": "email", "op": "endsWith",
                          "values": [r.email_suffix], "negate": false },
                    ],
                    "variation": 0,
                    "trackEvents": false,
                }]),
                json!({ "rollout": { "variations": [
                    { "variation": 0, "weight": 50000 },
                    { "variation": 1, "weight": 50000 },
                ] } }),
            ),
        };
        map.insert(
            f.key.clone(),
            json!({
                "key": f.key,
                "version": 1,
                "on": true,
                "prerequisites": [],
                "targets": [],
                "contextTargets": [],
                "rules": rules,
                "fallthrough": fallthrough,
                "offVariation": 1,
                "variations": [true, false],
                "clientSideAvailability": { "usingMobileKey": false, "usingEnvironmentId": false },
                "salt": f.key,
                "trackEvents": false,
                "trackEventsFallthrough": false,
                "debugEventsUntilDate": null,
                "deleted": false,
            }),
        );
    }
    serde_json::to_string(&json!({ "flags": map, "segments": {} })).expect("JSON")
}

/// An in-memory LaunchDarkly store (what the Rust server SDK keeps).
#[derive(Debug, Deserialize)]
pub struct LdStore {
    /// Flags by key.
    pub flags: HashMap<String, ld::Flag>,
    /// Segments by key.
    pub segments: HashMap<String, ld::Segment>,
}

impl ld::Store for LdStore {
    fn flag(&self, flag_key: &str) -> Option<ld::Flag> {
        self.flags.get(flag_key).cloned()
    }
    fn segment(&self, segment_key: &str) -> Option<ld::Segment> {
        self.segments.get(segment_key).cloned()
    }
}

impl LdStore {
    /// Looks the flag up and evaluates it; the caller's default when unknown, or not
    /// a boolean (as the SDK's `bool_variation` does).
    #[inline]
    pub fn bool_value(&self, key: &str, ctx: &ld::Context, default: bool) -> bool {
        match self.flags.get(key) {
            Some(flag) => ld::evaluate(self, flag, ctx, None)
                .value
                .and_then(|v| v.as_bool())
                .unwrap_or(default),
            None => default,
        }
    }

    /// Looks the flag up and evaluates it with its reason.
    pub fn detail(&self, key: &str, ctx: &ld::Context) -> Option<ld::Detail<bool>> {
        let flag = self.flags.get(key)?;
        let d = ld::evaluate(self, flag, ctx, None);
        Some(ld::Detail {
            value: d.value.and_then(|v| v.as_bool()),
            variation_index: d.variation_index,
            reason: d.reason,
        })
    }
}

/// Deserializes LaunchDarkly's data payload into a store.
pub fn launchdarkly_load(json: &str) -> LdStore {
    serde_json::from_str(json).expect("valid LaunchDarkly data")
}

/// The subject as a LaunchDarkly `user` context.
pub fn launchdarkly_context(s: &Subject) -> ld::Context {
    ld::ContextBuilder::new(s.key.as_str())
        .set_string("country", s.country.as_str())
        .set_string("plan", s.plan.as_str())
        .set_string("email", s.email.as_str())
        .build()
        .expect("valid context")
}

// ---------------------------------------------------------------- all engines

/// One flag set loaded into every engine, with the serialized forms kept for the
/// size report and the load benches.
pub struct Engines {
    /// edgeflag binary ruleset.
    pub edgeflag_bytes: Vec<u8>,
    /// Unleash `ClientFeatures` JSON.
    pub unleash_json: String,
    /// LaunchDarkly data JSON.
    pub launchdarkly_json: String,
    /// Loaded edgeflag ruleset.
    pub edgeflag: edgeflag_evaluator::Ruleset,
    /// Loaded Unleash engine.
    pub unleash: unleash::EngineState,
    /// Loaded LaunchDarkly store.
    pub launchdarkly: LdStore,
}

impl Engines {
    /// Serializes `flags` for each engine and loads them.
    pub fn new(flags: &[FlagSpec]) -> Engines {
        let edgeflag_bytes = edgeflag_ruleset_bytes(flags);
        let unleash_json = unleash_json(flags);
        let launchdarkly_json = launchdarkly_json(flags);
        Engines {
            edgeflag: edgeflag_load(&edgeflag_bytes),
            unleash: unleash_load(&unleash_json),
            launchdarkly: launchdarkly_load(&launchdarkly_json),
            edgeflag_bytes,
            unleash_json,
            launchdarkly_json,
        }
    }
}

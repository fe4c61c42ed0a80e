//! Shared by the fuzz targets: contexts to evaluate with, and the checks every
//! evaluation must pass whatever ruleset the loader accepted.

use edgeflag_evaluator::format::{self, EncodeOptions, HEADER_LEN};
use edgeflag_evaluator::model::{Body, Clause, Op, ValueKind};
use edgeflag_evaluator::{AttrValue, Context, FlagValue, Reason, Ruleset, Scalar};
use std::sync::OnceLock;

/// Contexts that do not depend on the ruleset: no attributes, a key only, a
/// non-string key, and the attributes the examples use with strings, numbers,
/// SemVers, RFC 3339 dates and lists.
pub fn fixed_contexts() -> &'static [Context] {
    static CONTEXTS: OnceLock<Vec<Context>> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let mut non_string_key = Context::default();
        non_string_key.set("key", 42);
        vec![
            Context::default(),
            Context::new(""),
            Context::new("user-42"),
            non_string_key,
            Context::new("user-1001")
                .with("country", "DE")
                .with("plan", "pro")
                .with("email", "a@edgeflag.dev")
                .with("app", "ios")
                .with("app_version", "3.1.4")
                .with("age", 41)
                .with("beta", true)
                .with("created", "2024-02-29T12:00:00.5+01:00")
                .with("groups", vec!["beta", "staff"]),
            Context::new("svc-batch-1")
                .with("country", vec![1.5, -0.0, 1e300])
                .with("app_version", "1.2.3-rc.1+build.5")
                .with("age", f64::NAN)
                .with("created", 1_700_000_000_000i64),
            Context::new("u\u{e9}\u{1F600}")
                .with("app_version", "v1")
                .with("age", f64::INFINITY)
                .with("created", "1969-12-31T23:59:59Z")
                .with("email", ""),
        ]
    })
}

/// Contexts built from a ruleset: every attribute it names set to strings of its
/// table (so `in`, targets and prefix clauses can match), to the numbers, SemVers
/// and instants its clauses compare with, and to values of the other types.
pub fn contexts_for(rs: &Ruleset) -> Vec<Context> {
    let body = rs.body();
    let names: Vec<&str> = body
        .attributes
        .iter()
        .take(16)
        .map(|&a| body.strings.get(a))
        .collect();
    let mut values: Vec<AttrValue> = Vec::new();
    for id in 0..body.strings.len().min(6) {
        values.push(body.strings.get(id as u32).into());
    }
    let mut numbers = Vec::new();
    let mut semvers = Vec::new();
    collect_bounds(body, &mut numbers, &mut semvers);
    for n in numbers.into_iter().take(6) {
        values.push(n.into());
        values.push((n + 1.0).into());
    }
    for s in semvers.into_iter().take(6) {
        values.push(s.into());
    }
    values.push(true.into());
    values.push(vec!["a", "", "\u{e9}"].into());
    values.push(vec![0.0, 99_999.0].into());
    let mut out = Vec::with_capacity(values.len() + 1);
    for (i, v) in values.into_iter().enumerate() {
        let key = match &v {
            AttrValue::Scalar(Scalar::String(s)) => s.to_string(),
            _ => format!("user-{i}"),
        };
        let mut ctx = Context::new(key);
        for name in &names {
            // `key` too: a clause on `key` or a rollout by it sees the value.
            if *name != "key" || matches!(v, AttrValue::Scalar(Scalar::String(_))) || i % 2 == 0 {
                ctx.set(name, v.clone());
            }
        }
        out.push(ctx);
    }
    out
}

fn collect_bounds(body: &Body, numbers: &mut Vec<f64>, semvers: &mut Vec<String>) {
    let clauses = body
        .flags
        .iter()
        .flat_map(|f| f.rules.iter().flat_map(|r| r.clauses.iter()))
        .chain(
            body.segments
                .iter()
                .flat_map(|s| s.rules.iter().flat_map(|r| r.clauses.iter())),
        );
    for Clause { op, .. } in clauses {
        match op {
            Op::In(set) => numbers.extend(set.numbers.iter().take(2)),
            Op::Lt(n) | Op::Lte(n) | Op::Gt(n) | Op::Gte(n) => numbers.push(*n),
            Op::Before(i) | Op::After(i) => numbers.push((i.0 / 1_000_000) as f64),
            Op::SemverEq(vs) => semvers.extend(vs.iter().take(2).map(|v| semver(body, v))),
            Op::SemverLt(v) | Op::SemverGt(v) => semvers.push(semver(body, v)),
            _ => {}
        }
    }
}

fn semver(body: &Body, v: &edgeflag_evaluator::model::Semver) -> String {
    let mut s = format!("{}.{}.{}", v.major, v.minor, v.patch);
    if let Some(pre) = v.pre {
        s.push('-');
        s.push_str(body.strings.get(pre));
    }
    s
}

/// Evaluates every flag with every context and checks what evaluation promises:
/// every stored flag serves one of its variations, of its type; evaluating by key
/// gives what `all_flags` gave; the typed getters agree; the JSON rendering works.
pub fn evaluate_all(rs: &Ruleset, contexts: &[Context]) {
    for ctx in contexts {
        let mut count = 0;
        for (key, detail) in rs.all_flags(ctx) {
            count += 1;
            let flag = rs.flag(key).expect("a key from all_flags resolves");
            assert_eq!(rs.evaluate(key, ctx), detail, "flag {key:?}");
            let value = detail.value.expect("a stored flag serves a value");
            let index = detail.variation_index.expect("and a variation") as usize;
            assert!(index < flag.variations.len(), "flag {key:?}");
            assert_eq!(detail.variation, Some(rs.str(flag.variations[index].name)));
            match (flag.kind, value) {
                (ValueKind::Bool, FlagValue::Bool(b)) => {
                    assert_eq!(rs.bool_value(key, ctx, !b), b)
                }
                (ValueKind::Number, FlagValue::Number(n)) => {
                    assert!(n.is_finite());
                    assert_eq!(rs.number_value(key, ctx, f64::NAN), n);
                }
                (ValueKind::String, FlagValue::String(s)) => {
                    assert_eq!(rs.string_value(key, ctx, "\u{0}default"), s)
                }
                (ValueKind::Json, FlagValue::Json(s)) => {
                    assert_eq!(rs.json_value(key, ctx, "\u{0}default"), s)
                }
                (kind, value) => panic!("flag {key:?} of kind {kind:?} served {value:?}"),
            }
            if let Reason::Error(kind) = detail.reason {
                panic!("flag {key:?} evaluated to an error: {kind:?}");
            }
            serde_json::to_string(&detail).expect("a detail renders as JSON");
        }
        assert_eq!(count, rs.len());
        let missing = "\u{0}no such flag";
        if rs.flag(missing).is_none() {
            assert_eq!(rs.evaluate(missing, ctx).value, None);
        }
    }
}

/// The header [`with_valid_header`] puts in front of a body: an unsigned,
/// unpublished ruleset of environment `fuzz`.
fn empty_ruleset() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        format::encode(&Body::default(), &EncodeOptions::unpublished("fuzz"))
            .expect("the empty body encodes")
    })
}

/// `body` behind a valid version-3 header: the body length at 24..28 and the
/// checksum (xxh3_64 of bytes 0..120 followed by the body) at 120..128, as
/// `evaluator/tests/decode.rs` rewrites them.
pub fn with_valid_header(body: &[u8]) -> Vec<u8> {
    let mut bytes = empty_ruleset()[..HEADER_LEN].to_vec();
    bytes.extend_from_slice(body);
    bytes[24..28].copy_from_slice(&(body.len() as u32).to_le_bytes());
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&bytes[..120]);
    h.update(body);
    let sum = h.digest();
    bytes[120..128].copy_from_slice(&sum.to_le_bytes());
    bytes
}

/// The examples (`examples/`) compiled for production: the ruleset the
/// context target evaluates parsed contexts against.
pub fn example_ruleset() -> &'static Ruleset {
    static RULESET: OnceLock<Ruleset> = OnceLock::new();
    RULESET.get_or_init(|| {
        let files = [
            (
                "environments.yaml",
                include_str!("../../examples/environments.yaml"),
            ),
            (
                "segments.yaml",
                include_str!("../../examples/segments.yaml"),
            ),
            (
                "flags/checkout.yaml",
                include_str!("../../examples/flags/checkout.yaml"),
            ),
            (
                "flags/ops.yaml",
                include_str!("../../examples/flags/ops.yaml"),
            ),
        ]
        .map(|(n, t)| (n.to_owned(), t.to_owned()));
        let envs = edgeflag_compiler::compile_sources(&files).expect("the examples compile");
        let env = envs.last().expect("an environment");
        let bytes = format::encode(&env.body, &EncodeOptions::unpublished(&env.name))
            .expect("the examples encode");
        Ruleset::from_bytes(&bytes).expect("the examples load")
    })
}

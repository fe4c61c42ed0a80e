//! Runs the language-neutral golden cases in tests/vectors/cases.json against the
//! native evaluator (the WASM builds run the same file).

use edgeflag_compiler::compile_sources;
use edgeflag_evaluator::format::{encode, EncodeOptions};
use edgeflag_evaluator::{Context, Ruleset};
use serde_json::Value;

fn detail_json(rs: &Ruleset, flag: &str, ctx: &Context, getter: Option<&str>) -> Value {
    let v = match getter {
        None => serde_json::to_value(rs.evaluate(flag, ctx)),
        Some("bool") => serde_json::to_value(rs.bool_detail(flag, ctx)),
        Some("string") => serde_json::to_value(rs.string_detail(flag, ctx)),
        Some("number") => serde_json::to_value(rs.number_detail(flag, ctx)),
        Some("json") => {
            // Typed JSON details carry the text; render it as the JSON it is.
            let d = rs.json_detail(flag, ctx);
            let mut v = serde_json::to_value(d).expect("detail renders");
            if let Some(text) = d.value {
                v["value"] = serde_json::from_str(text).expect("stored JSON parses");
            }
            Ok(v)
        }
        Some(other) => panic!("unknown getter {other:?}"),
    };
    v.expect("detail renders as JSON")
}

/// Numbers compare by value (`1e6` equals `1000000`); everything else structurally.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn golden_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/cases.json");
    let text = std::fs::read_to_string(path).expect("tests/vectors/cases.json");
    let suites: Vec<Value> = serde_json::from_str(&text).expect("cases.json parses");
    let mut failures = Vec::new();
    let mut ran = 0;
    for suite in &suites {
        let name = suite["name"].as_str().unwrap_or("?");
        let file = format!("{name}.json");
        let source = serde_json::to_string_pretty(&suite["source"]).expect("source renders");
        let envs = match compile_sources(&[(file, source)]) {
            Ok(envs) => envs,
            Err(d) => {
                failures.push(format!("suite {name}: source does not compile:\n{d}"));
                continue;
            }
        };
        let env = suite["environment"].as_str().unwrap_or("default");
        let Some(compiled) = envs.iter().find(|e| e.name == env) else {
            failures.push(format!("suite {name}: no environment {env}"));
            continue;
        };
        let bytes = encode(
            &compiled.body,
            &EncodeOptions {
                environment: env,
                version: 1,
                epoch: 1,
                created_at_ms: 0,
            },
        )
        .expect("encodes");
        let rs = Ruleset::from_bytes(&bytes).expect("compiled ruleset loads");
        for case in suite["cases"].as_array().expect("cases") {
            ran += 1;
            let cname = case["name"].as_str().unwrap_or("?");
            let ctx = serde_json::from_value::<Context>(case["context"].clone());
            if let Some(attr) = case.get("expect_context_error").and_then(Value::as_str) {
                match ctx {
                    Err(e) if e.to_string().contains(attr) => {}
                    Err(e) => failures.push(format!(
                        "{name} / {cname}: context error {e:?} does not name {attr:?}"
                    )),
                    Ok(_) => failures.push(format!("{name} / {cname}: context was accepted")),
                }
                continue;
            }
            let ctx = match ctx {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{name} / {cname}: context refused: {e}"));
                    continue;
                }
            };
            let flag = case["flag"].as_str().expect("flag");
            let got = detail_json(&rs, flag, &ctx, case.get("getter").and_then(Value::as_str));
            if !same(&got, &case["expect"]) {
                failures.push(format!(
                    "{name} / {cname}:\n    expected {}\n    got      {}",
                    case["expect"], got
                ));
            }
        }
    }
    assert!(ran > 100, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! `edgeflag_evaluator::json::parse_context`, the JSON → context parser of
//! `edgeflag eval` and the WASM build's `Context.fromJSON`, on fuzzed text: an
//! error or a context that keeps the documented shape, and evaluates against the
//! examples.
#![no_main]

use edgeflag_evaluator::json::parse_context;
use edgeflag_evaluator::{AttrValue, Scalar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ctx = match parse_context(&text) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let names: Vec<&str> = ctx.attributes().map(|(n, _)| n).collect();
    for (i, name) in names.iter().enumerate() {
        assert!(!names[..i].contains(name), "attribute {name:?} twice");
    }
    for (name, value) in ctx.attributes() {
        assert!(ctx.get(name) == Some(value), "get({name:?})");
        if let AttrValue::List(items) = value {
            assert!(
                !items.iter().any(|s| matches!(s, Scalar::Bool(_))),
                "a list element of {name:?} is a boolean"
            );
        }
    }
    match ctx.get("key") {
        None => assert_eq!(ctx.key(), None),
        Some(AttrValue::Scalar(Scalar::String(k))) => assert_eq!(ctx.key(), Some(&**k)),
        Some(other) => panic!("key is not a string: {other:?}"),
    }
    edgeflag_fuzz::evaluate_all(edgeflag_fuzz::example_ruleset(), std::slice::from_ref(&ctx));
});

//! The compiler on fuzzed sources: any text gives diagnostics or compiled
//! environments, never a panic; whatever compiles encodes, loads (the loader
//! accepts everything the compiler emits) and evaluates, and a client ruleset
//! answers every client-side flag as the server ruleset does.
//!
//! Input: the first byte chooses, bit by bit, whether each file is JSON or YAML;
//! the rest is split at NUL bytes into up to four files, merged in order.
#![no_main]

use edgeflag_compiler::authoring::compile_project;
use edgeflag_evaluator::format::{self, EncodeOptions};
use edgeflag_evaluator::Ruleset;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kinds, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let files: Vec<(String, String)> = text
        .splitn(4, '\0')
        .enumerate()
        .map(|(i, t)| {
            let ext = if kinds >> i & 1 == 1 { "json" } else { "yaml" };
            (format!("f{i}.{ext}"), t.to_owned())
        })
        .collect();
    let (project, envs) = match compile_project(&files) {
        Ok(p) => p,
        Err(diags) => {
            assert!(!diags.to_string().is_empty(), "a refusal says why");
            return;
        }
    };
    for env in &envs {
        let bytes = format::encode(&env.body, &EncodeOptions::unpublished(&env.name))
            .unwrap_or_else(|e| panic!("environment {:?} does not encode: {e}", env.name));
        let rs = Ruleset::from_bytes(&bytes).unwrap_or_else(|e| {
            panic!(
                "the loader refused what the compiler emitted for {:?}: {e}",
                env.name
            )
        });
        assert_eq!(
            rs.len(),
            project.flags.len(),
            "every environment has every flag"
        );
        let _ = edgeflag_compiler::describe::flags(&rs);
        let _ = edgeflag_compiler::describe::segments(&rs);
        edgeflag_fuzz::evaluate_all(&rs, edgeflag_fuzz::fixed_contexts());
        let contexts = edgeflag_fuzz::contexts_for(&rs);
        edgeflag_fuzz::evaluate_all(&rs, &contexts);
        if let Some(client) = &env.client {
            let name = edgeflag_compiler::client::client_environment(&env.name);
            let bytes = format::encode(client, &EncodeOptions::unpublished(&name))
                .unwrap_or_else(|e| panic!("client ruleset {name:?} does not encode: {e}"));
            let crs = Ruleset::from_bytes(&bytes)
                .unwrap_or_else(|e| panic!("the loader refused client ruleset {name:?}: {e}"));
            for key in crs.flag_keys() {
                for ctx in edgeflag_fuzz::fixed_contexts().iter().chain(&contexts) {
                    assert_eq!(rs.evaluate(key, ctx), crs.evaluate(key, ctx), "{key} {ctx:?}");
                }
            }
        }
    }
});

//! The `edgeflag` binary end to end, on the example flag set and on bad input.

use edgeflag_testkit::project::{command, scratch};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `edgeflag ARGS` run from the repository root (so `examples/` resolves).
fn edgeflag(args: &[&str]) -> Output {
    command(args, &[])
        .current_dir(root())
        .output()
        .expect("runs the edgeflag binary")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn compile_examples(name: &str) -> PathBuf {
    let out = scratch(name);
    let o = edgeflag(&["compile", "examples", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "compile failed: {}", stderr(&o));
    out
}

fn eval(ruleset: &Path, context: &str, flag: &str) -> Value {
    let o = edgeflag(&[
        "eval",
        "--ruleset",
        ruleset.to_str().unwrap(),
        "--context",
        context,
        "--flag",
        flag,
    ]);
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("eval prints JSON")
}

#[test]
fn validate_accepts_the_examples() {
    let o = edgeflag(&["validate", "examples"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("ok: environment staging: 5 flags, 2 segments"),
        "{out}"
    );
    assert!(
        out.contains("ok: environment production: 5 flags, 2 segments"),
        "{out}"
    );
}

#[test]
fn validate_reports_every_error_with_position_and_exits_1() {
    let dir = scratch("bad-source");
    let src = dir.join("flags.yaml");
    std::fs::write(
        &src,
        "flags:\n  a:\n    rules:\n      - clauses:\n          - op: in_segment\n            values: [nope]\n        serve: maybe\n",
    )
    .unwrap();
    let o = edgeflag(&["validate", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("flags.yaml:6:"), "{err}");
    assert!(err.contains("unknown segment \"nope\""), "{err}");
    assert!(err.contains("\"maybe\""), "{err}");
    assert!(err.contains("2 errors"), "{err}");
}

#[test]
fn compile_writes_one_ruleset_per_environment() {
    let out = compile_examples("compile-envs");
    for env in ["staging", "production"] {
        let bytes = std::fs::read(out.join(format!("{env}.efr"))).expect("ruleset written");
        assert_eq!(&bytes[..4], b"EFRS");
        let rs = edgeflag_evaluator::Ruleset::from_bytes(&bytes).expect("loads");
        assert_eq!(rs.header().environment, env);
        assert_eq!(rs.len(), 5);
        // And its client ruleset: the two client-side flags and what they reach.
        let bytes = std::fs::read(out.join(format!("{env}.client.efr"))).expect("written");
        let rs = edgeflag_evaluator::Ruleset::from_bytes(&bytes).expect("loads");
        assert!(rs.is_client());
        assert_eq!(rs.header().environment, format!("{env}.client"));
        assert_eq!(rs.flag_keys().count(), 2);
        assert!(!String::from_utf8_lossy(&bytes).contains("user-42"));
    }
    // No temporary files left behind.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "production.client.efr",
            "production.efr",
            "staging.client.efr",
            "staging.efr"
        ]
    );
}

#[test]
fn compile_without_environments_writes_default() {
    let dir = scratch("default-env");
    let src = dir.join("f.json");
    std::fs::write(&src, r#"{"flags":{"x":{}}}"#).unwrap();
    let out = dir.join("out");
    let o = edgeflag(&[
        "compile",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("default.efr").is_file());
}

#[test]
fn eval_follows_the_example_rules() {
    let out = compile_examples("eval-examples");
    let prod = out.join("production.efr");
    let d = eval(&prod, r#"{"key":"user-42","country":"DE"}"#, "new-checkout");
    assert_eq!(d["value"], true);
    assert_eq!(d["reason"]["kind"], "RULE_MATCH");
    assert_eq!(d["reason"]["rule_index"], 0);
    assert_eq!(d["reason"]["rule_id"], "internal");

    let d = eval(&prod, r#"{"key":"user-2","country":"KP"}"#, "new-checkout");
    assert_eq!(d["value"], false);
    assert_eq!(d["reason"]["kind"], "PREREQUISITE_FAILED");
    assert_eq!(d["reason"]["prerequisite"], "payments-v2");

    let d = eval(
        &prod,
        r#"{"key":"user-666","country":"US"}"#,
        "new-checkout",
    );
    assert_eq!(d["reason"]["kind"], "TARGET_MATCH");
    assert_eq!(d["variation"], "off");

    let d = eval(&prod, r#"{"key":"u"}"#, "search-v2");
    assert_eq!(d["reason"]["kind"], "OFF");
    assert_eq!(d["value"], false);
    let d = eval(&out.join("staging.efr"), r#"{"key":"u"}"#, "search-v2");
    assert_eq!(d["reason"]["kind"], "FALLTHROUGH");
    assert_eq!(d["value"], true);

    let ctx = r#"{"key":"svc-batch-1","load_shedding":true,"region":"eu-west-1"}"#;
    let d = eval(&prod, ctx, "job-skip-rate");
    assert_eq!(d["value"], 0.25);
    assert_eq!(d["variation"], "heavy");
    assert_eq!(d["variation_index"], 2);

    let d = eval(
        &prod,
        r#"{"key":"user-7","groups":["beta"]}"#,
        "checkout-config",
    );
    assert_eq!(d["variation"], "express");
    assert_eq!(d["value"]["steps"], 1);
    assert_eq!(d["value"]["methods"][2], "apple_pay");

    let d = eval(&prod, r#"{"key":"u"}"#, "no-such-flag");
    assert_eq!(d["reason"]["kind"], "ERROR");
    assert_eq!(d["reason"]["error_kind"], "FLAG_NOT_FOUND");
    assert_eq!(d["value"], Value::Null);
}

#[test]
fn eval_contexts_prints_one_line_per_context_and_names_bad_lines() {
    let out = compile_examples("eval-jsonl");
    let input = out.join("contexts.jsonl");
    std::fs::write(
        &input,
        "{\"key\":\"user-42\",\"country\":\"DE\"}\n{not json}\n\n{\"key\":\"u2\",\"country\":\"KP\"}\n",
    )
    .unwrap();
    let o = edgeflag(&[
        "eval",
        "--ruleset",
        out.join("production.efr").to_str().unwrap(),
        "--contexts",
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "a bad line fails the run");
    assert!(
        stderr(&o).contains("contexts.jsonl:2: invalid context"),
        "{}",
        stderr(&o)
    );
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 3);
    let first = lines[0].as_object().unwrap();
    assert_eq!(first.len(), 5, "every flag is present");
    for detail in first.values() {
        for key in [
            "value",
            "variation",
            "variation_index",
            "reason",
            "in_rollout",
        ] {
            assert!(detail.get(key).is_some(), "{key} missing in {detail}");
        }
    }
    assert_eq!(lines[0]["new-checkout"]["reason"]["rule_id"], "internal");
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["payments-v2"]["reason"]["kind"], "RULE_MATCH");
}

#[test]
fn eval_refuses_a_corrupt_ruleset() {
    let out = compile_examples("eval-corrupt");
    let path = out.join("production.efr");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let o = edgeflag(&[
        "eval",
        "--ruleset",
        path.to_str().unwrap(),
        "--context",
        "{}",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
}

#[test]
fn inspect_shows_header_and_flags() {
    let out = compile_examples("inspect");
    let path = out.join("production.efr");
    let o = edgeflag(&["inspect", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("environment production"), "{text}");
    assert!(
        text.contains("epoch       0 (compiled, never published"),
        "{text}"
    );
    assert!(
        text.contains("search-v2 (boolean, OFF (kill switch))"),
        "{text}"
    );
    assert!(
        text.contains("fallthrough: rollout on 10%, off 90% by key"),
        "{text}"
    );

    let o = edgeflag(&["inspect", "--json", path.to_str().unwrap()]);
    let v: Value = serde_json::from_str(&stdout(&o)).expect("inspect --json prints JSON");
    assert_eq!(v["header"]["environment"], "production");
    assert_eq!(v["header"]["epoch"], 0);
    assert_eq!(v["flags"].as_array().unwrap().len(), 5);
    assert_eq!(v["segments"].as_array().unwrap().len(), 2);
    assert!(v["sizes"]["file_bytes"].as_u64().unwrap() > 176);
}

#[test]
fn diff_shows_kill_switch_and_rollout_changes() {
    let out = compile_examples("diff");
    let o = edgeflag(&[
        "diff",
        "--exit-code",
        out.join("staging.efr").to_str().unwrap(),
        out.join("production.efr").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "differences with --exit-code");
    let text = stdout(&o);
    assert!(text.contains("~ flag search-v2"), "{text}");
    assert!(text.contains("KILL SWITCH: on → OFF"), "{text}");
    assert!(
        text.contains(
            "fallthrough: rollout on 100%, off 0% by key → rollout on 10%, off 90% by key"
        ),
        "{text}"
    );

    let same = edgeflag(&["diff", "examples", "examples"]);
    assert!(same.status.success());
    assert_eq!(stdout(&same).trim(), "no changes");
}

#[test]
fn diff_of_sources_reports_added_and_removed_flags() {
    let dir = scratch("diff-sources");
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    std::fs::write(&a, "flags:\n  old: {}\n  kept:\n    fallthrough: \"on\"\n").unwrap();
    std::fs::write(
        &b,
        "flags:\n  new: {}\n  kept:\n    targets: {\"off\": [u1]}\n    fallthrough: {rollout: {\"on\": 20, \"off\": 80}}\n",
    )
    .unwrap();
    let o = edgeflag(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("+ flag new"), "{text}");
    assert!(text.contains("- flag old"), "{text}");
    assert!(text.contains("targets: + u1 → off"), "{text}");
    assert!(
        text.contains("fallthrough: on → rollout on 20%, off 80% by key"),
        "{text}"
    );
}

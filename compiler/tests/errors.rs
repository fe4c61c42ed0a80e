//! One test per kind of compile error, asserting the full message with position.

use edgeflag_compiler::{compile_path, compile_sources};
use std::path::PathBuf;

fn errors(src: &str) -> Vec<String> {
    errors_in("flags.yaml", src)
}

fn errors_in(name: &str, src: &str) -> Vec<String> {
    match compile_sources(&[(name.to_owned(), src.to_owned())]) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

fn one(src: &str, want: &str) {
    assert_eq!(errors(src), [want], "source:\n{src}");
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    edgeflag_testkit::project::scratch(&format!("compiler-errors-{name}"))
}

#[test]
fn unknown_variation_in_serve() {
    one(
        "flags:\n  a:\n    fallthrough: nope\n",
        r#"flags.yaml:3:18: flag "a" fallthrough: unknown variation "nope"; expected one of "on", "off""#,
    );
}

#[test]
fn unknown_variation_in_targets_rollout_and_prerequisite() {
    let src = "flags:\n  a:\n    targets: {maybe: [u1]}\n    rules:\n      - clauses: []\n        serve: {rollout: {on: 50, of: 50}}\n  b:\n    prerequisites: [{flag: a, variations: [yes]}]\n";
    assert_eq!(
        errors(src),
        [
            r#"flags.yaml:3:15: flag "a" targets: unknown variation "maybe"; expected one of "on", "off""#,
            r#"flags.yaml:6:35: flag "a" rule 1 serve rollout: unknown variation "of"; expected one of "on", "off""#,
            r#"flags.yaml:8:44: flag "b" prerequisite 1: unknown variation "yes" of flag "a"; expected one of "on", "off""#,
        ]
    );
}

#[test]
fn boolean_flag_without_off_variation() {
    one(
        "flags:\n  a:\n    variations: {yes: true, no: false}\n    fallthrough: yes\n",
        r#"flags.yaml:2:3: flag "a": unknown variation "off" (the default `off_variation` of a boolean flag); add a variation "off" or set `off_variation`"#,
    );
}

#[test]
fn non_boolean_flag_needs_off_variation_and_fallthrough() {
    assert_eq!(
        errors("flags:\n  a:\n    variations: {x: 1, y: 2}\n"),
        [
            r#"flags.yaml:2:3: flag "a": missing field `off_variation` (required unless the flag is boolean)"#,
            r#"flags.yaml:2:3: flag "a": missing field `fallthrough` (required unless the flag is boolean)"#,
        ]
    );
}

#[test]
fn hex_beyond_u64_is_a_number_not_a_string() {
    // Before: `0x10000000000000000` (2^64) silently became the string
    // "0x10000000000000000", so this compiled as a string flag.
    one(
        "flags:\n  a:\n    variations:\n      x: 0x10000000000000000\n      y: \"2\"\n    off_variation: x\n    fallthrough: x\n",
        r#"flags.yaml:5:10: flag "a" variations.y: variation "y" is a string, but "x" is a number; all variations of a flag must have the same type"#,
    );
}

#[test]
fn mixed_variation_types() {
    one(
        "flags:\n  a:\n    variations:\n      x: 1\n      y: \"2\"\n    off_variation: x\n    fallthrough: x\n",
        r#"flags.yaml:5:10: flag "a" variations.y: variation "y" is a string, but "x" is a number; all variations of a flag must have the same type"#,
    );
}

#[test]
fn null_variation() {
    one(
        "flags:\n  a:\n    variations: {x: ~}\n",
        r#"flags.yaml:3:21: flag "a" variations.x: a variation value must not be null"#,
    );
}

#[test]
fn percentages_not_summing_to_100() {
    one(
        "flags:\n  a:\n    fallthrough:\n      rollout:\n        on: 50\n        off: 49.5\n",
        r#"flags.yaml:5:9: flag "a" fallthrough rollout: percentages sum to 99.5, not 100"#,
    );
}

#[test]
fn percentage_with_more_than_3_decimals() {
    assert_eq!(
        errors("flags:\n  a:\n    fallthrough:\n      rollout: {on: 33.3333, off: 66.6667}\n"),
        [
            r#"flags.yaml:4:21: flag "a" fallthrough rollout.on: percentage 33.3333 has more than 3 decimals (the finest step is 0.001)"#,
            r#"flags.yaml:4:35: flag "a" fallthrough rollout.off: percentage 66.6667 has more than 3 decimals (the finest step is 0.001)"#,
        ]
    );
}

#[test]
fn negative_or_quoted_percentage() {
    assert_eq!(
        errors("flags:\n  a:\n    fallthrough: {rollout: {on: -10, off: '110'}}\n"),
        [
            r#"flags.yaml:3:33: flag "a" fallthrough rollout.on: percentage -10 is not between 0 and 100"#,
            r#"flags.yaml:3:43: flag "a" fallthrough rollout.off: expected a percentage (number), found a string"#,
        ]
    );
}

/// Rules serving the given rollouts, one rule per rollout, for flag "a".
fn rollout_rules(rollouts: &[&str]) -> String {
    let mut src = "flags:\n  a:\n    rules:\n".to_owned();
    for r in rollouts {
        src.push_str(&format!(
            "      - clauses: []\n        serve: {{rollout: {r}}}\n"
        ));
    }
    src
}

#[test]
fn percentages_with_huge_exponents_are_out_of_range() {
    // Each would sum to 100 if the huge value wrapped to 0.001 or 0.
    assert_eq!(
        errors(&rollout_rules(&[
            "{on: 1e9223372036854775807, off: 99.999}",
            "{on: 100e9223372036854775807, off: 99.999}",
            "{on: 1e99999999999999999999, off: 0}",
            "{on: 0.000001e9223372036854775807, off: 0}",
        ])),
        [
            r#"flags.yaml:5:31: flag "a" rule 1 serve rollout.on: percentage 1e9223372036854775807 is not between 0 and 100"#,
            r#"flags.yaml:7:31: flag "a" rule 2 serve rollout.on: percentage 100e9223372036854775807 is not between 0 and 100"#,
            r#"flags.yaml:9:31: flag "a" rule 3 serve rollout.on: percentage 1e99999999999999999999 is not between 0 and 100"#,
            r#"flags.yaml:11:31: flag "a" rule 4 serve rollout.on: percentage 0.000001e9223372036854775807 is not between 0 and 100"#,
        ]
    );
}

#[test]
fn percentages_with_huge_negative_exponents_have_too_many_decimals() {
    // `1e-99999999999999999999` is a positive number, not 0.
    assert_eq!(
        errors(&rollout_rules(&[
            "{on: 1e-99999999999999999999, off: 100}",
            "{on: 1e-9223372036854775808, off: 100}",
            "{on: 100.5e-9223372036854775807, off: 100}",
        ])),
        [
            r#"flags.yaml:5:31: flag "a" rule 1 serve rollout.on: percentage 1e-99999999999999999999 has more than 3 decimals (the finest step is 0.001)"#,
            r#"flags.yaml:7:31: flag "a" rule 2 serve rollout.on: percentage 1e-9223372036854775808 has more than 3 decimals (the finest step is 0.001)"#,
            r#"flags.yaml:9:31: flag "a" rule 3 serve rollout.on: percentage 100.5e-9223372036854775807 has more than 3 decimals (the finest step is 0.001)"#,
        ]
    );
}

#[test]
fn zero_with_any_exponent_is_zero() {
    let src = rollout_rules(&[
        "{on: 0e99999999999999999999, off: 100}",
        "{on: 0.0e-9223372036854775808, off: 100}",
    ]);
    assert!(compile_sources(&[("flags.yaml".to_owned(), src)]).is_ok());
}

#[test]
fn json_percentages_with_huge_exponents_are_refused() {
    assert_eq!(
        errors_in(
            "flags.json",
            r#"{"flags": {"a": {"fallthrough": {"rollout": {"on": 1e9223372036854775807, "off": 99.999}}}}}"#,
        ),
        [
            r#"flags.json:1:52: flag "a" fallthrough rollout.on: percentage 1e9223372036854775807 is not between 0 and 100"#
        ]
    );
}

#[test]
fn unknown_prerequisite_flag() {
    one(
        "flags:\n  a:\n    prerequisites:\n      - flag: b\n        variations: [on]\n",
        r#"flags.yaml:4:15: flag "a" prerequisite 1: unknown flag "b""#,
    );
}

#[test]
fn prerequisite_cycle() {
    one(
        "flags:\n  a:\n    prerequisites: [{flag: b, variations: [on]}]\n  b:\n    prerequisites: [{flag: a, variations: [on]}]\n",
        r#"flags.yaml:5:28: flag "b" prerequisite 1: prerequisite cycle: flag "a" → "b" → "a""#,
    );
}

#[test]
fn prerequisite_cycle_in_one_environment_names_it() {
    let src = "environments: [staging, production]\nflags:\n  a:\n    prerequisites: [{flag: b, variations: [on]}]\n  b:\n    environments:\n      production:\n        prerequisites: [{flag: a, variations: [on]}]\n";
    assert_eq!(
        errors(src),
        [
            r#"flags.yaml:8:32: flag "b" environments.production prerequisite 1: prerequisite cycle: flag "a" → "b" → "a" (in environment "production")"#
        ]
    );
}

#[test]
fn self_prerequisite() {
    one(
        "flags:\n  a:\n    prerequisites: [{flag: a, variations: [on]}]\n",
        r#"flags.yaml:3:28: flag "a" prerequisite 1: prerequisite cycle: flag "a" → "a""#,
    );
}

#[test]
fn prerequisites_too_deep() {
    let mut src = String::from("flags:\n");
    for i in 0..34 {
        src.push_str(&format!("  f{i}:\n"));
        if i > 0 {
            src.push_str(&format!(
                "    prerequisites: [{{flag: f{}, variations: [on]}}]\n",
                i - 1
            ));
        }
    }
    // f0 (line 2) has depth 1, so f32 is the first at depth 33; f_i is on line 2i + 1.
    assert_eq!(
        errors(&src),
        [r#"flags.yaml:65:3: flag "f32": prerequisites chained deeper than 32 levels"#]
    );
}

#[test]
fn unknown_segment() {
    one(
        "flags:\n  a:\n    rules:\n      - clauses:\n          - op: in_segment\n            values: [beta]\n        serve: on\n",
        r#"flags.yaml:6:22: flag "a" rule 1 clause 1: unknown segment "beta""#,
    );
}

#[test]
fn segment_cycle() {
    one(
        "segments:\n  a:\n    rules:\n      - clauses: [{op: in_segment, values: [b]}]\n  b:\n    rules:\n      - clauses: [{op: in_segment, values: [a]}]\n",
        r#"flags.yaml:7:45: segment "b" rule 1 clause 1: segment cycle: segment "a" → "b" → "a""#,
    );
}

#[test]
fn invalid_regex() {
    one(
        "flags:\n  a:\n    rules:\n      - clauses: [{attribute: email, op: matches, values: ['[a-']}]\n        serve: on\n",
        r#"flags.yaml:4:60: flag "a" rule 1 clause 1: invalid regex "[a-": unclosed character class"#,
    );
}

#[test]
fn invalid_semver() {
    one(
        "flags:\n  a:\n    rules:\n      - clauses: [{attribute: v, op: semver_lt, values: ['1.0.x']}]\n        serve: on\n",
        r#"flags.yaml:4:58: flag "a" rule 1 clause 1: invalid semver "1.0.x": expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]"#,
    );
}

#[test]
fn invalid_timestamps() {
    assert_eq!(
        errors("flags:\n  a:\n    rules:\n      - clauses: [{attribute: t, op: before, values: ['2026-02-30T00:00:00Z', 1.5]}]\n        serve: on\n"),
        [
            r#"flags.yaml:4:55: flag "a" rule 1 clause 1: invalid timestamp "2026-02-30T00:00:00Z": expected an RFC 3339 date-time such as "2026-01-31T09:00:00Z""#,
            r#"flags.yaml:4:79: flag "a" rule 1 clause 1: invalid timestamp 1.5: epoch milliseconds must be an integer of magnitude below 2^53"#,
        ]
    );
}

#[test]
fn numeric_operator_with_string() {
    one(
        "flags:\n  a:\n    rules:\n      - clauses: [{attribute: age, op: gte, values: ['18']}]\n        serve: on\n",
        r#"flags.yaml:4:54: flag "a" rule 1 clause 1 values[0]: numeric operator `gte` needs numbers, found a string"#,
    );
}

#[test]
fn empty_values() {
    one(
        "flags:\n  a:\n    rules:\n      - clauses: [{attribute: age, op: in, values: []}]\n        serve: on\n",
        r#"flags.yaml:4:52: flag "a" rule 1 clause 1 values: `values` must not be empty"#,
    );
}

#[test]
fn in_with_null_value() {
    one(
        "segments:\n  s:\n    rules:\n      - clauses:\n          - {attribute: plan, op: in, values: [pro, null]}\n",
        r#"flags.yaml:5:53: segment "s" rule 1 clause 1 values[1]: `in` values must be strings, numbers or booleans, found null"#,
    );
}

#[test]
fn unknown_operator() {
    one(
        "segments:\n  s:\n    rules:\n      - clauses: [{attribute: plan, op: equals, values: [pro]}]\n",
        "flags.yaml:4:41: segment \"s\" rule 1 clause 1 op: unknown operator `equals`; expected one of `in`, `starts_with`, `ends_with`, `contains`, `matches`, `lt`, `lte`, `gt`, `gte`, `semver_eq`, `semver_lt`, `semver_gt`, `before`, `after`, `in_segment`",
    );
}

#[test]
fn duplicate_yaml_key() {
    one(
        "flags:\n  a: {}\n  b: {}\n  a: {}\n",
        r#"flags.yaml:4:3: flags: duplicate key "a" (first defined at 2:3)"#,
    );
}

#[test]
fn duplicate_json_key() {
    assert_eq!(
        errors_in(
            "flags.json",
            "{\"flags\": {\"a\": {\"variations\": {\"x\": 1, \"x\": 2}, \"off_variation\": \"x\", \"fallthrough\": \"x\"}}}"
        ),
        [r#"flags.json:1:41: flags.a.variations: duplicate key "x" (first defined at 1:33)"#]
    );
}

#[test]
fn invalid_json() {
    assert_eq!(
        errors_in("flags.json", "{\"flags\": {\"a\": {}},}\n"),
        ["flags.json:1:21: invalid JSON: expected a string key, found '}'"]
    );
}

#[test]
fn invalid_yaml() {
    let e = errors("flags:\n  a: [1, 2\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("flags.yaml:3:1: invalid YAML: "), "{e:?}");
}

#[test]
fn anchors_are_refused() {
    assert_eq!(
        errors("flags:\n  a: &x {}\n  b: *x\n"),
        [
            "flags.yaml:2:6: flags.a: YAML anchors and aliases are not supported; repeat the value instead",
            "flags.yaml:3:6: flags.b: YAML anchors and aliases are not supported; repeat the value instead",
        ]
    );
}

#[test]
fn duplicate_flag_across_two_files_of_a_directory() {
    let dir = temp_dir("dup");
    std::fs::create_dir_all(dir.join("team")).unwrap();
    std::fs::write(dir.join("a.yaml"), "flags:\n  shared: {}\n").unwrap();
    std::fs::write(
        dir.join("team/b.yml"),
        "flags:\n  other: {}\n  shared: {}\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let errs = compile_path(&dir).unwrap_err();
    let a = dir.join("a.yaml").display().to_string();
    let b = dir.join("team/b.yml").display().to_string();
    assert_eq!(
        errs.to_string(),
        format!(r#"{b}:3:3: flag "shared": flag "shared" is defined twice (first at {a}:2:3)"#)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_path_is_a_diagnostic() {
    let errs = compile_path(std::path::Path::new("/definitely/not/here.yaml")).unwrap_err();
    assert_eq!(errs.len(), 1);
    let d = errs.iter().next().unwrap();
    assert_eq!(d.file, "/definitely/not/here.yaml");
    assert_eq!((d.line, d.column), (None, None));
    assert!(d.message.starts_with("cannot read: "), "{d}");
}

#[test]
fn bad_key_pattern() {
    assert_eq!(
        errors("flags:\n  -a: {}\nsegments:\n  'has space': {}\n"),
        [
            r#"flags.yaml:2:3: flag "-a": invalid flag key: expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}"#,
            r#"flags.yaml:4:3: segment "has space": invalid segment key: expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}"#,
        ]
    );
}

#[test]
fn bad_environment_name() {
    one(
        "environments: [prod, 'pre prod']\n",
        r#"flags.yaml:1:22: environments[1]: invalid environment name "pre prod": expected [A-Za-z0-9][A-Za-z0-9._-]{0,63}"#,
    );
}

#[test]
fn unknown_field() {
    one(
        "flags:\n  a:\n    enabeld: false\n",
        "flags.yaml:3:5: flag \"a\": unknown field `enabeld`; expected one of `variations`, `enabled`, `off_variation`, `prerequisites`, `targets`, `rules`, `fallthrough`, `description`, `owner`, `tags`, `temporary`, `expires`, `client_side`, `environments`",
    );
    one(
        "flag:\n  a: {}\n",
        "flags.yaml:1:1: unknown field `flag`; expected one of `flags`, `segments`, `environments`, `client_side`",
    );
}

#[test]
fn unknown_environment_in_override() {
    one(
        "environments: [staging]\nflags:\n  a:\n    environments:\n      prod: {enabled: false}\n",
        r#"flags.yaml:5:7: flag "a" environments: unknown environment "prod"; declared environments: "staging""#,
    );
    one(
        "flags:\n  a:\n    environments:\n      prod: {enabled: false}\n",
        "flags.yaml:4:7: flag \"a\" environments: unknown environment \"prod\": no environments are declared (add a top-level `environments` list)",
    );
}

#[test]
fn override_field_errors_name_the_environment() {
    assert_eq!(
        errors("environments: [prod]\nflags:\n  a:\n    environments:\n      prod: {enabled: 'no', fallthrough: offf}\n"),
        [
            r#"flags.yaml:5:23: flag "a" environments.prod.enabled: expected a boolean, found a string"#,
            r#"flags.yaml:5:42: flag "a" environments.prod.fallthrough: unknown variation "offf"; expected one of "on", "off""#,
        ]
    );
}

#[test]
fn duplicate_rule_id() {
    one(
        "flags:\n  a:\n    rules:\n      - id: r\n        clauses: []\n        serve: on\n      - id: r\n        clauses: []\n        serve: off\n",
        r#"flags.yaml:7:13: flag "a" rule 2 id: duplicate rule id "r" (rule 1 has it too)"#,
    );
}

#[test]
fn type_errors_and_invalid_date() {
    assert_eq!(
        errors("flags:\n  a:\n    tags: [x, 1]\n    expires: 2026-02-30\n    client_side: yes\n"),
        [
            r#"flags.yaml:3:15: flag "a" tags[1]: expected a string, found a number"#,
            r#"flags.yaml:4:14: flag "a" expires: invalid date "2026-02-30": expected YYYY-MM-DD"#,
            r#"flags.yaml:5:18: flag "a" client_side: expected a boolean, found a string"#,
        ]
    );
}

#[test]
fn missing_clause_fields() {
    assert_eq!(
        errors("segments:\n  s:\n    rules:\n      - clauses:\n          - {op: in}\n"),
        [
            r#"flags.yaml:5:13: segment "s" rule 1 clause 1: missing field `attribute`"#,
            r#"flags.yaml:5:13: segment "s" rule 1 clause 1: missing field `values`"#,
        ]
    );
}

#[test]
fn several_errors_in_one_file_are_all_reported_in_order() {
    let src = "\
flags:
  a:
    variations: {x: 1, y: 2}
    off_variation: z
    fallthrough: {rollout: {x: 60, y: 60}}
    rules:
      - clauses: [{attribute: age, op: lt, values: [ten]}]
        serve: w
  b:
    prerequisites: [{flag: nope, variations: [on]}]
    colour: red
segments:
  s:
    rules:
      - clauses: [{op: in_segment, values: [t]}]
";
    assert_eq!(
        errors(src),
        [
            r#"flags.yaml:4:20: flag "a" off_variation: unknown variation "z"; expected one of "x", "y""#,
            r#"flags.yaml:5:28: flag "a" fallthrough rollout: percentages sum to 120, not 100"#,
            r#"flags.yaml:7:53: flag "a" rule 1 clause 1 values[0]: numeric operator `lt` needs numbers, found a string"#,
            r#"flags.yaml:8:16: flag "a" rule 1 serve: unknown variation "w"; expected one of "x", "y""#,
            r#"flags.yaml:10:28: flag "b" prerequisite 1: unknown flag "nope""#,
            "flags.yaml:11:5: flag \"b\": unknown field `colour`; expected one of `variations`, `enabled`, `off_variation`, `prerequisites`, `targets`, `rules`, `fallthrough`, `description`, `owner`, `tags`, `temporary`, `expires`, `client_side`, `environments`",
            r#"flags.yaml:15:45: segment "s" rule 1 clause 1: unknown segment "t""#,
        ]
    );
}

#[test]
fn errors_sorted_across_files() {
    let errs = compile_sources(&[
        ("b.yaml".into(), "flags:\n  x: {enabled: 1}\n".into()),
        ("a.yaml".into(), "flags:\n  y: {enabled: 2}\n".into()),
    ])
    .unwrap_err();
    let files: Vec<_> = errs.iter().map(|d| d.file.as_str()).collect();
    assert_eq!(files, ["a.yaml", "b.yaml"]);
}

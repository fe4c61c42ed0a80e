//! Compiles small sources, loads them with the evaluator and checks what they do.

use edgeflag_compiler::{compile_sources, CompiledEnv};
use edgeflag_evaluator::model::{Instant, Op, Serve, Slice, Value};
use edgeflag_evaluator::{format, instant, Context, FlagValue, Reason, Ruleset};

fn compile(src: &str) -> Vec<CompiledEnv> {
    compile_sources(&[("flags.yaml".to_owned(), src.to_owned())])
        .unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
}

fn load(env: &CompiledEnv) -> Ruleset {
    let bytes = format::encode(
        &env.body,
        &format::EncodeOptions {
            environment: &env.name,
            version: 1,
            epoch: 1,
            created_at_ms: 0,
        },
    )
    .unwrap();
    Ruleset::from_bytes(&bytes).unwrap_or_else(|e| panic!("ruleset refused: {e}"))
}

fn one(src: &str) -> Ruleset {
    let envs = compile(src);
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].name, "default");
    load(&envs[0])
}

fn variation<'r>(rs: &'r Ruleset, flag: &str, ctx: &Context) -> (&'r str, &'static str) {
    let d = rs.evaluate(flag, ctx);
    (d.variation.unwrap_or("<none>"), d.reason.kind())
}

#[test]
fn targets_go_to_the_first_declared_variation() {
    let rs = one("\
flags:
  f:
    variations: {a: 1, b: 2, c: 3}
    off_variation: a
    fallthrough: a
    targets:
      c: [u1, u2, u2]
      b: [u2, u3]
");
    let f = rs.flag("f").unwrap();
    let keys: Vec<_> = f
        .targets
        .iter()
        .map(|t| (rs.str(t.key), t.variation))
        .collect();
    assert_eq!(keys, [("u1", 2), ("u2", 1), ("u3", 1)]);
    assert_eq!(
        variation(&rs, "f", &Context::new("u2")),
        ("b", "TARGET_MATCH")
    );
    assert_eq!(
        variation(&rs, "f", &Context::new("u1")),
        ("c", "TARGET_MATCH")
    );
    assert_eq!(
        variation(&rs, "f", &Context::new("u9")),
        ("a", "FALLTHROUGH")
    );
}

#[test]
fn rollout_slices_are_cumulative_thousandths_in_listed_order() {
    // Bucket of salt `new-checkout`, value `user-42` is 8050 (semantics §5).
    let src = |a: &str, b: &str| {
        format!(
            "flags:\n  new-checkout:\n    fallthrough:\n      rollout: {{zero: 0, on: {a}, off: {b}}}\n    variations: {{on: true, off: false, zero: true}}\n"
        )
    };
    let rs = one(&src("8.05", "91.95"));
    let f = rs.flag("new-checkout").unwrap();
    let Serve::Rollout(r) = &f.fallthrough else {
        panic!("not a rollout")
    };
    assert_eq!(rs.str(r.salt), "new-checkout");
    assert_eq!(rs.str(rs.body().attributes[r.bucket_by as usize]), "key");
    assert_eq!(
        r.slices,
        [
            Slice {
                upper: 0,
                variation: 2
            },
            Slice {
                upper: 8050,
                variation: 0
            },
            Slice {
                upper: 100_000,
                variation: 1
            },
        ]
    );
    let d = rs.evaluate("new-checkout", &Context::new("user-42"));
    assert_eq!((d.variation, d.in_rollout), (Some("off"), true));
    let rs = one(&src("8.051", "91.949"));
    let d = rs.evaluate("new-checkout", &Context::new("user-42"));
    assert_eq!((d.variation, d.in_rollout), (Some("on"), true));
}

#[test]
fn rollout_bucket_by_and_salt() {
    let rs = one("\
flags:
  f:
    rules:
      - clauses: []
        serve: {rollout: {on: 100, off: 0}, bucket_by: org, salt: s1}
");
    let f = rs.flag("f").unwrap();
    let Serve::Rollout(r) = &f.rules[0].serve else {
        panic!()
    };
    assert_eq!(rs.str(r.salt), "s1");
    assert_eq!(rs.str(rs.body().attributes[r.bucket_by as usize]), "org");
    // No `org`: the rule cannot bucket and is skipped.
    assert_eq!(
        variation(&rs, "f", &Context::new("u")),
        ("on", "FALLTHROUGH")
    );
    let d = rs.evaluate("f", &Context::new("u").with("org", "acme"));
    assert_eq!(d.reason.kind(), "RULE_MATCH");
    assert!(d.in_rollout);
}

#[test]
fn environment_overrides_replace_fields_wholesale() {
    let envs = compile(
        "\
environments: [staging, production]
flags:
  f:
    rules:
      - id: de
        clauses: [{attribute: country, op: in, values: [DE]}]
        serve: off
    environments:
      production:
        enabled: false
      staging:
        rules:
          - clauses: [{attribute: country, op: in, values: [FR]}]
            serve: off
",
    );
    let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["staging", "production"]);
    let staging = load(&envs[0]);
    let production = load(&envs[1]);
    let de = Context::new("u").with("country", "DE");
    let fr = Context::new("u").with("country", "FR");
    assert_eq!(variation(&staging, "f", &de), ("on", "FALLTHROUGH"));
    assert_eq!(variation(&staging, "f", &fr), ("off", "RULE_MATCH"));
    assert_eq!(variation(&production, "f", &de), ("off", "OFF"));
    assert_eq!(production.header().environment, "production");
}

#[test]
fn numeric_bounds_are_reduced() {
    let rs = one("\
flags:
  f:
    variations: {lt: lt, lte: lte, gt: gt, gte: gte, none: none}
    off_variation: none
    fallthrough: none
    rules:
      - clauses: [{attribute: n, op: lt, values: [10, 20]}]
        serve: lt
      - clauses: [{attribute: n, op: gt, values: [100, 50]}]
        serve: gt
      - clauses: [{attribute: n, op: lte, values: [25, 0x10]}]
        serve: lte
      - clauses: [{attribute: n, op: gte, values: [40, 45.5]}]
        serve: gte
");
    let ops: Vec<_> = rs
        .flag("f")
        .unwrap()
        .rules
        .iter()
        .map(|r| r.clauses[0].op.clone())
        .collect();
    assert_eq!(
        ops,
        [Op::Lt(20.0), Op::Gt(50.0), Op::Lte(25.0), Op::Gte(40.0)]
    );
    let at = |n: f64| variation(&rs, "f", &Context::new("u").with("n", n)).0;
    assert_eq!(at(19.5), "lt");
    assert_eq!(at(51.0), "gt");
    assert_eq!(at(25.0), "lte");
    assert_eq!(at(40.0), "gte");
    assert_eq!(at(30.0), "none");
}

#[test]
fn before_and_after_take_the_widest_bound() {
    let rs = one("\
flags:
  f:
    variations: {before: b, after: a, none: n}
    off_variation: none
    fallthrough: none
    rules:
      - clauses: [{attribute: t, op: before, values: ['2026-01-01T00:00:00Z', 1767312000000]}]
        serve: before
      - clauses: [{attribute: t, op: after, values: ['2027-01-01T00:00:00+01:00', 1830384000000]}]
        serve: after
");
    let f = rs.flag("f").unwrap();
    // 1767312000000 ms is 2026-01-02T00:00:00Z, the later of the two.
    assert_eq!(
        f.rules[0].clauses[0].op,
        Op::Before(instant::parse_rfc3339("2026-01-02T00:00:00Z").unwrap())
    );
    // 2027-01-01T00:00:00+01:00 is 2026-12-31T23:00:00Z, before 1830384000000 (2028).
    assert_eq!(
        f.rules[1].clauses[0].op,
        Op::After(Instant(1_798_758_000 * 1_000_000_000))
    );
    let at = |t: &str| variation(&rs, "f", &Context::new("u").with("t", t)).0;
    assert_eq!(at("2026-01-01T12:00:00Z"), "before");
    assert_eq!(at("2026-12-31T23:30:00Z"), "after");
    assert_eq!(at("2026-06-01T00:00:00Z"), "none");
}

#[test]
fn in_sets_are_sorted_and_deduplicated() {
    let rs = one("\
flags:
  f:
    rules:
      - clauses: [{attribute: x, op: in, values: [b, a, b, 3, -0.0, 0, 1.5, true, '10']}]
        serve: off
");
    let Op::In(set) = &rs.flag("f").unwrap().rules[0].clauses[0].op else {
        panic!()
    };
    let strings: Vec<_> = set.strings.iter().map(|&s| rs.str(s)).collect();
    assert_eq!(strings, ["10", "a", "b"]);
    assert_eq!(set.numbers, [0.0, 1.5, 3.0]);
    assert!(set.has_true && !set.has_false);
    assert_eq!(
        variation(&rs, "f", &Context::new("u").with("x", 0.0)).0,
        "off"
    );
    assert_eq!(
        variation(&rs, "f", &Context::new("u").with("x", true)).0,
        "off"
    );
    assert_eq!(
        variation(&rs, "f", &Context::new("u").with("x", "10")).0,
        "off"
    );
    assert_eq!(
        variation(&rs, "f", &Context::new("u").with("x", 10.0)).0,
        "on"
    );
}

#[test]
fn semver_bounds_and_string_operators() {
    let rs = one("\
flags:
  f:
    variations: {lt: lt, gt: gt, eq: eq, re: re, none: none}
    off_variation: none
    fallthrough: none
    rules:
      - clauses: [{attribute: v, op: semver_eq, values: ['1.2.3-rc.1', 2]}]
        serve: eq
      - clauses: [{attribute: v, op: semver_lt, values: ['1.0.0', '1.5.0-beta', 1.2]}]
        serve: lt
      - clauses: [{attribute: v, op: semver_gt, values: ['3.0.0', '3.0.0-alpha']}]
        serve: gt
      - clauses:
          - {attribute: email, op: matches, values: ['@acme\\.com$', '@acme\\.com$']}
          - {attribute: email, op: starts_with, values: [ann]}
          - {attribute: email, op: contains, values: [n@]}
          - {attribute: email, op: ends_with, values: [.com], negate: false}
        serve: re
");
    let f = rs.flag("f").unwrap();
    let Op::SemverLt(lt) = &f.rules[1].clauses[0].op else {
        panic!()
    };
    assert_eq!((lt.major, lt.minor, lt.patch, lt.pre), (1, 5, 0, lt.pre));
    assert_eq!(rs.str(lt.pre.unwrap()), "beta");
    let Op::SemverGt(gt) = &f.rules[2].clauses[0].op else {
        panic!()
    };
    assert_eq!(rs.str(gt.pre.unwrap()), "alpha");
    assert_eq!(f.rules[3].clauses[0].op, Op::Matches(vec![0]));
    assert_eq!(rs.body().regexes.len(), 1);
    let at = |attr: &str, v: &str| variation(&rs, "f", &Context::new("u").with(attr, v)).0;
    assert_eq!(at("v", "2.0.0"), "eq");
    assert_eq!(at("v", "1.2.3-rc.1"), "eq");
    assert_eq!(at("v", "1.4.9"), "lt");
    assert_eq!(at("v", "3.0.0-alpha.1"), "gt");
    assert_eq!(at("v", "1.5.0"), "none");
    assert_eq!(at("email", "ann@acme.com"), "re");
    assert_eq!(at("email", "bob@acme.com"), "none");
}

#[test]
fn segments_prerequisites_and_storage_order() {
    let rs = one("\
flags:
  checkout:
    prerequisites: [{flag: payments, variations: [on]}]
    rules:
      - id: staff
        clauses: [{op: in_segment, values: [staff-or-beta]}]
        serve: on
    fallthrough: off
  payments:
    rules:
      - clauses: [{attribute: country, op: in, values: [XX], negate: true}]
        serve: on
    fallthrough: off
segments:
  staff-or-beta:
    rules:
      - clauses: [{op: in_segment, values: [beta]}]
      - clauses: [{attribute: email, op: ends_with, values: ['@acme.com']}]
  beta:
    include: [u2, u1, u1]
    exclude: [u3]
    rules:
      - clauses: [{attribute: plan, op: in, values: [beta]}]
");
    let keys: Vec<_> = rs.flag_keys().collect();
    assert_eq!(keys, ["payments", "checkout"]);
    let segs: Vec<_> = rs.body().segments.iter().map(|s| rs.str(s.key)).collect();
    assert_eq!(segs, ["beta", "staff-or-beta"]);
    let beta = &rs.body().segments[0];
    let inc: Vec<_> = beta.include.iter().map(|&s| rs.str(s)).collect();
    assert_eq!(inc, ["u1", "u2"]);

    // `payments` serves `on` only to contexts with a country other than XX (an
    // absent attribute never matches, even negated).
    let de = |key: &str| Context::new(key).with("country", "DE");
    assert_eq!(
        rs.evaluate("checkout", &Context::new("u1")).reason,
        Reason::PrerequisiteFailed {
            prerequisite: "payments"
        }
    );
    let d = rs.evaluate("checkout", &de("u1"));
    assert_eq!(
        d.reason,
        Reason::RuleMatch {
            rule_index: 0,
            rule_id: Some("staff")
        }
    );
    let excluded = de("u3").with("plan", "beta");
    assert_eq!(
        variation(&rs, "checkout", &excluded),
        ("off", "FALLTHROUGH")
    );
    let staff = de("u3").with("email", "x@acme.com");
    assert_eq!(variation(&rs, "checkout", &staff), ("on", "RULE_MATCH"));
    let blocked = Context::new("u1").with("country", "XX");
    let d = rs.evaluate("checkout", &blocked);
    assert_eq!(
        d.reason,
        Reason::PrerequisiteFailed {
            prerequisite: "payments"
        }
    );
}

#[test]
fn variation_values_of_every_type() {
    let rs = one("\
flags:
  s: {variations: {a: x, b: 'y'}, off_variation: a, fallthrough: b}
  n: {variations: {a: 1.5, b: -2}, off_variation: a, fallthrough: b}
  j:
    variations:
      a: {z: 1, a: [true, null, 'q'], m: {}}
      b: [1, 2.5]
    off_variation: b
    fallthrough: a
    client_side: true
");
    let ctx = Context::new("u");
    assert_eq!(rs.evaluate("s", &ctx).value, Some(FlagValue::String("y")));
    assert_eq!(rs.evaluate("n", &ctx).value, Some(FlagValue::Number(-2.0)));
    assert_eq!(
        rs.evaluate("j", &ctx).value,
        Some(FlagValue::Json(r#"{"z":1,"a":[true,null,"q"],"m":{}}"#))
    );
    let j = rs.flag("j").unwrap();
    assert!(j.client_side);
    assert!(!rs.flag("s").unwrap().client_side);
    let Value::Json(b) = j.variations[1].value else {
        panic!()
    };
    assert_eq!(rs.str(b), "[1,2.5]");
}

#[test]
fn strings_are_interned_once() {
    let envs = compile(
        "\
flags:
  on:
    rules:
      - clauses: [{attribute: key, op: in, values: [on, 'off']}]
        serve: {rollout: {on: 50, off: 50}, salt: on}
",
    );
    let t = &envs[0].body.strings;
    let all: Vec<_> = (0..t.len() as u32).map(|i| t.get(i)).collect();
    let mut dedup = all.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(all.len(), dedup.len(), "{all:?}");
    assert_eq!(envs[0].body.attributes.len(), 1);
}

#[test]
fn json_and_yaml_sources_compile_to_identical_bodies() {
    let yaml = "\
environments: [prod]
segments:
  s: {include: [a], rules: [{clauses: [{attribute: n, op: gte, values: [1.5]}]}]}
flags:
  f:
    variations: {x: {k: [1, 'two']}, y: [3]}
    off_variation: y
    prerequisites: [{flag: g, variations: [on]}]
    targets: {x: [u1]}
    rules:
      - id: r1
        clauses: [{op: in_segment, values: [s]}, {attribute: v, op: semver_gt, values: ['1.0.0']}]
        serve: {rollout: {x: 12.5, y: 87.5}}
    fallthrough: x
    environments:
      prod: {enabled: false}
  g: {}
";
    let json = r#"{
  "environments": ["prod"],
  "segments": {
    "s": {"include": ["a"], "rules": [{"clauses": [{"attribute": "n", "op": "gte", "values": [1.5]}]}]}
  },
  "flags": {
    "f": {
      "variations": {"x": {"k": [1, "two"]}, "y": [3]},
      "off_variation": "y",
      "prerequisites": [{"flag": "g", "variations": ["on"]}],
      "targets": {"x": ["u1"]},
      "rules": [
        {
          "id": "r1",
          "clauses": [
            {"op": "in_segment", "values": ["s"]},
            {"attribute": "v", "op": "semver_gt", "values": ["1.0.0"]}
          ],
          "serve": {"rollout": {"x": 12.5, "y": 87.5}}
        }
      ],
      "fallthrough": "x",
      "environments": {"prod": {"enabled": false}}
    },
    "g": {}
  }
}"#;
    let a = compile_sources(&[("flags.yaml".into(), yaml.into())]).unwrap();
    let b = compile_sources(&[("flags.json".into(), json.into())]).unwrap();
    assert_eq!(a, b);
    // Tab-indented JSON is JSON too.
    let tabbed = json.replace("  ", "\t");
    let c = compile_sources(&[("flags.json".into(), tabbed)]).unwrap();
    assert_eq!(a, c);
}

#[test]
fn output_is_deterministic() {
    let src = "\
flags:
  b: {prerequisites: [{flag: a, variations: [on, off]}]}
  a: {rules: [{clauses: [{attribute: x, op: in, values: [q, p]}], serve: on}]}
";
    let one = compile(src);
    for _ in 0..5 {
        assert_eq!(compile(src), one);
    }
}

#[test]
fn empty_sources_compile_to_empty_rulesets() {
    let rs = one("");
    assert!(rs.is_empty());
    let rs = one("# just a comment\nflags: {}\n");
    assert!(rs.is_empty());
}

#[test]
fn merges_files_in_order() {
    let envs = compile_sources(&[
        (
            "b.yaml".into(),
            "flags:\n  b: {prerequisites: [{flag: a, variations: [on]}]}\n".into(),
        ),
        (
            "a.yaml".into(),
            "environments: [e1]\nflags:\n  a: {}\n".into(),
        ),
    ])
    .unwrap();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].name, "e1");
    let rs = load(&envs[0]);
    assert_eq!(rs.flag_keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn compiles_ten_thousand_flags() {
    let mut src = String::from("segments:\n  beta: {include: [u1]}\nflags:\n");
    for i in 0..10_000 {
        src.push_str(&format!(
            "  flag-{i}:\n    description: generated flag {i}\n    rules:\n      - clauses:\n          - {{attribute: country, op: in, values: [DE, FR, 'c{i}']}}\n          - {{op: in_segment, values: [beta]}}\n        serve: {{rollout: {{on: 12.5, off: 87.5}}}}\n    targets: {{on: [user-{i}]}}\n"
        ));
        if i > 0 && i % 3 == 0 {
            src.push_str(&format!(
                "    prerequisites: [{{flag: flag-{}, variations: [on]}}]\n",
                i - 1
            ));
        }
    }
    let envs = compile(&src);
    let rs = load(&envs[0]);
    assert_eq!(rs.len(), 10_000);
    let d = rs.evaluate("flag-42", &Context::new("user-42"));
    assert_eq!(d.reason.kind(), "TARGET_MATCH");
}

//! Client rulesets: what they keep, what they hide, what they refuse, and that
//! their answers equal the server ruleset's for every client-side flag.

use edgeflag_compiler::{client, compile_sources, CompiledEnv};
use edgeflag_evaluator::model::{Body, Op};
use edgeflag_evaluator::{format, Context, DecodeError, Invariant, Ruleset};
use edgeflag_testkit::alloc::{allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Client-side flags using every kind of hashed and clear lookup, a non-client
/// prerequisite, segments (nested, with include/exclude) and a server-only flag
/// with its own targets and segment.
const PROJECT: &str = r##"
environments: [staging, production]
client_side:
  clear_attributes: [path]
segments:
  staff:
    include: [carol@corp.example]
    exclude: [mallory@corp.example]
    rules:
      - clauses: [{attribute: team, op: in, values: [payments, search]}]
  beta:
    include: [dave@example.com]
    rules:
      - clauses: [{attribute: plan, op: in, values: [enterprise]}]
      - clauses: [{op: in_segment, values: [staff]}]
  internal-only:
    include: [secret-agent@example.com]
flags:
  checkout-v2:
    client_side: true
    prerequisites: [{flag: payments-ready, variations: [on]}]
    targets:
      on: [alice@example.com, bob@example.com]
      off: [eve@example.com]
    rules:
      - id: beta-users
        clauses: [{op: in_segment, values: [beta]}]
        serve: on
      - clauses:
          - {attribute: country, op: in, values: [DE, FR, "42"]}
          - {attribute: age, op: gte, values: [18]}
        serve: {rollout: {on: 30, off: 70}}
      - clauses: [{attribute: path, op: starts_with, values: [/admin]}]
        serve: off
    fallthrough: off
  payments-ready:
    targets: {off: [frank@example.com]}
    rules:
      - clauses: [{attribute: country, op: in, values: [XX], negate: true}]
        serve: on
    fallthrough: off
  banner:
    client_side: true
    variations: {red: "#f00", blue: "#00f", none: ""}
    off_variation: none
    rules:
      - clauses: [{attribute: email, op: in, values: [grace@example.com]}]
        serve: red
      - clauses: [{attribute: tags, op: in, values: [vip]}]
        serve: blue
    fallthrough: {rollout: {red: 50, blue: 50}, bucket_by: email}
    environments:
      production: {enabled: false}
  server-only:
    targets: {on: [heidi@example.com]}
    rules:
      - clauses: [{op: in_segment, values: [internal-only]}]
        serve: on
      - clauses: [{attribute: email, op: ends_with, values: ["@corp.example"]}]
        serve: on
"##;

fn compile(src: &str) -> Vec<CompiledEnv> {
    compile_sources(&[("flags.yaml".into(), src.into())]).unwrap_or_else(|d| panic!("{d}"))
}

fn errors(src: &str) -> Vec<String> {
    match compile_sources(&[("flags.yaml".into(), src.into())]) {
        Ok(_) => panic!("compiled"),
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

fn load(env: &str, body: &Body) -> Ruleset {
    let bytes = format::encode(body, &format::EncodeOptions::unpublished(env)).unwrap();
    Ruleset::from_bytes(&bytes).unwrap()
}

fn contexts() -> Vec<Context> {
    let keys = [
        "alice@example.com",
        "bob@example.com",
        "eve@example.com",
        "carol@corp.example",
        "mallory@corp.example",
        "dave@example.com",
        "frank@example.com",
        "secret-agent@example.com",
        "u-1",
        "u-2",
        "u-3",
        "",
    ];
    let mut out = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        for j in 0..24usize {
            let mut c = Context::new(*key);
            let n = i * 24 + j;
            if n % 2 == 0 {
                c = c.with("country", ["DE", "FR", "US", "XX", "42"][n % 5]);
            } else if n % 7 == 1 {
                c = c.with("country", 42.0);
            }
            if n % 3 != 0 {
                c = c.with("age", (n % 40) as f64);
            }
            if n % 4 == 1 {
                c = c.with("team", ["payments", "search", "ads"][n % 3]);
            }
            if n % 5 == 2 {
                c = c.with("plan", ["enterprise", "free"][n % 2]);
            }
            if n % 6 == 3 {
                c = c.with("path", ["/admin/users", "/home", "/adm"][n % 3]);
            }
            if n % 2 == 1 {
                c = c.with("email", ["grace@example.com", "x@corp.example", key][n % 3]);
            }
            if n % 8 == 5 {
                c = c.with("tags", ["new", "vip"][..(n % 3).min(2)].to_vec());
            }
            out.push(c);
        }
    }
    out
}

#[test]
fn client_rulesets_answer_as_the_server_rulesets_do_for_client_side_flags() {
    let contexts = contexts();
    for env in compile(PROJECT) {
        let server = load(&env.name, &env.body);
        let client_env = client::client_environment(&env.name);
        let client = load(&client_env, env.client.as_ref().unwrap());
        assert!(client.is_client() && !server.is_client());
        let mut reasons = std::collections::BTreeSet::new();
        for key in ["checkout-v2", "banner"] {
            for ctx in &contexts {
                let (s, c) = (server.evaluate(key, ctx), client.evaluate(key, ctx));
                assert_eq!(s, c, "{} {key} {ctx:?}", env.name);
                reasons.insert(format!("{:?}", s.reason));
            }
        }
        // The contexts reach every way a flag can decide.
        for r in [
            "TargetMatch",
            "RuleMatch",
            "Fallthrough",
            "PrerequisiteFailed",
        ] {
            assert!(reasons.iter().any(|x| x.starts_with(r)), "{r}: {reasons:?}");
        }
    }
}

#[test]
fn client_rulesets_hold_no_keys_no_hashed_values_and_no_server_only_flags() {
    for env in compile(PROJECT) {
        let body = env.client.as_ref().unwrap();
        let blob = &body.strings.blob;
        for secret in [
            "alice@",
            "bob@",
            "eve@",
            "carol@",
            "mallory@",
            "dave@",
            "frank@",
            "grace@",
            "heidi@",
            "secret-agent",
            "search",
            "enterprise",
            "vip",
            "server-only",
            "internal-only",
            "@corp.example",
        ] {
            assert!(!blob.contains(secret), "{secret} in {blob}");
        }
        // Clear attributes keep their values; flag keys, variations and the
        // prerequisite stay readable.
        for clear in [
            "/admin",
            "checkout-v2",
            "payments-ready",
            "#f00",
            "beta-users",
        ] {
            assert!(blob.contains(clear), "{clear} missing from {blob}");
        }
        let rs = load(&client::client_environment(&env.name), body);
        // The prerequisite is carried, not shown.
        let keys: Vec<&str> = rs.flag_keys().collect();
        assert_eq!(keys, ["checkout-v2", "banner"]);
        assert_eq!(rs.len(), 2);
        assert!(rs.flag("payments-ready").is_none());
        let u1 = Context::new("u1");
        let shown: Vec<&str> = rs.all_flags(&u1).map(|(k, _)| k).collect();
        assert_eq!(shown, keys);
        assert_eq!(body.segments.len(), 2, "staff and beta only");
    }
}

#[test]
fn client_rulesets_are_deterministic_and_ignore_server_only_changes() {
    let a = compile(PROJECT);
    let b = compile(PROJECT);
    assert_eq!(a, b);
    let changed = PROJECT.replace("heidi@example.com", "ivan@example.com");
    let c = compile(&changed);
    assert_ne!(a[0].body, c[0].body);
    assert_eq!(
        a[0].client, c[0].client,
        "a server-only change leaves it alone"
    );
    let client_change = PROJECT.replace("bob@example.com", "bobby@example.com");
    let d = compile(&client_change);
    let (sa, sd) = (
        a[0].client.as_ref().unwrap().client.as_ref().unwrap().salt,
        d[0].client.as_ref().unwrap().client.as_ref().unwrap().salt,
    );
    assert_ne!(sa, sd, "the salt follows the client content");
    // Environments get different salts (their content differs here; even equal
    // content is salted by what it holds, not by a shared constant).
    assert_ne!(
        a[0].client.as_ref().unwrap().client,
        a[1].client.as_ref().unwrap().client
    );
}

#[test]
fn projects_without_client_side_flags_have_no_client_rulesets() {
    let envs = compile("flags: {a: {targets: {on: [u1]}}}\n");
    assert!(envs[0].client.is_none());
}

#[test]
fn partial_matches_on_hashed_attributes_are_refused_where_written() {
    let e = errors(
        "flags:\n  a:\n    client_side: true\n    rules:\n      - clauses: [{attribute: email, op: ends_with, values: [\"@x.com\"]}]\n        serve: on\n",
    );
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "flags.yaml:2:3: flag \"a\" rule 1 clause 1: `ends_with` on attribute \"email\""
        ),
        "{e:?}"
    );
    assert!(e[0].contains("client_side.clear_attributes"), "{e:?}");

    // Reached through a prerequisite and a segment: reported at each of them.
    let e = errors(
        r#"
segments:
  s:
    rules: [{clauses: [{attribute: name, op: matches, values: ["^a"]}]}]
flags:
  p:
    rules: [{clauses: [{attribute: path, op: contains, values: [x]}], serve: on}]
  a:
    client_side: true
    prerequisites: [{flag: p, variations: [on]}]
    rules: [{clauses: [{op: in_segment, values: [s]}], serve: on}]
"#,
    );
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with(
            "flags.yaml:3:3: segment \"s\" rule 1 clause 1: `matches` on attribute \"name\""
        ),
        "{e:?}"
    );
    assert!(
        e[1].starts_with(
            "flags.yaml:6:3: flag \"p\" rule 1 clause 1: `contains` on attribute \"path\""
        ),
        "{e:?}"
    );
    let fixed = errors(
        r#"
segments:
  s:
    rules: [{clauses: [{attribute: name, op: matches, values: ["^a"]}]}]
client_side: {clear_attributes: [path]}
flags:
  a:
    client_side: true
    rules: [{clauses: [{op: in_segment, values: [s]}], serve: on}]
"#,
    );
    assert!(
        fixed[0].starts_with("flags.yaml:3:3: segment \"s\" rule 1 clause 1: `matches`"),
        "{fixed:?}"
    );

    // Server-only flags may use them; a clear attribute allows them.
    compile("flags:\n  a:\n    rules: [{clauses: [{attribute: email, op: ends_with, values: [x]}], serve: on}]\n  b: {client_side: true}\n");
    compile("client_side: {clear_attributes: [email]}\nflags:\n  a:\n    client_side: true\n    rules: [{clauses: [{attribute: email, op: ends_with, values: [x]}], serve: on}]\n");
}

#[test]
fn client_environment_names_are_reserved_and_bounded() {
    let e = errors("environments: [prod, prod.client]\nflags: {a: {}}\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("reserved for client rulesets"), "{e:?}");
    let long = "e".repeat(60);
    let e = errors(&format!(
        "environments: [{long}]\nflags: {{a: {{client_side: true}}}}\n"
    ));
    assert!(e[0].contains("too long to have a client ruleset"), "{e:?}");
    compile(&format!("environments: [{long}]\nflags: {{a: {{}}}}\n"));
}

#[test]
fn loaders_refuse_client_rulesets_that_store_values_in_clear() {
    let env = &compile(PROJECT)[0];
    let name = client::client_environment(&env.name);
    let good = env.client.clone().unwrap();

    // A target key in clear.
    let mut b = good.clone();
    let flag = b.flags.iter().position(|f| !f.targets.is_empty()).unwrap();
    b.strings.blob.push_str("alice@example.com");
    b.strings.ends.push(b.strings.blob.len() as u32);
    let clear_id = b.strings.ends.len() as u32 - 1;
    b.flags[flag].targets = vec![edgeflag_evaluator::model::Target {
        key: clear_id,
        variation: 0,
    }];
    let bytes = format::encode(&b, &format::EncodeOptions::unpublished(&name)).unwrap();
    assert!(matches!(
        Ruleset::from_bytes(&bytes),
        Err(DecodeError::Invalid(Invariant::NotHashed {
            what: "target key"
        }))
    ));

    // A partial match on a hashed attribute.
    let mut b = good.clone();
    let (fi, ri, ci) = b
        .flags
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| {
            f.rules.iter().enumerate().flat_map(move |(ri, r)| {
                r.clauses
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c.op, Op::StartsWith(_)))
                    .map(move |(ci, _)| (fi, ri, ci))
            })
        })
        .next()
        .unwrap();
    b.client.as_mut().unwrap().clear_attributes.clear();
    let _ = &b.flags[fi].rules[ri].clauses[ci];
    let bytes = format::encode(&b, &format::EncodeOptions::unpublished(&name)).unwrap();
    assert!(matches!(
        Ruleset::from_bytes(&bytes),
        Err(DecodeError::Invalid(Invariant::UnhashableClause { .. }))
    ));

    // A clear-attribute list out of order or out of range.
    let mut b = good;
    b.client.as_mut().unwrap().clear_attributes = vec![9999];
    let bytes = format::encode(&b, &format::EncodeOptions::unpublished(&name)).unwrap();
    assert!(matches!(
        Ruleset::from_bytes(&bytes),
        Err(DecodeError::Invalid(Invariant::ClearAttributes))
    ));
}

#[test]
fn evaluating_a_client_ruleset_does_not_allocate() {
    let env = &compile(PROJECT)[0];
    let rs = load(
        &client::client_environment(&env.name),
        env.client.as_ref().unwrap(),
    );
    let contexts = contexts();
    let before = allocations();
    let mut on = 0;
    for ctx in &contexts {
        on += usize::from(rs.bool_value("checkout-v2", ctx, false));
        on += rs.string_value("banner", ctx, "").len();
    }
    assert_eq!(allocations() - before, 0);
    assert!(on > 0);
}

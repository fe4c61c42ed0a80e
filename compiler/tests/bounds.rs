//! The loader's bounds, applied by the compiler with the same code and reported
//! where the cost arises: duplicate references, the evaluation cost bound and the
//! regex budget.

use edgeflag_compiler::compile_sources;
use edgeflag_evaluator::format::{encode, EncodeOptions};
use edgeflag_evaluator::limits::{MAX_EVAL_COST, REGEX_MEMORY_BUDGET};
use edgeflag_evaluator::Ruleset;

fn errors(src: &str) -> Vec<String> {
    match compile_sources(&[("flags.yaml".to_owned(), src.to_owned())]) {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

/// Compiles, encodes and loads `src` (one environment).
fn loads(src: &str) -> Ruleset {
    let envs = compile_sources(&[("flags.yaml".to_owned(), src.to_owned())]).unwrap();
    let bytes = encode(&envs[0].body, &EncodeOptions::unpublished(&envs[0].name)).unwrap();
    Ruleset::from_bytes(&bytes).unwrap()
}

#[test]
fn a_prerequisite_listed_twice_is_an_error() {
    let src = "flags:\n  a: {}\n  b:\n    prerequisites:\n      - {flag: a, variations: [on]}\n      - {flag: a, variations: [off]}\n";
    assert_eq!(
        errors(src),
        [r#"flags.yaml:6:16: flag "b" prerequisite 2: prerequisite "a" is listed twice"#]
    );
}

#[test]
fn a_segment_listed_twice_in_a_clause_is_an_error() {
    let src = "segments:\n  s: {include: [u1]}\nflags:\n  a:\n    rules:\n      - clauses: [{op: in_segment, values: [s, s]}]\n        serve: on\n";
    assert_eq!(
        errors(src),
        [r#"flags.yaml:6:48: flag "a" rule 1 clause 1: segment "s" is listed twice"#]
    );
}

/// `n` flags, each requiring every flag before it.
fn all_earlier_flags(n: usize) -> String {
    let mut src = String::from("flags:\n");
    for i in 0..n {
        src += &format!("  f{i}:\n    prerequisites: [");
        for p in 0..i {
            src += &format!("{{flag: f{p}, variations: [on]}}, ");
        }
        src += "]\n";
    }
    src
}

#[test]
fn exponential_prerequisites_are_refused_where_they_pass_the_bound() {
    // 32 flags took 16 s to evaluate once; flag i costs 2^i steps.
    let errs = errors(&all_earlier_flags(32));
    assert_eq!(
        errs,
        [format!(
            "flags.yaml:36:3: flag \"f17\": one evaluation may take {} steps, more than the \
             limit of {MAX_EVAL_COST} (every clause, value tested in turn, segment and \
             prerequisite counts each time evaluation reaches it)",
            1 << 17
        )]
    );
    // The largest chain that stays within it compiles and loads.
    let rs = loads(&all_earlier_flags(17));
    assert_eq!(rs.len(), 17);
}

#[test]
fn exponential_segments_are_refused_where_they_pass_the_bound() {
    let seg = |n: usize| {
        let mut src = String::from("segments:\n");
        for i in 0..n {
            let refs: Vec<String> = (0..i).map(|s| format!("s{s}")).collect();
            if i == 0 {
                src += "  s0: {include: [u1]}\n";
            } else {
                src += &format!(
                    "  s{i}: {{rules: [{{clauses: [{{op: in_segment, values: [{}]}}]}}]}}\n",
                    refs.join(", ")
                );
            }
        }
        src += &format!(
            "flags:\n  f:\n    rules:\n      - clauses: [{{op: in_segment, values: [s{}]}}]\n        serve: on\n",
            n - 1
        );
        src
    };
    let errs = errors(&seg(32));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!(
            "flags.yaml:19:3: segment \"s17\": one membership test may take {} steps",
            3 << 16
        )),
        "{errs:?}"
    );
    assert!(loads(&seg(17)).len() == 1);
}

#[test]
fn many_large_regexes_exceed_the_budget_at_one_clause() {
    // 1000 distinct patterns of ~1 MB each passed validation and needed 1.2 GB
    // in every loader. The budget stops at the clause that exceeds it.
    let mut src = String::from("flags:\n");
    for i in 0..1000 {
        src += &format!(
            "  f{i}:\n    rules:\n      - clauses: [{{attribute: e, op: matches, values: ['x{i}[\\p{{L}}\\p{{N}}]{{20}}']}}]\n        serve: on\n"
        );
    }
    let errs = errors(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    // Each charges ~350 KB: 24 fit.
    assert!(
        e.contains(r#": flag "f24" rule 1 clause 1: regex "x24"#),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "more than the {REGEX_MEMORY_BUDGET}-byte budget of one ruleset"
        )),
        "{e}"
    );
}

#[test]
fn one_regex_used_many_times_is_compiled_and_stored_once() {
    let mut src = String::from("flags:\n");
    for i in 0..1000 {
        src += &format!(
            "  f{i}:\n    rules:\n      - clauses: [{{attribute: e, op: matches, values: ['[\\p{{L}}\\p{{N}}]{{20}}']}}]\n        serve: on\n"
        );
    }
    let rs = loads(&src);
    assert_eq!(rs.body().regexes.len(), 1);
}

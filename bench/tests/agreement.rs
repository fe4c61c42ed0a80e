//! The benches measure what they claim: every engine serves S1 `on`, the S2 rule
//! misses for the bench subject (so the 50/50 fallthrough rollout decides, sending
//! about half the keys each way) and hits for S2-hit subjects, in the small and in
//! the 10,000-flag set alike.

use edgeflag_bench::*;
use edgeflag_evaluator::Reason;
use launchdarkly_server_sdk_evaluation as ld;

const KEYS: usize = 600;

fn keys() -> impl Iterator<Item = String> {
    (0..KEYS).map(|i| format!("user-{i}"))
}

/// Counts `on` per engine over [`KEYS`] keys.
fn count_on(e: &Engines, subject: fn(&str) -> Subject) -> [usize; 3] {
    let mut on = [0; 3];
    for k in keys() {
        let s = subject(&k);
        let ef = e.edgeflag.bool_value(S2_KEY, &edgeflag_context(&s), false);
        let un = unleash_enabled(&e.unleash, S2_KEY, &unleash_context(&s));
        let lc = launchdarkly_context(&s);
        let ld = e.launchdarkly.bool_value(S2_KEY, &lc, false);
        on[0] += usize::from(ef);
        on[1] += usize::from(un);
        on[2] += usize::from(ld);

        // Where the engine exposes a reason, check the path taken.
        let d = e.edgeflag.evaluate(S2_KEY, &edgeflag_context(&s));
        let dl = e.launchdarkly.detail(S2_KEY, &lc).unwrap();
        if s.email.ends_with(S2_EMAIL_SUFFIX) {
            assert!(matches!(d.reason, Reason::RuleMatch { rule_index: 0, .. }));
            assert!(!d.in_rollout);
            assert!(matches!(
                dl.reason,
                ld::Reason::RuleMatch { rule_index: 0, .. }
            ));
        } else {
            assert_eq!(d.reason, Reason::Fallthrough);
            assert!(d.in_rollout);
            assert!(matches!(dl.reason, ld::Reason::Fallthrough { .. }));
        }
    }
    on
}

fn check(e: &Engines) {
    // S2 miss: the rollout decides; each engine hashes differently, so compare
    // the split, not individual keys.
    let on = count_on(e, Subject::miss);
    for (engine, n) in ["edgeflag", "unleash", "launchdarkly"].iter().zip(on) {
        let share = n as f64 / KEYS as f64;
        assert!(
            (0.42..=0.58).contains(&share),
            "{engine}: {n}/{KEYS} on for S2 misses"
        );
    }
    // S2 hit: the rule serves `on` to everyone.
    assert_eq!(count_on(e, Subject::hit), [KEYS; 3], "S2 hits");
}

#[test]
fn small_set_engines_agree() {
    let e = Engines::new(&small_set());
    let s = bench_subject();
    assert!(e.edgeflag.bool_value(S1_KEY, &edgeflag_context(&s), false));
    assert_eq!(
        e.edgeflag.evaluate(S1_KEY, &edgeflag_context(&s)).reason,
        Reason::Fallthrough
    );
    assert!(unleash_enabled(&e.unleash, S1_KEY, &unleash_context(&s)));
    assert!(e
        .launchdarkly
        .bool_value(S1_KEY, &launchdarkly_context(&s), false));
    check(&e);
}

#[test]
fn big_set_engines_agree() {
    let flags = big_set(BIG);
    assert_eq!(flags.len(), BIG);
    assert_eq!(flags.iter().filter(|f| f.key == S2_KEY).count(), 1);
    let e = Engines::new(&flags);
    assert_eq!(e.edgeflag.len(), BIG);
    assert_eq!(e.launchdarkly.flags.len(), BIG);
    check(&e);
    // The other flags are live too: a subject matching flag-00001's rule hits it.
    let f = &flags[1];
    let r = f.rule.as_ref().unwrap();
    let s = Subject {
        key: "someone".into(),
        country: r.countries[0].clone(),
        plan: r.plan.clone(),
        email: format!("x{}", r.email_suffix),
    };
    let d = e.edgeflag.evaluate(&f.key, &edgeflag_context(&s));
    assert!(matches!(d.reason, Reason::RuleMatch { .. }));
    assert!(unleash_enabled(&e.unleash, &f.key, &unleash_context(&s)));
    assert!(matches!(
        e.launchdarkly
            .detail(&f.key, &launchdarkly_context(&s))
            .unwrap()
            .reason,
        ld::Reason::RuleMatch { .. }
    ));
}

#[test]
fn yaml_and_json_sources_compile_to_the_same_ruleset() {
    let flags = big_set(200);
    let json = edgeflag_compile(&[("f.json".into(), edgeflag_source_json(&flags))]);
    let yaml = edgeflag_compile(&[("f.yaml".into(), edgeflag_source_yaml(&flags))]);
    assert_eq!(json, yaml);
}

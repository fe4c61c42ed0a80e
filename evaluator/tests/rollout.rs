//! Properties of percentage rollouts and of the body encoding.

use edgeflag_testkit::rulesets as common;

use edgeflag_evaluator::bucket::bucket;
use edgeflag_evaluator::model::{Body, Rollout, Serve, Slice, BUCKETS};
use edgeflag_evaluator::{format, Context, Ruleset};
use proptest::prelude::*;

fn percent_flag(salt: &str, on_units: u32) -> Ruleset {
    let mut b = common::Builder::default();
    let ft = b.on_off_rollout(salt, on_units);
    b.bool_flag("f", vec![], ft);
    Ruleset::from_bytes(&b.bytes("default", 1)).unwrap()
}

#[test]
fn contract_example_bucket() {
    // salt `new-checkout`, key `user-42` → bucket 8050: in at 8.051 %, out at 8.050 %.
    assert_eq!(bucket(b"new-checkout", b"user-42"), 8050);
    let ctx = Context::new("user-42");
    assert!(percent_flag("new-checkout", 8051).bool_value("f", &ctx, false));
    assert!(!percent_flag("new-checkout", 8050).bool_value("f", &ctx, true));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Raising a rollout never moves a context out of it.
    #[test]
    fn raising_a_rollout_keeps_everyone_in(
        salt in "[a-z-]{1,20}",
        lo in 0u32..=BUCKETS,
        hi in 0u32..=BUCKETS,
        keys in proptest::collection::vec("[a-zA-Z0-9@.-]{0,24}", 1..200),
    ) {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let small = percent_flag(&salt, lo);
        let large = percent_flag(&salt, hi);
        for k in &keys {
            let ctx = Context::new(k.as_str());
            if small.bool_value("f", &ctx, false) {
                prop_assert!(large.bool_value("f", &ctx, false), "{k} left when {lo}→{hi}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Over 100,000 keys, each variation's share is within 1 % of its weight.
    #[test]
    fn distribution_follows_weights(
        salt in "[a-z]{1,12}",
        cuts in proptest::collection::vec(0u32..=BUCKETS, 3),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut b = common::Builder::default();
        let bucket_by = b.attr("key");
        let salt_id = b.s(&salt);
        let mut slices: Vec<Slice> = cuts
            .iter()
            .enumerate()
            .map(|(i, &upper)| Slice { upper, variation: (i % 2) as u32 })
            .collect();
        slices.push(Slice { upper: BUCKETS, variation: 1 });
        let ft = Serve::Rollout(Rollout { bucket_by, salt: salt_id, slices: slices.clone() });
        b.bool_flag("f", vec![], ft);
        let rs = Ruleset::from_bytes(&b.bytes("default", 1)).unwrap();
        let weight_on: u32 = {
            let mut prev = 0;
            let mut on = 0;
            for s in &slices {
                if s.variation == 0 { on += s.upper - prev; }
                prev = s.upper;
            }
            on
        };
        let n = 100_000u32;
        let mut ctx = Context::new("");
        let mut on = 0u32;
        for i in 0..n {
            ctx.set("key", format!("user-{i}"));
            if rs.bool_value("f", &ctx, false) { on += 1; }
        }
        let expected = f64::from(weight_on) / f64::from(BUCKETS);
        let got = f64::from(on) / f64::from(n);
        prop_assert!((got - expected).abs() <= 0.01, "got {got}, weight {expected}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// encode → decode returns the same body and header.
    #[test]
    fn encode_decode_round_trips(
        env in "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
        version in 0..=format::MAX_VERSION,
        created in any::<i64>(),
        keys in proptest::collection::btree_set("[a-z0-9-]{1,16}", 0..20),
        percent in 0u32..=BUCKETS,
    ) {
        let mut b = common::Builder::default();
        for k in &keys {
            let ft = b.on_off_rollout(k, percent);
            b.bool_flag(k, vec![], ft);
        }
        let bytes = format::encode(&b.body, &format::EncodeOptions {
            environment: &env, version, epoch: 1, created_at_ms: created,
        }).unwrap();
        let (header, body) = format::read_header(&bytes).unwrap();
        prop_assert_eq!(&header.environment, &env);
        prop_assert_eq!(header.version, version);
        prop_assert_eq!(header.created_at_ms, created);
        let decoded: Body = format::decode_body(body).unwrap();
        prop_assert_eq!(&decoded, &b.body);
        prop_assert_eq!(Ruleset::from_bytes(&bytes).unwrap().len(), keys.len());
    }
}

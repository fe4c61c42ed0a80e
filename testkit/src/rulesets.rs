//! Hand-built bodies for evaluator tests (the compiler's own tests cover lowering
//! from source; these keep the evaluator's tests independent of it).
#![allow(missing_docs)]

use edgeflag_evaluator::format::{encode, EncodeOptions};
use edgeflag_evaluator::model::*;

#[derive(Default)]
pub struct Builder {
    pub body: Body,
    index: std::collections::HashMap<String, StrId>,
}

impl Builder {
    pub fn s(&mut self, text: &str) -> StrId {
        if let Some(&id) = self.index.get(text) {
            return id;
        }
        let t = &mut self.body.strings;
        t.blob.push_str(text);
        t.ends.push(t.blob.len() as u32);
        let id = (t.ends.len() - 1) as StrId;
        self.index.insert(text.to_owned(), id);
        id
    }

    pub fn attr(&mut self, name: &str) -> AttrId {
        let s = self.s(name);
        match self.body.attributes.iter().position(|&a| a == s) {
            Some(i) => i as AttrId,
            None => {
                self.body.attributes.push(s);
                (self.body.attributes.len() - 1) as AttrId
            }
        }
    }

    /// A boolean flag (`on` = 0, `off` = 1) with the given rules and fallthrough.
    pub fn bool_flag(&mut self, key: &str, rules: Vec<Rule>, fallthrough: Serve) -> FlagId {
        let key = self.s(key);
        let on = self.s("on");
        let off = self.s("off");
        self.body.flags.push(Flag {
            key,
            kind: ValueKind::Bool,
            variations: vec![
                Variation {
                    name: on,
                    value: Value::Bool(true),
                },
                Variation {
                    name: off,
                    value: Value::Bool(false),
                },
            ],
            enabled: true,
            off_variation: 1,
            prerequisites: vec![],
            targets: vec![],
            rules,
            fallthrough,
            client_side: false,
        });
        (self.body.flags.len() - 1) as FlagId
    }

    /// A rollout serving `on` for `percent_on` thousandths… of the buckets.
    pub fn on_off_rollout(&mut self, salt: &str, on_units: u32) -> Serve {
        let bucket_by = self.attr("key");
        let salt = self.s(salt);
        Serve::Rollout(Rollout {
            bucket_by,
            salt,
            slices: vec![
                Slice {
                    upper: on_units,
                    variation: 0,
                },
                Slice {
                    upper: BUCKETS,
                    variation: 1,
                },
            ],
        })
    }

    pub fn bytes(&self, env: &str, version: u64) -> Vec<u8> {
        encode(
            &self.body,
            &EncodeOptions {
                environment: env,
                version,
                epoch: 1,
                created_at_ms: 1_700_000_000_000,
            },
        )
        .unwrap()
    }
}

/// The S2 scenario: country in 5 values AND plan == pro AND email ends_with, then a
/// 50/50 rollout.
pub fn s2() -> Builder {
    let mut b = Builder::default();
    let country = b.attr("country");
    let plan = b.attr("plan");
    let email = b.attr("email");
    let mut countries: Vec<StrId> = ["DE", "FR", "GB", "NL", "US"]
        .iter()
        .map(|c| b.s(c))
        .collect();
    countries.sort_by(|&x, &y| b.body.strings.get(x).cmp(b.body.strings.get(y)));
    let pro = b.s("pro");
    let dom = b.s("@example.com");
    let rule = Rule {
        id: Some(b.s("enterprise")),
        clauses: vec![
            Clause {
                attribute: country,
                negate: false,
                op: Op::In(InSet {
                    strings: countries,
                    ..Default::default()
                }),
            },
            Clause {
                attribute: plan,
                negate: false,
                op: Op::In(InSet {
                    strings: vec![pro],
                    ..Default::default()
                }),
            },
            Clause {
                attribute: email,
                negate: false,
                op: Op::EndsWith(vec![dom]),
            },
        ],
        serve: Serve::Variation(0),
    };
    let ft = b.on_off_rollout("s2", 50_000);
    b.bool_flag("s2", vec![rule], ft);
    b
}

/// Rewrites a ruleset's checksum after a deliberate edit of its bytes (what an
/// attacker who knows the format does), so only a later check can refuse it:
/// `xxh3_64(bytes[0..120] ++ body)` at 120..128.
pub fn resum(bytes: &mut [u8]) {
    use edgeflag_evaluator::format::HEADER_LEN;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&bytes[..120]);
    h.update(&bytes[HEADER_LEN..]);
    let sum = h.digest();
    bytes[120..128].copy_from_slice(&sum.to_le_bytes());
}

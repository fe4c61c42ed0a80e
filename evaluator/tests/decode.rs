//! Untrusted bytes: every malformed input gives a typed error, never a panic.

use edgeflag_testkit::rulesets as common;

use edgeflag_evaluator::format::{self, DecodeError, HEADER_LEN};
use edgeflag_evaluator::model::*;
use edgeflag_evaluator::{Context, Header, Invariant, Ruleset, MAX_DEPTH};
use proptest::prelude::*;

fn good() -> Vec<u8> {
    common::s2().bytes("production", 42)
}

#[test]
fn valid_bytes_load_with_header() {
    let rs = Ruleset::from_bytes(&good()).unwrap();
    let h = rs.header();
    assert_eq!(h.environment, "production");
    assert_eq!(h.version, 42);
    assert_eq!(h.created_at_ms, 1_700_000_000_000);
    assert_eq!(h.format_version, format::FORMAT_VERSION);
    assert_eq!(rs.len(), 1);
}

#[test]
fn every_truncation_is_refused() {
    let bytes = good();
    for len in 0..bytes.len() {
        match Ruleset::from_bytes(&bytes[..len]) {
            Err(DecodeError::Truncated { got, .. }) => assert_eq!(got, len),
            other => panic!("length {len}: expected Truncated, got {other:?}"),
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = good();
    bytes.push(0);
    assert_eq!(
        Ruleset::from_bytes(&bytes).unwrap_err(),
        DecodeError::TrailingBytes(1)
    );
}

#[test]
fn wrong_magic_is_refused() {
    let mut bytes = good();
    bytes[0] = b'X';
    assert_eq!(
        Ruleset::from_bytes(&bytes).unwrap_err(),
        DecodeError::BadMagic
    );
    assert_eq!(
        Ruleset::from_bytes(b"{\"flags\":{}}").unwrap_err(),
        DecodeError::BadMagic
    );
}

#[test]
fn other_format_versions_are_refused() {
    // 4: newer; 2 and 1: pre-release layouts without signatures or an epoch.
    for found in [4u16, 2, 1] {
        let mut bytes = good();
        bytes[4..6].copy_from_slice(&found.to_le_bytes());
        assert_eq!(
            Ruleset::from_bytes(&bytes).unwrap_err(),
            DecodeError::UnsupportedVersion {
                found,
                supported: 3
            }
        );
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let bytes = good();
    // The signature slot is outside the checksum, but an unsigned ruleset's slot
    // must be zero: no byte can change unnoticed.
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(
                Ruleset::from_bytes(&b).is_err(),
                "flip of byte {i} bit {bit} was accepted"
            );
        }
    }
}

/// Rewrites the checksum after a deliberate edit, so a later check must refuse it.
fn resum(bytes: &mut [u8]) {
    let sum = checksum(&bytes[..120], &bytes[HEADER_LEN..]);
    bytes[120..128].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn unknown_signature_algorithms_are_refused() {
    for alg in [2u8, 255] {
        let mut bytes = good();
        bytes[29] = alg;
        resum(&mut bytes);
        assert_eq!(
            Ruleset::from_bytes(&bytes).unwrap_err(),
            DecodeError::BadHeader("unknown signature algorithm")
        );
    }
}

#[test]
fn an_unsigned_ruleset_carries_no_expiry_key_id_or_signature() {
    for at in [104, 112, 128, 191] {
        let mut bytes = good();
        bytes[at] = 1;
        resum(&mut bytes);
        assert!(
            matches!(Ruleset::from_bytes(&bytes), Err(DecodeError::BadHeader(m)) if m.contains("unsigned")),
            "byte {at}"
        );
    }
}

#[test]
fn versions_above_2_pow_53_are_refused() {
    let mut bytes = good();
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    resum(&mut bytes);
    assert_eq!(
        Ruleset::from_bytes(&bytes).unwrap_err(),
        DecodeError::BadHeader("version exceeds 2^53 - 1")
    );
    bytes[8..16].copy_from_slice(&format::MAX_VERSION.to_le_bytes());
    resum(&mut bytes);
    assert_eq!(
        Ruleset::from_bytes(&bytes).unwrap().header().version,
        format::MAX_VERSION
    );
}

#[test]
fn nonzero_reserved_or_padding_bytes_are_refused() {
    for at in [30, 31, 32 + "production".len(), 95] {
        let mut bytes = good();
        bytes[at] = 1;
        resum(&mut bytes);
        assert!(
            matches!(Ruleset::from_bytes(&bytes), Err(DecodeError::BadHeader(_))),
            "byte {at}"
        );
    }
}

/// `good()` with its environment name replaced by `name` (length byte, name and
/// padding rewritten, checksum recomputed), so only the name check can refuse it.
fn with_environment(name: &[u8]) -> Vec<u8> {
    let mut bytes = good();
    bytes[28] = name.len() as u8;
    bytes[32..96].fill(0);
    bytes[32..32 + name.len()].copy_from_slice(name);
    resum(&mut bytes);
    bytes
}

#[test]
fn environment_names_that_are_not_valid_names_are_refused() {
    // The environment becomes a path segment, a bucket key and a URL segment
    // downstream: a header must not smuggle `../x` in.
    for name in [
        &b"../x"[..],
        b"a/b",
        b".hidden",
        b"-lead",
        b"pre prod",
        b"a\\b",
        b"caf\xc3\xa9",
        b"nul\0x",
    ] {
        assert_eq!(
            Ruleset::from_bytes(&with_environment(name)).unwrap_err(),
            DecodeError::BadHeader("environment name is not a valid name"),
            "{:?}",
            String::from_utf8_lossy(name)
        );
    }
    assert_eq!(
        Ruleset::from_bytes(&with_environment(b"")).unwrap_err(),
        DecodeError::BadHeader("environment name length")
    );
}

#[test]
fn environment_names_up_to_64_bytes_load() {
    let name = format!("e{}", "x.-_9".repeat(13)).into_bytes();
    let name = &name[..64];
    let rs = Ruleset::from_bytes(&with_environment(name)).unwrap();
    assert_eq!(rs.header().environment.as_bytes(), name);
    let rs = Ruleset::from_bytes(&with_environment(b"0")).unwrap();
    assert_eq!(rs.header().environment, "0");
}

#[test]
fn encode_refuses_environment_names_that_are_not_valid_names() {
    for name in ["../x", "a/b", ".hidden", "pre prod"] {
        assert_eq!(
            format::encode(&Body::default(), &format::EncodeOptions::unpublished(name)),
            Err(format::EncodeError::InvalidEnvironmentName(name.to_owned())),
        );
    }
    assert_eq!(
        format::encode(&Body::default(), &format::EncodeOptions::unpublished("")),
        Err(format::EncodeError::EnvironmentName(0)),
    );
    let long = "a".repeat(65);
    assert_eq!(
        format::encode(&Body::default(), &format::EncodeOptions::unpublished(&long)),
        Err(format::EncodeError::EnvironmentName(65)),
    );
    assert!(format::encode(
        &Body::default(),
        &format::EncodeOptions::unpublished(&long[..64])
    )
    .is_ok());
}

#[test]
fn non_canonical_varints_are_refused() {
    // The body starts with the string blob's length varint; pad it to two bytes
    // (0x80 | low, high) — valid postcard on 64-bit hosts, but not canonical.
    let good = good();
    let body = &good[HEADER_LEN..];
    assert!(body[0] < 0x80, "test assumes a short string blob");
    let mut padded = good[..HEADER_LEN].to_vec();
    padded.push(body[0] | 0x80);
    padded.push(0);
    padded.extend_from_slice(&body[1..]);
    let len = (padded.len() - HEADER_LEN) as u32;
    padded[24..28].copy_from_slice(&len.to_le_bytes());
    resum(&mut padded);
    assert!(
        matches!(Ruleset::from_bytes(&padded), Err(DecodeError::Body(m)) if m.contains("non-canonical"))
    );
}

#[test]
fn checksum_mismatch_names_both_sums() {
    let mut bytes = good();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    assert!(matches!(
        Ruleset::from_bytes(&bytes),
        Err(DecodeError::ChecksumMismatch { expected, actual }) if expected != actual
    ));
}

/// Re-encode a hand-corrupted body so the checksum is right and the loader's
/// invariant checks are what must catch it.
fn with_body(f: impl FnOnce(&mut Body)) -> Result<Ruleset, DecodeError> {
    let mut b = common::s2();
    f(&mut b.body);
    Ruleset::from_bytes(&b.bytes("production", 1))
}

#[test]
fn inconsistent_bodies_are_refused() {
    type Corruption = Box<dyn FnOnce(&mut Body)>;
    type Expected = fn(&Invariant) -> bool;
    let cases: Vec<(&str, Corruption, Expected)> = vec![
        ("string id", Box::new(|b| b.flags[0].key = 999), |i| {
            matches!(
                i,
                Invariant::StringOutOfRange {
                    what: "flag key",
                    id: 999,
                    ..
                }
            )
        }),
        (
            "off variation",
            Box::new(|b| b.flags[0].off_variation = 2),
            |i| {
                matches!(
                    i,
                    Invariant::VariationOutOfRange {
                        flag: 0,
                        variation: 2
                    }
                )
            },
        ),
        (
            "attribute",
            Box::new(|b| b.flags[0].rules[0].clauses[0].attribute = 77),
            |i| {
                matches!(
                    i,
                    Invariant::AttributeOutOfRange {
                        what: "rule clause",
                        id: 77
                    }
                )
            },
        ),
        (
            "string offsets",
            Box::new(|b| b.strings.ends[0] = 10_000),
            |i| matches!(i, Invariant::StringOffsets { string: 0 }),
        ),
        (
            "variation type",
            Box::new(|b| b.flags[0].variations[0].value = Value::Number(1.0)),
            |i| {
                matches!(
                    i,
                    Invariant::VariationKindMismatch {
                        flag: 0,
                        variation: 0
                    }
                )
            },
        ),
        (
            "prerequisite order",
            Box::new(|b| {
                b.flags[0].prerequisites.push(Prerequisite {
                    flag: 0,
                    variations: vec![0],
                })
            }),
            |i| {
                matches!(
                    i,
                    Invariant::PrerequisiteNotBefore {
                        flag: 0,
                        prerequisite: 0
                    }
                )
            },
        ),
        (
            "rollout coverage",
            Box::new(|b| {
                if let Serve::Rollout(r) = &mut b.flags[0].fallthrough {
                    r.slices[1].upper = 99_999;
                }
            }),
            |i| {
                matches!(
                    i,
                    Invariant::RolloutIncomplete {
                        flag: 0,
                        upper: 99_999
                    }
                )
            },
        ),
        (
            "unsorted in-list",
            Box::new(|b| {
                if let Op::In(set) = &mut b.flags[0].rules[0].clauses[0].op {
                    set.strings.reverse();
                }
            }),
            |i| {
                matches!(
                    i,
                    Invariant::UnsortedStrings {
                        what: "rule clause"
                    }
                )
            },
        ),
        (
            "segment reference",
            Box::new(|b| {
                b.flags[0].rules[0].clauses[0].op = Op::InSegment(vec![0]);
            }),
            |i| {
                matches!(
                    i,
                    Invariant::SegmentNotBefore {
                        what: "rule clause",
                        segment: 0
                    }
                )
            },
        ),
        (
            "regex reference",
            Box::new(|b| {
                b.flags[0].rules[0].clauses[0].op = Op::Matches(vec![0]);
            }),
            |i| {
                matches!(
                    i,
                    Invariant::RegexOutOfRange {
                        what: "rule clause",
                        id: 0
                    }
                )
            },
        ),
        (
            "duplicate flag",
            Box::new(|b| {
                let f = b.flags[0].clone();
                b.flags.push(f);
            }),
            |i| matches!(i, Invariant::DuplicateFlagKey { key } if key == "s2"),
        ),
        (
            "non-finite number",
            Box::new(|b| {
                if let Op::In(set) = &mut b.flags[0].rules[0].clauses[0].op {
                    set.numbers.push(f64::NAN);
                }
            }),
            |i| {
                matches!(
                    i,
                    Invariant::NotFinite {
                        what: "rule clause"
                    }
                )
            },
        ),
    ];
    for (what, f, expected) in cases {
        match with_body(f) {
            Err(DecodeError::Invalid(i)) if expected(&i) => {}
            other => panic!("{what}: expected another Invalid, got {other:?}"),
        }
    }
}

#[test]
fn invalid_regex_is_refused_at_load() {
    let r = with_body(|b| {
        b.strings.blob.push_str("(unclosed");
        b.strings.ends.push(b.strings.blob.len() as u32);
        b.regexes.push((b.strings.ends.len() - 1) as u32);
    });
    assert!(matches!(
        r,
        Err(DecodeError::Invalid(Invariant::RegexSyntax {
            regex: 0,
            ..
        }))
    ));
}

// One test per invariant: each body breaks exactly that invariant, is checked
// with `Ruleset::from_body` (no encoding), and must be refused with its variant.

/// A header to pair with hand-built bodies.
fn header() -> Header {
    format::read_header(&good()).unwrap().0
}

/// Why `body` is refused; panics unless it is an invariant.
fn broken(body: Body) -> Invariant {
    match Ruleset::from_body(header(), body) {
        Err(DecodeError::Invalid(i)) => i,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// The S2 body after `f`.
fn s2_with(f: impl FnOnce(&mut common::Builder)) -> Body {
    let mut b = common::s2();
    f(&mut b);
    b.body
}

/// The first clause of S2's rule.
fn clause0(b: &mut common::Builder) -> &mut Clause {
    &mut b.body.flags[0].rules[0].clauses[0]
}

/// The fallthrough rollout of S2.
fn rollout(b: &mut common::Builder) -> &mut Rollout {
    match &mut b.body.flags[0].fallthrough {
        Serve::Rollout(r) => r,
        Serve::Variation(_) => unreachable!("S2 falls through to a rollout"),
    }
}

/// A segment with one rule made of `clauses`.
fn segment(b: &mut common::Builder, key: &str, clauses: Vec<Clause>) -> Segment {
    Segment {
        key: b.s(key),
        include: vec![],
        exclude: vec![],
        rules: vec![SegmentRule { clauses }],
    }
}

fn in_segment(seg: SegmentId) -> Clause {
    Clause {
        attribute: 0,
        negate: false,
        op: Op::InSegment(vec![seg]),
    }
}

#[test]
fn the_unbroken_bodies_load() {
    assert!(Ruleset::from_body(header(), common::s2().body).is_ok());
    assert!(Ruleset::from_body(header(), Body::default()).is_ok());
}

#[test]
fn string_offsets_must_not_decrease_nor_split_a_character() {
    let split = Body {
        strings: StringTable {
            blob: "é".into(),
            ends: vec![1, 2],
        },
        ..Default::default()
    };
    assert_eq!(broken(split), Invariant::StringOffsets { string: 0 });
    let decreasing = Body {
        strings: StringTable {
            blob: "ab".into(),
            ends: vec![2, 1, 2],
        },
        ..Default::default()
    };
    assert_eq!(broken(decreasing), Invariant::StringOffsets { string: 1 });
}

#[test]
fn string_table_must_end_at_the_blob_end() {
    let body = s2_with(|b| b.body.strings.blob.push('x'));
    assert_eq!(broken(body), Invariant::StringTableLength);
}

#[test]
fn string_ids_must_be_in_range() {
    let mut len = 0;
    let body = s2_with(|b| {
        len = b.body.strings.len() as u32;
        rollout(b).salt = len;
    });
    assert_eq!(
        broken(body),
        Invariant::StringOutOfRange {
            what: "rollout salt",
            id: len,
            len
        }
    );
    let body = s2_with(|b| b.body.attributes.push(4_000));
    assert!(matches!(
        broken(body),
        Invariant::StringOutOfRange {
            what: "attribute name",
            id: 4_000,
            ..
        }
    ));
}

#[test]
fn string_lists_must_be_sorted_and_unique() {
    let body = s2_with(|b| {
        let (x, y) = (b.s("x"), b.s("y"));
        let mut seg = segment(b, "seg", vec![]);
        seg.include = vec![y, x];
        b.body.segments.push(seg);
    });
    assert_eq!(
        broken(body),
        Invariant::UnsortedStrings {
            what: "segment include"
        }
    );
    let body = s2_with(|b| {
        if let Op::In(set) = &mut clause0(b).op {
            let first = set.strings[0];
            set.strings.insert(0, first);
        }
    });
    assert_eq!(
        broken(body),
        Invariant::UnsortedStrings {
            what: "rule clause"
        }
    );
}

#[test]
fn in_list_numbers_must_be_sorted_and_unique() {
    for numbers in [vec![2.0, 1.0], vec![1.0, 1.0]] {
        let body = s2_with(|b| {
            if let Op::In(set) = &mut clause0(b).op {
                set.numbers = numbers;
            }
        });
        assert_eq!(
            broken(body),
            Invariant::UnsortedNumbers {
                what: "rule clause"
            }
        );
    }
}

#[test]
fn numbers_must_be_finite() {
    let bound = s2_with(|b| clause0(b).op = Op::Gte(f64::INFINITY));
    assert_eq!(
        broken(bound),
        Invariant::NotFinite {
            what: "rule clause"
        }
    );
    let in_list = s2_with(|b| {
        let seg = segment(
            b,
            "seg",
            vec![Clause {
                attribute: 0,
                negate: false,
                op: Op::In(InSet {
                    numbers: vec![1.0, f64::NAN],
                    ..Default::default()
                }),
            }],
        );
        b.body.segments.push(seg);
    });
    assert_eq!(
        broken(in_list),
        Invariant::NotFinite {
            what: "segment clause"
        }
    );
    let variation = s2_with(|b| {
        let f = &mut b.body.flags[0];
        f.kind = ValueKind::Number;
        f.variations[0].value = Value::Number(f64::NAN);
        f.variations[1].value = Value::Number(0.0);
    });
    assert_eq!(
        broken(variation),
        Invariant::NotFinite {
            what: "variation value"
        }
    );
}

#[test]
fn attribute_ids_must_be_in_range() {
    let body = s2_with(|b| rollout(b).bucket_by = 9);
    assert_eq!(
        broken(body),
        Invariant::AttributeOutOfRange {
            what: "rollout",
            id: 9
        }
    );
    // `in_segment` tests no attribute, so its attribute id is not checked.
    let body = s2_with(|b| {
        let seg = segment(b, "seg", vec![]);
        b.body.segments.push(seg);
        *clause0(b) = Clause {
            attribute: 77,
            ..in_segment(0)
        };
    });
    assert!(Ruleset::from_body(header(), body).is_ok());
}

#[test]
fn regex_ids_must_be_in_range() {
    let body = s2_with(|b| {
        let p = b.s("^a");
        b.body.regexes.push(p);
        clause0(b).op = Op::Matches(vec![0, 1]);
    });
    assert_eq!(
        broken(body),
        Invariant::RegexOutOfRange {
            what: "rule clause",
            id: 1
        }
    );
}

#[test]
fn segments_must_be_stored_before_their_use() {
    let body = s2_with(|b| {
        let seg = segment(b, "self", vec![in_segment(0)]);
        b.body.segments.push(seg);
    });
    assert_eq!(
        broken(body),
        Invariant::SegmentNotBefore {
            what: "segment clause",
            segment: 0
        }
    );
}

/// S2 plus `n` segments, each (after the first) in the previous one.
fn nested_segments(n: u32) -> Body {
    s2_with(|b| {
        for i in 0..n {
            let clauses = if i == 0 {
                vec![]
            } else {
                vec![in_segment(i - 1)]
            };
            let seg = segment(b, &format!("seg{i}"), clauses);
            b.body.segments.push(seg);
        }
    })
}

#[test]
fn segments_must_not_nest_deeper_than_the_limit() {
    let limit = MAX_DEPTH as u32;
    assert!(Ruleset::from_body(header(), nested_segments(limit)).is_ok());
    assert_eq!(
        broken(nested_segments(limit + 1)),
        Invariant::SegmentsTooDeep { segment: limit }
    );
}

#[test]
fn flags_must_have_variations() {
    let body = s2_with(|b| b.body.flags[0].variations.clear());
    assert_eq!(broken(body), Invariant::NoVariations { flag: 0 });
}

#[test]
fn variations_must_have_their_flag_type() {
    let body = s2_with(|b| {
        let s = b.s("text");
        b.body.flags[0].variations[1].value = Value::String(s);
    });
    assert_eq!(
        broken(body),
        Invariant::VariationKindMismatch {
            flag: 0,
            variation: 1
        }
    );
}

#[test]
fn variation_indexes_must_be_in_range() {
    let target = s2_with(|b| {
        let key = b.s("user-1");
        b.body.flags[0].targets.push(Target { key, variation: 2 });
    });
    assert_eq!(
        broken(target),
        Invariant::VariationOutOfRange {
            flag: 0,
            variation: 2
        }
    );
    let slice = s2_with(|b| rollout(b).slices[0].variation = 5);
    assert_eq!(
        broken(slice),
        Invariant::VariationOutOfRange {
            flag: 0,
            variation: 5
        }
    );
    // A prerequisite's accepted variations index the prerequisite's variations.
    let prerequisite = s2_with(|b| {
        let child = b.bool_flag("child", vec![], Serve::Variation(0));
        b.body.flags[child as usize]
            .prerequisites
            .push(Prerequisite {
                flag: 0,
                variations: vec![0, 2],
            });
    });
    assert_eq!(
        broken(prerequisite),
        Invariant::VariationOutOfRange {
            flag: 0,
            variation: 2
        }
    );
}

#[test]
fn prerequisites_must_be_stored_before_their_flag() {
    let body = s2_with(|b| {
        b.bool_flag("later", vec![], Serve::Variation(0));
        b.body.flags[0].prerequisites.push(Prerequisite {
            flag: 1,
            variations: vec![0],
        });
    });
    assert_eq!(
        broken(body),
        Invariant::PrerequisiteNotBefore {
            flag: 0,
            prerequisite: 1
        }
    );
}

#[test]
fn prerequisite_variations_must_be_sorted_and_unique() {
    for variations in [vec![1, 0], vec![0, 0]] {
        let body = s2_with(|b| {
            let child = b.bool_flag("child", vec![], Serve::Variation(0));
            b.body.flags[child as usize]
                .prerequisites
                .push(Prerequisite {
                    flag: 0,
                    variations,
                });
        });
        assert_eq!(
            broken(body),
            Invariant::UnsortedPrerequisiteVariations {
                flag: 1,
                prerequisite: 0
            }
        );
    }
}

/// `n` flags, each (after the first) with the previous one as prerequisite.
fn chained_flags(n: u32) -> Body {
    let mut b = common::Builder::default();
    for i in 0..n {
        let f = b.bool_flag(&format!("f{i}"), vec![], Serve::Variation(0));
        if i > 0 {
            b.body.flags[f as usize].prerequisites.push(Prerequisite {
                flag: i - 1,
                variations: vec![0],
            });
        }
    }
    b.body
}

#[test]
fn prerequisites_must_not_chain_deeper_than_the_limit() {
    let limit = MAX_DEPTH as u32;
    assert!(Ruleset::from_body(header(), chained_flags(limit)).is_ok());
    assert_eq!(
        broken(chained_flags(limit + 1)),
        Invariant::PrerequisitesTooDeep { flag: limit }
    );
}

#[test]
fn targets_must_be_sorted_and_unique() {
    for keys in [["user-2", "user-1"], ["user-1", "user-1"]] {
        let body = s2_with(|b| {
            for key in keys {
                let key = b.s(key);
                b.body.flags[0].targets.push(Target { key, variation: 0 });
            }
        });
        assert_eq!(broken(body), Invariant::UnsortedTargets { flag: 0 });
    }
}

#[test]
fn rollout_bounds_must_not_decrease() {
    let body = s2_with(|b| {
        rollout(b).slices.insert(
            0,
            Slice {
                upper: 60_000,
                variation: 1,
            },
        )
    });
    assert_eq!(broken(body), Invariant::RolloutNotCumulative { flag: 0 });
}

#[test]
fn rollouts_must_cover_every_bucket() {
    let body = s2_with(|b| rollout(b).slices.clear());
    assert_eq!(
        broken(body),
        Invariant::RolloutIncomplete { flag: 0, upper: 0 }
    );
}

#[test]
fn flag_keys_must_be_unique() {
    let body = s2_with(|b| {
        b.bool_flag("other", vec![], Serve::Variation(0));
        let dup = b.body.flags[0].clone();
        b.body.flags.push(dup);
    });
    assert_eq!(
        broken(body),
        Invariant::DuplicateFlagKey { key: "s2".into() }
    );
}

/// S2 with one regex, used by its first clause.
fn with_regex(pattern: &str) -> Body {
    s2_with(|b| {
        let p = b.s(pattern);
        b.body.regexes.push(p);
        clause0(b).op = Op::Matches(vec![0]);
    })
}

#[test]
fn regexes_must_compile() {
    assert!(Ruleset::from_body(header(), with_regex("^[a-z]+$")).is_ok());
    let err = broken(with_regex("a)"));
    assert!(
        matches!(&err, Invariant::RegexSyntax { regex: 0, pattern, .. } if pattern == "a)"),
        "{err:?}"
    );
}

#[test]
fn regexes_must_stay_under_the_size_limit() {
    let err = broken(with_regex(r"\w{1000}"));
    assert!(
        matches!(&err, Invariant::RegexTooBig { regex: 0, pattern, limit: 1_048_576 } if pattern == r"\w{1000}"),
        "{err:?}"
    );
}

#[test]
fn invalid_rulesets_keep_their_messages() {
    let err = Ruleset::from_body(header(), s2_with(|b| b.body.flags[0].key = 999)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid ruleset: flag key: string id 999 out of range"
    );
    assert_eq!(
        DecodeError::Invalid(Invariant::PrerequisiteNotBefore {
            flag: 0,
            prerequisite: 0
        })
        .to_string(),
        "invalid ruleset: prerequisite not stored before its flag"
    );
    assert_eq!(
        DecodeError::Invalid(Invariant::DuplicateFlagKey { key: "a".into() }).to_string(),
        "invalid ruleset: flag \"a\" is defined twice"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Ruleset::from_bytes(&bytes);
    }

    /// Random bodies behind a valid header and checksum: the postcard decoder and the
    /// invariant checks see garbage and must answer with an error or a usable ruleset.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = good();
        bytes.truncate(HEADER_LEN);
        bytes.extend_from_slice(&body);
        bytes[24..28].copy_from_slice(&(body.len() as u32).to_le_bytes());
        resum(&mut bytes);
        if let Ok(rs) = Ruleset::from_bytes(&bytes) {
            let ctx = Context::new("u").with("country", "DE");
            for (_k, d) in rs.all_flags(&ctx) {
                prop_assert!(d.value.is_some());
            }
        }
    }

    /// Mutations of a valid ruleset's body bytes.
    #[test]
    fn mutated_bodies_never_panic(pos in 0usize..10_000, val in any::<u8>()) {
        let mut bytes = good();
        let body_len = bytes.len() - HEADER_LEN;
        let i = HEADER_LEN + pos % body_len;
        bytes[i] = val;
        resum(&mut bytes);
        if let Ok(rs) = Ruleset::from_bytes(&bytes) {
            let ctx = Context::new("u").with("country", "DE").with("plan", "pro");
            for (_k, d) in rs.all_flags(&ctx) {
                prop_assert!(d.value.is_some());
            }
        }
    }
}

/// The format's checksum, for tests that forge headers.
fn checksum(header: &[u8], body: &[u8]) -> u64 {
    let mut joined = header.to_vec();
    joined.extend_from_slice(body);
    xxhash_rust::xxh3::xxh3_64(&joined)
}

#[test]
fn the_documented_example_ruleset_is_what_the_writer_produces() {
    // docs/binary-format.md, "Example: an empty ruleset"; the checksum comes from
    // Python's xxhash, an independent implementation.
    let bytes = edgeflag_evaluator::format::encode(
        &edgeflag_evaluator::model::Body::default(),
        &edgeflag_evaluator::format::EncodeOptions {
            environment: "default",
            version: 1,
            epoch: 1,
            created_at_ms: 0,
        },
    )
    .unwrap();
    let mut expected = vec![0u8; HEADER_LEN + 7];
    expected[..8].copy_from_slice(&[0x45, 0x46, 0x52, 0x53, 0x03, 0x00, 0xc0, 0x00]);
    expected[8] = 1;
    expected[24] = 7;
    expected[28] = 7;
    expected[32..39].copy_from_slice(b"default");
    expected[96] = 1;
    expected[120..128].copy_from_slice(&0x99ff_205e_7d01_e4afu64.to_le_bytes());
    assert_eq!(bytes, expected);
}

//! Untrusted bytes: every malformed input gives a typed error, never a panic.

use edgeflag_testkit::rulesets as common;

use edgeflag_evaluator::format::{self, DecodeError, HEADER_LEN};
use edgeflag_evaluator::{Context, Invariant, Ruleset};
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
fn newer_format_is_refused() {
    let mut bytes = good();
    bytes[4] = 2;
    assert_eq!(
        Ruleset::from_bytes(&bytes).unwrap_err(),
        DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
}

#[test]
fn every_single_bit_flip_is_refused() {
    let bytes = good();
    for i in 0..bytes.len() {
        // The signature slot is not covered by the checksum (it covers the
        // checksummed bytes itself); an unsigned ruleset ignores it.
        if (104..HEADER_LEN).contains(&i) {
            continue;
        }
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
    let sum = checksum(&bytes[..96], &bytes[HEADER_LEN..]);
    bytes[96..104].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn signed_rulesets_are_refused_until_verification_exists() {
    let mut bytes = good();
    bytes[29] = 1;
    resum(&mut bytes);
    assert!(
        matches!(Ruleset::from_bytes(&bytes), Err(DecodeError::BadHeader(m)) if m.contains("signed"))
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
fn with_body(f: impl FnOnce(&mut edgeflag_evaluator::model::Body)) -> Result<Ruleset, DecodeError> {
    let mut b = common::s2();
    f(&mut b.body);
    Ruleset::from_bytes(&b.bytes("production", 1))
}

#[test]
fn inconsistent_bodies_are_refused() {
    use edgeflag_evaluator::model::*;
    type Corruption = Box<dyn FnOnce(&mut Body)>;
    let cases: Vec<(&str, Corruption)> = vec![
        ("string id", Box::new(|b| b.flags[0].key = 999)),
        ("off variation", Box::new(|b| b.flags[0].off_variation = 2)),
        (
            "attribute",
            Box::new(|b| b.flags[0].rules[0].clauses[0].attribute = 77),
        ),
        ("string offsets", Box::new(|b| b.strings.ends[0] = 10_000)),
        (
            "variation type",
            Box::new(|b| b.flags[0].variations[0].value = Value::Number(1.0)),
        ),
        (
            "prerequisite order",
            Box::new(|b| {
                b.flags[0].prerequisites.push(Prerequisite {
                    flag: 0,
                    variations: vec![0],
                })
            }),
        ),
        (
            "rollout coverage",
            Box::new(|b| {
                if let Serve::Rollout(r) = &mut b.flags[0].fallthrough {
                    r.slices[1].upper = 99_999;
                }
            }),
        ),
        (
            "unsorted in-list",
            Box::new(|b| {
                if let Op::In(set) = &mut b.flags[0].rules[0].clauses[0].op {
                    set.strings.reverse();
                }
            }),
        ),
        (
            "segment reference",
            Box::new(|b| {
                b.flags[0].rules[0].clauses[0].op = Op::InSegment(vec![0]);
            }),
        ),
        (
            "regex reference",
            Box::new(|b| {
                b.flags[0].rules[0].clauses[0].op = Op::Matches(vec![0]);
            }),
        ),
        (
            "duplicate flag",
            Box::new(|b| {
                let f = b.flags[0].clone();
                b.flags.push(f);
            }),
        ),
        (
            "non-finite number",
            Box::new(|b| {
                if let Op::In(set) = &mut b.flags[0].rules[0].clauses[0].op {
                    set.numbers.push(f64::NAN);
                }
            }),
        ),
    ];
    for (what, f) in cases {
        match with_body(f) {
            Err(DecodeError::Invalid(_)) => {}
            other => panic!("{what}: expected Invalid, got {other:?}"),
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
        Err(DecodeError::Invalid(Invariant::RegexSyntax { regex: 0, .. }))
    ));
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
        let sum = checksum(&bytes[..96], &body);
        bytes[96..104].copy_from_slice(&sum.to_le_bytes());
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
        let sum = checksum(&bytes[..96], &bytes[HEADER_LEN..]);
        bytes[96..104].copy_from_slice(&sum.to_le_bytes());
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

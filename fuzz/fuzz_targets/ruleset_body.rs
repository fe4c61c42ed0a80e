//! A fuzzed body behind a valid header (length and checksum recomputed), so the
//! fuzzer reaches the postcard decoder, the invariant checks, regex compilation
//! and evaluation instead of stopping at the checksum. What loads evaluates with
//! contexts built from the ruleset, and re-encodes to the very bytes it came from
//! (the loader accepts only the canonical encoding).
#![no_main]

use edgeflag_evaluator::format::{self, EncodeOptions, MAX_BODY_LEN};
use edgeflag_evaluator::Ruleset;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if body.len() > MAX_BODY_LEN {
        return;
    }
    let bytes = edgeflag_fuzz::with_valid_header(body);
    let rs = match Ruleset::from_bytes(&bytes) {
        Ok(rs) => rs,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = format::encode(rs.body(), &EncodeOptions::unpublished("fuzz"))
        .expect("a loaded body encodes");
    assert!(again == bytes, "the loader accepted a non-canonical body");
    edgeflag_fuzz::evaluate_all(&rs, edgeflag_fuzz::fixed_contexts());
    edgeflag_fuzz::evaluate_all(&rs, &edgeflag_fuzz::contexts_for(&rs));
});

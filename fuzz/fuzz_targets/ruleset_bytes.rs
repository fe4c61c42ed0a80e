//! `Ruleset::from_bytes` on raw bytes: any input is refused with a typed error or
//! loads; what loads evaluates without panicking (see `edgeflag_fuzz::evaluate_all`).
#![no_main]

use edgeflag_evaluator::Ruleset;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rs) = Ruleset::from_bytes(data) else {
        return;
    };
    assert_eq!(rs.header().body_len as usize + 192, data.len());
    edgeflag_fuzz::evaluate_all(&rs, edgeflag_fuzz::fixed_contexts());
    edgeflag_fuzz::evaluate_all(&rs, &edgeflag_fuzz::contexts_for(&rs));
});

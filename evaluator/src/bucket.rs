//! Percentage-rollout bucketing, identical on every platform.
//!
//! `bucket = xxh3_64(seed 0, salt ++ ":" ++ value) mod 100000`, where the value is
//! a string attribute's UTF-8 bytes or an integer's decimal digits.

use crate::context::{AttrValue, Scalar};
use crate::model::{BUCKETS, SAFE_INTEGER_LIMIT};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

const STACK: usize = 128;

/// Hashes `salt ++ ":" ++ value` into a bucket in `0..100000`.
///
/// ```
/// use edgeflag_evaluator::bucket::bucket;
/// assert_eq!(bucket(b"new-checkout", b"user-42"), 8050);
/// ```
#[inline]
pub fn bucket(salt: &[u8], value: &[u8]) -> u32 {
    let n = salt.len() + 1 + value.len();
    let h = if n <= STACK {
        let mut buf = [0u8; STACK];
        buf[..salt.len()].copy_from_slice(salt);
        buf[salt.len()] = b':';
        buf[salt.len() + 1..n].copy_from_slice(value);
        xxh3_64(&buf[..n])
    } else {
        let mut h = Xxh3::new();
        h.update(salt);
        h.update(b":");
        h.update(value);
        h.digest()
    };
    (h % u64::from(BUCKETS)) as u32
}

/// The bucket of an attribute value, or `None` when it cannot be bucketed (a
/// boolean, a fractional or too large number, or a list).
#[inline]
pub fn bucket_attr(salt: &[u8], value: &AttrValue) -> Option<u32> {
    match value {
        AttrValue::Scalar(Scalar::String(s)) => Some(bucket(salt, s.as_bytes())),
        AttrValue::Scalar(Scalar::Number(n))
            if n.fract() == 0.0 && n.abs() < SAFE_INTEGER_LIMIT =>
        {
            let mut buf = itoa::Buffer::new();
            Some(bucket(salt, buf.format(*n as i64).as_bytes()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_test_vectors() {
        assert_eq!(xxh3_64(b""), 0x2D06_8005_38D3_94C2);
        assert_eq!(bucket(b"new-checkout", b"user-42"), 8050);
    }

    #[test]
    fn long_inputs_hash_like_short_ones() {
        let salt = "s".repeat(200);
        let mut joined = salt.clone().into_bytes();
        joined.extend_from_slice(b":v");
        assert_eq!(
            bucket(salt.as_bytes(), b"v"),
            (xxh3_64(&joined) % 100_000) as u32
        );
    }

    #[test]
    fn integers_bucket_as_decimal_digits() {
        let salt = b"flag";
        assert_eq!(bucket_attr(salt, &42.0.into()), Some(bucket(salt, b"42")));
        assert_eq!(bucket_attr(salt, &(-7.0).into()), Some(bucket(salt, b"-7")));
        assert_eq!(bucket_attr(salt, &(-0.0).into()), Some(bucket(salt, b"0")));
        assert_eq!(
            bucket_attr(salt, &9_007_199_254_740_991.0.into()),
            Some(bucket(salt, b"9007199254740991"))
        );
    }

    #[test]
    fn unbucketable_values() {
        let salt = b"flag";
        assert_eq!(bucket_attr(salt, &1.5.into()), None);
        assert_eq!(bucket_attr(salt, &9_007_199_254_740_992.0.into()), None);
        assert_eq!(bucket_attr(salt, &true.into()), None);
        assert_eq!(bucket_attr(salt, &vec!["a"].into()), None);
        assert_eq!(bucket_attr(salt, &f64::NAN.into()), None);
    }
}

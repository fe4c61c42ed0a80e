//! Instants for the `before` / `after` operators: RFC 3339 text or Unix epoch
//! milliseconds, compared as nanoseconds since the epoch (UTC).

use crate::model::{Instant, SAFE_INTEGER_LIMIT};

/// An instant from epoch milliseconds. Only integral values with |n| < 2^53 are
/// instants; anything else (a fraction, NaN, infinity) is `None`.
///
/// ```
/// use edgeflag_evaluator::{instant, model::Instant};
/// assert_eq!(instant::from_millis(1_500.0), Some(Instant(1_500_000_000)));
/// assert_eq!(instant::from_millis(1.5), None);
/// ```
pub fn from_millis(ms: f64) -> Option<Instant> {
    if ms.is_finite() && ms.fract() == 0.0 && ms.abs() < SAFE_INTEGER_LIMIT {
        Some(Instant(ms as i128 * 1_000_000))
    } else {
        None
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
/// `T` may be `t` or a space, `Z` may be `z`. A leap second (`:60`) is accepted and
/// counts as the following second. Fractions beyond nanoseconds are truncated.
///
/// ```
/// use edgeflag_evaluator::instant::parse_rfc3339;
/// let a = parse_rfc3339("2026-01-01T01:00:00+01:00").unwrap();
/// let b = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
/// assert_eq!(a, b);
/// ```
pub fn parse_rfc3339(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let sep = |i: usize, c: u8| b[i] == c;
    let shape_ok = sep(4, b'-')
        && sep(7, b'-')
        && matches!(b[10], b'T' | b't' | b' ')
        && sep(13, b':')
        && sep(16, b':');
    if !shape_ok {
        return None;
    }
    let year = i64::from(digits(&b[0..4])?);
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let month_days = [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day == 0 || day > month_days[month as usize - 1] {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        let mut scale = 100_000_000i128;
        while i < b.len() && b[i].is_ascii_digit() {
            nanos += i128::from(b[i] - b'0') * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits(&b[i + 1..i + 3])?;
            let om = digits(&b[i + 4..i + 6])?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Some(Instant(i128::from(secs) * 1_000_000_000 + nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(Instant(0)));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.5Z"),
            Some(Instant(500_000_000))
        );
        assert_eq!(parse_rfc3339("1969-12-31T19:00:00-05:00"), Some(Instant(0)));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:00:00z"),
            parse_rfc3339("2024-02-29 14:30:00+02:30")
        );
        assert_eq!(
            parse_rfc3339("2026-11-21T00:00:00Z"),
            from_millis(1_795_219_200_000.0)
        );
    }

    #[test]
    fn fraction_is_truncated_at_nanoseconds() {
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.1234567899Z"),
            Some(Instant(123_456_789))
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00.Z",
            "2026-01-01",
            "2026-01-01T00:00:00Zjunk",
            "+2026-01-01T00:00:00Z",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn millis_must_be_integral_and_safe() {
        assert_eq!(from_millis(-1.0), Some(Instant(-1_000_000)));
        assert_eq!(from_millis(0.25), None);
        assert_eq!(from_millis(f64::NAN), None);
        assert_eq!(from_millis(9_007_199_254_740_992.0), None);
    }
}

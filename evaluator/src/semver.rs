//! SemVer 2.0.0 parsing and precedence, without allocation.
//!
//! Differences from a strict SemVer parser: a missing minor or patch counts as 0
//! (`"2"` is `2.0.0`, `"2.1-rc.1"` is `2.1.0-rc.1`). Build metadata is accepted and
//! ignored, as precedence requires. Numeric parts and identifiers may not have
//! leading zeros.

use std::cmp::Ordering;

/// A version borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release identifiers joined by `.`; empty when there are none.
    pub pre: &'a str,
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

fn identifiers_ok(s: &str, numeric_no_leading_zero: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(numeric_no_leading_zero
                && id.len() > 1
                && id.starts_with('0')
                && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Parses `MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]`.
///
/// ```
/// use edgeflag_evaluator::semver::parse;
/// let v = parse("1.2-beta.1+build.5").unwrap();
/// assert_eq!((v.major, v.minor, v.patch, v.pre), (1, 2, 0, "beta.1"));
/// assert!(parse("01.2.3").is_none());
/// ```
pub fn parse(s: &str) -> Option<Version<'_>> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    if let Some(b) = build {
        if !identifiers_ok(b, false) {
            return None;
        }
    }
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => {
            if !identifiers_ok(p, true) {
                return None;
            }
            (c, p)
        }
        None => (rest, ""),
    };
    let mut parts = core.split('.');
    let major = number(parts.next()?)?;
    let minor = match parts.next() {
        Some(p) => number(p)?,
        None => 0,
    };
    let patch = match parts.next() {
        Some(p) => number(p)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(Version {
        major,
        minor,
        patch,
        pre,
    })
}

fn compare_identifier(a: &str, b: &str) -> Ordering {
    let an = a.bytes().all(|c| c.is_ascii_digit());
    let bn = b.bytes().all(|c| c.is_ascii_digit());
    match (an, bn) {
        // No leading zeros, so a longer number is larger.
        (true, true) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

/// SemVer precedence.
///
/// ```
/// use edgeflag_evaluator::semver::{compare, parse};
/// use std::cmp::Ordering;
/// let order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
///              "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"];
/// for w in order.windows(2) {
///     assert_eq!(compare(&parse(w[0]).unwrap(), &parse(w[1]).unwrap()), Ordering::Less);
/// }
/// ```
pub fn compare(a: &Version<'_>, b: &Version<'_>) -> Ordering {
    a.major
        .cmp(&b.major)
        .then(a.minor.cmp(&b.minor))
        .then(a.patch.cmp(&b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let mut x = a.pre.split('.');
                let mut y = b.pre.split('.');
                loop {
                    match (x.next(), y.next()) {
                        (None, None) => return Ordering::Equal,
                        (None, Some(_)) => return Ordering::Less,
                        (Some(_), None) => return Ordering::Greater,
                        (Some(p), Some(q)) => match compare_identifier(p, q) {
                            Ordering::Equal => continue,
                            o => return o,
                        },
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(&parse(a).unwrap(), &parse(b).unwrap())
    }

    #[test]
    fn missing_minor_and_patch_are_zero() {
        assert_eq!(cmp("2", "2.0.0"), Ordering::Equal);
        assert_eq!(cmp("2.1", "2.1.0"), Ordering::Equal);
        assert_eq!(cmp("2.1-rc.1", "2.1.0-rc.1"), Ordering::Equal);
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(cmp("1.0.0+a", "1.0.0+b"), Ordering::Equal);
    }

    #[test]
    fn prerelease_is_lower_than_release() {
        assert_eq!(cmp("1.0.0-rc.1", "1.0.0"), Ordering::Less);
        assert_eq!(cmp("1.0.0-alpha.10", "1.0.0-alpha.9"), Ordering::Greater);
        assert_eq!(cmp("1.0.0-9", "1.0.0-a"), Ordering::Less);
    }

    #[test]
    fn numbers_compare_numerically() {
        assert_eq!(cmp("1.10.0", "1.9.0"), Ordering::Greater);
        assert_eq!(
            cmp("1.0.0-99999999999999999999999", "1.0.0-100"),
            Ordering::Greater
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "v1.0.0",
            "1.0.0.0",
            "1..0",
            "01.0.0",
            "1.0.0-",
            "1.0.0-01",
            "1.0.0-a..b",
            "1.0.0+",
            "1.0.0-Ü",
            "a.b.c",
            "1.0.0 ",
            "99999999999999999999999.0.0",
        ] {
            assert!(parse(bad).is_none(), "{bad:?} should not parse");
        }
    }
}

//! Durations on the command line: a whole number and a unit, `ms`, `s`, `m`, `h`
//! or `d` (`500ms`, `10s`, `30d`). The one parser every flag uses.

use std::time::Duration;

/// Parses `500ms`, `10s`, `2m`, `12h` or `30d`; zero is refused.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (e.g. 500ms, 10s, 2m, 12h, 30d)"))?;
    let scale = match unit {
        "ms" => return nonzero(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("not a duration: {text:?} (units: ms, s, m, h, d)")),
    };
    let secs = n
        .checked_mul(scale)
        .filter(|&s| s <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("{text:?}: longer than 100 years"))?;
    nonzero(Duration::from_secs(secs))
}

fn nonzero(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err("a duration must be above zero".into())
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit_and_refuses_the_rest() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse("30d"), Ok(Duration::from_secs(2_592_000)));
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "10x",
            "-1s",
            "0s",
            "0ms",
            "99999999999999d",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}

//! Human durations for configuration: `250ms`, `5s`, `30m`, `2h`, `1d`.

use std::time::Duration;

pub fn parse(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{raw}` has no unit (use ms, s, m, h or d)"))?;
    let (number, unit) = raw.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` does not start with a whole number"))?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{raw}` has an unknown unit `{unit}` (use ms, s, m, h or d)"
            ))
        }
    };
    value
        .checked_mul(millis)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{raw}` is too long"))
}

/// The inverse of [`parse`], choosing the largest unit that divides exactly.
pub fn format(duration: Duration) -> String {
    let ms = duration.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms != 0 && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_round_trips() {
        for (raw, ms) in [
            ("250ms", 250),
            ("5s", 5_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
        ] {
            let parsed = parse(raw).unwrap();
            assert_eq!(parsed, Duration::from_millis(ms));
            assert_eq!(format(parsed), raw);
        }
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(parse("5").is_err());
        assert!(parse("5w").is_err());
        assert!(parse("s").is_err());
        assert!(parse("-5s").is_err());
    }
}

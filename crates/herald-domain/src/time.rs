//! Times a client sends: RFC 3339 only (`2026-01-02T03:04:05Z`, `…+02:00`), within years 1970
//! to 9999. Chrono alone would also take `+99999-01-01T00:00:00Z` and `-0001-…`, which no
//! RFC 3339 reader can read back when Herald returns them.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Deserializer};

/// The first and last years a time may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Parses an RFC 3339 time within [`YEARS`], as UTC.
pub fn parse_rfc3339(raw: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(raw.trim()).map_err(|_| {
        format!(
            "must be an RFC 3339 time such as 2026-01-02T03:04:05Z, with a four-digit year; got `{raw}`"
        )
    })?;
    let utc = parsed.with_timezone(&Utc);
    if !YEARS.contains(&utc.year()) {
        return Err(format!(
            "must fall within the years {} to {}",
            YEARS.start(),
            YEARS.end()
        ));
    }
    Ok(utc)
}

/// For `#[serde(deserialize_with = "herald_domain::time::rfc3339")]`.
pub fn rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    parse_rfc3339(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// For `#[serde(default, deserialize_with = "herald_domain::time::optional_rfc3339")]`.
pub fn optional_rfc3339<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(raw) => parse_rfc3339(&raw)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_in_the_window_are_read_as_utc() {
        let t = parse_rfc3339("2026-01-02T05:04:05+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-02T03:04:05+00:00");
        assert!(parse_rfc3339("1970-01-01T00:00:00Z").is_ok());
        assert!(parse_rfc3339("9999-12-31T23:59:59.999Z").is_ok());
    }

    #[test]
    fn other_forms_and_years_are_refused() {
        for raw in [
            "+99999-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-01-02",
            "2026-01-02 03:04:05",
            "1700000000",
            "",
        ] {
            assert!(parse_rfc3339(raw).is_err(), "{raw}");
        }
    }
}

//! Durations written as people write them on the command line (`30s`, `15m`, `14d`, `2w`)
//! and RFC 3339 timestamps.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// One hour in milliseconds, the unit of every duration and instant in podsizer.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds (24 h: UTC days, no daylight saving).
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Why a duration or timestamp text was rejected; each variant holds the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number followed by a unit (`s`, `m`, `h`, `d`, `w`), or too large for i64 ms.
    #[error("invalid duration {0:?}: expected a number and a unit, e.g. 30s, 15m, 12h, 14d, 2w")]
    Duration(String),
    /// A duration of zero: no window or step can be empty.
    #[error("invalid duration {0:?}: must be longer than zero")]
    Zero(String),
    /// Neither RFC 3339 nor a `YYYY-MM-DD` date.
    #[error("invalid timestamp {0:?}: expected RFC 3339, e.g. 2026-11-20T14:00:00Z, or a date 2026-11-20")]
    Timestamp(String),
}

/// Parses `90s`, `15m`, `12h`, `14d`, `2w` (and combinations like `1d12h`) into milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let bad = || DurationError::Duration(text.to_string());
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut seen_unit = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit_ms = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => HOUR_MS,
            'd' => DAY_MS,
            'w' => 7 * DAY_MS,
            _ => return Err(bad()),
        };
        let n: i64 = digits.parse().map_err(|_| bad())?;
        total = n.checked_mul(unit_ms).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        digits.clear();
        seen_unit = true;
    }
    if !digits.is_empty() || !seen_unit {
        return Err(bad());
    }
    if total == 0 {
        return Err(DurationError::Zero(text.to_string()));
    }
    Ok(total)
}

/// Parses an RFC 3339 timestamp (any offset) or a bare date (midnight UTC) into epoch ms.
pub fn parse_timestamp(text: &str) -> Result<i64, DurationError> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis());
    }
    Err(DurationError::Timestamp(text.to_string()))
}

/// RFC 3339 in UTC with a `Z`, seconds precision.
pub fn format_timestamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), 30_000);
        assert_eq!(parse_duration("14d").unwrap(), 14 * DAY_MS);
        assert_eq!(parse_duration("1d12h").unwrap(), 36 * HOUR_MS);
        assert_eq!(parse_duration("2w").unwrap(), 14 * DAY_MS);
        for bad in ["", "14", "d", "1x", "-1d", "0s", "1.5d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert_eq!(parse_timestamp("1970-01-02").unwrap(), DAY_MS);
        assert!(parse_timestamp("yesterday").is_err());
        assert_eq!(format_timestamp(DAY_MS), "1970-01-02T00:00:00Z");
    }
}

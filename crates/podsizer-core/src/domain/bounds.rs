//! Where a measurement stops being one: the instants samples can have been taken at and the
//! usage one container can physically have. Past these a value is a mistake in the input (a
//! unit mix-up, a typo, a corrupt file), and one such row would otherwise move the window or
//! every percentile; so it is refused where it is read, and what podsizer proposes is capped
//! to the same ceiling before it reaches a manifest.

use super::duration::{format_timestamp, DAY_MS};

/// More cores than any node offers today; one container above this is a unit mistake.
pub const MAX_CORES: f64 = 1024.0;
/// 64 TiB: more memory than any node offers today.
pub const MAX_MEMORY_BYTES: f64 = 64.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0;
/// 2000-01-01T00:00:00Z. Kubernetes is younger; an earlier instant is epoch seconds read as
/// milliseconds (2026 in seconds is January 1970 in milliseconds).
pub const EARLIEST_MS: i64 = 946_684_800_000;
/// Clock skew a sample may have into the future.
const FUTURE_SLACK_MS: i64 = DAY_MS;

/// The latest instant a sample may carry: now plus a day of clock skew.
pub fn latest_ms() -> i64 {
    chrono::Utc::now().timestamp_millis().saturating_add(FUTURE_SLACK_MS)
}

/// Checks an instant in epoch milliseconds against [`EARLIEST_MS`, now + 1 day].
pub fn check_timestamp(ms: i64) -> Result<(), String> {
    check_timestamp_until(ms, latest_ms())
}

/// As [`check_timestamp`], with the latest instant given (tests fix "now").
pub fn check_timestamp_until(ms: i64, latest: i64) -> Result<(), String> {
    if (EARLIEST_MS..=latest).contains(&ms) {
        return Ok(());
    }
    let side = if ms < EARLIEST_MS { "before 2000-01-01" } else { "more than a day in the future" };
    Err(format!("{} is {side}{}", describe_instant(ms), unit_hint(ms, latest)))
}

/// Checks that an instant has a calendar date (chrono's span, about ±262,000 years) with room
/// for a day on either side.
pub fn check_calendar(ms: i64) -> Result<(), String> {
    let dated = |v: Option<i64>| v.and_then(chrono::DateTime::from_timestamp_millis).is_some();
    if dated(ms.checked_sub(DAY_MS)) && dated(ms.checked_add(DAY_MS)) {
        Ok(())
    } else {
        Err(format!("{ms} ms has no calendar date"))
    }
}

fn describe_instant(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(_) => format!("{ms} ms ({})", format_timestamp(ms)),
        None => format!("{ms} ms (beyond any calendar)"),
    }
}

/// Names the unit an integer timestamp seems to be in when it is not milliseconds.
fn unit_hint(ms: i64, latest: i64) -> &'static str {
    let plausible = |v: i64| (EARLIEST_MS..=latest).contains(&v);
    if ms.checked_mul(1000).is_some_and(plausible) {
        "; it looks like epoch seconds, but integer timestamps are read as epoch milliseconds"
    } else if plausible(ms / 1000) {
        "; it looks like epoch microseconds, but integer timestamps are read as epoch milliseconds"
    } else if plausible(ms / 1_000_000) {
        "; it looks like epoch nanoseconds, but integer timestamps are read as epoch milliseconds"
    } else {
        ""
    }
}

/// Checks a CPU usage in cores: finite, not negative, at most [`MAX_CORES`].
pub fn check_cores(cores: f64) -> Result<(), String> {
    check_usage(cores)?;
    if cores > MAX_CORES {
        return Err(format!("{} cores is more than one container can use (at most {MAX_CORES})", short_number(cores)));
    }
    Ok(())
}

/// Checks a memory usage in bytes: finite, not negative, at most [`MAX_MEMORY_BYTES`].
pub fn check_memory(bytes: f64) -> Result<(), String> {
    check_usage(bytes)?;
    if bytes > MAX_MEMORY_BYTES {
        return Err(format!("{} bytes is more than one container can use (at most 64Ti)", short_number(bytes)));
    }
    Ok(())
}

/// A number for a message: `1e300`, not three hundred digits.
pub fn short_number(v: f64) -> String {
    if v.abs() >= 1e15 {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

fn check_usage(v: f64) -> Result<(), String> {
    if v.is_nan() {
        Err("NaN is not a usage".into())
    } else if v.is_infinite() {
        Err("infinite usage".into())
    } else if v < 0.0 {
        Err(format!("negative usage {v}"))
    } else {
        Ok(())
    }
}

/// A proposed CPU figure held to [`MAX_CORES`]; `None` when it was already within.
pub fn cap_cores(cores: f64) -> Option<f64> {
    (cores.is_nan() || cores > MAX_CORES).then_some(MAX_CORES)
}

/// A proposed memory figure held to [`MAX_MEMORY_BYTES`]; `None` when it was already within.
pub fn cap_memory(bytes: f64) -> Option<f64> {
    (bytes.is_nan() || bytes > MAX_MEMORY_BYTES).then_some(MAX_MEMORY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-19

    #[test]
    fn timestamps_outside_the_plausible_span_name_the_likely_unit() {
        assert!(check_timestamp_until(NOW, NOW).is_ok());
        let seconds = check_timestamp_until(NOW / 1000, NOW).unwrap_err();
        assert!(seconds.contains("before 2000") && seconds.contains("epoch seconds"), "{seconds}");
        let nanos = check_timestamp_until(NOW * 1_000_000, NOW).unwrap_err();
        assert!(nanos.contains("future") && nanos.contains("nanoseconds"), "{nanos}");
        let micros = check_timestamp_until(NOW * 1000, NOW).unwrap_err();
        assert!(micros.contains("microseconds"), "{micros}");
        let year_9999 = crate::domain::parse_timestamp("9999-01-01T00:00:00Z").unwrap();
        let far = check_timestamp_until(year_9999, NOW).unwrap_err();
        assert!(far.contains("9999-01-01") && far.contains("future"), "{far}");
        assert!(check_timestamp_until(i64::MIN, NOW).unwrap_err().contains("beyond any calendar"));
        assert!(check_timestamp_until(1 << 62, NOW).is_err());
        assert!(check_calendar(0).is_ok() && check_calendar(NOW * 1000).is_ok());
        assert!(check_calendar(NOW * 1_000_000).is_err() && check_calendar(-(1 << 62)).is_err());
    }

    #[test]
    fn usage_beyond_physical_sense_is_refused() {
        assert!(check_cores(MAX_CORES).is_ok());
        assert!(check_cores(1e300).unwrap_err().contains("at most 1024"));
        assert!(check_memory(MAX_MEMORY_BYTES).is_ok());
        assert!(check_memory(1e300).unwrap_err().contains("64Ti"));
        assert!(check_memory(-1.0).is_err() && check_cores(f64::NAN).is_err() && check_cores(f64::INFINITY).is_err());
    }

    #[test]
    fn caps_hold_proposals_to_the_ceiling() {
        assert_eq!(cap_cores(2.0), None);
        assert_eq!(cap_cores(1e19), Some(MAX_CORES));
        assert_eq!(cap_memory(1e300), Some(MAX_MEMORY_BYTES));
        assert_eq!(cap_memory(f64::NAN), Some(MAX_MEMORY_BYTES));
    }
}

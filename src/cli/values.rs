//! Typed command-line values: clap parses them (a bad one is a usage error naming the flag,
//! exit code 2) and the commands receive numbers, keeping the text the user wrote for messages.

use crate::domain::{parse_duration, parse_quantity, parse_timestamp};
use std::fmt;
use std::time::Duration;

/// A duration such as `14d` or `1d12h`, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub ms: i64,
    text: String,
}

impl Span {
    /// A whole number of days, written `{days}d`.
    pub(crate) fn days(days: i64) -> Span {
        Span { ms: days * crate::domain::DAY_MS, text: format!("{days}d") }
    }

    /// A whole number of seconds, written `{seconds}s`.
    pub(crate) fn seconds(seconds: i64) -> Span {
        Span { ms: seconds * 1000, text: format!("{seconds}s") }
    }
}

/// A time: RFC 3339 or a date, in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Time {
    pub ms: i64,
    text: String,
}

/// Where an importer's history starts (`--since`): a duration before its end, or a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Since {
    /// `14d`: this long before the end.
    Before(Span),
    /// `2026-11-16` or RFC 3339: from this time.
    At(Time),
}

impl Since {
    /// The first instant, for history that ends at `until_ms`.
    pub(crate) fn start_ms(&self, until_ms: i64) -> i64 {
        match self {
            Since::Before(span) => until_ms - span.ms,
            Since::At(time) => time.ms,
        }
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Since::Before(span) => span.fmt(f),
            Since::At(time) => time.fmt(f),
        }
    }
}

/// A CPU or memory quantity (`10m`, `16Mi`): cores or bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantity {
    pub value: f64,
    text: String,
}

/// A relative change: `10%` or `0.1`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Share {
    pub fraction: f64,
    text: String,
}

macro_rules! shown_as_written {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }
    )*};
}
macro_rules! written_text {
    ($($t:ty),*) => {$(
        impl $t {
            /// As the user wrote it.
            pub(crate) fn text(&self) -> &str {
                &self.text
            }
        }
    )*};
}
written_text!(Span);
shown_as_written!(Span, Time, Quantity, Share);

pub(super) fn span(text: &str) -> Result<Span, String> {
    parse_duration(text).map(|ms| Span { ms, text: text.to_string() }).map_err(|e| e.to_string())
}

pub(super) fn time(text: &str) -> Result<Time, String> {
    parse_timestamp(text).map(|ms| Time { ms, text: text.to_string() }).map_err(|e| e.to_string())
}

/// A duration (`30s`, `5m`) as the standard library's, for timeouts and intervals.
pub(super) fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map(|ms| Duration::from_millis(ms.unsigned_abs())).map_err(|e| e.to_string())
}

/// `--since`: a duration (`14d`) or else a time.
pub(super) fn since(text: &str) -> Result<Since, String> {
    match span(text) {
        Ok(span) => Ok(Since::Before(span)),
        Err(_) => time(text).map(Since::At).map_err(|e| format!("expected a duration (14d) or a time: {e}")),
    }
}

pub(super) fn quantity(text: &str) -> Result<Quantity, String> {
    parse_quantity(text).map(|value| Quantity { value, text: text.to_string() }).map_err(|e| e.to_string())
}

pub(super) fn share(text: &str) -> Result<Share, String> {
    let v = match text.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| "expected a percentage like 10% or a fraction like 0.1".to_string())?;
    if !(0.0..10.0).contains(&v) {
        return Err("out of range".into());
    }
    Ok(Share { fraction: v, text: text.to_string() })
}

pub(super) fn time_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.parse().map_err(|_| "unknown time zone; use an IANA name such as UTC, Europe/Berlin or Asia/Tokyo".to_string())
}

pub(super) fn traffic_share(text: &str) -> Result<crate::analysis::traffic::TrafficShare, String> {
    crate::analysis::traffic::TrafficShare::parse(text).map_err(|e| e.to_string())
}

/// A strategy name (`--strategy`), one of `analysis::STRATEGY_NAMES`.
pub(super) fn strategy() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(crate::analysis::STRATEGY_NAMES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_the_text_and_give_numbers() {
        let s = span("1d12h").unwrap();
        assert_eq!((s.ms, s.to_string()), (36 * 3_600_000, "1d12h".to_string()));
        assert_eq!(quantity("16Mi").unwrap().value, 16.0 * 1024.0 * 1024.0);
        assert_eq!(share("10%").unwrap().fraction, 0.1);
        assert_eq!(share("0.25").unwrap().to_string(), "0.25");
        assert!(share("20").is_err() && share("ten").is_err());
        assert!(span("0d").unwrap_err().contains("longer than zero"));
        assert!(time("yesterday").is_err());
        assert_eq!(time_zone("Asia/Tokyo").unwrap(), chrono_tz::Asia::Tokyo);
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn durations_become_std_durations() {
        for (text, ms) in [("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("2w", 1_209_600_000)] {
            assert_eq!(duration(text).unwrap(), Duration::from_millis(ms), "{text}");
        }
        for bad in ["0s", "", "ten", "-5s", "5"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn since_is_a_duration_before_the_end_or_a_time() {
        let until = 10 * crate::domain::DAY_MS;
        let midnight = crate::domain::parse_timestamp("1970-01-03").unwrap();
        for (text, start, shown) in [
            ("14d", until - 14 * crate::domain::DAY_MS, "14d"),
            ("1d12h", until - 36 * 3_600_000, "1d12h"),
            ("1970-01-03", midnight, "1970-01-03"),
            ("1970-01-03T06:00:00Z", midnight + 6 * 3_600_000, "1970-01-03T06:00:00Z"),
        ] {
            let since = since(text).unwrap();
            assert_eq!((since.start_ms(until), since.to_string()), (start, shown.to_string()), "{text}");
        }
        for bad in ["yesterday", "0d", "2026-13-01"] {
            let e = since(bad).unwrap_err();
            assert!(e.starts_with("expected a duration (14d) or a time: "), "{bad}: {e}");
        }
    }

    #[test]
    fn whole_days_and_seconds_spell_as_written() {
        assert_eq!(Span::days(30), span("30d").unwrap());
        assert_eq!(Span::days(14).ms, 14 * crate::domain::DAY_MS);
        assert_eq!(Span::seconds(60), span("60s").unwrap());
    }
}

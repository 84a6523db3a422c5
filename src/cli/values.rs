//! Typed command-line values: clap parses them (a bad one is a usage error naming the flag,
//! exit code 2) and the commands receive numbers, keeping the text the user wrote for messages.

use crate::domain::{parse_duration, parse_quantity, parse_timestamp};
use std::fmt;

/// A duration such as `14d` or `1d12h`, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub ms: i64,
    text: String,
}

/// A time: RFC 3339 or a date, in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Time {
    pub ms: i64,
    text: String,
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
written_text!(Span, Time);
shown_as_written!(Span, Time, Quantity, Share);

pub(super) fn span(text: &str) -> Result<Span, String> {
    parse_duration(text).map(|ms| Span { ms, text: text.to_string() }).map_err(|e| e.to_string())
}

pub(super) fn time(text: &str) -> Result<Time, String> {
    parse_timestamp(text).map(|ms| Time { ms, text: text.to_string() }).map_err(|e| e.to_string())
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
}

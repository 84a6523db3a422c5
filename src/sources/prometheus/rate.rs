//! What `query_range` would return, computed from raw samples: `rate(counter[W])` and an
//! instant selector, each evaluated at every instant of a step grid.
//!
//! The rules are Prometheus 2.x's (`promql/functions.go`, `extrapolatedRate`; the engine's
//! range and instant selection):
//!
//! - The range of `rate` at instant `t` holds the samples with `t - W <= time <= t` (both ends
//!   included), stale markers left out. Fewer than two samples: no value.
//! - The increase is last − first, plus the value before each drop (a counter reset restarts
//!   from zero).
//! - Extrapolation: the sampled interval (first to last sample) is extended towards each end of
//!   the range by the gap to that end when the gap is under 1.1 × the average spacing of the
//!   samples, otherwise by half the average spacing. Towards the start, never past the instant
//!   where the counter would have been zero (when it increased and its first value is ≥ 0).
//!   The increase is scaled by extended / sampled interval and divided by `W` in seconds.
//! - An instant selector at `t` takes the newest sample with `t - 5m <= time <= t`; a stale
//!   marker there means no value.

/// Prometheus's default lookback of an instant selector.
pub const LOOKBACK_MS: i64 = 5 * 60_000;

/// The NaN Prometheus writes when a series goes stale (not a value).
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub(crate) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// `rate()` over `samples` (time-ordered, no stale markers) for a range ending at `end_ms`.
pub(crate) fn extrapolated_rate(samples: &[(i64, f64)], end_ms: i64, range_ms: i64) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    if samples.len() < 2 {
        return None;
    }
    let start_ms = end_ms - range_ms;
    let mut increase = last.1 - first.1;
    let mut previous = first.1;
    for &(_, v) in &samples[1..] {
        if v < previous {
            increase += previous;
        }
        previous = v;
    }
    let mut to_start = (first.0 - start_ms) as f64 / 1000.0;
    let to_end = (end_ms - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let spacing = sampled / (samples.len() - 1) as f64;
    if increase > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / increase);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = spacing * 1.1;
    let mut extended = sampled;
    extended += if to_start < threshold { to_start } else { spacing / 2.0 };
    extended += if to_end < threshold { to_end } else { spacing / 2.0 };
    let factor = extended / sampled / (range_ms as f64 / 1000.0);
    Some(increase * factor)
}

/// The step grid `start, start + step, ..., end` (both on the grid).
fn grid(start_ms: i64, end_ms: i64, step_ms: i64) -> impl Iterator<Item = i64> {
    (0..).map(move |i| start_ms + i * step_ms).take_while(move |t| *t <= end_ms)
}

/// `rate(series[range])` at each grid instant where it has a value.
pub fn rate_on_grid(
    samples: &[(i64, f64)],
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    range_ms: i64,
) -> Vec<(i64, f64)> {
    let live: Vec<(i64, f64)> = samples.iter().copied().filter(|s| !is_stale(s.1)).collect();
    let mut out = Vec::new();
    let (mut lo, mut hi) = (0, 0);
    for t in grid(start_ms, end_ms, step_ms) {
        while hi < live.len() && live[hi].0 <= t {
            hi += 1;
        }
        while lo < hi && live[lo].0 < t - range_ms {
            lo += 1;
        }
        if let Some(v) = extrapolated_rate(&live[lo..hi], t, range_ms) {
            out.push((t, v));
        }
    }
    out
}

/// An instant selector's value at each grid instant where it has one.
pub fn instant_on_grid(samples: &[(i64, f64)], start_ms: i64, end_ms: i64, step_ms: i64) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut next = 0;
    for t in grid(start_ms, end_ms, step_ms) {
        while next < samples.len() && samples[next].0 <= t {
            next += 1;
        }
        let Some(&(time, v)) = next.checked_sub(1).map(|i| &samples[i]) else { continue };
        if time >= t - LOOKBACK_MS && !is_stale(v) {
            out.push((t, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_counter_gives_its_slope() {
        // 0.5 cores: +30 core-seconds a minute, scraped every 60 s.
        let s: Vec<(i64, f64)> = (0..10).map(|i| (i * 60_000, 100.0 + 30.0 * i as f64)).collect();
        let r = rate_on_grid(&s, 120_000, 540_000, 60_000, 120_000);
        assert_eq!(r.len(), 8);
        for (_, v) in r {
            assert!((v - 0.5).abs() < 1e-12, "{v}");
        }
    }

    #[test]
    fn reset_adds_the_value_before_the_drop() {
        // 10, 20, then a restart at 5, 15: increase (15 - 10) + 20 = 25 over 3 minutes sampled.
        let s = [(0, 10.0), (60_000, 20.0), (120_000, 5.0), (180_000, 15.0)];
        let v = extrapolated_rate(&s, 180_000, 180_000).unwrap();
        // Samples touch both ends: no extrapolation, 25 / 180 s.
        assert!((v - 25.0 / 180.0).abs() < 1e-15, "{v}");
    }

    #[test]
    fn extrapolation_stops_at_zero_and_at_half_a_spacing() {
        // Range 300 s ending at 200 s: the start gap (220 s) is over 1.1 × the spacing (60 s),
        // so half a spacing (30 s) is added; the end gap (20 s) is added whole.
        let s = [(120_000, 600.0), (180_000, 606.0)];
        let v = extrapolated_rate(&s, 200_000, 300_000).unwrap();
        assert!((v - 6.0 * (60.0 + 30.0 + 20.0) / 60.0 / 300.0).abs() < 1e-15, "{v}");
        // A counter born inside the range: its zero point (60 s before the first sample)
        // replaces the start gap, and being under the threshold it is added whole.
        let s = [(120_000, 6.0), (180_000, 12.0)];
        let v = extrapolated_rate(&s, 200_000, 300_000).unwrap();
        assert!((v - 6.0 * (60.0 + 60.0 + 20.0) / 60.0 / 300.0).abs() < 1e-15, "{v}");
        // Zero point closer than the start gap: counter at 1 then 7 (zero 10 s before).
        let s = [(120_000, 1.0), (180_000, 7.0)];
        let v = extrapolated_rate(&s, 180_000, 75_000).unwrap();
        assert!((v - 6.0 * (60.0 + 10.0) / 60.0 / 75.0).abs() < 1e-15, "{v}");
        assert_eq!(extrapolated_rate(&s[..1], 180_000, 60_000), None);
    }

    #[test]
    fn gaps_leave_holes_and_stale_markers_are_skipped() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let s = [(0, 1.0), (60_000, 2.0), (120_000, stale), (600_000, 3.0), (660_000, 4.0)];
        let r = rate_on_grid(&s, 60_000, 660_000, 60_000, 60_000);
        let times: Vec<i64> = r.iter().map(|p| p.0).collect();
        assert_eq!(times, vec![60_000, 660_000]);
        let m = instant_on_grid(&s, 60_000, 660_000, 60_000);
        // 60 s: 2.0; 120 s onwards stale until 600 s; 420 s is > 5 min after 60 s anyway.
        let times: Vec<i64> = m.iter().map(|p| p.0).collect();
        assert_eq!(times, vec![60_000, 600_000, 660_000]);
        let plain = [(0, 1.0)];
        let m = instant_on_grid(&plain, 0, 600_000, 60_000);
        assert_eq!(m.len(), 6, "0 .. 300 s inclusive: {m:?}");
    }
}

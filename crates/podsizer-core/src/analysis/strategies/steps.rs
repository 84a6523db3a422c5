//! Step changes of memory: a container whose typical working set jumped from one day to the
//! next may jump again, and the next jump starts from where it is now. The memory limit then
//! covers the highest working set seen times the largest step seen (with a margin), so a
//! repeat of the step is not an OOM kill. Flat, cyclic or slowly growing containers show no
//! step, and their limits stay where the peak guard puts them.
//!
//! Constants chosen on the Bitbrains VMs (docs/backtest.md says which families are held out).

use crate::analysis::usage::ContainerUsage;
use crate::domain::HOUR_MS;

/// A day's typical working set at least this many times the day before is a step.
pub const MIN_STEP: f64 = 1.5;
/// Days whose typical working set is below this share of the window's peak are not a level
/// a step starts from: a restart or an idle day read as a level would make any return to
/// work a huge "step".
pub const MIN_LEVEL_SHARE: f64 = 0.05;
/// The limit covers the peak x the step x (1 + this).
pub const STEP_MARGIN: f64 = 0.10;
/// Days with less data than this are not compared (a partial day's median is a time of day).
const FULL_DAY_MS: i64 = 20 * HOUR_MS;

/// The largest step of a container's typical working set in the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The day's typical (p50) working set over the previous day's.
    pub ratio: f64,
    /// The typical working set before the step, in bytes.
    pub from_bytes: f64,
    /// The typical working set after the step, in bytes.
    pub to_bytes: f64,
}

impl Step {
    /// The limit that holds a repeat of the step from `peak`.
    pub fn guard(&self, peak: f64) -> f64 {
        peak * self.ratio * (1.0 + STEP_MARGIN)
    }
}

/// The largest day-to-day step of the typical (p50) working set, comparing consecutive full
/// days; `None` when no day rose to `MIN_STEP` times the one before.
pub fn largest_step(usage: &ContainerUsage) -> Option<Step> {
    let peak = usage.memory_max();
    let levels: Vec<f64> = usage
        .days
        .values()
        .filter(|d| d.last_ms - d.first_ms >= FULL_DAY_MS)
        .filter_map(|d| d.memory.percentile(50.0))
        .collect();
    levels
        .windows(2)
        .filter(|w| w[0] >= MIN_LEVEL_SHARE * peak && w[0] > 0.0)
        .map(|w| Step { ratio: w[1] / w[0], from_bytes: w[0], to_bytes: w[1] })
        .filter(|s| s.ratio >= MIN_STEP)
        .max_by(|a, b| a.ratio.total_cmp(&b.ratio))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContainerKey, Workload};

    const MIB: f64 = 1048576.0;

    fn empty() -> ContainerUsage {
        ContainerUsage::new(ContainerKey {
            workload: Workload { name: "w".into(), ..Default::default() },
            container: "c".into(),
        })
    }

    /// One sample a minute for `minutes`, the working set given per minute.
    fn usage(memory: impl Fn(i64) -> f64, minutes: i64) -> ContainerUsage {
        let mut u = empty();
        for m in 0..minutes {
            u.observe(m * 60_000, "pod-a", 0.1, memory(m));
        }
        u
    }

    #[test]
    fn a_step_of_the_typical_level_is_found_and_guards_the_limit() {
        // 100Mi for three days, then 300Mi: one step of 3 (within the histogram's 1.6%).
        let u = usage(|m| if m < 3 * 1440 { 100.0 * MIB } else { 300.0 * MIB }, 6 * 1440);
        let s = largest_step(&u).unwrap();
        assert!((s.ratio - 3.0).abs() < 0.1, "{s:?}");
        // A repeat from the 300Mi peak: 300Mi x 3 x 1.1 = 990Mi.
        assert!((Step { ratio: 3.0, ..s }.guard(300.0 * MIB) - 990.0 * MIB).abs() < 1.0);
    }

    #[test]
    fn flat_noisy_restarting_and_partial_days_have_no_step() {
        // +40% one day is below the 1.5 step.
        let day = |m: i64| m / 1440;
        assert_eq!(largest_step(&usage(|m| if day(m) == 2 { 140.0 * MIB } else { 100.0 * MIB }, 6 * 1440)), None);
        // A restart: a day near nothing (1Mi, under 5% of the 100Mi peak), then back to 100Mi.
        assert_eq!(largest_step(&usage(|m| if day(m) == 2 { MIB } else { 100.0 * MIB }, 6 * 1440)), None);
        // A partial last day is not compared: two days at 100Mi, then six hours at 500Mi.
        let partial = usage(|m| if m < 2 * 1440 { 100.0 * MIB } else { 500.0 * MIB }, 2 * 1440 + 360);
        assert_eq!(largest_step(&partial), None);
    }
}

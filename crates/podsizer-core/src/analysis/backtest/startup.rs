//! Start-up CPU throttling in a back-test, apart from steady-state throttling: the holdout's
//! start-up periods (`analysis::startup`'s rule, the steady level taken from the training
//! window, as a sizing run would know it) replayed against each strategy's CPU limit.

use crate::analysis::series::Point;
use crate::analysis::sizing::Sizing;
use crate::analysis::startup::{self, pod_starts};
use std::collections::HashSet;

/// CPU above the limit, in start-up periods and in steady state.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StartupThrottle {
    /// Pod starts in the holdout.
    pub starts: u64,
    /// Samples inside start-up periods.
    pub startup_samples: u64,
    /// CPU-seconds above the limit during start-up periods.
    pub startup_cpu_seconds: f64,
    /// CPU-seconds above the limit in every other sample.
    pub steady_cpu_seconds: f64,
    /// Containers for which the strategy proposed a start-up boost (podsizer with `boost`).
    pub boosted: u64,
}

impl StartupThrottle {
    /// Adds another container's or fold's figures.
    pub fn add(&mut self, o: &StartupThrottle) {
        self.starts += o.starts;
        self.startup_samples += o.startup_samples;
        self.startup_cpu_seconds += o.startup_cpu_seconds;
        self.steady_cpu_seconds += o.steady_cpu_seconds;
        self.boosted += o.boosted;
    }

    /// Start-up CPU-seconds above the limit per start (0 without starts).
    pub fn per_start(&self) -> f64 {
        if self.starts > 0 {
            self.startup_cpu_seconds / self.starts as f64
        } else {
            0.0
        }
    }
}

/// The holdout's start-up samples, as (time, pod) pairs, and how many pods started.
pub(super) fn startup_samples(
    holdout: &[Point],
    steady_cpu: f64,
    split_ms: i64,
    step_ms: i64,
) -> (HashSet<(i64, u32)>, u64) {
    let starts = pod_starts(holdout, steady_cpu, split_ms, step_ms);
    let mut samples = HashSet::new();
    for s in &starts {
        let pod_points = holdout.iter().filter(|p| p.pod == s.pod && p.ts >= s.start_ms);
        samples.extend(pod_points.take(s.cpu.len()).map(|p| (p.ts, p.pod)));
    }
    (samples, starts.len() as u64)
}

/// Replays one sizing's CPU limit over the holdout; during start-up the limit is `boosted`
/// when a start-up boost is in force.
pub(super) fn replay_startup(
    holdout: &[Point],
    startup: &HashSet<(i64, u32)>,
    starts: u64,
    sizing: &Sizing,
    boosted: Option<f64>,
    step_ms: i64,
) -> StartupThrottle {
    let seconds = step_ms as f64 / 1000.0;
    let mut t = StartupThrottle { starts, boosted: u64::from(boosted.is_some()), ..Default::default() };
    let Some(limit) = sizing.cpu_limit_cores else { return t };
    for p in holdout {
        if startup.contains(&(p.ts, p.pod)) {
            t.startup_samples += 1;
            t.startup_cpu_seconds += (p.cpu - boosted.unwrap_or(limit).max(limit)).max(0.0) * seconds;
        } else {
            t.steady_cpu_seconds += (p.cpu - limit).max(0.0) * seconds;
        }
    }
    t
}

/// The start-up limit podsizer's `boost` would put in force, from the training window's
/// start-ups: the limit lifted by the whole factor that covers their peak; `None` when the
/// limit already covers them (or there is no limit or no start-up to judge).
pub(super) fn boosted_limit(
    training: &[Point],
    sizing: &Sizing,
    steady_cpu: f64,
    train_from: i64,
    step_ms: i64,
) -> Option<f64> {
    let starts = pod_starts(training, steady_cpu, train_from, step_ms);
    let profile = startup::profile(&starts, steady_cpu, 0.0, step_ms)?;
    let mut s = *sizing;
    let (advice, _) = startup::advise(profile, &mut s, startup::StartupCpu::Boost, 0.001)?;
    let limit = sizing.cpu_limit_cores?;
    advice.boost.map(|b| limit * f64::from(b.factor))
}

/// The name the totals give podsizer's figures with the boost it would propose in force.
pub const BOOSTED: &str = "podsizer+boost";

/// One container's fold: each strategy's start-up figures (in the order of `sizings`), then
/// podsizer's with its boost (when `podsizer` names its index), over `[split, holdout_to)`.
pub(super) fn fold_startup(
    points: &[Point],
    (train_from, split, holdout_to): (i64, i64, i64),
    training: &crate::analysis::ContainerUsage,
    sizings: &[Option<Sizing>],
    podsizer: Option<usize>,
    step_ms: i64,
) -> Vec<StartupThrottle> {
    let steady = training.combined(|_| 1.0).0.percentile(startup::STEADY_CPU_PERCENTILE).unwrap_or(0.0);
    let holdout: Vec<Point> = points.iter().filter(|p| p.ts >= split && p.ts < holdout_to).copied().collect();
    let (set, starts) = startup_samples(&holdout, steady, split, step_ms);
    let replay = |s: &Option<Sizing>, boost| {
        s.map(|s| replay_startup(&holdout, &set, starts, &s, boost, step_ms)).unwrap_or_default()
    };
    let mut out: Vec<StartupThrottle> = sizings.iter().map(|s| replay(s, None)).collect();
    if let Some(Some(sizing)) = podsizer.map(|i| sizings[i]) {
        let train: Vec<Point> = points.iter().filter(|p| p.ts >= train_from && p.ts < split).copied().collect();
        out.push(replay(&Some(sizing), boosted_limit(&train, &sizing, steady, train_from, step_ms)));
    }
    out
}

/// Adds one fold's figures to a container's, named by strategy (then `BOOSTED`).
pub(super) fn accumulate(
    into: &mut Vec<(String, StartupThrottle)>,
    strategies: &[Box<dyn crate::analysis::Strategy>],
    fold: Vec<StartupThrottle>,
) {
    let names = strategies.iter().map(|s| s.name().to_string()).chain(std::iter::once(BOOSTED.to_string()));
    for (name, t) in names.zip(fold) {
        match into.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => total.add(&t),
            None => into.push((name, t)),
        }
    }
}

/// Totals per strategy over the given containers' figures.
pub(super) fn totals<'a>(
    containers: impl Iterator<Item = &'a [(String, StartupThrottle)]>,
) -> Vec<(String, StartupThrottle)> {
    let mut out: Vec<(String, StartupThrottle)> = Vec::new();
    for c in containers {
        for (name, t) in c {
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, total)) => total.add(t),
                None => out.push((name.clone(), *t)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn pt(minute: i64, pod: u32, cpu: f64) -> Point {
        Point { ts: minute * MIN, pod, cpu, memory: 1.0 }
    }

    #[test]
    fn start_up_and_steady_throttling_are_counted_apart_by_hand() {
        // Pod 0 runs from the split; pod 1 starts at minute 10 with 3.0 and 2.0 cores, then settles.
        let holdout =
            vec![pt(0, 0, 1.5), pt(10, 0, 0.2), pt(10, 1, 3.0), pt(11, 0, 0.2), pt(11, 1, 2.0), pt(12, 1, 0.3)];
        let (startup, starts) = startup_samples(&holdout, 0.5, 0, MIN);
        assert_eq!((starts, startup.len()), (1, 2));
        let sizing = Sizing {
            cpu_request_cores: 0.5,
            cpu_limit_cores: Some(1.0),
            memory_request_bytes: 1.0,
            memory_limit_bytes: 1.0,
        };
        let t = replay_startup(&holdout, &startup, starts, &sizing, None, MIN);
        // Start-up: (2 + 1) x 60 = 180 CPU-seconds; steady: pod 0's 1.5 at minute 0, 0.5 x 60 = 30.
        assert_eq!((t.startup_samples, t.startup_cpu_seconds, t.steady_cpu_seconds), (2, 180.0, 30.0));
        assert_eq!(t.per_start(), 180.0);
        // Boosted to 3 cores during start-up: nothing above; steady unchanged.
        let b = replay_startup(&holdout, &startup, starts, &sizing, Some(3.0), MIN);
        assert_eq!((b.startup_cpu_seconds, b.steady_cpu_seconds, b.boosted), (0.0, 30.0, 1));
        // Training with the same start-up: the limit 1 core lifted 3x covers its 3-core peak.
        assert_eq!(boosted_limit(&holdout, &sizing, 0.5, 0, MIN), Some(3.0));
        let high = Sizing { cpu_limit_cores: Some(3.0), ..sizing };
        assert_eq!(boosted_limit(&holdout, &high, 0.5, 0, MIN), None);
    }
}

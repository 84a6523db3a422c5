//! The verdict rules replayed on the back-test: each strategy's proposal is applied at the
//! split, and the rules of `podsizer verify` judge what the holdout went through on it.
//!
//! A container's fold is **harmed** when, on the proposal, the holdout had an OOM kill (a pod's
//! working set crossing the memory limit) or more than 1% of its CPU time above the CPU limit
//! (core-seconds above the limit / core-seconds used). It is **flagged** when the verdict is not
//! `holds`. The holdout gives usage only: restarts, evictions and throttling are unknown, so
//! the verdict sees the replayed OOM kills, the shares of samples and of CPU time above the CPU
//! limit and the share of samples with the working set above the memory request.

use super::replay::replay;
use super::run::BacktestResult;
use crate::analysis::series::{Point, Prices, Series};
use crate::analysis::verdict::{assess, Observed, Thresholds, Verdict};
use crate::analysis::Sizing;
use crate::domain::Resources;

/// Share of CPU time above the limit past which a holdout counts as harmed.
pub const HARMED_CPU_TIME_ABOVE_LIMIT: f64 = 0.01;

/// How the verdict rules did for one strategy's proposals, counted per container and fold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerdictReplay {
    /// The strategy whose proposals were applied.
    pub strategy: String,
    /// Container folds harmed on the proposal.
    pub harmed: u64,
    /// Of those, flagged (`raise` or `revert`).
    pub harmed_flagged: u64,
    /// Container folds not harmed.
    pub others: u64,
    /// Of those, flagged all the same.
    pub others_flagged: u64,
}

impl VerdictReplay {
    /// Share of harmed container folds flagged (`None` without any).
    pub fn recall(&self) -> Option<f64> {
        (self.harmed > 0).then(|| self.harmed_flagged as f64 / self.harmed as f64)
    }

    /// Share of the other container folds flagged (`None` without any).
    pub fn false_alarms(&self) -> Option<f64> {
        (self.others > 0).then(|| self.others_flagged as f64 / self.others as f64)
    }
}

/// Whether a holdout on `settings` was harmed, and whether the verdict flags it.
pub fn judge(points: &[Point], settings: &Sizing, step_ms: i64, thresholds: &Thresholds) -> Option<(bool, bool)> {
    if points.is_empty() {
        return None;
    }
    let o = replay(points, settings, step_ms, &Prices::default());
    let (used, above) = points.iter().fold((0.0, 0.0), |(used, above), p| {
        let over = settings.cpu_limit_cores.map_or(0.0, |l| (p.cpu - l).max(0.0));
        (used + p.cpu, above + over)
    });
    let harmed = o.oom_kills > 0 || (used > 0.0 && above / used > HARMED_CPU_TIME_ABOVE_LIMIT);
    let share = |n: u64| n as f64 / o.samples as f64;
    let first = points.first().map_or(0, |p| p.ts);
    let last = points.last().map_or(0, |p| p.ts);
    let observed = Observed {
        hours: (last - first + step_ms) as f64 / 3.6e6,
        samples: o.samples,
        oom_kills: Some(o.oom_kills as f64),
        cpu_above_limit_share: settings.cpu_limit_cores.map(|_| share(o.over_limit)),
        cpu_time_above_limit_share: settings.cpu_limit_cores.map(|_| if used > 0.0 { above / used } else { 0.0 }),
        memory_above_request_share: Some(share(o.over_memory_request)),
        peak_working_set_bytes: points.iter().map(|p| p.memory).reduce(f64::max),
        ..Observed::default()
    };
    let after = Resources {
        cpu_request_cores: Some(settings.cpu_request_cores),
        cpu_limit_cores: settings.cpu_limit_cores,
        memory_request_bytes: Some(settings.memory_request_bytes),
        memory_limit_bytes: Some(settings.memory_limit_bytes),
    };
    // Flagged or not does not depend on what the proposal replaced (that only picks raise or revert).
    let flagged = assess(&after, &after, &observed, thresholds).verdict != Verdict::Holds;
    Some((harmed, flagged))
}

/// Per strategy of `result` (in its order), the verdict rules judged on every container fold.
/// `series` are the series `result` was run on, in the same order.
pub fn replay_verdicts(series: &[Series], result: &BacktestResult, thresholds: &Thresholds) -> Vec<VerdictReplay> {
    let names: Vec<String> =
        result.containers.first().map(|c| c.outcomes.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    let mut out: Vec<VerdictReplay> =
        names.iter().map(|n| VerdictReplay { strategy: n.clone(), ..VerdictReplay::default() }).collect();
    for (s, c) in series.iter().zip(&result.containers) {
        let step = s.step_ms();
        for (fold, sizings) in result.folds.iter().zip(&c.sizings) {
            let from = s.points.partition_point(|p| p.ts < fold.split);
            let to = s.points.partition_point(|p| p.ts < fold.holdout_to);
            for (tally, sizing) in out.iter_mut().zip(sizings) {
                let Some((harmed, flagged)) = sizing.and_then(|z| judge(&s.points[from..to], &z, step, thresholds))
                else {
                    continue;
                };
                if harmed {
                    tally.harmed += 1;
                    tally.harmed_flagged += u64::from(flagged);
                } else {
                    tally.others += 1;
                    tally.others_flagged += u64::from(flagged);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: f64 = 1024.0 * 1024.0;

    fn points(cpu: &[f64], memory_mib: &[f64]) -> Vec<Point> {
        cpu.iter()
            .zip(memory_mib)
            .enumerate()
            .map(|(i, (c, m))| Point { ts: i as i64 * 60_000, pod: 0, cpu: *c, memory: m * MI })
            .collect()
    }

    fn sizing(cpu_limit: f64, memory: (f64, f64)) -> Sizing {
        Sizing {
            cpu_request_cores: 0.1,
            cpu_limit_cores: Some(cpu_limit),
            memory_request_bytes: memory.0 * MI,
            memory_limit_bytes: memory.1 * MI,
        }
    }

    #[test]
    fn harm_is_an_oom_kill_or_cpu_time_above_the_limit_and_the_verdict_sees_sample_shares() {
        let t = Thresholds::default();
        // One sample at 300Mi above a 256Mi limit: an OOM kill; harmed and flagged.
        let p = points(&[0.1, 0.1, 0.1, 0.1], &[100.0, 300.0, 100.0, 100.0]);
        assert_eq!(judge(&p, &sizing(1.0, (128.0, 256.0)), 60_000, &t), Some((true, true)));
        // CPU 0.5 then 99 samples of 0.1 under a 0.45 limit: 0.05 of 10.4 core-minutes above (0.48%), not harmed;
        // 1 sample in 100 above the limit is not more than 1%: holds.
        let mut cpu = vec![0.5];
        cpu.extend([0.1; 99]);
        let p = points(&cpu, &[100.0; 100]);
        assert_eq!(judge(&p, &sizing(0.45, (128.0, 256.0)), 60_000, &t), Some((false, false)));
        // The same under a 0.3 limit: 0.2 of 10.4 core-minutes (1.9%) above: harmed, and flagged on that
        // CPU time although only 1 sample in 100 is above the limit.
        assert_eq!(judge(&p, &sizing(0.3, (128.0, 256.0)), 60_000, &t), Some((true, true)));
        // Not harmed, but the working set (100Mi) is above a 64Mi request in every sample: flagged all the same.
        assert_eq!(judge(&p, &sizing(1.0, (64.0, 256.0)), 60_000, &t), Some((false, true)));
        assert_eq!(judge(&[], &sizing(1.0, (64.0, 256.0)), 60_000, &t), None);
    }

    #[test]
    fn shares_are_counted_per_container_fold() {
        let r = VerdictReplay { strategy: "vpa".into(), harmed: 4, harmed_flagged: 3, others: 50, others_flagged: 1 };
        assert_eq!((r.recall(), r.false_alarms()), (Some(0.75), Some(0.02)));
        assert_eq!(VerdictReplay::default().recall(), None);
    }
}

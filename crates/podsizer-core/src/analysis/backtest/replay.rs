//! Replaying fixed settings over a holdout window: what they would have cost and risked.

use crate::analysis::series::{Point, Prices};
use crate::analysis::sizing::Sizing;
use crate::domain::Resources;
use std::collections::HashMap;

/// What a proposal would have done over a holdout window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// Holdout samples replayed.
    pub samples: u64,
    /// CPU request summed over the samples, in core-samples (divide by `samples` for the mean).
    pub cpu_requested: f64,
    /// Requested CPU left unused, max(request - usage, 0) summed over the samples, in core-samples.
    pub cpu_unused: f64,
    /// Memory request summed over the samples, in byte-samples.
    pub memory_requested: f64,
    /// Requested memory left unused, max(request - working set, 0) summed over the samples, in byte-samples.
    pub memory_unused: f64,
    /// Samples whose CPU usage is above the CPU request.
    pub over_request: u64,
    /// Samples whose CPU usage is above the CPU limit: throttling (never, without a limit).
    pub over_limit: u64,
    /// Samples whose working set is above the memory request (eviction exposure).
    pub over_memory_request: u64,
    /// Times a pod's working set crossed above the memory limit (a crossing, not every sample above).
    pub oom_kills: u64,
    /// What the requests reserved, in the currency of [`Prices`]: request x price x sampling interval.
    pub cost: f64,
}

impl Outcome {
    /// Adds another replay's figures (another fold, another container).
    pub fn add(&mut self, o: &Outcome) {
        self.samples += o.samples;
        self.cpu_requested += o.cpu_requested;
        self.cpu_unused += o.cpu_unused;
        self.memory_requested += o.memory_requested;
        self.memory_unused += o.memory_unused;
        self.over_request += o.over_request;
        self.over_limit += o.over_limit;
        self.over_memory_request += o.over_memory_request;
        self.oom_kills += o.oom_kills;
        self.cost += o.cost;
    }

    fn share(part: f64, whole: f64) -> f64 {
        if whole > 0.0 {
            part / whole
        } else {
            0.0
        }
    }

    /// Share of the requested CPU left unused (0-1).
    pub fn cpu_slack(&self) -> f64 {
        Self::share(self.cpu_unused, self.cpu_requested)
    }

    /// Share of the requested memory left unused (0-1).
    pub fn memory_slack(&self) -> f64 {
        Self::share(self.memory_unused, self.memory_requested)
    }

    /// Share of samples above the CPU request (0-1).
    pub fn over_request_share(&self) -> f64 {
        Self::share(self.over_request as f64, self.samples as f64)
    }

    /// Share of samples above the CPU limit, i.e. throttled (0-1).
    pub fn over_limit_share(&self) -> f64 {
        Self::share(self.over_limit as f64, self.samples as f64)
    }

    /// Share of samples whose working set is above the memory request.
    pub fn eviction_exposure(&self) -> f64 {
        Self::share(self.over_memory_request as f64, self.samples as f64)
    }
}

/// Replays `points` against fixed settings.
pub fn replay(points: &[Point], settings: &Sizing, step_ms: i64, prices: &Prices) -> Outcome {
    let mut o = Outcome::default();
    let hours = step_ms as f64 / 3.6e6;
    let gib = 1024f64.powi(3);
    let mut above: HashMap<u32, bool> = HashMap::new();
    for p in points {
        o.samples += 1;
        o.cpu_requested += settings.cpu_request_cores;
        o.cpu_unused += (settings.cpu_request_cores - p.cpu).max(0.0);
        o.memory_requested += settings.memory_request_bytes;
        o.memory_unused += (settings.memory_request_bytes - p.memory).max(0.0);
        o.over_request += u64::from(p.cpu > settings.cpu_request_cores);
        o.over_limit += u64::from(settings.cpu_limit_cores.is_some_and(|l| p.cpu > l));
        o.over_memory_request += u64::from(p.memory > settings.memory_request_bytes);
        let is_above = p.memory > settings.memory_limit_bytes;
        let was_above = above.insert(p.pod, is_above).unwrap_or(false);
        o.oom_kills += u64::from(is_above && !was_above);
        o.cost += (settings.cpu_request_cores * prices.core_hour
            + settings.memory_request_bytes / gib * prices.gib_hour)
            * hours;
    }
    o
}

/// Current settings as a `Sizing`, when all four are known (a missing CPU limit is fine).
pub fn current_sizing(r: &Resources) -> Option<Sizing> {
    Some(Sizing {
        cpu_request_cores: r.cpu_request_cores?,
        cpu_limit_cores: r.cpu_limit_cores,
        memory_request_bytes: r.memory_request_bytes?,
        memory_limit_bytes: r.memory_limit_bytes?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(ts: i64, pod: u32, cpu: f64, memory: f64) -> Point {
        Point { ts, pod, cpu, memory }
    }

    fn sizing(cpu_req: f64, cpu_lim: Option<f64>, mem_req: f64, mem_lim: f64) -> Sizing {
        Sizing {
            cpu_request_cores: cpu_req,
            cpu_limit_cores: cpu_lim,
            memory_request_bytes: mem_req,
            memory_limit_bytes: mem_lim,
        }
    }

    #[test]
    fn figures_on_a_hand_made_series() {
        // request 1 core / 100 bytes, limit 2 cores / 150 bytes; one-hour samples.
        let points = [
            pt(0, 0, 0.5, 50.0),  // 0.5 core unused, 50 bytes unused
            pt(1, 0, 1.5, 160.0), // over request, above memory limit: OOM 1
            pt(2, 0, 2.5, 170.0), // over limit, still above: same OOM
            pt(3, 0, 0.0, 100.0), // back below
            pt(4, 0, 1.0, 151.0), // crosses again: OOM 2
            pt(4, 1, 1.0, 151.0), // another pod's first sample above: OOM 3
        ];
        let o = replay(
            &points,
            &sizing(1.0, Some(2.0), 100.0, 150.0),
            3_600_000,
            &Prices { core_hour: 1.0, gib_hour: 0.0 },
        );
        assert_eq!(o.samples, 6);
        assert!((o.cpu_slack() - (0.5 + 1.0) / 6.0).abs() < 1e-12);
        assert!((o.memory_slack() - 50.0 / 600.0).abs() < 1e-12);
        assert_eq!(o.over_request, 2);
        assert_eq!(o.over_limit, 1);
        assert_eq!(o.over_memory_request, 4, "160, 170, 151 and 151 bytes are above 100");
        assert!((o.eviction_exposure() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(o.oom_kills, 3);
        assert!((o.cost - 6.0).abs() < 1e-12, "6 samples x 1 core x 1 h x $1");
    }

    #[test]
    fn no_cpu_limit_never_throttles_and_memory_cost_uses_gib() {
        let points = [pt(0, 0, 64.0, 1024f64.powi(3))];
        let o = replay(
            &points,
            &sizing(1.0, None, 2.0 * 1024f64.powi(3), 4.0 * 1024f64.powi(3)),
            1_800_000,
            &Prices::default(),
        );
        assert_eq!((o.over_limit, o.over_request, o.oom_kills), (0, 1, 0));
        assert!((o.cost - (0.04 + 2.0 * 0.005) * 0.5).abs() < 1e-12);
    }

    #[test]
    fn outcomes_add_up() {
        let a = replay(&[pt(0, 0, 0.5, 1.0)], &sizing(1.0, None, 2.0, 2.0), 3_600_000, &Prices::default());
        let mut total = Outcome::default();
        total.add(&a);
        total.add(&a);
        assert_eq!(total.samples, 2);
        assert!((total.cpu_slack() - a.cpu_slack()).abs() < 1e-12);
    }
}

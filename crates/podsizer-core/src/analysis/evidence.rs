//! Evidence for one change before it is merged: the proposal replayed over the window it was
//! sized from, beside the current settings (`backtest::replay`), in the figures a reviewer of
//! a memory or CPU cut asks for: OOM kills, eviction exposure, CPU time above the limit and
//! the cost.

use crate::analysis::backtest::{current_sizing, replay, Outcome};
use crate::analysis::series::{Prices, Series};
use crate::analysis::sizing::Sizing;
use crate::domain::Resources;

/// Hours in an average month, for the cost delta.
const MONTH_HOURS: f64 = 730.0;

/// One set of settings replayed over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Replayed {
    /// Times a pod's working set rose above the memory limit (an OOM kill each).
    pub oom_kills: u64,
    /// Share of samples with the working set above the memory request.
    pub eviction_exposure: f64,
    /// Core-seconds of CPU use above the CPU limit (the CPU that limit would have throttled).
    pub cpu_seconds_above_limit: f64,
    /// Share of samples with CPU use above the CPU limit.
    pub cpu_above_limit_share: f64,
    /// Requests' cost per month at the window's pod count.
    pub monthly_cost: f64,
}

/// The evidence for one changed container.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Evidence {
    /// Hours of samples replayed.
    pub hours: f64,
    /// Samples replayed (all pods of the container).
    pub samples: u64,
    /// What the settings in place today would have done.
    pub current: Replayed,
    /// What the proposal would have done.
    pub proposed: Replayed,
    /// Throttled share of CFS periods measured under the current settings (`None`: unknown).
    pub measured_throttling: Option<f64>,
}

impl Evidence {
    /// Proposed minus current monthly cost.
    pub fn monthly_cost_delta(&self) -> f64 {
        self.proposed.monthly_cost - self.current.monthly_cost
    }
}

fn replayed(series: &Series, sizing: &Sizing, step_ms: i64, prices: &Prices, hours: f64) -> Replayed {
    let o: Outcome = replay(&series.points, sizing, step_ms, prices);
    let above: f64 = sizing
        .cpu_limit_cores
        .map_or(0.0, |l| series.points.iter().map(|p| (p.cpu - l).max(0.0)).sum::<f64>() * step_ms as f64 / 1000.0);
    Replayed {
        oom_kills: o.oom_kills,
        eviction_exposure: o.eviction_exposure(),
        cpu_seconds_above_limit: above,
        cpu_above_limit_share: o.over_limit_share(),
        monthly_cost: if hours > 0.0 { o.cost / hours * MONTH_HOURS } else { 0.0 },
    }
}

/// The proposal and the current settings replayed over `series`; `None` when the current
/// settings are not all known (a missing CPU limit is fine) or there are no samples.
pub fn evidence(
    series: &Series,
    current: &Resources,
    proposal: &Sizing,
    prices: &Prices,
    measured_throttling: Option<f64>,
) -> Option<Evidence> {
    let now = current_sizing(current)?;
    let (first, last) = (series.points.iter().map(|p| p.ts).min()?, series.points.iter().map(|p| p.ts).max()?);
    let step_ms = series.step_ms().max(1);
    // Pod-hours replayed: each sample stands for one step of one pod.
    let pod_hours = series.points.len() as f64 * step_ms as f64 / 3.6e6;
    Some(Evidence {
        hours: (last - first + step_ms) as f64 / 3.6e6,
        samples: series.points.len() as u64,
        current: replayed(series, &now, step_ms, prices, pod_hours),
        proposed: replayed(series, proposal, step_ms, prices, pod_hours),
        measured_throttling,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::series::Point;

    const MI: f64 = 1024.0 * 1024.0;

    /// One pod, 4 samples a minute apart: CPU 0.1, 0.3, 0.6, 0.2 cores; memory 100, 300, 150, 320 MiB.
    fn series() -> Series {
        let cpu = [0.1, 0.3, 0.6, 0.2];
        let mem = [100.0, 300.0, 150.0, 320.0];
        Series {
            key: crate::domain::ContainerKey { workload: Default::default(), container: "app".into() },
            pods: vec!["api-1".into()],
            points: (0..4)
                .map(|i| Point { ts: i * 60_000, pod: 0, cpu: cpu[i as usize], memory: mem[i as usize] * MI })
                .collect(),
        }
    }

    #[test]
    fn the_proposal_and_the_current_settings_replayed_by_hand() {
        let current = Resources {
            cpu_request_cores: Some(1.0),
            cpu_limit_cores: Some(2.0),
            memory_request_bytes: Some(512.0 * MI),
            memory_limit_bytes: Some(1024.0 * MI),
        };
        let proposal = Sizing {
            cpu_request_cores: 0.25,
            cpu_limit_cores: Some(0.5),
            memory_request_bytes: 128.0 * MI,
            memory_limit_bytes: 256.0 * MI,
        };
        let prices = Prices { core_hour: 0.04, gib_hour: 0.005 };
        let e = evidence(&series(), &current, &proposal, &prices, Some(0.02)).unwrap();
        assert_eq!((e.samples, e.hours), (4, 4.0 / 60.0));
        // Current: nothing above 512Mi or 2 cores.
        assert_eq!(e.current.oom_kills, 0);
        assert_eq!((e.current.eviction_exposure, e.current.cpu_seconds_above_limit), (0.0, 0.0));
        // Proposed: 300Mi rises above 256Mi (kill), falls to 150Mi, rises to 320Mi (kill): 2.
        assert_eq!(e.proposed.oom_kills, 2);
        // Above 128Mi: 300, 150, 320 -> 3 of 4.
        assert_eq!(e.proposed.eviction_exposure, 0.75);
        // Above 0.5 cores: only 0.6, by 0.1 core for 60 s = 6 core-seconds; 1 sample of 4.
        assert!((e.proposed.cpu_seconds_above_limit - 6.0).abs() < 1e-9);
        assert_eq!(e.proposed.cpu_above_limit_share, 0.25);
        // Cost per month: (1 core x 0.04 + 0.5 GiB x 0.005) = 0.0425 $/h now, (0.25 x 0.04 + 0.125 x 0.005)
        // = 0.010625 $/h proposed, for the 1 pod x 730 h.
        assert!((e.current.monthly_cost - 0.0425 * 730.0).abs() < 1e-9);
        assert!((e.monthly_cost_delta() - (0.010625 - 0.0425) * 730.0).abs() < 1e-9);
        assert_eq!(e.measured_throttling, Some(0.02));
        let unknown = Resources { memory_limit_bytes: None, ..current };
        assert_eq!(evidence(&series(), &unknown, &proposal, &prices, None), None);
    }
}

//! The node contention budget (`cpu.node_contention_budget`): CPU requests at typical load let
//! the scheduler pack pods whose busy hours together run a node's CPU above allocatable. With
//! a budget, the pods are packed on a node shape by the proposed requests and replayed over the
//! window they were sized from; while the share of node-steps with contention is above the
//! budget, the workloads whose use above their requests fills the contended node-steps most are
//! raised one rung of their own usage percentiles (p60, p70, ... p99.9), and the packing is
//! replayed again. Workloads that never sit on a contended node keep their requests.

use super::nodes::{Fleet, NodeOutcome};
use super::sizing::Sizing;
use crate::domain::{NodeShape, Workload};
use std::collections::{HashMap, HashSet};

/// The percentiles of a container's CPU use its request may be raised to, in order.
pub const RUNGS: [f64; 7] = [60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 99.9];

/// Rounds of raising at most (each raises at least one workload a rung).
const MAX_ROUNDS: usize = 200;

/// What the budget did to one set of proposals.
#[derive(Debug, Clone, PartialEq)]
pub struct Governed {
    /// The proposals, with raised CPU requests.
    pub sizings: Vec<Option<Sizing>>,
    /// Contention before and after, over the window the sizes came from.
    pub before: NodeOutcome,
    /// See `before`.
    pub after: NodeOutcome,
    /// Workloads whose CPU requests were raised.
    pub raised: usize,
}

/// Raises CPU requests, workload by workload, until the pods of `fleet` packed on `shape`
/// have CPU contention in at most `budget` of node-steps, or no contended workload can rise.
/// `ladders[i]` holds series i's CPU use at each of `RUNGS`.
pub fn govern(
    fleet: &Fleet<'_>,
    shape: &NodeShape,
    sizings: &[Option<Sizing>],
    ladders: &[Vec<f64>],
    budget: f64,
) -> Governed {
    let mut sizings = sizings.to_vec();
    let mut rung = vec![0usize; sizings.len()];
    let workloads = fleet.pod_workloads();
    let mut raised: HashSet<&Workload> = HashSet::new();
    let (before, mut blame) = fleet.contention_blame(shape, &fleet.requests(|i| sizings[i]));
    let mut after = before;
    for _ in 0..MAX_ROUNDS {
        if after.contention_share() <= budget {
            break;
        }
        let mut by_workload: HashMap<&Workload, f64> = HashMap::new();
        for (pod, b) in blame.iter().enumerate().filter(|(_, b)| **b > 0.0) {
            *by_workload.entry(workloads[pod]).or_insert(0.0) += b;
        }
        let can_rise = |w: &Workload| {
            (0..sizings.len())
                .any(|i| fleet.series_workload(i) == w && next_request(&sizings[i], &ladders[i]).is_some())
        };
        let mut blamed: Vec<(&Workload, f64)> = by_workload.into_iter().filter(|(w, _)| can_rise(w)).collect();
        if blamed.is_empty() {
            break;
        }
        blamed.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
        // The workloads holding half the blame (at least one) rise a rung this round.
        let total: f64 = blamed.iter().map(|b| b.1).sum();
        let mut taken = 0.0;
        for (w, b) in blamed {
            if taken >= total / 2.0 {
                break;
            }
            taken += b;
            raised.insert(w);
            for i in (0..sizings.len()).filter(|i| fleet.series_workload(*i) == w) {
                while rung[i] < RUNGS.len() {
                    rung[i] += 1;
                    if raise(&mut sizings[i], ladders[i][rung[i] - 1]) {
                        break;
                    }
                }
            }
        }
        (after, blame) = fleet.contention_blame(shape, &fleet.requests(|i| sizings[i]));
    }
    Governed { sizings, before, after, raised: raised.len() }
}

/// The next rung above the request, if any.
fn next_request(sizing: &Option<Sizing>, ladder: &[f64]) -> Option<f64> {
    let s = sizing.as_ref()?;
    ladder.iter().copied().find(|r| *r > s.cpu_request_cores + 1e-9)
}

/// Raises the CPU request to `to` when that is higher, keeping the limit's ratio to the
/// request (and never lowering the limit); false when it was not higher.
fn raise(sizing: &mut Option<Sizing>, to: f64) -> bool {
    let Some(s) = sizing.as_mut() else { return false };
    if to <= s.cpu_request_cores + 1e-9 {
        return false;
    }
    if let Some(limit) = s.cpu_limit_cores {
        let ratio = if s.cpu_request_cores > 0.0 { limit / s.cpu_request_cores } else { 1.0 };
        s.cpu_limit_cores = Some(limit.max(to * ratio));
    }
    s.cpu_request_cores = to;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::series::{Point, Series};
    use crate::domain::ContainerKey;

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MIN: i64 = 60_000;

    fn series(workload: &str, cpu: impl Fn(i64) -> f64) -> Series {
        let key = ContainerKey::deployment("ns", workload, "app");
        let points = (0..100).map(|m| Point { ts: m * MIN, pod: 0, cpu: cpu(m), memory: GIB }).collect();
        Series { key, pods: vec![format!("{workload}-1")], points }
    }

    fn sizing(cpu: f64) -> Option<Sizing> {
        Some(Sizing {
            cpu_request_cores: cpu,
            cpu_limit_cores: Some(2.0 * cpu),
            memory_request_bytes: GIB,
            memory_limit_bytes: 2.0 * GIB,
        })
    }

    #[test]
    fn the_busiest_workload_on_contended_nodes_is_raised_just_enough() {
        // A 4-core node, 100 minutes. "busy" uses 1 core, 3 cores in minutes 0-19; "steady"
        // 1.5 cores all along; "idle" 0.1. Requests at typical use (1, 1.5, 0.1) fit one node,
        // which is contended when busy runs 3 cores: 3 + 1.5 + 0.1 > 4, 20 of 100 node-steps.
        let all =
            [series("busy", |m| if m < 20 { 3.0 } else { 1.0 }), series("steady", |_| 1.5), series("idle", |_| 0.1)];
        let fleet = Fleet::new(all.iter().collect(), 0, 100 * MIN, MIN);
        let shape =
            NodeShape { name: "4c".into(), cpu_cores: 4.0, memory_bytes: 16.0 * GIB, max_pods: 110, price_hour: None };
        let sizings = vec![sizing(1.0), sizing(1.5), sizing(0.1)];
        // busy's use at p60 ... p99.9 is 1 core up to p80, then 3 cores; the others are flat.
        let ladders = vec![vec![1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 3.0], vec![1.5; 7], vec![0.1; 7]];
        let g = govern(&fleet, &shape, &sizings, &ladders, 0.01);
        assert!((g.before.contention_share() - 0.2).abs() < 1e-12, "{:?}", g.before);
        // Only busy is to blame (the others use no more than they request); its first rung
        // above 1 core is p80 = 3 cores. 3 + 1.5 + 0.1 > 4: busy gets a node of its own.
        assert_eq!(g.raised, 1);
        let busy = g.sizings[0].unwrap();
        assert_eq!((busy.cpu_request_cores, busy.cpu_limit_cores), (3.0, Some(6.0)));
        assert_eq!(g.sizings[1], sizing(1.5));
        assert_eq!(g.after.cpu_contention_minutes, 0.0);
        assert_eq!(g.after.peak_nodes, 2);
        // busy alone on a 2-core node, above it for 20 minutes: contention no request can
        // remove, so nothing is raised for it.
        let small = NodeShape { cpu_cores: 2.0, max_pods: 1, ..shape.clone() };
        let g = govern(&fleet, &small, &sizings, &ladders, 0.01);
        assert!(g.before.cpu_contention_minutes == 20.0 && g.raised == 0, "{g:?}");
        // A budget of 20% is met already: nothing moves.
        let g = govern(&fleet, &shape, &sizings, &ladders, 0.2);
        assert_eq!((g.raised, g.sizings), (0, sizings));
    }
}

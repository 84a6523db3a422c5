//! Back-test: size each container from a training window, then replay the following
//! holdout window against the proposal and count what it would have cost and risked.
//!
//! Definitions (per container, summed the same way for totals):
//! - CPU slack = sum over holdout samples of max(request - usage, 0) / sum of request;
//!   memory slack the same with the working set.
//! - over request / over limit = share of samples whose CPU usage is above the CPU request /
//!   limit (no limit: never over). Over the limit means throttling.
//! - eviction exposure = share of samples whose working set is above the memory request:
//!   under node memory pressure the kubelet evicts such pods first.
//! - OOM kills = times a pod's working set crosses from at-or-below the memory limit to above
//!   it (a crossing, not every sample above; a pod's first sample above also counts).
//! - cost = sum over samples of (CPU request x $/core-hour + memory request in GiB x
//!   $/GiB-hour) x the container's sampling interval in hours: what was reserved.

use super::recommend::{recommend, Recommendation, Sizing, SizingInput, Strategy};
use super::usage::ContainerUsage;
use crate::domain::{ContainerKey, Resources};
use crate::store::SampleRef;
use std::collections::HashMap;

/// Prices used for cost; defaults are typical on-demand list prices per unit-hour.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prices {
    pub core_hour: f64,
    pub gib_hour: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Self { core_hour: 0.04, gib_hour: 0.005 }
    }
}

/// One measurement of a container in a pod.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub ts: i64,
    pub pod: u32,
    pub cpu: f64,
    pub memory: f64,
}

/// A container's raw history, kept for replay (back-tests and reports only; `recommend`
/// never needs it).
#[derive(Debug, Clone)]
pub struct Series {
    pub key: ContainerKey,
    pub pods: Vec<String>,
    pub points: Vec<Point>,
}

impl Series {
    /// Median gap between consecutive samples of one pod (the sampling interval).
    pub fn step_ms(&self) -> i64 {
        let mut last: HashMap<u32, i64> = HashMap::new();
        let mut gaps: Vec<i64> = Vec::new();
        for p in &self.points {
            if let Some(prev) = last.insert(p.pod, p.ts) {
                if p.ts > prev {
                    gaps.push(p.ts - prev);
                }
            }
            if gaps.len() >= 10_000 {
                break;
            }
        }
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).copied().unwrap_or(60_000)
    }

    /// Usage summary of the points in `[from, to)`.
    pub fn usage(&self, from: i64, to: i64) -> ContainerUsage {
        let mut u = ContainerUsage::new(self.key.clone());
        for p in self.points.iter().filter(|p| p.ts >= from && p.ts < to) {
            u.observe(p.ts, &self.pods[p.pod as usize], p.cpu, p.memory);
        }
        u
    }
}

/// Collects `Series` from a stream of rows.
#[derive(Default)]
pub struct SeriesBuilder {
    series: Vec<Series>,
    index: HashMap<ContainerKey, usize>,
    pods: Vec<HashMap<String, u32>>,
}

impl SeriesBuilder {
    pub fn observe(&mut self, row: &SampleRef<'_>) {
        let key = ContainerKey {
            workload: crate::domain::Workload {
                cluster: row.cluster.into(),
                namespace: row.namespace.into(),
                kind: row.workload_kind.into(),
                name: row.workload.into(),
            },
            container: row.container.into(),
        };
        let i = *self.index.entry(key.clone()).or_insert_with(|| {
            self.series.push(Series { key, pods: Vec::new(), points: Vec::new() });
            self.pods.push(HashMap::new());
            self.series.len() - 1
        });
        let series = &mut self.series[i];
        let pod = *self.pods[i].entry(row.pod.to_string()).or_insert_with(|| {
            series.pods.push(row.pod.to_string());
            (series.pods.len() - 1) as u32
        });
        series.points.push(Point { ts: row.timestamp_ms, pod, cpu: row.cpu_cores, memory: row.memory_bytes });
    }

    pub fn finish(self) -> Vec<Series> {
        let mut all = self.series;
        for s in &mut all {
            s.points.sort_by_key(|p| (p.ts, p.pod));
        }
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }
}

/// What a proposal would have done over a holdout window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub samples: u64,
    pub cpu_requested: f64,
    pub cpu_unused: f64,
    pub memory_requested: f64,
    pub memory_unused: f64,
    pub over_request: u64,
    pub over_limit: u64,
    /// Samples whose working set is above the memory request (eviction exposure).
    pub over_memory_request: u64,
    pub oom_kills: u64,
    pub cost: f64,
}

impl Outcome {
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

    pub fn cpu_slack(&self) -> f64 {
        Self::share(self.cpu_unused, self.cpu_requested)
    }

    pub fn memory_slack(&self) -> f64 {
        Self::share(self.memory_unused, self.memory_requested)
    }

    pub fn over_request_share(&self) -> f64 {
        Self::share(self.over_request as f64, self.samples as f64)
    }

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

/// The training and holdout windows of one fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Fold {
    pub train_from: i64,
    pub split: i64,
    pub holdout_to: i64,
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

/// How to cut history into training and holdout windows.
#[derive(Debug, Clone, Copy)]
pub struct FoldPlan {
    pub train_ms: i64,
    pub holdout_ms: i64,
    /// Fixed split instead of "the last holdout window".
    pub split_at: Option<i64>,
    /// Rolling folds, each one holdout window earlier than the next.
    pub folds: usize,
}

impl FoldPlan {
    /// Folds that fit between `first` and `last` (inclusive timestamps), newest last.
    pub fn folds(&self, first: i64, last: i64) -> Vec<Fold> {
        let newest = self.split_at.unwrap_or(last + 1 - self.holdout_ms);
        let count = if self.split_at.is_some() { 1 } else { self.folds.max(1) };
        let mut folds: Vec<Fold> = (0..count as i64)
            .map(|k| newest - k * self.holdout_ms)
            .filter(|split| *split > first)
            .map(|split| Fold { train_from: split - self.train_ms, split, holdout_to: split + self.holdout_ms })
            .collect();
        folds.reverse();
        folds
    }
}

/// Everything a back-test run needs besides the series.
pub struct BacktestSetup<'a> {
    pub strategies: &'a [Box<dyn Strategy>],
    pub policies: &'a super::PolicySet,
    pub plan: FoldPlan,
    pub prices: Prices,
    /// Current settings per container, when known (replayed as the strategy "current").
    pub current: &'a HashMap<ContainerKey, Resources>,
    /// Node shapes for the node-level back-test (none: no node figures).
    pub nodes: &'a [crate::domain::NodeShape],
}

/// Result for one container: one outcome per strategy (summed over folds), plus the
/// newest fold's recommendation of each.
#[derive(Debug, Clone)]
pub struct ContainerResult {
    pub key: ContainerKey,
    pub outcomes: Vec<(String, Option<Outcome>)>,
    pub recommendations: Vec<Recommendation>,
    /// Per fold, each strategy's settings (in the order of `outcomes`), for the node back-test.
    pub sizings: Vec<Vec<Option<Sizing>>>,
}

/// One node shape's figures per strategy, summed over folds.
#[derive(Debug, Clone)]
pub struct NodeResult {
    pub shape: crate::domain::NodeShape,
    pub outcomes: Vec<(String, super::nodes::NodeOutcome)>,
    /// Pods placed (summed over folds).
    pub pods: usize,
}

#[derive(Debug, Clone)]
pub struct BacktestResult {
    pub folds: Vec<Fold>,
    pub containers: Vec<ContainerResult>,
    /// Totals per strategy over containers sized by every strategy.
    pub totals: Vec<(String, Outcome)>,
    /// Containers skipped because some strategy could not size them (too little training history).
    pub skipped: usize,
    /// The node-level back-test, one entry per shape, over the containers in the totals.
    pub nodes: Vec<NodeResult>,
}

impl BacktestResult {
    /// Mean over the containers in the totals of each one's eviction exposure under
    /// `strategy` (a container with few samples counts as much as a busy one).
    pub fn mean_eviction_exposure(&self, strategy: &str) -> Option<f64> {
        let shares: Vec<f64> = self
            .containers
            .iter()
            .filter(|c| c.outcomes.iter().all(|(_, o)| o.is_some()))
            .filter_map(|c| c.outcomes.iter().find(|(n, _)| n == strategy).and_then(|(_, o)| *o))
            .map(|o| o.eviction_exposure())
            .collect();
        (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
    }
}

pub fn run(series: &[Series], setup: &BacktestSetup<'_>) -> BacktestResult {
    let first = series.iter().filter_map(|s| s.points.first()).map(|p| p.ts).min().unwrap_or(0);
    let last = series.iter().filter_map(|s| s.points.last()).map(|p| p.ts).max().unwrap_or(0);
    let folds = setup.plan.folds(first, last);
    let per_pod: HashMap<&crate::domain::Workload, usize> = series.iter().fold(HashMap::new(), |mut m, s| {
        *m.entry(&s.key.workload).or_insert(0) += 1;
        m
    });
    let mut names: Vec<String> = setup.strategies.iter().map(|s| s.name().to_string()).collect();
    // "current" is compared only when every container's current settings are known.
    let has_current =
        !series.is_empty() && series.iter().all(|s| setup.current.get(&s.key).and_then(current_sizing).is_some());
    if has_current {
        names.push("current".into());
    }
    let mut totals: Vec<(String, Outcome)> = names.iter().map(|n| (n.clone(), Outcome::default())).collect();
    let mut containers = Vec::new();
    let mut skipped = 0;
    for s in series {
        let result = container(s, &folds, setup, per_pod[&s.key.workload], has_current);
        if result.outcomes.iter().all(|(_, o)| o.is_some()) {
            for ((_, total), (_, o)) in totals.iter_mut().zip(&result.outcomes) {
                total.add(o.as_ref().expect("checked"));
            }
        } else {
            skipped += 1;
        }
        containers.push(result);
    }
    let nodes = node_backtest(series, &containers, &folds, &names, setup);
    BacktestResult { folds, containers, totals, skipped, nodes }
}

/// Places each fold's holdout pods on every node shape with each strategy's requests.
fn node_backtest(
    series: &[Series],
    containers: &[ContainerResult],
    folds: &[Fold],
    names: &[String],
    setup: &BacktestSetup<'_>,
) -> Vec<NodeResult> {
    if setup.nodes.is_empty() {
        return Vec::new();
    }
    let counted: Vec<usize> =
        (0..series.len()).filter(|i| containers[*i].outcomes.iter().all(|(_, o)| o.is_some())).collect();
    let mut steps: Vec<i64> = counted.iter().map(|i| series[*i].step_ms()).collect();
    steps.sort_unstable();
    let step = steps.get(steps.len() / 2).copied().unwrap_or(60_000);
    let mut results: Vec<NodeResult> = setup
        .nodes
        .iter()
        .map(|shape| NodeResult {
            shape: shape.clone(),
            outcomes: names.iter().map(|n| (n.clone(), super::nodes::NodeOutcome::default())).collect(),
            pods: 0,
        })
        .collect();
    for (f, fold) in folds.iter().enumerate() {
        let fleet =
            super::nodes::Fleet::new(counted.iter().map(|i| &series[*i]).collect(), fold.split, fold.holdout_to, step);
        let requests: Vec<Vec<super::nodes::PodRequest>> = (0..names.len())
            .map(|k| fleet.requests(|j| containers[counted[j]].sizings.get(f).and_then(|s| s[k])))
            .collect();
        for r in &mut results {
            let price = r.shape.hourly_price(setup.prices.core_hour, setup.prices.gib_hour);
            r.pods += fleet.pods();
            for ((_, total), o) in r.outcomes.iter_mut().zip(fleet.simulate(&r.shape, price, &requests)) {
                total.add(&o);
            }
        }
    }
    results
}

fn container(
    s: &Series,
    folds: &[Fold],
    setup: &BacktestSetup<'_>,
    containers_in_pod: usize,
    with_current: bool,
) -> ContainerResult {
    let (policy, overrides) = setup.policies.for_container(&s.key);
    let current = setup.current.get(&s.key);
    let step = s.step_ms();
    let mut outcomes: Vec<(String, Option<Outcome>)> =
        setup.strategies.iter().map(|st| (st.name().to_string(), Some(Outcome::default()))).collect();
    let mut recommendations = Vec::new();
    let mut sizings = Vec::new();
    let now = current.and_then(current_sizing);
    for fold in folds {
        let usage = s.usage(fold.train_from, fold.split);
        let holdout: Vec<Point> =
            s.points.iter().filter(|p| p.ts >= fold.split && p.ts < fold.holdout_to).copied().collect();
        recommendations.clear();
        let mut fold_sizings = Vec::new();
        for (strategy, (_, total)) in setup.strategies.iter().zip(outcomes.iter_mut()) {
            let input = SizingInput {
                usage: &usage,
                policy: &policy,
                current,
                window_end_ms: fold.split,
                containers_in_pod,
                oom_limit_bytes: None,
            };
            let rec = recommend(strategy.as_ref(), &input, &overrides);
            match (rec.sizing(), total.as_mut()) {
                (Some(sizing), Some(t)) => t.add(&replay(&holdout, sizing, step, &setup.prices)),
                _ => *total = None,
            }
            fold_sizings.push(rec.sizing().copied());
            recommendations.push(rec);
        }
        if with_current {
            fold_sizings.push(now);
        }
        sizings.push(fold_sizings);
    }
    if with_current {
        let replayed = now.map(|c| {
            let mut o = Outcome::default();
            for fold in folds {
                let holdout: Vec<Point> =
                    s.points.iter().filter(|p| p.ts >= fold.split && p.ts < fold.holdout_to).copied().collect();
                o.add(&replay(&holdout, &c, step, &setup.prices));
            }
            o
        });
        outcomes.push(("current".into(), replayed));
    }
    ContainerResult { key: s.key.clone(), outcomes, recommendations, sizings }
}

//! One back-test run: folds, every strategy sized on each training window and replayed on
//! its holdout, per container and per node shape.

use super::bound::{mean_bound_cost, BoundUnit, BOUND_EXPOSURE};
use super::replay::{current_sizing, replay, Outcome};
use crate::analysis::contention::{govern, RUNGS};
use crate::analysis::nodes::{Fleet, NodeOutcome, PodRequest};
use crate::analysis::policy::PolicySet;
use crate::analysis::recommend::{recommend, Recommendation};
use crate::analysis::series::{Point, Prices, Series};
use crate::analysis::sizing::Sizing;
use crate::analysis::strategies::podsizer::PodsizerStrategy;
use crate::analysis::strategy::{SizingInput, Strategy};
use crate::domain::{ContainerKey, NodeShape, Resources, Workload};
use std::collections::HashMap;

/// The training and holdout windows of one fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Fold {
    /// Start of the training window, in epoch ms (inclusive).
    pub train_from: i64,
    /// End of training and start of the holdout, in epoch ms: training sees only samples before it.
    pub split: i64,
    /// End of the holdout window, in epoch ms (exclusive).
    pub holdout_to: i64,
}

/// The folds of a back-test: how history is cut into training and holdout windows.
#[derive(Debug, Clone, Copy)]
pub struct FoldLayout {
    /// Length of each training window, in ms.
    pub train_ms: i64,
    /// Length of each holdout window, in ms.
    pub holdout_ms: i64,
    /// A fixed split (epoch ms), one fold only, instead of "the last holdout window".
    pub split_at: Option<i64>,
    /// How many rolling folds, each one holdout window earlier than the next.
    pub folds: usize,
}

impl FoldLayout {
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
    /// The strategies compared, each sized on every training window.
    pub strategies: &'a [Box<dyn Strategy>],
    /// The policies sizing resolves per container, as for `recommend`.
    pub policies: &'a PolicySet,
    /// How history is cut into folds.
    pub fold_layout: FoldLayout,
    /// Reservation prices the cost is counted in.
    pub prices: Prices,
    /// Current settings per container, when known (replayed as the strategy "current").
    pub current: &'a HashMap<ContainerKey, Resources>,
    /// Node shapes for the node-level back-test (none: no node figures).
    pub nodes: &'a [NodeShape],
}

/// Result for one container: one outcome per strategy (summed over folds), plus the
/// newest fold's recommendation of each.
#[derive(Debug, Clone)]
pub struct ContainerResult {
    /// The container replayed.
    pub key: ContainerKey,
    /// Per strategy (in the setup's order, then `current` when known): the outcome summed over
    /// folds; `None` when the strategy could not size the container in some fold.
    pub outcomes: Vec<(String, Option<Outcome>)>,
    /// The newest fold's recommendation of each strategy, in the same order.
    pub recommendations: Vec<Recommendation>,
    /// Per fold, each strategy's settings (in the order of `outcomes`), for the node back-test.
    pub sizings: Vec<Vec<Option<Sizing>>>,
    /// The per-container 5% hindsight bound replayed (podsizer's CPU settings and memory limit,
    /// the memory request its own holdout exceeds in 5% of samples), summed over folds;
    /// `None` when podsizer could not size the container.
    pub bound: Option<Outcome>,
    /// Per fold, what the mean bound needs.
    bound_units: Vec<BoundUnit>,
    /// Start-up and steady-state CPU above the limit per strategy (and podsizer with its
    /// boost, `BOOSTED`), summed over folds.
    pub startup: Vec<(String, super::startup::StartupThrottle)>,
    /// Per fold, the CPU use at each of `contention::RUNGS` (empty without a contention budget).
    cpu_ladders: Vec<Vec<f64>>,
}

/// One node shape's figures per strategy, summed over folds.
#[derive(Debug, Clone)]
pub struct NodeResult {
    /// The node shape pods were placed on.
    pub shape: NodeShape,
    /// Per strategy, in the order of the containers' outcomes: nodes needed and what they cost.
    pub outcomes: Vec<(String, NodeOutcome)>,
    /// Pods placed (summed over folds).
    pub pods: usize,
}

/// A whole back-test: per container, per node shape, and totals per strategy.
#[derive(Debug, Clone)]
pub struct BacktestResult {
    /// The folds replayed, oldest first.
    pub folds: Vec<Fold>,
    /// Every container back-tested, counted in the totals or not (see `skipped`).
    pub containers: Vec<ContainerResult>,
    /// Totals per strategy over containers sized by every strategy.
    pub totals: Vec<(String, Outcome)>,
    /// Containers skipped because some strategy could not size them (too little training history).
    pub skipped: usize,
    /// The node-level back-test, one entry per shape, over the containers in the totals.
    pub nodes: Vec<NodeResult>,
    /// Hindsight bounds over the containers in the totals (see `bound`).
    pub bounds: Bounds,
    /// Start-up throttling per strategy over the containers in the totals (`startup`).
    pub startup: Vec<(String, super::startup::StartupThrottle)>,
}

/// The hindsight bounds of a run, over the containers in the totals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bounds {
    /// The per-container 5% bound replayed, summed.
    pub per_container: Outcome,
    /// Mean over containers of the per-container bound's exposure.
    pub per_container_mean_exposure: f64,
    /// The Lagrangian lower bound on cost with the mean exposure within 5%.
    pub mean_cost: f64,
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

    /// A strategy's total cost over the per-container 5% bound's (`None` without a bound).
    pub fn cost_vs_bound(&self, strategy: &str) -> Option<f64> {
        let cost = self.totals.iter().find(|(n, _)| n == strategy)?.1.cost;
        (self.bounds.per_container.cost > 0.0).then(|| cost / self.bounds.per_container.cost)
    }
}

/// Both bounds over the containers counted in the totals.
fn bounds(containers: &[ContainerResult]) -> Bounds {
    let counted: Vec<&ContainerResult> =
        containers.iter().filter(|c| c.outcomes.iter().all(|(_, o)| o.is_some())).collect();
    let mut b = Bounds::default();
    let mut units = Vec::new();
    let mut exposures = 0.0;
    for c in &counted {
        let Some(o) = c.bound else { continue };
        b.per_container.add(&o);
        exposures += o.eviction_exposure();
        let samples: usize = c.bound_units.iter().map(|u| u.memory.len()).sum();
        // A fold without holdout samples costs nothing and weighs nothing.
        for u in c.bound_units.iter().filter(|u| !u.memory.is_empty()) {
            let weight = 1.0 / (counted.len() as f64 * samples as f64);
            units.push(BoundUnit { weight, ..u.clone() });
        }
    }
    if !counted.is_empty() {
        b.per_container_mean_exposure = exposures / counted.len() as f64;
    }
    b.mean_cost = mean_bound_cost(&units, BOUND_EXPOSURE);
    b
}

/// Back-tests `series` (one per container) under `setup`: cuts the folds between the first and
/// last point seen, sizes every container with every strategy on each training window and
/// replays the proposals over the holdout that follows.
pub fn run(series: &[Series], setup: &BacktestSetup<'_>) -> BacktestResult {
    let first = series.iter().filter_map(|s| s.points.first()).map(|p| p.ts).min().unwrap_or(0);
    let last = series.iter().filter_map(|s| s.points.last()).map(|p| p.ts).max().unwrap_or(0);
    let folds = setup.fold_layout.folds(first, last);
    let per_pod: HashMap<&Workload, usize> = series.iter().fold(HashMap::new(), |mut m, s| {
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
    let mut containers: Vec<ContainerResult> =
        series.iter().map(|s| container(s, &folds, setup, per_pod[&s.key.workload], has_current)).collect();
    govern_cpu(series, &mut containers, &folds, setup);
    let mut totals: Vec<(String, Outcome)> = names.iter().map(|n| (n.clone(), Outcome::default())).collect();
    let mut skipped = 0;
    for result in &containers {
        if result.outcomes.iter().all(|(_, o)| o.is_some()) {
            for ((_, total), (_, o)) in totals.iter_mut().zip(&result.outcomes) {
                total.add(o.as_ref().expect("checked"));
            }
        } else {
            skipped += 1;
        }
    }
    let nodes = node_backtest(series, &containers, &folds, &names, setup);
    let bounds = bounds(&containers);
    // Over the containers every strategy sized, as the totals.
    let sized = containers.iter().filter(|c| c.outcomes.iter().all(|(_, o)| o.is_some()));
    let startup = super::startup::totals(sized.map(|c| c.startup.as_slice()));
    BacktestResult { folds, containers, totals, skipped, nodes, bounds, startup }
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
            outcomes: names.iter().map(|n| (n.clone(), NodeOutcome::default())).collect(),
            pods: 0,
        })
        .collect();
    for (f, fold) in folds.iter().enumerate() {
        let fleet = Fleet::new(counted.iter().map(|i| &series[*i]).collect(), fold.split, fold.holdout_to, step);
        let requests: Vec<Vec<PodRequest>> = (0..names.len())
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
    let mut bound = Some(Outcome::default());
    let mut bound_units = Vec::new();
    let podsizer_at = setup.strategies.iter().position(|st| st.name() == "podsizer");
    let mut startup = Vec::new();
    // Per strategy, the settings in force before this fold's split and since when: the
    // current ones (when known) before the first fold, then each fold's proposal.
    let mut in_force: Vec<(Option<Sizing>, i64)> = vec![(now, i64::MIN); setup.strategies.len()];
    let mut cpu_ladders = Vec::new();
    let budget = policy.cpu.node_contention_budget.is_some() && !setup.nodes.is_empty();
    for fold in folds {
        let input = |usage, oom_limit_bytes| SizingInput {
            usage,
            policy: &policy,
            current,
            window_end_ms: fold.split,
            containers_in_pod,
            oom_limit_bytes,
        };
        let usage = s.usage(fold.train_from, fold.split);
        if budget {
            let (cpu, _) = usage.combined(|_| 1.0);
            cpu_ladders.push(RUNGS.iter().map(|q| cpu.percentile(*q).unwrap_or(0.0)).collect());
        }
        let holdout: Vec<Point> =
            s.points.iter().filter(|p| p.ts >= fold.split && p.ts < fold.holdout_to).copied().collect();
        recommendations.clear();
        let mut fold_sizings = Vec::new();
        for (k, (strategy, (_, total))) in setup.strategies.iter().zip(outcomes.iter_mut()).enumerate() {
            let (settings, since) = in_force[k];
            let oom = settings.and_then(|l| oom_limit(&s.points, since.max(fold.train_from), fold.split, &l));
            let rec = recommend(strategy.as_ref(), &input(&usage, oom), &overrides);
            in_force[k] = (rec.sizing().copied(), fold.split);
            match (rec.sizing(), total.as_mut()) {
                (Some(sizing), Some(t)) => t.add(&replay(&holdout, sizing, step, &setup.prices)),
                _ => *total = None,
            }
            fold_sizings.push(rec.sizing().copied());
            recommendations.push(rec);
        }
        let podsizer = match setup.strategies.iter().position(|st| st.name() == "podsizer") {
            Some(i) => fold_sizings[i],
            None => recommend(&PodsizerStrategy, &input(&usage, None), &overrides).sizing().copied(),
        };
        match (podsizer, bound.as_mut()) {
            (Some(sizing), Some(total)) => {
                let (unit, outcome) = fold_bound(&holdout, &sizing, step, &setup.prices);
                total.add(&outcome);
                bound_units.push(unit);
            }
            _ => bound = None,
        }
        let fold_startup = super::startup::fold_startup(
            &s.points,
            (fold.train_from, fold.split, fold.holdout_to),
            &usage,
            &fold_sizings,
            podsizer_at,
            step,
        );
        super::startup::accumulate(&mut startup, setup.strategies, fold_startup);
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
    ContainerResult { key: s.key.clone(), outcomes, recommendations, sizings, bound, bound_units, startup, cpu_ladders }
}

/// The OOM fact a source would have recorded: the memory limit in force in `[from, to)`
/// when the working set went above it there (the sample after it would be a restart).
fn oom_limit(points: &[Point], from: i64, to: i64, in_force: &Sizing) -> Option<f64> {
    let limit = in_force.memory_limit_bytes;
    points.iter().any(|p| p.ts >= from && p.ts < to && p.memory > limit).then_some(limit)
}

/// One fold's per-container 5% bound: podsizer's settings with the memory request its holdout
/// exceeds in 5% of samples, replayed; and what the mean bound needs of the fold.
fn fold_bound(holdout: &[Point], podsizer: &Sizing, step_ms: i64, prices: &Prices) -> (BoundUnit, Outcome) {
    let hours = step_ms as f64 / 3.6e6;
    let n = holdout.len() as f64;
    let unit = BoundUnit::new(
        podsizer.cpu_request_cores * prices.core_hour * hours * n,
        prices.gib_hour / 1024f64.powi(3) * hours * n,
        holdout.iter().map(|p| p.memory).collect(),
    );
    let sizing = Sizing { memory_request_bytes: unit.request_exceeded_in(BOUND_EXPOSURE), ..*podsizer };
    (unit, replay(holdout, &sizing, step_ms, prices))
}

// The node contention budget (`cpu.node_contention_budget`, see `analysis::contention`): per
// fold, the proposals of the strategies that follow the policy (`podsizer`, `podsizer-p50`,
// `podsizer-risk`) are packed on the first `--node` shape over the *training* window, their CPU
// requests raised until its contention is within the budget, and the raised proposals replayed
// on the holdout like any other. The holdout is never looked at to choose the raise.

/// Strategies that size by the policy, so the policy's budget applies to them.
fn follows_policy(name: &str) -> bool {
    name == "podsizer" || name.starts_with("podsizer-")
}

/// Applies the budget to `containers` (their sizings, outcomes and bounds), when the policy
/// sets one and a node shape is given.
fn govern_cpu(series: &[Series], containers: &mut [ContainerResult], folds: &[Fold], setup: &BacktestSetup<'_>) {
    let (Some(budget), Some(shape)) = (setup.policies.defaults.cpu.node_contention_budget, setup.nodes.first()) else {
        return;
    };
    let counted: Vec<usize> = (0..series.len())
        .filter(|i| containers[*i].outcomes.iter().all(|(_, o)| o.is_some()) && !containers[*i].cpu_ladders.is_empty())
        .collect();
    let Some(first) = counted.first() else { return };
    let governed: Vec<usize> =
        (0..setup.strategies.len()).filter(|k| follows_policy(&containers[*first].outcomes[*k].0)).collect();
    let mut steps: Vec<i64> = counted.iter().map(|i| series[*i].step_ms()).collect();
    steps.sort_unstable();
    let step = steps.get(steps.len() / 2).copied().unwrap_or(60_000);
    let mut changed = vec![false; series.len()];
    for (f, fold) in folds.iter().enumerate() {
        let fleet = Fleet::new(counted.iter().map(|i| &series[*i]).collect(), fold.train_from, fold.split, step);
        let ladders: Vec<Vec<f64>> = counted.iter().map(|i| containers[*i].cpu_ladders[f].clone()).collect();
        for k in &governed {
            let sizings: Vec<_> = counted.iter().map(|i| containers[*i].sizings[f][*k]).collect();
            let g = govern(&fleet, shape, &sizings, &ladders, budget);
            for (j, sizing) in g.sizings.into_iter().enumerate() {
                let c = &mut containers[counted[j]];
                if c.sizings[f][*k] != sizing {
                    c.sizings[f][*k] = sizing;
                    changed[counted[j]] = true;
                }
            }
        }
    }
    for i in (0..series.len()).filter(|i| changed[*i]) {
        replay_again(&series[i], &mut containers[i], folds, &governed, setup);
    }
}

/// The outcomes of the governed strategies, and the bound (it takes podsizer's CPU
/// settings), replayed again with the raised requests.
fn replay_again(s: &Series, c: &mut ContainerResult, folds: &[Fold], governed: &[usize], setup: &BacktestSetup<'_>) {
    let step = s.step_ms();
    let podsizer = governed.iter().copied().find(|k| c.outcomes[*k].0 == "podsizer");
    let mut outcomes = vec![Outcome::default(); governed.len()];
    let mut bound = Outcome::default();
    let mut units = Vec::new();
    for (f, fold) in folds.iter().enumerate() {
        let holdout: Vec<Point> =
            s.points.iter().filter(|p| p.ts >= fold.split && p.ts < fold.holdout_to).copied().collect();
        for (o, k) in outcomes.iter_mut().zip(governed) {
            if let Some(sizing) = c.sizings[f][*k] {
                o.add(&replay(&holdout, &sizing, step, &setup.prices));
            }
        }
        if let Some(sizing) = podsizer.and_then(|k| c.sizings[f][k]) {
            let (unit, outcome) = fold_bound(&holdout, &sizing, step, &setup.prices);
            bound.add(&outcome);
            units.push(unit);
        }
    }
    for (o, k) in outcomes.into_iter().zip(governed) {
        c.outcomes[*k].1 = Some(o);
    }
    if podsizer.is_some() && c.bound.is_some() {
        c.bound = Some(bound);
        c.bound_units = units;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::backtest::Outcome;

    const GIB: f64 = 1073741824.0;
    const HOUR: i64 = 3_600_000;

    /// Proposes 1 core and 5 GiB whatever the history, under the name it is given.
    struct Fixed(&'static str);

    impl Strategy for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }

        fn size(&self, _: &SizingInput<'_>) -> (Sizing, Vec<String>) {
            let s = Sizing {
                cpu_request_cores: 1.0,
                cpu_limit_cores: None,
                memory_request_bytes: 5.0 * GIB,
                memory_limit_bytes: 100.0 * GIB,
            };
            (s, Vec::new())
        }
    }

    /// Ten hourly training samples, then 20 hourly holdout samples of `holdout` GiB.
    fn series(container: &str, holdout: impl Fn(i64) -> f64) -> Series {
        let key = ContainerKey::deployment("ns", "w", container);
        let points = (0..30)
            .map(|h| Point { ts: h * HOUR, pod: 0, cpu: 0.5, memory: if h < 10 { GIB } else { holdout(h - 10) * GIB } })
            .collect();
        Series { key, pods: vec!["w-1".into()], points }
    }

    #[test]
    fn bounds_of_a_run_by_hand() {
        // A holds 1, 2, ..., 20 GiB over the holdout; B 1 GiB eighteen times and 50 GiB twice.
        let all = [series("a", |i| (i + 1) as f64), series("b", |i| if i < 18 { 1.0 } else { 50.0 })];
        let strategies: Vec<Box<dyn Strategy>> = vec![Box::new(Fixed("podsizer")), Box::new(Fixed("other"))];
        let mut policies = PolicySet::default();
        policies.defaults.history.min_span_ms = 0;
        policies.defaults.history.min_samples = 1;
        let setup = BacktestSetup {
            strategies: &strategies,
            policies: &policies,
            fold_layout: FoldLayout { train_ms: 10 * HOUR, holdout_ms: 20 * HOUR, split_at: Some(10 * HOUR), folds: 1 },
            prices: Prices { core_hour: 1.0, gib_hour: 1.0 },
            current: &HashMap::new(),
            nodes: &[],
        };
        let r = run(&all, &setup);
        // $1 per core-hour and per GiB-hour, 20 one-hour samples per container: podsizer's
        // 1 core costs $20 per container. Per-container 5% bound: A at 19 GiB (only 20 above),
        // $380; B at 50 GiB (two samples at 50 would be 10%), $1000.
        let a: &Outcome = r.containers[0].bound.as_ref().unwrap();
        assert_eq!((a.cost, a.over_memory_request, a.samples), (20.0 + 380.0, 1, 20));
        assert_eq!(r.containers[1].bound.unwrap().cost, 20.0 + 1000.0);
        assert_eq!(r.bounds.per_container.cost, 1420.0);
        assert!((r.bounds.per_container_mean_exposure - f64::midpoint(0.05, 0.0)).abs() < 1e-12);
        // Mean exposure within 5% lets B's two 50s be above 1 GiB if A covers 20:
        // $400 + $20 memory + $40 CPU.
        assert!((r.bounds.mean_cost - 460.0).abs() < 1e-6, "{:?}", r.bounds);
        // podsizer: 1 core and 5 GiB, $120 per container.
        assert!((r.cost_vs_bound("podsizer").unwrap() - 240.0 / 1420.0).abs() < 1e-12);
        // A container without holdout samples (it stopped at the split) adds nothing.
        let mut gone = series("c", |_| 1.0);
        gone.points.retain(|p| p.ts < 10 * HOUR);
        let r = run(&[all[0].clone(), gone], &setup);
        assert_eq!(r.containers[1].bound.unwrap().samples, 0);
        assert!(r.bounds.mean_cost.is_finite() && r.bounds.mean_cost <= r.bounds.per_container.cost, "{:?}", r.bounds);
    }

    /// Proposes a 3 GiB memory limit, or twice the limit it was OOM-killed at.
    struct OomAware;

    impl Strategy for OomAware {
        fn name(&self) -> &'static str {
            "oom-aware"
        }

        fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
            let limit = input.oom_limit_bytes.map_or(3.0 * GIB, |l| 2.0 * l);
            let s = Sizing {
                cpu_request_cores: 1.0,
                cpu_limit_cores: None,
                memory_request_bytes: GIB,
                memory_limit_bytes: limit,
            };
            (s, Vec::new())
        }
    }

    #[test]
    fn the_replay_feeds_oom_kills_of_the_limit_in_force_to_the_next_review() {
        // Hourly samples 0..29 h at 1 GiB, 4 GiB at hour 15. Two rolling folds of 10 h: splits
        // at 9 h and 19 h (+1 ms). Fold 1 trains on hours 0-9 (nothing known in force): 3 GiB.
        // That limit is in force over hours 10-19, where hour 15 crosses it: fold 2 is told of
        // an OOM kill at 3 GiB and proposes 6 GiB.
        let mut s = series("a", |_| 1.0);
        s.points[15].memory = 4.0 * GIB;
        let strategies: Vec<Box<dyn Strategy>> = vec![Box::new(OomAware)];
        let mut policies = PolicySet::default();
        policies.defaults.history.min_span_ms = 0;
        policies.defaults.history.min_samples = 1;
        let none = HashMap::new();
        let setup = |current| BacktestSetup {
            strategies: &strategies,
            policies: &policies,
            fold_layout: FoldLayout { train_ms: 10 * HOUR, holdout_ms: 10 * HOUR, split_at: None, folds: 2 },
            prices: Prices::default(),
            current,
            nodes: &[],
        };
        let r = run(std::slice::from_ref(&s), &setup(&none));
        let limits: Vec<f64> = r.containers[0].sizings.iter().map(|f| f[0].unwrap().memory_limit_bytes / GIB).collect();
        assert_eq!(limits, vec![3.0, 6.0]);
        // Current settings with a 0.5 GiB limit, in force before the first fold: every
        // training sample is above it, so fold 1 already proposes 1 GiB; hour 15 is above that
        // too, so fold 2 proposes 2 GiB.
        let now = Resources {
            cpu_request_cores: Some(1.0),
            cpu_limit_cores: None,
            memory_request_bytes: Some(0.25 * GIB),
            memory_limit_bytes: Some(0.5 * GIB),
        };
        let current = HashMap::from([(s.key.clone(), now)]);
        let r = run(std::slice::from_ref(&s), &setup(&current));
        let limits: Vec<f64> = r.containers[0].sizings.iter().map(|f| f[0].unwrap().memory_limit_bytes / GIB).collect();
        assert_eq!(limits, vec![1.0, 2.0]);
    }
}

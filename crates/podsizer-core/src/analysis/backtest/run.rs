//! One back-test run: folds, every strategy sized on each training window and replayed on
//! its holdout, per container and per node shape.

use super::replay::{current_sizing, replay, Outcome};
use crate::analysis::nodes::{Fleet, NodeOutcome, PodRequest};
use crate::analysis::policy::PolicySet;
use crate::analysis::recommend::{recommend, Recommendation};
use crate::analysis::series::{Point, Prices, Series};
use crate::analysis::sizing::Sizing;
use crate::analysis::strategy::{SizingInput, Strategy};
use crate::domain::{ContainerKey, NodeShape, Resources, Workload};
use std::collections::HashMap;

/// The training and holdout windows of one fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Fold {
    pub train_from: i64,
    pub split: i64,
    pub holdout_to: i64,
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
    pub policies: &'a PolicySet,
    pub plan: FoldPlan,
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
    pub key: ContainerKey,
    pub outcomes: Vec<(String, Option<Outcome>)>,
    pub recommendations: Vec<Recommendation>,
    /// Per fold, each strategy's settings (in the order of `outcomes`), for the node back-test.
    pub sizings: Vec<Vec<Option<Sizing>>>,
}

/// One node shape's figures per strategy, summed over folds.
#[derive(Debug, Clone)]
pub struct NodeResult {
    pub shape: NodeShape,
    pub outcomes: Vec<(String, NodeOutcome)>,
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

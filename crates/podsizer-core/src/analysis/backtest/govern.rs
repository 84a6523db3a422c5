//! The node contention budget in the back-test (`cpu.node_contention_budget`, see
//! `analysis::contention`): per fold, the proposals of the strategies that follow the policy
//! (`podsizer`, `podsizer-p50`, `podsizer-risk`) are packed on the first `--node` shape over the
//! *training* window, their CPU requests raised until its contention is within the budget, and
//! the raised proposals replayed on the holdout like any other. The holdout is never looked at
//! to choose the raise.

use super::replay::{replay, Outcome};
use super::run::{fold_bound, BacktestSetup, ContainerResult, Fold};
use crate::analysis::contention::govern;
use crate::analysis::nodes::Fleet;
use crate::analysis::series::{Point, Series};

/// Strategies that size by the policy, so the policy's budget applies to them.
fn follows_policy(name: &str) -> bool {
    name == "podsizer" || name.starts_with("podsizer-")
}

/// Applies the budget to `containers` (their sizings, outcomes and bounds), when the policy
/// sets one and a node shape is given.
pub(super) fn apply(series: &[Series], containers: &mut [ContainerResult], folds: &[Fold], setup: &BacktestSetup<'_>) {
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

//! The suite's replay of the verdict rules (`analysis::backtest::verdicts`) and its section of
//! `reports/backtest.md`: per scope and strategy, the share of harmed container folds that
//! `podsizer verify`'s rules flag (target >= 90%) and the share of the others they flag (< 5%).

use crate::analysis::backtest::verdicts::{replay_verdicts, VerdictReplay, HARMED_CPU_TIME_ABOVE_LIMIT};
use crate::analysis::backtest::BacktestResult;
use crate::analysis::series::Series;
use crate::analysis::verdict::Thresholds;

/// The verdict rules, at their defaults, on every container fold of `result`.
pub(crate) fn replay(series: &[Series], result: &BacktestResult) -> Vec<VerdictReplay> {
    replay_verdicts(series, result, &Thresholds::default())
}

fn share(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.1}%", s * 100.0))
}

/// The section: one row per scope and strategy (hindsight bounds left out: nothing to verify).
pub(crate) fn markdown<'a>(scopes: impl Iterator<Item = (&'a str, &'a [VerdictReplay])>) -> String {
    let t = Thresholds::default();
    let mut md = format!(
        "\n## Verdicts on the holdout\n\nEach strategy's proposal applied at the split, and `podsizer verify`'s rules run on \
         the holdout. A container fold is *harmed* when it had an OOM kill or more than {:.0}% of its CPU time above the \
         CPU limit; it is *flagged* when the verdict is `raise` or `revert`. A holdout has usage only, so the rules see \
         the replayed OOM kills, samples above the CPU limit (more than {:.0}%), CPU time above it (more than {:.0}%) and samples with the working set above \
         the memory request (more than {:.0}%); restarts, evictions and throttling are unknown. Targets: at least 90% of \
         the harmed flagged, fewer than 5% of the others. The CPU-time rule is the harm's own definition, so the \
         first share is high by construction (the 1%-of-samples rule alone catches fewer: bursts far above the limit \
         in a few samples); the second, flags from the working set above the memory request, is the informative one. \
         Counted per container and fold.\n\n\
         | scope | strategy | harmed | flagged | others | flagged |\n|---|---|---|---|---|---|\n",
        HARMED_CPU_TIME_ABOVE_LIMIT * 100.0,
        t.cpu_above_limit_share * 100.0,
        t.cpu_time_above_limit_share * 100.0,
        t.memory_above_request_share * 100.0,
    );
    for (scope, verdicts) in scopes {
        for v in verdicts.iter().filter(|v| !v.strategy.starts_with("bound")) {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                scope,
                v.strategy,
                v.harmed,
                share(v.recall()),
                v.others,
                share(v.false_alarms())
            ));
        }
    }
    md
}

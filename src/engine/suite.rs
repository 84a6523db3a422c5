//! Back-tests: a selection replayed against each strategy's proposal, and the suite that runs
//! every strategy on the synthetic scenarios and the public traces.

use super::current::{current_settings, LiveSettings};
use super::selection::{select, SelectionSettings};
use super::sizing::one_cluster;
use super::{EngineError, Note, Result};
use crate::analysis::backtest::{self, BacktestResult, BacktestSetup, FoldLayout};
use crate::analysis::series::{Prices, Series, SeriesBuilder};
use crate::analysis::{PolicySet, Strategy, STRATEGY_NAMES};
use crate::domain::SampleRef;
use crate::domain::{parse_timestamp, ContainerKey, NodeShape, Resources, Sample, DAY_MS};
use crate::outputs::backtest as render;
use crate::sources::{synthetic, traces};
use std::collections::HashMap;
use std::path::PathBuf;

/// The strategies of these names, or an error naming the unknown one.
pub fn strategies(names: &[String]) -> Result<Vec<Box<dyn Strategy>>> {
    names.iter().map(|n| super::sizing::strategy(n)).collect()
}

/// One back-test, resolved.
#[derive(Debug, Clone)]
pub struct BacktestSettings {
    /// Names of the strategies to compare, as `strategies` resolves them.
    pub strategies: Vec<String>,
    /// Policies the `podsizer` strategy sizes with.
    pub policy: PolicySet,
    /// How history is split into training and holdout folds.
    pub fold_layout: FoldLayout,
    /// As the user wrote the holdout window, for the message when history is too short.
    pub holdout_text: String,
    /// Prices that turn requested cores and bytes into cost.
    pub prices: Prices,
    /// Overlay whose current settings are replayed as strategy `current`.
    pub overlay: Option<PathBuf>,
    /// Live cluster to read current settings and owners from, if any.
    pub live: Option<LiveSettings>,
    /// The kubectl that renders the overlay.
    pub kubectl: crate::outputs::kustomize::Kubectl,
    /// Node shapes a proposal must fit on.
    pub nodes: Vec<NodeShape>,
}

/// A back-test's figures and what the run noted.
pub struct BacktestRun {
    /// Per-strategy figures, per fold and in total.
    pub result: BacktestResult,
    /// What the run noticed along the way (skipped containers, damaged days, ...).
    pub notes: Vec<Note>,
}

/// Replays the selection's history against each strategy's proposal.
pub fn run(input: SelectionSettings, settings: &BacktestSettings) -> Result<BacktestRun> {
    let strategies = strategies(&settings.strategies)?;
    let mut selection = select(input)?;
    selection.add_policy_traffic(&settings.policy.traffic);
    let series = selection.series()?;
    let mut notes = std::mem::take(&mut selection.notes);
    let current = current_of(&series, settings, &mut notes)?;
    let setup = BacktestSetup {
        strategies: &strategies,
        policies: &settings.policy,
        fold_layout: settings.fold_layout,
        prices: settings.prices,
        current: &current,
        nodes: &settings.nodes,
    };
    let result = backtest::run(&series, &setup);
    if result.folds.is_empty() {
        return Err(EngineError::HistoryTooShort { holdout: settings.holdout_text.clone() });
    }
    Ok(BacktestRun { result, notes })
}

/// Current settings of every container the overlay holds, keyed like the samples.
fn current_of(
    series: &[Series],
    settings: &BacktestSettings,
    notes: &mut Vec<Note>,
) -> Result<HashMap<ContainerKey, Resources>> {
    let (overlay, live) = (settings.overlay.as_deref(), settings.live.as_ref());
    let clusters = || series.iter().map(|s| s.key.workload.cluster.as_str());
    if let Some(dir) = overlay {
        one_cluster(&format!("the overlay {}", dir.display()), clusters())?;
    } else if let Some(live) = live {
        one_cluster(&live.describe(), clusters())?;
    }
    let workloads = current_settings(overlay, &settings.kubectl, live, notes)?.workloads;
    let mut current = HashMap::new();
    for s in series {
        let w = &s.key.workload;
        let found = workloads.iter().find(|x| {
            x.kind == w.kind && x.name == w.name && x.namespace.as_deref().is_none_or(|ns| ns == w.namespace)
        });
        if let Some((_, r)) = found.and_then(|x| x.containers.iter().find(|(n, _)| *n == s.key.container)) {
            current.insert(s.key.clone(), *r);
        }
    }
    Ok(current)
}

/// One scope of the suite (a scenario or a trace family) and how it went.
pub struct SuiteEntry {
    /// The scope's label: `scenario NAME` (optionally `without share`) or `trace FAMILY`.
    pub scope: String,
    /// True for a generated scenario, false for a public trace family.
    pub synthetic: bool,
    /// False for comparison runs that show what goes wrong without a feature.
    pub goals: bool,
    /// The scope's back-test figures.
    pub result: BacktestResult,
    /// The verdict rules replayed on its holdouts, per strategy (`super::suite_verdicts`).
    pub verdicts: Vec<crate::analysis::backtest::verdicts::VerdictReplay>,
}

fn series_of(mut fill: impl FnMut(&mut dyn FnMut(Sample)) -> Result<()>) -> Result<Vec<Series>> {
    let mut builder = SeriesBuilder::default();
    fill(&mut |s: Sample| builder.observe(&SampleRef::from_sample(&s)))?;
    Ok(builder.finish())
}

/// Fold layout per trace family: their lengths differ (Google 2011 has 10 days).
fn family_folds(family: &str) -> FoldLayout {
    let (train, holdout, folds) = match family {
        "google-2011" => (7, 3, 1),
        "google-2019" => (14, 7, 2),
        _ => (14, 7, 3),
    };
    FoldLayout { train_ms: train * DAY_MS, holdout_ms: holdout * DAY_MS, split_at: None, folds }
}

/// Runs every scenario and every trace family present under `traces_dir`.
pub fn suite(
    traces_dir: Option<&std::path::Path>,
    families: &[String],
    policies: &PolicySet,
    nodes: &[NodeShape],
    on_note: &mut dyn FnMut(Note),
) -> Result<Vec<SuiteEntry>> {
    let strategies = strategies(&STRATEGY_NAMES.iter().map(std::string::ToString::to_string).collect::<Vec<_>>())?;
    let none = HashMap::new();
    let setup = |fold_layout| BacktestSetup {
        strategies: &strategies,
        policies,
        fold_layout,
        prices: Prices::default(),
        current: &none,
        nodes,
    };
    let mut entries = Vec::new();
    let start = parse_timestamp("2026-10-26").expect("valid date");
    let folds = FoldLayout { train_ms: 14 * DAY_MS, holdout_ms: 7 * DAY_MS, split_at: None, folds: 1 };
    for name in synthetic::SCENARIOS {
        let scenario = |emit: &mut dyn FnMut(Sample)| {
            synthetic::scenario(name, start, 21, emit)
                .map_err(|message| EngineError::Scenario { name: name.to_string(), message })
        };
        let mut series = series_of(scenario)?;
        if *name == "canary-30pct" {
            // What happens without the share, for comparison; then with it, as a user would
            // give it with --traffic-share.
            let result = backtest::run(&series, &setup(folds));
            entries.push(SuiteEntry {
                scope: format!("scenario {name} without share"),
                synthetic: true,
                goals: false,
                verdicts: super::suite_verdicts::replay(&series, &result),
                result,
            });
            let share = crate::analysis::traffic::TrafficShare::parse(&synthetic::canary_share(start, 21))?;
            series.iter_mut().for_each(|s| {
                crate::analysis::traffic::project(s, &share);
            });
        }
        let result = backtest::run(&series, &setup(folds));
        let verdicts = super::suite_verdicts::replay(&series, &result);
        entries.push(SuiteEntry { scope: format!("scenario {name}"), synthetic: true, goals: true, result, verdicts });
    }
    let Some(traces_dir) = traces_dir else {
        on_note(Note::Warning(format!(
            "NOTICE: no traces folder (--traces DIR or {}): trace families skipped, scenarios only.\n{}",
            traces::TRACES_ENV,
            traces::where_to_get()
        )));
        return Ok(entries);
    };
    for family in traces::FAMILIES {
        if !families.is_empty() && !families.iter().any(|f| f == family) {
            continue;
        }
        let path = traces::family_path(traces_dir, family).expect("a known family");
        if !path.exists() {
            on_note(Note::Warning(format!(
                "NOTICE: {} not found: trace family {family} skipped (docs/traces.md)",
                path.display()
            )));
            continue;
        }
        let started = std::time::Instant::now();
        let series = series_of(|emit| traces::read_family(traces_dir, family, emit).map_err(Into::into))?;
        let result = backtest::run(&series, &setup(family_folds(family)));
        on_note(Note::Note(format!("{family}: {} series, {:.1?}", series.len(), started.elapsed())));
        let verdicts = super::suite_verdicts::replay(&series, &result);
        entries.push(SuiteEntry { scope: format!("trace {family}"), synthetic: false, goals: true, result, verdicts });
    }
    Ok(entries)
}

/// The default policy's goals on one scope, as (description, met).
pub fn goals(entry: &SuiteEntry) -> Vec<(String, bool)> {
    let get = |n: &str| entry.result.totals.iter().find(|(name, _)| name == n).map(|(_, o)| *o).unwrap_or_default();
    let (ours, vpa, krr) = (get("podsizer"), get("vpa"), get("krr"));
    let saving = if vpa.cost > 0.0 { 1.0 - ours.cost / vpa.cost } else { 0.0 };
    let mut goals = vec![
        (format!("{:.0}% cheaper than vpa (goal >= 40%)", saving * 100.0), saving >= 0.40),
        (
            format!(
                "CPU over limit {:.2}% vs vpa {:.2}% (goal <= vpa + 0.1 pp)",
                ours.over_limit_share() * 100.0,
                vpa.over_limit_share() * 100.0
            ),
            ours.over_limit_share() <= vpa.over_limit_share() + 0.001,
        ),
    ];
    let exposure = entry.result.mean_eviction_exposure("podsizer").unwrap_or(0.0);
    goals.push((
        format!("memory above request in {:.1}% of samples, mean per container (goal <= 5%)", exposure * 100.0),
        exposure <= 0.05,
    ));
    if entry.synthetic {
        goals.extend(startup_goal(&entry.result));
        goals.push((format!("{} OOM kills (goal 0)", ours.oom_kills), ours.oom_kills == 0));
    } else {
        if let Some(ratio) = entry.result.cost_vs_bound("podsizer") {
            goals.push((format!("cost {ratio:.2}x the per-container 5% bound (goal <= 1.10x)"), ratio <= 1.10 + 1e-9));
        }
        let ok = ours.oom_kills == 0 || (ours.oom_kills < vpa.oom_kills && ours.oom_kills < krr.oom_kills);
        goals.push((
            format!(
                "{} OOM kills vs vpa {} and krr {} (goal: fewer than both)",
                ours.oom_kills, vpa.oom_kills, krr.oom_kills
            ),
            ok,
        ));
    }
    goals
}

/// The suite's report (`reports/backtest.md`): each scope's figures and goals, as Markdown.
pub fn suite_markdown(entries: &[SuiteEntry]) -> String {
    let mut md = String::from("# Back-test: podsizer's default policy against VPA and krr\n\n");
    md.push_str(
        "Regenerate with `cargo run --release -- backtest-suite --traces DIR --out reports/backtest.md`, where DIR holds \
         the public traces laid out as [docs/traces.md](../docs/traces.md) describes.\n",
    );
    md.push_str(
        "Each strategy sizes every container from a training window and is replayed over the following holdout window ",
    );
    md.push_str("(figures defined in `podsizer backtest --help` and docs/backtest.md). Prices: $0.04 per core-hour, $0.005 per GiB-hour.\n");
    md.push_str(
        "`memory > request` is the eviction exposure (share of samples whose working set is above the memory request), \
         over all samples and as the mean of each container's share. `podsizer` is the default policy (memory request at \
         p60 of daily per-pod peaks x 1.1); `podsizer-p50` is the same with the memory request at p50 of the working set, \
         and `podsizer-risk` with it spending a 3% risk budget (the lowest request whose exposure, estimated day by day \
         inside the training window, stays within 3%), to show the trade-offs.\n",
    );
    md.push_str(
        "`bound-5%` is a hindsight bound: podsizer's CPU settings and, per container and fold, the memory request its own \
         holdout working set exceeds in 5% of samples; `bound-mean-5%` is the Lagrangian lower bound on cost when only the \
         mean exposure over containers must stay within 5%. `vs bound` is each cost over `bound-5%`'s: how far a strategy \
         is from what a rule that saw the holdout could do.\n\n",
    );
    md.push_str(render::MARKDOWN_HEADER);
    for e in entries {
        md.push_str(&render::markdown_rows(&e.scope, &e.result));
    }
    if entries.iter().any(|e| !e.result.nodes.is_empty()) {
        md.push_str("\n## Nodes\n\n");
        md.push_str(
            "Each holdout's pods placed onto nodes of the given allocatable shape by their requests (first-fit decreasing \
             on the dominant resource, placed again whenever pods start or stop); memory pressure and CPU contention are \
             node-minutes with the pods' summed working set or CPU use above the node's allocatable; beside CPU contention, \
             its share of node-steps (`cpu.node_contention_budget` in the policy bounds it, docs/policy.md).\n\n",
        );
        md.push_str(render::MARKDOWN_NODE_HEADER);
        for e in entries {
            md.push_str(&render::markdown_node_rows(&e.scope, &e.result));
        }
    }
    md.push_str(&startup_markdown(entries));
    md.push_str(
        "\n## Constants and held-out families\n\nThe default memory request (p60 of daily per-pod peaks x 1.1) was chosen on \
         the scenarios and Bitbrains; the risk budget's ladder and shrinkage and the memory limit's step rule (a day's typical \
         working set >= 1.5x the day before, from a level >= 5% of the peak; limit >= peak x step x 1.1) on Bitbrains; the start-up rule (a pod's first \
         samples above the window's p90 CPU, cut at 30 minutes) on the startup-burst scenario. Google 2019, Google 2011 and Azure took no part in choosing any constant: they are held out.\n",
    );
    md.push_str(&super::suite_verdicts::markdown(entries.iter().map(|e| (e.scope.as_str(), e.verdicts.as_slice()))));
    md.push_str("\n## Goals for the default policy\n\n");
    for e in entries.iter().filter(|e| e.goals) {
        let marks: Vec<String> =
            goals(e).iter().map(|(text, ok)| format!("{} {text}", if *ok { "met:" } else { "MISSED:" })).collect();
        md.push_str(&format!("- {}: {}\n", e.scope, marks.join("; ")));
    }
    md
}

/// Start-up throttling against VPA where pods started in the holdout: podsizer's is no worse,
/// or it proposes the boost and the boost brings it there.
fn startup_goal(result: &BacktestResult) -> Option<(String, bool)> {
    let get = |n: &str| result.startup.iter().find(|(name, _)| name == n).map(|(_, t)| *t).unwrap_or_default();
    let (ours, boosted, vpa) = (get("podsizer"), get(backtest::BOOSTED), get("vpa"));
    // Only where pods warmed up: a start at steady level is nothing to throttle.
    if ours.startup_samples == 0 {
        return None;
    }
    let (a, b, v) = (ours.per_start(), boosted.per_start(), vpa.per_start());
    let proposed = boosted.boosted > 0;
    let met = a <= v + 1e-9 || (proposed && b <= v + 1e-9);
    Some((
        format!(
            "start-up CPU above the limit {a:.1} CPU-s per start vs vpa {v:.1} (goal: no more than vpa, or the boost proposed: {}, {b:.1} with it)",
            if proposed { "yes" } else { "no" }
        ),
        met,
    ))
}

/// The start-up section of the suite's report: CPU above the limit in start-up periods apart
/// from steady state, per strategy, on the synthetic scenarios where pods started.
fn startup_markdown(entries: &[SuiteEntry]) -> String {
    let shown: Vec<&SuiteEntry> =
        entries.iter().filter(|e| e.synthetic && e.result.startup.iter().any(|(_, t)| t.startup_samples > 0)).collect();
    if shown.is_empty() {
        return String::new();
    }
    let mut md = String::from("\n## Start-up\n\n");
    md.push_str(
        "Each pod started in the holdout has a start-up period: its first samples above the training window's p90 CPU, \
         up to 30 minutes (docs/runtimes.md). CPU-seconds above the CPU limit are counted in those periods and in every \
         other sample (steady state). `podsizer+boost` is podsizer with the start-up boost `startup.cpu = \"boost\"` \
         proposes from the training window's start-ups (the limit lifted by a whole factor during start-up).\n\n",
    );
    md.push_str("| scope | strategy | starts | start-up samples | start-up CPU-s above limit | per start | steady CPU-s above limit |\n");
    md.push_str("|---|---|---|---|---|---|---|\n");
    for e in shown {
        for (name, t) in &e.result.startup {
            md.push_str(&format!(
                "| {} | {name} | {} | {} | {:.0} | {:.1} | {:.0} |\n",
                e.scope,
                t.starts,
                t.startup_samples,
                t.startup_cpu_seconds,
                t.per_start(),
                t.steady_cpu_seconds
            ));
        }
    }
    md
}

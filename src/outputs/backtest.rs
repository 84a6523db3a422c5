//! Back-test results as a table, JSON, CSV or a Markdown summary.

use crate::analysis::backtest::{BacktestResult, NodeResult, Outcome, BOUND_EXPOSURE};
use crate::analysis::nodes::NodeOutcome;
use crate::analysis::series::Prices;
use crate::domain::format_timestamp;
use serde::Serialize;

#[derive(Serialize)]
struct FiguresDoc {
    samples: u64,
    cpu_slack: f64,
    memory_slack: f64,
    cpu_over_request: f64,
    cpu_over_limit: f64,
    /// Eviction exposure: share of samples whose working set is above the memory request.
    memory_over_request: f64,
    oom_kills: u64,
    cost_usd: f64,
}

fn figures(o: &Outcome) -> FiguresDoc {
    let r = |v: f64| (v * 1e6).round() / 1e6;
    FiguresDoc {
        samples: o.samples,
        cpu_slack: r(o.cpu_slack()),
        memory_slack: r(o.memory_slack()),
        cpu_over_request: r(o.over_request_share()),
        cpu_over_limit: r(o.over_limit_share()),
        memory_over_request: r(o.eviction_exposure()),
        oom_kills: o.oom_kills,
        cost_usd: (o.cost * 100.0).round() / 100.0,
    }
}

#[derive(Serialize)]
struct NodeFiguresDoc {
    peak_nodes: usize,
    mean_nodes: f64,
    node_minutes: f64,
    memory_pressure_node_minutes: f64,
    cpu_contention_node_minutes: f64,
    /// Share of node-steps with contention.
    cpu_contention_share: f64,
    cost_usd: f64,
    oversized_pods: usize,
}

fn node_figures(o: &NodeOutcome) -> NodeFiguresDoc {
    NodeFiguresDoc {
        peak_nodes: o.peak_nodes,
        mean_nodes: (o.mean_nodes() * 1e3).round() / 1e3,
        node_minutes: o.node_minutes,
        memory_pressure_node_minutes: o.memory_pressure_minutes,
        cpu_contention_node_minutes: o.cpu_contention_minutes,
        cpu_contention_share: o.contention_share(),
        cost_usd: (o.cost * 100.0).round() / 100.0,
        oversized_pods: o.oversized_pods,
    }
}

#[derive(Serialize)]
struct NodesDoc<'a> {
    shape: &'a crate::domain::NodeShape,
    /// Pods placed, summed over folds.
    pods: usize,
    strategies: Vec<(String, NodeFiguresDoc)>,
}

#[derive(Serialize)]
struct ContainerDoc {
    #[serde(skip_serializing_if = "String::is_empty")]
    cluster: String,
    namespace: String,
    workload: String,
    container: String,
    strategies: Vec<(String, Option<FiguresDoc>)>,
    /// The per-container 5% hindsight bound replayed.
    bound_5pct: Option<FiguresDoc>,
}

/// Hindsight bounds (podsizer's CPU requests, memory requests chosen from the holdout).
#[derive(Serialize)]
struct BoundsDoc {
    /// Per container, the memory request its own holdout exceeds in 5% of samples.
    per_container_5pct: FiguresDoc,
    per_container_5pct_mean_eviction_exposure: f64,
    /// Lagrangian lower bound on cost with the mean exposure over containers within 5%.
    mean_5pct_cost_usd: f64,
    /// Per strategy, its cost over the per-container bound's.
    cost_vs_bound: Vec<(String, f64)>,
}

#[derive(Serialize)]
struct FoldDoc {
    train_from: String,
    split: String,
    holdout_to: String,
}

#[derive(Serialize)]
struct Doc<'a> {
    prices: Prices,
    folds: Vec<FoldDoc>,
    totals: Vec<(String, FiguresDoc)>,
    /// Per strategy, the mean over containers of each one's eviction exposure.
    mean_eviction_exposure: Vec<(String, f64)>,
    skipped_containers: usize,
    bounds: BoundsDoc,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<NodesDoc<'a>>,
    containers: Vec<ContainerDoc>,
}

pub(crate) fn json(result: &BacktestResult, prices: &Prices) -> String {
    let doc = Doc {
        prices: *prices,
        folds: result
            .folds
            .iter()
            .map(|f| FoldDoc {
                train_from: format_timestamp(f.train_from),
                split: format_timestamp(f.split),
                holdout_to: format_timestamp(f.holdout_to),
            })
            .collect(),
        totals: result.totals.iter().map(|(n, o)| (n.clone(), figures(o))).collect(),
        mean_eviction_exposure: mean_exposures(result).into_iter().map(|(n, v)| (n, (v * 1e6).round() / 1e6)).collect(),
        skipped_containers: result.skipped,
        bounds: BoundsDoc {
            per_container_5pct: figures(&result.bounds.per_container),
            per_container_5pct_mean_eviction_exposure: (result.bounds.per_container_mean_exposure * 1e6).round() / 1e6,
            mean_5pct_cost_usd: (result.bounds.mean_cost * 100.0).round() / 100.0,
            cost_vs_bound: result
                .totals
                .iter()
                .filter_map(|(n, _)| result.cost_vs_bound(n).map(|v| (n.clone(), (v * 1e4).round() / 1e4)))
                .collect(),
        },
        nodes: result
            .nodes
            .iter()
            .map(|n| NodesDoc {
                shape: &n.shape,
                pods: n.pods,
                strategies: n.outcomes.iter().map(|(s, o)| (s.clone(), node_figures(o))).collect(),
            })
            .collect(),
        containers: result
            .containers
            .iter()
            .map(|c| ContainerDoc {
                cluster: c.key.workload.cluster.clone(),
                namespace: c.key.workload.namespace.clone(),
                workload: format!("{}/{}", c.key.workload.kind, c.key.workload.name),
                container: c.key.container.clone(),
                strategies: c.outcomes.iter().map(|(n, o)| (n.clone(), o.as_ref().map(figures))).collect(),
                bound_5pct: c.bound.as_ref().map(figures),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).expect("serialises") + "\n"
}

const HEADER: [&str; 11] = [
    "SCOPE",
    "STRATEGY",
    "COST $",
    "VS VPA",
    "VS BOUND",
    "CPU SLACK",
    "MEM SLACK",
    "CPU>REQ",
    "CPU>LIMIT",
    "MEM>REQ",
    "OOM KILLS",
];

/// The per-container 5% hindsight bound, as a row beside the strategies.
pub(crate) const BOUND_NAME: &str = "bound-5%";
/// The Lagrangian bound with the mean exposure within 5%.
pub(crate) const MEAN_BOUND_NAME: &str = "bound-mean-5%";

fn mean_exposures(result: &BacktestResult) -> Vec<(String, f64)> {
    result.totals.iter().filter_map(|(n, _)| result.mean_eviction_exposure(n).map(|v| (n.clone(), v))).collect()
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// `cost` against VPA's, as a change.
fn vs_vpa(cost: f64, vpa_cost: Option<f64>) -> String {
    vpa_cost.filter(|c| *c > 0.0).map_or("-".into(), |c| format!("{:+.0}%", (cost / c - 1.0) * 100.0))
}

/// `cost` against the per-container bound's, as a multiple.
fn vs_bound(cost: f64, bound_cost: Option<f64>) -> String {
    bound_cost.filter(|c| *c > 0.0).map_or("-".into(), |c| format!("{:.2}x", cost / c))
}

fn row(scope: &str, name: &str, o: &Outcome, vpa_cost: Option<f64>, bound_cost: Option<f64>) -> [String; 11] {
    [
        scope.to_string(),
        name.to_string(),
        format!("{:.2}", o.cost),
        vs_vpa(o.cost, vpa_cost),
        vs_bound(o.cost, bound_cost),
        pct(o.cpu_slack()),
        pct(o.memory_slack()),
        pct(o.over_request_share()),
        format!("{:.2}%", o.over_limit_share() * 100.0),
        pct(o.eviction_exposure()),
        o.oom_kills.to_string(),
    ]
}

fn vpa_cost(outcomes: &[(String, Option<Outcome>)]) -> Option<f64> {
    outcomes.iter().find(|(n, _)| n == "vpa").and_then(|(_, o)| o.map(|o| o.cost))
}

/// The mean bound's row: it has a cost, not a replay.
fn mean_bound_row(scope: &str, result: &BacktestResult, vpa_cost: Option<f64>) -> [String; 11] {
    let cost = result.bounds.mean_cost;
    let mut r: [String; 11] = std::array::from_fn(|_| "-".to_string());
    r[0] = scope.to_string();
    r[1] = MEAN_BOUND_NAME.to_string();
    r[2] = format!("{cost:.2}");
    r[3] = vs_vpa(cost, vpa_cost);
    r[4] = vs_bound(cost, Some(result.bounds.per_container.cost));
    r
}

/// Rows: per container (when asked) then totals, each set followed by the bounds.
pub(crate) fn rows(result: &BacktestResult, per_container: bool) -> Vec<[String; 11]> {
    let mut rows = Vec::new();
    if per_container {
        for c in &result.containers {
            let scope = c.key.to_string();
            let vpa = vpa_cost(&c.outcomes);
            let bound = c.bound.map(|b| b.cost);
            for (name, o) in &c.outcomes {
                match o {
                    Some(o) => rows.push(row(&scope, name, o, vpa, bound)),
                    None => rows.push([
                        scope.clone(),
                        name.clone(),
                        "not enough history".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]),
                }
            }
            if let Some(b) = &c.bound {
                rows.push(row(&scope, BOUND_NAME, b, vpa, bound));
            }
        }
    }
    let totals: Vec<(String, Option<Outcome>)> = result.totals.iter().map(|(n, o)| (n.clone(), Some(*o))).collect();
    let vpa = vpa_cost(&totals);
    let bound = Some(result.bounds.per_container.cost);
    for (name, o) in &result.totals {
        rows.push(row("TOTAL", name, o, vpa, bound));
    }
    rows.push(row("TOTAL", BOUND_NAME, &result.bounds.per_container, vpa, bound));
    rows.push(mean_bound_row("TOTAL", result, vpa));
    rows
}

/// Columns padded to their widest cell.
fn aligned<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
            + "\n"
    };
    let mut out = line(&header.map(String::from));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

const NODE_HEADER: [&str; 8] = [
    "NODE SHAPE",
    "STRATEGY",
    "NODES PEAK",
    "NODES MEAN",
    "MEM PRESSURE",
    "CPU CONTENTION",
    "NODE COST $",
    "OVERSIZED",
];

/// One row per strategy: nodes needed and node-minutes of memory pressure and CPU contention.
pub(crate) fn node_rows(n: &NodeResult) -> Vec<[String; 8]> {
    n.outcomes
        .iter()
        .map(|(name, o)| {
            [
                n.shape.name.clone(),
                name.clone(),
                o.peak_nodes.to_string(),
                format!("{:.2}", o.mean_nodes()),
                format!("{:.0} node-min", o.memory_pressure_minutes),
                format!("{:.0} node-min ({:.1}%)", o.cpu_contention_minutes, o.contention_share() * 100.0),
                format!("{:.2}", o.cost),
                o.oversized_pods.to_string(),
            ]
        })
        .collect()
}

pub(crate) fn table(result: &BacktestResult, per_container: bool) -> String {
    let mut out = aligned(HEADER, &rows(result, per_container));
    let folds: Vec<String> = result
        .folds
        .iter()
        .map(|f| {
            format!(
                "{} | {} -> {}",
                format_timestamp(f.train_from),
                format_timestamp(f.split),
                format_timestamp(f.holdout_to)
            )
        })
        .collect();
    let mut exposures: Vec<String> = mean_exposures(result).iter().map(|(n, v)| format!("{n} {}", pct(*v))).collect();
    exposures.push(format!("{BOUND_NAME} {}", pct(result.bounds.per_container_mean_exposure)));
    out.push_str(&format!("MEM>REQ, mean over containers: {}\n", exposures.join(", ")));
    out.push_str(&bound_note());
    out.push_str(&format!("folds (train from | split -> holdout end): {}\n", folds.join("; ")));
    if result.skipped > 0 {
        out.push_str(&format!(
            "{} container(s) left out of the totals: too little training history for some strategy\n",
            result.skipped
        ));
    }
    if !result.nodes.is_empty() {
        let rows: Vec<[String; 8]> = result.nodes.iter().flat_map(node_rows).collect();
        out.push('\n');
        out.push_str(&aligned(NODE_HEADER, &rows));
        out.push_str(
            "nodes placed by requests (first-fit decreasing, again at every pod start or stop); pressure and contention = \
             node-minutes with the pods' summed working set or CPU use above the node's allocatable\n",
        );
    }
    out
}

/// What the bound rows are, in one line.
fn bound_note() -> String {
    let share = BOUND_EXPOSURE * 100.0;
    format!(
        "{BOUND_NAME}: hindsight bound, podsizer's CPU settings and per container and fold the memory request its own \
         holdout working set exceeds in {share:.0}% of samples; {MEAN_BOUND_NAME}: the Lagrangian lower bound on cost \
         with the mean exposure over containers within {share:.0}%; VS BOUND = cost / {BOUND_NAME}'s\n"
    )
}

pub(crate) fn csv(result: &BacktestResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "namespace",
        "workload",
        "container",
        "strategy",
        "samples",
        "cpu_slack",
        "memory_slack",
        "cpu_over_request",
        "cpu_over_limit",
        "memory_over_request",
        "oom_kills",
        "cost_usd",
    ])
    .expect("in memory");
    for c in &result.containers {
        let bound = c.bound.as_ref().map(|b| (BOUND_NAME.to_string(), Some(*b)));
        for (name, o) in c.outcomes.iter().chain(bound.iter()) {
            let Some(o) = o else { continue };
            let f = figures(o);
            w.write_record([
                c.key.workload.namespace.clone(),
                format!("{}/{}", c.key.workload.kind, c.key.workload.name),
                c.key.container.clone(),
                name.clone(),
                f.samples.to_string(),
                f.cpu_slack.to_string(),
                f.memory_slack.to_string(),
                f.cpu_over_request.to_string(),
                f.cpu_over_limit.to_string(),
                f.memory_over_request.to_string(),
                f.oom_kills.to_string(),
                f.cost_usd.to_string(),
            ])
            .expect("in memory");
        }
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}

/// Markdown table rows (no header) of totals for one scope, for the back-test report.
pub(crate) fn markdown_rows(scope: &str, result: &BacktestResult) -> String {
    let totals: Vec<(String, Option<Outcome>)> = result.totals.iter().map(|(n, o)| (n.clone(), Some(*o))).collect();
    let vpa = vpa_cost(&totals);
    let n = result.containers.len() - result.skipped;
    let bound = Some(result.bounds.per_container.cost);
    let line = |r: [String; 11], mean: String| {
        format!("| {} | {} | {n} | {} | {mean} | {} |\n", r[0], r[1], r[2..10].join(" | "), r[10])
    };
    let mut md: String = result
        .totals
        .iter()
        .map(|(name, o)| {
            line(row(scope, name, o, vpa, bound), result.mean_eviction_exposure(name).map_or("-".into(), pct))
        })
        .collect();
    let b = &result.bounds;
    md.push_str(&line(row(scope, BOUND_NAME, &b.per_container, vpa, bound), pct(b.per_container_mean_exposure)));
    md.push_str(&line(mean_bound_row(scope, result, vpa), "≤ 5%".into()));
    md
}

/// Markdown rows of the node back-test for one scope.
pub(crate) fn markdown_node_rows(scope: &str, result: &BacktestResult) -> String {
    let mut md = String::new();
    for n in &result.nodes {
        for r in node_rows(n) {
            md.push_str(&format!("| {scope} | {} | {} |\n", n.pods, r.join(" | ")));
        }
    }
    md
}

pub(crate) const MARKDOWN_NODE_HEADER: &str = "| scope | pods placed | node shape | strategy | nodes peak | nodes mean | memory pressure | CPU contention | node cost $ | oversized pods |\n|---|---|---|---|---|---|---|---|---|---|\n";

pub(crate) const MARKDOWN_HEADER: &str = "| scope | strategy | containers | cost $ | vs vpa | vs bound | CPU slack | memory slack | CPU > request | CPU > limit | memory > request | memory > request, mean per container | OOM kills |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

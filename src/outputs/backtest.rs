//! Back-test results as a table, JSON, CSV or a Markdown summary.

use crate::analysis::backtest::{BacktestResult, Outcome, Prices};
use crate::domain::format_timestamp;
use serde::Serialize;

#[derive(Serialize)]
struct FiguresDoc {
    samples: u64,
    cpu_slack: f64,
    memory_slack: f64,
    cpu_over_request: f64,
    cpu_over_limit: f64,
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
        oom_kills: o.oom_kills,
        cost_usd: (o.cost * 100.0).round() / 100.0,
    }
}

#[derive(Serialize)]
struct ContainerDoc {
    #[serde(skip_serializing_if = "String::is_empty")]
    cluster: String,
    namespace: String,
    workload: String,
    container: String,
    strategies: Vec<(String, Option<FiguresDoc>)>,
}

#[derive(Serialize)]
struct FoldDoc {
    train_from: String,
    split: String,
    holdout_to: String,
}

#[derive(Serialize)]
struct Doc {
    prices: Prices,
    folds: Vec<FoldDoc>,
    totals: Vec<(String, FiguresDoc)>,
    skipped_containers: usize,
    containers: Vec<ContainerDoc>,
}

pub fn json(result: &BacktestResult, prices: &Prices) -> String {
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
        skipped_containers: result.skipped,
        containers: result
            .containers
            .iter()
            .map(|c| ContainerDoc {
                cluster: c.key.workload.cluster.clone(),
                namespace: c.key.workload.namespace.clone(),
                workload: format!("{}/{}", c.key.workload.kind, c.key.workload.name),
                container: c.key.container.clone(),
                strategies: c.outcomes.iter().map(|(n, o)| (n.clone(), o.as_ref().map(figures))).collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).expect("serialises") + "\n"
}

const HEADER: [&str; 9] =
    ["SCOPE", "STRATEGY", "COST $", "VS VPA", "CPU SLACK", "MEM SLACK", "CPU>REQ", "CPU>LIMIT", "OOM KILLS"];

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn row(scope: &str, name: &str, o: &Outcome, vpa_cost: Option<f64>) -> [String; 9] {
    let vs = vpa_cost.filter(|c| *c > 0.0).map_or("-".into(), |c| format!("{:+.0}%", (o.cost / c - 1.0) * 100.0));
    [
        scope.to_string(),
        name.to_string(),
        format!("{:.2}", o.cost),
        vs,
        pct(o.cpu_slack()),
        pct(o.memory_slack()),
        pct(o.over_request_share()),
        format!("{:.2}%", o.over_limit_share() * 100.0),
        o.oom_kills.to_string(),
    ]
}

fn vpa_cost(outcomes: &[(String, Option<Outcome>)]) -> Option<f64> {
    outcomes.iter().find(|(n, _)| n == "vpa").and_then(|(_, o)| o.map(|o| o.cost))
}

/// Rows: per container (when asked) then totals.
pub fn rows(result: &BacktestResult, per_container: bool) -> Vec<[String; 9]> {
    let mut rows = Vec::new();
    if per_container {
        for c in &result.containers {
            let scope = c.key.to_string();
            let vpa = vpa_cost(&c.outcomes);
            for (name, o) in &c.outcomes {
                match o {
                    Some(o) => rows.push(row(&scope, name, o, vpa)),
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
                    ]),
                }
            }
        }
    }
    let totals: Vec<(String, Option<Outcome>)> = result.totals.iter().map(|(n, o)| (n.clone(), Some(*o))).collect();
    let vpa = vpa_cost(&totals);
    for (name, o) in &result.totals {
        rows.push(row("TOTAL", name, o, vpa));
    }
    rows
}

pub fn table(result: &BacktestResult, per_container: bool) -> String {
    let rows = rows(result, per_container);
    let mut widths = HEADER.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
            + "\n"
    };
    let mut out = line(&HEADER.map(String::from));
    for r in &rows {
        out.push_str(&line(r));
    }
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
    out.push_str(&format!("folds (train from | split -> holdout end): {}\n", folds.join("; ")));
    if result.skipped > 0 {
        out.push_str(&format!(
            "{} container(s) left out of the totals: too little training history for some strategy\n",
            result.skipped
        ));
    }
    out
}

pub fn csv(result: &BacktestResult) -> String {
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
        "oom_kills",
        "cost_usd",
    ])
    .expect("in memory");
    for c in &result.containers {
        for (name, o) in &c.outcomes {
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
                f.oom_kills.to_string(),
                f.cost_usd.to_string(),
            ])
            .expect("in memory");
        }
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}

/// Markdown table rows (no header) of totals for one scope, for the back-test report.
pub fn markdown_rows(scope: &str, result: &BacktestResult) -> String {
    let totals: Vec<(String, Option<Outcome>)> = result.totals.iter().map(|(n, o)| (n.clone(), Some(*o))).collect();
    let vpa = vpa_cost(&totals);
    let n = result.containers.len() - result.skipped;
    result
        .totals
        .iter()
        .map(|(name, o)| {
            let r = row(scope, name, o, vpa);
            format!("| {} | {} | {n} | {} |\n", r[0], r[1], r[2..].join(" | "))
        })
        .collect()
}

pub const MARKDOWN_HEADER: &str = "| scope | strategy | containers | cost $ | vs vpa | CPU slack | memory slack | CPU > request | CPU > limit | OOM kills |\n|---|---|---|---|---|---|---|---|---|---|\n";

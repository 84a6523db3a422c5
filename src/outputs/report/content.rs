//! The report's content as a list of blocks, rendered to Markdown and to HTML.

use super::blocks::*;
use super::{NowProposed, Report, ReportDoc};

pub(super) fn blocks(report: &Report) -> Vec<Block> {
    let doc = &report.doc;
    let mut out = Vec::new();
    intro(report, &mut out);
    summary(report, &mut out);
    super::outcomes::verdicts(report, &mut out);
    changes_table(doc, &mut out);
    runtime_changes(doc, &mut out);
    super::outcomes::evidence(report, &mut out);
    nodes(doc, &mut out);
    super::contention::section(doc, &mut out);
    week_over_week(doc, &mut out);
    super::details::containers(report, &mut out);
    super::details::workloads(report, &mut out);
    how_to_read(report, &mut out);
    out
}

fn intro(report: &Report, out: &mut Vec<Block>) {
    let doc = &report.doc;
    out.push(heading(1, format!("Sizing report {}", doc.week), "top"));
    let (from, to) = report.span;
    let workloads = doc.workloads.len();
    let mut line = vec![t(format!(
        "Measured CPU and memory use of {} container{} in {} workload{}, from {} to {} ({}), compared with ",
        doc.containers.len(),
        if doc.containers.len() == 1 { "" } else { "s" },
        workloads,
        if workloads == 1 { "" } else { "s" },
        local_time(report, from),
        local_time(report, to - 1),
        doc.time_zone
    ))];
    match &report.current_source {
        Some(src) => {
            line.push(t("the requests and limits set now in "));
            line.push(code(src.clone()));
            line.push(t("."));
        }
        None => line.push(t("proposals only: current settings were not given (pass --kustomize OVERLAY).")),
    }
    out.push(Block::Para(line));
    out.push(Block::Para(vec![
        t("The rule: "),
        b("request = use at typical load"),
        t(" (what the scheduler reserves for the pod), "),
        b("limit ≈ 2 × request"),
        t(", raised where the peaks seen would otherwise be throttled (CPU) or OOM-killed (memory). Every number below says which measurement and which guard produced it."),
    ]));
}

fn summary(report: &Report, out: &mut Vec<Block>) {
    let doc = &report.doc;
    out.push(heading(2, "In short", "summary"));
    let tot = &doc.totals;
    // Runtime settings count: a pool resized behind an unchanged limit is a change.
    let changing = report.changes.iter().filter(|moves| !moves.is_empty()).count();
    let flagged = doc.containers.iter().filter(|c| c.risk.flags.iter().any(|f| f.code != "current_unknown")).count();
    let mut items = Vec::new();
    match (tot.monthly_cost.current, tot.monthly_cost.proposed, tot.monthly_savings) {
        (Some(now), Some(new), Some(save)) => {
            let pct = if now > 0.0 { save / now * 100.0 } else { 0.0 };
            let verb = if save >= 0.0 { "saves" } else { "costs" };
            items.push(vec![
                t(format!("Requests cost {} a month now; the proposal ", money(now))),
                b(format!("{verb} {} a month ({:.0}%)", money(save.abs()), pct.abs())),
                t(format!(", {} instead.", money(new))),
            ]);
        }
        (_, Some(new), _) => items.push(vec![t(format!("The proposed requests cost {} a month.", money(new)))]),
        _ => {}
    }
    items.push(vec![t(format!(
        "{changing} of {} container{} would change; {}.",
        tot.containers,
        if tot.containers == 1 { "" } else { "s" },
        match flagged {
            0 => "none has a risk flag".to_string(),
            1 => "1 has a risk flag (see the risk column)".to_string(),
            n => format!("{n} have risk flags (see the risk column)"),
        }
    ))]);
    if tot.sized < tot.containers {
        items.push(vec![t(format!(
            "{} container{} could not be sized (too little history or excluded): their settings stay as they are.",
            tot.containers - tot.sized,
            if tot.containers - tot.sized == 1 { "" } else { "s" }
        ))]);
    }
    items.push(vec![
        t("To apply: "),
        code("podsizer recommend --input SAMPLES --kustomize OVERLAY"),
        t(" writes these numbers as kustomize patches for review (this report writes none)."),
    ]);
    out.push(Block::List(items));
    let row = |label: &str, v: &NowProposed, fmt: &dyn Fn(f64) -> String| -> Vec<Line> {
        let change = match (v.current, v.proposed) {
            (Some(a), Some(p)) => {
                let pc = percent_change(a, p);
                let d = p - a;
                format!(
                    "{}{}{}",
                    if d < 0.0 { "-" } else { "+" },
                    fmt(d.abs()),
                    if pc.is_empty() { String::new() } else { format!(" ({pc})") }
                )
            }
            _ => "-".into(),
        };
        vec![
            vec![t(label)],
            vec![t(v.current.map_or("?".into(), fmt))],
            vec![b(v.proposed.map_or("-".into(), fmt))],
            vec![t(change)],
        ]
    };
    let cost = NowProposed { current: tot.monthly_cost.current, proposed: tot.monthly_cost.proposed };
    out.push(Block::Table {
        head: vec!["Totals (requests × average pods)".into(), "now".into(), "proposed".into(), "change".into()],
        right: vec![false, true, true, true],
        rows: vec![
            row("CPU requested (cores)", &tot.cpu_request_cores, &|v| format!("{v:.2}")),
            row("memory requested (GiB)", &tot.memory_request_gib, &|v| format!("{v:.2}")),
            row("cost per month", &cost, &money),
        ],
    });
    if tot.compared < tot.containers {
        out.push(Block::Para(vec![t(format!(
            "Totals cover the {} container{} whose current requests are known.",
            tot.compared,
            if tot.compared == 1 { "" } else { "s" }
        ))]));
    }
}

fn changes_table(doc: &ReportDoc, out: &mut Vec<Block>) {
    out.push(heading(2, "What to change", "changes"));
    out.push(Block::Para(vec![t(
        "Per container (per pod): now → proposed, with the change. Confidence grows to 100% with a week of history. Cost is per month for all its pods.",
    )]));
    // One table per cluster, under its name, when the samples named clusters.
    let mut groups: Vec<(&str, Vec<Vec<Line>>)> = Vec::new();
    for (r, c) in doc.recommendations.iter().zip(&doc.containers) {
        if groups.last().is_none_or(|(cluster, _)| *cluster != c.cluster) {
            groups.push((&c.cluster, Vec::new()));
        }
        let rows = &mut groups.last_mut().expect("pushed above").1;
        let s = settings(r);
        let mut row: Vec<Line> = vec![
            vec![t(workload_title(&r.namespace, &r.workload.kind, &r.workload.name))],
            vec![Inline::Link { text: r.container.clone(), href: format!("#{}", super::anchors::container(c)) }],
        ];
        for (i, (n, p, sized)) in s.iter().enumerate() {
            row.push(change_cell(i, *n, *p, *sized));
        }
        row.push(vec![t(format!("{:.0}%", r.confidence * 100.0))]);
        row.push(cost_cell(&c.monthly_cost));
        let flags: Vec<&str> = c.risk.flags.iter().map(|f| short_flag(f.code)).collect();
        row.push(if flags.is_empty() { vec![t("none")] } else { vec![Inline::Flag(flags.join(", "))] });
        rows.push(row);
    }
    for (cluster, rows) in groups {
        if !cluster.is_empty() {
            out.push(heading(3, format!("Cluster {cluster}"), super::anchors::cluster(cluster)));
        }
        changes_rows(rows, out);
    }
}

fn changes_rows(rows: Vec<Vec<Line>>, out: &mut Vec<Block>) {
    out.push(Block::Table {
        head: [
            "workload",
            "container",
            "CPU request",
            "CPU limit",
            "memory request",
            "memory limit",
            "confidence",
            "cost / month",
            "risk",
        ]
        .map(String::from)
        .to_vec(),
        right: vec![false, false, true, true, true, true, true, true, false],
        rows,
    });
}

fn nodes(doc: &ReportDoc, out: &mut Vec<Block>) {
    if doc.nodes.is_empty() {
        return;
    }
    out.push(heading(2, "Nodes needed", "nodes"));
    out.push(Block::Para(vec![t(
        "The window's pods placed onto nodes of each shape (allocatable) by their requests, first-fit decreasing, again whenever pods start or stop; memory pressure and CPU contention are node-minutes with the pods' summed working set or CPU use above the node's allocatable.",
    )]));
    let row = |label: &str, shape: &str, f: Option<&super::NodeFiguresDoc>| match f {
        Some(f) => vec![
            vec![t(shape)],
            vec![t(label)],
            vec![t(f.peak_nodes.to_string())],
            vec![t(format!("{:.2}", f.mean_nodes))],
            vec![t(format!("{:.0}", f.memory_pressure_node_minutes))],
            vec![t(format!("{:.0}", f.cpu_contention_node_minutes))],
            vec![t(money(f.monthly_cost))],
        ],
        None => {
            vec![vec![t(shape)], vec![t(label)], vec![t("current requests unknown")], vec![], vec![], vec![], vec![]]
        }
    };
    let mut rows = Vec::new();
    for n in &doc.nodes {
        rows.push(row("now", &n.shape, n.current.as_ref()));
        rows.push(row("proposed", &n.shape, Some(&n.proposed)));
    }
    out.push(Block::Table {
        head: [
            "node shape",
            "requests",
            "nodes peak",
            "nodes mean",
            "memory pressure (node-min)",
            "CPU contention (node-min)",
            "nodes per month",
        ]
        .map(String::from)
        .to_vec(),
        right: vec![false, false, true, true, true, true, true],
        rows,
    });
}

fn week_over_week(doc: &ReportDoc, out: &mut Vec<Block>) {
    out.push(heading(2, "Week over week", "week-over-week"));
    let Some(w) = &doc.week_over_week else {
        out.push(Block::Para(vec![
            t("No previous report to compare with; pass "),
            code("--previous reports/<last week>/"),
            t(" to see what moved since."),
        ]));
        return;
    };
    out.push(Block::Para(vec![t(format!(
        "Compared with {} (window {} to {}): {} container{} moved, {} unchanged.",
        w.previous_week,
        w.previous_window.since.as_deref().unwrap_or("?"),
        w.previous_window.until.as_deref().unwrap_or("?"),
        w.changes.len(),
        if w.changes.len() == 1 { "" } else { "s" },
        w.unchanged
    ))]));
    let pair = |p: &super::WeekPair| match (p.previous, p.now) {
        (Some(a), Some(b)) => format!("{} → {}", money(a), money(b)),
        (None, Some(b)) => format!("? → {}", money(b)),
        (Some(a), None) => format!("{} → ?", money(a)),
        _ => "?".into(),
    };
    let mut items = vec![
        vec![t(format!("Cost per month of the current settings: {}", pair(&w.monthly_cost)))],
        vec![t(format!("Cost per month of the proposal: {}", pair(&w.monthly_cost_proposed)))],
    ];
    if !w.new.is_empty() {
        items.push(vec![t("New this week: "), code(w.new.join(", "))]);
    }
    if !w.gone.is_empty() {
        items.push(vec![t("Gone since last week: "), code(w.gone.join(", "))]);
    }
    out.push(Block::List(items));
    if w.changes.is_empty() {
        return;
    }
    let mut rows = Vec::new();
    for c in &w.changes {
        for m in &c.moves {
            rows.push(vec![
                vec![code(c.container.clone())],
                vec![t(format!("{} {}", m.what, m.setting))],
                vec![t(m.previous.clone())],
                vec![b(m.now.clone())],
                vec![t(m.change.map_or(String::new(), |c| {
                    format!("{}{:.0}%", if c > 0.0 { "+" } else { "-" }, (c * 100.0).abs())
                }))],
                vec![t(m.why.clone())],
            ]);
        }
    }
    out.push(Block::Table {
        head: ["container", "what moved", "last week", "this week", "change", "why"].map(String::from).to_vec(),
        right: vec![false, false, true, true, true, false],
        rows,
    });
}

/// php-fpm, envoy and nginx settings the proposal changes with the resources (only with an
/// overlay); `recommend --kustomize` and `pr` write them as patches of their own.
fn runtime_changes(doc: &ReportDoc, out: &mut Vec<Block>) {
    let mut items = Vec::new();
    for (r, c) in doc.recommendations.iter().zip(&doc.containers) {
        if let Some(a) = &r.runtime {
            for ch in &a.changes {
                items.push(vec![
                    Inline::Link { text: r.container.clone(), href: format!("#{}", super::anchors::container(c)) },
                    t(format!(": {} {} {} → ", a.runtime, ch.setting, ch.current.as_deref().unwrap_or("unset"))),
                    b(ch.proposed.clone()),
                    t(" (in "),
                    code(ch.origin.to_string()),
                    t(")"),
                ]);
            }
        }
    }
    if items.is_empty() {
        return;
    }
    out.push(Block::Para(vec![b("Runtime settings to change with the resources:")]));
    out.push(Block::List(items));
}

fn how_to_read(report: &Report, out: &mut Vec<Block>) {
    let doc = &report.doc;
    out.push(heading(2, "How to read this report", "how-to-read"));
    out.push(Block::List(vec![
        vec![b("Request"), t(": what the scheduler reserves for the container; the cluster is paid for by requests. "), b("Limit"), t(": the cap; CPU above it is throttled (slowed down), memory above it gets the container OOM-killed.")],
        vec![b("p50 / p95 / p99.9"), t(": the use that 50% / 95% / 99.9% of samples stay at or below (p50 = median, typical load). Recent days weigh more for requests (half-life 7 days).")],
        vec![b("Cost"), t(format!(": request × average number of pods × price × {} hours a month, at {} per core-hour and {} per GiB-hour (", doc.prices.hours_per_month, money_precise(doc.prices.core_hour), money_precise(doc.prices.gib_hour))), code("--core-hour-price"), t(", "), code("--gib-hour-price"), t(").")],
        vec![b("Risk flags"), t(": samples above the current or proposed limits, memory peaks near the current limit, short history, and eviction exposure above 5% (working set above the memory request: under node memory pressure the kubelet evicts such pods first). OOM kills are not in usage samples, so they are reported as unknown rather than zero.")],
        vec![b("Confidence"), t(": history covered, growing to 100% at 7 days (a week shows the weekly cycle).")],
        vec![t("Files: "), code("report.json"), t(" holds every number (next week's report compares against it with "), code("--previous"), t("); "), code("index.md"), t(" is this page as Markdown.")],
    ]));
}

fn money_precise(v: f64) -> String {
    let s = format!("${v:.4}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}00")
    } else if s.split('.').nth(1).is_some_and(|d| d.len() < 2) {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_and_rounds() {
        assert_eq!(money(1234567.891), "$1,234,567.89");
        assert_eq!(money(0.999), "$1.00");
        assert_eq!(money(-12.5), "-$12.50");
        assert_eq!(money_precise(0.04), "$0.04");
        assert_eq!(money_precise(0.005), "$0.005");
        assert_eq!(money_precise(1.0), "$1.00");
    }

    #[test]
    fn backticks_become_code() {
        assert_eq!(with_code("HPA `api` allows"), vec![t("HPA "), code("api"), t(" allows")]);
        assert_eq!(with_code("odd ` tick"), vec![t("odd ` tick")]);
    }

    #[test]
    fn change_cells() {
        let text = |l: Line| {
            l.iter()
                .map(|i| match i {
                    Inline::Text(s) | Inline::Strong(s) => s.clone(),
                    _ => String::new(),
                })
                .collect::<String>()
        };
        assert_eq!(text(change_cell(0, Some(1.0), Some(0.24), true)), "1 → 240m (-76%)");
        assert_eq!(text(change_cell(1, None, None, true)), "not set → no limit");
        assert_eq!(text(change_cell(2, Some(1048576.0), Some(1048576.0), true)), "1Mi (same)");
        assert_eq!(text(change_cell(0, Some(1.0), None, false)), "1 (kept)");
    }
}

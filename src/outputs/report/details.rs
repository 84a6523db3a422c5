//! The report's detail sections: one per container (chart, numbers, reasons, risks) and one
//! per workload (its daily cycle).

use super::blocks::{
    b, cluster_title, cost_cell, count, heading, percent_change, settings, show, t, with_code, workload_title, Block,
    Inline,
};
use super::{charts, exposure_share, Report, SETTINGS};
use crate::domain::{human_bytes, Cpu};

pub(super) fn containers(report: &Report, out: &mut Vec<Block>) {
    let doc = &report.doc;
    out.push(heading(2, "Containers", "containers"));
    out.push(Block::Para(vec![
        t("Each chart shows the container's use over the window in 10-minute steps, all pods pooled: "),
        b("blue line"),
        t(" the median, "),
        b("blue band"),
        t(" median to p95, "),
        b("thin line"),
        t(" the peak. Horizontal lines: "),
        b("orange = now"),
        t(", "),
        b("green = proposed"),
        t("; dashed = request, solid = limit."),
    ]));
    for (r, c) in doc.recommendations.iter().zip(&doc.containers) {
        out.push(heading(
            3,
            format!(
                "{}{} / {}",
                cluster_title(&c.cluster),
                workload_title(&r.namespace, &r.workload.kind, &r.workload.name),
                r.container
            ),
            super::anchors::container(c),
        ));
        out.push(Block::Image {
            src: c.chart.clone(),
            alt: format!(
                "CPU and memory use of {} over the window, with current and proposed requests and limits",
                r.container
            ),
            width: charts::USAGE_SIZE.0,
            height: charts::USAGE_SIZE.1,
        });
        let s = settings(r);
        let mut now_row = vec![vec![t("now")]];
        let mut new_row = vec![vec![t("proposed")]];
        let mut change_row = vec![vec![t("change")]];
        for (i, (n, p, sized)) in s.iter().enumerate() {
            now_row.push(vec![t(match (r.current.is_some(), n) {
                (false, _) => "?".to_string(),
                (true, None) => "not set".to_string(),
                (true, v) => show(i, *v),
            })]);
            new_row.push(vec![b(if !sized {
                "no proposal".into()
            } else if i == 1 && p.is_none() {
                "no limit".into()
            } else {
                show(i, *p)
            })]);
            change_row.push(vec![t(match (n, p) {
                (Some(n), Some(p)) if *sized => percent_change(*n, *p),
                _ => String::new(),
            })]);
        }
        out.push(Block::Table {
            head: std::iter::once(String::new()).chain(SETTINGS.iter().map(std::string::ToString::to_string)).collect(),
            right: vec![false, true, true, true, true],
            rows: vec![now_row, new_row, change_row],
        });
        out.push(Block::Para(vec![b("Why these numbers:")]));
        out.push(Block::List(r.rationale.iter().map(|l| with_code(l)).collect()));
        let u = &c.usage;
        out.push(Block::Para(vec![
            b("Use over the window:"),
            t(" "),
            t(format!(
                "CPU median {}, p95 {}, peak {}; memory median {}, p95 {}, peak {}; {:.1} pods on average, {} samples.",
                Cpu(u.cpu_cores.p50).millicores_text(),
                Cpu(u.cpu_cores.p95).millicores_text(),
                Cpu(u.cpu_cores.max).millicores_text(),
                human_bytes(u.memory_bytes.p50),
                human_bytes(u.memory_bytes.p95),
                human_bytes(u.memory_bytes.max),
                c.replicas,
                count(c.risk.samples)
            )),
        ]));
        let share = |above: Option<u64>| {
            above.map_or("unknown".to_string(), |a| format!("{:.1}%", exposure_share(a, c.risk.samples) * 100.0))
        };
        out.push(Block::Para(vec![
            b("Eviction exposure:"),
            t(format!(
                " working set above the memory request in {} of samples now, {} with the proposal.",
                share(c.risk.memory_above_current_request),
                share(c.risk.memory_above_proposed_request)
            )),
        ]));
        let mut cost = vec![b("Cost per month:"), t(" ")];
        cost.extend(cost_cell(&c.monthly_cost));
        cost.push(t(format!(" ({:.1} pods × requests × prices × 730 h).", c.replicas)));
        out.push(Block::Para(cost));
        if c.risk.flags.is_empty() {
            out.push(Block::Para(vec![
                b("Risk:"),
                t(" none found (no samples above the current or proposed limits)."),
            ]));
        } else {
            out.push(Block::Para(vec![b("Risk:")]));
            out.push(Block::List(c.risk.flags.iter().map(|f| vec![Inline::Flag(f.text.clone())]).collect()));
        }
    }
}

pub(super) fn workloads(report: &Report, out: &mut Vec<Block>) {
    let doc = &report.doc;
    out.push(heading(2, "Daily cycle per workload", "daily-cycle"));
    out.push(Block::Para(vec![t(format!(
        "Mean CPU use of one pod (all its containers) by hour of day and weekday, in {}: the cycle the request has to live with. Darker is busier; the numbers are millicores.",
        doc.time_zone
    ))]));
    for (w, data) in doc.workloads.iter().zip(&report.workloads) {
        out.push(heading(
            3,
            format!("{}{}", cluster_title(&w.cluster), workload_title(&w.namespace, &w.kind, &w.name)),
            super::anchors::workload(w),
        ));
        out.push(Block::Image {
            src: w.heatmap.clone(),
            alt: format!("Mean CPU per pod of {} by hour and weekday", w.name),
            width: charts::HEATMAP_SIZE.0,
            height: charts::HEATMAP_SIZE.1,
        });
        let mut line = Vec::new();
        if let (Some(hi), Some(lo)) = (&w.busiest, &w.quietest) {
            line.push(t(format!(
                "Busiest: {} {:02}:00 at {} per pod; quietest: {} {:02}:00 at {}.",
                hi.weekday,
                hi.hour,
                Cpu(hi.cpu_cores).millicores_text(),
                lo.weekday,
                lo.hour,
                Cpu(lo.cpu_cores).millicores_text()
            )));
            if let Some(req) = data.proposed_pod_request {
                let above = data.grid.iter().flatten().flatten().filter(|v| **v > req).count();
                let cells = data.grid.iter().flatten().flatten().count();
                line.push(t(format!(
                    " The proposed requests add up to {} per pod; {} of the {} hour-slots average above that (pods then borrow CPU up to their limits).",
                    Cpu(req),
                    above,
                    cells
                )));
            }
        }
        if !line.is_empty() {
            out.push(Block::Para(line));
        }
    }
}

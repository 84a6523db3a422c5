//! The report's CPU contention paragraph: with `--node`, the share of node-steps on which the
//! pods packed by their requests together used more CPU than the node has, now and with the
//! proposal. CPU requests at typical load pack nodes tighter than VPA's; this figure says what
//! that costs in slowed CPU, and `cpu.node_contention_budget` in the policy bounds it.

use super::blocks::*;
use super::ReportDoc;

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// One paragraph per node shape, after the nodes table; nothing without `--node`.
pub(super) fn section(doc: &ReportDoc, out: &mut Vec<Block>) {
    for n in &doc.nodes {
        let now = n
            .current
            .as_ref()
            .map_or("unknown (current requests unknown)".to_string(), |c| percent(c.cpu_contention_share));
        let line = format!(
            "CPU contention on {}: the pods' summed CPU use above the node's allocatable in {} of node-steps with the \
             proposed requests, {now} now. Contended CPU is shared by weight and slowed, not killed; ",
            n.shape,
            percent(n.proposed.cpu_contention_share),
        );
        out.push(Block::Para(vec![
            t(line),
            code("cpu.node_contention_budget"),
            t(" in the policy raises the CPU requests that cause it until the share is within the budget."),
        ]));
    }
}

//! The report's two sections on the loop around the merge: the verdicts on the changes rolled
//! out (`podsizer verify`) and the evidence of each proposed change (its replay over the window
//! it was sized from, `analysis::evidence`). Each is left out when it has no row.

use super::blocks::*;
use super::Report;
use crate::analysis::evidence::Evidence;
use crate::analysis::verdict::{Assessment, Observed, Verdict};
use crate::domain::{format_timestamp, ContainerKey, Resources};

/// One container's verdict after its change rolled out, as `podsizer verify` judged it.
#[derive(Debug, Clone)]
pub(crate) struct VerdictRow {
    pub key: ContainerKey,
    /// The settings before and after the change.
    pub before: Resources,
    pub after: Resources,
    /// When the change took effect (epoch ms).
    pub effective_ms: i64,
    pub observed: Observed,
    pub assessment: Assessment,
}

fn share(v: Option<f64>) -> String {
    v.map_or("unknown".into(), |s| format!("{:.1}%", s * 100.0))
}

fn number(v: Option<f64>) -> String {
    v.map_or("unknown".into(), |n| format!("{n}"))
}

/// `memory request 512Mi → 128Mi, …`: each setting the change moved.
fn change(before: &Resources, after: &Resources) -> String {
    let pairs = [
        ("CPU request", 0, before.cpu_request_cores, after.cpu_request_cores),
        ("CPU limit", 1, before.cpu_limit_cores, after.cpu_limit_cores),
        ("memory request", 2, before.memory_request_bytes, after.memory_request_bytes),
        ("memory limit", 3, before.memory_limit_bytes, after.memory_limit_bytes),
    ];
    let moved: Vec<String> = pairs
        .iter()
        .filter(|p| p.2 != p.3)
        .map(|(n, i, b, a)| format!("{n} {} → {}", show(*i, *b), show(*i, *a)))
        .collect();
    moved.join(", ")
}

/// "After the last rollout": a row per changed container, harm first.
pub(super) fn verdicts(report: &Report, out: &mut Vec<Block>) {
    if report.verdicts.is_empty() {
        return;
    }
    out.push(heading(2, "After the last rollout", "verdicts"));
    out.push(Block::Para(vec![
        t("Each change of requests and limits the pods rolled out, judged on what they went through since: "),
        b("holds"),
        t(", or needs a "),
        b("raise"),
        t(" (harm on a setting the change did not lower) or a "),
        b("revert"),
        t(" (harm on a resource it cut). The same verdicts as "),
        code("podsizer verify"),
        t("; on harm, "),
        code("podsizer pr"),
        t(" opens a follow-up pull request."),
    ]));
    let rows = report
        .verdicts
        .iter()
        .map(|v| {
            let w = &v.key.workload;
            let o = &v.observed;
            let verdict = match v.assessment.verdict {
                Verdict::Holds => vec![t("holds")],
                other => vec![Inline::Flag(other.as_str().into())],
            };
            let mut why: Vec<String> = v.assessment.harms.iter().map(|h| h.reason.clone()).collect();
            if why.is_empty() {
                why.push(format!("no harm in {:.0} h", o.hours));
            }
            if !v.assessment.unknown.is_empty() {
                why.push(format!("unknown: {}", v.assessment.unknown.join(", ")));
            }
            vec![
                vec![t(format!("{}{}", cluster_title(&w.cluster), workload_title(&w.namespace, &w.kind, &w.name)))],
                vec![t(v.key.container.clone())],
                verdict,
                vec![t(format_timestamp(v.effective_ms))],
                vec![t(change(&v.before, &v.after))],
                vec![t(number(o.oom_kills))],
                vec![t(number(o.other_restarts))],
                vec![t(number(o.evictions))],
                vec![t(share(o.throttled_share))],
                vec![t(why.join("; "))],
            ]
        })
        .collect();
    out.push(Block::Table {
        head: [
            "workload",
            "container",
            "verdict",
            "since",
            "change",
            "OOM kills",
            "restarts",
            "evictions",
            "throttled",
            "why",
        ]
        .map(String::from)
        .to_vec(),
        right: vec![false, false, false, false, false, true, true, true, true, false],
        rows,
    });
}

/// "Evidence": a row per changed container, current → proposed replayed over the window.
pub(super) fn evidence(report: &Report, out: &mut Vec<Block>) {
    if report.evidence.is_empty() {
        return;
    }
    out.push(heading(2, "Evidence", "evidence"));
    out.push(Block::Para(vec![t(
        "Each proposed change replayed over the samples it was sized from, current → proposed: OOM kills (each time \
         a pod's working set rises above the memory limit), eviction exposure (samples above the memory request), \
         core-seconds of CPU above the limit, the throttling measured under the current settings where recorded, \
         and the change of the requests' monthly cost.",
    )]));
    let pct = |s: f64| format!("{:.1}%", s * 100.0);
    let rows = report
        .evidence
        .iter()
        .map(|(key, e): &(ContainerKey, Evidence)| {
            let w = &key.workload;
            let (c, p) = (&e.current, &e.proposed);
            let delta = e.monthly_cost_delta();
            vec![
                vec![t(format!("{}{}", cluster_title(&w.cluster), workload_title(&w.namespace, &w.kind, &w.name)))],
                vec![t(key.container.clone())],
                vec![t(format!("{} → {}", c.oom_kills, p.oom_kills))],
                vec![t(format!("{} → {}", pct(c.eviction_exposure), pct(p.eviction_exposure)))],
                vec![t(format!("{:.0} → {:.0}", c.cpu_seconds_above_limit, p.cpu_seconds_above_limit))],
                vec![t(e.measured_throttling.map_or("unknown".into(), pct))],
                vec![t(if delta < 0.0 { money(delta) } else { format!("+{}", money(delta)) })],
            ]
        })
        .collect();
    out.push(Block::Table {
        head: [
            "workload",
            "container",
            "OOM kills",
            "eviction exposure",
            "CPU above limit (core-s)",
            "throttling now",
            "cost / month",
        ]
        .map(String::from)
        .to_vec(),
        right: vec![false, false, true, true, true, true, true],
        rows,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::evidence::Replayed;
    use crate::analysis::verdict::{assess, Thresholds};
    use crate::domain::Workload;

    const MI: f64 = 1024.0 * 1024.0;

    fn key(name: &str) -> ContainerKey {
        let workload =
            Workload { cluster: String::new(), namespace: "shop".into(), kind: "Deployment".into(), name: name.into() };
        ContainerKey { workload, container: "app".into() }
    }

    fn render(verdicts: &[VerdictRow], evidence: &[(ContainerKey, Evidence)]) -> String {
        let input = super::super::ReportInput {
            strategy: "podsizer",
            since: Some(0),
            until: Some(crate::domain::DAY_MS),
            recommendations: &[],
            series: &[],
            prices: crate::analysis::series::Prices::default(),
            tz: chrono_tz::UTC,
            current_source: None,
            previous: None,
            nodes: &[],
            evidence,
            verdicts,
        };
        super::super::markdown_without_charts(&super::super::build(&input))
    }

    #[test]
    fn the_verdicts_and_the_evidence_are_one_row_per_container_and_absent_without_rows() {
        let mem = |request: f64, limit: f64| Resources {
            cpu_request_cores: Some(0.5),
            cpu_limit_cores: Some(1.0),
            memory_request_bytes: Some(request * MI),
            memory_limit_bytes: Some(limit * MI),
        };
        let (before, after) = (mem(512.0, 1024.0), mem(128.0, 256.0));
        let observed = Observed {
            hours: 24.0,
            pods: 2,
            samples: 2878,
            oom_kills: Some(3.0),
            other_restarts: Some(0.0),
            evictions: Some(0.0),
            throttled_share: None,
            memory_above_request_share: Some(1.0),
            ..Observed::default()
        };
        let assessment = assess(&before, &after, &observed, &Thresholds::default());
        let row = VerdictRow { key: key("cart"), before, after, effective_ms: 86_400_000, observed, assessment };
        let evidence = Evidence {
            hours: 48.0,
            samples: 5760,
            current: Replayed { eviction_exposure: 1.0, monthly_cost: 10.0, ..Default::default() },
            proposed: Replayed {
                oom_kills: 1,
                cpu_seconds_above_limit: 12.4,
                monthly_cost: 12.5,
                ..Default::default()
            },
            measured_throttling: Some(0.004),
        };
        let md = render(&[row], &[(key("cart"), evidence)]);
        assert!(md.contains("## After the last rollout"), "{md}");
        let verdict = md.lines().find(|l| l.starts_with("| shop / deployment/cart | app | **revert**")).expect(&md);
        assert!(
            verdict.contains(
                "| 1970-01-02T00:00:00Z | memory request 512Mi → 128Mi, memory limit 1Gi → 256Mi | 3 | 0 | 0 | unknown | \
                 3 OOM kill(s) in 24 h; working set above the 128Mi request in 100.0% of samples; unknown: throttling |"
            ),
            "{verdict}"
        );
        // 10.00 -> 12.50 a month: +$2.50; 0.4% of CFS periods throttled now.
        let evidence = md.lines().find(|l| l.starts_with("| shop / deployment/cart | app | 0 → 1")).expect(&md);
        assert_eq!(evidence, "| shop / deployment/cart | app | 0 → 1 | 100.0% → 0.0% | 0 → 12 | 0.4% | +$2.50 |");
        let none = render(&[], &[]);
        assert!(!none.contains("After the last rollout") && !none.contains("## Evidence"), "{none}");
    }
}

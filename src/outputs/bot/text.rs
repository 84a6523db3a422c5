//! What the bot says: which changes are worth a review, the PR title and a summary body.

use crate::analysis::series::Prices;
use crate::analysis::Recommendation;
use crate::outputs::format::printable;
use crate::outputs::report::markdown;

pub(crate) use crate::analysis::changes::Thresholds;

/// One line per container whose proposal moves a setting beyond the thresholds, runtime
/// settings included (`analysis::changes`). Names are shown with control characters escaped:
/// these lines reach commit messages, pull-request bodies and chat messages.
pub(crate) fn significant_changes(recs: &[Recommendation], t: &Thresholds) -> Vec<String> {
    recs.iter()
        .filter_map(|r| {
            let moved = crate::analysis::changes::moves(r, t);
            (!moved.is_empty()).then(|| printable(&format!("{}: {}", r.key, moved.join(", "))))
        })
        .collect()
}

const HOURS_PER_MONTH: f64 = 730.0;

/// Monthly cost of requests (current, proposed) over containers that have both, counting
/// each container's median replica count.
pub(crate) fn monthly_cost(recs: &[Recommendation], prices: &Prices) -> (f64, f64) {
    let gib = 1024f64.powi(3);
    let mut now = 0.0;
    let mut proposed = 0.0;
    for r in recs {
        let (Some(s), Some(c)) = (r.sizing(), r.current) else { continue };
        let (Some(cpu), Some(mem)) = (c.cpu_request_cores, c.memory_request_bytes) else { continue };
        let pods = r.replicas.map_or(1.0, |x| f64::from(x.median.max(1)));
        now += pods * HOURS_PER_MONTH * (cpu * prices.core_hour + mem / gib * prices.gib_hour);
        proposed += pods
            * HOURS_PER_MONTH
            * (s.cpu_request_cores * prices.core_hour + s.memory_request_bytes / gib * prices.gib_hour);
    }
    (now, proposed)
}

pub(crate) fn title(overlay: &str, changes: usize, cost: (f64, f64)) -> String {
    let delta = cost.1 - cost.0;
    let money = if delta <= 0.0 { format!("saves ${:.0}/month", -delta) } else { format!("adds ${delta:.0}/month") };
    printable(&format!("podsizer: resize {changes} container(s) in {overlay} ({money} in requests)"))
}

/// The first line of every body: what is proposed where, and the money.
pub(crate) fn intro(overlay: &str, cost: (f64, f64)) -> String {
    format!(
        "**podsizer** proposes new requests and limits for {}: requests cost ${:.0}/month now, ${:.0}/month proposed.\n",
        markdown::code_span(overlay),
        cost.0,
        cost.1
    )
}

/// The changes as a Markdown list, every line escaped (names are data: a newline in one
/// must not start a heading of its own).
pub(crate) fn change_list(changes: &[String]) -> String {
    changes.iter().map(|c| format!("- {}\n", markdown::escape(c))).collect()
}

pub(crate) const FOOTER: &str = "<sub>Opened by `podsizer pr`; it updates this pull request on its next run and never overwrites commits that are not its own.</sub>\n";

/// A self-contained body: summary line, the changes, and each number's reasons.
pub(crate) fn summary_body(overlay: &str, recs: &[Recommendation], changes: &[String], cost: (f64, f64)) -> String {
    let mut md = format!("{}\n## Changes\n\n{}", intro(overlay, cost), change_list(changes));
    md.push_str("\n## Why\n");
    for r in recs.iter().filter(|r| r.sizing().is_some()) {
        let key = markdown::escape(&r.key.to_string());
        md.push_str(&format!("\n**{key}** ({} samples, confidence {:.0}%)\n", r.samples, r.confidence * 100.0));
        md.push_str(&change_list(&r.rationale));
    }
    md.push('\n');
    md.push_str(FOOTER);
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_carries_the_money() {
        assert_eq!(
            title("overlays/production", 3, (100.0, 40.0)),
            "podsizer: resize 3 container(s) in overlays/production (saves $60/month in requests)"
        );
        assert!(title("o", 1, (10.0, 12.0)).contains("adds $2/month"));
    }

    /// A recommendation whose names carry `hostile` in every part.
    fn rec(hostile: &str) -> Recommendation {
        use crate::analysis::{Proposal, Sizing};
        use crate::domain::{ContainerKey, Resources, Workload};
        Recommendation {
            key: ContainerKey {
                workload: Workload {
                    cluster: format!("prod{hostile}"),
                    namespace: format!("shop{hostile}"),
                    kind: "Deployment".into(),
                    name: format!("api{hostile}"),
                },
                container: format!("php{hostile}"),
            },
            strategy: "podsizer".into(),
            proposal: Proposal::Sized(Sizing {
                cpu_request_cores: 0.25,
                cpu_limit_cores: None,
                memory_request_bytes: 1e8,
                memory_limit_bytes: 2e8,
            }),
            current: Some(Resources { cpu_request_cores: Some(1.0), ..Default::default() }),
            samples: 10,
            pods: 1,
            first_ms: None,
            last_ms: None,
            confidence: 1.0,
            rationale: vec![format!("policy override `x{hostile}` applies")],
            replicas: None,
            runtime: None,
        }
    }

    #[test]
    fn control_characters_in_names_reach_no_body_commit_or_chat_message() {
        use crate::outputs::notify::{payload, Flavor, Notice};
        for hostile in ["\n## Approved", "\r\n## Approved\r\n", "\u{1b}[2J", "\u{85}## Approved", "\u{0}x\u{7f}"] {
            let recs = [rec(hostile)];
            let changes = significant_changes(&recs, &Thresholds::default());
            assert_eq!(changes.len(), 1);
            let overlay = format!("overlays/prod{hostile}");
            let body = summary_body(&overlay, &recs, &changes, (1.0, 0.5));
            let pr_parts =
                format!("{}{}{}", intro(&overlay, (1.0, 0.5)), change_list(&changes), title(&overlay, 1, (1.0, 0.5)));
            let notice = Notice {
                title: title(&overlay, 1, (1.0, 0.5)),
                monthly_cost: None,
                changes: changes.clone(),
                risks: vec![format!("x{hostile}: risk")],
                link: None,
            };
            let chat = [payload(Flavor::Slack, &notice).to_string(), payload(Flavor::Teams, &notice).to_string()];
            for text in [body.as_str(), pr_parts.as_str(), changes[0].as_str()] {
                for line in text.lines() {
                    assert!(!line.chars().any(char::is_control), "{hostile:?}: {line:?}");
                    assert!(!line.trim_start().starts_with("## Approved"), "{hostile:?} made a heading: {text}");
                }
            }
            for json in chat {
                let v: serde_json::Value = serde_json::from_str(&json).unwrap();
                let mut strings = Vec::new();
                collect(&v, &mut strings);
                for s in strings {
                    let shown = s.replace('\n', "");
                    assert!(!shown.chars().any(char::is_control), "{hostile:?}: {s:?}");
                    assert!(!s.contains("\n## Approved"), "{hostile:?}: {s:?}");
                }
            }
        }
    }

    fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
}

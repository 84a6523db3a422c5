//! What the bot says: which changes are worth a review, the PR title and a summary body.

use crate::analysis::series::Prices;
use crate::analysis::Recommendation;
use crate::domain::{human_bytes, Cpu};

/// A change is worth a review when it is at least `relative` of the old value *and* at
/// least the absolute step (so 10m -> 11m is not).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub relative: f64,
    pub cpu_cores: f64,
    pub memory_bytes: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { relative: 0.10, cpu_cores: 0.010, memory_bytes: 16.0 * 1024.0 * 1024.0 }
    }
}

fn worth(old: Option<f64>, new: Option<f64>, absolute: f64, t: &Thresholds) -> bool {
    match (old, new) {
        (None, None) => false,
        (Some(o), Some(n)) => (n - o).abs() >= absolute && (n - o).abs() >= t.relative * o.abs(),
        _ => true,
    }
}

/// One line per container whose proposal moves a setting beyond the thresholds.
pub fn significant_changes(recs: &[Recommendation], t: &Thresholds) -> Vec<String> {
    let mut lines = Vec::new();
    for r in recs {
        let Some(s) = r.sizing() else { continue };
        let c = r.current.unwrap_or_default();
        let cpu = |v: Option<f64>| v.map_or("none".into(), |x| Cpu(x).to_string());
        let mem = |v: Option<f64>| v.map_or("none".into(), human_bytes);
        let mut moved = Vec::new();
        if worth(c.cpu_request_cores, Some(s.cpu_request_cores), t.cpu_cores, t) {
            moved.push(format!("CPU request {} -> {}", cpu(c.cpu_request_cores), cpu(Some(s.cpu_request_cores))));
        }
        if worth(c.cpu_limit_cores, s.cpu_limit_cores, t.cpu_cores, t) {
            moved.push(format!("CPU limit {} -> {}", cpu(c.cpu_limit_cores), cpu(s.cpu_limit_cores)));
        }
        if worth(c.memory_request_bytes, Some(s.memory_request_bytes), t.memory_bytes, t) {
            moved.push(format!(
                "memory request {} -> {}",
                mem(c.memory_request_bytes),
                mem(Some(s.memory_request_bytes))
            ));
        }
        if worth(c.memory_limit_bytes, Some(s.memory_limit_bytes), t.memory_bytes, t) {
            moved.push(format!("memory limit {} -> {}", mem(c.memory_limit_bytes), mem(Some(s.memory_limit_bytes))));
        }
        if !moved.is_empty() {
            lines.push(format!("{}: {}", r.key, moved.join(", ")));
        }
    }
    lines
}

const HOURS_PER_MONTH: f64 = 730.0;

/// Monthly cost of requests (current, proposed) over containers that have both, counting
/// each container's median replica count.
pub fn monthly_cost(recs: &[Recommendation], prices: &Prices) -> (f64, f64) {
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

pub fn title(overlay: &str, changes: usize, cost: (f64, f64)) -> String {
    let delta = cost.1 - cost.0;
    let money = if delta <= 0.0 { format!("saves ${:.0}/month", -delta) } else { format!("adds ${delta:.0}/month") };
    format!("podsizer: resize {changes} container(s) in {overlay} ({money} in requests)")
}

/// A self-contained body: summary line, the changes, and each number's reasons.
pub fn summary_body(overlay: &str, recs: &[Recommendation], changes: &[String], cost: (f64, f64)) -> String {
    let mut md = format!(
        "**podsizer** proposes new requests and limits for `{overlay}`: requests cost ${:.0}/month now, ${:.0}/month proposed.\n\n## Changes\n\n",
        cost.0, cost.1
    );
    for line in changes {
        md.push_str(&format!("- {line}\n"));
    }
    md.push_str("\n## Why\n");
    for r in recs.iter().filter(|r| r.sizing().is_some()) {
        md.push_str(&format!("\n**{}** ({} samples, confidence {:.0}%)\n", r.key, r.samples, r.confidence * 100.0));
        for line in &r.rationale {
            md.push_str(&format!("- {line}\n"));
        }
    }
    md.push_str("\n<sub>Opened by `podsizer pr`; it updates this pull request on its next run and never overwrites commits that are not its own.</sub>\n");
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_need_both_relative_and_absolute_moves() {
        let t = Thresholds::default();
        assert!(!worth(Some(0.010), Some(0.011), t.cpu_cores, &t), "10m -> 11m is noise");
        assert!(!worth(Some(2.0), Some(2.15), t.cpu_cores, &t), "7.5% of 2 cores is below 10%");
        assert!(worth(Some(1.0), Some(0.24), t.cpu_cores, &t));
        assert!(worth(None, Some(0.1), t.cpu_cores, &t), "setting a value that was unset");
        assert!(worth(Some(1.0), None, t.cpu_cores, &t), "removing a limit");
        assert!(!worth(None, None, t.cpu_cores, &t));
    }

    #[test]
    fn title_carries_the_money() {
        assert_eq!(
            title("overlays/production", 3, (100.0, 40.0)),
            "podsizer: resize 3 container(s) in overlays/production (saves $60/month in requests)"
        );
        assert!(title("o", 1, (10.0, 12.0)).contains("adds $2/month"));
    }
}

//! What counts as "a change": the one notion `recommend --fail-on-change`, `pr`, the report's
//! counts and the notifications share. A proposal changes a container when it moves one of
//! its four resource settings or a runtime setting (php-fpm `pm.max_children`, envoy
//! `--concurrency`, nginx `worker_processes`): a runtime fix behind an unchanged limit is a
//! change like any other, or it would never be delivered.

use super::recommend::Recommendation;
use crate::domain::{human_bytes, Cpu};

/// A resource move is worth a review when it is at least `relative` of the old value *and*
/// at least the absolute step (so 10m -> 11m is not). Runtime settings have no threshold:
/// each of their changes is a fix or a guard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Smallest move as a share of the old value (0.10 = 10%).
    pub relative: f64,
    /// Smallest CPU move, in cores.
    pub cpu_cores: f64,
    /// Smallest memory move, in bytes.
    pub memory_bytes: f64,
}

impl Thresholds {
    /// Every move counts (float noise aside): `--fail-on-change` and the report's counts.
    pub const ANY: Thresholds = Thresholds { relative: 0.0, cpu_cores: 0.0, memory_bytes: 0.0 };
}

impl Default for Thresholds {
    /// The pull-request bot's defaults.
    fn default() -> Self {
        Self { relative: 0.10, cpu_cores: 0.010, memory_bytes: 16.0 * 1024.0 * 1024.0 }
    }
}

/// True when a setting differs (a value and no value differ; tiny float noise does not).
pub fn differs(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() > 1e-9 * x.abs().max(1.0),
        (None, None) => false,
        _ => true,
    }
}

/// Whether `old -> new` moves beyond the thresholds (`absolute` in the setting's unit).
pub fn worth(old: Option<f64>, new: Option<f64>, absolute: f64, t: &Thresholds) -> bool {
    differs(old, new)
        && match (old, new) {
            (Some(o), Some(n)) => (n - o).abs() >= absolute && (n - o).abs() >= t.relative * o.abs(),
            _ => true,
        }
}

/// Each setting the proposal moves, as `what old -> new`: the resources beyond the
/// thresholds, then every runtime setting it changes. Empty without a proposal.
pub fn moves(r: &Recommendation, t: &Thresholds) -> Vec<String> {
    let Some(s) = r.sizing() else { return Vec::new() };
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
        moved.push(format!("memory request {} -> {}", mem(c.memory_request_bytes), mem(Some(s.memory_request_bytes))));
    }
    if worth(c.memory_limit_bytes, Some(s.memory_limit_bytes), t.memory_bytes, t) {
        moved.push(format!("memory limit {} -> {}", mem(c.memory_limit_bytes), mem(Some(s.memory_limit_bytes))));
    }
    if let Some(a) = &r.runtime {
        for change in &a.changes {
            let now = change.current.as_deref().unwrap_or("unset");
            moved.push(format!("{} {} {now} -> {}", a.runtime, change.setting, change.proposed));
        }
    }
    moved
}

/// True when the proposal differs from what is set now in any setting, runtime ones included.
pub fn changes_anything(r: &Recommendation) -> bool {
    !moves(r, &Thresholds::ANY).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::runtimes::{Origin, RuntimeAdvice, SettingChange};
    use crate::analysis::sizing::{Proposal, Sizing};
    use crate::domain::{ContainerKey, Resources};

    const MI: f64 = 1024.0 * 1024.0;

    fn rec(current: Resources, runtime: Option<RuntimeAdvice>) -> Recommendation {
        Recommendation {
            key: ContainerKey { workload: Default::default(), container: "php-fpm".into() },
            strategy: "podsizer".into(),
            proposal: Proposal::Sized(Sizing {
                cpu_request_cores: 0.25,
                cpu_limit_cores: Some(0.5),
                memory_request_bytes: 512.0 * MI,
                memory_limit_bytes: 1024.0 * MI,
            }),
            current: Some(current),
            samples: 1000,
            pods: 1,
            first_ms: None,
            last_ms: None,
            confidence: 1.0,
            rationale: vec![],
            replicas: None,
            runtime,
        }
    }

    fn same() -> Resources {
        Resources {
            cpu_request_cores: Some(0.25),
            cpu_limit_cores: Some(0.5),
            memory_request_bytes: Some(512.0 * MI),
            memory_limit_bytes: Some(1024.0 * MI),
        }
    }

    fn max_children(from: &str, to: &str) -> RuntimeAdvice {
        RuntimeAdvice {
            runtime: "php-fpm".into(),
            changes: vec![SettingChange {
                setting: "pm.max_children".into(),
                current: Some(from.into()),
                proposed: to.into(),
                origin: Origin::ConfigMap { name: "api-php-fpm".into(), key: "www.conf".into() },
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_runtime_change_is_a_change_at_every_threshold() {
        // (current resources, runtime advice, thresholds, expected moves)
        let small = Resources { cpu_request_cores: Some(0.26), ..same() };
        let cases: Vec<(Resources, Option<RuntimeAdvice>, Thresholds, Vec<&str>)> = vec![
            (same(), None, Thresholds::ANY, vec![]),
            (same(), None, Thresholds::default(), vec![]),
            (same(), Some(RuntimeAdvice::default()), Thresholds::ANY, vec![]),
            (same(), Some(max_children("200", "4")), Thresholds::ANY, vec!["php-fpm pm.max_children 200 -> 4"]),
            (same(), Some(max_children("200", "4")), Thresholds::default(), vec!["php-fpm pm.max_children 200 -> 4"]),
            (small, None, Thresholds::ANY, vec!["CPU request 260m -> 250m"]),
            (small, None, Thresholds::default(), vec![]),
            (small, Some(max_children("200", "4")), Thresholds::default(), vec!["php-fpm pm.max_children 200 -> 4"]),
        ];
        for (i, (current, runtime, t, want)) in cases.into_iter().enumerate() {
            let r = rec(current, runtime);
            assert_eq!(moves(&r, &t), want, "case {i}");
            assert_eq!(changes_anything(&r), !moves(&r, &Thresholds::ANY).is_empty(), "case {i}");
        }
    }

    #[test]
    fn thresholds_need_both_relative_and_absolute_moves() {
        let t = Thresholds::default();
        assert!(!worth(Some(0.010), Some(0.011), t.cpu_cores, &t), "10m -> 11m is noise");
        assert!(!worth(Some(2.0), Some(2.15), t.cpu_cores, &t), "7.5% of 2 cores is below 10%");
        assert!(worth(Some(1.0), Some(0.24), t.cpu_cores, &t));
        assert!(worth(None, Some(0.1), t.cpu_cores, &t), "setting a value that was unset");
        assert!(worth(Some(1.0), None, t.cpu_cores, &t), "removing a limit");
        assert!(!worth(None, None, t.cpu_cores, &t));
        assert!(!worth(Some(1.0), Some(1.0), 0.0, &Thresholds::ANY), "no move at zero thresholds");
    }
}

//! HorizontalPodAutoscaler awareness.
//!
//! An HPA scaling on `Utilization` compares the pods' average usage with a percentage of the
//! pod's *total* request (all containers). Lowering requests therefore lowers the absolute
//! point where it adds replicas: same load, more pods. To change sizes without changing the
//! scaling behaviour, the target utilization moves by old request / new request, keeping the
//! absolute threshold where it was. A `ContainerResource` metric is a share of one
//! container's request and moves by that container's ratio; an HPA without metrics scales on
//! CPU at 80% (the API's default), which moves like any CPU target. Every target written
//! stays an int32 >= 1, as the API requires.

use super::recommend::Recommendation;
use super::usage::Replicas;

/// The CPU target Kubernetes gives an HPA that names no metrics.
pub const DEFAULT_CPU_UTILIZATION: f64 = 80.0;
/// `averageUtilization` is an int32 of at least 1.
pub const MAX_UTILIZATION: f64 = i32::MAX as f64;

/// What podsizer needs to know about an HPA.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hpa {
    /// The HPA's name, as messages and warnings name it.
    pub name: String,
    /// `spec.minReplicas`; `None` when unset (the API then takes 1).
    pub min_replicas: Option<u32>,
    /// `spec.maxReplicas`: reached in the window, per-pod usage may understate demand.
    pub max_replicas: u32,
    /// `averageUtilization` of a `Resource` cpu metric, in percent (80 when it names no metrics).
    pub cpu_utilization: Option<f64>,
    /// `averageUtilization` of a `Resource` memory metric, in percent.
    pub memory_utilization: Option<f64>,
    /// `ContainerResource` metrics with a `Utilization` target.
    pub container_targets: Vec<ContainerTarget>,
    /// True when the HPA names no metrics and scales on the API's default CPU target.
    pub default_metrics: bool,
    /// Metrics podsizer cannot move with the requests (`External metric queue_depth`).
    pub unmovable: Vec<String>,
}

/// A `ContainerResource` metric: a share of one container's request.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerTarget {
    /// The container whose request the target is a share of.
    pub container: String,
    /// `cpu` or `memory`.
    pub resource: String,
    /// `averageUtilization`, in percent of that container's request.
    pub utilization: f64,
}

/// The matching HPA change and what to tell the reviewer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HpaAdvice {
    /// New cpu `averageUtilization`, when it should change.
    pub cpu_utilization: Option<u32>,
    /// New memory `averageUtilization`, when it should change.
    pub memory_utilization: Option<u32>,
    /// New `averageUtilization` per (container, resource) of `ContainerResource` metrics.
    pub container_utilization: Vec<(String, String, u32)>,
    /// Why each target moved or stayed, and what the replica history says (for the rationale).
    pub notes: Vec<String>,
    /// What the reviewer must check by hand (shown on stderr too), each naming the HPA.
    pub warnings: Vec<String>,
}

impl HpaAdvice {
    /// Whether any target is to be patched.
    pub fn changes_anything(&self) -> bool {
        self.cpu_utilization.is_some() || self.memory_utilization.is_some() || !self.container_utilization.is_empty()
    }
}

/// Pod totals of (current, proposed) requests for one resource; `None` when a current request
/// is unknown or a container has no proposal.
fn pod_totals(recs: &[&Recommendation], cpu: bool) -> Option<(f64, f64)> {
    let mut current = 0.0;
    let mut proposed = 0.0;
    for r in recs {
        let c = r.current?;
        let s = r.sizing()?;
        current += if cpu { c.cpu_request_cores? } else { c.memory_request_bytes? };
        proposed += if cpu { s.cpu_request_cores } else { s.memory_request_bytes };
    }
    (proposed > 0.0).then_some((current, proposed))
}

/// One utilization target moved by old request / new request, within the API's range.
struct Retarget<'a> {
    hpa: &'a str,
    /// `CPU`, `memory`, `container php-fpm's CPU` ...
    what: String,
    /// `the pod's request` or `the container's request`: what the target is a share of.
    of: &'static str,
    target: f64,
}

impl Retarget<'_> {
    fn apply(&self, totals: Option<(f64, f64)>, show: impl Fn(f64) -> String, advice: &mut HpaAdvice) -> Option<u32> {
        let (hpa, what, of, target) = (self.hpa, &self.what, self.of, self.target);
        if !(target.is_finite() && target.fract() == 0.0 && (1.0..=MAX_UTILIZATION).contains(&target)) {
            advice.warnings.push(format!(
                "HPA `{hpa}` scales on {what} at averageUtilization {target}, not an integer from 1 to {MAX_UTILIZATION} as the API requires: podsizer leaves it; fix it by hand"
            ));
            return None;
        }
        let Some((old, new)) = totals else {
            advice.notes.push(format!("HPA `{hpa}` scales on {what} at {target:.0}% of the request, but not every container's current request and proposal are known: check its target by hand"));
            return None;
        };
        let threshold = old * target / 100.0;
        let exact = (target * old / new).round();
        let new_target = exact.clamp(1.0, MAX_UTILIZATION);
        if (new_target - target).abs() < 1.0 {
            return None;
        }
        if new_target != exact {
            advice.warnings.push(format!(
                "HPA `{hpa}`: keeping its {what} threshold needs averageUtilization {}%, outside the API's 1 to {MAX_UTILIZATION}; the patch sets {new_target:.0}%, so scaling moves: check it by hand",
                crate::domain::bounds::short_number(exact)
            ));
        }
        let unchanged = new * target / 100.0;
        advice.notes.push(format!(
            "HPA scales on {what} at {target:.0}% of {of}: {} per pod today. With only the request changed ({} -> {}) it would scale at {} per pod, about {:.1}x the replicas at the same load; the patch sets averageUtilization {new_target:.0}% to keep the threshold at {}",
            show(threshold), show(old), show(new), show(unchanged), threshold / unchanged.max(f64::MIN_POSITIVE), show(threshold)
        ));
        Some(new_target as u32)
    }
}

/// Advice for one workload: its HPA and the recommendations of all its containers.
pub fn advise(hpa: &Hpa, recs: &[&Recommendation], replicas: Option<Replicas>) -> HpaAdvice {
    let mut advice = HpaAdvice::default();
    if let Some(r) = replicas {
        advice.notes.push(format!(
            "replicas over the window: {} to {} (median {}); HPA `{}` allows {} to {}",
            r.min,
            r.max,
            r.median,
            hpa.name,
            hpa.min_replicas.unwrap_or(1),
            hpa.max_replicas
        ));
        if u32::from(r.max) >= hpa.max_replicas {
            advice.notes.push(format!(
                "warning: HPA `{}` reached maxReplicas ({}) in the window: at that peak pods could not scale out, so per-pod usage may understate demand; raise maxReplicas before lowering requests",
                hpa.name, hpa.max_replicas
            ));
        }
    }
    let retarget =
        |what: &str, target: f64| Retarget { hpa: &hpa.name, what: what.to_string(), of: "the pod's request", target };
    let cpu_text = |v: f64| crate::domain::Cpu(v).millicores_text();
    if let Some(t) = hpa.cpu_utilization {
        advice.cpu_utilization = retarget("CPU", t).apply(pod_totals(recs, true), cpu_text, &mut advice);
        if hpa.default_metrics && advice.cpu_utilization.is_some() {
            advice.notes.push(format!(
                "HPA `{}` names no metrics, so Kubernetes scales it on CPU at {DEFAULT_CPU_UTILIZATION:.0}% of the request; the patch writes that metric out with the moved target",
                hpa.name
            ));
        }
    }
    if let Some(t) = hpa.memory_utilization {
        advice.memory_utilization =
            retarget("memory", t).apply(pod_totals(recs, false), crate::domain::human_bytes, &mut advice);
    }
    for ct in &hpa.container_targets {
        let cpu = ct.resource == "cpu";
        let what = format!("container `{}`'s {}", ct.container, if cpu { "CPU" } else { "memory" });
        let Some(rec) = recs.iter().find(|r| r.key.container == ct.container) else {
            advice.warnings.push(format!(
                "HPA `{}` scales on {what}, a container not in the samples: check its target by hand",
                hpa.name
            ));
            continue;
        };
        let show = |v: f64| if cpu { cpu_text(v) } else { crate::domain::human_bytes(v) };
        let one = Retarget { of: "the container's request", ..retarget(&what, ct.utilization) };
        if let Some(n) = one.apply(pod_totals(&[rec], cpu), show, &mut advice) {
            advice.container_utilization.push((ct.container.clone(), ct.resource.clone(), n));
        }
    }
    for m in &hpa.unmovable {
        advice.warnings.push(format!(
            "HPA `{}` also scales on {m}, which does not follow the requests: podsizer does not move it; check it still fits the new sizes",
            hpa.name
        ));
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::sizing::{Proposal, Sizing};
    use crate::domain::{ContainerKey, Resources};

    fn rec(container: &str, current_cpu: f64, new_cpu: f64) -> Recommendation {
        Recommendation {
            key: ContainerKey::deployment("n", "api", container),
            strategy: "podsizer".into(),
            proposal: Proposal::Sized(Sizing {
                cpu_request_cores: new_cpu,
                cpu_limit_cores: None,
                memory_request_bytes: 1e8,
                memory_limit_bytes: 2e8,
            }),
            current: Some(Resources {
                cpu_request_cores: Some(current_cpu),
                memory_request_bytes: Some(1e8),
                ..Resources::default()
            }),
            samples: 1000,
            pods: 3,
            first_ms: None,
            last_ms: None,
            confidence: 1.0,
            rationale: vec![],
            replicas: None,
            runtime: None,
        }
    }

    fn hpa() -> Hpa {
        Hpa {
            name: "api".into(),
            min_replicas: Some(3),
            max_replicas: 12,
            cpu_utilization: Some(70.0),
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_absolute_threshold_over_the_pod_total() {
        // Pod total 1.25 cores -> 0.3 cores: 70% x 1.25 / 0.3 = 292%.
        let (a, b) = (rec("php-fpm", 1.0, 0.24), rec("nginx", 0.25, 0.06));
        let advice = advise(&hpa(), &[&a, &b], None);
        assert_eq!(advice.cpu_utilization, Some(292));
        assert!(advice.notes[0].contains("875.0m per pod today"), "{:?}", advice.notes);
    }

    #[test]
    fn no_change_when_requests_stay_and_warning_at_max_replicas() {
        let a = rec("php-fpm", 0.5, 0.5);
        let advice = advise(&hpa(), &[&a], Some(Replicas { min: 3, median: 6, max: 12 }));
        assert_eq!(advice.cpu_utilization, None);
        assert!(advice.notes.iter().any(|n| n.contains("reached maxReplicas (12)")));
        assert!(!advice.changes_anything());
    }

    #[test]
    fn default_container_and_unmovable_metrics() {
        let (a, b) = (rec("php-fpm", 1.0, 0.25), rec("nginx", 0.25, 0.25));
        // No metrics: the API's 80% of the pod's 1.25 cores, now 0.5: 80 x 1.25 / 0.5 = 200.
        let none = Hpa { cpu_utilization: Some(80.0), default_metrics: true, ..hpa() };
        let advice = advise(&none, &[&a, &b], None);
        assert_eq!(advice.cpu_utilization, Some(200));
        assert!(advice.notes.iter().any(|n| n.contains("names no metrics")), "{:?}", advice.notes);
        // ContainerResource on php-fpm alone: 60 x 1 / 0.25 = 240; nginx keeps its request.
        let per_container = Hpa {
            cpu_utilization: None,
            container_targets: vec![
                ContainerTarget { container: "php-fpm".into(), resource: "cpu".into(), utilization: 60.0 },
                ContainerTarget { container: "nginx".into(), resource: "cpu".into(), utilization: 60.0 },
                ContainerTarget { container: "gone".into(), resource: "cpu".into(), utilization: 60.0 },
            ],
            unmovable: vec!["External metric `queue_depth`".into()],
            ..hpa()
        };
        let advice = advise(&per_container, &[&a, &b], None);
        assert_eq!(advice.container_utilization, [("php-fpm".to_string(), "cpu".to_string(), 240)]);
        assert!(advice.changes_anything());
        assert_eq!(advice.warnings.len(), 2, "{:?}", advice.warnings);
        assert!(advice.warnings.iter().all(|w| w.contains("HPA `api`")), "{:?}", advice.warnings);
        assert!(advice.warnings.iter().any(|w| w.contains("queue_depth")));
        assert!(advice.warnings.iter().any(|w| w.contains("`gone`")));
    }

    #[test]
    fn targets_stay_within_int32_and_above_zero() {
        // (target now, current pod request, proposed, expected new target, warned)
        let cases = [
            (70.0, 1.0, 0.25, Some(280), false),
            (2e9, 1.0, 0.25, Some(i32::MAX as u32), true),
            (80.0, 0.001, 1000.0, Some(1), true),
            (0.0, 1.0, 0.25, None, true),
            (-5.0, 1.0, 0.25, None, true),
            (70.5, 1.0, 0.25, None, true),
            (f64::NAN, 1.0, 0.25, None, true),
            (3e9, 1.0, 0.25, None, true),
        ];
        for (target, now, new, want, warned) in cases {
            let a = rec("php-fpm", now, new);
            let advice = advise(&Hpa { cpu_utilization: Some(target), ..hpa() }, &[&a], None);
            assert_eq!(advice.cpu_utilization, want, "{target} {now} -> {new}");
            assert_eq!(!advice.warnings.is_empty(), warned, "{target}: {:?}", advice.warnings);
        }
        // A sweep over the whole input space: targets from 1 to int32's maximum, and requests
        // from a millicore to 1,024 cores on a log grid (each step x2), every combination.
        let targets =
            [1u32, 2, 3, 7, 50, 79, 80, 81, 100, 101, 1_000, 65_535, 1 << 20, i32::MAX as u32 - 1, i32::MAX as u32];
        let cores: Vec<f64> = (0..=20).map(|i| 1e-3 * 2f64.powi(i)).chain([1024.0]).collect();
        for &target in &targets {
            for &now in &cores {
                for &new in &cores {
                    let a = rec("php-fpm", now, new);
                    let advice = advise(&Hpa { cpu_utilization: Some(f64::from(target)), ..hpa() }, &[&a], None);
                    if let Some(n) = advice.cpu_utilization {
                        assert!((1..=i32::MAX as u32).contains(&n), "{target} {now} -> {new}: {n}");
                    }
                }
            }
        }
    }
}

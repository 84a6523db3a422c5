//! HorizontalPodAutoscaler awareness.
//!
//! An HPA scaling on `Utilization` compares the pods' average usage with a percentage of the
//! pod's *total* request (all containers). Lowering requests therefore lowers the absolute
//! point where it adds replicas: same load, more pods. To change sizes without changing the
//! scaling behaviour, the target utilization moves by old request / new request, keeping the
//! absolute threshold where it was.

use super::recommend::Recommendation;
use super::usage::Replicas;

/// What podsizer needs to know about an HPA.
#[derive(Debug, Clone, PartialEq)]
pub struct Hpa {
    pub name: String,
    pub min_replicas: Option<u32>,
    pub max_replicas: u32,
    /// `averageUtilization` of a `Resource` cpu metric, in percent.
    pub cpu_utilization: Option<f64>,
    /// `averageUtilization` of a `Resource` memory metric, in percent.
    pub memory_utilization: Option<f64>,
}

/// The matching HPA change and what to tell the reviewer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HpaAdvice {
    /// New cpu `averageUtilization`, when it should change.
    pub cpu_utilization: Option<u32>,
    pub memory_utilization: Option<u32>,
    pub notes: Vec<String>,
}

impl HpaAdvice {
    pub fn changes_anything(&self) -> bool {
        self.cpu_utilization.is_some() || self.memory_utilization.is_some()
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

fn retarget(
    what: &str,
    target: f64,
    totals: Option<(f64, f64)>,
    show: impl Fn(f64) -> String,
    notes: &mut Vec<String>,
) -> Option<u32> {
    let Some((old, new)) = totals else {
        notes.push(format!("HPA scales on {what} at {target:.0}% of the request, but not every container's current request and proposal are known: check its target by hand"));
        return None;
    };
    let threshold = old * target / 100.0;
    let new_target = (target * old / new).round().max(1.0);
    if (new_target - target).abs() < 1.0 {
        return None;
    }
    let unchanged = new * target / 100.0;
    notes.push(format!(
        "HPA scales on {what} at {target:.0}% of the pod's request: {} per pod today. With only the request changed ({} -> {}) it would scale at {} per pod, about {:.1}x the replicas at the same load; the patch sets averageUtilization {new_target:.0}% to keep the threshold at {}",
        show(threshold), show(old), show(new), show(unchanged), threshold / unchanged.max(f64::MIN_POSITIVE), show(threshold)
    ));
    Some(new_target as u32)
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
    if let Some(t) = hpa.cpu_utilization {
        let show = |v: f64| crate::domain::Cpu(v).millicores_text();
        advice.cpu_utilization = retarget("CPU", t, pod_totals(recs, true), show, &mut advice.notes);
    }
    if let Some(t) = hpa.memory_utilization {
        advice.memory_utilization =
            retarget("memory", t, pod_totals(recs, false), crate::domain::human_bytes, &mut advice.notes);
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::sizing::{Proposal, Sizing};
    use crate::domain::{ContainerKey, Resources, Workload};

    fn rec(container: &str, current_cpu: f64, new_cpu: f64) -> Recommendation {
        Recommendation {
            key: ContainerKey {
                workload: Workload {
                    namespace: "n".into(),
                    kind: "Deployment".into(),
                    name: "api".into(),
                    ..Default::default()
                },
                container: container.into(),
            },
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
            memory_utilization: None,
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
}

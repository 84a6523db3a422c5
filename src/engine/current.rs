//! `--live`: current settings from the cluster, and drift between an overlay and the cluster.
//!
//! With an overlay the overlay stays the source of current settings (it is what the patches
//! change, and what the cluster returns to on the next sync); the cluster is read to show
//! where the two disagree: someone changed the cluster by hand, or a sync is pending.

use super::{EngineError, Note, Result};
use crate::domain::{human_bytes, Cpu, Resources};
use crate::outputs::kustomize::{self, Kubectl, Overlay, RenderedHpa, RenderedWorkload};
use crate::sources::cluster::{read_live_objects, LiveScope};
use crate::sources::metrics_server::client::ConnectOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Reading current settings from a live cluster.
#[derive(Debug, Clone, Default)]
pub struct LiveSettings {
    /// Kubeconfig [default: KUBECONFIG, ~/.kube/config, then the in-cluster service account].
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: the current one].
    pub context: Option<String>,
    /// Only these namespaces (all when empty).
    pub namespaces: Vec<String>,
}

impl LiveSettings {
    /// Where current settings come from, for the report's header and messages.
    pub fn describe(&self) -> String {
        self.context.as_ref().map_or_else(|| "the live cluster".into(), |c| format!("context {c}"))
    }
}

/// Current settings for a run: the overlay's (rendered by `kubectl`), the cluster's, or the
/// overlay's with drift in the notes.
pub fn current_settings(
    overlay_dir: Option<&Path>,
    kubectl: &Kubectl,
    live: Option<&LiveSettings>,
    notes: &mut Vec<Note>,
) -> Result<Overlay> {
    let overlay = overlay_dir.map(|dir| kustomize::render_overlay(dir, kubectl)).transpose()?;
    let Some(live) = live else { return Ok(overlay.unwrap_or_default()) };
    let connect = ConnectOptions {
        kubeconfig: live.kubeconfig.clone(),
        context: live.context.clone(),
        request_timeout: Some(Duration::from_secs(30)),
        ..ConnectOptions::default()
    };
    let scope = LiveScope { namespaces: live.namespaces.clone() };
    let objects = read_live_objects(&connect, &scope).map_err(EngineError::Live)?;
    notes.extend(objects.notes.iter().map(|n| Note::Warning(format!("note: {n}"))));
    let yaml = objects.yaml;
    let label = Path::new("the cluster");
    let cluster = Overlay {
        workloads: kustomize::parse_workloads(label, &yaml)?,
        hpas: kustomize::parse_hpas(label, &yaml)?,
        runtimes: crate::outputs::runtime_settings::parse_runtimes(&yaml),
    };
    let Some(overlay) = overlay else { return Ok(cluster) };
    notes.extend(drift(&overlay, &cluster).into_iter().map(|line| Note::Drift(format!("drift: {line}"))));
    Ok(overlay)
}

/// An overlay object without a namespace matches the cluster's object of that name in any namespace.
fn same_place(overlay_ns: Option<&str>, cluster_ns: Option<&str>) -> bool {
    overlay_ns.is_none_or(|ns| cluster_ns == Some(ns))
}

fn cpu(v: Option<f64>) -> String {
    v.map_or_else(|| "unset".into(), |c| Cpu(c).to_string())
}

fn mem(v: Option<f64>) -> String {
    v.map_or_else(|| "unset".into(), human_bytes)
}

fn differs(a: Option<f64>, b: Option<f64>) -> bool {
    crate::outputs::report::differs(a, b)
}

/// One line per setting where the overlay and the cluster disagree, and per overlay workload
/// or HPA missing from the cluster. Cluster objects the overlay does not hold are not drift.
pub fn drift(overlay: &Overlay, cluster: &Overlay) -> Vec<String> {
    let mut lines = Vec::new();
    for w in &overlay.workloads {
        let live = cluster.workloads.iter().find(|c| {
            c.kind == w.kind && c.name == w.name && same_place(w.namespace.as_deref(), c.namespace.as_deref())
        });
        match live {
            Some(live) => workload_drift(w, live, &mut lines),
            None => lines.push(format!("{}: in the overlay, not in the cluster (sync pending?)", workload_id(w))),
        }
    }
    for h in &overlay.hpas {
        let live = cluster
            .hpas
            .iter()
            .find(|c| c.hpa.name == h.hpa.name && same_place(h.namespace.as_deref(), c.namespace.as_deref()));
        match live {
            Some(live) => hpa_drift(h, live, &mut lines),
            None => lines.push(format!("{}: in the overlay, not in the cluster (sync pending?)", hpa_id(h))),
        }
    }
    lines
}

fn workload_id(w: &RenderedWorkload) -> String {
    format!("{}/{}/{}", w.namespace.as_deref().unwrap_or("-"), w.kind, w.name)
}

fn hpa_id(h: &RenderedHpa) -> String {
    format!("{}/HorizontalPodAutoscaler/{}", h.namespace.as_deref().unwrap_or("-"), h.hpa.name)
}

/// A container setting: its name, how to read it, how to show it.
type Setting = (&'static str, fn(&Resources) -> Option<f64>, fn(Option<f64>) -> String);

fn workload_drift(overlay: &RenderedWorkload, live: &RenderedWorkload, lines: &mut Vec<String>) {
    let id = workload_id(overlay);
    for (name, set) in &overlay.containers {
        let Some((_, now)) = live.containers.iter().find(|(n, _)| n == name) else {
            lines.push(format!("{id} container {name}: in the overlay, not in the cluster"));
            continue;
        };
        let settings: [Setting; 4] = [
            ("CPU request", |r| r.cpu_request_cores, cpu),
            ("CPU limit", |r| r.cpu_limit_cores, cpu),
            ("memory request", |r| r.memory_request_bytes, mem),
            ("memory limit", |r| r.memory_limit_bytes, mem),
        ];
        for (setting, get, show) in settings {
            if differs(get(set), get(now)) {
                lines.push(format!(
                    "{id} container {name}: {setting} {} in the overlay, {} in the cluster",
                    show(get(set)),
                    show(get(now))
                ));
            }
        }
    }
}

fn hpa_drift(overlay: &RenderedHpa, live: &RenderedHpa, lines: &mut Vec<String>) {
    let id = hpa_id(overlay);
    let (a, b) = (&overlay.hpa, &live.hpa);
    let number = |v: Option<f64>| v.map_or_else(|| "unset".into(), |x| format!("{x}"));
    let pairs = [
        ("minReplicas", a.min_replicas.map(f64::from), b.min_replicas.map(f64::from), ""),
        ("maxReplicas", Some(f64::from(a.max_replicas)), Some(f64::from(b.max_replicas)), ""),
        ("CPU averageUtilization", a.cpu_utilization, b.cpu_utilization, "%"),
        ("memory averageUtilization", a.memory_utilization, b.memory_utilization, "%"),
    ];
    for (setting, o, c, unit) in pairs {
        if differs(o, c) {
            lines.push(format!(
                "{id}: {setting} {}{unit} in the overlay, {}{unit} in the cluster",
                number(o),
                number(c)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::hpa::Hpa;

    fn workload(ns: Option<&str>, cpu_request: f64, memory_limit: Option<f64>) -> RenderedWorkload {
        RenderedWorkload {
            kind: "Deployment".into(),
            name: "api".into(),
            namespace: ns.map(String::from),
            containers: vec![(
                "php-fpm".into(),
                Resources {
                    cpu_request_cores: Some(cpu_request),
                    cpu_limit_cores: Some(2.0),
                    memory_request_bytes: Some(1024.0 * 1024.0 * 1024.0),
                    memory_limit_bytes: memory_limit,
                },
            )],
        }
    }

    fn hpa(max: u32, cpu: f64) -> RenderedHpa {
        RenderedHpa {
            hpa: Hpa {
                name: "api".into(),
                min_replicas: Some(3),
                max_replicas: max,
                cpu_utilization: Some(cpu),
                ..Default::default()
            },
            namespace: Some("shop".into()),
            target_kind: "Deployment".into(),
            target_name: "api".into(),
            metrics: serde_norway::Value::Null,
            api_version: "autoscaling/v2".into(),
        }
    }

    #[test]
    fn equal_settings_are_no_drift_and_a_missing_namespace_matches_any() {
        let overlay = Overlay {
            workloads: vec![workload(None, 1.0, Some(2e9))],
            hpas: vec![hpa(12, 70.0)],
            runtimes: Default::default(),
        };
        let cluster = Overlay {
            workloads: vec![workload(Some("shop"), 1.0, Some(2e9))],
            hpas: vec![hpa(12, 70.0)],
            runtimes: Default::default(),
        };
        assert_eq!(drift(&overlay, &cluster), Vec::<String>::new());
    }

    #[test]
    fn every_changed_setting_is_one_line() {
        let overlay = Overlay {
            workloads: vec![workload(Some("shop"), 1.0, Some(2e9))],
            hpas: vec![hpa(12, 70.0)],
            runtimes: Default::default(),
        };
        let cluster = Overlay {
            workloads: vec![workload(Some("shop"), 0.5, None)],
            hpas: vec![hpa(6, 70.0)],
            runtimes: Default::default(),
        };
        assert_eq!(
            drift(&overlay, &cluster),
            [
                "shop/Deployment/api container php-fpm: CPU request 1 in the overlay, 500m in the cluster",
                "shop/Deployment/api container php-fpm: memory limit 1907Mi in the overlay, unset in the cluster",
                "shop/HorizontalPodAutoscaler/api: maxReplicas 12 in the overlay, 6 in the cluster",
            ]
        );
    }

    #[test]
    fn objects_only_in_the_overlay_are_pending_and_cluster_extras_are_ignored() {
        let overlay =
            Overlay { workloads: vec![workload(Some("shop"), 1.0, None)], hpas: vec![], runtimes: Default::default() };
        let cluster = Overlay {
            workloads: vec![workload(Some("other"), 1.0, None)],
            hpas: vec![hpa(3, 50.0)],
            runtimes: Default::default(),
        };
        assert_eq!(
            drift(&overlay, &cluster),
            ["shop/Deployment/api: in the overlay, not in the cluster (sync pending?)"]
        );
    }
}

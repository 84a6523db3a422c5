//! metrics-server (`metrics.k8s.io/v1beta1` PodMetrics) as a source of usage history.
//!
//! metrics-server keeps one instant per pod; `podsizer collect metrics-server` samples it over
//! time. The pure pieces live here and are tested on fixtures: the owner inventory built from
//! listed pods, ReplicaSets and Jobs (Pod -> ReplicaSet -> Deployment, Job -> CronJob,
//! StatefulSet, DaemonSet, bare pods), joining PodMetrics to owners into samples while
//! skipping metrics windows already taken, and the per-container settings and OOM-kill record
//! kept beside the store. [`client`] talks to the API server (kube), with pagination and
//! error classification; `collect` is the sampling loop.

pub mod client;
pub(crate) mod collect;
mod kubeconfig;
pub use kubeconfig::KubeconfigError;

use crate::domain::{canonical_kind, parse_quantity, Resources, Sample};
use k8s_metrics::v1beta1::PodMetrics;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// (namespace, name) of a namespaced object.
pub(crate) type ObjectKey = (String, String);

/// Current settings and restart record of one container of one pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContainerInfo {
    pub name: String,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub restarts: u32,
    /// `lastState.terminated.finishedAt` (epoch ms) when the last termination was an OOM kill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_oom_kill_ms: Option<i64>,
}

/// A pod as the collector needs it: its owner workload and its containers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub workload_kind: String,
    pub workload: String,
    pub containers: Vec<ContainerInfo>,
}

/// Pods of the cluster (in scope) with their owner workloads, built from one listing of pods,
/// ReplicaSets and Jobs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    pub pods: HashMap<ObjectKey, PodInfo>,
}

fn key_of(meta: &ObjectMeta) -> ObjectKey {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// The controlling owner reference (or the first one) as (kind, name).
fn controller_of(meta: &ObjectMeta) -> Option<(String, String)> {
    let owners = meta.owner_references.as_ref()?;
    let owner = owners.iter().find(|o| o.controller == Some(true)).or_else(|| owners.first())?;
    Some((owner.kind.clone(), owner.name.clone()))
}

/// Who owns each ReplicaSet and Job (for Pod -> ReplicaSet -> Deployment, Job -> CronJob).
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnerIndex {
    replicasets: HashMap<ObjectKey, Option<(String, String)>>,
    jobs: HashMap<ObjectKey, Option<(String, String)>>,
}

impl OwnerIndex {
    pub(crate) fn new(replicasets: &[ReplicaSet], jobs: &[Job]) -> Self {
        Self {
            replicasets: replicasets.iter().map(|rs| (key_of(&rs.metadata), controller_of(&rs.metadata))).collect(),
            jobs: jobs.iter().map(|j| (key_of(&j.metadata), controller_of(&j.metadata))).collect(),
        }
    }
}

impl Inventory {
    /// Resolves each pod to its workload: a ReplicaSet owned by a Deployment becomes the
    /// Deployment (a bare ReplicaSet stays itself), a Job owned by a CronJob becomes the
    /// CronJob; StatefulSet, DaemonSet and any other controller are taken as they are; a pod
    /// without owner (or a static pod, owned by its Node) is its own workload (kind `Pod`).
    #[cfg(test)]
    pub(crate) fn build(pods: &[Pod], replicasets: &[ReplicaSet], jobs: &[Job]) -> Self {
        let mut inventory = Inventory::default();
        inventory.add_pods(&OwnerIndex::new(replicasets, jobs), pods);
        inventory
    }

    /// Adds pods (one list page at a time, so the full Pod objects are not all held at once).
    pub(crate) fn add_pods(&mut self, owners: &OwnerIndex, pods: &[Pod]) {
        for pod in pods {
            let (namespace, name) = key_of(&pod.metadata);
            if name.is_empty() {
                continue;
            }
            let (kind, workload) = match controller_of(&pod.metadata) {
                None => ("Pod".to_string(), name.clone()),
                Some((kind, _)) if kind == "Node" => ("Pod".to_string(), name.clone()),
                Some((kind, owner)) => {
                    let lookup = match kind.as_str() {
                        "ReplicaSet" => owners.replicasets.get(&(namespace.clone(), owner.clone())),
                        "Job" => owners.jobs.get(&(namespace.clone(), owner.clone())),
                        _ => None,
                    };
                    match lookup {
                        Some(Some((up_kind, up_name))) if matches!(up_kind.as_str(), "Deployment" | "CronJob") => {
                            (up_kind.clone(), up_name.clone())
                        }
                        _ => (kind, owner),
                    }
                }
            };
            let info = PodInfo {
                namespace: namespace.clone(),
                name: name.clone(),
                workload_kind: canonical_kind(&kind),
                workload,
                containers: containers_of(pod),
            };
            self.pods.insert((namespace, name), info);
        }
    }

    #[cfg(test)]
    pub(crate) fn get(&self, namespace: &str, pod: &str) -> Option<&PodInfo> {
        self.pods.get(&(namespace.to_string(), pod.to_string()))
    }
}

fn quantity_map(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    key: &str,
) -> Option<f64> {
    map?.get(key).and_then(|q| parse_quantity(&q.0).ok())
}

/// Settings (spec) and restarts / last OOM kill (status) of each regular container.
fn containers_of(pod: &Pod) -> Vec<ContainerInfo> {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .map(|c| {
            let req = c.resources.as_ref().and_then(|r| r.requests.as_ref());
            let lim = c.resources.as_ref().and_then(|r| r.limits.as_ref());
            let resources = Resources {
                cpu_request_cores: quantity_map(req, "cpu"),
                cpu_limit_cores: quantity_map(lim, "cpu"),
                memory_request_bytes: quantity_map(req, "memory"),
                memory_limit_bytes: quantity_map(lim, "memory"),
            };
            let status = statuses.and_then(|s| s.iter().find(|st| st.name == c.name));
            let restarts = status.map_or(0, |s| s.restart_count.max(0) as u32);
            let last_oom_kill_ms = status
                .and_then(|s| s.last_state.as_ref())
                .and_then(|ls| ls.terminated.as_ref())
                .filter(|t| t.reason.as_deref() == Some("OOMKilled"))
                .map(|t| t.finished_at.as_ref().map_or(0, |f| f.0.as_millisecond()));
            ContainerInfo { name: c.name.clone(), resources, restarts, last_oom_kill_ms }
        })
        .collect()
}

/// What joining one round of PodMetrics produced.
#[derive(Debug, Default)]
pub(crate) struct Round {
    pub samples: Vec<Sample>,
    /// Pods whose metrics window was already taken in an earlier round.
    pub repeated_windows: usize,
    /// Pods with metrics but not (yet) in the inventory: skipped this round.
    pub unknown_pods: Vec<ObjectKey>,
    /// Containers whose usage could not be parsed (skipped, never stored as junk).
    pub bad_values: usize,
}

/// Turns PodMetrics into samples, one per container, owned by the pod's workload. `taken`
/// holds the newest metrics timestamp (epoch ms) already sampled per pod; a pod whose window
/// is not newer is skipped, and `taken` is updated for the samples produced.
pub(crate) fn samples_from_metrics(
    metrics: &[PodMetrics],
    inventory: &Inventory,
    taken: &mut HashMap<ObjectKey, i64>,
) -> Round {
    let mut round = Round::default();
    for pm in metrics {
        let key = key_of(&pm.metadata);
        let ts = pm.timestamp.0.as_millisecond();
        if taken.get(&key).is_some_and(|&t| ts <= t) {
            round.repeated_windows += 1;
            continue;
        }
        let Some(info) = inventory.pods.get(&key) else {
            round.unknown_pods.push(key);
            continue;
        };
        let mut any = false;
        for c in &pm.containers {
            let (Ok(cpu), Ok(mem)) = (parse_quantity(&c.usage.cpu.0), parse_quantity(&c.usage.memory.0)) else {
                round.bad_values += 1;
                continue;
            };
            if !cpu.is_finite() || !mem.is_finite() || cpu < 0.0 || mem < 0.0 {
                round.bad_values += 1;
                continue;
            }
            any = true;
            round.samples.push(Sample {
                timestamp_ms: ts,
                namespace: info.namespace.clone(),
                workload_kind: info.workload_kind.clone(),
                workload: info.workload.clone(),
                pod: info.name.clone(),
                container: c.name.clone(),
                cpu_cores: cpu,
                memory_bytes: mem,
                ..Default::default()
            });
        }
        if any {
            taken.insert(key, ts);
        }
    }
    round
}

/// One OOM kill seen in a pod's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OomKillEvent {
    pub at_ms: i64,
    pub namespace: String,
    pub workload_kind: String,
    pub workload: String,
    pub pod: String,
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<f64>,
}

/// Current settings of one workload container, as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ContainerState {
    pub namespace: String,
    pub workload_kind: String,
    pub workload: String,
    pub container: String,
    pub resources: Resources,
    /// Restarts summed over the pods seen last.
    pub restarts: u64,
    pub seen_ms: i64,
}

/// The collector's side record, kept as `STORE/collector/state.json` (the sample schema is
/// unchanged): current settings per container, OOM kills, and the newest metrics window
/// flushed per pod so a restart does not re-append what the store already has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CollectorState {
    pub version: u32,
    #[serde(default)]
    pub containers: Vec<ContainerState>,
    #[serde(default)]
    pub oom_kills: Vec<OomKillEvent>,
    /// "namespace/pod" -> newest metrics timestamp (epoch ms) stored.
    #[serde(default)]
    pub flushed_windows: BTreeMap<String, i64>,
    /// The cluster recorded on the samples (`--cluster`); keys `containers` and `oom_kills` too.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity_cluster: String,
}

/// OOM kills kept in the side file (the newest ones).
pub(crate) const MAX_OOM_KILLS: usize = 10_000;
/// Flushed windows are forgotten after this long without a new one (pod gone).
pub(crate) const WINDOW_RETENTION_MS: i64 = 24 * 3_600_000;

impl CollectorState {
    /// Records the inventory's settings and returns the OOM kills not recorded before.
    pub(crate) fn observe(&mut self, inventory: &Inventory, now_ms: i64) -> Vec<OomKillEvent> {
        let mut fresh = Vec::new();
        let mut by_container: BTreeMap<(String, String, String, String), ContainerState> = BTreeMap::new();
        let mut pods: Vec<&PodInfo> = inventory.pods.values().collect();
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for pod in pods {
            for c in &pod.containers {
                let k = (pod.namespace.clone(), pod.workload_kind.clone(), pod.workload.clone(), c.name.clone());
                let entry = by_container.entry(k).or_insert_with(|| ContainerState {
                    namespace: pod.namespace.clone(),
                    workload_kind: pod.workload_kind.clone(),
                    workload: pod.workload.clone(),
                    container: c.name.clone(),
                    resources: c.resources,
                    restarts: 0,
                    seen_ms: now_ms,
                });
                entry.restarts += u64::from(c.restarts);
                if let Some(at_ms) = c.last_oom_kill_ms {
                    let known = self.oom_kills.iter().chain(fresh.iter()).any(|o: &OomKillEvent| {
                        o.at_ms == at_ms && o.pod == pod.name && o.container == c.name && o.namespace == pod.namespace
                    });
                    if !known {
                        fresh.push(OomKillEvent {
                            at_ms,
                            namespace: pod.namespace.clone(),
                            workload_kind: pod.workload_kind.clone(),
                            workload: pod.workload.clone(),
                            pod: pod.name.clone(),
                            container: c.name.clone(),
                            memory_limit_bytes: c.resources.memory_limit_bytes,
                        });
                    }
                }
            }
        }
        // Containers not seen this time keep their last record (a workload scaled to zero).
        let mut merged: BTreeMap<(String, String, String, String), ContainerState> = self
            .containers
            .drain(..)
            .map(|c| ((c.namespace.clone(), c.workload_kind.clone(), c.workload.clone(), c.container.clone()), c))
            .collect();
        merged.extend(by_container);
        self.containers = merged.into_values().collect();
        self.oom_kills.extend(fresh.iter().cloned());
        if self.oom_kills.len() > MAX_OOM_KILLS {
            let drop = self.oom_kills.len() - MAX_OOM_KILLS;
            self.oom_kills.drain(..drop);
        }
        fresh
    }

    /// Remembers the windows just flushed and forgets pods silent for a day (measured from
    /// the newest window, so a skewed local clock does not matter).
    pub(crate) fn record_flushed(&mut self, windows: &HashMap<ObjectKey, i64>) {
        for ((ns, pod), ts) in windows {
            let e = self.flushed_windows.entry(format!("{ns}/{pod}")).or_insert(*ts);
            *e = (*e).max(*ts);
        }
        if let Some(newest) = self.flushed_windows.values().max().copied() {
            self.flushed_windows.retain(|_, ts| newest - *ts < WINDOW_RETENTION_MS);
        }
    }

    /// Windows already stored, in the form [`samples_from_metrics`] takes.
    pub(crate) fn taken_windows(&self) -> HashMap<ObjectKey, i64> {
        self.flushed_windows
            .iter()
            .filter_map(|(k, ts)| k.split_once('/').map(|(ns, pod)| ((ns.to_string(), pod.to_string()), *ts)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, owner: Option<(&str, &str)>, oom: bool) -> Pod {
        let mut v = json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]},
            "status": {"containerStatuses": [{"name": "app", "ready": true, "restartCount": 2, "image": "x", "imageID": "y",
                "lastState": {"terminated": {"exitCode": 137, "reason": if oom {"OOMKilled"} else {"Error"}, "finishedAt": "2026-11-20T10:00:00Z"}}}]}
        });
        if let Some((kind, owner)) = owner {
            v["metadata"]["ownerReferences"] =
                json!([{"apiVersion": "v1", "kind": kind, "name": owner, "uid": "u", "controller": true}]);
        }
        serde_json::from_value(v).unwrap()
    }

    fn owned<T: serde::de::DeserializeOwned>(ns: &str, name: &str, owner: Option<(&str, &str)>) -> T {
        let mut v = json!({"metadata": {"name": name, "namespace": ns}});
        if let Some((kind, owner)) = owner {
            v["metadata"]["ownerReferences"] =
                json!([{"apiVersion": "apps/v1", "kind": kind, "name": owner, "uid": "u", "controller": true}]);
        }
        serde_json::from_value(v).unwrap()
    }

    fn metrics(ns: &str, name: &str, ts: &str) -> PodMetrics {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns}, "timestamp": ts, "window": "15s",
            "containers": [{"name": "app", "usage": {"cpu": "9559630n", "memory": "22244Ki"}}]
        }))
        .unwrap()
    }

    #[test]
    fn owners_resolve_for_every_kind() {
        let pods = vec![
            pod("a", "web-7d-x", Some(("ReplicaSet", "web-7d")), false),
            pod("a", "lone-rs-x", Some(("ReplicaSet", "lone-rs")), false),
            pod("a", "db-0", Some(("StatefulSet", "db")), false),
            pod("a", "agent-x", Some(("DaemonSet", "agent")), false),
            pod("a", "nightly-29-x", Some(("Job", "nightly-29")), false),
            pod("a", "once-x", Some(("Job", "once")), false),
            pod("a", "bare", None, true),
        ];
        let rs = vec![owned::<ReplicaSet>("a", "web-7d", Some(("Deployment", "web"))), owned("a", "lone-rs", None)];
        let jobs = vec![owned::<Job>("a", "nightly-29", Some(("CronJob", "nightly"))), owned("a", "once", None)];
        let inv = Inventory::build(&pods, &rs, &jobs);
        let got = |p: &str| {
            let i = inv.get("a", p).unwrap();
            (i.workload_kind.clone(), i.workload.clone())
        };
        assert_eq!(got("web-7d-x"), ("Deployment".into(), "web".into()));
        assert_eq!(got("lone-rs-x"), ("ReplicaSet".into(), "lone-rs".into()));
        assert_eq!(got("db-0"), ("StatefulSet".into(), "db".into()));
        assert_eq!(got("agent-x"), ("DaemonSet".into(), "agent".into()));
        assert_eq!(got("nightly-29-x"), ("CronJob".into(), "nightly".into()));
        assert_eq!(got("once-x"), ("Job".into(), "once".into()));
        assert_eq!(got("bare"), ("Pod".into(), "bare".into()));
        let c = &inv.get("a", "bare").unwrap().containers[0];
        assert_eq!(c.resources.cpu_request_cores, Some(0.25));
        assert_eq!(c.resources.memory_limit_bytes, Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(c.restarts, 2);
        assert!(c.last_oom_kill_ms.is_some());
        assert!(inv.get("a", "db-0").unwrap().containers[0].last_oom_kill_ms.is_none());
    }

    #[test]
    fn repeated_windows_and_unknown_pods_are_skipped() {
        let inv = Inventory::build(&[pod("a", "bare", None, false)], &[], &[]);
        let mut taken = HashMap::new();
        let r1 = samples_from_metrics(
            &[metrics("a", "bare", "2026-11-20T10:00:00Z"), metrics("a", "ghost", "2026-11-20T10:00:00Z")],
            &inv,
            &mut taken,
        );
        assert_eq!(r1.samples.len(), 1);
        assert_eq!(r1.unknown_pods, vec![("a".to_string(), "ghost".to_string())]);
        assert!((r1.samples[0].cpu_cores - 0.009559630).abs() < 1e-12);
        assert_eq!(r1.samples[0].memory_bytes, 22244.0 * 1024.0);
        let r2 = samples_from_metrics(&[metrics("a", "bare", "2026-11-20T10:00:00Z")], &inv, &mut taken);
        assert_eq!((r2.samples.len(), r2.repeated_windows), (0, 1));
        let r3 = samples_from_metrics(&[metrics("a", "bare", "2026-11-20T10:00:15Z")], &inv, &mut taken);
        assert_eq!(r3.samples.len(), 1);
    }

    #[test]
    fn oom_kills_are_reported_once() {
        let inv = Inventory::build(&[pod("a", "bare", None, true)], &[], &[]);
        let mut state = CollectorState::default();
        assert_eq!(state.observe(&inv, 1).len(), 1);
        assert_eq!(state.observe(&inv, 2).len(), 0);
        assert_eq!(state.oom_kills.len(), 1);
        assert_eq!(state.containers.len(), 1);
        assert_eq!(state.containers[0].restarts, 2);
    }
}

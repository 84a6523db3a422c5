//! Owners: pod -> workload from kube-state-metrics series, and from the pod's name where
//! kube-state-metrics says nothing (`sources::owners`).

use super::Labels;
use crate::domain::canonical_kind;
use std::collections::HashMap;

/// How a pod's workload was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Resolution {
    /// From `kube_pod_owner` (and `kube_replicaset_owner` / `kube_job_owner`).
    Owner,
    /// No owner series: a `<deployment>-<replicaset hash>-<suffix>` pod name was read as a Deployment.
    GuessedDeployment,
    /// No owner series and no recognisable name: the pod is its own workload (kind `Pod`).
    PodName,
}

/// Workload of each pod, from kube-state-metrics series.
#[derive(Debug, Default, Clone)]
pub(crate) struct Owners {
    pods: HashMap<(String, String), (String, String)>,
    replicasets: HashMap<(String, String), (String, String)>,
    jobs: HashMap<(String, String), (String, String)>,
    /// (kind, workload) of pods an earlier import found from kube_pod_owner: used where this
    /// import's series say nothing of the pod.
    remembered: HashMap<(String, String), (String, String)>,
}

/// A pod's workload as an import found it from kube_pod_owner, kept in the import state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct KnownOwner {
    pub namespace: String,
    pub pod: String,
    pub kind: String,
    pub workload: String,
}

pub(super) fn label<'a>(l: &'a Labels, name: &str) -> Option<&'a str> {
    l.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn owner_of(l: &Labels) -> Option<(String, String)> {
    let kind = label(l, "owner_kind")?;
    let name = label(l, "owner_name")?;
    if kind == "<none>" || name == "<none>" {
        return None;
    }
    Some((kind.to_string(), name.to_string()))
}

impl Owners {
    /// Builds the maps from `kube_pod_owner`, `kube_replicaset_owner` and `kube_job_owner`
    /// series. A controller owner wins over other owners of the same pod.
    pub(crate) fn from_series(pod_owner: &[Labels], replicaset_owner: &[Labels], job_owner: &[Labels]) -> Self {
        let mut owners = Self::default();
        let mut controller: HashMap<(String, String), bool> = HashMap::new();
        for l in pod_owner {
            let (Some(ns), Some(pod)) = (label(l, "namespace"), label(l, "pod")) else { continue };
            let key = (ns.to_string(), pod.to_string());
            let is_controller = label(l, "owner_is_controller") == Some("true");
            let value = owner_of(l).unwrap_or_else(|| ("Pod".into(), pod.to_string()));
            let seen = controller.get(&key).copied();
            if seen.is_none() || (is_controller && seen == Some(false)) {
                owners.pods.insert(key.clone(), value);
                controller.insert(key, is_controller);
            }
        }
        for (series, map, name_label) in
            [(replicaset_owner, &mut owners.replicasets, "replicaset"), (job_owner, &mut owners.jobs, "job_name")]
        {
            for l in series {
                let (Some(ns), Some(name)) = (label(l, "namespace"), label(l, name_label)) else { continue };
                if let Some(owner) = owner_of(l) {
                    map.insert((ns.to_string(), name.to_string()), owner);
                }
            }
        }
        owners
    }

    /// True when any `kube_pod_owner` series was found.
    pub(crate) fn has_pod_owners(&self) -> bool {
        !self.pods.is_empty()
    }

    /// Adds what an earlier import found; this import's kube_pod_owner series win.
    pub(crate) fn remember(&mut self, known: &[KnownOwner]) {
        for k in known {
            let key = (k.namespace.clone(), k.pod.clone());
            self.remembered.entry(key).or_insert_with(|| (k.kind.clone(), k.workload.clone()));
        }
    }

    /// The workloads of `pods` that came from kube_pod_owner (now or in an earlier import), to remember.
    pub(crate) fn known<'a>(&self, pods: impl IntoIterator<Item = &'a (String, String)>) -> Vec<KnownOwner> {
        pods.into_iter()
            .filter_map(|(namespace, pod)| match self.resolve(namespace, pod) {
                (kind, workload, Resolution::Owner) => {
                    Some(KnownOwner { namespace: namespace.clone(), pod: pod.clone(), kind, workload })
                }
                _ => None,
            })
            .collect()
    }

    /// (kind, workload name, how) of a pod.
    pub(crate) fn resolve(&self, namespace: &str, pod: &str) -> (String, String, Resolution) {
        let key = (namespace.to_string(), pod.to_string());
        let Some((kind, name)) = self.pods.get(&key) else {
            return match self.remembered.get(&key) {
                Some((kind, workload)) => (kind.clone(), workload.clone(), Resolution::Owner),
                None => guess_from_name(pod),
            };
        };
        let up = |map: &HashMap<(String, String), (String, String)>| {
            map.get(&(namespace.to_string(), name.clone())).cloned()
        };
        let (kind, name) = match kind.as_str() {
            "ReplicaSet" => up(&self.replicasets).unwrap_or_else(|| (kind.clone(), name.clone())),
            "Job" => up(&self.jobs).unwrap_or_else(|| (kind.clone(), name.clone())),
            // Static (mirror) pods are owned by their node: each is its own workload.
            "Node" => ("Pod".into(), pod.to_string()),
            _ => (kind.clone(), name.clone()),
        };
        (canonical_kind(&kind), name, Resolution::Owner)
    }
}

/// Without kube-state-metrics: `api-5b8f7d9c4-x2x9k` is Deployment `api` (the pod-template
/// hash and the pod suffix use Kubernetes' safe alphabet); anything else is its own `Pod`.
pub(crate) fn guess_from_name(pod: &str) -> (String, String, Resolution) {
    match crate::sources::owners::deployment_of_pod(pod) {
        Some(base) => ("Deployment".into(), base.to_string(), Resolution::GuessedDeployment),
        None => ("Pod".into(), pod.to_string(), Resolution::PodName),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn owners_resolve_through_replicasets_and_jobs() {
        let pod_owner = vec![
            labels(&[
                ("namespace", "ns"),
                ("pod", "api-5b8f7d9c4-x2x9k"),
                ("owner_kind", "ReplicaSet"),
                ("owner_name", "api-5b8f7d9c4"),
                ("owner_is_controller", "true"),
            ]),
            labels(&[
                ("namespace", "ns"),
                ("pod", "db-0"),
                ("owner_kind", "StatefulSet"),
                ("owner_name", "db"),
                ("owner_is_controller", "true"),
            ]),
            labels(&[
                ("namespace", "ns"),
                ("pod", "report-29000000-abcde"),
                ("owner_kind", "Job"),
                ("owner_name", "report-29000000"),
                ("owner_is_controller", "true"),
            ]),
            labels(&[
                ("namespace", "ns"),
                ("pod", "oneoff-job-xyz12"),
                ("owner_kind", "Job"),
                ("owner_name", "oneoff-job"),
                ("owner_is_controller", "true"),
            ]),
            labels(&[
                ("namespace", "ns"),
                ("pod", "debug"),
                ("owner_kind", "<none>"),
                ("owner_name", "<none>"),
                ("owner_is_controller", "<none>"),
            ]),
            labels(&[
                ("namespace", "kube-system"),
                ("pod", "kube-apiserver-n1"),
                ("owner_kind", "Node"),
                ("owner_name", "n1"),
                ("owner_is_controller", "true"),
            ]),
        ];
        let rs = vec![labels(&[
            ("namespace", "ns"),
            ("replicaset", "api-5b8f7d9c4"),
            ("owner_kind", "Deployment"),
            ("owner_name", "api"),
        ])];
        let jobs = vec![labels(&[
            ("namespace", "ns"),
            ("job_name", "report-29000000"),
            ("owner_kind", "CronJob"),
            ("owner_name", "report"),
        ])];
        let o = Owners::from_series(&pod_owner, &rs, &jobs);
        let r = |pod: &str| {
            let (k, n, _) = o.resolve(if pod.starts_with("kube-") { "kube-system" } else { "ns" }, pod);
            format!("{k}/{n}")
        };
        assert_eq!(r("api-5b8f7d9c4-x2x9k"), "Deployment/api");
        assert_eq!(r("db-0"), "StatefulSet/db");
        assert_eq!(r("report-29000000-abcde"), "CronJob/report");
        assert_eq!(r("oneoff-job-xyz12"), "Job/oneoff-job");
        assert_eq!(r("debug"), "Pod/debug");
        assert_eq!(r("kube-apiserver-n1"), "Pod/kube-apiserver-n1");
        // Not in kube_pod_owner: guessed from the name.
        assert_eq!(o.resolve("ns", "web-7c9d5f8b6-bcdfg").2, Resolution::GuessedDeployment);
        assert_eq!(guess_from_name("web-7c9d5f8b6-bcdfg").1, "web");
        assert_eq!(guess_from_name("db-0"), ("Pod".into(), "db-0".into(), Resolution::PodName));
        assert_eq!(guess_from_name("my-app-aaaaaa-bbbbb").2, Resolution::PodName, "vowels are not in pod hashes");
    }

    #[test]
    fn remembered_owners_fill_in_where_kube_pod_owner_is_silent_and_never_override_it() {
        let pod_owner = vec![labels(&[
            ("namespace", "logging"),
            ("pod", "agent-abcde"),
            ("owner_kind", "DaemonSet"),
            ("owner_name", "agent"),
            ("owner_is_controller", "true"),
        ])];
        let first = Owners::from_series(&pod_owner, &[], &[]);
        let pods = [("logging".to_string(), "agent-abcde".to_string()), ("logging".to_string(), "debug".to_string())];
        let known = first.known(&pods);
        // The guessed pod is not remembered: a later kube_pod_owner series may still name it.
        assert_eq!(
            known,
            vec![KnownOwner {
                namespace: "logging".into(),
                pod: "agent-abcde".into(),
                kind: "DaemonSet".into(),
                workload: "agent".into()
            }]
        );
        let mut later = Owners::default();
        assert_eq!(later.resolve("logging", "agent-abcde").0, "Pod", "without memory: the pod name");
        later.remember(&known);
        assert_eq!(later.resolve("logging", "agent-abcde"), ("DaemonSet".into(), "agent".into(), Resolution::Owner));
        assert_eq!(later.known(&pods), known, "remembered owners are remembered again");
        let renamed = KnownOwner { workload: "old".into(), ..known[0].clone() };
        let mut current = Owners::from_series(&pod_owner, &[], &[]);
        current.remember(&[renamed]);
        assert_eq!(current.resolve("logging", "agent-abcde").1, "agent", "kube_pod_owner wins");
    }
}

//! Start-up boosts as overlay files: the CPU limit lifted while pods start, instead of a
//! higher limit all the time (`startup.cpu = "boost"`, `analysis::startup`).
//!
//! - A workload a `VerticalPodAutoscaler` in the overlay targets gets its `startupBoost`
//!   (VPA's CPU start-up boost, AEP-7862; VPA 1.5+ with the `CPUStartupBoost` feature gate):
//!   a patch of the VPA writing `spec.resourcePolicy.containerPolicies` whole, as rendered,
//!   with each boosted container's entry given `startupBoost.cpu` = `type: Factor`, `factor`,
//!   `durationSeconds` (a custom resource's list has no merge key: a patch replaces it).
//! - Otherwise a `StartupCPUBoost` of kube-startup-cpu-boost (`autoscaling.x-k8s.io/v1alpha1`),
//!   a new object listed under the kustomization's `resources:`: its `selector` is the
//!   workload's pod selector, one `containerPolicies` entry per boosted container
//!   (`matchContainers` `ExactName`, `percentageIncrease`), and `durationPolicy.fixedDuration`
//!   in seconds from the pod's scheduling.
//!
//! Both go through the one YAML emitter and the overlay writer's all-or-nothing write and render check.

use super::kustomize::{patch_file_name, render_text, Kubectl, KustomizeError, PatchFile};
use crate::analysis::startup::Boost;
use crate::domain::ContainerKey;
use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The kube-startup-cpu-boost resource's API version and kind.
const BOOST_API: &str = "autoscaling.x-k8s.io/v1alpha1";
const BOOST_KIND: &str = "StartupCPUBoost";

/// The files that put `boosts` in place in the overlay at `dir` (nothing without an overlay).
pub(crate) fn boost_patches(
    dir: Option<&Path>,
    boosts: &[(ContainerKey, Boost)],
    kubectl: &Kubectl,
) -> Result<Vec<PatchFile>, KustomizeError> {
    let Some(dir) = dir.filter(|_| !boosts.is_empty()) else { return Ok(Vec::new()) };
    let yaml = render_text(dir, kubectl)?;
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&yaml)
        .map(Value::deserialize)
        .collect::<Result<_, _>>()
        .map_err(|e| KustomizeError::RenderedYaml { dir: dir.to_path_buf(), message: e.to_string() })?;
    // (kind, namespace, name) -> the workload's boosted containers.
    type Workload = (String, String, String);
    let mut by_workload: BTreeMap<Workload, Vec<(&str, Boost)>> = BTreeMap::new();
    for (key, boost) in boosts {
        let w = &key.workload;
        by_workload
            .entry((w.kind.clone(), w.namespace.clone(), w.name.clone()))
            .or_default()
            .push((&key.container, *boost));
    }
    let mut files = Vec::new();
    for ((kind, namespace, name), containers) in &by_workload {
        let Some(workload) = docs.iter().find(|d| is_object(d, kind, name, namespace)) else { continue };
        let ns = workload["metadata"]["namespace"].as_str();
        let vpa = docs.iter().find(|d| {
            d["kind"].as_str() == Some("VerticalPodAutoscaler")
                && d["metadata"]["namespace"].as_str() == ns
                && d["spec"]["targetRef"]["kind"].as_str() == Some(kind.as_str())
                && d["spec"]["targetRef"]["name"].as_str() == Some(name.as_str())
        });
        if let Some(vpa) = vpa {
            files.push(vpa_patch(vpa, ns, containers));
            continue;
        }
        let several = docs
            .iter()
            .filter(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
            .count()
            > 1;
        files.push(boost_object(workload, kind, name, ns, several, containers));
    }
    Ok(files)
}

/// The rendered object of that kind and name, in `namespace` when it renders in one.
fn is_object(d: &Value, kind: &str, name: &str, namespace: &str) -> bool {
    d["kind"].as_str() == Some(kind)
        && d["metadata"]["name"].as_str() == Some(name)
        && d["metadata"]["namespace"].as_str().is_none_or(|ns| ns == namespace)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (Value::from(k), v)).collect::<Mapping>())
}

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = vec![("name", Value::from(name))];
    if let Some(ns) = namespace {
        m.push(("namespace", Value::from(ns)));
    }
    map(m)
}

/// The VPA's `containerPolicies` as rendered, each boosted container's entry (added when
/// missing) carrying its `startupBoost`.
fn vpa_patch(vpa: &Value, namespace: Option<&str>, containers: &[(&str, Boost)]) -> PatchFile {
    let name = vpa["metadata"]["name"].as_str().unwrap_or_default();
    let mut policies: Vec<Value> =
        vpa["spec"]["resourcePolicy"]["containerPolicies"].as_sequence().cloned().unwrap_or_default();
    for (container, boost) in containers {
        let cpu = map(vec![
            ("type", "Factor".into()),
            ("factor", u64::from(boost.factor).into()),
            ("durationSeconds", u64::from(boost.duration_seconds).into()),
        ]);
        let startup = map(vec![("cpu", cpu)]);
        match policies.iter_mut().find(|p| p["containerName"].as_str() == Some(container)) {
            Some(Value::Mapping(entry)) => {
                entry.insert("startupBoost".into(), startup);
            }
            _ => policies.push(map(vec![("containerName", (*container).into()), ("startupBoost", startup)])),
        }
    }
    let body = map(vec![
        ("apiVersion", vpa["apiVersion"].clone()),
        ("kind", "VerticalPodAutoscaler".into()),
        ("metadata", metadata(name, namespace)),
        ("spec", map(vec![("resourcePolicy", map(vec![("containerPolicies", Value::Sequence(policies))]))])),
    ]);
    let comment =
        "# podsizer: CPU start-up boost (VPA startupBoost, AEP-7862): the CPU limit lifted while pods start\n";
    PatchFile::new("VerticalPodAutoscaler", name, namespace, false, comment, body)
}

/// A `StartupCPUBoost` for the workload's pods, a new object of the overlay.
fn boost_object(
    workload: &Value,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    several_namespaces: bool,
    containers: &[(&str, Boost)],
) -> PatchFile {
    let selector = match &workload["spec"]["selector"] {
        Value::Mapping(m) if !m.is_empty() => Value::Mapping(m.clone()),
        // A workload without a selector (a bare Pod): its template's labels select it.
        _ => map(vec![("matchLabels", workload["metadata"]["labels"].clone())]),
    };
    let policies = containers
        .iter()
        .map(|(c, boost)| {
            map(vec![
                ("matchContainers", map(vec![("type", "ExactName".into()), ("value", (*c).into())])),
                ("percentageIncrease", map(vec![("value", u64::from(boost.percent).into())])),
            ])
        })
        .collect();
    let longest = containers.iter().map(|(_, b)| b.duration_seconds).max().unwrap_or(1);
    let object = format!("{}-{name}", kind.to_ascii_lowercase());
    let body = map(vec![
        ("apiVersion", BOOST_API.into()),
        ("kind", BOOST_KIND.into()),
        ("metadata", metadata(&object, namespace)),
        ("selector", selector),
        (
            "spec",
            map(vec![
                ("resourcePolicy", map(vec![("containerPolicies", Value::Sequence(policies))])),
                (
                    "durationPolicy",
                    map(vec![(
                        "fixedDuration",
                        map(vec![("unit", "Seconds".into()), ("value", u64::from(longest).into())]),
                    )]),
                ),
            ]),
        ),
    ]);
    let comment = "# podsizer: CPU start-up boost (kube-startup-cpu-boost): the CPU limit lifted while pods start\n";
    let mut file = PatchFile::new(BOOST_KIND, &object, namespace, false, comment, body);
    if several_namespaces {
        file.file_name = patch_file_name(BOOST_KIND, &object, false, Some(namespace.unwrap_or("")));
    }
    file.new_object = true;
    file
}

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

/// Adds `- FILE` to the kustomization's `resources:` (kept as it was otherwise); `None` when it
/// is listed already. The edit is checked: the result must parse to the same document with the
/// file added to `resources` and nothing else changed.
pub(crate) fn add_resource_entry(path: &Path, original: &str, file: &str) -> Result<Option<String>, KustomizeError> {
    let bad = |message: String| KustomizeError::Kustomization { path: path.to_path_buf(), message };
    let parsed: Value = serde_norway::from_str(original).map_err(|e| bad(format!("not valid YAML: {e}")))?;
    let listed = |v: &Value| v["resources"].as_sequence().is_some_and(|s| s.iter().any(|r| r.as_str() == Some(file)));
    if listed(&parsed) {
        return Ok(None);
    }
    let entry = super::yaml::to_string(&Value::Sequence(vec![file.into()]));
    let lines: Vec<&str> = original.lines().collect();
    let updated = match lines.iter().position(|l| l.trim_end() == "resources:") {
        Some(h) => super::kustomization::append_to_list(&lines, h, |pad| format!("{pad}{entry}")),
        None if parsed.get("resources").is_none() => {
            let sep = if original.ends_with('\n') || original.is_empty() { "" } else { "\n" };
            format!("{original}{sep}resources:\n{entry}")
        }
        None => return Err(bad(format!("could not add {file} to `resources:` (unusual layout); add it by hand"))),
    };
    let mut after: Value = serde_norway::from_str(&updated)
        .map_err(|e| bad(format!("edit produced invalid YAML ({e}); file left unchanged")))?;
    let mut expected = parsed.clone();
    if let Some(m) = expected.as_mapping_mut() {
        let list = m.entry("resources".into()).or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(s) = list {
            s.push(file.into());
        }
    }
    if !listed(&after) || std::mem::take(&mut after) != expected {
        return Err(bad(format!("adding {file} to `resources:` would change other settings; file left unchanged")));
    }
    Ok(Some(updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_entry_is_added_keeping_every_other_line() {
        let p = Path::new("kustomization.yaml");
        let original = "# team comment\nresources:\n  - ../../base\npatches:\n  - path: other.yaml\n";
        let updated = add_resource_entry(p, original, "podsizer-startupcpuboost-x.yaml").unwrap().unwrap();
        assert_eq!(
            updated,
            "# team comment\nresources:\n  - ../../base\n  - \"podsizer-startupcpuboost-x.yaml\"\npatches:\n  - path: other.yaml\n"
        );
        assert_eq!(add_resource_entry(p, &updated, "podsizer-startupcpuboost-x.yaml").unwrap(), None);
        let none = add_resource_entry(p, "namespace: a\n", "f.yaml").unwrap().unwrap();
        assert_eq!(none, "namespace: a\nresources:\n- \"f.yaml\"\n");
        // A flow-style list is not edited by text: refused, naming the file.
        let err = add_resource_entry(p, "resources: [../base]\n", "f.yaml").unwrap_err().to_string();
        assert!(err.contains("kustomization.yaml") && err.contains("add it by hand"), "{err}");
    }
}

//! KEDA ScaledObjects as the rendered overlay holds them. KEDA turns a `cpu` or `memory`
//! trigger into a `Resource` metric of the HPA it makes (`keda-hpa-<name>`), and with
//! `containerName` into a `ContainerResource` one: a `Utilization` value is a share of the
//! requests, so it moves with them exactly as an HPA's target does. Every other trigger
//! (queues, Prometheus queries, cron) and an `AverageValue` target do not follow the requests:
//! they are named and left as they are.
//!
//! A ScaledObject is a custom resource, so kustomize merges its `triggers` list as a whole:
//! the patch writes the rendered list back with only the moved values changed.

use crate::analysis::hpa::{ContainerTarget, Hpa, HpaAdvice};
use serde_norway::Value;

/// The group a ScaledObject's `apiVersion` names.
pub(crate) const GROUP: &str = "keda.sh/";

pub(crate) fn is_scaled_object(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("ScaledObject")
        && v.get("apiVersion").and_then(Value::as_str).is_some_and(|a| a.starts_with(GROUP))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The trigger's resource when it is a `cpu`/`memory` trigger with a `Utilization` target
/// (`metricType`, or the older `metadata.type`; Utilization is KEDA's default).
fn utilization_trigger(t: &Value) -> Option<&str> {
    let resource = text(t, &["type"]).filter(|r| matches!(*r, "cpu" | "memory"))?;
    let metric_type = text(t, &["metricType"]).or_else(|| text(t, &["metadata", "type"])).unwrap_or("Utilization");
    (metric_type == "Utilization").then_some(resource)
}

/// A ScaledObject read as the HPA KEDA makes of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScaledObject {
    pub hpa: Hpa,
    pub namespace: Option<String>,
    pub target_kind: String,
    pub target_name: String,
    /// The rendered `triggers` list, written back whole in a patch.
    pub triggers: Value,
    pub api_version: String,
}

/// A ScaledObject as the HPA advice reads it. `None` when it has no target.
pub(crate) fn read(v: &Value) -> Option<ScaledObject> {
    let spec = v.get("spec")?;
    let target = spec.get("scaleTargetRef")?;
    let name = text(v, &["metadata", "name"])?;
    let triggers = spec.get("triggers").cloned().unwrap_or(Value::Sequence(vec![]));
    let mut hpa = Hpa {
        name: format!("keda-hpa-{name}"),
        min_replicas: spec.get("minReplicaCount").and_then(Value::as_u64).map(|m| m as u32),
        // KEDA's default maxReplicaCount.
        max_replicas: spec.get("maxReplicaCount").and_then(Value::as_u64).map_or(100, |m| m as u32),
        ..Default::default()
    };
    for t in triggers.as_sequence().into_iter().flatten() {
        // A value that is not a number is NaN: the advice refuses it with a warning.
        let value = || text(t, &["metadata", "value"]).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(f64::NAN);
        match (utilization_trigger(t), text(t, &["metadata", "containerName"])) {
            (Some(resource), Some(container)) => hpa.container_targets.push(ContainerTarget {
                container: container.into(),
                resource: resource.into(),
                utilization: value(),
            }),
            (Some("cpu"), None) if hpa.cpu_utilization.is_none() => hpa.cpu_utilization = Some(value()),
            (Some("memory"), None) if hpa.memory_utilization.is_none() => hpa.memory_utilization = Some(value()),
            _ => {
                let kind = text(t, &["type"]).unwrap_or("without a type");
                let what = match utilization_trigger(t) {
                    None if matches!(kind, "cpu" | "memory") => format!("the AverageValue `{kind}` trigger"),
                    _ => format!("the `{kind}` trigger"),
                };
                hpa.unmovable.push(format!("{what} of ScaledObject `{name}`"));
            }
        }
    }
    Some(ScaledObject {
        hpa,
        namespace: text(v, &["metadata", "namespace"]).map(String::from),
        target_kind: text(target, &["kind"]).unwrap_or("Deployment").to_string(),
        target_name: text(target, &["name"])?.to_string(),
        triggers,
        api_version: text(v, &["apiVersion"])?.to_string(),
    })
}

/// The ScaledObject's name from the name of the HPA KEDA makes, `keda-hpa-<name>`.
pub(crate) fn object_name(hpa: &Hpa) -> &str {
    hpa.name.strip_prefix("keda-hpa-").unwrap_or(&hpa.name)
}

/// The `spec` of the patch: the rendered triggers with the moved values, as strings (KEDA
/// reads trigger metadata as strings).
pub(crate) fn patch_spec(triggers: &Value, advice: &HpaAdvice) -> serde_norway::Mapping {
    let mut triggers = triggers.clone();
    for t in triggers.as_sequence_mut().into_iter().flatten() {
        let Some(resource) = utilization_trigger(t).map(String::from) else { continue };
        let new = match text(t, &["metadata", "containerName"]) {
            Some(c) => {
                advice.container_utilization.iter().find(|(name, r, _)| name == c && *r == resource).map(|(.., n)| *n)
            }
            None if resource == "cpu" => advice.cpu_utilization,
            None => advice.memory_utilization,
        };
        if let (Some(n), Some(Value::Mapping(meta))) = (new, t.get_mut("metadata")) {
            meta.insert("value".into(), n.to_string().into());
        }
    }
    let mut spec = serde_norway::Mapping::new();
    spec.insert("triggers".into(), triggers);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const SO: &str = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: web, namespace: store}\nspec:\n  scaleTargetRef: {name: web}\n  minReplicaCount: 2\n  maxReplicaCount: 10\n  triggers:\n  - type: cpu\n    metricType: Utilization\n    metadata: {value: \"60\"}\n  - type: memory\n    metadata: {type: AverageValue, value: 500Mi}\n  - type: memory\n    metricType: Utilization\n    metadata: {value: \"75\", containerName: web}\n  - type: prometheus\n    metadata: {query: x, threshold: \"10\"}\n";

    fn so() -> Value {
        Value::deserialize(serde_norway::Deserializer::from_str(SO)).unwrap()
    }

    #[test]
    fn cpu_and_memory_utilization_triggers_move_and_the_rest_is_named() {
        assert!(is_scaled_object(&so()));
        let r = read(&so()).unwrap();
        assert_eq!(r.hpa.cpu_utilization, Some(60.0));
        assert_eq!(r.hpa.memory_utilization, None, "AverageValue does not follow the requests");
        assert_eq!(
            r.hpa.container_targets,
            [ContainerTarget { container: "web".into(), resource: "memory".into(), utilization: 75.0 }]
        );
        assert_eq!(
            r.hpa.unmovable,
            [
                "the AverageValue `memory` trigger of ScaledObject `web`",
                "the `prometheus` trigger of ScaledObject `web`"
            ]
        );
        assert_eq!((r.hpa.min_replicas, r.hpa.max_replicas, r.target_kind.as_str()), (Some(2), 10, "Deployment"));
        assert_eq!(object_name(&r.hpa), "web");
        let advice = HpaAdvice {
            cpu_utilization: Some(150),
            container_utilization: vec![("web".into(), "memory".into(), 90)],
            ..Default::default()
        };
        let spec = patch_spec(&r.triggers, &advice);
        let values: Vec<&str> = spec["triggers"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|t| t["metadata"].get("value").and_then(Value::as_str).unwrap_or("-"))
            .collect();
        assert_eq!(values, ["150", "500Mi", "90", "-"]);
    }
}

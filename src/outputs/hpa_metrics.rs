//! An HPA's metrics as the rendered overlay holds them, read into what `analysis::hpa` moves
//! and written back with the moved targets.
//!
//! - `autoscaling/v2` `Resource` and `ContainerResource` metrics with a `Utilization` target
//!   are shares of requests: podsizer moves them. `AverageValue` targets are absolute and
//!   stay where they are.
//! - No `metrics` at all is the API's default, CPU at 80%: the patch writes it out.
//! - `autoscaling/v1` has one field, `targetCPUUtilizationPercentage` (default 80).
//! - `External`, `Pods` and `Object` metrics do not follow requests: listed for a warning.

use crate::analysis::hpa::{ContainerTarget, Hpa, HpaAdvice, DEFAULT_CPU_UTILIZATION};
use serde_norway::{Mapping, Value};

pub(crate) const V1: &str = "autoscaling/v1";

/// What the metrics say, for `analysis::hpa::Hpa`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Targets {
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub containers: Vec<ContainerTarget>,
    pub default_metrics: bool,
    pub unmovable: Vec<String>,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// A `Utilization` target's number; NaN when it is missing or not a number, so the advice
/// refuses it with a warning instead of skipping it unseen.
fn utilization(target: Option<&Value>) -> Option<f64> {
    let t = target?;
    (t.get("type")?.as_str()? == "Utilization")
        .then(|| t.get("averageUtilization").and_then(Value::as_f64).unwrap_or(f64::NAN))
}

/// Reads an HPA's `spec` (`api_version` from its manifest).
pub(crate) fn read(spec: &Value, api_version: &str) -> Targets {
    let mut out = Targets::default();
    if api_version == V1 {
        let set = spec.get("targetCPUUtilizationPercentage");
        out.cpu = Some(set.map_or(DEFAULT_CPU_UTILIZATION, |v| v.as_f64().unwrap_or(f64::NAN)));
        out.default_metrics = set.is_none();
        return out;
    }
    let metrics = spec.get("metrics").and_then(Value::as_sequence).map(Vec::as_slice).unwrap_or_default();
    if metrics.is_empty() {
        out.cpu = Some(DEFAULT_CPU_UTILIZATION);
        out.default_metrics = true;
        return out;
    }
    for m in metrics {
        let kind = text(m, &["type"]).unwrap_or("");
        match kind {
            "Resource" => {
                let r = m.get("resource");
                let (name, target) = (r.and_then(|r| text(r, &["name"])), r.and_then(|r| r.get("target")));
                match (name, utilization(target)) {
                    (Some("cpu"), Some(u)) if out.cpu.is_none() => out.cpu = Some(u),
                    (Some("memory"), Some(u)) if out.memory.is_none() => out.memory = Some(u),
                    _ => {}
                }
            }
            "ContainerResource" => {
                let r = m.get("containerResource");
                let (name, container) = (r.and_then(|r| text(r, &["name"])), r.and_then(|r| text(r, &["container"])));
                if let (Some(name @ ("cpu" | "memory")), Some(container), Some(u)) =
                    (name, container, utilization(r.and_then(|r| r.get("target"))))
                {
                    out.containers.push(ContainerTarget {
                        container: container.into(),
                        resource: name.into(),
                        utilization: u,
                    });
                }
            }
            other => {
                // `External` -> `external.metric.name`, likewise `pods` and `object`.
                let field = other.get(..1).map(|f| f.to_lowercase() + &other[1..]).unwrap_or_default();
                let name = m.get(field.as_str()).and_then(|f| text(f, &["metric", "name"]));
                let shown =
                    if other.is_empty() { "a metric without a type".to_string() } else { format!("{other} metric") };
                out.unmovable.push(match name {
                    Some(n) => format!("{shown} `{n}`"),
                    None => shown,
                });
            }
        }
    }
    out
}

fn utilization_target(n: u32) -> Value {
    let mut t = Mapping::new();
    t.insert("type".into(), "Utilization".into());
    t.insert("averageUtilization".into(), Value::from(n));
    Value::Mapping(t)
}

/// The `spec` of the HPA patch: the rendered metrics with the moved targets (the list has
/// no merge key, so it is written whole), the default CPU metric written out, or v1's field.
pub(crate) fn patch_spec(metrics: &Value, hpa: &Hpa, advice: &HpaAdvice, api_version: &str) -> Mapping {
    let mut spec = Mapping::new();
    if api_version == V1 {
        if let Some(n) = advice.cpu_utilization {
            spec.insert("targetCPUUtilizationPercentage".into(), Value::from(n));
        }
        return spec;
    }
    let mut metrics = metrics.clone();
    if hpa.default_metrics {
        let mut resource = Mapping::new();
        resource.insert("name".into(), "cpu".into());
        resource.insert("target".into(), utilization_target(advice.cpu_utilization.unwrap_or(80)));
        let mut m = Mapping::new();
        m.insert("type".into(), "Resource".into());
        m.insert("resource".into(), Value::Mapping(resource));
        metrics = Value::Sequence(vec![Value::Mapping(m)]);
    }
    for m in metrics.as_sequence_mut().into_iter().flatten() {
        let new = match text(m, &["type"]) {
            Some("Resource") => match text(m, &["resource", "name"]) {
                Some("cpu") => advice.cpu_utilization.map(|n| (n, "resource")),
                Some("memory") => advice.memory_utilization.map(|n| (n, "resource")),
                _ => None,
            },
            Some("ContainerResource") => {
                let (name, container) =
                    (text(m, &["containerResource", "name"]), text(m, &["containerResource", "container"]));
                advice
                    .container_utilization
                    .iter()
                    .find(|(c, r, _)| Some(c.as_str()) == container && Some(r.as_str()) == name)
                    .map(|(_, _, n)| (*n, "containerResource"))
            }
            _ => None,
        };
        if let Some((n, key)) = new {
            if let Some(target) = m.get_mut(key).and_then(|r| r.get_mut("target")) {
                if target.get("type").and_then(Value::as_str) == Some("Utilization") {
                    target["averageUtilization"] = Value::from(n);
                }
            }
        }
    }
    spec.insert("metrics".into(), metrics);
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Value {
        serde_norway::from_str(yaml).unwrap()
    }

    /// (spec, api version, cpu, memory, container targets, default, unmovable)
    type Case = (&'static str, &'static str, Option<f64>, Option<f64>, usize, bool, Vec<&'static str>);

    #[test]
    fn reads_every_kind_of_metric() {
        let cases: Vec<Case> = vec![
            ("maxReplicas: 3", "autoscaling/v2", Some(80.0), None, 0, true, vec![]),
            ("metrics: []", "autoscaling/v2", Some(80.0), None, 0, true, vec![]),
            ("maxReplicas: 3", V1, Some(80.0), None, 0, true, vec![]),
            ("targetCPUUtilizationPercentage: 65", V1, Some(65.0), None, 0, false, vec![]),
            (
                "metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]",
                "autoscaling/v2",
                Some(70.0),
                None,
                0,
                false,
                vec![],
            ),
            (
                "metrics: [{type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 1Gi}}}]",
                "autoscaling/v2",
                None,
                None,
                0,
                false,
                vec![],
            ),
            (
                "metrics: [{type: ContainerResource, containerResource: {name: cpu, container: php-fpm, target: {type: Utilization, averageUtilization: 60}}}]",
                "autoscaling/v2",
                None,
                None,
                1,
                false,
                vec![],
            ),
            (
                "metrics: [{type: External, external: {metric: {name: queue_depth}, target: {type: Value, value: 5}}}, {type: Pods, pods: {metric: {name: rps}}}, {type: Object, object: {metric: {name: hits}}}]",
                "autoscaling/v2",
                None,
                None,
                0,
                false,
                vec!["External metric `queue_depth`", "Pods metric `rps`", "Object metric `hits`"],
            ),
        ];
        for (yaml, api, cpu, memory, containers, default, unmovable) in cases {
            let t = read(&spec(yaml), api);
            assert_eq!(
                (t.cpu, t.memory, t.containers.len(), t.default_metrics),
                (cpu, memory, containers, default),
                "{yaml}"
            );
            assert_eq!(t.unmovable, unmovable, "{yaml}");
        }
        let missing =
            read(&spec("metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization}}}]"), "");
        assert!(missing.cpu.unwrap().is_nan(), "a Utilization target without a number is flagged, not skipped");
    }

    #[test]
    fn the_default_metric_is_written_out_and_container_targets_move() {
        let hpa = Hpa { default_metrics: true, ..Default::default() };
        let advice = HpaAdvice { cpu_utilization: Some(320), ..Default::default() };
        let out = patch_spec(&Value::Sequence(vec![]), &hpa, &advice, "autoscaling/v2");
        let text = serde_norway::to_string(&out).unwrap();
        assert!(text.contains("type: Resource") && text.contains("averageUtilization: 320"), "{text}");
        let v1 = patch_spec(&Value::Null, &hpa, &advice, V1);
        assert_eq!(v1.get("targetCPUUtilizationPercentage").and_then(Value::as_u64), Some(320));
        let metrics = spec(
            "- {type: ContainerResource, containerResource: {name: cpu, container: php-fpm, target: {type: Utilization, averageUtilization: 60}}}\n- {type: ContainerResource, containerResource: {name: cpu, container: nginx, target: {type: Utilization, averageUtilization: 60}}}",
        );
        let advice =
            HpaAdvice { container_utilization: vec![("php-fpm".into(), "cpu".into(), 240)], ..Default::default() };
        let out = patch_spec(&metrics, &Hpa::default(), &advice, "autoscaling/v2");
        let list = out.get("metrics").unwrap().as_sequence().unwrap();
        assert_eq!(list[0]["containerResource"]["target"]["averageUtilization"].as_u64(), Some(240));
        assert_eq!(
            list[1]["containerResource"]["target"]["averageUtilization"].as_u64(),
            Some(60),
            "other container kept"
        );
    }
}

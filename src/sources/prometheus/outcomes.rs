//! Outcome signals from kube-state-metrics and cAdvisor, per hour bucket, into the sink beside
//! the samples (`sources::outcomes`):
//!
//! ```text
//! restarts    max/min_over_time(kube_pod_container_status_restarts_total[1h])       per pod container
//! OOM         max_over_time(kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}[1h])
//! evictions   max_over_time(kube_pod_status_reason{reason="Evicted"}[1h])             per pod
//! settings    max_over_time(kube_pod_container_resource_{requests,limits}[1h])        per pod container
//! throttling  increase(container_cpu_cfs_{throttled_periods,periods}_total[1h])       per pod container
//! ```
//!
//! All of them in one instant query per time window: each signal tagged with a
//! `podsizer_signal` label, joined with `or`, read as a subquery on the hour grid. The buckets
//! read are those after the last one recorded (the sink keeps it), so a re-run reads only new
//! hours. Restarts of an hour are the rise of the counter's hourly maximum over the hour
//! before (the rise within the hour for a pod's first hour); they are OOM kills when the
//! last termination reason was `OOMKilled` during that hour.

use super::client::Client;
use super::join::key_of;
use super::owners::Owners;
use super::payload::Series;
use super::query::Scope;
use super::Labels;
use crate::domain::Resources;
use crate::sources::outcomes::{
    merge_spans, spans_of, ContainerOutcomes, Eviction, OutcomeBatch, OutcomesRecorded, PodSettings, Restarts,
    Throttling, BUCKET_MS,
};
use crate::sources::sink::SampleSink;
use crate::sources::time::{align_down, align_up};
use std::collections::{BTreeMap, BTreeSet};

const H: i64 = BUCKET_MS;
const SIGNAL: &str = "podsizer_signal";
/// Series (per pod container) one answer holds per hour, roughly: the signals above.
const SERIES_PER_CONTAINER: u64 = 10;

/// Why outcome signals could not be read or recorded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutcomesImportError {
    #[error(transparent)]
    Prometheus(#[from] super::PrometheusError),
    #[error("the outcome signals kept beside the samples")]
    Sink(#[source] crate::sources::sink::SinkError),
}

/// Reads the hours of `[from_ms, to_ms]` not recorded yet and records them under the outcome
/// file of the import state `state_name`. `pods`: how many pods the import saw (sizes the
/// time windows so one answer holds about `max_points` points).
#[allow(clippy::too_many_arguments)]
pub(super) fn import(
    client: &Client,
    scope: &Scope,
    owners: &Owners,
    state_name: &str,
    cluster: &str,
    (from_ms, to_ms): (i64, i64),
    (pods, max_points): (usize, u64),
    sink: &mut (dyn SampleSink + Send),
) -> Result<OutcomesRecorded, OutcomesImportError> {
    let name = state_name.replacen("prometheus-", "outcomes-", 1);
    let through = sink.outcomes_through(&name).map_err(OutcomesImportError::Sink)?;
    let first = through.map_or(align_up(from_ms, H), |t| (t + H).max(align_up(from_ms, H)));
    let last = align_down(to_ms, H);
    if first > last {
        return Ok(OutcomesRecorded::default());
    }
    let per_hour = (pods as u64).max(1) * SERIES_PER_CONTAINER;
    let hours_per_answer = (max_points / per_hour).clamp(1, 24 * 31) as i64;
    let mut series = Vec::new();
    let mut start = first;
    while start <= last {
        let end = (start + (hours_per_answer - 1) * H).min(last);
        series.extend(client.query_matrix(&signals_query(scope, end - start + H), end)?);
        start = end + H;
    }
    let batch = OutcomeBatch {
        cluster: cluster.to_string(),
        from_ms: first,
        to_ms: last,
        containers: fold(&series, owners, first, last),
    };
    sink.record_outcomes(&name, batch).map_err(OutcomesImportError::Sink)
}

/// The one query of a window: every signal, tagged, as a subquery of `range_ms` on the hour grid.
fn signals_query(scope: &Scope, range_ms: i64) -> String {
    let ksm = |metric: &str, extra: &[&str]| scope.ksm(metric, extra);
    let cadvisor = |metric: &str| format!("{metric}{{{}}}", scope.usage_matchers().join(","));
    let by_container = "namespace, pod, container";
    let restarts = ksm("kube_pod_container_status_restarts_total", &[]);
    let resources = [r#"resource=~"cpu|memory""#];
    let parts = [
        ("restarts_max", format!("max by ({by_container}) (max_over_time({restarts}[1h]))")),
        ("restarts_min", format!("min by ({by_container}) (min_over_time({restarts}[1h]))")),
        (
            "oom",
            format!(
                "max by ({by_container}) (max_over_time({}[1h]))",
                ksm("kube_pod_container_status_last_terminated_reason", &[r#"reason="OOMKilled""#])
            ),
        ),
        (
            "evicted",
            format!(
                "max by (namespace, pod) (max_over_time({}[1h]))",
                ksm("kube_pod_status_reason", &[r#"reason="Evicted""#])
            ),
        ),
        (
            "requests",
            format!(
                "max by ({by_container}, resource) (max_over_time({}[1h]))",
                ksm("kube_pod_container_resource_requests", &resources)
            ),
        ),
        (
            "limits",
            format!(
                "max by ({by_container}, resource) (max_over_time({}[1h]))",
                ksm("kube_pod_container_resource_limits", &resources)
            ),
        ),
        (
            "throttled",
            format!(
                "sum by ({by_container}) (increase({}[1h]))",
                cadvisor("container_cpu_cfs_throttled_periods_total")
            ),
        ),
        ("periods", format!("sum by ({by_container}) (increase({}[1h]))", cadvisor("container_cpu_cfs_periods_total"))),
    ];
    let tagged: Vec<String> =
        parts.iter().map(|(signal, q)| format!(r#"label_replace({q}, "{SIGNAL}", "{signal}", "", "")"#)).collect();
    format!("({})[{}:1h]", tagged.join(" or "), super::promql_duration(range_ms))
}

type Key = (String, String, String, String);
type PodContainer = (String, String, String);

/// Hourly points of one pod container per signal.
#[derive(Default)]
struct PodSignals {
    restarts_max: BTreeMap<i64, f64>,
    restarts_min: BTreeMap<i64, f64>,
    oom: BTreeMap<i64, f64>,
    settings: BTreeMap<i64, Resources>,
    throttled: BTreeMap<i64, f64>,
    periods: BTreeMap<i64, f64>,
}

/// The answers of one run as outcomes per workload container, buckets `[first, last]`.
fn fold(series: &[Series], owners: &Owners, first: i64, last: i64) -> Vec<ContainerOutcomes> {
    let mut pods: BTreeMap<PodContainer, PodSignals> = BTreeMap::new();
    let mut evicted: BTreeMap<(String, String), BTreeMap<i64, f64>> = BTreeMap::new();
    let label = |l: &Labels, k: &str| l.get(k).cloned();
    for s in series {
        let points = s.points.iter().filter(|(t, v)| t % H == 0 && v.is_finite());
        let signal = label(&s.labels, SIGNAL).unwrap_or_default();
        if signal == "evicted" {
            let (Some(ns), Some(pod)) = (label(&s.labels, "namespace"), label(&s.labels, "pod")) else { continue };
            evicted.entry((ns, pod)).or_default().extend(points.copied());
            continue;
        }
        let Some(key) = key_of(&s.labels) else { continue };
        let p = pods.entry(key).or_default();
        let resource = label(&s.labels, "resource").unwrap_or_default();
        for &(t, v) in points {
            match signal.as_str() {
                "restarts_max" => drop(p.restarts_max.insert(t, v)),
                "restarts_min" => drop(p.restarts_min.insert(t, v)),
                "oom" => drop(p.oom.insert(t, v)),
                "throttled" => drop(p.throttled.insert(t, v)),
                "periods" => drop(p.periods.insert(t, v)),
                "requests" | "limits" => {
                    let r = p.settings.entry(t).or_default();
                    let slot = match (resource.as_str(), signal == "limits") {
                        ("cpu", false) => &mut r.cpu_request_cores,
                        ("cpu", true) => &mut r.cpu_limit_cores,
                        ("memory", false) => &mut r.memory_request_bytes,
                        ("memory", true) => &mut r.memory_limit_bytes,
                        _ => continue,
                    };
                    *slot = Some(v);
                }
                _ => {}
            }
        }
    }
    let in_range = |t: &i64| (first..=last).contains(t);
    let mut out: BTreeMap<Key, ContainerOutcomes> = BTreeMap::new();
    let mut containers_of_pod: BTreeMap<(String, String), BTreeSet<Key>> = BTreeMap::new();
    for ((ns, pod, container), p) in &pods {
        let (kind, workload, _) = owners.resolve(ns, pod);
        let key = (ns.clone(), kind, workload, container.clone());
        containers_of_pod.entry((ns.clone(), pod.clone())).or_default().insert(key.clone());
        let c = out.entry(key.clone()).or_insert_with(|| ContainerOutcomes {
            namespace: key.0.clone(),
            workload_kind: key.1.clone(),
            workload: key.2.clone(),
            container: key.3.clone(),
            ..Default::default()
        });
        add_pod(c, pod, p, &in_range);
    }
    for ((ns, pod), points) in evicted {
        let Some(keys) = containers_of_pod.get(&(ns, pod.clone())) else { continue };
        let first_evicted = points.iter().find(|(t, v)| in_range(t) && **v >= 1.0).map(|(t, _)| *t);
        for key in keys {
            let c = out.get_mut(key).expect("listed above");
            c.known.evictions.extend(spans_of(points.keys().copied().filter(in_range)));
            if let Some(hour_ms) = first_evicted {
                c.evictions.push(Eviction { pod: pod.clone(), hour_ms });
            }
        }
    }
    let mut out: Vec<ContainerOutcomes> = out.into_values().filter(has_any).collect();
    for c in &mut out {
        let k = &mut c.known;
        for spans in [&mut k.restarts, &mut k.throttling, &mut k.evictions, &mut k.settings] {
            merge_spans(spans);
        }
    }
    out
}

fn has_any(c: &ContainerOutcomes) -> bool {
    let k = &c.known;
    !(k.restarts.is_empty() && k.throttling.is_empty() && k.evictions.is_empty() && k.settings.is_empty())
}

/// One pod's hours into its workload container's outcomes.
fn add_pod(c: &mut ContainerOutcomes, pod: &str, p: &PodSignals, in_range: &impl Fn(&i64) -> bool) {
    // Restarts: the rise of the hourly maximum (the hour before may lie outside the range).
    for (&t, &max) in p.restarts_max.iter().filter(|(t, _)| in_range(t)) {
        let rise = match p.restarts_max.get(&(t - H)) {
            Some(&before) if max >= before => max - before,
            // A counter that went down is a new container of the same pod name: it counts from 0.
            Some(_) => max,
            None => max - p.restarts_min.get(&t).copied().unwrap_or(max),
        };
        if rise > 0.0 {
            let oom = p.oom.get(&t).is_some_and(|&v| v >= 1.0);
            c.restarts.push(Restarts {
                pod: pod.to_string(),
                hour_ms: t,
                restarts: rise,
                oom_kills: if oom { rise } else { 0.0 },
            });
        }
    }
    c.known.restarts.extend(spans_of(p.restarts_max.keys().copied().filter(in_range)));
    // Settings: consecutive hours with the same values make one span.
    for (&t, r) in p.settings.iter().filter(|(t, _)| in_range(t)) {
        match c.settings.last_mut() {
            Some(last) if last.pod == pod && last.resources == *r && last.to_ms + H == t => last.to_ms = t,
            _ => c.settings.push(PodSettings { pod: pod.to_string(), resources: *r, from_ms: t, to_ms: t }),
        }
    }
    c.known.settings.extend(spans_of(p.settings.keys().copied().filter(in_range)));
    // Throttling: summed per hour over the pods that ran with the same values.
    for (&t, &periods) in p.periods.iter().filter(|(t, _)| in_range(t)) {
        let throttled = p.throttled.get(&t).copied().unwrap_or(0.0);
        let resources = p.settings.get(&t).copied();
        match c.throttling.iter_mut().find(|x| x.hour_ms == t && x.resources == resources) {
            Some(x) => {
                x.throttled_periods += throttled;
                x.periods += periods;
            }
            None => c.throttling.push(Throttling { hour_ms: t, resources, throttled_periods: throttled, periods }),
        }
    }
    c.known.throttling.extend(spans_of(p.periods.keys().copied().filter(in_range)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::outcomes::Span;

    fn series(signal: &str, pod: &str, extra: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        let mut labels: Labels = [("namespace", "shop"), ("pod", pod), ("container", "app"), (SIGNAL, signal)]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if signal == "evicted" {
            labels.remove("container");
        }
        Series { labels, points: points.iter().map(|&(h, v)| (h * H, v)).collect() }
    }

    #[test]
    fn restarts_oom_kills_evictions_settings_and_throttling_per_hour() {
        let pod = "api-5b8f7d9c4-x2x9k";
        let mem = [("resource", "memory")];
        let answer = vec![
            // Hour 9 lies before the range: only the base of hour 10's rise.
            series("restarts_max", pod, &[], &[(9, 1.0), (10, 3.0), (11, 3.0), (12, 4.0)]),
            series("restarts_min", pod, &[], &[(10, 1.0), (11, 3.0), (12, 3.0)]),
            series("oom", pod, &[], &[(10, 1.0)]),
            series("requests", pod, &mem, &[(10, 5e8), (11, 5e8), (12, 2.5e8)]),
            series("limits", pod, &mem, &[(10, 1e9), (11, 1e9), (12, 1e9)]),
            series("throttled", pod, &[], &[(11, 30.0), (12, 0.0)]),
            series("periods", pod, &[], &[(11, 120.0), (12, 120.0)]),
            series("evicted", pod, &[], &[(10, 0.0), (11, 0.0), (12, 1.0)]),
            series("restarts_max", "api-5b8f7d9c4-zq7wp", &[], &[(12, 0.0)]),
        ];
        let got = fold(&answer, &Owners::default(), 10 * H, 12 * H);
        assert_eq!(got.len(), 1, "both pods belong to deployment api, container app");
        let c = &got[0];
        assert_eq!((c.workload_kind.as_str(), c.workload.as_str()), ("Deployment", "api"));
        let restarts: Vec<(i64, f64, f64)> =
            c.restarts.iter().map(|r| (r.hour_ms / H, r.restarts, r.oom_kills)).collect();
        assert_eq!(restarts, vec![(10, 2.0, 2.0), (12, 1.0, 0.0)], "3-1 in hour 10 (OOMKilled), 4-3 in hour 12");
        let spans: Vec<(i64, i64, Option<f64>)> =
            c.settings.iter().map(|s| (s.from_ms / H, s.to_ms / H, s.resources.memory_request_bytes)).collect();
        assert_eq!(spans, vec![(10, 11, Some(5e8)), (12, 12, Some(2.5e8))]);
        assert_eq!(c.throttling.len(), 2);
        assert_eq!((c.throttling[0].throttled_periods, c.throttling[0].periods), (30.0, 120.0));
        assert_eq!(c.evictions, vec![Eviction { pod: pod.into(), hour_ms: 12 * H }]);
        assert_eq!(c.known.throttling, vec![Span { from_ms: 11 * H, to_ms: 12 * H }], "hour 10 is unknown, not 0");
        assert_eq!(c.known.restarts, vec![Span { from_ms: 10 * H, to_ms: 12 * H }]);
    }

    #[test]
    fn one_query_tags_every_signal_on_the_hour_grid() {
        let q = signals_query(&Scope { namespaces: vec!["shop".into()], ..Default::default() }, 3 * H);
        for signal in ["restarts_max", "restarts_min", "oom", "evicted", "requests", "limits", "throttled", "periods"] {
            assert!(q.contains(&format!(r#""{SIGNAL}", "{signal}""#)), "{signal}: {q}");
        }
        assert!(q.ends_with(")[10800s:1h]"), "{q}");
        assert!(q.contains(r#"kube_pod_status_reason{reason="Evicted",namespace=~"shop"}"#), "{q}");
    }
}

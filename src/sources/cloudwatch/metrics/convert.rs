//! Converting: CloudWatch's percentages into cores and bytes (by the container's limit or a
//! uniform node capacity), and the newest requests and limits per workload container.

use super::{cpu_route, memory_route, ContainerId, Metric, Route};
use crate::domain::{Resources, Sample};
use crate::sources::cloudwatch::{workload_from_names, PodOwnerSource};
use crate::sources::prometheus::ContainerSettings;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Values of one query: epoch ms -> value.
pub(crate) type Points = BTreeMap<i64, f64>;

/// Node capacity per instant, when every node agreed.
#[derive(Debug, Default, Clone)]
pub(crate) struct NodeCapacity {
    pub cpu_millicores: Points,
    pub memory_bytes: Points,
    /// Instants where nodes differed: (lowest, highest) CPU millicores and memory bytes.
    pub differing: Vec<(i64, f64, f64, f64, f64)>,
}

impl NodeCapacity {
    pub(crate) fn from_points(min_cpu: &Points, max_cpu: &Points, min_mem: &Points, max_mem: &Points) -> Self {
        let mut cap = NodeCapacity::default();
        for (&t, &lo) in min_cpu {
            let (Some(&hi), Some(&mlo), Some(&mhi)) = (max_cpu.get(&t), min_mem.get(&t), max_mem.get(&t)) else {
                continue;
            };
            if lo == hi && mlo == mhi && lo > 0.0 && mlo > 0.0 {
                cap.cpu_millicores.insert(t, lo);
                cap.memory_bytes.insert(t, mlo);
            } else {
                cap.differing.push((t, lo, hi, mlo, mhi));
            }
        }
        cap
    }
}

/// What converting one container's points gave.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Conversion {
    pub via_limit: u64,
    pub via_node: u64,
    /// Points of % of node without a single node capacity at that instant.
    pub no_capacity: u64,
    /// Instants with CPU but no memory or the other way round.
    pub unpaired: u64,
    pub non_finite: u64,
}

/// The value at `t`, or the latest before it within the page (limits change rarely and may be
/// published a little off the usage's instants), or the first after it.
fn at_or_near(points: &Points, t: i64) -> Option<f64> {
    points.range(..=t).next_back().or_else(|| points.range(t..).next()).map(|(_, v)| *v)
}

/// One resource's usage per instant, in cores or bytes (`scale`: limit/capacity unit -> result unit).
fn usage(
    route: Route,
    of_limit: Option<&Points>,
    limit: Option<&Points>,
    of_node: Option<&Points>,
    capacity: &Points,
    scale: f64,
    stats: &mut Conversion,
) -> Points {
    let mut out = Points::new();
    match route {
        Route::Limit => {
            let (Some(pct), Some(limit)) = (of_limit, limit) else { return out };
            for (&t, &p) in pct {
                if let Some(l) = at_or_near(limit, t) {
                    out.insert(t, p * l / (100.0 * scale));
                }
            }
        }
        Route::Node => {
            let Some(pct) = of_node else { return out };
            for (&t, &p) in pct {
                match capacity.get(&t) {
                    Some(&c) => {
                        out.insert(t, p * c / (100.0 * scale));
                    }
                    None => stats.no_capacity += 1,
                }
            }
        }
        Route::Missing => {}
    }
    out
}

/// Samples of one container from its queried points.
pub(crate) fn convert(
    id: &ContainerId,
    available: &BTreeSet<Metric>,
    values: &HashMap<Metric, Points>,
    capacity: &NodeCapacity,
    stats: &mut Conversion,
) -> (Vec<Sample>, PodOwnerSource) {
    let (cr, mr) = (cpu_route(available), memory_route(available));
    let cpu = usage(
        cr,
        values.get(&Metric::CpuOfLimit),
        values.get(&Metric::CpuLimit),
        values.get(&Metric::CpuOfNode),
        &capacity.cpu_millicores,
        1000.0,
        stats,
    );
    let memory = usage(
        mr,
        values.get(&Metric::MemoryOfLimit),
        values.get(&Metric::MemoryLimit),
        values.get(&Metric::MemoryOfNode),
        &capacity.memory_bytes,
        1.0,
        stats,
    );
    let pod = id.pod.clone().unwrap_or_else(|| id.owner.clone());
    let (kind, workload, resolution) = match &id.pod {
        Some(p) => workload_from_names(&id.owner, p),
        // Workload-level series (no FullPodName): the owner stands for its pods.
        None => ("Deployment".to_string(), id.owner.clone(), PodOwnerSource::Name),
    };
    let mut out = Vec::new();
    let instants: BTreeSet<i64> = cpu.keys().chain(memory.keys()).copied().collect();
    for t in instants {
        let (Some(&c), Some(&m)) = (cpu.get(&t), memory.get(&t)) else {
            stats.unpaired += 1;
            continue;
        };
        if !(c.is_finite() && m.is_finite() && c >= 0.0 && m >= 0.0) {
            stats.non_finite += 1;
            continue;
        }
        for (r, n) in [(cr, 1), (mr, 1)] {
            match r {
                Route::Limit => stats.via_limit += n,
                Route::Node => stats.via_node += n,
                Route::Missing => {}
            }
        }
        out.push(Sample {
            timestamp_ms: t,
            namespace: id.namespace.clone(),
            workload_kind: kind.clone(),
            workload: workload.clone(),
            pod: pod.clone(),
            container: id.container.clone(),
            cpu_cores: c,
            memory_bytes: m,
            ..Default::default()
        });
    }
    (out, resolution)
}

/// Requests and limits per workload container from the newest values (highest across pods).
pub(crate) fn settings(per_container: &[(ContainerId, HashMap<Metric, Points>)]) -> Vec<ContainerSettings> {
    let mut by_key: BTreeMap<(String, String, String, String), ContainerSettings> = BTreeMap::new();
    for (id, values) in per_container {
        let (kind, workload, _) = match &id.pod {
            Some(p) => workload_from_names(&id.owner, p),
            None => ("Deployment".to_string(), id.owner.clone(), PodOwnerSource::Name),
        };
        let latest = |m: Metric| values.get(&m).and_then(|p| p.values().next_back().copied()).filter(|v| *v > 0.0);
        let r = Resources {
            cpu_request_cores: latest(Metric::CpuRequest).map(|v| v / 1000.0),
            cpu_limit_cores: latest(Metric::CpuLimit).map(|v| v / 1000.0),
            memory_request_bytes: latest(Metric::MemoryRequest),
            memory_limit_bytes: latest(Metric::MemoryLimit),
        };
        if r.is_empty() {
            continue;
        }
        let e = by_key
            .entry((id.namespace.clone(), kind.clone(), workload.clone(), id.container.clone()))
            .or_insert_with(|| ContainerSettings {
                namespace: id.namespace.clone(),
                workload_kind: kind,
                workload,
                container: id.container.clone(),
                ..Default::default()
            });
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        e.resources = Resources {
            cpu_request_cores: max(e.resources.cpu_request_cores, r.cpu_request_cores),
            cpu_limit_cores: max(e.resources.cpu_limit_cores, r.cpu_limit_cores),
            memory_request_bytes: max(e.resources.memory_request_bytes, r.memory_request_bytes),
            memory_limit_bytes: max(e.resources.memory_limit_bytes, r.memory_limit_bytes),
        };
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::super::metrics_to_query;
    use super::*;

    fn id(pod: &str, c: &str) -> ContainerId {
        ContainerId { namespace: "shop".into(), owner: "api".into(), pod: Some(pod.into()), container: c.into() }
    }

    #[test]
    fn converts_by_limit_and_by_uniform_node() {
        let c = id("api-5b8f7d9c4-x2x9k", "php-fpm");
        let avail: BTreeSet<Metric> = [Metric::CpuOfLimit, Metric::CpuLimit, Metric::MemoryOfNode].into();
        assert_eq!(metrics_to_query(&avail, false), vec![Metric::MemoryOfNode, Metric::CpuOfLimit, Metric::CpuLimit]);
        let values: HashMap<Metric, Points> = [
            (Metric::CpuOfLimit, Points::from([(60_000, 50.0), (120_000, 25.0), (180_000, 10.0)])),
            (Metric::CpuLimit, Points::from([(60_000, 2000.0)])),
            (Metric::MemoryOfNode, Points::from([(60_000, 1.0), (120_000, 2.0), (180_000, 4.0)])),
        ]
        .into();
        let mut cap = NodeCapacity::from_points(
            &Points::from([(60_000, 4000.0), (120_000, 4000.0), (180_000, 2000.0)]),
            &Points::from([(60_000, 4000.0), (120_000, 4000.0), (180_000, 8000.0)]),
            &Points::from([(60_000, 16e9), (120_000, 16e9), (180_000, 16e9)]),
            &Points::from([(60_000, 16e9), (120_000, 16e9), (180_000, 16e9)]),
        );
        assert_eq!(cap.differing.len(), 1);
        let mut stats = Conversion::default();
        let (samples, _) = convert(&c, &avail, &values, &cap, &mut stats);
        assert_eq!(samples.len(), 2);
        assert_eq!((samples[0].cpu_cores, samples[0].memory_bytes), (1.0, 16e7));
        assert_eq!((samples[1].cpu_cores, samples[1].memory_bytes), (0.5, 32e7));
        assert_eq!((samples[0].workload_kind.as_str(), samples[0].workload.as_str()), ("Deployment", "api"));
        assert_eq!(stats.no_capacity, 1);
        assert_eq!(stats.unpaired, 1);
        cap.memory_bytes.clear();
        let (none, _) = convert(&c, &avail, &values, &cap, &mut Conversion::default());
        assert!(none.is_empty(), "no node capacity: nothing stored");
    }

    #[test]
    fn settings_take_the_newest_values() {
        let c = id("api-5b8f7d9c4-abcde", "envoy");
        let values: HashMap<Metric, Points> = [
            (Metric::CpuRequest, Points::from([(1, 100.0), (2, 250.0)])),
            (Metric::MemoryLimit, Points::from([(2, 5e8)])),
        ]
        .into();
        let s = settings(&[(c, values)]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].resources.cpu_request_cores, Some(0.25));
        assert_eq!(s[0].resources.memory_limit_bytes, Some(5e8));
        assert_eq!(s[0].resources.cpu_limit_cores, None);
    }
}

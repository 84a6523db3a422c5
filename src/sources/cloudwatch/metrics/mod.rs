//! Metrics mode: enhanced-observability container metrics in namespace `ContainerInsights`.
//!
//! Per container (dimensions `ClusterName, Namespace, PodName, FullPodName, ContainerName`;
//! `PodName` is the owner workload's name, `FullPodName` the pod's):
//!
//! ```text
//! container_cpu_utilization                            % of the node's CPU
//! container_memory_utilization                         % of the node's memory
//! container_cpu_utilization_over_container_limit       % of the container's CPU limit
//! container_memory_utilization_over_container_limit    % of the container's memory limit
//! container_cpu_limit, container_cpu_request           millicores
//! container_memory_limit, container_memory_request     bytes
//! ```
//!
//! Usage in cores and bytes is `% of limit x limit` when the container has a limit, else
//! `% of node x node capacity`, which needs every node to have the same capacity (the container
//! metrics do not say which node a pod ran on): `node_cpu_limit` / `node_memory_limit` per
//! cluster, whose Minimum and Maximum agree only then. Otherwise the point cannot be converted
//! and is not stored.
//!
//! Cost: GetMetricData bills every query of every call. The plan batches up to 500 queries
//! (all of one container's in the same call) and cuts time into pages short enough that one
//! call's answer fits its 100,800-datapoint cap, so each time page costs ceil(series/500)
//! calls and no NextToken round trips; NextToken is still followed when the service pages.

mod calls;
mod convert;

pub(crate) use crate::sources::time::{align_down, align_up};
pub(crate) use calls::{fetch_batch, list_series};
pub(crate) use convert::{convert, settings, Conversion, NodeCapacity, Points};

use crate::domain::DAY_MS;
use aws_sdk_cloudwatch::types::Dimension;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const NAMESPACE: &str = "ContainerInsights";
pub(crate) const MAX_QUERIES_PER_CALL: usize = 500;
pub(crate) const MAX_DATAPOINTS_PER_CALL: i64 = 100_800;

/// Retention of each resolution: 60 s data for 15 days, 300 s for 63 days, 3600 s for 455.
pub(crate) const RESOLUTIONS: [(i64, i64); 3] = [(60, 15 * DAY_MS), (300, 63 * DAY_MS), (3600, 455 * DAY_MS)];

/// The container metrics read, and what each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Metric {
    CpuOfNode,
    MemoryOfNode,
    CpuOfLimit,
    MemoryOfLimit,
    CpuLimit,
    MemoryLimit,
    CpuRequest,
    MemoryRequest,
}

impl Metric {
    pub(crate) const ALL: [Metric; 8] = [
        Metric::CpuOfNode,
        Metric::MemoryOfNode,
        Metric::CpuOfLimit,
        Metric::MemoryOfLimit,
        Metric::CpuLimit,
        Metric::MemoryLimit,
        Metric::CpuRequest,
        Metric::MemoryRequest,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::CpuOfNode => "container_cpu_utilization",
            Metric::MemoryOfNode => "container_memory_utilization",
            Metric::CpuOfLimit => "container_cpu_utilization_over_container_limit",
            Metric::MemoryOfLimit => "container_memory_utilization_over_container_limit",
            Metric::CpuLimit => "container_cpu_limit",
            Metric::MemoryLimit => "container_memory_limit",
            Metric::CpuRequest => "container_cpu_request",
            Metric::MemoryRequest => "container_memory_request",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// The period CloudWatch still keeps for data this old (the table's test reads it).
#[cfg(test)]
fn period_for_age(age_ms: i64) -> Option<i64> {
    RESOLUTIONS.iter().find(|(_, keep)| age_ms <= *keep).map(|(p, _)| *p)
}

/// A stretch of time read at one period: `[start_ms, end_ms)`, both on the period's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Band {
    pub start_ms: i64,
    pub end_ms: i64,
    pub period_s: i64,
}

/// Splits `[from, to)` by the resolution still available (oldest first). Time older than
/// 455 days is dropped; edges fall on the coarser grid so bands never overlap.
pub(crate) fn bands(from_ms: i64, to_ms: i64, now_ms: i64) -> Vec<Band> {
    let mut out = Vec::new();
    let mut edge_new = to_ms;
    for (period, keep) in RESOLUTIONS {
        let coarsest = RESOLUTIONS[RESOLUTIONS.len() - 1].0 * 1000;
        let oldest = (now_ms - keep).max(from_ms);
        // The finer band starts on the coarse grid, so the coarser band ends where it starts.
        let start = if oldest > from_ms { align_up(oldest, coarsest) } else { align_up(from_ms, period * 1000) };
        let end = align_down(edge_new, period * 1000);
        if start < end {
            out.push(Band { start_ms: start, end_ms: end, period_s: period });
            edge_new = start;
        }
        if oldest <= from_ms {
            break;
        }
    }
    out.reverse();
    out
}

/// Time pages of a band for `queries` queries: each call of up to `per_call` queries covers
/// at most 100,800 datapoints, so no answer needs a NextToken.
pub(crate) fn time_pages(band: Band, queries: usize, per_call: usize, max_datapoints: i64) -> Vec<(i64, i64)> {
    let width = queries.clamp(1, per_call.clamp(1, MAX_QUERIES_PER_CALL)) as i64;
    let periods = (max_datapoints.clamp(1, MAX_DATAPOINTS_PER_CALL) / width).max(1);
    let span = periods * band.period_s * 1000;
    let mut out = Vec::new();
    let mut start = band.start_ms;
    while start < band.end_ms {
        let end = (start + span).min(band.end_ms);
        out.push((start, end));
        start = end;
    }
    out
}

/// One container of one pod, as the metrics name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) struct ContainerId {
    pub namespace: String,
    /// `PodName`: the owner workload's name.
    pub owner: String,
    /// `FullPodName`, when the series has it.
    pub pod: Option<String>,
    pub container: String,
}

impl ContainerId {
    fn dimensions(&self, cluster: &str) -> Vec<Dimension> {
        let d = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
        let mut dims = vec![
            d("ClusterName", cluster),
            d("Namespace", &self.namespace),
            d("PodName", &self.owner),
            d("ContainerName", &self.container),
        ];
        if let Some(p) = &self.pod {
            dims.push(d("FullPodName", p));
        }
        dims
    }
}

/// Container series found by ListMetrics, grouped per container.
#[derive(Debug, Default)]
pub(crate) struct MetricListing {
    pub containers: BTreeMap<ContainerId, BTreeSet<Metric>>,
    /// Entries listed more than once (one per datum on some servers).
    pub duplicates: u64,
    /// Workload-level series left out because per-pod series of the same container exist.
    pub aggregated: u64,
}

/// Groups listed (metric name, dimensions) of one cluster into containers, de-duplicated.
pub(crate) fn inventory(
    listed: &[(String, Vec<(String, String)>)],
    cluster: &str,
    namespaces: &[String],
) -> MetricListing {
    let mut inv = MetricListing::default();
    let mut seen = BTreeSet::new();
    for (name, dims) in listed {
        let Some(metric) = Metric::from_name(name) else { continue };
        let mut sorted = dims.clone();
        sorted.sort();
        if !seen.insert((name.clone(), sorted)) {
            inv.duplicates += 1;
            continue;
        }
        let get = |k: &str| dims.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let allowed = ["ClusterName", "Namespace", "PodName", "FullPodName", "ContainerName"];
        if dims.iter().any(|(n, _)| !allowed.contains(&n.as_str())) || get("ClusterName").as_deref() != Some(cluster) {
            continue;
        }
        let (Some(namespace), Some(owner), Some(container)) = (get("Namespace"), get("PodName"), get("ContainerName"))
        else {
            continue;
        };
        if !namespaces.is_empty() && !namespaces.contains(&namespace) {
            continue;
        }
        let id = ContainerId { namespace, owner, pod: get("FullPodName"), container };
        inv.containers.entry(id).or_default().insert(metric);
    }
    // Per-pod series say more than the workload-level maximum: keep only those when both exist.
    let per_pod: BTreeSet<(String, String, String)> = inv
        .containers
        .keys()
        .filter(|k| k.pod.is_some())
        .map(|k| (k.namespace.clone(), k.owner.clone(), k.container.clone()))
        .collect();
    let before = inv.containers.len();
    inv.containers.retain(|k, _| {
        k.pod.is_some() || !per_pod.contains(&(k.namespace.clone(), k.owner.clone(), k.container.clone()))
    });
    inv.aggregated = (before - inv.containers.len()) as u64;
    inv
}

/// How usage of one resource is read for a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) enum Route {
    /// % of the container's limit x the limit.
    Limit,
    /// % of the node x the node's capacity (same on every node).
    Node,
    /// No series to read it from.
    Missing,
}

pub(crate) fn cpu_route(m: &BTreeSet<Metric>) -> Route {
    route(m, Metric::CpuOfLimit, Metric::CpuLimit, Metric::CpuOfNode)
}

pub(crate) fn memory_route(m: &BTreeSet<Metric>) -> Route {
    route(m, Metric::MemoryOfLimit, Metric::MemoryLimit, Metric::MemoryOfNode)
}

fn route(m: &BTreeSet<Metric>, of_limit: Metric, limit: Metric, of_node: Metric) -> Route {
    if m.contains(&of_limit) && m.contains(&limit) {
        Route::Limit
    } else if m.contains(&of_node) {
        Route::Node
    } else {
        Route::Missing
    }
}

/// The metrics to query for a container; `settings` adds requests and limits (last page only).
pub(crate) fn metrics_to_query(m: &BTreeSet<Metric>, settings: bool) -> Vec<Metric> {
    let mut out = BTreeSet::new();
    for (r, of_limit, limit, of_node) in [
        (cpu_route(m), Metric::CpuOfLimit, Metric::CpuLimit, Metric::CpuOfNode),
        (memory_route(m), Metric::MemoryOfLimit, Metric::MemoryLimit, Metric::MemoryOfNode),
    ] {
        match r {
            Route::Limit => out.extend([of_limit, limit]),
            Route::Node => {
                out.insert(of_node);
            }
            Route::Missing => {}
        }
    }
    if settings {
        out.extend(
            [Metric::CpuLimit, Metric::MemoryLimit, Metric::CpuRequest, Metric::MemoryRequest]
                .into_iter()
                .filter(|x| m.contains(x)),
        );
    }
    out.into_iter().collect()
}

/// Cluster-wide node capacity: Minimum and Maximum of `node_cpu_limit` / `node_memory_limit`.
pub(crate) const NODE_CAPACITY: [(&str, &str); 4] = [
    ("node_cpu_limit", "Minimum"),
    ("node_cpu_limit", "Maximum"),
    ("node_memory_limit", "Minimum"),
    ("node_memory_limit", "Maximum"),
];

/// One query of a planned call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Query {
    Container(ContainerId, Metric),
    NodeCapacity(usize),
}

/// Cuts a time page's queries into calls of at most `per_call` (node capacity first, when
/// needed): ceil(queries / per_call) calls. Points are joined once the whole page is in, so a
/// container's series may sit in different calls.
pub(crate) fn batches(plan: &[(ContainerId, Vec<Metric>)], per_call: usize, node_capacity: bool) -> Vec<Vec<Query>> {
    let per_call = per_call.clamp(1, MAX_QUERIES_PER_CALL);
    let capacity = if node_capacity { 0..NODE_CAPACITY.len() } else { 0..0 };
    let all: Vec<Query> = capacity
        .map(Query::NodeCapacity)
        .chain(plan.iter().flat_map(|(id, metrics)| metrics.iter().map(|m| Query::Container(id.clone(), *m))))
        .collect();
    all.chunks(per_call).map(<[Query]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn id(pod: &str, c: &str) -> ContainerId {
        ContainerId { namespace: "shop".into(), owner: "api".into(), pod: Some(pod.into()), container: c.into() }
    }

    #[test]
    fn period_follows_age() {
        assert_eq!(period_for_age(DAY_MS), Some(60));
        assert_eq!(period_for_age(15 * DAY_MS), Some(60));
        assert_eq!(period_for_age(16 * DAY_MS), Some(300));
        assert_eq!(period_for_age(63 * DAY_MS), Some(300));
        assert_eq!(period_for_age(64 * DAY_MS), Some(3600));
        assert_eq!(period_for_age(456 * DAY_MS), None);
    }

    #[test]
    fn bands_meet_without_gaps() {
        let b = bands(NOW - 100 * DAY_MS, NOW, NOW);
        assert_eq!(b.iter().map(|b| b.period_s).collect::<Vec<_>>(), vec![3600, 300, 60]);
        for w in b.windows(2) {
            assert_eq!(w[0].end_ms, w[1].start_ms);
        }
        assert!(b[2].start_ms >= NOW - 15 * DAY_MS && b[1].start_ms >= NOW - 63 * DAY_MS);
        assert_eq!(b[2].end_ms, align_down(NOW, 60_000));
        let recent = bands(NOW - 14 * DAY_MS, NOW, NOW);
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].period_s, 60);
        let old = bands(NOW - 80 * DAY_MS, NOW - 70 * DAY_MS, NOW);
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].period_s, 3600);
    }

    #[test]
    fn pages_fit_one_answer() {
        let band = Band { start_ms: 0, end_ms: 14 * DAY_MS, period_s: 60 };
        let pages = time_pages(band, 6000, 500, MAX_DATAPOINTS_PER_CALL);
        // 100,800 / 500 = 201 minutes per page.
        assert_eq!(pages[0].1 - pages[0].0, 201 * 60_000);
        assert_eq!(pages.len(), (14 * 1440_usize).div_ceil(201));
        // Fewer series than a call holds: longer pages.
        assert_eq!(time_pages(band, 5, 500, MAX_DATAPOINTS_PER_CALL).len(), 1);
        assert_eq!(time_pages(band, 54, 500, MAX_DATAPOINTS_PER_CALL)[0].1, 1866 * 60_000);
        assert_eq!(time_pages(band, 54, 500, 540)[0].1, 10 * 60_000);
    }

    #[test]
    fn batches_hold_at_most_500() {
        let plan: Vec<(ContainerId, Vec<Metric>)> = (0..400)
            .map(|i| {
                (
                    id(&format!("api-5b8f7d9c4-{i:05}"), "nginx"),
                    vec![Metric::CpuOfLimit, Metric::CpuLimit, Metric::MemoryOfNode],
                )
            })
            .collect();
        let b = batches(&plan, 500, true);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![500, 500, 204]);
        assert_eq!(b.len(), 1204_usize.div_ceil(500), "ceil(series / 500) calls");
        assert!(matches!(b[0][0], Query::NodeCapacity(0)));
        assert!(batches(&plan, 900, false).iter().all(|x| x.len() <= 500));
        assert_eq!(batches(&plan, 7, false).len(), 1200_usize.div_ceil(7));
    }

    #[test]
    fn inventory_deduplicates_and_prefers_pods() {
        let dims = |pod: Option<&str>, c: &str| {
            let mut d = vec![
                ("ClusterName".to_string(), "prod".to_string()),
                ("Namespace".into(), "shop".into()),
                ("PodName".into(), "api".into()),
                ("ContainerName".into(), c.into()),
            ];
            if let Some(p) = pod {
                d.push(("FullPodName".into(), p.into()));
            }
            d
        };
        let listed = vec![
            ("container_cpu_utilization".to_string(), dims(Some("api-5b8f7d9c4-abcde"), "nginx")),
            ("container_cpu_utilization".to_string(), dims(Some("api-5b8f7d9c4-abcde"), "nginx")),
            ("container_memory_utilization".to_string(), dims(Some("api-5b8f7d9c4-abcde"), "nginx")),
            ("container_cpu_utilization".to_string(), dims(None, "nginx")),
            ("container_cpu_utilization".to_string(), dims(None, "envoy")),
            ("node_cpu_limit".to_string(), dims(None, "envoy")),
        ];
        let inv = inventory(&listed, "prod", &[]);
        assert_eq!(inv.duplicates, 1);
        assert_eq!(inv.aggregated, 1);
        assert_eq!(inv.containers.len(), 2);
        assert_eq!(inventory(&listed, "other", &[]).containers.len(), 0);
        assert_eq!(inventory(&listed, "prod", &["kube-system".into()]).containers.len(), 0);
    }
}

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

use super::{workload_from_names, ApiCalls, AwsError, Clients, Resolution};
use crate::domain::{Resources, Sample, DAY_MS};
use crate::sources::prometheus::ContainerSettings;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric as CwMetric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub const NAMESPACE: &str = "ContainerInsights";
pub const MAX_QUERIES_PER_CALL: usize = 500;
pub const MAX_DATAPOINTS_PER_CALL: i64 = 100_800;

/// Retention of each resolution: 60 s data for 15 days, 300 s for 63 days, 3600 s for 455.
pub const RESOLUTIONS: [(i64, i64); 3] = [(60, 15 * DAY_MS), (300, 63 * DAY_MS), (3600, 455 * DAY_MS)];

/// The container metrics read, and what each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
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
    pub const ALL: [Metric; 8] = [
        Metric::CpuOfNode,
        Metric::MemoryOfNode,
        Metric::CpuOfLimit,
        Metric::MemoryOfLimit,
        Metric::CpuLimit,
        Metric::MemoryLimit,
        Metric::CpuRequest,
        Metric::MemoryRequest,
    ];

    pub fn name(self) -> &'static str {
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

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// The period CloudWatch still keeps for data this old.
pub fn period_for_age(age_ms: i64) -> Option<i64> {
    RESOLUTIONS.iter().find(|(_, keep)| age_ms <= *keep).map(|(p, _)| *p)
}

/// A stretch of time read at one period: `[start_ms, end_ms)`, both on the period's grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    pub start_ms: i64,
    pub end_ms: i64,
    pub period_s: i64,
}

/// Splits `[from, to)` by the resolution still available (oldest first). Time older than
/// 455 days is dropped; edges fall on the coarser grid so bands never overlap.
pub fn bands(from_ms: i64, to_ms: i64, now_ms: i64) -> Vec<Band> {
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

pub fn align_up(t: i64, step: i64) -> i64 {
    t.div_euclid(step) * step + if t.rem_euclid(step) == 0 { 0 } else { step }
}

pub fn align_down(t: i64, step: i64) -> i64 {
    t.div_euclid(step) * step
}

/// Time pages of a band for `queries` queries: each call of up to `per_call` queries covers
/// at most 100,800 datapoints, so no answer needs a NextToken.
pub fn time_pages(band: Band, queries: usize, per_call: usize, max_datapoints: i64) -> Vec<(i64, i64)> {
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
pub struct ContainerId {
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
pub struct Inventory {
    pub containers: BTreeMap<ContainerId, BTreeSet<Metric>>,
    /// Entries listed more than once (one per datum on some servers).
    pub duplicates: u64,
    /// Workload-level series left out because per-pod series of the same container exist.
    pub aggregated: u64,
}

/// Groups listed (metric name, dimensions) of one cluster into containers, de-duplicated.
pub fn inventory(listed: &[(String, Vec<(String, String)>)], cluster: &str, namespaces: &[String]) -> Inventory {
    let mut inv = Inventory::default();
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
pub enum Route {
    /// % of the container's limit x the limit.
    Limit,
    /// % of the node x the node's capacity (same on every node).
    Node,
    /// No series to read it from.
    Missing,
}

pub fn cpu_route(m: &BTreeSet<Metric>) -> Route {
    route(m, Metric::CpuOfLimit, Metric::CpuLimit, Metric::CpuOfNode)
}

pub fn memory_route(m: &BTreeSet<Metric>) -> Route {
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
pub fn metrics_to_query(m: &BTreeSet<Metric>, settings: bool) -> Vec<Metric> {
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
pub const NODE_CAPACITY: [(&str, &str); 4] = [
    ("node_cpu_limit", "Minimum"),
    ("node_cpu_limit", "Maximum"),
    ("node_memory_limit", "Minimum"),
    ("node_memory_limit", "Maximum"),
];

/// One query of a planned call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    Container(ContainerId, Metric),
    NodeCapacity(usize),
}

/// Cuts a time page's queries into calls of at most `per_call` (node capacity first, when
/// needed): ceil(queries / per_call) calls. Points are joined once the whole page is in, so a
/// container's series may sit in different calls.
pub fn batches(plan: &[(ContainerId, Vec<Metric>)], per_call: usize, node_capacity: bool) -> Vec<Vec<Query>> {
    let per_call = per_call.clamp(1, MAX_QUERIES_PER_CALL);
    let capacity = if node_capacity { 0..NODE_CAPACITY.len() } else { 0..0 };
    let all: Vec<Query> = capacity
        .map(Query::NodeCapacity)
        .chain(plan.iter().flat_map(|(id, metrics)| metrics.iter().map(|m| Query::Container(id.clone(), *m))))
        .collect();
    all.chunks(per_call).map(<[Query]>::to_vec).collect()
}

// ---------------------------------------------------------------------------------------------
// Converting

/// Values of one query: epoch ms -> value.
pub type Points = BTreeMap<i64, f64>;

/// Node capacity per instant, when every node agreed.
#[derive(Debug, Default, Clone)]
pub struct NodeCapacity {
    pub cpu_millicores: Points,
    pub memory_bytes: Points,
    /// Instants where nodes differed: (lowest, highest) CPU millicores and memory bytes.
    pub differing: Vec<(i64, f64, f64, f64, f64)>,
}

impl NodeCapacity {
    pub fn from_points(min_cpu: &Points, max_cpu: &Points, min_mem: &Points, max_mem: &Points) -> Self {
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
pub struct Conversion {
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
pub fn convert(
    id: &ContainerId,
    available: &BTreeSet<Metric>,
    values: &HashMap<Metric, Points>,
    capacity: &NodeCapacity,
    stats: &mut Conversion,
) -> (Vec<Sample>, Resolution) {
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
        None => ("Deployment".to_string(), id.owner.clone(), Resolution::Name),
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
pub fn settings(per_container: &[(ContainerId, HashMap<Metric, Points>)]) -> Vec<ContainerSettings> {
    let mut by_key: BTreeMap<(String, String, String, String), ContainerSettings> = BTreeMap::new();
    for (id, values) in per_container {
        let (kind, workload, _) = match &id.pod {
            Some(p) => workload_from_names(&id.owner, p),
            None => ("Deployment".to_string(), id.owner.clone(), Resolution::Name),
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

// ---------------------------------------------------------------------------------------------
// Calls

/// Lists the container series of a cluster, one paginated ListMetrics per metric name.
pub async fn list_series(
    clients: &Clients,
    calls: &ApiCalls,
    cluster: &str,
) -> Result<Vec<(String, Vec<(String, String)>)>, AwsError> {
    let mut listed = Vec::new();
    for metric in Metric::ALL {
        let mut token: Option<String> = None;
        loop {
            ApiCalls::add(&calls.list_metrics, 1);
            let out = clients
                .cloudwatch
                .list_metrics()
                .namespace(NAMESPACE)
                .metric_name(metric.name())
                .dimensions(DimensionFilter::builder().name("ClusterName").value(cluster).build())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| clients.cloudwatch_error(&e, "ListMetrics"))?;
            for m in out.metrics() {
                let dims = m
                    .dimensions()
                    .iter()
                    .map(|d| (d.name().unwrap_or("").to_string(), d.value().unwrap_or("").to_string()))
                    .collect();
                listed.push((m.metric_name().unwrap_or("").to_string(), dims));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(listed)
}

fn query_spec(q: &Query, id: String, cluster: &str, period_s: i64) -> MetricDataQuery {
    let (metric, stat) = match q {
        Query::Container(c, m) => {
            let metric = CwMetric::builder()
                .namespace(NAMESPACE)
                .metric_name(m.name())
                .set_dimensions(Some(c.dimensions(cluster)))
                .build();
            (metric, "Maximum")
        }
        Query::NodeCapacity(i) => {
            let (name, stat) = NODE_CAPACITY[*i];
            let metric = CwMetric::builder()
                .namespace(NAMESPACE)
                .metric_name(name)
                .dimensions(Dimension::builder().name("ClusterName").value(cluster).build())
                .build();
            (metric, stat)
        }
    };
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric).period(period_s as i32).stat(stat).build())
        .return_data(true)
        .build()
}

/// Runs one planned call over `[start, end)`, following NextToken, and returns each query's points.
pub async fn fetch_batch(
    clients: &Clients,
    calls: &ApiCalls,
    cluster: &str,
    (start_ms, end_ms): (i64, i64),
    period_s: i64,
    queries: &[Query],
) -> Result<Vec<Points>, AwsError> {
    let specs: Vec<MetricDataQuery> =
        queries.iter().enumerate().map(|(i, q)| query_spec(q, format!("q{i}"), cluster, period_s)).collect();
    let mut points = vec![Points::new(); queries.len()];
    let mut token: Option<String> = None;
    loop {
        ApiCalls::add(&calls.get_metric_data, 1);
        ApiCalls::add(&calls.metrics_requested, specs.len() as u64);
        if token.is_some() {
            ApiCalls::add(&calls.continuations, 1);
        }
        let out = clients
            .cloudwatch
            .get_metric_data()
            .start_time(DateTime::from_millis(start_ms))
            .end_time(DateTime::from_millis(end_ms))
            .scan_by(ScanBy::TimestampAscending)
            .max_datapoints(MAX_DATAPOINTS_PER_CALL as i32)
            .set_metric_data_queries(Some(specs.clone()))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| clients.cloudwatch_error(&e, "GetMetricData"))?;
        for r in out.metric_data_results() {
            let Some(i) = r.id().and_then(|id| id.strip_prefix('q')).and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            match r.status_code() {
                Some(StatusCode::Forbidden) => {
                    return Err(AwsError::AccessDenied {
                        action: "cloudwatch:GetMetricData".into(),
                        region: clients.region.clone(),
                        message: messages(r),
                    })
                }
                Some(StatusCode::InternalError) => {
                    return Err(AwsError::Api {
                        operation: "GetMetricData".into(),
                        code: "InternalError".into(),
                        message: messages(r),
                    })
                }
                _ => {}
            }
            let Some(slot) = points.get_mut(i) else { continue };
            for (t, v) in r.timestamps().iter().zip(r.values()) {
                let ms = t.to_millis().unwrap_or(i64::MIN);
                if (start_ms..end_ms).contains(&ms) {
                    slot.insert(ms, *v);
                }
            }
            ApiCalls::add(&calls.datapoints, r.values().len() as u64);
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(points)
}

fn messages(r: &aws_sdk_cloudwatch::types::MetricDataResult) -> String {
    let m: Vec<&str> = r.messages().iter().filter_map(|m| m.value()).collect();
    if m.is_empty() {
        format!("query {} was refused", r.id().unwrap_or("?"))
    } else {
        m.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

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

    fn id(pod: &str, c: &str) -> ContainerId {
        ContainerId { namespace: "shop".into(), owner: "api".into(), pod: Some(pod.into()), container: c.into() }
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

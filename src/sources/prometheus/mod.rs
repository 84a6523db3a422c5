//! Prometheus (and anything speaking its HTTP API: Thanos, Mimir, VictoriaMetrics, Amazon
//! Managed Prometheus behind a SigV4 proxy) as a source of usage history.
//!
//! Usage comes from cAdvisor series, owners and settings from kube-state-metrics series:
//!
//! ```text
//! CPU     max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!="",container!="POD",...}[W]))
//! memory  max by (namespace, pod, container) (container_memory_working_set_bytes{container!="",container!="POD",...})
//! owners  kube_pod_owner, kube_replicaset_owner, kube_job_owner                        (series API)
//! current max by (namespace, pod, container, resource) (last_over_time(kube_pod_container_resource_{requests,limits}[1h]))
//! OOM     kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}         (series API)
//! ```
//!
//! `query_range` requests are planned so that no series exceeds Prometheus's 11,000 points
//! (time windows) and no response holds more than a budget of points (pod batches). The
//! pure pieces (planning, PromQL text, payload parsing, owner resolution, joining CPU and
//! memory into samples) are separate from the HTTP client so they can be tested alone.

pub mod chunks;
pub mod rate;
pub mod remote_read;

use crate::domain::{canonical_kind, Resources, Sample};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

pub const CPU_METRIC: &str = "container_cpu_usage_seconds_total";
pub const MEMORY_METRIC: &str = "container_memory_working_set_bytes";
/// Prometheus refuses a range query with more points than this per series.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// Window of the `last_over_time` that reads current requests and limits.
pub const SETTINGS_LOOKBACK: &str = "1h";

/// Labels of one series.
pub type Labels = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("{url}: cannot connect: {message} (is Prometheus running there, and is --url right?)")]
    Connect { url: String, message: String },
    #[error("{url}: no complete answer within {secs}s (raise --timeout, or lower --max-points / --concurrency)")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("{url}: Prometheus refused the query ({kind}): {message}")]
    Api { url: String, kind: String, message: String },
    #[error("{url}: remote read not available: {message}")]
    NoRemoteRead { url: String, message: String },
    #[error("{url}: unexpected response: {message}")]
    BadResponse { url: String, message: String },
    #[error("{0}")]
    Config(String),
}

// ---------------------------------------------------------------------------------------------
// PromQL text

/// A PromQL string literal (double-quoted, escaped).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Escapes regex metacharacters so a name matches only itself inside `=~`.
pub fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `label=~"a|b|c"` matching exactly these values.
pub fn any_of(label: &str, values: &[&str]) -> String {
    let alternatives: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
    format!("{label}=~{}", quote(&alternatives.join("|")))
}

/// Which series to read, shared by every query of one import.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these namespaces (empty: all).
    pub namespaces: Vec<String>,
    /// `name=value` added to every query (one cluster of a multi-cluster Thanos/Mimir).
    pub cluster: Option<(String, String)>,
    /// Extra matchers for the cAdvisor usage series only, e.g. `job="kubelet"`.
    pub selector: Option<String>,
}

impl Scope {
    /// Checks the parts users type, so mistakes are named before any request.
    pub fn validate(&self) -> Result<(), PrometheusError> {
        if let Some((name, _)) = &self.cluster {
            if !is_label_name(name) {
                return Err(PrometheusError::Config(format!(
                    "--cluster-label: `{name}` is not a label name (expected NAME=VALUE, e.g. cluster=prod)"
                )));
            }
        }
        if let Some(sel) = &self.selector {
            let s = sel.trim();
            if s.is_empty() || s.contains('{') || s.contains('}') {
                return Err(PrometheusError::Config(format!(
                    "--selector {sel:?}: expected label matchers without braces, e.g. 'job=\"kubelet\"' or 'cluster=\"prod\",region=~\"eu.*\"'"
                )));
            }
        }
        Ok(())
    }

    /// Matchers every query gets: cluster and namespaces.
    fn common(&self) -> Vec<String> {
        let mut m = Vec::new();
        if let Some((name, value)) = &self.cluster {
            m.push(format!("{name}={}", quote(value)));
        }
        if !self.namespaces.is_empty() {
            let ns: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
            m.push(any_of("namespace", &ns));
        }
        m
    }

    /// Matchers of the cAdvisor usage series.
    pub fn usage_matchers(&self) -> Vec<String> {
        let mut m = vec![r#"container!="""#.to_string(), r#"container!="POD""#.to_string()];
        m.extend(self.common());
        if let Some(sel) = &self.selector {
            m.push(sel.trim().trim_end_matches(',').to_string());
        }
        m
    }

    /// A kube-state-metrics selector: `metric{extra..., cluster, namespace}`.
    pub fn ksm(&self, metric: &str, extra: &[&str]) -> String {
        let mut m: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        m.extend(self.common());
        format!("{metric}{{{}}}", m.join(","))
    }
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The two usage queries for one batch of pods (`pods` empty: no pod restriction).
pub fn usage_queries(scope: &Scope, pods: &[(String, String)], rate_window_ms: i64) -> (String, String) {
    let mut m = scope.usage_matchers();
    if !pods.is_empty() {
        let namespaces: BTreeSet<&str> = pods.iter().map(|(ns, _)| ns.as_str()).collect();
        let names: BTreeSet<&str> = pods.iter().map(|(_, p)| p.as_str()).collect();
        if scope.namespaces.is_empty() || namespaces.len() < scope.namespaces.len() {
            m.push(any_of("namespace", &namespaces.into_iter().collect::<Vec<_>>()));
        }
        m.push(any_of("pod", &names.into_iter().collect::<Vec<_>>()));
    }
    let sel = m.join(",");
    let window = promql_duration(rate_window_ms);
    (
        format!("max by (namespace, pod, container) (rate({CPU_METRIC}{{{sel}}}[{window}]))"),
        format!("max by (namespace, pod, container) ({MEMORY_METRIC}{{{sel}}})"),
    )
}

/// Milliseconds as a PromQL duration (`60s`, `1500ms`).
pub fn promql_duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

/// One `query_range` time window: both ends on the step grid, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    pub fn points(&self, step_ms: i64) -> i64 {
        (self.end_ms - self.start_ms) / step_ms + 1
    }
}

/// First instant on the step grid at or after `t`.
pub fn align_up(t: i64, step_ms: i64) -> i64 {
    t.div_euclid(step_ms) * step_ms + if t.rem_euclid(step_ms) == 0 { 0 } else { step_ms }
}

/// Last instant on the step grid at or before `t`.
pub fn align_down(t: i64, step_ms: i64) -> i64 {
    t.div_euclid(step_ms) * step_ms
}

/// Splits `[from, to]` (grid-aligned) into windows of at most `max_points` points each.
pub fn time_windows(from_ms: i64, to_ms: i64, step_ms: i64, max_points: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let span = (max_points.clamp(1, MAX_POINTS_PER_SERIES) - 1) * step_ms;
    let mut start = from_ms;
    while start <= to_ms {
        let end = (start + span).min(to_ms);
        out.push(Window { start_ms: start, end_ms: end });
        start = end + step_ms;
    }
    out
}

/// Splits a window at UTC midnights, so each piece lies in one day of the store.
pub fn day_windows(window: Window, step_ms: i64) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = window.start_ms;
    while start <= window.end_ms {
        let midnight = (start.div_euclid(crate::domain::DAY_MS) + 1) * crate::domain::DAY_MS;
        let end = align_down(midnight - 1, step_ms).max(start).min(window.end_ms);
        out.push(Window { start_ms: start, end_ms: end });
        start = end + step_ms;
    }
    out
}

/// Points one remote-read batch may decode: its samples are held as rows until stored, so
/// batches are smaller than a query_range answer may be.
pub const REMOTE_READ_POINTS: u64 = 50_000;

/// Groups pods into batches whose containers × points stay within `max_points_per_request`
/// (a pod is never split; one pod alone may exceed the budget).
pub fn pod_batches(
    pods: &BTreeMap<(String, String), usize>,
    points_per_series: i64,
    max_points_per_request: u64,
) -> Vec<Vec<(String, String)>> {
    let per_request = (max_points_per_request / points_per_series.max(1) as u64).max(1) as usize;
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for (pod, &containers) in pods {
        if !current.is_empty() && used + containers > per_request {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(pod.clone());
        used += containers;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// How many HTTP requests an import of `containers` containers in pods of `containers_per_pod`
/// over `[from, to]` makes at most (without retries): per window one series discovery and,
/// per pod batch, two range queries or one remote read (plus its probe), and the
/// kube-state-metrics and php-fpm exporter requests.
pub fn planned_requests(
    containers: usize,
    containers_per_pod: usize,
    from_ms: i64,
    to_ms: i64,
    step_ms: i64,
    max_points_per_request: u64,
    path: ReadPath,
) -> u64 {
    let mut pods = BTreeMap::new();
    for i in 0..containers.div_ceil(containers_per_pod.max(1)) {
        pods.insert((String::new(), format!("{i:08}")), containers_per_pod.max(1));
    }
    let mut windows = time_windows(from_ms, to_ms, step_ms, MAX_POINTS_PER_SERIES);
    let (per_batch, probe, budget) = match path {
        ReadPath::QueryRange => (2, 0, max_points_per_request),
        ReadPath::RemoteRead => {
            windows = windows.into_iter().flat_map(|w| day_windows(w, step_ms)).collect();
            (1, 1, max_points_per_request.min(REMOTE_READ_POINTS))
        }
    };
    let per_window: u64 =
        windows.iter().map(|w| 1 + per_batch * pod_batches(&pods, w.points(step_ms), budget).len() as u64).sum();
    KSM_REQUESTS + super::php_fpm_exporter::REQUESTS + probe + per_window
}

/// Requests made once per import for kube-state-metrics data.
pub const KSM_REQUESTS: u64 = 6;

// ---------------------------------------------------------------------------------------------
// Payloads

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: Labels,
    values: Vec<(f64, String)>,
}

#[derive(Deserialize)]
struct VectorSample {
    metric: Labels,
    value: (f64, String),
}

/// A series of a range query: its labels and (epoch ms, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// Unwraps the `{"status": ..., "data": ...}` envelope; `Err` is (errorType, message).
fn envelope<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, (String, String)> {
    let env: Envelope<T> = serde_json::from_slice(body).map_err(|e| ("bad_json".to_string(), bad_json(body, &e)))?;
    if env.status != "success" {
        return Err((
            env.error_type.unwrap_or_else(|| "unknown".into()),
            env.error.unwrap_or_else(|| format!("status {:?} without an error message", env.status)),
        ));
    }
    env.data.ok_or_else(|| ("malformed".into(), "`data` missing from a successful response".into()))
}

fn bad_json(body: &[u8], e: &serde_json::Error) -> String {
    let head: String =
        String::from_utf8_lossy(&body[..body.len().min(120)]).chars().filter(|c| !c.is_control()).collect();
    format!("not a Prometheus API response ({e}); body starts with {head:?}")
}

fn parse_value(text: &str) -> Result<f64, String> {
    // Prometheus writes NaN, +Inf and -Inf as such; Rust parses all three.
    text.parse::<f64>().map_err(|_| format!("sample value {text:?} is not a number"))
}

fn seconds_to_ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

/// Parses a `query_range` response (`resultType` `matrix`).
pub fn parse_matrix(body: &[u8]) -> Result<Vec<Series>, (String, String)> {
    let data: QueryData = envelope(body)?;
    if data.result_type != "matrix" {
        return Err(("malformed".into(), format!("expected a matrix, got resultType {:?}", data.result_type)));
    }
    let raw: Vec<MatrixSeries> =
        serde_json::from_value(data.result).map_err(|e| ("malformed".to_string(), format!("malformed matrix: {e}")))?;
    raw.into_iter()
        .map(|s| {
            let points = s
                .values
                .iter()
                .map(|(t, v)| Ok((seconds_to_ms(*t), parse_value(v)?)))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|m| ("malformed".to_string(), m))?;
            Ok(Series { labels: s.metric, points })
        })
        .collect()
}

/// Parses an instant `query` response (`resultType` `vector`).
pub fn parse_vector(body: &[u8]) -> Result<Vec<(Labels, f64)>, (String, String)> {
    let data: QueryData = envelope(body)?;
    if data.result_type != "vector" {
        return Err(("malformed".into(), format!("expected a vector, got resultType {:?}", data.result_type)));
    }
    let raw: Vec<VectorSample> =
        serde_json::from_value(data.result).map_err(|e| ("malformed".to_string(), format!("malformed vector: {e}")))?;
    raw.into_iter()
        .map(|s| Ok((s.metric, parse_value(&s.value.1).map_err(|m| ("malformed".to_string(), m))?)))
        .collect()
}

/// Parses a `/api/v1/series` response.
pub fn parse_series(body: &[u8]) -> Result<Vec<Labels>, (String, String)> {
    envelope(body)
}

// ---------------------------------------------------------------------------------------------
// Owners: pod -> workload from kube-state-metrics

/// How a pod's workload was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// From `kube_pod_owner` (and `kube_replicaset_owner` / `kube_job_owner`).
    Owner,
    /// No owner series: a `<deployment>-<replicaset hash>-<suffix>` pod name was read as a Deployment.
    GuessedDeployment,
    /// No owner series and no recognisable name: the pod is its own workload (kind `Pod`).
    PodName,
}

/// Workload of each pod, from kube-state-metrics series.
#[derive(Debug, Default, Clone)]
pub struct Owners {
    pods: HashMap<(String, String), (String, String)>,
    replicasets: HashMap<(String, String), (String, String)>,
    jobs: HashMap<(String, String), (String, String)>,
}

fn label<'a>(l: &'a Labels, name: &str) -> Option<&'a str> {
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
    pub fn from_series(pod_owner: &[Labels], replicaset_owner: &[Labels], job_owner: &[Labels]) -> Self {
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
    pub fn has_pod_owners(&self) -> bool {
        !self.pods.is_empty()
    }

    /// (kind, workload name, how) of a pod.
    pub fn resolve(&self, namespace: &str, pod: &str) -> (String, String, Resolution) {
        let key = (namespace.to_string(), pod.to_string());
        let Some((kind, name)) = self.pods.get(&key) else {
            return guess_from_name(pod);
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

const NAME_HASH_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

fn is_hash(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.chars().all(|c| NAME_HASH_ALPHABET.contains(c))
}

/// Without kube-state-metrics: `api-5b8f7d9c4-x2x9k` is Deployment `api` (the pod-template
/// hash and the pod suffix use Kubernetes' safe alphabet); anything else is its own `Pod`.
pub fn guess_from_name(pod: &str) -> (String, String, Resolution) {
    let mut parts = pod.rsplitn(3, '-');
    if let (Some(suffix), Some(hash), Some(base)) = (parts.next(), parts.next(), parts.next()) {
        if is_hash(suffix, 5, 5) && is_hash(hash, 6, 10) && !base.is_empty() {
            return ("Deployment".into(), base.to_string(), Resolution::GuessedDeployment);
        }
    }
    ("Pod".into(), pod.to_string(), Resolution::PodName)
}

// ---------------------------------------------------------------------------------------------
// Joining CPU and memory into samples

/// What a batch's two series sets turned into.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JoinStats {
    /// Instants with CPU but no memory or the other way round (pod start, end, staleness).
    pub unpaired: u64,
    /// NaN, infinite or negative values dropped.
    pub non_finite: u64,
    /// Series without a namespace, pod or container label (ignored).
    pub unlabelled: u64,
    /// Series of pods outside the batch (a namespace/pod regex cross product; ignored).
    pub outside: u64,
}

type SeriesKey = (String, String, String);
/// Per instant: (CPU, memory), each when present.
type Paired = BTreeMap<i64, (Option<f64>, Option<f64>)>;
/// Containers with usage series, per (namespace, pod).
pub type PodContainers = BTreeMap<(String, String), usize>;

fn key_of(l: &Labels) -> Option<SeriesKey> {
    Some((label(l, "namespace")?.to_string(), label(l, "pod")?.to_string(), label(l, "container")?.to_string()))
}

/// Pairs CPU and memory points of the same container and instant into samples.
pub fn join_samples(
    cpu: &[Series],
    memory: &[Series],
    batch: Option<&BTreeSet<(String, String)>>,
    owners: &Owners,
    stats: &mut JoinStats,
) -> Vec<Sample> {
    let mut points: BTreeMap<SeriesKey, Paired> = BTreeMap::new();
    for (series, is_cpu) in [(cpu, true), (memory, false)] {
        for s in series {
            let Some(key) = key_of(&s.labels) else {
                stats.unlabelled += 1;
                continue;
            };
            if batch.is_some_and(|b| !b.contains(&(key.0.clone(), key.1.clone()))) {
                stats.outside += 1;
                continue;
            }
            let slot = points.entry(key).or_default();
            for &(t, v) in &s.points {
                if !v.is_finite() || v < 0.0 {
                    stats.non_finite += 1;
                    continue;
                }
                let e = slot.entry(t).or_default();
                if is_cpu {
                    e.0 = Some(e.0.map_or(v, |o: f64| o.max(v)));
                } else {
                    e.1 = Some(e.1.map_or(v, |o: f64| o.max(v)));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut resolved: HashMap<(String, String), (String, String)> = HashMap::new();
    for ((ns, pod, container), series) in points {
        let (kind, workload) = resolved
            .entry((ns.clone(), pod.clone()))
            .or_insert_with(|| {
                let (k, w, _) = owners.resolve(&ns, &pod);
                (k, w)
            })
            .clone();
        for (t, (c, m)) in series {
            let (Some(cpu), Some(mem)) = (c, m) else {
                stats.unpaired += 1;
                continue;
            };
            out.push(Sample {
                timestamp_ms: t,
                namespace: ns.clone(),
                workload_kind: kind.clone(),
                workload: workload.clone(),
                pod: pod.clone(),
                container: container.clone(),
                cpu_cores: cpu,
                memory_bytes: mem,
                ..Default::default()
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Current settings and OOM kills, per workload container

/// What kube-state-metrics says about one workload container.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ContainerSettings {
    pub namespace: String,
    pub workload_kind: String,
    pub workload: String,
    pub container: String,
    /// Requests and limits of the pods seen in the last hour (highest across pods).
    pub resources: Resources,
    /// Pods whose last termination of this container was an OOM kill.
    pub oom_killed_pods: Vec<String>,
}

/// Folds requests/limits vectors and OOM-kill series into per-workload-container settings.
pub fn container_settings(
    requests: &[(Labels, f64)],
    limits: &[(Labels, f64)],
    oom_killed: &[Labels],
    owners: &Owners,
) -> Vec<ContainerSettings> {
    let mut by_key: BTreeMap<(String, String, String, String), ContainerSettings> = BTreeMap::new();
    fn entry<'m>(
        by_key: &'m mut BTreeMap<(String, String, String, String), ContainerSettings>,
        owners: &Owners,
        l: &Labels,
    ) -> Option<&'m mut ContainerSettings> {
        let (ns, pod, container) = key_of(l)?;
        let (kind, workload, _) = owners.resolve(&ns, &pod);
        Some(by_key.entry((ns.clone(), kind.clone(), workload.clone(), container.clone())).or_insert_with(|| {
            ContainerSettings { namespace: ns, workload_kind: kind, workload, container, ..Default::default() }
        }))
    }
    for (vector, is_limit) in [(requests, false), (limits, true)] {
        for (l, v) in vector {
            if !v.is_finite() {
                continue;
            }
            let resource = label(l, "resource").unwrap_or("").to_string();
            let Some(e) = entry(&mut by_key, owners, l) else { continue };
            let slot = match (resource.as_str(), is_limit) {
                ("cpu", false) => &mut e.resources.cpu_request_cores,
                ("cpu", true) => &mut e.resources.cpu_limit_cores,
                ("memory", false) => &mut e.resources.memory_request_bytes,
                ("memory", true) => &mut e.resources.memory_limit_bytes,
                _ => continue,
            };
            *slot = Some(slot.map_or(*v, |o| o.max(*v)));
        }
    }
    for l in oom_killed {
        let pod = label(l, "pod").unwrap_or("").to_string();
        if let Some(e) = entry(&mut by_key, owners, l) {
            if !e.oom_killed_pods.contains(&pod) {
                e.oom_killed_pods.push(pod);
            }
        }
    }
    by_key.into_values().collect()
}

// ---------------------------------------------------------------------------------------------
// The HTTP client

/// Request counters, safe to read while workers run.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub range_queries: AtomicU64,
    /// `POST /api/v1/read` requests (remote read).
    pub remote_reads: AtomicU64,
    /// Bytes of response bodies received.
    pub bytes: AtomicU64,
    /// Series and samples received in usage answers (range-query points or raw samples).
    pub series: AtomicU64,
    pub samples: AtomicU64,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL; the API lives at `{url}/api/v1/...` (Thanos, Mimir: include their prefix,
    /// e.g. `https://mimir.example/prometheus`).
    pub url: String,
    /// Extra headers on every request (Authorization, X-Scope-OrgID, ...).
    pub headers: Vec<(String, String)>,
    /// Per request, from connect to the last byte of the body.
    pub timeout: Duration,
    /// Retries of a request that failed to connect, timed out, or got HTTP 429/502/503/504.
    pub retries: u32,
    /// Pause before the first retry, doubled for each next one.
    pub backoff: Duration,
}

/// A blocking Prometheus HTTP API client (one connection pool shared by worker threads).
pub struct Client {
    agent: ureq::Agent,
    config: ClientConfig,
    pub stats: RequestStats,
}

/// Parses `Name: value` (as curl's `-H`).
pub fn parse_header(text: &str) -> Result<(String, String), PrometheusError> {
    let bad = || PrometheusError::Config(format!("--header {text:?}: expected `Name: value`"));
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
        return Err(bad());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

enum Payload<'a> {
    Form(&'a [(&'a str, String)]),
    /// A snappy-compressed protobuf message (remote read).
    Snappy(&'a [u8]),
}

enum Attempt {
    Retry(PrometheusError),
    Fail(PrometheusError),
}

impl Client {
    pub fn new(mut config: ClientConfig) -> Result<Self, PrometheusError> {
        let url = config.url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PrometheusError::Config(format!(
                "--url {url:?}: expected http:// or https://, e.g. http://prometheus.monitoring:9090"
            )));
        }
        config.url = url;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("podsizer/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { agent, config, stats: RequestStats::default() })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// POSTs a form to `/api/v1/{endpoint}` and returns the body of a 2xx answer.
    fn post(&self, endpoint: &str, form: &[(&str, String)]) -> Result<Vec<u8>, PrometheusError> {
        self.send(endpoint, &Payload::Form(form)).map(|(_, body)| body)
    }

    /// Sends a payload to `/api/v1/{endpoint}` and returns the content type and body of a 2xx
    /// answer, retrying transient failures. API errors in non-2xx bodies become `Api` errors.
    fn send(&self, endpoint: &str, payload: &Payload) -> Result<(String, Vec<u8>), PrometheusError> {
        let url = format!("{}/api/v1/{endpoint}", self.config.url);
        let mut delay = self.config.backoff;
        let mut attempt = 0;
        loop {
            match self.attempt(&url, payload) {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Retry(_)) if attempt < self.config.retries => {
                    attempt += 1;
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                Err(Attempt::Retry(e) | Attempt::Fail(e)) => return Err(e),
            }
        }
    }

    fn attempt(&self, url: &str, payload: &Payload) -> Result<(String, Vec<u8>), Attempt> {
        use std::io::Read;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        struct Done<'a>(&'a AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _done = Done(&self.stats.in_flight);
        let mut request = self.agent.post(url).header("Accept-Encoding", "gzip");
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let transport = |e: ureq::Error| self.transport_error(url, e);
        let mut response = match payload {
            Payload::Form(form) => {
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                request.send_form(pairs)
            }
            Payload::Snappy(body) => request
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .header("X-Prometheus-Remote-Read-Version", "0.1.0")
                .send(*body),
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut body = Vec::new();
        response.body_mut().as_reader().read_to_end(&mut body).map_err(|e| transport(ureq::Error::Io(e)))?;
        self.stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        if (200..300).contains(&status) {
            return Ok((content_type, body));
        }
        let message = match envelope::<serde_json::Value>(&body) {
            Err((kind, message)) if kind != "bad_json" => {
                let e = PrometheusError::Api { url: url.to_string(), kind, message };
                return Err(if matches!(status, 429 | 502..=504) { Attempt::Retry(e) } else { Attempt::Fail(e) });
            }
            _ => String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string(),
        };
        let e = PrometheusError::Status { url: url.to_string(), status, message };
        Err(if matches!(status, 429 | 502..=504) { Attempt::Retry(e) } else { Attempt::Fail(e) })
    }

    fn transport_error(&self, url: &str, e: ureq::Error) -> Attempt {
        let timed_out = match &e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock),
            _ => false,
        };
        if timed_out {
            return Attempt::Retry(PrometheusError::Timeout {
                url: url.to_string(),
                secs: self.config.timeout.as_secs(),
            });
        }
        match e {
            ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_) => {
                Attempt::Retry(PrometheusError::Connect { url: url.to_string(), message: e.to_string() })
            }
            other => Attempt::Fail(PrometheusError::Connect { url: url.to_string(), message: other.to_string() }),
        }
    }

    fn decode<T>(&self, endpoint: &str, parsed: Result<T, (String, String)>) -> Result<T, PrometheusError> {
        let url = format!("{}/api/v1/{endpoint}", self.config.url);
        parsed.map_err(|(kind, message)| match kind.as_str() {
            "bad_json" | "malformed" => PrometheusError::BadResponse { url, message },
            _ => PrometheusError::Api { url, kind, message },
        })
    }

    /// `query_range` over a window.
    pub fn query_range(&self, query: &str, window: Window, step_ms: i64) -> Result<Vec<Series>, PrometheusError> {
        self.stats.range_queries.fetch_add(1, Ordering::Relaxed);
        let form = [
            ("query", query.to_string()),
            ("start", seconds(window.start_ms)),
            ("end", seconds(window.end_ms)),
            ("step", seconds(step_ms)),
        ];
        let body = self.post("query_range", &form)?;
        let series = self.decode("query_range", parse_matrix(&body))?;
        self.stats.series.fetch_add(series.len() as u64, Ordering::Relaxed);
        self.stats.samples.fetch_add(series.iter().map(|s| s.points.len() as u64).sum(), Ordering::Relaxed);
        Ok(series)
    }

    /// Instant `query` at `time_ms`.
    pub fn query(&self, query: &str, time_ms: i64) -> Result<Vec<(Labels, f64)>, PrometheusError> {
        let body = self.post("query", &[("query", query.to_string()), ("time", seconds(time_ms))])?;
        self.decode("query", parse_vector(&body))
    }

    /// Label sets of the series matching `selector` with samples in `[start, end]` (index only).
    pub fn series(&self, selector: &str, start_ms: i64, end_ms: i64) -> Result<Vec<Labels>, PrometheusError> {
        let form = [("match[]", selector.to_string()), ("start", seconds(start_ms)), ("end", seconds(end_ms))];
        let body = self.post("series", &form)?;
        self.decode("series", parse_series(&body))
    }
}

fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

// ---------------------------------------------------------------------------------------------
// An import, step by step

/// Import parameters beyond where Prometheus is.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub scope: Scope,
    pub step_ms: i64,
    /// Range of `rate()`; at least two scrapes must fall inside it.
    pub rate_window_ms: i64,
    /// Points (series × steps) one `query_range` answer may hold.
    pub max_points_per_request: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub read_path: ReadPath,
}

/// How usage series are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Raw samples through remote read; rates computed here (`rate.rs`).
    RemoteRead,
    /// `query_range`: Prometheus evaluates `rate()` at every step.
    QueryRange,
}

impl std::fmt::Display for ReadPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadPath::RemoteRead => "remote read (raw samples as XOR chunks, rates computed by podsizer)",
            ReadPath::QueryRange => "query_range (rates evaluated by Prometheus)",
        })
    }
}

/// What kube-state-metrics told us, fetched once per import.
#[derive(Debug, Default, Clone)]
pub struct KubeStateMetrics {
    pub owners: Owners,
    pub settings: Vec<ContainerSettings>,
}

/// Reads owners, current requests/limits and OOM kills for `[start, end]` (6 requests).
pub fn fetch_kube_state(
    client: &Client,
    scope: &Scope,
    start_ms: i64,
    end_ms: i64,
) -> Result<KubeStateMetrics, PrometheusError> {
    let pod_owner = client.series(&scope.ksm("kube_pod_owner", &[]), start_ms, end_ms)?;
    let rs_owner = client.series(&scope.ksm("kube_replicaset_owner", &[]), start_ms, end_ms)?;
    let job_owner = client.series(&scope.ksm("kube_job_owner", &[]), start_ms, end_ms)?;
    let owners = Owners::from_series(&pod_owner, &rs_owner, &job_owner);
    let settings_query = |metric: &str| {
        format!(
            "max by (namespace, pod, container, resource) (last_over_time({}[{SETTINGS_LOOKBACK}]))",
            scope.ksm(metric, &[r#"resource=~"cpu|memory""#])
        )
    };
    let requests = client.query(&settings_query("kube_pod_container_resource_requests"), end_ms)?;
    let limits = client.query(&settings_query("kube_pod_container_resource_limits"), end_ms)?;
    let oom = client.series(
        &scope.ksm("kube_pod_container_status_last_terminated_reason", &[r#"reason="OOMKilled""#]),
        start_ms,
        end_ms,
    )?;
    let settings = container_settings(&requests, &limits, &oom, &owners);
    Ok(KubeStateMetrics { owners, settings })
}

/// Containers per pod with usage series in a window (one series request).
pub fn discover_pods(client: &Client, scope: &Scope, window: Window) -> Result<(PodContainers, u64), PrometheusError> {
    let selector = format!("{MEMORY_METRIC}{{{}}}", scope.usage_matchers().join(","));
    let series = client.series(&selector, window.start_ms, window.end_ms)?;
    let mut containers: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut unlabelled = 0;
    for l in &series {
        match key_of(l) {
            Some((ns, pod, c)) => {
                containers.entry((ns, pod)).or_default().insert(c);
            }
            None => unlabelled += 1,
        }
    }
    Ok((containers.into_iter().map(|(k, v)| (k, v.len())).collect(), unlabelled))
}

/// One batch's result, handed to the caller in completion order.
#[derive(Debug)]
pub struct BatchResult {
    pub index: usize,
    pub pods: Vec<(String, String)>,
    pub samples: Vec<Sample>,
    pub stats: JoinStats,
}

/// Fetches every batch of one window with at most `concurrency` requests in flight and hands
/// each result to `on_batch` on the calling thread. The first error (a request's or
/// `on_batch`'s) stops the workers; batches already handed over stay handed over.
pub fn fetch_window<E: From<PrometheusError>>(
    client: &Client,
    options: &FetchOptions,
    owners: &Owners,
    window: Window,
    batches: Vec<Vec<(String, String)>>,
    mut on_batch: impl FnMut(BatchResult) -> Result<(), E>,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let workers = options.concurrency.clamp(1, batches.len().max(1));
    // One finished batch waits at most: rows in flight stay a few batches however many there are.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<BatchResult, PrometheusError>>(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop, batches) = (&next, &stop, &batches);
            scope.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(pods) = batches.get(index) else { return };
                let result = fetch_batch(client, options, owners, window, pods).map(|(samples, stats)| BatchResult {
                    index,
                    pods: pods.clone(),
                    samples,
                    stats,
                });
                let failed = result.is_err();
                if tx.send(result).is_err() || failed {
                    return;
                }
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        for result in rx.iter() {
            if outcome.is_err() {
                continue; // drain so workers blocked on send can finish
            }
            outcome = result.map_err(E::from).and_then(&mut on_batch);
            if outcome.is_err() {
                stop.store(true, Ordering::SeqCst);
            }
        }
        outcome
    })
}

fn fetch_batch(
    client: &Client,
    options: &FetchOptions,
    owners: &Owners,
    window: Window,
    pods: &[(String, String)],
) -> Result<(Vec<Sample>, JoinStats), PrometheusError> {
    let (cpu, memory) = match options.read_path {
        ReadPath::QueryRange => {
            let (cpu_q, mem_q) = usage_queries(&options.scope, pods, options.rate_window_ms);
            (client.query_range(&cpu_q, window, options.step_ms)?, client.query_range(&mem_q, window, options.step_ms)?)
        }
        ReadPath::RemoteRead => remote_usage(client, options, window, pods)?,
    };
    let members: BTreeSet<(String, String)> = pods.iter().cloned().collect();
    let mut stats = JoinStats::default();
    let samples = join_samples(&cpu, &memory, Some(&members), owners, &mut stats);
    Ok((samples, stats))
}

/// CPU rates and memory on the window's step grid from raw samples: what the two
/// `query_range` queries return, before their `max by`, which `join_samples` applies.
pub fn remote_usage(
    client: &Client,
    options: &FetchOptions,
    window: Window,
    pods: &[(String, String)],
) -> Result<(Vec<Series>, Vec<Series>), PrometheusError> {
    use remote_read::{usage_matchers, ReadQuery};
    let (step, range) = (options.step_ms, options.rate_window_ms);
    let queries = [
        ReadQuery {
            start_ms: window.start_ms - range,
            end_ms: window.end_ms,
            matchers: usage_matchers(&options.scope, CPU_METRIC, pods)?,
            hint_func: Some(("rate".into(), range)),
            step_ms: step,
        },
        ReadQuery {
            start_ms: window.start_ms - rate::LOOKBACK_MS,
            end_ms: window.end_ms,
            matchers: usage_matchers(&options.scope, MEMORY_METRIC, pods)?,
            hint_func: None,
            step_ms: step,
        },
    ];
    let mut answers = client.remote_read(&queries)?.into_iter();
    let (cpu, memory) = (answers.next().unwrap_or_default(), answers.next().unwrap_or_default());
    let cpu = cpu
        .into_iter()
        .map(|s| Series {
            points: rate::rate_on_grid(&s.samples, window.start_ms, window.end_ms, step, range),
            labels: s.labels,
        })
        .collect();
    let memory = memory
        .into_iter()
        .map(|s| Series {
            points: rate::instant_on_grid(&s.samples, window.start_ms, window.end_ms, step),
            labels: s.labels,
        })
        .collect();
    Ok((cpu, memory))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn windows_respect_the_point_limit_and_tile_the_range() {
        let step = 60_000;
        let from = align_up(1_000_123, step);
        let to = from + 20 * 1440 * step; // 20 days
        let windows = time_windows(from, to, step, MAX_POINTS_PER_SERIES);
        assert!(windows.len() >= 3);
        assert_eq!(windows[0].start_ms, from);
        assert_eq!(windows.last().unwrap().end_ms, to);
        for pair in windows.windows(2) {
            assert_eq!(pair[1].start_ms, pair[0].end_ms + step, "no gap, no overlap");
        }
        assert!(windows.iter().all(|w| w.points(step) <= MAX_POINTS_PER_SERIES));
        let total: i64 = windows.iter().map(|w| w.points(step)).sum();
        assert_eq!(total, (to - from) / step + 1);
        assert_eq!(align_up(120_001, step), 180_000);
        assert_eq!(align_down(179_999, step), 120_000);
        assert_eq!(align_up(120_000, step), 120_000);
    }

    #[test]
    fn day_windows_cut_at_midnight() {
        let step = 60_000;
        let day = crate::domain::DAY_MS;
        let w = Window { start_ms: day - 10 * step, end_ms: 3 * day + 5 * step };
        let pieces = day_windows(w, step);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0], Window { start_ms: day - 10 * step, end_ms: day - step });
        assert_eq!(pieces[1], Window { start_ms: day, end_ms: 2 * day - step });
        assert_eq!(pieces[3], Window { start_ms: 3 * day, end_ms: 3 * day + 5 * step });
        let total: i64 = pieces.iter().map(|p| p.points(step)).sum();
        assert_eq!(total, w.points(step));
    }

    #[test]
    fn batches_stay_within_budget_and_keep_pods_whole() {
        let mut pods = BTreeMap::new();
        for i in 0..100 {
            pods.insert(("ns".to_string(), format!("p{i:03}")), 1 + i % 3);
        }
        let batches = pod_batches(&pods, 1000, 10_000);
        let total: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(total, 100);
        for b in &batches {
            let containers: usize = b.iter().map(|p| pods[p]).sum();
            assert!(containers * 1000 <= 10_000 || b.len() == 1, "batch of {containers} containers");
        }
        assert!(batches.len() >= 20);
    }

    #[test]
    fn a_week_of_500_containers_takes_few_requests() {
        let step = 60_000;
        let n = planned_requests(500, 3, 0, 7 * 1440 * step, step, 500_000, ReadPath::QueryRange);
        // One window of 10,081 points; 49 containers (16 pods) per request: 11 batches.
        assert_eq!(n, KSM_REQUESTS + crate::sources::php_fpm_exporter::REQUESTS + 1 + 2 * 11);
        let n_small = planned_requests(500, 3, 0, 7 * 1440 * step, step, 100_000, ReadPath::QueryRange);
        assert!(n_small > n);
        // Remote read: one window per day (8 here: the range ends on a midnight), 50,000 points
        // a batch: 33 containers (11 pods) of a day, 16 batches.
        let remote = planned_requests(500, 3, 0, 7 * 1440 * step, step, 500_000, ReadPath::RemoteRead);
        let php_fpm = crate::sources::php_fpm_exporter::REQUESTS;
        assert_eq!(
            remote,
            KSM_REQUESTS + php_fpm + 1 + 7 * (1 + 16) + (1 + 1),
            "one request per batch, plus the probe"
        );
    }

    #[test]
    fn queries_escape_and_scope() {
        let scope = Scope {
            namespaces: vec!["shop".into(), "a.b".into()],
            cluster: Some(("cluster".into(), "prod \"eu\"".into())),
            selector: Some(r#"job="kubelet""#.into()),
        };
        scope.validate().unwrap();
        let (cpu, mem) = usage_queries(&scope, &[("shop".into(), "api-1.x".into())], 60_000);
        assert!(cpu.starts_with("max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{"));
        assert!(cpu.ends_with("[60s]))"), "{cpu}");
        assert!(cpu.contains(r#"container!="",container!="POD""#));
        assert!(cpu.contains(r#"cluster="prod \"eu\"""#), "{cpu}");
        assert!(cpu.contains(r#"namespace=~"shop|a\\.b""#), "{cpu}");
        assert!(cpu.contains(r#"pod=~"api-1\\.x""#), "{cpu}");
        assert!(cpu.contains(r#"job="kubelet""#));
        assert!(mem.contains("container_memory_working_set_bytes{"));
        assert!(Scope { selector: Some("{job=\"x\"}".into()), ..Scope::default() }.validate().is_err());
        assert!(Scope { cluster: Some(("1bad".into(), "x".into())), ..Scope::default() }.validate().is_err());
        let ksm = scope.ksm("kube_pod_owner", &[]);
        assert!(ksm.starts_with("kube_pod_owner{cluster="));
        assert!(!ksm.contains("kubelet"), "the usage selector is not applied to kube-state-metrics");
    }

    #[test]
    fn parses_matrix_vector_series_and_errors() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"namespace":"ns","pod":"p","container":"c"},"values":[[1700000060,"0.25"],[1700000120.5,"NaN"]]}]}}"#;
        let m = parse_matrix(body).unwrap();
        assert_eq!(m[0].points[0], (1_700_000_060_000, 0.25));
        assert_eq!(m[0].points[1].0, 1_700_000_120_500);
        assert!(m[0].points[1].1.is_nan());
        let v = parse_vector(
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}"#,
        )
        .unwrap();
        assert_eq!(v[0].1, 2.0);
        let s = parse_series(br#"{"status":"success","data":[{"__name__":"x","pod":"p"}]}"#).unwrap();
        assert_eq!(s[0]["pod"], "p");
        let err =
            parse_matrix(br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#).unwrap_err();
        assert_eq!(err, ("bad_data".into(), "parse error at char 3".into()));
        assert_eq!(parse_matrix(b"<html>502</html>").unwrap_err().0, "bad_json");
        assert!(parse_matrix(br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
            .unwrap_err()
            .1
            .contains("matrix"));
        let bad_value =
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x1"]]}]}}"#;
        assert!(parse_matrix(bad_value).unwrap_err().1.contains("x1"));
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
    fn join_pairs_cpu_and_memory_and_counts_the_rest() {
        let l = labels(&[("namespace", "ns"), ("pod", "p-0"), ("container", "c")]);
        let cpu = vec![
            Series { labels: l.clone(), points: vec![(60_000, 0.5), (120_000, f64::NAN), (180_000, 0.7)] },
            Series {
                labels: labels(&[("namespace", "ns"), ("pod", "other"), ("container", "c")]),
                points: vec![(60_000, 1.0)],
            },
            Series { labels: labels(&[("pod", "p-0")]), points: vec![(60_000, 1.0)] },
        ];
        let mem =
            vec![Series { labels: l, points: vec![(0, 1.0), (60_000, 100.0), (120_000, 200.0), (180_000, 300.0)] }];
        let members: BTreeSet<(String, String)> = [("ns".to_string(), "p-0".to_string())].into();
        let mut stats = JoinStats::default();
        let samples = join_samples(&cpu, &mem, Some(&members), &Owners::default(), &mut stats);
        assert_eq!(samples.len(), 2);
        assert_eq!((samples[0].timestamp_ms, samples[0].cpu_cores, samples[0].memory_bytes), (60_000, 0.5, 100.0));
        assert_eq!(samples[1].memory_bytes, 300.0);
        assert_eq!(samples[0].workload_kind, "Pod");
        assert_eq!(stats, JoinStats { unpaired: 2, non_finite: 1, unlabelled: 1, outside: 1 });
    }

    #[test]
    fn settings_fold_per_workload_container() {
        let pod_owner = vec![
            labels(&[
                ("namespace", "ns"),
                ("pod", "db-0"),
                ("owner_kind", "StatefulSet"),
                ("owner_name", "db"),
                ("owner_is_controller", "true"),
            ]),
            labels(&[
                ("namespace", "ns"),
                ("pod", "db-1"),
                ("owner_kind", "StatefulSet"),
                ("owner_name", "db"),
                ("owner_is_controller", "true"),
            ]),
        ];
        let o = Owners::from_series(&pod_owner, &[], &[]);
        let req = |pod: &str, r: &str, v: f64| {
            (labels(&[("namespace", "ns"), ("pod", pod), ("container", "pg"), ("resource", r)]), v)
        };
        let requests = vec![req("db-0", "cpu", 0.5), req("db-1", "cpu", 0.5), req("db-0", "memory", 1e9)];
        let limits = vec![req("db-1", "memory", 2e9)];
        let oom = vec![labels(&[("namespace", "ns"), ("pod", "db-1"), ("container", "pg"), ("reason", "OOMKilled")])];
        let s = container_settings(&requests, &limits, &oom, &o);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].workload_kind.as_str(), s[0].workload.as_str()), ("StatefulSet", "db"));
        assert_eq!(s[0].resources.cpu_request_cores, Some(0.5));
        assert_eq!(s[0].resources.memory_limit_bytes, Some(2e9));
        assert_eq!(s[0].resources.cpu_limit_cores, None);
        assert_eq!(s[0].oom_killed_pods, vec!["db-1".to_string()]);
    }

    #[test]
    fn headers_parse_like_curl() {
        assert_eq!(parse_header("Authorization: Bearer abc").unwrap(), ("Authorization".into(), "Bearer abc".into()));
        assert_eq!(parse_header("X-Scope-OrgID:tenant-1").unwrap().1, "tenant-1");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }
}

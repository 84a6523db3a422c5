//! An import, step by step: kube-state-metrics once, then per window the pods with usage
//! series and their batches, fetched by a few workers at a time.

use super::client::Client;
use super::join::{container_settings, join_samples, key_of, ContainerSettings, JoinStats, PodContainers};
use super::owners::Owners;
use super::payload::Series;
use super::query::{usage_queries, Scope};
use super::windows::{ReadPath, Window};
use super::{rate, remote_read, PrometheusError, CPU_METRIC, MEMORY_METRIC, SETTINGS_LOOKBACK};
use crate::domain::SampleRows;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

/// Import parameters beyond where Prometheus is.
#[derive(Debug, Clone)]
pub(crate) struct FetchOptions {
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

/// What kube-state-metrics told us, fetched once per import.
#[derive(Debug, Default, Clone)]
pub(crate) struct KubeStateMetrics {
    pub owners: Owners,
    pub settings: Vec<ContainerSettings>,
}

/// How far before and after the imported range owner series are looked for. A pod's usage can
/// lie where kube-state-metrics has no sample of it: scraped less often than cAdvisor (a pod
/// ending minutes after the range starts had its last kube_pod_owner sample before), or
/// missing for a while; the series API answers only for series with samples near the range
/// (Prometheus 2.x: chunks overlapping it). An owner does not change over a pod's life.
const OWNERS_LOOKBACK_MS: i64 = 3_600_000;

/// Reads owners (over `[start, end]` widened by an hour each side), current requests/limits
/// and OOM kills for `[start, end]` (6 requests).
pub(crate) fn fetch_kube_state(
    client: &Client,
    scope: &Scope,
    start_ms: i64,
    end_ms: i64,
) -> Result<KubeStateMetrics, PrometheusError> {
    let (owners_start, owners_end) = (start_ms - OWNERS_LOOKBACK_MS, end_ms + OWNERS_LOOKBACK_MS);
    let pod_owner = client.series(&scope.ksm("kube_pod_owner", &[]), owners_start, owners_end)?;
    let rs_owner = client.series(&scope.ksm("kube_replicaset_owner", &[]), owners_start, owners_end)?;
    let job_owner = client.series(&scope.ksm("kube_job_owner", &[]), owners_start, owners_end)?;
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
pub(crate) fn discover_pods(
    client: &Client,
    scope: &Scope,
    window: Window,
) -> Result<(PodContainers, u64), PrometheusError> {
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
pub(crate) struct BatchResult {
    pub pods: Vec<(String, String)>,
    pub samples: SampleRows,
    pub stats: JoinStats,
}

/// Fetches every batch of one window with at most `concurrency` requests in flight and hands
/// each result to `on_batch` on the calling thread. The first error (a request's or
/// `on_batch`'s) stops the workers; batches already handed over stay handed over.
pub(crate) fn fetch_window<E: From<PrometheusError>>(
    client: &Client,
    options: &FetchOptions,
    owners: &Owners,
    window: Window,
    batches: Vec<Vec<(String, String)>>,
    mut on_batch: impl FnMut(BatchResult) -> Result<(), E>,
) -> Result<(), E> {
    let stop = AtomicBool::new(false);
    let workers = options.concurrency.clamp(1, batches.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("prometheus-{i}"))
        .build()
        .map_err(|source| PrometheusError::Workers { threads: workers, source })?;
    // One finished batch waits at most: rows in flight stay a few batches however many there are.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<BatchResult, PrometheusError>>(1);
    // Batches are queued in order and taken by `workers` threads; results come back to this
    // thread (not one of the pool's) in completion order.
    pool.in_place_scope(|scope| {
        for pods in &batches {
            let (tx, stop) = (tx.clone(), &stop);
            scope.spawn(move |_| {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let result = fetch_batch(client, options, owners, window, pods).map(|(samples, stats)| BatchResult {
                    pods: pods.clone(),
                    samples,
                    stats,
                });
                if result.is_err() {
                    stop.store(true, Ordering::SeqCst);
                }
                let _ = tx.send(result);
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        for result in &rx {
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
) -> Result<(SampleRows, JoinStats), PrometheusError> {
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
pub(crate) fn remote_usage(
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

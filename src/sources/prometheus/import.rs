//! A whole Prometheus import, resumable, into a `SampleSink`.
//!
//! Progress is kept in the sink's state `prometheus-<id>` (one per URL and scope): the last
//! instant fully imported, the window in progress and the pods of it already stored, and the
//! current requests/limits and OOM kills read from kube-state-metrics. A re-run starts after
//! the last instant imported; an interrupted run resumes the window it was in, skipping pods
//! already stored (rows stored twice would be dropped by the store anyway).

use super::client::{Client, ClientConfig};
use super::fetch::{discover_pods, fetch_kube_state, fetch_window, FetchOptions};
use super::join::{ContainerSettings, JoinStats};
use super::owners::{KnownOwner, Resolution};
use super::query::Scope;
use super::windows::{
    align_up, day_windows, pod_batches, storage_windows, time_windows, ReadPath, Window, REMOTE_READ_POINTS,
};
use super::writer::Writer;
use super::{remote_read, PrometheusError, MAX_POINTS_PER_SERIES, MEMORY_METRIC};
use crate::domain::stable_hash;
use crate::domain::{format_timestamp, SampleRows, DAY_MS};
use crate::sources::php_fpm_exporter::{self, php_container};
use crate::sources::sink::{Progress, SampleSink, SinkError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Which API reads the usage series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ReadApi {
    /// Remote read where the server serves it, `query_range` where it refuses (one probe).
    #[default]
    Auto,
    RemoteRead,
    QueryRange,
}

/// Everything an import needs, resolved (no command-line types).
#[derive(Debug, Clone)]
pub(crate) struct ImportSettings {
    pub client: ClientConfig,
    pub scope: Scope,
    /// Grid of the samples; whole seconds.
    pub step_ms: i64,
    /// The step as the user wrote it: part of the state's identity, so a re-run with the same
    /// arguments finds its state.
    pub step_label: String,
    pub rate_window_ms: i64,
    /// First and last instant to import, on the step grid.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Points (series x steps) one `query_range` answer may hold.
    pub max_points_per_request: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub read_api: ReadApi,
    /// The cluster recorded on the samples and the settings (empty: none).
    pub identity_cluster: String,
    /// When the import runs (recorded as its finish time).
    pub now_ms: i64,
}

/// Identifies what an import reads: URL and scope (not the time range or step).
pub(crate) fn source_id(url: &str, scope: &Scope, step_label: &str) -> String {
    let mut namespaces = scope.namespaces.clone();
    namespaces.sort();
    format!(
        "url={url} cluster={} namespaces={} selector={} step={step_label}",
        scope.cluster.as_ref().map_or(String::new(), |(n, v)| format!("{n}={v}")),
        namespaces.join(","),
        scope.selector.as_deref().unwrap_or("")
    )
}

/// `<host>-<hash of URL and scope>`: a directory name for a cache store of this source.
pub(crate) fn cache_key(url: &str, scope: &Scope, step_label: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let host: String = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .chars()
        .take(60)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    format!("{host}-{:016x}", stable_hash(&source_id(url, scope, step_label)))
}

/// The sink's state name for a source id: `prometheus-<hash>`.
pub(crate) fn state_name(source_id: &str) -> String {
    format!("prometheus-{:016x}", stable_hash(source_id))
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error(transparent)]
    Prometheus(#[from] PrometheusError),
    #[error("{location}: unreadable import state (delete it to import the whole range again)")]
    State { location: String, source: serde_json::Error },
    #[error("reading kube-state-metrics series (owners, requests/limits, OOM kills)")]
    KubeState { source: PrometheusError },
    #[error("reading usage by remote read, as asked")]
    RemoteRead { source: PrometheusError },
    #[error("listing usage series")]
    Discover { source: PrometheusError },
    #[error("reading php-fpm exporter series")]
    PhpFpm { source: PrometheusError },
    #[error(
        "import from {url} interrupted in window {} .. {}; what was fetched is stored: re-run the same command to resume",
        format_timestamp(window.start_ms),
        format_timestamp(window.end_ms)
    )]
    Interrupted { url: String, window: Window, source: Box<ImportError> },
    #[error(
        "{url}: no {MEMORY_METRIC} series with namespace, pod and container labels between {} and {} (matchers: {matchers})",
        format_timestamp(range.start_ms),
        format_timestamp(range.end_ms)
    )]
    NoSeries { url: String, range: Window, matchers: String },
    #[error("uploading the import state")]
    Sync { source: SinkError },
    #[error(transparent)]
    Sink(SinkError),
    #[error("reading outcome signals (restarts, OOM kills, evictions, throttling, settings over time)")]
    Outcomes(#[from] super::outcomes::OutcomesImportError),
}

/// Import progress and what kube-state-metrics said, per URL and scope.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    /// URL and scope this file belongs to.
    source: String,
    step_ms: i64,
    /// Every instant up to here (inclusive) is stored.
    through_ms: Option<i64>,
    /// The window being imported and the pods of it already stored.
    pending: Option<Pending>,
    /// When the last run finished.
    finished_at: Option<String>,
    /// Requests and limits (kube_pod_container_resource_*) and OOM-killed pods per workload container.
    current: Vec<ContainerSettings>,
    /// The cluster the samples and `current` belong to (`--cluster`, else the --cluster-label value).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identity_cluster: String,
    /// Workloads (from kube_pod_owner) of the pods of the window imported last: a pod running
    /// on past it keeps its workload in the next run even where that run's range holds no
    /// kube_pod_owner sample of it, so its rows are never filed under two workloads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    owners: Vec<KnownOwner>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pending {
    window: Window,
    done: BTreeSet<(String, String)>,
}

/// Request counters at the end of an import.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Requests {
    pub requests: u64,
    pub range_queries: u64,
    pub remote_reads: u64,
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
    pub retries: u64,
    pub max_in_flight: usize,
}

/// What an import did, for the caller to print.
#[derive(Debug)]
pub(crate) enum ImportOutcome {
    /// Everything up to `to_ms` was already stored.
    NothingNew {
        url: String,
        through_ms: i64,
        next_ms: i64,
    },
    Imported(Box<ImportSummary>),
}

/// A finished import.
#[derive(Debug, Default)]
pub(crate) struct ImportSummary {
    pub url: String,
    pub range: Option<Window>,
    pub step_ms: i64,
    pub rate_window_ms: i64,
    pub read_path: Option<ReadPath>,
    pub requests: Requests,
    pub windows: usize,
    /// Samples received, new to the store, already stored.
    pub fetched: u64,
    pub added: u64,
    pub duplicates: u64,
    /// UTC days with samples.
    pub days: usize,
    /// (namespace, pod, container) with samples.
    pub series: usize,
    /// (namespace, kind, workload, container) with samples.
    pub workload_containers: BTreeSet<(String, String, String, String)>,
    /// Pods seen, by how their workload was found.
    pub resolutions: BTreeMap<Resolution, usize>,
    pub pods: usize,
    /// Whether kube-state-metrics had `kube_pod_owner` series.
    pub has_pod_owners: bool,
    /// Usage series without namespace, pod or container labels (ignored).
    pub unlabelled: u64,
    pub join: JoinStats,
    /// Workload containers with php-fpm exporter figures.
    pub php_fpm: usize,
    /// Current requests/limits and OOM kills per workload container.
    pub current: Vec<ContainerSettings>,
    pub state_location: String,
    pub store_time: Duration,
}

impl ImportSummary {
    /// Pods whose workload was found in `way`.
    pub(crate) fn pods_by(&self, way: Resolution) -> usize {
        self.resolutions.get(&way).copied().unwrap_or(0)
    }

    /// What changes how the result should be read.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let count = |r: Resolution| self.pods_by(r);
        let guessed = count(Resolution::GuessedDeployment) + count(Resolution::PodName);
        if !self.has_pod_owners && self.pods > 0 {
            out.push(format!(
                "no kube-state-metrics series (kube_pod_owner) found: workloads were taken from pod names \
                 ({} pod(s) read as Deployments from `<name>-<hash>-<suffix>`, {} as their own Pod); \
                 scrape kube-state-metrics for exact owners",
                count(Resolution::GuessedDeployment),
                count(Resolution::PodName)
            ));
        } else if guessed > 0 {
            out.push(format!(
                "{guessed} pod(s) have no kube_pod_owner series; their workloads were taken from the pod name"
            ));
        }
        if self.unlabelled > 0 {
            out.push(format!(
                "{} usage series lack a namespace, pod or container label and were ignored \
                 (older cAdvisor labels pod_name/container_name are not read)",
                self.unlabelled
            ));
        }
        if self.fetched == 0 && self.join.unpaired > 0 {
            out.push(format!(
                "memory was found but no CPU rate: the rate window ({}) probably holds fewer than two scrapes; \
                 try --rate-window 2m (or a larger --step)",
                super::promql_duration(self.rate_window_ms)
            ));
        }
        out
    }
}

/// Rows held (in columns, see `Buffer`) before they are stored: about 32 bytes each.
const FLUSH_ROWS: usize = 16_000_000;

/// Remote read unless told otherwise; with `auto`, query_range where the server refuses it
/// (one probe request), saying so.
fn choose_read_path(
    client: &Client,
    scope: &Scope,
    api: ReadApi,
    at_ms: i64,
    progress: &dyn Progress,
) -> Result<ReadPath, ImportError> {
    match api {
        ReadApi::QueryRange => Ok(ReadPath::QueryRange),
        ReadApi::RemoteRead => {
            client.probe_remote_read(scope, at_ms).map_err(|source| ImportError::RemoteRead { source })?;
            Ok(ReadPath::RemoteRead)
        }
        ReadApi::Auto => match client.probe_remote_read(scope, at_ms) {
            Ok(()) => Ok(ReadPath::RemoteRead),
            Err(e) if remote_read::is_refusal(&e) => {
                progress.note(&format!("note: {e}; reading with query_range instead"));
                Ok(ReadPath::QueryRange)
            }
            Err(e) => Err(e.into()),
        },
    }
}

/// Running totals of one import.
#[derive(Default)]
struct Totals {
    fetched: u64,
    added: u64,
    duplicates: u64,
    days: BTreeSet<i64>,
    series: BTreeSet<(String, String, String)>,
    workload_containers: BTreeSet<(String, String, String, String)>,
    join: JoinStats,
    store_time: Duration,
}

impl Totals {
    fn note_batch(&mut self, rows: &SampleRows, stats: &JoinStats) {
        self.fetched += rows.len() as u64;
        let mut last_day = None;
        for day in rows.rows.iter().map(|r| r.timestamp_ms.div_euclid(DAY_MS)) {
            if last_day != Some(day) {
                self.days.insert(day);
                last_day = Some(day);
            }
        }
        // A batch names only series with rows.
        for s in rows.series() {
            self.series.insert((s.namespace.clone(), s.pod.clone(), s.container.clone()));
            self.workload_containers.insert((
                s.namespace.clone(),
                s.workload_kind.clone(),
                s.workload.clone(),
                s.container.clone(),
            ));
        }
        self.join.unpaired += stats.unpaired;
        self.join.non_finite += stats.non_finite;
        self.join.unlabelled += stats.unlabelled;
        self.join.outside += stats.outside;
    }
}

fn state_json(state: &State) -> String {
    serde_json::to_string_pretty(state).expect("state serialises")
}

/// What every window of one import reads with, and the writer its rows go to.
struct Run<'a> {
    client: &'a Client,
    options: &'a FetchOptions,
    owners: &'a super::owners::Owners,
    progress: &'a dyn Progress,
    writer: Writer,
}

impl Run<'_> {
    /// Fetches one window's batches of `pods` (those of a resumed window that are `done`
    /// already left out by the caller) and hands its rows to the writer; the state records
    /// the window as pending until the writer has stored it.
    fn piece(
        &mut self,
        state: &mut State,
        totals: &mut Totals,
        window: Window,
        pods: &super::join::PodContainers,
        done: BTreeSet<(String, String)>,
        label: &str,
    ) -> Result<(), ImportError> {
        let step = self.options.step_ms;
        let batches = pod_batches(pods, window.points(step), self.options.max_points_per_request);
        self.progress.begin(
            batches.len() as u64,
            &format!("{label} ({} .. {})", format_timestamp(window.start_ms), format_timestamp(window.end_ms)),
        );
        state.pending = Some(Pending { window, done });
        let writer = &mut self.writer;
        writer.save_state(state_json(state)).map_err(ImportError::Sink)?;
        let commit = |writer: &mut Writer, state: &mut State| -> Result<(), ImportError> {
            let pods = writer.flush().map_err(ImportError::Sink)?;
            state.pending.as_mut().expect("set above").done.extend(pods);
            writer.save_state(state_json(state)).map_err(ImportError::Sink)
        };
        let fetched = fetch_window(self.client, self.options, self.owners, window, batches, |batch| {
            totals.note_batch(&batch.samples, &batch.stats);
            writer.extend(batch.samples, batch.pods);
            if writer.len() >= FLUSH_ROWS {
                commit(writer, state)?;
            }
            self.progress.step(&format!(
                "batches, {} samples, {} requests",
                totals.fetched,
                self.client.stats.requests.load(Ordering::Relaxed)
            ));
            Ok::<(), ImportError>(())
        });
        self.progress.end();
        // Whatever arrived before a failure is kept, so a re-run resumes after it.
        commit(writer, state)?;
        if let Err(e) = fetched {
            let url = self.client.url().to_string();
            return Err(ImportError::Interrupted { url, window, source: Box::new(e) });
        }
        state.through_ms = Some(window.end_ms);
        state.pending = None;
        writer.save_state(state_json(state)).map_err(ImportError::Sink)
    }
}

/// Imports `settings.from_ms ..= settings.to_ms` (what is not stored yet) into `sink`.
pub(crate) fn import(
    settings: &ImportSettings,
    sink: &mut (dyn SampleSink + Send),
    progress: &dyn Progress,
) -> Result<ImportOutcome, ImportError> {
    let step = settings.step_ms;
    let (earliest, to) = (settings.from_ms, settings.to_ms);
    let scope = &settings.scope;
    scope.validate()?;
    let client = Client::new(settings.client.clone())?;
    let mut options = FetchOptions {
        scope: scope.clone(),
        step_ms: step,
        rate_window_ms: settings.rate_window_ms,
        max_points_per_request: settings.max_points_per_request.max(1),
        concurrency: settings.concurrency.max(1),
        read_path: ReadPath::QueryRange,
    };

    // The store is created only once Prometheus has answered, so a failed first import leaves nothing behind.
    let source = source_id(client.url(), scope, &settings.step_label);
    let name = state_name(&source);
    let mut state: State = match sink.load_state(&name).map_err(ImportError::Sink)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|source| ImportError::State { location: sink.state_location(&name), source })?,
        None => State::default(),
    };
    let first_run = state.finished_at.is_none() && state.through_ms.is_none();
    state.source = source;
    state.step_ms = step;
    state.identity_cluster.clone_from(&settings.identity_cluster);

    // What to fetch: the window in progress first (resume), then everything after what is stored.
    let mut windows = Vec::new();
    let mut resume: Option<Pending> = state.pending.clone().filter(|p| p.window.end_ms <= to);
    let mut from = earliest;
    if let Some(p) = &resume {
        windows.push(p.window);
        from = from.max(p.window.end_ms + step);
    } else if let Some(through) = state.through_ms {
        from = from.max(align_up(through + 1, step));
    }
    windows.extend(time_windows(from, to, step, MAX_POINTS_PER_SERIES));
    if windows.is_empty() {
        return Ok(ImportOutcome::NothingNew {
            url: client.url().to_string(),
            through_ms: state.through_ms.unwrap_or(to),
            next_ms: to + step,
        });
    }
    let range = Window { start_ms: windows[0].start_ms, end_ms: windows.last().expect("non-empty").end_ms };

    let mut ksm = fetch_kube_state(&client, scope, range.start_ms, range.end_ms)
        .map_err(|source| ImportError::KubeState { source })?;
    ksm.owners.remember(&state.owners);
    options.read_path = choose_read_path(&client, scope, settings.read_api, range.end_ms, progress)?;
    if options.read_path == ReadPath::RemoteRead {
        // Raw samples become rows here: one UTC day per window (split further by
        // `storage_windows` once its series are known) and small batches keep memory flat
        // however many days or containers there are.
        windows = windows
            .into_iter()
            .enumerate()
            .flat_map(|(i, w)| if i == 0 && resume.is_some() { vec![w] } else { day_windows(w, step) })
            .collect();
        options.max_points_per_request = options.max_points_per_request.min(REMOTE_READ_POINTS);
    }
    sink.open().map_err(ImportError::Sink)?;
    let mut totals = Totals::default();
    let mut resolutions: BTreeMap<Resolution, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut unlabelled = 0;
    std::thread::scope(|threads| -> Result<(), ImportError> {
        let writer = Writer::start(threads, &mut *sink, name.clone(), state.identity_cluster.clone());
        let mut run = Run { client: &client, options: &options, owners: &ksm.owners, progress, writer };
        for (wi, window) in windows.iter().enumerate() {
            let (mut pods, skipped) =
                discover_pods(&client, scope, *window).map_err(|source| ImportError::Discover { source })?;
            unlabelled += skipped;
            for pod in pods.keys() {
                resolutions.entry(ksm.owners.resolve(&pod.0, &pod.1).2).or_default().insert(pod.clone());
            }
            // Saved with the state as the window's pieces are stored.
            state.owners = ksm.owners.known(pods.keys());
            let mut done = match resume.take() {
                Some(p) if p.window == *window => p.done,
                _ => BTreeSet::new(),
            };
            pods.retain(|p, _| !done.contains(p));
            let pieces = match options.read_path {
                ReadPath::RemoteRead => storage_windows(*window, step, pods.values().sum()),
                ReadPath::QueryRange => vec![*window],
            };
            let label = format!("window {}/{}", wi + 1, windows.len());
            for piece in pieces {
                run.piece(&mut state, &mut totals, piece, &pods, std::mem::take(&mut done), &label)?;
            }
        }
        let stored = run.writer.finish().map_err(ImportError::Sink)?;
        (totals.added, totals.duplicates, totals.store_time) = (stored.added, stored.duplicates, stored.time);
        Ok(())
    })?;
    let all_pods: BTreeSet<&(String, String)> = resolutions.values().flatten().collect();
    if all_pods.is_empty() && first_run {
        sink.remove_state(&name);
        return Err(ImportError::NoSeries {
            url: client.url().to_string(),
            range,
            matchers: scope.usage_matchers().join(","),
        });
    }
    if !ksm.settings.is_empty() {
        state.current.clone_from(&ksm.settings);
    }
    // php-fpm exporter figures, per workload container, beside the state.
    let figures = php_fpm_exporter::fetch(&client, scope, range.end_ms, range.end_ms - range.start_ms)
        .map_err(|source| ImportError::PhpFpm { source })?;
    let fetched_pods = figures.len();
    let mut per_container = Vec::new();
    for ((ns, pod), f) in figures {
        let containers = totals.series.iter().filter(|(n, p, _)| *n == ns && *p == pod).map(|(_, _, c)| c.as_str());
        let Some(container) = php_container(containers) else { continue };
        let (kind, workload, _) = ksm.owners.resolve(&ns, &pod);
        per_container.push(((ns.clone(), kind, workload, container.to_string()), f));
    }
    let php_fpm =
        sink.record_php_fpm(&name, &state.identity_cluster, fetched_pods, per_container).map_err(ImportError::Sink)?;
    super::outcomes::import(
        &client,
        scope,
        &ksm.owners,
        &name,
        &state.identity_cluster,
        (earliest, to),
        (all_pods.len(), settings.max_points_per_request),
        sink,
    )?;
    state.finished_at = Some(format_timestamp(settings.now_ms));
    sink.save_state(&name, &state_json(&state)).map_err(ImportError::Sink)?;
    sink.sync().map_err(|source| ImportError::Sync { source })?;

    let stats = &client.stats;
    let requests = Requests {
        requests: stats.requests.load(Ordering::Relaxed),
        range_queries: stats.range_queries.load(Ordering::Relaxed),
        remote_reads: stats.remote_reads.load(Ordering::Relaxed),
        series: stats.series.load(Ordering::Relaxed),
        samples: stats.samples.load(Ordering::Relaxed),
        bytes: stats.bytes.load(Ordering::Relaxed),
        retries: stats.retries.load(Ordering::Relaxed),
        max_in_flight: stats.max_in_flight.load(Ordering::Relaxed),
    };
    let pods = all_pods.len();
    Ok(ImportOutcome::Imported(Box::new(ImportSummary {
        url: client.url().to_string(),
        range: Some(range),
        step_ms: step,
        rate_window_ms: settings.rate_window_ms,
        read_path: Some(options.read_path),
        requests,
        windows: windows.len(),
        fetched: totals.fetched,
        added: totals.added,
        duplicates: totals.duplicates,
        days: totals.days.len(),
        series: totals.series.len(),
        workload_containers: totals.workload_containers,
        resolutions: resolutions.into_iter().map(|(r, p)| (r, p.len())).collect(),
        pods,
        has_pod_owners: ksm.owners.has_pod_owners(),
        unlabelled,
        join: totals.join,
        php_fpm,
        current: state.current,
        state_location: sink.state_location(&name),
        store_time: totals.store_time,
    })))
}

//! A whole CloudWatch Container Insights import, resumable, into a `SampleSink`: from the
//! performance logs or the enhanced-observability metrics.
//!
//! Progress is kept per cluster, region and namespace scope in the sink's state
//! `cloudwatch-<cluster>-<region>[-<scope>]`: the mode in use, the last instant stored, the
//! logs window in progress with its page token, and the requests/limits seen (read back by
//! `store::facts` like the Prometheus import's). A re-run starts after what is stored; an
//! interrupted run resumes from the saved page token (logs) or the first time page not yet
//! stored (metrics). Rows stored twice would be dropped by the store anyway.

use super::logs::{self, LogsError, SettingsFold};
use super::metrics::{self, Metric, NodeCapacity, Points, Query, Route};
use super::{ApiCalls, Clients, PodOwnerSource};
use crate::domain::stable_hash;
use crate::domain::{format_timestamp, Sample, SampleRows, DAY_MS};
use crate::sources::aws::{check_credentials, sdk_config, AwsError};
use crate::sources::prometheus::ContainerSettings;
use crate::sources::sink::{Progress, SampleSink, SinkError};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

mod from_logs;
mod from_metrics;

/// Data younger than this may still be arriving (agents flush every minute; logs can lag).
pub(crate) const SETTLE_MS: i64 = 5 * 60_000;
/// Rows buffered before an append (each append re-reads the day's keys, so not every page).
const FLUSH_ROWS: usize = 200_000;

/// Where usage comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// The performance log group if it exists, else the metrics.
    #[default]
    Auto,
    /// Performance log events (FilterLogEvents).
    Logs,
    /// Enhanced-observability metrics (ListMetrics + GetMetricData).
    Metrics,
}

/// Everything an import needs, resolved (no command-line types).
#[derive(Debug, Clone, Default)]
pub(crate) struct CloudwatchSettings {
    pub cluster: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub namespaces: Vec<String>,
    pub from: Mode,
    /// Metrics mode: queries per GetMetricData call (1 to 500).
    pub queries_per_call: usize,
    /// Metrics mode: datapoints one GetMetricData answer may hold.
    pub max_datapoints_per_call: i64,
    /// First instant to import, and the last (already short of the settling time).
    pub since_ms: i64,
    pub until_ms: i64,
    /// When the import runs (recorded as its finish time; decides metric resolutions).
    pub now_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CloudwatchError {
    #[error("starting the async runtime")]
    Runtime { source: std::io::Error },
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Nothing to import on a first run (the message says where it looked).
    #[error("{0}")]
    NoData(String),
    #[error(
        "no Container Insights data for cluster {cluster} in region {region}: log group {group} does not exist \
         (with enhanced observability, the metrics may hold it)"
    )]
    NoLogGroup { cluster: String, region: String, group: String },
    #[error("import of cluster {cluster} interrupted; what was fetched is stored: re-run the same command to resume")]
    LogsInterrupted { cluster: String, source: Box<LogsError> },
    #[error(
        "import of cluster {cluster} interrupted at {} (period {period_s} s); what was fetched is stored: \
         re-run the same command to resume",
        format_timestamp(*at_ms)
    )]
    MetricsInterrupted { cluster: String, at_ms: i64, period_s: i64, source: Box<AwsError> },
    #[error("{location}: unreadable import state (delete it to import the whole window again)")]
    State { location: String, source: serde_json::Error },
    #[error(transparent)]
    Sink(SinkError),
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    cluster: String,
    region: String,
    namespaces: Vec<String>,
    /// The mode this cluster is imported with (an auto import keeps its first choice).
    mode: Option<Mode>,
    /// Logs: every event up to here (inclusive) is stored. Metrics: every period before here.
    through_ms: Option<i64>,
    /// Logs: the window being read and the token of its next page.
    pending: Option<PendingLogs>,
    finished_at: Option<String>,
    /// Requests and limits per workload container (read by `store::facts`).
    current: Vec<ContainerSettings>,
    /// The cluster recorded on the samples and keying `current` (state files written before
    /// clusters were recorded lack it, and their samples have none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    identity_cluster: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PendingLogs {
    start_ms: i64,
    end_ms: i64,
    next_token: Option<String>,
}

/// Running totals of an import.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub fetched: u64,
    pub added: u64,
    pub duplicates: u64,
    pub days: BTreeSet<i64>,
    pub workload_containers: BTreeSet<(String, String, String, String)>,
    pub pods: BTreeMap<PodOwnerSource, BTreeSet<(String, String)>>,
    pub skipped: u64,
    pub malformed: u64,
    pub malformed_examples: Vec<String>,
    pub store_time: Duration,
}

impl Totals {
    fn note(&mut self, s: &Sample, resolution: PodOwnerSource) {
        self.fetched += 1;
        self.days.insert(s.timestamp_ms.div_euclid(DAY_MS));
        if !self.workload_containers.contains(&(
            s.namespace.clone(),
            s.workload_kind.clone(),
            s.workload.clone(),
            s.container.clone(),
        )) {
            self.workload_containers.insert((
                s.namespace.clone(),
                s.workload_kind.clone(),
                s.workload.clone(),
                s.container.clone(),
            ));
        }
        self.pods.entry(resolution).or_default().insert((s.namespace.clone(), s.pod.clone()));
    }
}

/// Conversion counts, the first node capacities that differed (lowest and highest CPU
/// millicores and memory bytes), and containers impossible to convert (name -> why).
pub(crate) type MetricsOutcome = (metrics::Conversion, Option<(f64, f64, f64, f64)>, BTreeMap<String, String>);

/// What an import did, for the caller to print.
#[derive(Debug)]
pub(crate) struct CloudwatchSummary {
    pub cluster: String,
    pub region: String,
    /// The mode used (logs or metrics).
    pub used: Mode,
    pub from_ms: i64,
    pub to_ms: i64,
    pub calls: ApiCalls,
    pub totals: Totals,
    /// Metrics mode: (listed duplicates, workload-level series left out, containers).
    pub metrics_inventory: Option<(u64, u64, usize)>,
    pub metrics_pages: u64,
    pub metrics_batches: u64,
    /// Queries of the widest time page.
    pub metrics_series_max: u64,
    pub metrics_conversion: Option<MetricsOutcome>,
    /// Workload containers with current requests/limits.
    pub current: usize,
    pub state_location: String,
}

/// Everything one run shares.
struct Run<'a> {
    settings: &'a CloudwatchSettings,
    clients: Clients,
    calls: ApiCalls,
    sink: &'a mut dyn SampleSink,
    /// Whether this run opened (created) the store.
    opened: bool,
    state_name: String,
    state: State,
    totals: Totals,
    progress: &'a dyn Progress,
    rt: tokio::runtime::Runtime,
    metrics_inventory: Option<(u64, u64, usize)>,
    metrics_pages: u64,
    metrics_batches: u64,
    metrics_series_max: u64,
    /// The end of the last metrics page fetched but not yet stored.
    pending_through: Option<i64>,
    metrics_conversion: Option<MetricsOutcome>,
}

/// Imports what is not stored yet of `settings.since_ms ..= settings.until_ms` into `sink`.
pub(crate) fn import(
    settings: &CloudwatchSettings,
    sink: &mut dyn SampleSink,
    progress: &dyn Progress,
) -> Result<CloudwatchSummary, CloudwatchError> {
    let (since, until, now) = (settings.since_ms, settings.until_ms, settings.now_ms);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CloudwatchError::Runtime { source })?;
    let config = rt.block_on(sdk_config(
        settings.region.as_deref(),
        settings.profile.as_deref(),
        settings.endpoint_url.as_deref(),
    ))?;
    rt.block_on(check_credentials(&config))?;
    let calls = ApiCalls::default();
    let clients = Clients::new(&config, &calls, settings.endpoint_url.as_deref());

    let state_name = state_name(&settings.cluster, &clients.region, &settings.namespaces);
    let mut state: State = match sink.load_state(&state_name).map_err(CloudwatchError::Sink)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|source| CloudwatchError::State { location: sink.state_location(&state_name), source })?,
        None => State::default(),
    };
    let first_run = state.through_ms.is_none() && state.pending.is_none();
    state.cluster.clone_from(&settings.cluster);
    state.identity_cluster.clone_from(&settings.cluster);
    state.region.clone_from(&clients.region);
    state.namespaces.clone_from(&settings.namespaces);
    progress.begin(0, "cloudwatch");
    let mut run = Run {
        settings,
        clients,
        calls,
        sink,
        opened: false,
        state_name,
        state,
        totals: Totals::default(),
        progress,
        rt,
        metrics_inventory: None,
        metrics_pages: 0,
        metrics_batches: 0,
        metrics_series_max: 0,
        pending_through: None,
        metrics_conversion: None,
    };

    let mode = match (settings.from, run.state.mode) {
        (Mode::Auto, Some(saved)) => saved,
        (m, _) => m,
    };
    let from_ms = match run.state.through_ms {
        Some(t) if mode == Mode::Logs => since.max(t + 1),
        Some(t) => since.max(t),
        None => since,
    };
    let used = match run.import(mode, from_ms, until, now, first_run) {
        Ok(used) => used,
        Err(e) => {
            progress.end();
            // A first import that stored nothing leaves no progress behind to trip the next one.
            if first_run && run.totals.added == 0 {
                run.sink.remove_state(&run.state_name);
            }
            return Err(e);
        }
    };
    progress.end();
    if run.totals.fetched == 0 && first_run && used == Mode::Logs {
        run.sink.remove_state(&run.state_name);
        return Err(CloudwatchError::NoData(format!(
            "no Container Insights data for cluster {} in region {}: log group {} has no container events between {} and {}{} \
             ({} malformed container event(s) skipped)",
            settings.cluster,
            run.clients.region,
            logs::log_group(&settings.cluster),
            format_timestamp(from_ms),
            format_timestamp(until),
            if settings.namespaces.is_empty() {
                String::new()
            } else {
                format!(" in namespaces {}", settings.namespaces.join(", "))
            },
            run.totals.malformed
        )));
    }
    run.state.mode = Some(used);
    run.state.finished_at = Some(format_timestamp(now));
    run.save()?;
    Ok(CloudwatchSummary {
        cluster: settings.cluster.clone(),
        region: run.clients.region.clone(),
        used,
        from_ms,
        to_ms: until,
        current: run.state.current.len(),
        state_location: run.sink.state_location(&run.state_name),
        calls: run.calls,
        totals: run.totals,
        metrics_inventory: run.metrics_inventory,
        metrics_pages: run.metrics_pages,
        metrics_batches: run.metrics_batches,
        metrics_series_max: run.metrics_series_max,
        metrics_conversion: run.metrics_conversion,
    })
}

impl Run<'_> {
    fn logs_error(&self, e: LogsError) -> CloudwatchError {
        match e {
            LogsError::NoLogGroup(group) => CloudwatchError::NoLogGroup {
                cluster: self.settings.cluster.clone(),
                region: self.clients.region.clone(),
                group,
            },
            source => {
                CloudwatchError::LogsInterrupted { cluster: self.settings.cluster.clone(), source: Box::new(source) }
            }
        }
    }

    fn import(
        &mut self,
        mode: Mode,
        from_ms: i64,
        until: i64,
        now: i64,
        first_run: bool,
    ) -> Result<Mode, CloudwatchError> {
        match mode {
            Mode::Logs => {
                self.import_logs(from_ms, until).map_err(|e| self.logs_error(e))?;
                Ok(Mode::Logs)
            }
            Mode::Metrics => {
                self.import_metrics(from_ms, until, now, first_run)?;
                Ok(Mode::Metrics)
            }
            Mode::Auto => match self.import_logs(from_ms, until) {
                Ok(()) if self.totals.fetched > 0 || !first_run => Ok(Mode::Logs),
                Ok(()) | Err(LogsError::NoLogGroup(_)) => {
                    self.state.through_ms = None;
                    self.state.pending = None;
                    self.import_metrics(from_ms, until, now, first_run)?;
                    Ok(Mode::Metrics)
                }
                Err(e) => Err(self.logs_error(e)),
            },
        }
    }

    fn append(&mut self, mut samples: Vec<Sample>) -> Result<(), CloudwatchError> {
        if samples.is_empty() {
            return Ok(());
        }
        samples.iter_mut().for_each(|s| s.cluster.clone_from(&self.settings.cluster));
        let writing = Instant::now();
        if !self.opened {
            self.sink.open().map_err(CloudwatchError::Sink)?;
            self.opened = true;
        }
        let appended = self.sink.append(&mut SampleRows::from_samples(&samples)).map_err(CloudwatchError::Sink)?;
        self.totals.store_time += writing.elapsed();
        self.totals.added += appended.written;
        self.totals.duplicates += appended.duplicates;
        Ok(())
    }

    /// Saves progress once the store exists: a first import that stores nothing leaves nothing behind.
    fn save(&mut self) -> Result<(), CloudwatchError> {
        if self.opened || self.sink.exists() {
            let text = serde_json::to_string_pretty(&self.state).expect("state serialises");
            self.sink.save_state(&self.state_name, &text).map_err(CloudwatchError::Sink)?;
        }
        Ok(())
    }

    fn show(&self, what: &str) {
        let c = &self.calls;
        self.progress.step(&format!(
            "{what}: {} samples, {} datapoints, {} queries, {} API calls, ~${:.4}",
            self.totals.fetched,
            ApiCalls::get(&c.datapoints),
            ApiCalls::get(&c.metrics_requested),
            c.calls(),
            c.estimated_usd()
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Logs
}

/// Newer settings replace older ones per workload container.
fn merge_settings(current: &mut Vec<ContainerSettings>, newer: Vec<ContainerSettings>) {
    for n in newer {
        match current.iter_mut().find(|c| {
            (&c.namespace, &c.workload_kind, &c.workload, &c.container)
                == (&n.namespace, &n.workload_kind, &n.workload, &n.container)
        }) {
            Some(c) => c.resources = n.resources,
            None => current.push(n),
        }
    }
}

/// The sink's state name: `cloudwatch-<cluster>-<region>[-<namespaces hash>]`.
pub(crate) fn state_name(cluster: &str, region: &str, namespaces: &[String]) -> String {
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
    };
    let mut name = format!("cloudwatch-{}-{}", safe(cluster), safe(region));
    if !namespaces.is_empty() {
        let mut ns = namespaces.to_vec();
        ns.sort();
        let hash = stable_hash(&ns.join(","));
        name.push_str(&format!("-{hash:016x}"));
    }
    name
}

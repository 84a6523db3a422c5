//! `podsizer import cloudwatch --cluster NAME --store DIR`: usage history from CloudWatch
//! Container Insights, from the performance logs or the enhanced-observability metrics.
//!
//! Progress is kept per cluster, region and namespace scope in
//! `STORE/imports/cloudwatch-<cluster>-<region>[-<scope>].json`: the mode in use, the last
//! instant stored, the logs window in progress with its page token, and the requests/limits
//! seen (read back by `store::facts` like the Prometheus import's). A re-run starts after what
//! is stored; an interrupted run resumes from the saved page token (logs) or the first time
//! page not yet stored (metrics). Rows stored twice would be dropped by the store anyway.

use super::import::{load_state, save_state, stable_hash};
use crate::cli::args::{CloudwatchArgs, CloudwatchFrom};
use crate::domain::{format_timestamp, parse_duration, parse_timestamp, Sample, DAY_MS};
use crate::sources::aws::{check_credentials, sdk_config, AwsError};
use crate::sources::cloudwatch::logs::{self, LogsError, SettingsFold};
use crate::sources::cloudwatch::metrics::{self, Metric, NodeCapacity, Points, Query, Route};
use crate::sources::cloudwatch::{ApiCalls, Clients, Resolution};
use crate::sources::prometheus::ContainerSettings;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Data younger than this may still be arriving (agents flush every minute; logs can lag).
const SETTLE_MS: i64 = 5 * 60_000;
/// Rows buffered before an append (each append re-reads the day's keys, so not every page).
const FLUSH_ROWS: usize = 200_000;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    cluster: String,
    region: String,
    namespaces: Vec<String>,
    /// The mode this cluster is imported with (an auto import keeps its first choice).
    mode: Option<CloudwatchFrom>,
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

/// Totals for the summary.
#[derive(Default)]
struct Totals {
    fetched: u64,
    added: u64,
    duplicates: u64,
    days: BTreeSet<i64>,
    workload_containers: BTreeSet<(String, String, String, String)>,
    pods: BTreeMap<Resolution, BTreeSet<(String, String)>>,
    skipped: u64,
    malformed: u64,
    malformed_examples: Vec<String>,
    store_time: Duration,
}

impl Totals {
    fn note(&mut self, s: &Sample, resolution: Resolution) {
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

/// Everything one run shares.
struct Run<'a> {
    args: &'a CloudwatchArgs,
    clients: Clients,
    calls: ApiCalls,
    store_root: PathBuf,
    store: Option<Store>,
    state_path: PathBuf,
    state: State,
    totals: Totals,
    progress: indicatif::ProgressBar,
    rt: tokio::runtime::Runtime,
    /// Metrics mode: (listed duplicates, workload-level series left out, containers).
    metrics_inventory: Option<(u64, u64, usize)>,
    metrics_pages: u64,
    metrics_batches: u64,
    /// Queries of the widest time page.
    metrics_series_max: u64,
    /// The end of the last metrics page fetched but not yet stored.
    pending_through: Option<i64>,
    /// Conversion counts, the first node capacities that differed, and containers impossible to convert.
    metrics_conversion: Option<MetricsOutcome>,
}

type MetricsOutcome = (metrics::Conversion, Option<(f64, f64, f64, f64)>, BTreeMap<String, String>);

pub fn run(args: &CloudwatchArgs, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    if args.cluster.trim().is_empty() {
        bail!("--cluster: empty cluster name");
    }
    if !(1..=metrics::MAX_QUERIES_PER_CALL).contains(&args.queries_per_call) {
        bail!("--queries-per-call {}: must be 1 to {}", args.queries_per_call, metrics::MAX_QUERIES_PER_CALL);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let until = match &args.until {
        Some(t) => parse_timestamp(t).context("--until")?.min(now - SETTLE_MS),
        None => now - SETTLE_MS,
    };
    let since = match parse_duration(&args.since) {
        Ok(d) => until - d,
        Err(_) => parse_timestamp(&args.since).context("--since: expected a duration (14d) or a time")?,
    };
    if since >= until {
        bail!("--since {} is not before --until ({})", args.since, format_timestamp(until));
    }

    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let config =
        rt.block_on(sdk_config(args.region.as_deref(), args.profile.as_deref(), args.endpoint_url.as_deref()))?;
    rt.block_on(check_credentials(&config))?;
    let calls = ApiCalls::default();
    let clients = Clients::new(&config, &calls, args.endpoint_url.as_deref());

    let state_path = state_path(&args.store, &args.cluster, &clients.region, &args.namespaces);
    let mut state: State =
        if Store::is_store(&args.store) { load_state(&state_path)? } else { None }.unwrap_or_default();
    let first_run = state.through_ms.is_none() && state.pending.is_none();
    state.cluster = args.cluster.clone();
    state.identity_cluster = args.cluster.clone();
    state.region = clients.region.clone();
    state.namespaces = args.namespaces.clone();
    let mut run = Run {
        args,
        clients,
        calls,
        store_root: args.store.clone(),
        store: None,
        state_path,
        state,
        totals: Totals::default(),
        progress: crate::cli::progress::spinner("cloudwatch"),
        rt,
        metrics_inventory: None,
        metrics_pages: 0,
        metrics_batches: 0,
        metrics_series_max: 0,
        pending_through: None,
        metrics_conversion: None,
    };

    let mode = match (args.from, run.state.mode) {
        (CloudwatchFrom::Auto, Some(saved)) => saved,
        (m, _) => m,
    };
    let from_ms = match run.state.through_ms {
        Some(t) if mode == CloudwatchFrom::Logs => since.max(t + 1),
        Some(t) => since.max(t),
        None => since,
    };
    let used = match run.import(mode, from_ms, until, now, first_run) {
        Ok(used) => used,
        Err(e) => {
            run.progress.finish_and_clear();
            // A first import that stored nothing leaves no progress behind to trip the next one.
            if first_run && run.totals.added == 0 {
                let _ = std::fs::remove_file(&run.state_path);
            }
            return Err(e);
        }
    };
    run.progress.finish_and_clear();
    if run.totals.fetched == 0 && first_run && used == CloudwatchFrom::Logs {
        let _ = std::fs::remove_file(&run.state_path);
        bail!(
            "no Container Insights data for cluster {} in region {}: log group {} has no container events between {} and {}{} \
             ({} malformed container event(s) skipped)",
            args.cluster,
            run.clients.region,
            logs::log_group(&args.cluster),
            format_timestamp(from_ms),
            format_timestamp(until),
            if args.namespaces.is_empty() { String::new() } else { format!(" in namespaces {}", args.namespaces.join(", ")) },
            run.totals.malformed
        );
    }
    run.state.mode = Some(used);
    run.state.finished_at = Some(format_timestamp(now));
    if run.store.is_some() || Store::is_store(&args.store) {
        save_state(&run.state_path, &run.state)?;
    }
    run.summary(out, used, from_ms, until, started)?;
    Ok(0)
}

fn logs_error(e: LogsError, run: &Run) -> anyhow::Error {
    match e {
        LogsError::NoLogGroup(group) => anyhow::anyhow!(
            "no Container Insights data for cluster {} in region {}: log group {group} does not exist \
             (check --cluster and --region; with enhanced observability try --from metrics)",
            run.args.cluster,
            run.clients.region
        ),
        other => anyhow::Error::new(other).context(format!(
            "import of cluster {} interrupted; what was fetched is stored: re-run the same command to resume",
            run.args.cluster
        )),
    }
}

impl Run<'_> {
    fn import(
        &mut self,
        mode: CloudwatchFrom,
        from_ms: i64,
        until: i64,
        now: i64,
        first_run: bool,
    ) -> Result<CloudwatchFrom> {
        match mode {
            CloudwatchFrom::Logs => {
                self.import_logs(from_ms, until).map_err(|e| logs_error(e, self))?;
                Ok(CloudwatchFrom::Logs)
            }
            CloudwatchFrom::Metrics => {
                self.import_metrics(from_ms, until, now, first_run)?;
                Ok(CloudwatchFrom::Metrics)
            }
            CloudwatchFrom::Auto => match self.import_logs(from_ms, until) {
                Ok(()) if self.totals.fetched > 0 || !first_run => Ok(CloudwatchFrom::Logs),
                Ok(()) | Err(LogsError::NoLogGroup(_)) => {
                    self.state.through_ms = None;
                    self.state.pending = None;
                    self.import_metrics(from_ms, until, now, first_run)?;
                    Ok(CloudwatchFrom::Metrics)
                }
                Err(e) => Err(logs_error(e, self)),
            },
        }
    }

    fn store(&mut self) -> Result<&Store> {
        if self.store.is_none() {
            self.store = Some(Store::open_or_create(&self.store_root)?);
        }
        Ok(self.store.as_ref().expect("just opened"))
    }

    fn append(&mut self, mut samples: Vec<Sample>) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        samples.iter_mut().for_each(|s| s.cluster.clone_from(&self.args.cluster));
        let writing = Instant::now();
        let report = self.store()?.append(samples)?;
        self.totals.store_time += writing.elapsed();
        self.totals.added += report.written;
        self.totals.duplicates += report.duplicates;
        Ok(())
    }

    /// Saves progress once the store exists: a first import that stores nothing leaves nothing behind.
    fn save(&self) -> Result<()> {
        if self.store.is_some() || Store::is_store(&self.store_root) {
            save_state(&self.state_path, &self.state)?;
        }
        Ok(())
    }

    fn show(&self, what: &str) {
        let c = &self.calls;
        self.progress.set_message(format!(
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

    /// Day windows `[start, end]` from `from` to `to`, the saved one first.
    fn import_logs(&mut self, from_ms: i64, to_ms: i64) -> Result<(), LogsError> {
        let mut windows: Vec<(i64, i64, Option<String>)> = Vec::new();
        let mut start = from_ms;
        if let Some(p) = self.state.pending.clone().filter(|p| p.end_ms <= to_ms) {
            windows.push((p.start_ms, p.end_ms, p.next_token));
            start = start.max(p.end_ms + 1);
        }
        while start <= to_ms {
            let end = (start - start.rem_euclid(DAY_MS) + DAY_MS - 1).min(to_ms);
            windows.push((start, end, None));
            start = end + 1;
        }
        let mut fold = SettingsFold::default();
        let count = windows.len();
        for (i, (start, end, token)) in windows.into_iter().enumerate() {
            let result = self.logs_window(start, end, token, &mut fold, (i + 1, count));
            // Whatever was read is kept, so settings learnt before a failure are saved too.
            if result.is_err() {
                std::mem::take(&mut fold).merge_into(&mut self.state.current);
                let _ = self.save();
            }
            result?;
        }
        fold.merge_into(&mut self.state.current);
        Ok(())
    }

    fn logs_window(
        &mut self,
        start: i64,
        end: i64,
        mut token: Option<String>,
        fold: &mut SettingsFold,
        (n, of): (usize, usize),
    ) -> Result<(), LogsError> {
        let stored = |e: anyhow::Error| {
            LogsError::Aws(AwsError::Api { operation: "store".into(), code: "local".into(), message: format!("{e:#}") })
        };
        self.state.pending = Some(PendingLogs { start_ms: start, end_ms: end, next_token: token.clone() });
        let mut buffer: Vec<Sample> = Vec::new();
        loop {
            let page = self.rt.block_on(logs::fetch_page(
                &self.clients,
                &self.calls,
                &self.args.cluster,
                &self.args.namespaces,
                (start, end),
                token.clone(),
            ));
            let page = match page {
                Ok(p) => p,
                Err(LogsError::StaleToken(_)) => {
                    // Tokens expire: read the window again from its start (the store drops repeats).
                    token = None;
                    continue;
                }
                Err(e) => {
                    self.flush_logs(&mut buffer, token.clone()).map_err(stored)?;
                    return Err(e);
                }
            };
            self.totals.skipped += page.skipped;
            self.totals.malformed += page.malformed;
            for ex in page.malformed_examples {
                if self.totals.malformed_examples.len() < 5 {
                    self.totals.malformed_examples.push(ex);
                }
            }
            for e in page.events {
                fold.add(&e);
                self.totals.note(&e.sample, e.resolution);
                buffer.push(e.sample);
            }
            token = page.next_token;
            self.show(&format!("logs window {n}/{of} ({} .. {})", format_timestamp(start), format_timestamp(end)));
            if token.is_none() {
                break;
            }
            if buffer.len() >= FLUSH_ROWS {
                self.flush_logs(&mut buffer, token.clone()).map_err(stored)?;
            }
        }
        self.flush_logs(&mut buffer, None).map_err(stored)?;
        self.state.pending = None;
        self.state.through_ms = Some(end);
        self.save().map_err(stored)
    }

    /// Stores the buffer, then records the token of the page after it.
    fn flush_logs(&mut self, buffer: &mut Vec<Sample>, next: Option<String>) -> Result<()> {
        self.append(std::mem::take(buffer))?;
        if let Some(p) = self.state.pending.as_mut() {
            p.next_token = next;
        }
        self.save()
    }

    // -----------------------------------------------------------------------------------------
    // Metrics

    fn import_metrics(&mut self, from_ms: i64, until: i64, now: i64, first_run: bool) -> Result<()> {
        let cluster = self.args.cluster.clone();
        let listed = self.rt.block_on(metrics::list_series(&self.clients, &self.calls, &cluster))?;
        let inventory = metrics::inventory(&listed, &cluster, &self.args.namespaces);
        self.metrics_inventory = Some((inventory.duplicates, inventory.aggregated, inventory.containers.len()));
        if inventory.containers.is_empty() {
            if first_run {
                bail!(
                    "no Container Insights data for cluster {cluster} in region {}: {}ListMetrics finds no container \
                     metrics (namespace {}, ClusterName={cluster}{}); check --cluster and --region (container metrics \
                     need enhanced observability, and ListMetrics only lists metrics with data in the last two weeks)",
                    self.clients.region,
                    if self.args.from == CloudwatchFrom::Auto {
                        format!(
                            "log group {} has no container events or does not exist, and ",
                            logs::log_group(&cluster)
                        )
                    } else {
                        String::new()
                    },
                    metrics::NAMESPACE,
                    if self.args.namespaces.is_empty() {
                        String::new()
                    } else {
                        format!(", namespaces {}", self.args.namespaces.join(", "))
                    }
                );
            }
            return Ok(());
        }
        let mut impossible: BTreeMap<String, String> = BTreeMap::new();
        for (id, m) in &inventory.containers {
            let name = format!("{}/{}/{}", id.namespace, id.pod.as_deref().unwrap_or(&id.owner), id.container);
            match (metrics::cpu_route(m), metrics::memory_route(m)) {
                (Route::Missing, _) => {
                    impossible.insert(name, "no CPU series (neither % of limit with a limit, nor % of node)".into());
                }
                (_, Route::Missing) => {
                    impossible.insert(name, "no memory series (neither % of limit with a limit, nor % of node)".into());
                }
                _ => {}
            }
        }
        let bands = metrics::bands(from_ms, until, now);
        let last_band = bands.len().saturating_sub(1);
        let mut buffer: Vec<Sample> = Vec::new();
        let mut conversion = metrics::Conversion::default();
        let mut differing: Option<(f64, f64, f64, f64)> = None;
        for (bi, band) in bands.iter().enumerate() {
            let plan = |settings: bool| -> Vec<(metrics::ContainerId, Vec<Metric>)> {
                inventory
                    .containers
                    .iter()
                    .map(|(id, m)| (id.clone(), metrics::metrics_to_query(m, settings)))
                    .filter(|(_, q)| !q.is_empty())
                    .collect()
            };
            let settings_plan = plan(true);
            let usage_plan = plan(false);
            let needs_node = inventory
                .containers
                .values()
                .any(|m| metrics::cpu_route(m) == Route::Node || metrics::memory_route(m) == Route::Node);
            let widest = settings_plan.iter().map(|(_, q)| q.len()).sum::<usize>() + if needs_node { 4 } else { 0 };
            let pages =
                metrics::time_pages(*band, widest, self.args.queries_per_call, self.args.max_datapoints_per_call);
            let page_count = pages.len();
            self.metrics_pages += page_count as u64;
            self.metrics_series_max = self.metrics_series_max.max(widest as u64);
            for (pi, page) in pages.into_iter().enumerate() {
                let last = bi == last_band && pi + 1 == page_count;
                let plan = if last { &settings_plan } else { &usage_plan };
                let batches = metrics::batches(plan, self.args.queries_per_call, needs_node);
                self.metrics_batches += batches.len() as u64;
                let mut values: HashMap<Query, Points> = HashMap::new();
                for batch in &batches {
                    let fetched = self.rt.block_on(metrics::fetch_batch(
                        &self.clients,
                        &self.calls,
                        &cluster,
                        page,
                        band.period_s,
                        batch,
                    ));
                    let points = match fetched {
                        Ok(p) => p,
                        Err(e) => {
                            self.flush_metrics(&mut buffer, None)?;
                            return Err(anyhow::Error::new(e).context(format!(
                                "import of cluster {cluster} interrupted at {} (period {} s); what was fetched is \
                                 stored: re-run the same command to resume",
                                format_timestamp(page.0),
                                band.period_s
                            )));
                        }
                    };
                    for (q, p) in batch.iter().zip(points) {
                        values.insert(q.clone(), p);
                    }
                    self.show(&format!("metrics page {}/{page_count} at {} s", pi + 1, band.period_s));
                }
                let capacity = node_capacity(&values);
                if let Some(&(_, lo, hi, mlo, mhi)) = capacity.differing.first() {
                    differing.get_or_insert((lo, hi, mlo, mhi));
                }
                let mut per_container: HashMap<metrics::ContainerId, HashMap<Metric, Points>> = HashMap::new();
                for (q, p) in values {
                    if let Query::Container(id, m) = q {
                        per_container.entry(id).or_default().insert(m, p);
                    }
                }
                for (id, vals) in &per_container {
                    let (samples, resolution) =
                        metrics::convert(id, &inventory.containers[id], vals, &capacity, &mut conversion);
                    for s in &samples {
                        self.totals.note(s, resolution);
                    }
                    buffer.extend(samples);
                }
                if last {
                    let list: Vec<_> = per_container.into_iter().collect();
                    merge_settings(&mut self.state.current, metrics::settings(&list));
                }
                if buffer.len() >= FLUSH_ROWS || last {
                    self.flush_metrics(&mut buffer, Some(page.1))?;
                } else {
                    self.pending_through = Some(page.1);
                }
            }
        }
        self.flush_metrics(&mut buffer, None)?;
        self.metrics_conversion = Some((conversion, differing, impossible));
        Ok(())
    }

    /// Stores the buffer; `through` (or the last page completed) becomes the resume point.
    fn flush_metrics(&mut self, buffer: &mut Vec<Sample>, through: Option<i64>) -> Result<()> {
        self.append(std::mem::take(buffer))?;
        if let Some(t) = through.or(self.pending_through.take()) {
            self.state.through_ms = Some(t);
        }
        self.save()
    }

    fn summary(
        &self,
        out: &mut dyn Write,
        used: CloudwatchFrom,
        from_ms: i64,
        to_ms: i64,
        started: Instant,
    ) -> Result<()> {
        let c = &self.calls;
        let t = &self.totals;
        let mode = if used == CloudwatchFrom::Logs { "performance logs" } else { "ContainerInsights metrics" };
        writeln!(
            out,
            "cloudwatch {} ({}, {mode}): {} .. {}",
            self.args.cluster,
            self.clients.region,
            format_timestamp(from_ms),
            format_timestamp(to_ms)
        )?;
        let attempts = ApiCalls::get(&c.attempts);
        let retries = attempts.saturating_sub(c.calls());
        match used {
            CloudwatchFrom::Logs => writeln!(
                out,
                "  API calls: {} (FilterLogEvents {}), {retries} retried; estimated cost $0 (FilterLogEvents is not billed per call)",
                c.calls(),
                ApiCalls::get(&c.filter_log_events)
            )?,
            _ => {
                let gmd = ApiCalls::get(&c.get_metric_data);
                writeln!(
                    out,
                    "  API calls: {} (ListMetrics {}, GetMetricData {gmd}: {} call(s) over {} time page(s) of at most {} queries, \
                     ceil(series/{}) per page, + {} NextToken continuation(s)), {retries} retried",
                    c.calls(),
                    ApiCalls::get(&c.list_metrics),
                    self.metrics_batches,
                    self.metrics_pages,
                    self.metrics_series_max,
                    self.args.queries_per_call,
                    ApiCalls::get(&c.continuations)
                )?;
                writeln!(
                    out,
                    "  metrics requested: {} ({} datapoints); estimated cost ${:.4}",
                    ApiCalls::get(&c.metrics_requested),
                    ApiCalls::get(&c.datapoints),
                    c.estimated_usd()
                )?;
            }
        }
        writeln!(
            out,
            "  samples: {} fetched, {} added, {} already stored, {} day(s)",
            t.fetched,
            t.added,
            t.duplicates,
            t.days.len()
        )?;
        let pods = |r: Resolution| t.pods.get(&r).map_or(0, BTreeSet::len);
        writeln!(
            out,
            "  containers: {} of {} workload(s); workloads of pods: {} from pod owners, {} from pod names, {} as their own Pod",
            t.workload_containers.len(),
            t.workload_containers.iter().map(|(ns, k, w, _)| (ns, k, w)).collect::<BTreeSet<_>>().len(),
            pods(Resolution::Owner),
            pods(Resolution::Name),
            pods(Resolution::PodItself)
        )?;
        if used == CloudwatchFrom::Logs {
            writeln!(
                out,
                "  events: {} other types or namespaces skipped, {} malformed skipped",
                t.skipped, t.malformed
            )?;
        }
        if let Some((dups, aggregated, containers)) = self.metrics_inventory {
            writeln!(
                out,
                "  series: {containers} pod container(s) listed ({dups} duplicate listing(s) ignored, {aggregated} workload-level series left out for per-pod ones)"
            )?;
        }
        if let Some((conv, _, _)) = &self.metrics_conversion {
            writeln!(
                out,
                "  converted: {} value(s) with the container's limit, {} with the node capacity; {} without one node capacity and {} unpaired not stored",
                conv.via_limit, conv.via_node, conv.no_capacity, conv.unpaired
            )?;
        }
        writeln!(
            out,
            "  current requests/limits: {} workload container(s); saved in {}",
            self.state.current.len(),
            self.state_path.display()
        )?;
        writeln!(
            out,
            "  wall time: {:.1}s ({:.1}s writing the store)",
            started.elapsed().as_secs_f64(),
            t.store_time.as_secs_f64()
        )?;
        self.warnings();
        Ok(())
    }

    fn warnings(&self) {
        let t = &self.totals;
        if t.malformed > 0 {
            eprintln!(
                "warning: {} malformed container event(s) skipped (not stored), e.g. {}",
                t.malformed,
                t.malformed_examples.join("; ")
            );
        }
        let Some((conv, differing, impossible)) = &self.metrics_conversion else { return };
        if conv.no_capacity > 0 {
            let detail = differing.map_or_else(
                || "node_cpu_limit / node_memory_limit were not found".to_string(),
                |(lo, hi, mlo, mhi)| {
                    format!(
                        "nodes differ: {:.2} .. {:.2} cores, {:.1} .. {:.1} GiB",
                        lo / 1000.0,
                        hi / 1000.0,
                        mlo / 1073741824.0,
                        mhi / 1073741824.0
                    )
                },
            );
            eprintln!(
                "warning: {} value(s) in % of the node could not be converted to cores/bytes ({detail}); containers \
                 without a limit on such clusters need --from logs (exact millicores and bytes) or a limit",
                conv.no_capacity
            );
        }
        for (name, why) in impossible.iter().take(10) {
            eprintln!("warning: {name}: cannot convert to cores and bytes: {why}; not imported");
        }
        if impossible.len() > 10 {
            eprintln!("warning: ... and {} more container(s) that cannot be converted", impossible.len() - 10);
        }
    }
}

/// Node capacity from the cluster-wide Minimum/Maximum queries of a page.
fn node_capacity(values: &HashMap<Query, Points>) -> NodeCapacity {
    let empty = Points::new();
    let get = |i: usize| values.get(&Query::NodeCapacity(i)).unwrap_or(&empty);
    NodeCapacity::from_points(get(0), get(1), get(2), get(3))
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

/// `imports/cloudwatch-<cluster>-<region>[-<namespaces hash>].json`
fn state_path(store: &Path, cluster: &str, region: &str, namespaces: &[String]) -> PathBuf {
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
    store.join("imports").join(format!("{name}.json"))
}

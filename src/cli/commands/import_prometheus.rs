//! `podsizer import prometheus --url URL --store DIR`: usage history from the Prometheus HTTP API.
//!
//! Progress is kept in `STORE/imports/prometheus-<id>.json` (one file per URL and scope): the
//! last instant fully imported, the window in progress and the pods of it already stored, and
//! the current requests/limits and OOM kills read from kube-state-metrics. A re-run starts
//! after the last instant imported; an interrupted run resumes the window it was in, skipping
//! pods already stored (rows stored twice would be dropped by the store anyway).

use super::import::{load_state, save_state, stable_hash};
use crate::cli::args::{InputArgs, PrometheusArgs, ReadApi};
use crate::domain::{format_timestamp, parse_duration, parse_timestamp, DAY_MS};
use crate::sources::prometheus::{
    align_down, align_up, day_windows, discover_pods, fetch_kube_state, fetch_window, parse_header, pod_batches,
    promql_duration, time_windows, Client, ClientConfig, ContainerSettings, FetchOptions, JoinStats, ReadPath,
    Resolution, Scope, Window, MAX_POINTS_PER_SERIES, REMOTE_READ_POINTS,
};
use crate::store::remote::AnyStore;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pending {
    window: Window,
    done: BTreeSet<(String, String)>,
}

/// Totals for the summary.
#[derive(Default)]
struct Totals {
    fetched: u64,
    added: u64,
    duplicates: u64,
    days: BTreeSet<i64>,
    /// (namespace, pod, container) with samples.
    series: BTreeSet<(String, String, String)>,
    /// (namespace, kind, workload, container) with samples.
    workload_containers: BTreeSet<(String, String, String, String)>,
    join: JoinStats,
    store_time: Duration,
}

/// Rows held (compactly, see `Buffer`) before they are stored: about 32 bytes each.
const FLUSH_ROWS: usize = 16_000_000;
/// Rows per store append; each append is one time slice that no other append of the same
/// flush overlaps, so the store never re-reads what this flush wrote.
const APPEND_ROWS: usize = 100_000;

/// Samples waiting to be stored. Batches arrive pod by pod, each covering the whole window,
/// while the store de-duplicates an append against the day's parts whose time range meets
/// it: appending each batch (or each million rows) as it came re-read the day's earlier parts
/// again and again, and that was most of an import's time. So rows are held here, labels
/// interned (about 32 bytes a row instead of a `Sample`'s ~250), and stored at the end of the
/// window (or every FLUSH_ROWS rows) in time order, in slices of disjoint time ranges.
#[derive(Default)]
struct Buffer {
    /// The cluster of every row.
    cluster: String,
    /// (namespace, workload kind, workload, pod, container) of each series seen.
    labels: Vec<[String; 5]>,
    rows: Vec<Row>,
}

struct Row {
    timestamp_ms: i64,
    cpu_cores: f64,
    memory_bytes: f64,
    series: u32,
}

impl Buffer {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds samples grouped by series (as `join_samples` returns them).
    fn extend(&mut self, samples: Vec<crate::domain::Sample>) {
        self.rows.reserve(samples.len());
        for s in samples {
            let same = self.labels.last().is_some_and(|l| {
                l[4] == s.container
                    && l[3] == s.pod
                    && l[0] == s.namespace
                    && l[2] == s.workload
                    && l[1] == s.workload_kind
            });
            if !same {
                self.labels.push([s.namespace, s.workload_kind, s.workload, s.pod, s.container]);
            }
            self.rows.push(Row {
                timestamp_ms: s.timestamp_ms,
                cpu_cores: s.cpu_cores,
                memory_bytes: s.memory_bytes,
                series: (self.labels.len() - 1) as u32,
            });
        }
    }

    /// Stores every row and empties the buffer: time-ordered slices of about APPEND_ROWS rows,
    /// cut where the time (and the day) changes.
    fn store(&mut self, store: &AnyStore, slice_rows: usize) -> Result<crate::store::AppendReport> {
        let mut total = crate::store::AppendReport::default();
        let mut rows = std::mem::take(&mut self.rows);
        let labels = std::mem::take(&mut self.labels);
        // Each series' place in the store's row order (`Sample::store_order`): slices handed
        // over already in that order make the store's own sort a single pass, where sorting
        // by five strings per comparison took longer than everything else in the append.
        let mut order: Vec<u32> = (0..labels.len() as u32).collect();
        let key = |i: u32| {
            let [ns, kind, workload, pod, container] = &labels[i as usize];
            (ns, kind, workload, container, pod)
        };
        order.sort_by(|a, b| key(*a).cmp(&key(*b)));
        let mut rank = vec![0u32; labels.len()];
        for (place, pair) in order.iter().enumerate() {
            rank[*pair as usize] = place as u32;
        }
        rows.sort_unstable_by_key(|r| (r.timestamp_ms, rank[r.series as usize]));
        let mut start = 0;
        while start < rows.len() {
            let day = rows[start].timestamp_ms.div_euclid(DAY_MS);
            let mut end = (start + slice_rows.max(1)).min(rows.len());
            // Back to where the time changes, so no two slices share an instant...
            while end < rows.len() && end > start && rows[end].timestamp_ms == rows[end - 1].timestamp_ms {
                end -= 1;
            }
            if end == start {
                // ...unless one instant alone has more rows than a slice.
                let t = rows[start].timestamp_ms;
                end = start + rows[start..].partition_point(|r| r.timestamp_ms == t);
            }
            // ...and no slice spans two days.
            end = start + rows[start..end].partition_point(|r| r.timestamp_ms.div_euclid(DAY_MS) == day);
            rows[start..end].sort_unstable_by_key(|r| (rank[r.series as usize], r.timestamp_ms));
            let samples: Vec<crate::domain::Sample> = rows[start..end]
                .iter()
                .map(|r| {
                    let [namespace, workload_kind, workload, pod, container] = labels[r.series as usize].clone();
                    crate::domain::Sample {
                        timestamp_ms: r.timestamp_ms,
                        cluster: self.cluster.clone(),
                        namespace,
                        workload_kind,
                        workload,
                        pod,
                        container,
                        cpu_cores: r.cpu_cores,
                        memory_bytes: r.memory_bytes,
                    }
                })
                .collect();
            let report = store.append(samples)?;
            total.received += report.received;
            total.written += report.written;
            total.duplicates += report.duplicates;
            total.parts_written += report.parts_written;
            start = end;
        }
        Ok(total)
    }
}

/// Remote read unless told otherwise; with `auto`, query_range where the server refuses it
/// (one probe request), saying so.
fn choose_read_path(client: &Client, scope: &Scope, api: ReadApi, at_ms: i64) -> Result<ReadPath> {
    match api {
        ReadApi::QueryRange => Ok(ReadPath::QueryRange),
        ReadApi::RemoteRead => {
            client.probe_remote_read(scope, at_ms).context("--read-api remote-read")?;
            Ok(ReadPath::RemoteRead)
        }
        ReadApi::Auto => match client.probe_remote_read(scope, at_ms) {
            Ok(()) => Ok(ReadPath::RemoteRead),
            Err(e) if crate::sources::prometheus::remote_read::is_refusal(&e) => {
                eprintln!("note: {e}; reading with query_range instead");
                Ok(ReadPath::QueryRange)
            }
            Err(e) => Err(e.into()),
        },
    }
}

pub fn run(args: &PrometheusArgs, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let step = parse_duration(&args.step).context("--step")?;
    if step < 1000 || step % 1000 != 0 {
        bail!("--step {}: must be whole seconds, at least 1s", args.step);
    }
    let rate_window = match &args.rate_window {
        Some(w) => parse_duration(w).context("--rate-window")?,
        None => step,
    };
    let timeout = parse_duration(&args.timeout).context("--timeout")?;
    let now = chrono::Utc::now().timestamp_millis();
    let until = match &args.until {
        Some(t) => parse_timestamp(t).context("--until")?,
        // The newest step may still be scraped: stop one step short of now.
        None => now - step,
    };
    let since = match parse_duration(&args.since) {
        Ok(d) => until - d,
        Err(_) => parse_timestamp(&args.since).context("--since: expected a duration (14d) or a time")?,
    };
    let to = align_down(until, step);
    let earliest = align_up(since, step);
    if earliest > to {
        bail!("--since {} is not before --until ({})", args.since, format_timestamp(to));
    }

    let scope = Scope {
        namespaces: args.namespaces.clone(),
        cluster: args.cluster_label.as_deref().map(parse_cluster_label).transpose()?,
        selector: args.selector.clone(),
    };
    scope.validate()?;
    let client = Client::new(ClientConfig {
        url: args.url.clone(),
        headers: headers(args)?,
        timeout: Duration::from_millis(timeout as u64),
        retries: args.retries,
        backoff: Duration::from_millis(500),
    })?;
    let mut options = FetchOptions {
        scope: scope.clone(),
        step_ms: step,
        rate_window_ms: rate_window,
        max_points_per_request: args.max_points.max(1),
        concurrency: args.concurrency.max(1),
        read_path: ReadPath::QueryRange,
    };

    // The store is created only once Prometheus has answered, so a failed first import leaves nothing behind.
    let source = source_id(client.url(), &scope, args);
    let local_root = AnyStore::local_root(&args.store, &args.s3.options());
    let state_path = state_path(&local_root, &source);
    let mut state: State =
        if Store::is_store(&local_root) { load_state(&state_path)? } else { None }.unwrap_or_default();
    let first_run = state.finished_at.is_none() && state.through_ms.is_none();
    state.source = source;
    state.step_ms = step;
    state.identity_cluster =
        args.cluster.clone().or_else(|| scope.cluster.as_ref().map(|(_, v)| v.clone())).unwrap_or_default();

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
        writeln!(
            out,
            "prometheus {}: nothing new; stored through {} (next instant {})",
            client.url(),
            format_timestamp(state.through_ms.unwrap_or(to)),
            format_timestamp(to + step)
        )?;
        return Ok(0);
    }
    let range = Window { start_ms: windows[0].start_ms, end_ms: windows.last().expect("non-empty").end_ms };

    let ksm = fetch_kube_state(&client, &scope, range.start_ms, range.end_ms)
        .context("reading kube-state-metrics series (owners, requests/limits, OOM kills)")?;
    options.read_path = choose_read_path(&client, &scope, args.read_api, range.end_ms)?;
    if options.read_path == ReadPath::RemoteRead {
        // Raw samples become rows here: one UTC day per window (stored before the next is read)
        // and smaller batches keep memory flat however many days or containers there are.
        windows = windows
            .into_iter()
            .enumerate()
            .flat_map(|(i, w)| if i == 0 && resume.is_some() { vec![w] } else { day_windows(w, step) })
            .collect();
        options.max_points_per_request = options.max_points_per_request.min(REMOTE_READ_POINTS);
    }
    let store = AnyStore::open_or_create(&args.store, &args.s3.options())?;
    let mut totals = Totals::default();
    let mut resolutions: BTreeMap<Resolution, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut unlabelled = 0;

    for (wi, window) in windows.iter().enumerate() {
        let (mut pods, skipped) = discover_pods(&client, &scope, *window).context("listing usage series")?;
        unlabelled += skipped;
        for pod in pods.keys() {
            resolutions.entry(ksm.owners.resolve(&pod.0, &pod.1).2).or_default().insert(pod.clone());
        }
        let done = match resume.take() {
            Some(p) if p.window == *window => p.done,
            _ => BTreeSet::new(),
        };
        pods.retain(|p, _| !done.contains(p));
        let batches = pod_batches(&pods, window.points(step), options.max_points_per_request);
        let progress = crate::cli::progress::bar(
            batches.len() as u64,
            &format!(
                "window {}/{} ({} .. {})",
                wi + 1,
                windows.len(),
                format_timestamp(window.start_ms),
                format_timestamp(window.end_ms)
            ),
        );
        state.pending = Some(Pending { window: *window, done });
        save_state(&state_path, &state)?;
        // Batches are stored once per window (or every FLUSH_ROWS rows): see `Buffer`.
        let mut buffer = Buffer { cluster: state.identity_cluster.clone(), ..Buffer::default() };
        let mut buffered_pods: Vec<(String, String)> = Vec::new();
        let flush = |buffer: &mut Buffer,
                     pods: &mut Vec<(String, String)>,
                     state: &mut State,
                     totals: &mut Totals|
         -> Result<()> {
            if buffer.is_empty() && pods.is_empty() {
                return Ok(());
            }
            let writing = Instant::now();
            let report = buffer.store(&store, APPEND_ROWS)?;
            totals.store_time += writing.elapsed();
            totals.added += report.written;
            totals.duplicates += report.duplicates;
            state.pending.as_mut().expect("set above").done.extend(pods.drain(..));
            save_state(&state_path, state)
        };
        let fetched = fetch_window(&client, &options, &ksm.owners, *window, batches, |batch| -> Result<()> {
            totals.fetched += batch.samples.len() as u64;
            let mut last: Option<&crate::domain::Sample> = None;
            for s in &batch.samples {
                totals.days.insert(s.timestamp_ms.div_euclid(DAY_MS));
                // Samples come grouped by series: look at each series once.
                if last.is_none_or(|l| (&l.namespace, &l.pod, &l.container) != (&s.namespace, &s.pod, &s.container)) {
                    totals.series.insert((s.namespace.clone(), s.pod.clone(), s.container.clone()));
                    totals.workload_containers.insert((
                        s.namespace.clone(),
                        s.workload_kind.clone(),
                        s.workload.clone(),
                        s.container.clone(),
                    ));
                }
                last = Some(s);
            }
            add_join(&mut totals.join, &batch.stats);
            buffer.extend(batch.samples);
            buffered_pods.extend(batch.pods);
            if buffer.len() >= FLUSH_ROWS {
                flush(&mut buffer, &mut buffered_pods, &mut state, &mut totals)?;
            }
            progress.inc(1);
            progress.set_message(format!(
                "batches, {} samples, {} requests",
                totals.fetched,
                client.stats.requests.load(Ordering::Relaxed)
            ));
            Ok(())
        });
        progress.finish_and_clear();
        // Whatever arrived before a failure is kept, so a re-run resumes after it.
        flush(&mut buffer, &mut buffered_pods, &mut state, &mut totals)?;
        fetched.with_context(|| {
            format!(
                "import from {} interrupted in window {} .. {}; what was fetched is stored: re-run the same command to resume",
                client.url(),
                format_timestamp(window.start_ms),
                format_timestamp(window.end_ms)
            )
        })?;
        state.through_ms = Some(window.end_ms);
        state.pending = None;
        save_state(&state_path, &state)?;
    }
    let all_pods: BTreeSet<&(String, String)> = resolutions.values().flatten().collect();
    if all_pods.is_empty() && first_run {
        let _ = std::fs::remove_file(&state_path);
        bail!(
            "{}: no {} series with namespace, pod and container labels between {} and {} (matchers: {}); \
             check --url, --namespace, --selector and --cluster-label",
            client.url(),
            crate::sources::prometheus::MEMORY_METRIC,
            format_timestamp(range.start_ms),
            format_timestamp(range.end_ms),
            scope.usage_matchers().join(",")
        );
    }
    if !ksm.settings.is_empty() {
        state.current = ksm.settings.clone();
    }
    let php_fpm = super::import_php_fpm::record(
        &client,
        &scope,
        range,
        &ksm.owners,
        &totals.series,
        &state_path,
        &state.identity_cluster,
    )?;
    state.finished_at = Some(format_timestamp(now));
    save_state(&state_path, &state)?;
    store.sync_side_files().context("uploading the import state")?;

    // Summary.
    let stats = &client.stats;
    let requests = stats.requests.load(Ordering::Relaxed);
    let range_queries = stats.range_queries.load(Ordering::Relaxed);
    writeln!(
        out,
        "prometheus {}: {} .. {}, step {}, rate window {}",
        client.url(),
        format_timestamp(range.start_ms),
        format_timestamp(range.end_ms),
        promql_duration(step),
        promql_duration(rate_window)
    )?;
    writeln!(out, "  read path: {}", options.read_path)?;
    writeln!(
        out,
        "  requests: {requests} ({range_queries} query_range, {} remote read, in {} window(s); \
         the rest series/owner/settings lookups); received {} series, {} samples, {:.1} MB; {} retried, at most {} in flight",
        stats.remote_reads.load(Ordering::Relaxed),
        windows.len(),
        stats.series.load(Ordering::Relaxed),
        stats.samples.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed) as f64 / 1e6,
        stats.retries.load(Ordering::Relaxed),
        stats.max_in_flight.load(Ordering::Relaxed)
    )?;
    writeln!(
        out,
        "  samples: {} fetched, {} added, {} already stored, {} day(s)",
        totals.fetched,
        totals.added,
        totals.duplicates,
        totals.days.len()
    )?;
    let count = |r: Resolution| resolutions.get(&r).map_or(0, BTreeSet::len);
    writeln!(
        out,
        "  containers: {} of {} workload(s), as {} pod container series in {} pod(s); workloads of pods: {} from kube-state-metrics owners, {} guessed from the pod name (Deployment), {} as their own Pod",
        totals.workload_containers.len(),
        totals.workload_containers.iter().map(|(ns, k, w, _)| (ns, k, w)).collect::<BTreeSet<_>>().len(),
        totals.series.len(),
        all_pods.len(),
        count(Resolution::Owner),
        count(Resolution::GuessedDeployment),
        count(Resolution::PodName)
    )?;
    if php_fpm > 0 {
        writeln!(out, "  php-fpm exporter: figures for {php_fpm} workload container(s), saved beside the state file")?;
    }
    let oom: usize = state.current.iter().filter(|c| !c.oom_killed_pods.is_empty()).count();
    writeln!(
        out,
        "  current requests/limits: {} workload container(s), {} with OOM kills; saved in {}",
        state.current.len(),
        oom,
        state_path.display()
    )?;
    for c in state.current.iter().filter(|c| !c.oom_killed_pods.is_empty()).take(10) {
        writeln!(
            out,
            "    OOM-killed: {}/{}/{} container {} (pods {})",
            c.namespace,
            c.workload_kind,
            c.workload,
            c.container,
            c.oom_killed_pods.join(", ")
        )?;
    }
    writeln!(
        out,
        "  wall time: {:.1}s ({:.1}s writing the store)",
        started.elapsed().as_secs_f64(),
        totals.store_time.as_secs_f64()
    )?;

    // Warnings that change how the result should be read.
    if !ksm.owners.has_pod_owners() && !all_pods.is_empty() {
        eprintln!(
            "warning: no kube-state-metrics series (kube_pod_owner) found: workloads were taken from pod names \
             ({} pod(s) read as Deployments from `<name>-<hash>-<suffix>`, {} as their own Pod); \
             scrape kube-state-metrics for exact owners",
            count(Resolution::GuessedDeployment),
            count(Resolution::PodName)
        );
    } else if count(Resolution::GuessedDeployment) + count(Resolution::PodName) > 0 {
        eprintln!(
            "warning: {} pod(s) have no kube_pod_owner series; their workloads were taken from the pod name",
            count(Resolution::GuessedDeployment) + count(Resolution::PodName)
        );
    }
    if unlabelled > 0 {
        eprintln!(
            "warning: {unlabelled} usage series lack a namespace, pod or container label and were ignored \
             (older cAdvisor labels pod_name/container_name are not read)"
        );
    }
    if totals.fetched == 0 && totals.join.unpaired > 0 {
        eprintln!(
            "warning: memory was found but no CPU rate: the rate window ({}) probably holds fewer than two scrapes; \
             try --rate-window 2m (or a larger --step)",
            promql_duration(rate_window)
        );
    }
    Ok(0)
}

fn add_join(total: &mut JoinStats, s: &JoinStats) {
    total.unpaired += s.unpaired;
    total.non_finite += s.non_finite;
    total.unlabelled += s.unlabelled;
    total.outside += s.outside;
}

fn parse_cluster_label(text: &str) -> Result<(String, String)> {
    let (name, value) = text
        .split_once('=')
        .with_context(|| format!("--cluster-label {text:?}: expected NAME=VALUE, e.g. cluster=prod"))?;
    Ok((name.trim().to_string(), value.trim().trim_matches('"').to_string()))
}

fn headers(args: &PrometheusArgs) -> Result<Vec<(String, String)>> {
    let mut headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
    if let Some(file) = &args.bearer_token_file {
        let token = std::fs::read_to_string(file).with_context(|| format!("--bearer-token-file {}", file.display()))?;
        let token = token.trim();
        if token.is_empty() {
            bail!("--bearer-token-file {}: the file is empty", file.display());
        }
        if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")) {
            bail!("--bearer-token-file and --header 'Authorization: ...' both set the Authorization header; use one");
        }
        headers.push(("Authorization".into(), format!("Bearer {token}")));
    }
    Ok(headers)
}

/// `--prometheus URL` on `recommend`, `report`, `pr` and `backtest`: imports the window (the
/// first time) or what is new since the last run into a cache store and returns its path. The
/// import's summary goes to stderr, so stdout holds only the command's own output.
pub fn import_for_sizing(input: &InputArgs, default_window: Option<&str>) -> Result<PathBuf> {
    let p = &input.prometheus;
    // Commands that read all history (backtest: train + holdout windows) get 30 days.
    let window = input.window.as_ref().map(|w| w.text()).or(default_window).unwrap_or("30d");
    let mut args = PrometheusArgs {
        url: p.prometheus.clone().context("--prometheus")?,
        store: PathBuf::new(),
        s3: input.s3.clone(),
        since: input.since.as_ref().map_or_else(|| window.to_string(), |t| t.text().to_string()),
        until: input.until.as_ref().map(|t| t.text().to_string()),
        step: "60s".into(),
        rate_window: p.rate_window.clone(),
        namespaces: input.namespaces.clone(),
        selector: p.selector.clone(),
        headers: p.headers.clone(),
        bearer_token_file: p.bearer_token_file.clone(),
        cluster_label: p.cluster_label.clone(),
        // The --cluster-label value names the cluster, as on `import prometheus`; the sizing
        // commands' own --cluster only filters.
        cluster: None,
        concurrency: 4,
        max_points: 500_000,
        timeout: "120s".into(),
        retries: 2,
        read_api: p.read_api,
    };
    args.store = match &p.store {
        Some(store) => store.clone(),
        None => cache_store(&args)?,
    };
    let mut summary = Vec::new();
    run(&args, &mut summary)?;
    std::io::stderr().write_all(&summary)?;
    Ok(args.store)
}

/// `$XDG_CACHE_HOME/podsizer/prometheus/<host>-<hash of URL and scope>` (or `~/.cache/...`).
fn cache_store(args: &PrometheusArgs) -> Result<PathBuf> {
    let scope = Scope {
        namespaces: args.namespaces.clone(),
        cluster: args.cluster_label.as_deref().map(parse_cluster_label).transpose()?,
        selector: args.selector.clone(),
    };
    let url = args.url.trim().trim_end_matches('/');
    let host: String = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .chars()
        .take(60)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let key = stable_hash(&source_id(url, &scope, args));
    Ok(base.join("podsizer").join("prometheus").join(format!("{host}-{key:016x}")))
}

/// Identifies what an import reads: URL and scope (not the time range or step).
fn source_id(url: &str, scope: &Scope, args: &PrometheusArgs) -> String {
    let mut namespaces = scope.namespaces.clone();
    namespaces.sort();
    format!(
        "url={url} cluster={} namespaces={} selector={} step={}",
        scope.cluster.as_ref().map_or(String::new(), |(n, v)| format!("{n}={v}")),
        namespaces.join(","),
        scope.selector.as_deref().unwrap_or(""),
        args.step
    )
}

fn state_path(store: &Path, source: &str) -> PathBuf {
    let hash = stable_hash(source);
    store.join("imports").join(format!("prometheus-{hash:016x}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;

    fn sample(pod: &str, container: &str, t: i64) -> Sample {
        Sample {
            timestamp_ms: t,
            namespace: "ns".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            pod: pod.into(),
            container: container.into(),
            cpu_cores: t as f64 / 1e9,
            memory_bytes: 1.0 + t as f64,
            ..Default::default()
        }
    }

    #[test]
    fn buffered_rows_are_stored_once_in_disjoint_time_slices() {
        let dir = tempfile::tempdir().unwrap();
        let local = Store::open_or_create(&dir.path().join("store")).unwrap();
        let store = AnyStore::Local(local.clone());
        let start = 20 * DAY_MS - 3 * 60_000;
        let mut want = Vec::new();
        let mut buffer = Buffer::default();
        // Two batches (pods), each over the same six minutes across a day boundary, grouped by series.
        for pod in ["api-a", "api-b"] {
            let mut batch = Vec::new();
            for c in ["nginx", "envoy"] {
                batch.extend((0..6).map(|i| sample(pod, c, start + i * 60_000)));
            }
            want.extend(batch.clone());
            buffer.extend(batch);
        }
        assert_eq!(buffer.len(), 24);
        let report = buffer.store(&store, 5).unwrap();
        assert!(buffer.is_empty());
        assert_eq!((report.received, report.written, report.duplicates), (24, 24, 0));
        let mut got = Vec::new();
        local
            .scan(None, None, |r| {
                got.push((r.pod.to_string(), r.container.to_string(), r.timestamp_ms, r.cpu_cores, r.memory_bytes))
            })
            .unwrap();
        let mut want: Vec<_> = want
            .iter()
            .map(|s| (s.pod.clone(), s.container.clone(), s.timestamp_ms, s.cpu_cores, s.memory_bytes))
            .collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got, want);
        // Slices of 4 rows (one instant of 2 pods x 2 containers; 5 would split one): 6 parts, no two
        // of a day sharing an instant, none spanning two days.
        let mut ranges = Vec::new();
        for day in std::fs::read_dir(dir.path().join("store")).unwrap().flatten().filter(|e| e.path().is_dir()) {
            for part in std::fs::read_dir(day.path()).unwrap().flatten() {
                let name = part.file_name().to_string_lossy().to_string();
                if let Some((_, range)) = name.strip_suffix(".parquet").and_then(|n| n.rsplit_once("-t")) {
                    let (a, b) = range.split_once('-').unwrap();
                    ranges.push((a.parse::<i64>().unwrap(), b.parse::<i64>().unwrap()));
                }
            }
        }
        ranges.sort();
        assert_eq!(ranges.len(), 6, "{ranges:?}");
        for (a, b) in &ranges {
            assert_eq!(a.div_euclid(DAY_MS), b.div_euclid(DAY_MS));
        }
        for pair in ranges.windows(2) {
            assert!(pair[0].1 < pair[1].0, "{ranges:?}");
        }
        // Stored again: every row is a duplicate.
        buffer.extend(want_samples(&got));
        let again = buffer.store(&store, 1000).unwrap();
        assert_eq!((again.written, again.duplicates), (0, 24));
    }

    fn want_samples(rows: &[(String, String, i64, f64, f64)]) -> Vec<Sample> {
        rows.iter().map(|(p, c, t, ..)| sample(p, c, *t)).collect()
    }
}

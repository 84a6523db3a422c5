//! `podsizer collect metrics-server`: the sampling loop. Each round lists PodMetrics, joins
//! them to owners from a cached inventory and buffers the new samples; every --flush-every
//! rounds, at the end and on SIGTERM/SIGINT the buffer goes to the store in one atomic append,
//! then the side state (settings, OOM kills, flushed windows) is rewritten atomically. A
//! `kill -9` loses at most the unflushed rounds; a restart resumes into the same store.

use crate::cli::args::MetricsServerArgs;
use crate::domain::{format_timestamp, human_bytes, parse_duration, Sample};
use crate::sources::metrics_server::client::{self, ConnectOptions, MetricsServerError, Scope};
use crate::sources::metrics_server::{samples_from_metrics, CollectorState, Inventory, ObjectKey, Round};
use crate::sources::retry::Backoff;
use crate::store::remote::AnyStore;
use anyhow::{bail, Context};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

/// Where the side state lives inside the store directory.
pub fn state_path(store: &Path) -> PathBuf {
    store.join("collector").join("state.json")
}

/// First retry waits about this long; later ones double, capped by the interval.
const RETRY_BASE: Duration = Duration::from_secs(1);
const RETRY_CAP: Duration = Duration::from_secs(30);

struct Settings {
    interval: Duration,
    deadline: Option<Instant>,
    max_rounds: Option<u64>,
    once: bool,
    flush_every: u64,
    inventory_refresh: Duration,
    retries: u32,
    scope: Scope,
    connect: ConnectOptions,
    /// `--cluster`: recorded on every sample and in the side record.
    cluster: String,
}

fn duration_arg(text: &str, flag: &str) -> anyhow::Result<Duration> {
    let ms = parse_duration(text).with_context(|| format!("--{flag}"))?;
    Ok(Duration::from_millis(ms as u64))
}

pub fn run(args: &MetricsServerArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let interval = duration_arg(&args.interval, "interval")?;
    let settings = Settings {
        interval,
        deadline: args
            .duration
            .as_deref()
            .map(|d| duration_arg(d, "duration"))
            .transpose()?
            .map(|d| Instant::now() + d),
        max_rounds: if args.once { Some(1) } else { args.rounds },
        cluster: args.cluster.clone().unwrap_or_default(),
        once: args.once,
        flush_every: args.flush_every.max(1),
        inventory_refresh: duration_arg(&args.inventory_refresh, "inventory-refresh")?,
        retries: args.retries,
        scope: Scope {
            namespaces: args.namespaces.clone(),
            selector: args.selector.clone(),
            page_size: args.page_size.max(1),
        },
        connect: ConnectOptions {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            request_timeout: Some(duration_arg(&args.request_timeout, "request-timeout")?),
        },
    };
    let store = AnyStore::open_or_create(&args.store, &args.s3.options())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let summary = runtime.block_on(collect(&settings, &store))?;
    if let (true, Some(last)) = (summary.failed == summary.rounds && !summary.signalled, &summary.last_error) {
        let server = summary.server.as_deref().map_or_else(String::new, |s| format!(" from the API server {s}"));
        anyhow::bail!(
            "all {} round(s) failed, nothing was collected{server}; the last failure: {last}",
            summary.rounds
        );
    }
    writeln!(
        out,
        "collected {} round(s): {} sample(s) written to {} ({} already stored), {} OOM kill(s) seen{}",
        summary.rounds,
        summary.written,
        store.name(),
        summary.duplicates,
        summary.oom_kills,
        if summary.signalled { "; stopped by signal after flushing" } else { "" }
    )?;
    Ok(0)
}

#[derive(Default)]
struct Summary {
    rounds: u64,
    written: u64,
    duplicates: u64,
    oom_kills: u64,
    signalled: bool,
    /// Rounds that failed, and why the last one did: a run in which every round failed is an
    /// error, not a success with nothing in it.
    failed: u64,
    last_error: Option<String>,
    /// The API server's URL, once a client was made.
    server: Option<String>,
}

fn log(msg: &str) {
    let now = chrono::Utc::now().timestamp_millis();
    eprintln!("{} collect: {msg}", format_timestamp(now));
}

/// What every round does (start, round counts, flushes): not with `--quiet`. Retries, skipped
/// rounds, OOM kills and signals are always logged.
fn log_routine(msg: &str) {
    if !crate::cli::progress::is_quiet() {
        log(msg);
    }
}

/// Samples and windows taken but not yet in the store.
#[derive(Default)]
struct Buffer {
    samples: Vec<Sample>,
    windows: HashMap<ObjectKey, i64>,
    rounds: u64,
}

struct Collector<'a> {
    settings: &'a Settings,
    store: &'a AnyStore,
    client: Option<kube::Client>,
    state: CollectorState,
    taken: HashMap<ObjectKey, i64>,
    inventory: Option<(Inventory, Instant)>,
    buffer: Buffer,
    summary: Summary,
    seed: u64,
}

async fn collect(settings: &Settings, store: &AnyStore) -> anyhow::Result<Summary> {
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let state = load_state(store.root());
    let taken = state.taken_windows();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut c = Collector {
        settings,
        store,
        client: None,
        state,
        taken,
        inventory: None,
        buffer: Buffer::default(),
        summary: Summary::default(),
        seed,
    };
    log_routine(&format!(
        "sampling metrics-server every {}s into {} ({}; flush every {} round(s))",
        settings.interval.as_secs_f64(),
        store.name(),
        if settings.scope.namespaces.is_empty() {
            "all namespaces".to_string()
        } else {
            format!("namespaces {}", settings.scope.namespaces.join(","))
        },
        settings.flush_every
    ));
    let mut next = Instant::now();
    loop {
        let outcome = tokio::select! {
            r = c.round() => Some(r),
            _ = sigterm.recv() => None,
            _ = sigint.recv() => None,
        };
        let Some(result) = outcome else {
            log("signal received: flushing and stopping");
            c.summary.signalled = true;
            break;
        };
        c.summary.rounds += 1;
        match result {
            Ok(()) => {}
            Err(e) if settings.once => {
                c.flush()?;
                return Err(anyhow::Error::new(e).context("collecting from metrics-server"));
            }
            Err(e) => {
                log(&format!("round {} skipped: {e}", c.summary.rounds));
                c.summary.failed += 1;
                c.summary.last_error = Some(e.to_string());
            }
        }
        if c.buffer.rounds >= settings.flush_every {
            c.flush()?;
        }
        if settings.max_rounds.is_some_and(|m| c.summary.rounds >= m) {
            break;
        }
        next += settings.interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        if settings.deadline.is_some_and(|d| next >= d) {
            break;
        }
        let stop = tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => false,
            _ = sigterm.recv() => true,
            _ = sigint.recv() => true,
        };
        if stop {
            log("signal received: flushing and stopping");
            c.summary.signalled = true;
            break;
        }
    }
    c.flush()?;
    Ok(c.summary)
}

fn load_state(root: &Path) -> CollectorState {
    let path = state_path(root);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            log(&format!("{}: unreadable ({e}); starting a fresh record", path.display()));
            CollectorState { version: 1, ..CollectorState::default() }
        }),
        Err(_) => CollectorState { version: 1, ..CollectorState::default() },
    }
}

impl Collector<'_> {
    fn next_seed(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.seed
    }

    /// Runs `op` again on 429, 5xx and timeouts, with jittered exponential backoff.
    async fn retrying<T, F, Fut>(&mut self, what: &str, mut op: F) -> Result<T, MetricsServerError>
    where
        F: FnMut(kube::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, MetricsServerError>>,
    {
        let cap = RETRY_CAP.min(self.settings.interval.max(RETRY_BASE));
        let backoff =
            Backoff { retries: self.settings.retries, base: RETRY_BASE, max: cap, jitter_seed: Some(self.next_seed()) };
        let mut schedule = backoff.schedule();
        loop {
            let client = match &self.client {
                Some(c) => c.clone(),
                None => {
                    let (c, server) = client::connect(&self.settings.connect).await?;
                    self.summary.server = Some(server);
                    self.client = Some(c.clone());
                    c
                }
            };
            match op(client).await {
                Err(e) if e.is_transient() => {
                    let Some(delay) = schedule.next() else { return Err(e) };
                    log(&format!(
                        "{what}: {e}; retry {}/{} in {:.1}s",
                        schedule.retries(),
                        self.settings.retries,
                        delay.as_secs_f64()
                    ));
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    async fn refresh_inventory(&mut self) -> Result<(), MetricsServerError> {
        let scope = self.settings.scope.clone();
        let inventory = self
            .retrying("inventory", |c| {
                let scope = scope.clone();
                async move { client::list_inventory(&c, &scope).await }
            })
            .await?;
        let now = chrono::Utc::now().timestamp_millis();
        for kill in self.state.observe(&inventory, now) {
            self.summary.oom_kills += 1;
            log(&format!(
                "OOM kill: {}/{}/{} pod {} container {} at {} (memory limit {})",
                kill.namespace,
                kill.workload_kind,
                kill.workload,
                kill.pod,
                kill.container,
                format_timestamp(kill.at_ms),
                kill.memory_limit_bytes.map_or_else(|| "none".to_string(), human_bytes)
            ));
        }
        self.inventory = Some((inventory, Instant::now()));
        Ok(())
    }

    async fn round(&mut self) -> Result<(), MetricsServerError> {
        let mut refreshed = false;
        if self.inventory.as_ref().is_none_or(|(_, at)| at.elapsed() >= self.settings.inventory_refresh) {
            self.refresh_inventory().await?;
            refreshed = true;
        }
        let scope = self.settings.scope.clone();
        let metrics = self
            .retrying("metrics", |c| {
                let scope = scope.clone();
                async move { client::list_pod_metrics(&c, &scope).await }
            })
            .await?;
        let inventory = &self.inventory.as_ref().expect("inventory listed").0;
        let mut round = samples_from_metrics(&metrics, inventory, &mut self.taken);
        if !round.unknown_pods.is_empty() && !refreshed {
            // New pods since the last inventory: re-list once and join just those.
            self.refresh_inventory().await?;
            let unknown: HashSet<ObjectKey> = round.unknown_pods.drain(..).collect();
            let retry: Vec<_> = metrics
                .into_iter()
                .filter(|m| {
                    unknown.contains(&(
                        m.metadata.namespace.clone().unwrap_or_default(),
                        m.metadata.name.clone().unwrap_or_default(),
                    ))
                })
                .collect();
            let inventory = &self.inventory.as_ref().expect("inventory listed").0;
            let again = samples_from_metrics(&retry, inventory, &mut self.taken);
            round.samples.extend(again.samples);
            round.unknown_pods = again.unknown_pods;
            round.bad_values += again.bad_values;
        }
        self.take(round);
        Ok(())
    }

    fn take(&mut self, round: Round) {
        let mut pods = HashSet::new();
        for s in &round.samples {
            let key = (s.namespace.clone(), s.pod.clone());
            let e = self.buffer.windows.entry(key.clone()).or_insert(s.timestamp_ms);
            *e = (*e).max(s.timestamp_ms);
            pods.insert(key);
        }
        let mut line =
            format!("round {}: {} sample(s) from {} pod(s)", self.summary.rounds + 1, round.samples.len(), pods.len());
        if round.repeated_windows > 0 {
            line.push_str(&format!(", {} pod(s) with an unchanged metrics window", round.repeated_windows));
        }
        if !round.unknown_pods.is_empty() {
            line.push_str(&format!(
                ", {} pod(s) not in the inventory skipped (gone or not yet listed)",
                round.unknown_pods.len()
            ));
        }
        if round.bad_values > 0 {
            line.push_str(&format!(", {} container(s) with unparsable usage skipped", round.bad_values));
        }
        log_routine(&line);
        let cluster = &self.settings.cluster;
        self.buffer.samples.extend(round.samples.into_iter().map(|s| Sample { cluster: cluster.clone(), ..s }));
        self.buffer.rounds += 1;
    }

    /// Appends the buffer in one atomic store append, then rewrites the side state.
    fn flush(&mut self) -> anyhow::Result<()> {
        let buffer = std::mem::take(&mut self.buffer);
        if !buffer.samples.is_empty() {
            let n = buffer.samples.len();
            let report = self
                .store
                .append(buffer.samples)
                .with_context(|| format!("flushing {n} buffered sample(s) to the store"))?;
            self.summary.written += report.written;
            self.summary.duplicates += report.duplicates;
            log_routine(&format!(
                "flushed {} round(s): {} sample(s) written, {} already stored",
                buffer.rounds, report.written, report.duplicates
            ));
        }
        self.state.record_flushed(&buffer.windows);
        self.state.identity_cluster.clone_from(&self.settings.cluster);
        let path = state_path(self.store.root());
        let dir = path.parent().expect("state file has a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let bytes = serde_json::to_vec_pretty(&self.state).context("serialising the collector state")?;
        if let Err(e) = crate::store::atomic::write_atomically(&path, &bytes) {
            if e.source.raw_os_error() == Some(28) {
                bail!(
                    "{}: disk full while writing the collector state (samples are stored; free space)",
                    path.display()
                );
            }
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
        // On S3: settings and OOM kills go up beside the parts, for readers elsewhere.
        self.store.sync_side_files().context("uploading the collector state")?;
        Ok(())
    }
}

//! The collector's sampling loop. Each round lists PodMetrics, joins them to owners from a
//! cached inventory and buffers the new samples; every `flush_every` rounds, at the end and on
//! SIGTERM/SIGINT the buffer goes to the sink in one atomic append, then the side state
//! (settings, OOM kills, flushed windows) is rewritten atomically. A `kill -9` loses at most
//! the unflushed rounds; a restart resumes into the same store.
//!
//! The loop never prints: what it does goes to a [`CollectLog`] the caller implements, and it
//! writes only through a [`CollectorSink`] (the store implements it).

use super::client::{self, ConnectOptions, MetricsServerError, Scope};
use super::{samples_from_metrics, CollectorState, Inventory, ObjectKey, Round};
use crate::domain::{format_timestamp, human_bytes, Sample, SampleRows};
use crate::sources::retry::Backoff;
use crate::sources::sink::{CollectorSink, SinkError};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};

/// First retry waits about this long; later ones double, capped by the interval.
const RETRY_BASE: Duration = Duration::from_secs(1);
const RETRY_CAP: Duration = Duration::from_secs(30);

/// How to sample, resolved from the command line (or set by a library caller).
#[derive(Debug, Clone)]
pub(crate) struct CollectSettings {
    /// Time between the starts of two rounds.
    pub interval: Duration,
    /// Stop once the next round would start this long after the start.
    pub duration: Option<Duration>,
    /// Stop after this many rounds.
    pub rounds: Option<u64>,
    /// One round; its failure is an error (not a skipped round).
    pub once: bool,
    /// Rounds buffered between two appends (at least 1).
    pub flush_every: u64,
    /// How long the owner inventory is reused before it is listed again.
    pub inventory_refresh: Duration,
    /// Retries of a transient failure within one round.
    pub retries: u32,
    pub scope: Scope,
    pub connect: ConnectOptions,
    /// Recorded on every sample and in the side record (may be empty).
    pub cluster: String,
}

/// What the collector says while it works; the CLI prints each line with a timestamp.
pub(crate) trait CollectLog {
    /// What every round does (start, round counts, flushes): the CLI drops these with `--quiet`.
    fn routine(&self, line: &str);
    /// Retries, skipped rounds, OOM kills, signals, an unreadable side record: always worth reading.
    fn note(&self, line: &str);
}

/// What a collection did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct CollectSummary {
    pub rounds: u64,
    /// Samples new to the store.
    pub written: u64,
    /// Samples the store already held.
    pub duplicates: u64,
    pub oom_kills: u64,
    /// Stopped by SIGTERM/SIGINT (after flushing).
    pub signalled: bool,
    /// Rounds that failed and were skipped.
    pub failed: u64,
    /// The API server's URL, once a client was made.
    pub server: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CollectError {
    #[error(transparent)]
    Open(SinkError),
    #[error("starting the runtime")]
    Runtime { source: std::io::Error },
    #[error("installing the {signal} handler")]
    Signal { signal: &'static str, source: std::io::Error },
    /// `once`: the single round failed.
    #[error("collecting from metrics-server")]
    Round { source: MetricsServerError },
    /// Every round failed: a run with nothing in it is not a success.
    #[error(
        "all {rounds} round(s) failed, nothing was collected{}; the last failure",
        server.as_deref().map_or_else(String::new, |s| format!(" from the API server {s}"))
    )]
    AllFailed { rounds: u64, server: Option<String>, source: MetricsServerError },
    #[error("flushing {samples} buffered sample(s) to the store")]
    Flush { samples: usize, source: SinkError },
    #[error(transparent)]
    SaveState(SinkError),
    #[error("uploading the collector state")]
    Sync { source: SinkError },
}

/// Samples and windows taken but not yet in the store.
#[derive(Default)]
struct Buffer {
    samples: Vec<Sample>,
    windows: HashMap<ObjectKey, i64>,
    rounds: u64,
}

struct Collector<'a> {
    settings: &'a CollectSettings,
    sink: &'a mut dyn CollectorSink,
    log: &'a dyn CollectLog,
    client: Option<client::ApiServer>,
    state: CollectorState,
    taken: HashMap<ObjectKey, i64>,
    inventory: Option<(Inventory, Instant)>,
    buffer: Buffer,
    summary: CollectSummary,
    last_error: Option<MetricsServerError>,
    seed: u64,
}

/// Samples metrics-server into `sink` until the rounds, the duration or a signal end it; the
/// sink is opened first (a new store is created even if the cluster does not answer).
pub(crate) fn collect(
    settings: &CollectSettings,
    sink: &mut dyn CollectorSink,
    log: &dyn CollectLog,
) -> Result<CollectSummary, CollectError> {
    let deadline = settings.duration.map(|d| Instant::now() + d);
    sink.open().map_err(CollectError::Open)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CollectError::Runtime { source })?;
    runtime.block_on(run(settings, deadline, sink, log))
}

fn fresh_state() -> CollectorState {
    CollectorState { version: 1, ..CollectorState::default() }
}

fn load_state(sink: &dyn CollectorSink, log: &dyn CollectLog) -> CollectorState {
    match sink.load_collector_state() {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            log.note(&format!("{}: unreadable ({e}); starting a fresh record", sink.collector_state_location()));
            fresh_state()
        }),
        None => fresh_state(),
    }
}

async fn run(
    settings: &CollectSettings,
    deadline: Option<Instant>,
    sink: &mut dyn CollectorSink,
    log: &dyn CollectLog,
) -> Result<CollectSummary, CollectError> {
    let handler = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| CollectError::Signal { signal: name, source })
    };
    let mut sigterm = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut sigint = handler(SignalKind::interrupt(), "SIGINT")?;
    let state = load_state(sink, log);
    let taken = state.taken_windows();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let flush_every = settings.flush_every.max(1);
    let max_rounds = if settings.once { Some(1) } else { settings.rounds };
    log.routine(&format!(
        "sampling metrics-server every {}s into {} ({}; flush every {} round(s))",
        settings.interval.as_secs_f64(),
        sink.name(),
        if settings.scope.namespaces.is_empty() {
            "all namespaces".to_string()
        } else {
            format!("namespaces {}", settings.scope.namespaces.join(","))
        },
        flush_every
    ));
    let mut c = Collector {
        settings,
        sink,
        log,
        client: None,
        state,
        taken,
        inventory: None,
        buffer: Buffer::default(),
        summary: CollectSummary::default(),
        last_error: None,
        seed,
    };
    let mut next = Instant::now();
    loop {
        let outcome = tokio::select! {
            r = c.round() => Some(r),
            _ = sigterm.recv() => None,
            _ = sigint.recv() => None,
        };
        let Some(result) = outcome else {
            log.note("signal received: flushing and stopping");
            c.summary.signalled = true;
            break;
        };
        c.summary.rounds += 1;
        match result {
            Ok(()) => {}
            Err(e) if settings.once => {
                c.flush()?;
                return Err(CollectError::Round { source: e });
            }
            Err(e) => {
                log.note(&format!("round {} skipped: {e}", c.summary.rounds));
                c.summary.failed += 1;
                c.last_error = Some(e);
            }
        }
        if c.buffer.rounds >= flush_every {
            c.flush()?;
        }
        if max_rounds.is_some_and(|m| c.summary.rounds >= m) {
            break;
        }
        next += settings.interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        if deadline.is_some_and(|d| next >= d) {
            break;
        }
        let stop = tokio::select! {
            () = tokio::time::sleep_until(next.into()) => false,
            _ = sigterm.recv() => true,
            _ = sigint.recv() => true,
        };
        if stop {
            log.note("signal received: flushing and stopping");
            c.summary.signalled = true;
            break;
        }
    }
    c.flush()?;
    let summary = c.summary;
    match c.last_error {
        Some(last) if summary.failed == summary.rounds && !summary.signalled => {
            Err(CollectError::AllFailed { rounds: summary.rounds, server: summary.server, source: last })
        }
        _ => Ok(summary),
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
        F: FnMut(client::ApiServer) -> Fut,
        Fut: std::future::Future<Output = Result<T, MetricsServerError>>,
    {
        let cap = RETRY_CAP.min(self.settings.interval.max(RETRY_BASE));
        let backoff =
            Backoff { retries: self.settings.retries, base: RETRY_BASE, max: cap, jitter_seed: Some(self.next_seed()) };
        let mut schedule = backoff.schedule();
        loop {
            let client = if let Some(c) = &self.client {
                c.clone()
            } else {
                let c = client::connect(&self.settings.connect).await?;
                self.summary.server = Some(c.url.clone());
                self.client = Some(c.clone());
                c
            };
            match op(client).await {
                Err(e) if e.is_transient() => {
                    let Some(delay) = schedule.next() else { return Err(e) };
                    self.log.note(&format!(
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
            self.log.note(&format!(
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
        self.log.routine(&round_line(self.summary.rounds + 1, &round, pods.len()));
        let cluster = &self.settings.cluster;
        self.buffer.samples.extend(round.samples.into_iter().map(|s| Sample { cluster: cluster.clone(), ..s }));
        self.buffer.rounds += 1;
    }

    /// Appends the buffer in one atomic store append, then rewrites the side state.
    fn flush(&mut self) -> Result<(), CollectError> {
        let buffer = std::mem::take(&mut self.buffer);
        if !buffer.samples.is_empty() {
            let samples = buffer.samples.len();
            let report = self
                .sink
                .append(&mut SampleRows::from_samples(&buffer.samples))
                .map_err(|source| CollectError::Flush { samples, source })?;
            self.summary.written += report.written;
            self.summary.duplicates += report.duplicates;
            self.log.routine(&format!(
                "flushed {} round(s): {} sample(s) written, {} already stored",
                buffer.rounds, report.written, report.duplicates
            ));
        }
        self.state.record_flushed(&buffer.windows);
        self.state.identity_cluster.clone_from(&self.settings.cluster);
        let bytes = serde_json::to_vec_pretty(&self.state).expect("the collector state is plain JSON");
        self.sink.save_collector_state(&bytes).map_err(CollectError::SaveState)?;
        // On S3: settings and OOM kills go up beside the parts, for readers elsewhere.
        self.sink.sync().map_err(|source| CollectError::Sync { source })
    }
}

/// "round N: S sample(s) from P pod(s)" and what was skipped.
fn round_line(number: u64, round: &Round, pods: usize) -> String {
    let mut line = format!("round {number}: {} sample(s) from {pods} pod(s)", round.samples.len());
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
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_lines_say_what_was_skipped() {
        let mut round = Round::default();
        assert_eq!(round_line(1, &round, 0), "round 1: 0 sample(s) from 0 pod(s)");
        round.repeated_windows = 2;
        round.unknown_pods.push(("a".into(), "p".into()));
        round.bad_values = 3;
        assert_eq!(
            round_line(4, &round, 5),
            "round 4: 0 sample(s) from 5 pod(s), 2 pod(s) with an unchanged metrics window, 1 pod(s) not in the \
             inventory skipped (gone or not yet listed), 3 container(s) with unparsable usage skipped"
        );
    }

    #[test]
    fn every_round_failing_names_the_server_and_the_last_cause_once() {
        let e = CollectError::AllFailed {
            rounds: 3,
            server: Some("https://k:6443/".into()),
            source: MetricsServerError::Config("no context".into()),
        };
        assert_eq!(
            e.to_string(),
            "all 3 round(s) failed, nothing was collected from the API server https://k:6443/; the last failure"
        );
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(source, "Kubernetes client configuration: no context");
    }
}

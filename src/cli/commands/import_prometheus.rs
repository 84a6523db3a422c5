//! `podsizer import prometheus --url URL --store DIR`: usage history from the Prometheus HTTP API.
//!
//! The import itself (windows, batches, resume state) is `sources::prometheus::import`; this
//! command resolves its arguments, hands it the store (`store::sink::StoreSink`), draws its
//! progress and prints its summary.

use crate::cli::args::{InputArgs, PrometheusArgs, ReadApi};
use crate::cli::values::{Since, Span};
use crate::domain::format_timestamp;
use crate::sources::prometheus::clusters::cluster_values;
use crate::sources::prometheus::import::{self, ImportOutcome, ImportSettings, ImportSummary, ReadApi as Api};
use crate::sources::prometheus::{
    align_down, align_up, parse_header, promql_duration, ClientConfig, Resolution, Scope,
};
use crate::store::sink::StoreSink;
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The import's settings from the command line.
fn settings(args: &PrometheusArgs) -> Result<ImportSettings> {
    let step = args.step.ms;
    if step < 1000 || step % 1000 != 0 {
        bail!("--step {}: must be whole seconds, at least 1s", args.step);
    }
    let rate_window = args.rate_window.as_ref().map_or(step, |w| w.ms);
    let now = chrono::Utc::now().timestamp_millis();
    // The newest step may still be scraped: by default stop one step short of now.
    let until = args.until.as_ref().map_or(now - step, |t| t.ms);
    let since = args.since.start_ms(until);
    let to = align_down(until, step);
    let earliest = align_up(since, step);
    if earliest > to {
        bail!("--since {} is not before --until ({})", args.since, format_timestamp(to));
    }
    let scope = scope(args)?;
    scope.validate()?;
    let identity_cluster =
        args.cluster.clone().or_else(|| scope.cluster.as_ref().map(|(_, v)| v.clone())).unwrap_or_default();
    Ok(ImportSettings {
        client: ClientConfig {
            url: args.url.clone(),
            headers: headers(args)?,
            timeout: args.timeout,
            retries: args.retries,
            backoff: Duration::from_millis(500),
        },
        scope,
        step_ms: step,
        step_label: args.step.text().to_string(),
        rate_window_ms: rate_window,
        from_ms: earliest,
        to_ms: to,
        max_points_per_request: args.max_points,
        concurrency: args.concurrency,
        read_api: match args.read_api {
            ReadApi::Auto => Api::Auto,
            ReadApi::RemoteRead => Api::RemoteRead,
            ReadApi::QueryRange => Api::QueryRange,
        },
        identity_cluster,
        now_ms: now,
    })
}

/// `--cluster-label NAME=VALUE` (one cluster) or a bare `NAME` (every cluster, by its value).
fn scope(args: &PrometheusArgs) -> Result<Scope> {
    let cluster = match args.cluster_label.as_deref() {
        Some(text) if text.contains('=') => Some(parse_cluster_label(text)?),
        _ => None,
    };
    Ok(Scope { namespaces: args.namespaces.clone(), cluster, selector: args.selector.clone() })
}

/// The label of a fleet import: `--cluster-label` given as a bare name.
fn fleet_label(args: &PrometheusArgs) -> Option<&str> {
    args.cluster_label.as_deref().map(str::trim).filter(|l| !l.contains('='))
}

/// One import per cluster for a bare `--cluster-label`, else the one import.
fn imports(args: &PrometheusArgs, out: &mut dyn Write) -> Result<Vec<ImportSettings>> {
    let settings = settings(args)?;
    let Some(label) = fleet_label(args) else { return Ok(vec![settings]) };
    if args.cluster.is_some() {
        bail!("--cluster with --cluster-label {label}: each cluster is named by its `{label}` value");
    }
    let values = cluster_values(&settings, label).with_context(|| format!("--cluster-label {label}"))?;
    writeln!(out, "prometheus {}: {} cluster(s) by label {label}: {}", args.url, values.len(), values.join(", "))?;
    Ok(values
        .into_iter()
        .map(|value| {
            let mut one = settings.clone();
            one.scope.cluster = Some((label.to_string(), value.clone()));
            one.identity_cluster = value;
            one
        })
        .collect())
}

pub(crate) fn run(args: &PrometheusArgs, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let mut sink = StoreSink::new(&args.store, &args.s3.options());
    // Each cluster has its own state: one that fails leaves the others stored, and a re-run
    // resumes it and finds nothing new in them.
    for settings in imports(args, out)? {
        if fleet_label(args).is_some() {
            writeln!(out, "cluster {}:", settings.identity_cluster)?;
        }
        match import::import(&settings, &mut sink, &crate::cli::progress::Bars::default())? {
            ImportOutcome::NothingNew { url, through_ms, next_ms } => writeln!(
                out,
                "prometheus {url}: nothing new; stored through {} (next instant {})",
                format_timestamp(through_ms),
                format_timestamp(next_ms)
            )?,
            ImportOutcome::Imported(summary) => print_summary(&summary, started, out)?,
        }
    }
    Ok(0)
}

fn print_summary(s: &ImportSummary, started: Instant, out: &mut dyn Write) -> Result<()> {
    let range = s.range.expect("an import has a range");
    writeln!(
        out,
        "prometheus {}: {} .. {}, step {}, rate window {}",
        s.url,
        format_timestamp(range.start_ms),
        format_timestamp(range.end_ms),
        promql_duration(s.step_ms),
        promql_duration(s.rate_window_ms)
    )?;
    writeln!(out, "  read path: {}", s.read_path.expect("an import has a read path"))?;
    let r = &s.requests;
    writeln!(
        out,
        "  requests: {} ({} query_range, {} remote read, in {} window(s); \
         the rest series/owner/settings lookups); received {} series, {} samples, {:.1} MB; {} retried, at most {} in flight",
        r.requests,
        r.range_queries,
        r.remote_reads,
        s.windows,
        r.series,
        r.samples,
        r.bytes as f64 / 1e6,
        r.retries,
        r.max_in_flight
    )?;
    writeln!(
        out,
        "  samples: {} fetched, {} added, {} already stored, {} day(s)",
        s.fetched, s.added, s.duplicates, s.days
    )?;
    let count = |r: Resolution| s.pods_by(r);
    writeln!(
        out,
        "  containers: {} of {} workload(s), as {} pod container series in {} pod(s); workloads of pods: {} from kube-state-metrics owners, {} guessed from the pod name (Deployment), {} as their own Pod",
        s.workload_containers.len(),
        s.workload_containers.iter().map(|(ns, k, w, _)| (ns, k, w)).collect::<BTreeSet<_>>().len(),
        s.series,
        s.pods,
        count(Resolution::Owner),
        count(Resolution::GuessedDeployment),
        count(Resolution::PodName)
    )?;
    if s.php_fpm > 0 {
        writeln!(
            out,
            "  php-fpm exporter: figures for {} workload container(s), saved beside the state file",
            s.php_fpm
        )?;
    }
    let oom: usize = s.current.iter().filter(|c| !c.oom_killed_pods.is_empty()).count();
    writeln!(
        out,
        "  current requests/limits: {} workload container(s), {} with OOM kills; saved in {}",
        s.current.len(),
        oom,
        s.state_location
    )?;
    for c in s.current.iter().filter(|c| !c.oom_killed_pods.is_empty()).take(10) {
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
        s.store_time.as_secs_f64()
    )?;

    for warning in s.warnings() {
        eprintln!("warning: {warning}");
    }
    Ok(())
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
        let limit = crate::sources::input_file::TOKEN_MAX_BYTES;
        let token = crate::sources::input_file::read_to_string_bounded(file, limit)
            .with_context(|| format!("--bearer-token-file {}", file.display()))?;
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
pub(crate) fn import_for_sizing(input: &InputArgs, default_window: Option<&Span>) -> Result<PathBuf> {
    let p = &input.prometheus;
    // Commands that read all history (backtest: train + holdout windows) get 30 days.
    let window = input.window.as_ref().or(default_window).cloned().unwrap_or_else(|| Span::days(30));
    let mut args = PrometheusArgs {
        url: p.prometheus.clone().context("--prometheus")?,
        store: PathBuf::new(),
        s3: input.s3.clone(),
        since: input.since.clone().map_or(Since::Before(window), Since::At),
        until: input.until.clone(),
        step: Span::seconds(60),
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
        timeout: Duration::from_secs(120),
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
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    let mut scope = scope(args)?;
    if let Some(label) = fleet_label(args) {
        // Every cluster's rows in one cache store, apart from any single cluster's.
        scope.cluster = Some((label.to_string(), String::new()));
    }
    let key = import::cache_key(&args.url, &scope, args.step.text());
    Ok(base.join("podsizer").join("prometheus").join(key))
}

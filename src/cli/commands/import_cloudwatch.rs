//! `podsizer import cloudwatch --cluster NAME --store DIR`: usage history from CloudWatch
//! Container Insights, from the performance logs or the enhanced-observability metrics.
//!
//! The import itself (modes, pages, resume state) is `sources::cloudwatch::import`; this
//! command resolves its arguments, hands it the store (`store::sink::StoreSink`), shows a
//! spinner and prints its summary.

use crate::cli::args::{CloudwatchArgs, CloudwatchFrom};
use crate::domain::format_timestamp;
use crate::sources::cloudwatch::import::{self, CloudwatchSettings, CloudwatchSummary, Mode, SETTLE_MS};
use crate::sources::cloudwatch::{metrics, ApiCalls, PodOwnerSource};
use crate::store::sink::StoreSink;
use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Instant;

fn settings(args: &CloudwatchArgs) -> Result<CloudwatchSettings> {
    if args.cluster.trim().is_empty() {
        bail!("--cluster: empty cluster name");
    }
    if !(1..=metrics::MAX_QUERIES_PER_CALL).contains(&args.queries_per_call) {
        bail!("--queries-per-call {}: must be 1 to {}", args.queries_per_call, metrics::MAX_QUERIES_PER_CALL);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let until = args.until.as_ref().map_or(now, |t| t.ms).min(now - SETTLE_MS);
    let since = args.since.start_ms(until);
    if since >= until {
        bail!("--since {} is not before --until ({})", args.since, format_timestamp(until));
    }
    Ok(CloudwatchSettings {
        cluster: args.cluster.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        namespaces: args.namespaces.clone(),
        from: match args.from {
            CloudwatchFrom::Auto => Mode::Auto,
            CloudwatchFrom::Logs => Mode::Logs,
            CloudwatchFrom::Metrics => Mode::Metrics,
        },
        queries_per_call: args.queries_per_call,
        max_datapoints_per_call: args.max_datapoints_per_call,
        since_ms: since,
        until_ms: until,
        now_ms: now,
    })
}

pub(crate) fn run(args: &CloudwatchArgs, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let settings = settings(args)?;
    let mut sink = StoreSink::new(&args.store, &Default::default());
    let result = import::import(&settings, &mut sink, &crate::cli::progress::Bars::spinner())?;
    summary(&result, args.queries_per_call, started, out)?;
    Ok(0)
}

fn summary(s: &CloudwatchSummary, queries_per_call: usize, started: Instant, out: &mut dyn Write) -> Result<()> {
    let (used, from_ms, to_ms) = (s.used, s.from_ms, s.to_ms);
    let c = &s.calls;
    let t = &s.totals;
    let mode = if used == Mode::Logs { "performance logs" } else { "ContainerInsights metrics" };
    writeln!(
        out,
        "cloudwatch {} ({}, {mode}): {} .. {}",
        s.cluster,
        s.region,
        format_timestamp(from_ms),
        format_timestamp(to_ms)
    )?;
    let attempts = ApiCalls::get(&c.attempts);
    let retries = attempts.saturating_sub(c.calls());
    if used == Mode::Logs {
        writeln!(
        out,
        "  API calls: {} (FilterLogEvents {}), {retries} retried; estimated cost $0 (FilterLogEvents is not billed per call)",
        c.calls(),
        ApiCalls::get(&c.filter_log_events)
    )?;
    } else {
        let gmd = ApiCalls::get(&c.get_metric_data);
        writeln!(
            out,
            "  API calls: {} (ListMetrics {}, GetMetricData {gmd}: {} call(s) over {} time page(s) of at most {} queries, \
             ceil(series/{}) per page, + {} NextToken continuation(s)), {retries} retried",
            c.calls(),
            ApiCalls::get(&c.list_metrics),
            s.metrics_batches,
            s.metrics_pages,
            s.metrics_series_max,
            queries_per_call,
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
    writeln!(
        out,
        "  samples: {} fetched, {} added, {} already stored, {} day(s)",
        t.fetched,
        t.added,
        t.duplicates,
        t.days.len()
    )?;
    let pods = |r: PodOwnerSource| t.pods.get(&r).map_or(0, BTreeSet::len);
    writeln!(
        out,
        "  containers: {} of {} workload(s); workloads of pods: {} from pod owners, {} from pod names, {} as their own Pod",
        t.workload_containers.len(),
        t.workload_containers.iter().map(|(ns, k, w, _)| (ns, k, w)).collect::<BTreeSet<_>>().len(),
        pods(PodOwnerSource::Owner),
        pods(PodOwnerSource::Name),
        pods(PodOwnerSource::PodItself)
    )?;
    if used == Mode::Logs {
        writeln!(out, "  events: {} other types or namespaces skipped, {} malformed skipped", t.skipped, t.malformed)?;
    }
    if let Some((dups, aggregated, containers)) = s.metrics_inventory {
        writeln!(
            out,
            "  series: {containers} pod container(s) listed ({dups} duplicate listing(s) ignored, {aggregated} workload-level series left out for per-pod ones)"
        )?;
    }
    if let Some((conv, _, _)) = &s.metrics_conversion {
        writeln!(
            out,
            "  converted: {} value(s) with the container's limit, {} with the node capacity; {} without one node capacity and {} unpaired not stored",
            conv.via_limit, conv.via_node, conv.no_capacity, conv.unpaired
        )?;
    }
    writeln!(out, "  current requests/limits: {} workload container(s); saved in {}", s.current, s.state_location)?;
    writeln!(
        out,
        "  wall time: {:.1}s ({:.1}s writing the store)",
        started.elapsed().as_secs_f64(),
        t.store_time.as_secs_f64()
    )?;
    warnings(s);
    Ok(())
}

fn warnings(s: &CloudwatchSummary) {
    let t = &s.totals;
    if t.malformed > 0 {
        eprintln!(
            "warning: {} malformed container event(s) skipped (not stored), e.g. {}",
            t.malformed,
            t.malformed_examples.join("; ")
        );
    }
    let Some((conv, differing, impossible)) = &s.metrics_conversion else { return };
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

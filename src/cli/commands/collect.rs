//! `podsizer collect metrics-server`: samples PodMetrics over time into a store.
//!
//! The loop itself (rounds, inventory, buffered flushes, signals, retries, side state) is
//! `sources::metrics_server::collect`; this command resolves its arguments, hands it the store
//! (`store::sink::StoreSink`), prints its log lines on stderr and its summary on stdout.

use crate::cli::args::MetricsServerArgs;
use crate::domain::format_timestamp;
use crate::sources::metrics_server::client::{ConnectOptions, Scope};
use crate::sources::metrics_server::collect::{self, CollectLog, CollectSettings};
use crate::sources::sink::CollectorSink;
use crate::store::sink::StoreSink;
use std::io::Write;

fn settings(args: &MetricsServerArgs) -> CollectSettings {
    CollectSettings {
        interval: args.interval,
        duration: args.duration,
        rounds: args.rounds,
        once: args.once,
        flush_every: args.flush_every.max(1),
        inventory_refresh: args.inventory_refresh,
        retries: args.retries,
        scope: Scope {
            namespaces: args.namespaces.clone(),
            selector: args.selector.clone(),
            page_size: args.page_size.max(1),
        },
        connect: ConnectOptions {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            request_timeout: Some(args.request_timeout),
            ..ConnectOptions::default()
        },
        cluster: args.cluster.clone().unwrap_or_default(),
    }
}

/// The collector's lines on stderr, each with the time: "<time> collect: <line>".
struct Log;

impl Log {
    fn print(line: &str) {
        let now = chrono::Utc::now().timestamp_millis();
        eprintln!("{} collect: {line}", format_timestamp(now));
    }
}

impl CollectLog for Log {
    fn routine(&self, line: &str) {
        if !crate::cli::progress::is_quiet() {
            Self::print(line);
        }
    }

    fn note(&self, line: &str) {
        Self::print(line);
    }
}

pub(crate) fn run(args: &MetricsServerArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let settings = settings(args);
    let mut sink = StoreSink::new(&args.store, &args.s3.options());
    let summary = collect::collect(&settings, &mut sink, &Log)?;
    writeln!(
        out,
        "collected {} round(s): {} sample(s) written to {} ({} already stored), {} OOM kill(s) seen{}",
        summary.rounds,
        summary.written,
        sink.name(),
        summary.duplicates,
        summary.oom_kills,
        if summary.signalled { "; stopped by signal after flushing" } else { "" }
    )?;
    Ok(0)
}

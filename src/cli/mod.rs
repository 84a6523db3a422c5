//! The command line: argument types, input resolution, one module per command, and the
//! mapping from errors to exit codes (0 ok, 1 changes proposed with --fail-on-change, 2 error).

mod args;
mod commands;
mod fleet;
mod hints;
mod notify;
mod progress;
mod resolve;
mod s3;
mod shell;
mod values;

use crate::outputs::kustomize::Kubectl;
use args::{Cli, Command};
use clap::FromArgMatches;
use std::io::Write;
use std::process::ExitCode;

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let argv0 = std::env::args_os().next();
    if shell::is_plugin_completion(argv0.as_deref()) {
        let words: Vec<String> = std::env::args().skip(1).collect();
        let (candidates, directive) = shell::plugin_completions(&words);
        for c in candidates {
            println!("{c}");
        }
        println!(":{directive}");
        return ExitCode::SUCCESS;
    }
    let invoked = shell::invoked_as(argv0.as_deref());
    let matches = shell::command(invoked).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    progress::set_quiet(cli.quiet);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = dispatch(&cli.command, &cli.kubectl(), invoked, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    if std::env::var_os("PODSIZER_STATS").is_some() {
        eprintln!("stats: peak_rss_kib={}", peak_rss_kib().unwrap_or(0));
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain on one line, each cause once: "error: what failed: why".
            eprintln!("error: {e:#}");
            if let Some(hint) = hints::hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(2)
        }
    }
}

/// A measurement for benchmarks and tests, printed only with `PODSIZER_STATS` set.
pub(crate) fn stat(line: &str) {
    if std::env::var_os("PODSIZER_STATS").is_some() {
        eprintln!("stats: {line}");
    }
}

/// Runs one command; `invoked` is how the user typed the program (`podsizer` or `kubectl podsizer`).
pub(crate) fn dispatch(command: &Command, kubectl: &Kubectl, invoked: &str, out: &mut dyn Write) -> anyhow::Result<u8> {
    match command {
        Command::Recommend(a) => commands::recommend::run(a, kubectl, out),
        Command::Report(a) => commands::report::run(a, kubectl, out),
        Command::Import(a) => match &a.source {
            Some(args::ImportSource::Prometheus(p)) => commands::import_prometheus::run(p, out),
            Some(args::ImportSource::Cloudwatch(c)) => commands::import_cloudwatch::run(c, out),
            None => commands::import::run(a, out),
        },
        Command::Demo(a) => commands::demo::run(a, kubectl, out),
        Command::Synth(a) => commands::synth::run(a, out),
        Command::Backtest(a) => commands::backtest::run(a, kubectl, out),
        Command::BacktestSuite(a) => commands::backtest::run_suite(a, out),
        Command::Trace(a) => commands::synth::run_trace(a, out),
        Command::Pr(a) => commands::pr::run(a, kubectl, out),
        Command::Collect(a) => match &a.source {
            args::CollectSource::MetricsServer(m) => commands::collect::run(m, out),
        },
        Command::Fleet(a) => fleet::run(a, kubectl, out),
        Command::Verify(a) => commands::verify::run(a, out),
        Command::Completions(a) => shell::completions(a, invoked, out),
        Command::Man(a) => shell::man_pages(a, out),
    }
}

/// `podsizer ... | head` closing the pipe early is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Peak resident memory of this process (Linux `VmHWM`), for benchmarks.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

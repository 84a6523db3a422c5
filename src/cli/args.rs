//! Command-line shape (clap only; no logic here).

use crate::outputs::OutputFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "podsizer",
    version,
    about = "Measured, explained CPU and memory requests and limits for Kubernetes containers",
    long_about = "podsizer reads container CPU and memory usage history, proposes requests at typical load and limits \
at about twice that (raised by guards so limits cover real peaks), explains every number, and writes the result \
as kustomize patches into a GitOps overlay.\n\nExit codes: 0 success, 1 changes proposed (with --fail-on-change), 2 error.",
    after_help = "Start with `podsizer demo` to see it work on a bundled week of samples."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Propose requests and limits per workload container from usage history.
    Recommend(RecommendArgs),
    /// Validate sample files (CSV or Parquet) and add them to a store.
    Import(ImportArgs),
    /// Run `recommend` on a bundled week of samples and a GitOps tree copied to a temp dir.
    Demo(DemoArgs),
    /// Generate realistic synthetic samples (the demo's data, benchmark fleets).
    Synth(SynthArgs),
    /// Replay history against each strategy's proposal: cost, slack, throttling, OOM kills.
    #[command(long_about = BACKTEST_HELP)]
    Backtest(BacktestArgs),
    /// Back-test every strategy on synthetic scenarios and public traces; writes a Markdown report.
    BacktestSuite(SuiteArgs),
}

pub const BACKTEST_HELP: &str = "Sizes each container from a training window with each strategy, then replays the \
following holdout window against the proposal.\n\n\
Figures (per container, and in total over containers every strategy could size):\n\
  CPU slack      sum over samples of max(request - usage, 0) / sum of request (requested but unused)\n\
  memory slack   the same with the working set\n\
  CPU>REQ        share of samples with CPU usage above the request\n\
  CPU>LIMIT      share of samples with CPU usage above the limit (throttling risk; no limit = never)\n\
  OOM kills      times a pod's working set crosses above the memory limit (a crossing, not every sample)\n\
  cost           sum over samples of (CPU request x $/core-hour + memory request GiB x $/GiB-hour) x sampling interval\n\
  current        the same figures for the settings in --kustomize's overlay, when every container has them\n\n\
Default prices: $0.04 per core-hour, $0.005 per GiB-hour.";

/// Which samples to read.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Sample file (.csv, .parquet) or store directory; repeat to combine several.
    #[arg(short, long = "input", value_name = "PATH", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Only samples at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only samples before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// History to use, ending at --until or at the newest sample (e.g. 7d, 14d, 2w) [default: 14d].
    #[arg(long, value_name = "DURATION", conflicts_with = "since")]
    pub window: Option<String>,
    /// Only these namespaces (repeatable).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Only workloads whose name matches (glob, e.g. `api` or `api-*`; repeatable).
    #[arg(long = "workload", value_name = "NAME")]
    pub workloads: Vec<String>,
    /// Skip bad rows in CSV/Parquet inputs (reported) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// Policy file (TOML) with defaults and per-container overrides; see fixtures/policy.example.toml.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Sizing strategy.
    #[arg(long, default_value = "podsizer", value_name = "NAME")]
    pub strategy: String,
    /// Write one strategic-merge patch per workload into this kustomize overlay and list it in
    /// its kustomization.yaml (current values are read from the rendered overlay).
    #[arg(long, value_name = "OVERLAY_DIR")]
    pub kustomize: Option<PathBuf>,
    /// With --kustomize: show what would be written, change nothing.
    #[arg(long, requires = "kustomize")]
    pub dry_run: bool,
    /// Size containers even with less history than the policy asks for.
    #[arg(long)]
    pub force: bool,
    /// Exit with code 1 when any proposal differs from the current settings (for CI gates).
    #[arg(long)]
    pub fail_on_change: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Sample files in the long format (.csv or .parquet).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Store directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// Skip bad rows (reported) instead of rejecting the file.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to copy the demo GitOps tree and samples [default: a new temp directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format for the recommendations.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One `api` Deployment (nginx, php-fpm, envoy) with three replicas.
    Demo,
    /// Many single-replica workloads of three containers each (benchmarks).
    Fleet,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    #[arg(long, value_enum, default_value = "demo")]
    pub scenario: Scenario,
    /// Number of containers (fleet scenario).
    #[arg(long, default_value_t = 300)]
    pub containers: usize,
    #[arg(long, default_value_t = 7)]
    pub days: i64,
    /// Sampling interval.
    #[arg(long, default_value = "60s")]
    pub step: String,
    /// First day (UTC).
    #[arg(long, default_value = "2026-11-16")]
    pub start: String,
    /// Output file (.csv or .parquet).
    #[arg(long, value_name = "FILE", required_unless_present = "store")]
    pub out: Option<PathBuf>,
    /// Or append to a store directory, one day at a time.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub store: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Training window before each split.
    #[arg(long, default_value = "14d")]
    pub train: String,
    /// Holdout window replayed after each split.
    #[arg(long, default_value = "7d")]
    pub holdout: String,
    /// Split here instead of one holdout window before the newest sample.
    #[arg(long, value_name = "TIME")]
    pub split_at: Option<String>,
    /// Rolling folds, each one holdout window earlier (ignored with --split-at).
    #[arg(long, default_value_t = 1)]
    pub folds: usize,
    /// Strategies to compare, comma-separated (podsizer, vpa, krr, krr-limit).
    #[arg(long, value_delimiter = ',', default_value = "podsizer,vpa,krr,krr-limit")]
    pub strategy: Vec<String>,
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: BacktestFormat,
    /// Policy file for the podsizer strategy (and the history gate of all).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Overlay whose current settings are replayed too (as strategy `current`).
    #[arg(long, value_name = "OVERLAY_DIR")]
    pub kustomize: Option<PathBuf>,
    /// Show every container, not only the totals (table output).
    #[arg(long)]
    pub per_container: bool,
    /// Price of one core for one hour, in dollars.
    #[arg(long, default_value_t = 0.04)]
    pub core_hour_price: f64,
    /// Price of one GiB of memory for one hour, in dollars.
    #[arg(long, default_value_t = 0.005)]
    pub gib_hour_price: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BacktestFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// The public traces folder (skipped with a notice when absent).
    #[arg(long, default_value = "../shared/traces")]
    pub traces: PathBuf,
    /// Where to write the Markdown report.
    #[arg(long, default_value = "reports/backtest.md")]
    pub out: PathBuf,
    /// Trace families to include, comma-separated (default: all present).
    #[arg(long, value_delimiter = ',')]
    pub families: Vec<String>,
    /// Policy file for the podsizer strategy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

//! Arguments of the commands that size: `recommend`, `report`, `backtest`, `backtest-suite`, `pr`.

use super::{InputArgs, NotifyArgs, PriceArgs, SizingArgs};
use crate::cli::values::{self, Quantity, Share, Span, Time};
use crate::outputs::OutputFormat;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct RecommendArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    #[command(flatten)]
    pub sizing: SizingArgs,
    /// Write one strategic-merge patch per workload into this kustomize overlay and list it in
    /// its kustomization.yaml (current values are read from the rendered overlay).
    #[arg(long, value_name = "OVERLAY_DIR")]
    pub kustomize: Option<PathBuf>,
    /// With --kustomize: show what would be written, change nothing.
    #[arg(long, requires = "kustomize")]
    pub dry_run: bool,
    /// Exit with code 1 when any proposal differs from the current settings (for CI gates).
    #[arg(long)]
    pub fail_on_change: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Folder to write index.html, index.md, report.json and charts/ into (e.g. reports/2026-W48).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Last week's report folder (or its report.json), for the week-over-week section.
    #[arg(long, value_name = "DIR")]
    pub previous: Option<PathBuf>,
    #[command(flatten)]
    pub sizing: SizingArgs,
    /// Overlay to read current requests and limits from (read only: the report writes no patch).
    #[arg(long, value_name = "OVERLAY_DIR")]
    pub kustomize: Option<PathBuf>,
    /// Time zone for chart axes and the hour-of-day heat maps (IANA name, e.g. Asia/Tokyo).
    #[arg(long, default_value = "UTC", value_name = "ZONE", value_parser = values::time_zone)]
    pub tz: chrono_tz::Tz,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Where the report will be published (linked from the notification).
    #[arg(long, value_name = "URL")]
    pub notify_link: Option<String>,
    /// Nodes needed now and with the proposal, on nodes of this allocatable shape (as `backtest --node`; repeatable).
    #[arg(long = "node", value_name = "SHAPE", value_parser = crate::domain::NodeShape::parse)]
    pub nodes: Vec<crate::domain::NodeShape>,
}

pub(crate) const BACKTEST_HELP: &str = "Sizes each container from a training window with each strategy, then replays the \
following holdout window against the proposal.\n\n\
Figures (per container, and in total over containers every strategy could size):\n\
  CPU slack      sum over samples of max(request - usage, 0) / sum of request (requested but unused)\n\
  memory slack   the same with the working set\n\
  CPU>REQ        share of samples with CPU usage above the request\n\
  CPU>LIMIT      share of samples with CPU usage above the limit (throttling risk; no limit = never)\n\
  MEM>REQ        eviction exposure: share of samples whose working set is above the memory request (the\n\
                 kubelet evicts such pods first when a node runs short of memory); also as a mean over containers\n\
  OOM kills      times a pod's working set crosses above the memory limit (a crossing, not every sample)\n\
  cost           sum over samples of (CPU request x $/core-hour + memory request GiB x $/GiB-hour) x sampling interval\n\
  current        the same figures for the settings in --kustomize's overlay, when every container has them\n\
  bound-5%       hindsight bound: podsizer's CPU settings and, per container and fold, the memory request its own\n\
                 holdout working set exceeds in 5% of samples; VS BOUND = cost / this bound's cost\n\
  bound-mean-5%  Lagrangian lower bound on cost when only the mean exposure over containers must stay within 5%\n\n\
With --node SHAPE, each holdout's pods are also placed onto nodes of that allocatable shape by their requests\n\
(first-fit decreasing on the dominant resource, placed again whenever pods start or stop), per strategy:\n\
  NODES PEAK/MEAN   nodes needed, at most and time-weighted\n\
  MEM PRESSURE      node-minutes with the sum of working sets above allocatable memory (evictions or OOM kills)\n\
  CPU CONTENTION    node-minutes with the sum of CPU use above allocatable CPU\n\
  NODE COST         node-hours x $/node-hour (default: the shape's cores and GiB at the unit prices)\n\n\
Default prices: $0.04 per core-hour, $0.005 per GiB-hour.";

#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Training window before each split.
    #[arg(long, default_value = "14d", value_parser = values::span)]
    pub train: Span,
    /// Holdout window replayed after each split.
    #[arg(long, default_value = "7d", value_parser = values::span)]
    pub holdout: Span,
    /// Split here instead of one holdout window before the newest sample.
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub split_at: Option<Time>,
    /// Rolling folds, each one holdout window earlier (ignored with --split-at).
    #[arg(long, default_value_t = 1)]
    pub folds: usize,
    /// Strategies to compare, comma-separated (podsizer, vpa, krr, krr-limit).
    #[arg(long, value_delimiter = ',', default_value = "podsizer,vpa,krr,krr-limit", value_parser = values::strategy())]
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
    #[command(flatten)]
    pub prices: PriceArgs,
    /// Node-level back-test on nodes of this allocatable shape: `4c16g` (cores, GiB) or
    /// `cpu=4,memory=16Gi[,pods=110][,price=0.19]` ($ per node-hour; default: from the unit
    /// prices). Repeat for several shapes.
    #[arg(long = "node", value_name = "SHAPE", value_parser = crate::domain::NodeShape::parse)]
    pub nodes: Vec<crate::domain::NodeShape>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BacktestFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct SuiteArgs {
    /// The public traces folder, laid out as docs/traces.md describes. Without it only the
    /// synthetic scenarios run, with a notice saying where the traces are published.
    #[arg(long, env = "PODSIZER_TRACES", value_name = "DIR")]
    pub traces: Option<PathBuf>,
    /// Where to write the Markdown report.
    #[arg(long, default_value = "reports/backtest.md")]
    pub out: PathBuf,
    /// Trace families to include, comma-separated (default: all present).
    #[arg(long, value_delimiter = ',')]
    pub families: Vec<String>,
    /// Policy file for the podsizer strategy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Node shape of the node-level back-test in every scope (as `backtest --node`; repeatable).
    #[arg(long = "node", value_name = "SHAPE", value_parser = crate::domain::NodeShape::parse, default_value = "16c64g")]
    pub nodes: Vec<crate::domain::NodeShape>,
}

#[derive(Debug, Args)]
pub(crate) struct PrArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// A clean checkout of the GitOps repository.
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    /// The overlay to size, relative to the repository (e.g. overlays/production).
    #[arg(long, value_name = "PATH")]
    pub overlay: String,
    /// Branch the pull request targets.
    #[arg(long, default_value = "main")]
    pub base: String,
    /// The bot's branch [default: podsizer/<overlay name>].
    #[arg(long)]
    pub branch: Option<String>,
    #[arg(long, default_value = "origin")]
    pub remote: String,
    /// GitHub repository OWNER/NAME (the token comes from GITHUB_TOKEN, never from a flag).
    #[arg(long, value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// GitHub API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api: String,
    /// Smallest relative change worth a review.
    #[arg(long, default_value = "10%", value_parser = values::share)]
    pub min_change: Share,
    /// Smallest CPU change worth a review.
    #[arg(long, default_value = "10m", value_parser = values::quantity)]
    pub min_cpu: Quantity,
    /// Smallest memory change worth a review.
    #[arg(long, default_value = "16Mi", value_parser = values::quantity)]
    pub min_memory: Quantity,
    /// Print the diff and the pull-request text; push nothing, call no API.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub sizing: SizingArgs,
    #[command(flatten)]
    pub prices: PriceArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Nodes needed now and with the proposal, in the pull-request text (as `backtest --node`; repeatable).
    #[arg(long = "node", value_name = "SHAPE", value_parser = crate::domain::NodeShape::parse)]
    pub nodes: Vec<crate::domain::NodeShape>,
}

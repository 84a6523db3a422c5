//! Command-line shape (clap only; no logic here).

mod fleet;
mod importers;
mod sizing;
mod verify;

pub(super) use fleet::*;
pub(super) use importers::*;
pub(super) use sizing::*;
pub(super) use verify::*;

use super::values::{self, Span, Time};
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
as kustomize patches into a GitOps overlay.\n\nExit codes: 0 success, 1 changes proposed (recommend --fail-on-change) or `pr` stopped by commits that are not its own, 2 error.",
    after_help = "Start with `podsizer demo` to see it work on a bundled week of samples."
)]
pub(super) struct Cli {
    /// Print only results and warnings: no progress bars, no notes.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// kubectl that renders overlays (`kubectl kustomize`) [default: kubectl on the PATH].
    #[arg(long, global = true, value_name = "PATH", env = "PODSIZER_KUBECTL")]
    pub kubectl: Option<PathBuf>,
    /// How long one overlay render may take before it is stopped (a remote base that never answers).
    #[arg(long, global = true, value_name = "DURATION", env = "PODSIZER_KUBECTL_TIMEOUT", default_value = "2m",
          value_parser = values::duration)]
    pub kubectl_timeout: std::time::Duration,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The kubectl that renders overlays, from `--kubectl` and `--kubectl-timeout`.
    pub(super) fn kubectl(&self) -> crate::outputs::kustomize::Kubectl {
        let default = crate::outputs::kustomize::Kubectl::default();
        crate::outputs::kustomize::Kubectl {
            path: self.kubectl.clone().unwrap_or(default.path),
            timeout: self.kubectl_timeout,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Propose requests and limits per workload container from usage history.
    Recommend(RecommendArgs),
    /// Write the weekly sizing report (HTML, Markdown, JSON and charts) into a folder.
    Report(ReportArgs),
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
    /// Convert a public usage trace into samples (docs/traces.md: where to get them, the mapping).
    Trace(TraceArgs),
    /// Propose the sizes as a pull request on a GitOps repo (updates its own PR on later runs).
    Pr(PrArgs),
    /// Sample live usage from the cluster over time into a store (metrics-server).
    Collect(CollectArgs),
    /// A fleet on S3: per-cluster day summaries, and every cluster sized from them centrally.
    Fleet(FleetArgs),
    /// After a rollout: did each change hold, or does it need a raise or a revert?
    #[command(long_about = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    #[command(long_about = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Write man pages (podsizer.1 and one per subcommand) into a folder.
    Man(ManArgs),
}

pub(super) const COMPLETIONS_HELP: &str = "Prints a completion script for the shell, generated from this binary's own \
arguments, so it always matches the installed version.\n\n\
  bash        source <(podsizer completions bash)            (or save it in ~/.local/share/bash-completion/completions/podsizer)\n\
  zsh         podsizer completions zsh > \"${fpath[1]}/_podsizer\"\n\
  fish        podsizer completions fish > ~/.config/fish/completions/podsizer.fish\n\
  powershell  podsizer completions powershell | Out-String | Invoke-Expression";

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Folder for the pages (created if missing), e.g. ~/.local/share/man/man1.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Which samples to read: files and stores, Prometheus, or both.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("samples").required(true).multiple(true).args(["inputs", "prometheus"])))]
pub(crate) struct InputArgs {
    /// Sample file (.csv, .parquet), store directory or s3://BUCKET/PREFIX store; repeat to combine several.
    #[arg(short, long = "input", value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub prometheus: PrometheusInputArgs,
    /// Only samples at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub since: Option<Time>,
    /// Only samples before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub until: Option<Time>,
    /// History to use, ending at --until or at the newest sample (e.g. 7d, 14d, 2w) [default: 14d].
    #[arg(long, value_name = "DURATION", conflicts_with = "since", value_parser = values::span)]
    pub window: Option<Span>,
    /// Only these namespaces (repeatable).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Only workloads whose name matches (glob, e.g. `api` or `api-*`; repeatable).
    #[arg(long = "workload", value_name = "NAME")]
    pub workloads: Vec<String>,
    /// Only this cluster's samples (as recorded by the importer or collector). Required with
    /// --kustomize or --live when the inputs hold several clusters: an overlay or a context is one.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Skip bad rows in CSV/Parquet inputs (reported) instead of failing.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Share of production traffic a workload served during the window, projected to 100%
    /// before sizing: `api=0.3`, or steps `api=0.3@2026-11-20,1.0` (30% until that date, then all).
    /// Ignored for workloads with an HPA in --kustomize's overlay (replicas absorb traffic there).
    #[arg(long = "traffic-share", value_name = "WORKLOAD=SHARE", value_parser = values::traffic_share)]
    pub traffic_shares: Vec<crate::analysis::traffic::TrafficShare>,
    /// Rebuild the per-day usage summaries kept beside a store's partitions from raw samples
    /// (they are rebuilt by themselves when a day gets new samples).
    #[arg(long)]
    pub rescan: bool,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// The live cluster as the source of current settings.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct LiveArgs {
    /// Read current requests, limits and HPAs from the cluster (Deployments, StatefulSets,
    /// DaemonSets, CronJobs, autoscaling/v2 HPAs; in the -n namespaces or all). With --kustomize
    /// the overlay still gives current settings and every difference from the cluster is shown as drift.
    #[arg(long)]
    pub live: bool,
    /// Kubeconfig for --live (implies it) [default: KUBECONFIG, ~/.kube/config, then the in-cluster service account].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for --live (implies it) [default: the current context].
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// `--prometheus URL`: usage read straight from Prometheus through a cache store.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PrometheusInputArgs {
    /// Read usage from Prometheus (Thanos, Mimir, ...: the prefix before /api/v1): the window is
    /// imported into a cache store first; later runs fetch only what is new.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Cache store for --prometheus [default: $XDG_CACHE_HOME/podsizer/prometheus/<URL and scope>,
    /// or ~/.cache/...; safe to delete].
    #[arg(long, value_name = "DIR|S3_URL", requires = "prometheus")]
    pub store: Option<PathBuf>,
    /// With --prometheus: extra label matchers for the cAdvisor series, e.g. 'job="kubelet"'.
    #[arg(long, value_name = "MATCHERS", requires = "prometheus")]
    pub selector: Option<String>,
    /// With --prometheus: header sent with every request, as `Name: value` (repeatable).
    #[arg(long = "header", value_name = "HEADER", requires = "prometheus")]
    pub headers: Vec<String>,
    /// With --prometheus: send `Authorization: Bearer <contents of FILE>`.
    #[arg(long, value_name = "FILE", requires = "prometheus")]
    pub bearer_token_file: Option<PathBuf>,
    /// With --prometheus: label that selects one cluster, as NAME=VALUE; a bare NAME reads every cluster.
    #[arg(long, value_name = "NAME[=VALUE]", requires = "prometheus")]
    pub cluster_label: Option<String>,
    /// With --prometheus: range of rate() for CPU [default: 60s]; must hold two scrapes.
    #[arg(long, value_name = "DURATION", requires = "prometheus", value_parser = values::span)]
    pub rate_window: Option<Span>,
    /// With --prometheus: remote read, query-range, or auto (remote read where served).
    #[arg(long, value_enum, default_value = "auto")]
    pub read_api: ReadApi,
}

/// How `s3://` stores are reached and where they are mirrored (docs/store.md, "Store on S3").
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct S3Args {
    /// S3-compatible endpoint for s3:// stores (MinIO, Ceph, moto; path-style addressing) [default: AWS].
    #[arg(long, value_name = "URL", env = "PODSIZER_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region of s3:// stores [default: AWS_REGION, the AWS profile's, then us-east-1].
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// AWS profile for s3:// stores [default: AWS_PROFILE, then the default chain].
    #[arg(long, value_name = "NAME")]
    pub s3_profile: Option<String>,
    /// Local mirror of s3:// stores [default: $XDG_CACHE_HOME/podsizer/s3, or ~/.cache/podsizer/s3].
    #[arg(long, value_name = "DIR", env = "PODSIZER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl S3Args {
    pub(crate) fn options(&self) -> crate::store::s3::S3Options {
        crate::store::s3::S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            profile: self.s3_profile.clone(),
            cache_dir: self.cache_dir.clone(),
        }
    }
}

/// How `recommend`, `report` and `pr` size: the same flags, the same meaning.
#[derive(Debug, Args, Clone)]
pub(crate) struct SizingArgs {
    /// Policy file (TOML) with defaults and per-container overrides; see fixtures/policy.example.toml.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Sizing strategy.
    #[arg(long, default_value = "podsizer", value_name = "NAME", value_parser = values::strategy())]
    pub strategy: String,
    /// Size containers even with less history than the policy asks for.
    #[arg(long)]
    pub force: bool,
}

/// A summary posted to a chat webhook after the work is done.
#[derive(Debug, Args, Clone)]
pub(crate) struct NotifyArgs {
    /// Slack or Microsoft Teams incoming-webhook URL to post a summary to. Prefer the environment
    /// variable: the URL is a credential, and is never printed.
    #[arg(long, value_name = "URL", env = "PODSIZER_NOTIFY_WEBHOOK", hide_env_values = true)]
    pub notify_webhook: Option<String>,
    /// Payload shape [default: from the webhook's host].
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "auto")]
    pub notify_format: crate::outputs::notify::Flavor,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to copy the demo GitOps tree and samples [default: a new temp directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output format for the recommendations.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: OutputFormat,
    /// Which bundled stack to size.
    #[arg(long, value_enum, default_value = "php")]
    pub stack: DemoStack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DemoStack {
    /// One `api` Deployment: nginx, php-fpm and envoy, with an HPA.
    Php,
    /// A JVM, a Go, a Node.js and a gunicorn service, each with its runtime's settings.
    Polyglot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// One `api` Deployment (nginx, php-fpm, envoy) with three replicas.
    Demo,
    /// Many single-replica workloads of three containers each (benchmarks).
    Fleet,
    /// Every back-test scenario (diurnal API, nightly batch, memory growth, growing traffic,
    /// young workload, idle tool); `--step` resamples by keeping one sample per step.
    Backtest,
}

#[derive(Debug, Args)]
pub(crate) struct SynthArgs {
    #[arg(long, value_enum, default_value = "demo")]
    pub scenario: Scenario,
    /// Number of containers (fleet scenario).
    #[arg(long, default_value_t = 300)]
    pub containers: usize,
    #[arg(long, default_value_t = 7)]
    pub days: i64,
    /// Sampling interval.
    #[arg(long, default_value = "60s", value_parser = values::span)]
    pub step: Span,
    /// First day (UTC).
    #[arg(long, default_value = "2026-11-16", value_parser = values::time)]
    pub start: Time,
    /// Output file (.csv or .parquet).
    #[arg(long, value_name = "FILE", required_unless_present = "store")]
    pub out: Option<PathBuf>,
    /// Or append to a store (directory or s3://BUCKET/PREFIX), one day at a time.
    #[arg(long, value_name = "DIR|S3_URL", conflicts_with = "out")]
    pub store: Option<PathBuf>,
    /// Record the samples as this cluster's (demo and fleet scenarios).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Trace family: google-2019, bitbrains, azure or google-2011.
    pub family: String,
    /// The public traces folder, laid out as docs/traces.md describes.
    #[arg(long, env = "PODSIZER_TRACES", value_name = "DIR")]
    pub traces: Option<PathBuf>,
    /// Output file (.csv or .parquet).
    #[arg(long, value_name = "FILE", required_unless_present = "store")]
    pub out: Option<PathBuf>,
    /// Or append to a store (directory or s3://BUCKET/PREFIX).
    #[arg(long, value_name = "DIR|S3_URL", conflicts_with = "out")]
    pub store: Option<PathBuf>,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Prices behind every cost figure (report, back-test, pull-request title).
#[derive(Debug, Args, Clone, Copy)]
pub(crate) struct PriceArgs {
    /// Price of one core for one hour, in dollars.
    #[arg(long, default_value_t = 0.04)]
    pub core_hour_price: f64,
    /// Price of one GiB of memory for one hour, in dollars.
    #[arg(long, default_value_t = 0.005)]
    pub gib_hour_price: f64,
}

impl PriceArgs {
    pub(crate) fn prices(&self) -> anyhow::Result<crate::analysis::series::Prices> {
        for (name, price) in [("--core-hour-price", self.core_hour_price), ("--gib-hour-price", self.gib_hour_price)] {
            if !price.is_finite() || price < 0.0 {
                anyhow::bail!("{name} {price}: must be a number >= 0");
            }
        }
        Ok(crate::analysis::series::Prices { core_hour: self.core_hour_price, gib_hour: self.gib_hour_price })
    }
}

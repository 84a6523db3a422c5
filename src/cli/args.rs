//! Command-line shape (clap only; no logic here).

use super::values::{self, Quantity, Share, Span, Time};
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
pub struct Cli {
    /// Print only results and warnings: no progress bars, no notes.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    #[command(long_about = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Write man pages (podsizer.1 and one per subcommand) into a folder.
    Man(ManArgs),
}

pub const COMPLETIONS_HELP: &str = "Prints a completion script for the shell, generated from this binary's own \
arguments, so it always matches the installed version.\n\n\
  bash        source <(podsizer completions bash)            (or save it in ~/.local/share/bash-completion/completions/podsizer)\n\
  zsh         podsizer completions zsh > \"${fpath[1]}/_podsizer\"\n\
  fish        podsizer completions fish > ~/.config/fish/completions/podsizer.fish\n\
  powershell  podsizer completions powershell | Out-String | Invoke-Expression";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder for the pages (created if missing), e.g. ~/.local/share/man/man1.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub const BACKTEST_HELP: &str = "Sizes each container from a training window with each strategy, then replays the \
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
  current        the same figures for the settings in --kustomize's overlay, when every container has them\n\n\
With --node SHAPE, each holdout's pods are also placed onto nodes of that allocatable shape by their requests\n\
(first-fit decreasing on the dominant resource, placed again whenever pods start or stop), per strategy:\n\
  NODES PEAK/MEAN   nodes needed, at most and time-weighted\n\
  MEM PRESSURE      node-minutes with the sum of working sets above allocatable memory (evictions or OOM kills)\n\
  CPU CONTENTION    node-minutes with the sum of CPU use above allocatable CPU\n\
  NODE COST         node-hours x $/node-hour (default: the shape's cores and GiB at the unit prices)\n\n\
Default prices: $0.04 per core-hour, $0.005 per GiB-hour.";

/// Which samples to read: files and stores, Prometheus, or both.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("samples").required(true).multiple(true).args(["inputs", "prometheus"])))]
pub struct InputArgs {
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
pub struct LiveArgs {
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
pub struct PrometheusInputArgs {
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
    /// With --prometheus: label that selects one cluster, as NAME=VALUE.
    #[arg(long, value_name = "NAME=VALUE", requires = "prometheus")]
    pub cluster_label: Option<String>,
    /// With --prometheus: range of rate() for CPU [default: 60s]; must hold two scrapes.
    #[arg(long, value_name = "DURATION", requires = "prometheus")]
    pub rate_window: Option<String>,
    /// With --prometheus: remote read, query-range, or auto (remote read where served).
    #[arg(long, value_enum, default_value = "auto")]
    pub read_api: ReadApi,
}

/// How `s3://` stores are reached and where they are mirrored (docs/store.md, "Store on S3").
#[derive(Debug, Args, Clone, Default)]
pub struct S3Args {
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
    pub fn options(&self) -> crate::store::s3::S3Options {
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
pub struct SizingArgs {
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

#[derive(Debug, Args)]
pub struct RecommendArgs {
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
pub struct ReportArgs {
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

/// A summary posted to a chat webhook after the work is done.
#[derive(Debug, Args, Clone)]
pub struct NotifyArgs {
    /// Slack or Microsoft Teams incoming-webhook URL to post a summary to. Prefer the environment
    /// variable: the URL is a credential, and is never printed.
    #[arg(long, value_name = "URL", env = "PODSIZER_NOTIFY_WEBHOOK", hide_env_values = true)]
    pub notify_webhook: Option<String>,
    /// Payload shape [default: from the webhook's host].
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "auto")]
    pub notify_format: crate::outputs::notify::Flavor,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ImportArgs {
    /// Another source instead of files: `podsizer import prometheus --url URL --store DIR`.
    #[command(subcommand)]
    pub source: Option<ImportSource>,
    /// Sample files in the long format (.csv or .parquet).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Store directory or s3://BUCKET/PREFIX (created if missing).
    #[arg(long, value_name = "DIR|S3_URL", required = true)]
    pub store: Option<PathBuf>,
    /// Skip bad rows (reported) instead of rejecting the file.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Record the rows as this cluster's (rows whose file has a `cluster` value keep it).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

// Parsed once per process: the size of the larger variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// Read usage history from Prometheus (or Thanos, Mimir, VictoriaMetrics, AMP) into a store.
    #[command(long_about = PROMETHEUS_HELP)]
    Prometheus(PrometheusArgs),
    /// Read usage history from CloudWatch Container Insights (performance logs or enhanced metrics) into a store.
    #[command(long_about = CLOUDWATCH_HELP)]
    Cloudwatch(CloudwatchArgs),
}

pub const CLOUDWATCH_HELP: &str = "Reads per-container CPU and memory of an EKS cluster from Amazon CloudWatch \
Container Insights: the performance log events (`--from logs`: exact millicores and bytes per minute, workloads from \
the pods' owners) or the enhanced-observability ContainerInsights metrics (`--from metrics`: GetMetricData, percentages \
turned into cores and bytes with the container's limit or the node's capacity). `--from auto` uses the logs when the \
cluster's performance log group exists, else the metrics.\n\n\
Credentials and region come from the standard AWS chain (environment, profiles, SSO, web identity, instance roles). \
Re-runs fetch only what is new since the last import of the cluster; an interrupted import resumes where it stopped. \
See docs/sources/cloudwatch.md for the IAM policy and the cost of an import.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudwatchFrom {
    /// The performance log group if it exists, else the metrics.
    Auto,
    /// Performance log events (FilterLogEvents).
    Logs,
    /// Enhanced-observability metrics (ListMetrics + GetMetricData).
    Metrics,
}

#[derive(Debug, Args)]
pub struct CloudwatchArgs {
    /// EKS cluster name, as in /aws/containerinsights/<NAME>/performance and the ClusterName dimension.
    #[arg(long, value_name = "NAME")]
    pub cluster: String,
    /// Store directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    /// AWS region [default: AWS_REGION, then the profile's region].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Profile from ~/.aws/config [default: AWS_PROFILE, then `default`].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// History to read: a duration before now (14d) or a time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, default_value = "14d", value_name = "DURATION|TIME")]
    pub since: String,
    /// End of the history to read (RFC 3339 or YYYY-MM-DD) [default: five minutes ago].
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only these namespaces (repeatable).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Send every request to this endpoint (VPC endpoint, LocalStack, a test stand-in).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Where usage comes from.
    #[arg(long = "from", value_enum, default_value = "auto")]
    pub from: CloudwatchFrom,
    /// Metrics mode: queries per GetMetricData call (at most 500). Fewer queries per call make
    /// longer time pages: more calls, but each metric is billed fewer times (docs/sources/cloudwatch.md, "Cost of one import").
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub queries_per_call: usize,
    /// Metrics mode: datapoints one GetMetricData answer may hold (the service's cap is 100,800);
    /// lower values make shorter time pages (tests use it to get many pages from little data).
    #[arg(long, default_value_t = 100_800, value_name = "N", hide = true)]
    pub max_datapoints_per_call: i64,
}

pub const PROMETHEUS_HELP: &str = "Reads container CPU (rate of container_cpu_usage_seconds_total) and memory \
(container_memory_working_set_bytes) from cAdvisor series, as raw samples by remote read (or evaluated by \
query_range where remote read is refused; see --read-api), and pod owners, current requests/limits \
and OOM kills from kube-state-metrics series. Needs only the Prometheus HTTP API, no Kubernetes API.\n\n\
Re-runs fetch only what is new since the last import of the same URL and scope; an interrupted import resumes \
where it stopped. See docs/sources/prometheus.md for the PromQL and for Thanos, Mimir and AMP.";

#[derive(Debug, Args)]
pub struct CollectArgs {
    #[command(subcommand)]
    pub source: CollectSource,
}

#[derive(Debug, Subcommand)]
pub enum CollectSource {
    /// Sample metrics.k8s.io PodMetrics every --interval into a store, with owners, settings and OOM kills.
    #[command(long_about = COLLECT_HELP)]
    MetricsServer(MetricsServerArgs),
}

pub const COLLECT_HELP: &str = "Lists metrics.k8s.io/v1beta1 PodMetrics every --interval (paginated), joins each pod \
to its owner workload from a cached inventory of pods, ReplicaSets and Jobs, and appends one row per container to \
the store, skipping metrics windows already stored. Samples are flushed atomically every --flush-every rounds and \
on SIGTERM/SIGINT; current requests/limits, restarts and OOM kills go to STORE/collector/state.json.\n\n\
Authenticates as kubectl does: --kubeconfig, KUBECONFIG, ~/.kube/config, or the in-cluster service account.";

#[derive(Debug, Args)]
pub struct MetricsServerArgs {
    /// Store directory or s3://BUCKET/PREFIX (created if missing).
    #[arg(long, value_name = "DIR|S3_URL")]
    pub store: PathBuf,
    #[command(flatten)]
    pub s3: S3Args,
    /// Kubeconfig file [default: KUBECONFIG, ~/.kube/config, then the in-cluster service account].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: the current context].
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Record samples, current settings and OOM kills as this cluster's (one store can hold a fleet).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Only these namespaces (repeatable) [default: all namespaces].
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Only pods matching this label selector (e.g. `app=api,tier!=batch`).
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Time between rounds.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub interval: String,
    /// Stop after this long (e.g. 7d) [default: run until stopped].
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Stop after this many rounds.
    #[arg(long, value_name = "N")]
    pub rounds: Option<u64>,
    /// One round, stored (like `kubectl top pods`, but kept); errors exit non-zero.
    #[arg(long, conflicts_with_all = ["duration", "rounds"])]
    pub once: bool,
    /// Flush buffered samples to the store every N rounds (and on SIGTERM/SIGINT).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub flush_every: u64,
    /// Re-list pods, ReplicaSets and Jobs this often (and when unknown pods show up).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub inventory_refresh: String,
    /// Timeout of each API request.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub request_timeout: String,
    /// Objects per list page (`limit`; the rest follows with `continue`).
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub page_size: u32,
    /// Retries of a round on 429, 5xx and timeouts (jittered exponential backoff from 1s).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
}

#[derive(Debug, Args)]
pub struct PrometheusArgs {
    /// Prometheus base URL (Thanos/Mimir: include the API prefix, e.g. https://mimir/prometheus).
    #[arg(long, value_name = "URL", env = "PODSIZER_PROMETHEUS_URL")]
    pub url: String,
    /// Store directory or s3://BUCKET/PREFIX (created if missing).
    #[arg(long, value_name = "DIR|S3_URL")]
    pub store: PathBuf,
    #[command(flatten)]
    pub s3: S3Args,
    /// History to read: a duration before --until (14d) or a time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, default_value = "14d", value_name = "DURATION|TIME")]
    pub since: String,
    /// End of the history to read (RFC 3339 or YYYY-MM-DD) [default: now, less one step].
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Resolution of the imported samples.
    #[arg(long, default_value = "60s")]
    pub step: String,
    /// Range of rate() for CPU [default: the step]; must hold at least two scrapes.
    #[arg(long, value_name = "DURATION")]
    pub rate_window: Option<String>,
    /// Only these namespaces (repeatable).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Extra label matchers for the cAdvisor series, e.g. 'job="kubelet"'.
    #[arg(long, value_name = "MATCHERS")]
    pub selector: Option<String>,
    /// Header sent with every request, as `Name: value` (repeatable), e.g. 'X-Scope-OrgID: team-a'.
    #[arg(long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Send `Authorization: Bearer <contents of FILE>` (read once, whitespace trimmed).
    #[arg(long, value_name = "FILE")]
    pub bearer_token_file: Option<PathBuf>,
    /// Label that selects one cluster in every query, as NAME=VALUE (e.g. cluster=prod); the
    /// VALUE is recorded as the samples' cluster unless --cluster names another.
    #[arg(long, value_name = "NAME=VALUE")]
    pub cluster_label: Option<String>,
    /// Record samples, current settings and OOM kills as this cluster's.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Points (series x steps) one query_range answer may hold; sets how pods are batched.
    #[arg(long, default_value_t = 500_000)]
    pub max_points: u64,
    /// Timeout of one request.
    #[arg(long, default_value = "120s")]
    pub timeout: String,
    /// Retries of a request that failed to connect, timed out or got HTTP 429/502/503/504.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// How usage is read: raw samples by remote read (rates computed here), query_range
    /// (rates evaluated by Prometheus), or auto: remote read, query_range where it is refused.
    #[arg(long, value_enum, default_value = "auto")]
    pub read_api: ReadApi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReadApi {
    #[default]
    Auto,
    RemoteRead,
    QueryRange,
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
    /// Every back-test scenario (diurnal API, nightly batch, memory growth, growing traffic,
    /// young workload, idle tool); `--step` resamples by keeping one sample per step.
    Backtest,
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
pub struct BacktestArgs {
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
pub enum BacktestFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct SuiteArgs {
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
pub struct TraceArgs {
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

#[derive(Debug, Args)]
pub struct PrArgs {
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

/// Prices behind every cost figure (report, back-test, pull-request title).
#[derive(Debug, Args, Clone, Copy)]
pub struct PriceArgs {
    /// Price of one core for one hour, in dollars.
    #[arg(long, default_value_t = 0.04)]
    pub core_hour_price: f64,
    /// Price of one GiB of memory for one hour, in dollars.
    #[arg(long, default_value_t = 0.005)]
    pub gib_hour_price: f64,
}

impl PriceArgs {
    pub fn prices(&self) -> anyhow::Result<crate::analysis::backtest::Prices> {
        for (name, price) in [("--core-hour-price", self.core_hour_price), ("--gib-hour-price", self.gib_hour_price)] {
            if !price.is_finite() || price < 0.0 {
                anyhow::bail!("{name} {price}: must be a number >= 0");
            }
        }
        Ok(crate::analysis::backtest::Prices { core_hour: self.core_hour_price, gib_hour: self.gib_hour_price })
    }
}

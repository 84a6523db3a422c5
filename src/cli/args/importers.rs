//! Arguments of the commands that bring samples in: `import` (files, Prometheus, CloudWatch)
//! and `collect`.

use super::S3Args;
use crate::cli::values::{self, Since, Span, Time};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ImportArgs {
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
pub(crate) enum ImportSource {
    /// Read usage history from Prometheus (or Thanos, Mimir, VictoriaMetrics, AMP) into a store.
    #[command(long_about = PROMETHEUS_HELP)]
    Prometheus(PrometheusArgs),
    /// Read usage history from CloudWatch Container Insights (performance logs or enhanced metrics) into a store.
    #[command(long_about = CLOUDWATCH_HELP)]
    Cloudwatch(CloudwatchArgs),
}

pub(crate) const CLOUDWATCH_HELP: &str = "Reads per-container CPU and memory of an EKS cluster from Amazon CloudWatch \
Container Insights: the performance log events (`--from logs`: exact millicores and bytes per minute, workloads from \
the pods' owners) or the enhanced-observability ContainerInsights metrics (`--from metrics`: GetMetricData, percentages \
turned into cores and bytes with the container's limit or the node's capacity). `--from auto` uses the logs when the \
cluster's performance log group exists, else the metrics.\n\n\
Credentials and region come from the standard AWS chain (environment, profiles, SSO, web identity, instance roles). \
Re-runs fetch only what is new since the last import of the cluster; an interrupted import resumes where it stopped. \
See docs/sources/cloudwatch.md for the IAM policy and the cost of an import.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CloudwatchFrom {
    /// The performance log group if it exists, else the metrics.
    Auto,
    /// Performance log events (FilterLogEvents).
    Logs,
    /// Enhanced-observability metrics (ListMetrics + GetMetricData).
    Metrics,
}

#[derive(Debug, Args)]
pub(crate) struct CloudwatchArgs {
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
    #[arg(long, default_value = "14d", value_name = "DURATION|TIME", value_parser = values::since)]
    pub since: Since,
    /// End of the history to read (RFC 3339 or YYYY-MM-DD) [default: five minutes ago].
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub until: Option<Time>,
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

pub(crate) const PROMETHEUS_HELP: &str = "Reads container CPU (rate of container_cpu_usage_seconds_total) and memory \
(container_memory_working_set_bytes) from cAdvisor series, as raw samples by remote read (or evaluated by \
query_range where remote read is refused; see --read-api), and pod owners, current requests/limits \
and OOM kills from kube-state-metrics series. Needs only the Prometheus HTTP API, no Kubernetes API.\n\n\
Re-runs fetch only what is new since the last import of the same URL and scope; an interrupted import resumes \
where it stopped. See docs/sources/prometheus.md for the PromQL and for Thanos, Mimir and AMP.";

#[derive(Debug, Args)]
pub(crate) struct CollectArgs {
    #[command(subcommand)]
    pub source: CollectSource,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CollectSource {
    /// Sample metrics.k8s.io PodMetrics every --interval into a store, with owners, settings and OOM kills.
    #[command(long_about = COLLECT_HELP)]
    MetricsServer(MetricsServerArgs),
}

pub(crate) const COLLECT_HELP: &str =
    "Lists metrics.k8s.io/v1beta1 PodMetrics every --interval (paginated), joins each pod \
to its owner workload from a cached inventory of pods, ReplicaSets and Jobs, and appends one row per container to \
the store, skipping metrics windows already stored. Samples are flushed atomically every --flush-every rounds and \
on SIGTERM/SIGINT; current requests/limits, restarts and OOM kills go to STORE/collector/state.json.\n\n\
Authenticates as kubectl does: --kubeconfig, KUBECONFIG, ~/.kube/config, or the in-cluster service account.";

#[derive(Debug, Args)]
pub(crate) struct MetricsServerArgs {
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
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = values::duration)]
    pub interval: Duration,
    /// Stop after this long (e.g. 7d) [default: run until stopped].
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub duration: Option<Duration>,
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
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = values::duration)]
    pub inventory_refresh: Duration,
    /// Timeout of each API request.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = values::duration)]
    pub request_timeout: Duration,
    /// Objects per list page (`limit`; the rest follows with `continue`).
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub page_size: u32,
    /// Retries of a round on 429, 5xx and timeouts (jittered exponential backoff from 1s).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
}

#[derive(Debug, Args)]
pub(crate) struct PrometheusArgs {
    /// Prometheus base URL (Thanos/Mimir: include the API prefix, e.g. https://mimir/prometheus).
    #[arg(long, value_name = "URL", env = "PODSIZER_PROMETHEUS_URL")]
    pub url: String,
    /// Store directory or s3://BUCKET/PREFIX (created if missing).
    #[arg(long, value_name = "DIR|S3_URL")]
    pub store: PathBuf,
    #[command(flatten)]
    pub s3: S3Args,
    /// History to read: a duration before --until (14d) or a time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, default_value = "14d", value_name = "DURATION|TIME", value_parser = values::since)]
    pub since: Since,
    /// End of the history to read (RFC 3339 or YYYY-MM-DD) [default: now, less one step].
    #[arg(long, value_name = "TIME", value_parser = values::time)]
    pub until: Option<Time>,
    /// Resolution of the imported samples.
    #[arg(long, default_value = "60s", value_parser = values::span)]
    pub step: Span,
    /// Range of rate() for CPU [default: the step]; must hold at least two scrapes.
    #[arg(long, value_name = "DURATION", value_parser = values::span)]
    pub rate_window: Option<Span>,
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
    /// VALUE is recorded as the samples' cluster unless --cluster names another. A bare NAME
    /// imports every cluster the server holds, each under its value of NAME.
    #[arg(long, value_name = "NAME[=VALUE]")]
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
    #[arg(long, default_value = "120s", value_parser = values::duration)]
    pub timeout: Duration,
    /// Retries of a request that failed to connect, timed out or got HTTP 429/502/503/504.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// How usage is read: raw samples by remote read (rates computed here), query_range
    /// (rates evaluated by Prometheus), or auto: remote read, query_range where it is refused.
    #[arg(long, value_enum, default_value = "auto")]
    pub read_api: ReadApi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ReadApi {
    #[default]
    Auto,
    RemoteRead,
    QueryRange,
}

//! Prometheus (and anything speaking its HTTP API: Thanos, Mimir, VictoriaMetrics, Amazon
//! Managed Prometheus behind a SigV4 proxy) as a source of usage history.
//!
//! Usage comes from cAdvisor series, owners and settings from kube-state-metrics series:
//!
//! ```text
//! CPU     max by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!="",container!="POD",...}[W]))
//! memory  max by (namespace, pod, container) (container_memory_working_set_bytes{container!="",container!="POD",...})
//! owners  kube_pod_owner, kube_replicaset_owner, kube_job_owner                        (series API)
//! current max by (namespace, pod, container, resource) (last_over_time(kube_pod_container_resource_{requests,limits}[1h]))
//! OOM     kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}         (series API)
//! ```
//!
//! `query_range` requests are planned so that no series exceeds Prometheus's 11,000 points
//! (time windows) and no response holds more than a budget of points (pod batches). The
//! pure pieces are separate from the HTTP client so they can be tested alone:
//!
//! - `query`: PromQL text (literals, matchers, the scope, the usage queries)
//! - `plan`: time windows, day windows, pod batches, the request count of an import
//! - `payload`: the API's JSON answers
//! - `owners`: pod -> workload from kube-state-metrics (name heuristics in `sources::owners`)
//! - `join`: CPU and memory into samples; requests, limits and OOM kills per container
//! - `client`: the HTTP client with retries; `remote_read`, `chunks`, `rate`: the raw-sample path
//! - `fetch`: the steps of an import (kube-state-metrics, pod discovery, batches of a window)
//! - `import`: the whole import, resumable, writing into a `SampleSink`
//! - `clusters`: the clusters a querier holds (values of one label), each imported on its own

pub(crate) mod chunks;
mod client;
pub(crate) mod clusters;
mod fetch;
pub(crate) mod import;
mod join;
mod outcomes;
mod owners;
mod payload;
mod query;
pub mod rate;
pub mod remote_read;
mod windows;
mod writer;

pub(crate) use client::parse_header;
pub use client::{Client, ClientConfig};
pub(crate) use join::ContainerSettings;
pub(crate) use owners::Resolution;
pub(crate) use query::{promql_duration, Scope};
pub(crate) use windows::{align_down, align_up, PHP_FPM_EXPORTER_REQUESTS};
pub use windows::{request_count, ReadPath, Window};

use std::collections::BTreeMap;

pub(crate) const CPU_METRIC: &str = "container_cpu_usage_seconds_total";
pub(crate) const MEMORY_METRIC: &str = "container_memory_working_set_bytes";
/// Prometheus refuses a range query with more points than this per series.
pub(crate) const MAX_POINTS_PER_SERIES: i64 = 11_000;
/// Window of the `last_over_time` that reads current requests and limits.
pub(crate) const SETTINGS_LOOKBACK: &str = "1h";

/// Labels of one series.
pub type Labels = BTreeMap<String, String>;

/// What a server wrote, safe to print (no control characters, one line, cut).
fn shown(text: &str) -> String {
    use crate::domain::server_text::{server_message, Redactor, SERVER_TEXT_MAX_CHARS};
    server_message(text, &Redactor::new(), SERVER_TEXT_MAX_CHARS)
}

/// The settings a user types, for messages about a bad one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The server's base URL.
    Url,
    /// A header sent with every request.
    Header,
    /// Extra label matchers for the usage series.
    Selector,
    /// The label that names a cluster.
    ClusterLabel,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setting::Url => "URL",
            Setting::Header => "header",
            Setting::Selector => "selector",
            Setting::ClusterLabel => "cluster label",
        })
    }
}

impl PrometheusError {
    fn config(setting: Setting, given: &str, why: impl Into<String>) -> Self {
        PrometheusError::Config { setting, given: given.to_string(), why: why.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("{url}: cannot connect: {} (is Prometheus running there?)", shown(message))]
    Connect { url: String, message: String },
    #[error("{url}: no complete answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: HTTP {status}: {}", shown(message))]
    Status { url: String, status: u16, message: String },
    #[error(
        "{url}: HTTP {status}, a redirect to {}: podsizer follows no redirect (its headers, tokens included, would go \
         along); give the address it points to instead",
        shown(to)
    )]
    Redirected { url: String, status: u16, to: String },
    #[error("{url}: Prometheus refused the query ({}): {}", shown(kind), shown(message))]
    Api { url: String, kind: String, message: String },
    #[error("{url}: remote read not available: {}", shown(message))]
    NoRemoteRead { url: String, message: String },
    #[error("{url}: unexpected response: {}", shown(message))]
    BadResponse { url: String, message: String },
    /// A setting that cannot work, named by what it is and what was given.
    #[error("{setting} {given:?}: {why}")]
    Config { setting: Setting, given: String, why: String },
    #[error("cannot start {threads} worker thread(s)")]
    Workers { threads: usize, source: rayon::ThreadPoolBuildError },
}

//! Amazon CloudWatch Container Insights as a source of usage history, in two modes:
//!
//! - `logs`: the performance log events (`/aws/containerinsights/<cluster>/performance`,
//!   `"Type": "Container"`), exact millicores and bytes per container and minute, with the pod's
//!   owners. Read with FilterLogEvents: no charge per request or per GB scanned, a page token that
//!   can be saved to resume, and no cap on rows. Logs Insights would be faster on big clusters but
//!   bills $0.005 per GB scanned (every event type in the group, not only containers) and returns
//!   at most 10,000 rows per query, so an import would need thousands of polled queries.
//! - `metrics`: enhanced-observability metrics (namespace `ContainerInsights`) through
//!   GetMetricData, which bills per metric requested; percentages are turned into cores and bytes
//!   with the container's limit, or the node's capacity when every node has the same.
//!
//! Both modes make pure pieces (parsing, planning, converting) separate from the calls.

pub(crate) mod import;
pub(crate) mod logs;
pub(crate) mod metrics;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(crate) use crate::sources::aws::AwsError;

/// Price of GetMetricData per metric requested, and of ListMetrics per request (us-east-1).
pub(crate) const USD_PER_METRIC_REQUESTED: f64 = 0.01 / 1000.0;
pub(crate) const USD_PER_LIST_METRICS: f64 = 0.01 / 1000.0;

/// Calls made by one import, for the progress line and the summary.
#[derive(Debug, Default)]
pub(crate) struct ApiCalls {
    pub filter_log_events: AtomicU64,
    pub list_metrics: AtomicU64,
    /// GetMetricData calls, continuations (NextToken) included.
    pub get_metric_data: AtomicU64,
    /// Of those, the ones that followed a NextToken.
    pub continuations: AtomicU64,
    /// Queries summed over GetMetricData calls: what CloudWatch bills.
    pub metrics_requested: AtomicU64,
    pub datapoints: AtomicU64,
    /// HTTP requests sent, retries included (counted by an SDK interceptor).
    pub attempts: Arc<AtomicU64>,
}

impl ApiCalls {
    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// API calls, not counting retries.
    pub(crate) fn calls(&self) -> u64 {
        Self::get(&self.filter_log_events) + Self::get(&self.list_metrics) + Self::get(&self.get_metric_data)
    }

    pub(crate) fn estimated_usd(&self) -> f64 {
        Self::get(&self.metrics_requested) as f64 * USD_PER_METRIC_REQUESTED
            + Self::get(&self.list_metrics) as f64 * USD_PER_LIST_METRICS
    }
}

/// Counts every HTTP attempt an SDK client makes (retries show up here, not in the call counts).
#[derive(Debug, Clone)]
pub(crate) struct AttemptCounter(pub Arc<AtomicU64>);

impl aws_sdk_cloudwatch::config::Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "podsizer-attempt-counter"
    }

    fn read_before_attempt(
        &self,
        _context: &aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_cloudwatch::config::RuntimeComponents,
        _cfg: &mut aws_sdk_cloudwatch::config::ConfigBag,
    ) -> Result<(), aws_sdk_cloudwatch::error::BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Clients for both services from one configuration, counting attempts into `calls`.
pub(crate) struct Clients {
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub region: String,
    pub endpoint_url: Option<String>,
}

impl Clients {
    pub(crate) fn new(config: &aws_config::SdkConfig, calls: &ApiCalls, endpoint_url: Option<&str>) -> Self {
        let counter = AttemptCounter(calls.attempts.clone());
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(config).interceptor(counter.clone()).build();
        let cloudwatch = aws_sdk_cloudwatch::config::Builder::from(config).interceptor(counter).build();
        Self {
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch),
            region: crate::sources::aws::region_of(config),
            endpoint_url: endpoint_url.map(String::from),
        }
    }

    pub(crate) fn logs_error<E, R>(
        &self,
        e: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>,
        operation: &str,
    ) -> AwsError
    where
        E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        crate::sources::aws::classify(
            e,
            "CloudWatch Logs",
            "logs",
            operation,
            &self.region,
            self.endpoint_url.as_deref(),
        )
    }

    pub(crate) fn cloudwatch_error<E, R>(
        &self,
        e: &aws_sdk_cloudwatch::error::SdkError<E, R>,
        operation: &str,
    ) -> AwsError
    where
        E: aws_sdk_cloudwatch::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        crate::sources::aws::classify(
            e,
            "CloudWatch",
            "cloudwatch",
            operation,
            &self.region,
            self.endpoint_url.as_deref(),
        )
    }
}

/// How a pod's workload was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PodOwnerSource {
    /// From the event's `kubernetes.pod_owners`.
    Owner,
    /// From the pod name next to the owner's name (metrics mode; the kind is inferred).
    Name,
    /// Nothing to go by: the pod is its own workload.
    PodItself,
}

pub(crate) use crate::sources::owners::workload_from_owner;

/// Metrics mode knows the owner's name (`PodName`) and the pod's (`FullPodName`), not the
/// kind: the kind is read from how the controller named the pod.
pub(crate) fn workload_from_names(owner: &str, pod: &str) -> (String, String, PodOwnerSource) {
    match crate::sources::owners::kind_from_pod_name(owner, pod) {
        Some(kind) => (kind.into(), owner.to_string(), PodOwnerSource::Name),
        None => ("Pod".into(), pod.to_string(), PodOwnerSource::PodItself),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_pod_names() {
        let k = |o, p| workload_from_names(o, p);
        assert_eq!(k("api", "api-5b8f7d9c4-x2x9k").0, "Deployment");
        assert_eq!(k("db", "db-12").0, "StatefulSet");
        assert_eq!(k("fluent-bit", "fluent-bit-x2x9k").0, "DaemonSet");
        assert_eq!(k("report", "report-29012345-x2x9k").0, "CronJob");
        assert_eq!(k("debug", "debug"), ("Pod".into(), "debug".into(), PodOwnerSource::PodItself));
        assert_eq!(k("api", "other-1").2, PodOwnerSource::PodItself);
    }
}

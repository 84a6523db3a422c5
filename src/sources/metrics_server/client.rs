//! The API-server side of the collector: connecting as kubectl does, paginated lists of
//! PodMetrics, pods, ReplicaSets and Jobs, and errors classified into what the user must fix
//! (RBAC, metrics-server missing) and what is worth retrying (429, 5xx, timeouts).
//!
//! The same code talks to a real cluster and to the tests' fake API server.

use super::{Inventory, OwnerIndex};
use crate::domain::server_text::{sanitize, server_message, Redactor, SERVER_TEXT_MAX_CHARS};
use k8s_metrics::v1beta1::PodMetrics;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::Client;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MetricsServerError {
    #[error("Kubernetes client configuration: {0}")]
    Config(String),
    #[error("Kubernetes client configuration: {0}")]
    Kubeconfig(super::kubeconfig::KubeconfigError),
    #[error(
        "401 Unauthorized {what}: the API server rejected the credentials ({message}); refresh them \
(e.g. `kubectl get pods` to re-login) or check the kubeconfig and context"
    )]
    Unauthorized { what: String, message: String },
    #[error(
        "403 Forbidden {what}: RBAC rule missing: the identity podsizer runs as needs `{rule}` (deploy/collector/rbac.yaml \
has the ClusterRole) ({message})"
    )]
    Forbidden { what: String, rule: String, message: String },
    #[error(
        "404 {what}: metrics-server is not installed (the metrics.k8s.io API is not served); install it, e.g. \
`kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml`"
    )]
    MetricsNotInstalled { what: String },
    #[error("HTTP {code} {what}: {message}")]
    Api { what: String, code: u16, message: String },
    #[error("{what}: temporary failure (retried with backoff): {message}")]
    Transient { what: String, message: String },
    #[error(
        "listing {resource} from the API server {server}: {problem}; stopped listing (a server paging in a loop, \
or a list larger than podsizer reads)"
    )]
    Paging { server: String, resource: String, problem: String },
}

impl MetricsServerError {
    /// 429, 5xx, timeouts and connection failures: retried with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--kubeconfig`; without it `KUBECONFIG`, `~/.kube/config`, then the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Connect and read timeout of each request.
    pub request_timeout: Option<Duration>,
    /// How much one list may hold.
    pub limits: ListLimits,
}

/// Bounds on one list (all its pages), so a server that pages without end (a `continue` token
/// that never runs out) cannot keep podsizer listing forever. A token that repeats an earlier
/// one ends the list at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLimits {
    pub max_pages: usize,
    pub max_items: usize,
}

impl Default for ListLimits {
    /// Far above what a real cluster holds: Kubernetes supports 150,000 pods; pages can be
    /// sparse (a label selector filters after the page is cut), hence many more pages than
    /// `items / page size`.
    fn default() -> Self {
        Self { max_pages: 100_000, max_items: 1_000_000 }
    }
}

/// A client for one API server, with its URL (for messages) and the list bounds.
#[derive(Clone)]
pub(crate) struct ApiServer {
    pub client: Client,
    pub url: String,
    pub limits: ListLimits,
}

/// Builds a client the way kubectl finds its configuration (`kubeconfig::client_config`).
pub(crate) async fn connect(opts: &ConnectOptions) -> Result<ApiServer, MetricsServerError> {
    let mut config = super::kubeconfig::client_config(opts.kubeconfig.as_deref(), opts.context.as_deref())
        .await
        .map_err(MetricsServerError::Kubeconfig)?;
    if let Some(t) = opts.request_timeout {
        config.connect_timeout = Some(t);
        config.read_timeout = Some(t);
    }
    // Retries are ours: with backoff, logged, and bounded by the collection interval.
    config.default_retry = false;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| MetricsServerError::Config(e.to_string()))?;
    Ok(ApiServer { client, url, limits: opts.limits })
}

/// Which pods to sample.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Empty: all namespaces.
    pub namespaces: Vec<String>,
    pub selector: Option<String>,
    /// `limit` of each list page.
    pub page_size: u32,
}

/// What a resource needs in a ClusterRole rule, for 403 messages.
fn rule_for(group: &str, resource: &str) -> String {
    format!("apiGroups: [\"{group}\"], resources: [\"{resource}\"], verbs: [\"list\"]")
}

fn classify(e: kube::Error, what: &str, group: &str, resource: &str) -> MetricsServerError {
    let what = what.to_string();
    match e {
        kube::Error::Api(status) => {
            let text = if status.message.is_empty() { &status.reason } else { &status.message };
            let message = server_message(text, &Redactor::new(), SERVER_TEXT_MAX_CHARS);
            match status.code {
                401 => MetricsServerError::Unauthorized { what, message },
                403 => MetricsServerError::Forbidden { what, rule: rule_for(group, resource), message },
                404 if group == "metrics.k8s.io" => MetricsServerError::MetricsNotInstalled { what },
                408 | 429 | 500..=599 => {
                    MetricsServerError::Transient { what, message: format!("HTTP {}: {message}", status.code) }
                }
                code => MetricsServerError::Api { what, code, message },
            }
        }
        // Timeouts, refused or reset connections, truncated bodies: the server may come back.
        other => MetricsServerError::Transient { what, message: sanitize(&error_chain(&other)) },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One list: what is listed and from where (for messages), and its bounds.
struct ListRun<'a> {
    server: &'a ApiServer,
    what: &'a str,
    group: &'a str,
    resource: &'a str,
}

impl ListRun<'_> {
    fn paging(&self, problem: String) -> MetricsServerError {
        let resource =
            if self.group.is_empty() { self.resource.to_string() } else { format!("{}.{}", self.resource, self.group) };
        MetricsServerError::Paging { server: self.server.url.clone(), resource, problem }
    }

    /// Every object of one API (all pages, following `continue`), each page handed to `page`;
    /// ends with an error on a repeated token or beyond the server's [`ListLimits`].
    async fn pages<K>(
        &self,
        api: &Api<K>,
        params: &ListParams,
        mut page: impl FnMut(Vec<K>),
    ) -> Result<(), MetricsServerError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let limits = self.server.limits;
        let mut tokens = std::collections::HashSet::new();
        let (mut pages, mut items) = (0usize, 0usize);
        let mut lp = params.clone();
        loop {
            let list = api.list(&lp).await.map_err(|e| classify(e, self.what, self.group, self.resource))?;
            pages += 1;
            items += list.items.len();
            if items > limits.max_items {
                return Err(self.paging(format!("more than {} objects", limits.max_items)));
            }
            page(list.items);
            let Some(token) = list.metadata.continue_.filter(|c| !c.is_empty()) else { return Ok(()) };
            if !tokens.insert(token.clone()) {
                return Err(self.paging(format!("page {pages} repeats an earlier `continue` token")));
            }
            if pages >= limits.max_pages {
                return Err(self.paging(format!(
                    "more than {} pages (the page size is too small for this list)",
                    limits.max_pages
                )));
            }
            lp = params.clone().continue_token(&token);
        }
    }
}

pub(crate) async fn list_all<K>(
    server: &ApiServer,
    api: &Api<K>,
    params: &ListParams,
    what: &str,
    group: &str,
    resource: &str,
) -> Result<Vec<K>, MetricsServerError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    ListRun { server, what, group, resource }.pages(api, params, |page| items.extend(page)).await?;
    Ok(items)
}

fn apis<K>(client: &Client, scope: &Scope) -> Vec<Api<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    if scope.namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        scope.namespaces.iter().map(|ns| Api::namespaced(client.clone(), ns)).collect()
    }
}

fn params(scope: &Scope, with_selector: bool) -> ListParams {
    let mut lp = ListParams::default().limit(scope.page_size);
    if let (true, Some(sel)) = (with_selector, &scope.selector) {
        lp = lp.labels(sel);
    }
    lp
}

/// One round of `metrics.k8s.io/v1beta1` PodMetrics in scope.
pub(crate) async fn list_pod_metrics(server: &ApiServer, scope: &Scope) -> Result<Vec<PodMetrics>, MetricsServerError> {
    let mut out = Vec::new();
    for api in apis::<PodMetrics>(&server.client, scope) {
        let what = "listing pods.metrics.k8s.io";
        out.extend(list_all(server, &api, &params(scope, true), what, "metrics.k8s.io", "pods").await?);
    }
    Ok(out)
}

/// Pods in scope with their owners: one paginated list each of ReplicaSets, Jobs and pods;
/// pods are reduced to what the collector keeps page by page.
pub(crate) async fn list_inventory(server: &ApiServer, scope: &Scope) -> Result<Inventory, MetricsServerError> {
    let mut replicasets = Vec::new();
    let mut jobs = Vec::new();
    for api in apis::<ReplicaSet>(&server.client, scope) {
        let what = "listing replicasets";
        replicasets.extend(list_all(server, &api, &params(scope, false), what, "apps", "replicasets").await?);
    }
    for api in apis::<Job>(&server.client, scope) {
        jobs.extend(list_all(server, &api, &params(scope, false), "listing jobs", "batch", "jobs").await?);
    }
    let owners = OwnerIndex::new(&replicasets, &jobs);
    drop((replicasets, jobs));
    let mut inventory = Inventory::default();
    let pods = ListRun { server, what: "listing pods", group: "", resource: "pods" };
    for api in apis::<Pod>(&server.client, scope) {
        pods.pages(&api, &params(scope, true), |page| inventory.add_pods(&owners, &page)).await?;
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let status = |code: u16| kube::Error::Api(Box::new(kube::core::Status::failure("nope", "x").with_code(code)));
        assert!(matches!(classify(status(403), "w", "metrics.k8s.io", "pods"), MetricsServerError::Forbidden { .. }));
        let forbidden = classify(status(403), "listing pods", "metrics.k8s.io", "pods").to_string();
        assert!(forbidden.contains("apiGroups: [\"metrics.k8s.io\"], resources: [\"pods\"]"), "{forbidden}");
        assert!(matches!(
            classify(status(404), "w", "metrics.k8s.io", "pods"),
            MetricsServerError::MetricsNotInstalled { .. }
        ));
        assert!(matches!(classify(status(404), "w", "apps", "replicasets"), MetricsServerError::Api { code: 404, .. }));
        assert!(classify(status(429), "w", "", "pods").is_transient());
        assert!(classify(status(503), "w", "", "pods").is_transient());
        assert!(!classify(status(401), "w", "", "pods").is_transient());
    }
}

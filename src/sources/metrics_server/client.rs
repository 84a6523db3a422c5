//! The API-server side of the collector: connecting as kubectl does, paginated lists of
//! PodMetrics, pods, ReplicaSets and Jobs, and errors classified into what the user must fix
//! (RBAC, metrics-server missing) and what is worth retrying (429, 5xx, timeouts).
//!
//! The same code talks to a real cluster and to the tests' fake API server.

use super::{Inventory, OwnerIndex};
use k8s_metrics::v1beta1::PodMetrics;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MetricsServerError {
    #[error("Kubernetes client configuration: {0}")]
    Config(String),
    #[error(
        "401 Unauthorized {what}: the API server rejected the credentials ({message}); refresh them \
(e.g. `kubectl get pods` to re-login) or check --kubeconfig/--context"
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
}

/// Builds a client the way kubectl finds its configuration; also returns the API server's URL
/// (for messages).
pub async fn connect(opts: &ConnectOptions) -> Result<(Client, String), MetricsServerError> {
    let cfg_err = |e: &dyn std::fmt::Display| MetricsServerError::Config(e.to_string());
    let kc_opts = KubeConfigOptions { context: opts.context.clone(), ..KubeConfigOptions::default() };
    let mut config = if let Some(path) = &opts.kubeconfig {
        let kc =
            Kubeconfig::read_from(path).map_err(|e| MetricsServerError::Config(format!("{}: {e}", path.display())))?;
        Config::from_custom_kubeconfig(kc, &kc_opts).await.map_err(|e| cfg_err(&e))?
    } else if opts.context.is_some() {
        Config::from_kubeconfig(&kc_opts).await.map_err(|e| cfg_err(&e))?
    } else {
        Config::infer().await.map_err(|e| cfg_err(&e))?
    };
    if let Some(t) = opts.request_timeout {
        config.connect_timeout = Some(t);
        config.read_timeout = Some(t);
    }
    // Retries are ours: with backoff, logged, and bounded by the collection interval.
    config.default_retry = false;
    let server = config.cluster_url.to_string();
    Ok((Client::try_from(config).map_err(|e| cfg_err(&e))?, server))
}

/// Which pods to sample.
#[derive(Debug, Clone)]
pub struct Scope {
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
            let message = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
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
        other => MetricsServerError::Transient { what, message: error_chain(&other) },
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

/// Lists every object of one API (all pages, following `continue`), handing each page to `page`.
async fn list_pages<K>(
    api: &Api<K>,
    params: &ListParams,
    what: &str,
    group: &str,
    resource: &str,
    mut page: impl FnMut(Vec<K>),
) -> Result<(), MetricsServerError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut lp = params.clone();
    loop {
        let list = api.list(&lp).await.map_err(|e| classify(e, what, group, resource))?;
        page(list.items);
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = params.clone().continue_token(&token),
            None => return Ok(()),
        }
    }
}

pub(crate) async fn list_all<K>(
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
    list_pages(api, params, what, group, resource, |page| items.extend(page)).await?;
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
pub async fn list_pod_metrics(client: &Client, scope: &Scope) -> Result<Vec<PodMetrics>, MetricsServerError> {
    let mut out = Vec::new();
    for api in apis::<PodMetrics>(client, scope) {
        out.extend(
            list_all(&api, &params(scope, true), "listing pods.metrics.k8s.io", "metrics.k8s.io", "pods").await?,
        );
    }
    Ok(out)
}

/// Pods in scope with their owners: one paginated list each of ReplicaSets, Jobs and pods;
/// pods are reduced to what the collector keeps page by page.
pub async fn list_inventory(client: &Client, scope: &Scope) -> Result<Inventory, MetricsServerError> {
    let mut replicasets = Vec::new();
    let mut jobs = Vec::new();
    for api in apis::<ReplicaSet>(client, scope) {
        replicasets.extend(list_all(&api, &params(scope, false), "listing replicasets", "apps", "replicasets").await?);
    }
    for api in apis::<Job>(client, scope) {
        jobs.extend(list_all(&api, &params(scope, false), "listing jobs", "batch", "jobs").await?);
    }
    let owners = OwnerIndex::new(&replicasets, &jobs);
    drop((replicasets, jobs));
    let mut inventory = Inventory::default();
    for api in apis::<Pod>(client, scope) {
        list_pages(&api, &params(scope, true), "listing pods", "", "pods", |page| inventory.add_pods(&owners, &page))
            .await?;
    }
    Ok(inventory)
}

pub use crate::sources::retry::backoff_delay;

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

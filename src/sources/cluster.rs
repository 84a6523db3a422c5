//! The live cluster as the source of what is set now: the workloads whose pod templates carry
//! requests and limits (Deployments, StatefulSets, DaemonSets, CronJobs) and the HPAs
//! (`autoscaling/v2`) that scale them, read through the collector's kube client and error
//! classification (a 403 names the missing RBAC rule).
//!
//! ConfigMaps are read too, for the php-fpm pool files and nginx.conf they hold; an identity
//! without that permission still gets everything else, with a note.
//!
//! The objects come back as one multi-document YAML text, the same shape `kubectl kustomize`
//! renders, so the overlay's reader turns both into current settings the same way.

use super::metrics_server::client::{connect, list_all, ApiServer, ConnectOptions, MetricsServerError};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use serde::Serialize;

/// Objects per list page.
const PAGE: u32 = 500;

/// Which objects to read.
#[derive(Debug, Clone, Default)]
pub struct LiveScope {
    /// Empty: all namespaces.
    pub namespaces: Vec<String>,
}

/// What was read from the cluster.
#[derive(Debug, Default)]
pub struct LiveObjects {
    /// Every object as one multi-document YAML text.
    pub yaml: String,
    /// What could not be read and what that leaves out.
    pub notes: Vec<String>,
}

/// Lists every workload kind, HPA and ConfigMap in scope.
pub fn read_live_objects(connect_opts: &ConnectOptions, scope: &LiveScope) -> Result<LiveObjects, MetricsServerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MetricsServerError::Config(format!("starting the runtime: {e}")))?;
    runtime.block_on(async {
        let server = connect(connect_opts).await?;
        let mut docs = Vec::new();
        list_kind::<Deployment>(&server, scope, "apps", "deployments", &mut docs).await?;
        list_kind::<StatefulSet>(&server, scope, "apps", "statefulsets", &mut docs).await?;
        list_kind::<DaemonSet>(&server, scope, "apps", "daemonsets", &mut docs).await?;
        list_kind::<CronJob>(&server, scope, "batch", "cronjobs", &mut docs).await?;
        list_kind::<HorizontalPodAutoscaler>(&server, scope, "autoscaling", "horizontalpodautoscalers", &mut docs)
            .await?;
        let mut notes = Vec::new();
        match list_kind::<ConfigMap>(&server, scope, "", "configmaps", &mut docs).await {
            Ok(()) => {}
            Err(e @ MetricsServerError::Forbidden { .. }) => {
                notes.push(format!("{e}: php-fpm pool files and nginx.conf in ConfigMaps are not read"));
            }
            Err(e) => return Err(e),
        }
        Ok(LiveObjects { yaml: docs.join("---\n"), notes })
    })
}

async fn list_kind<K>(
    server: &ApiServer,
    scope: &LiveScope,
    group: &str,
    resource: &str,
    docs: &mut Vec<String>,
) -> Result<(), MetricsServerError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + Serialize
        + std::fmt::Debug,
{
    let apis: Vec<Api<K>> = if scope.namespaces.is_empty() {
        vec![Api::all(server.client.clone())]
    } else {
        scope.namespaces.iter().map(|ns| Api::namespaced(server.client.clone(), ns)).collect()
    };
    let what = format!("listing {resource}");
    let params = ListParams::default().limit(PAGE);
    for api in apis {
        for object in list_all(server, &api, &params, &what, group, resource).await? {
            // k8s-openapi writes apiVersion and kind, which list items leave out.
            let yaml = serde_norway::to_string(&object)
                .map_err(|e| MetricsServerError::Config(format!("{what}: cannot re-encode an object: {e}")))?;
            docs.push(yaml);
        }
    }
    Ok(())
}

//! Which flag to look at, for an error the library reports. Library errors describe values
//! (a cluster, a window, a region); only the command line knows the flags that set them, so
//! the hint that names one is added here, on its own line after the error.

use crate::engine::EngineError;
use crate::outputs::kustomize::KustomizeError;
use crate::outputs::notify::NotifyError;
use crate::sources::aws::AwsError;
use crate::sources::cloudwatch::import::CloudwatchError;
use crate::sources::metrics_server::client::MetricsServerError;
use crate::sources::metrics_server::KubeconfigError;
use crate::sources::prometheus::import::ImportError;
use crate::sources::prometheus::{PrometheusError, Setting};
use crate::store::remote::RemoteError;
use crate::store::s3::S3Error;
use crate::store::StoreError;

/// The flag hint for the first cause in `error`'s chain that has one.
pub(crate) fn hint(error: &anyhow::Error) -> Option<&'static str> {
    error.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            engine(e)
        } else if let Some(e) = cause.downcast_ref::<KustomizeError>() {
            kustomize(e)
        } else if let Some(e) = cause.downcast_ref::<StoreError>() {
            matches!(e, StoreError::Missing { .. }).then_some(CREATE_STORE)
        } else if let Some(e) = cause.downcast_ref::<RemoteError>() {
            matches!(e, RemoteError::Missing { .. }).then_some(CREATE_STORE)
        } else if let Some(e) = cause.downcast_ref::<S3Error>() {
            s3(e)
        } else if let Some(e) = cause.downcast_ref::<AwsError>() {
            aws(e)
        } else if let Some(e) = cause.downcast_ref::<MetricsServerError>() {
            metrics_server(e)
        } else if let Some(e) = cause.downcast_ref::<ImportError>() {
            prometheus_import(e)
        } else if let Some(e) = cause.downcast_ref::<PrometheusError>() {
            prometheus(e)
        } else if let Some(e) = cause.downcast_ref::<CloudwatchError>() {
            cloudwatch(e)
        } else if let Some(NotifyError::UnknownFlavor) = cause.downcast_ref::<NotifyError>() {
            Some("pass --notify-format slack or --notify-format teams")
        } else {
            None
        }
    })
}

const CREATE_STORE: &str = "create one with `podsizer import ... --store PATH` (or name another with --input/--store)";

fn engine(e: &EngineError) -> Option<&'static str> {
    Some(match e {
        EngineError::Live(_) => "the cluster is read for --live; --kubeconfig and --context choose which",
        EngineError::EmptyWindow => "--since must be before --until",
        EngineError::UnknownTrafficWorkload { .. } => "--traffic-share names workloads as the samples do",
        EngineError::SeveralClusters { .. } => "choose it with --cluster NAME",
        EngineError::NoGitHub => "set GITHUB_TOKEN and pass --github-repo OWNER/NAME, or use --dry-run",
        EngineError::OverlayPath { .. } => "--overlay is a folder inside the repository, relative to its root",
        EngineError::Kustomize(e) => return kustomize(e),
        _ => return None,
    })
}

fn kustomize(e: &KustomizeError) -> Option<&'static str> {
    Some(match e {
        KustomizeError::Kubectl { .. } => "install kubectl, or give its path with --kubectl (or PODSIZER_KUBECTL)",
        KustomizeError::Timeout { .. } => "--kubectl-timeout (or PODSIZER_KUBECTL_TIMEOUT) allows longer",
        KustomizeError::RolledBack(e) => return kustomize(e),
        _ => return None,
    })
}

fn s3(e: &S3Error) -> Option<&'static str> {
    Some(match e {
        S3Error::NoSuchBucket { .. } => "--s3-endpoint sets the endpoint (an S3-compatible store)",
        S3Error::WrongRegion { .. } => "set AWS_REGION or --s3-region to the bucket's region",
        S3Error::Config(e) => return aws(e),
        _ => return None,
    })
}

fn aws(e: &AwsError) -> Option<&'static str> {
    Some(match e {
        AwsError::NoRegion => "pass --region, or set AWS_REGION",
        AwsError::NoCredentials(_) => "--profile names a profile in ~/.aws",
        AwsError::Unreachable { .. } => "check --region (and --endpoint-url, if one is given)",
        _ => return None,
    })
}

fn metrics_server(e: &MetricsServerError) -> Option<&'static str> {
    Some(match e {
        MetricsServerError::Unauthorized { .. } => "--kubeconfig and --context choose the credentials",
        MetricsServerError::Kubeconfig(KubeconfigError::NoneForContext) => {
            "--context needs a kubeconfig: name one with --kubeconfig, or set KUBECONFIG"
        }
        MetricsServerError::Paging { .. } => "with --page-size that small, raise it",
        _ => return None,
    })
}

fn prometheus_import(e: &ImportError) -> Option<&'static str> {
    Some(match e {
        ImportError::Prometheus(e) => return prometheus(e),
        ImportError::RemoteRead { .. } => "--read-api auto reads with query_range where remote read is refused",
        ImportError::NoSeries { .. } => "check --url, --namespace, --selector and --cluster-label",
        _ => return None,
    })
}

fn prometheus(e: &PrometheusError) -> Option<&'static str> {
    Some(match e {
        PrometheusError::Connect { .. } => {
            "--url (or --prometheus) names the server, with the API prefix of Thanos or Mimir"
        }
        PrometheusError::Timeout { .. } => "raise --timeout, or lower --max-points / --concurrency",
        PrometheusError::Config { setting, .. } => match setting {
            Setting::Url => "--url (or --prometheus) gives the URL",
            Setting::Header => "--header gives a header, as `Name: value`",
            Setting::Selector => "--selector gives the matchers",
            Setting::ClusterLabel => {
                "--cluster-label gives the label, as NAME=VALUE (one cluster) or NAME (every cluster)"
            }
        },
        _ => return None,
    })
}

fn cloudwatch(e: &CloudwatchError) -> Option<&'static str> {
    Some(match e {
        CloudwatchError::NoLogGroup { .. } => {
            "check --cluster and --region; with enhanced observability try --from metrics"
        }
        CloudwatchError::NoData(_) => "check --cluster and --region",
        CloudwatchError::Aws(e) => return aws(e),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wrapped_cause_gets_its_hint_and_others_none() {
        let wrapped = anyhow::Error::new(EngineError::EmptyWindow).context("sizing");
        assert_eq!(hint(&wrapped), Some("--since must be before --until"));
        let s3 = anyhow::Error::new(S3Error::Config(AwsError::NoRegion));
        assert_eq!(hint(&s3), Some("pass --region, or set AWS_REGION"));
        assert_eq!(hint(&anyhow::anyhow!("something else")), None);
        let slow =
            KustomizeError::Timeout { kubectl: "kubectl".into(), dir: "o".into(), after: Duration::from_secs(1) };
        let wrapped = anyhow::Error::new(EngineError::Kustomize(KustomizeError::RolledBack(Box::new(slow))));
        assert_eq!(hint(&wrapped), Some("--kubectl-timeout (or PODSIZER_KUBECTL_TIMEOUT) allows longer"));
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let direct = anyhow::Error::new(KustomizeError::Kubectl { kubectl: "kubectl".into(), source: missing });
        assert_eq!(hint(&direct), Some("install kubectl, or give its path with --kubectl (or PODSIZER_KUBECTL)"));
    }

    /// The library says what the value is; the flag that set it comes only from here.
    #[test]
    fn library_errors_name_no_flag_and_the_hint_names_it() {
        let url = || "http://prom:9090".to_string();
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let header = PrometheusError::Config {
            setting: Setting::Header,
            given: "X".into(),
            why: "expected `Name: value`".into(),
        };
        let range = crate::sources::prometheus::Window { start_ms: 0, end_ms: 3_600_000 };
        let cases: Vec<(anyhow::Error, &str, &str)> = vec![
            (
                KustomizeError::Kubectl { kubectl: "/opt/kubectl".into(), source: missing }.into(),
                "cannot run `/opt/kubectl kustomize`",
                "--kubectl",
            ),
            (
                KustomizeError::Timeout { kubectl: "kubectl".into(), dir: "o".into(), after: Duration::from_secs(3) }
                    .into(),
                "`kubectl kustomize o` did not finish within 3s",
                "--kubectl-timeout",
            ),
            (
                PrometheusError::Timeout { url: url(), secs: 120 }.into(),
                "http://prom:9090: no complete answer within 120s",
                "--timeout",
            ),
            (
                PrometheusError::Connect { url: url(), message: "refused".into() }.into(),
                "cannot connect: refused",
                "--url",
            ),
            (header.into(), "header \"X\": expected `Name: value`", "--header"),
            (
                ImportError::Prometheus(PrometheusError::Timeout { url: url(), secs: 5 }).into(),
                "within 5s",
                "--timeout",
            ),
            (
                ImportError::NoSeries { url: url(), range, matchers: "job=\"kubelet\"".into() }.into(),
                "(matchers: job=\"kubelet\")",
                "--selector",
            ),
            (
                CloudwatchError::NoLogGroup { cluster: "prod".into(), region: "eu-west-1".into(), group: "g".into() }
                    .into(),
                "log group g does not exist",
                "--region",
            ),
        ];
        let flavor = (NotifyError::UnknownFlavor.into(), "Slack or Microsoft Teams from its host", "--notify-format");
        for (error, says, flag) in cases.into_iter().chain([flavor]) {
            let text = format!("{error:#}");
            assert!(text.contains(says) && !text.contains("--") && !text.contains("PODSIZER_"), "{text}");
            assert!(hint(&error).is_some_and(|h| h.contains(flag)), "{text}: {:?}", hint(&error));
        }
    }
}

//! Which flag to look at, for an error the library reports. Library errors describe values
//! (a cluster, a window, a region); only the command line knows the flags that set them, so
//! the hint that names one is added here, on its own line after the error.

use crate::engine::EngineError;
use crate::sources::aws::AwsError;
use crate::sources::metrics_server::client::MetricsServerError;
use crate::sources::metrics_server::KubeconfigError;
use crate::store::remote::RemoteError;
use crate::store::s3::S3Error;
use crate::store::StoreError;

/// The flag hint for the first cause in `error`'s chain that has one.
pub(crate) fn hint(error: &anyhow::Error) -> Option<&'static str> {
    error.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            engine(e)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_cause_gets_its_hint_and_others_none() {
        let wrapped = anyhow::Error::new(EngineError::EmptyWindow).context("sizing");
        assert_eq!(hint(&wrapped), Some("--since must be before --until"));
        let s3 = anyhow::Error::new(S3Error::Config(AwsError::NoRegion));
        assert_eq!(hint(&s3), Some("pass --region, or set AWS_REGION"));
        assert_eq!(hint(&anyhow::anyhow!("something else")), None);
    }
}

//! Shared AWS SDK configuration: the standard credential chain (environment, shared config and
//! credentials files with `--profile`, web identity / IRSA, EKS Pod Identity and ECS container
//! credentials, EC2 instance metadata) and region chain, an optional endpoint override for
//! S3-compatible or local stand-in services, and an HTTPS client on rustls with the `ring`
//! provider already in the tree (no aws-lc, no hyper 0.14).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The region used when neither a flag, the environment nor the profile names one: S3's
/// historical default, and any region does for an S3-compatible endpoint.
pub const FALLBACK_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("endpoint URL `{0}` must start with http:// or https://")]
    Endpoint(String),
}

/// AWS configuration for every SDK client podsizer builds. `region` and `profile` override the
/// standard chains; `endpoint_url` points every service at another host (moto, MinIO, Ceph...).
pub async fn sdk_config(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<SdkConfig, AwsError> {
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = endpoint_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(AwsError::Endpoint(url.to_string()));
        }
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Ok(config.to_builder().region(Region::new(FALLBACK_REGION)).build());
    }
    Ok(config)
}

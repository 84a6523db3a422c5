//! Reaching AWS: one `SdkConfig` for every AWS source (CloudWatch, CloudWatch Logs, S3), and
//! SDK errors turned into what a user can act on.
//!
//! Credentials come from the standard chain (environment, shared config/credentials profiles,
//! `credential_process`, SSO, web identity, ECS and EC2 instance metadata). The HTTP client is
//! hyper 1 on rustls with the ring provider the rest of the tree already uses, instead of the
//! SDK's default client, which would compile aws-lc-rs.

use crate::domain::server_text::{sanitize, server_message, Redactor, SERVER_TEXT_MAX_CHARS};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatch::config::ProvideCredentials;
use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use std::time::Duration;

/// Attempts per request (the first and up to four retries) on throttling, 5xx and timeouts,
/// with the SDK's jittered exponential backoff starting at one second.
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// The region used for S3 when neither a flag, the environment nor the profile names one: S3's
/// historical default, and any region does for an S3-compatible endpoint.
pub(crate) const FALLBACK_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("endpoint URL `{0}` must start with http:// or https://")]
    Endpoint(String),
    #[error("no AWS region: none was named, and neither AWS_REGION nor the profile (~/.aws/config) has one")]
    NoRegion,
    #[error(
        "no AWS credentials: {0}; set AWS_PROFILE for a profile in ~/.aws, run `aws sso login` \
         for an SSO profile, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )]
    NoCredentials(String),
    #[error("access denied to {action} (region {region}): {message}; the caller needs IAM permission `{action}` (see the README's IAM policy)")]
    AccessDenied { action: String, region: String, message: String },
    #[error("AWS rejected the credentials for {operation} ({code}): {message}; refresh them (e.g. `aws sso login`) and re-run to resume")]
    BadCredentials { operation: String, code: String, message: String },
    #[error("{operation}: still throttled after {MAX_ATTEMPTS} attempts with backoff ({message}); re-run later to resume, or raise the account's API quota")]
    Throttled { operation: String, message: String },
    #[error("cannot reach {service} in region {region}: {message} (is the region right{endpoint_hint}?)")]
    Unreachable { service: String, region: String, message: String, endpoint_hint: String },
    #[error("{operation} failed ({code}): {message}")]
    Api { operation: String, code: String, message: String },
}

/// Loads the shared AWS configuration; a region is required. `endpoint_url` points every
/// service at one endpoint (a VPC endpoint, an S3-compatible store, or the tests' stand-in).
pub async fn sdk_config(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<SdkConfig, AwsError> {
    let config = load(region, profile, endpoint_url).await?;
    if config.region().is_none() {
        return Err(AwsError::NoRegion);
    }
    Ok(config)
}

/// Like `sdk_config`, with `FALLBACK_REGION` when no region is configured (S3 works from any).
pub(crate) async fn sdk_config_any_region(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<SdkConfig, AwsError> {
    let config = load(region, profile, endpoint_url).await?;
    if config.region().is_none() {
        return Ok(config.to_builder().region(Region::new(FALLBACK_REGION)).build());
    }
    Ok(config)
}

async fn load(region: Option<&str>, profile: Option<&str>, endpoint_url: Option<&str>) -> Result<SdkConfig, AwsError> {
    let http_client =
        aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client).retry_config(
        RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS).with_initial_backoff(Duration::from_secs(1)),
    );
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = endpoint_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(AwsError::Endpoint(u.to_string()));
        }
        loader = loader.endpoint_url(u);
    }
    Ok(loader.load().await)
}

/// Resolves credentials once, so a missing or broken chain is reported before any request.
pub(crate) async fn check_credentials(config: &SdkConfig) -> Result<(), AwsError> {
    let provider = config.credentials_provider().ok_or_else(|| AwsError::NoCredentials("no provider".into()))?;
    provider.provide_credentials().await.map(|_| ()).map_err(|e| AwsError::NoCredentials(error_chain(&e)))
}

pub(crate) fn region_of(config: &SdkConfig) -> String {
    config.region().map_or_else(|| "?".to_string(), std::string::ToString::to_string)
}

/// The IAM action name of an operation of a service (`logs`, `cloudwatch`).
pub(crate) fn iam_action(service_prefix: &str, operation: &str) -> String {
    format!("{service_prefix}:{operation}")
}

/// What went wrong with one call, by kind.
pub(crate) fn classify<E, R>(
    e: &SdkError<E, R>,
    service: &str,
    iam_prefix: &str,
    operation: &str,
    region: &str,
    endpoint_url: Option<&str>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let api = |code: &str, message: String| AwsError::Api {
        operation: operation.to_string(),
        code: code.to_string(),
        message,
    };
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = server_message(err.message().unwrap_or(""), &Redactor::new(), SERVER_TEXT_MAX_CHARS);
            match code.as_str() {
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "UnauthorizedException" => {
                    AwsError::AccessDenied {
                        action: iam_action(iam_prefix, operation),
                        region: region.to_string(),
                        message,
                    }
                }
                "ExpiredToken"
                | "ExpiredTokenException"
                | "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "SignatureDoesNotMatch"
                | "InvalidSignatureException" => {
                    AwsError::BadCredentials { operation: operation.to_string(), code, message }
                }
                "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "LimitExceededException" => AwsError::Throttled { operation: operation.to_string(), message },
                _ => api(&code, message),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => AwsError::Unreachable {
            service: service.to_string(),
            region: region.to_string(),
            message: sanitize(&error_chain(e)),
            endpoint_hint: endpoint_url.map_or_else(String::new, |u| format!(", and the endpoint {u}")),
        },
        _ => api("Unknown", sanitize(&error_chain(e))),
    }
}

/// The error code of a service error, if it is one.
pub(crate) fn service_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// An error and its sources on one line (SDK errors put the useful part in a source).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

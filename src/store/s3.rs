//! A small blocking S3 client for the store: list, download to a file, conditional put.
//!
//! The rest of podsizer is synchronous, so each call runs on a private current-thread tokio
//! runtime owned by the client (on a helper thread when the caller is itself inside a runtime,
//! as the metrics-server collector is). Errors are sorted into the cases a person can act on:
//! no such bucket, access denied, wrong region, endpoint unreachable.

use super::atomic::{AtomicFile, AtomicWriteError};
use crate::sources::aws::{sdk_config_any_region, AwsError};
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use std::path::{Path, PathBuf};

/// Downloads in flight at once.
const CONCURRENCY: usize = 8;

/// `s3://bucket/prefix`: where a store lives. `prefix` has no leading or trailing slash and
/// may be empty (the store is the bucket's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    /// `Some` when `path` is an `s3://` URL (then `Err` when it is a malformed one).
    pub fn from_path(path: &Path) -> Option<Result<Self, S3Error>> {
        let text = path.to_str()?;
        text.starts_with("s3://").then(|| Self::parse(text))
    }

    pub fn parse(url: &str) -> Result<Self, S3Error> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| S3Error::Url(url.to_string()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = bucket.len() >= 3
            && bucket.len() <= 63
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            return Err(S3Error::Url(url.to_string()));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(S3Error::Url(url.to_string()));
        }
        Ok(Self { bucket: bucket.to_string(), prefix: prefix.to_string() })
    }

    /// The object key of `rel` (a path relative to the store root, `/`-separated).
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url())
    }
}

/// How to reach S3 and where to keep the local mirror.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Any S3-compatible endpoint (path-style addressing); `None` is AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Root of the local mirrors [default: `$XDG_CACHE_HOME/podsizer/s3` or `~/.cache/podsizer/s3`].
    pub cache_dir: Option<PathBuf>,
}

impl S3Options {
    /// The mirror directory of one store: `CACHE/ENDPOINT/BUCKET/PREFIX`.
    pub fn mirror_dir(&self, location: &S3Location) -> PathBuf {
        let root = self.cache_dir.clone().unwrap_or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(std::env::temp_dir);
            base.join("podsizer").join("s3")
        });
        let endpoint = match &self.endpoint {
            None => "aws".to_string(),
            Some(url) => {
                let host = url.split("://").nth(1).unwrap_or(url).trim_end_matches('/');
                host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
            }
        };
        let mut dir = root.join(endpoint).join(&location.bucket);
        for part in location.prefix.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
        }
        dir
    }
}

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("`{0}` is not a valid S3 store URL; expected s3://BUCKET or s3://BUCKET/PREFIX")]
    Url(String),
    #[error(transparent)]
    Config(#[from] AwsError),
    #[error(
        "s3://{bucket}: no such bucket at {endpoint} (create it first, or check the name, the endpoint and the region)"
    )]
    NoSuchBucket { bucket: String, endpoint: String },
    #[error("{url}: access denied for {action} ({detail}); the credentials need s3:ListBucket on the bucket and s3:GetObject, s3:PutObject on the prefix")]
    AccessDenied { url: String, action: &'static str, detail: String },
    #[error("{url}: the bucket is in another region ({detail}); its region must be the bucket's")]
    WrongRegion { url: String, detail: String },
    #[error("cannot reach S3 at {endpoint} for {action}: {detail}")]
    Unreachable { endpoint: String, action: &'static str, detail: String },
    #[error("{url}: {action} failed: {detail}")]
    Request { url: String, action: &'static str, detail: String },
    #[error("{path}: {action}")]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
}

/// One listed object, its key relative to the store root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub rel: String,
    pub size: u64,
    pub etag: String,
}

/// What a conditional put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    Created {
        etag: String,
    },
    /// An object of that name was already there; nothing was written.
    AlreadyExists,
}

/// A blocking client bound to one store location.
pub struct S3 {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    location: S3Location,
    endpoint: String,
}

impl S3 {
    pub fn connect(location: &S3Location, options: &S3Options) -> Result<Self, S3Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| S3Error::Io { path: PathBuf::from("."), action: "start the S3 runtime", source })?;
        let endpoint = options.endpoint.clone();
        let (region, profile) = (options.region.clone(), options.profile.clone());
        let config = run_on(&runtime, async move {
            sdk_config_any_region(region.as_deref(), profile.as_deref(), endpoint.as_deref()).await
        })?;
        let mut builder = aws_sdk_s3::config::Builder::from(&config);
        if options.endpoint.is_some() {
            // S3-compatible servers (moto, MinIO, Ceph, ...) want path-style addressing, and not
            // all of them understand the trailing checksums AWS's SDK now sends by default.
            builder = builder
                .force_path_style(true)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        let endpoint = options
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("AWS S3 ({})", config.region().map_or("no region", |r| r.as_ref())));
        Ok(Self {
            runtime,
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            location: location.clone(),
            endpoint,
        })
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    fn block_on<T: Send>(&self, fut: impl std::future::Future<Output = T> + Send) -> T {
        run_on(&self.runtime, fut)
    }

    fn error<E>(
        &self,
        err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        action: &'static str,
        rel: &str,
    ) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(err, action, &self.location.bucket, &self.location.key(rel), &self.endpoint)
    }

    /// Every object under `rel_prefix` (relative to the store root), or, with `dirs`, the
    /// "directories" directly under it (common prefixes, relative, without the trailing `/`).
    fn list_raw(&self, rel_prefix: &str, dirs: bool) -> Result<(Vec<Object>, Vec<String>), S3Error> {
        let key_prefix = self.location.key(rel_prefix);
        let strip = self.location.key("");
        let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let mut req = self.client.list_objects_v2().bucket(&self.location.bucket).prefix(&key_prefix);
            if dirs {
                req = req.delimiter("/");
            }
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            let out = self.block_on(req.send()).map_err(|e| self.error(e, "s3:ListBucket", rel_prefix))?;
            for o in out.contents() {
                let Some(rel) = o.key().and_then(|k| k.strip_prefix(strip.as_str())) else { continue };
                objects.push(Object {
                    rel: rel.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().unwrap_or("").to_string(),
                });
            }
            for p in out.common_prefixes() {
                if let Some(rel) = p.prefix().and_then(|k| k.strip_prefix(strip.as_str())) {
                    prefixes.push(rel.trim_end_matches('/').to_string());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok((objects, prefixes))
    }

    /// Every object whose key starts with the store prefix plus `rel_prefix`.
    pub fn list(&self, rel_prefix: &str) -> Result<Vec<Object>, S3Error> {
        Ok(self.list_raw(rel_prefix, false)?.0)
    }

    /// Sub-"directories" whose relative path starts with `rel_prefix` (e.g. `day=`).
    pub fn list_dirs(&self, rel_prefix: &str) -> Result<Vec<String>, S3Error> {
        Ok(self.list_raw(rel_prefix, true)?.1)
    }

    /// The whole object, or `None` when there is no such key.
    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let req = self.client.get_object().bucket(&self.location.bucket).key(self.location.key(rel));
        let result = self.block_on(async move {
            let out = req.send().await?;
            Ok::<_, SdkError<_, _>>(out.body.collect().await.map(|b| b.into_bytes().to_vec()))
        });
        match result {
            Ok(Ok(bytes)) => Ok(Some(bytes)),
            Ok(Err(e)) => Err(S3Error::Request {
                url: self.url_of(rel),
                action: "s3:GetObject",
                detail: DisplayErrorContext(e).to_string(),
            }),
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(self.error(e, "s3:GetObject", rel)),
        }
    }

    /// Downloads objects to local files, several at a time; each file appears atomically
    /// (hidden temp file, then rename). Returns the bytes transferred.
    pub fn download(&self, items: Vec<(Object, PathBuf)>) -> Result<u64, S3Error> {
        let jobs: Vec<_> = items
            .into_iter()
            .map(|(object, dest)| {
                let req = self.client.get_object().bucket(&self.location.bucket).key(self.location.key(&object.rel));
                (object, dest, req)
            })
            .collect();
        let endpoint = self.endpoint.clone();
        let location = self.location.clone();
        self.block_on(async move {
            let mut set = tokio::task::JoinSet::new();
            let mut total = 0;
            let mut jobs = jobs.into_iter();
            loop {
                while set.len() < CONCURRENCY {
                    let Some((object, dest, req)) = jobs.next() else { break };
                    let (endpoint, location) = (endpoint.clone(), location.clone());
                    set.spawn(async move { fetch_to(req, &object, &dest, &location, &endpoint).await });
                }
                let Some(done) = set.join_next().await else { break };
                total += done.expect("download task does not panic")?;
            }
            Ok(total)
        })
    }

    /// Creates `rel` only if no object of that name exists (`If-None-Match: *`): a part, once
    /// written, is never overwritten, whoever else writes into the same prefix.
    pub fn put_new(&self, rel: &str, bytes: Vec<u8>) -> Result<Put, S3Error> {
        let req = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(rel))
            .if_none_match("*")
            .body(ByteStream::from(bytes));
        match self.block_on(req.send()) {
            Ok(out) => Ok(Put::Created { etag: out.e_tag().unwrap_or("").to_string() }),
            // 412: the object exists. 409: another conditional write of the same key is in flight.
            Err(e) if matches!(e.code(), Some("PreconditionFailed" | "ConditionalRequestConflict")) => {
                Ok(Put::AlreadyExists)
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(Put::AlreadyExists),
            Err(e) => Err(self.error(e, "s3:PutObject", rel)),
        }
    }

    /// Writes `rel`, replacing any object of that name (for files that are rebuilt, never for parts).
    pub fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<String, S3Error> {
        let req = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.location.key(rel))
            .body(ByteStream::from(bytes));
        let out = self.block_on(req.send()).map_err(|e| self.error(e, "s3:PutObject", rel))?;
        Ok(out.e_tag().unwrap_or("").to_string())
    }

    fn url_of(&self, rel: &str) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.key(rel))
    }
}

async fn fetch_to(
    req: aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
    object: &Object,
    dest: &Path,
    location: &S3Location,
    endpoint: &str,
) -> Result<u64, S3Error> {
    let url = format!("s3://{}/{}", location.bucket, location.key(&object.rel));
    let out = req
        .send()
        .await
        .map_err(|e| classify(e, "s3:GetObject", &location.bucket, &location.key(&object.rel), endpoint))?;
    let mut body = out.body;
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| S3Error::Io {
        path: dir.to_path_buf(),
        action: "create directory",
        source,
    })?;
    let io = |e: AtomicWriteError| S3Error::Io { path: e.path, action: e.action, source: e.source };
    // Dropped unfinished on any error: the temp file goes with it.
    let mut file = AtomicFile::create_tagged(dest, "download.tmp").map_err(io)?;
    let mut written = 0u64;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                file.write_all(&chunk).map_err(io)?;
                written += chunk.len() as u64;
            }
            Ok(None) => break,
            Err(e) => {
                return Err(S3Error::Request {
                    url: url.clone(),
                    action: "s3:GetObject",
                    detail: DisplayErrorContext(e).to_string(),
                })
            }
        }
    }
    file.commit().map_err(io)?;
    Ok(written)
}

fn classify<E>(
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    action: &'static str,
    bucket: &str,
    key: &str,
    endpoint: &str,
) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let url = format!("s3://{bucket}/{key}");
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().unwrap_or("").to_string();
    let detail = match (err.code(), err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => match status {
            Some(s) => format!("HTTP {s}"),
            None => DisplayErrorContext(&err).to_string(),
        },
    };
    if matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        return S3Error::Unreachable {
            endpoint: endpoint.to_string(),
            action,
            detail: DisplayErrorContext(&err).to_string(),
        };
    }
    match code.as_str() {
        "NoSuchBucket" => return S3Error::NoSuchBucket { bucket: bucket.to_string(), endpoint: endpoint.to_string() },
        "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" => {
            return S3Error::WrongRegion { url, detail }
        }
        "AccessDenied"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "InvalidToken"
        | "AllAccessDisabled" => return S3Error::AccessDenied { url, action, detail },
        _ => {}
    }
    match status {
        Some(301) => S3Error::WrongRegion { url, detail },
        Some(403) => S3Error::AccessDenied { url, action, detail },
        _ if matches!(err, SdkError::ConstructionFailure(_)) => {
            // Usually no credentials anywhere in the chain.
            S3Error::Request { url, action, detail: DisplayErrorContext(&err).to_string() }
        }
        _ => S3Error::Request { url, action, detail },
    }
}

/// Runs a future to completion on `runtime`, from a helper thread when the caller is already
/// inside a runtime (tokio refuses to block a runtime thread on another runtime).
fn run_on<T: Send>(runtime: &tokio::runtime::Runtime, fut: impl std::future::Future<Output = T> + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(|| runtime.block_on(fut)).join().expect("S3 call does not panic"))
    } else {
        runtime.block_on(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_urls() {
        let l = S3Location::parse("s3://my-bucket/fleet/prod/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("my-bucket", "fleet/prod"));
        assert_eq!(l.key("day=2026-11-20/part-1.parquet"), "fleet/prod/day=2026-11-20/part-1.parquet");
        assert_eq!(l.url(), "s3://my-bucket/fleet/prod");
        let root = S3Location::parse("s3://my-bucket").unwrap();
        assert_eq!((root.prefix.as_str(), root.key("x").as_str()), ("", "x"));
        for bad in ["s3://", "s3://B", "s3://a/../b", "http://x/y", "s3://ab"] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
        assert!(S3Location::from_path(Path::new("./store")).is_none());
    }

    #[test]
    fn mirror_dirs_keep_endpoints_and_prefixes_apart() {
        let l = S3Location::parse("s3://b-1/a/b").unwrap();
        let o = S3Options {
            endpoint: Some("http://127.0.0.1:5000/".into()),
            cache_dir: Some("/c".into()),
            ..S3Options::default()
        };
        assert_eq!(o.mirror_dir(&l), PathBuf::from("/c/127.0.0.1_5000/b-1/a/b"));
        let aws = S3Options { cache_dir: Some("/c".into()), ..S3Options::default() };
        assert_eq!(aws.mirror_dir(&l), PathBuf::from("/c/aws/b-1/a/b"));
    }
}

//! The HTTP client: form and remote-read requests with retries, counters, and decoding of
//! the API's answers.

use super::payload::{envelope, parse_matrix, parse_series, parse_vector, PayloadError, Series};
use super::windows::Window;
use super::{Labels, PrometheusError, Setting};
use crate::sources::retry::{retry, Backoff, Failure};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Request counters, safe to read while workers run.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub range_queries: AtomicU64,
    /// `POST /api/v1/read` requests (remote read).
    pub remote_reads: AtomicU64,
    /// Bytes of response bodies received.
    pub bytes: AtomicU64,
    /// Series and samples received in usage answers (range-query points or raw samples).
    pub series: AtomicU64,
    pub samples: AtomicU64,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL; the API lives at `{url}/api/v1/...` (Thanos, Mimir: include their prefix,
    /// e.g. `https://mimir.example/prometheus`).
    pub url: String,
    /// Extra headers on every request (Authorization, X-Scope-OrgID, ...).
    pub headers: Vec<(String, String)>,
    /// Per request, from connect to the last byte of the body.
    pub timeout: Duration,
    /// Retries of a request that failed to connect, timed out, or got HTTP 429/502/503/504.
    pub retries: u32,
    /// Pause before the first retry, doubled for each next one.
    pub backoff: Duration,
}

/// A blocking Prometheus HTTP API client (one connection pool shared by worker threads).
pub struct Client {
    agent: ureq::Agent,
    config: ClientConfig,
    pub stats: RequestStats,
}

/// Parses `Name: value` (as curl's `-H`).
pub(crate) fn parse_header(text: &str) -> Result<(String, String), PrometheusError> {
    let bad = || PrometheusError::config(Setting::Header, text, "expected `Name: value`");
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
        return Err(bad());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

pub(super) enum Payload<'a> {
    Form(&'a [(&'a str, String)]),
    /// A snappy-compressed protobuf message (remote read).
    Snappy(&'a [u8]),
}

type Attempt = Failure<PrometheusError>;

impl Client {
    pub fn new(mut config: ClientConfig) -> Result<Self, PrometheusError> {
        let url = config.url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PrometheusError::config(
                Setting::Url,
                &url,
                "expected http:// or https://, e.g. http://prometheus.monitoring:9090",
            ));
        }
        config.url = url;
        // No redirect is followed: ureq keeps custom headers (`--header`, a tenant or a token) on
        // a redirect to another host. A 3xx is an answer that names where to go instead.
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("podsizer/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { agent, config, stats: RequestStats::default() })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// POSTs a form to `/api/v1/{endpoint}` and returns the body of a 2xx answer.
    fn post(&self, endpoint: &str, form: &[(&str, String)]) -> Result<Vec<u8>, PrometheusError> {
        self.send(endpoint, &Payload::Form(form)).map(|(_, body)| body)
    }

    /// Sends a payload to `/api/v1/{endpoint}` and returns the content type and body of a 2xx
    /// answer, retrying transient failures. API errors in non-2xx bodies become `Api` errors.
    pub(super) fn send(&self, endpoint: &str, payload: &Payload) -> Result<(String, Vec<u8>), PrometheusError> {
        let url = format!("{}/api/v1/{endpoint}", self.config.url);
        let backoff = Backoff::doubling(self.config.retries, self.config.backoff);
        retry(
            backoff,
            || self.attempt(&url, payload),
            |_, _| {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
            },
        )
    }

    fn attempt(&self, url: &str, payload: &Payload) -> Result<(String, Vec<u8>), Attempt> {
        use std::io::Read;
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        struct Done<'a>(&'a AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _done = Done(&self.stats.in_flight);
        let mut request = self.agent.post(url).header("Accept-Encoding", "gzip");
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let transport = |e: ureq::Error| self.transport_error(url, e);
        let mut response = match payload {
            Payload::Form(form) => {
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                request.send_form(pairs)
            }
            Payload::Snappy(body) => request
                .header("Content-Type", "application/x-protobuf")
                .header("Content-Encoding", "snappy")
                .header("X-Prometheus-Remote-Read-Version", "0.1.0")
                .send(*body),
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let to = crate::domain::server_text::location_host(location).unwrap_or("the same host").to_string();
            return Err(Failure::Permanent(PrometheusError::Redirected { url: url.to_string(), status, to }));
        }
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut body = Vec::new();
        response.body_mut().as_reader().read_to_end(&mut body).map_err(|e| transport(ureq::Error::Io(e)))?;
        self.stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        if (200..300).contains(&status) {
            return Ok((content_type, body));
        }
        let api = |kind: String, message: String| {
            let e = PrometheusError::Api { url: url.to_string(), kind, message };
            if matches!(status, 429 | 502..=504) {
                Failure::Transient(e)
            } else {
                Failure::Permanent(e)
            }
        };
        let message = match envelope::<serde_json::Value>(&body) {
            Err(PayloadError::Api { kind, message }) => return Err(api(kind, message)),
            Err(PayloadError::Malformed(message)) => return Err(api("malformed".into(), message)),
            Err(PayloadError::BadJson(_)) | Ok(_) => {
                String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string()
            }
        };
        let e = PrometheusError::Status { url: url.to_string(), status, message };
        Err(if matches!(status, 429 | 502..=504) { Failure::Transient(e) } else { Failure::Permanent(e) })
    }

    fn transport_error(&self, url: &str, e: ureq::Error) -> Attempt {
        let timed_out = match &e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock),
            _ => false,
        };
        if timed_out {
            return Failure::Transient(PrometheusError::Timeout {
                url: url.to_string(),
                secs: self.config.timeout.as_secs(),
            });
        }
        match e {
            ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_) => {
                Failure::Transient(PrometheusError::Connect { url: url.to_string(), message: e.to_string() })
            }
            other => Failure::Permanent(PrometheusError::Connect { url: url.to_string(), message: other.to_string() }),
        }
    }

    fn decode<T>(&self, endpoint: &str, parsed: Result<T, PayloadError>) -> Result<T, PrometheusError> {
        let url = format!("{}/api/v1/{endpoint}", self.config.url);
        parsed.map_err(|e| match e {
            PayloadError::BadJson(message) | PayloadError::Malformed(message) => {
                PrometheusError::BadResponse { url, message }
            }
            PayloadError::Api { kind, message } => PrometheusError::Api { url, kind, message },
        })
    }

    /// `query_range` over a window.
    pub fn query_range(&self, query: &str, window: Window, step_ms: i64) -> Result<Vec<Series>, PrometheusError> {
        self.stats.range_queries.fetch_add(1, Ordering::Relaxed);
        let form = [
            ("query", query.to_string()),
            ("start", seconds(window.start_ms)),
            ("end", seconds(window.end_ms)),
            ("step", seconds(step_ms)),
        ];
        let body = self.post("query_range", &form)?;
        let series = self.decode("query_range", parse_matrix(&body))?;
        self.stats.series.fetch_add(series.len() as u64, Ordering::Relaxed);
        self.stats.samples.fetch_add(series.iter().map(|s| s.points.len() as u64).sum(), Ordering::Relaxed);
        Ok(series)
    }

    /// Instant `query` at `time_ms`.
    pub fn query(&self, query: &str, time_ms: i64) -> Result<Vec<(Labels, f64)>, PrometheusError> {
        let body = self.post("query", &[("query", query.to_string()), ("time", seconds(time_ms))])?;
        self.decode("query", parse_vector(&body))
    }

    /// Instant `query` at `time_ms` whose answer is a matrix (a subquery): its series' points.
    pub fn query_matrix(&self, query: &str, time_ms: i64) -> Result<Vec<Series>, PrometheusError> {
        let body = self.post("query", &[("query", query.to_string()), ("time", seconds(time_ms))])?;
        self.decode("query", parse_matrix(&body))
    }

    /// Label sets of the series matching `selector` with samples in `[start, end]` (index only).
    pub fn series(&self, selector: &str, start_ms: i64, end_ms: i64) -> Result<Vec<Labels>, PrometheusError> {
        let form = [("match[]", selector.to_string()), ("start", seconds(start_ms)), ("end", seconds(end_ms))];
        let body = self.post("series", &form)?;
        self.decode("series", parse_series(&body))
    }
}

fn seconds(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_like_curl() {
        assert_eq!(parse_header("Authorization: Bearer abc").unwrap(), ("Authorization".into(), "Bearer abc".into()));
        assert_eq!(parse_header("X-Scope-OrgID:tenant-1").unwrap().1, "tenant-1");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }
}

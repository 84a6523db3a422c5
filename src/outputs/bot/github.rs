//! The GitHub REST calls the bot makes: find its open pull request by head branch, open
//! one, or update one. The token is sent as a bearer header and removed from every error.

use serde_json::{json, Value};

pub(crate) const API_VERSION: &str = "2022-11-28";

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub rejected the token (401): check GITHUB_TOKEN ({message})")]
    Unauthorized { message: String },
    #[error("GitHub rate limit reached (403); it resets at {reset}; run again after that")]
    RateLimited { reset: String },
    #[error("GitHub refused the request (403): the token lacks permission (needs `contents: write` and `pull-requests: write`): {message}")]
    Forbidden { message: String },
    #[error("GitHub could not process the request (422): {message}")]
    Invalid { message: String },
    #[error("GitHub answered {status} for {method} {path}: {message}")]
    Status { status: u16, method: String, path: String, message: String },
    #[error("cannot reach GitHub at {url}: {message}")]
    Transport { url: String, message: String },
}

/// An open pull request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PullRequest {
    pub number: u64,
    pub url: String,
    /// The names of its labels.
    pub labels: Vec<String>,
}

pub(crate) struct GitHub {
    api: String,
    repo: String,
    token: String,
    agent: ureq::Agent,
    /// Write calls made (POST, PATCH), for "no write without changes" checks and the summary.
    pub writes: u32,
}

impl GitHub {
    pub(crate) fn new(api: &str, repo: &str, token: String) -> Self {
        let agent = crate::outputs::http_agent();
        Self { api: api.trim_end_matches('/').to_string(), repo: repo.to_string(), token, agent, writes: 0 }
    }

    /// Server text made safe to print, the token replaced in every encoding it may be echoed
    /// in (error bodies can echo request headers).
    fn redact(&self, text: &str) -> String {
        use crate::domain::server_text::{server_message, Redactor, SERVER_TEXT_MAX_CHARS};
        server_message(text, &Redactor::new().secret(&self.token, "***"), SERVER_TEXT_MAX_CHARS)
    }

    fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> Result<Value, GitHubError> {
        use std::io::Read;
        let url = format!("{}{path}", self.api);
        let auth = format!("Bearer {}", self.token);
        if method != "GET" {
            self.writes += 1;
        }
        let transport = |e: &dyn std::fmt::Display| GitHubError::Transport {
            url: url.clone(),
            message: self.redact(&e.to_string()),
        };
        let mut response = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", API_VERSION)
                .call(),
            (m, body) => {
                let builder = match m {
                    "POST" => self.agent.post(&url),
                    _ => self.agent.patch(&url),
                };
                builder
                    .header("Authorization", &auth)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", API_VERSION)
                    .header("Content-Type", "application/json")
                    .send(serde_json::to_vec(&body.unwrap_or(Value::Null)).unwrap_or_default().as_slice())
            }
        }
        .map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let reset = response.headers().get("x-ratelimit-reset").and_then(|v| v.to_str().ok()).map(String::from);
        let remaining = response.headers().get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).map(String::from);
        let mut text = String::new();
        response.body_mut().as_reader().read_to_string(&mut text).map_err(|e| transport(&e))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = self.redact(&error_message(&value, &text));
        Err(match status {
            401 => GitHubError::Unauthorized { message },
            403 | 429 if remaining.as_deref() == Some("0") => {
                GitHubError::RateLimited { reset: reset_time(reset.as_deref()) }
            }
            403 => GitHubError::Forbidden { message },
            422 => GitHubError::Invalid { message },
            _ => GitHubError::Status { status, method: method.to_string(), path: path.to_string(), message },
        })
    }

    /// The open pull request from `branch` (in this repository), if any.
    pub(crate) fn find_open(&mut self, branch: &str) -> Result<Option<PullRequest>, GitHubError> {
        let owner = self.repo.split('/').next().unwrap_or_default().to_string();
        let path = format!("/repos/{}/pulls?state=open&head={owner}:{branch}", self.repo);
        let list = self.call("GET", &path, None)?;
        Ok(list.as_array().and_then(|a| a.first()).and_then(pull_request))
    }

    pub(crate) fn open(
        &mut self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let path = format!("/repos/{}/pulls", self.repo);
        let value =
            self.call("POST", &path, Some(json!({ "title": title, "head": branch, "base": base, "body": body })))?;
        pull_request(&value)
            .ok_or_else(|| GitHubError::Invalid { message: "no pull request number in GitHub's answer".into() })
    }

    pub(crate) fn update(&mut self, number: u64, title: &str, body: &str) -> Result<PullRequest, GitHubError> {
        let path = format!("/repos/{}/pulls/{number}", self.repo);
        let value = self.call("PATCH", &path, Some(json!({ "title": title, "body": body })))?;
        pull_request(&value)
            .ok_or_else(|| GitHubError::Invalid { message: "no pull request number in GitHub's answer".into() })
    }
}

/// A pull request is an issue to the labels API: labels are added there, not when opening.
impl GitHub {
    pub(crate) fn add_label(&mut self, number: u64, label: &str) -> Result<(), GitHubError> {
        let path = format!("/repos/{}/issues/{number}/labels", self.repo);
        self.call("POST", &path, Some(json!({ "labels": [label] }))).map(drop)
    }
}

fn pull_request(v: &Value) -> Option<PullRequest> {
    let labels = v.get("labels").and_then(Value::as_array).map_or_else(Vec::new, |list| {
        list.iter().filter_map(|l| l.get("name").and_then(Value::as_str).map(String::from)).collect()
    });
    Some(PullRequest {
        number: v.get("number")?.as_u64()?,
        url: v.get("html_url").and_then(|u| u.as_str()).unwrap_or_default().to_string(),
        labels,
    })
}

/// GitHub's `message` plus validation details, or the raw text.
fn error_message(v: &Value, raw: &str) -> String {
    let Some(message) = v.get("message").and_then(|m| m.as_str()) else {
        return raw.chars().take(300).collect();
    };
    let details: Vec<String> = v
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors.iter().filter_map(|e| e.get("message").and_then(|m| m.as_str()).map(String::from)).collect()
        })
        .unwrap_or_default();
    if details.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {}", details.join("; "))
    }
}

fn reset_time(reset: Option<&str>) -> String {
    reset
        .and_then(|r| r.parse::<i64>().ok())
        .map_or_else(|| "an unknown time".into(), |secs| crate::domain::format_timestamp(secs * 1000))
}

//! The CloudWatch protocol translator (`cloudwatch_proxy.py`) in front of moto, started per test
//! with its own page sizes, and SDK clients that reach moto through it.
#![allow(dead_code)]

use super::moto::{moto, server_path, Moto};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Proxy {
    pub url: String,
    child: Child,
    _moto: Moto,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Page sizes the proxy answers with (AWS's own are 100,800 / 500 / 10,000).
#[derive(Debug, Clone, Copy)]
pub struct Pages {
    pub datapoints: usize,
    pub metrics: usize,
    pub log_events: usize,
}

impl Default for Pages {
    fn default() -> Self {
        Pages { datapoints: 100_800, metrics: 500, log_events: 10_000 }
    }
}

/// The venv's Python (it has cbor2), beside moto_server.
fn python() -> std::path::PathBuf {
    let server = server_path();
    let dir = server.parent().expect("moto_server has a directory");
    ["python3", "python"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no python beside {}; install with `bash .ci/install-moto.sh`", server.display()))
}

pub fn proxy(pages: Pages) -> Proxy {
    let moto = moto();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/support/cloudwatch_proxy.py");
    let mut child = Command::new(python())
        .args([script, "--moto", &moto.url])
        .args(["--page-datapoints", &pages.datapoints.to_string()])
        .args(["--page-metrics", &pages.metrics.to_string()])
        .args(["--page-log-events", &pages.log_events.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start cloudwatch_proxy.py");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
        panic!("cloudwatch_proxy.py did not start (said {line:?}); is cbor2 in moto's venv? `bash .ci/install-moto.sh`")
    });
    Proxy { url: format!("http://127.0.0.1:{port}"), child, _moto: moto }
}

impl Proxy {
    /// Operations the proxy saw for one access key id.
    pub fn calls(&self, access_key: &str) -> std::collections::BTreeMap<String, u64> {
        let out = Command::new(python())
            .args([
                "-c",
                &format!(
                    "import urllib.request; print(urllib.request.urlopen('{}/_proxy/calls').read().decode())",
                    self.url
                ),
            ])
            .output()
            .unwrap();
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        all.get(access_key)
            .and_then(|v| v.as_object())
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect())
            .unwrap_or_default()
    }

    /// SDK clients for seeding, signed with `access_key` in `region`.
    pub fn clients(
        &self,
        region: &str,
        access_key: &str,
    ) -> (aws_sdk_cloudwatchlogs::Client, aws_sdk_cloudwatch::Client) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = rt.block_on(podsizer::sources::aws::sdk_config(Some(region), None, Some(&self.url))).unwrap();
        let creds = aws_sdk_cloudwatch::config::Credentials::new(access_key, "secret", None, None, "tests");
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(&config).credentials_provider(creds.clone()).build();
        let cw = aws_sdk_cloudwatch::config::Builder::from(&config).credentials_provider(creds).build();
        (aws_sdk_cloudwatchlogs::Client::from_conf(logs), aws_sdk_cloudwatch::Client::from_conf(cw))
    }
}

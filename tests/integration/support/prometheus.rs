//! A real Prometheus for the tests and benchmarks: generated cAdvisor and kube-state-metrics
//! series written as OpenMetrics text, backfilled into TSDB blocks with `promtool tsdb
//! create-blocks-from openmetrics`, and served by `prometheus` on a free loopback port (killed
//! on drop). A small HTTP proxy in front of it counts requests, checks headers, delays answers
//! and injects failures. Used by tests/prometheus.rs and benches/krr_compare.rs.
#![allow(dead_code)]

use podsizer::domain::Sample;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Scrape interval of the generated series.
pub const STEP: i64 = 60_000;

// ---------------------------------------------------------------------------------------------
// Tools

pub fn have(tool: &str) -> bool {
    std::process::Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// True when prometheus and promtool are installed; otherwise a NOTICE (or a failure under CI).
pub fn tools_present(test: &str) -> bool {
    if have("prometheus") && have("promtool") {
        return true;
    }
    let message = "`prometheus` and `promtool` are needed (Debian/Ubuntu: apt-get install -y prometheus)";
    assert!(std::env::var_os("CI").is_none(), "{test}: {message}; CI is set, so this is a failure");
    eprintln!("\n*** NOTICE: {test} SKIPPED: {message} ***\n");
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// Backfill

/// `promtool tsdb create-blocks-from openmetrics` into a new directory.
pub fn backfill(text: &Path, out: &Path) {
    std::fs::create_dir_all(out).unwrap();
    let started = Instant::now();
    let o = std::process::Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "--max-block-duration=500h", "openmetrics"])
        .arg(text)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("backfilled {} in {:.1}s", text.display(), started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// The synthetic fleet as Prometheus series

/// Samples of the synthetic fleet per (namespace, pod, container) series, kept compact
/// ((time, cpu, memory) per sample) so a week of ~1,000 containers fits in a few hundred MB.
/// (namespace, pod, container) of a series.
pub type SeriesKey = (String, String, String);

#[derive(Default)]
pub struct FleetSeries {
    /// (time, cpu, memory) samples per series.
    pub series: BTreeMap<SeriesKey, Vec<(i64, f64, f64)>>,
    /// Workload (Deployment name) of each (namespace, pod).
    pub workloads: BTreeMap<(String, String), String>,
}

impl FleetSeries {
    pub fn add(&mut self, s: &Sample) {
        let key = (s.namespace.clone(), s.pod.clone(), s.container.clone());
        if let Some(rows) = self.series.get_mut(&key) {
            rows.push((s.timestamp_ms, s.cpu_cores, s.memory_bytes));
        } else {
            self.workloads.entry((s.namespace.clone(), s.pod.clone())).or_insert_with(|| s.workload.clone());
            self.series.insert(key, vec![(s.timestamp_ms, s.cpu_cores, s.memory_bytes)]);
        }
    }

    pub fn samples(&self) -> usize {
        self.series.values().map(Vec::len).sum()
    }

    pub fn first_ms(&self) -> i64 {
        self.series.values().filter_map(|r| r.first()).map(|r| r.0).min().unwrap_or(0)
    }

    pub fn last_ms(&self) -> i64 {
        self.series.values().filter_map(|r| r.last()).map(|r| r.0).max().unwrap_or(0)
    }

    /// cAdvisor series and pod owners (kube_pod_owner, kube_replicaset_owner every 6 hours) as
    /// OpenMetrics text; no noise series, to keep it small.
    pub fn write_openmetrics(&self, path: &Path) {
        let mut f = BufWriter::new(std::fs::File::create(path).unwrap());
        for ((ns, pod, c), rows) in &self.series {
            let mut total = 0.0;
            writeln!(
                f,
                r#"container_cpu_usage_seconds_total{{namespace="{ns}",pod="{pod}",container="{c}"}} 0 {}"#,
                (rows[0].0 - STEP) / 1000
            )
            .unwrap();
            for (t, cpu, _) in rows {
                total += cpu * 60.0;
                writeln!(
                    f,
                    r#"container_cpu_usage_seconds_total{{namespace="{ns}",pod="{pod}",container="{c}"}} {total} {}"#,
                    t / 1000
                )
                .unwrap();
            }
        }
        for ((ns, pod, c), rows) in &self.series {
            for (t, _, mem) in rows {
                writeln!(
                    f,
                    r#"container_memory_working_set_bytes{{namespace="{ns}",pod="{pod}",container="{c}"}} {mem} {}"#,
                    t / 1000
                )
                .unwrap();
            }
        }
        let pods: BTreeSet<(&str, &str, &str, i64)> = self
            .series
            .iter()
            .flat_map(|((ns, pod, _), rows)| {
                let workload = self.workloads[&(ns.clone(), pod.clone())].as_str();
                rows.iter()
                    .filter(|r| r.0 % (6 * 3_600_000) == 0)
                    .map(move |r| (ns.as_str(), pod.as_str(), workload, r.0))
            })
            .collect();
        for (ns, pod, _, t) in &pods {
            let rs = pod.rsplit_once('-').unwrap().0;
            writeln!(f, r#"kube_pod_owner{{namespace="{ns}",pod="{pod}",owner_kind="ReplicaSet",owner_name="{rs}",owner_is_controller="true"}} 1 {}"#, t / 1000).unwrap();
        }
        for (ns, pod, workload, t) in &pods {
            let rs = pod.rsplit_once('-').unwrap().0;
            writeln!(f, r#"kube_replicaset_owner{{namespace="{ns}",replicaset="{rs}",owner_kind="Deployment",owner_name="{workload}",owner_is_controller="true"}} 1 {}"#, t / 1000).unwrap();
        }
        writeln!(f, "# EOF").unwrap();
        f.flush().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// A Prometheus server

pub struct Prometheus {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Copies `blocks` into a fresh data directory and serves it on a free loopback port.
    pub fn start(blocks: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        copy_tree(blocks, &data);
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let port = free_port();
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg("--storage.tsdb.retention.time=10y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let p = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if http_get(port, "/-/ready").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "prometheus not ready after 60s:\n{}",
            std::fs::read_to_string(p.dir.path().join("prometheus.log")).unwrap_or_default()
        );
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// A proxy in front of Prometheus: counts, checks headers, delays, injects failures

#[derive(Default, Clone)]
pub struct ProxyConfig {
    /// Answer 401 unless the Authorization header is exactly this.
    pub require_auth: Option<String>,
    pub delay: Duration,
    /// Answer range queries (query_range and remote read) after this many with an API error (non-retryable).
    pub fail_range_after: Option<usize>,
    /// Answer every range query with this status and body instead of forwarding.
    pub range_answer: Option<(u16, String)>,
    /// Answer remote read (`/api/v1/read`) with this status and body: a server without it.
    pub read_answer: Option<(u16, String)>,
}

#[derive(Default)]
pub struct ProxyState {
    pub config: Mutex<ProxyConfig>,
    pub requests: AtomicUsize,
    /// query_range and remote-read requests.
    pub range_queries: AtomicUsize,
    pub remote_reads: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub headers: Mutex<Vec<BTreeMap<String, String>>>,
    pub stop: AtomicBool,
}

pub struct Proxy {
    pub port: u16,
    pub state: Arc<ProxyState>,
}

impl Proxy {
    pub fn start(upstream: u16, config: ProxyConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState { config: Mutex::new(config), ..ProxyState::default() });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &st);
                });
            }
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub fn serve(mut conn: TcpStream, upstream: u16, st: &ProxyState) -> std::io::Result<()> {
    // One request per connection; the answer says `Connection: close`.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..].to_vec();
    st.requests.fetch_add(1, Ordering::SeqCst);
    st.headers.lock().unwrap().push(headers.clone());
    let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let config = st.config.lock().unwrap().clone();
    let is_range = request_line.contains("/api/v1/query_range") || request_line.contains("/api/v1/read");
    if request_line.contains("/api/v1/read") {
        st.remote_reads.fetch_add(1, Ordering::SeqCst);
    }
    let answer = (|| {
        std::thread::sleep(config.delay);
        if let Some(expected) = &config.require_auth {
            if headers.get("authorization") != Some(expected) {
                return canned(401, "Unauthorized\n");
            }
        }
        if let Some((status, body)) = config.read_answer.as_ref().filter(|_| request_line.contains("/api/v1/read")) {
            return canned(*status, body);
        }
        if is_range {
            let n = st.range_queries.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some((status, body)) = &config.range_answer {
                return canned(*status, body);
            }
            if config.fail_range_after.is_some_and(|limit| n > limit) {
                return canned(422, r#"{"status":"error","errorType":"execution","error":"injected failure"}"#);
            }
        }
        let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let method = request_line.split_whitespace().next().unwrap_or("GET");
        let ct = headers.get("content-type").cloned().unwrap_or_default();
        write!(
            up,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        up.write_all(&body)?;
        let mut response = Vec::new();
        up.read_to_end(&mut response)?;
        Ok(response)
    })();
    st.in_flight.fetch_sub(1, Ordering::SeqCst);
    conn.write_all(&answer?)?;
    conn.flush()
}

pub fn canned(status: u16, body: &str) -> std::io::Result<Vec<u8>> {
    let ct = if body.starts_with('{') { "application/json" } else { "text/html" };
    Ok(format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes())
}

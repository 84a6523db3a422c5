//! `cargo bench --bench fleet`: `podsizer fleet report` over 20 cluster stores x 1,000
//! containers x 14 days on moto's S3 (the target: at most 10 s and 1 GiB, from
//! summaries).
//!
//! Builds one store of the synthetic fleet (PODSIZER_BENCH_CONTAINERS, default 1000, 14 days,
//! one sample per PODSIZER_BENCH_STEP, default 10m: moto keeps every object in memory, and 20
//! copies of 1-minute parts would be 2 GB), saves its day summaries with `recommend`, and
//! uploads its files (manifest, parts, summaries) under PODSIZER_BENCH_CLUSTERS (default 20)
//! prefixes of one bucket. Then times `fleet report --from s3://BUCKET/fleet`, each run with an
//! empty cache (the weekly case: every summary is fetched), and checks that no run fetched a part.
//!
//! Needs moto_server: PODSIZER_MOTO_SERVER, or the venv `.ci/install-moto.sh` makes.

#[path = "common/mod.rs"]
mod common;

use podsizer::sources::synthetic::FleetSpec;
use podsizer::store::s3::{S3Location, S3Options, S3};
use podsizer::store::Store;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DAYS: i64 = 14;
const RUNS: usize = 5;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let containers: usize = env_or("PODSIZER_BENCH_CONTAINERS", 1000);
    let clusters: usize = env_or("PODSIZER_BENCH_CLUSTERS", 20);
    let step_s: i64 = env_or("PODSIZER_BENCH_STEP_SECONDS", 600);
    let store = summarised_store(containers, step_s);
    let moto = Moto::start();
    let bucket = "podsizer-bench-fleet";
    let url = format!("s3://{bucket}/fleet");
    ureq::put(&format!("{}/{bucket}", moto.url)).send_empty().expect("create bucket");
    let started = Instant::now();
    let (files, bytes, summary_bytes) = upload(&moto, &store, &url, clusters);
    println!(
        "fleet: {clusters} cluster stores x {} containers x {DAYS} days (one sample per {step_s} s) on moto: \
         {files} objects, {:.0} MiB ({:.1} MiB of day summaries) uploaded in {:.1?}",
        FleetSpec::fleet(containers, 0, DAYS, step_s * 1000).containers(),
        bytes as f64 / 1048576.0,
        summary_bytes as f64 / 1048576.0,
        started.elapsed()
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut seconds = Vec::new();
    let mut peak = 0.0f64;
    for run in 0..RUNS {
        let cache = scratch.path().join(format!("cache-{run}"));
        let out_dir = scratch.path().join(format!("report-{run}"));
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_podsizer"))
            .args(["-q", "fleet", "report", "--from", &url, "--out"])
            .arg(&out_dir)
            .envs(aws_env(&moto.url))
            .env("PODSIZER_CACHE_DIR", &cache)
            .env("PODSIZER_STATS", "1")
            .output()
            .expect("run podsizer");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        seconds.push(started.elapsed().as_secs_f64());
        peak = peak.max(common::peak_rss_mib(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("stats: fleet cluster=")).collect();
        assert_eq!(lines.len(), clusters, "{stderr}");
        assert!(lines.iter().all(|l| l.ends_with("parquet_read=0")), "a part was fetched: {stderr}");
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "fleet report from summaries, empty cache each run: median {:.2} s (min {:.2}, max {:.2}), peak RSS {:.0} MiB \
         (target: at most 10 s and 1024 MiB)",
        seconds[RUNS / 2],
        seconds[0],
        seconds[RUNS - 1],
        peak
    );
}

/// One store of the synthetic fleet with its day summaries saved, built once.
fn summarised_store(containers: usize, step_s: i64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-data")
        .join(format!("fleet-{containers}x{DAYS}d-{step_s}s"));
    if root.join(".complete").exists() {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    let start = podsizer::domain::parse_timestamp("2026-11-02").unwrap();
    let spec = FleetSpec::fleet(containers, start, DAYS, step_s * 1000);
    let store = Store::open_or_create(&root).expect("create bench store");
    for day in 0..DAYS {
        let mut rows = Vec::new();
        spec.generate_day(day, |s| rows.push(s));
        store.append(rows).expect("append");
    }
    // The summaries the cluster's job would upload: `recommend` saves every day's.
    let out = Command::new(env!("CARGO_BIN_EXE_podsizer"))
        .args(["-q", "recommend", "-o", "csv", "--input"])
        .arg(&root)
        .output()
        .expect("run podsizer");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(root.join(".complete"), b"").unwrap();
    root
}

/// Every file of the store under `url/c00`, `url/c01`, ...: (objects, bytes, summary bytes).
fn upload(moto: &Moto, store: &Path, url: &str, clusters: usize) -> (u64, u64, u64) {
    for (k, v) in aws_env(&moto.url) {
        std::env::set_var(k, v);
    }
    let files: Vec<(String, Vec<u8>)> = files_under(store, store)
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(store.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect();
    let (mut objects, mut bytes, mut summaries) = (0, 0, 0);
    for i in 0..clusters {
        let location = S3Location::parse(&format!("{url}/c{i:02}")).unwrap();
        let options = S3Options { endpoint: Some(moto.url.clone()), ..S3Options::default() };
        let s3 = S3::connect(&location, &options).expect("connect to moto");
        for (rel, data) in &files {
            s3.put(rel, data.clone()).expect("upload");
            objects += 1;
            bytes += data.len() as u64;
            if rel.contains("/derived-usage-x") {
                summaries += data.len() as u64;
            }
        }
    }
    (objects, bytes, summaries)
}

/// Store files relative to `root`, without hidden files and the bench's marker.
fn files_under(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            out.extend(files_under(root, &path));
        } else {
            out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/podsizer-bench".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/podsizer-bench".into()),
        ("PODSIZER_S3_ENDPOINT", endpoint.to_string()),
    ]
}

/// moto_server on a free loopback port, stopped when dropped.
struct Moto {
    url: String,
    child: Child,
}

impl Moto {
    fn start() -> Self {
        let server = std::env::var("PODSIZER_MOTO_SERVER").unwrap_or_else(|_| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-moto.sh");
            let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output().expect("install moto");
            assert!(out.status.success(), "{} failed", script.display());
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {server}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { url: format!("http://127.0.0.1:{port}"), child }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

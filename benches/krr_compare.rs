//! `cargo bench --bench krr_compare`: Prometheus import + recommend for 900 containers over
//! 7 days, podsizer against krr on the same real Prometheus.
//!
//! The synthetic fleet (300 Deployments x nginx/php-fpm/envoy, one replica each, a rollout
//! mid-week that replaces every pod, 1-minute samples; PODSIZER_BENCH_CONTAINERS and
//! PODSIZER_BENCH_DAYS change the size) is written as cAdvisor + kube-state-metrics OpenMetrics
//! text, backfilled with `promtool` and served by `prometheus` on a free loopback port (the
//! fixtures of tests/integration/support/prometheus.rs). The TSDB blocks are cached under
//! target/bench-data/ and rebuilt when they end more than 12 hours ago (krr always reads the
//! history up to now) or when PODSIZER_BENCH_FRESH=1.
//!
//! Timed, PODSIZER_BENCH_RUNS times (default 3, medians reported), alternating:
//! (a) krr's query load replayed as the stand-in for krr (it cannot be installed from the
//!     registries these machines reach): the queries krr `simple` sends, as observed in
//!     /work/shared/design/krr-queries.md (seven instant subqueries over the whole history per
//!     workload container, plus four per run), 10 at a time like krr's `--max-workers`;
//! (b) `podsizer import prometheus` of the whole week into a fresh store (remote read by
//!     default), then `podsizer recommend` on that store (the first, cold run);
//! then (c) krr itself against the same Prometheus, once, only if it is available: `PODSIZER_KRR` (a
//!     command, split on whitespace), else `krr` on PATH, else a best-effort
//!     `pip install krr` / `pip install robusta-krr` into target/krr-venv (skipped with
//!     PODSIZER_KRR_NO_INSTALL=1). krr is never vendored. Its arguments are
//!     `simple --prometheus-url {url} --history_duration {hours} --timeframe_duration 1 -f json`
//!     unless PODSIZER_KRR_ARGS gives others (`{url}` and `{hours}` are filled in). krr lists
//!     workloads from the Kubernetes API (KUBECONFIG is passed through), so against this
//!     Prometheus-only setup it needs either a cluster whose workloads match the generated ones
//!     or a krr build with its Prometheus-only workload discovery (`--mode prometheus`, see
//!     robusta_krr/core/integrations/prometheus/cluster_loader/ in its source), added through
//!     PODSIZER_KRR_ARGS. When krr is not available or fails, a NOTICE says why and how to
//!     supply it, and only podsizer's figures are reported: no krr number is ever made up.
//!
//! Requests are counted twice: podsizer's own summary, and Prometheus's
//! `prometheus_http_requests_total` for /api/v1/* before and after each tool (the same count
//! for krr). Prometheus's peak RSS (VmHWM) is read after each tool.
//!
//! How many queries krr makes, as read from its source (robusta-dev/krr, Python):
//! - robusta_krr/core/runner.py `_calculate_object_recommendations` runs once per scannable
//!   object, and an object is one container of one workload
//!   (robusta_krr/core/integrations/kubernetes/__init__.py `__build_scannable_object`);
//! - per object, `load_pods` (robusta_krr/core/integrations/prometheus/metrics_service/
//!   prometheus_metrics_service.py) makes one instant query for the owner's ReplicaSets (or
//!   Jobs / ReplicationControllers), one `kube_pod_owner` query per 100 of those, and one
//!   `kube_pod_status_phase` query per 100 pods;
//! - then `gather_data` (robusta_krr/core/integrations/prometheus/loader.py) makes one query
//!   per metric of the strategy; the default `simple` strategy
//!   (robusta_krr/strategies/simple.py) has four (PercentileCPULoader: quantile_over_time of a
//!   rate() subquery over the whole history; MaxMemoryLoader; CPUAmountLoader and
//!   MemoryAmountLoader: count_over_time subqueries), five with OOM data, each split into one
//!   query per 50 pods (robusta_krr/core/integrations/prometheus/metrics/base.py
//!   `pods_batch_size`).
//!
//! So for a Deployment container with under 50 pods in the history krr makes 3 + 4 = 7
//! queries, each a subquery that Prometheus evaluates over the whole history: 6,300 for this
//! fleet's 900 containers (plus a handful per run: connection check, history range, cluster
//! summary). podsizer makes one series lookup and one remote read per batch of pods (as many
//! pods as fit 500,000 points) per window, a remote-read probe and six kube-state-metrics
//! lookups: `podsizer::sources::prometheus::request_count` computes it, and the bench prints
//! both.
// Helpers shared inside this test crate are not API: `pub` there means "for the other modules".
#![allow(unreachable_pub)]

mod common;
#[path = "../tests/integration/support/prometheus.rs"]
mod prometheus;

use podsizer::domain::{format_timestamp, DAY_MS};
use podsizer::sources::synthetic::FleetSpec;
use prometheus::{backfill, http_get, tools_present, FleetSeries, Prometheus, STEP};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

fn podsizer() -> Command {
    // PODSIZER_BIN: a copy of the binary, when the target directory is shared with other builds.
    let bin = std::env::var_os("PODSIZER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_podsizer").into());
    let mut cmd = Command::new(bin);
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        cmd.env_remove(var);
    }
    cmd.env("PODSIZER_STATS", "1");
    cmd
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "?".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

// ---------------------------------------------------------------------------------------------
// The dataset: TSDB blocks, cached

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    containers: usize,
    days: i64,
    first_ms: i64,
    last_ms: i64,
    samples: usize,
    series: usize,
}

/// Blocks of `containers` x `days` ending a few minutes before now (or less than 12 h ago).
fn dataset(containers: usize, days: i64) -> (PathBuf, Meta) {
    let root = target_dir().join("bench-data").join(format!("prometheus-{containers}x{days}d"));
    let meta_path = root.join("meta.json");
    let now = chrono::Utc::now().timestamp_millis();
    let fresh = std::env::var_os("PODSIZER_BENCH_FRESH").is_some_and(|v| v == "1");
    if !fresh {
        if let Some(meta) = std::fs::read(&meta_path).ok().and_then(|b| serde_json::from_slice::<Meta>(&b).ok()) {
            if now - meta.last_ms < 12 * 3_600_000 {
                eprintln!(
                    "using cached blocks in {} (data ends {:.1} h ago; PODSIZER_BENCH_FRESH=1 rebuilds)",
                    root.display(),
                    (now - meta.last_ms) as f64 / 3.6e6
                );
                return (root.join("blocks"), meta);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let started = Instant::now();
    let start = now.div_euclid(STEP) * STEP - days * DAY_MS - 5 * STEP;
    let spec = FleetSpec::fleet(containers, start, days, STEP);
    let mut fleet = FleetSeries::default();
    for day in 0..days {
        spec.generate_day(day, |s| fleet.add(&s));
    }
    let text = root.join("fleet.om");
    fleet.write_openmetrics(&text);
    eprintln!(
        "generated {} samples in {} series ({:.0} MB of OpenMetrics) in {:.1}s",
        fleet.samples(),
        fleet.series.len(),
        std::fs::metadata(&text).map_or(0.0, |m| m.len() as f64 / 1e6),
        started.elapsed().as_secs_f64()
    );
    backfill(&text, &root.join("blocks"));
    std::fs::remove_file(&text).unwrap();
    let meta = Meta {
        containers: spec.containers(),
        days,
        first_ms: fleet.first_ms(),
        last_ms: fleet.last_ms(),
        samples: fleet.samples(),
        series: fleet.series.len(),
    };
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();
    (root.join("blocks"), meta)
}

// ---------------------------------------------------------------------------------------------
// What Prometheus saw

/// API requests Prometheus has answered so far (prometheus_http_requests_total, /api/v1/*).
fn api_requests(port: u16) -> u64 {
    let page = http_get(port, "/metrics").unwrap_or_default();
    page.lines()
        .filter(|l| l.starts_with("prometheus_http_requests_total{") && l.contains("handler=\"/api/v1/"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Peak RSS of a process, in MiB (VmHWM).
fn peak_rss_of(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok()))
        .map_or(0.0, |kib: f64| kib / 1024.0)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    f.get(11).zip(f.get(12)).map_or(0.0, |(u, s)| (u + s) / 100.0)
}

/// A number printed after `label` (e.g. `requests: 29`).
fn figure(text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| panic!("no {label:?} in:\n{text}")) + label.len();
    text[at..].trim_start().chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// podsizer

struct PodsizerRun {
    import_s: f64,
    recommend_s: f64,
    import_rss: f64,
    recommend_rss: f64,
    requests: u64,
    seen_by_prometheus: u64,
    prometheus_cpu_s: f64,
    store_s: f64,
    samples: u64,
    recommendations: usize,
}

fn run_podsizer(prom: &Prometheus, meta: &Meta) -> PodsizerRun {
    let dir = tempfile::tempdir_in(target_dir()).unwrap();
    let store = dir.path().join("store");
    let before = api_requests(prom.port);
    let cpu_before = cpu_seconds_of(prom.pid());
    let started = Instant::now();
    let out = podsizer()
        .args(["import", "prometheus", "--url", &prom.url(), "--store"])
        .arg(&store)
        .args(["--since", &format!("{}d", meta.days), "--until", &format_timestamp(meta.last_ms)])
        .output()
        .expect("run podsizer import");
    let import_s = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "import failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen_by_prometheus = api_requests(prom.port) - before;
    let prometheus_cpu_s = cpu_seconds_of(prom.pid()) - cpu_before;
    let store_s = stdout
        .split_once("wall time: ")
        .and_then(|(_, r)| r.split_once("s (")?.1.split_once('s')?.0.parse().ok())
        .unwrap_or(f64::NAN);
    let import_rss = common::peak_rss_mib(&out.stderr);

    let started = Instant::now();
    let rec =
        podsizer().args(["recommend", "-o", "json", "--input"]).arg(&store).output().expect("run podsizer recommend");
    let recommend_s = started.elapsed().as_secs_f64();
    assert!(rec.status.success(), "recommend failed: {}", String::from_utf8_lossy(&rec.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&rec.stdout).expect("recommend -o json");
    PodsizerRun {
        import_s,
        recommend_s,
        import_rss,
        recommend_rss: common::peak_rss_mib(&rec.stderr),
        requests: figure(&stdout, "requests:"),
        seen_by_prometheus,
        prometheus_cpu_s,
        store_s,
        samples: figure(&stdout, "samples:"),
        recommendations: doc["recommendations"].as_array().map_or(0, Vec::len),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// krr, only if it is there

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The krr command, or why there is none.
fn find_krr() -> Result<Vec<String>, String> {
    if let Some(cmd) = std::env::var("PODSIZER_KRR").ok().filter(|c| !c.trim().is_empty()) {
        return Ok(cmd.split_whitespace().map(String::from).collect());
    }
    if let Some(path) = on_path("krr") {
        return Ok(vec![path.display().to_string()]);
    }
    let venv = target_dir().join("krr-venv");
    let venv_krr = venv.join("bin/krr");
    if venv_krr.is_file() {
        return Ok(vec![venv_krr.display().to_string()]);
    }
    let mut why = vec!["PODSIZER_KRR is not set".to_string(), "no `krr` on PATH".to_string()];
    if std::env::var_os("PODSIZER_KRR_NO_INSTALL").is_some() {
        why.push("PODSIZER_KRR_NO_INSTALL is set, so no pip install was tried".into());
        return Err(why.join("; "));
    }
    // Best effort: a venv under target/ and pip, with the package names krr has been published under.
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        why.push("`python3 -m venv` failed".into());
        return Err(why.join("; "));
    }
    for package in ["krr", "robusta-krr"] {
        let started = Instant::now();
        let out = Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", package])
            .stdin(Stdio::null())
            .output();
        let detail = match &out {
            Ok(o) if o.status.success() && venv_krr.is_file() => {
                eprintln!("installed {package} into {} in {:.0?}", venv.display(), started.elapsed());
                return Ok(vec![venv_krr.display().to_string()]);
            }
            Ok(o) if o.status.success() => "installed, but it has no `krr` command".to_string(),
            Ok(o) => String::from_utf8_lossy(&o.stderr)
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string(),
            Err(e) => e.to_string(),
        };
        why.push(format!("`pip install {package}`: {detail}"));
    }
    Err(why.join("; "))
}

struct KrrRun {
    seconds: f64,
    seen_by_prometheus: u64,
    prometheus_cpu_s: f64,
    scans: Option<usize>,
}

fn run_krr(cmd: &[String], prom: &Prometheus, meta: &Meta) -> Result<KrrRun, String> {
    let template = std::env::var("PODSIZER_KRR_ARGS").unwrap_or_else(|_| {
        "simple --prometheus-url {url} --history_duration {hours} --timeframe_duration 1 -f json".into()
    });
    let args: Vec<String> = template
        .split_whitespace()
        .map(|a| a.replace("{url}", &prom.url()).replace("{hours}", &(meta.days * 24).to_string()))
        .collect();
    eprintln!("running: {} {}", cmd.join(" "), args.join(" "));
    let before = api_requests(prom.port);
    let cpu_before = cpu_seconds_of(prom.pid());
    let started = Instant::now();
    let out = Command::new(&cmd[0])
        .args(&cmd[1..])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cmd[0]))?;
    let seconds = started.elapsed().as_secs_f64();
    let seen_by_prometheus = api_requests(prom.port) - before;
    let prometheus_cpu_s = cpu_seconds_of(prom.pid()) - cpu_before;
    let log = target_dir().join("bench-data/krr-last-run.log");
    let _ = std::fs::write(&log, [out.stdout.as_slice(), b"\n--- stderr ---\n", out.stderr.as_slice()].concat());
    if !out.status.success() {
        let tail: Vec<&str> = std::str::from_utf8(&out.stderr).unwrap_or("").lines().rev().take(5).collect();
        return Err(format!(
            "krr exited with {} after {seconds:.1}s ({seen_by_prometheus} requests reached Prometheus); \
             last lines of stderr (all of it in {}):\n    {}",
            out.status,
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
        ));
    }
    // krr's JSON result lists one scan per workload container.
    let text = String::from_utf8_lossy(&out.stdout);
    let scans = text
        .find('{')
        .and_then(|i| serde_json::from_str::<serde_json::Value>(&text[i..]).ok())
        .and_then(|doc| doc["scans"].as_array().map(Vec::len));
    if scans == Some(0) || seen_by_prometheus == 0 {
        return Err(format!(
            "krr ran ({seconds:.1}s) but sized nothing ({seen_by_prometheus} requests reached Prometheus): it found no \
             workloads to scan; give it a cluster with the generated workloads (KUBECONFIG) or its Prometheus-only \
             discovery through PODSIZER_KRR_ARGS; output in {}",
            log.display()
        ));
    }
    Ok(KrrRun { seconds, seen_by_prometheus, prometheus_cpu_s, scans })
}

// ---------------------------------------------------------------------------------------------
// krr's query load, replayed (the stand-in when krr itself is not there)

/// One workload container as krr scans it.
struct KrrTarget {
    namespace: String,
    deployment: String,
    replicasets: Vec<String>,
    pods: Vec<String>,
    container: String,
}

fn series(agent: &ureq::Agent, prom: &Prometheus, selector: &str) -> Vec<BTreeMap<String, String>> {
    let body = post(agent, &format!("{}/api/v1/series", prom.url()), &[("match[]", selector.to_string())])
        .expect("series lookup");
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    serde_json::from_value(doc["data"].clone()).unwrap()
}

/// The workload containers of the generated fleet, from its kube-state-metrics and cAdvisor
/// series (looked up before the timed replay).
fn krr_targets(prom: &Prometheus) -> Vec<KrrTarget> {
    let agent = ureq::Agent::new_with_defaults();
    let mut rs_of: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for l in series(&agent, prom, "kube_replicaset_owner") {
        rs_of.entry((l["namespace"].clone(), l["owner_name"].clone())).or_default().push(l["replicaset"].clone());
    }
    let mut pods_of: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for l in series(&agent, prom, "kube_pod_owner") {
        pods_of.entry((l["namespace"].clone(), l["owner_name"].clone())).or_default().push(l["pod"].clone());
    }
    let mut containers_of: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for l in series(&agent, prom, "container_memory_working_set_bytes") {
        containers_of.entry((l["namespace"].clone(), l["pod"].clone())).or_default().insert(l["container"].clone());
    }
    let mut out = Vec::new();
    for ((ns, deployment), mut replicasets) in rs_of {
        replicasets.sort();
        replicasets.dedup();
        let mut pods: Vec<String> = replicasets
            .iter()
            .flat_map(|rs| pods_of.get(&(ns.clone(), rs.clone())).cloned().unwrap_or_default())
            .collect();
        pods.sort();
        pods.dedup();
        let containers: BTreeSet<String> = pods
            .iter()
            .flat_map(|p| containers_of.get(&(ns.clone(), p.clone())).cloned().unwrap_or_default())
            .collect();
        for container in containers {
            out.push(KrrTarget {
                namespace: ns.clone(),
                deployment: deployment.clone(),
                replicasets: replicasets.clone(),
                pods: pods.clone(),
                container,
            });
        }
    }
    out
}

/// krr `simple`'s queries (see /work/shared/design/krr-queries.md, observed from its runs):
/// four per run, seven instant queries per workload container over the whole history with
/// a 75 s subquery step (krr's default `--timeframe_duration` 1.25 min).
fn krr_queries(targets: &[KrrTarget], days: i64) -> Vec<String> {
    let mut q = vec![
        "sum(max by (instance) (machine_memory_bytes{}))".to_string(),
        "sum(max by (instance) (machine_cpu_cores{}))".to_string(),
        "sum(max(kube_pod_container_resource_requests{namespace='kube-system', resource='memory'}) by (job, pod, container))".to_string(),
        "sum(max(kube_pod_container_resource_requests{namespace='kube-system', resource='cpu'}) by (job, pod, container))".to_string(),
    ];
    let h = format!("{days}d");
    for t in targets {
        let (ns, c) = (&t.namespace, &t.container);
        let pods = t.pods.join("|");
        let sel = format!(r#"namespace="{ns}", pod=~"{pods}", container="{c}""#);
        q.push(format!(
            r#"kube_replicaset_owner{{owner_name="{}", owner_kind="Deployment", namespace="{ns}"}}[{h}]"#,
            t.deployment
        ));
        q.push(format!(
            r#"last_over_time(kube_pod_owner{{owner_name=~"{}", owner_kind="ReplicaSet", namespace="{ns}"}}[{h}])"#,
            t.replicasets.join("|")
        ));
        q.push(format!(r#"kube_pod_status_phase{{phase="Running", pod=~"{pods}", namespace="{ns}"}} == 1"#));
        q.push(format!(
            "quantile_over_time(0.95, max(rate(container_cpu_usage_seconds_total{{{sel}}}[75s])) by (container, pod, job) [{h}:75s])"
        ));
        q.push(format!(
            "max_over_time(max(container_memory_working_set_bytes{{{sel}}}) by (container, pod, job) [{h}:75s])"
        ));
        q.push(format!(
            "count_over_time(max(container_cpu_usage_seconds_total{{{sel}}}) by (container, pod, job) [{h}:75s])"
        ));
        q.push(format!(
            "count_over_time(max(container_memory_working_set_bytes{{{sel}}}) by (container, pod, job) [{h}:75s])"
        ));
    }
    q
}

fn post(agent: &ureq::Agent, url: &str, form: &[(&str, String)]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut response = agent.post(url).send_form(pairs).map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    response.body_mut().as_reader().read_to_end(&mut body).map_err(|e| e.to_string())?;
    Ok(body)
}

struct ReplayRun {
    seconds: f64,
    prometheus_cpu_s: f64,
    requests: u64,
    failed: usize,
}

/// Sends krr's queries, evaluated at the end of the data, `KRR_WORKERS` at a time.
fn replay_krr(prom: &Prometheus, queries: &[String], at_ms: i64) -> ReplayRun {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(600))).build().new_agent();
    let url = format!("{}/api/v1/query", prom.url());
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let before = api_requests(prom.port);
    let cpu_before = cpu_seconds_of(prom.pid());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..KRR_WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(q) = queries.get(i) else { return };
                let form = [("query", q.clone()), ("time", format!("{:.3}", at_ms as f64 / 1000.0))];
                match post(&agent, &url, &form) {
                    Ok(body) if body.starts_with(br#"{"status":"success""#) => {}
                    _ => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    ReplayRun {
        seconds: started.elapsed().as_secs_f64(),
        prometheus_cpu_s: cpu_seconds_of(prom.pid()) - cpu_before,
        requests: api_requests(prom.port) - before,
        failed: failed.load(Ordering::SeqCst),
    }
}

/// krr's `--max-workers` default.
const KRR_WORKERS: usize = 10;

// ---------------------------------------------------------------------------------------------

fn main() {
    if !tools_present("krr_compare") {
        return;
    }
    let containers = env_usize("PODSIZER_BENCH_CONTAINERS", 900);
    let days = env_usize("PODSIZER_BENCH_DAYS", 7) as i64;
    let runs = env_usize("PODSIZER_BENCH_RUNS", 3).max(1);
    let (blocks, meta) = dataset(containers, days);
    let prom = Prometheus::start(&blocks);
    // The first query after start-up pays for loading the blocks' indexes: not part of either tool.
    let _ = http_get(prom.port, "/api/v1/query?query=count(container_memory_working_set_bytes)");

    println!(
        "krr_compare: {} containers x {} days at {}s: {} samples in {} pod container series, Prometheus at {}",
        meta.containers,
        meta.days,
        STEP / 1000,
        meta.samples,
        meta.series,
        prom.url()
    );

    // krr's query load (the stand-in) and podsizer's first run, alternated.
    let targets = krr_targets(&prom);
    let queries = krr_queries(&targets, meta.days);
    println!("krr stand-in: {} workload containers, {} queries, {KRR_WORKERS} at a time", targets.len(), queries.len());
    let mut results = Vec::new();
    let mut replays = Vec::new();
    for i in 0..runs {
        let k = replay_krr(&prom, &queries, meta.last_ms);
        println!(
            "  krr query replay {}/{runs}: {:.2}s, {} requests reached Prometheus ({} failed), which used {:.1} CPU s; load {}",
            i + 1,
            k.seconds,
            k.requests,
            k.failed,
            k.prometheus_cpu_s,
            load()
        );
        replays.push(k);
        let r = run_podsizer(&prom, &meta);
        println!(
            "  podsizer run {}/{runs}: import {:.2}s ({:.1}s of it writing the store; {:.0} MiB; Prometheus used {:.1} CPU s \
             answering), recommend {:.2}s ({:.0} MiB), total {:.2}s; load {}",
            i + 1,
            r.import_s,
            r.store_s,
            r.import_rss,
            r.prometheus_cpu_s,
            r.recommend_s,
            r.recommend_rss,
            r.import_s + r.recommend_s,
            load()
        );
        results.push(r);
    }
    let last = results.last().unwrap();
    assert_eq!(last.requests, last.seen_by_prometheus, "podsizer's request count is what Prometheus answered");
    assert_eq!(last.samples as usize, meta.samples, "every generated sample was imported");
    let import_s = median(results.iter().map(|r| r.import_s).collect());
    let recommend_s = median(results.iter().map(|r| r.recommend_s).collect());
    let total_s = median(results.iter().map(|r| r.import_s + r.recommend_s).collect());
    let store_s = median(results.iter().map(|r| r.store_s).collect());
    let prometheus_cpu_s = median(results.iter().map(|r| r.prometheus_cpu_s).collect());
    let planned = podsizer::sources::prometheus::request_count(
        meta.series,
        3,
        meta.last_ms - meta.days * DAY_MS,
        meta.last_ms,
        STEP,
        500_000,
        podsizer::sources::prometheus::ReadPath::RemoteRead,
    );
    println!(
        "podsizer (median of {runs}): import {import_s:.2}s ({store_s:.1}s writing the store, Prometheus \
         {prometheus_cpu_s:.1} CPU s answering) + recommend {recommend_s:.2}s = {total_s:.2}s; \
         {} requests (planned {planned}), {} samples imported, {} recommendations; peak RSS import {:.0} MiB, \
         recommend {:.0} MiB; Prometheus peak RSS so far {:.0} MiB; load {}",
        last.requests,
        last.samples,
        last.recommendations,
        results.iter().map(|r| r.import_rss).fold(0.0, f64::max),
        results.iter().map(|r| r.recommend_rss).fold(0.0, f64::max),
        peak_rss_of(prom.pid()),
        load()
    );
    let replay_s = median(replays.iter().map(|k| k.seconds).collect());
    let replay_cpu = median(replays.iter().map(|k| k.prometheus_cpu_s).collect());
    println!(
        "krr query replay (median of {runs}): {replay_s:.2}s, Prometheus {replay_cpu:.1} CPU s; \
         RATIO containers/s podsizer / krr stand-in: {:.1}x (target: at least 10x); \
         Prometheus CPU podsizer / krr stand-in: {:.3} (target: at most 0.2)",
        replay_s / total_s.max(1e-9),
        prometheus_cpu_s / replay_cpu.max(1e-9)
    );
    // krr's pattern (see the header): 3 pod-discovery queries + 4 metric queries per workload container.
    let krr_expected = 7 * meta.containers;
    println!(
        "queries: podsizer {} for {} containers; krr's simple strategy, from its source, ~7 per workload container \
         = ~{krr_expected} (each a subquery over the whole {}-day history)",
        last.requests, meta.containers, meta.days
    );

    // (b) krr
    let krr = find_krr().and_then(|cmd| run_krr(&cmd, &prom, &meta));
    match krr {
        Ok(k) => {
            println!(
                "krr: {:.2}s, {} requests reached Prometheus (which used {:.1} CPU s answering), {} scans; \
                 Prometheus peak RSS now {:.0} MiB; load {}",
                k.seconds,
                k.seen_by_prometheus,
                k.prometheus_cpu_s,
                k.scans.map_or("?".into(), |n| n.to_string()),
                peak_rss_of(prom.pid()),
                load()
            );
            println!(
                "RATIO krr / podsizer (import + recommend): {:.1}x (target: at least 10x)",
                k.seconds / total_s.max(1e-9)
            );
        }
        Err(why) => {
            let banner = "*".repeat(100);
            println!("\n{banner}");
            println!("NOTICE: krr NOT MEASURED, so there is no krr/podsizer ratio in this run.");
            println!("NOTICE: why: {why}");
            println!(
                "NOTICE: to measure it, install krr (https://github.com/robusta-dev/krr: its release binary, \
                 or `pip install` from its source tree) and put `krr` on PATH, or set PODSIZER_KRR to the command \
                 (e.g. PODSIZER_KRR='python /path/to/krr/krr.py'). krr lists workloads from the Kubernetes API: \
                 set KUBECONFIG to a cluster that runs the generated workloads, or pass its Prometheus-only \
                 discovery with PODSIZER_KRR_ARGS='simple --mode prometheus --prometheus-url {{url}} \
                 --history_duration {{hours}} --timeframe_duration 1 -f json' if your krr build has it."
            );
            println!("NOTICE: podsizer's figures above stand on their own; no krr number was made up.");
            println!("{banner}\n");
        }
    }
    drop(prom);
    std::thread::sleep(Duration::from_millis(10));
}

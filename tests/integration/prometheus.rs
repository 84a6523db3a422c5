//! `podsizer import prometheus` against a real Prometheus (Debian's `prometheus` 2.42 and
//! `promtool`): generated cAdvisor and kube-state-metrics series are backfilled with
//! `promtool tsdb create-blocks-from openmetrics`, a Prometheus is started on a free loopback
//! port for each test (and killed when the test ends), and what podsizer imports is checked
//! against the generated samples. A small HTTP proxy in front of Prometheus counts requests,
//! checks headers, delays answers and injects failures. The Prometheus fixtures live in
//! support/prometheus.rs, shared with benches/krr_compare.rs.
//!
//! Without `prometheus`/`promtool` on PATH the tests print a NOTICE and pass, unless the `CI`
//! environment variable is set: then they fail.

use assert_cmd::Command;
use podsizer::domain::{Sample, DAY_MS};
use podsizer::sources::synthetic::{ApiWorkload, FleetSpec};
use podsizer::store::Store;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::podsizer_on_loopback;
use crate::support::prometheus;
use crate::support::rows;
use podsizer::sources::prometheus::ReadPath::RemoteRead;
use prometheus::*;
use rows::{rows_of, stored, Row};

const MIB: f64 = 1024.0 * 1024.0;

// ---------------------------------------------------------------------------------------------
// Tools

fn podsizer() -> Command {
    podsizer_on_loopback()
}

// ---------------------------------------------------------------------------------------------
// Generated cluster

/// The generated truth and the TSDB blocks holding it.
struct Dataset {
    truth: Vec<Sample>,
    first_ms: i64,
    last_ms: i64,
    /// cAdvisor + kube-state-metrics.
    blocks: PathBuf,
    /// cAdvisor only.
    bare_blocks: PathBuf,
}

/// Workloads of several kinds: each is generated as a Deployment by the synthetic fleet and
/// renamed here into the pods its real kind would have.
fn cluster_truth(start_ms: i64, days: i64) -> Vec<Sample> {
    let w = |ns: &str, name: &str, replicas, scale| ApiWorkload {
        namespace: ns.into(),
        name: name.into(),
        replicas,
        scale,
    };
    // The demo's generator (seed 42, no growth) with more workloads.
    let mut spec = FleetSpec::demo(start_ms, days, STEP);
    spec.workloads = vec![
        w("shop", "api", 3, 1.0),
        w("shop", "web", 1, 0.4),
        w("shop", "db", 2, 0.5),
        w("logging", "agent", 2, 0.3),
        w("batch", "report", 1, 0.8),
    ];
    let mut out = Vec::new();
    let mut ordinals: BTreeMap<String, usize> = BTreeMap::new();
    for day in 0..days {
        spec.generate_day(day, |mut s| {
            let mut parts = s.pod.rsplitn(3, '-');
            let (suffix, generation) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
            let second = generation.starts_with('7');
            match s.workload.as_str() {
                "db" => {
                    s.workload_kind = "StatefulSet".into();
                    // Replicas come in order, so the first suffix seen is ordinal 0.
                    let next = ordinals.len();
                    let ordinal = *ordinals.entry(suffix).or_insert(next);
                    s.pod = format!("db-{ordinal}");
                }
                "agent" => {
                    s.workload_kind = "DaemonSet".into();
                    let suffix: String = if second { suffix.chars().rev().collect() } else { suffix };
                    s.pod = format!("agent-{suffix}");
                }
                "report" => {
                    s.workload_kind = "CronJob".into();
                    s.pod = format!("report-{}-{suffix}", if second { 29_351_440 } else { 29_350_000 });
                }
                _ => {}
            }
            out.push(s);
        });
    }
    out
}

/// Workload kind, owner of the pod (kind, name) and owner of that owner, as kube-state-metrics shows them.
/// (metric, name label, name, kind) of an owner's owner series.
type UpperOwner = (&'static str, String, String, String);

fn owner_chain(s: &Sample) -> ((String, String), Option<UpperOwner>) {
    match s.workload_kind.as_str() {
        "Deployment" => {
            let rs = s.pod.rsplit_once('-').unwrap().0.to_string();
            (
                ("ReplicaSet".into(), rs.clone()),
                Some(("kube_replicaset_owner", "replicaset".into(), rs, "Deployment".into())),
            )
        }
        "CronJob" => {
            let job = s.pod.rsplit_once('-').unwrap().0.to_string();
            (("Job".into(), job.clone()), Some(("kube_job_owner", "job_name".into(), job, "CronJob".into())))
        }
        kind => ((kind.to_string(), s.workload.clone()), None),
    }
}

/// (cpu request, cpu limit, memory request, memory limit) set on each container.
fn settings_of(container: &str) -> (f64, Option<f64>, f64, f64) {
    match container {
        "nginx" => (0.1, Some(0.2), 128.0 * MIB, 256.0 * MIB),
        "php-fpm" => (1.0, Some(2.0), 1024.0 * MIB, 2048.0 * MIB),
        _ => (0.25, None, 256.0 * MIB, 512.0 * MIB),
    }
}

/// Writes OpenMetrics text: cAdvisor series (with a pause container, a pod-level series and
/// a duplicate scrape job, all of which the import must ignore) and, with `ksm`, kube-state-metrics.
fn write_openmetrics(path: &Path, truth: &[Sample], ksm: bool) {
    let mut by_series: BTreeMap<(String, String, String), Vec<&Sample>> = BTreeMap::new();
    for s in truth {
        by_series.entry((s.namespace.clone(), s.pod.clone(), s.container.clone())).or_default().push(s);
    }
    let mut pods: BTreeMap<(String, String), (i64, i64, &Sample)> = BTreeMap::new();
    for s in truth {
        let e = pods.entry((s.namespace.clone(), s.pod.clone())).or_insert((s.timestamp_ms, s.timestamp_ms, s));
        e.0 = e.0.min(s.timestamp_ms);
        e.1 = e.1.max(s.timestamp_ms);
    }
    let mut f = BufWriter::new(std::fs::File::create(path).unwrap());
    let sec = |ms: i64| ms / 1000;
    // CPU counters: the counter gains cpu x step over the minute ending at each sample, so
    // rate(...[60s]) at that instant gives the sample back. It starts at 0 one step earlier.
    for job in ["kubelet", "cadvisor"] {
        for ((ns, pod, c), rows) in &by_series {
            if job == "cadvisor" && pod.starts_with("agent") {
                continue; // duplicates for some pods only
            }
            let labels = format!(
                r#"namespace="{ns}",pod="{pod}",container="{c}",job="{job}",instance="node-1",image="registry/{c}:1",id="/kubepods/{pod}/{c}""#
            );
            let mut total = 0.0;
            writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} 0 {}", sec(rows[0].timestamp_ms - STEP))
                .unwrap();
            for s in rows {
                total += s.cpu_cores * (STEP / 1000) as f64;
                writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} {total} {}", sec(s.timestamp_ms)).unwrap();
            }
        }
    }
    for ((ns, pod), (first, last, _)) in &pods {
        let labels = format!(r#"namespace="{ns}",pod="{pod}",container="POD",job="kubelet""#);
        let mut t = first - STEP;
        while t <= *last {
            writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} {} {}", (t - first + STEP) as f64 / 1e6, sec(t))
                .unwrap();
            t += STEP;
        }
    }
    for job in ["kubelet", "cadvisor"] {
        for ((ns, pod, c), rows) in &by_series {
            if job == "cadvisor" && pod.starts_with("agent") {
                continue;
            }
            let labels = format!(r#"namespace="{ns}",pod="{pod}",container="{c}",job="{job}",instance="node-1""#);
            for s in rows {
                writeln!(
                    f,
                    "container_memory_working_set_bytes{{{labels}}} {} {}",
                    s.memory_bytes,
                    sec(s.timestamp_ms)
                )
                .unwrap();
            }
        }
    }
    for ((ns, pod), (first, last, _)) in &pods {
        for (c, v) in [("POD", MIB), ("", 900.0 * MIB)] {
            let labels = format!(r#"namespace="{ns}",pod="{pod}",container="{c}",job="kubelet""#);
            let mut t = *first;
            while t <= *last {
                writeln!(f, "container_memory_working_set_bytes{{{labels}}} {v} {}", sec(t)).unwrap();
                t += STEP;
            }
        }
    }
    // The php-fpm exporter beside each api pod (every 5 minutes): two children whose last
    // request took 60Mi, one of them 80Mi once per pod; 2 active processes, 3 once.
    let api_pods: Vec<_> = pods.iter().filter(|((_, p), _)| p.starts_with("api-")).collect();
    for child in ["1", "2"] {
        for ((ns, pod), (first, last, _)) in &api_pods {
            let labels = format!(r#"namespace="{ns}",pod="{pod}",pool="www",child="{child}",job="php-fpm""#);
            for t in (*first..=*last).step_by(300_000) {
                let v = if child == "2" && t == *first + 3_600_000 { 80.0 * MIB } else { 60.0 * MIB };
                writeln!(f, "phpfpm_process_last_request_memory{{{labels}}} {v} {}", sec(t)).unwrap();
            }
        }
    }
    for ((ns, pod), (first, last, _)) in &api_pods {
        let labels = format!(r#"namespace="{ns}",pod="{pod}",pool="www",job="php-fpm""#);
        for t in (*first..=*last).step_by(300_000) {
            let v = if t == *first + 3_600_000 { 3 } else { 2 };
            writeln!(f, "phpfpm_active_processes{{{labels}}} {v} {}", sec(t)).unwrap();
        }
    }
    if ksm {
        // kube-state-metrics, every 5 minutes over each pod's life.
        let every = |first: i64, last: i64| (first..=last).step_by(300_000);
        for ((ns, pod), (first, last, s)) in &pods {
            let ((kind, name), _) = owner_chain(s);
            for t in every(*first, *last) {
                writeln!(
                    f,
                    r#"kube_pod_owner{{namespace="{ns}",pod="{pod}",owner_kind="{kind}",owner_name="{name}",owner_is_controller="true"}} 1 {}"#,
                    sec(t)
                )
                .unwrap();
            }
        }
        let mut uppers: BTreeMap<(UpperOwner, String), (i64, i64)> = BTreeMap::new();
        for ((ns, _), (first, last, s)) in &pods {
            if let (_, Some((metric, label, name, kind))) = owner_chain(s) {
                let e = uppers.entry(((metric, label, name, kind), ns.clone())).or_insert((*first, *last));
                e.0 = e.0.min(*first);
                e.1 = e.1.max(*last);
            }
        }
        for metric in ["kube_job_owner", "kube_replicaset_owner"] {
            for (((m, label, name, kind), ns), (first, last)) in &uppers {
                if *m != metric {
                    continue;
                }
                let workload =
                    pods.values().find(|(_, _, s)| owner_chain(s).1.is_some_and(|o| o.2 == *name)).unwrap().2;
                for t in every(*first, *last) {
                    writeln!(
                        f,
                        r#"{metric}{{namespace="{ns}",{label}="{name}",owner_kind="{kind}",owner_name="{}",owner_is_controller="true"}} 1 {}"#,
                        workload.workload,
                        sec(t)
                    )
                    .unwrap();
                }
            }
        }
        for (metric, is_limit) in
            [("kube_pod_container_resource_limits", true), ("kube_pod_container_resource_requests", false)]
        {
            for ((ns, pod, c), rows) in &by_series {
                let (cr, cl, mr, ml) = settings_of(c);
                let (cpu, mem) = if is_limit { (cl, ml) } else { (Some(cr), mr) };
                let (first, last) = (rows[0].timestamp_ms, rows.last().unwrap().timestamp_ms);
                for t in every(first, last) {
                    if let Some(cpu) = cpu {
                        writeln!(f, r#"{metric}{{namespace="{ns}",pod="{pod}",container="{c}",node="node-1",resource="cpu",unit="core"}} {cpu} {}"#, sec(t)).unwrap();
                    }
                }
                for t in every(first, last) {
                    writeln!(f, r#"{metric}{{namespace="{ns}",pod="{pod}",container="{c}",node="node-1",resource="memory",unit="byte"}} {mem} {}"#, sec(t)).unwrap();
                }
            }
        }
        // One php-fpm of the newest api pods was OOM-killed: its last terminated reason says so.
        let oom_pod =
            pods.keys().filter(|(_, p)| p.starts_with("api-7c9d5f8b6")).map(|(_, p)| p.clone()).next().unwrap();
        let (first, last, _) = pods[&("shop".to_string(), oom_pod.clone())];
        for t in every(first + DAY_MS / 2, last) {
            writeln!(f, r#"kube_pod_container_status_last_terminated_reason{{namespace="shop",pod="{oom_pod}",container="php-fpm",reason="OOMKilled"}} 1 {}"#, sec(t)).unwrap();
        }
    }
    writeln!(f, "# EOF").unwrap();
    f.flush().unwrap();
}

/// The shared dataset: 8 days (two query windows at 60s) ending a few minutes before now,
/// generated and backfilled once per test process under CARGO_TARGET_TMPDIR.
fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Directories of earlier test processes that are gone.
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("prometheus-data-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = root.join(format!("prometheus-data-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The data ends at the time the test runs, so a failure can depend on the time of day:
        // PODSIZER_TEST_NOW_MS replays the dataset of the run that printed it.
        let now = std::env::var("PODSIZER_TEST_NOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        eprintln!("prometheus dataset: PODSIZER_TEST_NOW_MS={now}");
        let days = 8;
        let start = now.div_euclid(STEP) * STEP - days * DAY_MS - 5 * STEP;
        let truth = cluster_truth(start, days);
        let (blocks, bare_blocks) = (dir.join("blocks"), dir.join("bare-blocks"));
        for (ksm, out) in [(true, &blocks), (false, &bare_blocks)] {
            let text = dir.join(if ksm { "full.om" } else { "bare.om" });
            write_openmetrics(&text, &truth, ksm);
            backfill(&text, out);
            std::fs::remove_file(&text).unwrap();
        }
        let first_ms = truth.iter().map(|s| s.timestamp_ms).min().unwrap();
        let last_ms = truth.iter().map(|s| s.timestamp_ms).max().unwrap();
        Dataset { truth, first_ms, last_ms, blocks, bare_blocks }
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers on results

fn ts(ms: i64) -> String {
    podsizer::domain::format_timestamp(ms)
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn import(url: &str, store: &Path, extra: &[&str]) -> Run {
    let out =
        podsizer().args(["import", "prometheus", "--url", url, "--store"]).arg(store).args(extra).output().unwrap();
    let run = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    };
    if !run.ok {
        assert_eq!(out.status.code(), Some(2), "errors exit with 2: {}", run.stderr);
    }
    run
}

/// A number printed after `label` (e.g. `requests: 29`).
fn figure(text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| panic!("no {label:?} in:\n{text}")) + label.len();
    text[at..].trim_start().chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

fn truth_rows(truth: &[Sample], until: i64) -> BTreeMap<Row, (f64, f64)> {
    rows_of(truth.iter().filter(|s| s.timestamp_ms <= until))
}

/// Every generated sample came back, with its workload, and nothing else did.
fn assert_same_rows(got: &BTreeMap<Row, (f64, f64)>, want: &BTreeMap<Row, (f64, f64)>) {
    let missing: Vec<&Row> = want.keys().filter(|k| !got.contains_key(*k)).take(3).collect();
    let extra: Vec<&Row> = got.keys().filter(|k| !want.contains_key(*k)).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} rows vs {} expected; missing e.g. {missing:?}; extra e.g. {extra:?}",
        got.len(),
        want.len()
    );
    for (k, (cpu, mem)) in want {
        let (gc, gm) = got[k];
        assert!((gc - cpu).abs() < 1e-9, "{k:?}: cpu {gc} after rate(), generated {cpu}");
        assert_eq!(gm, *mem, "{k:?}: memory");
    }
}

fn recommend(store: &Path) -> Vec<Value> {
    let out = podsizer().args(["recommend", "-o", "json", "--input"]).arg(store).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["recommendations"].as_array().unwrap().clone()
}

fn state_file(store: &Path) -> Value {
    let dir = store.join("imports");
    // The php-fpm exporter's side file (phpfpm-<id>.json) sits beside the state file.
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("prometheus-"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn import_matches_generated_series_workloads_and_recommendations() {
    if !tools_present("import_matches_generated_series_workloads_and_recommendations") {
        return;
    }
    let data = dataset();
    let prom = Prometheus::start(&data.blocks);
    let proxy = Proxy::start(prom.port, ProxyConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A small point budget: many batches per window, two windows (8 days > 11,000 minutes).
    let run = import(
        &proxy.url(),
        &store,
        &[
            "--since",
            &ts(data.first_ms - DAY_MS),
            "--until",
            &ts(data.last_ms),
            "--max-points",
            "60000",
            "--concurrency",
            "3",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    println!("{}", run.stdout);
    let requests = figure(&run.stdout, "requests:");
    assert_eq!(requests as usize, proxy.requests(), "the reported request count is what reached Prometheus");
    let reads = proxy.state.remote_reads.load(Ordering::SeqCst);
    assert!(reads > 2 * 3, "chunked into several windows and batches: {reads} remote reads");
    assert_eq!(
        reads,
        proxy.state.range_queries.load(Ordering::SeqCst),
        "no query_range: Prometheus serves remote read"
    );
    assert_eq!(figure(&run.stdout, "query_range, "), reads as u64, "{}", run.stdout);
    assert!(figure(&run.stdout, "remote read, in ") >= 8, "one window per day: {}", run.stdout);
    let max_in_flight = proxy.state.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=3).contains(&max_in_flight), "at most --concurrency requests at once: {max_in_flight}");

    // Every sample, after rate(), with its workload; pause, pod-level and duplicate series ignored.
    let want = truth_rows(&data.truth, data.last_ms);
    assert_same_rows(&stored(&store), &want);
    assert_eq!(figure(&run.stdout, "samples:"), want.len() as u64);
    assert!(run.stdout.contains("0 guessed from the pod name (Deployment), 0 as their own Pod"), "{}", run.stdout);

    // Current requests/limits and OOM kills, per workload container.
    let state = state_file(&store);
    let current = state["current"].as_array().unwrap();
    let find = |kind: &str, name: &str, c: &str| {
        current
            .iter()
            .find(|e| e["workload_kind"] == kind && e["workload"] == name && e["container"] == c)
            .unwrap_or_else(|| panic!("{kind}/{name}/{c} not in {current:?}"))
    };
    let php = find("Deployment", "api", "php-fpm");
    assert_eq!(php["resources"]["cpu_request_cores"], 1.0);
    assert_eq!(php["resources"]["memory_limit_bytes"], 2048.0 * MIB);
    assert_eq!(php["oom_killed_pods"].as_array().unwrap().len(), 1);
    assert!(php["oom_killed_pods"][0].as_str().unwrap().starts_with("api-7c9d5f8b6-"));
    // php-fpm exporter figures: side facts beside the state file, none in the samples.
    let side = std::fs::read_dir(store.join("imports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("phpfpm-"))
        .expect("php-fpm exporter side file");
    let side: Value = serde_json::from_str(&std::fs::read_to_string(side).unwrap()).unwrap();
    assert_eq!(side["php_fpm"].as_array().unwrap().len(), 1, "only the api pods run the exporter: {side}");
    let fpm = &side["php_fpm"][0];
    assert_eq!(
        (fpm["workload_kind"].as_str(), fpm["workload"].as_str(), fpm["container"].as_str()),
        (Some("Deployment"), Some("api"), Some("php-fpm"))
    );
    assert_eq!(fpm["per_child_peak_bytes"], 80.0 * MIB);
    assert_eq!(fpm["max_active"], 3.0);
    assert!(run.stdout.contains("php-fpm exporter: figures for 1 workload container(s)"), "{}", run.stdout);
    let envoy = find("StatefulSet", "db", "envoy");
    assert_eq!(envoy["resources"]["cpu_limit_cores"], Value::Null, "no CPU limit set");
    assert_eq!(envoy["resources"]["memory_request_bytes"], 256.0 * MIB);
    find("DaemonSet", "agent", "nginx");
    find("CronJob", "report", "nginx");
    assert!(run.stdout.contains("1 with OOM kills"), "{}", run.stdout);
    assert_eq!(state["through_ms"], data.last_ms);

    // The same recommendations as the generated samples imported directly.
    let direct = dir.path().join("direct");
    Store::open_or_create(&direct).unwrap().append(data.truth.clone()).unwrap();
    // Same facts on both sides (current settings, the OOM kill that raises php-fpm's memory
    // limit): only the samples' path differs.
    std::fs::create_dir_all(direct.join("imports")).unwrap();
    for entry in std::fs::read_dir(store.join("imports")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), direct.join("imports").join(entry.file_name())).unwrap();
    }
    let (a, b) = (recommend(&store), recommend(&direct));
    let php = a.iter().find(|r| r["container"] == "php-fpm" && r["workload"]["name"] == "api").unwrap();
    assert!(
        php["rationale"].to_string().contains("OOM kill at the memory limit"),
        "the recorded OOM kill raises the limit"
    );
    assert!(php["current"]["memory"]["limit_bytes"].as_f64().is_some(), "current values from kube-state-metrics");
    assert_eq!(a.len(), b.len());
    assert_eq!(a.len(), 5 * 3, "every workload container is sized");
    for (x, y) in a.iter().zip(&b) {
        for field in ["namespace", "workload", "container", "status", "samples", "pods"] {
            assert_eq!(x[field], y[field], "{field} of {x}");
        }
        for (res, step) in [("cpu", 0.005), ("memory", MIB)] {
            for f in ["request", "limit"] {
                let key = if res == "cpu" { format!("{f}_cores") } else { format!("{f}_bytes") };
                let (p, q) = (x[res][&key].as_f64().unwrap_or(0.0), y[res][&key].as_f64().unwrap_or(0.0));
                assert!(
                    (p - q).abs() <= step + 1e-9,
                    "{} {}: {res} {f} {p} via Prometheus vs {q} direct",
                    x["workload"],
                    x["container"]
                );
            }
        }
    }
}

#[test]
fn incremental_reruns_and_resumed_interruptions() {
    if !tools_present("incremental_reruns_and_resumed_interruptions") {
        return;
    }
    let data = dataset();
    let prom = Prometheus::start(&data.blocks);
    let proxy = Proxy::start(prom.port, ProxyConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let since = ts(data.first_ms - DAY_MS);
    // 22:17 UTC three days in, whatever the time of day the test runs: the rest of that day is
    // one batch, so the interruption below lands in the next day's second batch.
    let mid = (data.first_ms + 3 * DAY_MS).div_euclid(DAY_MS) * DAY_MS + 22 * 3_600_000 + 17 * STEP;
    let args = |until: &str| -> Vec<String> {
        ["--since", &since, "--max-points", "20000", "--concurrency", "1", "--until", until]
            .iter()
            .map(std::string::ToString::to_string)
            .collect()
    };
    let first = import(&proxy.url(), &store, &args(&ts(mid)).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(first.ok, "{}", first.stderr);
    assert_same_rows(&stored(&store), &truth_rows(&data.truth, mid));

    // Interrupted after the probe, the rest of the first day (one batch) and one batch of the
    // next day (four pods of several): what
    // was fetched stays, the error says to re-run.
    proxy.state.config.lock().unwrap().fail_range_after = Some(proxy.state.range_queries.load(Ordering::SeqCst) + 3);
    let until = ts(data.last_ms);
    let broken = import(&proxy.url(), &store, &args(&until).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!broken.ok);
    assert!(broken.stderr.contains("injected failure"), "{}", broken.stderr);
    assert!(broken.stderr.contains("re-run the same command to resume"), "{}", broken.stderr);
    let partial = stored(&store).len();
    let done_pods = state_file(&store)["pending"]["done"].as_array().unwrap().len();
    assert!(
        done_pods > 0 && partial > truth_rows(&data.truth, mid).len(),
        "batches before the failure were stored: {done_pods} pods, {partial} rows; {}; state {}",
        broken.stderr,
        state_file(&store)
    );

    // Resumed: only what is missing is fetched, and the store ends up exactly complete.
    proxy.state.config.lock().unwrap().fail_range_after = None;
    let resumed = import(&proxy.url(), &store, &args(&until).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(resumed.ok, "{}", resumed.stderr);
    let all = truth_rows(&data.truth, data.last_ms);
    assert_same_rows(&stored(&store), &all);
    let fetched = figure(&resumed.stdout, "samples:");
    let added = figure(&resumed.stdout, "fetched, ");
    assert_eq!(added as usize, all.len() - partial, "{}", resumed.stdout);
    assert!(
        (fetched as usize) < all.len() - truth_rows(&data.truth, mid).len(),
        "pods already stored are skipped: {}",
        resumed.stdout
    );

    // Nothing new: no range query at all. With the default --until (now), only the last minutes.
    let before = proxy.state.range_queries.load(Ordering::SeqCst);
    let again = import(&proxy.url(), &store, &args(&until).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(again.ok && again.stdout.contains("nothing new"), "{}", again.stdout);
    assert_eq!(proxy.state.range_queries.load(Ordering::SeqCst), before);
    let now_run = import(&proxy.url(), &store, &["--since", &since, "--max-points", "100000"]);
    assert!(now_run.ok, "{}", now_run.stderr);
    assert_eq!(figure(&now_run.stdout, "fetched, "), 0, "{}", now_run.stdout);
    assert_same_rows(&stored(&store), &all);
}

#[test]
fn without_kube_state_metrics_workloads_come_from_pod_names() {
    if !tools_present("without_kube_state_metrics_workloads_come_from_pod_names") {
        return;
    }
    let data = dataset();
    let prom = Prometheus::start(&data.bare_blocks);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (since, until) = (ts(data.first_ms), ts(data.last_ms));
    let run =
        import(&prom.url(), &store, &["--since", &since, "--until", &until, "-n", "shop", "--cluster", "prod-eu"]);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stderr.contains("no kube-state-metrics series (kube_pod_owner) found"), "{}", run.stderr);
    let rows = stored(&store);
    let workloads: BTreeSet<(String, String, String)> =
        rows.keys().map(|(ns, kind, name, ..)| (ns.clone(), kind.clone(), name.clone())).collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("shop", "Deployment", "api"),
        ("shop", "Deployment", "web"),
        ("shop", "Pod", "db-0"),
        ("shop", "Pod", "db-1"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(workloads, expected, "-n shop only; Deployments recognised by name, the rest by pod");
    let shop_rows = data.truth.iter().filter(|s| s.namespace == "shop").count();
    assert_eq!(rows.len(), shop_rows);
    let recs = recommend(&store);
    assert!(recs.iter().any(|r| r["workload"]["name"] == "api" && r["status"] == "sized"), "{recs:?}");
    assert!(recs.iter().all(|r| r["cluster"] == "prod-eu"), "--cluster is recorded on every sample");
    assert_eq!(state_file(&store)["identity_cluster"], "prod-eu");
}

#[test]
fn auth_headers_reach_prometheus() {
    if !tools_present("auth_headers_reach_prometheus") {
        return;
    }
    let data = dataset();
    let prom = Prometheus::start(&data.blocks);
    let token = "s3cr3t-token";
    let proxy =
        Proxy::start(prom.port, ProxyConfig { require_auth: Some(format!("Bearer {token}")), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let range = ["--since", &ts(data.last_ms - DAY_MS), "--until", &ts(data.last_ms)];

    let refused = import(&proxy.url(), &store, &range);
    assert!(!refused.ok);
    assert!(refused.stderr.contains("HTTP 401"), "{}", refused.stderr);
    assert!(!store.exists(), "a failed first import creates no store");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut args = range.to_vec();
    args.extend(["--bearer-token-file", token_file.to_str().unwrap(), "--header", "X-Scope-OrgID: team-a"]);
    let run = import(&proxy.url(), &store, &args);
    assert!(run.ok, "{}", run.stderr);
    let headers = proxy.state.headers.lock().unwrap();
    let sent: Vec<_> = headers.iter().skip(1).collect();
    assert!(!sent.is_empty());
    for h in sent {
        assert_eq!(h.get("authorization").map(String::as_str), Some("Bearer s3cr3t-token"));
        assert_eq!(h.get("x-scope-orgid").map(String::as_str), Some("team-a"));
    }
    assert!(figure(&run.stdout, "fetched, ") > 0);

    let mut both = args.clone();
    both.extend(["--header", "Authorization: Basic eDp5"]);
    let conflict = import(&proxy.url(), &store, &both);
    assert!(!conflict.ok && conflict.stderr.contains("both set the Authorization header"), "{}", conflict.stderr);
}

#[test]
fn down_slow_and_bad_responses_are_errors_that_say_why() {
    if !tools_present("down_slow_and_bad_responses_are_errors_that_say_why") {
        return;
    }
    let data = dataset();
    let prom = Prometheus::start(&data.blocks);
    let dir = tempfile::tempdir().unwrap();
    let range = ["--since", &ts(data.last_ms - DAY_MS), "--until", &ts(data.last_ms), "--retries", "1"];

    // Down.
    let store = dir.path().join("down");
    let down = import(&format!("http://127.0.0.1:{}", free_port()), &store, &range);
    assert!(!down.ok && down.stderr.contains("cannot connect"), "{}", down.stderr);
    assert!(!store.exists());

    // Slow: each answer takes 3 s, the timeout is 1 s.
    let slow = Proxy::start(prom.port, ProxyConfig { delay: Duration::from_secs(3), ..Default::default() });
    let started = Instant::now();
    let mut args = range.to_vec();
    args.extend(["--timeout", "1s"]);
    let run = import(&slow.url(), &dir.path().join("slow"), &args);
    assert!(!run.ok && run.stderr.contains("no complete answer within 1s"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "gave up after the retries: {:?}", started.elapsed());
    assert_eq!(slow.requests(), 2, "one retry");
    // Slow but within the timeout: fine.
    slow.state.config.lock().unwrap().delay = Duration::from_millis(300);
    let ok = import(&slow.url(), &dir.path().join("slow-ok"), &range);
    assert!(ok.ok, "{}", ok.stderr);

    // Bad answers to query_range.
    let cases: [(u16, &str, &str); 5] = [
        (200, "<html><body>gateway says hi</body></html>", "not a Prometheus API response"),
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": parse error"}"#,
            "refused the query (bad_data)",
        ),
        (
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"namespace":"shop","pod":"p","container":"c"},"values":[[1,"twelve"]]}]}}"#,
            "\"twelve\" is not a number",
        ),
        (200, r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#, "expected a matrix"),
        (503, "Service Unavailable", "HTTP 503"),
    ];
    for (i, (status, body, expected)) in cases.iter().enumerate() {
        let bad = Proxy::start(
            prom.port,
            ProxyConfig { range_answer: Some((*status, body.to_string())), ..Default::default() },
        );
        let store = dir.path().join(format!("bad-{i}"));
        let run = import(&bad.url(), &store, &range);
        assert!(!run.ok && run.stderr.contains(expected), "case {i}: {}", run.stderr);
        assert!(stored(&store).is_empty(), "nothing stored from a bad answer");
    }

    // A bad regex in --selector: the real Prometheus refuses it, and says why (remote read
    // answers HTTP 500, query_range an API error).
    for (api, said) in [("remote-read", "/api/v1/read: HTTP 500"), ("query-range", "bad_data")] {
        let mut args = range.to_vec();
        args.extend(["--selector", r#"job=~"(""#, "--read-api", api]);
        let run = import(&prom.url(), &dir.path().join(format!("bad-selector-{api}")), &args);
        assert!(!run.ok && run.stderr.contains(said), "{}", run.stderr);
        assert!(
            run.stderr.contains("missing closing )") || run.stderr.contains("error parsing regexp"),
            "{}",
            run.stderr
        );
    }
}

/// Acceptance: 7 days of 500 containers at 60 s, with a bounded and reported number of requests.
#[test]
fn a_week_of_500_containers_takes_a_bounded_number_of_requests() {
    if !tools_present("a_week_of_500_containers_takes_a_bounded_number_of_requests") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let start = now.div_euclid(STEP) * STEP - 7 * DAY_MS - 5 * STEP;
    let spec = FleetSpec::fleet(500, start, 7, STEP);
    let mut truth = Vec::new();
    for day in 0..7 {
        spec.generate_day(day, |s| truth.push(s));
    }
    let text = dir.path().join("fleet.om");
    let mut fleet = FleetSeries::default();
    truth.iter().for_each(|s| fleet.add(s));
    fleet.write_openmetrics(&text);
    backfill(&text, &dir.path().join("blocks"));
    std::fs::remove_file(&text).unwrap();
    let prom = Prometheus::start(&dir.path().join("blocks"));
    let proxy = Proxy::start(prom.port, ProxyConfig::default());
    let store = dir.path().join("store");
    let last = truth.iter().map(|s| s.timestamp_ms).max().unwrap();
    let started = Instant::now();
    let run = import(&proxy.url(), &store, &["--since", "7d", "--until", &ts(last)]);
    let wall = started.elapsed();
    assert!(run.ok, "{}", run.stderr);
    println!("{}\nwall time {:.1}s", run.stdout, wall.as_secs_f64());
    let requests = figure(&run.stdout, "requests:");
    assert_eq!(requests as usize, proxy.requests());
    // 501 workload containers; the mid-week rollout replaces every pod, so twice as many pod series.
    let containers = spec.containers();
    let series: BTreeSet<(&str, &str, &str)> =
        truth.iter().map(|s| (s.namespace.as_str(), s.pod.as_str(), s.container.as_str())).collect();
    assert_eq!(series.len(), 2 * containers);
    let planned = podsizer::sources::prometheus::request_count(
        series.len(),
        3,
        last - 7 * DAY_MS,
        last,
        STEP,
        500_000,
        RemoteRead,
    );
    // Day windows hold only the pods alive that day: at most as planned (every pod every day).
    assert!(
        requests <= planned && requests >= planned / 2,
        "{requests} requests, planned {planned}: 1 discovery + 1 remote read per pod batch and day + probe + kube-state-metrics"
    );
    assert!(run.stdout.contains("read path: remote read"), "{}", run.stdout);
    assert!(requests <= 150, "{requests} requests for {containers} containers");
    assert_eq!(figure(&run.stdout, "containers:") as usize, containers);
    assert_eq!(figure(&run.stdout, "workload(s), as") as usize, series.len());
    let rows = stored(&store);
    let want = truth.iter().filter(|s| s.timestamp_ms >= last - 7 * DAY_MS).count();
    assert_eq!(rows.len(), want);
}

/// One DaemonSet pod with usage every minute for six hours from `t0` (a UTC midnight) and
/// kube-state-metrics scraped every 5 minutes for its first hour only (then down): the
/// usage after that hour lies where no kube_pod_owner sample of the pod is.
fn owner_gap_blocks(dir: &Path, t0: i64) -> PathBuf {
    let text = dir.join("gap.om");
    let mut f = BufWriter::new(std::fs::File::create(&text).unwrap());
    let labels = r#"namespace="logging",pod="agent-xk2lp",container="envoy",job="kubelet""#;
    let minutes = 0..=360;
    writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} 0 {}", (t0 - STEP) / 1000).unwrap();
    for m in minutes.clone() {
        // 0.1 core: the counter gains 6 s a minute.
        writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} {} {}", 6 * (m + 1), (t0 + m * STEP) / 1000)
            .unwrap();
    }
    for m in minutes {
        writeln!(f, "container_memory_working_set_bytes{{{labels}}} {} {}", 100.0 * MIB, (t0 + m * STEP) / 1000)
            .unwrap();
    }
    for m in (0..=60).step_by(5) {
        writeln!(
            f,
            r#"kube_pod_owner{{namespace="logging",pod="agent-xk2lp",owner_kind="DaemonSet",owner_name="agent",owner_is_controller="true"}} 1 {}"#,
            (t0 + m * STEP) / 1000
        )
        .unwrap();
    }
    writeln!(f, "# EOF").unwrap();
    f.flush().unwrap();
    drop(f);
    let blocks = dir.join("gap-blocks");
    backfill(&text, &blocks);
    blocks
}

/// Workloads of the stored rows at or after `from_ms`, with their row counts.
fn workloads_from(store: &Path, from_ms: i64) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (ns, kind, name, ..) in stored(store).keys().filter(|r| r.5 >= from_ms) {
        *out.entry((format!("{ns}/{kind}"), name.clone())).or_default() += 1;
    }
    out
}

#[test]
fn a_pod_keeps_its_owner_where_kube_state_metrics_has_no_sample_of_it() {
    if !tools_present("a_pod_keeps_its_owner_where_kube_state_metrics_has_no_sample_of_it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t0 = (chrono::Utc::now().timestamp_millis() / DAY_MS - 2) * DAY_MS;
    let prom = Prometheus::start(&owner_gap_blocks(dir.path(), t0));
    let at = |minutes: i64| ts(t0 + minutes * STEP);
    let daemonset = |rows| BTreeMap::from([(("logging/DaemonSet".to_string(), "agent".to_string()), rows)]);

    // Starting 40 minutes after the last kube_pod_owner sample: found by looking an hour back.
    let store = dir.path().join("lookback");
    let run = import(&prom.url(), &store, &["--since", &at(100), "--until", &at(180)]);
    assert!(run.ok, "{}", run.stderr);
    assert!(!run.stderr.contains("no kube_pod_owner"), "{}", run.stderr);
    assert_eq!(workloads_from(&store, 0), daemonset(81), "minutes 100..=180");

    // A re-run starting two hours after it: the first run's state remembers the pod's owner,
    // so its rows are never filed under a second workload (the pod's own name).
    let store = dir.path().join("rerun");
    let first = import(&prom.url(), &store, &["--since", &at(0), "--until", &at(180)]);
    assert!(first.ok, "{}", first.stderr);
    assert_eq!(workloads_from(&store, 0), daemonset(181), "minutes 0..=180");
    let second = import(&prom.url(), &store, &["--since", &at(0), "--until", &at(360)]);
    assert!(second.ok, "{}", second.stderr);
    assert!(!second.stderr.contains("no kube_pod_owner"), "{}", second.stderr);
    assert_eq!(workloads_from(&store, t0 + 181 * STEP), daemonset(180), "minutes 181..=360");
    assert_eq!(workloads_from(&store, 0), daemonset(361), "one workload for the pod's whole life");
}

/// Two clusters' series in one Prometheus, as a Thanos or Mimir querier shows them: the same
/// pod name in both, a constant 0.2 cores / 100 MiB in `eu` and 0.5 cores / 300 MiB in `us`,
/// every minute for 25 hours from `t0`; in `us` the pod's ReplicaSet belongs to `api-v2`.
/// A third copy carries no cluster label (a fleet import leaves it out).
fn two_cluster_blocks(dir: &Path, t0: i64) -> PathBuf {
    let text = dir.join("fleet.om");
    let mut f = BufWriter::new(std::fs::File::create(&text).unwrap());
    let pod = "api-5b8f7d9c4-x2x9k";
    let clusters =
        [(r#"cluster="eu","#, 0.2, 100.0, "api"), (r#"cluster="us","#, 0.5, 300.0, "api-v2"), ("", 0.9, 900.0, "x")];
    let sec = |m: i64| (t0 + m * STEP) / 1000;
    for (cluster, cores, _, _) in clusters {
        let labels = format!(r#"{cluster}namespace="shop",pod="{pod}",container="app",job="kubelet""#);
        writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} 0 {}", sec(-1)).unwrap();
        for m in 0..=1500 {
            writeln!(f, "container_cpu_usage_seconds_total{{{labels}}} {} {}", cores * 60.0 * (m + 1) as f64, sec(m))
                .unwrap();
        }
    }
    for (cluster, _, mib, _) in clusters {
        let labels = format!(r#"{cluster}namespace="shop",pod="{pod}",container="app",job="kubelet""#);
        for m in 0..=1500 {
            writeln!(f, "container_memory_working_set_bytes{{{labels}}} {} {}", mib * MIB, sec(m)).unwrap();
        }
    }
    for (cluster, ..) in clusters {
        for m in (0..=1500).step_by(5) {
            writeln!(f, r#"kube_pod_owner{{{cluster}namespace="shop",pod="{pod}",owner_kind="ReplicaSet",owner_name="api-5b8f7d9c4",owner_is_controller="true"}} 1 {}"#, sec(m)).unwrap();
        }
    }
    for (cluster, _, _, deployment) in clusters {
        for m in (0..=1500).step_by(5) {
            writeln!(f, r#"kube_replicaset_owner{{{cluster}namespace="shop",replicaset="api-5b8f7d9c4",owner_kind="Deployment",owner_name="{deployment}",owner_is_controller="true"}} 1 {}"#, sec(m)).unwrap();
        }
    }
    writeln!(f, "# EOF").unwrap();
    f.flush().unwrap();
    drop(f);
    let blocks = dir.join("fleet-blocks");
    backfill(&text, &blocks);
    blocks
}

/// Per (cluster, kind/workload): rows, and the distinct (cpu, memory MiB) among them.
type ClusterRows = BTreeMap<(String, String), (usize, BTreeSet<(String, String)>)>;

fn rows_by_cluster(store: &Path) -> ClusterRows {
    let mut out = ClusterRows::new();
    Store::open(store)
        .unwrap()
        .scan(None, None, |r| {
            let e = out.entry((r.cluster.to_string(), format!("{}/{}", r.workload_kind, r.workload))).or_default();
            e.0 += 1;
            e.1.insert((format!("{:.6}", r.cpu_cores), format!("{}", r.memory_bytes / MIB)));
        })
        .unwrap();
    out
}

#[test]
fn a_bare_cluster_label_imports_every_cluster_under_its_own_name() {
    if !tools_present("a_bare_cluster_label_imports_every_cluster_under_its_own_name") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t0 = (chrono::Utc::now().timestamp_millis() / DAY_MS - 3) * DAY_MS;
    let prom = Prometheus::start(&two_cluster_blocks(dir.path(), t0));
    let store = dir.path().join("store");
    let range = ["--since", &ts(t0), "--until", &ts(t0 + 1500 * STEP), "--cluster-label", "cluster"];

    let one = |cpu: &str, mib: &str| (1501, BTreeSet::from([(cpu.to_string(), mib.to_string())]));
    let expected = BTreeMap::from([
        (("eu".to_string(), "Deployment/api".to_string()), one("0.200000", "100")),
        (("us".to_string(), "Deployment/api-v2".to_string()), one("0.500000", "300")),
    ]);

    // Remote reads: per cluster a probe and one per UTC day (two). The sixth, us's second day, fails.
    let proxy = Proxy::start(prom.port, ProxyConfig { fail_range_after: Some(5), ..Default::default() });
    let broken = import(&proxy.url(), &store, &range);
    assert!(!broken.ok && broken.stderr.contains("injected failure"), "{}", broken.stderr);
    assert!(broken.stdout.contains("2 cluster(s) by label cluster: eu, us"), "{}", broken.stdout);
    let partial = rows_by_cluster(&store);
    assert_eq!(partial.get(&("eu".to_string(), "Deployment/api".to_string())), expected.values().next());
    assert_eq!(partial[&("us".to_string(), "Deployment/api-v2".to_string())].0, 1440, "us: its first day only");

    // Resumed: eu has nothing new, us its second day; then each cluster is complete.
    proxy.state.config.lock().unwrap().fail_range_after = None;
    let run = import(&proxy.url(), &store, &range);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.stdout.matches("nothing new").count(), 1, "{}", run.stdout);
    assert_eq!(figure(&run.stdout, "fetched, "), 61, "{}", run.stdout);
    assert_eq!(rows_by_cluster(&store), expected, "minutes 0..=1500 per cluster, each with its own figures and owner");

    let recs = recommend(&store);
    let summary: BTreeSet<(String, String, String)> = recs
        .iter()
        .map(|r| {
            let (cluster, name, status) = (&r["cluster"], &r["workload"]["name"], &r["status"]);
            (cluster.as_str().unwrap().into(), name.as_str().unwrap().into(), status.as_str().unwrap().into())
        })
        .collect();
    let sized = |c: &str, w: &str| (c.to_string(), w.to_string(), "sized".to_string());
    assert_eq!(summary, BTreeSet::from([sized("eu", "api"), sized("us", "api-v2")]), "{recs:?}");
    let cpu = |c: &str| recs.iter().find(|r| r["cluster"] == c).unwrap()["cpu"]["request_cores"].as_f64().unwrap();
    assert!(cpu("eu") < cpu("us"), "eu {} vs us {}: sized on each cluster's own usage", cpu("eu"), cpu("us"));

    // A re-run adds nothing, cluster by cluster.
    let before = proxy.state.range_queries.load(Ordering::SeqCst);
    let again = import(&proxy.url(), &store, &range);
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(again.stdout.matches("nothing new").count(), 2, "{}", again.stdout);
    assert_eq!(proxy.state.range_queries.load(Ordering::SeqCst), before, "no usage is read again");
    assert_eq!(rows_by_cluster(&store), expected);

    // A label no series carries, and one that is no label name: exit 2 naming it.
    for label in ["region", "1-cluster"] {
        let bad = import(
            &prom.url(),
            &store,
            &["--since", &ts(t0), "--until", &ts(t0 + 1500 * STEP), "--cluster-label", label],
        );
        assert!(!bad.ok);
        assert!(bad.stderr.contains(&format!("--cluster-label {label}")), "{}", bad.stderr);
        assert!(bad.stderr.contains(&format!("`{label}`")), "{}", bad.stderr);
    }
}

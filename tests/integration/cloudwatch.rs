//! `podsizer import cloudwatch` against moto's server (CloudWatch Logs as is, CloudWatch through
//! the RPC v2 CBOR translator in `support/cloudwatch_proxy.py`), seeded with an `api`
//! Deployment (containers nginx, php-fpm, envoy; a rollout half-way) over several days.
//!
//! What is real and what is not: moto stores and answers every call (PutLogEvents,
//! FilterLogEvents, PutMetricData, ListMetrics, GetMetricData). The proxy translates CBOR, cuts
//! moto's answers into pages (moto does not page GetMetricData), and injects the IAM-style
//! failures (AccessDenied, Throttling, ExpiredToken) keyed on the access key id: moto's own IAM
//! enforcement is off on the shared server. Each test uses its own region and cluster.

use assert_cmd::Command;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use podsizer::domain::{Sample, DAY_MS, HOUR_MS};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

use crate::support::cloudwatch as support;
use crate::support::moto;
use crate::support::rows;
use rows::{rows_of, stored, Row};
use support::{proxy, Pages, Proxy};

const MIN_MS: i64 = 60_000;

// ---------------------------------------------------------------------------------------------
// The seeded cluster

/// A pod of the `api` Deployment: (pod name, ReplicaSet hash, node).
const OLD_PODS: [(&str, &str, &str); 2] =
    [("api-5b8f7d9c4-x2x9k", "5b8f7d9c4", "ip-10-0-1-17"), ("api-5b8f7d9c4-q7zmv", "5b8f7d9c4", "ip-10-0-2-41")];
const NEW_PODS: [(&str, &str, &str); 2] =
    [("api-7c9d8f6b5-h4k2p", "7c9d8f6b5", "ip-10-0-1-17"), ("api-7c9d8f6b5-w8n5t", "7c9d8f6b5", "ip-10-0-2-41")];
const CONTAINERS: [&str; 3] = ["nginx", "php-fpm", "envoy"];
const NODE_MILLICORES: f64 = 4000.0;
const NODE_BYTES: f64 = 16.0 * 1024.0 * 1024.0 * 1024.0;

/// (cpu request, cpu limit) in millicores and (memory request, memory limit) in bytes.
fn resources(container: &str) -> (f64, Option<f64>, f64, Option<f64>) {
    match container {
        "nginx" => (100.0, Some(500.0), 64.0 * 1048576.0, Some(256.0 * 1048576.0)),
        "php-fpm" => (500.0, None, 512.0 * 1048576.0, None),
        _ => (50.0, Some(250.0), 32.0 * 1048576.0, Some(128.0 * 1048576.0)),
    }
}

/// Usage of a container at step `i`: millicores (with fractions) and whole bytes.
fn usage(container: &str, pod: usize, i: i64) -> (f64, f64) {
    let wave = ((i as f64) / 30.0).sin() * 0.4 + 1.0;
    let jitter = ((i * 7919 + pod as i64 * 104_729) % 1000) as f64 / 1000.0;
    let (cpu, mem) = match container {
        "nginx" => (40.0, 60.0 * 1048576.0),
        "php-fpm" => (330.0, 420.0 * 1048576.0),
        _ => (70.0, 40.0 * 1048576.0),
    };
    (cpu * wave + jitter * 17.0 + 0.123, (mem * (0.9 + 0.1 * wave)).round() + (jitter * 4096.0).round())
}

fn pods_at(i: i64, steps: i64) -> [(&'static str, &'static str, &'static str); 2] {
    if i < steps / 2 {
        OLD_PODS
    } else {
        NEW_PODS
    }
}

fn sample(ts: i64, pod: &str, container: &str, cpu_millicores: f64, memory: f64) -> Sample {
    Sample {
        timestamp_ms: ts,
        namespace: "shop".into(),
        workload_kind: "Deployment".into(),
        workload: "api".into(),
        pod: pod.into(),
        container: container.into(),
        cpu_cores: cpu_millicores / 1000.0,
        memory_bytes: memory,
        ..Default::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Logs mode seeding: performance log events as the CloudWatch agent writes them

fn container_event(cluster: &str, ts: i64, pod: (&str, &str, &str), container: &str, cpu: f64, mem: f64) -> Value {
    let (pod_name, hash, node) = pod;
    let (cpu_req, cpu_lim, mem_req, mem_lim) = resources(container);
    // The agent names the ReplicaSet for some pods and resolves the Deployment for others.
    let owner = if hash == "5b8f7d9c4" {
        json!({"owner_kind": "ReplicaSet", "owner_name": format!("api-{hash}")})
    } else {
        json!({"owner_kind": "Deployment", "owner_name": "api"})
    };
    let mut e = json!({
        "AutoScalingGroupName": "eks-workers", "ClusterName": cluster, "InstanceId": "i-0abc", "InstanceType": "m5.xlarge",
        "Namespace": "shop", "NodeName": node, "PodName": "api", "Service": "api", "Sources": ["cadvisor", "pod", "calculated"],
        "Timestamp": ts.to_string(), "Type": "Container", "Version": "0",
        "container_cpu_request": cpu_req, "container_cpu_usage_total": cpu, "container_cpu_usage_user": cpu * 0.7,
        "container_cpu_utilization": cpu / NODE_MILLICORES * 100.0,
        "container_memory_request": mem_req, "container_memory_working_set": mem, "container_memory_usage": mem + 8192.0,
        "container_status": "Running", "number_of_container_restarts": 0,
        "kubernetes": {
            "container_name": container, "host": format!("{node}.eu-west-1.compute.internal"),
            "labels": {"app": "api", "pod-template-hash": hash}, "namespace_name": "shop",
            "pod_id": format!("uid-{pod_name}"), "pod_name": pod_name, "pod_owners": [owner], "service_name": "api"
        }
    });
    if let Some(l) = cpu_lim {
        e["container_cpu_limit"] = json!(l);
    }
    if let Some(l) = mem_lim {
        e["container_memory_limit"] = json!(l);
    }
    e
}

struct SeededLogs {
    expected: Vec<Sample>,
    malformed: u64,
}

/// Three days of events every two minutes, one log stream per node, plus Node events and
/// three malformed container events.
fn seed_logs(proxy: &Proxy, region: &str, cluster: &str, start: i64, days: i64) -> SeededLogs {
    let steps = days * DAY_MS / (2 * MIN_MS);
    let mut streams: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    let mut expected = Vec::new();
    for i in 0..steps {
        let ts = start + i * 2 * MIN_MS + 137;
        for (p, pod) in pods_at(i, steps).into_iter().enumerate() {
            for c in CONTAINERS {
                let (cpu, mem) = usage(c, p, i);
                let mut e = container_event(cluster, ts, pod, c, cpu, mem);
                if c == "php-fpm" && i == steps - 10 && p == 1 {
                    e["container_last_termination_reason"] = json!("OOMKilled");
                }
                streams.entry(pod.2.to_string()).or_default().push((ts, e.to_string()));
                expected.push(sample(ts, pod.0, c, cpu, mem));
            }
        }
        if i % 5 == 0 {
            for node in ["ip-10-0-1-17", "ip-10-0-2-41"] {
                let e = json!({"Type": "Node", "Timestamp": ts.to_string(), "ClusterName": cluster, "NodeName": node,
                    "node_cpu_limit": NODE_MILLICORES, "node_cpu_usage_total": 812.5, "kubernetes": {"host": node}});
                streams.entry(node.to_string()).or_default().push((ts + 1, e.to_string()));
            }
        }
    }
    // Junk the import must count and skip, never store.
    let bad_ts = start + 3 * MIN_MS + 500;
    let mut missing_memory = container_event(cluster, bad_ts, NEW_PODS[0], "nginx", 1.0, 1.0);
    missing_memory.as_object_mut().unwrap().remove("container_memory_working_set");
    let mut negative = container_event(cluster, bad_ts, NEW_PODS[1], "envoy", -5.0, 1.0);
    negative["kubernetes"]["container_name"] = json!("envoy");
    let junk = [missing_memory.to_string(), negative.to_string(), "{\"Type\":\"Container\", truncated".to_string()];
    streams.entry("ip-10-0-1-17".into()).or_default().extend(junk.iter().map(|j| (bad_ts, j.clone())));

    let (logs, _) = proxy.clients(region, "AKIDSEED");
    let group = format!("/aws/containerinsights/{cluster}/performance");
    runtime().block_on(async {
        logs.create_log_group().log_group_name(&group).send().await.unwrap();
        for (stream, mut events) in streams {
            events.sort_by_key(|(t, _)| *t);
            logs.create_log_stream().log_group_name(&group).log_stream_name(&stream).send().await.unwrap();
            for chunk in events.chunks(1000) {
                let batch: Vec<InputLogEvent> = chunk
                    .iter()
                    .map(|(t, m)| InputLogEvent::builder().timestamp(*t).message(m).build().unwrap())
                    .collect();
                logs.put_log_events()
                    .log_group_name(&group)
                    .log_stream_name(&stream)
                    .set_log_events(Some(batch))
                    .send()
                    .await
                    .unwrap();
            }
        }
    });
    SeededLogs { expected, malformed: junk.len() as u64 }
}

// ---------------------------------------------------------------------------------------------
// Metrics mode seeding: enhanced-observability metrics, hourly (data older than 63 days)

struct SeededMetrics {
    expected: Vec<Sample>,
}

fn dims(cluster: &str, pod: &str, container: &str) -> Vec<Dimension> {
    [
        ("ClusterName", cluster),
        ("Namespace", "shop"),
        ("PodName", "api"),
        ("FullPodName", pod),
        ("ContainerName", container),
    ]
    .into_iter()
    .map(|(n, v)| Dimension::builder().name(n).value(v).build())
    .collect()
}

fn datum(name: &str, dims: Vec<Dimension>, ts: i64, value: f64, unit: StandardUnit) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(dims))
        .timestamp(DateTime::from_millis(ts))
        .value(value)
        .unit(unit)
        .build()
}

/// `hours` hourly points from `start` (on the hour): nginx and envoy report % of their limit and
/// the limit; php-fpm has no limits and reports % of the node, whose capacity is the same on both
/// nodes. The expected samples are the usage the percentages were made from.
fn seed_metrics(proxy: &Proxy, region: &str, cluster: &str, start: i64, hours: i64) -> SeededMetrics {
    let mut data = Vec::new();
    let mut expected = Vec::new();
    for i in 0..hours {
        let ts = start + i * HOUR_MS;
        // Two nodes of the same size.
        for _ in 0..2 {
            let d = vec![Dimension::builder().name("ClusterName").value(cluster).build()];
            data.push(datum("node_cpu_limit", d.clone(), ts, NODE_MILLICORES, StandardUnit::None));
            data.push(datum("node_memory_limit", d, ts, NODE_BYTES, StandardUnit::Bytes));
        }
        for (p, pod) in pods_at(i, hours).into_iter().enumerate() {
            for c in CONTAINERS {
                let (cpu, mem) = usage(c, p, i);
                let (cpu_req, cpu_lim, mem_req, mem_lim) = resources(c);
                let d = || dims(cluster, pod.0, c);
                let pct = StandardUnit::Percent;
                if let (Some(cl), Some(ml)) = (cpu_lim, mem_lim) {
                    data.push(datum(
                        "container_cpu_utilization_over_container_limit",
                        d(),
                        ts,
                        cpu * 100.0 / cl,
                        pct.clone(),
                    ));
                    data.push(datum("container_cpu_limit", d(), ts, cl, StandardUnit::None));
                    data.push(datum(
                        "container_memory_utilization_over_container_limit",
                        d(),
                        ts,
                        mem * 100.0 / ml,
                        pct.clone(),
                    ));
                    data.push(datum("container_memory_limit", d(), ts, ml, StandardUnit::Bytes));
                } else {
                    data.push(datum("container_cpu_utilization", d(), ts, cpu * 100.0 / NODE_MILLICORES, pct.clone()));
                    data.push(datum("container_memory_utilization", d(), ts, mem * 100.0 / NODE_BYTES, pct.clone()));
                }
                data.push(datum("container_cpu_request", d(), ts, cpu_req, StandardUnit::None));
                data.push(datum("container_memory_request", d(), ts, mem_req, StandardUnit::Bytes));
                expected.push(sample(ts, pod.0, c, cpu, mem));
            }
        }
    }
    let (_, cw) = proxy.clients(region, "AKIDSEED");
    runtime().block_on(async {
        for chunk in data.chunks(500) {
            cw.put_metric_data()
                .namespace("ContainerInsights")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    });
    SeededMetrics { expected }
}

// ---------------------------------------------------------------------------------------------
// Running the import and reading the store

fn podsizer(proxy: &Proxy, region: &str, access_key: &str) -> Command {
    let mut cmd = Command::cargo_bin("podsizer").unwrap();
    for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "AWS_PROFILE"] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", region)
        .env("AWS_CONFIG_FILE", "/nonexistent/podsizer-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/podsizer-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["import", "cloudwatch", "--endpoint-url", proxy.url.as_str()]);
    cmd
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    o.stdout
}

/// A number printed after `label`.
fn figure(text: &str, label: &str) -> u64 {
    let at = text.find(label).unwrap_or_else(|| panic!("no {label:?} in:\n{text}")) + label.len();
    text[at..].trim_start().chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

fn state(store: &Path) -> Value {
    let dir = store.join("imports");
    let file =
        std::fs::read_dir(&dir).unwrap().flatten().find(|e| e.file_name().to_string_lossy().starts_with("cloudwatch-"));
    serde_json::from_str(&std::fs::read_to_string(file.expect("a cloudwatch state file").path()).unwrap()).unwrap()
}

fn current<'a>(state: &'a Value, container: &str) -> &'a Value {
    state["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["container"] == container && c["workload"] == "api")
        .unwrap_or_else(|| panic!("no current settings for {container}: {state}"))
}

fn hour_floor(t: i64) -> i64 {
    t - t.rem_euclid(HOUR_MS)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------------
// Logs mode

#[test]
fn logs_import_stores_exactly_the_seeded_events_and_a_rerun_adds_nothing() {
    let proxy = proxy(Pages { log_events: 1000, ..Pages::default() });
    let (region, cluster) = ("eu-west-1", moto::unique("logs"));
    let seeded = seed_logs(&proxy, region, &cluster, hour_floor(now_ms()) - 3 * DAY_MS - HOUR_MS, 3);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();

    let out = ok(podsizer(&proxy, region, "AKIDLOGS1").args([
        "--cluster",
        cluster.as_str(),
        "--store",
        store_arg,
        "--since",
        "4d",
    ]));
    assert!(out.contains("performance logs"), "auto picks the logs when the log group exists:\n{out}");
    let got = stored(&store);
    let want = rows_of(&seeded.expected);
    let mut clusters = std::collections::BTreeSet::new();
    podsizer::store::Store::open(&store)
        .unwrap()
        .scan(None, None, |r| {
            clusters.insert(r.cluster.to_string());
        })
        .unwrap();
    assert_eq!(clusters.into_iter().collect::<Vec<_>>(), std::slice::from_ref(&cluster), "rows carry the ClusterName");
    assert_eq!(got.len(), want.len());
    let diff: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .take(3)
        .map(|(k, v)| (k.clone(), *v, got.get(k).copied()))
        .collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(3).collect();
    assert!(got == want, "stored samples differ from the seeded events: {diff:?} extra {extra:?}");
    assert_eq!(figure(&out, "samples:"), want.len() as u64);
    assert_eq!(figure(&out, "other types or namespaces skipped,"), seeded.malformed, "{out}");
    let pages = figure(&out, "FilterLogEvents");
    assert!(pages as usize >= want.len() / 1000, "pages of 1000 events: {out}");
    assert_eq!(proxy.calls("AKIDLOGS1").get("FilterLogEvents"), Some(&pages), "calls reported = calls made");

    // Requests, limits and the OOM kill, for sizing.
    let s = state(&store);
    assert_eq!(s["mode"], "logs");
    assert_eq!(current(&s, "nginx")["resources"]["cpu_limit_cores"], 0.5);
    assert_eq!(current(&s, "php-fpm")["resources"]["cpu_limit_cores"], Value::Null);
    assert_eq!(current(&s, "php-fpm")["resources"]["memory_request_bytes"], 512.0 * 1048576.0);
    assert_eq!(current(&s, "php-fpm")["oom_killed_pods"], json!([NEW_PODS[1].0]));
    let facts = podsizer::store::facts::Facts::load(&store);
    assert_eq!(facts.current.len(), 3, "store::facts reads the cloudwatch side file");

    // Nothing new: one call over the minutes since, nothing added.
    let again = ok(podsizer(&proxy, region, "AKIDLOGS2").args([
        "--cluster",
        cluster.as_str(),
        "--store",
        store_arg,
        "--since",
        "4d",
    ]));
    assert_eq!(figure(&again, "samples:"), 0, "{again}");
    assert!(figure(&again, "FilterLogEvents") <= 2, "only the minutes since (a day boundary may split them):\n{again}");
    assert!(stored(&store) == want);
}

#[test]
fn logs_import_resumes_after_an_interruption_without_refetching() {
    let proxy = proxy(Pages { log_events: 500, ..Pages::default() });
    let (region, cluster) = ("eu-west-2", moto::unique("resume"));
    let seeded = seed_logs(&proxy, region, &cluster, hour_floor(now_ms()) - 2 * DAY_MS - HOUR_MS, 2);
    let want = rows_of(&seeded.expected);
    let dir = tempfile::tempdir().unwrap();
    let args = |store: &Path| {
        vec![
            "--cluster".to_string(),
            cluster.clone(),
            "--store".into(),
            store.display().to_string(),
            "--since".into(),
            "3d".into(),
            "--from".into(),
            "logs".into(),
        ]
    };

    // A full import elsewhere, for the number of pages it takes.
    let full_store = dir.path().join("full");
    let full = ok(podsizer(&proxy, region, "AKIDFULL").args(args(&full_store)));
    let full_pages = figure(&full, "FilterLogEvents");
    assert!(full_pages >= 10, "{full}");

    // Credentials expire after 6 pages.
    let store = dir.path().join("store");
    let cut = run(podsizer(&proxy, region, "AKIDCUT6").args(args(&store)));
    assert_eq!(cut.code, 2, "{}", cut.stderr);
    assert!(
        cut.stderr.contains("re-run the same command to resume") && cut.stderr.contains("ExpiredToken"),
        "{}",
        cut.stderr
    );
    let partial = stored(&store);
    assert!(!partial.is_empty() && partial.len() < want.len(), "what was read before the cut is stored");
    assert!(partial.iter().all(|(k, v)| want.get(k) == Some(v)));
    assert!(state(&store)["pending"]["next_token"].is_string(), "the page token is saved");

    let resumed = ok(podsizer(&proxy, region, "AKIDRESUME").args(args(&store)));
    assert!(stored(&store) == want, "resumed import = seeded events");
    let resumed_pages = figure(&resumed, "FilterLogEvents");
    assert!(resumed_pages + 6 <= full_pages + 1, "resumed from the token: {resumed_pages} + 6 pages vs {full_pages}");
    assert_eq!(figure(&resumed, "samples:"), figure(&resumed, "fetched,"), "nothing fetched twice:\n{resumed}");
}

#[test]
fn errors_name_the_cause() {
    let proxy = proxy(Pages::default());
    let region = "eu-central-1";
    let cluster = moto::unique("errors");
    let seeded = seed_logs(&proxy, region, &cluster, hour_floor(now_ms()) - DAY_MS / 4, 0);
    assert!(seeded.expected.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();

    // AccessDenied names the IAM action, in both modes; nothing is left behind.
    let denied = run(podsizer(&proxy, region, "AKIDDENY").args(["--cluster", cluster.as_str(), "--store", store_arg]));
    assert_eq!(denied.code, 2);
    assert!(
        denied.stderr.contains("access denied") && denied.stderr.contains("`logs:FilterLogEvents`"),
        "{}",
        denied.stderr
    );
    let denied = run(podsizer(&proxy, region, "AKIDDENY").args([
        "--cluster",
        cluster.as_str(),
        "--store",
        store_arg,
        "--from",
        "metrics",
    ]));
    assert!(denied.stderr.contains("`cloudwatch:ListMetrics`"), "{}", denied.stderr);
    assert!(!store.exists(), "a failed first import creates no store");

    // A cluster without Container Insights (wrong name or region).
    let none = run(podsizer(&proxy, region, "AKIDNONE").args(["--cluster", "no-such-cluster-x", "--store", store_arg]));
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("no Container Insights data for cluster no-such-cluster-x in region eu-central-1"),
        "{}",
        none.stderr
    );
    // A log group with only junk: nothing stored, the junk counted.
    let junk = run(podsizer(&proxy, region, "AKIDJUNK").args([
        "--cluster",
        cluster.as_str(),
        "--store",
        store_arg,
        "--from",
        "logs",
        "--since",
        "1d",
    ]));
    assert_eq!(junk.code, 2);
    assert!(junk.stderr.contains("has no container events"), "{}", junk.stderr);

    // Throttling is retried with backoff.
    let throttled = run(podsizer(&proxy, region, "AKIDTHROTTLE2").args([
        "--cluster",
        cluster.as_str(),
        "--store",
        store_arg,
        "--from",
        "logs",
        "--since",
        "7h",
    ]));
    assert!(throttled.stderr.contains("has no container events"), "answered after the retries: {}", throttled.stderr);
    assert!(proxy.calls("AKIDTHROTTLE2")["FilterLogEvents"] >= 3, "two throttled attempts, then the answers");

    // No credentials, no region.
    let mut bare = Command::cargo_bin("podsizer").unwrap();
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ] {
        bare.env_remove(var);
    }
    bare.env("AWS_CONFIG_FILE", "/nonexistent/x")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/x")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let no_region = run(bare.args([
        "import",
        "cloudwatch",
        "--cluster",
        "c",
        "--store",
        store_arg,
        "--endpoint-url",
        proxy.url.as_str(),
    ]));
    assert_eq!(no_region.code, 2);
    assert!(no_region.stderr.contains("no AWS region"), "{}", no_region.stderr);
    let no_creds = run(bare.args(["--region", region]));
    assert_eq!(no_creds.code, 2);
    assert!(no_creds.stderr.contains("no AWS credentials"), "{}", no_creds.stderr);
}

// ---------------------------------------------------------------------------------------------
// Metrics mode

/// Relative difference small enough for percent -> value arithmetic.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

fn assert_same(got: &BTreeMap<Row, (f64, f64)>, want: &BTreeMap<Row, (f64, f64)>) {
    assert_eq!(got.len(), want.len(), "sample count");
    for (k, (c, m)) in want {
        let (gc, gm) = got.get(k).unwrap_or_else(|| panic!("missing {k:?}"));
        assert!(close(*gc, *c) && close(*gm, *m), "{k:?}: got ({gc}, {gm}), seeded ({c}, {m})");
    }
}

#[test]
fn metrics_import_matches_the_seeded_usage_over_many_pages() {
    let proxy = proxy(Pages { datapoints: 300, metrics: 60, log_events: 10_000 });
    let (region, cluster) = ("us-west-2", moto::unique("metrics"));
    let start = hour_floor(now_ms()) - 70 * DAY_MS;
    let hours = 72;
    let seeded = seed_metrics(&proxy, region, &cluster, start, hours);
    let want = rows_of(&seeded.expected);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let range = [
        "--since".to_string(),
        rfc3339(start - HOUR_MS),
        "--until".into(),
        rfc3339(start + (hours + 1) * HOUR_MS),
        "--max-datapoints-per-call".into(),
        "2000".into(),
    ];
    let store_arg = store.to_str().unwrap();

    let out = ok(podsizer(&proxy, region, "AKIDMETRICS1")
        .args(["--cluster", cluster.as_str(), "--store", store_arg])
        .args(&range));
    assert!(out.contains("ContainerInsights metrics"), "auto falls back to metrics without a log group:\n{out}");
    assert_same(&stored(&store), &want);

    // 4 pods x (nginx 4 + envoy 4 + php-fpm 2) usage series + 4 node capacity queries = 44; the
    // last page adds requests (and limits): 68. 2000 datapoints / 68 = 29 hours per page, over
    // 74 hours: 3 pages, each one call of at most 500 queries, = ceil(series / 500) per page.
    let gmd = figure(&out, "GetMetricData");
    let batches = figure(&out, &format!("GetMetricData {gmd}:"));
    assert_eq!(figure(&out, "call(s) over"), 3, "{out}");
    assert_eq!(figure(&out, "time page(s) of at most"), 68, "{out}");
    assert_eq!(batches, 3, "one call per time page:\n{out}");
    let continuations = figure(&out, "per page, +");
    assert!(continuations >= 3, "the proxy's 300-datapoint pages were followed:\n{out}");
    assert_eq!(gmd, batches + continuations);
    let seen = proxy.calls("AKIDMETRICS1");
    assert_eq!(seen.get("GetMetricData"), Some(&gmd), "calls reported = calls made");
    assert!(seen["ListMetrics"] > 8, "ListMetrics pages of 60 were followed: {seen:?}");
    assert!(figure(&out, "listed (") > 1000, "moto lists each datum: de-duplicated:\n{out}");
    assert!(figure(&out, "metrics requested:") >= 44 * 2 + 68, "every query of every call is billed:\n{out}");

    let s = state(&store);
    assert_eq!(s["mode"], "metrics");
    assert_eq!(current(&s, "nginx")["resources"]["cpu_limit_cores"], 0.5);
    assert_eq!(current(&s, "envoy")["resources"]["memory_limit_bytes"], 128.0 * 1048576.0);
    assert_eq!(current(&s, "php-fpm")["resources"]["cpu_request_cores"], 0.5);

    let again = ok(podsizer(&proxy, region, "AKIDMETRICS2")
        .args(["--cluster", cluster.as_str(), "--store", store_arg])
        .args(&range));
    assert_eq!(figure(&again, "samples:"), 0, "{again}");
    assert_eq!(figure(&again, "GetMetricData"), 0, "nothing new to ask for:\n{again}");

    // Smaller calls: ceil(series / 20) calls per page.
    let small = dir.path().join("small");
    let out = ok(podsizer(&proxy, region, "AKIDMETRICS3")
        .args([
            "--cluster",
            cluster.as_str(),
            "--store",
            small.to_str().unwrap(),
            "--from",
            "metrics",
            "--queries-per-call",
            "20",
        ])
        .args(&range));
    assert_same(&stored(&small), &want);
    // 2000 / 20 = 100 hours per page: one page holding the settings (68 queries) = 4 calls.
    let gmd = figure(&out, "GetMetricData");
    assert_eq!(figure(&out, &format!("GetMetricData {gmd}:")), 4, "{out}");
    assert_eq!(figure(&out, "call(s) over"), 1, "{out}");
}

#[test]
fn metrics_import_resumes_at_the_first_page_not_stored() {
    let proxy = proxy(Pages::default());
    let (region, cluster) = ("ap-southeast-2", moto::unique("mresume"));
    let start = hour_floor(now_ms()) - 80 * DAY_MS;
    let hours = 60;
    let seeded = seed_metrics(&proxy, region, &cluster, start, hours);
    let want = rows_of(&seeded.expected);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let args = [
        "--cluster".to_string(),
        cluster.clone(),
        "--store".into(),
        store.display().to_string(),
        "--from".into(),
        "metrics".into(),
        "--since".into(),
        rfc3339(start),
        "--until".into(),
        rfc3339(start + hours * HOUR_MS),
        "--max-datapoints-per-call".into(),
        "1000".into(),
    ];
    // 1000 / 68 = 14 hours per page: 5 pages; the credentials expire after 2 calls.
    let cut = run(podsizer(&proxy, region, "AKIDCUT2").args(&args));
    assert_eq!(cut.code, 2, "{}", cut.stderr);
    assert!(cut.stderr.contains("re-run the same command to resume"), "{}", cut.stderr);
    let partial = stored(&store);
    assert!(!partial.is_empty() && partial.len() < want.len(), "the two pages fetched are stored");

    let resumed = ok(podsizer(&proxy, region, "AKIDMRESUMED").args(&args));
    assert_same(&stored(&store), &want);
    assert_eq!(figure(&resumed, "GetMetricData"), 3, "only the pages not stored:\n{resumed}");
    assert_eq!(figure(&resumed, "samples:"), figure(&resumed, "fetched,"), "nothing fetched twice:\n{resumed}");
}

//! A fake Kubernetes API server on loopback for the collector tests and benchmark: the real
//! list endpoints (`/api/v1/pods`, `/apis/metrics.k8s.io/v1beta1/pods`,
//! `/apis/apps/v1/replicasets`, `/apis/batch/v1/jobs`, namespaced or not, and for live current
//! settings deployments, statefulsets, daemonsets, cronjobs and `autoscaling/v2`
//! horizontalpodautoscalers) with `limit`/`continue`
//! pagination, label selectors, Status error bodies, injected failures and delays, and
//! misbehaving pagination (a repeated `continue` token, pages without end). PodMetrics
//! items are shaped from a recorded-shape PodMetrics response kept in
//! fixtures/samples/metrics-k8s-io/ (the fields and quantity formats metrics-server serves).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/samples/metrics-k8s-io/podmetrics_api.json");
pub const WINDOW_MS: i64 = 15_000;

// ---------------------------------------------------------------------------------------------
// The fake API server

#[derive(Clone)]
pub struct Fault {
    /// Path prefix the fault applies to.
    pub prefix: String,
    /// HTTP status to answer with, or 0 to answer normally after `delay`.
    pub status: u16,
    pub delay: Duration,
    pub times: usize,
}

/// Pagination that a broken or hostile API server serves on one list path.
#[derive(Clone, Debug)]
pub enum Paging {
    /// Every page, the last included, says `continue: tok-1`: a client that follows it
    /// asks for the same page again and again.
    RepeatToken,
    /// A fresh token on every page, each page holding this many objects (copies of the
    /// list's first object under new names; none when the list is empty).
    Endless { objects_per_page: usize },
}

/// (container, CPU nanocores, memory KiB)
pub type ContainerUsage = (String, u64, u64);

/// (namespace, pod, expected workload kind, expected workload name, containers)
pub type Expected = (&'static str, &'static str, &'static str, &'static str, Vec<&'static str>);

pub type RoundHook = Box<dyn FnMut(usize, &mut Cluster) + Send>;

#[derive(Default)]
pub struct Cluster {
    pub pods: Vec<Value>,
    pub replicasets: Vec<Value>,
    pub jobs: Vec<Value>,
    /// Objects of the other listed resources, by resource name (`deployments`,
    /// `horizontalpodautoscalers`, ...).
    pub objects: HashMap<&'static str, Vec<Value>>,
    /// Per pod (namespace, name): container usage (cpu nanocores, memory KiB).
    pub usage: BTreeMap<(String, String), Vec<ContainerUsage>>,
    /// The metrics timestamp advances every this many metrics rounds (1: every round).
    pub window_every: usize,
    /// Metrics rounds started (first-page metrics requests).
    pub metrics_rounds: usize,
    pub faults: Vec<Fault>,
    /// (path prefix, pagination served there).
    pub paging: Vec<(String, Paging)>,
    /// The `message` of injected Status error bodies instead of the usual one.
    pub status_message: Option<String>,
    pub requests: Vec<String>,
    pub auth: BTreeSet<String>,
}

pub struct FakeApi {
    pub port: u16,
    pub cluster: Arc<Mutex<Cluster>>,
    pub hook: Arc<Mutex<Option<RoundHook>>>,
    pub stop: Arc<AtomicBool>,
}

impl FakeApi {
    pub fn start(cluster: Cluster) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cluster = Arc::new(Mutex::new(cluster));
        let hook: Arc<Mutex<Option<RoundHook>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, h, s) = (cluster.clone(), hook.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (c, h) = (c.clone(), h.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &c, &h);
                });
            }
        });
        Self { port, cluster, hook, stop }
    }

    pub fn on_round(&self, hook: impl FnMut(usize, &mut Cluster) + Send + 'static) {
        *self.hook.lock().unwrap() = Some(Box::new(hook));
    }

    pub fn fault(&self, prefix: &str, status: u16, delay_ms: u64, times: usize) {
        self.cluster.lock().unwrap().faults.push(Fault {
            prefix: prefix.into(),
            status,
            delay: Duration::from_millis(delay_ms),
            times,
        });
    }

    /// Serves `paging` on list paths starting with `prefix`.
    pub fn paging(&self, prefix: &str, paging: Paging) {
        self.cluster.lock().unwrap().paging.push((prefix.into(), paging));
    }

    pub fn requests(&self) -> Vec<String> {
        self.cluster.lock().unwrap().requests.clone()
    }

    pub fn metrics_rounds(&self) -> usize {
        self.cluster.lock().unwrap().metrics_rounds
    }

    /// A kubeconfig whose current context points at a dead port, plus a `fake` context here.
    pub fn kubeconfig(&self, dir: &Path, current: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{}\n\
- name: dead\n  cluster:\n    server: http://127.0.0.1:9\nusers:\n- name: tester\n  user:\n    token: fake-token-123\n\
contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n- name: dead\n  context:\n    cluster: dead\n    user: tester\n\
current-context: {current}\n",
            self.port
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub fn serve(mut conn: TcpStream, cluster: &Mutex<Cluster>, hook: &Mutex<Option<RoundHook>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: HashMap<String, String> =
        query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect();
    let (status, body, delay) = {
        let mut c = cluster.lock().unwrap();
        c.requests.push(target.clone());
        if let Some(a) = auth {
            c.auth.insert(a);
        }
        let fault = c.faults.iter_mut().find(|f| f.times > 0 && path.starts_with(&f.prefix)).map(|f| {
            f.times -= 1;
            f.clone()
        });
        match fault {
            Some(f) if f.status != 0 => {
                let body = match &c.status_message {
                    Some(message) => status_body_with(f.status, message),
                    None => status_body(f.status, path),
                };
                (f.status, body, f.delay)
            }
            other => {
                let delay = other.map_or(Duration::ZERO, |f| f.delay);
                let (status, body) = answer(&mut c, hook, path, &params);
                (status, body, delay)
            }
        }
    };
    std::thread::sleep(delay);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        body.len(),
        if status == 429 { "Retry-After: 1\r\n" } else { "" }
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Status error body with the server's own `message`.
pub fn status_body_with(code: u16, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": "BadRequest", "code": code})
        .to_string()
}

pub fn status_body(code: u16, path: &str) -> String {
    let (reason, message) = match code {
        401 => ("Unauthorized", "Unauthorized".to_string()),
        403 => (
            "Forbidden",
            format!("{} is forbidden: User \"system:serviceaccount:podsizer:podsizer-collector\" cannot list resource at {path}", forbidden_resource(path)),
        ),
        404 => ("NotFound", "the server could not find the requested resource".to_string()),
        429 => ("TooManyRequests", "too many requests, please try again later".to_string()),
        _ => ("InternalError", "an error on the server (\"etcdserver: request timed out\") has prevented the request from succeeding".to_string()),
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
        .to_string()
}

/// The API groups served, with their list resources and list kinds.
const APIS: [(&str, &[(&str, &str)]); 5] = [
    ("/apis/metrics.k8s.io/v1beta1", &[("pods", "PodMetricsList")]),
    ("/api/v1", &[("pods", "PodList"), ("configmaps", "ConfigMapList")]),
    (
        "/apis/apps/v1",
        &[
            ("replicasets", "ReplicaSetList"),
            ("deployments", "DeploymentList"),
            ("statefulsets", "StatefulSetList"),
            ("daemonsets", "DaemonSetList"),
        ],
    ),
    ("/apis/batch/v1", &[("jobs", "JobList"), ("cronjobs", "CronJobList")]),
    ("/apis/autoscaling/v2", &[("horizontalpodautoscalers", "HorizontalPodAutoscalerList")]),
];

/// Splits `/api/v1/namespaces/NS/pods` or `/apis/G/V/pods` into (namespace, resource key);
/// PodMetrics are the key `metrics`.
pub fn route(path: &str) -> Option<(Option<String>, &'static str)> {
    let (prefix, resources) = APIS.iter().find(|(p, _)| path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))?;
    let rest = &path[prefix.len()..];
    let (resource, _) = resources.iter().find(|(r, _)| rest.ends_with(&format!("/{r}")))?;
    let key = if prefix.contains("metrics.k8s.io") { "metrics" } else { resource };
    let head = &rest[..rest.len() - resource.len() - 1];
    if head.is_empty() {
        return Some((None, key));
    }
    let ns = head.strip_prefix("/namespaces/")?;
    (!ns.contains('/')).then(|| (Some(ns.to_string()), key))
}

/// `resource.group` of a list path, for Forbidden messages.
fn forbidden_resource(path: &str) -> String {
    let Some((_, key)) = route(path) else { return "resource".into() };
    let group = APIS.iter().find(|(p, _)| path.starts_with(p)).map_or("", |(p, _)| p.trim_start_matches("/apis/"));
    match key {
        "metrics" => "pods.metrics.k8s.io".into(),
        k if path.starts_with("/api/v1") => k.to_string(),
        k => format!("{k}.{}", group.split('/').next().unwrap_or("")),
    }
}

/// `(kind, apiVersion)` of the list answering `key`.
fn list_kind(key: &str) -> (&'static str, &'static str) {
    if key == "metrics" {
        return ("PodMetricsList", "metrics.k8s.io/v1beta1");
    }
    for (prefix, resources) in APIS.iter().skip(1) {
        if let Some((_, kind)) = resources.iter().find(|(r, _)| *r == key) {
            let version = prefix.trim_start_matches("/apis/").trim_start_matches("/api/");
            return (kind, version);
        }
    }
    ("List", "v1")
}

pub fn matches_selector(obj: &Value, selector: Option<&String>) -> bool {
    let Some(sel) = selector else { return true };
    sel.split(',').all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        obj["metadata"]["labels"][k].as_str() == Some(v)
    })
}

pub fn answer(
    c: &mut Cluster,
    hook: &Mutex<Option<RoundHook>>,
    path: &str,
    params: &HashMap<String, String>,
) -> (u16, String) {
    let Some((ns, key)) = route(path) else {
        return (404, status_body(404, path));
    };
    let first_page = !params.contains_key("continue");
    if key == "metrics" && first_page {
        let round = c.metrics_rounds;
        if let Some(h) = hook.lock().unwrap().as_mut() {
            h(round, c);
        }
        c.metrics_rounds += 1;
    }
    let items: Vec<Value> = match key {
        "pods" => c.pods.clone(),
        "replicasets" => c.replicasets.clone(),
        "jobs" => c.jobs.clone(),
        "metrics" => metrics_items(c),
        other => c.objects.get(other).cloned().unwrap_or_default(),
    };
    let selector = if matches!(key, "pods" | "metrics") { params.get("labelSelector") } else { None };
    let items: Vec<Value> = items
        .into_iter()
        .filter(|o| ns.as_deref().is_none_or(|n| o["metadata"]["namespace"].as_str() == Some(n)))
        .filter(|o| matches_selector(o, selector))
        .collect();
    let offset: usize =
        params.get("continue").and_then(|t| t.strip_prefix("tok-")).and_then(|n| n.parse().ok()).unwrap_or(0);
    let limit: usize = params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(usize::MAX);
    let end = offset.saturating_add(limit).min(items.len());
    let page = items.get(offset..end).unwrap_or(&[]).to_vec();
    let mut metadata = json!({"resourceVersion": "12345"});
    if end < items.len() {
        metadata["continue"] = json!(format!("tok-{end}"));
        metadata["remainingItemCount"] = json!(items.len() - end);
    }
    let (kind, api_version) = list_kind(key);
    let paging = c.paging.iter().find(|(prefix, _)| path.starts_with(prefix.as_str())).map(|(_, p)| p.clone());
    let page = match paging {
        None => page,
        Some(Paging::RepeatToken) => {
            metadata["continue"] = json!("tok-1");
            page
        }
        Some(Paging::Endless { objects_per_page }) => {
            let next = offset + objects_per_page.max(1);
            metadata["continue"] = json!(format!("tok-{next}"));
            endless_page(items.first(), offset, objects_per_page)
        }
    };
    (200, json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": page}).to_string())
}

/// Copies of `first` named `<name>-<n>` for n from `offset`: an endless list's page.
fn endless_page(first: Option<&Value>, offset: usize, count: usize) -> Vec<Value> {
    let Some(first) = first else { return Vec::new() };
    let name = first["metadata"]["name"].as_str().unwrap_or("object").to_string();
    (offset..offset + count)
        .map(|n| {
            let mut copy = first.clone();
            copy["metadata"]["name"] = json!(format!("{name}-{n}"));
            copy
        })
        .collect()
}

/// PodMetrics for every pod with usage, shaped like the real sample (its timestamp is the
/// first window; later windows follow every 15 s).
pub fn metrics_items(c: &Cluster) -> Vec<Value> {
    let sample = sample_podmetrics();
    let base = chrono::DateTime::parse_from_rfc3339(sample["timestamp"].as_str().unwrap()).unwrap().timestamp_millis();
    let window = (c.metrics_rounds.saturating_sub(1) / c.window_every.max(1)) as i64;
    let ts = chrono::DateTime::from_timestamp_millis(base + window * WINDOW_MS)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let labels: HashMap<(&str, &str), &Value> = c
        .pods
        .iter()
        .map(|p| {
            let m = &p["metadata"];
            ((m["namespace"].as_str().unwrap_or(""), m["name"].as_str().unwrap_or("")), &m["labels"])
        })
        .collect();
    c.usage
        .iter()
        .map(|((ns, name), containers)| {
            let mut m = sample.clone();
            m["metadata"]["name"] = json!(name);
            m["metadata"]["namespace"] = json!(ns);
            m["metadata"]["selfLink"] = json!(format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{name}"));
            if let Some(l) = labels.get(&(ns.as_str(), name.as_str())) {
                m["metadata"]["labels"] = (*l).clone();
            }
            m["timestamp"] = json!(ts);
            m["containers"] = containers
                .iter()
                .map(|(cn, nanos, kib)| json!({"name": cn, "usage": {"cpu": format!("{nanos}n"), "memory": format!("{kib}Ki")}}))
                .collect();
            m
        })
        .collect()
}

pub fn sample_podmetrics() -> Value {
    let text = std::fs::read_to_string(SAMPLE).unwrap_or_else(|e| panic!("{SAMPLE}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub fn sample_base_ms() -> i64 {
    let s = sample_podmetrics();
    chrono::DateTime::parse_from_rfc3339(s["timestamp"].as_str().unwrap()).unwrap().timestamp_millis()
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a small cluster with every owner kind

pub fn owner_ref(api: &str, kind: &str, name: &str) -> Value {
    json!([{"apiVersion": api, "kind": kind, "name": name, "uid": format!("uid-{name}"), "controller": true, "blockOwnerDeletion": true}])
}

pub fn pod_json(
    ns: &str,
    name: &str,
    owner: Option<(&str, &str, &str)>,
    containers: &[&str],
    oom: Option<&str>,
) -> Value {
    let mut meta = json!({"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": {"app": name.split('-').next().unwrap()},
        "creationTimestamp": "2022-01-27T18:00:00Z"});
    if let Some((api, kind, owner)) = owner {
        meta["ownerReferences"] = owner_ref(api, kind, owner);
    }
    let spec: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({"name": c, "image": format!("registry.k8s.io/{c}:1.0"),
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}})
        })
        .collect();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let mut st = json!({"name": c, "ready": true, "restartCount": 0, "image": "x", "imageID": "y", "started": true,
                "state": {"running": {"startedAt": "2022-01-27T18:00:05Z"}}});
            if oom == Some(*c) {
                st["restartCount"] = json!(3);
                st["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                    "startedAt": "2022-01-27T18:10:00Z", "finishedAt": "2022-01-27T18:20:00Z"}});
            }
            st
        })
        .collect();
    json!({"metadata": meta, "spec": {"containers": spec, "nodeName": "minikube"},
        "status": {"phase": "Running", "containerStatuses": statuses}})
}

pub fn owned_json(ns: &str, name: &str, owner: Option<(&str, &str, &str)>) -> Value {
    let mut meta = json!({"name": name, "namespace": ns, "uid": format!("uid-{name}")});
    if let Some((api, kind, owner)) = owner {
        meta["ownerReferences"] = owner_ref(api, kind, owner);
    }
    json!({"metadata": meta})
}

/// (namespace, pod, expected kind, expected workload, containers)
pub fn fleet() -> (Cluster, Vec<Expected>) {
    let expected = vec![
        ("shop", "web-5d4f-abcde", "Deployment", "web", vec!["nginx", "php"]),
        ("shop", "web-5d4f-fghij", "Deployment", "web", vec!["nginx", "php"]),
        ("shop", "db-0", "StatefulSet", "db", vec!["postgres"]),
        ("shop", "legacy-x1-q", "ReplicaSet", "legacy-x1", vec!["app"]),
        ("ops", "agent-zz9", "DaemonSet", "agent", vec!["agent"]),
        ("ops", "nightly-2901-kx", "CronJob", "nightly", vec!["backup"]),
        ("ops", "migrate-m1", "Job", "migrate", vec!["migrate"]),
        ("ops", "debug", "Pod", "debug", vec!["shell"]),
        ("kube-system", "kube-scheduler-minikube", "Pod", "kube-scheduler-minikube", vec!["kube-scheduler"]),
    ];
    let mut c = Cluster { window_every: 1, ..Cluster::default() };
    let owners: HashMap<&str, Option<(&str, &str, &str)>> = HashMap::from([
        ("web-5d4f-abcde", Some(("apps/v1", "ReplicaSet", "web-5d4f"))),
        ("web-5d4f-fghij", Some(("apps/v1", "ReplicaSet", "web-5d4f"))),
        ("db-0", Some(("apps/v1", "StatefulSet", "db"))),
        ("legacy-x1-q", Some(("apps/v1", "ReplicaSet", "legacy-x1"))),
        ("agent-zz9", Some(("apps/v1", "DaemonSet", "agent"))),
        ("nightly-2901-kx", Some(("batch/v1", "Job", "nightly-2901"))),
        ("migrate-m1", Some(("batch/v1", "Job", "migrate"))),
        ("debug", None),
        ("kube-scheduler-minikube", Some(("v1", "Node", "minikube"))),
    ]);
    for (ns, pod, _, _, containers) in &expected {
        let oom = if *pod == "db-0" { Some("postgres") } else { None };
        c.pods.push(pod_json(ns, pod, owners[pod], containers, oom));
        add_usage(&mut c, ns, pod, containers);
    }
    // The recorded response's own numbers (its first container) for this pod.
    let sample = sample_podmetrics();
    let usage = &sample["containers"][0]["usage"];
    let nanos: u64 = usage["cpu"].as_str().unwrap().trim_end_matches('n').parse().unwrap();
    let kib: u64 = usage["memory"].as_str().unwrap().trim_end_matches("Ki").parse().unwrap();
    c.usage
        .insert(("kube-system".into(), "kube-scheduler-minikube".into()), vec![("kube-scheduler".into(), nanos, kib)]);
    c.replicasets.push(owned_json("shop", "web-5d4f", Some(("apps/v1", "Deployment", "web"))));
    c.replicasets.push(owned_json("shop", "legacy-x1", None));
    c.jobs.push(owned_json("ops", "nightly-2901", Some(("batch/v1", "CronJob", "nightly"))));
    c.jobs.push(owned_json("ops", "migrate", None));
    (c, expected)
}

pub fn add_usage(c: &mut Cluster, ns: &str, pod: &str, containers: &[&str]) {
    let n = c.usage.len() as u64;
    c.usage.insert(
        (ns.to_string(), pod.to_string()),
        containers
            .iter()
            .enumerate()
            .map(|(i, cn)| (cn.to_string(), 50_000_000 + n * 1_000_000 + i as u64, 100_000 + n * 1000))
            .collect(),
    );
}

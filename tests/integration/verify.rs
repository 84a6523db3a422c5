//! Outcome signals and `podsizer verify` on a real Prometheus (backfilled with promtool): a
//! "bad change" of our own making. Four Deployments run two days; at hour 24 each is rolled
//! out with new settings (new pods, new pod-template hash):
//!
//! | workload/container | change at hour 24                              | after it                          |
//! |--------------------|------------------------------------------------|-----------------------------------|
//! | cart/app           | memory 512Mi/1Gi -> 128Mi/256Mi (a cut)        | 3 OOM kills (hours 26, 30, 34)    |
//! | search/app         | CPU 1/2 -> 250m/500m (a cut)                   | 40% of CFS periods throttled      |
//! | web/nginx          | memory 128Mi/256Mi -> 64Mi/128Mi (a cut)       | nothing: 50Mi, 0.5% throttled     |
//! | queue/worker       | memory 128Mi/256Mi -> 160Mi/320Mi (a raise)    | 1 OOM kill (hour 40)              |
//!
//! An old cart pod is evicted at hour 20 (before the change). cAdvisor is scraped every
//! minute, kube-state-metrics every 5 minutes.

use crate::support::podsizer_on_loopback;
use crate::support::prometheus::{backfill, tools_present, Prometheus};
use podsizer::sources::outcomes::{ContainerOutcomes, Span, BUCKET_MS};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

const H: i64 = BUCKET_MS;
/// 2026-11-02T00:00:00Z.
pub const T0: i64 = 1_793_577_600_000;
pub const MINUTES: i64 = 48 * 60;
const ROLLOUT: i64 = 24 * 60;
pub const MIB: f64 = 1024.0 * 1024.0;
const OLD_HASH: &str = "6d4c8b7f9";
const NEW_HASH: &str = "5f7b9c8d6";
const SUFFIXES: [&str; 2] = ["q2x9k", "z7mfr"];

/// Requests and limits: CPU request, CPU limit, memory request (MiB), memory limit (MiB).
pub type Settings = (f64, f64, f64, f64);

pub struct Workload {
    pub name: &'static str,
    pub container: &'static str,
    pub old: Settings,
    pub new: Settings,
    /// Usage: CPU cores, working set MiB.
    cpu: f64,
    memory_mib: f64,
    /// Share of CFS periods throttled, before and after the rollout.
    throttled: (f64, f64),
    /// Minutes at which a new pod's container is OOM-killed: (pod suffix index, minute).
    oom_kills: &'static [(usize, i64)],
}

pub fn fleet() -> Vec<Workload> {
    vec![
        Workload {
            name: "cart",
            container: "app",
            old: (0.5, 1.0, 512.0, 1024.0),
            new: (0.5, 1.0, 128.0, 256.0),
            cpu: 0.2,
            memory_mib: 240.0,
            throttled: (0.0, 0.0),
            oom_kills: &[(0, 25 * 60 + 30), (0, 29 * 60 + 30), (0, 33 * 60 + 30)],
        },
        Workload {
            name: "search",
            container: "app",
            old: (1.0, 2.0, 256.0, 512.0),
            new: (0.25, 0.5, 256.0, 512.0),
            cpu: 0.4,
            memory_mib: 100.0,
            throttled: (0.01, 0.4),
            oom_kills: &[],
        },
        Workload {
            name: "web",
            container: "nginx",
            old: (0.1, 1.0, 128.0, 256.0),
            new: (0.1, 1.0, 64.0, 128.0),
            cpu: 0.05,
            memory_mib: 50.0,
            throttled: (0.005, 0.005),
            oom_kills: &[],
        },
        Workload {
            name: "queue",
            container: "worker",
            old: (0.2, 1.0, 128.0, 256.0),
            new: (0.2, 1.0, 160.0, 320.0),
            cpu: 0.1,
            memory_mib: 200.0,
            throttled: (0.0, 0.0),
            oom_kills: &[(1, 39 * 60 + 30)],
        },
    ]
}

fn pod(w: &Workload, new: bool, i: usize) -> String {
    format!("{}-{}-{}", w.name, if new { NEW_HASH } else { OLD_HASH }, SUFFIXES[i])
}

/// A series' value at a minute (workload, new pod?, pod index, minute): its extra labels and value.
type Value<'a> = dyn Fn(&Workload, bool, usize, i64) -> Option<(String, f64)> + 'a;

/// The dataset as OpenMetrics text: one metric family after the other, each series in time order.
fn openmetrics(fleet: &[Workload]) -> String {
    let mut out = String::new();
    let minutes = |every: i64| (0..MINUTES).step_by(every as usize);
    let ts = |m: i64| (T0 + m * 60_000) / 1000;
    // Counters accumulate per series, so each family walks its series in time order.
    let mut family = |name: &str, every: i64, value: &Value<'_>| {
        for w in fleet {
            for new in [false, true] {
                for i in 0..SUFFIXES.len() {
                    for m in minutes(every).filter(|&m| (m >= ROLLOUT) == new) {
                        if let Some((labels, v)) = value(w, new, i, m) {
                            let p = pod(w, new, i);
                            let ns = "shop";
                            writeln!(out, "{name}{{namespace=\"{ns}\",pod=\"{p}\"{labels}}} {v} {}", ts(m)).unwrap();
                        }
                    }
                }
            }
        }
    };
    let container = |w: &Workload| format!(",container=\"{}\"", w.container);
    let settings = |w: &Workload, new: bool| if new { w.new } else { w.old };
    let oom_before = |w: &Workload, new: bool, i: usize, m: i64| {
        w.oom_kills.iter().filter(|(p, at)| new && *p == i && *at <= m).count() as f64
    };
    family("container_cpu_usage_seconds_total", 1, &|w, new, _, m| {
        let start = if new { ROLLOUT } else { 0 };
        Some((container(w), w.cpu * 60.0 * (m - start) as f64))
    });
    family("container_memory_working_set_bytes", 1, &|w, _, _, _| Some((container(w), w.memory_mib * MIB)));
    family("container_cpu_cfs_periods_total", 1, &|w, new, _, m| {
        let start = if new { ROLLOUT } else { 0 };
        Some((container(w), 600.0 * (m - start) as f64))
    });
    family("container_cpu_cfs_throttled_periods_total", 1, &|w, new, _, m| {
        let (start, share) = if new { (ROLLOUT, w.throttled.1) } else { (0, w.throttled.0) };
        Some((container(w), 600.0 * share * (m - start) as f64))
    });
    for (metric, limit) in
        [("kube_pod_container_resource_requests", false), ("kube_pod_container_resource_limits", true)]
    {
        for resource in ["cpu", "memory"] {
            family(metric, 5, &|w, new, _, _| {
                let s = settings(w, new);
                let v = match (resource, limit) {
                    ("cpu", false) => s.0,
                    ("cpu", true) => s.1,
                    (_, false) => s.2 * MIB,
                    (_, true) => s.3 * MIB,
                };
                let unit = if resource == "cpu" { "core" } else { "byte" };
                Some((format!("{},resource=\"{resource}\",unit=\"{unit}\"", container(w)), v))
            });
        }
    }
    family("kube_pod_container_status_restarts_total", 5, &|w, new, i, m| {
        Some((container(w), oom_before(w, new, i, m)))
    });
    family("kube_pod_container_status_last_terminated_reason", 5, &|w, new, i, m| {
        (oom_before(w, new, i, m) > 0.0).then(|| (format!("{},reason=\"OOMKilled\"", container(w)), 1.0))
    });
    family("kube_pod_status_reason", 5, &|w, new, i, m| {
        let evicted = w.name == "cart" && !new && i == 0 && m >= 19 * 60 + 10;
        Some((",reason=\"Evicted\"".to_string(), if evicted { 1.0 } else { 0.0 }))
    });
    family("kube_pod_owner", 5, &|w, new, i, _| {
        let rs = pod(w, new, i).rsplit_once('-').unwrap().0.to_string();
        Some((format!(",owner_kind=\"ReplicaSet\",owner_name=\"{rs}\",owner_is_controller=\"true\""), 1.0))
    });
    family("kube_replicaset_owner", 5, &|w, new, i, _| {
        let rs = pod(w, new, i).rsplit_once('-').unwrap().0.to_string();
        let owner = format!(",owner_kind=\"Deployment\",owner_name=\"{}\",owner_is_controller=\"true\"", w.name);
        Some((format!(",replicaset=\"{rs}\"{owner}"), 1.0))
    });
    out.push_str("# EOF\n");
    out
}

/// The dataset's TSDB blocks, made once per test binary run.
pub fn blocks() -> &'static Path {
    static BLOCKS: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    BLOCKS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let text = dir.path().join("bad-change.om");
            std::fs::write(&text, openmetrics(&fleet())).unwrap();
            backfill(&text, &dir.path().join("blocks"));
            dir
        })
        .path()
        .join("blocks")
        .leak()
}

fn ts(ms: i64) -> String {
    podsizer::domain::format_timestamp(ms)
}

pub fn import(url: &str, store: &Path, until_ms: i64) {
    let out = podsizer_on_loopback()
        .args(["import", "prometheus", "--url", url, "--store"])
        .arg(store)
        .args(["--since", &ts(T0), "--until", &ts(until_ms)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn outcomes(store: &Path) -> BTreeMap<String, ContainerOutcomes> {
    podsizer::store::outcomes::load(store)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (format!("{}/{}", k.workload.name, k.container), v))
        .collect()
}

fn hours(spans: &[Span]) -> Vec<(i64, i64)> {
    spans.iter().map(|s| ((s.from_ms - T0) / H, (s.to_ms - T0) / H)).collect()
}

#[test]
fn outcome_signals_are_imported_beside_the_samples_incrementally() {
    if !tools_present("verify::outcome_signals_are_imported_beside_the_samples_incrementally") {
        return;
    }
    let prom = Prometheus::start(blocks());
    let dir = tempfile::tempdir().unwrap();
    let (whole, pieces) = (dir.path().join("whole"), dir.path().join("pieces"));
    let end = T0 + MINUTES * 60_000;
    import(&prom.url(), &whole, end);
    import(&prom.url(), &pieces, T0 + 30 * H);
    import(&prom.url(), &pieces, end);
    let got = outcomes(&whole);
    assert_eq!(got, outcomes(&pieces), "two imports record what one does");
    let file = std::fs::read_dir(whole.join("imports"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("outcomes-"))
        .unwrap();
    let before = std::fs::read(&file).unwrap();
    import(&prom.url(), &whole, end);
    assert_eq!(std::fs::read(&file).unwrap(), before, "a re-run adds nothing");

    assert_eq!(got.keys().collect::<Vec<_>>(), ["cart/app", "queue/worker", "search/app", "web/nginx"]);
    let cart = &got["cart/app"];
    // Restarts: the counter rises at 25:30, 29:30 and 33:30, with OOMKilled as the reason.
    let restarts: Vec<(&str, i64, f64, f64)> =
        cart.restarts.iter().map(|r| (r.pod.as_str(), (r.hour_ms - T0) / H, r.restarts, r.oom_kills)).collect();
    let new_pod = "cart-5f7b9c8d6-q2x9k";
    assert_eq!(restarts, vec![(new_pod, 26, 1.0, 1.0), (new_pod, 30, 1.0, 1.0), (new_pod, 34, 1.0, 1.0)]);
    // Evicted from 19:10: the bucket ending at hour 20.
    let evictions: Vec<(&str, i64)> = cart.evictions.iter().map(|e| (e.pod.as_str(), (e.hour_ms - T0) / H)).collect();
    assert_eq!(evictions, vec![("cart-6d4c8b7f9-q2x9k", 20)]);
    // Settings: old pods from bucket 0 (the first sample, at 00:00) to 24 (their last at 23:55),
    // new pods from 24 (their first, at 24:00) to 48.
    let spans: Vec<(String, i64, i64, f64)> = cart
        .settings
        .iter()
        .map(|s| {
            (s.pod.clone(), (s.from_ms - T0) / H, (s.to_ms - T0) / H, s.resources.memory_limit_bytes.unwrap() / MIB)
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            ("cart-5f7b9c8d6-q2x9k".into(), 24, 48, 256.0),
            ("cart-5f7b9c8d6-z7mfr".into(), 24, 48, 256.0),
            ("cart-6d4c8b7f9-q2x9k".into(), 0, 24, 1024.0),
            ("cart-6d4c8b7f9-z7mfr".into(), 0, 24, 1024.0),
        ]
    );
    assert_eq!(hours(&cart.known.restarts), vec![(0, 48)]);
    assert_eq!(hours(&cart.known.evictions), vec![(0, 48)]);
    // Throttling: the share of CFS periods per hour, summed over the pods on the same values.
    let search = &got["search/app"];
    let share = |limit: f64| {
        let hours: Vec<_> =
            search.throttling.iter().filter(|t| t.resources.and_then(|r| r.cpu_limit_cores) == Some(limit)).collect();
        let (throttled, periods) = hours.iter().fold((0.0, 0.0), |(a, b), t| (a + t.throttled_periods, b + t.periods));
        (throttled / periods, hours.len())
    };
    let (old_share, old_hours) = share(2.0);
    let (new_share, new_hours) = share(0.5);
    assert!((old_share - 0.01).abs() < 1e-9 && (new_share - 0.4).abs() < 1e-9, "{old_share} {new_share}");
    // An hour's increase needs two samples: hours 1..=24 for the old pods, 25..=48 for the new.
    assert_eq!((old_hours, new_hours), (24, 24));
    assert!(search.restarts.is_empty() && search.evictions.is_empty());
    let queue = &got["queue/worker"];
    assert_eq!(queue.restarts.len(), 1);
    assert_eq!(
        (queue.restarts[0].pod.as_str(), (queue.restarts[0].hour_ms - T0) / H, queue.restarts[0].oom_kills),
        ("queue-5f7b9c8d6-z7mfr", 40, 1.0)
    );
    let web = &got["web/nginx"];
    assert!(web.restarts.is_empty() && web.evictions.is_empty());
    assert_eq!(hours(&web.known.throttling), vec![(1, 48)], "hour 0 has one sample: unknown, not 0");
}

fn verify(store: &Path, extra: &[&str]) -> (i32, String) {
    let out = podsizer_on_loopback().args(["verify", "--input"]).arg(store).args(extra).output().unwrap();
    assert_ne!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn verify_names_exactly_the_harmed_containers_with_the_numbers() {
    if !tools_present("verify::verify_names_exactly_the_harmed_containers_with_the_numbers") {
        return;
    }
    let prom = Prometheus::start(blocks());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    import(&prom.url(), &store, T0 + MINUTES * 60_000);
    let (code, text) = verify(&store, &["-o", "json"]);
    assert_eq!(code, 0, "harm is exit 1 only with --fail-on-harm");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = doc["containers"].as_array().unwrap();
    let by_name: BTreeMap<String, &serde_json::Value> = entries
        .iter()
        .map(|e| (format!("{}/{}", e["workload"].as_str().unwrap(), e["container"].as_str().unwrap()), e))
        .collect();
    let verdicts: Vec<(&str, &str)> =
        entries.iter().map(|e| (e["workload"].as_str().unwrap(), e["verdict"].as_str().unwrap())).collect();
    // Reverts first, then raises, then the changes that hold.
    assert_eq!(verdicts, vec![("cart", "revert"), ("search", "revert"), ("queue", "raise"), ("web", "holds")]);
    assert_eq!((doc["unchanged"].as_u64(), doc["without_settings"].as_u64()), (Some(0), Some(0)));
    for e in entries {
        // Every change took effect when the new pods appeared: hour 24, and was watched for 24 hours.
        assert_eq!(e["effective_at"], ts(T0 + 24 * H).as_str());
        assert_eq!(e["numbers"]["hours"], 24.0);
        assert_eq!(e["numbers"]["pods"], 2);
        assert_eq!(e["numbers"]["evictions"], 0.0, "cart's eviction was an old pod, before the change");
        assert_eq!(e["numbers"]["other_restarts"], 0.0);
        assert_eq!(e["unknown"].as_array().unwrap().len(), 0);
        // CPU rates start at each new pod's second sample: 24:01 .. 47:59.
        assert_eq!(e["numbers"]["samples"], 2 * 1439);
    }
    let n = |name: &str, field: &str| by_name[name]["numbers"][field].as_f64();
    // cart: memory 512Mi/1Gi -> 128Mi/256Mi; 3 OOM kills; 240Mi working set is above 128Mi in every sample.
    assert_eq!(n("cart/app", "oom_kills"), Some(3.0));
    assert_eq!(n("cart/app", "memory_above_request_share"), Some(1.0));
    assert_eq!(n("cart/app", "peak_working_set_bytes"), Some(240.0 * MIB));
    assert_eq!(n("cart/app", "throttled_share"), Some(0.0));
    assert_eq!(by_name["cart/app"]["harmed"], serde_json::json!(["memory_request", "memory_limit"]));
    assert_eq!(
        by_name["cart/app"]["reasons"],
        serde_json::json!(["3 OOM kill(s) in 24 h", "working set above the 128Mi request in 100.0% of samples"])
    );
    // search: CPU limit 2 -> 500m; 240 of 600 CFS periods a minute throttled; 400m of CPU stays under the limit.
    assert!((n("search/app", "throttled_share").unwrap() - 0.4).abs() < 1e-9);
    assert_eq!(n("search/app", "cpu_above_limit_share"), Some(0.0));
    assert_eq!(n("search/app", "oom_kills"), Some(0.0));
    assert_eq!(by_name["search/app"]["harmed"], serde_json::json!(["cpu_limit"]));
    assert_eq!(by_name["search/app"]["before"]["cpu_limit_cores"], 2.0);
    // queue: memory raised to 160Mi/320Mi, still 1 OOM kill and 200Mi above the request: raise, not revert.
    assert_eq!(n("queue/worker", "oom_kills"), Some(1.0));
    assert_eq!(n("queue/worker", "memory_above_request_share"), Some(1.0));
    assert_eq!(by_name["queue/worker"]["harmed"], serde_json::json!(["memory_request", "memory_limit"]));
    // web: memory cut to 64Mi/128Mi, 50Mi used, 0.5% throttled (under 10%): holds.
    assert!((n("web/nginx", "throttled_share").unwrap() - 0.005).abs() < 1e-9);
    assert_eq!(n("web/nginx", "memory_above_request_share"), Some(0.0));
    assert_eq!(by_name["web/nginx"]["reasons"], serde_json::json!([]));

    // The other formats say the same; --fail-on-harm makes harm exit 1.
    let (code, table) = verify(&store, &["--fail-on-harm"]);
    assert_eq!(code, 1);
    let verdict_of = |line: &str| line.split_whitespace().nth(3).map(String::from);
    let lines: Vec<String> = table.lines().skip(1).filter_map(verdict_of).collect();
    assert_eq!(lines, ["revert", "revert", "raise", "holds"], "{table}");
    assert!(table.contains("mem req 512Mi -> 128Mi, mem lim 1Gi -> 256Mi"), "{table}");
    let (_, csv) = verify(&store, &["-o", "csv"]);
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",revert,"), "{csv}");
    let (_, yaml) = verify(&store, &["-o", "yaml"]);
    assert!(yaml.contains("verdict: \"raise\""), "{yaml}");
}

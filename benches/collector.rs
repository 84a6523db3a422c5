//! `cargo bench --bench collector`: one `podsizer collect metrics-server --once` round for a
//! cluster of N pods x 3 containers (PODSIZER_BENCH_PODS, default 5000) served by the tests'
//! fake API server on loopback. Reports the collector's CPU time (user + system of the child,
//! from this process's cutime/cstime), wall time and peak RSS (PODSIZER_STATS=1), median of
//! several runs. A round here is the heaviest kind: inventory listing (pods, ReplicaSets,
//! Jobs), PodMetrics, joining, and the store append of every sample.
// Helpers shared inside this test crate are not API: `pub` there means "for the other modules".
#![allow(unreachable_pub)]

mod common;
#[path = "../tests/integration/support/fake_api.rs"]
mod fake_api;

use fake_api::{add_usage, owned_json, pod_json, Cluster, FakeApi};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 3;

/// (user + system) CPU seconds of reaped children, from /proc/self/stat.
fn children_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 16 and 17 of stat (cutime, cstime) are 13 and 14 after the comm.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / 100.0
}

fn main() {
    let pods: usize = std::env::var("PODSIZER_BENCH_PODS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let mut cluster = Cluster { window_every: 1, ..Cluster::default() };
    let containers = ["app", "sidecar", "proxy"];
    for i in 0..pods {
        let ns = format!("team-{:02}", i % 50);
        let deploy = format!("svc-{}", i / 10);
        let rs = format!("{deploy}-6c9f");
        if i % 10 == 0 {
            cluster.replicasets.push(owned_json(&ns, &rs, Some(("apps/v1", "Deployment", &deploy))));
        }
        let pod = format!("{rs}-{i:05}");
        cluster.pods.push(pod_json(&ns, &pod, Some(("apps/v1", "ReplicaSet", &rs)), &containers, None));
        add_usage(&mut cluster, &ns, &pod, &containers);
    }
    let api = FakeApi::start(cluster);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path(), "fake");
    let (mut cpu, mut wall, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..RUNS {
        let store = dir.path().join(format!("store-{run}"));
        let before = children_cpu_secs();
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_podsizer"))
            .args(["collect", "metrics-server", "--once", "--page-size", "500", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--store")
            .arg(&store)
            .env("PODSIZER_STATS", "1")
            .output()
            .expect("run podsizer");
        wall.push(started.elapsed().as_secs_f64());
        cpu.push(children_cpu_secs() - before);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("{} sample(s) written", pods * containers.len())), "{stdout}");
        rss.push(common::peak_rss_mib(&out.stderr));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "collector: one round of {pods} pods x {} containers: CPU {:.2}s, wall {:.2}s, peak RSS {:.1} MiB (median of {RUNS})",
        containers.len(),
        median(&mut cpu),
        median(&mut wall),
        median(&mut rss)
    );
}

//! `cargo bench --bench nodes`: the node-level back-test of a 7-day holdout of 1,000 pods at
//! 1-minute steps (10.08 M pod-steps), for three strategies' requests on one node shape.
//!
//! The fleet: 100 Deployments of 10 pods (one container each), every pod replaced by a new
//! one at a rollout in the middle of the week (a pod-set change, so placement runs again),
//! and an HPA-like Deployment whose pod count changes every hour. Use is a daily cycle with
//! per-pod noise. Timed PODSIZER_BENCH_RUNS times (default 5): building the fleet, the
//! requests and the simulation; the median is printed.
// Helpers shared inside this test crate are not API: `pub` there means "for the other modules".
#![allow(unreachable_pub)]

use podsizer::analysis::nodes::Fleet;
use podsizer::analysis::series::{Point, Series};
use podsizer::analysis::Sizing;
use podsizer::domain::{ContainerKey, NodeShape, Workload, DAY_MS};
use std::time::Instant;

const PODS_PER_WORKLOAD: usize = 10;
const WORKLOADS: usize = 100;
const MIN: i64 = 60_000;

fn fleet(days: i64) -> Vec<Series> {
    let steps = days * DAY_MS / MIN;
    let rollout = steps / 2;
    let mut all = Vec::new();
    for w in 0..WORKLOADS {
        let key = ContainerKey {
            workload: Workload {
                cluster: String::new(),
                namespace: "bench".into(),
                kind: "Deployment".into(),
                name: format!("app-{w}"),
            },
            container: "app".into(),
        };
        let pods: Vec<String> = (0..2 * PODS_PER_WORKLOAD).map(|p| format!("app-{w}-{p}")).collect();
        let mut points = Vec::with_capacity((steps as usize) * PODS_PER_WORKLOAD);
        let scale = 0.5 + (w % 7) as f64 * 0.25;
        for m in 0..steps {
            let day = (m as f64 / 1440.0 * std::f64::consts::TAU).sin();
            for p in 0..PODS_PER_WORKLOAD {
                let pod = if m < rollout { p } else { p + PODS_PER_WORKLOAD };
                // The last Deployment scales between 5 and 10 pods hour by hour.
                if w == WORKLOADS - 1 && p >= 5 + ((m / 60) % 6) as usize {
                    continue;
                }
                let noise = ((m * 31 + p as i64 * 17 + w as i64) % 97) as f64 / 97.0;
                points.push(Point {
                    ts: m * MIN,
                    pod: pod as u32,
                    cpu: scale * (0.3 + 0.2 * day + 0.2 * noise),
                    memory: scale * (400.0 + 100.0 * day + 50.0 * noise) * 1048576.0,
                });
            }
        }
        all.push(Series { key, pods, points });
    }
    all
}

fn main() {
    let runs: usize = std::env::var("PODSIZER_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let days = 7;
    let series = fleet(days);
    let pod_steps: usize = series.iter().map(|s| s.points.len()).sum();
    let shape = NodeShape::parse("8c32g").unwrap();
    // Three strategies' requests per container: typical, at busy hours, and generous.
    let sizing = |i: usize, k: usize| {
        let scale = 0.5 + (i % 7) as f64 * 0.25;
        let factor = [1.0, 1.4, 2.0][k];
        Some(Sizing {
            cpu_request_cores: 0.4 * scale * factor,
            cpu_limit_cores: None,
            memory_request_bytes: 450.0 * 1048576.0 * scale * factor,
            memory_limit_bytes: 1e12,
        })
    };
    let mut seconds = Vec::new();
    let mut last = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let fleet = Fleet::new(series.iter().collect(), 0, days * DAY_MS, MIN);
        let requests: Vec<_> = (0..3).map(|k| fleet.requests(|i| sizing(i, k))).collect();
        last = fleet.simulate(&shape, 1.0, &requests);
        seconds.push(started.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    println!(
        "node back-test: {} pod-steps ({} series, 7 days at 1 min), 3 strategies on {}: median {:.2} s (min {:.2}, max {:.2}) over {runs} runs",
        pod_steps,
        series.len(),
        shape.name,
        seconds[seconds.len() / 2],
        seconds[0],
        seconds[seconds.len() - 1]
    );
    for (name, o) in ["typical", "busy hours", "generous"].iter().zip(&last) {
        println!(
            "  {name}: nodes peak {} mean {:.2}, memory pressure {:.0} node-min, CPU contention {:.0} node-min",
            o.peak_nodes,
            o.mean_nodes(),
            o.memory_pressure_minutes,
            o.cpu_contention_minutes
        );
    }
}

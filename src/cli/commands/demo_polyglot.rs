//! `podsizer demo --stack polyglot`: a store of four services in four runtimes (a Spring
//! Boot service on the JVM, a Go service, a Node.js renderer and a gunicorn API), whose
//! runtime settings are sized with their resources. The JVM service is rolled out mid-week
//! and each new pod warms up at several times its steady CPU, so the run shows a start-up finding.

use crate::domain::{Sample, DAY_MS, HOUR_MS};
use crate::sources::synthetic::{traffic, Rng};

/// The polyglot GitOps tree, embedded so the demo works from any directory.
pub(crate) const GITOPS: &[(&str, &str)] = &[
    ("base/kustomization.yaml", include_str!("../../../fixtures/polyglot/gitops/base/kustomization.yaml")),
    ("base/orders.yaml", include_str!("../../../fixtures/polyglot/gitops/base/orders.yaml")),
    ("base/orders-jvm.yaml", include_str!("../../../fixtures/polyglot/gitops/base/orders-jvm.yaml")),
    ("base/ingest.yaml", include_str!("../../../fixtures/polyglot/gitops/base/ingest.yaml")),
    ("base/web.yaml", include_str!("../../../fixtures/polyglot/gitops/base/web.yaml")),
    ("base/catalog.yaml", include_str!("../../../fixtures/polyglot/gitops/base/catalog.yaml")),
    ("base/scaledobjects.yaml", include_str!("../../../fixtures/polyglot/gitops/base/scaledobjects.yaml")),
    (
        "overlays/production/kustomization.yaml",
        include_str!("../../../fixtures/polyglot/gitops/overlays/production/kustomization.yaml"),
    ),
];

pub(crate) const NAMESPACE: &str = "store";

/// How one service uses CPU (cores) and memory (MiB) at a traffic level from 0 to 1.
struct Shape {
    name: &'static str,
    cpu_base: f64,
    cpu_per_load: f64,
    mem_base: f64,
    mem_per_load: f64,
    /// Memory that builds up and drops (a JVM's old generation between collections), MiB.
    sawtooth: f64,
    /// CPU (cores) of each minute after a pod of the mid-week rollout starts (class loading,
    /// JIT); empty: the service is not rolled out during the week.
    warm_up: &'static [f64],
}

const SERVICES: &[Shape] = &[
    Shape {
        name: "orders",
        cpu_base: 0.05,
        cpu_per_load: 0.45,
        mem_base: 520.0,
        mem_per_load: 160.0,
        sawtooth: 60.0,
        warm_up: &WARM_UP,
    },
    Shape {
        name: "ingest",
        cpu_base: 0.02,
        cpu_per_load: 0.2,
        mem_base: 120.0,
        mem_per_load: 160.0,
        sawtooth: 0.0,
        warm_up: &[],
    },
    Shape {
        name: "web",
        cpu_base: 0.03,
        cpu_per_load: 0.3,
        mem_base: 140.0,
        mem_per_load: 90.0,
        sawtooth: 10.0,
        warm_up: &[],
    },
    Shape {
        name: "catalog",
        cpu_base: 0.04,
        cpu_per_load: 0.5,
        mem_base: 520.0,
        mem_per_load: 60.0,
        sawtooth: 0.0,
        warm_up: &[],
    },
];

/// A JVM's first three minutes: about 4x, 3x and 2x its steady p90 CPU.
pub(crate) const WARM_UP: [f64; 3] = [1.6, 1.3, 0.9];

/// The rollout of the services with a warm-up: day 4 of the week at 10:00 UTC, one pod every 5 minutes.
pub(crate) const ROLLOUT_MS: i64 = 4 * DAY_MS + 10 * HOUR_MS;

/// Pods per service.
pub(crate) const REPLICAS: usize = 2;

/// A week of one-minute samples of every pod, deterministic: the same rows on every run.
pub(crate) fn samples(start_ms: i64, days: i64) -> Vec<Sample> {
    let step = 60_000;
    let mut rows = Vec::new();
    for (si, s) in SERVICES.iter().enumerate() {
        for replica in 0..REPLICAS {
            let mut rng = Rng::new(0x5eed ^ ((si as u64) << 8) ^ replica as u64);
            let suffix = ["kq2xz", "m8vtd"][replica];
            let rolled_at = start_ms + ROLLOUT_MS + replica as i64 * 5 * 60_000;
            for i in 0..days * DAY_MS / step {
                let ts = start_ms + i * step;
                let rolled = !s.warm_up.is_empty() && ts >= rolled_at;
                let pod = if rolled {
                    format!("{}-5c8b9d7f6-{suffix}", s.name)
                } else {
                    format!("{}-7f9c6d5b8-{suffix}", s.name)
                };
                let load = traffic(ts) * (1.0 + 0.08 * rng.normal()).max(0.3);
                let burst = if rng.unit() < 0.004 { 1.0 + rng.unit() } else { 0.0 };
                let saw = (ts.rem_euclid(2 * HOUR_MS)) as f64 / (2 * HOUR_MS) as f64;
                let minute = if rolled { usize::try_from((ts - rolled_at) / step).ok() } else { None };
                let cpu = match minute.and_then(|m| s.warm_up.get(m)) {
                    Some(warm) => *warm,
                    None => s.cpu_base + s.cpu_per_load * load + 0.2 * s.cpu_per_load * burst,
                };
                let mem = s.mem_base + s.mem_per_load * load + s.sawtooth * saw + 4.0 * rng.unit();
                rows.push(Sample {
                    timestamp_ms: ts,
                    namespace: NAMESPACE.into(),
                    workload_kind: "Deployment".into(),
                    workload: s.name.into(),
                    pod,
                    container: s.name.into(),
                    cpu_cores: (cpu * 10_000.0).round() / 10_000.0,
                    memory_bytes: (mem * 1024.0).round() * 1024.0,
                    ..Default::default()
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_of_the_tree_has_samples_and_the_week_is_the_same_every_time() {
        let a = samples(0, 1);
        assert_eq!(a.len(), SERVICES.len() * REPLICAS * 1440);
        assert_eq!(a, samples(0, 1));
        // The week's rollout: each orders pod replaced once, its first minutes the warm-up.
        let week = samples(0, 7);
        let new_pod = |r: &&Sample| r.workload == "orders" && r.pod.starts_with("orders-5c8b9d7f6-");
        let first: Vec<f64> =
            week.iter().filter(new_pod).filter(|r| r.pod.ends_with("kq2xz")).take(4).map(|r| r.cpu_cores).collect();
        assert_eq!(first[..3], WARM_UP);
        assert!(first[3] < 0.6, "{first:?}");
        assert_eq!(week.iter().filter(new_pod).map(|r| r.timestamp_ms).min(), Some(ROLLOUT_MS));
        for s in SERVICES {
            let manifest = GITOPS.iter().find(|(path, _)| *path == format!("base/{}.yaml", s.name)).unwrap().1;
            assert!(manifest.contains(&format!("name: {}\n", s.name)), "{}", s.name);
        }
    }
}

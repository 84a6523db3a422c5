//! `podsizer demo --stack polyglot`: a store of four services in four runtimes (a Spring
//! Boot service on the JVM, a Go service, a Node.js renderer and a gunicorn API), whose
//! runtime settings are sized with their resources.

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
}

const SERVICES: &[Shape] = &[
    Shape { name: "orders", cpu_base: 0.05, cpu_per_load: 0.45, mem_base: 520.0, mem_per_load: 160.0, sawtooth: 60.0 },
    Shape { name: "ingest", cpu_base: 0.02, cpu_per_load: 0.2, mem_base: 120.0, mem_per_load: 160.0, sawtooth: 0.0 },
    Shape { name: "web", cpu_base: 0.03, cpu_per_load: 0.3, mem_base: 140.0, mem_per_load: 90.0, sawtooth: 10.0 },
    Shape { name: "catalog", cpu_base: 0.04, cpu_per_load: 0.5, mem_base: 520.0, mem_per_load: 60.0, sawtooth: 0.0 },
];

/// Pods per service.
pub(crate) const REPLICAS: usize = 2;

/// A week of one-minute samples of every pod, deterministic: the same rows on every run.
pub(crate) fn samples(start_ms: i64, days: i64) -> Vec<Sample> {
    let step = 60_000;
    let mut rows = Vec::new();
    for (si, s) in SERVICES.iter().enumerate() {
        for replica in 0..REPLICAS {
            let mut rng = Rng::new(0x5eed ^ ((si as u64) << 8) ^ replica as u64);
            let pod = format!("{}-7f9c6d5b8-{}", s.name, ["kq2xz", "m8vtd"][replica]);
            for i in 0..days * DAY_MS / step {
                let ts = start_ms + i * step;
                let load = traffic(ts) * (1.0 + 0.08 * rng.normal()).max(0.3);
                let burst = if rng.unit() < 0.004 { 1.0 + rng.unit() } else { 0.0 };
                let saw = (ts.rem_euclid(2 * HOUR_MS)) as f64 / (2 * HOUR_MS) as f64;
                let cpu = s.cpu_base + s.cpu_per_load * load + 0.2 * s.cpu_per_load * burst;
                let mem = s.mem_base + s.mem_per_load * load + s.sawtooth * saw + 4.0 * rng.unit();
                rows.push(Sample {
                    timestamp_ms: ts,
                    namespace: NAMESPACE.into(),
                    workload_kind: "Deployment".into(),
                    workload: s.name.into(),
                    pod: pod.clone(),
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
        for s in SERVICES {
            let manifest = GITOPS.iter().find(|(path, _)| *path == format!("base/{}.yaml", s.name)).unwrap().1;
            assert!(manifest.contains(&format!("name: {}\n", s.name)), "{}", s.name);
        }
    }
}

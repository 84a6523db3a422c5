//! A container's raw history (every pod's points), kept for what needs the samples
//! themselves rather than their summary: the back-test's replay, node packing, traffic
//! projection and the report's timelines. `recommend` never needs it.

use super::usage::ContainerUsage;
use crate::domain::{ContainerKey, SampleRef};
use std::collections::HashMap;

/// Prices used for cost; defaults are typical on-demand list prices per unit-hour.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prices {
    /// Price of one core for one hour (default 0.04).
    pub core_hour: f64,
    /// Price of one GiB of memory for one hour (default 0.005).
    pub gib_hour: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Self { core_hour: 0.04, gib_hour: 0.005 }
    }
}

/// One measurement of a container in a pod.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Epoch milliseconds, UTC.
    pub ts: i64,
    /// Index of the pod in [`Series::pods`].
    pub pod: u32,
    /// CPU usage in cores.
    pub cpu: f64,
    /// Memory usage (working set) in bytes.
    pub memory: f64,
}

/// A container's raw history.
#[derive(Debug, Clone)]
pub struct Series {
    /// The container the points measured.
    pub key: ContainerKey,
    /// Names of the pods that ran it, indexed by [`Point::pod`].
    pub pods: Vec<String>,
    /// Every pod's points, sorted by time then pod once [`SeriesBuilder::finish`] returns them.
    pub points: Vec<Point>,
}

impl Series {
    /// Median gap between consecutive samples of one pod (the sampling interval).
    pub fn step_ms(&self) -> i64 {
        let mut last: HashMap<u32, i64> = HashMap::new();
        let mut gaps: Vec<i64> = Vec::new();
        for p in &self.points {
            if let Some(prev) = last.insert(p.pod, p.ts) {
                if p.ts > prev {
                    gaps.push(p.ts - prev);
                }
            }
            if gaps.len() >= 10_000 {
                break;
            }
        }
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).copied().unwrap_or(60_000)
    }

    /// Usage summary of the points in `[from, to)`.
    pub fn usage(&self, from: i64, to: i64) -> ContainerUsage {
        let mut u = ContainerUsage::new(self.key.clone());
        for p in self.points.iter().filter(|p| p.ts >= from && p.ts < to) {
            u.observe(p.ts, &self.pods[p.pod as usize], p.cpu, p.memory);
        }
        u
    }
}

/// Collects `Series` from a stream of rows.
#[derive(Default)]
pub struct SeriesBuilder {
    series: Vec<Series>,
    index: HashMap<ContainerKey, usize>,
    pods: Vec<HashMap<String, u32>>,
}

impl SeriesBuilder {
    /// Adds one row to its container's series (in arrival order; `finish` sorts).
    pub fn observe(&mut self, row: &SampleRef<'_>) {
        let key = ContainerKey {
            workload: crate::domain::Workload {
                cluster: row.cluster.into(),
                namespace: row.namespace.into(),
                kind: row.workload_kind.into(),
                name: row.workload.into(),
            },
            container: row.container.into(),
        };
        let i = *self.index.entry(key.clone()).or_insert_with(|| {
            self.series.push(Series { key, pods: Vec::new(), points: Vec::new() });
            self.pods.push(HashMap::new());
            self.series.len() - 1
        });
        let series = &mut self.series[i];
        let pod = *self.pods[i].entry(row.pod.to_string()).or_insert_with(|| {
            series.pods.push(row.pod.to_string());
            (series.pods.len() - 1) as u32
        });
        series.points.push(Point { ts: row.timestamp_ms, pod, cpu: row.cpu_cores, memory: row.memory_bytes });
    }

    /// The series, sorted by container, each one's points by time then pod.
    pub fn finish(self) -> Vec<Series> {
        let mut all = self.series;
        for s in &mut all {
            s.points.sort_by_key(|p| (p.ts, p.pod));
        }
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }
}

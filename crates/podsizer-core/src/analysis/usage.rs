//! What a container used: per-day summaries (histograms, peaks) built from a stream of rows.
//!
//! Days are kept apart so a strategy can weight them (decay) and so days can be summarised
//! once and merged later; a summary's size depends on the number of distinct values seen,
//! never on the number of samples.

use super::histogram::Histogram;
use crate::domain::SampleRef;
use crate::domain::{ContainerKey, Workload, DAY_MS};
use std::collections::{BTreeMap, HashMap};

/// One container's usage on one UTC day, pooled over all its pods.
#[derive(Debug, Clone, Default)]
pub struct DayUsage {
    /// Every CPU sample of the day, in cores, one unit of weight each.
    pub cpu: Histogram,
    /// Every working-set sample of the day, in bytes, one unit of weight each.
    pub memory: Histogram,
    /// Highest working set per pod this day (VPA sizes memory from such peaks).
    /// Keyed by the pod's index in `ContainerUsage::pods`.
    pub pod_memory_peaks: BTreeMap<u32, f64>,
    /// CPU per pod (krr takes the busiest pod's percentile).
    pub pod_cpu: BTreeMap<u32, Histogram>,
    /// The day's first sample, in epoch ms.
    pub first_ms: i64,
    /// The day's last sample, in epoch ms.
    pub last_ms: i64,
    /// Pods seen in each 5-minute bucket of the day (the replica count over time).
    pub pods_per_bucket: Vec<u16>,
}

const BUCKET_MS: i64 = 5 * 60_000;

impl DayUsage {
    /// Pods are numbered per container; `remap[old] = new`.
    fn renumber_pods(&mut self, remap: &[u32]) {
        self.pod_memory_peaks = std::mem::take(&mut self.pod_memory_peaks)
            .into_iter()
            .map(|(pod, peak)| (remap[pod as usize], peak))
            .collect();
        self.pod_cpu = std::mem::take(&mut self.pod_cpu).into_iter().map(|(pod, h)| (remap[pod as usize], h)).collect();
    }

    /// Adds another summary of the same day and container (pods already numbered alike).
    pub fn merge(&mut self, other: DayUsage) {
        self.cpu.merge_scaled(&other.cpu, 1.0);
        self.memory.merge_scaled(&other.memory, 1.0);
        for (pod, peak) in other.pod_memory_peaks {
            let mine = self.pod_memory_peaks.entry(pod).or_insert(peak);
            *mine = mine.max(peak);
        }
        for (pod, h) in other.pod_cpu {
            self.pod_cpu.entry(pod).or_default().merge_scaled(&h, 1.0);
        }
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
        if self.pods_per_bucket.len() < other.pods_per_bucket.len() {
            self.pods_per_bucket.resize(other.pods_per_bucket.len(), 0);
        }
        for (mine, theirs) in self.pods_per_bucket.iter_mut().zip(other.pods_per_bucket) {
            *mine = mine.saturating_add(theirs);
        }
    }
}

/// Replica count over a window, from the pods seen per 5-minute bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replicas {
    /// Fewest pods seen in a 5-minute bucket that had any.
    pub min: u16,
    /// Median of the pods seen per bucket: the usual replica count.
    pub median: u16,
    /// Most pods seen in one bucket (a rollout's surge counts).
    pub max: u16,
}

/// A container's usage history.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    /// The container this history belongs to.
    pub key: ContainerKey,
    /// Keyed by the day's start in epoch ms.
    pub days: BTreeMap<i64, DayUsage>,
    /// Pod names; per-day figures refer to pods by index here.
    pub pods: Vec<String>,
    pod_index: HashMap<String, u32>,
    /// The last pod seen: rows arrive grouped by pod, so most rows skip the name lookup.
    last_pod: Option<u32>,
    /// Per pod, the last 5-minute bucket counted in `pods_per_bucket`. Kept per pod (not just
    /// for the last one) because a day's rows can come from many parts (a collector's flushes).
    pod_bucket: Vec<i64>,
}

impl ContainerUsage {
    /// An empty history of `key`.
    pub fn new(key: ContainerKey) -> Self {
        Self {
            key,
            days: BTreeMap::new(),
            pods: Vec::new(),
            pod_index: HashMap::new(),
            last_pod: None,
            pod_bucket: Vec::new(),
        }
    }

    fn pod_id(&mut self, pod: &str) -> u32 {
        if let Some(id) = self.last_pod {
            if self.pods[id as usize] == pod {
                return id;
            }
        }
        let id = if let Some(id) = self.pod_index.get(pod) {
            *id
        } else {
            self.pods.push(pod.to_string());
            self.pod_bucket.push(i64::MIN);
            let id = (self.pods.len() - 1) as u32;
            self.pod_index.insert(pod.to_string(), id);
            id
        };
        self.last_pod = Some(id);
        id
    }

    /// Adds one sample of pod `pod` at `ts` (epoch ms): `cpu` in cores, `memory` (working set) in bytes.
    pub fn observe(&mut self, ts: i64, pod: &str, cpu: f64, memory: f64) {
        let id = self.pod_id(pod);
        self.observe_pod(id, ts, cpu, memory);
    }

    fn observe_pod(&mut self, id: u32, ts: i64, cpu: f64, memory: f64) {
        let bucket = ts.div_euclid(BUCKET_MS);
        let new_bucket = self.pod_bucket[id as usize] != bucket;
        self.pod_bucket[id as usize] = bucket;
        let day = self.days.entry(ts.div_euclid(DAY_MS) * DAY_MS).or_insert_with(|| DayUsage {
            first_ms: ts,
            last_ms: ts,
            ..DayUsage::default()
        });
        day.cpu.add(cpu, 1.0);
        day.memory.add(memory, 1.0);
        if new_bucket {
            let slot = (ts.rem_euclid(DAY_MS) / BUCKET_MS) as usize;
            if day.pods_per_bucket.len() <= slot {
                day.pods_per_bucket.resize(slot + 1, 0);
            }
            day.pods_per_bucket[slot] = day.pods_per_bucket[slot].saturating_add(1);
        }
        day.first_ms = day.first_ms.min(ts);
        day.last_ms = day.last_ms.max(ts);
        let peak = day.pod_memory_peaks.entry(id).or_insert(memory);
        *peak = peak.max(memory);
        day.pod_cpu.entry(id).or_default().add(cpu, 1.0);
    }

    /// A container's usage from its parts (a decoded summary, for instance).
    pub fn from_parts(key: ContainerKey, pods: Vec<String>, days: BTreeMap<i64, DayUsage>) -> Self {
        let mut usage = Self::new(key);
        for pod in &pods {
            usage.pod_id(pod);
        }
        usage.days = days;
        usage
    }

    /// Adds another history of the same container (another day, or the same day from another
    /// input): pods are matched by name, overlapping days merged.
    pub fn absorb(&mut self, other: ContainerUsage) {
        let remap: Vec<u32> = other.pods.iter().map(|p| self.pod_id(p)).collect();
        for (day, mut usage) in other.days {
            usage.renumber_pods(&remap);
            match self.days.entry(day) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(usage);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => slot.get_mut().merge(usage),
            }
        }
    }

    /// Replica count over the window; `None` without samples. Rows of one pod must arrive in
    /// time order (the store and `podsizer`'s readers guarantee it).
    pub fn replicas(&self) -> Option<Replicas> {
        let mut counts: Vec<u16> =
            self.days.values().flat_map(|d| d.pods_per_bucket.iter().copied()).filter(|c| *c > 0).collect();
        if counts.is_empty() {
            return None;
        }
        counts.sort_unstable();
        Some(Replicas { min: counts[0], median: counts[counts.len() / 2], max: counts[counts.len() - 1] })
    }

    /// Samples over all days (each row counts once, whatever its pod).
    pub fn samples(&self) -> u64 {
        self.days.values().map(|d| d.cpu.count()).sum()
    }

    /// The first sample's instant, in epoch ms; `None` without samples.
    pub fn first_ms(&self) -> Option<i64> {
        self.days.values().map(|d| d.first_ms).min()
    }

    /// The last sample's instant, in epoch ms; `None` without samples.
    pub fn last_ms(&self) -> Option<i64> {
        self.days.values().map(|d| d.last_ms).max()
    }

    /// Time from the first sample to the last, in ms (0 without samples): what the history gate measures.
    pub fn span_ms(&self) -> i64 {
        match (self.first_ms(), self.last_ms()) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    /// Highest CPU sample over all days, in cores.
    pub fn cpu_max(&self) -> f64 {
        self.days.values().map(|d| d.cpu.max()).fold(0.0, f64::max)
    }

    /// Highest working-set sample over all days, in bytes.
    pub fn memory_max(&self) -> f64 {
        self.days.values().map(|d| d.memory.max()).fold(0.0, f64::max)
    }

    /// Each pod's CPU histogram over the whole history.
    pub fn cpu_by_pod(&self) -> BTreeMap<&str, Histogram> {
        let mut pods: BTreeMap<&str, Histogram> = BTreeMap::new();
        for day in self.days.values() {
            for (pod, h) in &day.pod_cpu {
                pods.entry(self.pods[*pod as usize].as_str()).or_default().merge_scaled(h, 1.0);
            }
        }
        pods
    }

    /// Each pod's peak working set of each day, weighted by `weight(day_start)`.
    pub fn daily_peaks(&self, weight: impl Fn(i64) -> f64) -> Histogram {
        let mut peaks = Histogram::new();
        for (day, usage) in &self.days {
            let w = weight(*day);
            for peak in usage.pod_memory_peaks.values() {
                peaks.add(*peak, w);
            }
        }
        peaks
    }

    /// CPU and memory histograms over all days, each day weighted by `weight(day_start)`.
    pub fn combined(&self, weight: impl Fn(i64) -> f64) -> (Histogram, Histogram) {
        let mut cpu = Histogram::new();
        let mut memory = Histogram::new();
        for (day, usage) in &self.days {
            let w = weight(*day);
            cpu.merge_scaled(&usage.cpu, w);
            memory.merge_scaled(&usage.memory, w);
        }
        (cpu, memory)
    }
}

/// Builds `ContainerUsage` for every container seen in a stream of rows. Rows arrive grouped
/// by container (the store sorts them), so the last container is cached to skip hashing.
#[derive(Default)]
pub struct UsageBuilder {
    containers: Vec<ContainerUsage>,
    index: HashMap<ContainerKey, usize>,
    last: Option<usize>,
    /// `SampleRef::series` of the last row: the same id means the same container and pod.
    last_series: u64,
}

impl UsageBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one row to its container's history.
    pub fn observe(&mut self, row: &SampleRef<'_>) {
        if let (Some(slot), true) = (self.last, row.series != 0 && row.series == self.last_series) {
            let usage = &mut self.containers[slot];
            let pod = usage.last_pod.expect("a row was seen");
            usage.observe_pod(pod, row.timestamp_ms, row.cpu_cores, row.memory_bytes);
            return;
        }
        self.last_series = row.series;
        let slot = match self.last {
            Some(i) if same_container(&self.containers[i].key, row) => i,
            _ => self.lookup(row),
        };
        self.last = Some(slot);
        self.containers[slot].observe(row.timestamp_ms, row.pod, row.cpu_cores, row.memory_bytes);
    }

    fn lookup(&mut self, row: &SampleRef<'_>) -> usize {
        let key = ContainerKey {
            workload: Workload {
                cluster: row.cluster.into(),
                namespace: row.namespace.into(),
                kind: row.workload_kind.into(),
                name: row.workload.into(),
            },
            container: row.container.into(),
        };
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        self.containers.push(ContainerUsage::new(key.clone()));
        self.index.insert(key, self.containers.len() - 1);
        self.containers.len() - 1
    }

    /// Adds a container's history, merged with what was already seen of it.
    pub fn absorb(&mut self, usage: ContainerUsage) {
        if let Some(i) = self.index.get(&usage.key) {
            self.containers[*i].absorb(usage);
        } else {
            self.index.insert(usage.key.clone(), self.containers.len());
            self.containers.push(usage);
        }
    }

    /// All containers, sorted by namespace, workload and container.
    pub fn finish(self) -> Vec<ContainerUsage> {
        let mut all = self.containers;
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }
}

fn same_container(key: &ContainerKey, row: &SampleRef<'_>) -> bool {
    key.container == row.container
        && key.workload.name == row.workload
        && key.workload.namespace == row.namespace
        && key.workload.kind == row.workload_kind
        && key.workload.cluster == row.cluster
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(ts: i64, pod: &'a str, container: &'a str, cpu: f64) -> SampleRef<'a> {
        SampleRef {
            timestamp_ms: ts,
            namespace: "shop",
            workload_kind: "Deployment",
            workload: "api",
            pod,
            container,
            cpu_cores: cpu,
            memory_bytes: cpu * 1e9,
            series: 0,
            ..Default::default()
        }
    }

    #[test]
    fn pools_pods_and_splits_days() {
        let mut b = UsageBuilder::new();
        for i in 0..48 {
            b.observe(&row(i * 3_600_000, "p1", "nginx", 0.1));
            b.observe(&row(i * 3_600_000, "p2", "nginx", 0.3));
            b.observe(&row(i * 3_600_000, "p1", "envoy", 0.05));
        }
        let all = b.finish();
        assert_eq!(all.len(), 2);
        let nginx = all.iter().find(|c| c.key.container == "nginx").unwrap();
        assert_eq!(nginx.samples(), 96);
        assert_eq!(nginx.pods.len(), 2);
        assert_eq!(nginx.days.len(), 2);
        assert_eq!(nginx.span_ms(), 47 * 3_600_000);
        assert!((nginx.cpu_max() - 0.3).abs() < 1e-12);
        let day0 = nginx.days.values().next().unwrap();
        let p2 = nginx.pods.iter().position(|p| p == "p2").unwrap() as u32;
        assert!((day0.pod_memory_peaks[&p2] - 0.3e9).abs() < 1.0);
        assert_eq!(nginx.replicas(), Some(Replicas { min: 2, median: 2, max: 2 }));
    }
}

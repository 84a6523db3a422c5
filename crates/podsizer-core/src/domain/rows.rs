//! Samples in columns: each series' names once, and per row only its series, time and usage.
//!
//! A `Sample` carries six owned strings, so an import of millions of rows spent most of its time
//! copying, comparing and freeing names that change once per series. `SampleRows` is what
//! importers hand to the store: about 32 bytes a row, names interned per series.

use super::Sample;
use std::collections::HashMap;

/// Who a series measured: cluster (empty: none recorded), namespace, workload kind, workload,
/// pod and container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesNames {
    /// The cluster; empty when none was recorded.
    pub cluster: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The owning workload's kind (`Deployment`).
    pub workload_kind: String,
    /// The owning workload's name.
    pub workload: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
}

impl SeriesNames {
    /// The names in the store's row order (`Sample::store_order`): container before pod.
    pub fn store_key(&self) -> [&str; 6] {
        [&self.cluster, &self.namespace, &self.workload_kind, &self.workload, &self.container, &self.pod]
    }

    /// See [`super::series_identity`].
    pub fn identity(&self) -> String {
        super::series_identity([
            &self.cluster,
            &self.namespace,
            &self.workload_kind,
            &self.workload,
            &self.pod,
            &self.container,
        ])
    }

    fn of(s: &Sample) -> Self {
        Self {
            cluster: s.cluster.clone(),
            namespace: s.namespace.clone(),
            workload_kind: s.workload_kind.clone(),
            workload: s.workload.clone(),
            pod: s.pod.clone(),
            container: s.container.clone(),
        }
    }

    fn names_of(&self, s: &Sample) -> bool {
        self.pod == s.pod
            && self.container == s.container
            && self.workload == s.workload
            && self.namespace == s.namespace
            && self.workload_kind == s.workload_kind
            && self.cluster == s.cluster
    }
}

/// One measurement of the series `series` (an index into `SampleRows::series`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Index of the row's names in [`SampleRows::series`].
    pub series: u32,
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    /// CPU usage in cores.
    pub cpu_cores: f64,
    /// Memory usage (working set) in bytes.
    pub memory_bytes: f64,
}

/// Rows of many series; each series' names appear once.
#[derive(Debug, Clone, Default)]
pub struct SampleRows {
    series: Vec<SeriesNames>,
    index: HashMap<SeriesNames, u32>,
    /// The rows in the order they were pushed (not sorted).
    pub rows: Vec<Row>,
}

impl SampleRows {
    /// No series, no rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of a series, added when new.
    pub fn series_id(&mut self, names: SeriesNames) -> u32 {
        if let Some(id) = self.index.get(&names) {
            return *id;
        }
        let id = u32::try_from(self.series.len()).expect("fewer than 2^32 series");
        self.series.push(names.clone());
        self.index.insert(names, id);
        id
    }

    /// Adds one row of the series `series` (an index from [`SampleRows::series_id`]).
    pub fn push(&mut self, series: u32, timestamp_ms: i64, cpu_cores: f64, memory_bytes: f64) {
        debug_assert!((series as usize) < self.series.len());
        self.rows.push(Row { series, timestamp_ms, cpu_cores, memory_bytes });
    }

    /// The names of the series at index `series`; panics on an index not handed out here.
    pub fn names(&self, series: u32) -> &SeriesNames {
        &self.series[series as usize]
    }

    /// Every series added, by index.
    pub fn series(&self) -> &[SeriesNames] {
        &self.series
    }

    /// The number of rows (not of series).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows of `samples`, in their order; runs of rows with the same names are interned once.
    pub fn from_samples<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Self {
        let mut out = Self::new();
        let mut last: Option<u32> = None;
        for s in samples {
            let id = match last {
                Some(id) if out.series[id as usize].names_of(s) => id,
                _ => out.series_id(SeriesNames::of(s)),
            };
            last = Some(id);
            out.push(id, s.timestamp_ms, s.cpu_cores, s.memory_bytes);
        }
        out
    }

    /// Adds every row of `other` (its series interned here).
    pub fn extend(&mut self, other: SampleRows) {
        let ids: Vec<u32> = other.series.into_iter().map(|names| self.series_id(names)).collect();
        self.rows.extend(other.rows.into_iter().map(|r| Row { series: ids[r.series as usize], ..r }));
    }

    /// Names `cluster` on every series (for sources whose rows carry none).
    pub fn set_cluster(&mut self, cluster: &str) {
        for names in &mut self.series {
            names.cluster = cluster.to_string();
        }
        self.index = self.series.iter().cloned().zip(0..).collect();
    }

    /// Empties it, keeping the rows' allocation.
    pub fn clear(&mut self) {
        self.series.clear();
        self.index.clear();
        self.rows.clear();
    }

    /// Each series' place in the store's row order (`Sample::store_order` without the time).
    pub fn store_ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.series.len() as u32).collect();
        order.sort_by(|a, b| self.series[*a as usize].store_key().cmp(&self.series[*b as usize].store_key()));
        let mut rank = vec![0u32; self.series.len()];
        for (place, id) in order.iter().enumerate() {
            rank[*id as usize] = place as u32;
        }
        rank
    }

    /// A row as a `Sample` (names copied): for tests and small callers.
    pub fn sample(&self, row: &Row) -> Sample {
        let n = self.names(row.series);
        Sample {
            timestamp_ms: row.timestamp_ms,
            cluster: n.cluster.clone(),
            namespace: n.namespace.clone(),
            workload_kind: n.workload_kind.clone(),
            workload: n.workload.clone(),
            pod: n.pod.clone(),
            container: n.container.clone(),
            cpu_cores: row.cpu_cores,
            memory_bytes: row.memory_bytes,
        }
    }

    /// Every row as a `Sample`, in row order (names copied per row: for tests and small callers).
    pub fn to_samples(&self) -> Vec<Sample> {
        self.rows.iter().map(|r| self.sample(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pod: &str, container: &str, t: i64) -> Sample {
        Sample {
            timestamp_ms: t,
            namespace: "ns".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            pod: pod.into(),
            container: container.into(),
            cpu_cores: t as f64,
            memory_bytes: 2.0 * t as f64,
            ..Default::default()
        }
    }

    #[test]
    fn samples_round_trip_with_each_series_named_once() {
        let samples =
            vec![sample("a", "nginx", 1), sample("a", "nginx", 2), sample("b", "nginx", 1), sample("a", "nginx", 3)];
        let rows = SampleRows::from_samples(&samples);
        assert_eq!(rows.series().len(), 2);
        assert_eq!(rows.to_samples(), samples);
        let mut more = SampleRows::from_samples(&[sample("b", "nginx", 5), sample("c", "php-fpm", 5)]);
        more.extend(rows.clone());
        assert_eq!(more.series().len(), 3);
        assert_eq!(more.len(), 6);
        assert_eq!(more.to_samples()[2..], samples[..]);
    }

    #[test]
    fn ranks_follow_the_store_order_container_before_pod() {
        let rows =
            SampleRows::from_samples(&[sample("b", "envoy", 0), sample("a", "nginx", 0), sample("c", "envoy", 0)]);
        assert_eq!(rows.store_ranks(), vec![0, 2, 1]);
        let samples = rows.to_samples();
        assert!(samples[0].store_order(&samples[2]).is_lt() && samples[2].store_order(&samples[1]).is_lt());
    }
}

//! Rows of one window held until they are stored (see `Buffer`).

use crate::domain::{Sample, DAY_MS};
use crate::sources::sink::SinkError;

/// Samples waiting to be stored. Batches arrive pod by pod, each covering the whole window,
/// while the store de-duplicates an append against the day's parts whose time range meets
/// it: appending each batch (or each million rows) as it came re-read the day's earlier parts
/// again and again, and that was most of an import's time. So rows are held here, labels
/// interned (about 32 bytes a row instead of a `Sample`'s ~250), and stored at the end of the
/// window (or every FLUSH_ROWS rows) in time order, in slices of disjoint time ranges.
#[derive(Default)]
pub(super) struct Buffer {
    /// The cluster of every row.
    cluster: String,
    /// (namespace, workload kind, workload, pod, container) of each series seen.
    labels: Vec<[String; 5]>,
    rows: Vec<Row>,
}

struct Row {
    timestamp_ms: i64,
    cpu_cores: f64,
    memory_bytes: f64,
    series: u32,
}

impl Buffer {
    /// An empty buffer whose rows all belong to `cluster`.
    pub(super) fn new(cluster: String) -> Self {
        Self { cluster, ..Self::default() }
    }

    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds samples grouped by series (as `join_samples` returns them).
    pub(super) fn extend(&mut self, samples: Vec<Sample>) {
        self.rows.reserve(samples.len());
        for s in samples {
            let same = self.labels.last().is_some_and(|l| {
                l[4] == s.container
                    && l[3] == s.pod
                    && l[0] == s.namespace
                    && l[2] == s.workload
                    && l[1] == s.workload_kind
            });
            if !same {
                self.labels.push([s.namespace, s.workload_kind, s.workload, s.pod, s.container]);
            }
            self.rows.push(Row {
                timestamp_ms: s.timestamp_ms,
                cpu_cores: s.cpu_cores,
                memory_bytes: s.memory_bytes,
                series: (self.labels.len() - 1) as u32,
            });
        }
    }

    /// Hands every row to `store` and empties the buffer: time-ordered slices of about
    /// `slice_rows` rows, cut where the time (and the day) changes.
    pub(super) fn drain(
        &mut self,
        slice_rows: usize,
        mut store: impl FnMut(Vec<Sample>) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        let mut rows = std::mem::take(&mut self.rows);
        let labels = std::mem::take(&mut self.labels);
        // Each series' place in the store's row order (`Sample::store_order`): slices handed
        // over already in that order make the store's own sort a single pass, where sorting
        // by five strings per comparison took longer than everything else in the append.
        let mut order: Vec<u32> = (0..labels.len() as u32).collect();
        let key = |i: u32| {
            let [ns, kind, workload, pod, container] = &labels[i as usize];
            (ns, kind, workload, container, pod)
        };
        order.sort_by(|a, b| key(*a).cmp(&key(*b)));
        let mut rank = vec![0u32; labels.len()];
        for (place, pair) in order.iter().enumerate() {
            rank[*pair as usize] = place as u32;
        }
        rows.sort_unstable_by_key(|r| (r.timestamp_ms, rank[r.series as usize]));
        let mut start = 0;
        while start < rows.len() {
            let day = rows[start].timestamp_ms.div_euclid(DAY_MS);
            let mut end = (start + slice_rows.max(1)).min(rows.len());
            // Back to where the time changes, so no two slices share an instant...
            while end < rows.len() && end > start && rows[end].timestamp_ms == rows[end - 1].timestamp_ms {
                end -= 1;
            }
            if end == start {
                // ...unless one instant alone has more rows than a slice.
                let t = rows[start].timestamp_ms;
                end = start + rows[start..].partition_point(|r| r.timestamp_ms == t);
            }
            // ...and no slice spans two days.
            end = start + rows[start..end].partition_point(|r| r.timestamp_ms.div_euclid(DAY_MS) == day);
            rows[start..end].sort_unstable_by_key(|r| (rank[r.series as usize], r.timestamp_ms));
            let samples: Vec<Sample> = rows[start..end]
                .iter()
                .map(|r| {
                    let [namespace, workload_kind, workload, pod, container] = labels[r.series as usize].clone();
                    Sample {
                        timestamp_ms: r.timestamp_ms,
                        cluster: self.cluster.clone(),
                        namespace,
                        workload_kind,
                        workload,
                        pod,
                        container,
                        cpu_cores: r.cpu_cores,
                        memory_bytes: r.memory_bytes,
                    }
                })
                .collect();
            store(samples)?;
            start = end;
        }
        Ok(())
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
            cpu_cores: t as f64 / 1e9,
            memory_bytes: 1.0 + t as f64,
            ..Default::default()
        }
    }

    #[test]
    fn buffered_rows_drain_once_in_disjoint_time_slices() {
        let start = 20 * DAY_MS - 3 * 60_000;
        let mut want = Vec::new();
        let mut buffer = Buffer::default();
        // Two batches (pods), each over the same six minutes across a day boundary, grouped by series.
        for pod in ["api-a", "api-b"] {
            let mut batch = Vec::new();
            for c in ["nginx", "envoy"] {
                batch.extend((0..6).map(|i| sample(pod, c, start + i * 60_000)));
            }
            want.extend(batch.clone());
            buffer.extend(batch);
        }
        assert_eq!(buffer.len(), 24);
        let mut slices: Vec<Vec<Sample>> = Vec::new();
        buffer
            .drain(5, |slice| {
                slices.push(slice);
                Ok(())
            })
            .unwrap();
        assert!(buffer.is_empty());
        let mut got: Vec<Sample> = slices.iter().flatten().cloned().collect();
        let order = |s: &Sample| (s.pod.clone(), s.container.clone(), s.timestamp_ms);
        got.sort_by_key(order);
        want.sort_by_key(order);
        assert_eq!(got, want);
        // Slices of 4 rows (one instant of 2 pods x 2 containers; 5 would split one): 6 slices, no two
        // sharing an instant, none spanning two days, each in the store's row order.
        let ranges: Vec<(i64, i64)> = slices
            .iter()
            .map(|s| {
                let times = s.iter().map(|r| r.timestamp_ms);
                (times.clone().min().unwrap(), times.max().unwrap())
            })
            .collect();
        assert_eq!(ranges.len(), 6, "{ranges:?}");
        for (a, b) in &ranges {
            assert_eq!(a.div_euclid(DAY_MS), b.div_euclid(DAY_MS));
        }
        for pair in ranges.windows(2) {
            assert!(pair[0].1 < pair[1].0, "{ranges:?}");
        }
        for slice in &slices {
            let keys: Vec<_> = slice.iter().map(|s| (&s.container, &s.pod, s.timestamp_ms)).collect();
            assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        }
    }
}

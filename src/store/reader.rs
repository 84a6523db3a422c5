//! Streaming reads: one part at a time, rows handed to a visitor, never the whole store.

use super::{Store, StoreError};
use crate::domain::DAY_MS;
use crate::sources::files::frame_columns;
use polars::prelude::ParquetReader;
use polars::prelude::SerReader;
use std::path::Path;

/// A borrowed row, valid for the duration of the visitor call.
#[derive(Debug, Clone, Copy)]
pub struct SampleRef<'a> {
    pub timestamp_ms: i64,
    pub namespace: &'a str,
    pub workload_kind: &'a str,
    pub workload: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    pub cpu_cores: f64,
    pub memory_bytes: f64,
}

impl SampleRef<'_> {
    pub fn from_sample(s: &crate::domain::Sample) -> SampleRef<'_> {
        SampleRef {
            timestamp_ms: s.timestamp_ms,
            namespace: &s.namespace,
            workload_kind: &s.workload_kind,
            workload: &s.workload,
            pod: &s.pod,
            container: &s.container,
            cpu_cores: s.cpu_cores,
            memory_bytes: s.memory_bytes,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ScanStats {
    pub parts: u64,
    pub rows: u64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl Store {
    /// Visits every stored row with `since <= timestamp < until`, reading only the day
    /// partitions that overlap the range.
    pub fn scan(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        mut visit: impl FnMut(&SampleRef<'_>),
    ) -> Result<ScanStats, StoreError> {
        let mut stats = ScanStats::default();
        for (day, dir) in self.partitions()? {
            if since.is_some_and(|s| day + DAY_MS <= s) || until.is_some_and(|u| day >= u) {
                continue;
            }
            for part in Store::parts(&dir)? {
                stats.parts += 1;
                for_each_row(&part, |row| {
                    if since.is_some_and(|s| row.timestamp_ms < s) || until.is_some_and(|u| row.timestamp_ms >= u) {
                        return;
                    }
                    stats.rows += 1;
                    stats.min_ms = Some(stats.min_ms.map_or(row.timestamp_ms, |m| m.min(row.timestamp_ms)));
                    stats.max_ms = Some(stats.max_ms.map_or(row.timestamp_ms, |m| m.max(row.timestamp_ms)));
                    visit(&row);
                })?;
            }
        }
        Ok(stats)
    }

    /// Latest timestamp stored, read from the newest partition only.
    pub fn latest_timestamp(&self) -> Result<Option<i64>, StoreError> {
        let Some((_, dir)) = self.partitions()?.pop() else {
            return Ok(None);
        };
        let mut latest = None;
        for part in Store::parts(&dir)? {
            for_each_row(&part, |row| {
                latest = Some(latest.map_or(row.timestamp_ms, |l: i64| l.max(row.timestamp_ms)))
            })?;
        }
        Ok(latest)
    }
}

/// Reads one part and hands each row to `visit`. Parts were validated when written, so a
/// null or wrong type here means the file was damaged.
pub(crate) fn for_each_row(path: &Path, mut visit: impl FnMut(SampleRef<'_>)) -> Result<(), StoreError> {
    let damaged =
        |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Part { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(super::io_err(path, "open part"))?;
    let df = ParquetReader::new(file).finish().map_err(|e| damaged(Box::new(e)))?;
    let cols = frame_columns(path, &df).map_err(|e| damaged(Box::new(e)))?;
    let [ns, kind, wl, pod, c] = cols.strings.map(|c| c.iter());
    let strings = ns.zip(kind).zip(wl).zip(pod).zip(c);
    let numbers = cols.timestamp_ms.iter().zip(cols.cpu.iter()).zip(cols.memory.iter());
    for (((((ns, kind), wl), pod), c), ((ts, cpu), mem)) in strings.zip(numbers) {
        let (Some(ts), Some(cpu), Some(mem), Some(ns), Some(kind), Some(wl), Some(pod), Some(c)) =
            (ts, cpu, mem, ns, kind, wl, pod, c)
        else {
            return Err(damaged("null value in a stored row".into()));
        };
        visit(SampleRef {
            timestamp_ms: *ts,
            namespace: ns,
            workload_kind: kind,
            workload: wl,
            pod,
            container: c,
            cpu_cores: cpu,
            memory_bytes: mem,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;

    fn sample(ts: i64, pod: &str, cpu: f64) -> Sample {
        Sample {
            timestamp_ms: ts,
            namespace: "shop".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            pod: pod.into(),
            container: "nginx".into(),
            cpu_cores: cpu,
            memory_bytes: 1e6,
        }
    }

    fn collect(store: &Store) -> Vec<Sample> {
        let mut rows = Vec::new();
        store
            .scan(None, None, |r| {
                rows.push(Sample {
                    timestamp_ms: r.timestamp_ms,
                    namespace: r.namespace.into(),
                    workload_kind: r.workload_kind.into(),
                    workload: r.workload.into(),
                    pod: r.pod.into(),
                    container: r.container.into(),
                    cpu_cores: r.cpu_cores,
                    memory_bytes: r.memory_bytes,
                })
            })
            .unwrap();
        rows.sort_by(|a, b| a.store_order(b));
        rows
    }

    #[test]
    fn round_trip_across_days_and_no_duplicates_on_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(&dir.path().join("s")).unwrap();
        let batch: Vec<Sample> =
            (0..100).map(|i| sample(i * 3_600_000, if i % 2 == 0 { "a" } else { "b" }, i as f64)).collect();
        let first = store.append(batch.clone()).unwrap();
        assert_eq!((first.written, first.duplicates, first.days), (100, 0, 5));
        let again = store.append(batch.clone()).unwrap();
        assert_eq!((again.written, again.duplicates, again.parts_written), (0, 100, 0));
        let mut want = batch;
        want.sort_by(|a, b| a.store_order(b));
        assert_eq!(collect(&store), want);
        assert_eq!(store.latest_timestamp().unwrap(), Some(99 * 3_600_000));
    }

    #[test]
    fn duplicates_within_a_batch_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let report = store.append(vec![sample(0, "a", 1.0), sample(0, "a", 1.0), sample(0, "b", 1.0)]).unwrap();
        assert_eq!((report.written, report.duplicates), (2, 1));
    }

    #[test]
    fn scan_respects_the_time_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        store.append((0..48).map(|i| sample(i * 3_600_000, "a", 1.0)).collect()).unwrap();
        let stats = store.scan(Some(10 * 3_600_000), Some(30 * 3_600_000), |_| {}).unwrap();
        assert_eq!(stats.rows, 20);
        assert_eq!(stats.min_ms, Some(10 * 3_600_000));
    }

    #[test]
    fn leftover_temp_files_and_foreign_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        store.append(vec![sample(0, "a", 1.0)]).unwrap();
        // A crash between create and rename leaves a temp file: readers must ignore it.
        let day = store.partitions().unwrap()[0].1.clone();
        std::fs::write(day.join(".part-x.parquet.123.tmp"), b"half a file").unwrap();
        assert_eq!(collect(&store).len(), 1);
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("notes.txt"), "x").unwrap();
        assert!(matches!(Store::open_or_create(other.path()), Err(StoreError::NotAStore { .. })));
        assert!(matches!(Store::open(other.path()), Err(StoreError::Missing { .. })));
    }

    #[test]
    fn a_damaged_part_is_reported_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        store.append(vec![sample(0, "a", 1.0)]).unwrap();
        let day = store.partitions().unwrap()[0].1.clone();
        let part = Store::parts(&day).unwrap()[0].clone();
        std::fs::write(&part, b"garbage").unwrap();
        let err = store.scan(None, None, |_| {}).unwrap_err().to_string();
        assert!(err.contains("part-"), "{err}");
    }
}

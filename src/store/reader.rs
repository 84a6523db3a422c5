//! Streaming reads: one part at a time, rows handed to a visitor, never the whole store.

use super::measurements::PartOrder;
use super::part::{for_each_row, part_latest_timestamp, part_time_range};
use super::{Measurements, PartSet, Store, StoreError};
use crate::domain::{SampleRef, DAY_MS};

#[derive(Debug, Default, Clone, Copy)]
pub struct ScanStats {
    pub parts: u64,
    pub rows: u64,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl ScanStats {
    pub fn add(&mut self, other: &ScanStats) {
        self.parts += other.parts;
        self.rows += other.rows;
        self.min_ms = self.min_ms.into_iter().chain(other.min_ms).min();
        self.max_ms = self.max_ms.into_iter().chain(other.max_ms).max();
    }
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
            let day_stats = self.scan_partition(&PartSet::read(&dir)?, since, until, &mut visit)?;
            stats.add(&day_stats);
        }
        Ok(stats)
    }

    /// Visits the rows of one day's parts (as listed in `parts`) within `[since, until)`, each
    /// (series, timestamp) once (see `measurements`).
    pub fn scan_partition(
        &self,
        parts: &PartSet,
        since: Option<i64>,
        until: Option<i64>,
        mut visit: impl FnMut(&SampleRef<'_>),
    ) -> Result<ScanStats, StoreError> {
        let mut stats = ScanStats::default();
        // Parts whose recorded time ranges are disjoint cannot repeat each other's rows.
        let mut once = (!disjoint(parts)).then(Measurements::default);
        for part in parts.paths() {
            stats.parts += 1;
            // A part copied into the wrong day, or a `day=` link to another day, would count its
            // rows twice or in the wrong window: every row must belong to its partition's day,
            // and to the time range its name records.
            let day = part.parent().and_then(super::day_of_dir).map(|d| (d, d + DAY_MS - 1));
            let range = part_time_range(&part);
            let mut order = PartOrder::default();
            let mut wrong: Option<String> = None;
            for_each_row(&part, |row| {
                if wrong.is_some() {
                    return;
                }
                let ts = row.timestamp_ms;
                let outside = |r: Option<(i64, i64)>| r.is_some_and(|(lo, hi)| ts < lo || ts > hi);
                let at = || crate::domain::format_timestamp(ts);
                if outside(day) {
                    wrong = Some(format!("holds a row of {}, outside its day partition", at()));
                } else if outside(range) {
                    wrong = Some(format!("holds a row of {}, outside the time range its name records", at()));
                } else if let Some(why) = once.is_none().then(|| order.check(&row).err()).flatten() {
                    // Without the set, the order is what rules out a repeat inside the part.
                    wrong = Some(why);
                }
                let in_window = since.is_none_or(|s| ts >= s) && until.is_none_or(|u| ts < u);
                if wrong.is_some() || !in_window || once.as_mut().is_some_and(|o| !o.first_time(&row)) {
                    return;
                }
                stats.rows += 1;
                stats.min_ms = Some(stats.min_ms.map_or(ts, |m| m.min(ts)));
                stats.max_ms = Some(stats.max_ms.map_or(ts, |m| m.max(ts)));
                visit(&row);
            })?;
            if let Some(message) = wrong {
                return Err(StoreError::Part { path: part.clone(), source: message.into() });
            }
        }
        Ok(stats)
    }

    /// Latest timestamp stored, read from the newest partition only.
    pub fn latest_timestamp(&self) -> Result<Option<i64>, StoreError> {
        for (_, dir) in self.partitions()?.into_iter().rev() {
            let mut latest: Option<i64> = None;
            for part in Store::parts(&dir)? {
                latest = latest.max(part_latest_timestamp(&part)?);
            }
            if latest.is_some() {
                return Ok(latest);
            }
        }
        Ok(None)
    }
}

/// Whether a day's parts record pairwise disjoint time ranges (every podsizer part since
/// ranges were recorded; overlaps come from two writers storing the same rows, or a copy).
fn disjoint(parts: &PartSet) -> bool {
    let ranges: Option<Vec<(i64, i64)>> = parts.paths().map(|p| part_time_range(&p)).collect();
    let Some(mut ranges) = ranges else { return false };
    ranges.sort_unstable();
    ranges.windows(2).all(|w| w[0].1 < w[1].0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;
    use std::path::Path;

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
            ..Default::default()
        }
    }

    fn collect(store: &Store) -> Vec<Sample> {
        let mut rows = Vec::new();
        store
            .scan(None, None, |r| {
                rows.push(Sample {
                    timestamp_ms: r.timestamp_ms,
                    cluster: r.cluster.into(),
                    namespace: r.namespace.into(),
                    workload_kind: r.workload_kind.into(),
                    workload: r.workload.into(),
                    pod: r.pod.into(),
                    container: r.container.into(),
                    cpu_cores: r.cpu_cores,
                    memory_bytes: r.memory_bytes,
                });
            })
            .unwrap();
        rows.sort_by(podsizer_core::domain::Sample::store_order);
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
        want.sort_by(podsizer_core::domain::Sample::store_order);
        assert_eq!(collect(&store), want);
        assert_eq!(store.latest_timestamp().unwrap(), Some(99 * 3_600_000));
    }

    #[test]
    fn clusters_keep_same_named_rows_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let in_cluster = |cluster: &str| Sample { cluster: cluster.into(), ..sample(0, "a", 1.0) };
        let report = store.append(vec![in_cluster("eu"), in_cluster("us"), sample(0, "a", 1.0)]).unwrap();
        assert_eq!((report.written, report.duplicates), (3, 0), "same names, same instant, three clusters");
        assert_eq!(store.append(vec![in_cluster("us")]).unwrap().duplicates, 1);
        let clusters: Vec<String> = collect(&store).into_iter().map(|s| s.cluster).collect();
        assert_eq!(clusters, ["", "eu", "us"]);
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
    fn a_part_or_link_in_another_days_partition_is_damage() {
        for link in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_or_create(dir.path()).unwrap();
            store.append(vec![sample(0, "a", 1.0)]).unwrap();
            let day = store.partitions().unwrap()[0].1.clone();
            let next = dir.path().join("day=1970-01-02");
            if link {
                std::os::unix::fs::symlink(&day, &next).unwrap();
            } else {
                std::fs::create_dir(&next).unwrap();
                let part = Store::parts(&day).unwrap()[0].clone();
                std::fs::copy(&part, next.join(part.file_name().unwrap())).unwrap();
            }
            let err = store.scan(None, None, |_| {}).unwrap_err();
            // The message names the part; its source says what is wrong with it.
            let chain: Vec<String> = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                .map(std::string::ToString::to_string)
                .collect();
            let err = chain.join(": ");
            assert!(err.contains("day=1970-01-02") && err.contains("outside its day partition"), "{err}");
        }
    }

    #[test]
    fn a_part_copied_in_beside_its_original_counts_its_rows_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let rows: Vec<Sample> = (0..10).map(|i| sample(i * 60_000, "a", i as f64)).collect();
        store.append(rows[..6].to_vec()).unwrap();
        store.append(rows[4..].to_vec()).unwrap();
        let day = store.partitions().unwrap()[0].1.clone();
        let parts = Store::parts(&day).unwrap();
        assert_eq!(parts.len(), 2, "the second append stored only rows 6..10");
        // A copy of the first part under another writer's name, its own checksum intact.
        let name = parts[0].file_name().unwrap().to_str().unwrap().replacen("part-0", "part-9", 1);
        std::fs::copy(&parts[0], day.join(name)).unwrap();
        let mut want = rows.clone();
        want.sort_by(podsizer_core::domain::Sample::store_order);
        assert_eq!(collect(&store), want, "each measurement once");
        assert_eq!(store.scan(None, None, |_| {}).unwrap().rows, 10);
    }

    #[test]
    fn a_day_folder_spelled_otherwise_is_refused_by_name() {
        for spelling in ["day=1970-1-1", "day=1970-01-01T00:00:00Z", "day=1970-01-01.bak", "day=soon"] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open_or_create(dir.path()).unwrap();
            store.append(vec![sample(0, "a", 1.0)]).unwrap();
            std::fs::create_dir(dir.path().join(spelling)).unwrap();
            let err = store.scan(None, None, |_| {}).unwrap_err();
            assert!(matches!(&err, StoreError::Layout { path } if path.ends_with(spelling)), "{err}");
        }
    }

    #[test]
    fn a_failed_append_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        store.append(vec![sample(0, "a", 1.0)]).unwrap();
        // A file where the next day's partition must go stands in for an unwritable disk.
        std::fs::write(dir.path().join("day=1970-01-02"), b"in the way").unwrap();
        let listing = |p: &Path| {
            let mut names: Vec<String> = walk(p).into_iter().map(|e| e.display().to_string()).collect();
            names.sort();
            names
        };
        let before = listing(dir.path());
        assert!(store.append(vec![sample(DAY_MS + 60_000, "a", 1.0)]).is_err());
        assert_eq!(listing(dir.path()), before, "no part or temp file may remain");
        std::fs::remove_file(dir.path().join("day=1970-01-02")).unwrap();
        assert_eq!(collect(&store).len(), 1);
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
        out
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

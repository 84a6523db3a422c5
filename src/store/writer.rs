//! Atomic, de-duplicating appends.

use super::{day_dir_name, io_err, Store, StoreError};
use crate::domain::schema::samples_to_frame;
use crate::domain::{Sample, DAY_MS};
use polars::prelude::{ParquetCompression, ParquetWriter};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// What an append did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppendReport {
    pub received: u64,
    pub written: u64,
    /// Rows already in the store, or repeated within the batch.
    pub duplicates: u64,
    pub parts_written: u64,
    pub days: u64,
}

static PART_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// Adds samples; rows already stored for the same container, pod and timestamp are
    /// dropped. Each day's new rows land in one new part, written atomically.
    pub fn append(&self, mut samples: Vec<Sample>) -> Result<AppendReport, StoreError> {
        // Every source's last gate: a day partition needs a calendar day (file inputs are held
        // to the tighter `domain::bounds` span where they are read).
        for s in &samples {
            crate::domain::bounds::check_calendar(s.timestamp_ms).map_err(|reason| StoreError::Implausible {
                path: self.root.clone(),
                row: format!("{}/{}", s.container_key(), s.pod),
                reason,
            })?;
        }
        let _lock = self.lock()?;
        let mut report = AppendReport { received: samples.len() as u64, ..AppendReport::default() };
        samples.sort_by(|a, b| day_of(a.timestamp_ms).cmp(&day_of(b.timestamp_ms)).then_with(|| a.store_order(b)));
        samples.dedup_by(|b, a| a.timestamp_ms == b.timestamp_ms && a.store_order(b).is_eq());
        let mut start = 0;
        while start < samples.len() {
            let day = day_of(samples[start].timestamp_ms);
            let end = start + samples[start..].partition_point(|s| day_of(s.timestamp_ms) == day);
            let written = self.append_day(day, &samples[start..end])?;
            report.written += written as u64;
            report.parts_written += u64::from(written > 0);
            report.days += 1;
            start = end;
        }
        report.duplicates = report.received - report.written;
        Ok(report)
    }

    fn append_day(&self, day: i64, rows: &[Sample]) -> Result<usize, StoreError> {
        let dir = self.root.join(day_dir_name(day));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir, "create partition"))?;
        let first = rows.iter().map(|s| s.timestamp_ms).min().unwrap_or(i64::MIN);
        let last = rows.iter().map(|s| s.timestamp_ms).max().unwrap_or(i64::MAX);
        let existing = self.existing_keys(&dir, first, last)?;
        // Chronological appends (imports, the collector) meet no stored row: no copy then.
        let fresh: std::borrow::Cow<[Sample]> = if existing.is_empty() {
            rows.into()
        } else {
            rows.iter().filter(|s| !existing.contains(&row_key(s))).cloned().collect::<Vec<_>>().into()
        };
        if fresh.is_empty() {
            return Ok(0);
        }
        let mut frame =
            samples_to_frame(&fresh).map_err(|e| StoreError::Part { path: dir.clone(), source: Box::new(e) })?;
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_compression(ParquetCompression::Zstd(None))
            .with_row_group_size(Some(512 * 1024))
            .finish(&mut frame)
            .map_err(|e| StoreError::Part { path: dir.clone(), source: Box::new(e) })?;
        let checksum = xxhash_rust::xxh3::xxh3_64(&bytes);
        write_atomically(&dir.join(part_name(first, last, Some(checksum))), &bytes)?;
        Ok(fresh.len())
    }

    /// Keys of rows already stored in one day partition, read only from parts whose time range
    /// meets `[first, last]`: a collector's or a chronological import's new rows meet none, so
    /// appending does not re-read the day.
    fn existing_keys(&self, dir: &Path, first: i64, last: i64) -> Result<HashSet<RowKey>, StoreError> {
        let mut keys = HashSet::new();
        for part in Store::parts(dir)? {
            if part_time_range(&part).is_some_and(|(lo, hi)| hi < first || lo > last) {
                continue;
            }
            super::reader::for_each_row(&part, |row| {
                keys.insert(RowKey::of(&row));
            })?;
        }
        Ok(keys)
    }

    fn lock(&self) -> Result<std::fs::File, StoreError> {
        let path = self.root.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path, "open lock file"))?;
        file.lock().map_err(io_err(&path, "lock store"))?;
        Ok(file)
    }
}

fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS) * DAY_MS
}

/// Identity of a stored row; two rows with the same key are the same measurement.
#[derive(Hash, PartialEq, Eq)]
pub(crate) struct RowKey(String, i64);

impl RowKey {
    fn of(row: &super::SampleRef<'_>) -> Self {
        Self(
            crate::domain::series_identity([
                row.cluster,
                row.namespace,
                row.workload_kind,
                row.workload,
                row.pod,
                row.container,
            ]),
            row.timestamp_ms,
        )
    }
}

fn row_key(s: &Sample) -> RowKey {
    RowKey(s.series_identity(), s.timestamp_ms)
}

/// A new part's name: creation time, process, a random per-process tag and sequence keep names
/// unique and in write order (across machines too, for a store on S3); the rows' time range
/// (`-t<first>-<last>`, epoch ms) lets appends skip parts; the checksum of the file's bytes
/// (`-x<xxh3 in hex>`) lets readers tell a damaged part from a good one.
pub(crate) fn part_name(first_ms: i64, last_ms: i64, checksum: Option<u64>) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seq = PART_COUNTER.fetch_add(1, Ordering::Relaxed);
    let (pid, tag) = (std::process::id(), process_tag() as u32);
    let checksum = checksum.map_or(String::new(), |c| format!("-x{c:016x}"));
    format!("part-{nanos:020}-{pid}-{tag:08x}-{seq}-t{first_ms}-{last_ms}{checksum}.parquet")
}

/// Random once per process (std's OS-seeded hash keys): with it, part names from writers on
/// several machines sharing one S3 prefix differ even with equal clocks and pids (pid 1).
pub(crate) fn process_tag() -> u64 {
    static TAG: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TAG.get_or_init(|| {
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), std::process::id())
    })
}

/// The time range a part's name records; `None` for parts named before ranges were recorded.
pub(crate) fn part_time_range(path: &Path) -> Option<(i64, i64)> {
    let name = path.file_name()?.to_str()?.strip_suffix(".parquet")?;
    let name = name.rsplit_once("-x").map_or(name, |(before, _)| before);
    let (_, range) = name.rsplit_once("-t")?;
    let (first, last) = range.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// The checksum a part's name records; `None` for parts named before checksums were recorded.
pub(crate) fn part_checksum(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?.strip_suffix(".parquet")?;
    let (_, hex) = name.rsplit_once("-x")?;
    (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok())?
}

/// Writes a file so that readers see either nothing or all of it (`atomic`).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    super::atomic::write_atomically(path, bytes).map_err(|e| io_err(&e.path, e.action)(e.source))
}

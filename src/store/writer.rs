//! Atomic, de-duplicating appends.

use super::part::{for_each_row, part_name, part_time_range};
use super::{day_dir_name, io_err, write_atomically, Store, StoreError};
use crate::domain::schema::rows_to_frame;
use crate::domain::{Row, Sample, SampleRows, SeriesNames, DAY_MS};
use polars::prelude::{ParquetCompression, ParquetWriter};
use polars_parquet::write::ZstdLevel;
use std::collections::{HashMap, HashSet};
use std::path::Path;

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

impl Store {
    /// Adds samples; rows already stored for the same container, pod and timestamp are
    /// dropped. Each day's new rows land in one new part, written atomically.
    pub fn append(&self, samples: Vec<Sample>) -> Result<AppendReport, StoreError> {
        self.append_rows(&mut SampleRows::from_samples(&samples))
    }

    /// [`Store::append`] for rows in columns: what importers hand over. The rows are sorted
    /// and de-duplicated in place (the caller keeps the allocation for its next batch).
    pub fn append_rows(&self, batch: &mut SampleRows) -> Result<AppendReport, StoreError> {
        // Every source's last gate: a day partition needs a calendar day (file inputs are held
        // to the tighter `domain::bounds` span where they are read). Dated instants form one
        // range, so the earliest and latest row answer for all.
        let times = batch.rows.iter().map(|r| r.timestamp_ms);
        if let (Some(lo), Some(hi)) = (times.clone().min(), times.max()) {
            for t in [lo, hi] {
                crate::domain::bounds::check_calendar(t).map_err(|reason| {
                    let s = batch.sample(batch.rows.iter().find(|r| r.timestamp_ms == t).expect("seen"));
                    StoreError::Implausible {
                        path: self.root.clone(),
                        row: format!("{}/{}", s.container_key(), s.pod),
                        reason,
                    }
                })?;
            }
        }
        let _lock = self.lock()?;
        let mut report = AppendReport { received: batch.len() as u64, ..AppendReport::default() };
        // Integer keys: comparing five names per row took longer than writing the part. Stable,
        // so of two rows of one series and instant the first given is kept.
        let rank = batch.store_ranks();
        batch.rows.sort_by_key(|r| (day_of(r.timestamp_ms), rank[r.series as usize], r.timestamp_ms));
        batch.rows.dedup_by(|b, a| a.series == b.series && a.timestamp_ms == b.timestamp_ms);
        let (batch, rows): (&SampleRows, &[Row]) = (batch, &batch.rows);
        let mut start = 0;
        while start < rows.len() {
            let day = day_of(rows[start].timestamp_ms);
            let end = start + rows[start..].partition_point(|r| day_of(r.timestamp_ms) == day);
            let written = self.append_day(day, batch, &rows[start..end])?;
            report.written += written as u64;
            report.parts_written += u64::from(written > 0);
            report.days += 1;
            start = end;
        }
        report.duplicates = report.received - report.written;
        Ok(report)
    }

    fn append_day(&self, day: i64, batch: &SampleRows, rows: &[Row]) -> Result<usize, StoreError> {
        let dir = self.root.join(day_dir_name(day));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir, "create partition"))?;
        let first = rows.iter().map(|r| r.timestamp_ms).min().unwrap_or(i64::MIN);
        let last = rows.iter().map(|r| r.timestamp_ms).max().unwrap_or(i64::MAX);
        let existing = self.existing_rows(&dir, first, last)?;
        // Chronological appends (imports, the collector) meet no stored row: no copy then.
        let fresh: std::borrow::Cow<[Row]> = if existing.is_empty() {
            rows.into()
        } else {
            let ids: Vec<String> = batch.series().iter().map(SeriesNames::identity).collect();
            let stored = |r: &Row| existing.get(&ids[r.series as usize]).is_some_and(|t| t.contains(&r.timestamp_ms));
            rows.iter().filter(|r| !stored(r)).copied().collect::<Vec<_>>().into()
        };
        if fresh.is_empty() {
            return Ok(0);
        }
        let bytes =
            part_bytes(batch, &fresh).map_err(|e| StoreError::Part { path: dir.clone(), source: Box::new(e) })?;
        let checksum = super::checksum::of(&bytes);
        // The name records the range of the rows written (not of the batch), so that parts of
        // one day stay disjoint and readers need not remember each row (`measurements`).
        let (first, last) =
            fresh.iter().fold((i64::MAX, i64::MIN), |(lo, hi), r| (lo.min(r.timestamp_ms), hi.max(r.timestamp_ms)));
        write_atomically(&dir.join(part_name(first, last, Some(checksum))), &bytes)?;
        Ok(fresh.len())
    }

    /// Instants already stored per series identity in one day partition, read only from parts
    /// whose time range meets `[first, last]`: a collector's or a chronological import's new
    /// rows meet none, so appending does not re-read the day.
    fn existing_rows(&self, dir: &Path, first: i64, last: i64) -> Result<HashMap<String, HashSet<i64>>, StoreError> {
        let mut stored: HashMap<String, HashSet<i64>> = HashMap::new();
        for part in Store::parts(dir)? {
            if part_time_range(&part).is_some_and(|(lo, hi)| hi < first || lo > last) {
                continue;
            }
            // Rows of one run share their names (`SampleRef::series`): one identity per run.
            let mut run: (u64, String) = (0, String::new());
            for_each_row(&part, |row| {
                if row.series == 0 || row.series != run.0 {
                    let names = [row.cluster, row.namespace, row.workload_kind, row.workload, row.pod, row.container];
                    run = (row.series, crate::domain::series_identity(names));
                }
                match stored.get_mut(&run.1) {
                    Some(instants) => instants.insert(row.timestamp_ms),
                    None => stored.entry(run.1.clone()).or_default().insert(row.timestamp_ms),
                };
            })?;
        }
        Ok(stored)
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

/// Rows per row group of a part: a frame of this many rows is all a write holds besides the
/// rows themselves, however large the day.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// One part's Parquet bytes, written a row group at a time; `rows` is not empty.
fn part_bytes(batch: &SampleRows, rows: &[Row]) -> polars::prelude::PolarsResult<Vec<u8>> {
    let with_cluster = rows.iter().any(|r| !batch.names(r.series).cluster.is_empty());
    let mut groups = rows.chunks(ROW_GROUP_ROWS).map(|group| rows_to_frame(batch, group, with_cluster));
    let Some(first) = groups.next().transpose()? else { return Ok(Vec::new()) };
    let mut bytes = Vec::new();
    // Level 1: most bytes are usage figures that barely compress; higher levels spent a tenth
    // of an import's time for a few percent of disk.
    let mut writer = ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(Some(ZstdLevel::try_new(1)?)))
        .batched(first.schema())?;
    writer.write_batch(&first)?;
    for frame in groups {
        writer.write_batch(&frame?)?;
    }
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}

fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS) * DAY_MS
}

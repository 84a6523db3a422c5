//! One Parquet part of the store: its name (creation order, the rows' time range, the
//! checksum of its bytes), and reading it back, checked against that checksum and its column
//! types, a row group at a time. The reader and the writer (which reads a day's parts to skip
//! stored rows) both build on this.

use super::StoreError;
use crate::domain::schema::frame_columns;
use crate::domain::SampleRef;
use polars::prelude::SerReader;
use polars::prelude::{FileMetadataRef, ParquetReader};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static PART_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new part's name: creation time, process, a random per-process tag and sequence keep names
/// unique and in write order (across machines too, for a store on S3); the rows' time range
/// (`-t<first>-<last>`, epoch ms) lets appends skip parts; the checksum of the file's bytes
/// (`-x<xxh3 in hex>`) lets readers tell a damaged part from a good one.
pub(crate) fn part_name(first_ms: i64, last_ms: i64, checksum: Option<u64>) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seq = PART_COUNTER.fetch_add(1, Ordering::Relaxed);
    let (pid, tag) = (std::process::id(), process_tag() as u32);
    let checksum = checksum.map_or(String::new(), super::checksum::name_suffix);
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
    super::checksum::in_name(path, ".parquet")
}

/// The newest timestamp of one part, decoding only that column.
pub(crate) fn part_latest_timestamp(path: &Path) -> Result<Option<i64>, StoreError> {
    let damaged =
        |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Part { path: path.to_path_buf(), source };
    let bytes = verified_bytes(path)?;
    sample_columns(path, &bytes)?;
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .with_columns(Some(vec!["timestamp".to_string()]))
        .finish()
        .map_err(|e| damaged(Box::new(e)))?;
    let column = df.column("timestamp").map_err(|e| damaged(Box::new(e)))?;
    let physical = column.to_physical_repr();
    let values = physical.i64().map_err(|e| damaged(Box::new(e)))?;
    Ok(values.iter().flatten().max())
}

/// A part's bytes, checked against the checksum its name records (parts written before
/// checksums were recorded are read as they are).
fn verified_bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    super::checksum::read_verified(path, part_checksum(path), "read part")
}

/// Reads one part a row group at a time (a part can hold a whole day of a large import; all
/// of it at once would be gigabytes of decoded strings) and hands each row to `visit`. Parts
/// were validated when written, so a null or wrong type here means the file was damaged.
pub(crate) fn for_each_row(path: &Path, mut visit: impl FnMut(SampleRef<'_>)) -> Result<(), StoreError> {
    let damaged =
        |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Part { path: path.to_path_buf(), source };
    let bytes = verified_bytes(path)?;
    let (metadata, columns) = sample_columns(path, &bytes)?;
    let mut offset = 0;
    for group in &metadata.row_groups {
        let rows = group.num_rows();
        let mut reader = ParquetReader::new(std::io::Cursor::new(bytes.as_slice()))
            .with_slice(Some((offset, rows)))
            .with_columns(Some(columns.clone()));
        reader.set_metadata(metadata.clone());
        let mut df = reader.finish().map_err(|e| damaged(Box::new(e)))?;
        visit_frame(path, &mut df, &mut visit).map_err(damaged)?;
        offset += rows;
    }
    Ok(())
}

/// A part's footer and the columns to decode, its column types checked before any decoding
/// (a part written before checksums were recorded is not vouched for by one).
fn sample_columns(path: &Path, bytes: &[u8]) -> Result<(FileMetadataRef, Vec<String>), StoreError> {
    let damaged =
        |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Part { path: path.to_path_buf(), source };
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let metadata = reader.get_metadata().map_err(|e| damaged(Box::new(e)))?.clone();
    let schema = reader.schema().map_err(|e| damaged(Box::new(e)))?;
    let columns = crate::domain::schema::parquet_columns(path, &schema).map_err(|e| damaged(Box::new(e)))?;
    Ok((metadata, columns))
}

/// Ids for `SampleRef::series`, unique within the process.
static NEXT_SERIES: AtomicU64 = AtomicU64::new(1);

/// A new id for a run of rows of one pod's container (see `SampleRef::series`).
pub(crate) fn new_series_id() -> u64 {
    NEXT_SERIES.fetch_add(1, Ordering::Relaxed)
}

fn visit_frame(
    path: &Path,
    df: &mut polars::prelude::DataFrame,
    visit: &mut impl FnMut(SampleRef<'_>),
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    df.rechunk_mut();
    let cols = frame_columns(path, df)?;
    let null = || -> Box<dyn std::error::Error + Send + Sync> { "null value in a stored row".into() };
    if cols.strings.iter().any(|c| c.null_count() > 0) {
        return Err(null());
    }
    let names = cols.strings.map(polars::prelude::ChunkedArray::downcast_as_array);
    let (cpu, memory) = (cols.cpu.cont_slice().map_err(|_| null())?, cols.memory.cont_slice().map_err(|_| null())?);
    let views = names.map(|a| a.views().as_slice());
    let cluster_views = cols.cluster.map(|c| c.downcast_as_array().views().as_slice());
    // Rows come sorted by container and pod, and equal dictionary-decoded strings share one
    // view, so comparing five 16-byte views finds where a run starts without touching text.
    let mut last_views = [u128::MAX; 5];
    let mut last_cluster_view = u128::MAX;
    let mut current: [&str; 5] = [""; 5];
    let mut current_cluster = "";
    let mut series = 0;
    for (i, ts) in cols.timestamp_ms.iter().enumerate() {
        let cluster_view = cluster_views.map_or(0, |v| v[i].as_u128());
        // Pod and container first: they change most often.
        if [3, 4, 2, 1, 0].into_iter().any(|c| views[c][i].as_u128() != last_views[c])
            || cluster_view != last_cluster_view
        {
            for c in 0..5 {
                last_views[c] = views[c][i].as_u128();
                current[c] = names[c].value(i);
            }
            last_cluster_view = cluster_view;
            // A null cluster (a file's empty cell) is no cluster.
            current_cluster = cols.cluster.and_then(|c| c.get(i)).unwrap_or_default();
            series = NEXT_SERIES.fetch_add(1, Ordering::Relaxed);
        }
        let [namespace, workload_kind, workload, pod, container] = current;
        visit(SampleRef {
            timestamp_ms: ts.ok_or_else(null)?,
            cluster: current_cluster,
            namespace,
            workload_kind,
            workload,
            pod,
            container,
            cpu_cores: cpu[i],
            memory_bytes: memory[i],
            series,
        });
    }
    Ok(())
}

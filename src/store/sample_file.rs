//! Sample files (CSV or Parquet, by extension) written in the store's layout and order: what
//! `synth`, `trace` and the demo hand to people and to `import`.

use crate::domain::schema::{samples_to_frame, CLUSTER_COLUMN, SAMPLE_COLUMNS};
use crate::domain::{format_timestamp, Sample};
use polars::prelude::{ParquetCompression, ParquetWriter};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub(crate) enum SampleFileError {
    #[error("{}: a sample file ends in .csv or .parquet", path.display())]
    Extension { path: PathBuf },
    #[error("{}: encoding the samples", path.display())]
    Encode { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    #[error(transparent)]
    Write(#[from] super::atomic::AtomicWriteError),
}

/// Writes `rows` (sorted first, as the store sorts them) to `path` atomically.
pub(crate) fn write_samples(path: &Path, rows: &mut [Sample]) -> Result<(), SampleFileError> {
    rows.sort_by(podsizer_core::domain::Sample::store_order);
    let encode =
        |e: Box<dyn std::error::Error + Send + Sync>| SampleFileError::Encode { path: path.to_path_buf(), source: e };
    let bytes = match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "parquet" => parquet_bytes(rows).map_err(encode)?,
        "csv" => csv_bytes(rows).map_err(encode)?,
        _ => return Err(SampleFileError::Extension { path: path.to_path_buf() }),
    };
    super::atomic::write_atomically(path, &bytes)?;
    Ok(())
}

fn parquet_bytes(rows: &[Sample]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let mut bytes = Vec::new();
    let mut frame = samples_to_frame(rows)?;
    ParquetWriter::new(&mut bytes).with_compression(ParquetCompression::Zstd(None)).finish(&mut frame)?;
    Ok(bytes)
}

fn csv_bytes(rows: &[Sample]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let mut bytes = Vec::new();
    let mut w = csv::Writer::from_writer(&mut bytes);
    // The optional column only when some row has a cluster, as the store does.
    let with_cluster = rows.iter().any(|s| !s.cluster.is_empty());
    w.write_record(with_cluster.then_some(CLUSTER_COLUMN).into_iter().chain(SAMPLE_COLUMNS))?;
    for s in rows {
        w.write_record(with_cluster.then(|| s.cluster.clone()).into_iter().chain([
            format_timestamp(s.timestamp_ms),
            s.namespace.clone(),
            s.workload_kind.clone(),
            s.workload.clone(),
            s.pod.clone(),
            s.container.clone(),
            s.cpu_cores.to_string(),
            s.memory_bytes.to_string(),
        ]))?;
    }
    w.flush()?;
    drop(w);
    Ok(bytes)
}

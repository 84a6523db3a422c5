//! The sample schema: the long format's column names and types, shared by the sample-file
//! reader (`sources::files`) and the store's Parquet parts (`store::writer`, `store::reader`),
//! so neither layer imports the other for it.

use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The optional column naming each row's cluster; absent or empty means no cluster.
pub const CLUSTER_COLUMN: &str = "cluster";

/// Column names of the long format, in the order the store writes them (the store adds
/// `CLUSTER_COLUMN` first, only to parts where some row has a cluster).
pub const SAMPLE_COLUMNS: [&str; 8] =
    ["timestamp", "namespace", "workload_kind", "workload", "pod", "container", "cpu_cores", "memory_bytes"];

/// A file or frame whose columns do not match the sample schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: missing column(s) {missing:?}; the sample format needs {SAMPLE_COLUMNS:?}")]
    MissingColumns { path: PathBuf, missing: Vec<String> },
    #[error("{path}: column `{column}` has type {found}, expected {expected}")]
    ColumnType { path: PathBuf, column: String, found: String, expected: &'static str },
}

/// Maps each sample column to its position in the file, or reports every missing one.
pub fn column_indexes<'a>(path: &Path, names: impl Iterator<Item = &'a str>) -> Result<[usize; 8], SchemaError> {
    let names: Vec<&str> = names.collect();
    let mut index = [0usize; 8];
    let mut missing = Vec::new();
    for (slot, column) in index.iter_mut().zip(SAMPLE_COLUMNS) {
        match names.iter().position(|n| *n == column) {
            Some(i) => *slot = i,
            None => missing.push(column.to_string()),
        }
    }
    if missing.is_empty() {
        Ok(index)
    } else {
        Err(SchemaError::MissingColumns { path: path.to_path_buf(), missing })
    }
}

/// Builds the store's frame: typed columns in `SAMPLE_COLUMNS` order.
pub fn samples_to_frame(samples: &[super::Sample]) -> PolarsResult<DataFrame> {
    let rows = super::SampleRows::from_samples(samples);
    let with_cluster = samples.iter().any(|s| !s.cluster.is_empty());
    rows_to_frame(&rows, &rows.rows, with_cluster)
}

/// The store's frame of `slice`, rows of `rows` (whose series name them); the cluster column
/// only `with_cluster` (without any cluster a part keeps the original eight columns, byte for
/// byte).
pub fn rows_to_frame(rows: &super::SampleRows, slice: &[super::Row], with_cluster: bool) -> PolarsResult<DataFrame> {
    use super::SeriesNames;
    let strings = |name: &str, f: fn(&SeriesNames) -> &str| {
        StringChunked::from_iter_values(name.into(), slice.iter().map(|r| f(rows.names(r.series)))).into_column()
    };
    let ts = Int64Chunked::from_vec("timestamp".into(), slice.iter().map(|r| r.timestamp_ms).collect())
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column();
    let mut columns = vec![ts];
    if with_cluster {
        columns.push(strings(CLUSTER_COLUMN, |n| &n.cluster));
    }
    columns.extend([
        strings("namespace", |n| &n.namespace),
        strings("workload_kind", |n| &n.workload_kind),
        strings("workload", |n| &n.workload),
        strings("pod", |n| &n.pod),
        strings("container", |n| &n.container),
        Column::new("cpu_cores".into(), slice.iter().map(|r| r.cpu_cores).collect::<Vec<f64>>()),
        Column::new("memory_bytes".into(), slice.iter().map(|r| r.memory_bytes).collect::<Vec<f64>>()),
    ]);
    DataFrame::new(slice.len(), columns)
}

/// Typed views of a frame's sample columns, checked once so row access cannot fail.
pub struct FrameColumns<'a> {
    pub timestamp_ms: Vec<Option<i64>>,
    pub strings: [&'a StringChunked; 5],
    /// The optional cluster column (nulls allowed: no cluster).
    pub cluster: Option<&'a StringChunked>,
    pub cpu: Float64Chunked,
    pub memory: Float64Chunked,
}

/// Checks a frame's columns and types and returns accessors for them.
pub fn frame_columns<'a>(path: &Path, df: &'a DataFrame) -> Result<FrameColumns<'a>, SchemaError> {
    let names = df.get_column_names();
    column_indexes(path, names.iter().map(|n| n.as_str()))?;
    let get = |name: &str| df.column(name).expect("presence checked above");
    let type_err = |column: &str, expected: &'static str| SchemaError::ColumnType {
        path: path.to_path_buf(),
        column: column.to_string(),
        found: get(column).dtype().to_string(),
        expected,
    };
    let timestamp_ms =
        timestamps_ms(get("timestamp")).ok_or_else(|| type_err("timestamp", "datetime or int64 epoch ms"))?;
    let string = |name: &'static str| get(name).str().map_err(|_| type_err(name, "string"));
    let strings =
        [string("namespace")?, string("workload_kind")?, string("workload")?, string("pod")?, string("container")?];
    let float = |name: &'static str| -> Result<Float64Chunked, SchemaError> {
        let col = get(name);
        if !col.dtype().is_primitive_numeric() {
            return Err(type_err(name, "number"));
        }
        let cast = col.cast(&DataType::Float64).map_err(|_| type_err(name, "number"))?;
        Ok(cast.f64().expect("cast to f64").clone())
    };
    let cluster = match df.column(CLUSTER_COLUMN) {
        Ok(c) => Some(c.str().map_err(|_| type_err(CLUSTER_COLUMN, "string"))?),
        Err(_) => None,
    };
    Ok(FrameColumns { timestamp_ms, strings, cluster, cpu: float("cpu_cores")?, memory: float("memory_bytes")? })
}

/// A timestamp column in epoch milliseconds: a datetime in any unit, or int64 epoch ms; `None`
/// for any other type.
pub fn timestamps_ms(col: &Column) -> Option<Vec<Option<i64>>> {
    let per_ms = match col.dtype() {
        DataType::Datetime(TimeUnit::Milliseconds, _) | DataType::Int64 => 1,
        DataType::Datetime(TimeUnit::Microseconds, _) => 1_000,
        DataType::Datetime(TimeUnit::Nanoseconds, _) => 1_000_000,
        _ => return None,
    };
    let physical = col.to_physical_repr();
    let values = physical.i64().ok()?;
    Some(values.iter().map(|v| v.map(|x| x.div_euclid(per_ms))).collect())
}

/// What a Parquet sample file's column may be, checked on the file's schema before anything is
/// decoded: Parquet holds types (decimals, structs, lists, ...) that the reader would not turn
/// into samples (and that the decoder cannot always read), so they are a type error naming the
/// file and column, never a decode.
fn accepts(column: &str, dtype: &ArrowDataType) -> bool {
    use ArrowDataType as A;
    let text = |t: &A| matches!(t, A::Utf8 | A::LargeUtf8 | A::Utf8View);
    match column {
        "timestamp" => matches!(dtype, A::Timestamp(..) | A::Int64),
        "cpu_cores" | "memory_bytes" => matches!(
            dtype,
            A::Int8
                | A::Int16
                | A::Int32
                | A::Int64
                | A::UInt8
                | A::UInt16
                | A::UInt32
                | A::UInt64
                | A::Float32
                | A::Float64
        ),
        _ => text(dtype) || matches!(dtype, A::Dictionary(_, values, _) if text(values)),
    }
}

/// What `accepts` wants, as the type errors of decoded frames say it.
fn expected(column: &str) -> &'static str {
    match column {
        "timestamp" => "datetime or int64 epoch ms",
        "cpu_cores" | "memory_bytes" => "number",
        _ => "string",
    }
}

/// A Parquet type as a person knows it.
fn type_name(dtype: &ArrowDataType) -> String {
    use ArrowDataType as A;
    match dtype {
        A::Decimal(p, s) | A::Decimal32(p, s) | A::Decimal64(p, s) | A::Decimal256(p, s) => {
            format!("decimal({p}, {s})")
        }
        A::Struct(_) => "struct".into(),
        A::List(_) | A::LargeList(_) | A::FixedSizeList(..) => "list".into(),
        A::Map(..) => "map".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The columns to decode from a Parquet sample file with this schema (the sample columns, and
/// the cluster column when present; other columns are never decoded), or what is wrong with it.
pub fn parquet_columns(path: &Path, schema: &ArrowSchema) -> Result<Vec<String>, SchemaError> {
    column_indexes(path, schema.iter_names().map(polars::prelude::PlSmallStr::as_str))?;
    let cluster = schema.get(CLUSTER_COLUMN).map(|_| CLUSTER_COLUMN);
    let mut columns = Vec::with_capacity(SAMPLE_COLUMNS.len() + 1);
    for column in cluster.into_iter().chain(SAMPLE_COLUMNS) {
        let dtype = &schema.get(column).expect("presence checked above").dtype;
        if !accepts(column, dtype) {
            return Err(SchemaError::ColumnType {
                path: path.to_path_buf(),
                column: column.to_string(),
                found: type_name(dtype),
                expected: expected(column),
            });
        }
        columns.push(column.to_string());
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(overrides: &[(&str, ArrowDataType)]) -> ArrowSchema {
        let dtype = |c: &str| match c {
            "timestamp" => ArrowDataType::Timestamp(ArrowTimeUnit::Millisecond, None),
            "cpu_cores" | "memory_bytes" => ArrowDataType::Float64,
            _ => ArrowDataType::Utf8View,
        };
        let mut columns: Vec<(&str, ArrowDataType)> = SAMPLE_COLUMNS.iter().map(|c| (*c, dtype(c))).collect();
        for (name, t) in overrides {
            match columns.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = t.clone(),
                None => columns.push((name, t.clone())),
            }
        }
        columns.into_iter().map(|(n, t)| ArrowField::new(n.into(), t, true)).collect()
    }

    #[test]
    fn parquet_column_types_are_checked_before_decoding() {
        let path = Path::new("s.parquet");
        let decimal = ArrowDataType::Decimal(10, 3);
        let record = ArrowDataType::Struct(vec![ArrowField::new("uid".into(), ArrowDataType::Utf8, true)]);
        let list = ArrowDataType::LargeList(Box::new(ArrowField::new("item".into(), ArrowDataType::Float64, true)));
        let cases = [
            ("cpu_cores", decimal.clone(), "decimal(10, 3)"),
            ("timestamp", decimal, "decimal(10, 3)"),
            ("pod", record.clone(), "struct"),
            ("cluster", record.clone(), "struct"),
            ("memory_bytes", list, "list"),
            ("namespace", ArrowDataType::Binary, "binary"),
        ];
        for (column, dtype, shown) in cases {
            let err = parquet_columns(path, &schema(&[(column, dtype)])).unwrap_err().to_string();
            assert!(err.contains("s.parquet") && err.contains(&format!("`{column}` has type {shown}")), "{err}");
        }
        // Columns outside the sample format are never decoded, whatever their type.
        let wanted = parquet_columns(path, &schema(&[("labels", record)])).unwrap();
        assert_eq!(wanted, SAMPLE_COLUMNS.map(String::from));
        let with_cluster = parquet_columns(path, &schema(&[("cluster", ArrowDataType::LargeUtf8)])).unwrap();
        assert_eq!(with_cluster[0], CLUSTER_COLUMN);
        let ints = schema(&[("timestamp", ArrowDataType::Int64), ("cpu_cores", ArrowDataType::UInt16)]);
        assert!(parquet_columns(path, &ints).is_ok());
    }
}

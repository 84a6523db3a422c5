//! Sample files in the long format (CSV or Parquet), with every row validated.
//!
//! A bad row is reported with its file, line and field and is never turned into a zero:
//! the caller decides whether to stop (the default) or skip it.

use crate::domain::bounds::{check_cores, check_memory, check_timestamp, check_timestamp_until, latest_ms};
use crate::domain::{canonical_kind, parse_quantity, parse_timestamp, Sample};
use polars::prelude::*;
use std::path::{Path, PathBuf};

pub use crate::domain::schema::{
    column_indexes, frame_columns, samples_to_frame, FrameColumns, SchemaError, CLUSTER_COLUMN, SAMPLE_COLUMNS,
};

/// One row that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    /// 1-based line in a CSV file (the header is line 1), or 1-based row in a Parquet file.
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: field `{}`: {}", self.line, self.field, self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: cannot read")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: unsupported file type (expected .csv or .parquet)")]
    UnknownFormat { path: PathBuf },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{path}: {count} bad row(s); first: {}", first_rows(.rows))]
    BadRows { path: PathBuf, rows: Vec<BadRow>, count: u64 },
    #[error("{path}: no samples (the file has a header but no rows)")]
    Empty { path: PathBuf },
    #[error("{path}: not a valid CSV file: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{path}: not a valid Parquet file")]
    Parquet { path: PathBuf, source: PolarsError },
}

fn first_rows(rows: &[BadRow]) -> String {
    rows.iter().take(5).map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// How many bad rows are kept for the error message; the count covers all of them.
const MAX_REPORTED_BAD_ROWS: usize = 20;

/// Result of reading a file when bad rows are allowed to be skipped.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub samples: Vec<Sample>,
    pub skipped: Vec<BadRow>,
    pub skipped_count: u64,
}

/// Reads a CSV or Parquet sample file. With `skip_bad_rows == false` any bad row fails the
/// whole file (nothing is returned, so nothing half-imported can follow).
pub fn read_sample_file(path: &Path, skip_bad_rows: bool) -> Result<ReadOutcome, SourceError> {
    let mut samples = Vec::new();
    let read = for_each_sample(path, skip_bad_rows, &mut |s, _| samples.push(s.clone()))?;
    samples.shrink_to_fit();
    Ok(ReadOutcome { samples, skipped: read.skipped, skipped_count: read.skipped_count })
}

fn stream_csv(
    path: &Path,
    outcome: &mut StreamOutcome,
    visit: &mut dyn FnMut(&Sample, u64),
) -> Result<(), SourceError> {
    let io = |source| SourceError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(std::io::BufReader::new(file));
    let csv_err = |e: csv::Error| SourceError::Csv { path: path.to_path_buf(), message: e.to_string() };
    let headers = reader.headers().map_err(csv_err)?.clone();
    let index = column_indexes(path, headers.iter().map(str::trim))?;
    let cluster_index = headers.iter().position(|h| h.trim() == CLUSTER_COLUMN);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_err(e)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        let field = |i: usize| record.get(index[i]).map(str::trim);
        match row_from_fields(line, field) {
            Ok(mut sample) => {
                sample.cluster =
                    cluster_index.and_then(|i| record.get(i)).map_or_else(String::new, |c| c.trim().into());
                outcome.rows += 1;
                visit(&sample, 0);
            }
            Err(bad) => outcome.skip(bad),
        }
    }
    Ok(())
}

fn row_from_fields<'a>(line: u64, field: impl Fn(usize) -> Option<&'a str>) -> Result<Sample, BadRow> {
    let bad = |i: usize, reason: String| BadRow { line, field: SAMPLE_COLUMNS[i].to_string(), reason };
    let text = |i: usize| -> Result<&'a str, BadRow> {
        match field(i) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(bad(i, "empty".into())),
        }
    };
    let timestamp_ms = parse_timestamp(text(0)?).map_err(|e| bad(0, e.to_string()))?;
    check_timestamp(timestamp_ms).map_err(|r| bad(0, r))?;
    let cpu_cores = usage_value(6, text(6)?).map_err(|r| bad(6, r))?;
    let memory_bytes = usage_value(7, text(7)?).map_err(|r| bad(7, r))?;
    let sample = Sample {
        timestamp_ms,
        namespace: text(1)?.to_string(),
        workload_kind: canonical_kind(text(2)?),
        workload: text(3)?.to_string(),
        pod: text(4)?.to_string(),
        container: text(5)?.to_string(),
        cpu_cores,
        memory_bytes,
        ..Default::default()
    };
    Ok(sample)
}

/// A usage figure: a plain number or a Kubernetes quantity, finite and not negative.
fn usage_value(column: usize, text: &str) -> Result<f64, String> {
    let v = parse_quantity(text).map_err(|e| e.to_string())?;
    check_usage(column, v)
}

/// Within what one container can use (`domain::bounds`): one absurd row would move every
/// percentile of its container.
fn check_usage(column: usize, v: f64) -> Result<f64, String> {
    if column == 6 { check_cores(v) } else { check_memory(v) }.map(|()| v)
}

/// What a streamed read saw besides the rows it handed on.
#[derive(Debug, Default)]
pub(crate) struct StreamOutcome {
    /// Valid rows handed to the visitor.
    pub rows: u64,
    pub skipped: Vec<BadRow>,
    pub skipped_count: u64,
}

/// Reads a sample file in bounded batches (a Parquet row group at a time, a CSV line at a time)
/// and hands each valid row to `visit`, so memory stays flat whatever the file's size. Bad rows
/// and empty files are errors as for `read_sample_file` (after the whole file was read, so the
/// count is complete; rows already visited are then the caller's to discard).
pub(crate) fn for_each_sample(
    path: &Path,
    skip_bad_rows: bool,
    visit: &mut dyn FnMut(&Sample, u64),
) -> Result<StreamOutcome, SourceError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let mut outcome = StreamOutcome::default();
    match ext.as_deref() {
        Some("csv") => stream_csv(path, &mut outcome, visit)?,
        Some("parquet") => stream_parquet(path, &mut outcome, visit)?,
        _ => return Err(SourceError::UnknownFormat { path: path.to_path_buf() }),
    }
    if outcome.skipped_count > 0 && !skip_bad_rows {
        let (rows, count) = (std::mem::take(&mut outcome.skipped), outcome.skipped_count);
        return Err(SourceError::BadRows { path: path.to_path_buf(), rows, count });
    }
    if outcome.rows == 0 && outcome.skipped_count == 0 {
        return Err(SourceError::Empty { path: path.to_path_buf() });
    }
    Ok(outcome)
}

impl StreamOutcome {
    fn skip(&mut self, bad: BadRow) {
        self.skipped_count += 1;
        if self.skipped.len() < MAX_REPORTED_BAD_ROWS {
            self.skipped.push(bad);
        }
    }
}

/// Runs the Parquet decoder so that a damaged file is an error naming it, whatever the decoder
/// thinks of its bytes (it can panic on some).
fn guarded<T>(read: impl FnOnce() -> PolarsResult<T>) -> PolarsResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(PolarsError::ComputeError("the Parquet decoder gave up on damaged data".into())))
}

fn stream_parquet(
    path: &Path,
    outcome: &mut StreamOutcome,
    visit: &mut dyn FnMut(&Sample, u64),
) -> Result<(), SourceError> {
    let (metadata, columns) = parquet_metadata(path)?;
    let groups = row_groups(&metadata);
    let mut row = Row::default();
    // Decoding is about half the work: the next row group is decoded on a second thread while
    // this one checks the current. The channel holds nothing, so at most two row groups are
    // decoded at once and memory stays flat.
    std::thread::scope(|scope| {
        let (frames, decoded) = std::sync::mpsc::sync_channel(0);
        scope.spawn(move || {
            for &(offset, rows) in &groups {
                let frame = decode_row_group(path, &metadata, offset, rows, Some(columns.clone()));
                let failed = frame.is_err();
                // The reader stops at an error or a bad schema: no use decoding on.
                if frames.send((offset, frame)).is_err() || failed {
                    break;
                }
            }
        });
        for (offset, frame) in decoded {
            let df = frame?;
            each_row(&frame_columns(path, &df)?, offset as u64 + 1, &mut row, &mut |checked| match checked {
                Ok((sample, run)) => {
                    outcome.rows += 1;
                    visit(sample, run);
                }
                Err(bad) => outcome.skip(bad),
            });
        }
        Ok(())
    })
}

/// The file's footer, read once for every row group, and the columns to decode (checked on
/// the file's schema first: see `schema::parquet_columns`).
fn parquet_metadata(path: &Path) -> Result<(FileMetadataRef, Vec<String>), SourceError> {
    let file = open_file(path)?;
    let (metadata, schema) = guarded(move || {
        let mut reader = ParquetReader::new(file);
        let metadata = reader.get_metadata()?.clone();
        Ok((metadata, reader.schema()?))
    })
    .map_err(|source| SourceError::Parquet { path: path.to_path_buf(), source })?;
    Ok((metadata, crate::domain::schema::parquet_columns(path, &schema)?))
}

fn open_file(path: &Path) -> Result<std::fs::File, SourceError> {
    std::fs::File::open(path).map_err(|source| SourceError::Io { path: path.to_path_buf(), source })
}

/// Each row group's first row and row count.
fn row_groups(metadata: &FileMetadataRef) -> Vec<(usize, usize)> {
    let mut offset = 0;
    let mut groups = Vec::new();
    for rows in metadata.row_groups.iter().map(polars_parquet::read::RowGroupMetadata::num_rows) {
        groups.push((offset, rows));
        offset += rows;
    }
    groups
}

/// One row group as a frame: every column, or only `columns`.
fn decode_row_group(
    path: &Path,
    metadata: &FileMetadataRef,
    offset: usize,
    rows: usize,
    columns: Option<Vec<String>>,
) -> Result<DataFrame, SourceError> {
    let file = open_file(path)?;
    guarded(move || {
        let mut reader = ParquetReader::new(file).with_slice(Some((offset, rows))).with_columns(columns);
        reader.set_metadata(metadata.clone());
        reader.finish()
    })
    .map_err(|source| SourceError::Parquet { path: path.to_path_buf(), source })
}

/// The newest time among a Parquet file's rows whose time passes the reader's checks, from the
/// timestamp column alone: a cheap guess at the newest valid row (a row may still fail on
/// another field). `None` when the file cannot tell this way (CSV, or anything the full read
/// will explain as an error).
pub(crate) fn newest_time_guess(path: &Path) -> Option<i64> {
    let is_parquet = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if !is_parquet {
        return None;
    }
    let (metadata, _) = parquet_metadata(path).ok()?;
    let latest = latest_ms();
    let mut newest = None;
    for (offset, rows) in row_groups(&metadata) {
        let df = decode_row_group(path, &metadata, offset, rows, Some(vec![SAMPLE_COLUMNS[0].to_string()])).ok()?;
        // The conversion the full read makes (`frame_columns`).
        let times = crate::domain::schema::timestamps_ms(df.column(SAMPLE_COLUMNS[0]).ok()?)?;
        newest = newest.max(times.into_iter().flatten().filter(|t| check_timestamp_until(*t, latest).is_ok()).max());
    }
    newest
}

/// One `Sample` refilled row after row, so streaming allocates only when a name grows.
struct Row {
    sample: Sample,
    /// The workload kind as written, before `canonical_kind`.
    raw_kind: String,
    /// Numbers runs of rows with the same names (1, 2, ...): consumers compare names once a run.
    run: u64,
    /// The latest plausible timestamp, fixed for the whole read (not a clock call per row).
    latest_ms: i64,
}

impl Default for Row {
    fn default() -> Self {
        Row { sample: Sample::default(), raw_kind: String::new(), run: 0, latest_ms: latest_ms() }
    }
}

impl Row {
    /// The row's time, names (when given) and usage, checked in column order.
    fn check<'s>(
        &self,
        line: u64,
        ts: Option<i64>,
        strings: Option<[Option<&'s str>; 5]>,
        cpu: Option<f64>,
        mem: Option<f64>,
    ) -> Result<(i64, [&'s str; 5], f64, f64), BadRow> {
        let bad =
            |i: usize, reason: &str| BadRow { line, field: SAMPLE_COLUMNS[i].to_string(), reason: reason.to_string() };
        let timestamp_ms = ts.ok_or_else(|| bad(0, "null"))?;
        check_timestamp_until(timestamp_ms, self.latest_ms).map_err(|r| bad(0, &r))?;
        let mut text = [""; 5];
        for (i, (slot, value)) in text.iter_mut().zip(strings.into_iter().flatten()).enumerate() {
            *slot = value.filter(|v| !v.is_empty()).ok_or_else(|| bad(i + 1, "null or empty"))?;
        }
        let usage = |i: usize, v: Option<f64>| check_usage(i, v.ok_or_else(|| bad(i, "null"))?).map_err(|r| bad(i, &r));
        Ok((timestamp_ms, text, usage(6, cpu)?, usage(7, mem)?))
    }

    fn fill(
        &mut self,
        line: u64,
        ts: Option<i64>,
        strings: [Option<&str>; 5],
        cluster: &str,
        cpu: Option<f64>,
        mem: Option<f64>,
    ) -> Result<(&Sample, u64), BadRow> {
        let (timestamp_ms, text, cpu, mem) = self.check(line, ts, Some(strings), cpu, mem)?;
        let s = &mut self.sample;
        s.timestamp_ms = timestamp_ms;
        s.cpu_cores = cpu;
        s.memory_bytes = mem;
        // Rows come grouped by container and pod: most rows change no name.
        let mut changed = set(&mut s.pod, text[3]);
        changed |= set(&mut s.container, text[4]);
        changed |= set(&mut s.workload, text[2]);
        changed |= set(&mut s.namespace, text[0]);
        changed |= set(&mut s.cluster, cluster);
        if self.raw_kind != text[1] {
            set(&mut self.raw_kind, text[1]);
            s.workload_kind = canonical_kind(text[1]);
            changed = true;
        }
        if changed || self.run == 0 {
            self.run += 1;
        }
        Ok((&self.sample, self.run))
    }

    /// As `fill` for a row with the previous row's names: only the time and usage change.
    fn fill_numbers(
        &mut self,
        line: u64,
        ts: Option<i64>,
        cpu: Option<f64>,
        mem: Option<f64>,
    ) -> Result<(&Sample, u64), BadRow> {
        let (timestamp_ms, _, cpu, mem) = self.check(line, ts, None, cpu, mem)?;
        let s = &mut self.sample;
        (s.timestamp_ms, s.cpu_cores, s.memory_bytes) = (timestamp_ms, cpu, mem);
        Ok((&self.sample, self.run))
    }
}

/// Sets `field` to `value`; whether it changed.
fn set(field: &mut String, value: &str) -> bool {
    if field == value {
        return false;
    }
    field.clear();
    field.push_str(value);
    true
}

/// A row after validation: the sample and its run number, or why the row is bad.
type Checked<'a> = Result<(&'a Sample, u64), BadRow>;

/// Every row of a frame, validated, in order: the sample, or why the row is bad. `first_line`
/// numbers the frame's first row (rows count from 1 over the whole file).
fn each_row(cols: &FrameColumns<'_>, first_line: u64, row: &mut Row, on: &mut dyn FnMut(Checked<'_>)) {
    let (cpu, memory) = (Floats::of(&cols.cpu), Floats::of(&cols.memory));
    let mut names = NameViews::of(cols);
    for (i, ts) in cols.timestamp_ms.iter().enumerate() {
        let line = first_line + i as u64;
        let (cpu, mem) = (cpu.at(i), memory.at(i));
        let same = names.as_mut().is_some_and(|n| n.same_as_before(i));
        let filled = match &names {
            Some(_) if same => row.fill_numbers(line, *ts, cpu, mem),
            Some(n) => row.fill(line, *ts, n.strings(i), n.cluster(i), cpu, mem),
            None => {
                let cluster = cols.cluster.and_then(|c| c.get(i)).unwrap_or_default();
                row.fill(line, *ts, cols.strings.map(|c| c.get(i)), cluster, cpu, mem)
            }
        };
        if let Some(n) = names.as_mut() {
            n.trusted = filled.is_ok();
        }
        on(filled);
    }
}

/// A float column read by row index: a plain slice when it is one chunk without nulls (a
/// Parquet row group usually is), which is much cheaper per row than the general lookup.
enum Floats<'a> {
    Plain(&'a [f64]),
    Any(&'a Float64Chunked),
}

impl<'a> Floats<'a> {
    fn of(column: &'a Float64Chunked) -> Self {
        column.cont_slice().map_or(Floats::Any(column), Floats::Plain)
    }

    fn at(&self, i: usize) -> Option<f64> {
        match self {
            Floats::Plain(values) => Some(values[i]),
            Floats::Any(column) => column.get(i),
        }
    }
}

/// The Arrow array behind a one-chunk string column.
type StringArray = <StringType as PolarsDataType>::Array;

/// The 16-byte Arrow views of a frame's name columns. Equal dictionary-decoded strings share
/// one view, so a row whose views all equal those of the previous row (whose names were valid)
/// has the same names, found without reading the text: files sorted by container and pod repeat
/// them row after row.
struct NameViews<'a> {
    /// The five name columns in `SAMPLE_COLUMNS` order, then the cluster column if any.
    columns: Vec<&'a StringArray>,
    last: Vec<u128>,
    /// Whether the previous row's names passed validation (set by the caller).
    trusted: bool,
}

impl<'a> NameViews<'a> {
    /// `None` unless every name column is one chunk without nulls (views are per chunk; a
    /// null's view says nothing).
    fn of(cols: &FrameColumns<'a>) -> Option<Self> {
        let chunked: Vec<&'a StringChunked> = cols.strings.iter().copied().chain(cols.cluster).collect();
        if chunked.iter().any(|c| c.chunks().len() != 1 || c.null_count() > 0) {
            return None;
        }
        let columns: Vec<&'a StringArray> = chunked.iter().map(|c| c.downcast_as_array()).collect();
        let last = vec![u128::MAX; columns.len()];
        Some(NameViews { columns, last, trusted: false })
    }

    /// Whether row `i` has the previous row's (trusted) names; remembers row `i`'s views.
    fn same_as_before(&mut self, i: usize) -> bool {
        let mut same = self.trusted;
        for (column, last) in self.columns.iter().zip(self.last.iter_mut()) {
            let view = column.views()[i].as_u128();
            same &= view == *last;
            *last = view;
        }
        same
    }

    /// Row `i`'s five names (no nulls here).
    fn strings(&self, i: usize) -> [Option<&'a str>; 5] {
        std::array::from_fn(|c| Some(self.columns[c].value(i)))
    }

    /// Row `i`'s cluster, empty without the column.
    fn cluster(&self, i: usize) -> &'a str {
        self.columns.get(5).map_or("", |c| c.value(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_temp(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
        (dir, path)
    }

    const HEADER: &str = "timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n";

    #[test]
    fn reads_valid_csv_with_quantities() {
        let text = format!("{HEADER}2026-11-20T10:00:00Z,shop,deployment,api,api-1,nginx,0.25,64Mi\n2026-11-20T10:01:00Z,shop,Deployment,api,api-1,nginx,300m,67108864\n");
        let (_d, path) = write_temp("s.csv", &text);
        let out = read_sample_file(&path, false).unwrap();
        assert_eq!(out.samples.len(), 2);
        assert_eq!(out.samples[0].workload_kind, "Deployment");
        assert!((out.samples[1].cpu_cores - 0.3).abs() < 1e-12);
        assert_eq!(out.samples[0].memory_bytes, 67108864.0);
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let text = format!("{HEADER}2026-11-20T10:00:00Z,shop,Deployment,api,api-1,nginx,-1,1\nnot-a-time,shop,Deployment,api,api-1,nginx,1,1\n2026-11-20T10:00:00Z,shop,Deployment,api,api-1,nginx,NaN,1\n2026-11-20T10:00:00Z,shop,Deployment,api,api-1,,1,1\n");
        let (_d, path) = write_temp("s.csv", &text);
        let err = read_sample_file(&path, false).unwrap_err();
        let SourceError::BadRows { rows, count, .. } = &err else { panic!("{err}") };
        assert_eq!(*count, 4);
        assert_eq!((rows[0].line, rows[0].field.as_str()), (2, "cpu_cores"));
        assert_eq!((rows[1].line, rows[1].field.as_str()), (3, "timestamp"));
        assert_eq!((rows[2].line, rows[2].field.as_str()), (4, "cpu_cores"));
        assert_eq!((rows[3].line, rows[3].field.as_str()), (5, "container"));
        assert!(err.to_string().contains("s.csv"), "{err}");
        let skipped = read_sample_file(&path, true).unwrap();
        assert!(skipped.samples.is_empty());
        assert_eq!(skipped.skipped_count, 4);
    }

    #[test]
    fn missing_columns_are_all_named() {
        let (_d, path) = write_temp("s.csv", "timestamp,namespace,pod\n");
        let err = read_sample_file(&path, false).unwrap_err().to_string();
        for col in ["workload_kind", "workload", "container", "cpu_cores", "memory_bytes"] {
            assert!(err.contains(col), "{err}");
        }
    }

    #[test]
    fn csv_cluster_column_is_optional() {
        let text = format!("cluster,{HEADER}prod-eu,2026-11-20T10:00:00Z,shop,Deployment,api,api-1,nginx,1,1\n,2026-11-20T10:00:00Z,shop,Deployment,api,api-1,nginx,1,1\n");
        let (_d, path) = write_temp("s.csv", &text);
        let clusters: Vec<String> =
            read_sample_file(&path, false).unwrap().samples.into_iter().map(|s| s.cluster).collect();
        assert_eq!(clusters, ["prod-eu", ""]);
        let (_d, path) =
            write_temp("s.csv", &format!("{HEADER}2026-11-20T10:00:00Z,shop,Deployment,api,api-1,nginx,1,1\n"));
        assert_eq!(read_sample_file(&path, false).unwrap().samples[0].cluster, "");
    }

    #[test]
    fn empty_file_is_an_error() {
        let (_d, path) = write_temp("s.csv", HEADER);
        assert!(matches!(read_sample_file(&path, false), Err(SourceError::Empty { .. })));
    }

    #[test]
    fn streaming_a_file_by_row_group_gives_every_row_and_numbers_bad_rows_over_the_file() {
        let mut samples: Vec<Sample> = (0..7)
            .map(|i| Sample {
                timestamp_ms: 1_700_000_000_000 + i * 60_000,
                namespace: "shop".into(),
                workload_kind: if i < 3 { "deployment" } else { "StatefulSet" }.into(),
                workload: "api".into(),
                pod: format!("api-{}", i % 2),
                container: "php-fpm".into(),
                cpu_cores: 0.1 * i as f64,
                memory_bytes: 1e8 + i as f64,
                cluster: String::new(),
            })
            .collect();
        samples[5].cpu_cores = -1.0;
        let mut df = samples_to_frame(&samples).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).with_row_group_size(Some(2)).finish(&mut df).unwrap();
        let whole = read_sample_file(&path, true).unwrap();
        let mut streamed = Vec::new();
        let outcome = for_each_sample(&path, true, &mut |s, _| streamed.push(s.clone())).unwrap();
        assert_eq!(streamed, whole.samples, "row groups of 2: the same rows, kinds made canonical");
        assert_eq!(streamed[0].workload_kind, "Deployment");
        assert_eq!((outcome.rows, outcome.skipped_count), (6, 1));
        assert_eq!((outcome.skipped[0].line, outcome.skipped[0].field.as_str()), (6, "cpu_cores"));
        let refused = for_each_sample(&path, false, &mut |_, _| {}).unwrap_err();
        assert!(matches!(refused, SourceError::BadRows { count: 1, .. }), "{refused}");
    }

    #[test]
    fn parquet_round_trip_keeps_every_value() {
        let samples: Vec<Sample> = (0..5)
            .map(|i| Sample {
                timestamp_ms: 1_700_000_000_000 + i * 60_000,
                namespace: "shop".into(),
                workload_kind: "Deployment".into(),
                workload: "api".into(),
                pod: format!("api-{i}"),
                container: "php-fpm".into(),
                cpu_cores: 0.1 * i as f64,
                memory_bytes: 1e8 + i as f64,
                // Some rows with a cluster, some without: the column holds both.
                cluster: if i % 2 == 1 { "prod-eu".into() } else { String::new() },
            })
            .collect();
        let mut df = samples_to_frame(&samples).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
        let back = read_sample_file(&path, false).unwrap();
        assert_eq!(back.samples, samples);
    }

    /// Writes rows of one container at `times` (ms), the timestamp column stored as `unit` (or
    /// int64 epoch ms when `None`), with one bad-cpu row among them.
    fn parquet_at(dir: &Path, times: &[Option<i64>], unit: Option<(TimeUnit, Option<TimeZone>)>) -> PathBuf {
        let n = times.len();
        let stored = |t: &Option<i64>| {
            let per_ms = match &unit {
                Some((TimeUnit::Microseconds, _)) => 1_000,
                Some((TimeUnit::Nanoseconds, _)) => 1_000_000,
                _ => 1,
            };
            t.map(|t| t * per_ms)
        };
        let raw = Int64Chunked::from_iter_options("timestamp".into(), times.iter().map(stored));
        let timestamp = match unit {
            Some((unit, tz)) => raw.into_datetime(unit, tz).into_column(),
            None => raw.into_column(),
        };
        let text = |name: &str| Column::new(name.into(), vec![name; n]);
        let cpu: Vec<f64> = (0..n).map(|i| if i == 1 { -1.0 } else { 0.5 }).collect();
        let mut df = DataFrame::new(
            n,
            vec![
                timestamp,
                text("namespace"),
                text("workload_kind"),
                text("workload"),
                text("pod"),
                text("container"),
                Column::new("cpu_cores".into(), cpu),
                Column::new("memory_bytes".into(), vec![1e8; n]),
            ],
        )
        .unwrap();
        let path = dir.join("s.parquet");
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).with_row_group_size(Some(2)).finish(&mut df).unwrap();
        path
    }

    #[test]
    fn the_newest_time_guess_reads_timestamps_as_the_full_read_does() {
        let day = 86_400_000;
        let t0 = 1_700_000_000_000;
        // A null, a time far in the future (refused) and the newest valid time (on the bad-cpu row).
        let times = [Some(t0), Some(t0 + 3 * day), None, Some(latest_ms() + 365 * day), Some(t0 + day)];
        let units = [
            None,
            Some((TimeUnit::Milliseconds, None)),
            Some((TimeUnit::Microseconds, None)),
            Some((TimeUnit::Nanoseconds, Some(TimeZone::UTC))),
        ];
        for unit in units {
            let dir = tempfile::tempdir().unwrap();
            let path = parquet_at(dir.path(), &times, unit.clone());
            assert_eq!(newest_time_guess(&path), Some(t0 + 3 * day), "{unit:?}: the time column alone");
            let mut newest = None;
            for_each_sample(&path, true, &mut |s, _| newest = newest.max(Some(s.timestamp_ms))).unwrap();
            assert_eq!(newest, Some(t0 + day), "{unit:?}: the full read skips the bad-cpu row");
        }
        let (_d, csv) = write_temp("s.csv", HEADER);
        assert_eq!(newest_time_guess(&csv), None, "CSV: no guess");
    }
}

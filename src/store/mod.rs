//! Samples at rest: a directory of Parquet files partitioned by UTC day.
//!
//! ```text
//! STORE/podsizer-store.json          format marker and version
//! STORE/day=2026-11-20/part-*.parquet  immutable parts, rows sorted by container, pod, time
//! STORE/day=2026-11-20/derived-*-x<xxh3>.bin  data derived from the day's parts (see `derived`)
//! ```
//! Parts are written to a hidden temp file, fsynced and renamed into place, so a reader or a
//! crash never sees half a part. Appends never rewrite existing parts: a new part holds only
//! rows whose (container, pod, timestamp) is not already stored, so re-running an import adds
//! nothing. One lock file serialises writers on one machine. A store on S3 (`s3://...`) has
//! the same layout and is used through a local mirror (`remote`).

pub(crate) mod atomic;
mod checksum;
mod derived;
pub mod facts;
mod measurements;
pub mod outcomes;
mod part;
mod reader;
pub mod remote;
pub mod s3;
pub(crate) mod sample_file;
pub mod sink;
pub(crate) mod summaries;
mod writer;

pub use derived::{Derived, PartSet};
pub use measurements::Measurements;
pub(crate) use part::new_series_id;
pub use reader::ScanStats;
pub use writer::AppendReport;

use std::path::{Path, PathBuf};

pub(crate) const MANIFEST: &str = "podsizer-store.json";
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {action}")]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    #[error("{path} is not a podsizer store (no {MANIFEST}) and is not empty; refusing to write into it")]
    NotAStore { path: PathBuf },
    #[error("{path}: no podsizer store here (missing {MANIFEST})")]
    Missing { path: PathBuf },
    #[error("{path}: store format version {found} is newer than this podsizer understands ({FORMAT_VERSION}); upgrade podsizer")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: its bytes do not match the checksum in its name: the part was damaged after it was written (restore it from a copy, or delete it and import that day again)")]
    Checksum { path: PathBuf },
    #[error("{path}: corrupt or unreadable part")]
    Part { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("{path}: refusing the whole append: row of {row}: field `timestamp`: {reason}")]
    Implausible { path: PathBuf, row: String, reason: String },
    #[error("{path}: a folder named like a day partition, but not as podsizer names them (day=YYYY-MM-DD); a copy of a day under another spelling would count its rows twice, so the store is not read: move it out of the store")]
    Layout { path: PathBuf },
    #[error("{path}: disk full while writing; nothing was added to the store (free space and re-run)")]
    DiskFull { path: PathBuf },
}

pub(crate) fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| {
        // ENOSPC: say so plainly, the temp file has already been removed by the caller.
        if source.raw_os_error() == Some(28) {
            StoreError::DiskFull { path: path.to_path_buf() }
        } else {
            StoreError::Io { path: path.to_path_buf(), action, source }
        }
    }
}

/// A store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    format: String,
    version: u32,
}

/// Writes a file so that readers see either nothing or all of it (`atomic`).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    atomic::write_atomically(path, bytes).map_err(|e| io_err(&e.path, e.action)(e.source))
}

impl Store {
    /// Opens an existing store.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let manifest = root.join(MANIFEST);
        let text = match std::fs::read_to_string(&manifest) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: root.to_path_buf() })
            }
            Err(e) => return Err(io_err(&manifest, "read manifest")(e)),
        };
        let parsed: Manifest = serde_json::from_str(&text)
            .map_err(|e| StoreError::Part { path: manifest.clone(), source: Box::new(e) })?;
        if parsed.version > FORMAT_VERSION {
            return Err(StoreError::Version { path: root.to_path_buf(), found: parsed.version });
        }
        Ok(Self { root: root.to_path_buf() })
    }

    /// Opens a store, creating it when the directory is missing or empty.
    pub fn open_or_create(root: &Path) -> Result<Self, StoreError> {
        if Self::is_store(root) {
            return Self::open(root);
        }
        if root.exists() {
            let mut entries = std::fs::read_dir(root).map_err(io_err(root, "list directory"))?;
            if entries.next().is_some() {
                return Err(StoreError::NotAStore { path: root.to_path_buf() });
            }
        }
        std::fs::create_dir_all(root).map_err(io_err(root, "create store directory"))?;
        let manifest = Manifest { format: "podsizer-store".into(), version: FORMAT_VERSION };
        let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        write_atomically(&root.join(MANIFEST), text.as_bytes())?;
        Ok(Self { root: root.to_path_buf() })
    }

    pub fn is_store(path: &Path) -> bool {
        path.join(MANIFEST).is_file()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Day partitions present, oldest first, as (day start in epoch ms, directory). Every
    /// `day=` entry must be spelled as podsizer writes it: `day=2026-1-5`, `day=2026-01-05 copy`
    /// or `day=2026-01-05T00:00:00Z` beside `day=2026-01-05` would be a second copy of a day,
    /// so such a store is refused, naming the entry.
    pub fn partitions(&self) -> Result<Vec<(i64, PathBuf)>, StoreError> {
        let mut days = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io_err(&self.root, "list store"))? {
            let entry = entry.map_err(io_err(&self.root, "list store"))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with("day=") {
                continue;
            }
            match day_of_dir(&entry.path()) {
                Some(start) => days.push((start, entry.path())),
                None => return Err(StoreError::Layout { path: entry.path() }),
            }
        }
        days.sort();
        Ok(days)
    }

    /// Finished part files of one day partition (temp files are never listed).
    pub fn parts(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
        let mut parts = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir, "list partition"))? {
            let path = entry.map_err(io_err(dir, "list partition"))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("part-") && name.ends_with(".parquet") {
                parts.push(path);
            }
        }
        parts.sort();
        Ok(parts)
    }
}

/// The first instant of a `day=YYYY-MM-DD` directory's day; `None` unless the name is spelled
/// exactly as `day_dir_name` spells that day.
fn day_of_dir(dir: &Path) -> Option<i64> {
    let name = dir.file_name()?.to_str()?;
    let start = crate::domain::parse_timestamp(name.strip_prefix("day=")?).ok()?;
    (day_dir_name(start) == name).then_some(start)
}

fn day_dir_name(day_start_ms: i64) -> String {
    // Appends refuse instants outside `domain::bounds`, so the fallback is never named.
    let date = chrono::DateTime::from_timestamp_millis(day_start_ms).unwrap_or_default().date_naive();
    format!("day={date}")
}

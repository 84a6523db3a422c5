//! A store on S3 (or any S3-compatible object store), used through a local mirror.
//!
//! ```text
//! s3://BUCKET/PREFIX/podsizer-store.json              the same manifest as a local store
//! s3://BUCKET/PREFIX/day=2026-11-20/part-*.parquet    the same immutable parts
//! s3://BUCKET/PREFIX/day=2026-11-20/<other files>     mirrored too (e.g. per-day summaries)
//! s3://BUCKET/PREFIX/writers/<writer id>/collector/state.json    side files of each writer
//! s3://BUCKET/PREFIX/writers/<writer id>/imports/prometheus-*.json
//! ```
//!
//! Design: the object layout is the local layout, so the same Parquet files serve podsizer,
//! DuckDB, Spark or Athena, and every reader and writer keeps a *mirror* of the part of the
//! store it needs in a cache directory (`S3Options::mirror_dir`). The local `Store` code then
//! reads and appends exactly as it does on disk; this module only moves files:
//!
//! - **Reading** lists the `day=*/` partitions, picks those overlapping the time window
//!   (`DaysWanted`), lists each and downloads what the mirror lacks. Parts are immutable, so a
//!   cached part of the same name and size is never fetched again: a weekly run transfers
//!   only the new days. Other files beside the parts are fetched again when their ETag changed.
//! - **Writing** first pulls the days it is about to write (so the writer's de-duplication
//!   sees rows other writers stored), appends locally with the ordinary atomic writer, then
//!   uploads the new parts with a conditional put (`If-None-Match: *`): an existing object is
//!   never replaced. Part names carry the time in nanoseconds, the process id and a random
//!   per-process tag, so two writers never pick the same name; if one ever did, the put is
//!   refused, the local part is renamed and uploaded under a fresh name. A part whose upload
//!   failed stays `pending` in the mirror's sync record and is uploaded by the next write.
//! - **Concurrency**: writers never modify an object another writer created, only add new
//!   ones, so two collectors appending to the same prefix at once lose nothing and a later
//!   reader sees the union. Writers whose rows overlap (two collectors of the same cluster)
//!   and flush in the same instant can both store a row (no cross-machine lock exists on
//!   S3); give each cluster its own collector and, best, its own prefix.
//! - **Side files** (a collector's current settings and OOM kills, a Prometheus import's
//!   resume point) are per writer: each mirror has a random writer id, uploads its own side
//!   files under `writers/<id>/` and downloads the others' into the mirror's `writers/`, where
//!   `facts::Facts::load` reads them.
//!
//! Why a mirror rather than reading objects straight into memory: the reader, writer and the
//! per-day summaries work on files and stay untouched; repeated runs (weekly reports,
//! back-tests, a collector's flushes) fetch nothing twice; and a failed upload is not data lost.

use super::s3::{Object, Put, S3Error, S3Location, S3Options, S3};
use super::{AppendReport, Store, StoreError, FORMAT_VERSION, MANIFEST};
use crate::domain::{SampleRows, DAY_MS};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The mirror's record of what is in the bucket and what still has to go there.
const SYNC_FILE: &str = ".podsizer-s3-sync.json";
/// The mirror's writer id (random, made once).
const WRITER_ID_FILE: &str = ".podsizer-writer-id";
/// Where each writer's side files live, in the bucket and in mirrors.
pub(crate) const WRITERS_DIR: &str = "writers";
/// Side files a writer keeps beside the partitions (relative to the store root).
const SIDE_FILES: [&str; 2] = ["collector", "imports"];

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{url}: no podsizer store here (missing {MANIFEST})")]
    Missing { url: String },
    #[error("{url}: store format version {found} is newer than this podsizer understands ({FORMAT_VERSION}); upgrade podsizer")]
    Version { url: String, found: u32 },
    #[error("{url}/{MANIFEST}: not a podsizer store manifest ({detail})")]
    Manifest { url: String, detail: String },
    #[error("{path}: {action}")]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> RemoteError {
    let path = path.to_path_buf();
    move |source| RemoteError::Io { path, action, source }
}

/// Which day partitions a reader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaysWanted {
    /// Samples in `[since, until)`; open ends read everything on that side.
    Range { since: Option<i64>, until: Option<i64> },
    /// The last `duration` before the newest sample (its exact time is only known once the
    /// newest partition is read, so this takes a day more than strictly needed).
    Latest { duration: i64 },
}

/// What a sync moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Transfer {
    pub days: u64,
    pub downloaded: u64,
    pub bytes_down: u64,
    /// Objects already in the mirror (not fetched).
    pub cached: u64,
    pub uploaded: u64,
    pub bytes_up: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Seen {
    etag: String,
    size: u64,
    /// Size and modification time (ns) of the local copy when it matched the object.
    local: Option<(u64, i128)>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SyncRecord {
    /// Objects known to be in the bucket, by path relative to the store root.
    remote: BTreeMap<String, Seen>,
    /// Local files written here and not yet uploaded.
    pending: BTreeSet<String>,
}

/// A store on S3 with its local mirror.
pub struct RemoteStore {
    s3: S3,
    local: Store,
    writer_id: String,
    record: Mutex<SyncRecord>,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore").field("url", &self.url()).field("mirror", &self.local.root()).finish()
    }
}

impl RemoteStore {
    /// Opens an existing store on S3.
    pub fn open(location: &S3Location, options: &S3Options) -> Result<Self, RemoteError> {
        Self::connect(location, options, false)
    }

    /// Opens a store on S3, creating its manifest when the prefix holds none.
    pub fn open_or_create(location: &S3Location, options: &S3Options) -> Result<Self, RemoteError> {
        Self::connect(location, options, true)
    }

    fn connect(location: &S3Location, options: &S3Options, create: bool) -> Result<Self, RemoteError> {
        let s3 = S3::connect(location, options)?;
        let url = location.url();
        let manifest = match s3.get(MANIFEST)? {
            Some(bytes) => bytes,
            None if create => {
                let text = serde_json::json!({"format": "podsizer-store", "version": FORMAT_VERSION});
                let bytes = serde_json::to_vec_pretty(&text).expect("manifest serialises");
                // Two writers creating the store at once: one put wins, both read the winner's.
                s3.put_new(MANIFEST, bytes)?;
                s3.get(MANIFEST)?.ok_or_else(|| RemoteError::Missing { url: url.clone() })?
            }
            None => return Err(RemoteError::Missing { url }),
        };
        let parsed: serde_json::Value = serde_json::from_slice(&manifest)
            .map_err(|e| RemoteError::Manifest { url: url.clone(), detail: e.to_string() })?;
        let version = parsed
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| RemoteError::Manifest { url: url.clone(), detail: "no version".into() })?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(RemoteError::Version { url, found: version as u32 });
        }
        let mirror = options.mirror_dir(location);
        std::fs::create_dir_all(&mirror).map_err(io(&mirror, "create the S3 mirror directory"))?;
        if !Store::is_store(&mirror) {
            super::write_atomically(&mirror.join(MANIFEST), &manifest)?;
        }
        let local = Store::open(&mirror)?;
        let record = match std::fs::read(mirror.join(SYNC_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => SyncRecord::default(),
        };
        let writer_id = writer_id(&mirror)?;
        Ok(Self { s3, local, writer_id, record: Mutex::new(record) })
    }

    pub fn url(&self) -> String {
        self.s3.location().url()
    }

    /// The mirror: an ordinary store holding the partitions pulled so far.
    pub fn local(&self) -> &Store {
        &self.local
    }

    pub fn s3(&self) -> &S3 {
        &self.s3
    }

    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }

    /// Day partitions in the bucket, oldest first, as day start in epoch ms.
    pub fn remote_days(&self) -> Result<Vec<i64>, RemoteError> {
        let mut days: Vec<i64> = self
            .s3
            .list_dirs("day=")?
            .iter()
            .filter_map(|d| d.strip_prefix("day=").and_then(|d| crate::domain::parse_timestamp(d).ok()))
            .collect();
        days.sort_unstable();
        days.dedup();
        Ok(days)
    }

    /// Brings the partitions a reader needs, and the other writers' side files, into the mirror.
    pub fn pull(&self, window: DaysWanted) -> Result<Transfer, RemoteError> {
        let days = self.remote_days()?;
        let (since, until) = match window {
            DaysWanted::Range { since, until } => (since, until),
            DaysWanted::Latest { duration } => (days.last().map(|newest| newest - duration), None),
        };
        let wanted: Vec<i64> =
            days.into_iter().filter(|d| since.is_none_or(|s| d + DAY_MS > s) && until.is_none_or(|u| *d < u)).collect();
        let mut transfer = self.pull_days(&wanted)?;
        transfer.add(self.pull_side_files()?);
        Ok(transfer)
    }

    fn pull_days(&self, days: &[i64]) -> Result<Transfer, RemoteError> {
        let mut transfer = Transfer { days: days.len() as u64, ..Transfer::default() };
        let mut objects = Vec::new();
        for day in days {
            objects.extend(self.s3.list(&format!("{}/", super::day_dir_name(*day)))?);
        }
        self.fetch(objects, &mut transfer)?;
        Ok(transfer)
    }

    /// Side files of every other writer, into `MIRROR/writers/<id>/`.
    fn pull_side_files(&self) -> Result<Transfer, RemoteError> {
        let own = format!("{WRITERS_DIR}/{}/", self.writer_id);
        let objects: Vec<Object> =
            self.s3.list(&format!("{WRITERS_DIR}/"))?.into_iter().filter(|o| !o.rel.starts_with(&own)).collect();
        let mut transfer = Transfer::default();
        self.fetch(objects, &mut transfer)?;
        Ok(transfer)
    }

    /// Downloads the listed objects the mirror lacks or holds an older version of.
    fn fetch(&self, objects: Vec<Object>, transfer: &mut Transfer) -> Result<(), RemoteError> {
        let mut record = self.record.lock().expect("sync record lock");
        let mut todo = Vec::new();
        for object in objects {
            let Some(path) = self.local_path(&object.rel) else { continue };
            let local = signature(&path);
            let current = if is_part(&object.rel) {
                // Immutable: the same name and size is the same part.
                local.is_some_and(|(size, _)| size == object.size)
            } else {
                record.remote.get(&object.rel).is_some_and(|seen| seen.etag == object.etag && seen.local.is_some())
                    && local.is_some()
            };
            if current || record.pending.contains(&object.rel) {
                transfer.cached += 1;
                let seen = Seen { etag: object.etag.clone(), size: object.size, local };
                record.remote.insert(object.rel, seen);
            } else {
                todo.push((object, path));
            }
        }
        drop(record);
        if todo.is_empty() {
            return Ok(());
        }
        transfer.downloaded += todo.len() as u64;
        let result = self.s3.download(todo.clone());
        let mut record = self.record.lock().expect("sync record lock");
        for (object, path) in todo {
            if let Some(local) = signature(&path) {
                record.remote.insert(object.rel, Seen { etag: object.etag, size: object.size, local: Some(local) });
            }
        }
        let saved = self.save(&record);
        transfer.bytes_down += result?;
        saved
    }

    /// Appends samples: pulls the days they fall on, appends to the mirror, uploads the new
    /// parts (and any earlier upload that failed).
    pub fn append(&self, batch: &mut SampleRows) -> Result<(AppendReport, Transfer), RemoteError> {
        let touched: BTreeSet<i64> = batch.rows.iter().map(|r| r.timestamp_ms.div_euclid(DAY_MS) * DAY_MS).collect();
        let remote: BTreeSet<i64> = self.remote_days()?.into_iter().collect();
        let existing: Vec<i64> = touched.intersection(&remote).copied().collect();
        let mut transfer = self.pull_days(&existing)?;
        let report = self.local.append_rows(batch)?;
        {
            let mut record = self.record.lock().expect("sync record lock");
            for day in &touched {
                let dir = self.local.root().join(super::day_dir_name(*day));
                for rel in files_under(self.local.root(), &dir) {
                    let changed = match record.remote.get(&rel) {
                        None => true,
                        Some(_) if is_part(&rel) => false,
                        Some(seen) => seen.local != signature(&self.local.root().join(&rel)),
                    };
                    if changed {
                        record.pending.insert(rel);
                    }
                }
            }
            self.save(&record)?;
        }
        transfer.add(self.push()?);
        transfer.days = touched.len() as u64;
        Ok((report, transfer))
    }

    /// Uploads every pending file: parts with a conditional put, other files replacing the
    /// object of the same name.
    pub fn push(&self) -> Result<Transfer, RemoteError> {
        let mut transfer = Transfer::default();
        let mut record = self.record.lock().expect("sync record lock");
        let pending: Vec<String> = record.pending.iter().cloned().collect();
        let mut result = Ok(());
        for rel in pending {
            if let Err(e) = self.upload(&rel, &mut record, &mut transfer) {
                result = Err(e);
                break;
            }
        }
        let saved = self.save(&record);
        result.and(saved).map(|()| transfer)
    }

    fn upload(&self, rel: &str, record: &mut SyncRecord, transfer: &mut Transfer) -> Result<(), RemoteError> {
        let path = self.local.root().join(rel);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                record.pending.remove(rel);
                return Ok(());
            }
            Err(e) => return Err(io(&path, "read for upload")(e)),
        };
        let size = bytes.len() as u64;
        let local = signature(&path);
        let etag = if is_part(rel) {
            match self.s3.put_new(rel, bytes)? {
                Put::Created { etag } => etag,
                Put::AlreadyExists => {
                    let there = self.s3.list(rel)?.into_iter().find(|o| o.rel == rel);
                    match there {
                        // Our own earlier upload (its answer was lost, or the record not saved).
                        Some(o) if o.size == size => o.etag,
                        _ => {
                            // Another writer's part of the same name: never replace it; ours
                            // moves to a fresh name and goes up on this push or the next.
                            let (first, last) = super::part::part_time_range(&path).unwrap_or((i64::MIN, i64::MAX));
                            let checksum = super::part::part_checksum(&path);
                            let fresh = path.with_file_name(super::part::part_name(first, last, checksum));
                            std::fs::rename(&path, &fresh).map_err(io(&path, "rename a part"))?;
                            record.pending.remove(rel);
                            let fresh_rel = relative(self.local.root(), &fresh).expect("inside the mirror");
                            record.pending.insert(fresh_rel.clone());
                            return self.upload(&fresh_rel, record, transfer);
                        }
                    }
                }
            }
        } else {
            self.s3.put(rel, bytes)?
        };
        transfer.uploaded += 1;
        transfer.bytes_up += size;
        record.pending.remove(rel);
        record.remote.insert(rel.to_string(), Seen { etag, size, local });
        Ok(())
    }

    /// Uploads this writer's side files that changed since their last upload (collector state,
    /// import resume points) to `writers/<id>/`, so readers elsewhere know current settings
    /// and OOM kills. A failed upload is retried by the next call (the file still differs).
    pub fn push_side_files(&self) -> Result<Transfer, RemoteError> {
        let root = self.local.root();
        let mut transfer = Transfer::default();
        let mut record = self.record.lock().expect("sync record lock");
        let mut result = Ok(());
        for rel in SIDE_FILES.iter().flat_map(|dir| files_under(root, &root.join(dir))) {
            let remote_rel = format!("{WRITERS_DIR}/{}/{rel}", self.writer_id);
            let path = root.join(&rel);
            let local = signature(&path);
            if record.remote.get(&remote_rel).is_some_and(|seen| seen.local == local) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let size = bytes.len() as u64;
            match self.s3.put(&remote_rel, bytes) {
                Ok(etag) => {
                    transfer.uploaded += 1;
                    transfer.bytes_up += size;
                    record.remote.insert(remote_rel, Seen { etag, size, local });
                }
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        let saved = self.save(&record);
        result.and(saved).map(|()| transfer)
    }

    fn local_path(&self, rel: &str) -> Option<PathBuf> {
        // Never write outside the mirror, whatever a key says; skip temp and hidden files.
        let mut path = self.local.root().to_path_buf();
        for part in rel.split('/') {
            if part.is_empty() || part.starts_with('.') {
                return None;
            }
            path.push(part);
        }
        Some(path)
    }

    fn save(&self, record: &SyncRecord) -> Result<(), RemoteError> {
        let bytes = serde_json::to_vec(record).expect("sync record serialises");
        super::write_atomically(&self.local.root().join(SYNC_FILE), &bytes)?;
        Ok(())
    }
}

impl Transfer {
    fn add(&mut self, other: Transfer) {
        self.days += other.days;
        self.downloaded += other.downloaded;
        self.bytes_down += other.bytes_down;
        self.cached += other.cached;
        self.uploaded += other.uploaded;
        self.bytes_up += other.bytes_up;
    }

    /// One line for stderr.
    pub fn describe(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        format!(
            "{} day(s); {} object(s) fetched ({:.1} MiB), {} already cached; {} uploaded ({:.1} MiB)",
            self.days,
            self.downloaded,
            mib(self.bytes_down),
            self.cached,
            self.uploaded,
            mib(self.bytes_up)
        )
    }
}

fn is_part(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with("part-") && name.ends_with(".parquet")
}

/// Size and modification time of a file, or `None` when it is missing.
fn signature(path: &Path) -> Option<(u64, i128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
    Some((meta.len(), mtime))
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<&str> = rel.components().map(|c| c.as_os_str().to_str()).collect::<Option<_>>()?;
    Some(parts.join("/"))
}

/// Regular, non-hidden files under `dir`, recursively, as paths relative to `root`.
fn files_under(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_str().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(root, &path)),
            Ok(t) if t.is_file() => out.extend(relative(root, &path)),
            _ => {}
        }
    }
    out.sort();
    out
}

fn writer_id(mirror: &Path) -> Result<String, RemoteError> {
    let path = mirror.join(WRITER_ID_FILE);
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Ok(id.to_string());
        }
    }
    // Random per mirror (not per process: two mirrors in one process are two writers).
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seed = (nanos, mirror, super::part::process_tag());
    let id =
        format!("{:016x}", std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), seed));
    super::write_atomically(&path, id.as_bytes())?;
    Ok(id)
}

/// A store given as a path: a local directory or `s3://bucket/prefix`.
#[derive(Debug)]
pub enum AnyStore {
    Local(Store),
    S3(Box<RemoteStore>),
}

impl AnyStore {
    /// Opens the store at `path`, creating it when missing (writers: import, synth, collect).
    pub fn open_or_create(path: &Path, options: &S3Options) -> Result<Self, RemoteError> {
        match S3Location::from_path(path) {
            Some(location) => Ok(Self::S3(Box::new(RemoteStore::open_or_create(&location?, options)?))),
            None => Ok(Self::Local(Store::open_or_create(path)?)),
        }
    }

    /// The local directory of the store at `path` (for S3, its mirror) without opening it.
    pub fn local_root(path: &Path, options: &S3Options) -> PathBuf {
        match S3Location::from_path(path) {
            Some(Ok(location)) => options.mirror_dir(&location),
            _ => path.to_path_buf(),
        }
    }

    /// Appends samples; on S3 the new parts are uploaded before this returns.
    pub fn append(&self, batch: &mut SampleRows) -> Result<AppendReport, RemoteError> {
        match self {
            Self::Local(store) => Ok(store.append_rows(batch)?),
            Self::S3(remote) => Ok(remote.append(batch)?.0),
        }
    }

    /// Uploads side files after they changed (no-op for a local store).
    pub fn sync_side_files(&self) -> Result<(), RemoteError> {
        match self {
            Self::Local(_) => Ok(()),
            Self::S3(remote) => remote.push_side_files().map(drop),
        }
    }

    /// The local directory: the store itself, or the S3 store's mirror.
    pub fn root(&self) -> &Path {
        match self {
            Self::Local(store) => store.root(),
            Self::S3(remote) => remote.local().root(),
        }
    }

    /// The store's path or URL, for messages.
    pub fn name(&self) -> String {
        match self {
            Self::Local(store) => store.root().display().to_string(),
            Self::S3(remote) => remote.url(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_relative_paths() {
        assert!(is_part("day=2026-11-20/part-1-2-3.parquet"));
        assert!(!is_part("day=2026-11-20/summary-1.bin"));
        assert!(!is_part("day=2026-11-20/.part-1.parquet.4.tmp"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("collector")).unwrap();
        std::fs::write(dir.path().join("collector/state.json"), "{}").unwrap();
        std::fs::write(dir.path().join("collector/.state.json.1.tmp"), "{").unwrap();
        assert_eq!(files_under(dir.path(), &dir.path().join("collector")), vec!["collector/state.json".to_string()]);
        assert!(signature(&dir.path().join("collector/state.json")).is_some_and(|(size, _)| size == 2));
    }
}

//! The store as an importer's destination (`sources::sink::SampleSink`): rows appended to a
//! local or S3 store, resume state in `STORE/imports/<name>.json`, php-fpm exporter figures
//! beside it (`imports/phpfpm-<id>.json`, read back by `facts`), outcome signals too
//! (`imports/outcomes-<id>.json`, `outcomes`); for the metrics-server
//! collector (`sources::sink::CollectorSink`) its side record in `STORE/collector/state.json`.

use super::facts::PhpFpmFacts;
use super::remote::AnyStore;
use super::s3::S3Options;
use super::{io_err, Store, StoreError};
use crate::sources::outcomes::{OutcomeBatch, OutcomesRecorded};
use crate::sources::php_fpm_exporter::PodFigures;
use crate::sources::sink::{Appended, CollectorSink, SampleSink, SinkError, WorkloadContainer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A store opened (or created) on first use.
pub struct StoreSink {
    path: PathBuf,
    options: S3Options,
    /// Where state files live: the store itself, or the local mirror of an S3 store.
    local_root: PathBuf,
    store: Option<AnyStore>,
}

impl StoreSink {
    pub fn new(path: &Path, options: &S3Options) -> Self {
        Self {
            path: path.to_path_buf(),
            options: options.clone(),
            local_root: AnyStore::local_root(path, options),
            store: None,
        }
    }

    /// The file of state `name`.
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.local_root.join("imports").join(format!("{name}.json"))
    }

    fn store(&mut self) -> Result<&AnyStore, SinkError> {
        if self.store.is_none() {
            self.store = Some(AnyStore::open_or_create(&self.path, &self.options)?);
        }
        Ok(self.store.as_ref().expect("just opened"))
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
    }
    super::write_atomically(path, text.as_bytes())
}

impl SampleSink for StoreSink {
    fn open(&mut self) -> Result<(), SinkError> {
        self.store().map(drop)
    }

    fn exists(&self) -> bool {
        self.store.is_some() || Store::is_store(&self.local_root)
    }

    fn append(&mut self, rows: &mut crate::domain::SampleRows) -> Result<Appended, SinkError> {
        let report = self.store()?.append(rows)?;
        Ok(Appended { written: report.written, duplicates: report.duplicates })
    }

    fn load_state(&self, name: &str) -> Result<Option<String>, SinkError> {
        if !Store::is_store(&self.local_root) {
            return Ok(None);
        }
        let path = self.state_path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, "read import state")(e).into()),
        }
    }

    fn save_state(&mut self, name: &str, json: &str) -> Result<(), SinkError> {
        Ok(write_file(&self.state_path(name), json)?)
    }

    fn remove_state(&mut self, name: &str) {
        let _ = std::fs::remove_file(self.state_path(name));
    }

    fn state_location(&self, name: &str) -> String {
        self.state_path(name).display().to_string()
    }

    fn record_php_fpm(
        &mut self,
        name: &str,
        cluster: &str,
        fetched: usize,
        figures: Vec<(WorkloadContainer, PodFigures)>,
    ) -> Result<usize, SinkError> {
        let path = self.state_path(&name.replacen("prometheus-", "phpfpm-", 1));
        // A re-run imports only newer steps: earlier figures are kept and the higher one wins.
        let mut per_container = previous_php_fpm(&path);
        let found_before = per_container.len();
        for (key, f) in figures {
            per_container.entry(key).or_default().merge(&f.into());
        }
        if per_container.is_empty() || (fetched == 0 && found_before > 0) {
            return Ok(0);
        }
        let list: Vec<serde_json::Value> = per_container
            .iter()
            .map(|((ns, kind, workload, container), f)| {
                let mut v = serde_json::to_value(f).expect("plain numbers");
                v["namespace"] = ns.as_str().into();
                v["workload_kind"] = kind.as_str().into();
                v["workload"] = workload.as_str().into();
                v["container"] = container.as_str().into();
                v
            })
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "identity_cluster": cluster, "php_fpm": list }))
            .expect("plain JSON");
        write_file(&path, &text)?;
        Ok(per_container.len())
    }

    fn outcomes_through(&self, name: &str) -> Result<Option<i64>, SinkError> {
        if !Store::is_store(&self.local_root) {
            return Ok(None);
        }
        Ok(super::outcomes::through(&self.state_path(name))?)
    }

    fn record_outcomes(&mut self, name: &str, batch: OutcomeBatch) -> Result<OutcomesRecorded, SinkError> {
        self.store()?;
        Ok(super::outcomes::record(&self.state_path(name), batch)?)
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        match &self.store {
            Some(store) => Ok(store.sync_side_files()?),
            None => Ok(()),
        }
    }
}

/// Why the collector's side record could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum CollectorStateError {
    #[error("creating {}", dir.display())]
    Dir { dir: PathBuf, source: std::io::Error },
    #[error("{}: disk full while writing the collector state (samples are stored; free space)", path.display())]
    DiskFull { path: PathBuf },
    #[error("writing {}", path.display())]
    Write { path: PathBuf, source: super::atomic::AtomicWriteError },
}

impl StoreSink {
    /// The collector's side record: `STORE/collector/state.json` (for S3, in the mirror).
    pub fn collector_state_path(&self) -> PathBuf {
        let root = self.store.as_ref().map_or(self.local_root.as_path(), AnyStore::root);
        root.join("collector").join("state.json")
    }
}

impl CollectorSink for StoreSink {
    fn name(&self) -> String {
        self.store.as_ref().map_or_else(|| self.path.display().to_string(), AnyStore::name)
    }

    fn load_collector_state(&self) -> Option<Vec<u8>> {
        std::fs::read(self.collector_state_path()).ok()
    }

    fn save_collector_state(&mut self, json: &[u8]) -> Result<(), SinkError> {
        let path = self.collector_state_path();
        let dir = path.parent().expect("state file has a directory");
        std::fs::create_dir_all(dir).map_err(|source| CollectorStateError::Dir { dir: dir.to_path_buf(), source })?;
        super::atomic::write_atomically(&path, json).map_err(|e| {
            if e.source.raw_os_error() == Some(28) {
                CollectorStateError::DiskFull { path: path.clone() }
            } else {
                CollectorStateError::Write { path: path.clone(), source: e }
            }
        })?;
        Ok(())
    }

    fn collector_state_location(&self) -> String {
        self.collector_state_path().display().to_string()
    }
}

/// The php-fpm figures a previous import saved (none when the file is missing or unreadable).
fn previous_php_fpm(path: &Path) -> BTreeMap<WorkloadContainer, PhpFpmFacts> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let s = |e: &serde_json::Value, k: &str| e.get(k).and_then(|x| x.as_str()).map(String::from);
    v.get("php_fpm")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let key = (s(e, "namespace")?, s(e, "workload_kind")?, s(e, "workload")?, s(e, "container")?);
            Some((key, serde_json::from_value(e.clone()).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;

    #[test]
    fn state_waits_for_the_store_and_rows_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let mut sink = StoreSink::new(&root, &S3Options::default());
        assert_eq!(sink.load_state("prometheus-1").unwrap(), None);
        assert!(!root.exists(), "nothing is created before `open`");
        sink.open().unwrap();
        sink.save_state("prometheus-1", "{}").unwrap();
        assert_eq!(sink.load_state("prometheus-1").unwrap().as_deref(), Some("{}"));
        assert!(sink.state_location("prometheus-1").ends_with("imports/prometheus-1.json"));
        let rows = || {
            vec![Sample {
                timestamp_ms: 20 * crate::domain::DAY_MS,
                namespace: "ns".into(),
                workload_kind: "Deployment".into(),
                workload: "api".into(),
                pod: "api-1".into(),
                container: "app".into(),
                cpu_cores: 0.5,
                memory_bytes: 1e8,
                ..Default::default()
            }]
        };
        assert_eq!(
            sink.append(&mut crate::domain::SampleRows::from_samples(&rows())).unwrap(),
            Appended { written: 1, duplicates: 0 }
        );
        assert_eq!(
            sink.append(&mut crate::domain::SampleRows::from_samples(&rows())).unwrap(),
            Appended { written: 0, duplicates: 1 }
        );
        sink.remove_state("prometheus-1");
        assert_eq!(sink.load_state("prometheus-1").unwrap(), None);
    }

    #[test]
    fn collector_state_lives_in_the_collector_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let mut sink = StoreSink::new(&root, &S3Options::default());
        assert_eq!(sink.name(), root.display().to_string());
        assert_eq!(sink.load_collector_state(), None);
        sink.open().unwrap();
        sink.save_collector_state(b"{\"version\": 1}").unwrap();
        assert_eq!(std::fs::read(root.join("collector/state.json")).unwrap(), b"{\"version\": 1}");
        assert_eq!(sink.load_collector_state().as_deref(), Some(&b"{\"version\": 1}"[..]));
        assert!(sink.collector_state_location().ends_with("collector/state.json"));
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let mut blocked = StoreSink::new(&dir.path().join("file"), &S3Options::default());
        let e = blocked.save_collector_state(b"{}").unwrap_err().to_string();
        assert!(e.starts_with("creating ") && e.ends_with("file/collector"), "{e}");
    }
}

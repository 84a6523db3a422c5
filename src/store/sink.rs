//! The store as an importer's destination (`sources::sink::SampleSink`): rows appended to a
//! local or S3 store, resume state in `STORE/imports/<name>.json`, php-fpm exporter figures
//! beside it (`imports/phpfpm-<id>.json`, read back by `facts`).

use super::facts::PhpFpmFacts;
use super::remote::AnyStore;
use super::s3::S3Options;
use super::{io_err, Store, StoreError};
use crate::sources::php_fpm_exporter::PodFigures;
use crate::sources::sink::{Appended, SampleSink, SinkError, WorkloadContainer};
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
    super::writer::write_atomically(path, text.as_bytes())
}

impl SampleSink for StoreSink {
    fn open(&mut self) -> Result<(), SinkError> {
        self.store().map(drop)
    }

    fn exists(&self) -> bool {
        self.store.is_some() || Store::is_store(&self.local_root)
    }

    fn append(&mut self, samples: Vec<crate::domain::Sample>) -> Result<Appended, SinkError> {
        let report = self.store()?.append(samples)?;
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

    fn sync(&mut self) -> Result<(), SinkError> {
        match &self.store {
            Some(store) => Ok(store.sync_side_files()?),
            None => Ok(()),
        }
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
        assert_eq!(sink.append(rows()).unwrap(), Appended { written: 1, duplicates: 0 });
        assert_eq!(sink.append(rows()).unwrap(), Appended { written: 0, duplicates: 1 });
        sink.remove_state("prometheus-1");
        assert_eq!(sink.load_state("prometheus-1").unwrap(), None);
    }
}

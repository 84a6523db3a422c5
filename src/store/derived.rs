//! Derived data kept beside a day's parts (per-day usage summaries, for instance).
//!
//! Parts never change once written, so a day's set of part names and sizes identifies its
//! contents. A derived file records the set it was built from and is used only while the day
//! still has exactly that set: an append, a compaction or a deleted part makes it stale, and
//! the caller rebuilds it. Store readers never list these files.

use super::{io_err, Store, StoreError};
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"podsizer-derived 1\n";

/// The parts of one day partition as seen at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartSet {
    pub dir: PathBuf,
    parts: Vec<(String, u64)>,
}

impl PartSet {
    pub fn read(dir: &Path) -> Result<Self, StoreError> {
        let mut parts = Vec::new();
        for path in Store::parts(dir)? {
            let size = std::fs::metadata(&path).map_err(io_err(&path, "stat part"))?.len();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            parts.push((name, size));
        }
        Ok(Self { dir: dir.to_path_buf(), parts })
    }

    pub fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.parts.iter().map(|(name, _)| self.dir.join(name))
    }

    fn fingerprint(&self) -> String {
        self.parts.iter().map(|(name, size)| format!("{name} {size}\n")).collect()
    }
}

fn derived_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("derived-{name}.bin"))
}

impl Store {
    /// The derived file `name` of a day, if it was built from exactly `parts`.
    pub fn read_derived(&self, parts: &PartSet, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = derived_path(&parts.dir, name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, "read derived file")(e)),
        };
        let Some(rest) = bytes.strip_prefix(MAGIC) else { return Ok(None) };
        let fingerprint = parts.fingerprint();
        let Some(payload) = rest.strip_prefix(fingerprint.as_bytes()).and_then(|r| r.strip_prefix(b"\n")) else {
            return Ok(None);
        };
        Ok(Some(payload.to_vec()))
    }

    /// Saves derived data built from `parts` (atomically, like a part).
    pub fn write_derived(&self, parts: &PartSet, name: &str, payload: &[u8]) -> Result<(), StoreError> {
        let fingerprint = parts.fingerprint();
        let mut bytes = Vec::with_capacity(MAGIC.len() + fingerprint.len() + 1 + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(fingerprint.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(payload);
        super::write_atomically(&derived_path(&parts.dir, name), &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;

    fn sample(ts: i64) -> Sample {
        Sample {
            timestamp_ms: ts,
            namespace: "shop".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            pod: "api-1".into(),
            container: "nginx".into(),
            cpu_cores: 0.1,
            memory_bytes: 1e6,
            ..Default::default()
        }
    }

    #[test]
    fn derived_data_goes_stale_when_a_part_is_added() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        store.append(vec![sample(0)]).unwrap();
        let day = store.partitions().unwrap()[0].1.clone();
        let before = PartSet::read(&day).unwrap();
        assert_eq!(store.read_derived(&before, "usage").unwrap(), None);
        store.write_derived(&before, "usage", b"payload").unwrap();
        assert_eq!(
            store.read_derived(&PartSet::read(&day).unwrap(), "usage").unwrap().as_deref(),
            Some(&b"payload"[..])
        );
        store.append(vec![sample(60_000)]).unwrap();
        let after = PartSet::read(&day).unwrap();
        assert_ne!(before, after);
        assert_eq!(store.read_derived(&after, "usage").unwrap(), None);
        // Derived files are not parts: readers still see two rows.
        assert_eq!(store.scan(None, None, |_| {}).unwrap().rows, 2);
    }
}

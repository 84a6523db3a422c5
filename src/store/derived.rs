//! Derived data kept beside a day's parts (per-day usage summaries, for instance).
//!
//! Parts never change once written, so a day's set of part names and sizes identifies its
//! contents. A derived file records the set it was built from and is used only while the day
//! still has exactly that set: an append, a compaction or a deleted part makes it stale, and
//! the caller rebuilds it. Store readers never list these files. Like a part, a derived file
//! carries the checksum of its bytes in its name and is checked on every read: a damaged one is
//! reported (`Derived::Damaged`) and rebuilt by the caller, never used.

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

    /// The parts of the day folder `dir` as a listing names them (name, size), for a reader
    /// that holds the day's derived files but not its parts (an S3 listing, `summaries`).
    pub fn listed(dir: &Path, mut parts: Vec<(String, u64)>) -> Self {
        parts.sort();
        Self { dir: dir.to_path_buf(), parts }
    }

    pub fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.parts.iter().map(|(name, _)| self.dir.join(name))
    }

    fn fingerprint(&self) -> String {
        self.parts.iter().map(|(name, size)| format!("{name} {size}\n")).collect()
    }
}

/// What a day holds of one kind of derived data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Derived {
    /// Built from exactly the day's current parts, its bytes as written.
    Fresh(Vec<u8>),
    /// None, or none built from the current parts, or one written before derived files
    /// carried a checksum (unverifiable, so rebuilt once): build it.
    Missing,
    /// A file whose bytes do not match the checksum in its name: damaged after it was
    /// written. Never used; build it again.
    Damaged(PathBuf),
}

/// `derived-<name>-x<checksum>.bin`: the checksum of the file's bytes in its name, as parts
/// carry theirs (`checksum`).
fn derived_path(dir: &Path, name: &str, checksum: u64) -> PathBuf {
    dir.join(format!("derived-{name}{}.bin", super::checksum::name_suffix(checksum)))
}

/// Every derived file of kind `name` in a day, with or without a checksum in its name.
fn derived_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>, StoreError> {
    let (plain, prefix) = (format!("derived-{name}.bin"), format!("derived-{name}-x"));
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir, "list partition"))? {
        let path = entry.map_err(io_err(dir, "list partition"))?.path();
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if file == plain || (file.starts_with(&prefix) && file.ends_with(".bin")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Store {
    /// The derived data `name` of a day built from exactly `parts`, checked against its
    /// checksum; a damaged file is reported, never returned.
    pub fn read_derived(&self, parts: &PartSet, name: &str) -> Result<Derived, StoreError> {
        let fingerprint = parts.fingerprint();
        let mut damaged = None;
        for path in derived_files(&parts.dir, name)? {
            let Some(expected) = super::checksum::in_name(&path, ".bin") else { continue };
            let bytes = match super::checksum::read_verified(&path, Some(expected), "read derived file") {
                Ok(bytes) => bytes,
                Err(StoreError::Checksum { path }) => {
                    damaged.get_or_insert(path);
                    continue;
                }
                // Removed by a writer that replaced it since the listing: look at the others.
                Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let payload = bytes.strip_prefix(MAGIC).and_then(|rest| rest.strip_prefix(fingerprint.as_bytes()));
            if let Some(payload) = payload.and_then(|r| r.strip_prefix(b"\n")) {
                return Ok(Derived::Fresh(payload.to_vec()));
            }
        }
        Ok(damaged.map_or(Derived::Missing, Derived::Damaged))
    }

    /// Saves derived data built from `parts` (atomically, like a part, its checksum in its
    /// name) and removes the day's other files of that kind (stale, damaged or unverifiable).
    pub fn write_derived(&self, parts: &PartSet, name: &str, payload: &[u8]) -> Result<(), StoreError> {
        let fingerprint = parts.fingerprint();
        let mut bytes = Vec::with_capacity(MAGIC.len() + fingerprint.len() + 1 + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(fingerprint.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(payload);
        let path = derived_path(&parts.dir, name, super::checksum::of(&bytes));
        super::write_atomically(&path, &bytes)?;
        for other in derived_files(&parts.dir, name)?.into_iter().filter(|p| *p != path) {
            match std::fs::remove_file(&other) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_err(&other, "remove old derived file")(e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A day's derived files of kind `name` (for tests and tools that check them).
    pub fn derived_files(&self, day_dir: &Path, name: &str) -> Result<Vec<PathBuf>, StoreError> {
        derived_files(day_dir, name)
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
        assert_eq!(store.read_derived(&before, "usage").unwrap(), Derived::Missing);
        store.write_derived(&before, "usage", b"payload").unwrap();
        assert_eq!(
            store.read_derived(&PartSet::read(&day).unwrap(), "usage").unwrap(),
            Derived::Fresh(b"payload".to_vec())
        );
        store.append(vec![sample(60_000)]).unwrap();
        let after = PartSet::read(&day).unwrap();
        assert_ne!(before, after);
        assert_eq!(store.read_derived(&after, "usage").unwrap(), Derived::Missing);
        // Derived files are not parts: readers still see two rows.
        assert_eq!(store.scan(None, None, |_| {}).unwrap().rows, 2);
    }
}

#[cfg(test)]
mod checksum_tests {
    use super::*;

    fn day_with_a_part() -> (tempfile::TempDir, Store, PartSet) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_or_create(dir.path()).unwrap();
        let sample = crate::domain::Sample {
            namespace: "shop".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            pod: "api-1".into(),
            container: "nginx".into(),
            ..Default::default()
        };
        store.append(vec![sample]).unwrap();
        let day = store.partitions().unwrap()[0].1.clone();
        let parts = PartSet::read(&day).unwrap();
        (dir, store, parts)
    }

    #[test]
    fn every_single_byte_change_of_a_derived_file_is_reported_as_damage() {
        let (_dir, store, parts) = day_with_a_part();
        store.write_derived(&parts, "usage", b"some payload").unwrap();
        let [path] = store.derived_files(&parts.dir, "usage").unwrap().try_into().unwrap();
        let good = std::fs::read(&path).unwrap();
        for at in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[at] ^= flip;
                std::fs::write(&path, &bytes).unwrap();
                assert_eq!(store.read_derived(&parts, "usage").unwrap(), Derived::Damaged(path.clone()), "byte {at}");
            }
        }
        // Rewriting replaces the damaged file; the day holds one derived file again.
        store.write_derived(&parts, "usage", b"some payload").unwrap();
        assert_eq!(store.derived_files(&parts.dir, "usage").unwrap(), std::slice::from_ref(&path));
        assert_eq!(store.read_derived(&parts, "usage").unwrap(), Derived::Fresh(b"some payload".to_vec()));
    }

    #[test]
    fn a_derived_file_without_a_checksum_is_rebuilt_and_replaced() {
        let (_dir, store, parts) = day_with_a_part();
        let legacy = parts.dir.join("derived-usage.bin");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(parts.fingerprint().as_bytes());
        bytes.extend_from_slice(b"\nold payload");
        std::fs::write(&legacy, bytes).unwrap();
        assert_eq!(store.read_derived(&parts, "usage").unwrap(), Derived::Missing, "unverifiable: not trusted");
        store.write_derived(&parts, "usage", b"new").unwrap();
        assert!(!legacy.exists());
        assert_eq!(store.read_derived(&parts, "usage").unwrap(), Derived::Fresh(b"new".to_vec()));
    }
}

//! Writing a file so that readers see either nothing or all of it: a hidden temp file in the
//! same directory, fsync, rename into place, fsync of the directory. A temp file is removed
//! when the write fails or is abandoned; one left by a crash starts with `.` and ends in
//! `.tmp`, which every reader of a store ignores.

use std::io::Write;
use std::path::{Path, PathBuf};

/// One step of an atomic write that failed; `action` names it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {action}", path.display())]
pub struct AtomicWriteError {
    pub path: PathBuf,
    pub action: &'static str,
    pub source: std::io::Error,
}

/// A file being written under a temp name until `commit`.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::fs::File>,
}

impl AtomicFile {
    /// Starts writing `path` (through `.<name>.<pid>.tmp`).
    pub(crate) fn create(path: &Path) -> Result<Self, AtomicWriteError> {
        Self::create_tagged(path, "tmp")
    }

    /// As `create`, with the temp file ending `.<pid>.<tag>` (e.g. `download.tmp`).
    pub(crate) fn create_tagged(path: &Path, tag: &str) -> Result<Self, AtomicWriteError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = path.with_file_name(format!(".{name}.{}.{tag}", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|source| AtomicWriteError {
            path: tmp.clone(),
            action: "create temp file",
            source,
        })?;
        Ok(Self { path: path.to_path_buf(), tmp, file: Some(file) })
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), AtomicWriteError> {
        let file = self.file.as_mut().expect("open until commit");
        file.write_all(bytes).map_err(|source| AtomicWriteError { path: self.tmp.clone(), action: "write", source })
    }

    /// Flushes the temp file to disk and renames it into place.
    pub(crate) fn commit(mut self) -> Result<(), AtomicWriteError> {
        let file = self.file.take().expect("open until commit");
        file.sync_all().map_err(|source| AtomicWriteError { path: self.tmp.clone(), action: "fsync", source })?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|source| AtomicWriteError {
            path: self.path.clone(),
            action: "rename into place",
            source,
        })?;
        // Renamed: nothing left for `drop` to remove.
        self.tmp = PathBuf::new();
        if let Ok(dir) =
            std::fs::File::open(self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"one").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        let mut half = AtomicFile::create(&path).unwrap();
        half.write_all(b"tw").unwrap();
        drop(half);
        assert_eq!(std::fs::read(&path).unwrap(), b"one", "an abandoned write changes nothing");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["state.json"], "no temp file left behind");
        let missing = write_atomically(&dir.path().join("no/such/dir/x"), b"x").unwrap_err();
        assert_eq!(missing.action, "create temp file");
    }
}

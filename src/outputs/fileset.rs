//! All-or-nothing writes of several files into one folder (an overlay, a report).
//!
//! Every file is first written whole to a temp file beside its target; only when all of them
//! are on disk are they renamed into place, each original moved aside first. Any failure
//! (a read-only or full disk, a directory where a file should be) removes the temp files and
//! renames the originals back, so the folder is byte-identical to what it was. A caller that
//! checks the result afterwards (kustomize renders the overlay) can still [`Committed::rollback`].
//!
//! Every path is relative to the folder and made only of plain components: no `..`, no root,
//! no symlinked subfolder, so nothing a name contains can reach outside it.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FileSetError {
    #[error(
        "{root}: refusing to write `{path}`: it would leave the folder (only plain file names inside it are written)"
    )]
    Outside { root: PathBuf, path: String },
    #[error("{root}: two outputs would share the file `{path}`; nothing was written")]
    Duplicate { root: PathBuf, path: String },
    #[error("{path}: nothing was changed")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Writes one temp file; tests swap it for one that fails (a full disk stand-in).
pub(crate) type Stage = fn(&Path, &[u8]) -> std::io::Result<()>;

/// The default [`Stage`]: a new file, written and fsynced.
pub(crate) fn stage_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

struct Entry {
    target: PathBuf,
    temp: PathBuf,
    backup: Option<PathBuf>,
    /// The new file is at `target`.
    placed: bool,
    created_dir: Option<PathBuf>,
}

/// Files that were put in place, with their originals kept aside until [`Committed::finish`].
#[must_use = "finish() keeps the new files; rollback() restores the old ones"]
pub(crate) struct Committed {
    entries: Vec<Entry>,
    done: bool,
}

/// Writes `files` (relative path, bytes) into `root` all or nothing.
pub(crate) fn commit(root: &Path, files: &[(String, Vec<u8>)], stage: Stage) -> Result<Committed, FileSetError> {
    let mut entries = entries_of(root, files)?;
    let staged = stage_all(&mut entries, files, stage);
    let swapped = staged.and_then(|()| swap_all(&mut entries));
    if let Err(e) = swapped {
        undo(&entries);
        return Err(e);
    }
    for dir in entries.iter().filter_map(|e| e.target.parent()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(Committed { entries, done: false })
}

impl Committed {
    /// Puts every original back (and removes files that did not exist before).
    pub(crate) fn rollback(mut self) {
        undo(&self.entries);
        self.done = true;
    }

    /// Keeps the new files and drops the originals.
    pub(crate) fn finish(mut self) {
        self.drop_backups();
    }

    fn drop_backups(&mut self) {
        if !self.done {
            for backup in self.entries.iter().filter_map(|e| e.backup.as_ref()) {
                let _ = std::fs::remove_file(backup);
            }
            self.done = true;
        }
    }
}

impl Drop for Committed {
    fn drop(&mut self) {
        self.drop_backups();
    }
}

/// Checks every path and creates missing subfolders (removed again on failure).
fn entries_of(root: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<Entry>, FileSetError> {
    let mut seen = std::collections::HashSet::new();
    let mut entries: Vec<Entry> = Vec::new();
    let outside = |path: &str| FileSetError::Outside { root: root.to_path_buf(), path: path.to_string() };
    for (rel, _) in files {
        let parts: Vec<&str> = rel.split('/').collect();
        let plain = |p: &&str| {
            !p.is_empty()
                && !p.contains('\\')
                && matches!(Path::new(p).components().collect::<Vec<_>>()[..], [Component::Normal(_)])
        };
        if !parts.iter().all(plain) {
            return Err(outside(rel));
        }
        if !seen.insert(rel.to_ascii_lowercase()) {
            return Err(FileSetError::Duplicate { root: root.to_path_buf(), path: rel.clone() });
        }
        let mut dir = root.to_path_buf();
        let mut created_dir = None;
        for sub in &parts[..parts.len() - 1] {
            dir.push(sub);
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(outside(rel)),
                Err(_) => {
                    std::fs::create_dir(&dir).map_err(|source| FileSetError::Io { path: dir.clone(), source })?;
                    created_dir.get_or_insert(dir.clone());
                }
            }
        }
        let name = parts[parts.len() - 1];
        if std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.is_dir()) {
            let source = std::io::Error::other("a directory is in the way of this file");
            return Err(FileSetError::Io { path: dir.join(name), source });
        }
        entries.push(Entry {
            target: dir.join(name),
            temp: dir.join(format!(".{name}.{}.podsizer-new", std::process::id())),
            backup: None,
            placed: false,
            created_dir,
        });
    }
    Ok(entries)
}

fn stage_all(entries: &mut [Entry], files: &[(String, Vec<u8>)], stage: Stage) -> Result<(), FileSetError> {
    for (entry, (_, bytes)) in entries.iter().zip(files) {
        let _ = std::fs::remove_file(&entry.temp);
        stage(&entry.temp, bytes).map_err(|source| FileSetError::Io { path: entry.target.clone(), source })?;
    }
    Ok(())
}

fn swap_all(entries: &mut [Entry]) -> Result<(), FileSetError> {
    for entry in entries.iter_mut() {
        let io = |source| FileSetError::Io { path: entry.target.clone(), source };
        if std::fs::symlink_metadata(&entry.target).is_ok() {
            let name = entry.target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
            let backup = entry.target.with_file_name(format!(".{name}.{}.podsizer-old", std::process::id()));
            std::fs::rename(&entry.target, &backup).map_err(io)?;
            entry.backup = Some(backup);
        }
        std::fs::rename(&entry.temp, &entry.target).map_err(io)?;
        entry.placed = true;
    }
    Ok(())
}

/// Returns the folder to how it was: temp files removed, originals renamed back, new files
/// and created subfolders removed. Newest first, so nested steps unwind in order.
fn undo(entries: &[Entry]) {
    for entry in entries.iter().rev() {
        let _ = std::fs::remove_file(&entry.temp);
        match (&entry.backup, entry.placed) {
            (Some(backup), _) => {
                let _ = std::fs::rename(backup, &entry.target);
            }
            (None, true) => {
                let _ = std::fs::remove_file(&entry.target);
            }
            (None, false) => {}
        }
        if let Some(dir) = &entry.created_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every file under a folder with its bytes, temp and backup files included.
    fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
                if e.file_type().unwrap().is_dir() {
                    out.insert(format!("{rel}/"), Vec::new());
                    stack.push(e.path());
                } else {
                    out.insert(rel, std::fs::read(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kustomization.yaml"), "resources: [../base]\n").unwrap();
        std::fs::write(dir.path().join("podsizer-deployment-api.yaml"), "old patch\n").unwrap();
        dir
    }

    fn files(names: &[&str]) -> Vec<(String, Vec<u8>)> {
        names.iter().map(|n| (n.to_string(), format!("new {n}").into_bytes())).collect()
    }

    fn full_disk_on_second(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let staged = path
            .parent()
            .unwrap()
            .read_dir()?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".podsizer-new"));
        if staged {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        stage_file(path, bytes)
    }

    #[test]
    fn writes_every_file_and_keeps_no_temp() {
        let dir = folder();
        let set = files(&["kustomization.yaml", "podsizer-deployment-api.yaml", "charts/a.png"]);
        commit(dir.path(), &set, stage_file).unwrap().finish();
        let after = snapshot(dir.path());
        assert_eq!(after.len(), 4, "{:?}", after.keys());
        for (name, bytes) in &set {
            assert_eq!(&after[name], bytes);
        }
    }

    #[test]
    fn a_full_disk_midway_leaves_the_folder_byte_identical() {
        let dir = folder();
        let before = snapshot(dir.path());
        let set = files(&["podsizer-deployment-api.yaml", "podsizer-deployment-web.yaml", "sub/x.yaml"]);
        let err = commit(dir.path(), &set, full_disk_on_second).err().unwrap();
        assert!(matches!(&err, FileSetError::Io { source, .. } if source.raw_os_error() == Some(28)), "{err}");
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn a_directory_in_the_way_changes_nothing() {
        let dir = folder();
        std::fs::create_dir(dir.path().join("podsizer-deployment-web.yaml")).unwrap();
        let before = snapshot(dir.path());
        let set = files(&["podsizer-deployment-api.yaml", "podsizer-deployment-web.yaml"]);
        let err = commit(dir.path(), &set, stage_file).err().unwrap();
        let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("directory is in the way"), "{err}: {cause}");
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn rollback_restores_every_original() {
        let dir = folder();
        let before = snapshot(dir.path());
        let set = files(&["kustomization.yaml", "podsizer-deployment-api.yaml", "new.yaml", "charts/c.png"]);
        let done = commit(dir.path(), &set, stage_file).unwrap();
        assert_ne!(snapshot(dir.path()), before);
        done.rollback();
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn paths_that_leave_the_folder_are_refused_before_any_write() {
        let dir = folder();
        std::os::unix::fs::symlink("/tmp", dir.path().join("link")).unwrap();
        let before = snapshot(dir.path());
        for bad in ["../x.yaml", "/etc/x", "a/../../x", "link/x.yaml", ".", "..", "", "a//b", "a\\..\\b"] {
            let err = commit(dir.path(), &files(&["ok.yaml", bad]), stage_file).err();
            assert!(matches!(err, Some(FileSetError::Outside { .. })), "{bad:?}: {err:?}");
            assert_eq!(snapshot(dir.path()), before, "{bad:?}");
        }
        let twice = commit(dir.path(), &files(&["a.yaml", "A.yaml"]), stage_file).err();
        assert!(matches!(twice, Some(FileSetError::Duplicate { .. })));
    }
}

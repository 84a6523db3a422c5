//! Day summaries on S3, for the fleet: each cluster's job uploads them beside the parts, and
//! the central run reads them without fetching a single part.
//!
//! A day's summary is derived data of the day's parts (`derived`): valid only for the exact
//! part names and sizes it records. On S3 that set is what one listing of the store's `day=`
//! keys says, so a summary is checked against the listing (and against the checksum in its
//! name) with no part downloaded. Summary names carry the checksum of their bytes, so an
//! object of the same name is the same summary: uploads are conditional puts, and a summary
//! already in the mirror is never fetched again.

use super::remote::{RemoteError, RemoteStore, WRITERS_DIR};
use super::s3::Object;
use super::{Derived, PartSet};
use std::collections::BTreeMap;

/// One day of a store as its listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDay {
    /// First instant of the day (epoch ms).
    pub day: i64,
    /// Its parts: name and size.
    pub parts: Vec<(String, u64)>,
    /// Its derived files of the summary kind (there may be stale ones beside the fresh one).
    derived: Vec<Object>,
}

/// Every object a summary read fetched (keys relative to the store), so a caller can show,
/// and a test can check, that nothing but manifests, side files and summaries was read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub keys: Vec<String>,
    pub bytes: u64,
}

impl RemoteStore {
    /// Every day partition of the store with its parts and derived files of kind `kind`
    /// (`derived-<kind>-x<checksum>.bin`), oldest first, from one listing of the `day=` keys.
    pub fn list_days(&self, kind: &str) -> Result<Vec<ListedDay>, RemoteError> {
        let mut days: BTreeMap<i64, ListedDay> = BTreeMap::new();
        let derived_prefix = format!("derived-{kind}-x");
        for object in self.s3().list("day=")? {
            let Some((dir, name)) = object.rel.split_once('/') else { continue };
            let Some(day) = day_of(dir) else { continue };
            let entry = days.entry(day).or_insert_with(|| ListedDay { day, parts: vec![], derived: vec![] });
            if name.starts_with("part-") && name.ends_with(".parquet") {
                entry.parts.push((name.to_string(), object.size));
            } else if name.starts_with(&derived_prefix) && name.ends_with(".bin") && !name.contains('/') {
                entry.derived.push(object);
            }
        }
        Ok(days.into_values().filter(|d| !d.parts.is_empty()).collect())
    }

    /// The day's summary of kind `kind` built from exactly the listed parts, fetched into the
    /// mirror when it is not there yet; `Missing` when the bucket holds none for these parts.
    /// Parts are never fetched.
    pub fn fetch_summaries(
        &self,
        days: &[ListedDay],
        kind: &str,
        fetched: &mut Fetched,
    ) -> Result<Vec<Derived>, RemoteError> {
        let root = self.local().root();
        let mut todo = Vec::new();
        for day in days {
            let dir = root.join(super::day_dir_name(day.day));
            std::fs::create_dir_all(&dir).map_err(|source| RemoteError::Io {
                path: dir.clone(),
                action: "create a day folder in the mirror",
                source,
            })?;
            for object in &day.derived {
                let name = object.rel.rsplit('/').next().unwrap_or_default();
                let path = dir.join(name);
                // The name holds the checksum of the bytes: same name and size, same summary.
                let have = std::fs::metadata(&path).is_ok_and(|m| m.len() == object.size);
                if !have {
                    todo.push((object.clone(), path));
                }
            }
        }
        for (object, _) in &todo {
            fetched.keys.push(object.rel.clone());
        }
        if !todo.is_empty() {
            fetched.bytes += self.s3().download(todo)?;
        }
        let mut out = Vec::with_capacity(days.len());
        for day in days {
            let dir = root.join(super::day_dir_name(day.day));
            out.push(self.local().read_derived(&PartSet::listed(&dir, day.parts.clone()), kind)?);
        }
        Ok(out)
    }

    /// Uploads the mirror's summary of kind `kind` of `day` when it was built from exactly
    /// the listed parts and the bucket does not hold it yet. Returns whether one went up.
    pub fn publish_summary(&self, day: &ListedDay, kind: &str) -> Result<bool, RemoteError> {
        let dir = self.local().root().join(super::day_dir_name(day.day));
        let listed = PartSet::listed(&dir, day.parts.clone());
        if !matches!(self.local().read_derived(&listed, kind)?, Derived::Fresh(_)) {
            return Ok(false);
        }
        // `write_derived` leaves one file of the kind in the day: the one just checked.
        let mut uploaded = false;
        for path in self.local().derived_files(&dir, kind)? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if day.derived.iter().any(|o| o.rel.rsplit('/').next() == Some(name)) {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|source| RemoteError::Io {
                path: path.clone(),
                action: "read a day summary for upload",
                source,
            })?;
            // Content-addressed (checksum in the name): an object of that name is this summary.
            self.s3().put_new(&format!("{}/{name}", super::day_dir_name(day.day)), bytes)?;
            uploaded = true;
        }
        Ok(uploaded)
    }

    /// Every writer's side files (current settings, OOM kills, import state) into the mirror:
    /// small JSON files, never samples.
    pub fn fetch_side_files(&self, fetched: &mut Fetched) -> Result<(), RemoteError> {
        let root = self.local().root();
        let own = format!("{WRITERS_DIR}/{}/", self.writer_id());
        let mut todo = Vec::new();
        for object in self.s3().list(&format!("{WRITERS_DIR}/"))? {
            if object.rel.starts_with(&own) || object.rel.split('/').any(|p| p.is_empty() || p.starts_with('.')) {
                continue;
            }
            let path = object.rel.split('/').fold(root.to_path_buf(), |p, part| p.join(part));
            fetched.keys.push(object.rel.clone());
            todo.push((object, path));
        }
        if !todo.is_empty() {
            fetched.bytes += self.s3().download(todo)?;
        }
        Ok(())
    }
}

/// The first instant of a `day=YYYY-MM-DD` key folder, spelled exactly as podsizer names it.
fn day_of(dir: &str) -> Option<i64> {
    let start = crate::domain::parse_timestamp(dir.strip_prefix("day=")?).ok()?;
    (super::day_dir_name(start) == dir).then_some(start)
}

//! Sample files given as inputs: streamed (a lone file) or held (several files), each
//! (series, timestamp) measurement counted once, within a file and across inputs, as a store
//! counts it.
//!
//! A lone file is streamed, so memory stays flat whatever its size: its first read checks that
//! each series' times only increase (exports sorted by series or by time do), which rules out
//! a repeat with memory per series only. A file that is out of order is read through a set of
//! its measurements instead (memory per row), and the repeats it dropped are told in a note.

use super::inputs::{FileUsage, Input, Names, RowFilter, WindowRule};
use super::{Note, Result};
use crate::analysis::UsageBuilder;
use crate::domain::SampleRef;
use crate::store::{Measurements, Store};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What building a lone file's usage during its check needs besides the window.
pub(super) struct LoneFileRule {
    pub(super) rule: WindowRule,
}

/// What one streamed read of a file saw besides its rows.
pub(super) struct Streamed {
    /// The warning for skipped bad rows, if any.
    pub(super) skipped: Option<Note>,
    /// Rows dropped as repeats of a measurement read before (only when de-duplicating).
    pub(super) repeats: u64,
}

/// Streams a sample file's valid rows to `visit`, each run of rows with the same names as one
/// series; with `dedup`, a row repeating an earlier row's series and timestamp is dropped.
pub(super) fn stream_file(
    path: &Path,
    skip_bad_rows: bool,
    dedup: bool,
    visit: &mut dyn FnMut(&SampleRef<'_>),
) -> Result<Streamed> {
    let (mut run, mut series) = (0, 0);
    let mut seen = dedup.then(Measurements::default);
    let mut repeats = 0;
    let outcome = crate::sources::files::for_each_sample(path, skip_bad_rows, &mut |s, r| {
        if r == 0 {
            series = 0;
        } else if r != run {
            (run, series) = (r, crate::store::new_series_id());
        }
        let row = SampleRef { series, ..SampleRef::from_sample(s) };
        if seen.as_mut().is_some_and(|seen| !seen.first_time(&row)) {
            repeats += 1;
            return;
        }
        visit(&row);
    })?;
    let skipped = outcome.skipped.first().map(|first| skipped_rows(path, outcome.skipped_count, first));
    Ok(Streamed { skipped, repeats })
}

pub(super) fn skipped_rows(path: &Path, count: u64, first: &crate::sources::files::BadRow) -> Note {
    Note::Warning(format!("warning: {}: skipped {count} bad row(s); first: {first}", path.display()))
}

fn repeated_in_file(path: &Path, count: u64) -> Note {
    Note::Warning(format!(
        "note: {}: {count} row(s) repeat a measurement earlier in the same file (same series and timestamp); \
         each measurement is counted once",
        path.display()
    ))
}

/// Whether every series' times only increase in file order, with memory per series: true
/// rules out a repeated measurement.
#[derive(Default)]
struct FileOrder {
    last: HashMap<String, i64>,
    /// The current run (`SampleRef::series`) and its series' newest time so far.
    run: Option<(u64, String, i64)>,
    ordered: bool,
}

impl FileOrder {
    fn new() -> Self {
        Self { ordered: true, ..Self::default() }
    }

    fn observe(&mut self, row: &SampleRef<'_>) {
        if let Some((run, _, last)) = self.run.as_mut() {
            if *run != 0 && *run == row.series {
                self.ordered &= row.timestamp_ms > *last;
                *last = row.timestamp_ms;
                return;
            }
        }
        if let Some((_, id, last)) = self.run.take() {
            self.last.insert(id, last);
        }
        let id = row.series_identity();
        if let Some(before) = self.last.get(&id) {
            self.ordered &= row.timestamp_ms > *before;
        }
        self.run = Some((row.series, id, row.timestamp_ms));
    }
}

/// Reads a run's only input file once here, fully validated (a bad file fails before any work,
/// its warning comes first), for the newest selected sample and for its order. The usage is
/// built in the same read when its window is known beforehand: from the settings, or from the
/// newest time in the timestamp column alone (cheap). That guess can miss (with
/// `--skip-bad-rows`, the newest row may be bad for another field; a filter may select older
/// rows): the built usage is then dropped and `Selection::usage` reads the file again, as it
/// does for other uses of the rows. A file out of order is read a second time here, through
/// the set of its measurements, to drop and count repeats.
pub(super) fn open_lone_file(
    path: PathBuf,
    skip_bad_rows: bool,
    names: &Names<'_>,
    lone_file: Option<&LoneFileRule>,
    notes: &mut Vec<Note>,
) -> Result<Input> {
    let window = lone_file.and_then(|p| {
        if p.rule.needs_newest() {
            crate::sources::files::newest_time_guess(&path).map(|t| p.rule.resolve(Some(t)))
        } else {
            Some(p.rule.resolve(None))
        }
    });
    let filter = window.map(|(since, until)| RowFilter { since, until, names: *names });
    let read = |dedup: bool, order: &mut Option<FileOrder>| -> Result<(Option<i64>, UsageBuilder, u64, Streamed)> {
        let (mut newest, mut builder, mut rows) = (None, UsageBuilder::new(), 0);
        let streamed = stream_file(&path, skip_bad_rows, dedup, &mut |r| {
            if let Some(order) = order.as_mut() {
                order.observe(r);
            }
            if names.keep(r) {
                newest = newest.max(Some(r.timestamp_ms));
            }
            if filter.as_ref().is_some_and(|f| f.keep(r)) {
                builder.observe(r);
                rows += 1;
            }
        })?;
        Ok((newest, builder, rows, streamed))
    };
    let mut order = Some(FileOrder::new());
    let (mut newest, mut builder, mut rows, streamed) = read(false, &mut order)?;
    notes.extend(streamed.skipped);
    let dedup = !order.is_some_and(|o| o.ordered);
    if dedup {
        let again = read(true, &mut None)?;
        (newest, builder, rows) = (again.0, again.1, again.2);
        if again.3.repeats > 0 {
            notes.push(repeated_in_file(&path, again.3.repeats));
        }
    }
    let usage = match (lone_file, window) {
        (Some(p), Some((since, until))) if p.rule.resolve(newest) == (since, until) => {
            Some(FileUsage { since, until, cluster: names.cluster.clone(), builder, rows })
        }
        _ => None,
    };
    Ok(Input::File { path, skip_bad_rows, newest, usage, dedup })
}

/// Drops a sample file's rows that repeat a measurement (series and timestamp) read before:
/// earlier in the same file, in an earlier file, or held by any store. So a store plus an
/// export of it, two overlapping exports or a file with repeated rows count each measurement
/// once, as a store does within itself.
pub(super) fn drop_repeated_rows(inputs: &mut [Input], notes: &mut Vec<Note>) -> Result<()> {
    let stores: Vec<Store> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Store(s) => Some(s.clone()),
            Input::Samples { .. } | Input::File { .. } => None,
        })
        .collect();
    let files = inputs.iter().filter(|i| matches!(i, Input::Samples { .. })).count();
    let mut earlier: HashSet<(String, i64)> = HashSet::new();
    let mut files_left = files;
    for input in inputs.iter_mut() {
        let Input::Samples { path, samples } = input else { continue };
        files_left -= 1;
        let before = samples.len();
        let ids: Vec<(String, i64)> = samples.iter().map(|s| (s.series_identity(), s.timestamp_ms)).collect();
        let mut keep: Vec<bool> = ids.iter().map(|id| !earlier.contains(id)).collect();
        let from_files = before - keep.iter().filter(|k| **k).count();
        let mut in_file = 0;
        let mut this_file: HashSet<&(String, i64)> = HashSet::with_capacity(ids.len());
        for (id, k) in ids.iter().zip(keep.iter_mut()) {
            if *k && !this_file.insert(id) {
                *k = false;
                in_file += 1;
            }
        }
        drop(this_file);
        let mut from_stores = 0;
        if let Some(rows) = FileRows::of(&ids, &keep).filter(|_| !stores.is_empty()) {
            for store in &stores {
                from_stores += rows.clear_held_by(store, &mut keep)?;
            }
        }
        // Only a later file can repeat these rows.
        if files_left > 0 {
            earlier.extend(ids.into_iter().zip(&keep).filter(|(_, k)| **k).map(|(id, _)| id));
        }
        let mut i = 0;
        samples.retain(|_| (keep[i], i += 1).0);
        if in_file > 0 {
            notes.push(repeated_in_file(path, in_file as u64));
        }
        if from_files + from_stores > 0 {
            notes.push(Note::Warning(format!(
                "note: {}: {} of {before} row(s) are already in another input ({from_files} in an earlier file, \
                 {from_stores} in a store); each measurement is counted once",
                path.display(),
                from_files + from_stores
            )));
        }
    }
    Ok(())
}

/// A sample file's remaining rows by identity and time, to find those a store holds too.
struct FileRows {
    index: HashMap<String, HashMap<i64, usize>>,
    first: i64,
    last: i64,
}

impl FileRows {
    fn of(ids: &[(String, i64)], keep: &[bool]) -> Option<Self> {
        let mut index: HashMap<String, HashMap<i64, usize>> = HashMap::new();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        for (i, (id, ts)) in ids.iter().enumerate().filter(|(i, _)| keep[*i]) {
            index.entry(id.clone()).or_default().insert(*ts, i);
            (first, last) = (first.min(*ts), last.max(*ts));
        }
        (!index.is_empty()).then_some(FileRows { index, first, last })
    }

    /// Clears `keep` for the rows `store` holds too; returns how many it cleared.
    fn clear_held_by(&self, store: &Store, keep: &mut [bool]) -> Result<usize> {
        let mut cleared = 0;
        // Rows of one series share their names: look the names up once per series.
        let mut last_series: Option<(u64, Option<&HashMap<i64, usize>>)> = None;
        store.scan(Some(self.first), Some(self.last + 1), |r| {
            let cached = matches!(&last_series, Some((series, _)) if r.series != 0 && *series == r.series);
            if !cached {
                let id = r.series_identity();
                last_series = Some((r.series, self.index.get(&id)));
            }
            let Some((_, Some(at))) = &last_series else { return };
            if let Some(&i) = at.get(&r.timestamp_ms) {
                if std::mem::replace(&mut keep[i], false) {
                    cleared += 1;
                }
            }
        })?;
        Ok(cleared)
    }
}

//! Usage from a store, one day at a time, through the per-day summaries kept beside the
//! partitions.
//!
//! A day is read from raw samples once; its summary (every container's `DayUsage`) is saved
//! as derived data of the day's parts and merged on later runs, so a weekly run that adds a
//! day reads one new day instead of fourteen. Days are independent, so they are summarised
//! on all cores. A day the window only partly covers (the oldest, usually) is summarised
//! whole for next time and also read with the window's bounds for this run. A saved summary
//! whose bytes fail the checksum in its name is never used: the day is summarised again from
//! its parts and the run warns, naming the file.

use super::{Note, Progress, Result};
use crate::analysis::summary;
use crate::analysis::{ContainerUsage, UsageBuilder};
use crate::domain::SampleRef;
use crate::domain::{ContainerKey, DAY_MS};
use crate::store::{Derived, PartSet, Store};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Name of the derived file holding a day's usage summary.
pub(super) const SUMMARY: &str = "usage";

/// What a run needs from the caller: the window and the row/container filters.
pub(super) struct DayScan<'a> {
    /// Window start, epoch ms inclusive; `None` = from the oldest sample.
    pub since: Option<i64>,
    /// Window end, epoch ms exclusive; `None` = through the newest sample.
    pub until: Option<i64>,
    /// Keeps a sample row (applied only to rows of days the window cuts; whole days come from summaries).
    pub keep_row: &'a (dyn Fn(&SampleRef<'_>) -> bool + Sync),
    /// Keeps a container's merged usage after its day is read.
    pub keep_container: &'a (dyn Fn(&ContainerKey) -> bool + Sync),
    /// Ignore saved summaries and rebuild them.
    pub rescan: bool,
}

/// How a run used the store, for `PODSIZER_STATS` and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayStats {
    /// Days (store partitions) read in the window.
    pub days: u64,
    /// Days whose saved usage summary was read instead of their samples.
    pub summaries_reused: u64,
    /// Days whose summary was (re)built by scanning their samples.
    pub summaries_built: u64,
    /// Days the window cuts, whose in-window rows were scanned again.
    pub partial_days: u64,
}

struct DayResult {
    usage: Vec<ContainerUsage>,
    reused: bool,
    partial: bool,
    /// The day's saved summary was damaged (and was rebuilt): what to tell.
    damaged: Option<Note>,
}

/// Adds the window's usage from `store` to `builder`; returns the rows it stands for.
pub(super) fn add_store_usage(
    store: &Store,
    window: &DayScan<'_>,
    builder: &mut UsageBuilder,
    progress: &dyn Progress,
    notes: &mut Vec<Note>,
) -> Result<(u64, DayStats)> {
    let days: Vec<(i64, PartSet)> = store
        .partitions()?
        .into_iter()
        .filter(|(day, _)| window.since.is_none_or(|s| day + DAY_MS > s) && window.until.is_none_or(|u| *day < u))
        .map(|(day, dir)| Ok((day, PartSet::read(&dir)?)))
        .collect::<Result<_>>()?;
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(days.len()).max(1);
    let (tx, rx) = mpsc::sync_channel::<(usize, Result<DayResult>)>(workers);
    let mut stats = DayStats::default();
    let mut rows = 0;
    let unsaved = std::sync::OnceLock::new();
    progress.begin(days.len() as u64, "reading days");
    let merged = std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (days, next, unsaved) = (&days, &next, &unsaved);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((day, parts)) = days.get(i) else { return };
                let result = day_usage(store, *day, parts, window, unsaved);
                let failed = result.is_err();
                if tx.send((i, result)).is_err() || failed {
                    // Stop handing out days once one failed or the receiver is gone.
                    next.store(days.len(), Ordering::Relaxed);
                    return;
                }
            });
        }
        drop(tx);
        // Merge in day order so pod numbering (and so every output) does not depend on which
        // worker finished first; at most `workers` results wait here.
        let mut pending = BTreeMap::new();
        let mut expected = 0;
        for (i, result) in rx {
            pending.insert(i, result);
            while let Some(result) = pending.remove(&expected) {
                let day = result?;
                stats.days += 1;
                stats.summaries_reused += u64::from(day.reused);
                stats.summaries_built += u64::from(!day.reused);
                stats.partial_days += u64::from(day.partial);
                notes.extend(day.damaged);
                for usage in day.usage.into_iter().filter(|u| (window.keep_container)(&u.key)) {
                    rows += usage.samples();
                    builder.absorb(usage);
                }
                expected += 1;
                progress.step("");
            }
        }
        Ok(())
    });
    progress.end();
    merged?;
    if let Some(e) = unsaved.into_inner() {
        let why = super::chain(&e);
        notes
            .push(Note::Note(format!("note: usage summaries not saved ({why}); the next run reads raw samples again")));
    }
    Ok((rows, stats))
}

/// One day's usage within the window, from its saved summary or from its parts.
fn day_usage(
    store: &Store,
    day: i64,
    parts: &PartSet,
    window: &DayScan<'_>,
    unsaved: &std::sync::OnceLock<crate::store::StoreError>,
) -> Result<DayResult> {
    let saved = if window.rescan { Saved::Missing } else { load_summary(store, parts)? };
    let damaged = match saved {
        Saved::Usable(whole) if covers(window, &whole) => {
            return Ok(DayResult { usage: whole, reused: true, partial: false, damaged: None });
        }
        Saved::Usable(_) => {
            let usage = scan_window(store, parts, window)?;
            return Ok(DayResult { usage, reused: true, partial: true, damaged: None });
        }
        Saved::Missing => None,
        Saved::Damaged(note) => Some(note),
    };
    let (whole, inside) = summarise(store, day, parts, window)?;
    save_summary(store, parts, &whole, unsaved);
    Ok(match inside {
        Some(usage) => DayResult { usage, reused: false, partial: true, damaged },
        None => DayResult { usage: whole, reused: false, partial: false, damaged },
    })
}

fn save_summary(
    store: &Store,
    parts: &PartSet,
    whole: &[ContainerUsage],
    unsaved: &std::sync::OnceLock<crate::store::StoreError>,
) {
    if let Err(e) = store.write_derived(parts, SUMMARY, &summary::encode(whole)) {
        // A summary is a cache: the run goes on, and says once that the next one will be slower.
        let _ = unsaved.set(e);
    }
}

/// A day's saved summary as the run may use it.
enum Saved {
    Usable(Vec<ContainerUsage>),
    /// None built from the day's current parts.
    Missing,
    /// Damaged after it was written: rebuilt from the parts, and the run says so.
    Damaged(Note),
}

fn load_summary(store: &Store, parts: &PartSet) -> Result<Saved> {
    let damaged = |path: &std::path::Path, why: &str| {
        Saved::Damaged(Note::Warning(format!(
            "warning: {}: {why}; not used, the day's usage was rebuilt from its parts",
            path.display()
        )))
    };
    Ok(match store.read_derived(parts, SUMMARY)? {
        Derived::Missing => Saved::Missing,
        Derived::Damaged(path) => {
            damaged(&path, "usage summary damaged (its bytes do not match the checksum in its name)")
        }
        // Intact bytes that do not decode: written by another version of podsizer.
        Derived::Fresh(bytes) => match summary::decode(&bytes) {
            Ok(usage) => Saved::Usable(usage),
            Err(e) => damaged(&parts.dir, &e.to_string()),
        },
    })
}

/// Summarises a whole day; when the window cuts the day, the same pass also builds the
/// window's part of it (the second value).
fn summarise(
    store: &Store,
    day: i64,
    parts: &PartSet,
    window: &DayScan<'_>,
) -> Result<(Vec<ContainerUsage>, Option<Vec<ContainerUsage>>)> {
    let cut = window.since.is_some_and(|s| s > day) || window.until.is_some_and(|u| u < day + DAY_MS);
    let mut whole = UsageBuilder::new();
    let mut inside = UsageBuilder::new();
    store.scan_partition(parts, None, None, |row| {
        whole.observe(row);
        if cut && (window.keep_row)(row) {
            inside.observe(row);
        }
    })?;
    let whole = whole.finish();
    if !cut || covers(window, &whole) {
        return Ok((whole, None));
    }
    Ok((whole, Some(inside.finish())))
}

/// Whether every sample of the day lies inside the window (the newest day usually does: the
/// window ends just after the newest sample).
fn covers(window: &DayScan<'_>, day: &[ContainerUsage]) -> bool {
    let first = day.iter().filter_map(ContainerUsage::first_ms).min();
    let last = day.iter().filter_map(ContainerUsage::last_ms).max();
    match (first, last) {
        (Some(first), Some(last)) => window.since.is_none_or(|s| first >= s) && window.until.is_none_or(|u| last < u),
        _ => true,
    }
}

fn scan_window(store: &Store, parts: &PartSet, window: &DayScan<'_>) -> Result<Vec<ContainerUsage>> {
    let mut builder = UsageBuilder::new();
    store.scan_partition(parts, window.since, window.until, |row| {
        if (window.keep_row)(row) {
            builder.observe(row);
        }
    })?;
    Ok(builder.finish())
}

/// The newest sample of the containers `keep` selects, from the newest day that holds one:
/// through the days' summaries (built and saved when missing, as the usage read that follows
/// would), so a filter costs no more than an unfiltered run.
pub(super) fn newest_selected(
    store: &Store,
    keep: &dyn Fn(&ContainerKey) -> bool,
    rescan: bool,
    notes: &mut Vec<Note>,
) -> Result<Option<i64>> {
    for (_, dir) in store.partitions()?.into_iter().rev() {
        let parts = PartSet::read(&dir)?;
        let saved = if rescan { Saved::Missing } else { load_summary(store, &parts)? };
        let whole = match saved {
            Saved::Usable(whole) => whole,
            unusable => {
                if let Saved::Damaged(note) = unusable {
                    notes.push(note);
                }
                let mut builder = UsageBuilder::new();
                store.scan_partition(&parts, None, None, |row| builder.observe(row))?;
                let whole = builder.finish();
                // Not saved: the usage read says so once.
                save_summary(store, &parts, &whole, &std::sync::OnceLock::new());
                whole
            }
        };
        if let Some(newest) = whole.iter().filter(|u| keep(&u.key)).filter_map(ContainerUsage::last_ms).max() {
            return Ok(Some(newest));
        }
    }
    Ok(None)
}

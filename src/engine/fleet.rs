//! The fleet: one store per cluster under one S3 prefix (`s3://BUCKET/PREFIX/CLUSTER/`), each
//! filled by that cluster's own job (`deploy/fleet/`), and sized centrally from the day
//! summaries the jobs upload, never from raw samples.
//!
//! - [`summarize`] runs in each cluster after its import: every day of the window gets its usage
//!   summary built (from the parts, pulled for the days that lack one) and uploaded beside them.
//! - [`size_fleet`] runs once for the fleet: per cluster, one listing of the `day=` keys, the
//!   summaries of the window's days (checked against that listing and their checksums) and the
//!   writers' side files; then the same sizing as `recommend` (`sizing::size_usage`), with the
//!   cluster's own overlay for current settings and patches. A day without a valid summary
//!   stops the run naming it: it is never read from its parts here.
//!
//! Summaries are whole days, so the fleet's window is whole UTC days: the `window_days` days up
//! to and including each cluster's newest day. `recommend --since FIRST-DAY --until
//! DAY-AFTER-NEWEST` on one cluster's store gives the same numbers.

use super::current::current_settings;
use super::day_usage::{add_store_usage, DayScan, SUMMARY};
use super::sizing::{apply_hpa_advice, one_cluster, size_usage, SizingContext};
use super::{EngineError, Note, Progress};
use crate::analysis::{summary, PolicySet, Recommendation, UsageBuilder};
use crate::domain::{format_timestamp, DAY_MS};
use crate::outputs::kustomize::{Overlay, PatchFile};
use crate::store::remote::{DaysWanted, RemoteError, RemoteStore};
use crate::store::s3::{S3Location, S3Options, S3};
use crate::store::summaries::{Fetched, ListedDay};
use crate::store::{facts::Facts, Derived};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Why sizing or summarising a fleet failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Reading or writing a cluster's remote store failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// Sizing a cluster failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Listing the fleet's bucket failed.
    #[error(transparent)]
    S3(#[from] crate::store::s3::S3Error),
    /// No cluster store under the fleet's root.
    #[error("{url}: no cluster stores under this prefix (expected {url}/CLUSTER/podsizer-store.json)")]
    NoClusters {
        /// The fleet's root, `s3://BUCKET/PREFIX`.
        url: String,
    },
    /// A day in the window has no summary of its current parts.
    #[error("{url}: day {day} has no usage summary of its current parts (run `podsizer fleet summarize` on this store, as the cluster's job does after its import)")]
    NoSummary {
        /// The cluster's store.
        url: String,
        /// The day, `YYYY-MM-DD`.
        day: String,
    },
    /// A summary's bytes do not match the checksum in its name.
    #[error("{path}: usage summary damaged (its bytes do not match the checksum in its name); delete it from the bucket and run `podsizer fleet summarize` on {url}")]
    Damaged {
        /// The cluster's store.
        url: String,
        /// The damaged summary's path in the local mirror.
        path: PathBuf,
    },
    /// A summary could not be decoded.
    #[error("{url}: usage summary of day {day} cannot be read")]
    Summary {
        /// The cluster's store.
        url: String,
        /// The day, `YYYY-MM-DD`.
        day: String,
        /// Why the summary could not be decoded.
        #[source]
        source: crate::analysis::summary::SummaryError,
    },
}

/// A fleet operation's result.
pub type Result<T, E = FleetError> = std::result::Result<T, E>;

/// What one cluster's `fleet summarize` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summarized {
    /// Days of the window in the store.
    pub days: u64,
    /// Days whose summary the bucket already held.
    pub already: u64,
    /// Days summarised from their parts (pulled into the mirror) on this run.
    pub built: u64,
    /// Summaries uploaded.
    pub uploaded: u64,
    /// What the run noticed along the way.
    pub notes: Vec<Note>,
}

/// Makes sure every day of the last `window_days` days of the store at `location` has its
/// usage summary in the bucket: days without one are pulled, summarised and uploaded.
pub fn summarize(
    location: &S3Location,
    options: &S3Options,
    window_days: i64,
    progress: &dyn Progress,
) -> Result<Summarized> {
    let remote = RemoteStore::open(location, options)?;
    let days = window_of(remote.list_days(SUMMARY)?, window_days);
    let mut fetched = Fetched::default();
    let held = remote.fetch_summaries(&days, SUMMARY, &mut fetched)?;
    let missing: Vec<&ListedDay> =
        days.iter().zip(&held).filter(|(_, h)| !matches!(h, Derived::Fresh(_))).map(|(d, _)| d).collect();
    let mut done =
        Summarized { days: days.len() as u64, already: (days.len() - missing.len()) as u64, ..Default::default() };
    let (Some(first), Some(last)) = (missing.first(), missing.last()) else { return Ok(done) };
    let (since, until) = (first.day, last.day + DAY_MS);
    remote.pull(DaysWanted::Range { since: Some(since), until: Some(until) })?;
    // The ordinary usage read over the mirror builds and saves each day's summary.
    let all = |_: &crate::domain::SampleRef<'_>| true;
    let window =
        DayScan { since: Some(since), until: Some(until), keep_row: &all, keep_container: &|_| true, rescan: false };
    add_store_usage(remote.local(), &window, &mut UsageBuilder::new(), progress, &mut done.notes)?;
    for day in missing {
        done.built += 1;
        if remote.publish_summary(day, SUMMARY)? {
            done.uploaded += 1;
        } else {
            done.notes.push(Note::Warning(format!(
                "warning: {}: day {}: the mirror's parts differ from the bucket's listing (a part not uploaded yet?); its summary was not uploaded",
                remote.url(),
                day_name(day.day)
            )));
        }
    }
    Ok(done)
}

/// How to size the fleet, resolved.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// `s3://BUCKET/PREFIX`: every `PREFIX/CLUSTER/` holding a store is a cluster.
    pub root: S3Location,
    /// How to reach the bucket (endpoint, region, profile, local mirror).
    pub options: S3Options,
    /// Only these clusters (prefix names); empty: all.
    pub clusters: Vec<String>,
    /// Whole days, up to and including each cluster's newest day.
    pub window_days: i64,
    /// Policies every cluster is sized with.
    pub policy: PolicySet,
    /// The sizing strategy's name; `podsizer` by default.
    pub strategy: String,
    /// Size containers even with less history than the policy asks for.
    pub force: bool,
    /// `DIR/CLUSTER` is that cluster's kustomize overlay (current settings, patches).
    pub overlays: Option<PathBuf>,
    /// The kubectl that renders the overlays.
    pub kubectl: crate::outputs::kustomize::Kubectl,
}

/// One cluster of the fleet, sized.
pub struct ClusterRun {
    /// The prefix name under the fleet's root.
    pub name: String,
    /// The cluster's store, `s3://BUCKET/PREFIX/CLUSTER`.
    pub url: String,
    /// Window start, epoch ms inclusive.
    pub since: i64,
    /// Window end, epoch ms exclusive (the day after the newest summarised day).
    pub until: i64,
    /// Day summaries merged.
    pub days: u64,
    /// Everything fetched from the bucket for this cluster (summaries and side files).
    pub fetched: Fetched,
    /// The cluster's proposed sizes, one per container.
    pub recommendations: Vec<Recommendation>,
    /// The cluster's overlay, when `overlays` holds one.
    pub overlay_dir: Option<PathBuf>,
    /// Current settings read from that overlay (empty without one).
    pub overlay: Overlay,
    /// HorizontalPodAutoscaler patches that follow the new sizes (from the overlay's HPAs).
    pub hpa_patches: Vec<PatchFile>,
    /// Runtime-setting patches (heap, workers, ...) that follow the new sizes.
    pub runtime_patches: Vec<PatchFile>,
    /// What the run noticed along the way.
    pub notes: Vec<Note>,
}

/// Clusters sized at once: the run mostly waits on the bucket (listings, summary downloads),
/// and each cluster in flight holds its usage in memory, so a few, not one per cluster.
const CLUSTERS_IN_FLIGHT: usize = 4;

/// Sizes every cluster of the fleet from its day summaries, a few clusters at a time (memory
/// holds their usage, then only their recommendations). Clusters come back in name order.
pub fn size_fleet(settings: &FleetSettings, progress: &dyn Progress) -> Result<Vec<ClusterRun>> {
    let names = cluster_names(settings)?;
    let next = AtomicUsize::new(0);
    let workers = CLUSTERS_IN_FLIGHT.min(names.len()).max(1);
    let (tx, rx) = mpsc::channel::<(usize, Result<Option<ClusterRun>>)>();
    let mut slots: Vec<Option<Result<Option<ClusterRun>>>> = (0..names.len()).map(|_| None).collect();
    progress.begin(names.len() as u64, "sizing clusters from day summaries");
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (tx, names, next) = (tx.clone(), &names, &next);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { return };
                let result = open_and_size(settings, name);
                let failed = result.is_err();
                if tx.send((i, result)).is_err() || failed {
                    // Stop handing out clusters once one failed.
                    next.store(names.len(), Ordering::Relaxed);
                    return;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            slots[i] = Some(result);
            progress.step(&names[i]);
        }
    });
    progress.end();
    let mut runs = Vec::with_capacity(names.len());
    for result in slots.into_iter().flatten() {
        runs.extend(result?);
    }
    if runs.is_empty() {
        return Err(FleetError::NoClusters { url: settings.root.url() });
    }
    Ok(runs)
}

/// One cluster's store opened and sized; `None` when its prefix holds no store (and the
/// cluster was not asked for by name) or no day.
fn open_and_size(settings: &FleetSettings, name: &str) -> Result<Option<ClusterRun>> {
    let location = S3Location { bucket: settings.root.bucket.clone(), prefix: child(&settings.root.prefix, name) };
    let remote = match RemoteStore::open(&location, &settings.options) {
        Ok(remote) => remote,
        // A prefix that is not a store (another tool's folder) is not a cluster.
        Err(RemoteError::Missing { .. }) if settings.clusters.is_empty() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    size_cluster(settings, name.to_string(), &remote)
}

/// The cluster prefixes under the root (or the ones asked for), sorted.
fn cluster_names(settings: &FleetSettings) -> Result<Vec<String>> {
    if !settings.clusters.is_empty() {
        let mut names = settings.clusters.clone();
        names.sort();
        names.dedup();
        return Ok(names);
    }
    let s3 = S3::connect(&settings.root, &settings.options)?;
    let mut names: Vec<String> = s3
        .list_dirs("")?
        .into_iter()
        // A name is a folder under --overlays and a file name: plain names only.
        .filter(|n| !n.is_empty() && !n.starts_with('.') && !n.contains(['/', '\\']) && !n.starts_with("day="))
        .filter(|n| n != crate::store::remote::WRITERS_DIR)
        .collect();
    names.sort();
    Ok(names)
}

fn size_cluster(settings: &FleetSettings, name: String, remote: &RemoteStore) -> Result<Option<ClusterRun>> {
    let url = remote.url();
    let days = window_of(remote.list_days(SUMMARY)?, settings.window_days);
    let (Some(first), Some(newest)) = (days.first().map(|d| d.day), days.last().map(|d| d.day)) else {
        return Ok(None);
    };
    let (since, until) = (first.max(newest + DAY_MS - settings.window_days * DAY_MS), newest + DAY_MS);
    let mut fetched = Fetched::default();
    let summaries = remote.fetch_summaries(&days, SUMMARY, &mut fetched)?;
    remote.fetch_side_files(&mut fetched)?;
    let mut builder = UsageBuilder::new();
    for (day, saved) in days.iter().zip(summaries) {
        let bytes = match saved {
            Derived::Fresh(bytes) => bytes,
            Derived::Missing => return Err(FleetError::NoSummary { url, day: day_name(day.day) }),
            Derived::Damaged(path) => return Err(FleetError::Damaged { url, path }),
        };
        let usage = summary::decode(&bytes).map_err(|source| FleetError::Summary {
            url: url.clone(),
            day: day_name(day.day),
            source,
        })?;
        usage.into_iter().for_each(|u| builder.absorb(u));
    }
    let usage = builder.finish();
    let mut notes = Vec::new();
    let overlay_dir = settings.overlays.as_ref().map(|d| d.join(&name)).filter(|d| d.is_dir());
    let overlay = current_settings(overlay_dir.as_deref(), &settings.kubectl, None, &mut notes)?;
    let context = SizingContext {
        policy: &settings.policy,
        strategy: &settings.strategy,
        force: settings.force,
        overlay: &overlay.workloads,
        runtimes: &overlay.runtimes,
    };
    let facts = Facts::load(remote.local().root());
    let mut recommendations = size_usage(&usage, &facts, Some(since), until, &context)?;
    drop(usage);
    if let Some(dir) = &overlay_dir {
        let clusters = recommendations.iter().map(|r| r.key.workload.cluster.as_str());
        one_cluster(&format!("the overlay {}", dir.display()), clusters)?;
    }
    let hpa_patches = apply_hpa_advice(&overlay.hpas, &mut recommendations, &mut notes);
    let runtime_patches =
        crate::outputs::runtime_patches::runtime_patches(&overlay.workloads, &overlay.runtimes, &mut recommendations)
            .map_err(EngineError::from)?;
    Ok(Some(ClusterRun {
        name,
        url,
        since,
        until,
        days: days.len() as u64,
        fetched,
        recommendations,
        overlay_dir,
        overlay,
        hpa_patches,
        runtime_patches,
        notes,
    }))
}

/// The days of the last `window_days` whole days up to the newest one.
fn window_of(days: Vec<ListedDay>, window_days: i64) -> Vec<ListedDay> {
    let Some(newest) = days.last().map(|d| d.day) else { return days };
    let first = newest - (window_days - 1) * DAY_MS;
    days.into_iter().filter(|d| d.day >= first).collect()
}

fn child(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

fn day_name(day: i64) -> String {
    format_timestamp(day).get(..10).unwrap_or_default().to_string()
}

//! Which samples a run reads: inputs (sample files and stores), the time window `[since,
//! until)`, namespace/workload/cluster filters and traffic shares; and the usage built from them.

use super::file_inputs::{drop_repeated_rows, open_lone_file, skipped_rows, stream_file, LoneFileRule};
use super::inputs::{FileUsage, Input, Names, RowFilter, WindowRule};
use super::{EngineError, Note, Progress, Result};
use crate::analysis::series::{Series, SeriesBuilder};
use crate::analysis::traffic::TrafficShare;
use crate::analysis::{ContainerUsage, UsageBuilder};
use crate::domain::SampleRef;
use crate::sources::files::read_sample_file;
use crate::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;

/// One input as the caller resolved it: a path (sample file or store folder), or a store it
/// opened itself (an S3 mirror, a Prometheus cache).
#[derive(Debug, Clone)]
pub enum InputSpec {
    /// A sample file (CSV or Parquet) or a store folder: a folder is opened as a store.
    Path(PathBuf),
    /// A store already open.
    Store(Store),
}

/// What to read, resolved: no strings left to parse.
#[derive(Debug, Default, Clone)]
pub struct SelectionSettings {
    /// Where the samples are; the same path given twice is read once.
    pub inputs: Vec<InputSpec>,
    /// First instant of the window, epoch ms (inclusive).
    pub since: Option<i64>,
    /// End of the window, epoch ms (exclusive).
    pub until: Option<i64>,
    /// History ending at `until` or just after the newest sample, when `since` is not given;
    /// `None` with no bounds selects everything.
    pub window_ms: Option<i64>,
    /// Only these namespaces (all when empty).
    pub namespaces: Vec<String>,
    /// Workload name globs.
    pub workloads: Vec<String>,
    /// Only this cluster's rows; rows without a cluster match only when unset.
    pub cluster: Option<String>,
    /// Traffic shares to project to full traffic.
    pub traffic: Vec<TrafficShare>,
    /// Skip bad rows of sample files (reported in the notes) instead of failing.
    pub skip_bad_rows: bool,
    /// Rebuild stores' per-day usage summaries instead of reusing them.
    pub rescan: bool,
}

/// Inputs plus the resolved time window `[since, until)`.
pub struct Selection {
    /// The inputs, opened.
    pub inputs: Vec<Input>,
    /// The window's first instant, epoch ms (inclusive); `None`: from the oldest sample.
    pub since: Option<i64>,
    /// The window's end, epoch ms (exclusive); `None`: through the newest sample.
    pub until: Option<i64>,
    namespaces: Vec<String>,
    workloads: Vec<String>,
    /// Only this cluster's rows, as in [`SelectionSettings::cluster`].
    pub cluster: Option<String>,
    /// The traffic shares in force (a sizing run adds the policy file's and drops those of
    /// workloads an HPA scales).
    pub traffic: Vec<TrafficShare>,
    /// What each traffic projection did, per container, for the rationale.
    projections: HashMap<String, String>,
    rescan: bool,
    /// Notes and warnings from opening the inputs and from the filters.
    pub notes: Vec<Note>,
    /// How the last usage build used each store's day summaries (store root, figures).
    pub day_stats: Vec<(PathBuf, super::DayStats)>,
}

/// Opens the inputs and resolves the window: explicit bounds win; otherwise `window_ms` ending
/// at `until` or just after the newest sample (not "now", so old exports still work).
pub fn select(settings: SelectionSettings) -> Result<Selection> {
    let SelectionSettings {
        inputs,
        since,
        until,
        window_ms,
        namespaces,
        workloads,
        cluster,
        traffic,
        skip_bad_rows,
        rescan,
    } = settings;
    let mut notes = Vec::new();
    let rule = WindowRule { since, until, window_ms };
    // With traffic shares, usage goes through raw series: nothing to build in advance. Without a
    // window (a back-test's whole history) nobody sizes from usage: building it would only hold
    // memory beside the series.
    let lone_file = (traffic.is_empty() && window_ms.is_some()).then_some(LoneFileRule { rule });
    let names = Names { cluster: &cluster, namespaces: &namespaces, workloads: &workloads };
    let inputs = open_inputs(inputs, skip_bad_rows, &names, lone_file.as_ref(), &mut notes)?;
    // The window ends at the newest sample of the selected data, not of all of it: another
    // cluster's newer day must not shorten (or empty) this cluster's history.
    let newest = if rule.needs_newest() { latest(&inputs, &names, rescan, &mut notes)? } else { None };
    let (since, end) = rule.resolve(newest);
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(EngineError::EmptyWindow);
        }
    }
    Ok(Selection {
        inputs,
        since,
        until: end,
        namespaces,
        workloads,
        cluster,
        traffic,
        projections: HashMap::new(),
        rescan,
        notes,
        day_stats: Vec::new(),
    })
}

fn open_inputs(
    specs: Vec<InputSpec>,
    skip_bad_rows: bool,
    names: &Names<'_>,
    lone_file: Option<&LoneFileRule>,
    notes: &mut Vec<Note>,
) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let alone = specs.len() == 1;
    for spec in specs {
        let path = match spec {
            InputSpec::Store(store) => {
                inputs.push(Input::Store(store));
                continue;
            }
            InputSpec::Path(path) => path,
        };
        // The same file or store named twice (`-i X -i X`, or through a link) would count twice.
        if !seen.insert(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone())) {
            notes.push(Note::Warning(format!("note: {} is given more than once; read once", path.display())));
            continue;
        }
        if path.is_dir() {
            inputs.push(Input::Store(Store::open(&path)?));
        } else if path.exists() && alone {
            inputs.push(open_lone_file(path, skip_bad_rows, names, lone_file, notes)?);
        } else if path.exists() {
            let outcome = read_sample_file(&path, skip_bad_rows)?;
            if let Some(first) = outcome.skipped.first() {
                notes.push(skipped_rows(&path, outcome.skipped_count, first));
            }
            inputs.push(Input::Samples { path, samples: outcome.samples });
        } else {
            // The system's reason: a symlink loop or a permission is not "no such file".
            let reason =
                std::fs::metadata(&path).err().map_or_else(|| "not a file or directory".into(), |e| e.to_string());
            return Err(EngineError::Input { path, reason });
        }
    }
    drop_repeated_rows(&mut inputs, notes)?;
    Ok(inputs)
}

/// The newest sample the name filters select, over every input.
fn latest(inputs: &[Input], names: &Names<'_>, rescan: bool, notes: &mut Vec<Note>) -> Result<Option<i64>> {
    let mut latest: Option<i64> = None;
    for input in inputs {
        let t = match input {
            // Unfiltered, the newest partition's time column answers.
            Input::Store(s) if names.all() => s.latest_timestamp()?,
            Input::Store(s) => super::day_usage::newest_selected(s, &|k| names.keep_key(k), rescan, notes)?,
            Input::Samples { samples, .. } => {
                samples.iter().filter(|s| names.keep(&SampleRef::from_sample(s))).map(|s| s.timestamp_ms).max()
            }
            Input::File { newest, .. } => *newest,
        };
        latest = latest.max(t);
    }
    Ok(latest)
}

impl Selection {
    fn names(&self) -> Names<'_> {
        Names { cluster: &self.cluster, namespaces: &self.namespaces, workloads: &self.workloads }
    }

    fn filter(&self) -> RowFilter<'_> {
        RowFilter { since: self.since, until: self.until, names: self.names() }
    }

    fn keep(&self, row: &SampleRef<'_>) -> bool {
        self.filter().keep(row)
    }

    /// The usage a lone file's check built, if it was built for this window and cluster.
    fn take_file_usage(&mut self) -> Option<FileUsage> {
        let [Input::File { usage, .. }] = self.inputs.as_mut_slice() else { return None };
        usage.take().filter(|u| (u.since, u.until, &u.cluster) == (self.since, self.until, &self.cluster))
    }

    /// Streams every selected row to `visit`; returns how many rows were seen.
    pub fn for_each(&self, mut visit: impl FnMut(&SampleRef<'_>)) -> Result<u64> {
        let mut rows = 0;
        for input in &self.inputs {
            match input {
                Input::Store(store) => {
                    store.scan(self.since, self.until, |r| {
                        if self.keep(r) {
                            rows += 1;
                            visit(r);
                        }
                    })?;
                }
                Input::Samples { samples, .. } => {
                    for s in samples {
                        let r = SampleRef::from_sample(s);
                        if self.keep(&r) {
                            rows += 1;
                            visit(&r);
                        }
                    }
                }
                Input::File { path, skip_bad_rows, dedup, .. } => {
                    stream_file(path, *skip_bad_rows, *dedup, &mut |r| {
                        if self.keep(r) {
                            rows += 1;
                            visit(r);
                        }
                    })?;
                }
            }
        }
        Ok(rows)
    }

    /// Raw series per container (for back-tests), in container order.
    pub fn series(&self) -> Result<Vec<Series>> {
        let mut builder = SeriesBuilder::default();
        let rows = self.for_each(|r| builder.observe(r))?;
        if rows == 0 {
            return Err(EngineError::NoSamples(String::new()));
        }
        let mut series = builder.finish();
        for s in &mut series {
            if let Some(share) = self.traffic.iter().find(|t| t.workload == s.key.workload.name) {
                crate::analysis::traffic::project(s, share);
            }
        }
        Ok(series)
    }

    /// Current settings and OOM kills recorded beside the stores of this selection.
    pub fn facts(&self) -> crate::store::facts::Facts {
        let mut facts = crate::store::facts::Facts::default();
        for input in &self.inputs {
            if let Input::Store(store) = input {
                let more = crate::store::facts::Facts::load(store.root());
                facts.current.extend(more.current);
                for (k, v) in more.oom_kills {
                    facts.oom_kills.entry(k).or_default().extend(v);
                }
                facts.php_fpm.extend(more.php_fpm);
                facts.rejected.extend(more.rejected);
            }
        }
        facts
    }

    /// Adds traffic shares from the policy file for workloads without a `--traffic-share` flag.
    pub fn add_policy_traffic(&mut self, shares: &[TrafficShare]) {
        for share in shares {
            if !self.traffic.iter().any(|t| t.workload == share.workload) {
                self.traffic.push(share.clone());
            }
        }
    }

    /// Drops the traffic share of workloads an HPA scales: their replica count, not per-pod
    /// usage, followed the traffic.
    pub fn skip_traffic_for(&mut self, workload: &str, hpa: &str) {
        if let Some(i) = self.traffic.iter().position(|t| t.workload == workload) {
            let share = self.traffic.remove(i);
            self.notes.push(Note::Note(format!(
                "note: --traffic-share {workload}: ignored, HPA `{hpa}` scales its replicas with traffic (measured at {})",
                share.describe()
            )));
        }
    }

    /// Usage per container over the selection. Stores are read through their per-day usage
    /// summaries; with a traffic share, rows go through raw series to be projected.
    pub fn usage(&mut self, progress: &dyn Progress) -> Result<Vec<ContainerUsage>> {
        if !self.traffic.is_empty() {
            return self.usage_projected();
        }
        if let Some(built) = self.take_file_usage() {
            if built.rows == 0 {
                return Err(EngineError::NoSamples(self.nothing_selected()));
            }
            return Ok(built.builder.finish());
        }
        let mut builder = UsageBuilder::new();
        let mut rows = 0;
        let (since, until, namespaces, workloads) = (self.since, self.until, &self.namespaces, &self.workloads);
        let cluster = &self.cluster;
        let names = Names { cluster, namespaces, workloads };
        let filter = RowFilter { since, until, names };
        let keep_row = |r: &SampleRef<'_>| filter.keep(r);
        let keep_container = |k: &crate::domain::ContainerKey| names.keep_key(k);
        let window = super::day_usage::DayScan {
            since,
            until,
            keep_row: &keep_row,
            keep_container: &keep_container,
            rescan: self.rescan,
        };
        for input in &self.inputs {
            match input {
                Input::Store(store) => {
                    let (store_rows, stats) =
                        super::day_usage::add_store_usage(store, &window, &mut builder, progress, &mut self.notes)?;
                    rows += store_rows;
                    self.day_stats.push((store.root().to_path_buf(), stats));
                }
                Input::Samples { samples, .. } => {
                    for r in samples.iter().map(SampleRef::from_sample).filter(|r| self.keep(r)) {
                        builder.observe(&r);
                        rows += 1;
                    }
                }
                Input::File { path, skip_bad_rows, dedup, .. } => {
                    stream_file(path, *skip_bad_rows, *dedup, &mut |r| {
                        if self.keep(r) {
                            builder.observe(r);
                            rows += 1;
                        }
                    })?;
                }
            }
        }
        if rows == 0 {
            return Err(EngineError::NoSamples(self.nothing_selected()));
        }
        Ok(builder.finish())
    }

    /// What the traffic projection did to this container's usage, for its rationale.
    pub fn projection(&self, key: &crate::domain::ContainerKey) -> Option<&String> {
        self.projections.get(&key.to_string())
    }

    fn nothing_selected(&self) -> String {
        format!(
            " (window {} to {}, namespaces {:?}, workloads {:?}{})",
            self.since.map_or("-".into(), crate::domain::format_timestamp),
            self.until.map_or("-".into(), crate::domain::format_timestamp),
            self.namespaces,
            self.workloads,
            self.cluster.as_deref().map_or(String::new(), |c| format!(", cluster {c:?}"))
        )
    }

    /// Usage with traffic shares projected to full traffic (rows of projected workloads go
    /// through their raw series first).
    fn usage_projected(&mut self) -> Result<Vec<ContainerUsage>> {
        let mut builder = UsageBuilder::new();
        let mut shared = SeriesBuilder::default();
        let share_of = |workload: &str| self.traffic.iter().find(|t| t.workload == workload);
        let rows = self.for_each(|r| match share_of(r.workload) {
            Some(_) => shared.observe(r),
            None => builder.observe(r),
        })?;
        let mut usage = builder.finish();
        for mut series in shared.finish() {
            let share = share_of(&series.key.workload.name).expect("only shared workloads collected");
            let baseline = crate::analysis::traffic::project(&mut series, share);
            self.projections.entry(series.key.to_string()).or_insert_with(|| {
                format!(
                    "traffic share: measured at {}; projected to 100%: CPU / share, memory above its {} baseline / share",
                    share.describe(),
                    crate::domain::human_bytes(baseline)
                )
            });
            usage.push(series.usage(i64::MIN, i64::MAX));
        }
        usage.sort_by(|a, b| a.key.cmp(&b.key));
        if rows == 0 {
            return Err(EngineError::NoSamples(self.nothing_selected()));
        }
        Ok(usage)
    }

    /// Each input's name (a store's root folder or a file's path), in the order given.
    pub fn source_names(&self) -> Vec<String> {
        self.inputs
            .iter()
            .map(|i| match i {
                Input::Store(s) => s.root().display().to_string(),
                Input::Samples { path, .. } | Input::File { path, .. } => path.display().to_string(),
            })
            .collect()
    }
}

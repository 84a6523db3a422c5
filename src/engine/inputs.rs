//! What a selection works on once its inputs are open: the opened inputs, how the window
//! follows from the settings, and which rows the name and time filters keep. Shared by the
//! selection and the sample-file reads (`file_inputs`).

use crate::analysis::UsageBuilder;
use crate::domain::{Sample, SampleRef};
use crate::store::Store;
use std::path::PathBuf;

/// One opened input.
pub enum Input {
    Store(Store),
    Samples {
        path: PathBuf,
        samples: Vec<Sample>,
    },
    /// A sample file that is a run's only input: read again on each pass, a row group at a time
    /// (no other input to de-duplicate it against), so memory stays flat whatever its size;
    /// its usage is usually built by the first pass (see `file_inputs::open_lone_file`).
    File {
        path: PathBuf,
        skip_bad_rows: bool,
        /// The newest sample the name filters select.
        newest: Option<i64>,
        /// Usage built during the check, when its window could be known in advance.
        usage: Option<FileUsage>,
        /// The file's series are not in time order, so it may repeat a measurement: every read
        /// goes through the set of its measurements.
        dedup: bool,
    },
}

/// How `[since, until)` follows from the settings and, for an open window, the newest sample.
#[derive(Clone, Copy)]
pub(super) struct WindowRule {
    pub(super) since: Option<i64>,
    pub(super) until: Option<i64>,
    pub(super) window_ms: Option<i64>,
}

impl WindowRule {
    pub(super) fn needs_newest(self) -> bool {
        self.since.is_none() && self.until.is_none() && self.window_ms.is_some()
    }

    /// Explicit bounds win; otherwise `window_ms` ending at `until` or just after `newest`.
    pub(super) fn resolve(self, newest: Option<i64>) -> (Option<i64>, Option<i64>) {
        let (mut since, mut end) = (self.since, self.until);
        if let (None, Some(window)) = (since, self.window_ms) {
            if end.is_none() {
                end = newest.map(|t| t + 1);
            }
            since = end.map(|e| e - window);
        }
        (since, end)
    }
}

/// The name filters of a selection: cluster, namespaces, workload globs.
#[derive(Clone, Copy)]
pub(super) struct Names<'a> {
    pub(super) cluster: &'a Option<String>,
    pub(super) namespaces: &'a [String],
    pub(super) workloads: &'a [String],
}

impl Names<'_> {
    pub(super) fn keep(&self, row: &SampleRef<'_>) -> bool {
        keep_cluster(self.cluster, row.cluster)
            && keep_workload(self.namespaces, self.workloads, row.namespace, row.workload)
    }

    pub(super) fn keep_key(&self, key: &crate::domain::ContainerKey) -> bool {
        let w = &key.workload;
        keep_cluster(self.cluster, &w.cluster) && keep_workload(self.namespaces, self.workloads, &w.namespace, &w.name)
    }

    /// Whether the filters select every row.
    pub(super) fn all(&self) -> bool {
        self.cluster.is_none() && self.namespaces.is_empty() && self.workloads.is_empty()
    }
}

/// Which rows a selection keeps: the window and the name filters.
pub(super) struct RowFilter<'a> {
    pub(super) since: Option<i64>,
    pub(super) until: Option<i64>,
    pub(super) names: Names<'a>,
}

impl RowFilter<'_> {
    pub(super) fn keep(&self, row: &SampleRef<'_>) -> bool {
        self.since.is_none_or(|s| row.timestamp_ms >= s)
            && self.until.is_none_or(|u| row.timestamp_ms < u)
            && self.names.keep(row)
    }
}

/// Usage of a lone sample file built during the read that checks it, so `Selection::usage`
/// need not read the file again: valid for the window and cluster it was built for.
pub struct FileUsage {
    pub(super) since: Option<i64>,
    pub(super) until: Option<i64>,
    pub(super) cluster: Option<String>,
    pub(super) builder: UsageBuilder,
    pub(super) rows: u64,
}

fn keep_cluster(wanted: &Option<String>, cluster: &str) -> bool {
    wanted.as_deref().is_none_or(|c| c == cluster)
}

fn keep_workload(namespaces: &[String], workloads: &[String], namespace: &str, workload: &str) -> bool {
    (namespaces.is_empty() || namespaces.iter().any(|n| n == namespace))
        && (workloads.is_empty() || workloads.iter().any(|w| crate::analysis::policy::glob(w, workload)))
}

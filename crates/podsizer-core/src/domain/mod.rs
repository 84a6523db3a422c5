//! Units and identities shared by every layer: who a sample belongs to, what it measured,
//! and how quantities and durations are written.

pub mod bounds;
mod duration;
mod node;
mod quantity;
mod rows;

pub use duration::{format_timestamp, parse_duration, parse_timestamp, DurationError, DAY_MS, HOUR_MS};
pub use node::{NodeShape, NodeShapeError, DEFAULT_MAX_PODS};
pub use quantity::{human_bytes, parse_quantity, Cpu, Memory, QuantityError};
pub use rows::{Row, SampleRows, SeriesNames};

use serde::{Deserialize, Serialize};
use std::fmt;

/// The object that owns pods and whose pod template carries `resources`:
/// a Deployment, StatefulSet, DaemonSet, Job, CronJob, or a bare Pod.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Workload {
    /// The cluster the workload runs in; empty when the samples did not say (stores written
    /// before clusters were recorded, single-cluster imports). First, so sorting groups by it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    /// The namespace the workload lives in.
    pub namespace: String,
    /// The owner's kind as the API spells it (`Deployment`; see [`canonical_kind`]).
    pub kind: String,
    /// The owner's name (`api`), not a pod's.
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.cluster.is_empty() {
            write!(f, "{}:", self.cluster)?;
        }
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

/// One container of a workload: the unit a recommendation is made for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerKey {
    /// The workload whose pod template holds the container.
    pub workload: Workload,
    /// The container's name in the pod template.
    pub container: String,
}

#[cfg(test)]
impl ContainerKey {
    /// A Deployment's container in the default cluster: the key most unit tests need.
    pub(crate) fn deployment(namespace: &str, name: &str, container: &str) -> Self {
        Self {
            workload: Workload {
                namespace: namespace.into(),
                kind: "Deployment".into(),
                name: name.into(),
                ..Default::default()
            },
            container: container.into(),
        }
    }
}

impl fmt::Display for ContainerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.workload, self.container)
    }
}

/// The kinds podsizer writes patches for, in the spelling the API uses.
pub const WORKLOAD_KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"];

/// Canonical spelling of a workload kind (`deployment` -> `Deployment`); unknown kinds keep
/// their text so owners such as Argo Rollouts still group correctly.
pub fn canonical_kind(kind: &str) -> String {
    WORKLOAD_KINDS.iter().find(|k| k.eq_ignore_ascii_case(kind)).map_or_else(|| kind.to_string(), |k| (*k).to_string())
}

/// One measurement of one container at one instant (the store's row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    /// Empty: no cluster recorded.
    pub cluster: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The owning workload's kind (`Deployment`), see [`Workload::kind`].
    pub workload_kind: String,
    /// The owning workload's name.
    pub workload: String,
    /// The pod the container ran in: pods of one workload are pooled when sizing.
    pub pod: String,
    /// The container's name.
    pub container: String,
    /// CPU usage in cores (0.25 = 250m), averaged over the source's sampling interval; checked
    /// against [`bounds::MAX_CORES`] where read.
    pub cpu_cores: f64,
    /// Memory usage in bytes (the working set, what the OOM killer compares with the limit);
    /// checked against [`bounds::MAX_MEMORY_BYTES`] where read.
    pub memory_bytes: f64,
}

/// Who measured: cluster, namespace, kind, workload, pod and container joined by NUL (which no
/// Kubernetes name holds). Two rows with the same identity and time are one measurement.
pub fn series_identity(names: [&str; 6]) -> String {
    names.join("\0")
}

/// FNV-1a: a hash that stays the same across Rust versions and runs, for file and state names.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl Sample {
    /// See [`series_identity`].
    pub fn series_identity(&self) -> String {
        series_identity([
            &self.cluster,
            &self.namespace,
            &self.workload_kind,
            &self.workload,
            &self.pod,
            &self.container,
        ])
    }

    /// The container this row measured (its pod dropped: sizing pools a workload's pods).
    pub fn container_key(&self) -> ContainerKey {
        ContainerKey {
            workload: Workload {
                cluster: self.cluster.clone(),
                namespace: self.namespace.clone(),
                kind: self.workload_kind.clone(),
                name: self.workload.clone(),
            },
            container: self.container.clone(),
        }
    }

    /// Orders rows as the store keeps them: by container, then pod, then time, so a reader
    /// sees each container's rows together.
    pub fn store_order(&self, other: &Self) -> std::cmp::Ordering {
        (
            &self.cluster,
            &self.namespace,
            &self.workload_kind,
            &self.workload,
            &self.container,
            &self.pod,
            self.timestamp_ms,
        )
            .cmp(&(
                &other.cluster,
                &other.namespace,
                &other.workload_kind,
                &other.workload,
                &other.container,
                &other.pod,
                other.timestamp_ms,
            ))
    }
}

/// Requests and limits as set on a container; `None` means not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// `resources.requests.cpu` in cores.
    pub cpu_request_cores: Option<f64>,
    /// `resources.limits.cpu` in cores.
    pub cpu_limit_cores: Option<f64>,
    /// `resources.requests.memory` in bytes.
    pub memory_request_bytes: Option<f64>,
    /// `resources.limits.memory` in bytes.
    pub memory_limit_bytes: Option<f64>,
}

impl Resources {
    /// True when none of the four is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A borrowed row, valid for the duration of the visitor call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleRef<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    /// Empty: no cluster recorded (parts written before clusters were, or without one).
    pub cluster: &'a str,
    /// As [`Sample::namespace`].
    pub namespace: &'a str,
    /// As [`Sample::workload_kind`].
    pub workload_kind: &'a str,
    /// As [`Sample::workload`].
    pub workload: &'a str,
    /// As [`Sample::pod`].
    pub pod: &'a str,
    /// As [`Sample::container`].
    pub container: &'a str,
    /// CPU usage in cores, as [`Sample::cpu_cores`].
    pub cpu_cores: f64,
    /// Memory usage (working set) in bytes, as [`Sample::memory_bytes`].
    pub memory_bytes: f64,
    /// Names one run of rows of the same pod's container: rows with equal non-zero ids have
    /// equal names, so consumers may skip comparing them. 0: unknown, compare the names.
    pub series: u64,
}

impl SampleRef<'_> {
    /// See [`series_identity`].
    pub fn series_identity(&self) -> String {
        series_identity([self.cluster, self.namespace, self.workload_kind, self.workload, self.pod, self.container])
    }
}

impl SampleRef<'_> {
    /// Borrows an owned row; `series` is 0 (unknown), so consumers compare its names.
    pub fn from_sample(s: &Sample) -> SampleRef<'_> {
        SampleRef {
            timestamp_ms: s.timestamp_ms,
            cluster: &s.cluster,
            namespace: &s.namespace,
            workload_kind: &s.workload_kind,
            workload: &s.workload,
            pod: &s.pod,
            container: &s.container,
            cpu_cores: s.cpu_cores,
            memory_bytes: s.memory_bytes,
            series: 0,
        }
    }
}

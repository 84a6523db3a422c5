//! Outcome signals: what happened to containers besides their usage, as any source hands
//! them to its sink (`SampleSink::record_outcomes`) to be kept beside the samples.
//!
//! Signals are read per hour bucket `(hour_ms - 1h, hour_ms]` (`BUCKET_MS`): restarts and
//! OOM kills, CFS throttling, evictions, and the requests and limits each pod ran with. A
//! source says per signal which buckets it had data for (`Known`): a bucket without data is
//! unknown, never zero, so a cluster without kube-state-metrics or without CPU limits (no
//! CFS periods) does not read as "no restarts" or "never throttled".

use crate::domain::Resources;
use serde::{Deserialize, Serialize};

/// Width of one outcome bucket.
pub const BUCKET_MS: i64 = 3_600_000;

/// Hours `[from_ms, to_ms]` (both bucket ends, both included) during which a signal had data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Span {
    /// Whether the span shares a bucket with `[from_ms, to_ms]`.
    pub fn overlaps(&self, from_ms: i64, to_ms: i64) -> bool {
        self.from_ms <= to_ms && from_ms <= self.to_ms
    }
}

/// Per signal, the buckets the source had data for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    pub restarts: Vec<Span>,
    pub throttling: Vec<Span>,
    pub evictions: Vec<Span>,
    pub settings: Vec<Span>,
}

/// Restarts of one pod's container in one bucket (only buckets with restarts are kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restarts {
    pub pod: String,
    pub hour_ms: i64,
    pub restarts: f64,
    /// Those of the restarts whose termination reason was `OOMKilled`.
    pub oom_kills: f64,
}

/// A pod evicted: the first bucket in which it was seen evicted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eviction {
    pub pod: String,
    pub hour_ms: i64,
}

/// CFS periods of one bucket, summed over the pods that ran with the same `resources`
/// (`None`: settings unknown for them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throttling {
    pub hour_ms: i64,
    pub resources: Option<Resources>,
    pub throttled_periods: f64,
    pub periods: f64,
}

/// A pod's requests and limits over consecutive buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodSettings {
    pub pod: String,
    pub resources: Resources,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Everything a source read about one workload container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerOutcomes {
    pub namespace: String,
    pub workload_kind: String,
    pub workload: String,
    pub container: String,
    #[serde(default)]
    pub settings: Vec<PodSettings>,
    #[serde(default)]
    pub restarts: Vec<Restarts>,
    #[serde(default)]
    pub evictions: Vec<Eviction>,
    #[serde(default)]
    pub throttling: Vec<Throttling>,
    #[serde(default)]
    pub known: Known,
}

/// What one run of a source read: buckets `[from_ms, to_ms]` of every container it saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutcomeBatch {
    /// The cluster the containers belong to (empty: none recorded).
    pub cluster: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub containers: Vec<ContainerOutcomes>,
}

/// What recording a batch did, for the import's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomesRecorded {
    /// Workload containers with any outcome signal in the store.
    pub containers: usize,
    /// Buckets read in this run (0: nothing new).
    pub hours: i64,
}

/// Buckets of `spans` joined where they touch or overlap (sorted, merged).
pub(crate) fn merge_spans(spans: &mut Vec<Span>) {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans.drain(..) {
        match out.last_mut() {
            Some(last) if s.from_ms <= last.to_ms + BUCKET_MS => last.to_ms = last.to_ms.max(s.to_ms),
            _ => out.push(s),
        }
    }
    *spans = out;
}

/// Spans of a sorted list of bucket ends.
pub(crate) fn spans_of(hours: impl IntoIterator<Item = i64>) -> Vec<Span> {
    let mut spans: Vec<Span> = hours.into_iter().map(|h| Span { from_ms: h, to_ms: h }).collect();
    merge_spans(&mut spans);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_join_touching_buckets_only() {
        let h = BUCKET_MS;
        assert_eq!(
            spans_of([3 * h, h, 2 * h, 5 * h]),
            vec![Span { from_ms: h, to_ms: 3 * h }, Span { from_ms: 5 * h, to_ms: 5 * h }]
        );
        assert!(Span { from_ms: h, to_ms: 3 * h }.overlaps(3 * h, 9 * h));
        assert!(!Span { from_ms: h, to_ms: 3 * h }.overlaps(4 * h, 9 * h));
    }
}

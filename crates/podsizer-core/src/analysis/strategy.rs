//! The one trait every way of sizing implements (podsizer's default, VPA's, krr's ...),
//! and what it is given.

use super::policy::Policy;
use super::sizing::Sizing;
use super::usage::ContainerUsage;
use crate::domain::Resources;

/// What every strategy gets: the usage, the resolved policy, what is set today, and the
/// instant the window ends (ages and decay are measured from it).
pub struct SizingInput<'a> {
    pub usage: &'a ContainerUsage,
    pub policy: &'a Policy,
    pub current: Option<&'a Resources>,
    pub window_end_ms: i64,
    /// Containers in this workload's pods (VPA splits its per-pod floors among them).
    pub containers_in_pod: usize,
    /// The highest memory limit at which the container was OOM-killed in the window.
    pub oom_limit_bytes: Option<f64>,
}

/// A way of turning usage into sizes (the default policy, VPA's, krr's ...).
pub trait Strategy: Send + Sync {
    fn name(&self) -> &'static str;
    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>);
}

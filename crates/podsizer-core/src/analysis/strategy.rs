//! The one trait every way of sizing implements (podsizer's default, VPA's, krr's ...),
//! and what it is given.

use super::policy::Policy;
use super::sizing::Sizing;
use super::usage::ContainerUsage;
use crate::domain::Resources;

/// What every strategy gets: the usage, the resolved policy, what is set today, and the
/// instant the window ends (ages and decay are measured from it).
pub struct SizingInput<'a> {
    /// The container's usage history.
    pub usage: &'a ContainerUsage,
    /// The policy resolved for this container (defaults and matching overrides).
    pub policy: &'a Policy,
    /// Requests and limits set today, when known (VPA keeps today's limit:request ratio).
    pub current: Option<&'a Resources>,
    /// The end of the sizing window, in epoch ms.
    pub window_end_ms: i64,
    /// Containers in this workload's pods (VPA splits its per-pod floors among them).
    pub containers_in_pod: usize,
    /// The highest memory limit at which the container was OOM-killed in the window.
    pub oom_limit_bytes: Option<f64>,
}

/// A way of turning usage into sizes (the default policy, VPA's, krr's ...).
pub trait Strategy: Send + Sync {
    /// The name `--strategy` and the reports use (`podsizer`, `vpa`, `krr`, ...).
    fn name(&self) -> &'static str;
    /// The figures for one container, with one sentence per decision for the rationale.
    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>);
}

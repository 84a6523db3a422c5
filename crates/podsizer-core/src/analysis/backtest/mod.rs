//! Back-test: size each container from a training window, then replay the following
//! holdout window against the proposal and count what it would have cost and risked.
//!
//! Definitions (per container, summed the same way for totals):
//! - CPU slack = sum over holdout samples of max(request - usage, 0) / sum of request;
//!   memory slack the same with the working set.
//! - over request / over limit = share of samples whose CPU usage is above the CPU request /
//!   limit (no limit: never over). Over the limit means throttling.
//! - eviction exposure = share of samples whose working set is above the memory request:
//!   under node memory pressure the kubelet evicts such pods first.
//! - OOM kills = times a pod's working set crosses from at-or-below the memory limit to above
//!   it (a crossing, not every sample above; a pod's first sample above also counts).
//! - cost = sum over samples of (CPU request x $/core-hour + memory request in GiB x
//!   $/GiB-hour) x the container's sampling interval in hours: what was reserved.
//!
//! - hindsight bounds = the cost with podsizer's CPU requests and memory requests chosen from
//!   the holdout itself (per container at 5% exposure, or with the mean exposure at 5%).
//!
//! `replay` holds the figures of one settings-over-holdout replay; `run` cuts history into
//! folds and replays every strategy's proposal, per container and per node shape; `bound`
//! computes the hindsight bounds.

mod bound;
mod replay;
mod run;
mod startup;
pub mod verdicts;

pub use bound::{mean_bound_cost, BoundUnit, BOUND_EXPOSURE};
pub use replay::{current_sizing, replay, Outcome};
pub use run::{run, BacktestResult, BacktestSetup, Bounds, ContainerResult, Fold, FoldLayout, NodeResult};
pub use startup::{StartupThrottle, BOOSTED};

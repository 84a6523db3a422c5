//! podsizer's core: the pure sizing logic behind `podsizer`. It turns usage samples (CPU in
//! cores, memory working set in bytes, instants in epoch milliseconds) into proposed
//! Kubernetes requests and limits, each figure with the sentence that explains it.
//!
//! There is no I/O here: no files, no network, no clock except where a bound needs "now".
//! Callers feed rows in and get values out. The crate depends on serde, toml, chrono and
//! thiserror only, so a change to a percentile rebuilds and tests in seconds
//! (`cargo test -p podsizer-core`). The `podsizer` crate re-exports both modules as
//! `podsizer::domain` and `podsizer::analysis` and adds what reads and writes: the sources,
//! the store, the outputs, the engine and the CLI.
//!
//! # Modules, in the order data flows through them
//!
//! - [`domain`]: units and identities every layer shares. A [`domain::Sample`] (one
//!   measurement of one container in one pod) or its borrowed form [`domain::SampleRef`], the
//!   [`domain::ContainerKey`] a proposal is made for, [`domain::Resources`] as set today,
//!   quantities ([`domain::Cpu`], [`domain::Memory`], [`domain::parse_quantity`]), durations
//!   and the physical [`domain::bounds`] every figure is checked against.
//! - [`analysis`], each module using only those before it:
//!   - [`analysis::histogram`], [`analysis::trend`]: weighted histograms, daily growth;
//!   - [`analysis::usage`], [`analysis::summary`]: a container's usage per day
//!     ([`analysis::ContainerUsage`], built by [`analysis::UsageBuilder`]) and its saved form;
//!   - [`analysis::series`]: a container's raw points, for what needs samples, not summaries;
//!   - [`analysis::sizing`]: what a proposal is ([`analysis::Sizing`], [`analysis::Proposal`]);
//!   - [`analysis::traffic`], [`analysis::policy`]: traffic shares; the policy and its overrides;
//!   - [`analysis::strategy`]: the [`analysis::Strategy`] trait and its [`analysis::SizingInput`];
//!   - [`analysis::strategies`]: podsizer's default and the peers (VPA, krr, plain 2x);
//!   - [`analysis::runtimes`]: settings of runtimes that size themselves (php-fpm, envoy, nginx,
//!     the JVM, Go, Node.js, gunicorn/uvicorn) judged with a sizing;
//!   - [`analysis::recommend`](mod@analysis::recommend): history gate, strategy and caps, giving a
//!     [`analysis::Recommendation`] with its rationale;
//!   - [`analysis::changes`], [`analysis::hpa`]: what counts as a change; HPA targets kept in step;
//!   - [`analysis::nodes`], [`analysis::backtest`]: node packing; replaying settings over held-out
//!     history;
//!   - [`analysis::evidence`], [`analysis::verdict`]: a change's proposal replayed beside today's
//!     settings before it merges; what its rollout did, after;
//!   - [`analysis::timeline`]: time profiles for the report.
//!
//! # Where to add ...
//!
//! - **A strategy**: a type implementing [`analysis::Strategy`] in a new file under
//!   `src/analysis/strategies/`, named in [`analysis::strategy_by_name`] and
//!   [`analysis::STRATEGY_NAMES`]; the back-test and the command line pick it up from there.
//! - **A runtime advisor** (a process that sizes itself from its own settings, like php-fpm's
//!   `pm.max_children`): a module under `src/analysis/runtimes/` whose `advise` judges the
//!   settings against a [`analysis::Sizing`], a variant of
//!   [`analysis::runtimes::RuntimeSettings`] and its arm in [`analysis::runtimes::advise`]. How
//!   its process is recognised lives in [`analysis::runtimes::process`]; reading its settings
//!   from an overlay and writing its patch are the `podsizer` crate's (`outputs`).
//!
//! # Example
//!
//! Two days of one pod of `shop/Deployment/api`, sampled every 5 minutes: 0.2 cores and
//! 300 MiB through the night, 0.5 cores and 400 MiB from 08:00 to 16:00 UTC. Sized with the
//! default policy and strategy:
//!
//! ```
//! use podsizer_core::analysis::{recommend, PodsizerStrategy, Policy, SizingInput, UsageBuilder};
//! use podsizer_core::domain::{Cpu, Memory, Sample, SampleRef, DAY_MS, HOUR_MS};
//!
//! const MIB: f64 = 1024.0 * 1024.0;
//! let start = 1_795_046_400_000; // 2026-11-19T00:00:00Z, in epoch milliseconds
//! let mut builder = UsageBuilder::new();
//! for ts in (start..start + 2 * DAY_MS).step_by(5 * 60_000) {
//!     let busy = (8..16).contains(&(ts % DAY_MS / HOUR_MS));
//!     let sample = Sample {
//!         timestamp_ms: ts,
//!         namespace: "shop".into(),
//!         workload_kind: "Deployment".into(),
//!         workload: "api".into(),
//!         pod: "api-7d4b9c-x2x7q".into(),
//!         container: "php-fpm".into(),
//!         cpu_cores: if busy { 0.5 } else { 0.2 },
//!         memory_bytes: if busy { 400.0 * MIB } else { 300.0 * MIB },
//!         ..Default::default()
//!     };
//!     builder.observe(&SampleRef::from_sample(&sample));
//! }
//! let usage = builder.finish(); // one ContainerUsage per container: here one
//!
//! let policy = Policy::default();
//! let input = SizingInput {
//!     usage: &usage[0],
//!     policy: &policy,
//!     current: None,
//!     window_end_ms: start + 2 * DAY_MS,
//!     containers_in_pod: 1,
//!     oom_limit_bytes: None,
//! };
//! let rec = recommend(&PodsizerStrategy, &input, &[]);
//! let s = rec.sizing().expect("two days and 576 samples pass the history gate (24 h, 100 samples)");
//! assert_eq!(rec.key.to_string(), "shop/Deployment/api/php-fpm");
//!
//! // CPU request: typical load (the p50, 200.7m as the histogram sees it), rounded up to 5m.
//! assert_eq!(Cpu(s.cpu_request_cores).to_string(), "205m");
//! // CPU limit: at least the busy hours' 0.5 cores x 1.1, so the peaks are not throttled.
//! assert!(s.cpu_limit_cores.unwrap() >= 0.55);
//! // Memory request: the daily peak (400 MiB) x 1.1, what the pod holds through busy hours.
//! assert_eq!(Memory(s.memory_request_bytes).to_string(), "440Mi");
//! // Memory limit: at least twice the highest working set, so a peak does not OOM-kill.
//! assert!(s.memory_limit_bytes >= 2.0 * 400.0 * MIB);
//! // Every figure comes with the sentence that explains it.
//! assert!(rec.rationale.iter().any(|line| line.starts_with("memory request: p60 of daily per-pod peaks")));
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod domain;

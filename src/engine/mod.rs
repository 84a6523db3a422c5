//! The sizing engine: the work `recommend`, `report`, `pr` and `backtest` share, as library
//! calls that take plain, resolved settings (no command-line types) and return values.
//!
//! - [`selection`]: which samples a run reads (files and stores, a window, filters, traffic
//!   shares) and the usage built from them, through the stores' per-day summaries ([`day_usage`]).
//! - [`current`]: current settings from a kustomize overlay or a live cluster, and drift.
//! - [`sizing`]: one sizing run: usage -> a `Recommendation` per container, with the overlay's
//!   current values, HPA advice, runtime (php-fpm, envoy, nginx) advice and their patches.
//! - [`suite`]: back-test runs on a selection and the back-test suite.
//! - [`pull_request`]: the bot's run: size an overlay of a GitOps checkout, commit, push and
//!   open or update the pull request.
//!
//! The engine never prints. What a person should read comes back as [`Note`]s in the results;
//! long work reports through a [`Progress`] the caller supplies (the CLI draws bars with it).
//!
//! Sizing a store (or, here, the demo's sample file) from library code:
//!
//! ```
//! use podsizer::engine::selection::{InputSpec, SelectionSettings};
//! use podsizer::engine::sizing::{size_all, SizingSettings};
//! use podsizer::engine::Silent;
//!
//! let samples = SelectionSettings {
//!     inputs: vec![InputSpec::Path("fixtures/demo/samples.parquet".into())],
//!     window_ms: Some(14 * podsizer::domain::DAY_MS),
//!     ..Default::default()
//! };
//! let run = size_all(samples, &SizingSettings::default(), &Silent)?;
//! let php = run.recommendations.iter().find(|r| r.key.container == "php-fpm").unwrap();
//! let sizing = php.sizing().expect("a week of history is enough");
//! assert!(sizing.cpu_limit_cores.unwrap() >= 2.0 * sizing.cpu_request_cores);
//! # Ok::<(), podsizer::engine::EngineError>(())
//! ```

pub mod current;
mod day_usage;
pub mod evidence;
mod file_inputs;
mod inputs;
pub mod pull_request;
pub mod selection;
pub mod sizing;
pub mod suite;
pub mod verify;

pub use day_usage::DayStats;

use std::path::PathBuf;

/// Something the person running podsizer should read: a note (dropped by `--quiet`) or a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Note(String),
    Warning(String),
    /// A setting that differs between the overlay and the live cluster.
    Drift(String),
}

/// Long work reports through the same trait as the importers; the CLI draws bars with it.
pub use crate::sources::sink::{Progress, Silent};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    SampleFile(#[from] crate::sources::files::SourceError),
    #[error(transparent)]
    Policy(#[from] crate::analysis::PolicyError),
    #[error(transparent)]
    Kustomize(#[from] crate::outputs::kustomize::KustomizeError),
    #[error(transparent)]
    TrafficShare(#[from] crate::analysis::traffic::TrafficShareError),
    #[error(transparent)]
    Trace(#[from] crate::sources::traces::TraceError),
    #[error("reading current settings from the cluster (--live)")]
    Live(#[source] crate::sources::metrics_server::client::MetricsServerError),
    #[error(transparent)]
    Outcomes(crate::store::outcomes::OutcomesError),
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("--since must be before --until")]
    EmptyWindow,
    #[error("no samples match the selection{0}")]
    NoSamples(String),
    #[error("unknown strategy `{name}`; known: {known}")]
    UnknownStrategy { name: String, known: String },
    #[error("--traffic-share: no workload named {name:?} in the selected samples (they have: {known})")]
    UnknownTrafficWorkload { name: String, known: String },
    #[error("the samples hold {count} clusters ({names}) and {target} is one; choose it with --cluster NAME")]
    SeveralClusters { count: usize, names: String, target: String },
    #[error("the history is too short for one holdout window of {holdout}")]
    HistoryTooShort { holdout: String },
    #[error(transparent)]
    Git(#[from] crate::outputs::bot::git::GitError),
    #[error(transparent)]
    GitHub(#[from] crate::outputs::bot::github::GitHubError),
    #[error("{0}")]
    PullRequest(String),
    #[error("returning to the original checkout")]
    Checkout(#[source] crate::outputs::bot::git::GitError),
    #[error("scenario {name}: {message}")]
    Scenario { name: String, message: String },
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// An error and its causes on one line, for a note that carries it.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

//! The sizing engine: the runs `recommend`, `report`, `pr` and `backtest` share, as library
//! calls. Each takes plain, resolved settings (instants in epoch ms, paths, names: nothing left
//! to parse, no command-line types) and returns values. The engine never prints: what a person
//! should read comes back as [`Note`]s in the results, failures as an [`EngineError`] that
//! describes the value at fault, and long work reports through a [`Progress`] the caller
//! supplies (the CLI draws bars with it; [`Silent`] draws nothing).
//!
//! # Entry points
//!
//! - [`sizing::size_all`]: one sizing run. Current settings, the selected samples' usage, a
//!   `Recommendation` per container with HPA and runtime (php-fpm, envoy, nginx) advice and the
//!   patches that go with them, in a [`sizing::SizingRun`]. `recommend`, `report` and `pr`
//!   differ only in what they do with it.
//! - [`selection::select`]: which samples a run reads ([`selection::SelectionSettings`]: sample
//!   files and stores, a window, cluster/namespace/workload filters, traffic shares); the
//!   [`selection::Selection`] it returns streams rows, raw series or usage (stores are read
//!   through their per-day summaries, [`DayStats`]).
//! - [`current::current_settings`]: current settings from a kustomize overlay or a live
//!   cluster ([`current::LiveSettings`]), with the drift between the two as notes.
//! - [`suite::run`] and [`suite::suite`]: a back-test on a selection, and the back-test suite
//!   over synthetic scenarios and public traces.
//! - [`pull_request::propose_sizes`]: the bot's run: size an overlay of a GitOps checkout,
//!   commit, push and open or update the pull request.
//!
//! # Example
//!
//! Sizing the demo's sample file (a week of a php-fpm shop) from library code, as
//! `podsizer recommend --input fixtures/demo/samples.parquet` does before it prints:
//!
//! ```
//! use podsizer::engine::selection::{InputSpec, SelectionSettings};
//! use podsizer::engine::sizing::{size_all, SizingSettings};
//! use podsizer::engine::{Note, Silent};
//!
//! let samples = SelectionSettings {
//!     inputs: vec![InputSpec::Path("fixtures/demo/samples.parquet".into())],
//!     window_ms: Some(14 * podsizer::domain::DAY_MS),
//!     ..Default::default()
//! };
//! // The default policy and strategy, no overlay: current settings are unknown.
//! let run = size_all(samples, &SizingSettings::default(), &Silent)?;
//! let php = run.recommendations.iter().find(|r| r.key.container == "php-fpm").unwrap();
//! let sizing = php.sizing().expect("a week of history is enough");
//! assert!(sizing.cpu_limit_cores.unwrap() >= 2.0 * sizing.cpu_request_cores);
//! assert!(!php.rationale.is_empty(), "every figure comes with its reason");
//! // Nothing was printed: what to show is the caller's choice.
//! assert!(run.notes.iter().all(|n| !matches!(n, Note::Warning(_))), "{:?}", run.notes);
//! # Ok::<(), podsizer::engine::EngineError>(())
//! ```

#![warn(missing_docs)]

pub mod current;
mod day_usage;
pub mod evidence;
mod file_inputs;
pub mod fleet;
pub mod follow_up;
mod inputs;
pub mod pull_request;
pub mod selection;
pub mod sizing;
mod startup;
pub mod suite;
mod suite_verdicts;
pub mod verify;

pub use day_usage::DayStats;

use std::path::PathBuf;

/// Something the person running podsizer should read: a note (dropped by `--quiet`) or a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Worth knowing, not a problem (a quiet run may drop it).
    Note(String),
    /// Something that may make the result wrong or incomplete; always shown.
    Warning(String),
    /// A setting that differs between the overlay and the live cluster.
    Drift(String),
}

/// Long work reports through the same trait as the importers; the CLI draws bars with it.
pub use crate::sources::sink::{Progress, Silent};

/// Why an engine run failed. Each message describes the value that is wrong (a path, a
/// window, a name), never a command-line flag; the CLI maps kinds to flags itself.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Opening or reading a store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Reading a sample file (CSV or Parquet); the cause names the file, line and field.
    #[error(transparent)]
    SampleFile(#[from] crate::sources::files::SourceError),
    /// Reading or checking the policy file.
    #[error(transparent)]
    Policy(#[from] crate::analysis::PolicyError),
    /// Rendering or reading the kustomize overlay.
    #[error(transparent)]
    Kustomize(#[from] crate::outputs::kustomize::KustomizeError),
    /// A traffic share that does not parse.
    #[error(transparent)]
    TrafficShare(#[from] crate::analysis::traffic::TrafficShareError),
    /// Reading a public trace for the back-test suite.
    #[error(transparent)]
    Trace(#[from] crate::sources::traces::TraceError),
    /// Reading current settings from the live cluster (the cause is the source).
    #[error("reading current settings from the cluster")]
    Live(#[source] crate::sources::metrics_server::client::MetricsServerError),
    /// Reading or writing the outcome signals kept beside the samples.
    #[error(transparent)]
    Outcomes(crate::store::outcomes::OutcomesError),
    /// An input that cannot be used: missing, unreadable, or a side file with a figure out of bounds.
    #[error("{path}: {reason}")]
    Input {
        /// The input as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The window's start is not before its end.
    #[error("the window is empty: its start is not before its end")]
    EmptyWindow,
    /// No row passed the window and the filters; the text describes the selection (or is empty).
    #[error("no samples match the selection{0}")]
    NoSamples(String),
    /// A strategy name no strategy has.
    #[error("unknown strategy `{name}`; known: {known}")]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A traffic share for a workload the selected samples do not hold (a typo or the wrong input).
    #[error("traffic share for {name:?}: no workload of that name in the selected samples (they have: {known})")]
    UnknownTrafficWorkload {
        /// The workload named by the share.
        name: String,
        /// Up to ten workload names the samples do hold.
        known: String,
    },
    /// Samples of several clusters matched against one overlay or live cluster.
    #[error("the samples hold {count} clusters ({names}) and {target} is one: one cluster must be chosen")]
    SeveralClusters {
        /// How many clusters the samples hold.
        count: usize,
        /// Their names, comma-separated (`(no cluster)` for rows without one).
        names: String,
        /// The overlay or context the run reads current settings from.
        target: String,
    },
    /// A back-test whose history cannot hold one training span and one holdout window.
    #[error("the history is too short for one holdout window of {holdout}")]
    HistoryTooShort {
        /// The holdout length as the caller wrote it (`7d`).
        holdout: String,
    },
    /// A git command in the pull-request checkout failed.
    #[error(transparent)]
    Git(#[from] crate::outputs::bot::git::GitError),
    /// A GitHub API call failed.
    #[error(transparent)]
    GitHub(#[from] crate::outputs::bot::github::GitHubError),
    /// The checkout is not in a state a pull request can be made from (uncommitted changes, a
    /// missing base branch or overlay folder ...); the text says which.
    #[error("{0}")]
    PullRequest(String),
    /// Opening a pull request without a GitHub token or repository.
    #[error("opening a pull request needs GITHUB_TOKEN in the environment and the repository OWNER/NAME")]
    NoGitHub,
    /// An overlay folder that is not inside the repository.
    #[error("overlay {overlay:?}: {problem}")]
    OverlayPath {
        /// The overlay folder as given, relative to the repository.
        overlay: String,
        /// Why it is not inside (absolute, `..`, a symlink out).
        problem: String,
    },
    /// Checking out the branch the repository was on before the run failed.
    #[error("returning to the original checkout")]
    Checkout(#[source] crate::outputs::bot::git::GitError),
    /// A synthetic scenario of the back-test suite could not be generated.
    #[error("scenario {name}: {message}")]
    Scenario {
        /// The scenario's name.
        name: String,
        /// Why it failed.
        message: String,
    },
}

/// The engine's result: [`EngineError`] unless given another error.
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

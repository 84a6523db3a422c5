//! podsizer: measured, explained CPU and memory requests and limits for Kubernetes
//! containers, written into GitOps overlays.
//!
//! Layers, each depending only on those before it:
//! `domain` (units, identities) -> `sources` (how samples arrive) -> `store` (samples at
//! rest) -> `analysis` (pure sizing logic) -> `outputs` (documents, patches) -> `engine` (the
//! runs the commands share: selection, sizing, back-tests) -> `cli` (arguments, printing).
//! `domain` and `analysis` are the `podsizer-core` crate (no I/O, no polars, no AWS, no
//! kube), re-exported here. docs/architecture.md maps each command onto these layers.

pub use podsizer_core::analysis;
pub mod cli;
pub mod engine;
pub mod outputs;
pub mod sources;
pub mod store;

/// Units and identities shared by every layer (`podsizer_core::domain`), plus two pieces the
/// core does without: the sample schema of files and store parts (it needs polars) and the
/// sanitizer and redactor of server text (its property tests need proptest).
pub mod domain {
    pub use podsizer_core::domain::*;
    pub mod schema;
    pub mod server_text;
}

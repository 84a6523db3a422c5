//! podsizer: measured, explained CPU and memory requests and limits for Kubernetes
//! containers, written into GitOps overlays.
//!
//! Layers, each depending only on those before it:
//! `domain` (units, identities) -> `sources` (how samples arrive) -> `store` (samples at
//! rest) -> `analysis` (pure sizing logic) -> `outputs` (documents, patches) -> `engine` (the
//! runs the commands share: selection, sizing, back-tests) -> `cli` (arguments, printing).
//! docs/architecture.md maps each command onto these layers.

pub mod analysis;
pub mod cli;
pub mod domain;
pub mod engine;
pub mod outputs;
pub mod sources;
pub mod store;

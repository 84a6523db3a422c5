//! podsizer: measured, explained CPU and memory requests and limits for Kubernetes
//! containers, written into GitOps overlays.
//!
//! Layers, each depending only on those before it:
//! `domain` (units, identities) -> `sources` (how samples arrive) -> `store` (samples at
//! rest) -> `analysis` (pure sizing logic) -> `outputs` (documents, patches) -> `cli`.

pub mod analysis;
pub mod cli;
pub mod domain;
pub mod outputs;
pub mod sources;
pub mod store;

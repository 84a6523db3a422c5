//! podsizer's core: the units and identities every layer shares (`domain`) and the pure
//! sizing logic (`analysis`): usage summaries, strategies, policy, guards, runtime and HPA
//! advice, back-test replay and node packing. No I/O: callers feed rows in and get
//! recommendations out. It depends on serde, toml, chrono and thiserror only, so a change here
//! rebuilds and tests in seconds (`cargo test -p podsizer-core`).
//!
//! The `podsizer` crate re-exports both modules as `podsizer::domain` and
//! `podsizer::analysis` and adds the sources, the store, the outputs, the engine and the CLI.

pub mod analysis;
pub mod domain;

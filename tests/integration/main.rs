//! The integration tests: one binary (one link of polars, the AWS SDKs and kube), a module per
//! area, helpers in `support`. Run one area with `cargo test --release --test integration AREA::`.
// Helpers shared inside this test crate are not API: `pub` there means "for the other modules".
#![allow(unreachable_pub)]

mod support;

mod backtest;
mod bad_inputs;
mod change_safety;
mod cli;
mod cloudwatch;
mod clusters;
mod collector;
mod fleet;
mod follow_up;
mod golden;
mod hostile;
mod incremental;
mod layers;
mod live;
mod notify;
mod overlay_safety;
mod polyglot;
mod pr;
mod prometheus;
mod properties;
mod remote_read;
mod report;
mod runtimes;
mod s3_store;
mod server_safety;
mod shell;
mod startup;
mod store_safety;
mod verify;

//! How samples arrive. Each source turns its own payload into `domain::Sample` rows;
//! none of them knows about the store's layout or about analysis.

pub mod aws;
pub(crate) mod cloudwatch;
pub mod cluster;
pub mod files;
pub(crate) mod input_file;
pub mod metrics_server;
pub mod outcomes;
pub(crate) mod owners;
pub(crate) mod php_fpm_exporter;
pub mod prometheus;
pub(crate) mod retry;
pub mod sink;
pub mod synthetic;
pub(crate) mod time;
pub(crate) mod traces;

pub use files::{read_sample_file, samples_to_frame, BadRow, SourceError, SAMPLE_COLUMNS};

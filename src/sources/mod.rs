//! How samples arrive. Each source turns its own payload into `domain::Sample` rows;
//! none of them knows about the store's layout or about analysis.

pub mod aws;
pub mod cloudwatch;
pub mod cluster;
pub mod files;
pub mod input_file;
pub mod metrics_server;
pub mod outcomes;
pub mod owners;
pub mod php_fpm_exporter;
pub mod prometheus;
pub mod retry;
pub mod sink;
pub mod synthetic;
pub mod time;
pub mod traces;

pub use files::{read_sample_file, samples_to_frame, BadRow, SourceError, SAMPLE_COLUMNS};

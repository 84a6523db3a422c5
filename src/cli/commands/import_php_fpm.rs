//! The php-fpm exporter part of `podsizer import prometheus` now lives with the import: the
//! figures are read in `sources::prometheus::import` and saved by `store::sink::StoreSink`
//! (`imports/phpfpm-<id>.json`). This module is empty until `commands/mod.rs` drops it.

//! Where an import's rows, resume state and side facts go. The store implements
//! `SampleSink` (`store::sink`): sources come before the store in the layer order, so an
//! importer in `sources` writes through this trait and never names the store.

use crate::domain::SampleRows;
use crate::sources::outcomes::{OutcomeBatch, OutcomesRecorded};
use crate::sources::php_fpm_exporter::PodFigures;

/// Any error of the destination (the store's own, boxed).
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// What one append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Rows new to the destination.
    pub written: u64,
    /// Rows it already held (dropped).
    pub duplicates: u64,
}

/// (namespace, workload kind, workload, container).
pub type WorkloadContainer = (String, String, String, String);

/// The destination of an import.
pub trait SampleSink {
    /// Makes sure the destination exists; importers call it once the source has answered,
    /// so a first import that fails early leaves nothing behind.
    fn open(&mut self) -> Result<(), SinkError>;

    /// Whether the destination exists already (an earlier import created it).
    fn exists(&self) -> bool;

    /// Stores rows; rows already stored are dropped and counted. The rows may be reordered.
    fn append(&mut self, rows: &mut SampleRows) -> Result<Appended, SinkError>;

    /// The resume state an earlier run saved under `name` (JSON text), if any.
    fn load_state(&self, name: &str) -> Result<Option<String>, SinkError>;

    /// Saves the resume state `name` (JSON text), replacing the previous one atomically.
    fn save_state(&mut self, name: &str, json: &str) -> Result<(), SinkError>;

    /// Forgets the resume state `name` (a first import that found nothing).
    fn remove_state(&mut self, name: &str);

    /// Where the state `name` is kept, for messages.
    fn state_location(&self, name: &str) -> String;

    /// Records php-fpm exporter figures per workload container beside the state `name`
    /// (`fetched`: pods the exporter answered for); returns how many containers have figures.
    fn record_php_fpm(
        &mut self,
        name: &str,
        cluster: &str,
        fetched: usize,
        figures: Vec<(WorkloadContainer, PodFigures)>,
    ) -> Result<usize, SinkError>;

    /// Publishes what was saved beside the samples (a remote store uploads its side files).
    fn sync(&mut self) -> Result<(), SinkError>;

    /// The last outcome bucket recorded under `name` (`None`: none yet), so a run reads only
    /// newer buckets. A destination that keeps no outcome signals has none.
    fn outcomes_through(&self, _name: &str) -> Result<Option<i64>, SinkError> {
        Ok(None)
    }

    /// Adds outcome signals (`sources::outcomes`) beside the samples under `name`, merged with
    /// what earlier runs recorded; the batch and its end are stored together or not at all.
    fn record_outcomes(&mut self, _name: &str, _batch: OutcomeBatch) -> Result<OutcomesRecorded, SinkError> {
        Err("this destination keeps no outcome signals".into())
    }
}

/// The destination of the metrics-server collector (`sources::metrics_server::collect`): a
/// `SampleSink` that also keeps the collector's side record (settings, OOM kills, flushed
/// windows) beside the samples. The store implements it (`store::sink`).
pub trait CollectorSink: SampleSink {
    /// The destination's path or URL, for messages.
    fn name(&self) -> String;

    /// The side record an earlier run saved (JSON), if there is one and it can be read.
    fn load_collector_state(&self) -> Option<Vec<u8>>;

    /// Replaces the side record (JSON) atomically.
    fn save_collector_state(&mut self, json: &[u8]) -> Result<(), SinkError>;

    /// Where the side record is kept, for messages.
    fn collector_state_location(&self) -> String;
}

/// What an importer tells the person running it while it works; the CLI draws bars and
/// prints notes, a library caller may ignore it all.
pub trait Progress {
    /// A remark worth reading (e.g. a fallback taken).
    fn note(&self, text: &str);
    /// A stage of `total` steps begins.
    fn begin(&self, total: u64, label: &str);
    /// One step of the stage is done; `status` says where things stand.
    fn step(&self, status: &str);
    /// The stage is over (finished or abandoned).
    fn end(&self);
}

/// A `Progress` that says nothing.
pub struct Silent;

impl Progress for Silent {
    fn note(&self, _: &str) {}
    fn begin(&self, _: u64, _: &str) {}
    fn step(&self, _: &str) {}
    fn end(&self) {}
}

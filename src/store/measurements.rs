//! One measurement per (series, timestamp), on every read path.
//!
//! A store's append drops rows it already holds, so the parts it writes never repeat a
//! measurement: within a part each series is one run of strictly increasing times, and a
//! day's parts cover disjoint time ranges (recorded in their names) unless two writers or a
//! copy made them overlap. A reader checks the first two cheaply and, where ranges overlap or
//! are unknown, remembers every measurement of the day (`Measurements`) to count each once.
//! Sample files given directly are held to the same rule by the engine.

use crate::domain::SampleRef;
use std::collections::{HashMap, HashSet};

/// Which measurements a read has counted: a set of (series, timestamp), series interned.
#[derive(Debug, Default)]
pub struct Measurements {
    series: HashMap<String, u32>,
    seen: HashSet<(u32, i64)>,
    /// The last row's run (`SampleRef::series`, 0 for unknown) and its interned series.
    run: Option<(u64, u32)>,
}

impl Measurements {
    /// Whether `row` is the first of its (series, timestamp): false for a repeat.
    pub fn first_time(&mut self, row: &SampleRef<'_>) -> bool {
        let series = match self.run {
            Some((run, series)) if run != 0 && run == row.series => series,
            _ => {
                let next = self.series.len() as u32;
                let series = *self.series.entry(row.series_identity()).or_insert(next);
                self.run = Some((row.series, series));
                series
            }
        };
        self.seen.insert((series, row.timestamp_ms))
    }
}

/// Checks that a part's rows are in the order the store writes them (each series one run of
/// strictly increasing times), which is what rules out a repeated measurement inside it.
#[derive(Debug, Default)]
pub(crate) struct PartOrder {
    /// The last row's run (`SampleRef::series`), series identity and time.
    last: Option<(u64, String, i64)>,
    /// Every series seen before the current one.
    done: HashSet<String>,
}

impl PartOrder {
    /// `Err` with what is wrong at `row`.
    pub(crate) fn check(&mut self, row: &SampleRef<'_>) -> Result<(), String> {
        let at = || {
            let when = crate::domain::format_timestamp(row.timestamp_ms);
            format!("{}/{}/{} at {when}", row.namespace, row.pod, row.container)
        };
        let same_run = matches!(&self.last, Some((run, ..)) if *run != 0 && *run == row.series);
        if !same_run {
            let id = row.series_identity();
            // A new run of the same names (a row group boundary) continues the series.
            let continues = matches!(&self.last, Some((_, last_id, _)) if *last_id == id);
            if !continues {
                if let Some((_, finished, _)) = self.last.take() {
                    self.done.insert(finished);
                }
                if self.done.contains(&id) {
                    return Err(format!(
                        "holds the rows of {} in two places: not a part as podsizer writes them",
                        at()
                    ));
                }
                self.last = Some((row.series, id, i64::MIN));
            }
        }
        let (run, _, last_ts) = self.last.as_mut().expect("set above");
        if row.timestamp_ms <= *last_ts {
            return Err(format!("its rows are not in time order ({}): not a part as podsizer writes them", at()));
        }
        (*run, *last_ts) = (row.series, row.timestamp_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pod: &str, ts: i64, series: u64) -> SampleRef<'_> {
        SampleRef {
            timestamp_ms: ts,
            namespace: "shop",
            workload: "api",
            pod,
            container: "nginx",
            series,
            ..Default::default()
        }
    }

    #[test]
    fn a_measurement_counts_once_whatever_its_run() {
        let mut seen = Measurements::default();
        assert!(seen.first_time(&row("a", 1, 7)));
        assert!(seen.first_time(&row("a", 2, 7)));
        assert!(!seen.first_time(&row("a", 1, 9)), "same names in another run");
        assert!(!seen.first_time(&row("a", 2, 0)), "no run id: names compared");
        assert!(seen.first_time(&row("b", 1, 0)));
    }

    #[test]
    fn parts_out_of_store_order_are_told_apart() {
        let mut order = PartOrder::default();
        assert!(order.check(&row("a", 1, 1)).is_ok() && order.check(&row("a", 2, 1)).is_ok());
        assert!(order.check(&row("b", 1, 2)).is_ok());
        assert!(order.check(&row("b", 1, 2)).unwrap_err().contains("time order"));
        let mut order = PartOrder::default();
        // A series goes on in a new run (the next row group) at a later time.
        for r in [row("a", 1, 1), row("a", 2, 5), row("b", 1, 2)] {
            order.check(&r).unwrap();
        }
        assert!(order.check(&row("a", 5, 3)).unwrap_err().contains("two places"));
        let mut order = PartOrder::default();
        order.check(&row("a", 2, 1)).unwrap();
        assert!(order.check(&row("a", 2, 4)).unwrap_err().contains("time order"), "a repeat across runs");
    }
}

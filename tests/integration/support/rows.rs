//! Every row of a store, keyed by identity and time, for tests that compare what an import
//! stored with what was seeded.
#![allow(dead_code)]

use podsizer::domain::Sample;
use podsizer::store::Store;
use std::collections::BTreeMap;
use std::path::Path;

/// (namespace, kind, workload, pod, container, timestamp ms)
pub type Row = (String, String, String, String, String, i64);

/// The store's rows with (cpu cores, memory bytes); empty when there is no store. Fails the
/// test if any row is stored twice.
pub fn stored(store: &Path) -> BTreeMap<Row, (f64, f64)> {
    let mut rows = BTreeMap::new();
    if !Store::is_store(store) {
        return rows;
    }
    let mut count = 0;
    Store::open(store)
        .unwrap()
        .scan(None, None, |r| {
            count += 1;
            let key = (
                r.namespace.into(),
                r.workload_kind.into(),
                r.workload.into(),
                r.pod.into(),
                r.container.into(),
                r.timestamp_ms,
            );
            rows.insert(key, (r.cpu_cores, r.memory_bytes));
        })
        .unwrap();
    assert_eq!(count, rows.len(), "no row is stored twice");
    rows
}

/// The same map from samples (what a test seeded).
pub fn rows_of<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> BTreeMap<Row, (f64, f64)> {
    samples
        .into_iter()
        .map(|s| {
            let key = (
                s.namespace.clone(),
                s.workload_kind.clone(),
                s.workload.clone(),
                s.pod.clone(),
                s.container.clone(),
                s.timestamp_ms,
            );
            (key, (s.cpu_cores, s.memory_bytes))
        })
        .collect()
}

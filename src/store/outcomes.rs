//! Outcome signals at rest (`sources::outcomes`): restarts and OOM kills, throttling,
//! evictions and the settings each pod ran with, one file per source beside its import
//! state, `STORE/imports/outcomes-<id>.json`:
//!
//! ```text
//! {"format":"podsizer-outcomes","version":1,"checksum":"<xxh3 of the next line, 16 hex digits>"}
//! {"identity_cluster":"...","through_ms":...,"containers":[...]}
//! ```
//!
//! A run merges its buckets into the file and writes it whole (temp file, fsync, rename), with
//! the last bucket read (`through_ms`) in the same file: after a crash the file is the one
//! before the run or the one after it, and the next run reads what is missing. Recording a
//! batch replaces that batch's buckets, so recording it twice changes nothing. The checksum
//! finds a file damaged after it was written; it is refused, never read as "no harm".

use super::checksum;
use crate::domain::{ContainerKey, Workload};
use crate::sources::outcomes::{merge_spans, ContainerOutcomes, Known, OutcomeBatch, OutcomesRecorded, BUCKET_MS};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FORMAT: &str = "podsizer-outcomes";
const VERSION: u32 = 1;
/// Name prefix of outcome files in `STORE/imports/`.
pub(crate) const FILE_PREFIX: &str = "outcomes-";

#[derive(Debug, thiserror::Error)]
pub enum OutcomesError {
    #[error("{}: outcome signals file damaged after it was written (its checksum does not match); delete it to read the outcomes again from the source", path.display())]
    Damaged { path: PathBuf },
    #[error("{}: unreadable outcome signals file ({why}); delete it to read the outcomes again from the source", path.display())]
    Unreadable { path: PathBuf, why: String },
    #[error("{}: outcome signals file version {found} is newer than this podsizer understands ({VERSION}); upgrade podsizer", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    version: u32,
    checksum: String,
}

/// The contents of one outcome file.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Body {
    #[serde(default)]
    identity_cluster: String,
    /// Every bucket up to here (inclusive) was read.
    through_ms: Option<i64>,
    containers: Vec<ContainerOutcomes>,
}

fn encode(body: &Body) -> Vec<u8> {
    let text = serde_json::to_string(body).expect("plain JSON");
    let header =
        Header { format: FORMAT.into(), version: VERSION, checksum: format!("{:016x}", checksum::of(text.as_bytes())) };
    let mut out = serde_json::to_vec(&header).expect("plain JSON");
    out.push(b'\n');
    out.extend_from_slice(text.as_bytes());
    out
}

/// The file at `path` (`None` when there is none), checked against its checksum.
fn read(path: &Path) -> Result<Option<Body>, OutcomesError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(super::io_err(path, "read outcome signals")(e).into()),
    };
    let unreadable = |why: String| OutcomesError::Unreadable { path: path.to_path_buf(), why };
    let split = bytes.iter().position(|&b| b == b'\n').ok_or_else(|| unreadable("no header line".into()))?;
    let (head, text) = (&bytes[..split], &bytes[split + 1..]);
    let header: Header = serde_json::from_slice(head).map_err(|e| unreadable(format!("header: {e}")))?;
    if header.format != FORMAT {
        return Err(unreadable(format!("format {:?}", header.format)));
    }
    if header.version > VERSION {
        return Err(OutcomesError::Version { path: path.to_path_buf(), found: header.version });
    }
    if header.checksum != format!("{:016x}", checksum::of(text)) {
        return Err(OutcomesError::Damaged { path: path.to_path_buf() });
    }
    serde_json::from_slice(text).map(Some).map_err(|e| unreadable(e.to_string()))
}

/// The last bucket recorded in the file at `path`.
pub(crate) fn through(path: &Path) -> Result<Option<i64>, OutcomesError> {
    Ok(read(path)?.and_then(|b| b.through_ms))
}

/// Merges `batch` into the file at `path` and writes it whole.
pub(crate) fn record(path: &Path, batch: OutcomeBatch) -> Result<OutcomesRecorded, OutcomesError> {
    let mut body = read(path)?.unwrap_or_default();
    let hours = if batch.to_ms >= batch.from_ms { (batch.to_ms - batch.from_ms) / BUCKET_MS + 1 } else { 0 };
    merge_batch(&mut body, batch);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(super::io_err(dir, "create directory"))?;
    }
    super::write_atomically(path, &encode(&body))?;
    Ok(OutcomesRecorded { containers: body.containers.len(), hours })
}

type Key = (String, String, String, String);

fn key_of(c: &ContainerOutcomes) -> Key {
    (c.namespace.clone(), c.workload_kind.clone(), c.workload.clone(), c.container.clone())
}

/// The batch replaces its own buckets `[from, to]` in every container, then joins the rest.
fn merge_batch(body: &mut Body, batch: OutcomeBatch) {
    let (from, to) = (batch.from_ms, batch.to_ms);
    let outside = |h: i64| h < from || h > to;
    let mut by_key: BTreeMap<Key, ContainerOutcomes> = BTreeMap::new();
    for mut c in std::mem::take(&mut body.containers) {
        c.restarts.retain(|r| outside(r.hour_ms));
        c.throttling.retain(|t| outside(t.hour_ms));
        by_key.insert(key_of(&c), c);
    }
    for c in batch.containers {
        if let Some(old) = by_key.get_mut(&key_of(&c)) {
            join(old, c);
        } else {
            let mut c = c;
            tidy(&mut c);
            by_key.insert(key_of(&c), c);
        }
    }
    body.containers = by_key.into_values().collect();
    body.identity_cluster = batch.cluster;
    body.through_ms = Some(body.through_ms.map_or(to, |t| t.max(to)));
}

/// Adds `new` to `old`: lists joined, then put in order with spans coalesced.
pub(crate) fn join(old: &mut ContainerOutcomes, new: ContainerOutcomes) {
    old.settings.extend(new.settings);
    old.restarts.extend(new.restarts);
    old.evictions.extend(new.evictions);
    old.throttling.extend(new.throttling);
    let k = &mut old.known;
    k.restarts.extend(new.known.restarts);
    k.throttling.extend(new.known.throttling);
    k.evictions.extend(new.known.evictions);
    k.settings.extend(new.known.settings);
    tidy(old);
}

/// Sorted lists; a pod's settings spans with equal values that touch joined; one eviction
/// (the first) per pod; one restart entry per pod and bucket.
fn tidy(c: &mut ContainerOutcomes) {
    c.settings.sort_by(|a, b| (&a.pod, a.from_ms).cmp(&(&b.pod, b.from_ms)));
    let mut settings: Vec<crate::sources::outcomes::PodSettings> = Vec::with_capacity(c.settings.len());
    for s in c.settings.drain(..) {
        match settings.last_mut() {
            Some(last) if last.pod == s.pod && last.resources == s.resources && s.from_ms <= last.to_ms + BUCKET_MS => {
                last.to_ms = last.to_ms.max(s.to_ms);
            }
            _ => settings.push(s),
        }
    }
    c.settings = settings;
    c.restarts.sort_by(|a, b| (&a.pod, a.hour_ms).cmp(&(&b.pod, b.hour_ms)));
    c.restarts.dedup_by(|b, a| a.pod == b.pod && a.hour_ms == b.hour_ms);
    c.evictions.sort_by(|a, b| (&a.pod, a.hour_ms).cmp(&(&b.pod, b.hour_ms)));
    c.evictions.dedup_by(|b, a| a.pod == b.pod);
    c.throttling.sort_by_key(|t| t.hour_ms);
    let Known { restarts, throttling, evictions, settings } = &mut c.known;
    for spans in [restarts, throttling, evictions, settings] {
        merge_spans(spans);
    }
}

/// Every outcome file of a store (its own and, for an S3 store's mirror, its other
/// writers'), per workload container; two files about one container are joined.
pub fn load(store_root: &Path) -> Result<BTreeMap<ContainerKey, ContainerOutcomes>, OutcomesError> {
    let mut dirs = vec![store_root.join("imports")];
    if let Ok(writers) = std::fs::read_dir(store_root.join(super::remote::WRITERS_DIR)) {
        let mut w: Vec<PathBuf> = writers.flatten().map(|e| e.path().join("imports")).collect();
        w.sort();
        dirs.extend(w);
    }
    let mut out: BTreeMap<ContainerKey, ContainerOutcomes> = BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.starts_with(FILE_PREFIX) && name.ends_with(".json")
            })
            .collect();
        files.sort();
        for path in files {
            let Some(body) = read(&path)? else { continue };
            for c in body.containers {
                let key = ContainerKey {
                    workload: Workload {
                        cluster: body.identity_cluster.clone(),
                        namespace: c.namespace.clone(),
                        kind: c.workload_kind.clone(),
                        name: c.workload.clone(),
                    },
                    container: c.container.clone(),
                };
                match out.get_mut(&key) {
                    Some(old) => join(old, c),
                    None => {
                        out.insert(key, c);
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Resources;
    use crate::sources::outcomes::{Eviction, PodSettings, Restarts, Span, Throttling};

    const H: i64 = BUCKET_MS;

    fn container(pod: &str, hours: std::ops::RangeInclusive<i64>, memory_limit: f64) -> ContainerOutcomes {
        let resources = Resources { memory_limit_bytes: Some(memory_limit), ..Default::default() };
        let (first, last) = (*hours.start() * H, *hours.end() * H);
        ContainerOutcomes {
            namespace: "shop".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            container: "app".into(),
            settings: vec![PodSettings { pod: pod.into(), resources, from_ms: first, to_ms: last }],
            restarts: vec![Restarts { pod: pod.into(), hour_ms: last, restarts: 2.0, oom_kills: 1.0 }],
            evictions: vec![Eviction { pod: pod.into(), hour_ms: last }],
            throttling: hours
                .map(|h| Throttling {
                    hour_ms: h * H,
                    resources: Some(resources),
                    throttled_periods: 1.0,
                    periods: 10.0,
                })
                .collect(),
            known: Known {
                restarts: vec![Span { from_ms: first, to_ms: last }],
                throttling: vec![Span { from_ms: first, to_ms: last }],
                ..Default::default()
            },
        }
    }

    fn batch(from: i64, to: i64, containers: Vec<ContainerOutcomes>) -> OutcomeBatch {
        OutcomeBatch { cluster: "prod".into(), from_ms: from * H, to_ms: to * H, containers }
    }

    #[test]
    fn batches_merge_incrementally_and_a_second_recording_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imports/outcomes-1.json");
        assert_eq!(through(&path).unwrap(), None);
        let first = record(&path, batch(1, 3, vec![container("api-1", 1..=3, 1e9)])).unwrap();
        assert_eq!(first, OutcomesRecorded { containers: 1, hours: 3 });
        let once = std::fs::read(&path).unwrap();
        record(&path, batch(1, 3, vec![container("api-1", 1..=3, 1e9)])).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), once, "the same batch again: byte-identical");
        // The next hours: the same pod and values extend its span; a new pod on new values.
        record(&path, batch(4, 5, vec![container("api-1", 4..=5, 1e9), container("api-2", 5..=5, 5e8)])).unwrap();
        assert_eq!(through(&path).unwrap(), Some(5 * H));
        let all = load(dir.path()).unwrap();
        let c = all.values().next().unwrap();
        assert_eq!(all.keys().next().unwrap().workload.cluster, "prod");
        let spans: Vec<(&str, i64, i64)> =
            c.settings.iter().map(|s| (s.pod.as_str(), s.from_ms / H, s.to_ms / H)).collect();
        assert_eq!(spans, vec![("api-1", 1, 5), ("api-2", 5, 5)]);
        assert_eq!(c.throttling.len(), 6, "5 hours of api-1 and 1 of api-2");
        assert_eq!(c.restarts.iter().map(|r| r.hour_ms / H).collect::<Vec<_>>(), vec![3, 5, 5]);
        assert_eq!(
            c.evictions.iter().map(|e| (e.pod.as_str(), e.hour_ms / H)).collect::<Vec<_>>(),
            vec![("api-1", 3), ("api-2", 5)]
        );
        assert_eq!(c.known.restarts, vec![Span { from_ms: H, to_ms: 5 * H }]);
        assert!(c.known.settings.is_empty(), "a signal without data stays unknown");
    }

    #[test]
    fn a_damaged_file_is_refused_not_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imports/outcomes-1.json");
        record(&path, batch(1, 2, vec![container("api-1", 1..=2, 1e9)])).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.iter().rposition(|&b| b == b'2').unwrap();
        bytes[at] = b'3';
        std::fs::write(&path, &bytes).unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("outcomes-1.json") && e.contains("damaged"), "{e}");
        let e = record(&path, batch(3, 3, vec![])).unwrap_err();
        assert!(matches!(e, OutcomesError::Damaged { .. }), "a run does not write over a damaged file: {e}");
        std::fs::write(&path, b"{}").unwrap();
        assert!(matches!(through(&path).unwrap_err(), OutcomesError::Unreadable { .. }));
    }
}

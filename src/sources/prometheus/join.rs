//! Joining CPU and memory into samples, and folding requests, limits and OOM kills into
//! per-workload-container settings.

use super::owners::{label, Owners};
use super::payload::Series;
use super::Labels;
use crate::domain::{Resources, SampleRows, SeriesNames};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a batch's two series sets turned into.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct JoinStats {
    /// Instants with CPU but no memory or the other way round (pod start, end, staleness).
    pub unpaired: u64,
    /// NaN, infinite or negative values dropped.
    pub non_finite: u64,
    /// Series without a namespace, pod or container label (ignored).
    pub unlabelled: u64,
    /// Series of pods outside the batch (a namespace/pod regex cross product; ignored).
    pub outside: u64,
}

type SeriesKey = (String, String, String);
/// Points of one metric, sorted by time.
type Points<'a> = std::borrow::Cow<'a, [(i64, f64)]>;
/// Per container: the CPU series' points and the memory series' points.
type Grouped<'a> = BTreeMap<SeriesKey, [Vec<&'a [(i64, f64)]>; 2]>;
/// Containers with usage series, per (namespace, pod).
pub(crate) type PodContainers = BTreeMap<(String, String), usize>;

pub(super) fn key_of(l: &Labels) -> Option<SeriesKey> {
    Some((label(l, "namespace")?.to_string(), label(l, "pod")?.to_string(), label(l, "container")?.to_string()))
}

/// Pairs CPU and memory points of the same container and instant into rows (no cluster
/// named: the importer adds its own).
pub(crate) fn join_samples(
    cpu: &[Series],
    memory: &[Series],
    batch: Option<&BTreeSet<(String, String)>>,
    owners: &Owners,
    stats: &mut JoinStats,
) -> SampleRows {
    // Several series of one container and metric (two scrape jobs, say) are folded by `max`.
    let mut groups: Grouped = BTreeMap::new();
    for (series, metric) in [(cpu, 0), (memory, 1)] {
        for s in series {
            let Some(key) = key_of(&s.labels) else {
                stats.unlabelled += 1;
                continue;
            };
            if batch.is_some_and(|b| !b.contains(&(key.0.clone(), key.1.clone()))) {
                stats.outside += 1;
                continue;
            }
            groups.entry(key).or_default()[metric].push(&s.points);
        }
    }
    let mut out = SampleRows::new();
    out.rows
        .reserve(cpu.iter().map(|s| s.points.len()).sum::<usize>().min(memory.iter().map(|s| s.points.len()).sum()));
    let mut resolved: HashMap<(String, String), (String, String)> = HashMap::new();
    for ((namespace, pod, container), [c, m]) in groups {
        let (cpu, memory) = (merged(&c, stats), merged(&m, stats));
        let (workload_kind, workload) = resolved
            .entry((namespace.clone(), pod.clone()))
            .or_insert_with(|| {
                let (k, w, _) = owners.resolve(&namespace, &pod);
                (k, w)
            })
            .clone();
        let names = SeriesNames { namespace, workload_kind, workload, pod, container, ..SeriesNames::default() };
        pair_points(&cpu, &memory, names, &mut out, stats);
    }
    out
}

/// Rows where both metrics have a point; the rest count as unpaired. The series is named in
/// `out` only when it gets a row.
fn pair_points(
    cpu: &[(i64, f64)],
    memory: &[(i64, f64)],
    names: SeriesNames,
    out: &mut SampleRows,
    stats: &mut JoinStats,
) {
    let mut names = Some(names);
    let mut id = None;
    let (mut i, mut j, mut paired) = (0, 0, 0);
    while i < cpu.len() && j < memory.len() {
        let (t, c) = cpu[i];
        match t.cmp(&memory[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let series = *id.get_or_insert_with(|| out.series_id(names.take().expect("named once")));
                out.push(series, t, c, memory[j].1);
                (i, j, paired) = (i + 1, j + 1, paired + 1);
            }
        }
    }
    stats.unpaired += (cpu.len() + memory.len() - 2 * paired) as u64;
}

/// One metric's points of one container, valid ones only, sorted by time, one per instant
/// (the highest): borrowed when the single series already is.
fn merged<'a>(parts: &[&'a [(i64, f64)]], stats: &mut JoinStats) -> Points<'a> {
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    if let [only] = parts {
        if only.iter().all(|p| valid(p.1)) && only.windows(2).all(|w| w[0].0 < w[1].0) {
            return Points::Borrowed(only);
        }
    }
    let mut points: Vec<(i64, f64)> = Vec::new();
    for p in parts.iter().flat_map(|p| p.iter()) {
        if valid(p.1) {
            points.push(*p);
        } else {
            stats.non_finite += 1;
        }
    }
    points.sort_by_key(|p| p.0);
    points.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.max(later.1);
        }
        same
    });
    Points::Owned(points)
}

/// What kube-state-metrics says about one workload container.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ContainerSettings {
    pub namespace: String,
    pub workload_kind: String,
    pub workload: String,
    pub container: String,
    /// Requests and limits of the pods seen in the last hour (highest across pods).
    pub resources: Resources,
    /// Pods whose last termination of this container was an OOM kill.
    pub oom_killed_pods: Vec<String>,
}

/// Folds requests/limits vectors and OOM-kill series into per-workload-container settings.
pub(crate) fn container_settings(
    requests: &[(Labels, f64)],
    limits: &[(Labels, f64)],
    oom_killed: &[Labels],
    owners: &Owners,
) -> Vec<ContainerSettings> {
    let mut by_key: BTreeMap<(String, String, String, String), ContainerSettings> = BTreeMap::new();
    fn entry<'m>(
        by_key: &'m mut BTreeMap<(String, String, String, String), ContainerSettings>,
        owners: &Owners,
        l: &Labels,
    ) -> Option<&'m mut ContainerSettings> {
        let (ns, pod, container) = key_of(l)?;
        let (kind, workload, _) = owners.resolve(&ns, &pod);
        Some(by_key.entry((ns.clone(), kind.clone(), workload.clone(), container.clone())).or_insert_with(|| {
            ContainerSettings { namespace: ns, workload_kind: kind, workload, container, ..Default::default() }
        }))
    }
    for (vector, is_limit) in [(requests, false), (limits, true)] {
        for (l, v) in vector {
            if !v.is_finite() {
                continue;
            }
            let resource = label(l, "resource").unwrap_or("").to_string();
            let Some(e) = entry(&mut by_key, owners, l) else { continue };
            let slot = match (resource.as_str(), is_limit) {
                ("cpu", false) => &mut e.resources.cpu_request_cores,
                ("cpu", true) => &mut e.resources.cpu_limit_cores,
                ("memory", false) => &mut e.resources.memory_request_bytes,
                ("memory", true) => &mut e.resources.memory_limit_bytes,
                _ => continue,
            };
            *slot = Some(slot.map_or(*v, |o| o.max(*v)));
        }
    }
    for l in oom_killed {
        let pod = label(l, "pod").unwrap_or("").to_string();
        if let Some(e) = entry(&mut by_key, owners, l) {
            if !e.oom_killed_pods.contains(&pod) {
                e.oom_killed_pods.push(pod);
            }
        }
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn join_pairs_cpu_and_memory_and_counts_the_rest() {
        let l = labels(&[("namespace", "ns"), ("pod", "p-0"), ("container", "c")]);
        let cpu = vec![
            Series { labels: l.clone(), points: vec![(60_000, 0.5), (120_000, f64::NAN), (180_000, 0.7)] },
            Series {
                labels: labels(&[("namespace", "ns"), ("pod", "other"), ("container", "c")]),
                points: vec![(60_000, 1.0)],
            },
            Series { labels: labels(&[("pod", "p-0")]), points: vec![(60_000, 1.0)] },
        ];
        let mem =
            vec![Series { labels: l, points: vec![(0, 1.0), (60_000, 100.0), (120_000, 200.0), (180_000, 300.0)] }];
        let members: BTreeSet<(String, String)> = [("ns".to_string(), "p-0".to_string())].into();
        let mut stats = JoinStats::default();
        let samples = join_samples(&cpu, &mem, Some(&members), &Owners::default(), &mut stats).to_samples();
        assert_eq!(samples.len(), 2);
        assert_eq!((samples[0].timestamp_ms, samples[0].cpu_cores, samples[0].memory_bytes), (60_000, 0.5, 100.0));
        assert_eq!(samples[1].memory_bytes, 300.0);
        assert_eq!(samples[0].workload_kind, "Pod");
        assert_eq!(stats, JoinStats { unpaired: 2, non_finite: 1, unlabelled: 1, outside: 1 });
    }

    #[test]
    fn settings_fold_per_workload_container() {
        let pod_owner = vec![
            labels(&[
                ("namespace", "ns"),
                ("pod", "db-0"),
                ("owner_kind", "StatefulSet"),
                ("owner_name", "db"),
                ("owner_is_controller", "true"),
            ]),
            labels(&[
                ("namespace", "ns"),
                ("pod", "db-1"),
                ("owner_kind", "StatefulSet"),
                ("owner_name", "db"),
                ("owner_is_controller", "true"),
            ]),
        ];
        let o = Owners::from_series(&pod_owner, &[], &[]);
        let req = |pod: &str, r: &str, v: f64| {
            (labels(&[("namespace", "ns"), ("pod", pod), ("container", "pg"), ("resource", r)]), v)
        };
        let requests = vec![req("db-0", "cpu", 0.5), req("db-1", "cpu", 0.5), req("db-0", "memory", 1e9)];
        let limits = vec![req("db-1", "memory", 2e9)];
        let oom = vec![labels(&[("namespace", "ns"), ("pod", "db-1"), ("container", "pg"), ("reason", "OOMKilled")])];
        let s = container_settings(&requests, &limits, &oom, &o);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].workload_kind.as_str(), s[0].workload.as_str()), ("StatefulSet", "db"));
        assert_eq!(s[0].resources.cpu_request_cores, Some(0.5));
        assert_eq!(s[0].resources.memory_limit_bytes, Some(2e9));
        assert_eq!(s[0].resources.cpu_limit_cores, None);
        assert_eq!(s[0].oom_killed_pods, vec!["db-1".to_string()]);
    }
}

//! `podsizer verify`: for each container whose settings changed, when the change took effect
//! (the first hour a pod ran with the new values, from the outcome signals beside the samples,
//! `store::outcomes`), what its pods on the new values went through since, and the verdict
//! (`analysis::verdict`): holds, raise or revert.

use super::selection::{select, SelectionSettings};
use super::{EngineError, Note, Result};
use crate::analysis::verdict::{assess, Assessment, Observed, Thresholds};
use crate::domain::{ContainerKey, Resources};
use crate::sources::outcomes::{ContainerOutcomes, Span, BUCKET_MS};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What to verify.
#[derive(Debug, Default)]
pub struct VerifySettings {
    /// Which store, window and containers to check.
    pub selection: SelectionSettings,
    /// Thresholds the verdicts are judged against.
    pub thresholds: Thresholds,
}

/// A change of a container's settings, as the pods ran it.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The settings the older pods ran with.
    pub before: Resources,
    /// The settings the newest pods run with.
    pub after: Resources,
    /// The first hour bucket in which a pod ran with `after`.
    pub effective_ms: i64,
    /// The last hour bucket with a pod on `after`.
    pub through_ms: i64,
    /// The first hour bucket in which a pod ran with `before`.
    pub before_from_ms: i64,
    /// Pods that ran with `before`.
    pub before_pods: BTreeSet<String>,
    /// Pods that ran with `after`.
    pub after_pods: BTreeSet<String>,
}

/// One container's check.
#[derive(Debug, Clone)]
pub struct ContainerCheck {
    /// The container checked.
    pub key: ContainerKey,
    /// Its newest settings change.
    pub change: Change,
    /// Its outcome signals before and after the change.
    pub observed: Observed,
    /// The verdict drawn from them.
    pub assessment: Assessment,
}

/// A whole verify run.
#[derive(Debug)]
pub struct VerifyRun {
    /// Containers whose settings changed, by verdict (revert first) then name.
    pub checks: Vec<ContainerCheck>,
    /// Selected containers whose settings did not change in the recorded history.
    pub unchanged: usize,
    /// Selected containers without any recorded settings (no outcome signals).
    pub without_settings: usize,
    /// What the run noticed along the way.
    pub notes: Vec<Note>,
}

/// The newest change of `c`'s settings: the values its newest pods ran with (`after`) and
/// those in force just before they appeared (`before`). `None` when its pods all ran one set.
pub fn find_change(c: &ContainerOutcomes) -> Option<Change> {
    // Each distinct set of values, with when pods first and last ran with it.
    let mut variants: Vec<(Resources, i64, i64, BTreeSet<String>)> = Vec::new();
    for s in &c.settings {
        match variants.iter_mut().find(|v| v.0 == s.resources) {
            Some(v) => {
                v.1 = v.1.min(s.from_ms);
                v.2 = v.2.max(s.to_ms);
                v.3.insert(s.pod.clone());
            }
            None => variants.push((s.resources, s.from_ms, s.to_ms, BTreeSet::from([s.pod.clone()]))),
        }
    }
    let newest = variants.iter().max_by_key(|v| v.1)?;
    let before = variants.iter().filter(|v| v.1 < newest.1).max_by_key(|v| v.2)?;
    Some(Change {
        before: before.0,
        after: newest.0,
        effective_ms: newest.1,
        through_ms: newest.2,
        before_from_ms: before.1,
        before_pods: before.3.clone(),
        after_pods: newest.3.clone(),
    })
}

fn known(spans: &[Span], from_ms: i64, to_ms: i64) -> bool {
    spans.iter().any(|s| s.overlaps(from_ms, to_ms))
}

/// The outcome signals of the pods on the new values since the change (no usage yet).
pub fn observe_outcomes(c: &ContainerOutcomes, change: &Change) -> Observed {
    let (from, to) = (change.effective_ms, change.through_ms);
    let after = |pod: &str, hour: i64| change.after_pods.contains(pod) && hour >= from;
    let restarts_known = known(&c.known.restarts, from, to);
    let since = c.restarts.iter().filter(|r| after(&r.pod, r.hour_ms));
    let (ooms, others) = since.fold((0.0, 0.0), |(o, x), r| (o + r.oom_kills, x + r.restarts - r.oom_kills));
    let before_hours = ((from - change.before_from_ms) as f64 / BUCKET_MS as f64).max(1.0);
    let before_others: f64 = c
        .restarts
        .iter()
        .filter(|r| change.before_pods.contains(&r.pod) && r.hour_ms < from)
        .map(|r| r.restarts - r.oom_kills)
        .sum();
    let evictions = c.evictions.iter().filter(|e| after(&e.pod, e.hour_ms)).count() as f64;
    let (throttled, periods) = c
        .throttling
        .iter()
        .filter(|t| t.hour_ms >= from && t.resources == Some(change.after))
        .fold((0.0, 0.0), |(a, b), t| (a + t.throttled_periods, b + t.periods));
    let throttling_known = known(&c.known.throttling, from, to);
    Observed {
        hours: (to - from) as f64 / BUCKET_MS as f64,
        pods: change.after_pods.len(),
        oom_kills: restarts_known.then_some(ooms),
        other_restarts: restarts_known.then_some(others),
        other_restarts_per_hour_before: known(&c.known.restarts, change.before_from_ms, from - 1)
            .then_some(before_others / before_hours),
        evictions: known(&c.known.evictions, from, to).then_some(evictions),
        throttled_share: throttling_known.then_some(if periods > 0.0 { throttled / periods } else { 0.0 }),
        ..Observed::default()
    }
}

/// Usage of the pods on the new values, against the new request and limit.
#[derive(Debug, Default, Clone, Copy)]
struct UsageTally {
    samples: u64,
    cpu_above_limit: u64,
    cpu_used: f64,
    cpu_above_limit_time: f64,
    memory_above_request: u64,
    peak_memory: f64,
}

impl UsageTally {
    fn add(&mut self, after: &Resources, cpu: f64, memory: f64) {
        self.samples += 1;
        self.cpu_above_limit += u64::from(after.cpu_limit_cores.is_some_and(|l| cpu > l));
        self.cpu_used += cpu;
        self.cpu_above_limit_time += after.cpu_limit_cores.map_or(0.0, |l| (cpu - l).max(0.0));
        self.memory_above_request += u64::from(after.memory_request_bytes.is_some_and(|r| memory > r));
        self.peak_memory = self.peak_memory.max(memory);
    }

    fn into(self, after: &Resources, observed: &mut Observed) {
        observed.samples = self.samples;
        if self.samples == 0 {
            return;
        }
        let share = |n: u64| n as f64 / self.samples as f64;
        observed.cpu_above_limit_share = after.cpu_limit_cores.map(|_| share(self.cpu_above_limit));
        // Samples are evenly spaced per container, so sums of cores stand for core-seconds.
        observed.cpu_time_above_limit_share = after.cpu_limit_cores.map(|_| {
            if self.cpu_used > 0.0 {
                self.cpu_above_limit_time / self.cpu_used
            } else {
                0.0
            }
        });
        observed.memory_above_request_share = after.memory_request_bytes.map(|_| share(self.memory_above_request));
        observed.peak_working_set_bytes = Some(self.peak_memory);
    }
}

/// The outcome signals recorded beside the selection's stores, per container.
pub fn load_outcomes(selection: &super::selection::Selection) -> Result<BTreeMap<ContainerKey, ContainerOutcomes>> {
    let mut outcomes: BTreeMap<ContainerKey, ContainerOutcomes> = BTreeMap::new();
    for input in &selection.inputs {
        if let super::inputs::Input::Store(store) = input {
            for (k, c) in crate::store::outcomes::load(store.root()).map_err(EngineError::Outcomes)? {
                match outcomes.get_mut(&k) {
                    Some(old) => crate::store::outcomes::join(old, c),
                    None => drop(outcomes.insert(k, c)),
                }
            }
        }
    }
    Ok(outcomes)
}

/// Verifies every selected container whose settings changed.
pub fn verify(settings: VerifySettings) -> Result<VerifyRun> {
    let selection = select(settings.selection)?;
    let outcomes = load_outcomes(&selection)?;
    let changes: HashMap<ContainerKey, Change> =
        outcomes.iter().filter_map(|(k, c)| find_change(c).map(|ch| (k.clone(), ch))).collect();
    // One pass over the samples: the selected containers, and the usage of the new pods.
    let mut selected: BTreeSet<ContainerKey> = BTreeSet::new();
    let mut tallies: HashMap<ContainerKey, UsageTally> = HashMap::new();
    let mut last: Option<(u64, ContainerKey)> = None;
    let rows = selection.for_each(|r| {
        let key = match &last {
            Some((id, key)) if r.series != 0 && *id == r.series => key.clone(),
            _ => {
                let key = ContainerKey {
                    workload: crate::domain::Workload {
                        cluster: r.cluster.into(),
                        namespace: r.namespace.into(),
                        kind: r.workload_kind.into(),
                        name: r.workload.into(),
                    },
                    container: r.container.into(),
                };
                last = Some((r.series, key.clone()));
                key
            }
        };
        if let Some(change) = changes.get(&key) {
            if change.after_pods.contains(r.pod) && r.timestamp_ms > change.effective_ms - BUCKET_MS {
                tallies.entry(key.clone()).or_default().add(&change.after, r.cpu_cores, r.memory_bytes);
            }
        }
        if !selected.contains(&key) {
            selected.insert(key);
        }
    })?;
    if rows == 0 {
        return Err(EngineError::NoSamples(String::new()));
    }
    let mut checks = Vec::new();
    let (mut unchanged, mut without_settings) = (0, 0);
    for key in &selected {
        let (Some(c), Some(change)) = (outcomes.get(key), changes.get(key)) else {
            if outcomes.get(key).is_some_and(|c| !c.settings.is_empty()) {
                unchanged += 1;
            } else {
                without_settings += 1;
            }
            continue;
        };
        let mut observed = observe_outcomes(c, change);
        tallies.get(key).copied().unwrap_or_default().into(&change.after, &mut observed);
        let assessment = assess(&change.before, &change.after, &observed, &settings.thresholds);
        checks.push(ContainerCheck { key: key.clone(), change: change.clone(), observed, assessment });
    }
    checks.sort_by(|a, b| b.assessment.verdict.cmp(&a.assessment.verdict).then_with(|| a.key.cmp(&b.key)));
    let mut notes = selection.notes;
    if without_settings > 0 {
        notes.push(Note::Note(format!(
            "{without_settings} container(s) have no recorded settings over time (import from Prometheus with \
             kube-state-metrics to record them): nothing to verify for them"
        )));
    }
    Ok(VerifyRun { checks, unchanged, without_settings, notes })
}

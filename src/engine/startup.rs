//! Start-up periods in a sizing run: each pod's first samples read back from the inputs,
//! judged against the proposal's CPU limit (`analysis::startup`), and the boost patches.
//!
//! Usage comes from day summaries, which keep no order of samples, so the start-ups are read
//! from the rows again, but only the days on which some pod of a judged container appears for
//! the first time (plus the longest start-up after each): a store reads those day partitions
//! alone; a sample file is streamed once over the span of those days.

use super::inputs::Input;
use super::selection::Selection;
use super::Result;
use crate::analysis::series::SeriesBuilder;
use crate::analysis::startup::{self, Boost, StartupAdvice, StartupCpu, StartupProfile};
use crate::analysis::{ContainerUsage, PolicySet, Proposal, Recommendation};
use crate::domain::{ContainerKey, DAY_MS};
use std::collections::{BTreeSet, HashMap};

/// One container's start-up advice, for the boost patches.
#[derive(Debug, Clone)]
pub(crate) struct StartupFinding {
    pub(crate) key: ContainerKey,
    pub(crate) advice: StartupAdvice,
}

impl StartupFinding {
    /// The boost proposed, if any.
    pub(crate) fn boost(&self) -> Option<Boost> {
        self.advice.boost
    }
}

/// Measures the start-ups of every container whose policy looks at them and applies the
/// policy's choice to its recommendation (rationale, a raised limit, or a boost to write).
pub(crate) fn judge(
    selection: &mut Selection,
    usage: &[ContainerUsage],
    policy: &PolicySet,
    recs: &mut [Recommendation],
) -> Result<Vec<StartupFinding>> {
    // Projected traffic rescales samples; a start-up of a canary says nothing of full traffic.
    let judged: Vec<&ContainerUsage> = usage
        .iter()
        .filter(|u| policy.for_container(&u.key).0.startup.cpu != StartupCpu::Off)
        .filter(|u| !selection.traffic.iter().any(|t| t.workload == u.key.workload.name))
        .collect();
    let profiles = profiles(selection, &judged)?;
    let mut findings = Vec::new();
    for rec in recs.iter_mut() {
        let Some(profile) = profiles.get(&rec.key) else { continue };
        let (container_policy, _) = policy.for_container(&rec.key);
        let Proposal::Sized(sizing) = &mut rec.proposal else { continue };
        let step = container_policy.cpu.step_cores;
        let Some((advice, lines)) = startup::advise(profile.clone(), sizing, container_policy.startup.cpu, step) else {
            continue;
        };
        rec.rationale.extend(lines);
        if advice.raised_to.is_some() {
            crate::analysis::recommend::apply_caps(rec);
        }
        findings.push(StartupFinding { key: rec.key.clone(), advice });
    }
    Ok(findings)
}

/// Start-up profiles of `judged`, read from the days on which their pods first appear.
fn profiles(selection: &mut Selection, judged: &[&ContainerUsage]) -> Result<HashMap<ContainerKey, StartupProfile>> {
    // Per container: each pod's first day, and the window's first sample.
    let mut first_days: HashMap<&ContainerKey, HashMap<&str, i64>> = HashMap::new();
    let mut days = BTreeSet::new();
    for u in judged {
        let pods = first_days.entry(&u.key).or_default();
        for (day, d) in &u.days {
            for pod in d.pod_cpu.keys() {
                pods.entry(u.pods[*pod as usize].as_str()).or_insert(*day);
            }
        }
        // A pod first seen on the window's first day may only be a pod already running.
        let first_day = u.days.keys().next().copied();
        days.extend(pods.values().copied().filter(|d| Some(*d) != first_day || u.days.len() == 1));
    }
    if days.is_empty() {
        return Ok(HashMap::new());
    }
    let by_key: HashMap<&ContainerKey, &ContainerUsage> = judged.iter().map(|u| (&u.key, *u)).collect();
    let mut builder = SeriesBuilder::default();
    for (from, to) in ranges(&days, selection) {
        scan(selection, from, to, &mut |r| builder.observe(r))?;
    }
    let mut out = HashMap::new();
    for series in builder.finish() {
        let Some(u) = by_key.get(&series.key) else { continue };
        let (cpu, memory) = u.combined(|_| 1.0);
        let steady_cpu = cpu.percentile(startup::STEADY_CPU_PERCENTILE).unwrap_or(0.0);
        let steady_memory = memory.percentile(startup::STEADY_MEMORY_PERCENTILE).unwrap_or(0.0);
        let step = series.step_ms();
        let window_start = u.first_ms().unwrap_or(i64::MIN);
        let pods = &first_days[&u.key];
        // A pod's first point in a later scanned range is not its start: it started on its own first day.
        let starts: Vec<_> = startup::pod_starts(&series.points, steady_cpu, window_start, step)
            .into_iter()
            .filter(|s| pods.get(series.pods[s.pod as usize].as_str()) == Some(&day_of(s.start_ms)))
            .collect();
        if let Some(p) = startup::profile(&starts, steady_cpu, steady_memory, step) {
            out.insert(series.key.clone(), p);
        }
    }
    Ok(out)
}

fn day_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(DAY_MS)
}

/// The spans to read: each start day through the longest start-up after it, merged; one span
/// over all of them when an input is a file (it is streamed whole on every pass).
fn ranges(days: &BTreeSet<i64>, selection: &Selection) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = Vec::new();
    for d in days {
        let span = (*d, d + DAY_MS + startup::MAX_STARTUP_MS);
        match spans.last_mut() {
            Some(last) if span.0 <= last.1 => last.1 = last.1.max(span.1),
            _ => spans.push(span),
        }
    }
    let all_stores = selection.inputs.iter().all(|i| matches!(i, Input::Store(_)));
    if !all_stores && spans.len() > 1 {
        let (first, last) = (spans[0].0, spans[spans.len() - 1].1);
        spans = vec![(first, last)];
    }
    spans
}

/// Streams the selection's rows in `[from, to)` (within its own window) to `visit`.
fn scan(
    selection: &mut Selection,
    from: i64,
    to: i64,
    visit: &mut dyn FnMut(&crate::domain::SampleRef<'_>),
) -> Result<()> {
    let (since, until) = (selection.since, selection.until);
    selection.since = Some(since.map_or(from, |s| s.max(from)));
    selection.until = Some(until.map_or(to, |u| u.min(to)));
    let read = selection.for_each(visit);
    (selection.since, selection.until) = (since, until);
    read.map(|_| ())
}

//! One sizing run, shared by `recommend`, `report` and `pr`: current settings, usage, a
//! `Recommendation` per container (HPA advice, runtime advice, traffic projection) and the
//! HPA and runtime patches that go with the proposals.

use super::current::{current_settings, LiveSettings};
use super::selection::{select, Selection, SelectionSettings};
use super::{EngineError, Note, Progress, Result};
use crate::analysis::runtimes::{self, ContainerRuntime, Measured};
use crate::analysis::{
    recommend, strategy_by_name, PolicySet, Proposal, Recommendation, SizingInput, Strategy, STRATEGY_NAMES,
};
use crate::domain::Resources;
use crate::outputs::kustomize::{self, Kubectl, RenderedWorkload};
use crate::outputs::runtime_patches::runtime_patches;
use crate::outputs::runtime_settings::RuntimeOverlay;
use crate::sources::input_file::{read_to_string_bounded, POLICY_MAX_BYTES};
use std::path::{Path, PathBuf};

/// How to size, besides which samples.
#[derive(Debug, Clone)]
pub struct SizingSettings {
    /// The policies: defaults and per-container overrides ([`load_policy`] reads a file).
    pub policy: PolicySet,
    /// The strategy's name (see [`strategy`]); `podsizer` by default.
    pub strategy: String,
    /// Size containers even with less history than the policy asks for.
    pub force: bool,
    /// Overlay to read current settings from.
    pub overlay: Option<PathBuf>,
    /// Live cluster to read current settings from (with an overlay: to show drift).
    pub live: Option<LiveSettings>,
    /// The kubectl that renders the overlay.
    pub kubectl: Kubectl,
}

impl Default for SizingSettings {
    fn default() -> Self {
        SizingSettings {
            policy: PolicySet::default(),
            strategy: "podsizer".into(),
            force: false,
            overlay: None,
            live: None,
            kubectl: Kubectl::default(),
        }
    }
}

/// The strategy of that name, or an error listing the known ones.
pub fn strategy(name: &str) -> Result<Box<dyn Strategy>> {
    strategy_by_name(name.trim())
        .ok_or_else(|| EngineError::UnknownStrategy { name: name.to_string(), known: STRATEGY_NAMES.join(", ") })
}

/// The policy file's policies, or the defaults. The file is read with a bound (a policy file
/// that never ends is refused, not read into memory).
pub fn load_policy(path: Option<&Path>) -> Result<PolicySet> {
    let Some(path) = path else { return Ok(PolicySet::default()) };
    let text = read_to_string_bounded(path, POLICY_MAX_BYTES)
        .map_err(|source| crate::analysis::PolicyError::Io { path: path.into(), source })?;
    Ok(PolicySet::parse(path, &text)?)
}

/// Everything `recommend` needs besides the samples.
pub struct SizingContext<'a> {
    /// As [`SizingSettings::policy`].
    pub policy: &'a PolicySet,
    /// As [`SizingSettings::strategy`].
    pub strategy: &'a str,
    /// As [`SizingSettings::force`].
    pub force: bool,
    /// Rendered overlay, for current values.
    pub overlay: &'a [RenderedWorkload],
    /// php-fpm, envoy and nginx settings read from the overlay.
    pub runtimes: &'a RuntimeOverlay,
}

/// Sizes every container in the selection.
pub fn recommend_all(
    selection: &mut Selection,
    context: &SizingContext<'_>,
    progress: &dyn Progress,
    timings: &mut Timings,
) -> Result<Vec<Recommendation>> {
    Ok(recommend_with_startups(selection, context, progress, timings)?.0)
}

/// [`recommend_all`], with the start-up rule applied and its findings (boosts to write).
fn recommend_with_startups(
    selection: &mut Selection,
    context: &SizingContext<'_>,
    progress: &dyn Progress,
    timings: &mut Timings,
) -> Result<(Vec<Recommendation>, Vec<super::startup::StartupFinding>)> {
    // An unknown strategy fails before any sample is read.
    strategy(context.strategy)?;
    let started = std::time::Instant::now();
    let usage = selection.usage(progress)?;
    timings.usage_seconds = started.elapsed().as_secs_f64();
    let window_end = selection.until.unwrap_or_else(|| {
        usage.iter().filter_map(podsizer_core::analysis::ContainerUsage::last_ms).max().unwrap_or(0)
    });
    let mut recs = size_usage(&usage, &selection.facts(), selection.since, window_end, context)?;
    for rec in &mut recs {
        if let Some(note) = selection.projection(&rec.key) {
            rec.rationale.insert(0, note.clone());
        }
    }
    // Start-up apart from steady state: the rows of pods' first days are read again.
    let startups = super::startup::judge(selection, &usage, context.policy, &mut recs)?;
    timings.sizing_seconds = started.elapsed().as_secs_f64();
    Ok((recs, startups))
}

/// Sizes each container of `usage` (a window `[since, window_end)`) with the side files' facts
/// (current settings, OOM kills, php-fpm exporter figures): the part of a sizing run that
/// needs usage, not samples, so the fleet's central run sizes from day summaries alone.
pub(crate) fn size_usage(
    usage: &[crate::analysis::ContainerUsage],
    facts: &crate::store::facts::Facts,
    since: Option<i64>,
    window_end: i64,
    context: &SizingContext<'_>,
) -> Result<Vec<Recommendation>> {
    let strategy = strategy(context.strategy)?;
    let per_pod = containers_per_workload(usage.iter().map(|u| &u.key));
    // Side-file figures are input like samples: one out of bounds fails the run, naming where.
    if let Some((path, reason)) = facts.rejected.first() {
        return Err(EngineError::Input { path: path.clone(), reason: reason.clone() });
    }
    let mut recs = Vec::with_capacity(usage.len());
    for u in usage {
        let (mut policy, applied) = context.policy.for_container(&u.key);
        if context.force {
            policy.history.min_span_ms = 0;
            policy.history.min_samples = 1;
        }
        // What the overlay says wins; otherwise what a collector or importer last saw.
        let current = current_for(context.overlay, u).or_else(|| facts.current.get(&u.key).copied());
        let input = SizingInput {
            usage: u,
            policy: &policy,
            current: current.as_ref(),
            window_end_ms: window_end,
            containers_in_pod: per_pod[&u.key.workload],
            oom_limit_bytes: facts.oom_limit(&u.key, since),
        };
        let mut rec = recommend(strategy.as_ref(), &input, &applied);
        let runtime = context.runtimes.find(&u.key).map(|runtime| {
            let measured = Measured {
                peak_working_set_bytes: u.memory_max(),
                php_fpm: facts.php_fpm.get(&u.key).map(exporter_facts),
            };
            (runtime, measured)
        });
        finish(&mut rec, runtime.as_ref().map(|(r, m)| (*r, m)), &policy);
        recs.push(rec);
    }
    Ok(recs)
}

/// The rules that run on a strategy's proposal, then the caps: every rule runs before them,
/// so none (php-fpm's refusal raises the memory limit) can lift a figure past what one
/// container can use.
fn finish(rec: &mut Recommendation, runtime: Option<(&ContainerRuntime, &Measured)>, policy: &crate::analysis::Policy) {
    if let Some((runtime, measured)) = runtime {
        advise_runtime(rec, runtime, policy, measured);
    }
    crate::analysis::recommend::apply_caps(rec);
}

fn exporter_facts(f: &crate::store::facts::PhpFpmFacts) -> runtimes::php_fpm::ExporterFacts {
    runtimes::php_fpm::ExporterFacts {
        per_child_peak_bytes: f.per_child_peak_bytes,
        max_active: f.max_active,
        max_total: f.max_total,
        max_children_reached: f.max_children_reached,
    }
}

/// Judges a container's runtime settings with its sizing and says what was read, proposed
/// and could not be read in the rationale.
fn advise_runtime(
    rec: &mut Recommendation,
    runtime: &ContainerRuntime,
    policy: &crate::analysis::Policy,
    measured: &Measured,
) {
    let current_limit = rec.current.and_then(|c| c.memory_limit_bytes);
    let Proposal::Sized(sizing) = &mut rec.proposal else { return };
    let advice = runtimes::advise(runtime, sizing, current_limit, policy, measured);
    if !advice.found.is_empty() {
        rec.rationale.push(format!("{} settings read: {}", advice.runtime, advice.found.join("; ")));
    }
    rec.rationale.extend(advice.rationale.iter().cloned());
    rec.rationale.extend(advice.unread.iter().map(|u| format!("{} setting not read: {u}", advice.runtime)));
    rec.rationale.extend(advice.risks.iter().map(|r| format!("risk now: {r}")));
    rec.runtime = Some(advice);
}

/// How many containers each workload's pods run (as seen in the samples).
pub fn containers_per_workload<'a>(
    keys: impl IntoIterator<Item = &'a crate::domain::ContainerKey>,
) -> std::collections::HashMap<crate::domain::Workload, usize> {
    let mut counts = std::collections::HashMap::new();
    for k in keys {
        *counts.entry(k.workload.clone()).or_insert(0) += 1;
    }
    counts
}

fn current_for(overlay: &[RenderedWorkload], u: &crate::analysis::ContainerUsage) -> Option<Resources> {
    let w = &u.key.workload;
    overlay
        .iter()
        .find(|x| x.kind == w.kind && x.name == w.name && x.namespace.as_deref().is_none_or(|ns| ns == w.namespace))?
        .containers
        .iter()
        .find(|(n, _)| *n == u.key.container)
        .map(|(_, r)| *r)
}

/// True when a sized proposal differs from what is set now, runtime settings included
/// (`analysis::changes`, the one notion of a change).
pub fn changes_anything(r: &Recommendation) -> bool {
    crate::analysis::changes::changes_anything(r)
}

/// Everything one sizing run produced: the shared first half of `recommend`, `report` and `pr`.
pub struct SizingRun {
    /// The samples read, with the resolved window (reports read raw series from it again).
    pub selection: Selection,
    /// Current settings: the rendered overlay, or the live cluster's objects; empty with neither.
    pub overlay: kustomize::Overlay,
    /// One per container in the selection, in container order.
    pub recommendations: Vec<Recommendation>,
    /// HPA patches that keep scaling thresholds in place (only `recommend` and `pr` write them).
    pub hpa_patches: Vec<kustomize::PatchFile>,
    /// php-fpm pool, nginx.conf and envoy args patches matching the proposals.
    pub runtime_patches: Vec<kustomize::PatchFile>,
    /// Notes, warnings and drift, in the order they arose.
    pub notes: Vec<Note>,
    /// Where the run's time went.
    pub timings: Timings,
}

/// Where a run's time went, for benchmarks (`PODSIZER_STATS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// From the start of sizing to usage built.
    pub usage_seconds: f64,
    /// From the start of sizing to every recommendation made.
    pub sizing_seconds: f64,
}

/// Renders the overlay (before reading samples, so a broken overlay fails fast and nothing is
/// written), sizes every container and applies HPA advice.
pub fn size_all(input: SelectionSettings, sizing: &SizingSettings, progress: &dyn Progress) -> Result<SizingRun> {
    let SizingSettings { policy, strategy, force, overlay: overlay_dir, live, kubectl } = sizing;
    let mut notes = Vec::new();
    let overlay = current_settings(overlay_dir.as_deref(), kubectl, live.as_ref(), &mut notes)?;
    let mut selection = select(input)?;
    let flagged: Vec<String> = selection.traffic.iter().map(|t| t.workload.clone()).collect();
    selection.add_policy_traffic(&policy.traffic);
    for h in &overlay.hpas {
        selection.skip_traffic_for(&h.target_name, &h.hpa.name);
    }
    let context =
        SizingContext { policy, strategy, force: *force, overlay: &overlay.workloads, runtimes: &overlay.runtimes };
    let mut timings = Timings::default();
    let (mut recommendations, startups) = recommend_with_startups(&mut selection, &context, progress, &mut timings)?;
    shares_name_known_workloads(&flagged, &recommendations)?;
    let clusters = || recommendations.iter().map(|r| r.key.workload.cluster.as_str());
    if let Some(dir) = overlay_dir {
        one_cluster(&format!("the overlay {}", dir.display()), clusters())?;
    } else if let Some(live) = live {
        one_cluster(&live.describe(), clusters())?;
    }
    let hpa_patches = apply_hpa_advice(&overlay.hpas, &mut recommendations, &mut notes);
    // A shared file that cannot get one safe value stops a run that may write the overlay; a
    // run on the live cluster alone writes nothing, so it reports without those patches.
    let runtime_patches = match runtime_patches(&overlay.workloads, &overlay.runtimes, &mut recommendations) {
        Err(e) if overlay_dir.is_none() => {
            notes.push(Note::Warning(format!("warning: {e}")));
            Vec::new()
        }
        other => other?,
    };
    // Start-up boosts ride with the runtime patches: every command that writes those writes them.
    let mut runtime_patches = runtime_patches;
    let boosts: Vec<_> = startups.iter().filter_map(|f| Some((f.key.clone(), f.boost()?))).collect();
    runtime_patches.extend(crate::outputs::startup_boost::boost_patches(overlay_dir.as_deref(), &boosts, kubectl)?);
    notes.append(&mut selection.notes);
    Ok(SizingRun { selection, overlay, recommendations, hpa_patches, runtime_patches, notes, timings })
}

/// A `--traffic-share` for a workload that is not in the window is a typo or the wrong
/// input: ignoring it would size the real workload at the wrong traffic without a word.
fn shares_name_known_workloads(flagged: &[String], recs: &[Recommendation]) -> Result<()> {
    let mut known: Vec<&str> = recs.iter().map(|r| r.key.workload.name.as_str()).collect();
    known.sort_unstable();
    known.dedup();
    if let Some(unknown) = flagged.iter().find(|w| !known.contains(&w.as_str())) {
        let shown: Vec<String> = known.iter().take(10).map(|w| crate::outputs::format::printable(w)).collect();
        let more = if known.len() > 10 { format!(" and {} more", known.len() - 10) } else { String::new() };
        return Err(EngineError::UnknownTrafficWorkload {
            name: crate::outputs::format::printable(unknown),
            known: format!("{}{more}", shown.join(", ")),
        });
    }
    Ok(())
}

/// An overlay (or a live cluster) is one cluster: its current settings and patches must not be
/// matched against, or made from, several clusters' workloads of the same names.
pub fn one_cluster<'a>(target: &str, clusters: impl Iterator<Item = &'a str>) -> Result<()> {
    let clusters: std::collections::BTreeSet<&str> = clusters.collect();
    if clusters.len() > 1 {
        let names: Vec<&str> = clusters.iter().map(|c| if c.is_empty() { "(no cluster)" } else { c }).collect();
        return Err(EngineError::SeveralClusters {
            count: clusters.len(),
            names: names.join(", "),
            target: target.to_string(),
        });
    }
    Ok(())
}

/// For each workload an HPA scales: explains what the new requests do to scaling (in every
/// container's rationale), warns of what podsizer cannot keep in place (metrics it cannot
/// move, targets out of the API's range) and returns the HPA patches that keep the
/// threshold in place.
pub fn apply_hpa_advice(
    hpas: &[kustomize::RenderedHpa],
    recs: &mut [Recommendation],
    notes: &mut Vec<Note>,
) -> Vec<kustomize::PatchFile> {
    let mut patches = Vec::new();
    for h in hpas {
        let targets = |r: &Recommendation| {
            r.key.workload.kind == h.target_kind
                && r.key.workload.name == h.target_name
                && h.namespace.as_deref().is_none_or(|ns| ns == r.key.workload.namespace)
        };
        let members: Vec<&Recommendation> = recs.iter().filter(|r| targets(r)).collect();
        if members.is_empty() {
            continue;
        }
        let replicas = members.iter().find_map(|r| r.replicas);
        let advice = crate::analysis::hpa::advise(&h.hpa, &members, replicas);
        for r in recs.iter_mut().filter(|r| targets(r)) {
            r.rationale.extend(advice.notes.iter().cloned());
            r.rationale.extend(advice.warnings.iter().map(|w| format!("warning: {w}")));
        }
        notes.extend(advice.warnings.iter().map(|w| Note::Warning(format!("warning: {w}"))));
        patches.extend(kustomize::hpa_patch(h, &advice));
    }
    patches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::runtimes::{php_fpm, Origin, RuntimeSettings};
    use crate::analysis::{Proposal, Sizing};
    use crate::domain::bounds::{MAX_CORES, MAX_MEMORY_BYTES};
    use crate::domain::{ContainerKey, Resources};

    fn rec(limit_bytes: f64) -> Recommendation {
        Recommendation {
            key: ContainerKey { workload: Default::default(), container: "php-fpm".into() },
            strategy: "podsizer".into(),
            proposal: Proposal::Sized(Sizing {
                cpu_request_cores: 0.5,
                cpu_limit_cores: Some(1.0),
                memory_request_bytes: limit_bytes / 2.0,
                memory_limit_bytes: limit_bytes,
            }),
            current: Some(Resources { memory_limit_bytes: Some(limit_bytes), ..Default::default() }),
            samples: 1000,
            pods: 1,
            first_ms: None,
            last_ms: None,
            confidence: 1.0,
            rationale: vec![],
            replicas: None,
            runtime: None,
        }
    }

    fn pool(children: u32) -> ContainerRuntime {
        let mut p = php_fpm::Pool::default();
        let origin = Origin::ConfigMap { name: "api-php-fpm".into(), key: "www.conf".into() };
        p.set("pm.max_children", &children.to_string(), origin).unwrap();
        ContainerRuntime {
            kind: "Deployment".into(),
            workload: "api".into(),
            namespace: None,
            container: "php-fpm".into(),
            settings: RuntimeSettings::PhpFpm(Box::new(p)),
            unread: vec![],
            raw: Default::default(),
        }
    }

    fn measured(per_child: f64) -> Measured {
        Measured {
            peak_working_set_bytes: 1e9,
            php_fpm: Some(php_fpm::ExporterFacts { per_child_peak_bytes: Some(per_child), ..Default::default() }),
        }
    }

    #[test]
    fn caps_hold_after_php_fpm_raises_the_limit() {
        let mut keep = crate::analysis::Policy::default();
        keep.php_fpm.lower_max_children = false;
        let gi = 1024f64.powi(3);
        // (pm.max_children, per child bytes): the refusal needs 97.7Ti, 12.5Pi, ~2^72 bytes.
        for (children, per_child) in [(50, 2000.0 * gi), (200, MAX_MEMORY_BYTES), (u32::MAX, MAX_MEMORY_BYTES)] {
            let mut r = rec(gi);
            finish(&mut r, Some((&pool(children), &measured(per_child))), &keep);
            let s = r.sizing().unwrap();
            assert_eq!(s.memory_limit_bytes, MAX_MEMORY_BYTES, "{children} x {per_child}");
            assert!(r.rationale.iter().any(|l| l.starts_with("memory limit capped at 64Ti")), "{:?}", r.rationale);
            assert!(r.rationale.iter().any(|l| l.contains("php-fpm: refused memory limit")), "{:?}", r.rationale);
        }
    }

    #[test]
    fn no_rule_and_no_input_lifts_a_figure_past_the_caps() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 256,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            ..Default::default()
        });
        let gi = 1024f64.powi(3);
        runner
            .run(
                &(1u32..=u32::MAX, 0.0..=MAX_MEMORY_BYTES, 1.0..=64.0 * gi, any::<bool>()),
                |(children, per_child, limit, lower)| {
                    let mut policy = crate::analysis::Policy::default();
                    policy.php_fpm.lower_max_children = lower;
                    let mut r = rec(limit);
                    finish(&mut r, Some((&pool(children), &measured(per_child))), &policy);
                    let s = r.sizing().unwrap();
                    for v in [s.memory_limit_bytes, s.memory_request_bytes] {
                        prop_assert!(v.is_finite() && (0.0..=MAX_MEMORY_BYTES).contains(&v), "{}", v);
                    }
                    for v in [Some(s.cpu_request_cores), s.cpu_limit_cores].into_iter().flatten() {
                        prop_assert!(v.is_finite() && (0.0..=MAX_CORES).contains(&v), "{}", v);
                    }
                    prop_assert!(s.memory_request_bytes <= s.memory_limit_bytes);
                    Ok(())
                },
            )
            .unwrap();
    }
}

//! `podsizer recommend`

use crate::analysis::runtimes::{self, ContainerRuntime, Measured};
use crate::analysis::{recommend, strategy_by_name, PolicySet, Proposal, Recommendation, SizingInput, STRATEGY_NAMES};
use crate::cli::args::RecommendArgs;
use crate::cli::inputs::{select, Selection};
use crate::cli::progress::note;
use crate::domain::Resources;
use crate::outputs::kustomize::{self, RenderedWorkload};
use crate::outputs::runtime_patches::runtime_patches;
use crate::outputs::runtime_settings::RuntimeOverlay;
use crate::outputs::{document, render};
use anyhow::{anyhow, Result};
use std::io::Write;
use std::path::Path;

/// Everything `recommend` needs besides the samples.
pub struct Plan<'a> {
    pub policy: &'a PolicySet,
    pub strategy: &'a str,
    pub force: bool,
    /// Rendered overlay, for current values.
    pub overlay: &'a [RenderedWorkload],
    /// php-fpm, envoy and nginx settings read from the overlay.
    pub runtimes: &'a RuntimeOverlay,
}

pub fn load_policy(path: Option<&Path>) -> Result<PolicySet> {
    Ok(match path {
        Some(p) => PolicySet::load(p)?,
        None => PolicySet::default(),
    })
}

/// Sizes every container in the selection.
pub fn recommend_all(selection: &Selection, plan: &Plan<'_>) -> Result<Vec<Recommendation>> {
    let strategy = strategy_by_name(plan.strategy)
        .ok_or_else(|| anyhow!("unknown strategy `{}`; known: {}", plan.strategy, STRATEGY_NAMES.join(", ")))?;
    let started = std::time::Instant::now();
    let usage = selection.usage()?;
    crate::cli::stat(&format!("usage_seconds={:.2}", started.elapsed().as_secs_f64()));
    let window_end = selection.until.unwrap_or_else(|| usage.iter().filter_map(|u| u.last_ms()).max().unwrap_or(0));
    let per_pod = containers_per_workload(usage.iter().map(|u| &u.key));
    let facts = selection.facts();
    let mut recs = Vec::with_capacity(usage.len());
    for u in &usage {
        let (mut policy, applied) = plan.policy.for_container(&u.key);
        if plan.force {
            policy.history.min_span_ms = 0;
            policy.history.min_samples = 1;
        }
        // What the overlay says wins; otherwise what a collector or importer last saw.
        let current = current_for(plan.overlay, u).or_else(|| facts.current.get(&u.key).copied());
        let input = SizingInput {
            usage: u,
            policy: &policy,
            current: current.as_ref(),
            window_end_ms: window_end,
            containers_in_pod: per_pod[&u.key.workload],
            oom_limit_bytes: facts.oom_limit(&u.key, selection.since),
        };
        let mut rec = recommend(strategy.as_ref(), &input, &applied);
        if let Some(runtime) = plan.runtimes.find(&u.key) {
            let measured = Measured {
                peak_working_set_bytes: u.memory_max(),
                php_fpm: facts.php_fpm.get(&u.key).map(exporter_facts),
            };
            advise_runtime(&mut rec, runtime, &policy, &measured);
        }
        if let Some(note) = selection.projections.borrow().get(&u.key.to_string()) {
            rec.rationale.insert(0, note.clone());
        }
        recs.push(rec);
    }
    crate::cli::stat(&format!("sizing_seconds={:.2}", started.elapsed().as_secs_f64()));
    Ok(recs)
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

/// True when a sized proposal differs from what is set now.
pub fn changes_anything(r: &Recommendation) -> bool {
    let Some(s) = r.sizing() else { return false };
    let c = r.current.unwrap_or_default();
    let differs = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() > 1e-9 * x.abs().max(1.0),
        (None, None) => false,
        _ => true,
    };
    differs(c.cpu_request_cores, Some(s.cpu_request_cores))
        || differs(c.cpu_limit_cores, s.cpu_limit_cores)
        || differs(c.memory_request_bytes, Some(s.memory_request_bytes))
        || differs(c.memory_limit_bytes, Some(s.memory_limit_bytes))
}

/// Everything one sizing run produced: the shared first half of `recommend`, `report` and `pr`.
pub struct SizingRun {
    pub selection: Selection,
    pub overlay: kustomize::Overlay,
    pub recommendations: Vec<Recommendation>,
    /// HPA patches that keep scaling thresholds in place (only `recommend` and `pr` write them).
    pub hpa_patches: Vec<kustomize::PatchFile>,
    /// php-fpm pool, nginx.conf and envoy args patches matching the proposals.
    pub runtime_patches: Vec<kustomize::PatchFile>,
}

/// Renders the overlay (before reading samples, so a broken overlay fails fast and nothing is
/// written), sizes every container and applies HPA advice.
pub fn size_all(
    input: &crate::cli::args::InputArgs,
    overlay_dir: Option<&Path>,
    policy: &PolicySet,
    strategy: &str,
    force: bool,
) -> Result<SizingRun> {
    let overlay = crate::cli::live::current_settings(overlay_dir, input)?;
    let mut selection = select(input)?;
    let flagged: Vec<String> = selection.traffic.iter().map(|t| t.workload.clone()).collect();
    selection.add_policy_traffic(&policy.traffic);
    for h in &overlay.hpas {
        selection.skip_traffic_for(&h.target_name, &h.hpa.name);
    }
    let plan = Plan { policy, strategy, force, overlay: &overlay.workloads, runtimes: &overlay.runtimes };
    let mut recommendations = recommend_all(&selection, &plan)?;
    shares_name_known_workloads(&flagged, &recommendations)?;
    let clusters = || recommendations.iter().map(|r| r.key.workload.cluster.as_str());
    if let Some(dir) = overlay_dir {
        one_cluster(&format!("the overlay {}", dir.display()), clusters())?;
    } else if let Some(source) = crate::cli::live::source_name(input) {
        one_cluster(&source, clusters())?;
    }
    let hpa_patches = apply_hpa_advice(&overlay.hpas, &mut recommendations);
    let runtime_patches = runtime_patches(&overlay.workloads, &overlay.runtimes, &recommendations);
    Ok(SizingRun { selection, overlay, recommendations, hpa_patches, runtime_patches })
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
        anyhow::bail!(
            "--traffic-share: no workload named {:?} in the selected samples (they have: {}{more})",
            crate::outputs::format::printable(unknown),
            shown.join(", ")
        );
    }
    Ok(())
}

pub fn run(args: &RecommendArgs, out: &mut dyn Write) -> Result<u8> {
    let policy = load_policy(args.policy.as_deref())?;
    let run = size_all(&args.input, args.kustomize.as_deref(), &policy, &args.strategy, args.force)?;
    let recs = &run.recommendations;
    let doc = document(&args.strategy, run.selection.since, run.selection.until, recs);
    if let Some(dir) = &args.kustomize {
        let mut patch_plan = kustomize::plan(dir, &run.overlay.workloads, recs)?;
        patch_plan.patches.extend(run.hpa_patches.iter().cloned());
        patch_plan.patches.extend(run.runtime_patches.iter().cloned());
        say_runtimes(recs);
        write_overlay(dir, &patch_plan, args.dry_run)?;
    }
    out.write_all(render(args.output, &doc, recs).as_bytes())?;
    let changed = recs.iter().any(changes_anything);
    Ok(if args.fail_on_change && changed { 1 } else { 0 })
}

/// An overlay (or a live cluster) is one cluster: its current settings and patches must not be
/// matched against, or made from, several clusters' workloads of the same names.
pub fn one_cluster<'a>(target: &str, clusters: impl Iterator<Item = &'a str>) -> Result<()> {
    let clusters: std::collections::BTreeSet<&str> = clusters.collect();
    if clusters.len() > 1 {
        let names: Vec<&str> = clusters.iter().map(|c| if c.is_empty() { "(no cluster)" } else { c }).collect();
        anyhow::bail!(
            "the samples hold {} clusters ({}) and {target} is one; choose it with --cluster NAME",
            clusters.len(),
            names.join(", "),
        );
    }
    Ok(())
}

/// For each workload an HPA scales: explains what the new requests do to scaling (in every
/// container's rationale) and returns the HPA patches that keep the threshold in place.
pub fn apply_hpa_advice(hpas: &[kustomize::RenderedHpa], recs: &mut [Recommendation]) -> Vec<kustomize::PatchFile> {
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
        }
        patches.extend(kustomize::hpa_patch(h, &advice));
    }
    patches
}

/// One stderr line per runtime setting read, changed or unreadable, so a run with
/// `--kustomize` shows what it found where (notes, which `--quiet` drops); risks always show.
fn say_runtimes(recs: &[Recommendation]) {
    use crate::cli::progress::note;
    for r in recs {
        let Some(a) = &r.runtime else { continue };
        if !a.found.is_empty() {
            note(&format!("{}: read {}", r.key, a.found.join("; ")));
        }
        for line in &a.rationale {
            note(&format!("{}: {line}", r.key));
        }
        for u in &a.unread {
            note(&format!("{} {}: could not read {u}", r.key, a.runtime));
        }
        for risk in &a.risks {
            eprintln!("{} {}: risk now: {risk}", r.key, a.runtime);
        }
    }
}

/// Writes (or with `dry_run`, shows) the patches and says what happened on stderr.
pub fn write_overlay(dir: &Path, plan: &kustomize::PatchPlan, dry_run: bool) -> Result<()> {
    for w in &plan.not_in_overlay {
        note(&format!("note: {w} is not in the overlay {}; no patch for it", dir.display()));
    }
    for c in &plan.unchanged {
        note(&format!("note: {c}: no proposal (not enough history or excluded); its settings stay as they are"));
    }
    if dry_run {
        for p in &plan.patches {
            eprintln!("would write {}:\n{}", dir.join(&p.file_name).display(), p.text);
        }
        return Ok(());
    }
    let report = kustomize::write_plan(dir, plan)?;
    for path in &report.written {
        note(&format!("wrote {}", path.display()));
    }
    for path in &report.unchanged {
        note(&format!("unchanged {}", path.display()));
    }
    Ok(())
}

//! `podsizer recommend`: one sizing run, printed in the chosen format, and with `--kustomize`
//! the patches written into the overlay.

use crate::analysis::Recommendation;
use crate::cli::args::{InputArgs, RecommendArgs, SizingArgs};
use crate::cli::progress::note;
use crate::cli::resolve;
use crate::engine::selection::SelectionSettings;
use crate::engine::sizing::{changes_anything, load_policy, size_all, SizingRun, SizingSettings};
use crate::outputs::kustomize::{self, Kubectl};
use crate::outputs::{document, render};
use anyhow::Result;
use std::io::Write;
use std::path::Path;

/// The shared sizing run of `recommend`, `report` and `pr`, with its notes printed.
pub(crate) fn sizing_run(
    input: &InputArgs,
    selection: SelectionSettings,
    overlay: Option<&Path>,
    sizing: &SizingArgs,
    kubectl: &Kubectl,
) -> Result<SizingRun> {
    let settings = SizingSettings {
        policy: load_policy(sizing.policy.as_deref())?,
        strategy: sizing.strategy.clone(),
        force: sizing.force,
        overlay: overlay.map(Path::to_path_buf),
        live: resolve::live(input),
        kubectl: kubectl.clone(),
    };
    let run = size_all(selection, &settings, &crate::cli::progress::Bars::default())?;
    resolve::report_run(&run);
    Ok(run)
}

pub(crate) fn run(args: &RecommendArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    let selection = resolve::selection(&args.input, Some(&resolve::default_window()))?;
    let run = sizing_run(&args.input, selection, args.kustomize.as_deref(), &args.sizing, kubectl)?;
    let recs = &run.recommendations;
    let doc = document(&args.sizing.strategy, run.selection.since, run.selection.until, recs);
    if let Some(dir) = &args.kustomize {
        let mut patch_plan = kustomize::plan(dir, &run.overlay.workloads, recs)?;
        patch_plan.patches.extend(run.hpa_patches.iter().cloned());
        patch_plan.patches.extend(run.runtime_patches.iter().cloned());
        say_runtimes(recs);
        write_overlay(dir, &patch_plan, args.dry_run, kubectl)?;
    }
    out.write_all(render(args.output, &doc, recs).as_bytes())?;
    let changed = recs.iter().any(changes_anything);
    Ok(u8::from(args.fail_on_change && changed))
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
pub(crate) fn write_overlay(dir: &Path, plan: &kustomize::PatchPlan, dry_run: bool, kubectl: &Kubectl) -> Result<()> {
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
    let report = kustomize::write_plan(dir, plan, kubectl)?;
    for path in &report.written {
        note(&format!("wrote {}", path.display()));
    }
    for path in &report.unchanged {
        note(&format!("unchanged {}", path.display()));
    }
    Ok(())
}

//! `podsizer pr`: size an overlay of a GitOps checkout and propose it as a pull request.
//!
//! Works detached at `REMOTE/BASE` so no local branch is touched, always returns the
//! checkout to where it was, and never force-pushes over commits that are not the bot's.

use crate::analysis::backtest::Prices;
use crate::cli::args::PrArgs;
use crate::cli::commands::recommend::sizing_run;
use crate::engine::sizing::SizingRun;
use crate::domain::parse_quantity;
use crate::outputs::bot::git::Repo;
use crate::outputs::bot::github::GitHub;
use crate::outputs::bot::text::{self, Thresholds};
use crate::outputs::kustomize;
use crate::outputs::notify::Notice;
use crate::outputs::report::ReportInput;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;

/// `10%` or `0.1`.
fn parse_share(text: &str) -> Result<f64> {
    let v = match text.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| anyhow!("--min-change {text:?}: expected a percentage like 10% or a fraction like 0.1"))?;
    if !(0.0..10.0).contains(&v) {
        bail!("--min-change {text:?} is out of range");
    }
    Ok(v)
}

/// GitHub refuses bodies over 65,536 characters.
const MAX_BODY: usize = 60_000;

/// The weekly report's Markdown (charts left out: a PR body cannot host them) under a summary
/// of the changes; the short summary alone when the report would not fit.
fn pr_body(args: &PrArgs, run: &SizingRun, changes: &[String], cost: (f64, f64), prices: Prices) -> Result<String> {
    let series = run.selection.series()?;
    let input = report_input(args, run, prices, &series);
    let report = crate::outputs::report::markdown_without_charts(&crate::outputs::report::build(&input));
    let list: String = changes.iter().map(|c| format!("- {c}\n")).collect();
    let body = format!(
        "**podsizer** proposes new requests and limits for `{}`: requests cost ${:.0}/month now, ${:.0}/month proposed.\n\n{list}\n{report}\n<sub>Opened by `podsizer pr`; it updates this pull request on its next run and never overwrites commits that are not its own.</sub>\n",
        args.overlay, cost.0, cost.1
    );
    Ok(if body.len() <= MAX_BODY {
        body
    } else {
        text::summary_body(&args.overlay, &run.recommendations, changes, cost)
    })
}

/// What the report behind the pull request body (and the notification) is made from.
fn report_input<'a>(
    args: &'a PrArgs,
    run: &'a SizingRun,
    prices: Prices,
    series: &'a [crate::analysis::backtest::Series],
) -> ReportInput<'a> {
    ReportInput {
        strategy: &args.strategy,
        since: run.selection.since,
        until: run.selection.until,
        recommendations: &run.recommendations,
        series,
        prices,
        tz: chrono_tz::UTC,
        current_source: Some(format!("{} on {}/{}", args.overlay, args.remote, args.base)),
        previous: None,
        nodes: &args.nodes,
    }
}

/// `--overlay` names a folder inside the checkout: the patches are committed from there, so
/// a `../` or absolute path would write into files that are not the repository's.
fn overlay_is_relative(overlay: &str) -> Result<()> {
    use std::path::Component;
    let plain =
        std::path::Path::new(overlay).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if overlay.is_empty() || !plain {
        bail!("--overlay {overlay:?}: must be a folder inside the repository, relative to it, without `..`");
    }
    Ok(())
}

/// The overlay folder, proven inside the checkout once symlinks are resolved.
fn overlay_inside(repo: &std::path::Path, overlay: &str) -> Result<std::path::PathBuf> {
    let dir = repo.join(overlay);
    let (Ok(real_repo), Ok(real_dir)) = (repo.canonicalize(), dir.canonicalize()) else {
        bail!("{}: the overlay folder does not exist on the base branch", dir.display());
    };
    if !real_dir.starts_with(&real_repo) {
        bail!(
            "--overlay {overlay:?}: resolves to {}, outside the repository {}",
            real_dir.display(),
            real_repo.display()
        );
    }
    Ok(dir)
}

pub fn run(args: &PrArgs, out: &mut dyn Write) -> Result<u8> {
    let thresholds = Thresholds {
        relative: parse_share(&args.min_change)?,
        cpu_cores: parse_quantity(&args.min_cpu).context("--min-cpu")?,
        memory_bytes: parse_quantity(&args.min_memory).context("--min-memory")?,
    };
    crate::cli::notify::check(&args.notify)?;
    let token = std::env::var("GITHUB_TOKEN").unwrap_or_default();
    if !args.dry_run && (token.is_empty() || args.github_repo.is_none()) {
        bail!("opening a pull request needs GITHUB_TOKEN in the environment and --github-repo OWNER/NAME (or use --dry-run)");
    }
    overlay_is_relative(&args.overlay)?;
    let repo = Repo::new(&args.repo);
    let dirty = repo.dirty()?;
    if !dirty.is_empty() {
        bail!(
            "{}: the work tree has uncommitted changes ({}); podsizer pr needs a clean checkout",
            args.repo.display(),
            dirty.join(", ")
        );
    }
    let branch = args.branch.clone().unwrap_or_else(|| {
        format!("podsizer/{}", args.overlay.trim_end_matches('/').rsplit('/').next().unwrap_or("overlay"))
    });
    repo.run(&["fetch", "-q", "--prune", &args.remote])?;
    let base = format!("{}/{}", args.remote, args.base);
    repo.resolve(&base).ok_or_else(|| anyhow!("{base} does not exist in {}", args.repo.display()))?;
    let old_tip = repo.resolve(&format!("{}/{branch}", args.remote));
    if let Some(tip) = &old_tip {
        let humans = repo.foreign_authors(&format!("{base}..{tip}"))?;
        if !humans.is_empty() {
            writeln!(out, "{branch} has commits by {} that podsizer did not make: not overwriting them. Merge or close that work, or pass --branch for a new branch.", humans.join(", "))?;
            return Ok(1);
        }
    }
    let original = repo.head()?;
    repo.run(&["checkout", "-q", "--detach", &base])?;
    let result = propose(args, &repo, &branch, old_tip.as_deref(), &thresholds, token, out);
    // Whatever happened, leave the checkout as it was found.
    let _ = repo.run(&["reset", "-q", "--hard"]);
    let _ = repo.run(&["clean", "-q", "-fd", "--", &args.overlay]);
    repo.run(&["checkout", "-q", &original]).context("returning to the original checkout")?;
    result
}

fn propose(
    args: &PrArgs,
    repo: &Repo,
    branch: &str,
    old_tip: Option<&str>,
    thresholds: &Thresholds,
    token: String,
    out: &mut dyn Write,
) -> Result<u8> {
    let overlay_dir = overlay_inside(repo.dir(), &args.overlay)?;
    let run = sizing_run(&args.input, Some(&overlay_dir), args.policy.as_deref(), &args.strategy, false)?;
    let (overlay, recs) = (&run.overlay, &run.recommendations);
    let changes = text::significant_changes(recs, thresholds);
    if changes.is_empty() {
        writeln!(
            out,
            "nothing changed beyond --min-change {} (and {} CPU / {} memory) against {}/{}: no commit, no pull request",
            args.min_change, args.min_cpu, args.min_memory, args.remote, args.base
        )?;
        return Ok(0);
    }
    let mut patch_plan = kustomize::plan(&overlay_dir, &overlay.workloads, recs)?;
    patch_plan.patches.extend(run.hpa_patches.iter().cloned());
    patch_plan.patches.extend(run.runtime_patches.iter().cloned());
    kustomize::write_plan(&overlay_dir, &patch_plan)?;
    let prices = args.prices.prices()?;
    let cost = text::monthly_cost(recs, &prices);
    let title = text::title(&args.overlay, changes.len(), cost);
    let body = pr_body(args, &run, &changes, cost, prices)?;
    repo.run(&["add", "-A", "--", &args.overlay])?;
    if args.dry_run {
        writeln!(
            out,
            "{}\n\n--- pull request (dry run: nothing pushed, no API call) ---\n{title}\n\n{body}",
            repo.run(&["diff", "--cached"])?
        )?;
        return Ok(0);
    }
    repo.run(&["commit", "-q", "-m", &title, "-m", &changes.join("\n")])?;
    let same_tree = old_tip.is_some_and(|tip| repo.run(&["diff", "--quiet", tip, "HEAD"]).is_ok());
    if same_tree {
        writeln!(out, "{branch} already holds these sizes: nothing pushed")?;
    } else {
        let lease = format!("--force-with-lease=refs/heads/{branch}:{}", old_tip.unwrap_or(""));
        repo.run(&["push", "-q", &lease, &args.remote, &format!("HEAD:refs/heads/{branch}")])?;
        writeln!(out, "pushed {branch} ({} change(s))", changes.len())?;
    }
    let mut github = GitHub::new(&args.github_api, args.github_repo.as_deref().expect("checked"), token);
    let pr = match github.find_open(branch)? {
        Some(existing) if same_tree => existing,
        Some(existing) => {
            let pr = github.update(existing.number, &title, &body)?;
            writeln!(out, "updated pull request #{} {}", pr.number, pr.url)?;
            pr
        }
        None => {
            let pr = github.open(branch, &args.base, &title, &body)?;
            writeln!(out, "opened pull request #{} {}", pr.number, pr.url)?;
            pr
        }
    };
    writeln!(out, "{title} (#{})", pr.number)?;
    // Only a pull request this run opened or updated is news; an unchanged one is not re-announced.
    if github.writes > 0 && crate::cli::notify::wanted(&args.notify) {
        let report = crate::outputs::report::build(&report_input(args, &run, prices, &run.selection.series()?));
        let link = Some((format!("Open pull request #{}", pr.number), pr.url.clone()));
        crate::cli::notify::post(&args.notify, &Notice::from_report(title, &report.doc, changes, link));
    }
    Ok(0)
}

//! `podsizer pr`: size an overlay of a GitOps checkout and propose it as a pull request
//! (the run itself is `engine::pull_request`).

use crate::analysis::verdict::Thresholds as VerdictThresholds;
use crate::cli::args::PrArgs;
use crate::cli::resolve;
use crate::engine::follow_up::{follow_up, FollowUpOutcome};
use crate::engine::pull_request::{propose_sizes, DryRun, PrOutcome, PrSettings, Proposed};
use crate::engine::sizing::{load_policy, SizingSettings};
use crate::outputs::bot::text::Thresholds;
use crate::outputs::kustomize::Kubectl;
use anyhow::Result;
use std::io::Write;

fn settings(args: &PrArgs, kubectl: &Kubectl) -> Result<PrSettings> {
    Ok(PrSettings {
        repo: args.repo.clone(),
        overlay: args.overlay.clone(),
        base: args.base.clone(),
        branch: args.branch.clone(),
        remote: args.remote.clone(),
        github_repo: args.github_repo.clone(),
        github_api: args.github_api.clone(),
        token: std::env::var("GITHUB_TOKEN").unwrap_or_default(),
        thresholds: Thresholds {
            relative: args.min_change.fraction,
            cpu_cores: args.min_cpu.value,
            memory_bytes: args.min_memory.value,
        },
        dry_run: args.dry_run,
        prices: args.prices.prices()?,
        nodes: args.nodes.clone(),
        notice: crate::cli::notify::wanted(&args.notify),
        kubectl: kubectl.clone(),
    })
}

pub(crate) fn run(args: &PrArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    let settings = settings(args, kubectl)?;
    crate::cli::notify::check(&args.notify)?;
    settings.check()?;
    let sizing = SizingSettings {
        policy: load_policy(args.sizing.policy.as_deref())?,
        strategy: args.sizing.strategy.clone(),
        force: args.sizing.force,
        overlay: None,
        live: resolve::live(&args.input),
        kubectl: kubectl.clone(),
    };
    let input = resolve::selection(&args.input, Some(&resolve::default_window()))?;
    // The follow-up on harm verifies the same inputs: one resolution (an S3 pull, a Prometheus
    // import) serves both runs.
    let verified = input.clone();
    let run = propose_sizes(&settings, input, sizing, &crate::cli::progress::Bars::default())?;
    resolve::print_notes(&run.notes);
    let weekly = weekly(args, run.outcome, out)?;
    let follow_up = follow_up(&settings, verified, VerdictThresholds::default())?;
    resolve::print_notes(&follow_up.notes);
    Ok(weekly.max(report_follow_up(args, follow_up.outcome, &follow_up.fixes, out)?))
}

fn foreign(out: &mut dyn Write, branch: &str, authors: &[String]) -> Result<u8> {
    writeln!(out, "{branch} has commits by {} that podsizer did not make: not overwriting them. Merge or close that work, or pass --branch for a new branch.", authors.join(", "))?;
    Ok(1)
}

fn report_follow_up(args: &PrArgs, outcome: FollowUpOutcome, fixes: &[String], out: &mut dyn Write) -> Result<u8> {
    match outcome {
        FollowUpOutcome::NoHarm => {}
        FollowUpOutcome::ForeignCommits { branch, authors } => return foreign(out, &branch, &authors),
        FollowUpOutcome::DryRun(DryRun { diff, title, body }) => {
            writeln!(
                out,
                "{diff}\n\n--- follow-up pull request (dry run: nothing pushed, no API call) ---\n{title}\n\n{body}"
            )?;
        }
        FollowUpOutcome::Proposed(p) => {
            writeln!(out, "harm after the last rollout: {}", fixes.join("; "))?;
            proposed(args, &p, out)?;
        }
    }
    Ok(0)
}

fn proposed(args: &PrArgs, p: &Proposed, out: &mut dyn Write) -> Result<()> {
    if p.pushed {
        writeln!(out, "pushed {} ({} change(s))", p.branch, p.changes)?;
    } else {
        writeln!(out, "{} already holds these sizes: nothing pushed", p.branch)?;
    }
    if let Some(action) = p.action {
        writeln!(out, "{action} pull request #{} {}", p.number, p.url)?;
    }
    writeln!(out, "{} (#{})", p.title, p.number)?;
    if let Some(notice) = &p.notice {
        crate::cli::notify::post(&args.notify, notice);
    }
    Ok(())
}

fn weekly(args: &PrArgs, outcome: PrOutcome, out: &mut dyn Write) -> Result<u8> {
    match outcome {
        PrOutcome::ForeignCommits { branch, authors } => return foreign(out, &branch, &authors),
        PrOutcome::NothingChanged => writeln!(
            out,
            "nothing changed beyond --min-change {} (and {} CPU / {} memory) against {}/{}: no commit, no pull request",
            args.min_change, args.min_cpu, args.min_memory, args.remote, args.base
        )?,
        PrOutcome::DryRun(DryRun { diff, title, body }) => {
            writeln!(out, "{diff}\n\n--- pull request (dry run: nothing pushed, no API call) ---\n{title}\n\n{body}")?;
        }
        PrOutcome::Proposed(p) => proposed(args, &p, out)?,
    }
    Ok(0)
}

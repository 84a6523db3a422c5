//! `podsizer pr`: size an overlay of a GitOps checkout and propose it as a pull request
//! (the run itself is `engine::pull_request`).

use crate::cli::args::PrArgs;
use crate::cli::resolve;
use crate::domain::parse_quantity;
use crate::engine::pull_request::{propose_sizes, PrOutcome, PrSettings};
use crate::engine::sizing::{load_policy, SizingSettings};
use crate::outputs::bot::text::Thresholds;
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

fn settings(args: &PrArgs) -> Result<PrSettings> {
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
            relative: parse_share(&args.min_change)?,
            cpu_cores: parse_quantity(&args.min_cpu).context("--min-cpu")?,
            memory_bytes: parse_quantity(&args.min_memory).context("--min-memory")?,
        },
        dry_run: args.dry_run,
        prices: args.prices.prices()?,
        nodes: args.nodes.clone(),
        notice: crate::cli::notify::wanted(&args.notify),
    })
}

pub fn run(args: &PrArgs, out: &mut dyn Write) -> Result<u8> {
    let settings = settings(args)?;
    crate::cli::notify::check(&args.notify)?;
    settings.check()?;
    let sizing = SizingSettings {
        policy: load_policy(args.policy.as_deref())?,
        strategy: args.strategy.clone(),
        force: false,
        overlay: None,
        live: resolve::live(&args.input),
    };
    let input = resolve::selection(&args.input, Some(resolve::DEFAULT_WINDOW))?;
    let run = propose_sizes(&settings, input, sizing, &resolve::Bars::default())?;
    resolve::print_notes(&run.notes);
    match run.outcome {
        PrOutcome::ForeignCommits { branch, authors } => {
            writeln!(out, "{branch} has commits by {} that podsizer did not make: not overwriting them. Merge or close that work, or pass --branch for a new branch.", authors.join(", "))?;
            return Ok(1);
        }
        PrOutcome::NothingChanged => writeln!(
            out,
            "nothing changed beyond --min-change {} (and {} CPU / {} memory) against {}/{}: no commit, no pull request",
            args.min_change, args.min_cpu, args.min_memory, args.remote, args.base
        )?,
        PrOutcome::DryRun { diff, title, body } => {
            writeln!(out, "{diff}\n\n--- pull request (dry run: nothing pushed, no API call) ---\n{title}\n\n{body}")?
        }
        PrOutcome::Proposed(p) => {
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
        }
    }
    Ok(0)
}

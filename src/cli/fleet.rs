//! `podsizer fleet summarize` (in each cluster, after its import) and `podsizer fleet report`
//! (once for the fleet): flags to `engine::fleet` settings, and the fleet report's files.

use crate::analysis::Recommendation;
use crate::cli::args::{FleetArgs, FleetCommand, FleetReportArgs, SummarizeArgs};
use crate::cli::progress::{note, Bars};
use crate::domain::{format_timestamp, DAY_MS};
use crate::engine::fleet::{size_fleet, summarize, ClusterRun, FleetSettings};
use crate::engine::sizing::{changes_anything, load_policy};
use crate::outputs::format::printable;
use crate::outputs::kustomize::Kubectl;
use crate::outputs::{document, render, OutputFormat};
use crate::store::s3::S3Location;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Identifies the layout of fleet.json; bump when a field changes meaning.
const FORMAT: &str = "podsizer-fleet/1";

pub(super) fn run(args: &FleetArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    match &args.command {
        FleetCommand::Summarize(a) => run_summarize(a, out),
        FleetCommand::Report(a) => run_report(a, kubectl, out),
    }
}

/// Whole days of a `--window`, at least one.
fn whole_days(ms: i64) -> i64 {
    ((ms + DAY_MS - 1) / DAY_MS).max(1)
}

fn s3_url(url: &str, flag: &str) -> Result<S3Location> {
    if !url.starts_with("s3://") {
        anyhow::bail!("{flag} {url:?}: the fleet lives on S3; expected s3://BUCKET/PREFIX");
    }
    S3Location::parse(url).with_context(|| flag.to_string())
}

fn run_summarize(args: &SummarizeArgs, out: &mut dyn Write) -> Result<u8> {
    let location = s3_url(&args.store, "--store")?;
    let done = summarize(&location, &args.s3.options(), whole_days(args.window.ms), &Bars::default())
        .with_context(|| format!("summarising {location}"))?;
    crate::cli::resolve::print_notes(&done.notes);
    writeln!(
        out,
        "{location}: {} day(s) in the window: {} summarised already, {} summarised now, {} uploaded",
        done.days, done.already, done.built, done.uploaded
    )?;
    Ok(0)
}

fn run_report(args: &FleetReportArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    let settings = FleetSettings {
        root: s3_url(&args.from, "--from")?,
        options: args.s3.options(),
        clusters: args.clusters.clone(),
        window_days: whole_days(args.window.ms),
        policy: load_policy(args.sizing.policy.as_deref())?,
        strategy: args.sizing.strategy.clone(),
        force: args.sizing.force,
        overlays: args.overlays.clone(),
        kubectl: kubectl.clone(),
    };
    let runs = size_fleet(&settings, &Bars::default()).with_context(|| format!("sizing the fleet at {}", args.from))?;
    let clusters_dir = args.out.join("clusters");
    std::fs::create_dir_all(&clusters_dir).with_context(|| format!("creating {}", clusters_dir.display()))?;
    // Every cluster's patch plan before any file is written: one overlay that cannot take its
    // patches leaves every overlay as it was.
    let mut plans = Vec::new();
    for run in &runs {
        match &run.overlay_dir {
            Some(dir) => plans.push(Some((dir, patch_plan(run, dir)?))),
            None => plans.push(None),
        }
    }
    let mut summaries = Vec::new();
    for (run, plan) in runs.iter().zip(plans) {
        crate::cli::resolve::print_notes(&run.notes);
        let parquet = run.fetched.keys.iter().filter(|k| k.ends_with(".parquet")).count();
        crate::cli::stat(&format!(
            "fleet cluster={} days={} objects_read={} bytes_read={} parquet_read={parquet}",
            printable(&run.name),
            run.days,
            run.fetched.keys.len(),
            run.fetched.bytes
        ));
        let doc = document(&settings.strategy, Some(run.since), Some(run.until), &run.recommendations);
        let file = clusters_dir.join(format!("{}.json", crate::outputs::names::file_stem(&[&run.name])));
        write_file(&file, render(OutputFormat::Json, &doc, &run.recommendations).as_bytes())?;
        match plan {
            Some((dir, plan)) => super::commands::recommend::write_overlay(dir, &plan, args.dry_run, kubectl)?,
            None if args.overlays.is_some() => note(&format!(
                "note: no overlay for cluster {} under the --overlays folder; no patches",
                printable(&run.name)
            )),
            None => {}
        }
        summaries.push(ClusterSummary::of(run));
    }
    let doc =
        serde_json::json!({"format": FORMAT, "strategy": settings.strategy, "from": args.from, "clusters": summaries});
    write_file(&args.out.join("fleet.json"), (serde_json::to_string_pretty(&doc)? + "\n").as_bytes())?;
    write_file(&args.out.join("fleet.md"), markdown(&args.from, &settings.strategy, &runs, &summaries).as_bytes())?;
    let containers: usize = summaries.iter().map(|s| s.containers).sum();
    writeln!(
        out,
        "wrote {} ({} cluster(s), {containers} container(s), from day summaries only)",
        args.out.display(),
        runs.len()
    )?;
    Ok(0)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::store::atomic::write_atomically(path, bytes)
        .map_err(|e| anyhow::anyhow!("{}: {}: {}", e.path.display(), e.action, e.source))
}

/// The cluster's patches for its own overlay, as `recommend --kustomize` plans them.
fn patch_plan(run: &ClusterRun, dir: &Path) -> Result<crate::outputs::kustomize::PatchPlan> {
    let mut plan = crate::outputs::kustomize::plan(dir, &run.overlay.workloads, &run.recommendations)?;
    plan.patches.extend(run.hpa_patches.iter().cloned());
    plan.patches.extend(run.runtime_patches.iter().cloned());
    Ok(plan)
}

/// One cluster's line of the fleet report.
#[derive(serde::Serialize)]
struct ClusterSummary {
    name: String,
    store: String,
    since: String,
    until: String,
    days: u64,
    /// Objects fetched from the bucket (day summaries and side files; never a part).
    objects_read: usize,
    containers: usize,
    sized: usize,
    changes: usize,
    /// Sums over containers with current and proposed requests, times their median replicas.
    cpu_requests_cores: NowProposed,
    memory_requests_bytes: NowProposed,
}

#[derive(serde::Serialize, Default)]
struct NowProposed {
    current: f64,
    proposed: f64,
}

impl ClusterSummary {
    fn of(run: &ClusterRun) -> Self {
        let recs = &run.recommendations;
        let (mut cpu, mut memory) = (NowProposed::default(), NowProposed::default());
        for r in recs {
            let (Some(s), Some(c)) = (r.sizing(), r.current) else { continue };
            let (Some(cpu_now), Some(mem_now)) = (c.cpu_request_cores, c.memory_request_bytes) else { continue };
            let replicas = f64::from(r.replicas.map_or(1, |p| p.median.max(1)));
            cpu.current += cpu_now * replicas;
            cpu.proposed += s.cpu_request_cores * replicas;
            memory.current += mem_now * replicas;
            memory.proposed += s.memory_request_bytes * replicas;
        }
        ClusterSummary {
            name: run.name.clone(),
            store: run.url.clone(),
            since: format_timestamp(run.since),
            until: format_timestamp(run.until),
            days: run.days,
            objects_read: run.fetched.keys.len(),
            containers: recs.len(),
            sized: recs.iter().filter(|r| r.sizing().is_some()).count(),
            changes: recs.iter().filter(|r| changes_anything(r)).count(),
            cpu_requests_cores: cpu,
            memory_requests_bytes: memory,
        }
    }
}

/// fleet.md: one line per cluster, then each cluster's table as `recommend` prints it.
fn markdown(from: &str, strategy: &str, runs: &[ClusterRun], summaries: &[ClusterSummary]) -> String {
    let cell = |s: &str| printable(s).replace('|', "\\|");
    let mut md = format!(
        "# podsizer fleet report\n\n{} cluster(s) under `{}`, strategy `{strategy}`, each sized from its day summaries \
(no raw samples read). Requests are summed over containers with known current requests, times their median replicas.\n\n",
        runs.len(),
        cell(from)
    );
    md.push_str("| cluster | window (UTC) | days | containers | sized | to change | CPU requests now → proposed | memory requests now → proposed |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    for s in summaries {
        md.push_str(&format!(
            "| {} | {} to {} | {} | {} | {} | {} | {:.2} → {:.2} cores | {} → {} |\n",
            cell(&s.name),
            &s.since[..10.min(s.since.len())],
            &s.until[..10.min(s.until.len())],
            s.days,
            s.containers,
            s.sized,
            s.changes,
            s.cpu_requests_cores.current,
            s.cpu_requests_cores.proposed,
            crate::domain::human_bytes(s.memory_requests_bytes.current),
            crate::domain::human_bytes(s.memory_requests_bytes.proposed),
        ));
    }
    for run in runs {
        md.push_str(&format!("\n## {}\n\n```text\n{}```\n", cell(&run.name), table(&run.recommendations)));
    }
    md
}

fn table(recs: &[Recommendation]) -> String {
    let doc = document("", None, None, recs);
    render(OutputFormat::Table, &doc, recs)
}

//! Arguments of `podsizer fleet`: the per-cluster summaries and the central fleet run.

use super::{values, S3Args, SizingArgs, Span};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FleetCommand {
    /// In each cluster, after its import: upload every day's usage summary beside its parts.
    #[command(long_about = SUMMARIZE_HELP)]
    Summarize(SummarizeArgs),
    /// Size every cluster under s3://BUCKET/PREFIX from its day summaries (never raw samples).
    #[command(long_about = FLEET_REPORT_HELP)]
    Report(FleetReportArgs),
}

pub(crate) const SUMMARIZE_HELP: &str = "Makes sure every day of the window in one cluster's S3 store has its usage \
summary in the bucket, beside the day's parts: days that have one are left alone (nothing but the summary is \
fetched to check it), the others are pulled, summarised and uploaded. The per-cluster CronJob (deploy/fleet) \
runs it after `import prometheus`, so `podsizer fleet report` reads summaries only.";

pub(crate) const FLEET_REPORT_HELP: &str =
    "Sizes every cluster of a fleet: each s3://BUCKET/PREFIX/CLUSTER/ holding a \
podsizer store is one cluster. Per cluster it lists the day keys once and fetches the window's day summaries (checked \
against that listing and their checksums) and the writers' side files; no part is fetched, and a day without a valid \
summary stops the run, naming it. The window is whole UTC days up to each cluster's newest day. Writes fleet.md, \
fleet.json and one recommendation document per cluster into --out; with --overlays DIR, DIR/CLUSTER is that \
cluster's kustomize overlay: current settings come from it and the patches are written into it.";

#[derive(Debug, Args)]
pub(crate) struct SummarizeArgs {
    /// The cluster's store: s3://BUCKET/PREFIX/CLUSTER.
    #[arg(long, value_name = "S3_URL")]
    pub store: String,
    /// Days to keep summarised, up to the newest day (the report's window and a day more).
    #[arg(long, default_value = "15d", value_name = "DURATION", value_parser = values::span)]
    pub window: Span,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Debug, Args)]
pub(crate) struct FleetReportArgs {
    /// The fleet's root: s3://BUCKET/PREFIX, one store per cluster under it.
    #[arg(long = "from", value_name = "S3_URL")]
    pub from: String,
    /// Only this cluster (its prefix name; repeatable).
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
    /// Whole days of history, up to and including each cluster's newest day.
    #[arg(long, default_value = "14d", value_name = "DURATION", value_parser = values::span)]
    pub window: Span,
    /// Folder for fleet.md, fleet.json and clusters/CLUSTER.json (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// GitOps folder with one overlay per cluster, DIR/CLUSTER: current settings and patches.
    #[arg(long, value_name = "DIR")]
    pub overlays: Option<PathBuf>,
    /// With --overlays: show the patches, write nothing into the overlays.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub sizing: SizingArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

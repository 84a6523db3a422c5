//! `podsizer report`: the weekly sizing report. Sizes every container exactly as
//! `recommend` does (same `recommend_all`), then adds charts, costs, risks and the
//! comparison with last week. Reads the overlay but never writes a patch.

use super::recommend::sizing_run;
use crate::cli::args::ReportArgs;
use crate::engine::selection::SelectionSettings;
use crate::outputs::bot::text::{significant_changes, Thresholds};
use crate::outputs::kustomize::Kubectl;
use crate::outputs::notify::Notice;
use crate::outputs::report::{self, PreviousReport, ReportInput};
use anyhow::{Context, Result};
use std::io::Write;

pub(crate) fn run(args: &ReportArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    let tz = args.tz;
    let prices = args.prices.prices()?;
    crate::cli::notify::check(&args.notify)?;
    // Before the sizing run: a folder the report may not write into fails at once.
    report::check_folder(&args.out)?;
    let previous = args.previous.as_deref().map(PreviousReport::load).transpose().context("--previous")?;
    // The same sizing as `recommend` (HPA advice included); a report writes no patch.
    // One resolution (an S3 pull, a Prometheus import) serves the sizing run and the verdicts.
    let selection = crate::cli::resolve::selection(&args.input, Some(&crate::cli::resolve::default_window()))?;
    let verified = selection.clone();
    let run = sizing_run(&args.input, selection, args.kustomize.as_deref(), &args.sizing, kubectl)?;
    let (selection, recs) = (&run.selection, &run.recommendations);
    let series = selection.series()?;
    let evidence = crate::engine::evidence::changed_containers(&run, &series, &Thresholds::default(), &prices)?;
    let verdicts = verdicts(verified)?;
    let input = ReportInput {
        strategy: &args.sizing.strategy,
        since: selection.since,
        until: selection.until,
        recommendations: recs,
        series: &series,
        prices,
        tz,
        current_source: args
            .kustomize
            .as_ref()
            .map(|d| d.display().to_string())
            .or_else(|| crate::cli::resolve::live(&args.input).map(|l| l.describe())),
        previous: previous.as_ref(),
        nodes: &args.nodes,
        evidence: &evidence,
        verdicts: &verdicts,
    };
    let built = report::build(&input);
    let charts = crate::cli::progress::spinner("report");
    charts.set_message(format!("drawing {} charts", built.doc.containers.len() + built.doc.workloads.len()));
    let written = report::write(&built, &args.out);
    charts.finish_and_clear();
    let written = written?;
    writeln!(
        out,
        "wrote {} ({} files: index.html, index.md, report.json, {} charts)",
        args.out.display(),
        written.files.len(),
        written.files.len() - 3
    )?;
    if crate::cli::notify::wanted(&args.notify) {
        let changes = significant_changes(recs, &Thresholds::default());
        let title = format!("podsizer weekly report {}", built.doc.week);
        let link = args.notify_link.clone().map(|url| ("Open the report".to_string(), url));
        crate::cli::notify::post(&args.notify, &Notice::from_report(title, &built.doc, changes, link));
    }
    Ok(0)
}

/// The verdicts on the changes the inputs recorded (`podsizer verify` on the same selection).
fn verdicts(selection: SelectionSettings) -> Result<Vec<report::VerdictRow>> {
    use crate::engine::verify::{verify, VerifySettings};
    let run = verify(VerifySettings { selection, ..Default::default() })?;
    Ok(run
        .checks
        .into_iter()
        .map(|c| report::VerdictRow {
            key: c.key,
            before: c.change.before,
            after: c.change.after,
            effective_ms: c.change.effective_ms,
            observed: c.observed,
            assessment: c.assessment,
        })
        .collect())
}

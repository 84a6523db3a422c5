//! From command-line arguments to the engine's resolved settings, and the engine's notes,
//! progress and timings back to the terminal.

use super::args::InputArgs;
use super::values::Span;
use crate::engine::current::LiveSettings;
use crate::engine::selection::{InputSpec, SelectionSettings};
use crate::engine::sizing::SizingRun;
use crate::engine::Note;
use crate::store::remote::DaysWanted;
use anyhow::Result;

/// History a sizing command reads when neither `--since` nor `--window` is given: 14 days.
pub(super) fn default_window() -> Span {
    Span::days(14)
}

/// The samples a command reads: `s3://` stores pulled into their mirrors, `--prometheus`
/// imported into its cache store, the window and filters parsed. With `default_window ==
/// None` and no bounds given, everything is selected.
pub(super) fn selection(args: &InputArgs, default_window: Option<&Span>) -> Result<SelectionSettings> {
    let mut inputs = Vec::new();
    let pull = s3_pull_window(args, default_window);
    for path in &args.inputs {
        match super::s3::open_input(path, args, pull)? {
            Some(mirror) => inputs.push(InputSpec::Store(mirror)),
            None => inputs.push(InputSpec::Path(path.clone())),
        }
    }
    if args.prometheus.prometheus.is_some() {
        let cache = super::commands::import_prometheus::import_for_sizing(args, default_window)?;
        inputs.push(InputSpec::Path(cache));
    }
    let Bounds { since, until, window_ms } = bounds(args, default_window);
    let traffic = args.traffic_shares.clone();
    Ok(SelectionSettings {
        inputs,
        since,
        until,
        window_ms,
        namespaces: args.namespaces.clone(),
        workloads: args.workloads.clone(),
        cluster: args.cluster.clone(),
        traffic,
        skip_bad_rows: args.skip_bad_rows,
        rescan: args.rescan,
    })
}

/// The window as given: `--since`/`--until`, and `--window` (or the command's default) when
/// `--since` is not given. The engine ends an open window just after the newest sample.
pub(super) struct Bounds {
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub window_ms: Option<i64>,
}

pub(super) fn bounds(args: &InputArgs, default_window: Option<&Span>) -> Bounds {
    let window_ms = args.window.as_ref().or(default_window).map(|w| w.ms);
    Bounds { since: args.since.as_ref().map(|t| t.ms), until: args.until.as_ref().map(|t| t.ms), window_ms }
}

/// The day partitions an `s3://` input's pull needs: explicit bounds, or the window before
/// `--until`, or the window before the newest partition. An open window (no `--since`/`--until`)
/// ends at the newest sample of the *selection*; with a name filter (`--cluster`, `-n`,
/// `--workload`) only the data can tell where that is, and the bucket's newest days may hold
/// none of it (a cluster whose collector stopped): every day is pulled then (the mirror keeps
/// them, so later runs fetch only new days), and the engine cuts the window.
fn s3_pull_window(args: &InputArgs, default_window: Option<&Span>) -> DaysWanted {
    let filtered = args.cluster.is_some() || !args.namespaces.is_empty() || !args.workloads.is_empty();
    if filtered && args.since.is_none() && args.until.is_none() {
        return DaysWanted::Range { since: None, until: None };
    }
    let b = bounds(args, default_window);
    match (b.since, b.until, b.window_ms) {
        (Some(_), until, _) | (None, until, None) => DaysWanted::Range { since: b.since, until },
        (None, Some(u), Some(d)) => DaysWanted::Range { since: Some(u - d), until: Some(u) },
        (None, None, Some(duration)) => DaysWanted::Latest { duration },
    }
}

/// `--live`, `--kubeconfig` or `--context` given: the cluster to read current settings from.
pub(super) fn live(args: &InputArgs) -> Option<LiveSettings> {
    let live = &args.live;
    (live.live || live.kubeconfig.is_some() || live.context.is_some()).then(|| LiveSettings {
        kubeconfig: live.kubeconfig.clone(),
        context: live.context.clone(),
        namespaces: args.namespaces.clone(),
    })
}

/// Prints the engine's notes: notes unless `--quiet`, warnings and drift always. Names in
/// them are data: control characters are shown escaped, never sent to the terminal.
pub(super) fn print_notes(notes: &[Note]) {
    use crate::outputs::format::printable;
    for n in notes {
        match n {
            Note::Note(text) => super::progress::note(&printable(text)),
            Note::Warning(text) | Note::Drift(text) => eprintln!("{}", printable(text)),
        }
    }
}

/// A sizing run's notes, and with `PODSIZER_STATS` its store and timing figures.
pub(super) fn report_run(run: &SizingRun) {
    print_notes(&run.notes);
    for (root, stats) in &run.selection.day_stats {
        super::stat(&format!("store={} {stats:?}", root.display()));
    }
    super::stat(&format!("usage_seconds={:.2}", run.timings.usage_seconds));
    super::stat(&format!("sizing_seconds={:.2}", run.timings.sizing_seconds));
}

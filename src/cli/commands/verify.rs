//! `podsizer verify`: flags to settings, the verdicts as a table, JSON, YAML or CSV.

use crate::analysis::verdict::{Observed, Setting, Verdict};
use crate::cli::args::VerifyArgs;
use crate::cli::resolve;
use crate::domain::{format_timestamp, human_bytes, Cpu, Resources};
use crate::engine::verify::{verify, ContainerCheck, VerifyRun, VerifySettings};
use crate::outputs::OutputFormat;
use anyhow::Result;
use serde::Serialize;
use std::io::Write;

pub(crate) fn run(args: &VerifyArgs, out: &mut dyn Write) -> Result<u8> {
    let settings = VerifySettings { selection: resolve::selection(&args.input, None)?, ..Default::default() };
    let run = verify(settings)?;
    resolve::print_notes(&run.notes);
    let text = match args.output {
        OutputFormat::Table => table(&run),
        OutputFormat::Json => serde_json::to_string_pretty(&document(&run)).expect("document serialises") + "\n",
        OutputFormat::Yaml => crate::outputs::yaml::to_string_of(&document(&run)).expect("document serialises"),
        OutputFormat::Csv => csv_text(&run),
    };
    out.write_all(text.as_bytes())?;
    let harmed = run.checks.iter().any(|c| c.assessment.verdict != Verdict::Holds);
    Ok(u8::from(args.fail_on_harm && harmed))
}

/// The document behind `-o json` and `-o yaml` (field names are a public contract).
#[derive(Debug, Serialize)]
struct Document<'a> {
    containers: Vec<Entry<'a>>,
    /// Selected containers whose settings did not change in the recorded history.
    unchanged: usize,
    /// Selected containers without recorded settings over time.
    without_settings: usize,
}

#[derive(Debug, Serialize)]
struct Entry<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    cluster: &'a str,
    namespace: &'a str,
    workload_kind: &'a str,
    workload: &'a str,
    container: &'a str,
    verdict: Verdict,
    reasons: Vec<&'a str>,
    /// The settings to raise (for `revert`: to put back).
    harmed: Vec<Setting>,
    /// Signals the source did not record.
    unknown: &'a [&'static str],
    effective_at: String,
    through: String,
    before: Resources,
    after: Resources,
    pods: Vec<&'a str>,
    numbers: &'a Observed,
}

fn entry(c: &ContainerCheck) -> Entry<'_> {
    let mut harmed: Vec<Setting> = c.assessment.harms.iter().map(|h| h.setting).collect();
    harmed.sort();
    harmed.dedup();
    Entry {
        cluster: &c.key.workload.cluster,
        namespace: &c.key.workload.namespace,
        workload_kind: &c.key.workload.kind,
        workload: &c.key.workload.name,
        container: &c.key.container,
        verdict: c.assessment.verdict,
        reasons: c.assessment.harms.iter().map(|h| h.reason.as_str()).collect(),
        harmed,
        unknown: &c.assessment.unknown,
        effective_at: format_timestamp(c.change.effective_ms),
        through: format_timestamp(c.change.through_ms),
        before: c.change.before,
        after: c.change.after,
        pods: c.change.after_pods.iter().map(String::as_str).collect(),
        numbers: &c.observed,
    }
}

fn document(run: &VerifyRun) -> Document<'_> {
    Document {
        containers: run.checks.iter().map(entry).collect(),
        unchanged: run.unchanged,
        without_settings: run.without_settings,
    }
}

fn count(v: Option<f64>) -> String {
    v.map_or("?".into(), |n| format!("{n}"))
}

fn share(v: Option<f64>) -> String {
    v.map_or("?".into(), |s| format!("{:.1}%", s * 100.0))
}

/// What changed, `old -> new` per setting that moved.
fn change_text(before: &Resources, after: &Resources) -> String {
    let cpu = |v: Option<f64>| v.map_or("-".into(), |c| Cpu(c).to_string());
    let mem = |v: Option<f64>| v.map_or("-".into(), human_bytes);
    let mut parts = Vec::new();
    for (name, b, a, show) in [
        ("cpu req", before.cpu_request_cores, after.cpu_request_cores, &cpu as &dyn Fn(Option<f64>) -> String),
        ("cpu lim", before.cpu_limit_cores, after.cpu_limit_cores, &cpu),
        ("mem req", before.memory_request_bytes, after.memory_request_bytes, &mem),
        ("mem lim", before.memory_limit_bytes, after.memory_limit_bytes, &mem),
    ] {
        if b != a {
            parts.push(format!("{name} {} -> {}", show(b), show(a)));
        }
    }
    parts.join(", ")
}

fn reason_text(c: &ContainerCheck) -> String {
    let mut text: Vec<String> = c.assessment.harms.iter().map(|h| h.reason.clone()).collect();
    if text.is_empty() {
        text.push(format!("no harm in {:.0} h", c.observed.hours));
    }
    if !c.assessment.unknown.is_empty() {
        text.push(format!("unknown: {}", c.assessment.unknown.join(", ")));
    }
    text.join("; ")
}

fn table(run: &VerifyRun) -> String {
    let header = [
        "NAMESPACE",
        "WORKLOAD",
        "CONTAINER",
        "VERDICT",
        "SINCE",
        "HOURS",
        "OOM",
        "RESTARTS",
        "EVICTED",
        "THROTTLED",
        "MEM>REQ",
        "CHANGE",
        "REASON",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(std::string::ToString::to_string).collect()];
    for c in &run.checks {
        let o = &c.observed;
        rows.push(vec![
            c.key.workload.namespace.clone(),
            format!("{}/{}", c.key.workload.kind.to_lowercase(), c.key.workload.name),
            c.key.container.clone(),
            c.assessment.verdict.as_str().into(),
            format_timestamp(c.change.effective_ms),
            format!("{:.0}", o.hours),
            count(o.oom_kills),
            count(o.other_restarts),
            count(o.evictions),
            share(o.throttled_share),
            share(o.memory_above_request_share),
            change_text(&c.change.before, &c.change.after),
            reason_text(c),
        ]);
    }
    let widths: Vec<usize> =
        (0..header.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if run.checks.is_empty() {
        out.push_str("no change of requests or limits in the recorded settings of the selected containers\n");
    }
    out
}

fn csv_text(run: &VerifyRun) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "cluster",
        "namespace",
        "workload_kind",
        "workload",
        "container",
        "verdict",
        "effective_at",
        "hours",
        "oom_kills",
        "other_restarts",
        "evictions",
        "throttled_share",
        "cpu_above_limit_share",
        "cpu_time_above_limit_share",
        "memory_above_request_share",
        "peak_working_set_bytes",
        "reasons",
    ])
    .expect("in-memory write");
    let num = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
    for c in &run.checks {
        let o = &c.observed;
        let reasons: Vec<&str> = c.assessment.harms.iter().map(|h| h.reason.as_str()).collect();
        w.write_record([
            c.key.workload.cluster.clone(),
            c.key.workload.namespace.clone(),
            c.key.workload.kind.clone(),
            c.key.workload.name.clone(),
            c.key.container.clone(),
            c.assessment.verdict.as_str().into(),
            format_timestamp(c.change.effective_ms),
            o.hours.to_string(),
            num(o.oom_kills),
            num(o.other_restarts),
            num(o.evictions),
            num(o.throttled_share),
            num(o.cpu_above_limit_share),
            num(o.cpu_time_above_limit_share),
            num(o.memory_above_request_share),
            num(o.peak_working_set_bytes),
            reasons.join("; "),
        ])
        .expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("in-memory")).expect("UTF-8")
}

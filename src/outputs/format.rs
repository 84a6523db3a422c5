//! Recommendations as a table, JSON, YAML or CSV. Renderers return text; the CLI prints it.

use crate::analysis::{Proposal, Recommendation};
use crate::domain::{format_timestamp, human_bytes, Cpu, Resources};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
    Csv,
}

/// The document behind `-o json` and `-o yaml` (field names are a public contract).
#[derive(Debug, Serialize)]
pub struct Document {
    pub strategy: String,
    pub window: WindowDoc,
    pub recommendations: Vec<RecommendationDoc>,
}

#[derive(Debug, Serialize)]
pub struct WindowDoc {
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WorkloadDoc {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct CpuDoc {
    pub request_cores: Option<f64>,
    pub limit_cores: Option<f64>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct MemoryDoc {
    pub request_bytes: Option<f64>,
    pub limit_bytes: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CurrentDoc {
    pub cpu: CpuDoc,
    pub memory: MemoryDoc,
}

#[derive(Debug, Serialize)]
pub struct HistoryDoc {
    pub first: Option<String>,
    pub last: Option<String>,
    pub hours: f64,
}

#[derive(Debug, Serialize)]
pub struct RecommendationDoc {
    /// Absent when the samples named no cluster, so single-cluster documents keep their shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub namespace: String,
    pub workload: WorkloadDoc,
    pub container: String,
    /// `sized`, `insufficient_history` or `excluded`.
    pub status: &'static str,
    pub cpu: Option<CpuDoc>,
    pub memory: Option<MemoryDoc>,
    pub current: Option<CurrentDoc>,
    pub confidence: f64,
    pub samples: u64,
    pub pods: usize,
    pub history: HistoryDoc,
    pub rationale: Vec<String>,
    /// php-fpm / envoy / nginx settings read, proposed and flagged (only with `--kustomize`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<crate::analysis::runtimes::RuntimeAdvice>,
}

fn status(p: &Proposal) -> &'static str {
    match p {
        Proposal::Sized(_) => "sized",
        Proposal::InsufficientHistory { .. } => "insufficient_history",
        Proposal::Excluded => "excluded",
    }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn current_doc(r: &Resources) -> CurrentDoc {
    CurrentDoc {
        cpu: CpuDoc { request_cores: r.cpu_request_cores.map(round6), limit_cores: r.cpu_limit_cores.map(round6) },
        memory: MemoryDoc { request_bytes: r.memory_request_bytes, limit_bytes: r.memory_limit_bytes },
    }
}

impl RecommendationDoc {
    pub fn from(r: &Recommendation) -> Self {
        let sizing = r.sizing();
        Self {
            cluster: Some(r.key.workload.cluster.clone()).filter(|c| !c.is_empty()),
            namespace: r.key.workload.namespace.clone(),
            workload: WorkloadDoc { kind: r.key.workload.kind.clone(), name: r.key.workload.name.clone() },
            container: r.key.container.clone(),
            status: status(&r.proposal),
            cpu: sizing.map(|s| CpuDoc {
                request_cores: Some(round6(s.cpu_request_cores)),
                limit_cores: s.cpu_limit_cores.map(round6),
            }),
            memory: sizing.map(|s| MemoryDoc {
                request_bytes: Some(s.memory_request_bytes),
                limit_bytes: Some(s.memory_limit_bytes),
            }),
            current: r.current.as_ref().filter(|c| !c.is_empty()).map(current_doc),
            confidence: (r.confidence * 100.0).round() / 100.0,
            samples: r.samples,
            pods: r.pods,
            history: HistoryDoc {
                first: r.first_ms.map(format_timestamp),
                last: r.last_ms.map(format_timestamp),
                hours: match (r.first_ms, r.last_ms) {
                    (Some(a), Some(b)) => ((b - a) as f64 / 3.6e6 * 10.0).round() / 10.0,
                    _ => 0.0,
                },
            },
            rationale: r.rationale.clone(),
            runtime: r.runtime.clone(),
        }
    }
}

pub fn document(strategy: &str, since: Option<i64>, until: Option<i64>, recs: &[Recommendation]) -> Document {
    Document {
        strategy: strategy.to_string(),
        window: WindowDoc { since: since.map(format_timestamp), until: until.map(format_timestamp) },
        recommendations: recs.iter().map(RecommendationDoc::from).collect(),
    }
}

pub fn render(format: OutputFormat, doc: &Document, recs: &[Recommendation]) -> String {
    match format {
        OutputFormat::Json => serde_json::to_string_pretty(doc).expect("document serialises") + "\n",
        OutputFormat::Yaml => super::yaml::to_string_of(doc).expect("document serialises"),
        OutputFormat::Csv => csv_text(recs),
        OutputFormat::Table => table(recs),
    }
}

fn opt_cpu(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |c| Cpu(c).to_string())
}

fn opt_mem(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), human_bytes)
}

/// "current -> proposed" for one setting.
fn change(current: String, proposed: String) -> String {
    if current == "-" {
        proposed
    } else {
        format!("{current} -> {proposed}")
    }
}

/// Whether any recommendation names a cluster: only then do the table and CSV get that column.
fn any_cluster(recs: &[Recommendation]) -> bool {
    recs.iter().any(|r| !r.key.workload.cluster.is_empty())
}

fn table(recs: &[Recommendation]) -> String {
    let header =
        ["NAMESPACE", "WORKLOAD", "CONTAINER", "CPU REQUEST", "CPU LIMIT", "MEM REQUEST", "MEM LIMIT", "CONF", "NOTE"];
    let mut rows: Vec<[String; 9]> = Vec::new();
    let with_cluster = any_cluster(recs);
    for r in recs {
        let cur = r.current.unwrap_or_default();
        let wl = format!("{}/{}", r.key.workload.kind.to_lowercase(), r.key.workload.name);
        let (cells, note) = match &r.proposal {
            Proposal::Sized(s) => (
                [
                    change(opt_cpu(cur.cpu_request_cores), Cpu(s.cpu_request_cores).to_string()),
                    change(
                        opt_cpu(cur.cpu_limit_cores),
                        s.cpu_limit_cores.map_or("none".into(), |c| Cpu(c).to_string()),
                    ),
                    change(opt_mem(cur.memory_request_bytes), human_bytes(s.memory_request_bytes)),
                    change(opt_mem(cur.memory_limit_bytes), human_bytes(s.memory_limit_bytes)),
                ],
                note_for(r),
            ),
            Proposal::InsufficientHistory { have_span_ms, need_span_ms, .. } => (
                Default::default(),
                format!(
                    "not enough history ({:.0}h of {:.0}h)",
                    *have_span_ms as f64 / 3.6e6,
                    *need_span_ms as f64 / 3.6e6
                ),
            ),
            Proposal::Excluded => (Default::default(), "excluded by policy".into()),
        };
        let [a, b, c, d] = cells;
        rows.push([
            printable(&r.key.workload.namespace),
            printable(&wl),
            printable(&r.key.container),
            a,
            b,
            c,
            d,
            format!("{:.0}%", r.confidence * 100.0),
            note,
        ]);
    }
    let mut header: Vec<String> = header.map(String::from).to_vec();
    let mut rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    if with_cluster {
        header.insert(0, "CLUSTER".into());
        for (row, r) in rows.iter_mut().zip(recs) {
            row.insert(0, if r.key.workload.cluster.is_empty() { "-".into() } else { r.key.workload.cluster.clone() });
        }
    }
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// The one thing worth reading first in a table row: which guard or override shaped it.
fn note_for(r: &Recommendation) -> String {
    let mut notes = Vec::new();
    if r.rationale.iter().any(|l| l.starts_with("CPU limit") && l.contains("raised")) {
        notes.push("CPU limit raised to cover peaks");
    }
    if r.rationale.iter().any(|l| l.starts_with("memory limit") && l.contains("raised")) {
        notes.push("memory limit raised to cover peak");
    }
    if r.rationale.iter().any(|l| l.starts_with("policy override")) {
        notes.push("policy override");
    }
    notes.join("; ")
}

/// Text safe to show on a terminal or in a spreadsheet: control characters (escape sequences,
/// newlines) are written as `\u{..}` instead of acting on the reader's screen or layout.
/// Kubernetes names never contain them, so a valid name is unchanged.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

fn csv_text(recs: &[Recommendation]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let with_cluster = any_cluster(recs);
    let cluster_column = with_cluster.then_some("cluster");
    w.write_record(cluster_column.into_iter().chain([
        "namespace",
        "workload_kind",
        "workload",
        "container",
        "status",
        "cpu_request_cores",
        "cpu_limit_cores",
        "memory_request_bytes",
        "memory_limit_bytes",
        "current_cpu_request_cores",
        "current_cpu_limit_cores",
        "current_memory_request_bytes",
        "current_memory_limit_bytes",
        "confidence",
        "samples",
        "pods",
    ]))
    .expect("in-memory write");
    let num = |v: Option<f64>| v.map_or(String::new(), |x| round6(x).to_string());
    for r in recs {
        let s = r.sizing();
        let c = r.current.unwrap_or_default();
        let cluster = with_cluster.then(|| printable(&r.key.workload.cluster));
        w.write_record(cluster.into_iter().chain([
            printable(&r.key.workload.namespace),
            printable(&r.key.workload.kind),
            printable(&r.key.workload.name),
            printable(&r.key.container),
            status(&r.proposal).to_string(),
            num(s.map(|s| s.cpu_request_cores)),
            num(s.and_then(|s| s.cpu_limit_cores)),
            num(s.map(|s| s.memory_request_bytes)),
            num(s.map(|s| s.memory_limit_bytes)),
            num(c.cpu_request_cores),
            num(c.cpu_limit_cores),
            num(c.memory_request_bytes),
            num(c.memory_limit_bytes),
            format!("{:.2}", r.confidence),
            r.samples.to_string(),
            r.pods.to_string(),
        ]))
        .expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("flush")).expect("utf-8")
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_never_reach_a_terminal() {
        assert_eq!(printable("api-v2.x"), "api-v2.x");
        let shown = printable("evil\u{1b}[2J\nname\r");
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert_eq!(shown, "evil\\u{1b}[2J\\u{a}name\\u{d}");
    }
}

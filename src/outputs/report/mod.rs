//! The weekly sizing report: `index.html`, `index.md`, `report.json` and charts in one folder.
//!
//! `build` turns recommendations (the same ones `recommend` prints) and each container's raw
//! history into a `Report`: the JSON document plus the chart data. `write` draws the charts
//! and renders the page twice from one list of blocks (`content`), as Markdown and as HTML,
//! so both always say the same thing. Nothing here knows about the command line.

mod anchors;
mod blocks;
pub(crate) mod charts;
mod content;
mod contention;
mod details;
mod doc;
mod flags;
mod folder;
pub(crate) mod html;
pub(crate) mod markdown;
mod outcomes;
pub(crate) mod previous;

use crate::analysis::changes::{moves, Thresholds};
use crate::analysis::series::{Prices, Series};
use crate::analysis::timeline::{self, Bucket, Spread};
use crate::analysis::Recommendation;
use crate::domain::{format_timestamp, ContainerKey, Workload, DAY_MS};
use crate::outputs::format::{RecommendationDoc, WindowDoc};
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub(crate) use doc::*;
pub(crate) use folder::{check_folder, write, MARKER};
pub(crate) use outcomes::VerdictRow;
pub(crate) use previous::PreviousReport;

/// Identifies the JSON layout; bump when a field changes meaning.
pub(crate) const FORMAT: &str = "podsizer-report/1";
/// Hours in an average month (365 x 24 / 12), for monthly costs.
pub(crate) const HOURS_PER_MONTH: f64 = 730.0;
/// Width of the buckets in the usage charts.
pub(crate) const BUCKET_MS: i64 = 10 * 60_000;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("{path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("chart {file}: {message}")]
    Chart { file: String, message: String },
    #[error("{path}: not a podsizer report ({message})")]
    Previous { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    PreviousFigure { path: PathBuf, message: String },
    #[error(transparent)]
    Files(#[from] crate::outputs::fileset::FileSetError),
    #[error(
        "{path}: refusing to write the report there: {why}; give a new or empty folder (or, to let reports \
replace index.html, index.md, report.json and charts/ there, create the file {marker} in it)",
        marker = MARKER
    )]
    NotReportFolder { path: PathBuf, why: String },
}

/// What the report is made from.
pub(crate) struct ReportInput<'a> {
    pub strategy: &'a str,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// In container order, as `recommend_all` returns them.
    pub recommendations: &'a [Recommendation],
    /// Raw points per container (for charts and risk counts).
    pub series: &'a [Series],
    pub prices: Prices,
    pub tz: Tz,
    /// Where current settings came from (an overlay path), if anywhere.
    pub current_source: Option<String>,
    pub previous: Option<&'a PreviousReport>,
    /// Node shapes to pack the window's pods onto, now and with the proposal.
    pub nodes: &'a [crate::domain::NodeShape],
    /// Per changed container, the proposal replayed over the window (a section when given).
    pub evidence: &'a [(ContainerKey, crate::analysis::evidence::Evidence)],
    /// The verdicts on the changes rolled out, harm first (a section when given).
    pub verdicts: &'a [VerdictRow],
}

/// Everything written: the JSON document and the data behind the charts.
pub(crate) struct Report {
    pub doc: ReportDoc,
    pub tz: Tz,
    /// Start and end (exclusive) of the charts' time axis.
    pub span: (i64, i64),
    pub containers: Vec<ContainerData>,
    pub workloads: Vec<WorkloadData>,
    pub current_source: Option<String>,
    /// Per container (in `doc.containers` order), every setting the proposal moves, runtime
    /// settings included: the one notion of a change (`analysis::changes`).
    pub changes: Vec<Vec<String>>,
    pub evidence: Vec<(ContainerKey, crate::analysis::evidence::Evidence)>,
    pub verdicts: Vec<VerdictRow>,
}

/// One container's chart data, in `doc.containers` order.
pub(crate) struct ContainerData {
    pub buckets: Vec<Bucket>,
    pub current: Option<crate::domain::Resources>,
    pub proposed: Option<crate::analysis::Sizing>,
}

/// One workload's hour-of-day x weekday grid (mean CPU cores per pod, all containers).
pub(crate) struct WorkloadData {
    pub grid: [[Option<f64>; 24]; 7],
    /// Sum of the proposed CPU requests of its containers (one pod's request), if all sized.
    pub proposed_pod_request: Option<f64>,
}

/// Eviction exposure above which a container gets a risk flag.
pub(crate) const EXPOSURE_FLAG: f64 = 0.05;

/// Eviction exposure as a share of `samples` (0 without samples).
pub(crate) fn exposure_share(above: u64, samples: u64) -> f64 {
    if samples == 0 {
        0.0
    } else {
        above as f64 / samples as f64
    }
}

/// Settings in the order reports show them.
pub(crate) const SETTINGS: [&str; 4] = ["CPU request", "CPU limit", "memory request", "memory limit"];

impl ReportDoc {
    pub fn container_id(cluster: &str, namespace: &str, kind: &str, name: &str, container: &str) -> String {
        let cluster = if cluster.is_empty() { String::new() } else { format!("{cluster}:") };
        format!("{cluster}{namespace}/{kind}/{name}/{container}")
    }
}

/// Monthly cost of running `replicas` pods with these requests.
pub(crate) fn monthly_cost(prices: &Prices, replicas: f64, cpu_cores: f64, memory_bytes: f64) -> f64 {
    replicas * (cpu_cores * prices.core_hour + memory_bytes / GIB * prices.gib_hour) * HOURS_PER_MONTH
}

pub(crate) use crate::analysis::changes::differs;

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// The workload's name parts for file names: its cluster first when it has one.
fn name_parts<'a>(w: &'a Workload, kind: &'a str) -> Vec<&'a str> {
    let cluster = (!w.cluster.is_empty()).then_some(w.cluster.as_str());
    cluster.into_iter().chain([w.namespace.as_str(), kind, w.name.as_str()]).collect()
}

/// Chart files are named by `names::file_stem`, so two containers never share one.
fn chart_name(key: &ContainerKey) -> String {
    let w = &key.workload;
    let kind = crate::outputs::names::kind_word(&w.kind);
    let mut parts = name_parts(w, &kind);
    parts.push(&key.container);
    format!("charts/{}.usage.png", crate::outputs::names::file_stem(&parts))
}

fn heatmap_name(w: &Workload) -> String {
    let kind = crate::outputs::names::kind_word(&w.kind);
    format!("charts/{}.cpu-by-hour.svg", crate::outputs::names::file_stem(&name_parts(w, &kind)))
}

pub(crate) const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// (weekday 0 = Monday, hour) of an instant in `tz`.
pub(crate) fn local_cell(tz: Tz, ms: i64) -> (usize, usize) {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => (t.weekday().num_days_from_monday() as usize, t.hour() as usize),
        None => (0, 0),
    }
}

/// ISO week (`2026-W47`) of an instant in `tz`.
pub(crate) fn iso_week(tz: Tz, ms: i64) -> String {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => {
            let w = t.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        None => "unknown-week".into(),
    }
}

fn whole_spread(points: &[crate::analysis::series::Point]) -> (Spread, Spread) {
    let mut cpu: Vec<f64> = points.iter().map(|p| p.cpu).collect();
    let mut mem: Vec<f64> = points.iter().map(|p| p.memory).collect();
    let s = |v: &mut Vec<f64>| {
        if v.is_empty() {
            return Spread::default();
        }
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let at = |v: &mut Vec<f64>, q: f64| {
            let rank = (((q / 100.0) * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            *v.select_nth_unstable_by(rank, f64::total_cmp).1
        };
        let p95 = at(v, 95.0);
        let p50 = at(v, 50.0);
        Spread { p50, p95, max }
    };
    let (c, m) = (s(&mut cpu), s(&mut mem));
    let r = |x: Spread, d: i32| Spread { p50: round(x.p50, d), p95: round(x.p95, d), max: round(x.max, d) };
    (r(c, 6), r(m, 0))
}

/// Builds the report. `recommendations` and `series` are matched by container key.
pub(crate) fn build(input: &ReportInput<'_>) -> Report {
    let by_key: HashMap<&ContainerKey, &Series> = input.series.iter().map(|s| (&s.key, s)).collect();
    let empty = Vec::new();
    let first = input.series.iter().filter_map(|s| s.points.first()).map(|p| p.ts).min();
    let last = input.series.iter().filter_map(|s| s.points.last()).map(|p| p.ts).max();
    // Charts cover the data actually seen (a 14-day window over 7 days of samples shows 7).
    let span_start = first.map(|f| f.div_euclid(BUCKET_MS) * BUCKET_MS).or(input.since).unwrap_or(0);
    let span_end =
        last.map(|l| (l.div_euclid(BUCKET_MS) + 1) * BUCKET_MS).or(input.until).unwrap_or(span_start + DAY_MS);
    // The week under review: the ISO week of the middle of the window's last seven days (a
    // report run on Monday morning over the last 14 days is about the week that just ended).
    let week = iso_week(input.tz, (span_end - 7 * DAY_MS / 2).max(span_start));

    let mut containers = Vec::new();
    let mut data = Vec::new();
    let mut workload_grids: BTreeMap<Workload, Vec<(String, timeline::WeekGrid)>> = BTreeMap::new();
    for r in input.recommendations {
        let points = by_key.get(&r.key).map_or(&empty, |s| &s.points);
        let replicas = by_key.get(&r.key).map_or(0.0, |s| timeline::average_replicas(s));
        let (cpu, memory) = whole_spread(points);
        let usage = UsageDoc { cpu_cores: cpu, memory_bytes: memory };
        let cur = r.current.filter(|c| !c.is_empty());
        let now =
            timeline::crossings(points, cur.and_then(|c| c.cpu_limit_cores), cur.and_then(|c| c.memory_limit_bytes));
        let sizing = r.sizing().copied();
        let proposed = sizing.map(|s| timeline::crossings(points, s.cpu_limit_cores, Some(s.memory_limit_bytes)));
        let above = |request: f64| points.iter().filter(|p| p.memory > request).count() as u64;
        let exposure =
            (cur.and_then(|c| c.memory_request_bytes).map(above), sizing.map(|s| above(s.memory_request_bytes)));
        let flags = flags::flags_for(r, &usage, &now, proposed.as_ref(), exposure);
        let cost_now = cur
            .and_then(|c| Some(monthly_cost(&input.prices, replicas, c.cpu_request_cores?, c.memory_request_bytes?)));
        let cost_proposed =
            sizing.map(|s| monthly_cost(&input.prices, replicas, s.cpu_request_cores, s.memory_request_bytes));
        containers.push(ContainerDoc {
            cluster: r.key.workload.cluster.clone(),
            namespace: r.key.workload.namespace.clone(),
            workload: WorkloadRefDoc { kind: r.key.workload.kind.clone(), name: r.key.workload.name.clone() },
            container: r.key.container.clone(),
            replicas: round(replicas, 2),
            usage,
            monthly_cost: NowProposed {
                current: cost_now.map(|c| round(c, 2)),
                proposed: cost_proposed.map(|c| round(c, 2)),
            },
            risk: RiskDoc {
                samples: points.len() as u64,
                cpu_above_current_limit: cur.and_then(|c| c.cpu_limit_cores).map(|_| now.cpu_above_limit),
                memory_above_current_limit: cur.and_then(|c| c.memory_limit_bytes).map(|_| now.memory_above_limit),
                cpu_above_proposed_limit: sizing
                    .and_then(|s| s.cpu_limit_cores)
                    .and(proposed.map(|p| p.cpu_above_limit)),
                memory_above_proposed_limit: proposed.map(|p| p.memory_above_limit),
                memory_above_current_request: exposure.0,
                memory_above_proposed_request: exposure.1,
                oom_kills: None,
                flags,
            },
            chart: chart_name(&r.key),
        });
        data.push(ContainerData { buckets: timeline::buckets(points, BUCKET_MS), current: cur, proposed: sizing });
        let grid = timeline::cpu_week_grid(points, |ms| local_cell(input.tz, ms));
        workload_grids.entry(r.key.workload.clone()).or_default().push((r.key.container.clone(), grid));
    }

    let mut workloads = Vec::new();
    let mut workload_data = Vec::new();
    for (w, grids) in &workload_grids {
        let grid = timeline::WeekGrid::sum_of_means(grids.iter().map(|(_, g)| g));
        let mut cells: Vec<CellDoc> = Vec::new();
        for (d, row) in grid.iter().enumerate() {
            for (h, v) in row.iter().enumerate() {
                if let Some(v) = v {
                    cells.push(CellDoc { weekday: WEEKDAYS[d], hour: h, cpu_cores: round(*v, 4) });
                }
            }
        }
        let busiest = cells.iter().max_by(|a, b| a.cpu_cores.total_cmp(&b.cpu_cores)).cloned();
        let quietest = cells.iter().min_by(|a, b| a.cpu_cores.total_cmp(&b.cpu_cores)).cloned();
        let recs: Vec<&Recommendation> = input.recommendations.iter().filter(|r| &r.key.workload == w).collect();
        let proposed_pod_request = recs.iter().map(|r| r.sizing().map(|s| s.cpu_request_cores)).sum::<Option<f64>>();
        workloads.push(WorkloadDoc {
            cluster: w.cluster.clone(),
            namespace: w.namespace.clone(),
            kind: w.kind.clone(),
            name: w.name.clone(),
            containers: grids.iter().map(|(c, _)| c.clone()).collect(),
            heatmap: heatmap_name(w),
            busiest,
            quietest,
        });
        workload_data.push(WorkloadData { grid, proposed_pod_request });
    }

    let totals = totals(&containers, input.recommendations, &input.prices);
    let nodes = nodes(input, span_start, span_end);
    let recommendations: Vec<RecommendationDoc> = input.recommendations.iter().map(RecommendationDoc::from).collect();
    let week_over_week = input.previous.map(|p| previous::compare(p, &recommendations, &totals));
    let doc = ReportDoc {
        format: FORMAT,
        week,
        strategy: input.strategy.to_string(),
        window: WindowDoc { since: input.since.map(format_timestamp), until: input.until.map(format_timestamp) },
        time_zone: input.tz.name().to_string(),
        prices: PricesDoc {
            core_hour: input.prices.core_hour,
            gib_hour: input.prices.gib_hour,
            hours_per_month: HOURS_PER_MONTH,
        },
        totals,
        recommendations,
        containers,
        workloads,
        week_over_week,
        nodes,
    };
    Report {
        doc,
        tz: input.tz,
        span: (span_start, span_end),
        containers: data,
        workloads: workload_data,
        current_source: input.current_source.clone(),
        changes: input.recommendations.iter().map(|r| moves(r, &Thresholds::ANY)).collect(),
        evidence: input.evidence.to_vec(),
        verdicts: input.verdicts.to_vec(),
    }
}

/// Packs the window's pods onto each node shape with the current requests and with the
/// proposal (a container without a proposal keeps its current requests).
fn nodes(input: &ReportInput<'_>, from: i64, to: i64) -> Vec<NodesDoc> {
    use crate::analysis::{nodes::Fleet, Sizing};
    if input.nodes.is_empty() {
        return Vec::new();
    }
    let by_key: HashMap<&ContainerKey, &Recommendation> = input.recommendations.iter().map(|r| (&r.key, r)).collect();
    let current = |r: &Recommendation| {
        let c = r.current?;
        Some(Sizing {
            cpu_request_cores: c.cpu_request_cores?,
            cpu_limit_cores: None,
            memory_request_bytes: c.memory_request_bytes?,
            memory_limit_bytes: 0.0,
        })
    };
    let series: Vec<&Series> = input
        .series
        .iter()
        .filter(|s| by_key.get(&s.key).is_some_and(|r| r.sizing().is_some() || current(r).is_some()))
        .collect();
    let now: Vec<Option<Sizing>> = series.iter().map(|s| current(by_key[&s.key])).collect();
    let new: Vec<Option<Sizing>> =
        series.iter().zip(&now).map(|(s, n)| by_key[&s.key].sizing().copied().or(*n)).collect();
    let all_known = now.iter().all(Option::is_some);
    let mut steps: Vec<i64> = series.iter().map(|s| s.step_ms()).collect();
    steps.sort_unstable();
    let step = steps.get(steps.len() / 2).copied().unwrap_or(60_000);
    let fleet = Fleet::new(series, from, to, step);
    let mut requests = vec![fleet.requests(|i| new[i])];
    if all_known {
        requests.push(fleet.requests(|i| now[i]));
    }
    input
        .nodes
        .iter()
        .map(|shape| {
            let price = shape.hourly_price(input.prices.core_hour, input.prices.gib_hour);
            let outcomes = fleet.simulate(shape, price, &requests);
            let doc = |o: &crate::analysis::nodes::NodeOutcome| NodeFiguresDoc {
                peak_nodes: o.peak_nodes,
                mean_nodes: round(o.mean_nodes(), 2),
                memory_pressure_node_minutes: o.memory_pressure_minutes,
                cpu_contention_node_minutes: o.cpu_contention_minutes,
                cpu_contention_share: o.contention_share(),
                monthly_cost: round(o.mean_nodes() * price * HOURS_PER_MONTH, 2),
            };
            NodesDoc {
                shape: shape.name.clone(),
                pods: fleet.pods(),
                current: outcomes.get(1).map(doc),
                proposed: doc(&outcomes[0]),
            }
        })
        .collect()
}

fn totals(containers: &[ContainerDoc], recs: &[Recommendation], prices: &Prices) -> TotalsDoc {
    let known = |r: &Recommendation| {
        r.current.is_some_and(|c| c.cpu_request_cores.is_some() && c.memory_request_bytes.is_some())
    };
    let any_known = recs.iter().any(known);
    let (mut cpu_now, mut cpu_new, mut mem_now, mut mem_new, mut cost_now, mut cost_new) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut compared = 0;
    for (c, r) in containers.iter().zip(recs) {
        if any_known && !known(r) {
            continue;
        }
        let cur = r.current.unwrap_or_default();
        // Without a proposal the container keeps what it has.
        let (cpu, mem) = match r.sizing() {
            Some(s) => (Some(s.cpu_request_cores), Some(s.memory_request_bytes)),
            None => (cur.cpu_request_cores, cur.memory_request_bytes),
        };
        let (Some(cpu), Some(mem)) = (cpu, mem) else { continue };
        compared += 1;
        cpu_new += cpu * c.replicas;
        mem_new += mem * c.replicas / GIB;
        cost_new += monthly_cost(prices, c.replicas, cpu, mem);
        if any_known {
            let (cc, cm) = (cur.cpu_request_cores.unwrap_or(0.0), cur.memory_request_bytes.unwrap_or(0.0));
            cpu_now += cc * c.replicas;
            mem_now += cm * c.replicas / GIB;
            cost_now += monthly_cost(prices, c.replicas, cc, cm);
        }
    }
    let now = |v: f64, d: i32| any_known.then(|| round(v, d));
    TotalsDoc {
        containers: recs.len(),
        sized: recs.iter().filter(|r| r.sizing().is_some()).count(),
        compared,
        cpu_request_cores: NowProposed { current: now(cpu_now, 3), proposed: Some(round(cpu_new, 3)) },
        memory_request_gib: NowProposed { current: now(mem_now, 3), proposed: Some(round(mem_new, 3)) },
        monthly_cost: NowProposed { current: now(cost_now, 2), proposed: Some(round(cost_new, 2)) },
        monthly_savings: now(cost_now - cost_new, 2),
    }
}

/// The Markdown without chart images: for places that cannot host the chart files, such as
/// a pull-request body.
pub(crate) fn markdown_without_charts(report: &Report) -> String {
    let blocks: Vec<blocks::Block> =
        content::blocks(report).into_iter().filter(|b| !matches!(b, blocks::Block::Image { .. })).collect();
    markdown::render(&blocks)
}

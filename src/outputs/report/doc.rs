//! `report.json`: the report's document, every number in it (next week's report compares
//! against it). Field names are a public contract: add fields, never rename them.

use crate::analysis::timeline::Spread;
use crate::outputs::format::{RecommendationDoc, WindowDoc};
use serde::Serialize;

/// `report.json`.
#[derive(Debug, Serialize)]
pub struct ReportDoc {
    pub format: &'static str,
    /// ISO week under review in `time_zone` (that of the middle of the last seven days of
    /// data), e.g. `2026-W47`.
    pub week: String,
    pub strategy: String,
    pub window: WindowDoc,
    pub time_zone: String,
    pub prices: PricesDoc,
    pub totals: TotalsDoc,
    /// Exactly what `recommend -o json` prints for the same input and policy.
    pub recommendations: Vec<RecommendationDoc>,
    pub containers: Vec<ContainerDoc>,
    pub workloads: Vec<WorkloadDoc>,
    pub week_over_week: Option<WeekOverWeekDoc>,
    /// Nodes needed over the window, per node shape given with `--node`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodesDoc>,
}

/// The window's pods packed by their requests onto nodes of one shape (see `analysis::nodes`).
#[derive(Debug, Serialize)]
pub struct NodesDoc {
    pub shape: String,
    pub pods: usize,
    /// `None` when some container's current requests are unknown.
    pub current: Option<NodeFiguresDoc>,
    pub proposed: NodeFiguresDoc,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct NodeFiguresDoc {
    pub peak_nodes: usize,
    pub mean_nodes: f64,
    pub memory_pressure_node_minutes: f64,
    pub cpu_contention_node_minutes: f64,
    /// Share of node-steps with contention.
    pub cpu_contention_share: f64,
    pub monthly_cost: f64,
}

#[derive(Debug, Serialize)]
pub struct PricesDoc {
    pub core_hour: f64,
    pub gib_hour: f64,
    pub hours_per_month: f64,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Default)]
pub struct NowProposed {
    pub current: Option<f64>,
    pub proposed: Option<f64>,
}

/// Sums over the containers whose current requests are known (all containers when none are).
#[derive(Debug, Serialize)]
pub struct TotalsDoc {
    pub containers: usize,
    pub sized: usize,
    /// Containers in the sums below.
    pub compared: usize,
    /// Requested cores x average replicas.
    pub cpu_request_cores: NowProposed,
    /// Requested GiB x average replicas.
    pub memory_request_gib: NowProposed,
    pub monthly_cost: NowProposed,
    /// Current minus proposed monthly cost (positive = saving).
    pub monthly_savings: Option<f64>,
}

#[derive(Debug, Serialize, Clone)]
pub struct WorkloadRefDoc {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Serialize, Default)]
pub struct UsageDoc {
    /// Over all samples of the window, all pods pooled.
    pub cpu_cores: Spread,
    pub memory_bytes: Spread,
}

#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct FlagDoc {
    pub code: &'static str,
    pub text: String,
}

#[derive(Debug, Serialize, Default)]
pub struct RiskDoc {
    pub samples: u64,
    pub cpu_above_current_limit: Option<u64>,
    pub memory_above_current_limit: Option<u64>,
    pub cpu_above_proposed_limit: Option<u64>,
    pub memory_above_proposed_limit: Option<u64>,
    /// Eviction exposure: samples whose working set is above the memory request (the kubelet
    /// evicts such pods first when a node runs short of memory).
    pub memory_above_current_request: Option<u64>,
    pub memory_above_proposed_request: Option<u64>,
    /// OOM kills are not in usage samples: `null` means unknown, not zero.
    pub oom_kills: Option<u64>,
    pub flags: Vec<FlagDoc>,
}

#[derive(Debug, Serialize)]
pub struct ContainerDoc {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub namespace: String,
    pub workload: WorkloadRefDoc,
    pub container: String,
    /// Average number of pods running over the window.
    pub replicas: f64,
    pub usage: UsageDoc,
    pub monthly_cost: NowProposed,
    pub risk: RiskDoc,
    /// Usage chart, relative to the report folder.
    pub chart: String,
}

#[derive(Debug, Serialize)]
pub struct WorkloadDoc {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub containers: Vec<String>,
    /// Hour-of-day x weekday CPU heat map, relative to the report folder.
    pub heatmap: String,
    /// Busiest and quietest cell (mean cores per pod).
    pub busiest: Option<CellDoc>,
    pub quietest: Option<CellDoc>,
}

#[derive(Debug, Serialize, Clone)]
pub struct CellDoc {
    pub weekday: &'static str,
    pub hour: usize,
    pub cpu_cores: f64,
}

#[derive(Debug, Serialize)]
pub struct WeekOverWeekDoc {
    pub previous_week: String,
    pub previous_window: WindowDoc,
    /// Containers whose proposal or current settings moved.
    pub changes: Vec<ContainerChangeDoc>,
    pub unchanged: usize,
    /// Containers in this report only / in the previous one only (`ns/Kind/name/container`).
    pub new: Vec<String>,
    pub gone: Vec<String>,
    pub monthly_cost: WeekPair,
    pub monthly_cost_proposed: WeekPair,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct WeekPair {
    pub previous: Option<f64>,
    pub now: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ContainerChangeDoc {
    pub container: String,
    pub moves: Vec<MoveDoc>,
}

/// One setting that moved between the two reports.
#[derive(Debug, Serialize)]
pub struct MoveDoc {
    /// `proposed` or `current`.
    pub what: &'static str,
    /// `CPU request`, `CPU limit`, `memory request`, `memory limit` or `status`.
    pub setting: &'static str,
    pub previous: String,
    pub now: String,
    /// Relative change, when both are numbers.
    pub change: Option<f64>,
    /// Plain-words reason: the rationale then and now, or what happened to the settings.
    pub why: String,
}

//! Sizing policy: the defaults (the team's rule plus guards) and per-container overrides
//! from a TOML file. Overrides match by namespace, kind, workload and container (globs with
//! `*` and `?`); every matching override applies in file order, later ones winning.

use crate::domain::{parse_duration, parse_quantity, ContainerKey, DAY_MS, HOUR_MS};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// CPU rules for one container.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CpuPolicy {
    /// Percentile of usage that counts as "typical load": the request.
    pub request_percentile: f64,
    /// Limit as a multiple of the request (the team's "limit = 2 x request").
    pub limit_ratio: f64,
    /// `false`: set no CPU limit at all.
    pub set_limit: bool,
    /// Peak guard: the limit is at least this percentile of usage ...
    pub peak_percentile: f64,
    /// ... times (1 + headroom).
    pub peak_headroom: f64,
    /// Lowest CPU request proposed, in cores: a near-idle container still gets this much.
    pub floor_cores: f64,
    /// Granularity of CPU figures, in cores: requests and limits are rounded up to a multiple of it.
    pub step_cores: f64,
    /// Node-level CPU contention allowed (share of node-steps with the pods' summed CPU use
    /// above allocatable) when pods are packed by their requests on a `--node` shape: CPU
    /// requests are raised workload by workload until the training window stays within it
    /// (see `analysis::contention`). `None` (the default): no such raise. Read from the
    /// defaults only: contention is a property of the whole fleet.
    pub node_contention_budget: Option<f64>,
}

/// What the memory request is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryBasis {
    /// A percentile of each pod's daily peak working set: what pods hold through their busy
    /// hours. The kubelet evicts pods above their request first under node memory pressure.
    DailyPeaks,
    /// `request_percentile` of all working-set samples (typical use, the CPU rule).
    WorkingSet,
    /// The lowest request whose eviction exposure, estimated out of sample inside the
    /// window, stays within `risk_budget` (see `strategies::risk_budget`).
    RiskBudget,
}

/// Memory rules for one container.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemoryPolicy {
    /// Which estimate of use the memory request is taken from.
    pub request_basis: MemoryBasis,
    /// Percentile of the per-pod daily peaks (basis `daily-peaks`).
    pub daily_peak_percentile: f64,
    /// The request is that percentile x (1 + margin) (basis `daily-peaks`).
    pub request_margin: f64,
    /// Percentile of working-set samples (basis `working-set`).
    pub request_percentile: f64,
    /// Target eviction exposure: share of samples above the request (basis `risk-budget`).
    pub risk_budget: f64,
    /// Limit as a multiple of the request, before the peak guard raises it.
    pub limit_ratio: f64,
    /// Peak guard: the limit is at least the highest working set times (1 + headroom).
    pub peak_headroom: f64,
    /// Lowest memory request proposed, in bytes: a near-idle container still gets this much.
    pub floor_bytes: f64,
    /// Granularity of memory figures, in bytes: requests and limits are rounded up to a multiple of it.
    pub step_bytes: f64,
}

/// How much history is enough, and how fast old history fades.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HistoryPolicy {
    /// Shortest history (first to last sample, in ms) that is sized; shorter history gets no proposal.
    pub min_span_ms: i64,
    /// Fewest samples that are sized; fewer get no proposal.
    pub min_samples: u64,
    /// Weight halves every `half_life_ms` of age; `None` weighs all samples alike.
    pub half_life_ms: Option<i64>,
    /// Time until the next review: sustained growth is projected this far ahead.
    pub horizon_ms: i64,
}

/// php-fpm's memory rule (see `analysis::runtimes::php_fpm`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PhpFpmPolicy {
    /// `true`: a memory limit too small for the pool lowers `pm.max_children`; `false`: the
    /// limit is raised to hold the children configured.
    pub lower_max_children: bool,
    /// Memory of the php-fpm master process, added to the children's.
    pub master_bytes: f64,
}

/// The fully resolved rules for one container.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Policy {
    /// How the CPU request and limit are set.
    pub cpu: CpuPolicy,
    /// How the memory request and limit are set.
    pub memory: MemoryPolicy,
    /// How much history is enough, how it is weighed and how far growth is projected.
    pub history: HistoryPolicy,
    /// php-fpm's memory rule, for containers running php-fpm.
    pub php_fpm: PhpFpmPolicy,
    /// What to do when start-up CPU is above the proposed limit (`analysis::startup`).
    pub startup: StartupPolicy,
    /// `true`: the container is left as it is (no proposal), e.g. a system component.
    pub exclude: bool,
}

/// The start-up rule's setting (`[startup]` in the policy file).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StartupPolicy {
    /// `cpu = "off" | "note" | "raise-limit" | "boost"`; `note` by default.
    pub cpu: super::startup::StartupCpu,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            cpu: CpuPolicy {
                request_percentile: 50.0,
                limit_ratio: 2.0,
                set_limit: true,
                peak_percentile: 99.9,
                peak_headroom: 0.10,
                floor_cores: 0.010,
                step_cores: 0.005,
                node_contention_budget: None,
            },
            memory: MemoryPolicy {
                request_basis: MemoryBasis::DailyPeaks,
                daily_peak_percentile: 60.0,
                request_margin: 0.10,
                request_percentile: 50.0,
                risk_budget: 0.03,
                limit_ratio: 2.0,
                peak_headroom: 1.0,
                floor_bytes: 32.0 * 1024.0 * 1024.0,
                step_bytes: 1024.0 * 1024.0,
            },
            history: HistoryPolicy {
                min_span_ms: 24 * HOUR_MS,
                min_samples: 100,
                half_life_ms: Some(7 * DAY_MS),
                horizon_ms: 7 * DAY_MS,
            },
            php_fpm: PhpFpmPolicy { lower_max_children: true, master_bytes: 32.0 * 1024.0 * 1024.0 },
            startup: StartupPolicy::default(),
            exclude: false,
        }
    }
}

/// Why a policy file was refused, naming the file and, where known, the line or field.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("{path}: cannot read policy file")]
    Io {
        /// The policy file.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// The file is not TOML, or has a table or key a policy does not know.
    #[error("{path}: {message}")]
    Syntax {
        /// The policy file.
        path: PathBuf,
        /// Line, column and what is wrong there.
        message: String,
    },
    /// A value is out of range or not parseable.
    #[error("{path}: {field}: {message}")]
    Field {
        /// The policy file.
        path: PathBuf,
        /// Where the value sits: `defaults.` or the override's name, then the key (`cpu.limit_ratio`).
        field: String,
        /// What is wrong with the value.
        message: String,
    },
}

/// Partial settings as written in the file; `None` keeps the value from below.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// The `[cpu]` table.
    #[serde(default)]
    pub cpu: CpuSpec,
    /// The `[memory]` table.
    #[serde(default)]
    pub memory: MemorySpec,
    /// The `[history]` table.
    #[serde(default)]
    pub history: HistorySpec,
    /// The `[php_fpm]` table.
    #[serde(default)]
    pub php_fpm: PhpFpmSpec,
    /// The `[startup]` table.
    #[serde(default)]
    pub startup: StartupSpec,
    /// `exclude = true` leaves matching containers out of sizing.
    pub exclude: Option<bool>,
}

/// `[startup]` as written: `cpu = "off" | "note" | "raise-limit" | "boost"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartupSpec {
    /// What to do when start-up CPU is above the proposed limit.
    pub cpu: Option<String>,
}

/// The `[php_fpm]` table of a policy file (see [`PhpFpmPolicy`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhpFpmSpec {
    /// Sets [`PhpFpmPolicy::lower_max_children`].
    pub lower_max_children: Option<bool>,
    /// Memory of the master process, a Kubernetes quantity (`32Mi`).
    pub master_memory: Option<String>,
}

/// The `[cpu]` table of a policy file (see [`CpuPolicy`]); quantities are Kubernetes CPU strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSpec {
    /// Percentile of usage taken as the request (0-100).
    pub request_percentile: Option<f64>,
    /// Limit as a multiple of the request (1-100).
    pub limit_ratio: Option<f64>,
    /// `false`: set no CPU limit.
    pub limit: Option<bool>,
    /// Percentile of usage the limit must cover (0-100).
    pub peak_percentile: Option<f64>,
    /// Margin over that percentile, as a share (`0.1` = 10%).
    pub peak_headroom: Option<f64>,
    /// Lowest request (`10m`).
    pub floor: Option<String>,
    /// Rounding step of requests and limits (`5m`).
    pub step: Option<String>,
    /// See `CpuPolicy::node_contention_budget`.
    pub node_contention_budget: Option<f64>,
}

/// The `[memory]` table of a policy file (see [`MemoryPolicy`]); quantities are Kubernetes
/// memory strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// `daily-peaks`, `working-set` or `risk-budget`.
    pub request_basis: Option<String>,
    /// Target share of samples above the request (basis `risk-budget`), above 0 and at most 0.5.
    pub risk_budget: Option<f64>,
    /// Percentile of the per-pod daily peaks (0-100, basis `daily-peaks`).
    pub daily_peak_percentile: Option<f64>,
    /// Margin over that percentile, as a share (`0.1` = 10%).
    pub request_margin: Option<f64>,
    /// Percentile of working-set samples (0-100, basis `working-set`).
    pub request_percentile: Option<f64>,
    /// Limit as a multiple of the request (1-100).
    pub limit_ratio: Option<f64>,
    /// Margin of the limit over the highest working set, as a share (`1.0` = twice the peak).
    pub peak_headroom: Option<f64>,
    /// Lowest request (`32Mi`).
    pub floor: Option<String>,
    /// Rounding step of requests and limits (`1Mi`).
    pub step: Option<String>,
}

/// The `[history]` table of a policy file (see [`HistoryPolicy`]); spans are durations like `24h` or `7d`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    /// Shortest history that is sized, a duration.
    pub min_span: Option<String>,
    /// Fewest samples that are sized.
    pub min_samples: Option<u64>,
    /// A duration, or "none" for no decay.
    pub half_life: Option<String>,
    /// How far ahead sustained growth is projected (the review period).
    pub horizon: Option<String>,
}

/// Which containers an override applies to; an absent field matches anything.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// Namespace glob.
    pub namespace: Option<String>,
    /// Workload kind glob (`Deployment`, `StatefulSet`, ...).
    pub kind: Option<String>,
    /// Workload name glob.
    pub workload: Option<String>,
    /// Container name glob.
    pub container: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideSpec {
    #[serde(rename = "match")]
    matcher: Matcher,
    name: Option<String>,
    #[serde(flatten)]
    spec: PolicySpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    defaults: PolicySpec,
    #[serde(default, rename = "override")]
    overrides: Vec<OverrideSpec>,
    /// Workload name -> share of production traffic during the window (`--traffic-share` syntax).
    #[serde(default)]
    traffic_share: std::collections::BTreeMap<String, String>,
}

/// Defaults plus overrides, ready to resolve per container.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The rules for a container no override matches.
    pub defaults: Policy,
    overrides: Vec<(String, Matcher, PolicySpec)>,
    /// Traffic shares from the file; `--traffic-share` flags win over them.
    pub traffic: Vec<super::traffic::TrafficShare>,
}

impl PolicySet {
    /// Reads a policy file's text (`path` only names it in errors). Every override is applied once
    /// to the defaults here, so a bad value fails at load, naming the override and field.
    pub fn parse(path: &Path, text: &str) -> Result<Self, PolicyError> {
        let file: FileSpec = toml::from_str(text)
            .map_err(|e| PolicyError::Syntax { path: path.into(), message: syntax_message(text, &e) })?;
        let mut defaults = Policy::default();
        file.defaults.apply(&mut defaults).map_err(|FieldError { field, message }| PolicyError::Field {
            path: path.into(),
            field: format!("defaults.{field}"),
            message,
        })?;
        let mut overrides = Vec::new();
        for (i, o) in file.overrides.into_iter().enumerate() {
            let name = o.name.unwrap_or_else(|| format!("override[{i}]"));
            // Apply once now so a bad value fails at load time, naming the override.
            o.spec.apply(&mut defaults.clone()).map_err(|FieldError { field, message }| PolicyError::Field {
                path: path.into(),
                field: format!("{name}.{field}"),
                message,
            })?;
            overrides.push((name, o.matcher, o.spec));
        }
        let mut traffic = Vec::new();
        for (workload, spec) in &file.traffic_share {
            let share = super::traffic::TrafficShare::parse(&format!("{workload}={spec}")).map_err(|e| {
                PolicyError::Field { path: path.into(), field: format!("traffic_share.{workload}"), message: e.reason }
            })?;
            traffic.push(share);
        }
        Ok(Self { defaults, overrides, traffic })
    }

    /// The rules for one container, and the names of the overrides that shaped them.
    pub fn for_container(&self, key: &ContainerKey) -> (Policy, Vec<String>) {
        let mut policy = self.defaults.clone();
        let mut applied = Vec::new();
        for (name, matcher, spec) in &self.overrides {
            if matcher.matches(key) {
                spec.apply(&mut policy).expect("validated at load");
                applied.push(name.clone());
            }
        }
        (policy, applied)
    }
}

impl Matcher {
    /// Whether every pattern present matches `key` (an absent one matches anything).
    pub fn matches(&self, key: &ContainerKey) -> bool {
        let ok = |pattern: &Option<String>, value: &str| pattern.as_deref().is_none_or(|p| glob(p, value));
        ok(&self.namespace, &key.workload.namespace)
            && ok(&self.kind, &key.workload.kind)
            && ok(&self.workload, &key.workload.name)
            && ok(&self.container, &key.container)
    }
}

/// `*` matches any run of characters, `?` any one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A policy field and what is wrong with its value.
#[derive(Debug)]
struct FieldError {
    field: String,
    message: String,
}

fn field_error(field: &str, message: String) -> FieldError {
    FieldError { field: field.to_string(), message }
}

type FieldResult = Result<(), FieldError>;

/// Where and what, without echoing the offending line: a line can be megabytes long.
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let message: String = e.message().chars().take(300).collect();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn percentile(field: &str, v: f64) -> Result<f64, FieldError> {
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(field_error(field, format!("{} is not a percentile (0-100)", crate::domain::bounds::short_number(v))))
    }
}

/// A share of samples: above 0 (a budget of nothing is the highest request there is, not a
/// rule) and at most one half (past that the request is below typical use).
fn share(field: &str, v: f64) -> Result<f64, FieldError> {
    if v > 0.0 && v <= 0.5 {
        Ok(v)
    } else {
        Err(field_error(field, format!("{} must be above 0 and at most 0.5", crate::domain::bounds::short_number(v))))
    }
}

/// Multipliers past this are typos (`1e308`), not policies: they would only hit the caps.
const MAX_FACTOR: f64 = 100.0;

fn non_negative(field: &str, v: f64) -> Result<f64, FieldError> {
    if v.is_finite() && (0.0..=MAX_FACTOR).contains(&v) {
        Ok(v)
    } else {
        Err(field_error(
            field,
            format!("{} must be a number from 0 to {MAX_FACTOR}", crate::domain::bounds::short_number(v)),
        ))
    }
}

fn ratio(field: &str, v: f64) -> Result<f64, FieldError> {
    if (1.0..=MAX_FACTOR).contains(&v) {
        Ok(v)
    } else if v.is_nan() {
        Err(field_error(field, format!("NaN must be a number from 1 to {MAX_FACTOR}")))
    } else if v < 1.0 {
        Err(field_error(field, format!("{v} must be >= 1 (a limit below the request is not allowed)")))
    } else {
        Err(field_error(field, format!("{} must be at most {MAX_FACTOR}", crate::domain::bounds::short_number(v))))
    }
}

/// A floor or step: a quantity up to what one container can use (`domain::bounds`), so a
/// step of `1Ei` cannot round every figure to zero or past 64 bits.
fn quantity(field: &str, text: &str, positive: bool) -> Result<f64, FieldError> {
    let short = |t: &str| t.chars().take(40).collect::<String>();
    let v = parse_quantity(text)
        .map_err(|e| field_error(field, format!("invalid quantity {:?}: {}", short(text), e.reason)))?;
    if v < 0.0 || (positive && v == 0.0) {
        return Err(field_error(field, format!("{:?} must be {}", short(text), if positive { "> 0" } else { ">= 0" })));
    }
    let max = if field.starts_with("cpu") {
        crate::domain::bounds::MAX_CORES
    } else {
        crate::domain::bounds::MAX_MEMORY_BYTES
    };
    if v > max {
        return Err(field_error(field, format!("{:?} is more than one container can use", short(text))));
    }
    Ok(v)
}

impl PolicySpec {
    fn apply(&self, p: &mut Policy) -> FieldResult {
        let c = &self.cpu;
        set(&mut p.cpu.request_percentile, c.request_percentile, |v| percentile("cpu.request_percentile", v))?;
        set(&mut p.cpu.limit_ratio, c.limit_ratio, |v| ratio("cpu.limit_ratio", v))?;
        set(&mut p.cpu.set_limit, c.limit, Ok)?;
        set(&mut p.cpu.peak_percentile, c.peak_percentile, |v| percentile("cpu.peak_percentile", v))?;
        set(&mut p.cpu.peak_headroom, c.peak_headroom, |v| non_negative("cpu.peak_headroom", v))?;
        set(&mut p.cpu.floor_cores, c.floor.as_deref(), |v| quantity("cpu.floor", v, false))?;
        set(&mut p.cpu.step_cores, c.step.as_deref(), |v| quantity("cpu.step", v, true))?;
        if let Some(v) = c.node_contention_budget {
            p.cpu.node_contention_budget = Some(share("cpu.node_contention_budget", v)?);
        }
        let m = &self.memory;
        set(&mut p.memory.request_basis, m.request_basis.as_deref(), |v| match v {
            "daily-peaks" => Ok(MemoryBasis::DailyPeaks),
            "working-set" => Ok(MemoryBasis::WorkingSet),
            "risk-budget" => Ok(MemoryBasis::RiskBudget),
            other => Err(field_error(
                "memory.request_basis",
                format!("{other:?} is not `daily-peaks`, `working-set` or `risk-budget`"),
            )),
        })?;
        set(&mut p.memory.risk_budget, m.risk_budget, |v| share("memory.risk_budget", v))?;
        set(&mut p.memory.daily_peak_percentile, m.daily_peak_percentile, |v| {
            percentile("memory.daily_peak_percentile", v)
        })?;
        set(&mut p.memory.request_margin, m.request_margin, |v| non_negative("memory.request_margin", v))?;
        set(&mut p.memory.request_percentile, m.request_percentile, |v| percentile("memory.request_percentile", v))?;
        set(&mut p.memory.limit_ratio, m.limit_ratio, |v| ratio("memory.limit_ratio", v))?;
        set(&mut p.memory.peak_headroom, m.peak_headroom, |v| non_negative("memory.peak_headroom", v))?;
        set(&mut p.memory.floor_bytes, m.floor.as_deref(), |v| quantity("memory.floor", v, false))?;
        set(&mut p.memory.step_bytes, m.step.as_deref(), |v| quantity("memory.step", v, true))?;
        let h = &self.history;
        set(&mut p.history.min_span_ms, h.min_span.as_deref(), |v| {
            parse_duration(v).map_err(|e| field_error("history.min_span", e.to_string()))
        })?;
        set(&mut p.history.min_samples, h.min_samples, Ok)?;
        set(&mut p.history.half_life_ms, h.half_life.as_deref(), |v| match v {
            "none" => Ok(None),
            d => {
                parse_duration(d).map(Some).map_err(|e| field_error("history.half_life", format!("{e} (or \"none\")")))
            }
        })?;
        set(&mut p.history.horizon_ms, h.horizon.as_deref(), |v| {
            parse_duration(v).map_err(|e| field_error("history.horizon", e.to_string()))
        })?;
        let f = &self.php_fpm;
        set(&mut p.php_fpm.lower_max_children, f.lower_max_children, Ok)?;
        set(&mut p.php_fpm.master_bytes, f.master_memory.as_deref(), |v| quantity("php_fpm.master_memory", v, false))?;
        set(&mut p.startup.cpu, self.startup.cpu.as_deref(), |v| {
            super::startup::StartupCpu::parse(v).ok_or_else(|| {
                field_error("startup.cpu", format!("{v:?} is not `off`, `note`, `raise-limit` or `boost`"))
            })
        })?;
        set(&mut p.exclude, self.exclude, Ok)?;
        Ok(())
    }
}

fn set<T, V>(slot: &mut T, value: Option<V>, convert: impl FnOnce(V) -> Result<T, FieldError>) -> FieldResult {
    if let Some(v) = value {
        *slot = convert(v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Workload;

    fn key(ns: &str, wl: &str, c: &str) -> ContainerKey {
        ContainerKey {
            workload: Workload {
                namespace: ns.into(),
                kind: "Deployment".into(),
                name: wl.into(),
                ..Default::default()
            },
            container: c.into(),
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("api-*", "api-worker"));
        assert!(!glob("api-*", "api"));
        assert!(glob("e?voy", "envoy"));
        assert!(glob("*-proxy", "istio-proxy"));
        assert!(!glob("nginx", "nginx2"));
    }

    #[test]
    fn overrides_apply_in_order_to_matching_containers_only() {
        let text = r#"
            [defaults.cpu]
            request_percentile = 60
            [[override]]
            name = "sidecars"
            match = { container = "envoy" }
            cpu = { limit = false, floor = "20m" }
            [[override]]
            match = { namespace = "shop", container = "envoy" }
            cpu = { floor = "30m" }
            [[override]]
            match = { namespace = "kube-*" }
            exclude = true
        "#;
        let set = PolicySet::parse(Path::new("p.toml"), text).unwrap();
        let (p, applied) = set.for_container(&key("shop", "api", "envoy"));
        assert_eq!(p.cpu.request_percentile, 60.0);
        assert!(!p.cpu.set_limit);
        assert!((p.cpu.floor_cores - 0.030).abs() < 1e-12);
        assert_eq!(applied, vec!["sidecars".to_string(), "override[1]".to_string()]);
        let (nginx, none) = set.for_container(&key("shop", "api", "nginx"));
        assert!(nginx.cpu.set_limit && none.is_empty());
        assert!(set.for_container(&key("kube-system", "dns", "coredns")).0.exclude);
    }

    #[test]
    fn traffic_shares_from_the_file() {
        let set = PolicySet::parse(Path::new("p.toml"), "[traffic_share]\napi = \"0.3@2026-11-20,1.0\"\n").unwrap();
        assert_eq!(set.traffic.len(), 1);
        assert_eq!(set.traffic[0].at(0), 0.3);
        let err = PolicySet::parse(Path::new("p.toml"), "[traffic_share]\napi = \"3\"\n").unwrap_err().to_string();
        assert!(err.contains("traffic_share.api"), "{err}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            ("[defaults.cpu]\nrequest_percentile = 150\n", "defaults.cpu.request_percentile"),
            ("[defaults.memory]\nfloor = \"lots\"\n", "defaults.memory.floor"),
            ("[[override]]\nname = \"x\"\nmatch = {}\ncpu = { limit_ratio = 0.5 }\n", "x.cpu.limit_ratio"),
            ("[defaults.history]\nhalf_life = \"soon\"\n", "defaults.history.half_life"),
            ("[defaults.memory]\nrequest_basis = \"p50\"\n", "defaults.memory.request_basis"),
            ("[defaults.memory]\nrisk_budget = 0\n", "defaults.memory.risk_budget"),
            ("[defaults.memory]\nrisk_budget = 0.9\n", "defaults.memory.risk_budget"),
            ("[defaults.memory]\nrisk_budget = nan\n", "defaults.memory.risk_budget"),
        ];
        for (text, field) in cases {
            let err = PolicySet::parse(Path::new("p.toml"), text).unwrap_err().to_string();
            assert!(err.contains(field) && err.starts_with("p.toml"), "{err}");
        }
        let err = PolicySet::parse(Path::new("p.toml"), "[defaults.cpu]\nrequest_pct = 50\n").unwrap_err().to_string();
        assert!(err.contains("request_pct") && err.contains("line"), "{err}");
    }

    #[test]
    fn absurd_numbers_are_refused_naming_file_and_field() {
        // Every number of the file is checked like a sample: NaN, infinities, negatives,
        // 1e300 and figures past one container's 1,024 cores / 64Ti.
        let cases = [
            ("[defaults.cpu]\nrequest_percentile = nan\n", "defaults.cpu.request_percentile"),
            ("[defaults.cpu]\npeak_percentile = -1\n", "defaults.cpu.peak_percentile"),
            ("[defaults.cpu]\nlimit_ratio = nan\n", "defaults.cpu.limit_ratio"),
            ("[defaults.cpu]\nlimit_ratio = inf\n", "defaults.cpu.limit_ratio"),
            ("[defaults.cpu]\npeak_headroom = 1e300\n", "defaults.cpu.peak_headroom"),
            ("[defaults.cpu]\npeak_headroom = -0.5\n", "defaults.cpu.peak_headroom"),
            ("[defaults.memory]\nrequest_margin = nan\n", "defaults.memory.request_margin"),
            ("[defaults.memory]\nlimit_ratio = 1e300\n", "defaults.memory.limit_ratio"),
            ("[defaults.cpu]\nfloor = \"2000\"\n", "defaults.cpu.floor"),
            ("[defaults.cpu]\nstep = \"-1\"\n", "defaults.cpu.step"),
            ("[defaults.memory]\nfloor = \"65Ti\"\n", "defaults.memory.floor"),
            ("[defaults.memory]\nstep = \"0\"\n", "defaults.memory.step"),
            ("[defaults.php_fpm]\nmaster_memory = \"1e300\"\n", "defaults.php_fpm.master_memory"),
            ("[[override]]\nname = \"o\"\nmatch = {}\nmemory = { peak_headroom = inf }\n", "o.memory.peak_headroom"),
        ];
        for (text, field) in cases {
            let err = PolicySet::parse(Path::new("p.toml"), text).unwrap_err().to_string();
            assert!(err.starts_with("p.toml: ") && err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn the_old_p50_memory_request_is_a_policy_away() {
        let text = "[defaults.memory]\nrequest_basis = \"working-set\"\nrequest_percentile = 50\n";
        let set = PolicySet::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!(Policy::default().memory.request_basis, MemoryBasis::DailyPeaks);
        assert_eq!(set.defaults.memory.request_basis, MemoryBasis::WorkingSet);
    }

    #[test]
    fn the_risk_budget_is_a_policy_setting() {
        let text = "[defaults.memory]\nrequest_basis = \"risk-budget\"\nrisk_budget = 0.02\n";
        let set = PolicySet::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!(set.defaults.memory.request_basis, MemoryBasis::RiskBudget);
        assert_eq!(set.defaults.memory.risk_budget, 0.02);
        assert_eq!(Policy::default().memory.risk_budget, 0.03);
    }

    #[test]
    fn the_node_contention_budget_is_off_unless_set() {
        assert_eq!(Policy::default().cpu.node_contention_budget, None);
        let text = "[defaults.cpu]\nnode_contention_budget = 0.01\n";
        let set = PolicySet::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!(set.defaults.cpu.node_contention_budget, Some(0.01));
        for bad in ["0", "0.6", "nan", "-0.01"] {
            let text = format!("[defaults.cpu]\nnode_contention_budget = {bad}\n");
            let e = PolicySet::parse(Path::new("p.toml"), &text).unwrap_err().to_string();
            assert!(e.contains("defaults.cpu.node_contention_budget"), "{bad}: {e}");
        }
    }
}

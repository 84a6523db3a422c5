//! Start-up apart from steady state: each pod's warm-up, found from its first samples,
//! measured against the container's steady level, and what a proposed CPU limit does to it.
//!
//! **The rule.** A pod's start-up period is the run of its first samples whose CPU is above
//! the container's steady level, the p90 of CPU over the window (every pod pooled), cut at
//! 30 minutes. It ends at the first sample at or below that level. Why: a warm-up (class
//! loading and JIT, an opcache filling, caches primed) burns CPU well above anything the pod
//! uses once it serves, and the first sample back inside the range the pod keeps afterwards
//! ends it. p90 rather than the median so a pod started at the afternoon peak is not counted as
//! starting all afternoon; the 30-minute cut so a pod that is simply busy is not a start-up.
//! Only pods whose first sample comes more than two sampling intervals after the window's
//! first sample count as starts: a pod already running when the history begins shows no start.
//!
//! **What a limit does.** Above the limit the kernel throttles: the work above it is done
//! later, at the limit's rate. The CPU-seconds above the limit during a start-up, divided by
//! the limit, is about how much longer that start-up takes (a lower bound: the pod is not
//! ready meanwhile, so it serves nothing else).

use crate::analysis::series::Point;
use crate::analysis::sizing::{round_up, Sizing};
use crate::domain::{human_bytes, Cpu};
use std::collections::HashMap;

/// The longest a start-up period may last.
pub const MAX_STARTUP_MS: i64 = 30 * 60_000;
/// The percentile of the window's CPU that is the steady level a start-up settles to.
pub const STEADY_CPU_PERCENTILE: f64 = 90.0;
/// The percentile of the window's working set start-up memory is compared with.
pub const STEADY_MEMORY_PERCENTILE: f64 = 50.0;

/// What to do when start-up CPU is above the proposed CPU limit (`startup.cpu` in the policy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartupCpu {
    /// Do not look at start-ups at all.
    Off,
    /// Keep the proposed limit; say in the rationale how much slower start-up would be.
    #[default]
    Note,
    /// Raise the CPU limit to the highest start-up CPU seen.
    RaiseLimit,
    /// Keep the limit and propose a start-up boost that lifts it while the pod starts.
    Boost,
}

impl StartupCpu {
    /// The setting written `off`, `note`, `raise-limit` or `boost`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "off" => Self::Off,
            "note" => Self::Note,
            "raise-limit" => Self::RaiseLimit,
            "boost" => Self::Boost,
            _ => return None,
        })
    }
}

/// One pod's start: the samples of its start-up period.
#[derive(Debug, Clone, PartialEq)]
pub struct PodStart {
    /// The pod, as [`Point::pod`].
    pub pod: u32,
    /// Its first sample, epoch ms.
    pub start_ms: i64,
    /// CPU (cores) of each start-up sample, in time order (empty: it started at steady level).
    pub cpu: Vec<f64>,
    /// The highest working set during start-up, bytes (its first sample's when `cpu` is empty).
    pub memory_peak: f64,
}

/// Each pod's start in `points` (sorted by time, then pod), by the rule of this module.
/// `window_start_ms` is the first instant the samples could show; `step_ms` the sampling interval.
pub fn pod_starts(points: &[Point], steady_cpu: f64, window_start_ms: i64, step_ms: i64) -> Vec<PodStart> {
    // Per pod: the index of its start in `starts` while its start-up is still open.
    let mut open: HashMap<u32, Option<usize>> = HashMap::new();
    let mut starts: Vec<PodStart> = Vec::new();
    for p in points {
        match open.get(&p.pod).copied() {
            None => {
                let started_inside = p.ts > window_start_ms + 2 * step_ms;
                let slot = started_inside.then(|| {
                    starts.push(PodStart { pod: p.pod, start_ms: p.ts, cpu: Vec::new(), memory_peak: p.memory });
                    starts.len() - 1
                });
                open.insert(p.pod, slot);
                if let Some(i) = slot {
                    extend(&mut starts[i], p, steady_cpu, &mut open);
                }
            }
            Some(Some(i)) => extend(&mut starts[i], p, steady_cpu, &mut open),
            Some(None) => {}
        }
    }
    starts
}

/// Adds `p` to an open start-up, or closes it at the first sample back at steady level.
fn extend(start: &mut PodStart, p: &Point, steady_cpu: f64, open: &mut HashMap<u32, Option<usize>>) {
    if p.cpu > steady_cpu && p.ts < start.start_ms + MAX_STARTUP_MS {
        start.cpu.push(p.cpu);
        start.memory_peak = start.memory_peak.max(p.memory);
    } else {
        open.insert(p.pod, None);
    }
}

/// A container's start-ups over a window, against its steady state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StartupProfile {
    /// Pod starts seen inside the window.
    pub starts: usize,
    /// Of those, starts with at least one sample above the steady level.
    pub warm_ups: usize,
    /// The steady CPU level (p90 of the window), cores.
    pub steady_cpu_cores: f64,
    /// The steady working set (p50 of the window), bytes.
    pub steady_memory_bytes: f64,
    /// The highest CPU of any start-up sample, cores.
    pub cpu_peak_cores: f64,
    /// Mean CPU over every start-up sample, cores.
    pub cpu_mean_cores: f64,
    /// The highest working set during any start-up, bytes.
    pub memory_peak_bytes: f64,
    /// Median length of the warm-ups, ms.
    pub median_ms: i64,
    /// The longest warm-up, ms.
    pub longest_ms: i64,
    /// The sampling interval each start-up sample stands for, ms.
    pub step_ms: i64,
    /// CPU of each warm-up's samples, for what a limit does to them.
    #[serde(skip)]
    pub periods: Vec<Vec<f64>>,
}

/// The profile of `starts`, or `None` when no pod started inside the window.
pub fn profile(starts: &[PodStart], steady_cpu: f64, steady_memory: f64, step_ms: i64) -> Option<StartupProfile> {
    if starts.is_empty() {
        return None;
    }
    let periods: Vec<Vec<f64>> = starts.iter().filter(|s| !s.cpu.is_empty()).map(|s| s.cpu.clone()).collect();
    let all: Vec<f64> = periods.iter().flatten().copied().collect();
    let mut lengths: Vec<i64> = periods.iter().map(|p| p.len() as i64 * step_ms).collect();
    lengths.sort_unstable();
    Some(StartupProfile {
        starts: starts.len(),
        warm_ups: periods.len(),
        steady_cpu_cores: steady_cpu,
        steady_memory_bytes: steady_memory,
        cpu_peak_cores: all.iter().copied().fold(0.0, f64::max),
        cpu_mean_cores: if all.is_empty() { 0.0 } else { all.iter().sum::<f64>() / all.len() as f64 },
        memory_peak_bytes: starts.iter().map(|s| s.memory_peak).fold(0.0, f64::max),
        median_ms: lengths.get(lengths.len() / 2).copied().unwrap_or(0),
        longest_ms: lengths.last().copied().unwrap_or(0),
        step_ms,
        periods,
    })
}

impl StartupProfile {
    /// CPU-seconds above `limit` in each warm-up, in the order seen.
    pub fn cpu_seconds_above(&self, limit: f64) -> Vec<f64> {
        let seconds = self.step_ms as f64 / 1000.0;
        self.periods.iter().map(|p| p.iter().map(|c| (c - limit).max(0.0) * seconds).sum()).collect()
    }

    /// The worst warm-up's CPU-seconds above `limit`.
    pub fn worst_cpu_seconds_above(&self, limit: f64) -> f64 {
        self.cpu_seconds_above(limit).into_iter().fold(0.0, f64::max)
    }

    /// About how many seconds longer the worst warm-up takes under `limit`: its work above
    /// the limit, done at the limit's rate.
    pub fn delay_seconds(&self, limit: f64) -> f64 {
        if limit > 0.0 {
            self.worst_cpu_seconds_above(limit) / limit
        } else {
            0.0
        }
    }

    /// The description of the start-ups, one rationale sentence.
    pub fn describe(&self) -> String {
        let times = |ms: i64| format!("{} s", ms / 1000);
        let ratio =
            if self.steady_cpu_cores > 0.0 { self.cpu_mean_cores / self.steady_cpu_cores } else { f64::INFINITY };
        format!(
            "start-up: {} pod starts in the window, {} with a warm-up; CPU up to {} (mean {}, {ratio:.1}x the steady p90 {}) for {} (median; longest {}); memory up to {} (steady p50 {})",
            self.starts,
            self.warm_ups,
            Cpu(self.cpu_peak_cores),
            Cpu(self.cpu_mean_cores),
            Cpu(self.steady_cpu_cores),
            times(self.median_ms),
            times(self.longest_ms),
            human_bytes(self.memory_peak_bytes),
            human_bytes(self.steady_memory_bytes),
        )
    }
}

/// A start-up boost: the CPU limit (and request) lifted while a pod starts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Boost {
    /// The whole factor the CPU request and limit are multiplied by (VPA's `factor`).
    pub factor: u32,
    /// The same lift as a percentage increase (kube-startup-cpu-boost's `percentageIncrease`).
    pub percent: u32,
    /// How long the boost lasts: the longest warm-up seen, whole seconds.
    pub duration_seconds: u32,
}

/// What the start-up rule did to one container's proposal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StartupAdvice {
    /// The start-ups measured.
    pub profile: StartupProfile,
    /// The CPU limit judged (the proposal's before any raise), cores.
    pub limit_cores: f64,
    /// The worst warm-up's CPU-seconds above that limit.
    pub cpu_seconds_above: f64,
    /// About how many seconds longer the worst warm-up takes under it.
    pub delay_seconds: f64,
    /// The setting in force.
    pub mode: StartupCpu,
    /// The limit raised to, with `raise-limit`.
    pub raised_to: Option<f64>,
    /// The boost proposed, with `boost`.
    pub boost: Option<Boost>,
}

/// Judges the proposal's CPU limit against the start-ups and applies `mode`; returns the advice
/// and its rationale sentences. `None` when there is nothing to judge (no limit, no starts, off).
pub fn advise(
    profile: StartupProfile,
    sizing: &mut Sizing,
    mode: StartupCpu,
    step_cores: f64,
) -> Option<(StartupAdvice, Vec<String>)> {
    let limit = sizing.cpu_limit_cores?;
    if mode == StartupCpu::Off || profile.warm_ups == 0 {
        return None;
    }
    let mut lines = vec![profile.describe()];
    let above = profile.worst_cpu_seconds_above(limit);
    let delay = profile.delay_seconds(limit);
    let mut advice = StartupAdvice {
        limit_cores: limit,
        cpu_seconds_above: above,
        delay_seconds: delay,
        mode,
        raised_to: None,
        boost: None,
        profile,
    };
    if above <= 0.0 {
        lines.push(format!("start-up: the CPU limit {} covers every warm-up seen", Cpu(limit)));
        return Some((advice, lines));
    }
    let held = format!(
        "start-up: the CPU limit {} holds the worst warm-up back by {above:.0} CPU-seconds, so start-up would take about {delay:.0} s longer",
        Cpu(limit)
    );
    let peak = advice.profile.cpu_peak_cores;
    match mode {
        StartupCpu::Off => unreachable!("returned above"),
        StartupCpu::Note => lines.push(format!(
            "{held}; kept (startup.cpu = \"note\"; \"raise-limit\" keeps a limit that covers it, \"boost\" lifts it while pods start)"
        )),
        StartupCpu::RaiseLimit => {
            let to = round_up(peak, step_cores).max(limit);
            sizing.cpu_limit_cores = Some(to);
            advice.raised_to = Some(to);
            lines.push(format!("{held}; CPU limit raised to the start-up peak {} (startup.cpu = \"raise-limit\")", Cpu(to)));
        }
        StartupCpu::Boost => {
            let boost = boost_for(peak, limit, advice.profile.longest_ms);
            advice.boost = Some(boost);
            lines.push(format!(
                "{held}; a start-up boost lifts it {}x ({}% more) for {} s while pods start (startup.cpu = \"boost\")",
                boost.factor, boost.percent, boost.duration_seconds
            ));
        }
    }
    Some((advice, lines))
}

/// The smallest whole factor and percentage that lift `limit` to `peak`, for `longest_ms`.
fn boost_for(peak: f64, limit: f64, longest_ms: i64) -> Boost {
    let need = peak / limit;
    Boost {
        factor: (need - 1e-9).ceil().max(2.0) as u32,
        percent: ((need - 1.0) * 100.0 - 1e-9).ceil().max(1.0) as u32,
        duration_seconds: u32::try_from((longest_ms + 999) / 1000).unwrap_or(u32::MAX).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn pt(minute: i64, pod: u32, cpu: f64, memory: f64) -> Point {
        Point { ts: minute * MIN, pod, cpu, memory }
    }

    /// Pod 0 runs from minute 0 (no start seen). Pod 1 starts at minute 10: 2.0, 1.5, 1.0 cores,
    /// then 0.2 (settled), then 1.9 (a later burst, not start-up). Pod 2 starts at minute 20
    /// already at 0.3 cores (no warm-up).
    fn fixture() -> Vec<Point> {
        let mut points = vec![pt(0, 0, 2.0, 100.0), pt(1, 0, 0.2, 100.0)];
        for (i, cpu) in [2.0, 1.5, 1.0, 0.2, 1.9].into_iter().enumerate() {
            points.push(pt(10 + i as i64, 1, cpu, 300.0 + 10.0 * i as f64));
        }
        points.push(pt(20, 2, 0.3, 150.0));
        points.push(pt(21, 2, 0.9, 150.0));
        points.sort_by_key(|p| (p.ts, p.pod));
        points
    }

    #[test]
    fn start_up_is_the_leading_run_above_steady_of_pods_started_inside_the_window() {
        let starts = pod_starts(&fixture(), 0.5, 0, MIN);
        assert_eq!(starts.len(), 2, "pod 0 was running when the window began: {starts:?}");
        assert_eq!(starts[0], PodStart { pod: 1, start_ms: 10 * MIN, cpu: vec![2.0, 1.5, 1.0], memory_peak: 320.0 });
        assert_eq!(starts[1], PodStart { pod: 2, start_ms: 20 * MIN, cpu: vec![], memory_peak: 150.0 });
        // With the window starting later, pod 0's first sample is no start either way.
        assert_eq!(pod_starts(&fixture(), 0.5, -10 * MIN, MIN).len(), 3);
    }

    #[test]
    fn a_start_up_longer_than_thirty_minutes_is_cut() {
        let points: Vec<Point> = (0..45).map(|m| pt(10 + m, 0, 3.0, 1.0)).collect();
        let starts = pod_starts(&points, 0.5, 0, MIN);
        assert_eq!(starts[0].cpu.len(), 30);
    }

    #[test]
    fn figures_and_seconds_above_a_limit_by_hand() {
        let starts = pod_starts(&fixture(), 0.5, 0, MIN);
        let p = profile(&starts, 0.5, 200.0, MIN).unwrap();
        assert_eq!((p.starts, p.warm_ups, p.median_ms, p.longest_ms), (2, 1, 3 * MIN, 3 * MIN));
        assert_eq!(p.cpu_peak_cores, 2.0);
        assert!((p.cpu_mean_cores - 1.5).abs() < 1e-12, "(2 + 1.5 + 1) / 3");
        assert_eq!(p.memory_peak_bytes, 320.0);
        // Limit 1.2: (0.8 + 0.3 + 0) x 60 s = 66 CPU-seconds; at 1.2 cores, 55 s longer.
        assert!((p.worst_cpu_seconds_above(1.2) - 66.0).abs() < 1e-9);
        assert!((p.delay_seconds(1.2) - 55.0).abs() < 1e-9);
        assert_eq!(p.worst_cpu_seconds_above(2.0), 0.0);
        assert!(
            p.describe().contains("CPU up to 2 (mean 1500m, 3.0x the steady p90 500m) for 180 s"),
            "{}",
            p.describe()
        );
        assert!(profile(&[], 0.5, 1.0, MIN).is_none());
    }

    fn sizing(limit: Option<f64>) -> Sizing {
        Sizing { cpu_request_cores: 0.4, cpu_limit_cores: limit, memory_request_bytes: 1.0, memory_limit_bytes: 2.0 }
    }

    #[test]
    fn each_setting_keeps_raises_or_boosts_the_limit() {
        let p = || profile(&pod_starts(&fixture(), 0.5, 0, MIN), 0.5, 200.0, MIN).unwrap();
        let mut s = sizing(Some(0.8));
        let (a, lines) = advise(p(), &mut s, StartupCpu::Note, 0.005).unwrap();
        // (1.2 + 0.7 + 0.2) x 60 = 126 CPU-seconds; / 0.8 = 157.5 s.
        assert!((a.cpu_seconds_above - 126.0).abs() < 1e-9 && (a.delay_seconds - 157.5).abs() < 1e-9, "{a:?}");
        assert_eq!(s.cpu_limit_cores, Some(0.8));
        assert!(lines[1].contains("by 126 CPU-seconds, so start-up would take about 158 s longer; kept"), "{lines:?}");
        let (a, _) = advise(p(), &mut s, StartupCpu::RaiseLimit, 0.005).unwrap();
        assert_eq!((s.cpu_limit_cores, a.raised_to), (Some(2.0), Some(2.0)));
        let mut s = sizing(Some(0.8));
        let (a, lines) = advise(p(), &mut s, StartupCpu::Boost, 0.005).unwrap();
        // 2.0 / 0.8 = 2.5: factor 3, 150% more, for the 3-minute warm-up.
        assert_eq!(a.boost, Some(Boost { factor: 3, percent: 150, duration_seconds: 180 }));
        assert_eq!(s.cpu_limit_cores, Some(0.8));
        assert!(lines[1].ends_with(
            "a start-up boost lifts it 3x (150% more) for 180 s while pods start (startup.cpu = \"boost\")"
        ));
        // A limit above every warm-up: covered, nothing proposed; no limit or `off`: nothing said.
        let (a, lines) = advise(p(), &mut sizing(Some(2.0)), StartupCpu::Boost, 0.005).unwrap();
        assert_eq!((a.boost, a.cpu_seconds_above), (None, 0.0));
        assert!(lines[1].contains("covers every warm-up"));
        assert!(advise(p(), &mut sizing(None), StartupCpu::Note, 0.005).is_none());
        assert!(advise(p(), &mut sizing(Some(0.8)), StartupCpu::Off, 0.005).is_none());
        assert_eq!(StartupCpu::parse("raise-limit"), Some(StartupCpu::RaiseLimit));
        assert_eq!(StartupCpu::parse("raise"), None);
    }
}

#[cfg(test)]
mod policy_tests {
    use super::StartupCpu;
    use crate::analysis::PolicySet;
    use crate::domain::ContainerKey;
    use std::path::Path;

    #[test]
    fn the_policy_file_chooses_the_setting_per_container_and_names_a_bad_value() {
        let text = "[defaults.startup]\ncpu = \"boost\"\n\n[[override]]\nname = \"sidecars\"\nmatch = { container = \"envoy\" }\nstartup = { cpu = \"off\" }\n";
        let set = PolicySet::parse(Path::new("p.toml"), text).unwrap();
        let key = |c: &str| ContainerKey { workload: Default::default(), container: c.into() };
        assert_eq!(set.for_container(&key("app")).0.startup.cpu, StartupCpu::Boost);
        assert_eq!(set.for_container(&key("envoy")).0.startup.cpu, StartupCpu::Off);
        assert_eq!(PolicySet::default().defaults.startup.cpu, StartupCpu::Note);
        let err =
            PolicySet::parse(Path::new("p.toml"), "[defaults.startup]\ncpu = \"raise\"\n").unwrap_err().to_string();
        assert!(err.starts_with("p.toml: defaults.startup.cpu: \"raise\" is not"), "{err}");
    }
}

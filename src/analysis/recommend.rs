//! From a container's usage to a proposal, with the reasons for each number.

use super::policy::{MemoryBasis, Policy};
use super::usage::ContainerUsage;
use crate::domain::{human_bytes, ContainerKey, Cpu, Memory, Resources, DAY_MS};

/// Proposed settings for one container. `cpu_limit_cores == None` means no CPU limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    pub cpu_request_cores: f64,
    pub cpu_limit_cores: Option<f64>,
    pub memory_request_bytes: f64,
    pub memory_limit_bytes: f64,
}

/// "No answer" is an answer: a container is sized, lacks history, or is excluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    Sized(Sizing),
    InsufficientHistory { have_span_ms: i64, have_samples: u64, need_span_ms: i64, need_samples: u64 },
    Excluded,
}

/// A recommendation with everything needed to review it.
#[derive(Debug, Clone)]
pub struct Recommendation {
    pub key: ContainerKey,
    pub strategy: String,
    pub proposal: Proposal,
    pub current: Option<Resources>,
    pub samples: u64,
    pub pods: usize,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    /// 0..1: how much history backs the numbers (1 = a week or more).
    pub confidence: f64,
    /// One sentence per decision: which estimator, which guard, which override.
    pub rationale: Vec<String>,
    /// Pods running this container over the window.
    pub replicas: Option<super::usage::Replicas>,
    /// php-fpm / envoy / nginx settings judged with the sizing (only with an overlay).
    pub runtime: Option<super::runtimes::RuntimeAdvice>,
}

impl Recommendation {
    pub fn sizing(&self) -> Option<&Sizing> {
        match &self.proposal {
            Proposal::Sized(s) => Some(s),
            _ => None,
        }
    }
}

/// What every strategy gets: the usage, the resolved policy, what is set today, and the
/// instant the window ends (ages and decay are measured from it).
pub struct SizingInput<'a> {
    pub usage: &'a ContainerUsage,
    pub policy: &'a Policy,
    pub current: Option<&'a Resources>,
    pub window_end_ms: i64,
    /// Containers in this workload's pods (VPA splits its per-pod floors among them).
    pub containers_in_pod: usize,
    /// The highest memory limit at which the container was OOM-killed in the window.
    pub oom_limit_bytes: Option<f64>,
}

/// A way of turning usage into sizes (the default policy, VPA's, krr's ...).
pub trait Strategy: Send + Sync {
    fn name(&self) -> &'static str;
    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>);
}

/// Holds every figure to what one container can use (`domain::bounds`), whatever the policy
/// multiplied it by, so no manifest gets a number past physical sense or past 64 bits.
fn capped(mut s: Sizing, rationale: &mut Vec<String>) -> Sizing {
    use crate::domain::bounds::{cap_cores, cap_memory};
    let mut note =
        |what: &str, cap: String| rationale.push(format!("{what} capped at {cap}, the most one container can use"));
    if let Some(c) = cap_cores(s.cpu_request_cores) {
        s.cpu_request_cores = c;
        note("CPU request", Cpu(c).to_string());
    }
    if let Some(c) = s.cpu_limit_cores.and_then(cap_cores) {
        s.cpu_limit_cores = Some(c);
        note("CPU limit", Cpu(c).to_string());
    }
    if let Some(c) = cap_memory(s.memory_request_bytes) {
        s.memory_request_bytes = c;
        note("memory request", Memory(c).to_string());
    }
    if let Some(c) = cap_memory(s.memory_limit_bytes) {
        s.memory_limit_bytes = c;
        note("memory limit", Memory(c).to_string());
    }
    s
}

/// Holds a recommendation's proposal to the caps, saying so in its rationale. `recommend`
/// applies it to the strategy's figures; a caller that runs further rules on the proposal
/// (runtime advice may raise the memory limit) applies it again after the last of them.
pub fn apply_caps(rec: &mut Recommendation) {
    if let Proposal::Sized(s) = &mut rec.proposal {
        *s = capped(*s, &mut rec.rationale);
    }
}

/// Applies the history gate and exclusion, then the strategy.
pub fn recommend(strategy: &dyn Strategy, input: &SizingInput<'_>, overrides: &[String]) -> Recommendation {
    let usage = input.usage;
    let policy = input.policy;
    let span = usage.span_ms();
    let samples = usage.samples();
    let mut rationale: Vec<String> = overrides.iter().map(|o| format!("policy override `{o}` applies")).collect();
    let proposal = if policy.exclude {
        rationale.push("excluded by policy: no proposal, no patch".into());
        Proposal::Excluded
    } else if span < policy.history.min_span_ms || samples < policy.history.min_samples {
        rationale.push(format!(
            "not enough history: {:.1} h over {} samples, need {:.0} h and {} samples",
            span as f64 / 3.6e6,
            samples,
            policy.history.min_span_ms as f64 / 3.6e6,
            policy.history.min_samples
        ));
        Proposal::InsufficientHistory {
            have_span_ms: span,
            have_samples: samples,
            need_span_ms: policy.history.min_span_ms,
            need_samples: policy.history.min_samples,
        }
    } else {
        let (sizing, reasons) = strategy.size(input);
        rationale.extend(reasons);
        Proposal::Sized(capped(sizing, &mut rationale))
    };
    Recommendation {
        key: usage.key.clone(),
        strategy: strategy.name().to_string(),
        proposal,
        current: input.current.copied(),
        samples,
        pods: usage.pods.len(),
        first_ms: usage.first_ms(),
        last_ms: usage.last_ms(),
        confidence: confidence(span),
        rationale,
        replicas: usage.replicas(),
        runtime: None,
    }
}

/// Grows linearly to 1 at seven days of history: a week covers the weekly cycle.
pub fn confidence(span_ms: i64) -> f64 {
    (span_ms as f64 / (7 * DAY_MS) as f64).clamp(0.0, 1.0)
}

/// Rounds up to a multiple of `step`, tolerating float noise just above a multiple.
pub fn round_up(value: f64, step: f64) -> f64 {
    if step <= 0.0 {
        return value;
    }
    let n = (value / step - 1e-9).ceil().max(0.0);
    n * step
}

/// The default policy: request at typical load, limit = ratio x request, raised by peak
/// guards so that limits cover the peaks actually seen.
pub struct PodsizerStrategy;

impl Strategy for PodsizerStrategy {
    fn name(&self) -> &'static str {
        "podsizer"
    }

    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
        let p = input.policy;
        let usage = input.usage;
        let end = input.window_end_ms;
        let decay = |day: i64| match p.history.half_life_ms {
            Some(h) => 2f64.powf(-((end - (day + DAY_MS / 2)).max(0) as f64) / h as f64),
            None => 1.0,
        };
        let (cpu_weighted, mem_weighted) = usage.combined(decay);
        let (cpu_all, _) = usage.combined(|_| 1.0);
        let span_days = (usage.span_ms() as f64 / DAY_MS as f64).max(1.0 / 24.0);
        // Short history has not shown its worst day yet: widen the peak margins (1 + 1/days).
        let widen = 1.0 + 1.0 / span_days;
        let mut why = Vec::new();
        let growth = Growth::of(usage, p, end, &mut why);
        let (cpu_request, cpu_limit) = size_cpu(p, &cpu_weighted, &cpu_all, widen, growth.cpu, &mut why);
        let mut peak = usage.memory_max().max(growth.memory_peak);
        if let Some(limit) = input.oom_limit_bytes {
            // The working set reached this limit even if no sample caught it: like VPA, treat
            // max(limit + 100Mi, limit x 1.2) as a peak that happened.
            let bumped = (limit + 100.0 * 1024.0 * 1024.0).max(limit * 1.2);
            if bumped > peak {
                why.push(format!(
                    "OOM kill at the memory limit {} in the window: counted as a peak of {}",
                    human_bytes(limit),
                    human_bytes(bumped)
                ));
                peak = bumped;
            }
        }
        let typical = MemoryTypical { samples: &mem_weighted, daily_peaks: &usage.daily_peaks(decay) };
        let (mem_request, mem_limit) = size_memory(p, typical, peak, widen, growth.memory, &mut why);
        let sizing = Sizing {
            cpu_request_cores: cpu_request,
            cpu_limit_cores: cpu_limit,
            memory_request_bytes: mem_request,
            memory_limit_bytes: mem_limit,
        };
        (sizing, why)
    }
}

/// Sustained growth seen in the daily figures, projected to the next review.
struct Growth {
    /// Factor on typical CPU (and its peaks); 1 without growth.
    cpu: f64,
    /// Factor on typical memory; 1 without growth.
    memory: f64,
    /// Projected memory peak at the horizon; 0 without growth.
    memory_peak: f64,
}

impl Growth {
    fn of(usage: &ContainerUsage, p: &Policy, end: i64, why: &mut Vec<String>) -> Self {
        // Partial days would read a time-of-day slice as a trend: use days with >= 20 h of data.
        let days: Vec<(f64, &super::usage::DayUsage)> = usage
            .days
            .iter()
            .filter(|(_, d)| d.last_ms - d.first_ms >= 20 * crate::domain::HOUR_MS)
            .map(|(day, d)| (*day as f64 / DAY_MS as f64, d))
            .collect();
        let Some(last) = days.last().map(|(x, _)| *x) else { return Self { cpu: 1.0, memory: 1.0, memory_peak: 0.0 } };
        let ahead = (end as f64 / DAY_MS as f64 - (last + 0.5)).max(0.0) + p.history.horizon_ms as f64 / DAY_MS as f64;
        let series = |f: &dyn Fn(&super::usage::DayUsage) -> Option<f64>| -> Vec<(f64, f64)> {
            days.iter().filter_map(|(x, d)| f(d).map(|v| (*x, v))).collect()
        };
        let factor = |points: Vec<(f64, f64)>, what: &str, why: &mut Vec<String>| -> f64 {
            let Some(t) = super::trend::growth(&points) else { return 1.0 };
            let f = (t.project(ahead) / t.level).clamp(1.0, 3.0);
            why.push(format!(
                "growth: daily {what} rose {:.1}% a day over {} days (up in {:.0}% of day pairs); sized for {:.1} days ahead: x {:.2}",
                t.slope / t.level * 100.0, t.days, t.consistency * 100.0, ahead, f
            ));
            f
        };
        let cpu = factor(series(&|d| d.cpu.percentile(p.cpu.request_percentile)), "typical CPU", why);
        let by_samples = p.memory.request_basis == MemoryBasis::WorkingSet;
        let mut memory = if by_samples {
            factor(series(&|d| d.memory.percentile(p.memory.request_percentile)), "typical memory", why)
        } else {
            1.0
        };
        let peaks = series(&|d| Some(d.memory.max()));
        let memory_peak = match super::trend::growth(&peaks) {
            Some(t) => {
                let projected = t.project(ahead);
                why.push(format!(
                    "growth: daily memory peak rose {} a day over {} days; projected peak {:.1} days ahead: {}",
                    human_bytes(t.slope),
                    t.days,
                    ahead,
                    human_bytes(projected)
                ));
                if !by_samples {
                    // The request follows the daily peaks, so it grows with them.
                    memory = (projected / t.level).clamp(1.0, 3.0);
                }
                projected
            }
            None => 0.0,
        };
        Self { cpu, memory, memory_peak }
    }
}

fn size_cpu(
    p: &Policy,
    weighted: &super::histogram::Histogram,
    all: &super::histogram::Histogram,
    widen: f64,
    growth: f64,
    why: &mut Vec<String>,
) -> (f64, Option<f64>) {
    let c = &p.cpu;
    let typical = weighted.percentile(c.request_percentile).unwrap_or(0.0) * growth;
    let mut request = typical;
    let mut line =
        format!("CPU request: p{} of usage = {} (typical load)", c.request_percentile, Cpu(typical).millicores_text());
    if request < c.floor_cores {
        request = c.floor_cores;
        line.push_str(&format!(", raised to the floor {}", Cpu(c.floor_cores)));
    }
    let request = round_up(request, c.step_cores);
    line.push_str(&format!(" -> {}", Cpu(request)));
    why.push(line);
    if !c.set_limit {
        why.push("CPU limit: none (policy sets no CPU limit)".into());
        return (request, None);
    }
    let by_ratio = request * c.limit_ratio;
    let peak = all.percentile(c.peak_percentile).unwrap_or(0.0) * growth;
    let headroom = c.peak_headroom * widen;
    let guard = peak * (1.0 + headroom);
    let limit = if guard > by_ratio {
        why.push(format!(
            "CPU limit: {} x request = {} is below the peak guard p{} {} x {:.2} (headroom) = {}; raised to the guard so peaks are not throttled",
            c.limit_ratio, Cpu(by_ratio).millicores_text(), c.peak_percentile, Cpu(peak).millicores_text(), 1.0 + headroom, Cpu(guard).millicores_text()
        ));
        round_up(guard, c.step_cores)
    } else {
        why.push(format!(
            "CPU limit: {} x request = {} (covers the peak guard p{} {} x {:.2} = {})",
            c.limit_ratio,
            Cpu(by_ratio).millicores_text(),
            c.peak_percentile,
            Cpu(peak).millicores_text(),
            1.0 + headroom,
            Cpu(guard).millicores_text()
        ));
        round_up(by_ratio, c.step_cores)
    };
    (request, Some(limit))
}

/// The two estimates a memory request can come from (see `MemoryBasis`).
struct MemoryTypical<'a> {
    samples: &'a super::histogram::Histogram,
    daily_peaks: &'a super::histogram::Histogram,
}

fn size_memory(
    p: &Policy,
    typical: MemoryTypical<'_>,
    max: f64,
    widen: f64,
    growth: f64,
    why: &mut Vec<String>,
) -> (f64, f64) {
    let m = &p.memory;
    let (base, mut line) = match m.request_basis {
        MemoryBasis::DailyPeaks => {
            let peak = typical.daily_peaks.percentile(m.daily_peak_percentile).unwrap_or(0.0) * growth;
            let base = peak * (1.0 + m.request_margin);
            let line = format!(
                "memory request: p{} of daily per-pod peaks = {} x {:.2} (margin) = {} (what pods hold through busy hours: \
                 under node memory pressure the kubelet evicts pods above their request first)",
                m.daily_peak_percentile,
                human_bytes(peak),
                1.0 + m.request_margin,
                human_bytes(base)
            );
            (base, line)
        }
        MemoryBasis::WorkingSet => {
            let base = typical.samples.percentile(m.request_percentile).unwrap_or(0.0) * growth;
            (
                base,
                format!("memory request: p{} of working set = {} (typical)", m.request_percentile, human_bytes(base)),
            )
        }
    };
    let mut request = base;
    if request < m.floor_bytes {
        request = m.floor_bytes;
        line.push_str(&format!(", raised to the floor {}", Memory(m.floor_bytes)));
    }
    let request = round_up(request, m.step_bytes);
    line.push_str(&format!(" -> {}", Memory(request)));
    why.push(line);
    let by_ratio = request * m.limit_ratio;
    let headroom = m.peak_headroom * widen;
    let guard = max * (1.0 + headroom);
    let limit = if guard > by_ratio {
        why.push(format!(
            "memory limit: {} x request = {} is below the peak guard max {} x {:.2} (headroom) = {}; raised so the peak does not OOM-kill",
            m.limit_ratio, human_bytes(by_ratio), human_bytes(max), 1.0 + headroom, human_bytes(guard)
        ));
        round_up(guard, m.step_bytes)
    } else {
        why.push(format!(
            "memory limit: {} x request = {} (covers the peak guard max {} x {:.2} = {})",
            m.limit_ratio,
            human_bytes(by_ratio),
            human_bytes(max),
            1.0 + headroom,
            human_bytes(guard)
        ));
        round_up(by_ratio, m.step_bytes)
    };
    (request, limit)
}

impl Cpu {
    /// `183.4m`-style text for rationales, where rounding would hide what was measured.
    pub fn millicores_text(self) -> String {
        format!("{:.1}m", self.millicores())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Workload;

    #[test]
    fn proposals_past_what_a_container_can_use_are_capped_with_a_reason() {
        let absurd = Sizing {
            cpu_request_cores: 0.5,
            cpu_limit_cores: Some(1e19),
            memory_request_bytes: 1e300,
            memory_limit_bytes: f64::NAN,
        };
        let mut rationale = Vec::new();
        let s = capped(absurd, &mut rationale);
        assert_eq!(s.cpu_request_cores, 0.5);
        assert_eq!(s.cpu_limit_cores, Some(crate::domain::bounds::MAX_CORES));
        assert_eq!(s.memory_request_bytes, crate::domain::bounds::MAX_MEMORY_BYTES);
        assert_eq!(Memory(s.memory_limit_bytes).to_string(), "64Ti");
        assert_eq!(rationale.len(), 3, "{rationale:?}");
        assert!(rationale[0].starts_with("CPU limit capped at 1024"), "{rationale:?}");
    }

    fn usage(hours: i64, cpu: impl Fn(i64) -> f64, mem: impl Fn(i64) -> f64) -> ContainerUsage {
        let key = ContainerKey {
            workload: Workload {
                namespace: "ns".into(),
                kind: "Deployment".into(),
                name: "w".into(),
                ..Default::default()
            },
            container: "c".into(),
        };
        let mut u = ContainerUsage::new(key);
        for m in 0..hours * 60 {
            u.observe(m * 60_000, "pod-a", cpu(m), mem(m));
        }
        u
    }

    fn run(u: &ContainerUsage, p: &Policy) -> Recommendation {
        let input = SizingInput {
            usage: u,
            policy: p,
            current: None,
            window_end_ms: u.last_ms().unwrap(),
            containers_in_pod: 1,
            oom_limit_bytes: None,
        };
        recommend(&PodsizerStrategy, &input, &[])
    }

    #[test]
    fn steady_load_gets_request_at_typical_and_twice_as_limit() {
        let u = usage(7 * 24, |_| 0.2, |_| 100.0 * 1048576.0);
        let r = run(&u, &Policy::default());
        let s = r.sizing().unwrap();
        assert!((s.cpu_request_cores - 0.2).abs() < 0.006, "{s:?}");
        assert!((s.cpu_limit_cores.unwrap() - 2.0 * s.cpu_request_cores).abs() < 1e-9);
        assert!(s.memory_limit_bytes >= 2.0 * s.memory_request_bytes - 1.0);
        assert!((r.confidence - 1.0).abs() < 0.01);
    }

    #[test]
    fn peak_guard_raises_the_limit_and_says_so() {
        // 0.1 core most of the time, 1 core for 1% of minutes: 2 x request cannot cover it.
        // One memory spike, two weeks ago: too old and rare for the request (p90 of daily
        // peaks), but the limit must still cover it.
        let u = usage(14 * 24, |m| if m % 100 == 0 { 1.0 } else { 0.1 }, |m| if m == 1000 { 900e6 } else { 100e6 });
        let r = run(&u, &Policy::default());
        let s = r.sizing().unwrap();
        assert!(s.cpu_limit_cores.unwrap() >= 1.0, "{s:?}");
        assert!(s.memory_limit_bytes >= 900e6 * 1.15, "{s:?}");
        let text = r.rationale.join("\n");
        assert!(text.contains("raised to the guard") && text.contains("OOM"), "{text}");
    }

    #[test]
    fn memory_request_covers_the_daily_busy_hours() {
        // 100Mi most of the day, 200Mi for two busy hours every day.
        let mib = 1048576.0;
        let busy = |m: i64| (600..720).contains(&(m % 1440));
        let u = usage(7 * 24, |_| 0.1, |m| if busy(m) { 200.0 * mib } else { 100.0 * mib });
        let r = run(&u, &Policy::default());
        let s = r.sizing().unwrap();
        assert_eq!(s.memory_request_bytes, 220.0 * mib, "p60 of daily peaks 200Mi x 1.1");
        assert!(r.rationale.iter().any(|l| l.contains("p60 of daily per-pod peaks")), "{:?}", r.rationale);
        assert!(s.memory_limit_bytes >= 2.0 * s.memory_request_bytes - 1.0);
        // The working-set basis at p50: exceeded for two hours every day.
        let mut p50 = Policy::default();
        p50.memory.request_basis = MemoryBasis::WorkingSet;
        let old = *run(&u, &p50).sizing().unwrap();
        assert!(old.memory_request_bytes <= 102.0 * mib, "p50 = 100Mi within a bucket: {old:?}");
    }

    #[test]
    fn floors_and_steps() {
        let u = usage(48, |_| 0.0001, |_| 1e6);
        let s = *run(&u, &Policy::default()).sizing().unwrap();
        assert_eq!(s.cpu_request_cores, 0.010);
        assert_eq!(s.memory_request_bytes, 32.0 * 1048576.0);
        assert!((s.cpu_limit_cores.unwrap() * 1000.0).round() % 5.0 == 0.0);
    }

    #[test]
    fn young_workloads_get_no_numbers() {
        let u = usage(5, |_| 0.2, |_| 1e8);
        let r = run(&u, &Policy::default());
        assert!(
            matches!(r.proposal, Proposal::InsufficientHistory { need_span_ms, .. } if need_span_ms == 24 * 3_600_000)
        );
        assert!(r.rationale[0].contains("not enough history"));
    }

    #[test]
    fn no_cpu_limit_policy() {
        let mut p = Policy::default();
        p.cpu.set_limit = false;
        let u = usage(48, |_| 0.2, |_| 1e8);
        assert_eq!(run(&u, &p).sizing().unwrap().cpu_limit_cores, None);
    }

    #[test]
    fn round_up_is_exact_on_multiples() {
        assert_eq!(round_up(0.010, 0.005), 0.010);
        assert!((round_up(0.0101, 0.005) - 0.015).abs() < 1e-12);
        assert_eq!(round_up(3.0 * 1048576.0, 1048576.0), 3.0 * 1048576.0);
    }
}

//! podsizer's default strategy: request at typical load, limit = ratio x request, raised by
//! peak guards so that limits cover the peaks actually seen, with growth projected to the
//! next review.

use crate::analysis::histogram::Histogram;
use crate::analysis::policy::{MemoryBasis, Policy};
use crate::analysis::sizing::{round_up, Sizing};
use crate::analysis::strategies::{risk_budget, steps};
use crate::analysis::strategy::{SizingInput, Strategy};
use crate::analysis::usage::{ContainerUsage, DayUsage};
use crate::domain::{human_bytes, Cpu, Memory, DAY_MS};

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
        let typical = MemoryTypical {
            samples: &mem_weighted,
            daily_peaks: &usage.daily_peaks(decay),
            validation: (p.memory.request_basis == MemoryBasis::RiskBudget)
                .then(|| risk_budget::validate(usage, p.history.half_life_ms, p.history.horizon_ms)),
        };
        let step = steps::largest_step(usage);
        let (mem_request, mem_limit) = size_memory(p, typical, peak, step, widen, growth.memory, &mut why);
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
        let days: Vec<(f64, &DayUsage)> = usage
            .days
            .iter()
            .filter(|(_, d)| d.last_ms - d.first_ms >= 20 * crate::domain::HOUR_MS)
            .map(|(day, d)| (*day as f64 / DAY_MS as f64, d))
            .collect();
        let Some(last) = days.last().map(|(x, _)| *x) else { return Self { cpu: 1.0, memory: 1.0, memory_peak: 0.0 } };
        let ahead = (end as f64 / DAY_MS as f64 - (last + 0.5)).max(0.0) + p.history.horizon_ms as f64 / DAY_MS as f64;
        let series = |f: &dyn Fn(&DayUsage) -> Option<f64>| -> Vec<(f64, f64)> {
            days.iter().filter_map(|(x, d)| f(d).map(|v| (*x, v))).collect()
        };
        let factor = |points: Vec<(f64, f64)>, what: &str, why: &mut Vec<String>| -> f64 {
            let Some(t) = crate::analysis::trend::growth(&points) else { return 1.0 };
            let f = (t.project(ahead) / t.level).clamp(1.0, 3.0);
            why.push(format!(
                "growth: daily {what} rose {:.1}% a day over {} days (up in {:.0}% of day pairs); sized for {:.1} days ahead: x {:.2}",
                t.slope / t.level * 100.0, t.days, t.consistency * 100.0, ahead, f
            ));
            f
        };
        let cpu = factor(series(&|d| d.cpu.percentile(p.cpu.request_percentile)), "typical CPU", why);
        let by_samples = p.memory.request_basis == MemoryBasis::WorkingSet;
        // The risk budget is validated on the days after each day, up to the next review, so
        // drift is already in the level it picks.
        let by_risk = p.memory.request_basis == MemoryBasis::RiskBudget;
        let mut memory = if by_samples {
            factor(series(&|d| d.memory.percentile(p.memory.request_percentile)), "typical memory", why)
        } else {
            1.0
        };
        let peaks = series(&|d| Some(d.memory.max()));
        let memory_peak = match crate::analysis::trend::growth(&peaks) {
            Some(t) => {
                let projected = t.project(ahead);
                why.push(format!(
                    "growth: daily memory peak rose {} a day over {} days; projected peak {:.1} days ahead: {}",
                    human_bytes(t.slope),
                    t.days,
                    ahead,
                    human_bytes(projected)
                ));
                if !by_samples && !by_risk {
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
    weighted: &Histogram,
    all: &Histogram,
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

/// The estimates a memory request can come from (see `MemoryBasis`).
struct MemoryTypical<'a> {
    samples: &'a Histogram,
    daily_peaks: &'a Histogram,
    /// The out-of-sample exposure of each level (basis `risk-budget`).
    validation: Option<risk_budget::Validation>,
}

/// The daily-peaks rule: percentile of each pod's daily peak x (1 + margin), and its line.
fn daily_peaks_request(m: &crate::analysis::policy::MemoryPolicy, peaks: &Histogram, growth: f64) -> (f64, String) {
    let peak = peaks.percentile(m.daily_peak_percentile).unwrap_or(0.0) * growth;
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

fn size_memory(
    p: &Policy,
    typical: MemoryTypical<'_>,
    max: f64,
    step: Option<steps::Step>,
    widen: f64,
    growth: f64,
    why: &mut Vec<String>,
) -> (f64, f64) {
    let m = &p.memory;
    let (base, mut line) = match m.request_basis {
        MemoryBasis::DailyPeaks => daily_peaks_request(m, typical.daily_peaks, growth),
        MemoryBasis::RiskBudget => {
            let (prior, _) = daily_peaks_request(m, typical.daily_peaks, growth);
            let validation = typical.validation.as_ref().expect("validated for this basis");
            let chosen = risk_budget::choose(validation, m.risk_budget, typical.samples, prior);
            (chosen.bytes, chosen.line)
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
    (request, step_guard(limit, max, step, m.step_bytes, why))
}

/// Raises the memory limit to hold a repeat of the largest step seen (`steps`), from the peak.
fn step_guard(limit: f64, max: f64, step: Option<steps::Step>, step_bytes: f64, why: &mut Vec<String>) -> f64 {
    let Some(s) = step else { return limit };
    let guard = s.guard(max);
    if guard <= limit {
        return limit;
    }
    why.push(format!(
        "memory limit: the typical working set stepped up {:.1}x in a day ({} -> {}); raised to max {} x {:.1} x {:.2} = {} \
         so a repeat of the step does not OOM-kill",
        s.ratio,
        human_bytes(s.from_bytes),
        human_bytes(s.to_bytes),
        human_bytes(max),
        s.ratio,
        1.0 + steps::STEP_MARGIN,
        human_bytes(guard)
    ));
    round_up(guard, step_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::recommend::{recommend, Recommendation};
    use crate::analysis::sizing::Proposal;
    use crate::domain::ContainerKey;

    fn usage(hours: i64, cpu: impl Fn(i64) -> f64, mem: impl Fn(i64) -> f64) -> ContainerUsage {
        let key = ContainerKey::deployment("ns", "w", "c");
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
        let mut peaks = Policy::default();
        peaks.memory.request_basis = MemoryBasis::DailyPeaks;
        let r = run(&u, &peaks);
        let s = r.sizing().unwrap();
        assert_eq!(s.memory_request_bytes, 220.0 * mib, "p60 of daily peaks 200Mi x 1.1");
        assert!(r.rationale.iter().any(|l| l.contains("p60 of daily per-pod peaks")), "{:?}", r.rationale);
        assert!(s.memory_limit_bytes >= 2.0 * s.memory_request_bytes - 1.0);
        // The working-set basis at p50: exceeded for two hours every day.
        let mut p50 = Policy::default();
        p50.memory.request_basis = MemoryBasis::WorkingSet;
        let old = *run(&u, &p50).sizing().unwrap();
        assert!(old.memory_request_bytes <= 102.0 * mib, "p50 = 100Mi within a bucket: {old:?}");
        // A 3% risk budget (the default budget): the busy hours are 1/12 of every day, so a
        // request that leaves them above would spend 8%: it covers them, and says so in one line.
        let mut risk = Policy::default();
        risk.memory.request_basis = MemoryBasis::RiskBudget;
        let r = run(&u, &risk);
        let s = r.sizing().unwrap();
        assert!(s.memory_request_bytes >= 200.0 * mib && s.memory_request_bytes <= 221.0 * mib, "{s:?}");
        let line = r.rationale.iter().find(|l| l.starts_with("memory request")).unwrap();
        assert!(line.contains("out-of-sample exposure") && line.contains("risk budget 3%"), "{line}");
    }

    #[test]
    fn a_container_that_stepped_up_gets_a_limit_for_another_step_and_others_do_not() {
        // 100Mi for three days, then 300Mi for three: the typical level stepped up 3x.
        // Without the step rule the limit is max(2 x request (p60 of daily peaks 300Mi x 1.1
        // = 330Mi) = 660Mi, peak guard 300Mi x (1 + 1 x (1 + 1/6 days)) = 650Mi) = 660Mi; a
        // repeat of the step from the 300Mi peak needs 900Mi, with the 10% margin 990Mi (the
        // step is measured on histograms, within 1.6% per percentile).
        let mib = 1048576.0;
        let u = usage(6 * 24, |_| 0.2, |m| if m < 3 * 1440 { 100.0 * mib } else { 300.0 * mib });
        let r = run(&u, &Policy::default());
        let limit = r.sizing().unwrap().memory_limit_bytes;
        assert!((960.0 * mib..=1020.0 * mib).contains(&limit), "{}", limit / mib);
        assert!(r.rationale.iter().any(|l| l.contains("stepped up 3.0x")), "{:?}", r.rationale);
        // The same peak without a step (300Mi all along): 2 x request, 660Mi (within a bucket).
        let flat = run(&usage(6 * 24, |_| 0.2, |_| 300.0 * mib), &Policy::default());
        let limit = flat.sizing().unwrap().memory_limit_bytes;
        assert!((650.0 * mib..=672.0 * mib).contains(&limit), "{}", limit / mib);
        assert!(!flat.rationale.iter().any(|l| l.contains("stepped")), "{:?}", flat.rationale);
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
}

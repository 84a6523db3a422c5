//! The verdict on a change after its rollout: what the pods on the new settings went through
//! since it took effect, against what the change promised (no OOM kills, no evictions, no
//! throttling, the working set within the new request, no more restarts than before).
//!
//! A harm names the setting it calls to raise. The verdict is `revert` when a harm falls on a
//! resource the change lowered (the cut did it: put the previous values back), `raise` when a
//! harm falls on a resource the change did not lower (raise that setting), `holds` otherwise.
//! A signal the source did not have is unknown (`None`) and never counts as "no harm".

use crate::domain::Resources;
use serde::{Deserialize, Serialize};

/// What to do about a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No harm in the signals the source had (see [`Assessment::unknown`]): keep the change.
    Holds,
    /// Harm on a resource the change did not lower: raise the setting each harm names.
    Raise,
    /// Harm on a resource the change lowered: put the previous values back.
    Revert,
}

impl Verdict {
    /// The verdict as `-o json` and the text outputs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Raise => "raise",
            Verdict::Revert => "revert",
        }
    }
}

/// One of the four settings of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// The CPU request.
    CpuRequest,
    /// The CPU limit.
    CpuLimit,
    /// The memory request.
    MemoryRequest,
    /// The memory limit.
    MemoryLimit,
}

impl Setting {
    fn is_memory(self) -> bool {
        matches!(self, Setting::MemoryRequest | Setting::MemoryLimit)
    }
}

/// What the pods on the new settings went through since the change took effect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// Hours since the change took effect.
    pub hours: f64,
    /// Pods that ran with the new settings.
    pub pods: usize,
    /// Usage samples of those pods.
    pub samples: u64,
    /// OOM kills of those pods; `None` when the source has no restart reasons.
    pub oom_kills: Option<f64>,
    /// Restarts for another reason than an OOM kill.
    pub other_restarts: Option<f64>,
    /// Such restarts per hour of the pods on the previous settings, before the change.
    pub other_restarts_per_hour_before: Option<f64>,
    /// Pods evicted; `None` when the source has no eviction events.
    pub evictions: Option<f64>,
    /// Throttled CFS periods / CFS periods.
    pub throttled_share: Option<f64>,
    /// Share of samples with CPU usage above the new CPU limit.
    pub cpu_above_limit_share: Option<f64>,
    /// Core-seconds above the new CPU limit / core-seconds used: CPU the limit would have
    /// withheld (usage samples average over their interval, so a few short bursts count too).
    pub cpu_time_above_limit_share: Option<f64>,
    /// Share of samples with the working set above the new memory request.
    pub memory_above_request_share: Option<f64>,
    /// Highest working set of those pods, in bytes.
    pub peak_working_set_bytes: Option<f64>,
}

/// Where harm starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Throttled share of CFS periods above which CPU is harmed.
    pub throttled_share: f64,
    /// Share of samples above the CPU limit above which CPU is harmed.
    pub cpu_above_limit_share: f64,
    /// Share of CPU time above the CPU limit above which CPU is harmed.
    pub cpu_time_above_limit_share: f64,
    /// Share of samples above the memory request above which the pods are exposed to eviction.
    pub memory_above_request_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            throttled_share: 0.10,
            cpu_above_limit_share: 0.01,
            cpu_time_above_limit_share: 0.01,
            memory_above_request_share: 0.10,
        }
    }
}

/// A harm: the setting to raise and why, in words with the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Harm {
    /// The setting the harm calls to raise.
    pub setting: Setting,
    /// What happened, with the numbers (`2 OOM kill(s) in 48 h`).
    pub reason: String,
}

/// The verdict, the harms behind it and the settings to change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// What to do about the change.
    pub verdict: Verdict,
    /// Every harm seen, each naming its setting; empty when the change holds.
    pub harms: Vec<Harm>,
    /// Signals the source did not have (their harm cannot be ruled out).
    pub unknown: Vec<&'static str>,
}

/// Whether the change lowered `setting` (a limit removed is not a cut).
pub fn lowered(before: &Resources, after: &Resources, setting: Setting) -> bool {
    matches!((value(before, setting), value(after, setting)), (Some(b), Some(a)) if a < b)
}

/// The value of one setting (`None`: not set).
pub fn value(r: &Resources, setting: Setting) -> Option<f64> {
    match setting {
        Setting::CpuRequest => r.cpu_request_cores,
        Setting::CpuLimit => r.cpu_limit_cores,
        Setting::MemoryRequest => r.memory_request_bytes,
        Setting::MemoryLimit => r.memory_limit_bytes,
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The harms `observed` shows, each on the setting it calls to raise.
pub fn harms(before: &Resources, after: &Resources, observed: &Observed, t: &Thresholds) -> Vec<Harm> {
    let mut out = Vec::new();
    let mut harm = |setting, reason: String| out.push(Harm { setting, reason });
    if let Some(n) = observed.oom_kills.filter(|n| *n > 0.0) {
        harm(Setting::MemoryLimit, format!("{n} OOM kill(s) in {:.0} h", observed.hours));
    }
    if let Some(n) = observed.evictions.filter(|n| *n > 0.0) {
        harm(Setting::MemoryRequest, format!("{n} pod(s) evicted"));
    }
    if let Some(s) = observed.memory_above_request_share.filter(|s| *s > t.memory_above_request_share) {
        harm(
            Setting::MemoryRequest,
            format!("working set above the {} request in {} of samples", mib(after.memory_request_bytes), percent(s)),
        );
    }
    if let Some(s) = observed.throttled_share.filter(|s| *s > t.throttled_share) {
        harm(Setting::CpuLimit, format!("{} of CFS periods throttled", percent(s)));
    }
    if let Some(s) = observed.cpu_above_limit_share.filter(|s| *s > t.cpu_above_limit_share) {
        harm(
            Setting::CpuLimit,
            format!("CPU above the {} limit in {} of samples", cores(after.cpu_limit_cores), percent(s)),
        );
    }
    let over_time = observed.cpu_time_above_limit_share.filter(|s| *s > t.cpu_time_above_limit_share);
    let samples_said_so = observed.cpu_above_limit_share.is_some_and(|s| s > t.cpu_above_limit_share);
    if let Some(s) = over_time.filter(|_| !samples_said_so) {
        harm(Setting::CpuLimit, format!("{} of CPU time above the {} limit", percent(s), cores(after.cpu_limit_cores)));
    }
    if let (Some(n), hours) = (observed.other_restarts.filter(|n| *n > 0.0), observed.hours.max(1.0)) {
        let before_rate = observed.other_restarts_per_hour_before.unwrap_or(0.0);
        if n / hours > before_rate {
            // A restart that is not an OOM kill (a failed probe, a crash) is blamed on the cut.
            let cut_memory =
                lowered(before, after, Setting::MemoryLimit) || lowered(before, after, Setting::MemoryRequest);
            let setting = if cut_memory { Setting::MemoryLimit } else { Setting::CpuLimit };
            harm(setting, format!("{n} restart(s) in {hours:.0} h, {before_rate:.3}/h before the change"));
        }
    }
    out
}

fn mib(bytes: Option<f64>) -> String {
    bytes.map_or("unset".into(), |b| format!("{:.0}Mi", b / (1024.0 * 1024.0)))
}

fn cores(c: Option<f64>) -> String {
    c.map_or("unset".into(), |c| format!("{:.0}m", c * 1000.0))
}

/// The verdict on a change from `before` to `after`.
pub fn assess(before: &Resources, after: &Resources, observed: &Observed, t: &Thresholds) -> Assessment {
    let harms = harms(before, after, observed, t);
    let cut = |memory: bool| {
        let settings: &[Setting] = if memory {
            &[Setting::MemoryRequest, Setting::MemoryLimit]
        } else {
            &[Setting::CpuRequest, Setting::CpuLimit]
        };
        settings.iter().any(|s| lowered(before, after, *s))
    };
    let verdict = if harms.iter().any(|h| cut(h.setting.is_memory())) {
        Verdict::Revert
    } else if harms.is_empty() {
        Verdict::Holds
    } else {
        Verdict::Raise
    };
    let mut unknown = Vec::new();
    for (name, known) in [
        ("restarts and OOM kills", observed.oom_kills.is_some()),
        ("evictions", observed.evictions.is_some()),
        ("throttling", observed.throttled_share.is_some()),
        ("usage", observed.samples > 0),
    ] {
        if !known {
            unknown.push(name);
        }
    }
    Assessment { verdict, harms, unknown }
}

/// How much a follow-up raises a harmed setting that the change did not lower.
pub const RAISE_FACTOR: f64 = 1.5;
/// Headroom a raised memory setting keeps above the peak working set seen since the change.
pub const MEMORY_HEADROOM: f64 = 1.2;

const MIB: f64 = 1024.0 * 1024.0;

/// The settings a follow-up proposes for a harmed container, from those in force now.
///
/// Per resource (CPU, memory) with a harm: when the change lowered that resource, its request
/// and limit go back to `previous` (the values before the change); otherwise only the harmed
/// settings are raised, by [`RAISE_FACTOR`] and, for memory, to at least [`MEMORY_HEADROOM`]
/// times the peak working set. A harmed limit that is unset raises the request instead. A
/// request never ends above its limit. CPU is rounded up to the millicore, memory to the MiB.
pub fn follow_up(
    change: (&Resources, &Resources),
    current: &Resources,
    previous: &Resources,
    harms: &[Harm],
    peak_working_set_bytes: Option<f64>,
) -> Resources {
    let (before, after) = change;
    let mut out = *current;
    for memory in [false, true] {
        let harmed: Vec<Setting> = harms.iter().map(|h| h.setting).filter(|s| s.is_memory() == memory).collect();
        if harmed.is_empty() {
            continue;
        }
        let (request, limit) = if memory {
            (Setting::MemoryRequest, Setting::MemoryLimit)
        } else {
            (Setting::CpuRequest, Setting::CpuLimit)
        };
        if lowered(before, after, request) || lowered(before, after, limit) {
            *slot(&mut out, request) = value(previous, request);
            *slot(&mut out, limit) = value(previous, limit);
            continue;
        }
        let floor = if memory { peak_working_set_bytes.map(|p| p * MEMORY_HEADROOM) } else { None };
        let mut targets: Vec<Setting> = harmed;
        if targets.contains(&limit) && slot(&mut out, limit).is_none() {
            targets.push(request);
        }
        targets.sort();
        targets.dedup();
        for s in targets {
            let value = slot(&mut out, s);
            *value = value.map(|v| round_up((v * RAISE_FACTOR).max(floor.unwrap_or(0.0)), memory));
        }
        if let (Some(r), Some(l)) = (*slot(&mut out, request), *slot(&mut out, limit)) {
            if r > l {
                *slot(&mut out, limit) = Some(r);
            }
        }
    }
    out
}

fn slot(r: &mut Resources, setting: Setting) -> &mut Option<f64> {
    match setting {
        Setting::CpuRequest => &mut r.cpu_request_cores,
        Setting::CpuLimit => &mut r.cpu_limit_cores,
        Setting::MemoryRequest => &mut r.memory_request_bytes,
        Setting::MemoryLimit => &mut r.memory_limit_bytes,
    }
}

fn round_up(v: f64, memory: bool) -> f64 {
    if memory {
        (v / MIB).ceil() * MIB
    } else {
        (v * 1000.0).ceil() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: f64 = 1024.0 * 1024.0;

    fn res(cpu: (f64, f64), mem: (f64, f64)) -> Resources {
        Resources {
            cpu_request_cores: Some(cpu.0),
            cpu_limit_cores: Some(cpu.1),
            memory_request_bytes: Some(mem.0 * MI),
            memory_limit_bytes: Some(mem.1 * MI),
        }
    }

    fn quiet() -> Observed {
        Observed {
            hours: 24.0,
            pods: 2,
            samples: 2880,
            oom_kills: Some(0.0),
            other_restarts: Some(0.0),
            other_restarts_per_hour_before: Some(0.0),
            evictions: Some(0.0),
            throttled_share: Some(0.005),
            cpu_above_limit_share: Some(0.0),
            cpu_time_above_limit_share: Some(0.0),
            memory_above_request_share: Some(0.0),
            peak_working_set_bytes: Some(50.0 * MI),
        }
    }

    #[test]
    fn a_memory_cut_followed_by_oom_kills_is_reverted() {
        let (before, after) = (res((0.5, 1.0), (512.0, 1024.0)), res((0.5, 1.0), (128.0, 256.0)));
        let observed = Observed { oom_kills: Some(3.0), memory_above_request_share: Some(1.0), ..quiet() };
        let a = assess(&before, &after, &observed, &Thresholds::default());
        assert_eq!(a.verdict, Verdict::Revert);
        let harmed: Vec<Setting> = a.harms.iter().map(|h| h.setting).collect();
        assert_eq!(harmed, vec![Setting::MemoryLimit, Setting::MemoryRequest]);
        assert_eq!(a.harms[0].reason, "3 OOM kill(s) in 24 h");
        assert_eq!(a.harms[1].reason, "working set above the 128Mi request in 100.0% of samples");
    }

    #[test]
    fn a_cpu_cut_followed_by_throttling_is_reverted_and_a_quiet_cut_holds() {
        let (before, after) = (res((1.0, 2.0), (256.0, 512.0)), res((0.25, 0.5), (256.0, 512.0)));
        let throttled = Observed { throttled_share: Some(0.4), ..quiet() };
        let a = assess(&before, &after, &throttled, &Thresholds::default());
        assert_eq!((a.verdict, a.harms[0].reason.as_str()), (Verdict::Revert, "40.0% of CFS periods throttled"));
        // 0.5% throttled is under the 10% threshold.
        assert_eq!(assess(&before, &after, &quiet(), &Thresholds::default()).verdict, Verdict::Holds);
    }

    #[test]
    fn harm_after_a_raise_asks_for_more_and_unknown_signals_are_listed() {
        let (before, after) = (res((0.2, 1.0), (128.0, 256.0)), res((0.2, 1.0), (160.0, 320.0)));
        let observed = Observed { oom_kills: Some(1.0), ..quiet() };
        let a = assess(&before, &after, &observed, &Thresholds::default());
        assert_eq!((a.verdict, a.harms.len()), (Verdict::Raise, 1));
        let blind = Observed { oom_kills: None, evictions: None, throttled_share: None, ..quiet() };
        let a = assess(&before, &after, &blind, &Thresholds::default());
        assert_eq!(a.verdict, Verdict::Holds);
        assert_eq!(a.unknown, vec!["restarts and OOM kills", "evictions", "throttling"]);
    }

    #[test]
    fn cpu_time_above_the_limit_is_harm_even_in_few_samples() {
        let (before, after) = (res((0.5, 2.0), (256.0, 512.0)), res((0.25, 0.5), (256.0, 512.0)));
        // 0.5% of samples above the 500m limit (under 1%), but 3% of the CPU time: harm on the CPU limit.
        let bursty = Observed { cpu_above_limit_share: Some(0.005), cpu_time_above_limit_share: Some(0.03), ..quiet() };
        let a = assess(&before, &after, &bursty, &Thresholds::default());
        assert_eq!((a.verdict, a.harms.len()), (Verdict::Revert, 1));
        assert_eq!(a.harms[0].reason, "3.0% of CPU time above the 500m limit");
        // Both rules tripped: one harm, in samples.
        let both = Observed { cpu_above_limit_share: Some(0.2), cpu_time_above_limit_share: Some(0.1), ..quiet() };
        let a = assess(&before, &after, &both, &Thresholds::default());
        assert_eq!(
            a.harms.iter().map(|h| h.reason.as_str()).collect::<Vec<_>>(),
            ["CPU above the 500m limit in 20.0% of samples"]
        );
    }

    #[test]
    fn restarts_count_only_above_the_rate_before_and_fall_on_the_cut() {
        let (before, after) = (res((1.0, 2.0), (256.0, 512.0)), res((0.5, 1.0), (256.0, 512.0)));
        // 2 in 24 h = 0.083/h, above 0.05/h before: harm, on the CPU limit (memory was not cut).
        let more = Observed { other_restarts: Some(2.0), other_restarts_per_hour_before: Some(0.05), ..quiet() };
        let a = assess(&before, &after, &more, &Thresholds::default());
        assert_eq!((a.verdict, a.harms[0].setting), (Verdict::Revert, Setting::CpuLimit));
        let same = Observed { other_restarts: Some(2.0), other_restarts_per_hour_before: Some(0.1), ..quiet() };
        assert_eq!(assess(&before, &after, &same, &Thresholds::default()).verdict, Verdict::Holds);
    }

    fn harm(setting: Setting) -> Harm {
        Harm { setting, reason: String::new() }
    }

    #[test]
    fn a_follow_up_reverts_the_cut_resource_and_raises_only_harmed_settings_of_the_others() {
        // Memory cut 512Mi/1Gi -> 128Mi/256Mi, OOM kills: memory back to the previous values, CPU untouched.
        let (before, after) = (res((0.5, 1.0), (512.0, 1024.0)), res((0.5, 1.0), (128.0, 256.0)));
        let harms = [harm(Setting::MemoryLimit), harm(Setting::MemoryRequest)];
        let got = follow_up((&before, &after), &after, &before, &harms, Some(240.0 * MI));
        assert_eq!(got, before);
        // Memory raised 128Mi/256Mi -> 160Mi/320Mi, still OOM-killed at a 200Mi peak: 160 x 1.5 = 240 =
        // 200 x 1.2 for the request, 320 x 1.5 = 480 for the limit; CPU untouched.
        let (before, after) = (res((0.2, 1.0), (128.0, 256.0)), res((0.2, 1.0), (160.0, 320.0)));
        let got = follow_up((&before, &after), &after, &before, &harms, Some(200.0 * MI));
        assert_eq!(got, res((0.2, 1.0), (240.0, 480.0)));
        // Only the limit harmed, with a 300Mi peak: the limit is 480Mi, the request stays 160Mi.
        let got = follow_up((&before, &after), &after, &before, &[harm(Setting::MemoryLimit)], Some(300.0 * MI));
        assert_eq!(got, res((0.2, 1.0), (160.0, 480.0)));
        // Throttled after a memory-only change: the CPU limit is raised 1 -> 1.5 cores, memory kept.
        let got = follow_up((&before, &after), &after, &before, &[harm(Setting::CpuLimit)], None);
        assert_eq!(got, res((0.2, 1.5), (160.0, 320.0)));
    }

    #[test]
    fn a_follow_up_raises_the_request_when_the_harmed_limit_is_unset_and_keeps_request_under_limit() {
        let before = Resources { memory_limit_bytes: None, ..res((0.2, 1.0), (100.0, 0.0)) };
        let after = Resources { memory_request_bytes: Some(120.0 * MI), ..before };
        // OOM kill with no memory limit (the node's OOM killer): the request goes 120 -> 180Mi (peak 100Mi x 1.2 = 120).
        let got = follow_up((&before, &after), &after, &before, &[harm(Setting::MemoryLimit)], Some(100.0 * MI));
        assert_eq!((got.memory_request_bytes, got.memory_limit_bytes), (Some(180.0 * MI), None));
        // Request 160Mi raised to 1.2 x 500Mi = 600Mi passes the 320Mi limit: the limit follows to 600Mi.
        let (b, a) = (res((0.2, 1.0), (128.0, 320.0)), res((0.2, 1.0), (160.0, 320.0)));
        let got = follow_up((&b, &a), &a, &b, &[harm(Setting::MemoryRequest)], Some(500.0 * MI));
        assert_eq!((got.memory_request_bytes, got.memory_limit_bytes), (Some(600.0 * MI), Some(600.0 * MI)));
    }
}

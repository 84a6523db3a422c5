//! Go: `GOMEMLIMIT` is the heap size the garbage collector works to stay under; set above the
//! container's memory limit it never triggers in time, and the kernel OOM-kills the process
//! first. `GOMAXPROCS` is how many threads run Go code at once: before Go 1.25 it defaults to
//! the node's CPUs, not the cgroup's quota, so a Go service capped at one core runs dozens of
//! threads that queue for it.
//!
//! A Go binary has no common name or image, so Go is recognised by its own variables: only the
//! Go runtime reads `GOMEMLIMIT` and `GOMAXPROCS`. A binary that sets them itself (automaxprocs,
//! `debug.SetMemoryLimit`) does not show in the manifest, so only a variable that is set is
//! judged and patched.

use super::{growth_risk, workers_for, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::policy::Policy;
use crate::analysis::sizing::{round_up, Sizing};
use crate::domain::human_bytes;

const MI: f64 = 1024.0 * 1024.0;
/// `GOMEMLIMIT` as a share of the memory limit: the rest covers what the Go runtime does not
/// count (goroutine stacks beyond the limit's reach, cgo and the binary's own pages).
pub const MEMORY_LIMIT_SHARE: f64 = 0.9;

/// The Go runtime's variables, as the container's environment sets them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// As written (`900MiB`, `1GiB`, `943718400`, `off`).
    pub memory_limit: Option<Setting<String>>,
    /// `GOMAXPROCS` as written (a count).
    pub max_procs: Option<Setting<String>>,
}

impl Settings {
    /// A variable's current value as written (`GOMEMLIMIT`, `GOMAXPROCS`); `None` when not set.
    pub fn value_of(&self, setting: &str) -> Option<String> {
        match setting {
            "GOMEMLIMIT" => self.memory_limit.as_ref().map(|s| s.value.clone()),
            "GOMAXPROCS" => self.max_procs.as_ref().map(|s| s.value.clone()),
            _ => None,
        }
    }

    /// Where each variable that was found lives.
    pub fn origins(&self) -> impl Iterator<Item = &super::Origin> {
        self.memory_limit.iter().chain(&self.max_procs).map(|s| &s.origin)
    }
}

/// A `GOMEMLIMIT` in bytes: a number with an optional `B`, `KiB`, `MiB`, `GiB` or `TiB`
/// suffix, as the Go runtime parses it; `off` is no limit (infinite).
pub fn parse_memory_limit(text: &str) -> Option<f64> {
    if text == "off" {
        return Some(f64::INFINITY);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let n: u64 = text[..split].parse().ok()?;
    let power = match &text[split..] {
        "" | "B" => 0,
        "KiB" => 1,
        "MiB" => 2,
        "GiB" => 3,
        "TiB" => 4,
        _ => return None,
    };
    Some(n as f64 * 1024f64.powi(power))
}

/// The share of `limit`, down to whole MiB, as `GOMEMLIMIT` text.
pub fn memory_limit_for(limit: f64) -> (f64, String) {
    let mib = (limit * MEMORY_LIMIT_SHARE / MI).floor();
    (mib * MI, format!("{mib}MiB"))
}

/// Judges `GOMEMLIMIT` (set to a share of the memory limit, the limit raised in `sizing` when
/// that share is below the `peak` working set in bytes) and `GOMAXPROCS` (the CPU budget); only
/// variables that are set are changed.
pub fn advise(
    s: &Settings,
    sizing: &mut Sizing,
    current_limit: Option<f64>,
    policy: &Policy,
    peak: f64,
) -> RuntimeAdvice {
    let mut advice = RuntimeAdvice { runtime: "go".into(), ..Default::default() };
    for (name, setting) in [("GOMEMLIMIT", &s.memory_limit), ("GOMAXPROCS", &s.max_procs)] {
        if let Some(x) = setting {
            advice.found.push(format!("{name}={} ({})", x.value, x.origin));
        }
    }
    match &s.memory_limit {
        Some(current) => memory(current, sizing, current_limit, policy, peak, &mut advice),
        None => advice.rationale.push(
            "go: GOMEMLIMIT not set: the GC paces on GOGC alone and does not see the memory limit; left as it is (podsizer only changes settings it found)".into(),
        ),
    }
    let (procs, budget) = workers_for(sizing);
    match &s.max_procs {
        Some(current) if current.value.parse::<u32>() == Ok(procs) => {
            advice.rationale.push(format!("go: GOMAXPROCS {procs} already matches the {budget}"));
        }
        Some(current) => {
            advice.rationale.push(format!(
                "go: GOMAXPROCS {} -> {procs}: the {budget}, rounded up; more threads than the quota only queue for it",
                current.value
            ));
            advice.changes.push(SettingChange::of("GOMAXPROCS", current, procs.to_string()));
        }
        None => advice.rationale.push(format!(
            "go: GOMAXPROCS not set: Go 1.25+ follows the cgroup quota ({procs} for the {budget}), older Go the node's CPUs unless the binary links automaxprocs, which the manifest does not show; left as it is"
        )),
    }
    advice
}

/// `GOMEMLIMIT` = the stated share of the proposed limit. Refused (the memory limit raised)
/// when that share is below the peak working set: the GC would run without pause trying to
/// get under it.
fn memory(
    current: &Setting<String>,
    sizing: &mut Sizing,
    current_limit: Option<f64>,
    policy: &Policy,
    peak: f64,
    advice: &mut RuntimeAdvice,
) {
    let now = parse_memory_limit(&current.value).expect("checked when read");
    let shown = |v: f64| if v.is_finite() { human_bytes(v) } else { "off (no limit)".into() };
    let today = |_: f64| format!("GOMEMLIMIT {}", shown(now));
    // `off` is Go's default (no soft limit): nothing set outgrows anything.
    let grows = |_: f64| if now.is_finite() { now } else { 0.0 };
    if let Some(risk) = growth_risk("the Go heap", current_limit, sizing.memory_limit_bytes, grows, today) {
        advice.risks.push(risk);
    }
    let share = format!("{:.0}%", MEMORY_LIMIT_SHARE * 100.0);
    let mut limit = sizing.memory_limit_bytes;
    if memory_limit_for(limit).0 < peak {
        let raised = round_up(peak / MEMORY_LIMIT_SHARE, policy.memory.step_bytes);
        advice.rationale.push(format!(
            "go: refused memory limit {}: GOMEMLIMIT at {share} of it is below the peak working set {}, and the GC would run without pause; limit raised to {}",
            human_bytes(limit),
            human_bytes(peak),
            human_bytes(raised)
        ));
        sizing.memory_limit_bytes = raised;
        limit = raised;
    }
    let (bytes, text) = memory_limit_for(limit);
    if bytes == now {
        advice.rationale.push(format!("go: GOMEMLIMIT {} is already {share} of the memory limit", current.value));
        return;
    }
    advice.rationale.push(format!(
        "go: GOMEMLIMIT {} -> {text}: {share} of the proposed memory limit {}, so the GC works harder before the kernel OOM-kills",
        current.value,
        human_bytes(limit)
    ));
    advice.changes.push(SettingChange::of("GOMEMLIMIT", current, text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::runtimes::Origin;

    fn env(name: &str, value: &str) -> Setting<String> {
        Setting { value: value.into(), origin: Origin::Env { name: name.into() } }
    }

    fn sizing(limit_mib: f64, cpu: Option<f64>) -> Sizing {
        Sizing {
            cpu_request_cores: 0.3,
            cpu_limit_cores: cpu,
            memory_request_bytes: 1.0,
            memory_limit_bytes: limit_mib * MI,
        }
    }

    #[test]
    fn memory_limits_parse_as_go_reads_them() {
        assert_eq!(parse_memory_limit("900MiB"), Some(900.0 * MI));
        assert_eq!(parse_memory_limit("2GiB"), Some(2048.0 * MI));
        assert_eq!(parse_memory_limit("1048576"), Some(MI));
        assert_eq!(parse_memory_limit("off"), Some(f64::INFINITY));
        assert_eq!(parse_memory_limit("900M"), None, "Go wants MiB, not M");
        assert_eq!(parse_memory_limit("1.5GiB"), None);
    }

    #[test]
    fn gomemlimit_is_ninety_percent_of_the_limit_and_gomaxprocs_its_cpus() {
        // 90% of 500Mi = 450MiB; CPU limit 1.5 -> 2.
        let s = Settings { memory_limit: Some(env("GOMEMLIMIT", "2GiB")), max_procs: Some(env("GOMAXPROCS", "16")) };
        let mut z = sizing(500.0, Some(1.5));
        let a = advise(&s, &mut z, Some(1024.0 * MI), &Policy::default(), 300.0 * MI);
        let c: Vec<_> = a.changes.iter().map(|c| (c.setting.as_str(), c.proposed.as_str())).collect();
        assert_eq!(c, [("GOMEMLIMIT", "450MiB"), ("GOMAXPROCS", "2")]);
        assert_eq!(a.risks, ["the Go heap can grow to GOMEMLIMIT 2Gi, above its limit 1Gi"]);
        assert_eq!(z.memory_limit_bytes, 500.0 * MI);
        // 90% of 1000Mi = 900MiB exactly: nothing to change.
        let same = Settings { memory_limit: Some(env("GOMEMLIMIT", "900MiB")), max_procs: None };
        assert!(advise(&same, &mut sizing(1000.0, Some(1.0)), None, &Policy::default(), 0.0).changes.is_empty());
    }

    #[test]
    fn refusal_when_the_share_is_below_the_peak_and_nothing_added_when_unset() {
        // 90% of 400Mi = 360Mi < peak 450Mi: the limit becomes 450 / 0.9 = 500Mi, GOMEMLIMIT 450MiB.
        let s = Settings { memory_limit: Some(env("GOMEMLIMIT", "off")), max_procs: None };
        let mut z = sizing(400.0, None);
        let a = advise(&s, &mut z, None, &Policy::default(), 450.0 * MI);
        assert_eq!(z.memory_limit_bytes, 500.0 * MI);
        assert_eq!(a.changes[0].proposed, "450MiB");
        assert!(a.rationale.iter().any(|r| r.starts_with("go: refused memory limit 400Mi")), "{:?}", a.rationale);
        let none = advise(&Settings::default(), &mut sizing(400.0, Some(2.0)), None, &Policy::default(), 0.0);
        assert!(none.changes.is_empty() && none.risks.is_empty());
    }
}

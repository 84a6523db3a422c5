//! Node.js: `--max-old-space-size` caps V8's old generation, the bulk of the heap. Memory
//! outside it (the young generation, code, `Buffer`s and native modules) still counts against
//! the container's limit, so an old space close to the limit is OOM-killed before V8 ever
//! collects hard or throws its heap-out-of-memory error.

use super::{growth_risk, RuntimeAdvice, Setting, SettingChange};
use crate::analysis::policy::Policy;
use crate::analysis::sizing::{round_up, Sizing};
use crate::domain::human_bytes;

const MI: f64 = 1024.0 * 1024.0;
/// The old space's share of the memory limit; the rest is for memory outside it.
pub const OLD_SPACE_SHARE: f64 = 0.75;
/// The smallest old space worth running: below it V8 spends its time collecting.
pub const MIN_OLD_SPACE_BYTES: f64 = 64.0 * MI;

/// Node.js's settings, as the container's environment (`NODE_OPTIONS`) or args give them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// `--max-old-space-size` in MiB, as written (checked to be a whole number when read).
    pub max_old_space: Option<Setting<String>>,
}

/// `--max-old-space-size` in bytes (the flag counts MiB).
pub fn parse_max_old_space(text: &str) -> Option<f64> {
    text.parse::<u64>().ok().filter(|n| *n > 0).map(|n| n as f64 * MI)
}

/// Judges `--max-old-space-size` against `sizing`'s memory limit: lowered to a share of it,
/// or the limit raised in `sizing` when that share is below the old space the `peak` working
/// set (bytes) needs; a flag that is not set is left as it is.
pub fn advise(
    s: &Settings,
    sizing: &mut Sizing,
    current_limit: Option<f64>,
    policy: &Policy,
    peak: f64,
) -> RuntimeAdvice {
    let mut advice = RuntimeAdvice { runtime: "node".into(), ..Default::default() };
    let share = format!("{:.0}%", OLD_SPACE_SHARE * 100.0);
    let Some(current) = &s.max_old_space else {
        advice.rationale.push(format!(
            "node: --max-old-space-size not set: V8 sizes its heap from the memory it sees; left as it is (podsizer only changes settings it found; {share} of the limit would be the rule)"
        ));
        return advice;
    };
    advice.found.push(format!("--max-old-space-size={} ({})", current.value, current.origin));
    let old = parse_max_old_space(&current.value).expect("checked when read");
    let grows = |_: f64| old / OLD_SPACE_SHARE;
    let today = |_: f64| {
        format!(
            "old space {} + {:.0}% outside it = {}",
            human_bytes(old),
            (1.0 - OLD_SPACE_SHARE) * 100.0,
            human_bytes(old / OLD_SPACE_SHARE)
        )
    };
    if let Some(risk) = growth_risk("the Node.js heap", current_limit, sizing.memory_limit_bytes, grows, today) {
        advice.risks.push(risk);
    }
    let limit = sizing.memory_limit_bytes;
    let room = (limit * OLD_SPACE_SHARE / MI).floor() * MI;
    if old <= room {
        advice.rationale.push(format!(
            "node: --max-old-space-size {} fits the proposed memory limit {}: at most {share} of it",
            current.value,
            human_bytes(limit)
        ));
        return advice;
    }
    // The old space the process had at its peak under the same split: less would be collection without end.
    let floor = MIN_OLD_SPACE_BYTES.max(peak * OLD_SPACE_SHARE);
    if room < floor {
        let raised = round_up(old / OLD_SPACE_SHARE, policy.memory.step_bytes);
        advice.rationale.push(format!(
            "node: refused memory limit {}: {share} of it leaves an old space under {}; limit raised to {} so --max-old-space-size {} fits",
            human_bytes(limit),
            human_bytes(floor),
            human_bytes(raised),
            current.value
        ));
        sizing.memory_limit_bytes = raised;
        return advice;
    }
    let proposed = ((room / MI) as u64).to_string();
    advice.rationale.push(format!(
        "node: --max-old-space-size {} -> {proposed}: {share} of the proposed memory limit {}, the rest for memory outside the old space",
        current.value,
        human_bytes(limit)
    ));
    advice.changes.push(SettingChange {
        setting: "--max-old-space-size".into(),
        current: Some(current.value.clone()),
        proposed,
        origin: current.origin.clone(),
    });
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::runtimes::Origin;

    fn set(mib: &str) -> Settings {
        Settings {
            max_old_space: Some(Setting { value: mib.into(), origin: Origin::Env { name: "NODE_OPTIONS".into() } }),
        }
    }

    fn sizing(limit_mib: f64) -> Sizing {
        Sizing {
            cpu_request_cores: 0.1,
            cpu_limit_cores: Some(0.2),
            memory_request_bytes: 1.0,
            memory_limit_bytes: limit_mib * MI,
        }
    }

    #[test]
    fn old_space_is_lowered_to_three_quarters_of_the_limit() {
        // 75% of 600Mi = 450; 1536 > 450 -> 450. Today 1536 / 0.75 = 2048Mi = 2Gi over a 1Gi limit.
        let mut z = sizing(600.0);
        let a = advise(&set("1536"), &mut z, Some(1024.0 * MI), &Policy::default(), 300.0 * MI);
        assert_eq!(a.changes[0].proposed, "450");
        assert_eq!(
            a.risks,
            ["the Node.js heap can grow to old space 1.5Gi + 25% outside it = 2Gi, above its limit 1Gi"]
        );
        // 75% of 601Mi = 450.75 -> 450 (whole MiB, down).
        assert_eq!(advise(&set("1536"), &mut sizing(601.0), None, &Policy::default(), 0.0).changes[0].proposed, "450");
        // 400 fits 600Mi: never raised.
        assert!(advise(&set("400"), &mut sizing(600.0), None, &Policy::default(), 0.0).changes.is_empty());
    }

    #[test]
    fn refusal_raises_the_limit_when_no_sane_old_space_fits() {
        // 75% of 80Mi = 60Mi < 64Mi: keep 512 and raise the limit to 512 / 0.75 = 682.7 -> 683Mi.
        let mut z = sizing(80.0);
        let a = advise(&set("512"), &mut z, None, &Policy::default(), 50.0 * MI);
        assert!(a.changes.is_empty());
        assert_eq!(z.memory_limit_bytes, 683.0 * MI);
        assert!(a.rationale[0].starts_with("node: refused memory limit 80Mi"), "{:?}", a.rationale);
        // Unset: nothing changed, nothing raised.
        let mut z = sizing(80.0);
        assert!(advise(&Settings::default(), &mut z, None, &Policy::default(), 0.0).changes.is_empty());
        assert_eq!(z.memory_limit_bytes, 80.0 * MI);
    }
}

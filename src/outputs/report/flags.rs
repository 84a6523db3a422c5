//! The risk flags of one container: what its history, its current settings and the proposal
//! say about throttling, OOM kills, eviction and runtime settings.

use super::{exposure_share, FlagDoc, UsageDoc, EXPOSURE_FLAG};
use crate::analysis::timeline;
use crate::analysis::{Proposal, Recommendation};
use crate::domain::DAY_MS;

pub(super) fn flags_for(
    r: &Recommendation,
    usage: &UsageDoc,
    now: &timeline::Crossings,
    proposed: Option<&timeline::Crossings>,
    exposure: (Option<u64>, Option<u64>),
) -> Vec<FlagDoc> {
    let mut flags = Vec::new();
    let cur = r.current.unwrap_or_default();
    match &r.proposal {
        Proposal::InsufficientHistory { have_span_ms, need_span_ms, .. } => flags.push(FlagDoc {
            code: "not_enough_history",
            text: format!(
                "not enough history: {:.0} h of the {:.0} h needed, so no proposal",
                *have_span_ms as f64 / 3.6e6,
                *need_span_ms as f64 / 3.6e6
            ),
        }),
        Proposal::Excluded => flags.push(FlagDoc { code: "excluded", text: "excluded by policy: no proposal".into() }),
        Proposal::Sized(_) if (r.confidence * 100.0).round() < 100.0 => flags.push(FlagDoc {
            code: "short_history",
            text: format!(
                "short history: {:.1} days (confidence {:.0}%; a week gives full confidence)",
                (r.last_ms.unwrap_or(0) - r.first_ms.unwrap_or(0)) as f64 / DAY_MS as f64,
                r.confidence * 100.0
            ),
        }),
        Proposal::Sized(_) => {}
    }
    if now.cpu_above_limit > 0 {
        flags.push(FlagDoc {
            code: "throttled_now",
            text: format!(
                "CPU above the current limit in {} of {} samples ({:.2}%): throttled now",
                now.cpu_above_limit,
                now.samples,
                now.cpu_share() * 100.0
            ),
        });
    }
    if now.memory_above_limit > 0 {
        flags.push(FlagDoc {
            code: "memory_above_limit_now",
            text: format!(
                "working set above the current memory limit in {} samples: OOM kills likely",
                now.memory_above_limit
            ),
        });
    } else if let Some(limit) = cur.memory_limit_bytes.filter(|l| usage.memory_bytes.max >= 0.9 * l) {
        flags.push(FlagDoc {
            code: "oom_risk_now",
            text: format!(
                "memory peak {} is {:.0}% of the current limit {}: OOM risk",
                crate::domain::human_bytes(usage.memory_bytes.max),
                usage.memory_bytes.max / limit * 100.0,
                crate::domain::human_bytes(limit)
            ),
        });
    }
    if let Some(p) = proposed {
        if p.cpu_share() > 0.001 {
            flags.push(FlagDoc {
                code: "throttling_risk",
                text: format!(
                    "CPU would be above the proposed limit in {:.2}% of samples: throttling risk",
                    p.cpu_share() * 100.0
                ),
            });
        }
        if p.memory_above_limit > 0 {
            flags.push(FlagDoc {
                code: "oom_risk_proposed",
                text: format!("working set above the proposed memory limit in {} samples", p.memory_above_limit),
            });
        }
    }
    let samples = now.samples;
    for (code, above, whose) in
        [("eviction_exposure_now", exposure.0, "current"), ("eviction_exposure", exposure.1, "proposed")]
    {
        let share = exposure_share(above.unwrap_or(0), samples);
        if share > EXPOSURE_FLAG {
            flags.push(FlagDoc {
                code,
                text: format!(
                    "working set above the {whose} memory request in {:.1}% of samples: among the first pods evicted when the node runs short of memory",
                    share * 100.0
                ),
            });
        }
    }
    for risk in r.runtime.iter().flat_map(|a| &a.risks) {
        flags.push(FlagDoc { code: "runtime_risk", text: risk.clone() });
    }
    if r.current.is_none_or(|c| c.is_empty()) {
        flags.push(FlagDoc {
            code: "current_unknown",
            text: "current settings unknown (not in the overlay, or no --kustomize)".into(),
        });
    }
    flags
}

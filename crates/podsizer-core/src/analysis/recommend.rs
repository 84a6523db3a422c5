//! From a container's usage to a reviewed recommendation: the history gate and exclusion,
//! then the strategy, then the caps, with the reasons for each number.

use super::sizing::{confidence, Proposal, Sizing};
use super::strategy::{SizingInput, Strategy};
use crate::domain::{ContainerKey, Cpu, Memory, Resources};

/// A recommendation with everything needed to review it.
#[derive(Debug, Clone)]
pub struct Recommendation {
    /// The container proposed for.
    pub key: ContainerKey,
    /// The strategy's name (see [`Strategy::name`]).
    pub strategy: String,
    /// The figures, or why there are none.
    pub proposal: Proposal,
    /// Requests and limits set today, when known.
    pub current: Option<Resources>,
    /// Samples behind the figures.
    pub samples: u64,
    /// Pods of this container seen over the window.
    pub pods: usize,
    /// The first sample's instant, in epoch ms.
    pub first_ms: Option<i64>,
    /// The last sample's instant, in epoch ms.
    pub last_ms: Option<i64>,
    /// 0..1: how much history backs the numbers (1 = a week or more).
    pub confidence: f64,
    /// One sentence per decision: which estimator, which guard, which override.
    pub rationale: Vec<String>,
    /// Pods running this container over the window.
    pub replicas: Option<super::usage::Replicas>,
    /// The runtime's settings (php-fpm, the JVM, ...) judged with the sizing (only with an overlay).
    pub runtime: Option<super::runtimes::RuntimeAdvice>,
}

impl Recommendation {
    /// The proposed figures; `None` when the container lacks history or is excluded.
    pub fn sizing(&self) -> Option<&Sizing> {
        match &self.proposal {
            Proposal::Sized(s) => Some(s),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! What a strategy proposes for one container, and the arithmetic every strategy shares
//! (rounding to a step, confidence from the span of history).

use crate::domain::{Cpu, DAY_MS};

/// Proposed settings for one container. `cpu_limit_cores == None` means no CPU limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    /// CPU request, in cores.
    pub cpu_request_cores: f64,
    /// CPU limit, in cores.
    pub cpu_limit_cores: Option<f64>,
    /// Memory request, in bytes.
    pub memory_request_bytes: f64,
    /// Memory limit, in bytes.
    pub memory_limit_bytes: f64,
}

/// "No answer" is an answer: a container is sized, lacks history, or is excluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// The strategy's figures, capped to what one container can use.
    Sized(Sizing),
    /// Too little history to size from (the policy's `history` gate): no proposal.
    InsufficientHistory {
        /// Time from the first sample to the last, in ms.
        have_span_ms: i64,
        /// Samples seen.
        have_samples: u64,
        /// The span the policy asks for, in ms.
        need_span_ms: i64,
        /// The samples the policy asks for.
        need_samples: u64,
    },
    /// The policy excludes the container: it is left as it is.
    Excluded,
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

impl Cpu {
    /// `183.4m`-style text for rationales, where rounding would hide what was measured.
    pub fn millicores_text(self) -> String {
        format!("{:.1}m", self.millicores())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_up_is_exact_on_multiples() {
        assert_eq!(round_up(0.010, 0.005), 0.010);
        assert!((round_up(0.0101, 0.005) - 0.015).abs() < 1e-12);
        assert_eq!(round_up(3.0 * 1048576.0, 1048576.0), 3.0 * 1048576.0);
    }
}

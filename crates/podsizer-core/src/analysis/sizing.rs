//! What a strategy proposes for one container, and the arithmetic every strategy shares
//! (rounding to a step, confidence from the span of history).

use crate::domain::{Cpu, DAY_MS};

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

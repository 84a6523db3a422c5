//! The team's rule taken literally: request = p50 of usage, limit = 2 x request, nothing
//! else. Kept to show in back-tests what podsizer's guards, floors and growth handling buy.

use crate::analysis::sizing::{round_up, Sizing};
use crate::analysis::strategy::{SizingInput, Strategy};

/// `plain-2x`: request = p50 of usage, limit = 2 x request.
pub struct PlainStrategy;

impl Strategy for PlainStrategy {
    fn name(&self) -> &'static str {
        "plain-2x"
    }

    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
        let (cpu, memory) = input.usage.combined(|_| 1.0);
        let cpu = round_up(cpu.percentile(50.0).unwrap_or(0.0), 0.001);
        let memory = round_up(memory.percentile(50.0).unwrap_or(0.0), 1024.0 * 1024.0);
        let sizing = Sizing {
            cpu_request_cores: cpu,
            cpu_limit_cores: Some(2.0 * cpu),
            memory_request_bytes: memory,
            memory_limit_bytes: 2.0 * memory,
        };
        (sizing, vec!["plain rule: request = p50, limit = 2 x request, no guards".into()])
    }
}

//! podsizer's policy with the memory request at p50 of the working set (typical use, the
//! CPU rule) instead of the daily peaks: kept to show in back-tests what covering the busy
//! hours costs and what it saves in eviction exposure.

use crate::analysis::policy::{MemoryBasis, Policy};
use crate::analysis::sizing::Sizing;
use crate::analysis::strategies::podsizer::PodsizerStrategy;
use crate::analysis::strategy::{SizingInput, Strategy};

/// `podsizer-p50`: podsizer's default with the memory request at p50 of the working set.
pub struct PodsizerP50Strategy;

impl Strategy for PodsizerP50Strategy {
    fn name(&self) -> &'static str {
        "podsizer-p50"
    }

    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
        let mut policy: Policy = input.policy.clone();
        policy.memory.request_basis = MemoryBasis::WorkingSet;
        policy.memory.request_percentile = 50.0;
        let input = SizingInput { policy: &policy, ..*input };
        PodsizerStrategy.size(&input)
    }
}

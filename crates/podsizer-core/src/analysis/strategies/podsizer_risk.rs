//! podsizer's policy with the memory request that spends a risk budget (the `risk-budget`
//! basis, see `risk_budget`): compared in back-tests with the daily-peaks rule it may replace.

use crate::analysis::policy::{MemoryBasis, Policy};
use crate::analysis::sizing::Sizing;
use crate::analysis::strategies::podsizer::PodsizerStrategy;
use crate::analysis::strategy::{SizingInput, Strategy};

/// `podsizer-risk`: podsizer's default with the `risk-budget` memory basis.
pub struct PodsizerRiskStrategy;

impl Strategy for PodsizerRiskStrategy {
    fn name(&self) -> &'static str {
        "podsizer-risk"
    }

    fn size(&self, input: &SizingInput<'_>) -> (Sizing, Vec<String>) {
        let mut policy: Policy = input.policy.clone();
        policy.memory.request_basis = MemoryBasis::RiskBudget;
        let input = SizingInput { policy: &policy, ..*input };
        PodsizerStrategy.size(&input)
    }
}

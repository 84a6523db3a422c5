//! Pure sizing logic: usage summaries, estimators, policies and guards. No I/O here: the
//! caller feeds rows in and gets recommendations out.

pub mod backtest;
pub mod changes;
pub mod contention;
pub mod evidence;
pub mod histogram;
pub mod hpa;
pub mod nodes;
pub mod policy;
pub mod recommend;
pub mod runtimes;
pub mod series;
pub mod sizing;
pub mod startup;
pub mod strategies;
pub mod strategy;
pub mod summary;
pub mod timeline;
pub mod traffic;
pub mod trend;
pub mod usage;
pub mod verdict;

pub use policy::{Policy, PolicyError, PolicySet};
pub use recommend::{recommend, Recommendation};
pub use sizing::{Proposal, Sizing};
pub use strategies::podsizer::PodsizerStrategy;
pub use strategy::{SizingInput, Strategy};
pub use usage::{ContainerUsage, UsageBuilder};

/// Strategies by name, for `--strategy`.
pub fn strategy_by_name(name: &str) -> Option<Box<dyn Strategy>> {
    match name {
        "podsizer" => Some(Box::new(PodsizerStrategy)),
        "podsizer-p50" => Some(Box::new(strategies::podsizer_p50::PodsizerP50Strategy)),
        "podsizer-risk" => Some(Box::new(strategies::podsizer_risk::PodsizerRiskStrategy)),
        "vpa" => Some(Box::new(strategies::vpa::VpaStrategy)),
        "krr" => Some(Box::new(strategies::krr::KrrStrategy { limit: false })),
        "krr-limit" => Some(Box::new(strategies::krr::KrrStrategy { limit: true })),
        "plain-2x" => Some(Box::new(strategies::plain::PlainStrategy)),
        _ => None,
    }
}

/// Every name [`strategy_by_name`] knows, the default (`podsizer`) first.
pub const STRATEGY_NAMES: &[&str] =
    &["podsizer", "podsizer-p50", "podsizer-risk", "vpa", "krr", "krr-limit", "plain-2x"];

//! Peer recommenders, implemented from their documented algorithms so that podsizer's
//! default can be compared with them on the same history (docs/backtest.md, "Strategies").

pub mod krr;
pub mod plain;
pub mod podsizer;
pub mod podsizer_p50;
pub mod podsizer_risk;
pub mod risk_budget;
pub mod steps;
pub mod vpa;

//! Peer recommenders, implemented from their documented algorithms so that podsizer's
//! default can be compared with them on the same history (see the README's back-test).

pub mod krr;
pub mod plain;
pub mod podsizer_p50;
pub mod vpa;

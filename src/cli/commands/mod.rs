pub mod backtest;
pub mod demo;
pub mod import;
pub mod import_prometheus;
pub mod pr;
pub mod recommend;
pub mod report;
pub mod synth;

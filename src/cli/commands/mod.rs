pub mod backtest;
pub mod demo;
pub mod import;
pub mod recommend;
pub mod synth;

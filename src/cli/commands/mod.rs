pub mod demo;
pub mod import;
pub mod recommend;
pub mod synth;

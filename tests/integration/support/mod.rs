//! What the test areas share: fixtures, fake servers and the real services they start.

pub mod cloudwatch;
pub mod demo;
pub mod fake_api;
pub mod moto;
pub mod prometheus;
pub mod rows;

//! What podsizer produces: tables and documents, kustomize patches.

pub mod applied;
pub mod backtest;
pub mod bot;
pub mod fileset;
pub mod format;
pub mod kustomization;
pub mod kustomize;
pub mod names;
pub mod notify;
pub mod report;
pub mod runtime_patches;
pub mod runtime_settings;
pub mod yaml;

/// The HTTP client the bot and the notifications post with: statuses come back as answers (the
/// caller words the error), and nothing hangs longer than 30 s.
pub(crate) fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .user_agent(concat!("podsizer/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

pub use format::{document, render, OutputFormat};

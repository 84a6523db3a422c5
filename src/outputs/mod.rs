//! What podsizer produces: tables and documents, kustomize patches.

pub(crate) mod applied;
pub(crate) mod backtest;
pub(crate) mod bot;
pub(crate) mod fileset;
pub mod format;
pub(crate) mod hpa_metrics;
pub(crate) mod keda;
pub(crate) mod kustomization;
pub mod kustomize;
pub mod names;
pub(crate) mod notify;
pub(crate) mod rendered;
pub(crate) mod report;
pub(crate) mod runtime_env;
pub(crate) mod runtime_patches;
pub(crate) mod runtime_settings;
pub(crate) mod startup_boost;
pub mod yaml;

/// The HTTP client the bot and the notifications post with: statuses come back as answers (the
/// caller words the error), and nothing hangs longer than 30 s.
pub(crate) fn http_agent() -> ureq::Agent {
    agent_config().build().new_agent()
}

/// [`http_agent`] that follows no redirect: a webhook URL is a credential, and a redirect
/// (to another host, or a POST turned into a GET) is an answer, not a delivery.
pub(crate) fn http_agent_without_redirects() -> ureq::Agent {
    agent_config().max_redirects(0).build().new_agent()
}

fn agent_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .user_agent(concat!("podsizer/", env!("CARGO_PKG_VERSION")))
}

pub use format::{document, render, OutputFormat};

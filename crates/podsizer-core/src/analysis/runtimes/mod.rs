//! Runtimes that size themselves from their own settings rather than from the container's
//! resources: php-fpm (`pm.max_children`), envoy (`--concurrency`) and nginx
//! (`worker_processes`). A resource change alone can be undone or made dangerous by the
//! process inside, so these rules propose the setting together with the resources.
//!
//! The settings come in already read (the overlay reader lives in `outputs`); here they are
//! only judged, and every decision leaves a sentence for the rationale.

pub mod envoy;
pub mod nginx;
pub mod php_fpm;
pub mod process;

use crate::analysis::policy::Policy;
use crate::analysis::sizing::Sizing;
use serde::Serialize;

/// Where a setting lives in the GitOps tree, so a patch changes it there and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Origin {
    /// A file held as one key of a ConfigMap's `data`.
    ConfigMap { name: String, key: String },
    /// A literal `value` of the container's environment.
    Env { name: String },
    /// The container's `args` list.
    Args,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::ConfigMap { name, key } => write!(f, "ConfigMap {name}, key {key}"),
            Origin::Env { name } => write!(f, "env {name}"),
            Origin::Args => write!(f, "container args"),
        }
    }
}

/// A setting's value and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
}

/// What the overlay says about one runtime in a container.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeSettings {
    PhpFpm(Box<php_fpm::Pool>),
    Envoy(envoy::Settings),
    Nginx(nginx::Settings),
}

impl RuntimeSettings {
    pub fn name(&self) -> &'static str {
        match self {
            RuntimeSettings::PhpFpm(_) => "php-fpm",
            RuntimeSettings::Envoy(_) => "envoy",
            RuntimeSettings::Nginx(_) => "nginx",
        }
    }
}

/// One container's runtime settings, as read from the rendered overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRuntime {
    pub kind: String,
    pub workload: String,
    pub namespace: Option<String>,
    pub container: String,
    pub settings: RuntimeSettings,
    /// Things that looked like settings but could not be read (and will not be patched).
    pub unread: Vec<String>,
}

/// A setting podsizer proposes to change, where it lives and its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    pub setting: String,
    /// `None`: the setting is absent today and takes the runtime's default.
    pub current: Option<String>,
    pub proposed: String,
    pub origin: Origin,
}

/// The verdict on one container's runtime: carried under the container in `-o json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RuntimeAdvice {
    pub runtime: String,
    /// "pm.max_children = 50 (ConfigMap api-php-fpm, key www.conf)".
    pub found: Vec<String>,
    pub unread: Vec<String>,
    pub changes: Vec<SettingChange>,
    /// Settings that already break a rule today.
    pub risks: Vec<String>,
    pub rationale: Vec<String>,
}

/// What was measured about the runtime besides the container's samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Highest working set of the container over the window.
    pub peak_working_set_bytes: f64,
    /// php-fpm exporter figures, when the Prometheus import found them.
    pub php_fpm: Option<php_fpm::ExporterFacts>,
}

/// Judges one container's runtime settings against its sizing; may raise the memory limit
/// (php-fpm, when the policy keeps `pm.max_children`).
pub fn advise(
    runtime: &ContainerRuntime,
    sizing: &mut Sizing,
    current_memory_limit: Option<f64>,
    policy: &Policy,
    measured: &Measured,
) -> RuntimeAdvice {
    // A setting that could not be read may be the one a change would break (a start_servers
    // above the new max_children stops php-fpm), so nothing of that runtime is changed then.
    let complete = runtime.unread.is_empty();
    let mut advice = match &runtime.settings {
        RuntimeSettings::PhpFpm(pool) if !complete && policy.php_fpm.lower_max_children => {
            let mut keep = policy.clone();
            keep.php_fpm.lower_max_children = false;
            php_fpm::advise(pool, sizing, current_memory_limit, &keep, measured)
        }
        RuntimeSettings::PhpFpm(pool) => php_fpm::advise(pool, sizing, current_memory_limit, policy, measured),
        RuntimeSettings::Envoy(_) | RuntimeSettings::Nginx(_) if !complete => {
            RuntimeAdvice { runtime: runtime.settings.name().into(), ..Default::default() }
        }
        RuntimeSettings::Envoy(s) => envoy::advise(s, sizing),
        RuntimeSettings::Nginx(s) => nginx::advise(s, sizing),
    };
    advice.unread.extend(runtime.unread.iter().cloned());
    if !complete {
        advice
            .rationale
            .push(format!("{}: some settings could not be read, so none of them is changed", advice.runtime));
    }
    advice
}

/// Workers that match a CPU budget: the limit rounded up, at least one. Without a limit the
/// request stands in (the process may burst past it, but it is what the node reserved).
pub fn workers_for(sizing: &Sizing) -> (u32, String) {
    let (cores, what) = match sizing.cpu_limit_cores {
        Some(l) => (l, "proposed CPU limit"),
        None => (sizing.cpu_request_cores, "proposed CPU request (no CPU limit)"),
    };
    let workers = (cores - 1e-9).ceil().max(1.0) as u32;
    (workers, format!("{what} {}", crate::domain::Cpu(cores)))
}

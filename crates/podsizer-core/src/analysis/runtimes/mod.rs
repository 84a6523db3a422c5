//! Runtimes that size themselves from their own settings rather than from the container's
//! resources: php-fpm (`pm.max_children`), envoy (`--concurrency`), nginx
//! (`worker_processes`), the JVM (`-Xmx`, `MaxRAMPercentage`, `ActiveProcessorCount`), Go
//! (`GOMEMLIMIT`, `GOMAXPROCS`), Node.js (`--max-old-space-size`) and gunicorn/uvicorn
//! (`--workers`, `WEB_CONCURRENCY`). A resource change alone can be undone or made dangerous by the
//! process inside, so these rules propose the setting together with the resources.
//!
//! The settings come in already read (the overlay reader lives in `outputs`); here they are
//! only judged, and every decision leaves a sentence for the rationale.

pub mod envoy;
pub mod flags;
pub mod go;
pub mod jvm;
pub mod nginx;
pub mod node;
pub mod php_fpm;
pub mod process;
pub mod python;

use crate::analysis::policy::Policy;
use crate::analysis::sizing::Sizing;
use serde::Serialize;

/// Where a setting lives in the GitOps tree, so a patch changes it there and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Origin {
    /// A file held as one key of a ConfigMap's `data`.
    ConfigMap {
        /// The ConfigMap's name (in the container's namespace).
        name: String,
        /// The key of `data` whose text holds the setting.
        key: String,
    },
    /// A literal `value` of the container's environment.
    Env {
        /// The environment variable.
        name: String,
    },
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
    /// The value as read (a number, a size such as `512m`, a flag's argument).
    pub value: T,
    /// Where it was read, and so where a patch changes it.
    pub origin: Origin,
}

/// What the overlay says about one runtime in a container.
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeSettings {
    /// php-fpm: the pool's process manager settings.
    PhpFpm(Box<php_fpm::Pool>),
    /// envoy: its `--concurrency` (worker threads).
    Envoy(envoy::Settings),
    /// nginx: its `worker_processes`.
    Nginx(nginx::Settings),
    /// The JVM: heap and processor flags (`-Xmx`, `MaxRAMPercentage`, `ActiveProcessorCount`).
    Jvm(jvm::Settings),
    /// Go: `GOMEMLIMIT` and `GOMAXPROCS`.
    Go(go::Settings),
    /// Node.js: `--max-old-space-size`.
    Node(node::Settings),
    /// gunicorn or uvicorn: the worker count.
    Python(python::Settings),
}

impl RuntimeSettings {
    /// The runtime's name in rationale lines and `-o json` (`php-fpm`, `jvm`, `gunicorn`).
    pub fn name(&self) -> &'static str {
        match self {
            RuntimeSettings::PhpFpm(_) => "php-fpm",
            RuntimeSettings::Envoy(_) => "envoy",
            RuntimeSettings::Nginx(_) => "nginx",
            RuntimeSettings::Jvm(_) => "jvm",
            RuntimeSettings::Go(_) => "go",
            RuntimeSettings::Node(_) => "node",
            RuntimeSettings::Python(s) => s.server.name(),
        }
    }

    /// A setting's current value as text, `None` when it was not found.
    pub fn value_of(&self, setting: &str) -> Option<String> {
        match self {
            RuntimeSettings::PhpFpm(pool) => pool.value_of(setting),
            RuntimeSettings::Nginx(s) if setting == "worker_processes" => {
                s.worker_processes.as_ref().map(|w| w.value.to_string())
            }
            RuntimeSettings::Jvm(s) => s.value_of(setting),
            RuntimeSettings::Go(s) => s.value_of(setting),
            RuntimeSettings::Node(s) if setting == flags::MAX_OLD_SPACE.setting => {
                s.max_old_space.as_ref().map(|x| x.value.clone())
            }
            RuntimeSettings::Python(s) if setting == flags::WORKERS.setting => {
                s.workers.as_ref().map(|x| x.value.clone())
            }
            _ => None,
        }
    }

    /// Where every setting that was found lives (a ConfigMap key read by several containers
    /// gets one value that is safe for all of them).
    pub fn origins(&self) -> Vec<&Origin> {
        match self {
            RuntimeSettings::PhpFpm(pool) => pool.origins().collect(),
            RuntimeSettings::Envoy(_) => Vec::new(),
            RuntimeSettings::Nginx(s) => s.worker_processes.iter().map(|w| &w.origin).collect(),
            RuntimeSettings::Jvm(s) => s.origins().collect(),
            RuntimeSettings::Go(s) => s.origins().collect(),
            RuntimeSettings::Node(s) => s.max_old_space.iter().map(|x| &x.origin).collect(),
            RuntimeSettings::Python(s) => s.workers.iter().map(|x| &x.origin).collect(),
        }
    }
}

/// The container's literal env values and args as rendered: the text a patch rewrites when
/// a setting is one flag inside them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawSpec {
    /// Literal environment values, as (name, value) in the container's order.
    pub env: Vec<(String, String)>,
    /// The container's `args` as rendered.
    pub args: Vec<String>,
}

/// `text` with a setting set to `value`: the flag rewritten in place when the setting is a
/// flag (`JAVA_TOOL_OPTIONS`, `NODE_OPTIONS`, a ConfigMap key holding one of them), else
/// the whole value (`GOMEMLIMIT`, `WEB_CONCURRENCY`, `PHP_FPM_PM_MAX_CHILDREN`).
pub fn set_value(text: &str, setting: &str, value: &str) -> String {
    match flags::by_setting(setting) {
        Some(flag) => flags::set_in_text(text, flag, value),
        None => value.to_string(),
    }
}

/// A proposed value as a number to compare proposals for one shared key: the smallest heap,
/// share or worker count fits every user.
pub fn magnitude(setting: &str, value: &str) -> Option<f64> {
    match setting {
        "-Xmx" => jvm::parse_size(value),
        "GOMEMLIMIT" => go::parse_memory_limit(value),
        _ => value.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// A risk flag when today's settings let the runtime grow past the current limit, or else
/// past the proposed one (applying the resources without the runtime patch would plant it).
/// `grows(limit)` is its peak under a limit, `today(limit)` says how it is made up.
fn growth_risk(
    who: &str,
    current_limit: Option<f64>,
    proposed_limit: f64,
    grows: impl Fn(f64) -> f64,
    today: impl Fn(f64) -> String,
) -> Option<String> {
    use crate::domain::human_bytes;
    if let Some(limit) = current_limit.filter(|l| grows(*l) > *l) {
        return Some(format!("{who} can grow to {}, above its limit {}", today(limit), human_bytes(limit)));
    }
    (grows(proposed_limit) > proposed_limit).then(|| {
        format!(
            "{who} can grow to {} with today's settings, above the proposed limit {}: change them with the resources",
            today(proposed_limit),
            human_bytes(proposed_limit)
        )
    })
}

/// One container's runtime settings, as read from the rendered overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRuntime {
    /// The workload's kind (`Deployment`, `StatefulSet`, ...).
    pub kind: String,
    /// The workload's name.
    pub workload: String,
    /// The manifest's namespace; `None` when the overlay leaves it to the apply.
    pub namespace: Option<String>,
    /// The container's name.
    pub container: String,
    /// What was read about the runtime it runs.
    pub settings: RuntimeSettings,
    /// Things that looked like settings but could not be read (and will not be patched).
    pub unread: Vec<String>,
    /// The env values and args a patch of a flag rewrites.
    pub raw: RawSpec,
}

impl ContainerRuntime {
    /// The value env `name` gets with these changes of settings held in it.
    pub fn env_after(&self, name: &str, changes: &[&SettingChange]) -> String {
        let raw = self.raw.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
        changes.iter().fold(raw, |text, c| set_value(&text, &c.setting, &c.proposed))
    }

    /// The args with these changes of settings held in them.
    pub fn args_after(&self, changes: &[&SettingChange]) -> Vec<String> {
        changes.iter().fold(self.raw.args.clone(), |args, c| {
            match (c.setting.as_str(), flags::by_setting(&c.setting), c.proposed.parse()) {
                ("--concurrency", _, Ok(n)) => envoy::with_concurrency(&args, n),
                (_, Some(flag), _) => flags::set_in_args(&args, flag, &c.proposed),
                _ => args,
            }
        })
    }
}

/// A setting podsizer proposes to change, where it lives and its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    /// The setting's name as the runtime spells it (`pm.max_children`, `-Xmx`, `GOMEMLIMIT`).
    pub setting: String,
    /// `None`: the setting is absent today and takes the runtime's default.
    pub current: Option<String>,
    /// The value to write, as the runtime reads it.
    pub proposed: String,
    /// Where the value lives, so the patch changes it there.
    pub origin: Origin,
}

impl SettingChange {
    /// `setting` from what `current` says to `proposed`, where `current` was read.
    pub fn of(setting: &str, current: &Setting<String>, proposed: String) -> Self {
        Self { setting: setting.into(), current: Some(current.value.clone()), proposed, origin: current.origin.clone() }
    }
}

/// The verdict on one container's runtime: carried under the container in `-o json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RuntimeAdvice {
    /// The runtime judged (`php-fpm`, `jvm`, ...), as [`RuntimeSettings::name`] gives it.
    pub runtime: String,
    /// "pm.max_children = 50 (ConfigMap api-php-fpm, key www.conf)".
    pub found: Vec<String>,
    /// Settings that looked present but could not be read, with why; nothing of the runtime is changed then.
    pub unread: Vec<String>,
    /// The settings to change with the resources.
    pub changes: Vec<SettingChange>,
    /// Settings that already break a rule today.
    pub risks: Vec<String>,
    /// Why each change was proposed or each setting kept, one sentence a line.
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
    let peak = measured.peak_working_set_bytes;
    let mut advice = match &runtime.settings {
        RuntimeSettings::PhpFpm(pool) if !complete && policy.php_fpm.lower_max_children => {
            let mut keep = policy.clone();
            keep.php_fpm.lower_max_children = false;
            php_fpm::advise(pool, sizing, current_memory_limit, &keep, measured)
        }
        RuntimeSettings::PhpFpm(pool) => php_fpm::advise(pool, sizing, current_memory_limit, policy, measured),
        _ if !complete => RuntimeAdvice { runtime: runtime.settings.name().into(), ..Default::default() },
        RuntimeSettings::Envoy(s) => envoy::advise(s, sizing),
        RuntimeSettings::Nginx(s) => nginx::advise(s, sizing),
        RuntimeSettings::Jvm(s) => jvm::advise(s, sizing, current_memory_limit, policy, peak),
        RuntimeSettings::Go(s) => go::advise(s, sizing, current_memory_limit, policy, peak),
        RuntimeSettings::Node(s) => node::advise(s, sizing, current_memory_limit, policy, peak),
        RuntimeSettings::Python(s) => python::advise(s, sizing, current_memory_limit, policy, peak),
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

//! Reads the JVM, Go, Node.js and gunicorn/uvicorn settings of a rendered container: its
//! environment as Kubernetes builds it (`envFrom` ConfigMaps first, then `env`, a later
//! entry winning; a `configMapKeyRef` value is held in that ConfigMap's key) and its args.
//! A runtime's flags are read in the order the runtime applies them, the last one winning.

use super::rendered::{str_of, strings, ConfigMaps};
use crate::analysis::runtimes::process::{Process, Runtime};
use crate::analysis::runtimes::{flags, go, jvm, node, python, Origin, RawSpec, RuntimeSettings, Setting};
use serde_norway::Value;
use std::collections::BTreeMap;

/// Where one environment variable's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EnvSource {
    Literal(String),
    /// A ConfigMap key (`configMapKeyRef`, or `envFrom` with the variable's name less the prefix).
    ConfigMap {
        name: String,
        key: String,
        text: String,
    },
    /// A Secret, a field, a missing ConfigMap: not readable from the overlay.
    Unreadable(String),
}

impl EnvSource {
    fn origin(&self, var: &str) -> Origin {
        match self {
            EnvSource::ConfigMap { name, key, .. } => Origin::ConfigMap { name: name.clone(), key: key.clone() },
            _ => Origin::Env { name: var.to_string() },
        }
    }
}

/// The container's environment by name, as the kubelet builds it.
pub(crate) type Env = BTreeMap<String, EnvSource>;

pub(crate) fn env_sources(c: &Value, config_maps: &ConfigMaps, namespace: &Option<String>) -> Env {
    let mut env = Env::new();
    let data_of = |name: &str| config_maps.get(&(namespace.clone(), name.to_string()));
    for from in c.get("envFrom").and_then(Value::as_sequence).into_iter().flatten() {
        let Some(name) = from.get("configMapRef").and_then(|r| str_of(r, "name")) else { continue };
        let prefix = str_of(from, "prefix").unwrap_or("");
        for (key, text) in data_of(name).into_iter().flatten() {
            let source = EnvSource::ConfigMap { name: name.to_string(), key: key.clone(), text: text.clone() };
            env.insert(format!("{prefix}{key}"), source);
        }
    }
    for e in c.get("env").and_then(Value::as_sequence).into_iter().flatten() {
        let Some(var) = str_of(e, "name") else { continue };
        let source = match (str_of(e, "value"), e.get("valueFrom")) {
            (Some(v), _) => EnvSource::Literal(v.to_string()),
            (None, Some(from)) => match from.get("configMapKeyRef") {
                Some(r) => {
                    let (name, key) = (str_of(r, "name").unwrap_or(""), str_of(r, "key").unwrap_or(""));
                    match data_of(name).and_then(|d| d.get(key)) {
                        Some(text) => EnvSource::ConfigMap { name: name.into(), key: key.into(), text: text.clone() },
                        None => EnvSource::Unreadable(format!("ConfigMap {name}, key {key} is not in the overlay")),
                    }
                }
                None => EnvSource::Unreadable("set with valueFrom (a Secret or a field)".into()),
            },
            (None, None) => EnvSource::Literal(String::new()),
        };
        env.insert(var.to_string(), source);
    }
    env
}

/// The literal env values and the args, for patches that rewrite one flag inside them.
pub(crate) fn raw_spec(c: &Value, env: &Env) -> RawSpec {
    let literal = env.iter().filter_map(|(k, v)| match v {
        EnvSource::Literal(v) => Some((k.clone(), v.clone())),
        _ => None,
    });
    RawSpec { env: literal.collect(), args: strings(c.get("args")) }
}

/// Reads one setting from its sources in the order the runtime applies them (a later
/// source wins), checking that the value parses; what cannot be read goes to `unread`.
struct Reader<'a> {
    env: &'a Env,
    args: &'a [String],
    command: &'a [String],
    script: Option<&'a str>,
    unread: Vec<String>,
}

/// Where a flag may be set: options variables (in the order applied), then the args.
struct FlagSources<'a> {
    vars: &'a [&'a str],
    args: bool,
}

impl Reader<'_> {
    fn text_of(&mut self, var: &str) -> Option<(String, Origin)> {
        match self.env.get(var)? {
            EnvSource::Unreadable(why) => {
                let line = format!("{var}: {why}, not readable from the overlay");
                if !self.unread.contains(&line) {
                    self.unread.push(line);
                }
                None
            }
            EnvSource::Literal(text) | EnvSource::ConfigMap { text, .. } => {
                Some((text.clone(), self.env[var].origin(var)))
            }
        }
    }

    fn flag(&mut self, flag: &flags::Flag, from: FlagSources, valid: impl Fn(&str) -> bool) -> Option<Setting<String>> {
        let mut found = None;
        for var in from.vars {
            let Some((text, origin)) = self.text_of(var) else { continue };
            if let Some(v) = flags::value_in_text(&text, flag) {
                found = Some(Setting { value: v.to_string(), origin });
            }
        }
        if from.args {
            if let Some(v) = flags::value_in_args(self.args, flag) {
                found = Some(Setting { value: v.to_string(), origin: Origin::Args });
            }
            if flags::value_in_args(self.command, flag).is_some() {
                self.unread.push(format!("{} is in the container command, not its args: not patched", flag.setting));
            }
            if let Some(script) = self.script.filter(|s| flags::value_in_text(s, flag).is_some()) {
                self.unread.push(format!("{} is in a shell script (sh -c {script:?}): not patched", flag.setting));
            }
        }
        self.check(found, flag.setting, valid)
    }

    fn var(&mut self, var: &str, valid: impl Fn(&str) -> bool) -> Option<Setting<String>> {
        let found = self.text_of(var).map(|(text, origin)| Setting { value: text.trim().to_string(), origin });
        self.check(found, var, valid)
    }

    fn check(
        &mut self,
        found: Option<Setting<String>>,
        what: &str,
        valid: impl Fn(&str) -> bool,
    ) -> Option<Setting<String>> {
        let s = found?;
        if valid(&s.value) {
            return Some(s);
        }
        self.unread.push(format!("{what} {:?} ({}) is not a value podsizer can judge", s.value, s.origin));
        None
    }
}

fn count(text: &str) -> bool {
    text.parse::<u32>().is_ok_and(|n| n >= 1)
}

/// The JVM, Go, Node.js and gunicorn/uvicorn settings of a container. A variable of one of
/// them in a container that does not run it is reported unread, never used; Go is told by
/// its variables alone (a Go binary has no common name or image).
pub(crate) fn runtimes_of(c: &Value, process: &Process, env: &Env) -> Vec<(RuntimeSettings, Vec<String>)> {
    let args = strings(c.get("args"));
    let command = strings(c.get("command"));
    let reader =
        || Reader { env, args: &args, command: &command, script: process.script.as_deref(), unread: Vec::new() };
    let not_it = |runtime: Runtime, vars: &[&str]| {
        let set: Vec<&str> = vars.iter().copied().filter(|v| env.contains_key(*v)).collect();
        (!set.is_empty()).then(|| {
            format!(
                "{} is set, but the container runs {} (not recognised as {}): not read",
                set.join(", "),
                process.describe(),
                runtime.name()
            )
        })
    };
    let mut out = Vec::new();
    if process.runs(Runtime::Jvm) {
        let mut r = reader();
        let from = || FlagSources { vars: jvm::ENV_NAMES, args: true };
        let settings = jvm::Settings {
            max_heap: r.flag(&flags::XMX, from(), |v| jvm::parse_size(v).is_some()),
            max_ram_percentage: r.flag(&flags::MAX_RAM_PERCENTAGE, from(), |v| jvm::parse_percentage(v).is_some()),
            active_processor_count: r.flag(&flags::ACTIVE_PROCESSOR_COUNT, from(), count),
        };
        out.push((RuntimeSettings::Jvm(settings), r.unread));
    } else if let Some(why) = not_it(Runtime::Jvm, jvm::ENV_NAMES) {
        out.push((RuntimeSettings::Jvm(jvm::Settings::default()), vec![why]));
    }
    if env.contains_key("GOMEMLIMIT") || env.contains_key("GOMAXPROCS") {
        let mut r = reader();
        let settings = go::Settings {
            memory_limit: r.var("GOMEMLIMIT", |v| go::parse_memory_limit(v).is_some()),
            max_procs: r.var("GOMAXPROCS", count),
        };
        out.push((RuntimeSettings::Go(settings), r.unread));
    }
    if process.runs(Runtime::Node) {
        let mut r = reader();
        let from = FlagSources { vars: &["NODE_OPTIONS"], args: true };
        let max_old_space = r.flag(&flags::MAX_OLD_SPACE, from, |v| node::parse_max_old_space(v).is_some());
        out.push((RuntimeSettings::Node(node::Settings { max_old_space }), r.unread));
    } else if let Some(why) = not_it(Runtime::Node, &["NODE_OPTIONS"]) {
        out.push((RuntimeSettings::Node(node::Settings::default()), vec![why]));
    }
    for (runtime, server) in
        [(Runtime::Gunicorn, python::Server::Gunicorn), (Runtime::Uvicorn, python::Server::Uvicorn)]
    {
        if process.runs(runtime) {
            out.push(python_of(server, reader()));
        }
    }
    out
}

/// Workers: `WEB_CONCURRENCY`, then gunicorn's `GUNICORN_CMD_ARGS`, then the args. A config
/// file (`-c`) may set them in Python, which podsizer does not read: then nothing is judged.
fn python_of(server: python::Server, mut r: Reader) -> (RuntimeSettings, Vec<String>) {
    let mut workers = r.var("WEB_CONCURRENCY", count);
    let vars: &[&str] = if server == python::Server::Gunicorn { &["GUNICORN_CMD_ARGS"] } else { &[] };
    if let Some(w) = r.flag(&flags::WORKERS, FlagSources { vars, args: true }, count) {
        workers = Some(w);
    }
    let config = r.args.iter().chain(r.command).any(|a| a == "-c" || a == "--config" || a.starts_with("--config="));
    if config && server == python::Server::Gunicorn {
        r.unread.push("gunicorn runs with a config file (-c), which may set workers: it is not read".into());
    }
    (RuntimeSettings::Python(python::Settings { server, workers }), r.unread)
}

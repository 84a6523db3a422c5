//! Reads php-fpm, envoy and nginx settings out of the rendered overlay: pool files and
//! nginx.conf held in ConfigMaps the container mounts, the `PHP_FPM_PM_*`/`FPM_PM_*`
//! environment variables, and envoy's args. Everything is read from what `kubectl kustomize`
//! renders, so overlays, generators and patches have already been applied.

use crate::analysis::runtimes::{envoy, nginx, php_fpm, ContainerRuntime, Origin, RuntimeSettings, Setting};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;

/// The runtime settings of an overlay, and the ConfigMap files they were read from (a patch
/// rewrites the whole file, so it needs the rendered text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeOverlay {
    pub containers: Vec<ContainerRuntime>,
    /// (ConfigMap name, key) -> file text.
    pub files: BTreeMap<(String, String), String>,
}

impl RuntimeOverlay {
    /// The settings of one container, matched like recommendations are.
    pub fn find(&self, key: &crate::domain::ContainerKey) -> Option<&ContainerRuntime> {
        let w = &key.workload;
        self.containers.iter().find(|c| {
            c.kind == w.kind
                && c.workload == w.name
                && c.container == key.container
                && c.namespace.as_deref().is_none_or(|ns| ns == w.namespace)
        })
    }
}

/// A ConfigMap as rendered: namespace and data.
struct ConfigMap {
    namespace: Option<String>,
    data: BTreeMap<String, String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// Reads every workload container's runtime settings. Documents that are not valid YAML are
/// skipped: `parse_workloads` reports them.
pub fn parse_runtimes(yaml: &str) -> RuntimeOverlay {
    let docs: Vec<Value> =
        serde_norway::Deserializer::from_str(yaml).filter_map(|d| Value::deserialize(d).ok()).collect();
    let config_maps: BTreeMap<String, ConfigMap> = docs
        .iter()
        .filter(|d| str_of(d, "kind") == Some("ConfigMap"))
        .filter_map(|d| {
            let meta = d.get("metadata")?;
            let data = d
                .get("data")
                .and_then(Value::as_mapping)
                .map(|m| {
                    m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string()))).collect()
                })
                .unwrap_or_default();
            Some((
                str_of(meta, "name")?.to_string(),
                ConfigMap { namespace: str_of(meta, "namespace").map(String::from), data },
            ))
        })
        .collect();
    let mut out = RuntimeOverlay::default();
    for doc in &docs {
        read_workload(doc, &config_maps, &mut out);
    }
    out
}

fn pod_spec(doc: &Value) -> Option<&Value> {
    let path: &[&str] = match str_of(doc, "kind")? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Pod" => &["spec"],
        _ => return None,
    };
    path.iter().try_fold(doc, |v, k| v.get(k))
}

fn read_workload(doc: &Value, config_maps: &BTreeMap<String, ConfigMap>, out: &mut RuntimeOverlay) {
    let Some(spec) = pod_spec(doc) else { return };
    let meta = doc.get("metadata");
    let namespace = meta.and_then(|m| str_of(m, "namespace")).map(String::from);
    let (Some(kind), Some(name)) = (str_of(doc, "kind"), meta.and_then(|m| str_of(m, "name"))) else { return };
    // Volume name -> ConfigMap name, for the ConfigMaps of this namespace.
    let volumes: BTreeMap<&str, &str> = spec
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| Some((str_of(v, "name")?, str_of(v.get("configMap")?, "name")?)))
        .collect();
    for c in spec.get("containers").and_then(Value::as_sequence).into_iter().flatten() {
        let Some(container) = str_of(c, "name") else { continue };
        let files = mounted_files(c, &volumes, config_maps, namespace.as_deref());
        for (settings, unread) in runtimes_of(c, &files) {
            out.containers.push(ContainerRuntime {
                kind: kind.to_string(),
                workload: name.to_string(),
                namespace: namespace.clone(),
                container: container.to_string(),
                settings,
                unread,
            });
        }
        for (cm, key, text) in files {
            out.files.insert((cm, key), text);
        }
    }
}

/// (ConfigMap, key, text) of every ConfigMap file the container mounts: the `subPath` key,
/// or every key when the whole ConfigMap is mounted as a directory.
fn mounted_files(
    c: &Value,
    volumes: &BTreeMap<&str, &str>,
    config_maps: &BTreeMap<String, ConfigMap>,
    namespace: Option<&str>,
) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    for m in c.get("volumeMounts").and_then(Value::as_sequence).into_iter().flatten() {
        let Some(cm_name) = str_of(m, "name").and_then(|v| volumes.get(v)) else { continue };
        let Some(cm) = config_maps.get(*cm_name).filter(|cm| cm.namespace.as_deref() == namespace) else { continue };
        for (key, text) in &cm.data {
            if str_of(m, "subPath").is_none_or(|p| p == key) {
                files.push((cm_name.to_string(), key.clone(), text.clone()));
            }
        }
    }
    files
}

/// Literal env values by name; `None` for `valueFrom` (a Secret or field: not readable here).
fn env_of(c: &Value) -> BTreeMap<String, Option<String>> {
    c.get("env")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((str_of(e, "name")?.to_string(), str_of(e, "value").map(String::from))))
        .collect()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

fn runtimes_of(c: &Value, files: &[(String, String, String)]) -> Vec<(RuntimeSettings, Vec<String>)> {
    let env = env_of(c);
    let mut out = Vec::new();
    out.extend(php_fpm_of(&env, files));
    out.extend(nginx_of(files));
    if is_envoy(c) {
        out.push(envoy_of(c));
    }
    out
}

fn php_fpm_of(
    env: &BTreeMap<String, Option<String>>,
    files: &[(String, String, String)],
) -> Option<(RuntimeSettings, Vec<String>)> {
    let mut pool = php_fpm::Pool::default();
    let mut unread = Vec::new();
    let mut found = false;
    let mut set = |key: &str, raw: &str, origin: Origin, unread: &mut Vec<String>| {
        if let Err(e) = pool.set(key, raw, origin) {
            unread.push(e);
        }
    };
    let mut in_file = Vec::new();
    if let Some((cm, key, values)) =
        files.iter().map(|(cm, key, text)| (cm, key, php_fpm::pool_values(text))).find(|(_, _, v)| !v.is_empty())
    {
        found = true;
        for (k, raw) in values {
            in_file.push(k.clone());
            match php_fpm::env_reference(&raw) {
                Some(var) => match env.get(var) {
                    Some(Some(v)) => set(&k, v, Origin::Env { name: var.to_string() }, &mut unread),
                    _ => unread.push(format!(
                        "{k} = ${{{var}}} ({cm}, key {key}): {var} has no literal value in the container env"
                    )),
                },
                None => set(&k, &raw, Origin::ConfigMap { name: cm.clone(), key: key.clone() }, &mut unread),
            }
        }
    }
    for (var, key) in php_fpm::ENV_NAMES {
        let Some(value) = env.get(*var) else { continue };
        found = true;
        if in_file.iter().any(|k| k == key) {
            continue;
        }
        match value {
            Some(v) => set(key, v, Origin::Env { name: var.to_string() }, &mut unread),
            None => unread.push(format!("{key} from env {var}: set with valueFrom, not readable from the overlay")),
        }
    }
    found.then_some((RuntimeSettings::PhpFpm(Box::new(pool)), unread))
}

fn nginx_of(files: &[(String, String, String)]) -> Option<(RuntimeSettings, Vec<String>)> {
    let (cm, key, text) = files.iter().find(|(_, key, _)| key == "nginx.conf")?;
    let conf = Origin::ConfigMap { name: cm.clone(), key: key.clone() };
    let (worker_processes, unread) = match nginx::worker_processes_in(text) {
        Ok(v) => (v.map(|value| Setting { value, origin: conf.clone() }), vec![]),
        Err(v) => (None, vec![format!("worker_processes {v:?} ({conf}) is neither auto nor a number")]),
    };
    Some((RuntimeSettings::Nginx(nginx::Settings { worker_processes, conf }), unread))
}

fn is_envoy(c: &Value) -> bool {
    let image = str_of(c, "image").unwrap_or("");
    let repo = image.rsplit('/').next().unwrap_or("").split([':', '@']).next().unwrap_or("");
    repo == "envoy" || repo.starts_with("envoy-") || str_of(c, "name") == Some("envoy")
}

fn envoy_of(c: &Value) -> (RuntimeSettings, Vec<String>) {
    let args = strings(c.get("args"));
    let command = strings(c.get("command"));
    let mut unread = Vec::new();
    let concurrency = match envoy::concurrency_in(&args) {
        Ok(v) => v.map(|value| Setting { value, origin: Origin::Args }),
        Err(flag) => {
            unread.push(format!("{flag} in the container args is not a number"));
            None
        }
    };
    if args.is_empty() {
        // Setting args would replace the image's default command (its `-c` config path).
        unread.push(
            "no args in the pod spec (the image's default command runs): --concurrency is not added there".into(),
        );
    }
    if command.iter().any(|a| a.starts_with("--concurrency")) {
        unread.push("--concurrency is in the container command, not its args: not patched".into());
    }
    let settings = envoy::Settings { concurrency, args };
    (RuntimeSettings::Envoy(settings), unread)
}

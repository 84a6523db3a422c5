//! Reads php-fpm, envoy and nginx settings out of the rendered overlay: pool files and
//! nginx.conf held in ConfigMaps the container mounts, the `PHP_FPM_PM_*`/`FPM_PM_*`
//! environment variables, and envoy's args (the JVM, Go, Node.js and Python servers:
//! `runtime_env`). Everything is read from what `kubectl kustomize`
//! renders, so overlays, generators and patches have already been applied.

use super::rendered::{str_of, strings, ConfigMaps};
use crate::analysis::runtimes::process::{Process, Runtime};
use crate::analysis::runtimes::{envoy, nginx, php_fpm, ContainerRuntime, Origin, RuntimeSettings, Setting};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;

/// (namespace, ConfigMap name, data key): one file of the overlay. ConfigMaps of the same
/// name in two namespaces are two files.
pub(crate) type FileId = (Option<String>, String, String);

/// The runtime settings of an overlay, and the ConfigMap files they were read from (a patch
/// rewrites the whole file, so it needs the rendered text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeOverlay {
    pub containers: Vec<ContainerRuntime>,
    pub files: BTreeMap<FileId, String>,
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

    /// The containers that run a runtime reading this file, as `ns/Kind/name container c`.
    pub fn users_of(&self, file: &FileId) -> Vec<&ContainerRuntime> {
        self.containers.iter().filter(|c| c.namespace == file.0 && reads(&c.settings, &file.1, &file.2)).collect()
    }
}

/// Whether a runtime's settings were read from (or would be written to) ConfigMap `cm`, `key`.
/// Only a container that runs the runtime has its settings read (a sidecar mounting the file
/// reports it unread and has none).
fn reads(settings: &RuntimeSettings, cm: &str, key: &str) -> bool {
    settings.origins().into_iter().any(|o| matches!(o, Origin::ConfigMap { name, key: k } if name == cm && k == key))
}

/// Reads every workload container's runtime settings. Documents that are not valid YAML are
/// skipped: `parse_workloads` reports them.
pub(crate) fn parse_runtimes(yaml: &str) -> RuntimeOverlay {
    let docs: Vec<Value> =
        serde_norway::Deserializer::from_str(yaml).filter_map(|d| Value::deserialize(d).ok()).collect();
    let config_maps: ConfigMaps = docs
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
            Some(((str_of(meta, "namespace").map(String::from), str_of(meta, "name")?.to_string()), data))
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

/// A ConfigMap volume: its ConfigMap and, with `items:`, which keys appear under which paths.
struct Volume<'a> {
    config_map: &'a str,
    items: Option<Vec<(&'a str, &'a str)>>,
}

fn read_workload(doc: &Value, config_maps: &ConfigMaps, out: &mut RuntimeOverlay) {
    let Some(spec) = pod_spec(doc) else { return };
    let meta = doc.get("metadata");
    let namespace = meta.and_then(|m| str_of(m, "namespace")).map(String::from);
    let (Some(kind), Some(name)) = (str_of(doc, "kind"), meta.and_then(|m| str_of(m, "name"))) else { return };
    let volumes: BTreeMap<&str, Volume> = spec
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let cm = v.get("configMap")?;
            let items = cm
                .get("items")
                .and_then(Value::as_sequence)
                .map(|items| items.iter().filter_map(|i| Some((str_of(i, "key")?, str_of(i, "path")?))).collect());
            Some((str_of(v, "name")?, Volume { config_map: str_of(cm, "name")?, items }))
        })
        .collect();
    for c in spec.get("containers").and_then(Value::as_sequence).into_iter().flatten() {
        let Some(container) = str_of(c, "name") else { continue };
        let files = mounted_files(c, &volumes, config_maps, &namespace);
        let env = super::runtime_env::env_sources(c, config_maps, &namespace);
        let process =
            Process::of(str_of(c, "image").unwrap_or(""), &strings(c.get("command")), &strings(c.get("args")));
        let mut found = runtimes_of(c, &files);
        found.extend(super::runtime_env::runtimes_of(c, &process, &env));
        // The runtime the container runs comes before settings it holds for one it does not
        // run (a JVM that mounts nginx.conf), so it is the one advised.
        found.sort_by_key(|(_, unread)| unread.iter().any(|u| u.contains("(not recognised as ")));
        for (settings, unread) in found {
            out.containers.push(ContainerRuntime {
                kind: kind.to_string(),
                workload: name.to_string(),
                namespace: namespace.clone(),
                container: container.to_string(),
                settings,
                unread,
                raw: super::runtime_env::raw_spec(c, &env),
            });
        }
        for source in env.values() {
            if let super::runtime_env::EnvSource::ConfigMap { name, key, text } = source {
                out.files.insert((namespace.clone(), name.clone(), key.clone()), text.clone());
            }
        }
        for f in files {
            out.files.insert((namespace.clone(), f.config_map, f.key), f.text);
        }
    }
}

/// A ConfigMap key as the container sees it.
#[derive(Debug, Clone)]
struct Mounted {
    config_map: String,
    key: String,
    /// Where the process finds it: the mount path, or the mount directory joined with the
    /// key's path (its `items:` path, else the key).
    path: String,
    /// Mounted on its own with `subPath` (placed deliberately), not as one file of a directory.
    single: bool,
    text: String,
}

impl Mounted {
    fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    fn origin(&self) -> Origin {
        Origin::ConfigMap { name: self.config_map.clone(), key: self.key.clone() }
    }
}

/// Every ConfigMap file the container mounts, in path order: the `subPath` entry, or every
/// entry when the whole ConfigMap is mounted as a directory. With `items:` only the listed
/// keys are there, under their `path` (which a `subPath` names).
fn mounted_files(
    c: &Value,
    volumes: &BTreeMap<&str, Volume>,
    config_maps: &ConfigMaps,
    namespace: &Option<String>,
) -> Vec<Mounted> {
    let mut files = Vec::new();
    for m in c.get("volumeMounts").and_then(Value::as_sequence).into_iter().flatten() {
        let Some(volume) = str_of(m, "name").and_then(|v| volumes.get(v)) else { continue };
        let Some(data) = config_maps.get(&(namespace.clone(), volume.config_map.to_string())) else { continue };
        let entries: Vec<(&str, &str)> = match &volume.items {
            Some(items) => items.clone(),
            None => data.keys().map(|k| (k.as_str(), k.as_str())).collect(),
        };
        let mount_path = str_of(m, "mountPath").unwrap_or("").trim_end_matches('/');
        for (key, path) in entries {
            let Some(text) = data.get(key) else { continue };
            let (path, single) = match str_of(m, "subPath") {
                Some(sub) if sub == path => (mount_path.to_string(), true),
                Some(_) => continue,
                None => (format!("{mount_path}/{path}"), false),
            };
            let (config_map, key, text) = (volume.config_map.to_string(), key.to_string(), text.clone());
            files.push(Mounted { config_map, key, path, single, text });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
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

/// The runtimes a container runs, with their settings. A settings file or variable in a
/// container whose process is not that runtime is reported as unread, never used.
fn runtimes_of(c: &Value, files: &[Mounted]) -> Vec<(RuntimeSettings, Vec<String>)> {
    let env = env_of(c);
    let process = Process::of(str_of(c, "image").unwrap_or(""), &strings(c.get("command")), &strings(c.get("args")));
    let not_it = |runtime: Runtime, what: String| {
        format!(
            "{what} is there, but the container runs {} (not recognised as {}): not read",
            process.describe(),
            runtime.name()
        )
    };
    let pool_files: Vec<&Mounted> = files.iter().filter(|f| is_pool_file(f)).collect();
    let nginx_conf = files.iter().find(|f| f.file_name() == "nginx.conf");
    let mut out = Vec::new();
    if process.runs(Runtime::PhpFpm) {
        out.extend(php_fpm_of(&env, &pool_files));
    }
    if let Some(conf) = nginx_conf.filter(|_| process.runs(Runtime::Nginx)) {
        out.push(nginx_of(conf));
    }
    if process.runs(Runtime::Envoy) {
        out.push(envoy_of(c, &process));
    }
    if !out.is_empty() {
        return out;
    }
    // A container that runs none of them but holds one's settings: said, never used.
    if let Some(f) = pool_files.first() {
        let why = not_it(Runtime::PhpFpm, format!("a php-fpm pool ({})", f.origin()));
        out.push((RuntimeSettings::PhpFpm(Box::default()), vec![why]));
    } else if php_fpm::ENV_NAMES.iter().any(|(var, _)| env.contains_key(*var)) {
        let why = not_it(Runtime::PhpFpm, "PHP_FPM_*/FPM_* env".into());
        out.push((RuntimeSettings::PhpFpm(Box::default()), vec![why]));
    }
    if let Some(conf) = nginx_conf {
        let settings = nginx::Settings { worker_processes: None, conf: conf.origin() };
        let why = not_it(Runtime::Nginx, format!("nginx.conf ({})", conf.origin()));
        out.push((RuntimeSettings::Nginx(settings), vec![why]));
    }
    out
}

/// A file php-fpm reads as a pool: a `subPath` mount, or a `.conf` file of a mounted
/// directory (php-fpm's `include=…/php-fpm.d/*.conf`) that sets any pool key.
fn is_pool_file(f: &Mounted) -> bool {
    (f.single || f.file_name().ends_with(".conf")) && !php_fpm::pool_sections(&f.text).is_empty()
}

/// The pool of a php-fpm container: every pool file in path order (php-fpm includes them so,
/// a later file's key overriding an earlier one), then the env. More than one pool, or keys
/// outside a pool section, are not understood: reported, and nothing of the pool is used.
fn php_fpm_of(env: &BTreeMap<String, Option<String>>, files: &[&Mounted]) -> Option<(RuntimeSettings, Vec<String>)> {
    let mut unread = Vec::new();
    let mut values: Vec<(String, String, &Mounted)> = Vec::new();
    let mut pools: Vec<String> = Vec::new();
    for f in files {
        for (section, keys) in php_fpm::pool_sections(&f.text) {
            if section.is_empty() {
                unread.push(format!(
                    "pool keys outside a [pool] section ({}): which pool they belong to is not known",
                    f.origin()
                ));
            } else if !pools.contains(&section) {
                pools.push(section);
            }
            values.extend(keys.into_iter().map(|(k, v)| (k, v, *f)));
        }
    }
    if pools.len() > 1 {
        let where_ = files.iter().map(|f| f.origin().to_string()).collect::<Vec<_>>().join("; ");
        unread.push(format!(
            "{} pools ({}) in {where_}: podsizer sizes one pool per container",
            pools.len(),
            pools.join(", ")
        ));
    }
    if !unread.is_empty() {
        return Some((RuntimeSettings::PhpFpm(Box::default()), unread));
    }
    let mut pool = php_fpm::Pool::default();
    let mut in_file = Vec::new();
    let found = !values.is_empty() || php_fpm::ENV_NAMES.iter().any(|(var, _)| env.contains_key(*var));
    let mut set = |key: &str, raw: &str, origin: Origin, unread: &mut Vec<String>| {
        if let Err(e) = pool.set(key, raw, origin) {
            unread.push(e);
        }
    };
    // Later files and later lines win, as in php-fpm.
    for (k, raw, f) in &values {
        in_file.push(k.clone());
        match php_fpm::env_reference(raw) {
            Some(var) => match env.get(var) {
                Some(Some(v)) => set(k, v, Origin::Env { name: var.to_string() }, &mut unread),
                _ => unread.push(format!(
                    "{k} = ${{{var}}} ({}): {var} has no literal value in the container env",
                    f.origin()
                )),
            },
            None => set(k, raw, f.origin(), &mut unread),
        }
    }
    for (var, key) in php_fpm::ENV_NAMES {
        let Some(value) = env.get(*var) else { continue };
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

fn nginx_of(f: &Mounted) -> (RuntimeSettings, Vec<String>) {
    let conf = f.origin();
    let (worker_processes, unread) = match nginx::worker_processes_in(&f.text) {
        Ok(v) => (v.map(|value| Setting { value, origin: conf.clone() }), vec![]),
        Err(v) => (None, vec![format!("worker_processes {v:?} ({conf}) is neither auto nor a number")]),
    };
    (RuntimeSettings::Nginx(nginx::Settings { worker_processes, conf }), unread)
}

fn envoy_of(c: &Value, process: &Process) -> (RuntimeSettings, Vec<String>) {
    let args = strings(c.get("args"));
    let command = strings(c.get("command"));
    let mut unread = Vec::new();
    if let Some(script) = &process.script {
        // Flags inside a script are one string: podsizer does not rewrite scripts.
        unread.push(format!(
            "envoy runs from a shell script (sh -c {script:?}): its --concurrency is not read or patched"
        ));
        return (RuntimeSettings::Envoy(envoy::Settings { concurrency: None, args }), unread);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A Deployment `api` in namespace `shop` with one container (`image`, `mounts`) and a
    /// ConfigMap `pool` holding `data`.
    fn overlay(image: &str, mounts: &str, volume: &str, data: &str) -> String {
        format!(
            "kind: Deployment\nmetadata: {{name: api, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {image}\n        volumeMounts: {mounts}\n      volumes:\n      - {{name: pool, configMap: {{name: pool{volume}}}}}\n---\nkind: ConfigMap\nmetadata: {{name: pool, namespace: shop}}\ndata:\n{data}"
        )
    }

    fn pool_of(r: &RuntimeOverlay) -> (&php_fpm::Pool, &[String]) {
        match &r.containers[0].settings {
            RuntimeSettings::PhpFpm(p) => (p, &r.containers[0].unread),
            other => panic!("{other:?}"),
        }
    }

    const DIR: &str = "[{name: pool, mountPath: /usr/local/etc/php-fpm.d}]";

    #[test]
    fn pool_files_are_read_as_php_fpm_reads_them() {
        let max = |r: &RuntimeOverlay| pool_of(r).0.max_children.as_ref().map(|s| (s.value, s.origin.to_string()));
        // (data, mounts, volume, max_children read and where, unread)
        type Case<'a> = (&'a str, &'a str, &'a str, Option<(u32, &'a str)>, bool);
        let cases: &[Case] = &[
            // A commented header is still a header: the second pool is seen.
            (
                "  www.conf: \"[www] ; main\\npm.max_children = 9\\n[b] ; other\\npm.max_children = 3\\n\"\n",
                DIR,
                "",
                None,
                true,
            ),
            (
                "  www.conf: \"[www] ; main\\npm.max_children = 9\\n\"\n",
                DIR,
                "",
                Some((9, "ConfigMap pool, key www.conf")),
                false,
            ),
            // An override file later in the directory wins.
            (
                "  www.conf: \"[www]\\npm.max_children = 9\\n\"\n  zz.conf: \"[www]\\npm.max_children = 4\\n\"\n",
                DIR,
                "",
                Some((4, "ConfigMap pool, key zz.conf")),
                false,
            ),
            // Not a .conf file: php-fpm does not include it.
            (
                "  www.conf: \"[www]\\npm.max_children = 9\\n\"\n  zz.bak: \"[www]\\npm.max_children = 4\\n\"\n",
                DIR,
                "",
                Some((9, "ConfigMap pool, key www.conf")),
                false,
            ),
            // `items:` remaps key `p` to path www.conf: subPath names the path, and only listed keys exist.
            (
                "  p: \"[www]\\npm.max_children = 7\\n\"\n  zz.conf: \"[www]\\npm.max_children = 1\\n\"\n",
                "[{name: pool, mountPath: /x/www.conf, subPath: www.conf}]",
                ", items: [{key: p, path: www.conf}]",
                Some((7, "ConfigMap pool, key p")),
                false,
            ),
            (
                "  p: \"[www]\\npm.max_children = 7\\n\"\n  zz.conf: \"[www]\\npm.max_children = 1\\n\"\n",
                DIR,
                ", items: [{key: p, path: www.conf}]",
                Some((7, "ConfigMap pool, key p")),
                false,
            ),
            // Keys outside any section: not given to a pool.
            ("  www.conf: \"pm.max_children = 9\\n\"\n", DIR, "", None, true),
        ];
        for (data, mounts, volume, want, unread) in cases {
            let r = parse_runtimes(&overlay("php:8.3-fpm", mounts, volume, data));
            assert_eq!(max(&r), want.map(|(v, o)| (v, o.to_string())), "{data}");
            assert_eq!(!pool_of(&r).1.is_empty(), *unread, "{data}: {:?}", pool_of(&r).1);
        }
    }

    #[test]
    fn a_container_that_does_not_run_the_runtime_reports_its_file_unread() {
        let data = "  www.conf: \"[www]\\npm.max_children = 9\\n\"\n  nginx.conf: \"worker_processes 4;\\n\"\n";
        let r = parse_runtimes(&overlay("jimmidyson/configmap-reload:v0.9", DIR, "", data));
        assert_eq!(r.containers.len(), 2, "{r:?}");
        for c in &r.containers {
            assert!(c.unread[0].contains("not recognised as"), "{c:?}");
        }
        assert!(r.users_of(&(Some("shop".into()), "pool".into(), "nginx.conf".into())).is_empty());
        let nginx = parse_runtimes(&overlay("nginx:1.27", DIR, "", data));
        let users = nginx.users_of(&(Some("shop".into()), "pool".into(), "nginx.conf".into()));
        assert_eq!(users.len(), 1);
        assert!(nginx.users_of(&(None, "pool".into(), "nginx.conf".into())).is_empty(), "namespaces are kept apart");
    }
}

/// The JVM, Go, Node.js and Python readers (`runtime_env`), through the whole overlay reader.
#[cfg(test)]
mod env_tests {
    use super::parse_runtimes;
    use crate::analysis::runtimes::{Origin, RuntimeSettings};

    fn overlay(container: &str) -> String {
        format!(
            "kind: Deployment\nmetadata: {{name: svc, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n{container}---\nkind: ConfigMap\nmetadata: {{name: jvm, namespace: shop}}\ndata:\n  JAVA_TOOL_OPTIONS: \"-XX:MaxRAMPercentage=80 -XX:+UseG1GC\"\n  GOMAXPROCS: \"8\"\n"
        )
    }

    #[test]
    fn jvm_flags_apply_in_order_and_configmap_values_keep_their_key() {
        let c = "        image: eclipse-temurin:21-jre\n        command: [java]\n        args: [-Xmx1g, -jar, /app.jar]\n        envFrom: [{configMapRef: {name: jvm}}]\n        env:\n        - {name: JDK_JAVA_OPTIONS, value: \"-Xmx512m -XX:ActiveProcessorCount=4\"}\n";
        let r = parse_runtimes(&overlay(c));
        let jvm = r.containers.iter().find_map(|c| match &c.settings {
            RuntimeSettings::Jvm(s) => Some(s.clone()),
            _ => None,
        });
        let jvm = jvm.expect("a JVM");
        // The args come last, so -Xmx1g wins over JDK_JAVA_OPTIONS' -Xmx512m.
        assert_eq!(jvm.max_heap.as_ref().map(|s| (s.value.as_str(), &s.origin)), Some(("1g", &Origin::Args)));
        let pct = jvm.max_ram_percentage.unwrap();
        assert_eq!(pct.origin, Origin::ConfigMap { name: "jvm".into(), key: "JAVA_TOOL_OPTIONS".into() });
        assert_eq!(pct.value, "80");
        assert_eq!(jvm.active_processor_count.unwrap().origin, Origin::Env { name: "JDK_JAVA_OPTIONS".into() });
        // envFrom also brought GOMAXPROCS: that is Go's variable, read as Go's.
        assert!(r.containers.iter().any(|c| matches!(c.settings, RuntimeSettings::Go(_))));
    }

    #[test]
    fn unreadable_and_foreign_settings_are_reported_not_used() {
        let secret = "        image: node:22\n        env:\n        - {name: NODE_OPTIONS, valueFrom: {secretKeyRef: {name: s, key: k}}}\n";
        let r = parse_runtimes(&overlay(secret));
        assert!(r.containers[0].unread[0].starts_with("NODE_OPTIONS: set with valueFrom"), "{:?}", r.containers);
        let sidecar = "        image: busybox\n        env:\n        - {name: JAVA_TOOL_OPTIONS, value: -Xmx1g}\n";
        let r = parse_runtimes(&overlay(sidecar));
        assert!(r.containers[0].unread[0].contains("not recognised as the JVM"), "{:?}", r.containers);
        let config = "        image: acme/api\n        command: [gunicorn]\n        args: [-c, /etc/g.py, -w, \"4\"]\n";
        let r = parse_runtimes(&overlay(config));
        assert!(r.containers[0].unread[0].contains("config file"), "{:?}", r.containers);
        let bad = "        image: acme/api\n        command: [uvicorn]\n        args: [--workers, \"$(N)\"]\n        env: [{name: GOMEMLIMIT, value: 900M}]\n";
        let r = parse_runtimes(&overlay(bad));
        assert_eq!(r.containers.len(), 2);
        assert!(r.containers.iter().all(|c| c.unread.len() == 1), "{:?}", r.containers);
    }
}

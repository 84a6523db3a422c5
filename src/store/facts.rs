//! What the importers and the collector learned besides samples, read back for sizing:
//! each container's current requests and limits and its OOM kills. They live beside the
//! partitions (`collector/state.json`, `imports/prometheus-*.json`, `imports/cloudwatch-*.json`,
//! whose `current` lists share one shape); the sample schema does
//! not carry them. Missing or unreadable side files mean "nothing known", never an error.

use crate::domain::{ContainerKey, Resources, Workload};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// An OOM kill of a container, with the memory limit in force when known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OomKill {
    pub at_ms: Option<i64>,
    pub memory_limit_bytes: Option<f64>,
}

/// Facts about containers, keyed like recommendations.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub current: HashMap<ContainerKey, Resources>,
    pub oom_kills: HashMap<ContainerKey, Vec<OomKill>>,
    /// What the php-fpm exporter said about a container's pool (`php_fpm` in import files).
    pub php_fpm: HashMap<ContainerKey, PhpFpmFacts>,
    /// Figures of readable side files that are out of bounds (negative, 1e300, ...): the
    /// file and `field: why`. Sizing refuses to run on them, as it refuses such samples.
    pub rejected: Vec<(std::path::PathBuf, String)>,
}

/// php-fpm exporter figures of one container over an import's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhpFpmFacts {
    /// Highest `phpfpm_process_last_request_memory` of any child.
    pub per_child_peak_bytes: Option<f64>,
    /// Highest `phpfpm_active_processes`.
    pub max_active: Option<f64>,
    /// Highest `phpfpm_total_processes`.
    pub max_total: Option<f64>,
    /// Increase of `phpfpm_max_children_reached` over the window.
    pub max_children_reached: Option<f64>,
}

impl From<crate::sources::php_fpm_exporter::PodFigures> for PhpFpmFacts {
    fn from(f: crate::sources::php_fpm_exporter::PodFigures) -> Self {
        PhpFpmFacts {
            per_child_peak_bytes: f.per_child_peak_bytes,
            max_active: f.max_active,
            max_total: f.max_total,
            max_children_reached: f.max_children_reached,
        }
    }
}

impl PhpFpmFacts {
    /// Every figure checked like a sample (`php_fpm_exporter::check`); `Err("field: why")`.
    pub fn check(&self) -> Result<(), String> {
        for (field, v) in [
            ("per_child_peak_bytes", self.per_child_peak_bytes),
            ("max_active", self.max_active),
            ("max_total", self.max_total),
            ("max_children_reached", self.max_children_reached),
        ] {
            if let Some(v) = v {
                crate::sources::php_fpm_exporter::check(field, v).map_err(|why| format!("{field}: {why}"))?;
            }
        }
        Ok(())
    }

    /// Two imports (or two pods) of the same container: the higher of each figure.
    pub fn merge(&mut self, other: &PhpFpmFacts) {
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        self.per_child_peak_bytes = max(self.per_child_peak_bytes, other.per_child_peak_bytes);
        self.max_active = max(self.max_active, other.max_active);
        self.max_total = max(self.max_total, other.max_total);
        self.max_children_reached = max(self.max_children_reached, other.max_children_reached);
    }
}

/// The key of one entry; `cluster` is the side file's own (an entry's `cluster` wins). Side
/// files written before clusters were recorded have none.
fn key(v: &Value, cluster: &str) -> Option<ContainerKey> {
    let s = |k: &str| v.get(k)?.as_str().map(String::from);
    Some(ContainerKey {
        workload: Workload {
            cluster: s("cluster").unwrap_or_else(|| cluster.to_string()),
            namespace: s("namespace")?,
            kind: s("workload_kind")?,
            name: s("workload")?,
        },
        container: s("container")?,
    })
}

fn file_cluster(v: &Value) -> &str {
    // Not `cluster`: CloudWatch state files name their EKS cluster there since before
    // clusters were recorded on samples, and those samples have none.
    v.get("identity_cluster").and_then(Value::as_str).unwrap_or_default()
}

impl Facts {
    /// Reads every side file of a store.
    pub fn load(store_root: &Path) -> Self {
        let mut facts = Facts::default();
        facts.load_dir(store_root);
        // An S3 store's mirror also holds the side files of its other writers, one dir each.
        if let Ok(dir) = std::fs::read_dir(store_root.join(super::remote::WRITERS_DIR)) {
            let mut writers: Vec<_> = dir.flatten().map(|e| e.path()).collect();
            writers.sort();
            writers.iter().for_each(|w| facts.load_dir(w));
        }
        facts
    }

    fn load_dir(&mut self, store_root: &Path) {
        let facts = self;
        let read = |p: &Path| std::fs::read_to_string(p).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok());
        if let Some(v) = read(&store_root.join("collector/state.json")) {
            facts.add_collector(&v);
        }
        if let Ok(dir) = std::fs::read_dir(store_root.join("imports")) {
            for entry in dir.flatten() {
                if let Some(v) = read(&entry.path()) {
                    facts.add_prometheus(&v);
                    facts.add_php_fpm(&v, &entry.path());
                }
            }
        }
    }

    fn add_collector(&mut self, v: &Value) {
        let cluster = file_cluster(v);
        let key = |c: &Value| key(c, cluster);
        for c in v.get("containers").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(k), Some(r)) =
                (key(c), c.get("resources").and_then(|r| serde_json::from_value(r.clone()).ok()))
            {
                self.current.insert(k, r);
            }
        }
        for o in v.get("oom_kills").and_then(Value::as_array).into_iter().flatten() {
            if let Some(k) = key(o) {
                let kill = OomKill {
                    at_ms: o.get("at_ms").and_then(Value::as_i64),
                    memory_limit_bytes: o.get("memory_limit_bytes").and_then(Value::as_f64),
                };
                self.oom_kills.entry(k).or_default().push(kill);
            }
        }
    }

    fn add_php_fpm(&mut self, v: &Value, path: &Path) {
        let cluster = file_cluster(v);
        for (i, c) in v.get("php_fpm").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let (Some(k), Ok(f)) = (key(c, cluster), serde_json::from_value::<PhpFpmFacts>(c.clone())) else {
                continue;
            };
            if let Err(why) = f.check() {
                self.rejected.push((path.to_path_buf(), format!("php_fpm[{i}].{why}")));
                continue;
            }
            self.php_fpm.entry(k).or_default().merge(&f);
        }
    }

    fn add_prometheus(&mut self, v: &Value) {
        let cluster = file_cluster(v);
        let key = |c: &Value| key(c, cluster);
        for c in v.get("current").and_then(Value::as_array).into_iter().flatten() {
            let Some(k) = key(c) else { continue };
            let resources: Option<Resources> = c.get("resources").and_then(|r| serde_json::from_value(r.clone()).ok());
            if let Some(r) = resources {
                self.current.entry(k.clone()).or_insert(r);
                let pods = c.get("oom_killed_pods").and_then(Value::as_array).map_or(0, Vec::len);
                for _ in 0..pods {
                    self.oom_kills
                        .entry(k.clone())
                        .or_default()
                        .push(OomKill { at_ms: None, memory_limit_bytes: r.memory_limit_bytes });
                }
            }
        }
    }

    /// The highest memory limit in force at an OOM kill at or after `since` (kills without a
    /// time count), for the sizing guard.
    pub fn oom_limit(&self, key: &ContainerKey, since: Option<i64>) -> Option<f64> {
        let current_limit = self.current.get(key).and_then(|r| r.memory_limit_bytes);
        self.oom_kills
            .get(key)?
            .iter()
            .filter(|k| k.at_ms.is_none_or(|t| since.is_none_or(|s| t >= s)))
            .filter_map(|k| k.memory_limit_bytes.or(current_limit))
            .reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_collector_and_prometheus_side_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("collector")).unwrap();
        std::fs::create_dir_all(dir.path().join("imports")).unwrap();
        let c = r#"{"version":1,"containers":[{"namespace":"shop","workload_kind":"Deployment","workload":"api","container":"php-fpm",
            "resources":{"cpu_request_cores":1.0,"cpu_limit_cores":2.0,"memory_request_bytes":1e9,"memory_limit_bytes":2e9},"restarts":3,"seen_ms":5}],
            "oom_kills":[{"at_ms":100,"namespace":"shop","workload_kind":"Deployment","workload":"api","pod":"api-1","container":"php-fpm","memory_limit_bytes":1.5e9}]}"#;
        std::fs::write(dir.path().join("collector/state.json"), c).unwrap();
        let p = r#"{"current":[{"namespace":"shop","workload_kind":"Deployment","workload":"api","container":"envoy",
            "resources":{"cpu_request_cores":0.25,"cpu_limit_cores":null,"memory_request_bytes":2.5e8,"memory_limit_bytes":5e8},"oom_killed_pods":["api-2"]}]}"#;
        std::fs::write(dir.path().join("imports/prometheus-x.json"), p).unwrap();
        std::fs::write(dir.path().join("imports/garbage.json"), "{not json").unwrap();
        let facts = Facts::load(dir.path());
        let k = |c: &str| ContainerKey {
            workload: Workload {
                namespace: "shop".into(),
                kind: "Deployment".into(),
                name: "api".into(),
                ..Default::default()
            },
            container: c.into(),
        };
        assert_eq!(facts.current[&k("php-fpm")].cpu_request_cores, Some(1.0));
        assert_eq!(facts.current[&k("envoy")].memory_limit_bytes, Some(5e8));
        assert_eq!(facts.oom_limit(&k("php-fpm"), Some(50)), Some(1.5e9));
        assert_eq!(facts.oom_limit(&k("php-fpm"), Some(200)), None, "before the window");
        assert_eq!(facts.oom_limit(&k("envoy"), None), Some(5e8));
        assert_eq!(facts.oom_limit(&k("nginx"), None), None);
    }

    #[test]
    fn side_files_key_their_facts_by_the_recorded_cluster() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("imports")).unwrap();
        let entry = r#"{"namespace":"shop","workload_kind":"Deployment","workload":"api","container":"php-fpm",
            "resources":{"cpu_request_cores":1.0,"cpu_limit_cores":null,"memory_request_bytes":null,"memory_limit_bytes":null}}"#;
        let write = |name: &str, head: &str| {
            std::fs::write(dir.path().join("imports").join(name), format!(r#"{{{head}"current":[{entry}]}}"#)).unwrap();
        };
        write("prometheus-a.json", r#""identity_cluster":"prod-eu","#);
        // A CloudWatch state file from before clusters were recorded: `cluster` is its EKS name only.
        write("cloudwatch-b.json", r#""cluster":"eks-1","#);
        let facts = Facts::load(dir.path());
        let key = |cluster: &str| ContainerKey {
            workload: Workload {
                cluster: cluster.into(),
                namespace: "shop".into(),
                kind: "Deployment".into(),
                name: "api".into(),
            },
            container: "php-fpm".into(),
        };
        assert!(facts.current.contains_key(&key("prod-eu")));
        assert!(facts.current.contains_key(&key("")));
        assert_eq!(facts.current.len(), 2);
    }
}

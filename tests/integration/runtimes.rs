//! php-fpm, envoy and nginx settings read from fixture overlays (`fixtures/runtimes/`),
//! proposed with the resources, written as patches and rendered with the real
//! `kubectl kustomize`.

use crate::support::{kubectl, podsizer, runtime_changes as changes};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

const MI: f64 = 1024.0 * 1024.0;
const MASTER: f64 = 32.0 * MI;
const PER_CHILD: f64 = 100.0 * MI;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/runtimes")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Three days of 5-minute samples per container (steady use, so the proposals are
/// stable), imported into a store that also holds php-fpm exporter facts of 100Mi per child.
fn store(dir: &Path, workload: &str, containers: &[(&str, f64, f64)]) -> PathBuf {
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    let start = 1_763_251_200_i64; // 2025-11-16T00:00:00Z
    for step in 0..(3 * 288) {
        let t = chrono_free_rfc3339(start + step * 300);
        for (c, cpu, mem_mi) in containers {
            csv.push_str(&format!("{t},shop,Deployment,{workload},{workload}-1,{c},{cpu},{}\n", mem_mi * MI));
        }
    }
    let file = dir.join("samples.csv");
    std::fs::write(&file, csv).unwrap();
    let store = dir.join("store");
    podsizer().args(["import"]).arg(&file).arg("--store").arg(&store).assert().success();
    let facts: Vec<Value> = containers
        .iter()
        .filter(|(c, ..)| *c == "php-fpm" || *c == "legacy")
        .map(|(c, ..)| {
            serde_json::json!({"namespace": "shop", "workload_kind": "Deployment", "workload": workload,
                "container": c, "per_child_peak_bytes": PER_CHILD, "max_active": 7.0})
        })
        .collect();
    std::fs::create_dir_all(store.join("imports")).unwrap();
    std::fs::write(store.join("imports/phpfpm-test.json"), serde_json::json!({ "php_fpm": facts }).to_string())
        .unwrap();
    store
}

/// Seconds since the epoch as RFC 3339 (UTC), without a date crate in the tests.
pub(crate) fn chrono_free_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn recommend(store: &Path, overlay: &Path, extra: &[&str]) -> Value {
    let out = podsizer()
        .args(["recommend", "-o", "json", "--force", "--input"])
        .arg(store)
        .arg("--kustomize")
        .arg(overlay)
        .args(extra)
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn container<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == name).unwrap()
}

fn render(dir: &Path) -> Vec<serde_norway::Value> {
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_slice(&out.stdout).map(|d| serde_norway::Value::deserialize(d).unwrap()).collect()
}

fn config_file(docs: &[serde_norway::Value], cm: &str, key: &str) -> String {
    let d = docs.iter().find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == cm).unwrap();
    d["data"][key].as_str().unwrap().to_string()
}

fn pod_container<'a>(docs: &'a [serde_norway::Value], name: &str) -> &'a serde_norway::Value {
    let d = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    d["spec"]["template"]["spec"]["containers"].as_sequence().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

fn workers(cores: f64) -> u32 {
    (cores - 1e-9).ceil().max(1.0) as u32
}

#[test]
fn pool_file_envoy_flag_and_nginx_number_are_resized_and_render() {
    let tmp = tempfile::tempdir().unwrap();
    let overlay = tmp.path().join("overlay");
    copy_dir(&fixtures().join("pool-file"), &overlay);
    let store = store(tmp.path(), "web", &[("nginx", 0.05, 40.0), ("php-fpm", 0.4, 600.0), ("envoy", 0.05, 50.0)]);
    let before = render(&overlay);
    let doc = recommend(&store, &overlay, &[]);

    let php = container(&doc, "php-fpm");
    let limit = php["memory"]["limit_bytes"].as_f64().unwrap();
    let children = ((limit - MASTER) / PER_CHILD).floor() as u32;
    assert!(children < 35, "the fixture is meant to lower every spare setting: {children}");
    // max spare 35 -> children; min spare 5 stays; start 20 clamped into 5..children.
    let start = 20.min(children);
    assert_eq!(
        changes(php),
        [
            ("pm.max_children".into(), "50".into(), children.to_string()),
            ("pm.max_spare_servers".into(), "35".into(), children.to_string()),
            ("pm.start_servers".into(), "20".into(), start.to_string()),
        ]
    );
    assert_eq!(
        php["runtime"]["risks"][0], "php-fpm can grow to 50 × 100Mi + master 32Mi = 5032Mi, above its limit 2Gi",
        "50 × 100Mi + 32Mi = 5032Mi is above today's 2Gi"
    );
    assert_eq!(
        php["runtime"]["changes"][0]["origin"],
        serde_json::json!({"in": "config_map", "name": "web-php-fpm", "key": "www.conf"})
    );

    let envoy = container(&doc, "envoy");
    let envoy_workers = workers(envoy["cpu"]["limit_cores"].as_f64().unwrap());
    assert_eq!(changes(envoy), [("--concurrency".into(), "32".into(), envoy_workers.to_string())]);
    let nginx = container(&doc, "nginx");
    let nginx_workers = workers(nginx["cpu"]["limit_cores"].as_f64().unwrap());
    assert_eq!(changes(nginx), [("worker_processes".into(), "4".into(), nginx_workers.to_string())]);

    let after = render(&overlay);
    // The pool file changes in exactly the three lines; the other key is untouched.
    let want = config_file(&before, "web-php-fpm", "www.conf")
        .replace("pm.max_children = 50", &format!("pm.max_children = {children}"))
        .replace("pm.max_spare_servers = 35", &format!("pm.max_spare_servers = {children}"))
        .replace("pm.start_servers = 20", &format!("pm.start_servers = {start}"));
    assert_eq!(config_file(&after, "web-php-fpm", "www.conf"), want);
    assert_eq!(config_file(&after, "web-php-fpm", "opcache.ini"), config_file(&before, "web-php-fpm", "opcache.ini"));
    assert_eq!(
        config_file(&after, "web-nginx", "nginx.conf"),
        config_file(&before, "web-nginx", "nginx.conf")
            .replace("worker_processes 4;", &format!("worker_processes {nginx_workers};"))
    );
    // envoy's args keep their order and form; only the flag's value moves.
    let args: Vec<&str> =
        pod_container(&after, "envoy")["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args, ["-c", "/etc/envoy/envoy.yaml", &format!("--concurrency={envoy_workers}"), "--log-level", "warn"]);
    // Containers stay in pod order and keep their images.
    let names: Vec<&str> = after.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"]
        ["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["image"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nginx:1.27-alpine", "php:8.3-fpm-alpine", "envoyproxy/envoy:v1.31.2"]);

    // Re-reading the written overlay finds the proposals in place: nothing left to change.
    let again = recommend(&store, &overlay, &["--dry-run"]);
    for c in ["php-fpm", "envoy", "nginx"] {
        assert_eq!(changes(container(&again, c)), [], "{c}");
    }
}

#[test]
fn refusal_keeps_the_children_and_raises_the_memory_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let overlay = tmp.path().join("overlay");
    copy_dir(&fixtures().join("pool-file"), &overlay);
    let store = store(tmp.path(), "web", &[("nginx", 0.05, 40.0), ("php-fpm", 0.4, 600.0), ("envoy", 0.05, 50.0)]);
    let policy = tmp.path().join("policy.toml");
    std::fs::write(&policy, "[defaults.php_fpm]\nlower_max_children = false\n").unwrap();
    let doc = recommend(&store, &overlay, &["--policy", policy.to_str().unwrap(), "--dry-run"]);
    let php = container(&doc, "php-fpm");
    // 50 × 100Mi + 32Mi = 5032Mi, already a whole number of MiB.
    assert_eq!(php["memory"]["limit_bytes"].as_f64().unwrap(), 5032.0 * MI);
    assert_eq!(changes(php), []);
    let rationale = php["rationale"].as_array().unwrap();
    assert!(
        rationale.iter().any(|r| r.as_str().unwrap().starts_with("php-fpm: refused memory limit")),
        "{rationale:?}"
    );
}

#[test]
fn environment_variables_are_patched_by_name_and_unreadable_settings_never() {
    let tmp = tempfile::tempdir().unwrap();
    let overlay = tmp.path().join("overlay");
    copy_dir(&fixtures().join("env"), &overlay);
    let store = store(
        tmp.path(),
        "app",
        &[("nginx", 0.05, 40.0), ("php-fpm", 0.4, 600.0), ("legacy", 0.1, 300.0), ("envoy", 0.05, 50.0)],
    );
    let before = render(&overlay);
    let doc = recommend(&store, &overlay, &[]);

    let php = container(&doc, "php-fpm");
    let limit = php["memory"]["limit_bytes"].as_f64().unwrap();
    let children = ((limit - MASTER) / PER_CHILD).floor() as u32;
    let mut want = vec![("pm.max_children".to_string(), "40".to_string(), children.to_string())];
    if children < 20 {
        want.push(("pm.max_spare_servers".into(), "20".into(), children.to_string()));
    }
    if children < 10 {
        want.push(("pm.start_servers".into(), "10".into(), children.to_string()));
    }
    assert_eq!(changes(php), want);
    assert_eq!(
        php["runtime"]["changes"][0]["origin"],
        serde_json::json!({"in": "env", "name": "PHP_FPM_PM_MAX_CHILDREN"})
    );

    // FPM_PM_MAX_SPARE_SERVERS comes from a ConfigMap key: nothing of that pool is changed,
    // so the limit must hold its 30 children (30 × 100Mi + 32Mi = 3032Mi).
    let legacy = container(&doc, "legacy");
    assert_eq!(changes(legacy), []);
    assert!(legacy["runtime"]["unread"][0].as_str().unwrap().contains("FPM_PM_MAX_SPARE_SERVERS"));
    assert!(legacy["memory"]["limit_bytes"].as_f64().unwrap() >= 3032.0 * MI);

    // No args: adding one would replace the image's command; nginx.conf has no worker_processes.
    assert_eq!(changes(container(&doc, "envoy")), []);
    assert!(container(&doc, "envoy")["runtime"]["unread"][0].as_str().unwrap().starts_with("no args"));
    assert_eq!(changes(container(&doc, "nginx")), []);

    let after = render(&overlay);
    let env = |docs: &[serde_norway::Value], c: &str, name: &str| -> Option<String> {
        pod_container(docs, c)["env"].as_sequence()?.iter().find(|e| e["name"] == name)?["value"]
            .as_str()
            .map(String::from)
    };
    assert_eq!(env(&after, "php-fpm", "PHP_FPM_PM_MAX_CHILDREN"), Some(children.to_string()));
    assert_eq!(env(&after, "php-fpm", "APP_ENV"), Some("production".into()));
    assert_eq!(pod_container(&after, "legacy")["env"], pod_container(&before, "legacy")["env"]);
    assert_eq!(pod_container(&after, "envoy")["args"], pod_container(&before, "envoy")["args"]);
    assert_eq!(config_file(&after, "app-nginx", "nginx.conf"), config_file(&before, "app-nginx", "nginx.conf"));
    assert!(!overlay.join("podsizer-configmap-app-nginx.yaml").exists());
}

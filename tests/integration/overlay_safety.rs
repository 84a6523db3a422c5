//! The patch writer against overlays that hold more than one of a thing: a base reused in
//! several namespaces, a ConfigMap file several containers read, sidecars mounting a runtime's
//! file, generated ConfigMaps, workload names that extend each other. Every case runs the
//! release binary against real `kubectl kustomize` and checks the render after the write: each
//! object got exactly its own values, or the command exited 2 and the tree is byte-identical.

use crate::support::{kubectl, podsizer, quantity, tree_with_bytes};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_norway::Value;
use std::path::{Path, PathBuf};

const MI: f64 = 1024.0 * 1024.0;
const PER_CHILD_MI: f64 = 100.0;

/// The GitOps files under `dir` with their bytes (the store and the samples left out: a run
/// saves day summaries in the store).
fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let data = [dir.join("store"), dir.join("samples.csv")];
    tree_with_bytes(dir).into_iter().filter(|(p, _)| !data.iter().any(|d| p.starts_with(d))).collect()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A Deployment running nginx (nginx.conf by subPath) and php-fpm (the pool ConfigMap as a
/// directory), with `extra` containers appended, and its ConfigMaps and HPA.
fn app(name: &str, pool_cm: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: "{name}"}}
  template:
    metadata:
      labels: {{app: "{name}"}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27-alpine
        resources: {{requests: {{cpu: 100m, memory: 64Mi}}, limits: {{cpu: "4", memory: 128Mi}}}}
        volumeMounts: [{{name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}}]
      - name: php-fpm
        image: php:8.3-fpm-alpine
        resources: {{requests: {{cpu: 500m, memory: 1Gi}}, limits: {{cpu: "1", memory: 2Gi}}}}
        volumeMounts: [{{name: pool, mountPath: /usr/local/etc/php-fpm.d}}]
{extra}      volumes:
      - {{name: conf, configMap: {{name: "{name}-nginx"}}}}
      - {{name: pool, configMap: {{name: "{pool_cm}"}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: "{name}"}}
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-nginx
data:
  nginx.conf: |
    worker_processes 8;
    events {{ worker_connections 512; }}
"#
    )
}

fn pool(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  www.conf: |\n    [www]\n    pm = dynamic\n    pm.max_children = 50\n    pm.start_servers = 20\n    pm.min_spare_servers = 5\n    pm.max_spare_servers = 35\n"
    )
}

/// (namespace, workload, container, cpu cores, memory MiB) series: three days of 5-minute
/// samples in a store, with php-fpm exporter facts of 100Mi per child for every php-fpm.
fn store(dir: &Path, series: &[(&str, &str, &str, f64, f64)]) -> PathBuf {
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    let start = 1_763_251_200_000_i64;
    for step in 0..(3 * 288) {
        let ts = podsizer::domain::format_timestamp(start + step * 300_000);
        for (ns, w, c, cpu, mem) in series {
            csv.push_str(&format!("{ts},{ns},Deployment,{w},{w}-1,{c},{cpu},{}\n", mem * MI));
        }
    }
    let file = dir.join("samples.csv");
    std::fs::write(&file, csv).unwrap();
    let store = dir.join("store");
    podsizer().args(["import"]).arg(&file).arg("--store").arg(&store).assert().success();
    let facts: Vec<Json> = series
        .iter()
        .filter(|s| s.2 == "php-fpm")
        .map(|(ns, w, c, ..)| {
            serde_json::json!({"namespace": ns, "workload_kind": "Deployment", "workload": w, "container": c,
                "per_child_peak_bytes": PER_CHILD_MI * MI})
        })
        .collect();
    write(&store, "imports/phpfpm-test.json", &serde_json::json!({ "php_fpm": facts }).to_string());
    store
}

/// `recommend -o json --kustomize OVERLAY`: (exit code, JSON or null, stderr).
fn recommend(store: &Path, overlay: &Path) -> (Option<i32>, Json, String) {
    let out = podsizer()
        .args(["recommend", "-o", "json", "--force", "--input"])
        .arg(store)
        .arg("--kustomize")
        .arg(overlay)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    (out.status.code(), doc, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn render(dir: &Path) -> Vec<Value> {
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_slice(&out.stdout).map(|d| Value::deserialize(d).unwrap()).collect()
}

fn object<'a>(docs: &'a [Value], kind: &str, ns: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["namespace"] == ns && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{ns}/{kind}/{name} not rendered"))
}

fn container<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    let list = deployment["spec"]["template"]["spec"]["containers"].as_sequence().unwrap();
    list.iter().find(|c| c["name"] == name).unwrap()
}

fn rec<'a>(doc: &'a Json, ns: &str, workload: &str, c: &str) -> &'a Json {
    let recs = doc["recommendations"].as_array().unwrap();
    recs.iter()
        .find(|r| r["namespace"] == ns && r["workload"]["name"] == workload && r["container"] == c)
        .unwrap_or_else(|| panic!("no recommendation for {ns}/{workload}/{c}"))
}

/// The proposal for a runtime setting, or `None` when it does not change.
fn proposed(r: &Json, setting: &str) -> Option<String> {
    let changes = r["runtime"]["changes"].as_array()?;
    changes.iter().find(|c| c["setting"] == setting).map(|c| c["proposed"].as_str().unwrap().to_string())
}

fn conf_value(text: &str, key: &str) -> String {
    let line = text.lines().find(|l| l.trim_start().starts_with(key)).unwrap();
    line.trim_start()[key.len()..].trim_matches(|c: char| c == ' ' || c == '=' || c == ';').to_string()
}

/// A base reused with `namespace:` in every one of `namespaces`, all in one overlay.
fn reused_base(dir: &Path, name: &str, namespaces: &[&str]) -> PathBuf {
    write(dir, "base/kustomization.yaml", "resources: [app.yaml, pool.yaml]\n");
    write(dir, "base/app.yaml", &app(name, &format!("{name}-pool"), ""));
    write(dir, "base/pool.yaml", &pool(&format!("{name}-pool")));
    for ns in namespaces {
        write(dir, &format!("{ns}/kustomization.yaml"), &format!("namespace: {ns}\nresources: [../base]\n"));
    }
    let resources: Vec<String> = namespaces.iter().map(|ns| format!("../{ns}")).collect();
    write(dir, "overlay/kustomization.yaml", &format!("resources: [{}]\n", resources.join(", ")));
    dir.join("overlay")
}

#[test]
fn each_namespace_of_a_reused_base_gets_exactly_its_own_values() {
    // (namespaces in the overlay, namespaces with samples, workload name)
    let cases: &[(&[&str], &[&str], &str)] = &[
        (&["a", "b"], &["a", "b"], "api"),
        (&["shop", "shop-staging", "x"], &["shop", "x"], "yes"),
        (&["a", "b"], &["b"], "web.v2"),
        (&["a", "b", "c"], &["a", "b", "c"], "api-runtime"),
    ];
    for (namespaces, sampled, name) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let overlay = reused_base(tmp.path(), name, namespaces);
        // Each namespace its own load: different CPU (nginx workers) and memory (php children).
        let series: Vec<(&str, &str, &str, f64, f64)> = sampled
            .iter()
            .enumerate()
            .flat_map(|(i, ns)| {
                let i = i as f64;
                [(*ns, *name, "nginx", 0.05 + 0.9 * i, 40.0), (*ns, *name, "php-fpm", 0.3, 500.0 + 400.0 * i)]
            })
            .collect();
        let store = store(tmp.path(), &series);
        let before = render(&overlay);
        let (code, doc, stderr) = recommend(&store, &overlay);
        assert_eq!(code, Some(0), "{namespaces:?} {name}: {stderr}");
        let after = render(&overlay);
        for ns in *namespaces {
            let d = object(&after, "Deployment", ns, name);
            let conf =
                object(&after, "ConfigMap", ns, &format!("{name}-nginx"))["data"]["nginx.conf"].as_str().unwrap();
            let www = object(&after, "ConfigMap", ns, &format!("{name}-pool"))["data"]["www.conf"].as_str().unwrap();
            if !sampled.contains(ns) {
                for (kind, object_name) in [
                    ("Deployment", name.to_string()),
                    ("HorizontalPodAutoscaler", name.to_string()),
                    ("ConfigMap", format!("{name}-nginx")),
                    ("ConfigMap", format!("{name}-pool")),
                ] {
                    assert_eq!(
                        object(&after, kind, ns, &object_name),
                        object(&before, kind, ns, &object_name),
                        "{ns}/{kind}/{object_name} has no samples and must not change"
                    );
                }
                continue;
            }
            for c in ["nginx", "php-fpm"] {
                let r = rec(&doc, ns, name, c);
                let limits = &container(d, c)["resources"]["limits"];
                assert_eq!(quantity(&limits["memory"]), r["memory"]["limit_bytes"].as_f64().unwrap(), "{ns} {c}");
                let requests = &container(d, c)["resources"]["requests"];
                assert!((quantity(&requests["cpu"]) - r["cpu"]["request_cores"].as_f64().unwrap()).abs() < 1e-9);
            }
            let workers = proposed(rec(&doc, ns, name, "nginx"), "worker_processes").unwrap_or_else(|| "8".into());
            assert_eq!(conf_value(conf, "worker_processes"), workers, "{ns}: {conf}");
            let children = proposed(rec(&doc, ns, name, "php-fpm"), "pm.max_children").unwrap_or_else(|| "50".into());
            assert_eq!(conf_value(www, "pm.max_children"), children, "{ns}: {www}");
        }
        // The namespaces' proposals really differ, so a value leaking across would show.
        if sampled.len() > 1 {
            let w = |ns: &str| proposed(rec(&doc, ns, name, "nginx"), "worker_processes");
            assert_ne!(w(sampled[0]), w(sampled[1]), "{namespaces:?}: the case must tell namespaces apart");
        }
        // A second run finds every value in place.
        let (code, again, stderr) = recommend(&store, &overlay);
        assert_eq!(code, Some(0), "{stderr}");
        for ns in *sampled {
            for c in ["nginx", "php-fpm"] {
                assert_eq!(rec(&again, ns, name, c)["runtime"]["changes"], serde_json::json!([]), "{ns} {c}");
            }
        }
    }
}

#[test]
fn an_object_with_and_without_a_namespace_is_refused_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "base/kustomization.yaml", "resources: [app.yaml, pool.yaml]\n");
    write(dir, "base/app.yaml", &app("api", "api-pool", ""));
    write(dir, "base/pool.yaml", &pool("api-pool"));
    write(dir, "a/kustomization.yaml", "namespace: a\nresources: [../base]\n");
    write(dir, "overlay/kustomization.yaml", "resources: [../a, ../base]\n");
    let store = store(dir, &[("a", "api", "nginx", 0.05, 40.0), ("a", "api", "php-fpm", 0.3, 500.0)]);
    let before = tree(dir);
    let (code, _, stderr) = recommend(&store, &dir.join("overlay"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("(no namespace)/Deployment/api") && stderr.contains("a/Deployment/api"), "{stderr}");
    assert_eq!(tree(dir), before, "nothing may be written");
}

#[test]
fn a_pool_file_shared_by_two_workloads_gets_the_value_safe_for_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A sidecar mounting nginx.conf and an `envoy-xds-reloader` are neither nginx nor envoy.
    let sidecars = r#"      - name: reload
        image: jimmidyson/configmap-reload:v0.9.0
        volumeMounts: [{name: conf, mountPath: /etc/nginx}]
      - name: envoy-xds-reloader
        image: ghcr.io/acme/envoy-xds-reloader:1.2
        args: ["--concurrency", "64"]
"#;
    write(dir, "overlay/kustomization.yaml", "namespace: shop\nresources: [api.yaml, worker.yaml, pool.yaml]\n");
    write(dir, "overlay/api.yaml", &app("api", "shared-pool", sidecars));
    write(dir, "overlay/worker.yaml", &app("worker", "shared-pool", ""));
    write(dir, "overlay/pool.yaml", &pool("shared-pool"));
    let store = store(
        dir,
        &[
            ("shop", "api", "nginx", 0.05, 40.0),
            ("shop", "api", "php-fpm", 0.3, 1500.0),
            ("shop", "api", "reload", 0.01, 10.0),
            ("shop", "api", "envoy-xds-reloader", 0.01, 10.0),
            ("shop", "worker", "nginx", 0.05, 40.0),
            ("shop", "worker", "php-fpm", 0.3, 500.0),
        ],
    );
    let overlay = dir.join("overlay");
    let (code, doc, stderr) = recommend(&store, &overlay);
    assert_eq!(code, Some(0), "{stderr}");
    let after = render(&overlay);
    let www = object(&after, "ConfigMap", "shop", "shared-pool")["data"]["www.conf"].as_str().unwrap();
    let in_file: u32 = conf_value(www, "pm.max_children").parse().unwrap();
    let mut own = Vec::new();
    for w in ["api", "worker"] {
        let r = rec(&doc, "shop", w, "php-fpm");
        // Both users are told the one value the file gets, and it fits each one's limit.
        assert_eq!(proposed(r, "pm.max_children"), Some(in_file.to_string()), "{w}");
        let limit = r["memory"]["limit_bytes"].as_f64().unwrap();
        assert!(f64::from(in_file) * PER_CHILD_MI * MI + 32.0 * MI <= limit, "{w}: {in_file} children above {limit}");
        own.push(((limit - 32.0 * MI) / (PER_CHILD_MI * MI)).floor() as u32);
    }
    assert_ne!(own[0], own[1], "the two workloads must want different values");
    assert_eq!(in_file, *own.iter().min().unwrap(), "the smallest proposal, never the first one");
    let told = rec(&doc, "shop", "api", "php-fpm")["rationale"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rec(&doc, "shop", "worker", "php-fpm")["rationale"].as_array().unwrap());
    assert!(told.into_iter().any(|l| l.as_str().unwrap().contains("is shared with")), "{doc}");
    // The sidecars: the reloader mounting nginx.conf is reported, never patched; envoy-xds-reloader is no envoy.
    let reload = rec(&doc, "shop", "api", "reload");
    assert!(reload["runtime"]["unread"][0].as_str().unwrap().contains("not recognised as nginx"), "{reload}");
    assert_eq!(reload["runtime"]["changes"], serde_json::json!([]));
    assert_eq!(rec(&doc, "shop", "api", "envoy-xds-reloader")["runtime"], Json::Null);
    let api = object(&after, "Deployment", "shop", "api");
    assert_eq!(container(api, "envoy-xds-reloader")["args"][1], "64");
}

#[test]
fn a_patch_the_render_does_not_show_is_refused_and_rolled_back() {
    // A configMapGenerator's ConfigMap renders as `api-nginx-<hash>`, which a target does not match.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let generated = app("api", "api-pool", "").split("---").take(2).collect::<Vec<_>>().join("---");
    write(dir, "base/app.yaml", &generated);
    write(dir, "base/pool.yaml", &pool("api-pool"));
    write(
        dir,
        "base/kustomization.yaml",
        "namespace: shop\nresources: [app.yaml, pool.yaml]\nconfigMapGenerator:\n- name: api-nginx\n  files: [nginx.conf]\n",
    );
    write(dir, "base/nginx.conf", "worker_processes 8;\nevents { worker_connections 512; }\n");
    write(dir, "overlay/kustomization.yaml", "resources: [../base]\n");
    let store = store(dir, &[("shop", "api", "nginx", 0.05, 40.0), ("shop", "api", "php-fpm", 0.3, 500.0)]);
    let before = tree(dir);
    let (code, _, stderr) = recommend(&store, &dir.join("overlay"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("configMapGenerator") && stderr.contains("shop/ConfigMap/api-nginx-"), "{stderr}");
    assert_eq!(tree(dir), before, "every file is put back");
}

#[test]
fn workloads_named_api_and_api_runtime_are_both_patched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let envoy = |name: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      - name: envoy\n        image: envoyproxy/envoy:v1.31.2\n        args: [\"-c\", \"/e.yaml\", \"--concurrency\", \"16\"]\n        resources: {{limits: {{cpu: \"4\", memory: 512Mi}}}}\n"
        )
    };
    write(dir, "overlay/kustomization.yaml", "namespace: shop\nresources: [a.yaml, b.yaml]\n");
    write(dir, "overlay/a.yaml", &envoy("api"));
    write(dir, "overlay/b.yaml", &envoy("api-runtime"));
    let store = store(dir, &[("shop", "api", "envoy", 0.05, 40.0), ("shop", "api-runtime", "envoy", 1.5, 40.0)]);
    let overlay = dir.join("overlay");
    let (code, doc, stderr) = recommend(&store, &overlay);
    assert_eq!(code, Some(0), "{stderr}");
    let after = render(&overlay);
    for w in ["api", "api-runtime"] {
        let r = rec(&doc, "shop", w, "envoy");
        let d = object(&after, "Deployment", "shop", w);
        let args = &container(d, "envoy")["args"];
        assert_eq!(args[3].as_str().map(String::from), proposed(r, "--concurrency"), "{w}");
        let limit = quantity(&container(d, "envoy")["resources"]["limits"]["memory"]);
        assert_eq!(limit, r["memory"]["limit_bytes"].as_f64().unwrap(), "{w}");
    }
}

#[test]
fn a_pool_override_file_in_a_directory_mount_is_the_one_read_and_patched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "overlay/kustomization.yaml", "namespace: shop\nresources: [app.yaml, pool.yaml]\n");
    write(dir, "overlay/app.yaml", &app("api", "api-pool", ""));
    // php-fpm includes php-fpm.d/*.conf in name order: zz-override.conf wins, with a
    // commented section header; `items:` would hide nothing here (every key is mounted).
    write(
        dir,
        "overlay/pool.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-pool}\ndata:\n  www.conf: |\n    [www]\n    pm = dynamic\n    pm.max_children = 50\n    pm.start_servers = 4\n    pm.min_spare_servers = 2\n    pm.max_spare_servers = 6\n  zz-override.conf: |\n    [www] ; production\n    pm.max_children = 40\n",
    );
    let store = store(dir, &[("shop", "api", "nginx", 0.05, 40.0), ("shop", "api", "php-fpm", 0.3, 700.0)]);
    let overlay = dir.join("overlay");
    let before = render(&overlay);
    let (code, doc, stderr) = recommend(&store, &overlay);
    assert_eq!(code, Some(0), "{stderr}");
    let r = rec(&doc, "shop", "api", "php-fpm");
    let change = &r["runtime"]["changes"][0];
    assert_eq!(change["current"], "40", "{r}");
    assert_eq!(change["origin"]["key"], "zz-override.conf");
    let after = render(&overlay);
    let data = |docs: &[Value], key: &str| {
        object(docs, "ConfigMap", "shop", "api-pool")["data"][key].as_str().unwrap().to_string()
    };
    assert_eq!(data(&after, "www.conf"), data(&before, "www.conf"), "the overridden file is left alone");
    assert_eq!(conf_value(&data(&after, "zz-override.conf"), "pm.max_children"), change["proposed"].as_str().unwrap());
}

#[test]
fn a_shared_pool_one_user_cannot_read_is_refused_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let with_env = |name: &str, env: &str| {
        app(name, "shared-pool", "")
            .replace("image: php:8.3-fpm-alpine\n", &format!("image: php:8.3-fpm-alpine\n        env: [{env}]\n"))
    };
    write(dir, "overlay/kustomization.yaml", "namespace: shop\nresources: [api.yaml, worker.yaml, pool.yaml]\n");
    write(dir, "overlay/api.yaml", &with_env("api", "{name: START, value: \"20\"}"));
    // The worker's START comes from a Secret: its start_servers is unknown, so lowering the
    // shared pm.max_children could stop its php-fpm.
    write(
        dir,
        "overlay/worker.yaml",
        &with_env("worker", "{name: START, valueFrom: {secretKeyRef: {name: s, key: k}}}"),
    );
    write(
        dir,
        "overlay/pool.yaml",
        &pool("shared-pool").replace("pm.start_servers = 20", "pm.start_servers = ${START}"),
    );
    let store = store(
        dir,
        &[
            ("shop", "api", "nginx", 0.05, 40.0),
            ("shop", "api", "php-fpm", 0.3, 500.0),
            ("shop", "worker", "php-fpm", 0.3, 500.0),
        ],
    );
    let before = tree(dir);
    let (code, _, stderr) = recommend(&store, &dir.join("overlay"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("shared-pool")
            && stderr.contains("shop/Deployment/api")
            && stderr.contains("shop/Deployment/worker"),
        "{stderr}"
    );
    assert_eq!(tree(dir), before);
}

/// One generated overlay for the property below: a base of `workloads` (each an nginx +
/// php-fpm Deployment, its HPA and nginx.conf) reused with `namespace:` in every one of
/// `namespaces`; the workloads share one pool ConfigMap or have one each; `loads[ns][w]` is
/// the (CPU cores, php-fpm MiB) of that workload in that namespace, or no samples at all.
#[derive(Debug, Clone)]
struct Layout {
    namespaces: Vec<String>,
    workloads: Vec<String>,
    shared_pool: bool,
    loads: Vec<Vec<Option<(f64, f64)>>>,
}

impl Layout {
    fn pool_of(&self, workload: &str) -> String {
        if self.shared_pool {
            "common-pool".into()
        } else {
            format!("{workload}-pool")
        }
    }

    fn write(&self, dir: &Path) -> PathBuf {
        let mut files: Vec<String> = Vec::new();
        for w in &self.workloads {
            write(dir, &format!("base/deploy-{w}.yaml"), &app(w, &self.pool_of(w), ""));
            write(dir, &format!("base/pool-{w}.yaml"), &pool(&self.pool_of(w)));
            files.push(format!("deploy-{w}.yaml"));
            if !self.shared_pool || files.len() == 1 {
                files.push(format!("pool-{w}.yaml"));
            }
        }
        write(dir, "base/kustomization.yaml", &format!("resources: [{}]\n", files.join(", ")));
        for ns in &self.namespaces {
            write(dir, &format!("ns-{ns}/kustomization.yaml"), &format!("namespace: {ns}\nresources: [../base]\n"));
        }
        let resources: Vec<String> = self.namespaces.iter().map(|ns| format!("../ns-{ns}")).collect();
        write(dir, "overlay/kustomization.yaml", &format!("resources: [{}]\n", resources.join(", ")));
        dir.join("overlay")
    }

    /// (namespace, workload, CPU cores, php-fpm MiB) of every sampled workload.
    fn sampled(&self) -> Vec<(&str, &str, f64, f64)> {
        let mut out = Vec::new();
        for (i, ns) in self.namespaces.iter().enumerate() {
            for (j, w) in self.workloads.iter().enumerate() {
                if let Some((cpu, mem)) = self.loads[i][j] {
                    out.push((ns.as_str(), w.as_str(), cpu, mem));
                }
            }
        }
        out
    }
}

fn layout() -> impl proptest::strategy::Strategy<Value = Layout> {
    use proptest::prelude::*;
    // Names that extend each other (`api`, `api-runtime`), carry dots as Deployments may, or
    // spell another object's name (`api-nginx`, `api-pool`).
    let suffixes =
        prop::collection::btree_set(prop::sample::select(vec!["", "-runtime", "-v2", ".v2", "-nginx", "-pool"]), 1..=3);
    let workloads = ("[a-z][a-z0-9]{0,3}", suffixes).prop_map(|(stem, suffixes)| {
        suffixes.into_iter().map(|s| format!("{stem}{s}")).collect::<std::collections::BTreeSet<_>>()
    });
    let load = proptest::option::weighted(
        0.75,
        (prop::sample::select(vec![0.05, 0.4, 1.2, 2.5]), prop::sample::select(vec![300.0, 700.0, 1500.0])),
    );
    (prop::collection::btree_set("[a-z][a-z0-9-]{0,5}[a-z0-9]", 1..=3), workloads, any::<bool>())
        .prop_flat_map(move |(namespaces, workloads, shared_pool)| {
            let (n, m) = (namespaces.len(), workloads.len());
            (
                Just(namespaces.into_iter().collect::<Vec<_>>()),
                Just(workloads.into_iter().collect::<Vec<_>>()),
                Just(shared_pool),
                prop::collection::vec(prop::collection::vec(load.clone(), m), n),
            )
        })
        .prop_map(|(namespaces, workloads, shared_pool, loads)| Layout { namespaces, workloads, shared_pool, loads })
}

/// Every object of an overlay gets exactly its own values, or the values safe for every
/// user of a file it shares: over generated namespaces x shared pool files x names.
#[test]
fn namespaces_shared_files_and_names_each_get_their_own_or_the_shared_safe_value() {
    use proptest::test_runner::{Config, RngSeed, TestRunner};
    let config = Config { cases: 10, rng_seed: RngSeed::Fixed(30), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    runner
        .run(&layout(), |l| {
            check_layout(&l);
            Ok(())
        })
        .unwrap();
}

fn check_layout(l: &Layout) {
    let tmp = tempfile::tempdir().unwrap();
    let overlay = l.write(tmp.path());
    let sampled = l.sampled();
    if sampled.is_empty() {
        return;
    }
    let series: Vec<(&str, &str, &str, f64, f64)> = sampled
        .iter()
        .flat_map(|&(ns, w, cpu, mem)| [(ns, w, "nginx", cpu, 40.0), (ns, w, "php-fpm", 0.3, mem)])
        .collect();
    let store = store(tmp.path(), &series);
    let before = render(&overlay);
    let (code, doc, stderr) = recommend(&store, &overlay);
    assert_eq!(code, Some(0), "{l:?}: {stderr}");
    let after = render(&overlay);
    let is_sampled = |ns: &str, w: &str| sampled.iter().any(|s| s.0 == ns && s.1 == w);
    for ns in &l.namespaces {
        for w in &l.workloads {
            let own = [
                ("Deployment", w.clone()),
                ("HorizontalPodAutoscaler", w.clone()),
                ("ConfigMap", format!("{w}-nginx")),
            ];
            if !is_sampled(ns, w) {
                for (kind, name) in &own {
                    assert_eq!(
                        object(&after, kind, ns, name),
                        object(&before, kind, ns, name),
                        "{l:?}: {ns}/{kind}/{name}"
                    );
                }
                continue;
            }
            let d = object(&after, "Deployment", ns, w);
            for c in ["nginx", "php-fpm"] {
                let r = rec(&doc, ns, w, c);
                let resources = &container(d, c)["resources"];
                assert_eq!(
                    quantity(&resources["limits"]["memory"]),
                    r["memory"]["limit_bytes"].as_f64().unwrap(),
                    "{l:?}: {ns}/{w}/{c}"
                );
                let cpu = quantity(&resources["requests"]["cpu"]);
                assert!((cpu - r["cpu"]["request_cores"].as_f64().unwrap()).abs() < 1e-9, "{l:?}: {ns}/{w}/{c}");
            }
            let conf = object(&after, "ConfigMap", ns, &format!("{w}-nginx"))["data"]["nginx.conf"].as_str().unwrap();
            let workers = proposed(rec(&doc, ns, w, "nginx"), "worker_processes").unwrap_or_else(|| "8".into());
            assert_eq!(conf_value(conf, "worker_processes"), workers, "{l:?}: {ns}/{w}");
            let hpa = object(&after, "HorizontalPodAutoscaler", ns, w);
            let target = hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"].as_i64().unwrap();
            assert!((1..=i64::from(i32::MAX)).contains(&target), "{l:?}: {ns}/{w} HPA target {target}");
        }
        // Each pool file: one value, told to every sampled user in this namespace, fitting each one's limit.
        let pools: std::collections::BTreeSet<String> = l.workloads.iter().map(|w| l.pool_of(w)).collect();
        for p in pools {
            let users: Vec<&String> = l.workloads.iter().filter(|w| l.pool_of(w) == p && is_sampled(ns, w)).collect();
            let www =
                |docs: &[Value]| object(docs, "ConfigMap", ns, &p)["data"]["www.conf"].as_str().unwrap().to_string();
            if users.is_empty() {
                assert_eq!(www(&after), www(&before), "{l:?}: {ns}/ConfigMap/{p} has no sampled user");
                continue;
            }
            let in_file: u32 = conf_value(&www(&after), "pm.max_children").parse().unwrap();
            for w in users {
                let r = rec(&doc, ns, w, "php-fpm");
                let told = proposed(r, "pm.max_children").unwrap_or_else(|| "50".into());
                assert_eq!(told, in_file.to_string(), "{l:?}: {ns}/{w} is told another value than {p} gets");
                let limit = r["memory"]["limit_bytes"].as_f64().unwrap();
                assert!(
                    f64::from(in_file) * PER_CHILD_MI * MI + 32.0 * MI <= limit,
                    "{l:?}: {ns}/{w}: {in_file} children above {limit}"
                );
            }
        }
    }
    // A second run finds every value in place.
    let (code, again, stderr) = recommend(&store, &overlay);
    assert_eq!(code, Some(0), "{l:?}: {stderr}");
    for &(ns, w, ..) in &sampled {
        for c in ["nginx", "php-fpm"] {
            assert_eq!(rec(&again, ns, w, c)["runtime"]["changes"], serde_json::json!([]), "{l:?}: {ns}/{w}/{c}");
        }
    }
}

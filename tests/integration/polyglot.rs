//! JVM, Go, Node.js and gunicorn settings: the polyglot demo (`demo --stack polyglot`) and a
//! JVM options ConfigMap shared by two services, patched and rendered with the real
//! `kubectl kustomize`.

use crate::support::{kubectl, podsizer, runtime_changes as changes};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

const MI: f64 = 1024.0 * 1024.0;

fn render(dir: &Path) -> Vec<serde_norway::Value> {
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_slice(&out.stdout).map(|d| serde_norway::Value::deserialize(d).unwrap()).collect()
}

fn rec<'a>(doc: &'a Value, workload: &str) -> &'a Value {
    doc["recommendations"].as_array().unwrap().iter().find(|r| r["workload"]["name"] == workload).unwrap()
}

fn container<'a>(docs: &'a [serde_norway::Value], deployment: &str) -> &'a serde_norway::Value {
    let d = docs.iter().find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == deployment).unwrap();
    &d["spec"]["template"]["spec"]["containers"][0]
}

fn env_value(c: &serde_norway::Value, name: &str) -> String {
    c["env"].as_sequence().unwrap().iter().find(|e| e["name"] == name).unwrap()["value"].as_str().unwrap().to_string()
}

fn args(c: &serde_norway::Value) -> Vec<String> {
    c["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

fn config_value(docs: &[serde_norway::Value], cm: &str, key: &str) -> String {
    let d = docs.iter().find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == cm).unwrap();
    d["data"][key].as_str().unwrap().to_string()
}

fn limit_mib(rec: &Value) -> f64 {
    rec["memory"]["limit_bytes"].as_f64().unwrap() / MI
}

fn cores(rec: &Value) -> u32 {
    (rec["cpu"]["limit_cores"].as_f64().unwrap() - 1e-9).ceil().max(1.0) as u32
}

#[test]
fn demo_polyglot_sizes_every_runtime_and_the_render_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let started = std::time::Instant::now();
    let run = podsizer()
        .env("PODSIZER_KUBECTL", kubectl())
        .args(["demo", "--stack", "polyglot", "-o", "json", "--out"])
        .arg(&out)
        .assert()
        .success();
    let seconds = started.elapsed().as_secs_f64();
    println!("demo --stack polyglot took {seconds:.2} s");
    let doc: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let overlay = out.join("gitops/overlays/production");
    let docs = render(&overlay);

    // JVM: -Xmx in the envFrom ConfigMap gets what 256Mi of non-heap leaves under the limit;
    // ActiveProcessorCount in the args follows the CPU limit.
    let orders = rec(&doc, "orders");
    let heap = (limit_mib(orders) - 256.0).floor() as u64;
    assert_eq!(
        changes(orders),
        [
            ("-Xmx".into(), "1536m".into(), format!("{heap}m")),
            ("-XX:ActiveProcessorCount".into(), "4".into(), cores(orders).to_string()),
        ]
    );
    assert!(orders["runtime"]["risks"][0].as_str().unwrap().contains("above the proposed limit"), "{orders}");
    assert_eq!(
        config_value(&docs, "orders-jvm", "JAVA_TOOL_OPTIONS"),
        format!("-Xmx{heap}m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError")
    );
    assert_eq!(config_value(&docs, "orders-jvm", "SPRING_PROFILES_ACTIVE"), "production");
    let java = container(&docs, "orders");
    assert_eq!(
        args(java),
        [format!("-XX:ActiveProcessorCount={}", cores(orders)), "-jar".into(), "/app/orders.jar".into()]
    );

    // Go: GOMEMLIMIT 90% of the limit, GOMAXPROCS the CPU limit; today's 1800MiB is over 1Gi.
    let ingest = rec(&doc, "ingest");
    let go_limit = (limit_mib(ingest) * 0.9).floor() as u64;
    assert_eq!(
        changes(ingest),
        [
            ("GOMEMLIMIT".into(), "1800MiB".into(), format!("{go_limit}MiB")),
            ("GOMAXPROCS".into(), "8".into(), cores(ingest).to_string()),
        ]
    );
    assert_eq!(ingest["runtime"]["risks"][0], "the Go heap can grow to GOMEMLIMIT 1800Mi, above its limit 1Gi");
    let go = container(&docs, "ingest");
    assert_eq!(env_value(go, "GOMEMLIMIT"), format!("{go_limit}MiB"));
    assert_eq!(env_value(go, "GOMAXPROCS"), cores(ingest).to_string());
    assert_eq!(env_value(go, "LOG_LEVEL"), "info", "other variables kept");

    // Node.js: old space 75% of the limit, rewritten inside NODE_OPTIONS.
    let web = rec(&doc, "web");
    let old_space = (limit_mib(web) * 0.75).floor() as u64;
    assert_eq!(changes(web), [("--max-old-space-size".into(), "1024".into(), old_space.to_string())]);
    assert_eq!(
        web["runtime"]["risks"][0],
        "the Node.js heap can grow to old space 1Gi + 25% outside it = 1365Mi, above its limit 768Mi"
    );
    let node = container(&docs, "web");
    assert_eq!(env_value(node, "NODE_OPTIONS"), format!("--max-old-space-size={old_space} --enable-source-maps"));

    // gunicorn: 9 workers down to 2 × cores + 1 (memory allows more).
    let catalog = rec(&doc, "catalog");
    let by_cpu = 2 * cores(catalog) + 1;
    assert_eq!(changes(catalog), [("--workers".into(), "9".into(), by_cpu.to_string())]);
    let gunicorn = container(&docs, "catalog");
    assert_eq!(args(gunicorn), ["--bind", "0.0.0.0:8000", "--workers", &by_cpu.to_string(), "catalog.wsgi"]);

    // KEDA: web's cpu trigger is a share of the pod's request, moved by old / new request so it
    // scales at the same load (60% of 250m); the Prometheus trigger and ingest's Kafka-only
    // ScaledObject are left as they are, and said so.
    let new_request = web["cpu"]["request_cores"].as_f64().unwrap();
    let moved = (60.0 * 0.25 / new_request).round() as u32;
    let scaled = |name: &str| {
        docs.iter().find(|d| d["kind"] == "ScaledObject" && d["metadata"]["name"] == name).unwrap()["spec"]["triggers"]
            .clone()
    };
    let web_triggers = scaled("web");
    assert_eq!(web_triggers[0]["metadata"]["value"].as_str(), Some(moved.to_string().as_str()));
    assert_eq!(web_triggers[1]["metadata"]["threshold"].as_str(), Some("200"));
    assert_eq!(web_triggers[1]["type"].as_str(), Some("prometheus"));
    assert_eq!(scaled("ingest")[0]["metadata"]["lagThreshold"].as_str(), Some("500"));
    let said =
        |r: &Value, text: &str| r["rationale"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains(text));
    assert!(said(web, &format!("the patch sets averageUtilization {moved}%")), "{web}");
    assert!(said(web, "the `prometheus` trigger of ScaledObject `web`"), "{web}");
    assert!(
        said(ingest, "the `kafka` trigger of ScaledObject `ingest`, which does not follow the requests"),
        "{ingest}"
    );
    assert!(out.join("gitops/overlays/production/podsizer-scaledobject-web.yaml").is_file());
    assert!(!out.join("gitops/overlays/production/podsizer-scaledobject-ingest.yaml").exists());

    // Every finding is in the rationale too, and the resources were patched with them.
    for (workload, runtime) in [("orders", "jvm"), ("ingest", "go"), ("web", "node"), ("catalog", "gunicorn")] {
        let r = rec(&doc, workload);
        assert_eq!(r["runtime"]["runtime"], runtime);
        let rationale: Vec<&str> = r["rationale"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert!(rationale.iter().any(|l| l.starts_with(&format!("{runtime}: "))), "{workload}: {rationale:?}");
        let limit = container(&docs, workload)["resources"]["limits"]["memory"].as_str().unwrap().to_string();
        assert_eq!(limit, format!("{}Mi", limit_mib(r)), "{workload}");
    }
}

/// Steady samples of two JVM services that share one JAVA_TOOL_OPTIONS ConfigMap.
fn shared_store(dir: &Path) -> std::path::PathBuf {
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    for step in 0..(3 * 288) {
        let t = crate::runtimes::chrono_free_rfc3339(1_763_251_200_i64 + step * 300); // from 2025-11-16
        for (w, mem) in [("big", 500.0), ("small", 300.0)] {
            csv.push_str(&format!("{t},shop,Deployment,{w},{w}-1,app,0.1,{}\n", mem * MI));
        }
    }
    let file = dir.join("samples.csv");
    std::fs::write(&file, csv).unwrap();
    let store = dir.join("store");
    podsizer().arg("import").arg(&file).arg("--store").arg(&store).assert().success();
    store
}

const SHARED: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources: [big.yaml, small.yaml, jvm.yaml]\n";
const JVM_CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: jvm}\ndata:\n  JAVA_TOOL_OPTIONS: \"-XX:+UseZGC -Xmx1g\"\n";

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      - name: app\n        image: eclipse-temurin:21-jre\n        env:\n        - name: JAVA_TOOL_OPTIONS\n          valueFrom: {{configMapKeyRef: {{name: jvm, key: JAVA_TOOL_OPTIONS}}}}\n        resources: {{limits: {{memory: 2Gi}}}}\n"
    )
}

#[test]
fn a_shared_jvm_options_key_gets_the_heap_that_fits_every_user() {
    let tmp = tempfile::tempdir().unwrap();
    let overlay = tmp.path().join("overlay");
    std::fs::create_dir_all(&overlay).unwrap();
    for (file, text) in [
        ("kustomization.yaml", SHARED.to_string()),
        ("big.yaml", deployment("big")),
        ("small.yaml", deployment("small")),
        ("jvm.yaml", JVM_CM.to_string()),
    ] {
        std::fs::write(overlay.join(file), text).unwrap();
    }
    let store = shared_store(tmp.path());
    let out = podsizer()
        .args(["recommend", "-o", "json", "--force", "--input"])
        .arg(&store)
        .arg("--kustomize")
        .arg(&overlay)
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let (big, small) = (rec(&doc, "big"), rec(&doc, "small"));
    let own = |r: &Value| (limit_mib(r) - 256.0).floor() as u64;
    assert!(own(small) < own(big), "the fixture is meant to give the two different heaps");
    // One key, one value: the smaller heap, which fits both limits.
    let heap = format!("{}m", own(small));
    for r in [big, small] {
        assert_eq!(changes(r), [("-Xmx".into(), "1g".into(), heap.clone())]);
    }
    let told = big["rationale"].as_array().unwrap().iter().any(|l| {
        l.as_str().unwrap().contains(&format!("-Xmx {heap}, not {}m", own(big)))
            && l.as_str().unwrap().contains("small")
    });
    assert!(told, "{big}");
    let docs = render(&overlay);
    assert_eq!(config_value(&docs, "jvm", "JAVA_TOOL_OPTIONS"), format!("-XX:+UseZGC -Xmx{heap}"));
}

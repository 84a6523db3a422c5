//! Start-up apart from steady state: the polyglot demo's JVM pods, rolled out mid-week with a
//! warm-up, judged with each `startup.cpu` setting; boosts written into the overlay and
//! rendered by the real `kubectl kustomize`.

use crate::support::{kubectl, podsizer};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The demo's warm-up of each new orders pod, cores per minute (`demo_polyglot::WARM_UP`).
const WARM_UP: [f64; 3] = [1.6, 1.3, 0.9];

/// The polyglot demo in `dir`: its samples, its overlay and its JSON output.
fn demo(dir: &Path) -> (PathBuf, PathBuf, Value) {
    let run = podsizer()
        .env("PODSIZER_KUBECTL", kubectl())
        .args(["demo", "--stack", "polyglot", "-o", "json", "--out"])
        .arg(dir)
        .assert()
        .success();
    let doc = serde_json::from_slice(&run.get_output().stdout).unwrap();
    (dir.join("samples.parquet"), dir.join("gitops/overlays/production"), doc)
}

fn recommend(samples: &Path, overlay: &Path, policy: &str) -> Value {
    let file = overlay.parent().unwrap().join("policy.toml");
    std::fs::write(&file, policy).unwrap();
    let run = podsizer()
        .env("PODSIZER_KUBECTL", kubectl())
        .args(["recommend", "-o", "json", "--input"])
        .arg(samples)
        .arg("--kustomize")
        .arg(overlay)
        .arg("--policy")
        .arg(&file)
        .assert()
        .success();
    serde_json::from_slice(&run.get_output().stdout).unwrap()
}

fn render(dir: &Path) -> Vec<serde_norway::Value> {
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_slice(&out.stdout).map(|d| serde_norway::Value::deserialize(d).unwrap()).collect()
}

fn orders(doc: &Value) -> &Value {
    doc["recommendations"].as_array().unwrap().iter().find(|r| r["workload"]["name"] == "orders").unwrap()
}

fn lines(rec: &Value) -> Vec<String> {
    rec["rationale"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

fn object<'a>(docs: &'a [serde_norway::Value], kind: &str, name: &str) -> Option<&'a serde_norway::Value> {
    docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

#[test]
fn the_polyglot_demo_says_how_much_longer_the_jvm_warm_up_takes_under_the_proposed_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, doc) = demo(tmp.path());
    let rec = orders(&doc);
    let limit = rec["cpu"]["limit_cores"].as_f64().unwrap();
    // By hand: both new pods warm up alike; the worst start's work above the limit, done at the limit.
    let above: f64 = WARM_UP.iter().map(|w| (w - limit).max(0.0) * 60.0).sum();
    assert!(above > 0.0, "the demo's limit {limit} must be below the warm-up");
    let lines = lines(rec);
    assert!(
        lines.iter().any(|l| l.starts_with("start-up: 2 pod starts in the window, 2 with a warm-up; CPU up to 1600m")),
        "{lines:?}"
    );
    let held = format!(
        "start-up: the CPU limit {}m holds the worst warm-up back by {above:.0} CPU-seconds, so start-up would take about {:.0} s longer; kept",
        (limit * 1000.0).round(),
        above / limit
    );
    assert!(lines.iter().any(|l| l.starts_with(&held)), "{held}\n{lines:?}");
    // The services that were not rolled out show no start-up.
    for r in doc["recommendations"].as_array().unwrap().iter().filter(|r| r["workload"]["name"] != "orders") {
        assert!(!r["rationale"].to_string().contains("start-up"), "{r}");
    }
}

#[test]
fn raise_limit_keeps_a_limit_that_covers_the_warm_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (samples, overlay, _) = demo(tmp.path());
    let doc = recommend(&samples, &overlay, "[defaults.startup]\ncpu = \"raise-limit\"\n");
    assert_eq!(orders(&doc)["cpu"]["limit_cores"].as_f64(), Some(1.6));
    let docs = render(&overlay);
    let d = object(&docs, "Deployment", "orders").unwrap();
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"], "1600m");
    assert!(object(&docs, "StartupCPUBoost", "deployment-orders").is_none());
}

#[test]
fn a_boost_is_a_startup_cpu_boost_without_vpa_and_vpa_startup_boost_with_it() {
    let policy = "[defaults.startup]\ncpu = \"boost\"\n";
    // Without a VPA: a kube-startup-cpu-boost object, listed under `resources:`.
    let tmp = tempfile::tempdir().unwrap();
    let (samples, overlay, _) = demo(tmp.path());
    let doc = recommend(&samples, &overlay, policy);
    let limit = orders(&doc)["cpu"]["limit_cores"].as_f64().unwrap();
    let percent = ((1.6 / limit - 1.0) * 100.0 - 1e-9).ceil() as u64;
    let docs = render(&overlay);
    let boost = object(&docs, "StartupCPUBoost", "deployment-orders").expect("the boost renders");
    let deployment = object(&docs, "Deployment", "orders").unwrap();
    assert_eq!(boost["apiVersion"], "autoscaling.x-k8s.io/v1alpha1");
    assert_eq!(boost["metadata"]["namespace"], "store");
    assert_eq!(boost["selector"], deployment["spec"]["selector"]);
    let expected: serde_norway::Value = serde_norway::from_str(&format!(
        "resourcePolicy:\n  containerPolicies:\n  - matchContainers: {{type: ExactName, value: orders}}\n    percentageIncrease: {{value: {percent}}}\ndurationPolicy:\n  fixedDuration: {{unit: Seconds, value: 180}}\n"
    ))
    .unwrap();
    assert_eq!(boost["spec"], expected);
    assert_eq!(orders(&doc)["cpu"]["limit_cores"].as_f64(), Some(limit), "the limit itself is kept");
    // A second run writes nothing new.
    let kustomization = std::fs::read_to_string(overlay.join("kustomization.yaml")).unwrap();
    assert_eq!(kustomization.matches("podsizer-startupcpuboost-deployment-orders.yaml").count(), 1, "{kustomization}");
    recommend(&samples, &overlay, policy);
    assert_eq!(std::fs::read_to_string(overlay.join("kustomization.yaml")).unwrap(), kustomization);

    // With a VPA targeting the workload: its startupBoost, the other container policies kept.
    let tmp = tempfile::tempdir().unwrap();
    let (samples, overlay, _) = demo(tmp.path());
    std::fs::write(
        overlay.join("vpa.yaml"),
        "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata:\n  name: orders\nspec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: orders}\n  updatePolicy: {updateMode: \"Off\"}\n  resourcePolicy:\n    containerPolicies:\n    - containerName: \"*\"\n      minAllowed: {cpu: 100m}\n",
    )
    .unwrap();
    let k = overlay.join("kustomization.yaml");
    let text = std::fs::read_to_string(&k).unwrap().replace("  - ../../base\n", "  - ../../base\n  - vpa.yaml\n");
    std::fs::write(&k, text).unwrap();
    recommend(&samples, &overlay, policy);
    let docs = render(&overlay);
    assert!(object(&docs, "StartupCPUBoost", "deployment-orders").is_none());
    let vpa = object(&docs, "VerticalPodAutoscaler", "orders").unwrap();
    let factor = (1.6 / limit - 1e-9).ceil() as u64;
    let expected: serde_norway::Value = serde_norway::from_str(&format!(
        "- containerName: \"*\"\n  minAllowed: {{cpu: 100m}}\n- containerName: orders\n  startupBoost:\n    cpu: {{type: Factor, factor: {factor}, durationSeconds: 180}}\n"
    ))
    .unwrap();
    assert_eq!(vpa["spec"]["resourcePolicy"]["containerPolicies"], expected);
    assert_eq!(vpa["spec"]["updatePolicy"]["updateMode"], "Off");
}

//! End-to-end tests of the `podsizer` binary: real files, a real store, the real
//! `kubectl kustomize`.

use crate::support::{copy_tree, files_with_bytes, fixtures, kubectl, podsizer, quantity};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn demo_samples() -> PathBuf {
    fixtures().join("demo/samples.parquet")
}

/// A scratch copy of the demo GitOps tree.
fn gitops() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("demo/gitops"), &dir.path().join("gitops"));
    let root = dir.path().join("gitops");
    (dir, root)
}

fn render(overlay: &Path) -> Vec<serde_norway::Value> {
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(overlay).output().expect("kubectl runs");
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_str(&String::from_utf8(out.stdout).unwrap())
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn recommend_json(args: &[&str]) -> Value {
    let out = podsizer().arg("recommend").args(args).args(["-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn committed_demo_samples_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("s.parquet");
    podsizer().args(["synth", "--scenario", "demo", "--out"]).arg(&fresh).assert().success();
    let read = |p: &Path| podsizer::sources::read_sample_file(p, false).unwrap().samples;
    assert_eq!(
        read(&fresh),
        read(&demo_samples()),
        "regenerate with: podsizer synth --scenario demo --out fixtures/demo/samples.parquet"
    );
    assert!(std::fs::metadata(demo_samples()).unwrap().len() < 4 * 1024 * 1024);
}

#[test]
fn recommend_json_has_the_documented_shape_and_invariants() {
    let doc = recommend_json(&["--input", demo_samples().to_str().unwrap()]);
    let recs = doc["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 3, "one per container");
    for r in recs {
        assert_eq!(r["namespace"], "shop");
        assert_eq!(r["workload"]["kind"], "Deployment");
        assert_eq!(r["workload"]["name"], "api");
        assert_eq!(r["status"], "sized");
        let cpu_req = r["cpu"]["request_cores"].as_f64().unwrap();
        let cpu_lim = r["cpu"]["limit_cores"].as_f64().unwrap();
        let mem_req = r["memory"]["request_bytes"].as_f64().unwrap();
        let mem_lim = r["memory"]["limit_bytes"].as_f64().unwrap();
        assert!(cpu_lim >= cpu_req && mem_lim >= mem_req);
        let rationale =
            r["rationale"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect::<Vec<_>>().join("\n");
        let raised = rationale.contains("raised to the guard");
        assert!(
            raised || (cpu_lim - 2.0 * cpu_req).abs() <= 0.005 + 1e-9,
            "limit must be 2x unless a guard says otherwise: {rationale}"
        );
        assert!(r["samples"].as_u64().unwrap() > 1000);
    }
    insta::assert_json_snapshot!("demo_recommend_json", doc);
}

#[test]
fn memory_limit_covers_the_highest_working_set() {
    let samples = podsizer::sources::read_sample_file(&demo_samples(), false).unwrap().samples;
    let doc = recommend_json(&["--input", demo_samples().to_str().unwrap(), "--window", "30d"]);
    for r in doc["recommendations"].as_array().unwrap() {
        let c = r["container"].as_str().unwrap();
        let max = samples.iter().filter(|s| s.container == c).map(|s| s.memory_bytes).fold(0.0, f64::max);
        assert!(r["memory"]["limit_bytes"].as_f64().unwrap() >= max, "{c}");
    }
}

#[test]
fn all_output_formats() {
    let input = demo_samples();
    let table = podsizer().args(["recommend", "--input"]).arg(&input).output().unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("NAMESPACE") && text.contains("php-fpm"), "{text}");
    let yaml = podsizer().args(["recommend", "-o", "yaml", "--input"]).arg(&input).output().unwrap();
    let parsed: serde_norway::Value = serde_norway::from_slice(&yaml.stdout).unwrap();
    assert_eq!(parsed["recommendations"].as_sequence().unwrap().len(), 3);
    let csv = podsizer().args(["recommend", "-o", "csv", "--input"]).arg(&input).output().unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("namespace,workload_kind,workload,container,status,cpu_request_cores"));
}

#[test]
fn kustomize_patch_renders_and_matches_json() {
    let (_tmp, root) = gitops();
    let overlay = root.join("overlays/production");
    let before = render(&overlay);
    let out = podsizer()
        .args(["recommend", "-o", "json", "--input"])
        .arg(demo_samples())
        .arg("--kustomize")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let patch = std::fs::read_to_string(overlay.join("podsizer-deployment-api.yaml")).unwrap();
    insta::assert_snapshot!("demo_patch", patch);
    let after = render(&overlay);
    let deployment = |docs: &[serde_norway::Value]| docs.iter().find(|d| d["kind"] == "Deployment").unwrap().clone();
    let (b, a) = (deployment(&before), deployment(&after));
    let containers =
        |d: &serde_norway::Value| d["spec"]["template"]["spec"]["containers"].as_sequence().unwrap().clone();
    let names = |d: &serde_norway::Value| {
        containers(d).iter().map(|c| (c["name"].clone(), c["image"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(names(&b), names(&a), "container names, order and images are kept");
    assert_eq!(a["metadata"]["annotations"], b["metadata"]["annotations"], "existing patches still apply");
    for c in containers(&a) {
        let rec = doc["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["container"].as_str() == c["name"].as_str())
            .unwrap();
        let res = &c["resources"];
        assert_eq!(quantity(&res["requests"]["cpu"]), rec["cpu"]["request_cores"].as_f64().unwrap());
        assert_eq!(quantity(&res["requests"]["memory"]), rec["memory"]["request_bytes"].as_f64().unwrap());
        assert_eq!(quantity(&res["limits"]["memory"]), rec["memory"]["limit_bytes"].as_f64().unwrap());
        match rec["cpu"]["limit_cores"].as_f64() {
            Some(l) => assert_eq!(quantity(&res["limits"]["cpu"]), l),
            None => assert!(res["limits"].get("cpu").is_none()),
        }
        // Current values come from the rendered base.
        let current = &rec["current"]["cpu"]["request_cores"];
        let base_c = containers(&b).into_iter().find(|x| x["name"] == c["name"]).unwrap();
        assert_eq!(current.as_f64().unwrap(), quantity(&base_c["resources"]["requests"]["cpu"]));
    }
    // A second run updates in place: same files, one entry in kustomization.yaml.
    let kustomization_before = std::fs::read_to_string(overlay.join("kustomization.yaml")).unwrap();
    podsizer().args(["recommend", "--input"]).arg(demo_samples()).arg("--kustomize").arg(&overlay).assert().success();
    let kustomization_after = std::fs::read_to_string(overlay.join("kustomization.yaml")).unwrap();
    assert_eq!(kustomization_before, kustomization_after);
    assert_eq!(kustomization_after.matches("podsizer-deployment-api.yaml").count(), 1);
    assert!(kustomization_after.starts_with("# production overlay"), "comments kept");
}

#[test]
fn policy_without_cpu_limit_removes_the_existing_limit() {
    let (_tmp, root) = gitops();
    let overlay = root.join("overlays/production");
    let policy = root.join("policy.toml");
    std::fs::write(&policy, "[[override]]\nmatch = { container = \"nginx\" }\ncpu = { limit = false }\n").unwrap();
    podsizer()
        .args(["recommend", "--input"])
        .arg(demo_samples())
        .arg("--policy")
        .arg(&policy)
        .arg("--kustomize")
        .arg(&overlay)
        .assert()
        .success();
    let after = render(&overlay);
    let d = after.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let nginx = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(nginx["name"], "nginx");
    assert!(nginx["resources"]["limits"].get("cpu").is_none(), "{:?}", nginx["resources"]);
    assert!(nginx["resources"]["limits"].get("memory").is_some());
    // Production samples (namespace shop) do not size staging (namespace shop-staging).
    let out = podsizer()
        .args(["recommend", "--input"])
        .arg(demo_samples())
        .arg("--kustomize")
        .arg(root.join("overlays/staging"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shop-staging/Deployment/api"));
}

#[test]
fn unknown_container_is_refused_and_overlay_untouched() {
    let (_tmp, root) = gitops();
    let overlay = root.join("overlays/production");
    let csv = root.join("extra.csv");
    let mut text = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    for m in 0..(2 * 24 * 60) {
        let ts = podsizer::domain::format_timestamp(1_763_251_200_000 + m * 60_000);
        text.push_str(&format!("{ts},shop,Deployment,api,api-1,sidecar,0.05,50000000\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let before = files_with_bytes(&overlay);
    let out = podsizer().args(["recommend", "--input"]).arg(&csv).arg("--kustomize").arg(&overlay).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sidecar") && err.contains("nginx, php-fpm, envoy"), "{err}");
    assert_eq!(before, files_with_bytes(&overlay));
}

#[test]
fn overlay_without_kustomization_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = podsizer()
        .args(["recommend", "--input"])
        .arg(demo_samples())
        .arg("--kustomize")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no kustomization.yaml"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_inputs_name_file_line_and_field_and_leave_the_store_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    podsizer().args(["import", "--store"]).arg(&store).arg(demo_samples()).assert().success();
    let before = files_with_bytes(&store);
    let cases = [
        ("missing-columns.csv", "missing column(s) [\"workload_kind\", \"memory_bytes\"]"),
        ("negative-usage.csv", "line 3: field `cpu_cores`: negative usage"),
        ("nan-usage.csv", "line 3: field `memory_bytes`"),
        ("bad-timestamp.csv", "line 3: field `timestamp`"),
        ("empty.csv", "no samples"),
    ];
    for (file, message) in cases {
        let path = fixtures().join("bad").join(file);
        // A good file first: the bad one must stop the whole import, good file included.
        let out = podsizer()
            .args(["import", "--store"])
            .arg(&store)
            .arg(fixtures().join("bad/../demo/samples.parquet"))
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(file) && err.contains(message), "{file}: {err}");
        let rec = podsizer().args(["recommend", "--input"]).arg(&path).output().unwrap();
        assert_eq!(rec.status.code(), Some(2), "{file}");
    }
    assert_eq!(before, files_with_bytes(&store), "store unchanged by failed imports");
}

#[test]
fn import_is_idempotent_and_store_gives_same_answer_as_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let first = podsizer().args(["import", "--store"]).arg(&store).arg(demo_samples()).output().unwrap();
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("90720 added"),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let second = podsizer().args(["import", "--store"]).arg(&store).arg(demo_samples()).output().unwrap();
    assert!(String::from_utf8_lossy(&second.stdout).contains("0 added, 90720 already stored"));
    let from_store = recommend_json(&["--input", store.to_str().unwrap()]);
    let from_file = recommend_json(&["--input", demo_samples().to_str().unwrap()]);
    assert_eq!(from_store, from_file);
}

#[test]
fn young_workload_gets_no_patch() {
    let (_tmp, root) = gitops();
    let overlay = root.join("overlays/production");
    let out = podsizer()
        .args(["recommend", "-o", "json", "--window", "12h", "--input"])
        .arg(demo_samples())
        .arg("--kustomize")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "insufficient_history" && r["cpu"].is_null()));
    assert!(!overlay.join("podsizer-deployment-api.yaml").exists());
    // --force sizes anyway.
    let forced = recommend_json(&["--window", "12h", "--force", "--input", demo_samples().to_str().unwrap()]);
    assert!(forced["recommendations"].as_array().unwrap().iter().all(|r| r["status"] == "sized"));
}

#[test]
fn demo_runs_in_a_scratch_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = podsizer().args(["demo", "--out"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("php-fpm") && stdout.contains("->"), "{stdout}");
    assert!(dir.path().join("gitops/overlays/production/podsizer-deployment-api.yaml").exists());
    render(&dir.path().join("gitops/overlays/production"));
}

#[test]
fn fail_on_change_exit_code_and_usage_errors() {
    let (_tmp, root) = gitops();
    let overlay = root.join("overlays/production");
    let args = |extra: &[&str]| {
        let mut c = podsizer();
        c.args(["recommend", "--input"]).arg(demo_samples()).arg("--kustomize").arg(&overlay).args(extra);
        c
    };
    args(&["--fail-on-change"]).assert().code(1);
    // Applied now: nothing left to change.
    args(&["--fail-on-change"]).assert().code(0);
    podsizer().args(["recommend"]).assert().code(2);
    podsizer().args(["recommend", "--input", "/nonexistent.csv"]).assert().code(2);
    podsizer().args(["recommend", "--input"]).arg(demo_samples()).args(["--strategy", "magic"]).assert().code(2);
}

#[test]
fn hpa_gets_a_consistent_patch_that_renders() {
    let (_tmp, root) = gitops();
    let overlay = root.join("overlays/production");
    let out = podsizer()
        .args(["recommend", "-o", "json", "--input"])
        .arg(demo_samples())
        .arg("--kustomize")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recs = doc["recommendations"].as_array().unwrap();
    let total = |f: &dyn Fn(&Value) -> f64| recs.iter().map(f).sum::<f64>();
    let old = total(&|r| r["current"]["cpu"]["request_cores"].as_f64().unwrap());
    let new = total(&|r| r["cpu"]["request_cores"].as_f64().unwrap());
    let rendered = render(&overlay);
    let hpa = rendered.iter().find(|d| d["kind"] == "HorizontalPodAutoscaler").unwrap();
    let target = hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"].as_f64().unwrap();
    assert_eq!(target, (70.0 * old / new).round(), "same absolute threshold: 70% of {old} = {target}% of {new}");
    assert_eq!(hpa["spec"]["maxReplicas"], 12, "the rest of the HPA is kept");
    let why =
        recs[0]["rationale"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect::<Vec<_>>().join("\n");
    assert!(why.contains("replicas over the window: 3 to 3") && why.contains("about 4.2x the replicas"), "{why}");
    // Without an overlay there is no HPA to talk about.
    let plain = recommend_json(&["--input", demo_samples().to_str().unwrap()]);
    assert!(!plain.to_string().contains("HPA"));
}

#[test]
fn traffic_share_projects_usage_to_full_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("canary.parquet");
    podsizer().args(["synth", "--scenario", "demo", "--days", "3", "--out"]).arg(&samples).assert().success();
    let base = recommend_json(&["--input", samples.to_str().unwrap()]);
    let shared = recommend_json(&["--input", samples.to_str().unwrap(), "--traffic-share", "api=0.5"]);
    for (a, b) in base["recommendations"].as_array().unwrap().iter().zip(shared["recommendations"].as_array().unwrap())
    {
        let (ca, cb) = (a["cpu"]["request_cores"].as_f64().unwrap(), b["cpu"]["request_cores"].as_f64().unwrap());
        assert!(cb > 1.8 * ca && cb < 2.2 * ca, "{}: {ca} -> {cb}", a["container"]);
        let (ma, mb) = (a["memory"]["request_bytes"].as_f64().unwrap(), b["memory"]["request_bytes"].as_f64().unwrap());
        assert!(mb >= ma && mb < 2.0 * ma, "memory baseline does not scale: {ma} -> {mb}");
        assert!(b["rationale"][0].as_str().unwrap().starts_with("traffic share: measured at 50%"));
    }
    assert!(!base.to_string().contains("traffic share"));
    podsizer().args(["recommend", "--traffic-share", "api=2", "--input"]).arg(&samples).assert().code(2);
}

#[test]
fn the_example_policy_is_valid_and_applies() {
    let policy = fixtures().join("policy.example.toml");
    let doc = recommend_json(&["--input", demo_samples().to_str().unwrap(), "--policy", policy.to_str().unwrap()]);
    let recs = doc["recommendations"].as_array().unwrap();
    let envoy = recs.iter().find(|r| r["container"] == "envoy").unwrap();
    assert!(envoy["cpu"]["limit_cores"].is_null(), "envoy-sidecar override: no CPU limit");
    assert!(envoy["rationale"][0].as_str().unwrap().contains("envoy-sidecar"));
    let php = recs.iter().find(|r| r["container"] == "php-fpm").unwrap();
    assert!(php["rationale"].to_string().contains("p99.99"), "php-fpm-bursts override");
}

#[test]
fn collector_facts_give_current_values_and_oom_kills_raise_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    podsizer().args(["import", "--store"]).arg(&store).arg(demo_samples()).assert().success();
    let before = recommend_json(&["--input", store.to_str().unwrap()]);
    std::fs::create_dir_all(store.join("collector")).unwrap();
    // What `podsizer collect` records: php-fpm's settings and an OOM kill at a 400Mi limit.
    let state = serde_json::json!({
        "version": 1,
        "containers": [{"namespace": "shop", "workload_kind": "Deployment", "workload": "api", "container": "php-fpm",
            "resources": {"cpu_request_cores": 1.0, "cpu_limit_cores": 2.0, "memory_request_bytes": 268435456.0, "memory_limit_bytes": 419430400.0},
            "restarts": 1, "seen_ms": 1795132800000i64}],
        "oom_kills": [{"at_ms": 1795132800000i64, "namespace": "shop", "workload_kind": "Deployment", "workload": "api",
            "pod": "api-7c9d5f8b6-x", "container": "php-fpm", "memory_limit_bytes": 419430400.0}],
    });
    std::fs::write(store.join("collector/state.json"), state.to_string()).unwrap();
    let after = recommend_json(&["--input", store.to_str().unwrap()]);
    let php = |d: &Value| {
        d["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == "php-fpm").unwrap().clone()
    };
    let (b, a) = (php(&before), php(&after));
    assert!(b["current"].is_null());
    assert_eq!(a["current"]["memory"]["limit_bytes"], 419430400.0);
    let bumped = (400.0f64 + 100.0).max(400.0 * 1.2) * 1048576.0;
    let limit = a["memory"]["limit_bytes"].as_f64().unwrap();
    assert!(limit >= bumped, "limit {limit} must cover the OOM bump {bumped}");
    assert!(a["rationale"].to_string().contains("OOM kill at the memory limit 400Mi"), "{}", a["rationale"]);
    // Other containers are untouched.
    let nginx = |d: &Value| {
        d["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == "nginx").unwrap()["memory"].clone()
    };
    assert_eq!(nginx(&before), nginx(&after));
}

#[test]
fn sizing_without_samples_names_both_sources() {
    for cmd in ["recommend", "report", "backtest"] {
        let out = podsizer().arg(cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--input <PATH>|--prometheus <URL>"), "{cmd}: {err}");
    }
}

#[test]
fn importer_flag_values_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    let prometheus = ["import", "prometheus", "--url", "http://127.0.0.1:9", "--store", store];
    let cloudwatch = ["import", "cloudwatch", "--cluster", "prod", "--store", store];
    let collect = ["collect", "metrics-server", "--store", store, "--once"];
    let recommend = ["recommend", "--prometheus", "http://127.0.0.1:9"];
    for (command, flag, value) in [
        (&prometheus[..], "--since", "yesterday"),
        (&prometheus, "--until", "soon"),
        (&prometheus, "--step", "60"),
        (&prometheus, "--rate-window", "2x"),
        (&prometheus, "--timeout", "0s"),
        (&cloudwatch, "--since", "last week"),
        (&cloudwatch, "--until", "2026-13-01"),
        (&collect, "--interval", "ten"),
        (&collect, "--request-timeout", "5"),
        (&collect, "--inventory-refresh", "5m5"),
        (&["synth", "--out", store], "--start", "monday"),
        (&["synth", "--out", store], "--step", "1x"),
        (&recommend, "--rate-window", "1x"),
    ] {
        let out = podsizer().args(command).args([flag, value]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(&format!("invalid value '{value}' for '{flag}")), "{flag} {value}: {stderr}");
        if flag == "--since" {
            assert!(stderr.contains("expected a duration (14d) or a time"), "{stderr}");
        }
        assert!(!Path::new(store).exists(), "{flag} {value}: nothing is written");
    }
}

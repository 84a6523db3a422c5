//! `--live`: current settings and HPAs read from a cluster (the in-process fake API server
//! serving the demo overlay's rendered objects) equal those read from the overlay; a 403
//! names the RBAC rule; differences between overlay and cluster are shown as drift.

use crate::support::fake_api;

use crate::support::demo;
use assert_cmd::Command;
use demo::{fixtures, gitops_copy, kubectl};
use fake_api::{Cluster, FakeApi};
use serde_json::Value;
use std::path::Path;

/// The objects `kubectl kustomize` renders for the overlay, as the API server would list them.
fn rendered_objects(overlay: &Path) -> Vec<Value> {
    let output = std::process::Command::new(kubectl()).arg("kustomize").arg(overlay).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            serde_json::to_value(<serde_norway::Value as serde::Deserialize>::deserialize(doc).unwrap()).unwrap()
        })
        .collect()
}

/// A fake cluster holding the objects, each under its list resource.
fn cluster_of(objects: Vec<Value>) -> FakeApi {
    let mut cluster = Cluster { window_every: 1, ..Cluster::default() };
    for o in objects {
        let resource = match o["kind"].as_str().unwrap_or("") {
            "Deployment" => "deployments",
            "StatefulSet" => "statefulsets",
            "DaemonSet" => "daemonsets",
            "CronJob" => "cronjobs",
            "HorizontalPodAutoscaler" => "horizontalpodautoscalers",
            "ConfigMap" => "configmaps",
            _ => continue,
        };
        cluster.objects.entry(resource).or_default().push(o);
    }
    FakeApi::start(cluster)
}

fn podsizer(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("podsizer").unwrap();
    cmd.args(args).arg("--input").arg(fixtures().join("demo/samples.parquet"));
    cmd
}

fn run(cmd: &mut Command) -> (std::process::Output, String) {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

#[test]
fn settings_and_hpas_from_the_cluster_equal_the_overlay() {
    let (_dir, overlay) = gitops_copy();
    let api = cluster_of(rendered_objects(&overlay));
    let kube_dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(kube_dir.path(), "dead");

    let (from_overlay, err) = run(podsizer(&["recommend", "-o", "json", "--dry-run"]).arg("--kustomize").arg(&overlay));
    assert!(from_overlay.status.success(), "{err}");
    let (from_cluster, err) =
        run(podsizer(&["recommend", "-o", "json", "--context", "fake"]).arg("--kubeconfig").arg(&kubeconfig));
    assert!(from_cluster.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&from_cluster.stdout),
        String::from_utf8_lossy(&from_overlay.stdout),
        "same current settings, same HPA advice"
    );
    let doc: Value = serde_json::from_slice(&from_cluster.stdout).unwrap();
    let recs = doc["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    for r in recs {
        assert!(r["current"]["cpu"]["request_cores"].is_number(), "current settings read: {r}");
        let rationale = r["rationale"].to_string();
        assert!(rationale.contains("HPA scales on CPU at 70%"), "the HPA was read: {rationale}");
    }
    let requests = api.requests();
    for path in [
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/statefulsets",
        "/apis/apps/v1/daemonsets",
        "/apis/batch/v1/cronjobs",
        "/apis/autoscaling/v2/horizontalpodautoscalers",
    ] {
        assert!(requests.iter().any(|r| r.starts_with(path)), "{path} not listed: {requests:?}");
    }
    assert!(api.cluster.lock().unwrap().auth.contains("Bearer fake-token-123"), "kubeconfig credentials used");

    // Namespaces narrow the reads; the back-test replays the cluster's settings as `current`.
    let (backtest_cluster, err) = run(podsizer(&[
        "backtest",
        "-n",
        "shop",
        "-o",
        "json",
        "--train",
        "4d",
        "--holdout",
        "2d",
        "--context",
        "fake",
    ])
    .arg("--kubeconfig")
    .arg(&kubeconfig));
    assert!(backtest_cluster.status.success(), "{err}");
    assert!(api.requests().iter().any(|r| r.starts_with("/apis/apps/v1/namespaces/shop/deployments")));
    let (backtest_overlay, err) =
        run(podsizer(&["backtest", "-o", "json", "--train", "4d", "--holdout", "2d"]).arg("--kustomize").arg(&overlay));
    assert!(backtest_overlay.status.success(), "{err}");
    assert_eq!(backtest_cluster.stdout, backtest_overlay.stdout);
    assert!(String::from_utf8_lossy(&backtest_cluster.stdout).contains("\"current\""));
}

#[test]
fn forbidden_reads_name_the_rbac_rule() {
    let (_dir, overlay) = gitops_copy();
    let api = cluster_of(rendered_objects(&overlay));
    api.fault("/apis/autoscaling/v2", 403, 0, 10);
    let kube_dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(kube_dir.path(), "fake");
    let (output, err) = run(podsizer(&["recommend"]).arg("--kubeconfig").arg(&kubeconfig));
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("error: reading current settings from the cluster: "), "{err}");
    assert!(err.contains("\nhint: the cluster is read for --live"), "the flag is named by the CLI: {err}");
    assert!(err.contains("403 Forbidden listing horizontalpodautoscalers"), "{err}");
    assert!(
        err.contains(r#"apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["list"]"#),
        "{err}"
    );
}

#[test]
fn configmaps_forbidden_leave_only_their_settings_unread() {
    let (_dir, overlay) = gitops_copy();
    let api = cluster_of(rendered_objects(&overlay));
    api.fault("/api/v1/configmaps", 403, 0, 10);
    let kube_dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(kube_dir.path(), "fake");
    let (output, err) = run(podsizer(&["recommend", "-o", "json"]).arg("--kubeconfig").arg(&kubeconfig));
    assert!(output.status.success(), "{err}");
    assert!(err.contains("403 Forbidden listing configmaps"), "{err}");
    assert!(err.contains("php-fpm pool files and nginx.conf in ConfigMaps are not read"), "{err}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let nginx = doc["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == "nginx").unwrap();
    // nginx.conf lives in a ConfigMap: nothing read, nothing proposed; the resources are sized.
    assert!(nginx.get("runtime").is_none(), "{nginx}");
    assert_eq!(nginx["status"], "sized");
}

#[test]
fn drift_between_overlay_and_cluster_is_reported() {
    let (_dir, overlay) = gitops_copy();
    let mut objects = rendered_objects(&overlay);
    for o in &mut objects {
        match o["kind"].as_str() {
            // Someone ran `kubectl set resources` and `kubectl patch hpa` by hand.
            Some("Deployment") => {
                let containers = o["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap();
                let php = containers.iter_mut().find(|c| c["name"] == "php-fpm").unwrap();
                php["resources"]["requests"]["cpu"] = "500m".into();
            }
            Some("HorizontalPodAutoscaler") => o["spec"]["maxReplicas"] = 6.into(),
            _ => {}
        }
    }
    let api = cluster_of(objects);
    let kube_dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(kube_dir.path(), "fake");
    let (output, err) = run(podsizer(&["recommend", "-o", "json", "--dry-run", "--live"])
        .arg("--kustomize")
        .arg(&overlay)
        .env("KUBECONFIG", &kubeconfig));
    assert!(output.status.success(), "{err}");
    let drift: Vec<&str> = err.lines().filter(|l| l.starts_with("drift: ")).collect();
    assert_eq!(
        drift,
        [
            "drift: shop/Deployment/api container php-fpm: CPU request 1 in the overlay, 500m in the cluster",
            "drift: shop/HorizontalPodAutoscaler/api: maxReplicas 12 in the overlay, 6 in the cluster",
        ],
        "{err}"
    );
    // The overlay stays the source of current settings (the patches change it).
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let php = doc["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == "php-fpm").unwrap();
    assert_eq!(php["current"]["cpu"]["request_cores"], 1.0, "{php}");
}

#[test]
fn the_report_names_the_cluster_as_the_source_of_current_settings() {
    let (dir, overlay) = gitops_copy();
    let api = cluster_of(rendered_objects(&overlay));
    let kubeconfig = api.kubeconfig(dir.path(), "fake");
    let out = dir.path().join("report");
    let (output, err) =
        run(podsizer(&["report", "--context", "fake"]).arg("--kubeconfig").arg(&kubeconfig).arg("--out").arg(&out));
    assert!(output.status.success(), "{err}");
    let md = std::fs::read_to_string(out.join("index.md")).unwrap();
    assert!(md.contains("the requests and limits set now in `context fake`"), "{md}");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let flags = doc["containers"].to_string();
    assert!(!flags.contains("current_unknown"), "every container's settings came from the cluster");
    assert!(doc["totals"]["monthly_savings"].as_f64().unwrap() > 0.0);
}

#[test]
fn one_context_takes_one_cluster() {
    let (dir, overlay) = gitops_copy();
    let api = cluster_of(rendered_objects(&overlay));
    let kubeconfig = api.kubeconfig(dir.path(), "fake");
    // A few rows of the same workload from another cluster beside the demo samples (no cluster).
    let csv = dir.path().join("prod-us.csv");
    let rows: String = (0..3)
        .map(|i| format!("prod-us,2026-11-20T10:0{i}:00Z,shop,Deployment,api,api-1,php-fpm,0.5,300Mi\n"))
        .collect();
    std::fs::write(
        &csv,
        format!("cluster,timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n{rows}"),
    )
    .unwrap();
    let live = |extra: &[&str]| {
        let mut cmd = podsizer(&["recommend", "-o", "json", "--force", "--context", "fake"]);
        cmd.arg("--kubeconfig").arg(&kubeconfig).arg("--input").arg(&csv).args(extra);
        run(&mut cmd)
    };
    let (mixed, err) = live(&[]);
    assert_eq!(mixed.status.code(), Some(2), "{err}");
    assert!(err.contains("2 clusters ((no cluster), prod-us) and context fake is one"), "{err}");
    let (chosen, err) = live(&["--cluster", "prod-us"]);
    assert!(chosen.status.success(), "{err}");
    let doc: Value = serde_json::from_slice(&chosen.stdout).unwrap();
    let recs = doc["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["cluster"], "prod-us");
    assert!(recs[0]["current"]["cpu"]["request_cores"].is_number(), "the context's settings apply: {}", recs[0]);
}

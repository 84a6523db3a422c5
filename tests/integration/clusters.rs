//! Clusters in the identity: two clusters with the same workload names in one store stay
//! apart (recommendations, patches, report, back-test), and a store written before clusters
//! were recorded reads and sizes exactly as it did.

use crate::support::demo;
use crate::support::{copy_tree, podsizer, quantity};
use assert_cmd::Command;
use demo::{fixtures, kubectl};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The store committed under fixtures/legacy was written, and its expected outputs printed,
/// by podsizer before the cluster column existed (see fixtures/legacy/README.md).
#[test]
fn a_store_written_before_clusters_sizes_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    copy_tree(&fixtures().join("legacy/store"), &store);
    let expected = |name: &str| std::fs::read_to_string(fixtures().join("legacy").join(name)).unwrap();
    let run = |extra: &[&str]| stdout_of(podsizer().arg("recommend").arg("-i").arg(&store).args(extra));
    // First past the day summaries the old version saved, then from rebuilt ones, then from raw rows.
    let out =
        podsizer().arg("recommend").arg("-i").arg(&store).args(["-o", "json"]).env("PODSIZER_STATS", "1").output();
    let out = out.unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected("recommend.json"));
    let stats = String::from_utf8_lossy(&out.stderr);
    // The old version's summaries carry no checksum: unverifiable, they are rebuilt once from
    // the parts (which give the same figures), and the rebuilt ones are reused.
    assert!(stats.contains("summaries_built: 2"), "{stats}");
    let again =
        podsizer().arg("recommend").arg("-i").arg(&store).args(["-o", "json"]).env("PODSIZER_STATS", "1").output();
    let again = again.unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), expected("recommend.json"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("summaries_reused: 2"));
    assert_eq!(run(&["-o", "json", "--rescan"]), expected("recommend.json"));
    assert_eq!(run(&["-o", "csv"]), expected("recommend.csv"));
    assert_eq!(run(&[]), expected("recommend.txt"));
    // The side file without a cluster still gives current settings and the OOM kill.
    let doc: Value = serde_json::from_str(&run(&["-o", "json"])).unwrap();
    let php = doc["recommendations"].as_array().unwrap().iter().find(|r| r["container"] == "php-fpm").unwrap();
    assert_eq!(php["current"]["cpu"]["request_cores"], 1.0);
    assert!(doc.to_string().contains("OOM kill at the memory limit"));
    assert!(!doc.to_string().contains("\"cluster\""));
}

/// Two days of the demo API at 5-minute steps as CSV; `scale` multiplies every usage figure.
fn samples_csv(dir: &Path, name: &str, scale: f64) -> PathBuf {
    let base = dir.join("base.csv");
    if !base.exists() {
        podsizer()
            .args(["synth", "--scenario", "demo", "--days", "2", "--step", "300s", "--out"])
            .arg(&base)
            .assert()
            .success();
    }
    let text = std::fs::read_to_string(&base).unwrap();
    let mut lines = text.lines();
    let mut out = String::from(lines.next().unwrap());
    out.push('\n');
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        for i in [6, 7] {
            cells[i] = (cells[i].parse::<f64>().unwrap() * scale).to_string();
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// A store with the same workload (shop/Deployment/api) in two clusters, prod-us using twice
/// the resources of prod-eu.
fn fleet_store(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    for (cluster, scale) in [("prod-eu", 1.0), ("prod-us", 2.0)] {
        let csv = samples_csv(dir, &format!("{cluster}.csv"), scale);
        podsizer().arg("import").arg(&csv).arg("--store").arg(&store).args(["--cluster", cluster]).assert().success();
    }
    store
}

fn recommendations(doc: &Value) -> Vec<Value> {
    doc["recommendations"].as_array().unwrap().clone()
}

fn by_cluster<'a>(recs: &'a [Value], cluster: &str, container: &str) -> &'a Value {
    recs.iter().find(|r| r["cluster"] == cluster && r["container"] == container).unwrap()
}

#[test]
fn two_clusters_with_the_same_names_are_sized_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = fleet_store(dir.path());
    let json = |extra: &[&str]| -> Value {
        serde_json::from_str(&stdout_of(
            podsizer().arg("recommend").arg("-i").arg(&store).args(["-o", "json"]).args(extra),
        ))
        .unwrap()
    };
    let all = recommendations(&json(&[]));
    assert_eq!(all.len(), 6, "3 containers in each of 2 clusters");
    for c in ["envoy", "nginx", "php-fpm"] {
        let (eu, us) = (by_cluster(&all, "prod-eu", c), by_cluster(&all, "prod-us", c));
        assert_eq!(eu["samples"], us["samples"], "{c}: each cluster has its own rows, not both");
        let (e, u) = (eu["cpu"]["request_cores"].as_f64().unwrap(), us["cpu"]["request_cores"].as_f64().unwrap());
        assert!(u > 1.5 * e, "{c}: prod-us uses twice the CPU: {u} vs {e}");
    }
    // --cluster keeps one cluster's recommendations, the same as in the full run.
    let eu = recommendations(&json(&["--cluster", "prod-eu"]));
    let eu_in_all: Vec<Value> = all.iter().filter(|r| r["cluster"] == "prod-eu").cloned().collect();
    assert_eq!(eu, eu_in_all);
    // The same rows imported without a cluster size the same as prod-eu does.
    let plain = dir.path().join("plain");
    podsizer().arg("import").arg(dir.path().join("prod-eu.csv")).arg("--store").arg(&plain).assert().success();
    let plain_doc: Value =
        serde_json::from_str(&stdout_of(podsizer().arg("recommend").arg("-i").arg(&plain).args(["-o", "json"])))
            .unwrap();
    let mut plain_recs = recommendations(&plain_doc);
    for (p, e) in plain_recs.iter_mut().zip(&eu) {
        assert!(p.get("cluster").is_none());
        p.as_object_mut().unwrap().insert("cluster".into(), e["cluster"].clone());
    }
    assert_eq!(plain_recs, eu);
    // The table and CSV name the cluster.
    let table = stdout_of(podsizer().arg("recommend").arg("-i").arg(&store));
    assert!(table.starts_with("CLUSTER  "), "{table}");
    assert_eq!(table.lines().filter(|l| l.starts_with("prod-us")).count(), 3, "{table}");
    let csv = stdout_of(podsizer().arg("recommend").arg("-i").arg(&store).args(["-o", "csv"]));
    assert!(csv.starts_with("cluster,namespace,"), "{csv}");
    // A cluster nobody recorded selects nothing.
    let out = podsizer().arg("recommend").arg("-i").arg(&store).args(["--cluster", "staging"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster \"staging\""));
}

fn render(overlay: &Path) -> Vec<serde_norway::Value> {
    let out = std::process::Command::new(kubectl()).arg("kustomize").arg(overlay).output().expect("kubectl runs");
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_norway::Deserializer::from_str(&String::from_utf8(out.stdout).unwrap())
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

#[test]
fn each_cluster_gets_its_own_overlay_and_mixing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = fleet_store(dir.path());
    let gitops = |name: &str| {
        let root = dir.path().join(name);
        copy_tree(&fixtures().join("demo/gitops"), &root);
        root.join("overlays/production")
    };
    // Without --cluster, one overlay for two clusters is refused and nothing is written.
    let mixed = gitops("mixed");
    let before = std::fs::read_to_string(mixed.join("kustomization.yaml")).unwrap();
    let out = podsizer().arg("recommend").arg("-i").arg(&store).arg("--kustomize").arg(&mixed).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 clusters (prod-eu, prod-us)") && err.contains("--cluster NAME"), "{err}");
    assert_eq!(std::fs::read_to_string(mixed.join("kustomization.yaml")).unwrap(), before);
    assert!(!mixed.join("podsizer-deployment-api.yaml").exists());

    let mut requests = Vec::new();
    for cluster in ["prod-eu", "prod-us"] {
        let overlay = gitops(cluster);
        let doc: Value = serde_json::from_str(&stdout_of(
            podsizer()
                .arg("recommend")
                .arg("-i")
                .arg(&store)
                .args(["--cluster", cluster, "-o", "json", "--kustomize"])
                .arg(&overlay),
        ))
        .unwrap();
        let recs = recommendations(&doc);
        assert!(recs.iter().all(|r| r["cluster"] == cluster));
        let rendered = render(&overlay);
        let deployment = rendered.iter().find(|d| d["kind"] == "Deployment").unwrap();
        let containers = deployment["spec"]["template"]["spec"]["containers"].as_sequence().unwrap();
        for c in containers {
            let rec = by_cluster(&recs, cluster, c["name"].as_str().unwrap());
            let res = &c["resources"];
            assert_eq!(quantity(&res["requests"]["cpu"]), rec["cpu"]["request_cores"].as_f64().unwrap());
            assert_eq!(quantity(&res["requests"]["memory"]), rec["memory"]["request_bytes"].as_f64().unwrap());
            assert_eq!(quantity(&res["limits"]["memory"]), rec["memory"]["limit_bytes"].as_f64().unwrap());
        }
        let php = containers.iter().find(|c| c["name"] == "php-fpm").unwrap();
        requests.push(quantity(&php["resources"]["requests"]["cpu"]));
    }
    assert!(requests[1] > 1.5 * requests[0], "each overlay has its own cluster's sizes: {requests:?}");
}

#[test]
fn report_and_backtest_keep_clusters_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = fleet_store(dir.path());
    let out = dir.path().join("report");
    podsizer().arg("-q").arg("report").arg("-i").arg(&store).arg("--out").arg(&out).assert().success();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let containers = doc["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 6);
    let charts: std::collections::BTreeSet<&str> = containers.iter().map(|c| c["chart"].as_str().unwrap()).collect();
    assert_eq!(charts.len(), 6, "no two clusters share a chart file: {charts:?}");
    assert!(charts.iter().all(|c| out.join(c).exists()));
    assert_eq!(doc["workloads"].as_array().unwrap().len(), 2, "one heat map per cluster's workload");
    let md = std::fs::read_to_string(out.join("index.md")).unwrap();
    let (eu, us) = (md.find("### Cluster prod-eu").unwrap(), md.find("### Cluster prod-us").unwrap());
    assert!(eu < us, "the changes table is grouped by cluster");

    let backtest = |extra: &[&str]| -> Value {
        serde_json::from_str(&stdout_of(
            podsizer()
                .arg("backtest")
                .arg("-i")
                .arg(&store)
                .args(["--train", "1d", "--holdout", "12h", "--strategy", "podsizer", "-o", "json"])
                .args(extra),
        ))
        .unwrap()
    };
    let all = backtest(&[]);
    let clusters: Vec<&str> =
        all["containers"].as_array().unwrap().iter().map(|c| c["cluster"].as_str().unwrap()).collect();
    assert_eq!(clusters, ["prod-eu", "prod-eu", "prod-eu", "prod-us", "prod-us", "prod-us"]);
    let us = backtest(&["--cluster", "prod-us"]);
    assert_eq!(us["containers"].as_array().unwrap().len(), 3);
    assert!(us["containers"].as_array().unwrap().iter().all(|c| c["cluster"] == "prod-us"));
}

#[test]
fn synth_records_a_cluster_in_files_and_stores() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("eu.csv");
    let synth = ["synth", "--scenario", "demo", "--days", "1", "--step", "600s", "--cluster", "prod-eu"];
    podsizer().args(synth).arg("--out").arg(&csv).assert().success();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("cluster,timestamp,"), "{}", &text[..80]);
    assert!(text.lines().skip(1).all(|l| l.starts_with("prod-eu,")));
    let store = dir.path().join("store");
    podsizer().args(synth).arg("--store").arg(&store).assert().success();
    for input in [&csv, &store] {
        let doc: Value = serde_json::from_str(&stdout_of(
            podsizer().arg("recommend").arg("--force").arg("-i").arg(input).args(["-o", "json"]),
        ))
        .unwrap();
        let recs = recommendations(&doc);
        assert_eq!(recs.len(), 3);
        assert!(recs.iter().all(|r| r["cluster"] == "prod-eu"), "{input:?}");
    }
}

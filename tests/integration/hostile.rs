//! Names YAML would re-type, a directory where a file must go, a kubectl that hangs: the
//! release binary against a real kustomize (kubectl), checking the overlay and the report
//! are written whole or left exactly as they were.

use crate::support::{files_with_bytes, podsizer, tree_with_bytes as tree};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A base with a Deployment called `yes` whose containers are `null` and `on` (valid names
/// that YAML 1.1 reads as a null and a bool), an overlay, and two days of samples for them.
fn hostile_gitops(dir: &Path) -> (PathBuf, PathBuf) {
    let base = dir.join("base");
    let overlay = dir.join("overlay");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(base.join("kustomization.yaml"), "resources:\n- deployment.yaml\n").unwrap();
    std::fs::write(
        base.join("deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \"yes\"\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: x}\n  template:\n    metadata:\n      labels: {app: x}\n    spec:\n      containers:\n      - name: \"null\"\n        image: nginx:1\n        resources: {requests: {cpu: \"1\", memory: 1Gi}}\n      - name: \"on\"\n        image: envoy:1\n",
    )
    .unwrap();
    std::fs::write(overlay.join("kustomization.yaml"), "resources:\n- ../base\n").unwrap();
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    let start = 1_795_000_000_000_i64;
    for i in 0..300 {
        let ts = podsizer::domain::format_timestamp(start + i * 600_000);
        for c in ["null", "on"] {
            csv.push_str(&format!("{ts},shop,Deployment,yes,yes-1,{c},0.{},{}\n", 1 + i % 5, 50_000_000 + i * 1000));
        }
    }
    let samples = dir.join("samples.csv");
    std::fs::write(&samples, csv).unwrap();
    (overlay, samples)
}

#[test]
fn names_yaml_would_retype_patch_the_right_containers() {
    let dir = tempfile::tempdir().unwrap();
    let (overlay, samples) = hostile_gitops(dir.path());
    let out =
        podsizer().args(["recommend", "--input"]).arg(&samples).arg("--kustomize").arg(&overlay).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let kubectl = std::env::var("PODSIZER_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let rendered = std::process::Command::new(kubectl).arg("kustomize").arg(&overlay).output().unwrap();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let doc: serde_norway::Value = serde_norway::from_slice(&rendered.stdout).unwrap();
    assert_eq!(doc["metadata"]["name"].as_str(), Some("yes"));
    let containers = doc["spec"]["template"]["spec"]["containers"].as_sequence().unwrap();
    let seen: Vec<(Option<&str>, Option<&str>)> =
        containers.iter().map(|c| (c["name"].as_str(), c["image"].as_str())).collect();
    assert_eq!(seen, vec![(Some("null"), Some("nginx:1")), (Some("on"), Some("envoy:1"))]);
    for c in containers {
        assert!(c["resources"]["requests"]["cpu"].as_str().is_some(), "{c:?}");
    }
}

#[test]
fn a_failed_overlay_write_leaves_every_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (overlay, samples) = hostile_gitops(dir.path());
    // A directory where the patch file must go: the kustomization edit must not land either.
    std::fs::create_dir(overlay.join("podsizer-deployment-yes.yaml")).unwrap();
    let before = tree(dir.path());
    let out =
        podsizer().args(["recommend", "--input"]).arg(&samples).arg("--kustomize").arg(&overlay).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("podsizer-deployment-yes.yaml") && stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(tree(dir.path()), before);
}

/// `recommend` of `samples` with patches into `overlay`, by `cmd` (the binary, its environment
/// and any flags before the command).
fn recommend_into(mut cmd: assert_cmd::Command, samples: &Path, overlay: &Path) -> std::process::Output {
    cmd.args(["recommend", "--input"]).arg(samples).arg("--kustomize").arg(overlay).output().unwrap()
}

/// A kubectl that never answers (a remote base that hangs), in `dir`.
fn hung_kubectl(dir: &Path) -> PathBuf {
    let fake = dir.join("kubectl");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fake
}

#[test]
fn a_hung_kubectl_is_stopped_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let (overlay, samples) = hostile_gitops(dir.path());
    let fake = hung_kubectl(dir.path());
    let started = Instant::now();
    let mut cmd = podsizer();
    cmd.env("PODSIZER_KUBECTL", &fake).env("PODSIZER_KUBECTL_TIMEOUT", "1s");
    let out = recommend_into(cmd, &samples, &overlay);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("did not finish within 1s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[test]
fn a_failed_report_write_leaves_last_weeks_report_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (_, samples) = hostile_gitops(dir.path());
    let out_dir = dir.path().join("report");
    let ok = podsizer().args(["report", "--input"]).arg(&samples).arg("--out").arg(&out_dir).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    // Next week's data is another container; its write fails on report.json.
    let json = out_dir.join("report.json");
    std::fs::remove_file(&json).unwrap();
    std::fs::create_dir(&json).unwrap();
    let before = tree(&out_dir);
    let other = std::fs::read_to_string(&samples).unwrap().replace(",on,", ",sidecar,");
    let samples2 = dir.path().join("samples2.csv");
    std::fs::write(&samples2, other).unwrap();
    let out = podsizer().args(["report", "--input"]).arg(&samples2).arg("--out").arg(&out_dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(tree(&out_dir), before, "no chart, page or temp file of the failed run may remain");
}

#[test]
fn collect_exits_2_when_every_round_failed() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    // Port 9 on loopback: nothing listens, every request is refused at once.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:9\"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: x}\n",
    )
    .unwrap();
    let out = podsizer()
        .args(["collect", "metrics-server", "--rounds", "2", "--interval", "1s", "--retries", "0", "--store"])
        .arg(dir.path().join("store"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("all 2 round(s) failed") && stderr.contains("127.0.0.1:9"), "{stderr}");
    assert!(!stderr.contains("will retry"), "{stderr}");
}

#[test]
fn the_same_input_twice_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, samples) = hostile_gitops(dir.path());
    let link = dir.path().join("again.csv");
    std::os::unix::fs::symlink(&samples, &link).unwrap();
    let json = |inputs: &[&Path]| {
        let mut cmd = podsizer();
        cmd.args(["recommend", "-o", "json"]);
        for i in inputs {
            cmd.arg("--input").arg(i);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let once = json(&[&samples]);
    assert_eq!(once["recommendations"][0]["samples"], 300);
    assert_eq!(json(&[&samples, &samples, &link]), once);
}

/// `recommend -o json` over these inputs, with its stderr.
fn recommend_over(inputs: &[&Path]) -> (serde_json::Value, String) {
    let mut cmd = podsizer();
    cmd.arg("recommend").args(["-o", "json", "--window", "30d"]);
    for i in inputs {
        cmd.arg("-i").arg(i);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_store_plus_an_overlapping_export_counts_each_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let csv = |name: &str, days: std::ops::Range<i64>| {
        let path = dir.path().join(name);
        let mut text =
            String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
        for m in days.start * 1440..days.end * 1440 {
            let ts = 1_767_225_600_000i64 + m * 60_000;
            let cpu = if m % 7 == 0 { 0.9 } else { 0.1 + (m % 5) as f64 * 0.01 };
            let mem = 100.0 * 1048576.0 + (m % 11) as f64 * 1048576.0;
            text.push_str(&format!("{},ns,Deployment,w,w-1,c,{cpu},{mem}\n", podsizer::domain::format_timestamp(ts)));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let all = csv("all.csv", 0..4);
    let overlap = csv("days-2-3.csv", 2..4);
    let store = dir.path().join("store");
    podsizer().arg("import").arg("--store").arg(&store).arg(&all).assert().success();
    let (alone, _) = recommend_over(&[&store]);
    let (with_export, notes) = recommend_over(&[&store, &overlap]);
    assert_eq!(alone, with_export, "the export's rows are in the store already");
    assert!(notes.contains("2880 of 2880 row(s) are already in another input"), "{notes}");
    let (files, notes) = recommend_over(&[&overlap, &all]);
    let (one_file, _) = recommend_over(&[&all]);
    assert_eq!(files, one_file, "two overlapping exports count each sample once");
    assert!(
        notes.contains("2880 of 5760 row(s) are already in another input (2880 in an earlier file, 0 in a store)"),
        "{notes}"
    );
}

#[test]
fn a_part_with_flipped_bytes_is_refused_when_read_and_never_read_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let mut text = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    for m in 0..2 * 1440i64 {
        let ts = 1_767_225_600_000i64 + m * 60_000;
        text.push_str(&format!(
            "{},ns,Deployment,w,w-1,c,0.{},{}\n",
            podsizer::domain::format_timestamp(ts),
            1 + m % 8,
            1e8
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let store = dir.path().join("store");
    podsizer().arg("import").arg("--store").arg(&store).arg(&csv).assert().success();
    let (good, _) = recommend_over(&[&store]);
    let part = walk(&store).into_iter().find(|p| p.extension().is_some_and(|e| e == "parquet")).unwrap();
    let name = part.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.contains("-x"), "parts carry a checksum: {name}");
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&part, &bytes).unwrap();
    // The day's saved summary was made from the intact part: still the right answer.
    let (from_summary, _) = recommend_over(&[&store]);
    assert_eq!(good, from_summary);
    // Reading the part itself names it and refuses it.
    let out = podsizer().args(["recommend", "--rescan", "--window", "30d", "-i"]).arg(&store).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&name) && stderr.contains("do not match the checksum"), "{stderr}");
    assert_eq!(std::fs::read(&part).unwrap(), bytes, "the damaged part is left for the user to restore");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    files_with_bytes(dir).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn kubectl_flags_win_over_the_environment_and_the_hint_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let (overlay, samples) = hostile_gitops(dir.path());
    let fake = hung_kubectl(dir.path());
    let run = |flags: &[&std::ffi::OsStr]| {
        let mut cmd = podsizer();
        cmd.env("PODSIZER_KUBECTL", "/nonexistent/kubectl").env_remove("PODSIZER_KUBECTL_TIMEOUT").args(flags);
        let out = recommend_into(cmd, &samples, &overlay);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Flags before the command, over the environment's kubectl.
    let (code, stderr) = run(&["--kubectl".as_ref(), fake.as_os_str(), "--kubectl-timeout".as_ref(), "1s".as_ref()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("did not finish within 1s"), "{stderr}");
    assert!(stderr.contains("\nhint: --kubectl-timeout (or PODSIZER_KUBECTL_TIMEOUT) allows longer"), "{stderr}");
    // No flag: the environment's kubectl, named as tried; the hint names the flag.
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot run `/nonexistent/kubectl kustomize`"), "{stderr}");
    assert!(
        stderr.contains("\nhint: install kubectl, or give its path with --kubectl (or PODSIZER_KUBECTL)"),
        "{stderr}"
    );
    // A timeout that is no duration is a usage error naming the flag, given either way.
    for (env, flag) in [(None, Some("soon")), (Some("0s"), None)] {
        let mut cmd = podsizer();
        if let Some(v) = env {
            cmd.env("PODSIZER_KUBECTL_TIMEOUT", v);
        }
        if let Some(v) = flag {
            cmd.args(["--kubectl-timeout", v]);
        }
        let out = cmd.args(["recommend", "--input"]).arg(&samples).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("invalid value") && stderr.contains("--kubectl-timeout"), "{stderr}");
    }
}

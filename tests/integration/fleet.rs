//! The fleet: the per-cluster CronJob base (deploy/fleet) rendered by the real `kubectl
//! kustomize`, and `fleet summarize` / `fleet report` against moto's S3 with several cluster
//! prefixes: each cluster's numbers equal a single-cluster `recommend` on the same store, and
//! the central run fetches day summaries and side files, never a part.

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::moto::{moto, unique, Moto};

type Doc = serde_norway::Value;

fn render(dir: &Path) -> Option<Vec<Doc>> {
    let kubectl = crate::support::demo::kubectl();
    let out = match std::process::Command::new(&kubectl).arg("kustomize").arg(dir).output() {
        Ok(o) => o,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("\n*** NOTICE: fleet kustomize test SKIPPED: cannot run {kubectl}: {e} ***\n");
            return None;
        }
        Err(e) => panic!("cannot run {kubectl}: {e}"),
    };
    assert!(out.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    Some(serde_norway::Deserializer::from_str(&text).map(|d| serde::Deserialize::deserialize(d).unwrap()).collect())
}

fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect()
}

fn strings(v: &Doc) -> Vec<String> {
    v.as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

/// `$(VAR)` in container args expanded from the ConfigMap the container's envFrom names, as
/// the kubelet does.
fn expand(arg: &str, config: &Doc) -> String {
    let mut out = arg.to_string();
    for (k, v) in config["data"].as_mapping().unwrap() {
        out = out.replace(&format!("$({})", k.as_str().unwrap()), v.as_str().unwrap());
    }
    assert!(!out.contains("$("), "unexpanded variable in {arg}");
    out
}

fn mebibytes(quantity: &str) -> f64 {
    let (n, unit) = quantity.split_at(quantity.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(quantity.len()));
    let n: f64 = n.parse().unwrap();
    match unit {
        "Mi" => n,
        "Gi" => n * 1024.0,
        other => panic!("unexpected unit {other} in {quantity}"),
    }
}

#[test]
fn cronjob_base_and_cluster_overlays_render_with_no_api_rights() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/fleet");
    let Some(base) = render(&deploy.join("base")) else { return };
    // The job reads Prometheus and writes S3: no Kubernetes API right at all, no token mounted.
    for kind in ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"] {
        assert!(of_kind(&base, kind).is_empty(), "{kind} in the base");
    }
    let kinds: BTreeSet<&str> = base.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, BTreeSet::from(["Namespace", "ServiceAccount", "ConfigMap", "CronJob"]));

    for (cluster, role) in [("prod-eu", "111111111111"), ("prod-us", "222222222222")] {
        let docs = render(&deploy.join("overlays").join(cluster)).unwrap();
        assert_eq!(docs.len(), base.len(), "{cluster}: the overlay adds no object");
        let [sa] = of_kind(&docs, "ServiceAccount")[..] else { panic!("one ServiceAccount") };
        let [config] = of_kind(&docs, "ConfigMap")[..] else { panic!("one ConfigMap") };
        let [cron] = of_kind(&docs, "CronJob")[..] else { panic!("one CronJob") };
        assert_eq!(sa["automountServiceAccountToken"].as_bool(), Some(false));
        let arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].as_str().unwrap();
        assert_eq!(arn, format!("arn:aws:iam::{role}:role/podsizer-fleet-{cluster}"));

        assert_eq!(cron["spec"]["schedule"].as_str(), Some("30 1 * * 1"), "weekly, Mondays");
        assert_eq!(cron["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
        let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
        assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
        let import = &pod["initContainers"][0];
        let summarize = &pod["containers"][0];
        let destination = format!("--store=s3://example-podsizer-fleet/fleet/{cluster}");
        for (c, first) in [(import, "import"), (summarize, "fleet")] {
            assert_eq!(c["image"].as_str(), Some("ghcr.io/podsizer/podsizer:0.1.0"));
            assert_eq!(c["envFrom"][0]["configMapRef"]["name"], config["metadata"]["name"]);
            let args: Vec<String> = strings(&c["args"]).iter().map(|a| expand(a, config)).collect();
            assert_eq!(args[0], first);
            assert!(args.contains(&destination), "{cluster}: {args:?}");
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
            assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
            assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
            // Sized from the measured peak (324 MiB summarising 2,700 containers, docs/scale.md):
            // the request holds it with the policy's 10% headroom, the limit is twice the request.
            let request = mebibytes(c["resources"]["requests"]["memory"].as_str().unwrap());
            let limit = mebibytes(c["resources"]["limits"]["memory"].as_str().unwrap());
            assert!(request >= 324.0 * 1.1 && limit == 2.0 * request, "{request} / {limit}");
            assert_eq!(c["resources"]["requests"]["cpu"].as_str(), Some("500m"));
            assert_eq!(c["resources"]["limits"]["cpu"].as_str(), Some("2"));
            let mounts: BTreeSet<String> = c["volumeMounts"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(mounts, BTreeSet::from(["/cache".to_string(), "/tmp".to_string()]));
        }
        assert!(strings(&import["args"]).contains(&"--cluster=$(PODSIZER_CLUSTER)".to_string()));
        assert_eq!(config["data"]["PODSIZER_CLUSTER"].as_str(), Some(cluster));
    }
}

/// Fake credentials and nothing from this machine's AWS setup (as in `s3_store`).
fn podsizer(moto: &Moto, cache: &Path) -> Command {
    let mut cmd = Command::cargo_bin("podsizer").unwrap();
    for var in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("AWS_WEB_IDENTITY_TOKEN_FILE");
    cmd.envs([
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/podsizer-test"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/podsizer-test"),
    ])
    .env("PODSIZER_S3_ENDPOINT", &moto.url)
    .env("PODSIZER_CACHE_DIR", cache);
    cmd
}

fn bucket(moto: &Moto) -> String {
    let name: String = unique("podsizer-fleet")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.chars().take(63).collect::<String>().trim_end_matches('-').to_string();
    ureq::put(&format!("{}/{name}", moto.url)).send_empty().expect("create bucket");
    name
}

fn ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "{stderr}");
    (stdout, stderr)
}

/// Three clusters of different shapes, each written by its own "job" (own cache, own writer).
const CLUSTERS: [(&str, &[&str]); 3] = [
    ("prod-eu", &["--days", "9", "--step", "5m"]),
    ("prod-us", &["--days", "6", "--step", "5m", "--start", "2026-11-18"]),
    ("staging", &["--scenario", "fleet", "--containers", "12", "--days", "4", "--step", "10m"]),
];

struct Fleet {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    root: String,
}

fn fleet(moto: &Moto) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let root = format!("s3://{}/fleet", bucket(moto));
    for (cluster, synth) in CLUSTERS {
        let store = format!("{root}/{cluster}");
        let job = dir.path().join(format!("job-{cluster}"));
        ok(podsizer(moto, &job).arg("synth").args(synth).args(["--cluster", cluster, "--store", &store]));
        let (out, _) = ok(podsizer(moto, &job).args(["fleet", "summarize", "--store", &store]));
        assert!(out.contains("0 summarised already") && !out.contains(" 0 uploaded"), "{out}");
    }
    Fleet { dir: dir.path().to_path_buf(), _dir: dir, root }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn fleet_report_equals_single_cluster_runs_and_reads_only_summaries() {
    let moto = moto();
    let fleet = fleet(&moto);
    let (out_dir, cache) = (fleet.dir.join("report"), fleet.dir.join("central-cache"));
    let (stdout, stderr) = ok(podsizer(&moto, &cache).env("PODSIZER_STATS", "1").args([
        "fleet",
        "report",
        "--from",
        &fleet.root,
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    assert!(stdout.contains("3 cluster(s)"), "{stdout}");

    // Nothing but summaries and side files was fetched: no part reached the central mirror.
    for (cluster, synth) in CLUSTERS {
        let days: usize = synth[synth.iter().position(|a| *a == "--days").unwrap() + 1].parse().unwrap();
        // A synthetic week starts at midnight and ends before the last midnight: `days` day folders.
        let line = stderr.lines().find(|l| l.contains(&format!("cluster={cluster} "))).unwrap();
        assert!(line.contains(&format!("days={days} ")) && line.ends_with("parquet_read=0"), "{line}");
    }
    let mirrored = files_under(&cache);
    assert!(!mirrored.is_empty());
    let parts: Vec<&PathBuf> = mirrored.iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
    assert!(parts.is_empty(), "parts fetched: {parts:?}");
    let summaries = mirrored.iter().filter(|p| p.to_str().unwrap().contains("/derived-usage-x")).count();
    assert_eq!(summaries, 9 + 6 + 4, "one summary per day and cluster");

    // Each cluster's numbers equal `recommend` on that cluster's store over the same whole days.
    let fleet_doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("fleet.json")).unwrap()).unwrap();
    for (i, (cluster, _)) in CLUSTERS.iter().enumerate() {
        let entry = &fleet_doc["clusters"][i];
        assert_eq!(entry["name"], *cluster);
        let (since, until) = (entry["since"].as_str().unwrap(), entry["until"].as_str().unwrap());
        let store = format!("{}/{cluster}", fleet.root);
        let single_cache = fleet.dir.join(format!("single-{cluster}"));
        let (single, _) = ok(podsizer(&moto, &single_cache).args([
            "recommend",
            "-i",
            &store,
            "--since",
            since,
            "--until",
            until,
            "-o",
            "json",
        ]));
        let from_fleet = std::fs::read_to_string(out_dir.join(format!("clusters/{cluster}.json"))).unwrap();
        assert_eq!(from_fleet, single, "{cluster}");
        let doc: serde_json::Value = serde_json::from_str(&from_fleet).unwrap();
        let recs = doc["recommendations"].as_array().unwrap();
        assert!(!recs.is_empty() && recs.iter().all(|r| r["cluster"] == *cluster), "{cluster}");
        assert_eq!(entry["containers"].as_u64(), Some(recs.len() as u64));
    }
    let md = std::fs::read_to_string(out_dir.join("fleet.md")).unwrap();
    for (cluster, _) in CLUSTERS {
        assert!(md.contains(&format!("\n## {cluster}\n")) && md.contains(&format!("| {cluster} | ")), "{md}");
    }
}

#[test]
fn a_day_without_a_current_summary_stops_the_fleet_run_and_summarize_is_idempotent() {
    let moto = moto();
    let fleet = fleet(&moto);
    let store = format!("{}/prod-us", fleet.root);
    let job = fleet.dir.join("job-prod-us");
    // Run again: every day is summarised already; nothing is uploaded, no part is pulled.
    let (out, _) = ok(podsizer(&moto, &job).args(["fleet", "summarize", "--store", &store]));
    assert!(out.contains("6 day(s) in the window: 6 summarised already, 0 summarised now, 0 uploaded"), "{out}");

    // A later import adds a day (and so a part) without summarising: the central run refuses
    // that day, naming it, rather than read its samples.
    let late = fleet.dir.join("late-writer");
    let synth = ["--days", "1", "--step", "5m", "--start", "2026-11-24", "--cluster", "prod-us", "--store", &store];
    ok(podsizer(&moto, &late).arg("synth").args(synth));
    let cache = fleet.dir.join("central");
    let out_dir = fleet.dir.join("report");
    let out = podsizer(&moto, &cache)
        .args(["fleet", "report", "--from", &fleet.root, "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{store}: day 2026-11-24 has no usage summary of its current parts")), "{err}");
    assert!(files_under(&cache).iter().all(|p| p.extension().is_none_or(|e| e != "parquet")));

    // The cluster's job summarises the new day; the fleet run then goes through.
    let (out, _) = ok(podsizer(&moto, &job).args(["fleet", "summarize", "--store", &store]));
    assert!(out.contains("7 day(s) in the window: 6 summarised already, 1 summarised now, 1 uploaded"), "{out}");
    let (stdout, _) = ok(podsizer(&moto, &cache).args([
        "fleet",
        "report",
        "--from",
        &fleet.root,
        "--cluster",
        "prod-us",
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    assert!(stdout.contains("1 cluster(s)"), "{stdout}");
}

/// An overlay that cannot take its cluster's patches (it holds none of its workloads) stops the
/// run before any overlay is written.
#[test]
fn an_overlay_that_cannot_take_its_patches_leaves_every_overlay_as_it_was() {
    let moto = moto();
    let fleet = fleet(&moto);
    let (_tmp, production) = crate::support::demo::gitops_copy();
    let overlays = production.parent().unwrap().to_path_buf();
    std::process::Command::new("cp").arg("-r").arg(&production).arg(overlays.join("prod-eu")).status().unwrap();
    let before = files_under(&overlays).into_iter().map(|p| (std::fs::read(&p).unwrap(), p)).collect::<Vec<_>>();
    // The demo tree's staging overlay (namespace shop-staging) holds none of this staging's workloads.
    let out = podsizer(&moto, &fleet.dir.join("central"))
        .env("PODSIZER_KUBECTL", crate::support::demo::kubectl())
        .args(["fleet", "report", "--from", &fleet.root, "--out", fleet.dir.join("report").to_str().unwrap()])
        .arg("--overlays")
        .arg(&overlays)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("overlays/staging"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = files_under(&overlays).into_iter().map(|p| (std::fs::read(&p).unwrap(), p)).collect::<Vec<_>>();
    assert_eq!(before, after, "no overlay was written");
}

#[test]
fn each_cluster_gets_its_own_overlay_patched() {
    let moto = moto();
    let fleet = fleet(&moto);
    let (_tmp, production) = crate::support::demo::gitops_copy();
    let overlays = production.parent().unwrap().to_path_buf();
    // The demo tree's own staging overlay is another shop's: this fleet's staging has none.
    std::fs::remove_dir_all(overlays.join("staging")).unwrap();
    for (cluster, _) in &CLUSTERS[..2] {
        let status = std::process::Command::new("cp").arg("-r").arg(&production).arg(overlays.join(cluster)).status();
        assert!(status.unwrap().success());
    }
    let out_dir = fleet.dir.join("report");
    let (_, stderr) = ok(podsizer(&moto, &fleet.dir.join("central"))
        .env("PODSIZER_KUBECTL", crate::support::demo::kubectl())
        .args(["fleet", "report", "--from", &fleet.root, "--out", out_dir.to_str().unwrap()])
        .arg("--overlays")
        .arg(&overlays));
    assert!(stderr.contains("no overlay for cluster staging"), "{stderr}");
    assert!(!overlays.join("production/podsizer-deployment-api.yaml").exists(), "not a cluster of the fleet");
    let patch = |cluster: &str| std::fs::read_to_string(overlays.join(cluster).join("podsizer-deployment-api.yaml"));
    let (eu, us) = (patch("prod-eu").unwrap(), patch("prod-us").unwrap());
    assert_ne!(eu, us, "each overlay gets its own cluster's sizes");
    // The same patch as `recommend --kustomize` on that cluster's store alone.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("fleet.json")).unwrap()).unwrap();
    let entry = &doc["clusters"][0];
    let (_tmp2, single) = crate::support::demo::gitops_copy();
    ok(podsizer(&moto, &fleet.dir.join("single"))
        .env("PODSIZER_KUBECTL", crate::support::demo::kubectl())
        .args(["recommend", "-i", &format!("{}/prod-eu", fleet.root)])
        .args(["--since", entry["since"].as_str().unwrap(), "--until", entry["until"].as_str().unwrap()])
        .arg("--kustomize")
        .arg(&single));
    assert_eq!(std::fs::read_to_string(single.join("podsizer-deployment-api.yaml")).unwrap(), eu);
}

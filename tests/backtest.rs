//! Back-test: figures re-computed by hand, a regression guard for the default policy, and
//! the suite's goals on the synthetic scenarios and the public traces.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn backtest_json(args: &[&str]) -> Value {
    let out = Command::cargo_bin("podsizer").unwrap().arg("backtest").args(args).args(["-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn totals<'a>(doc: &'a Value, strategy: &str) -> &'a Value {
    let totals = doc["totals"].as_array().unwrap();
    &totals.iter().find(|t| t[0] == strategy).unwrap_or_else(|| panic!("no {strategy} in {doc}"))[1]
}

#[test]
fn figures_equal_a_recomputation_from_the_raw_samples() {
    // Three days of a container alternating 100m / 300m CPU each minute, memory steady at
    // 64Mi except a 200Mi spike at minute 30 of every holdout hour.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let mut text = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    let start = 1_767_225_600_000i64; // 2026-01-01
    let mut holdout = Vec::new();
    for m in 0..3 * 1440i64 {
        let ts = start + m * 60_000;
        let cpu: f64 = if m % 2 == 0 { 0.1 } else { 0.3 };
        let mem: f64 = if m >= 2 * 1440 && m % 60 == 30 { 200.0 * 1048576.0 } else { 64.0 * 1048576.0 };
        if m >= 2 * 1440 {
            holdout.push((cpu, mem));
        }
        text.push_str(&format!("{},ns,Deployment,w,w-1,c,{cpu},{mem}\n", podsizer::domain::format_timestamp(ts)));
    }
    std::fs::write(&csv, text).unwrap();
    let doc =
        backtest_json(&["--input", csv.to_str().unwrap(), "--train", "2d", "--holdout", "1d", "--strategy", "krr"]);
    let f = totals(&doc, "krr");
    // krr simple: CPU request = p95 of per-pod usage = 300m (no limit); memory = max(64Mi x 1.15, floor 100Mi).
    let (req, mem_req): (f64, f64) = (0.3, ((64.0f64 * 1.15).ceil()).max(100.0) * 1048576.0);
    let n = holdout.len() as f64;
    let cpu_slack = holdout.iter().map(|(c, _)| (req - c).max(0.0)).sum::<f64>() / (req * n);
    let mem_slack = holdout.iter().map(|(_, m)| (mem_req - m).max(0.0)).sum::<f64>() / (mem_req * n);
    let ooms = holdout.iter().filter(|(_, m)| *m > mem_req).count() as u64;
    let cost = (req * 0.04 + mem_req / 1073741824.0 * 0.005) * n / 60.0;
    assert_eq!(f["samples"].as_u64().unwrap(), holdout.len() as u64);
    assert!((f["cpu_slack"].as_f64().unwrap() - cpu_slack).abs() < 1e-5, "{f}");
    assert!((f["memory_slack"].as_f64().unwrap() - mem_slack).abs() < 1e-5, "{f}");
    assert_eq!(f["cpu_over_request"].as_f64().unwrap(), 0.0);
    assert_eq!(f["cpu_over_limit"].as_f64().unwrap(), 0.0);
    assert_eq!(f["oom_kills"].as_u64().unwrap(), ooms, "each spike is one crossing");
    assert!((f["cost_usd"].as_f64().unwrap() - (cost * 100.0).round() / 100.0).abs() < 0.011, "{f} vs {cost}");
}

#[test]
fn default_policy_does_not_get_worse_on_the_committed_fixture() {
    let baseline: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("fixtures/backtest/baseline.json")).unwrap())
            .unwrap();
    let fixture = root().join("fixtures/backtest/scenarios.parquet");
    let doc = backtest_json(&["--input", fixture.to_str().unwrap(), "--strategy", "podsizer,vpa"]);
    let (now, was) = (totals(&doc, "podsizer"), &baseline["podsizer"]);
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap();
    assert!(num(now, "cost_usd") <= num(was, "cost_usd") * 1.005, "cost went up: {now} vs {was}");
    assert!(num(now, "cpu_over_limit") <= num(was, "cpu_over_limit") + 1e-6, "more throttling: {now} vs {was}");
    assert!(num(now, "oom_kills") <= num(was, "oom_kills"), "more OOM kills: {now} vs {was}");
    let vpa = totals(&doc, "vpa");
    assert!(num(now, "cost_usd") <= 0.6 * num(vpa, "cost_usd"), "must stay >= 40% cheaper than vpa");
    assert!(num(now, "cpu_over_limit") <= num(vpa, "cpu_over_limit") + 0.001);
    assert_eq!(num(now, "oom_kills"), 0.0);
}

/// Goals the default policy is known to miss, with the reason (see reports/backtest.md).
/// A miss not listed here fails the test; a listed one that starts passing is fine.
const KNOWN_MISSES: &[(&str, &str)] = &[
    // Smooth job-level series: p50 vs VPA's 1.15 x p90 leaves less than 40% to save.
    ("trace google-2019", "cheaper than vpa"),
    ("trace google-2011", "cheaper than vpa"),
    // An HPA holds per-pod usage near its target: smooth again, so less than 40% to save.
    ("scenario hpa-api", "cheaper than vpa"),
    // One job's memory jumps to 2.3x its 7-day peak on the last day; VPA's 2.4x limit covers it.
    ("trace google-2011", "OOM kills"),
];

#[test]
fn suite_goals_on_scenarios_and_traces() {
    // The public traces are not part of the repository: CI points PODSIZER_TRACES at them when
    // they are on the machine; without it only their part is skipped, loudly.
    let traces = std::env::var_os("PODSIZER_TRACES").map(std::path::PathBuf::from);
    if traces.is_none() {
        eprintln!(
            "\n*** NOTICE: PODSIZER_TRACES is not set: the trace part of the back-test suite is SKIPPED; \
             scenarios still run (docs/traces.md says where to get the traces) ***\n"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out_md = dir.path().join("backtest.md");
    let mut cmd = Command::cargo_bin("podsizer").unwrap();
    cmd.env_remove("PODSIZER_TRACES").arg("backtest-suite").arg("--out").arg(&out_md);
    if let Some(t) = &traces {
        cmd.arg("--traces").arg(t);
    }
    let out = cmd.output().unwrap();
    let md = std::fs::read_to_string(&out_md).unwrap();
    let mut unexpected = Vec::new();
    for line in md.lines().filter(|l| l.starts_with("- ")) {
        let (scope, goals) = line[2..].split_once(": ").unwrap();
        for goal in goals.split("; ").filter(|g| g.starts_with("MISSED")) {
            if !KNOWN_MISSES.iter().any(|(s, g)| *s == scope && goal.contains(g)) {
                unexpected.push(format!("{scope}: {goal}"));
            }
        }
    }
    assert!(unexpected.is_empty(), "new misses:\n{}\n{md}", unexpected.join("\n"));
    assert!(md.matches("| scenario ").count() >= 8 * 5, "{md}");
    if traces.is_some() {
        for family in ["google-2019", "bitbrains", "azure", "google-2011"] {
            assert!(md.contains(&format!("| trace {family} | podsizer |")), "{family} missing:\n{md}");
        }
    }
    // Exit code 1 says some goal was missed; 0 that all were met.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn trace_without_a_traces_folder_says_where_the_traces_are_published() {
    let out = Command::cargo_bin("podsizer")
        .unwrap()
        .env_remove("PODSIZER_TRACES")
        .args(["trace", "google-2019", "--out", "never-written.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["--traces DIR", "PODSIZER_TRACES", "docs/traces.md", "ClusterData2019.md", "gwa-t-12-bitbrains"] {
        assert!(err.contains(needle), "{needle} missing:\n{err}");
    }
    assert!(!Path::new("never-written.csv").exists());
}

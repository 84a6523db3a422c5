//! Back-test: figures re-computed by hand, a regression guard for the default policy, and
//! the suite's goals on the synthetic scenarios and the public traces.

use crate::support::root;
use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

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
    // The per-container 5% bound: 24 spikes of 1440 holdout samples (1.7%) may be above it, so
    // its memory request is the lowest sample, 64Mi: no memory slack, the spikes above. Its CPU
    // settings are podsizer's.
    let both = backtest_json(&[
        "--input",
        csv.to_str().unwrap(),
        "--train",
        "2d",
        "--holdout",
        "1d",
        "--strategy",
        "podsizer,krr",
    ]);
    let bounds = &both["bounds"];
    let bound = &bounds["per_container_5pct"];
    assert!((bound["memory_over_request"].as_f64().unwrap() - 24.0 / 1440.0).abs() < 1e-6, "{bound}");
    assert_eq!(bound["memory_slack"].as_f64().unwrap(), 0.0, "{bound}");
    let ours = totals(&both, "podsizer");
    for k in ["cpu_slack", "cpu_over_request", "cpu_over_limit", "samples"] {
        assert_eq!(bound[k], ours[k], "{k}: {bound} vs {ours}");
    }
    // podsizer's CPU request from its slack (half the samples at 100m, none above 300m):
    // slack = 0.5 x (request - 100m) / request. Its memory request covers the training days'
    // peaks: 64Mi x 1.1 = 71Mi; the bound's is 64Mi.
    let request = 0.1 / (1.0 - 2.0 * ours["cpu_slack"].as_f64().unwrap());
    let cost = |mib: f64| (request * 0.04 + mib / 1024.0 * 0.005) * 24.0;
    assert!((bound["cost_usd"].as_f64().unwrap() - cost(64.0)).abs() < 0.006, "{bound} vs {}", cost(64.0));
    let vs = &bounds["cost_vs_bound"].as_array().unwrap()[0];
    assert_eq!(vs[0], "podsizer");
    assert!((vs[1].as_f64().unwrap() - cost(71.0) / cost(64.0)).abs() < 1e-3, "{vs}");
    // One container: the mean bound is the Lagrangian relaxation of the same choice, never dearer.
    assert!(bounds["mean_5pct_cost_usd"].as_f64().unwrap() <= bound["cost_usd"].as_f64().unwrap(), "{bounds}");
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
    assert!(
        num(now, "memory_over_request") <= num(was, "memory_over_request") + 1e-6,
        "more eviction exposure: {now} vs {was}"
    );
    assert!(num(now, "memory_over_request") <= 0.05, "eviction exposure above 5%: {now}");
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
    // The memory request covers the daily busy hours (p60 of daily peaks x 1.1): where memory
    // is most of the cost, little is left to save against VPA's p90 of daily peaks x 1.15.
    // The nightly job holds its batch memory 44% of the day; Bitbrains VMs hold GiBs.
    ("scenario nightly-batch", "cheaper than vpa"),
    ("scenario canary-30pct", "cheaper than vpa"),
    // A JVM holds its heap all day: memory is most of the cost, as for the nightly job.
    ("scenario startup-burst", "cheaper than vpa"),
    ("trace bitbrains", "cheaper than vpa"),
    // The same: the daily-peaks memory request costs 1.38x the per-container 5% hindsight
    // bound on Bitbrains (`podsizer-risk` 1.16x, but 10% exposure on Google 2019).
    ("trace bitbrains", "per-container 5% bound"),
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

#[test]
fn node_packing_and_eviction_exposure_equal_a_hand_count() {
    // fixtures/backtest/nodes.csv, 10-minute samples. Training (2 days): api pods a and b at
    // 1 core / 1000Mi, batch pod c at 0.5 core / 2000Mi. Holdout (12 steps from the split):
    // a at steps 0-11; b at 0-5 (then stops); c at 3-11, 3500Mi at step 4; a new api pod d at
    // 6-11, 2.6 cores at steps 7 and 8.
    let fixture = root().join("fixtures/backtest/nodes.csv");
    let doc = backtest_json(&[
        "--input",
        fixture.to_str().unwrap(),
        "--split-at",
        "2026-01-03T00:00:00Z",
        "--train",
        "2d",
        "--holdout",
        "2h",
        "--strategy",
        "krr",
        "--node",
        "2c4g",
        "--node",
        "cpu=4,memory=8Gi",
    ]);
    // krr: api requests 1 core and 1000Mi x 1.15 = 1150Mi per pod; batch 0.5 core, 2300Mi.
    // Eviction exposure: only c's 3500Mi sample is above its request: 1 of 33 holdout
    // samples (a 12, b 6, c 9, d 6); per container api 0 of 24, batch 1 of 9.
    let f = totals(&doc, "krr");
    assert_eq!(f["samples"].as_u64().unwrap(), 33);
    assert!((f["memory_over_request"].as_f64().unwrap() - 1.0 / 33.0).abs() < 1e-6, "{f}");
    let mean = &doc["mean_eviction_exposure"].as_array().unwrap()[0];
    assert!((mean[1].as_f64().unwrap() - f64::midpoint(0.0, 1.0 / 9.0)).abs() < 1e-6, "{mean}");
    let nodes = doc["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    let figures = |i: usize| nodes[i]["strategies"][0][1].clone();
    // 2 cores / 4 GiB, first-fit decreasing by the dominant share (api 0.5, batch 0.56):
    // steps 0-2 a + b on one node; 3-5 c, a on node 0, b on node 1; 6-11 c, a | d.
    // 3 x 1 + 3 x 2 + 6 x 2 = 21 node-steps of 10 minutes.
    let small = figures(0);
    assert_eq!(nodes[0]["pods"].as_u64().unwrap(), 4);
    assert_eq!(small["peak_nodes"].as_u64().unwrap(), 2);
    assert_eq!(small["node_minutes"].as_f64().unwrap(), 210.0);
    assert_eq!(small["mean_nodes"].as_f64().unwrap(), 1.75);
    // Step 4: a (1000Mi) + c (3500Mi) on node 0 > 4096Mi. Steps 7-8: d's 2.6 cores alone on
    // node 1 > 2 cores.
    assert_eq!(small["memory_pressure_node_minutes"].as_f64().unwrap(), 10.0);
    assert_eq!(small["cpu_contention_node_minutes"].as_f64().unwrap(), 20.0);
    // 2 of the 21 node-steps contended.
    assert!((small["cpu_contention_share"].as_f64().unwrap() - 2.0 / 21.0).abs() < 1e-12, "{small}");
    // $0.04 x 2 + $0.005 x 4 = $0.10 per node-hour x 3.5 node-hours.
    assert!((small["cost_usd"].as_f64().unwrap() - 0.35).abs() < 1e-9, "{small}");
    // 4 cores / 8 GiB: every pod fits one node (at most 2.5 cores, 4600Mi requested). Steps
    // 7-8: a 1 + c 0.5 + d 2.6 = 4.1 cores > 4; memory at most 5500Mi < 8Gi.
    let big = figures(1);
    assert_eq!((big["peak_nodes"].as_u64().unwrap(), big["node_minutes"].as_f64().unwrap()), (1, 120.0));
    assert_eq!(big["memory_pressure_node_minutes"].as_f64().unwrap(), 0.0);
    assert_eq!(big["cpu_contention_node_minutes"].as_f64().unwrap(), 20.0);
    assert!((big["cpu_contention_share"].as_f64().unwrap() - 2.0 / 12.0).abs() < 1e-12, "{big}");
    assert!((big["cost_usd"].as_f64().unwrap() - 0.40).abs() < 1e-9, "{big}");
}

#[test]
fn the_suite_replays_the_verdict_rules_on_every_holdout() {
    let dir = tempfile::tempdir().unwrap();
    let out_md = dir.path().join("backtest.md");
    let out = Command::cargo_bin("podsizer")
        .unwrap()
        .env_remove("PODSIZER_TRACES")
        .args(["backtest-suite", "--out"])
        .arg(&out_md)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(&out_md).unwrap();
    let section = &md[md.find("## Verdicts on the holdout").expect("the verdict section")..];
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| scenario ")).collect();
    // Ten scopes (canary-30pct twice) x seven strategies; the hindsight bounds are left out.
    assert_eq!(rows.len(), 10 * 7, "{section}");
    // plain-2x's nightly-batch memory limit is OOM-killed 16 times in the one holdout: harmed, and flagged.
    assert!(rows.contains(&"| scenario nightly-batch | plain-2x | 1 | 100.0% | 0 | - |"), "{section}");
    // podsizer's diurnal-api proposals: no harm, and no flag on any of the three containers.
    assert!(rows.contains(&"| scenario diurnal-api | podsizer | 0 | - | 3 | 0.0% |"), "{section}");
}

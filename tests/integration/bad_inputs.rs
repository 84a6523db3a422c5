//! The corpus of hostile and careless inputs under `fixtures/bad/`: each file is one case,
//! run against the binary; its exit code and message are a snapshot
//! (`tests/snapshots/bad_inputs__*.snap`), and no case may create or change a store.
//!
//! - `*.csv`, `*.parquet`: `recommend --input FILE`, then `import FILE --store` (must not
//!   create the store);
//! - `policy-*.toml`: `recommend` of the demo samples with `--policy FILE`;
//! - `*.args`: the arguments, one a line.

use crate::support::root;
use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn podsizer() -> Command {
    let mut cmd = Command::cargo_bin("podsizer").unwrap();
    cmd.current_dir(root());
    cmd
}

/// Exit code and stderr, with the scratch folder's path taken out.
fn outcome(cmd: &mut Command, scratch: &Path) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&scratch.display().to_string(), "SCRATCH");
    (out.status.code(), stderr)
}

fn args_of(case: &Path, name: &str) -> Vec<String> {
    let rel = format!("fixtures/bad/{name}");
    match case.extension().and_then(|e| e.to_str()) {
        Some("args") => std::fs::read_to_string(case).unwrap().lines().map(String::from).collect(),
        Some("toml") => {
            ["recommend", "--input", "fixtures/demo/samples.parquet", "--policy", &rel].map(String::from).to_vec()
        }
        _ => ["recommend", "--input", &rel].map(String::from).to_vec(),
    }
}

#[test]
fn every_bad_input_exits_2_naming_input_and_field() {
    let scratch = tempfile::tempdir().unwrap();
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(root().join("fixtures/bad")).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(cases.len() >= 20, "the corpus shrank: {cases:?}");
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap().to_string();
        let (code, stderr) = outcome(podsizer().args(args_of(case, &name)), scratch.path());
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        if !name.ends_with(".args") {
            assert!(stderr.contains(&name), "{name}: the message must name the input: {stderr}");
        }
        insta::assert_snapshot!(name.replace('.', "_"), format!("exit {}\n{stderr}", code.unwrap()));
        if name.ends_with(".csv") || name.ends_with(".parquet") {
            let store = scratch.path().join(format!("store-{name}"));
            let (code, stderr) = outcome(podsizer().arg("import").arg(case).arg("--store").arg(&store), scratch.path());
            assert_eq!(code, Some(2), "import {name}: {stderr}");
            assert!(!store.exists(), "import {name} left a store behind");
        }
    }
}

/// Writes the Parquet cases whose timestamps are int64 in the wrong unit or out of any
/// calendar. Run with `--ignored` to regenerate them; the files are committed.
#[test]
#[ignore]
fn regenerate_parquet_cases() {
    use polars::prelude::*;
    let good = 1_795_000_000_000_i64; // 2026-11-18, epoch ms
    for (name, ts) in [
        ("int64-nanoseconds.parquet", good * 1_000_000),
        ("int64-seconds.parquet", good / 1000),
        ("int64-2pow62.parquet", 1_i64 << 62),
        ("int64-minus-2pow62.parquet", -(1_i64 << 62)),
    ] {
        let n = 2;
        let text = |v: &str| Column::new(v.into(), vec![v; n]);
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new("timestamp".into(), vec![good, ts]),
                text("namespace"),
                text("workload_kind"),
                text("workload"),
                text("pod"),
                text("container"),
                Column::new("cpu_cores".into(), vec![0.1, 0.1]),
                Column::new("memory_bytes".into(), vec![1e6, 1e6]),
            ],
        )
        .unwrap();
        let path = root().join("fixtures/bad").join(name);
        ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(&mut df).unwrap();
    }
}

/// One container every 10 minutes for 4 days, then (when `bad_last`) a row 6 days later with a
/// negative CPU: with `--skip-bad-rows` it is skipped, so it must not end the window.
fn written_rows(dir: &Path, name: &str, bad_last: bool) -> (PathBuf, PathBuf) {
    use podsizer::domain::Sample;
    let start = 1_795_000_000_000_i64;
    let mut samples: Vec<Sample> = (0..4 * 144)
        .map(|i| Sample {
            timestamp_ms: start + i * 600_000,
            namespace: "shop".into(),
            workload_kind: "Deployment".into(),
            workload: "api".into(),
            pod: format!("api-{}", i / 200),
            container: "php".into(),
            cpu_cores: 0.1 + (i % 13) as f64 * 0.02,
            memory_bytes: 1e8 + (i % 7) as f64 * 1e6,
            cluster: String::new(),
        })
        .collect();
    if bad_last {
        let last = samples.last().unwrap().clone();
        samples.push(Sample { timestamp_ms: last.timestamp_ms + 6 * 86_400_000, cpu_cores: -1.0, ..last });
    }
    let mut df = podsizer::sources::files::samples_to_frame(&samples).unwrap();
    let parquet = dir.join(format!("{name}.parquet"));
    let file = std::fs::File::create(&parquet).unwrap();
    polars::prelude::ParquetWriter::new(file).with_row_group_size(Some(100)).finish(&mut df).unwrap();
    let mut csv = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    for s in &samples {
        let ts = podsizer::domain::format_timestamp(s.timestamp_ms);
        csv.push_str(&format!("{ts},shop,Deployment,api,{},php,{},{}\n", s.pod, s.cpu_cores, s.memory_bytes));
    }
    let csv_path = dir.join(format!("{name}.csv"));
    std::fs::write(&csv_path, csv).unwrap();
    (parquet, csv_path)
}

#[test]
fn a_skipped_newest_row_does_not_end_the_window_of_a_lone_file() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, bad_csv) = written_rows(dir.path(), "bad", true);
    let (clean, _) = written_rows(dir.path(), "clean", false);
    let run = |input: &Path, extra: &[&str]| {
        let out = podsizer()
            .args(["recommend", "-o", "json", "--skip-bad-rows", "--window", "3d"])
            .arg("-i")
            .arg(input)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for extra in [&[][..], &["--until", "2026-11-21"], &["--traffic-share", "api=0.5"], &["-n", "other"]] {
        let (code, json, stderr) = run(&bad, extra);
        let (clean_code, clean_json, clean_stderr) = run(&clean, extra);
        let (_, csv_json, csv_stderr) = run(&bad_csv, extra);
        assert_eq!((code, &json), (clean_code, &clean_json), "{extra:?}: as if the bad row were not there: {stderr}");
        assert_eq!(json, csv_json, "{extra:?}: Parquet and CSV give the same answer");
        if code == Some(0) {
            let warning = "bad.parquet: skipped 1 bad row(s); first: line 577: field `cpu_cores`";
            assert!(stderr.contains(warning), "{stderr}");
            assert!(csv_stderr.contains("bad.csv: skipped 1 bad row(s); first: line 578"), "{csv_stderr}");
        } else {
            assert_eq!((&stderr, &stderr), (&clean_stderr, &csv_stderr), "{extra:?}: the same error");
        }
    }
    assert_eq!(run(&bad, &["-n", "other"]).0, Some(2), "nothing selected is an error");
}

//! Byte-for-byte outputs of the main paths, kept under `fixtures/golden/`: the demo (its table,
//! its notes and the GitOps tree it leaves), `recommend` in every format, the back-test on the
//! committed fixtures and the sample report in `reports/sample/`. A refactor that changes any
//! byte fails here; a change meant to move the numbers re-blesses with `PODSIZER_BLESS=1`
//! and the diff shows in review.

use crate::support::{files_with_bytes, kubectl, podsizer, root};
use std::path::Path;

/// Compares `actual` with `fixtures/golden/NAME`, or writes it there when blessing.
fn golden(name: &str, actual: &[u8]) {
    let path = root().join("fixtures/golden").join(name);
    if std::env::var_os("PODSIZER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (bless with PODSIZER_BLESS=1)", path.display()));
    assert!(
        expected == actual,
        "{} differs from this run's output:\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

/// Every file under `dir`, sorted, as `== path\ncontent`.
fn listing(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, bytes) in files_with_bytes(dir) {
        out.extend_from_slice(format!("== {}\n", path.strip_prefix(dir).unwrap().display()).as_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn stdout_of(args: &[&str]) -> Vec<u8> {
    let out = podsizer().current_dir(root()).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn demo_table_notes_and_patched_tree() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = podsizer().env("PODSIZER_KUBECTL", kubectl()).arg("demo").arg("--out").arg(&out).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    golden("demo/stdout.txt", &run.stdout);
    let notes = String::from_utf8_lossy(&run.stderr).replace(out.to_str().unwrap(), "<OUT>");
    golden("demo/stderr.txt", notes.as_bytes());
    golden("demo/gitops.txt", &listing(&out.join("gitops")));
}

#[test]
fn recommend_in_every_format() {
    for format in ["table", "json", "yaml", "csv"] {
        let bytes = stdout_of(&["recommend", "--input", "fixtures/demo/samples.parquet", "-o", format]);
        golden(&format!("recommend/demo.{format}"), &bytes);
    }
    let bytes = stdout_of(&[
        "recommend",
        "--input",
        "fixtures/demo/samples.parquet",
        "--kustomize",
        "fixtures/demo/gitops/overlays/production",
        "--dry-run",
        "-o",
        "json",
    ]);
    golden("recommend/demo-overlay-dry-run.json", &bytes);
}

#[test]
fn backtest_on_the_committed_fixtures() {
    for format in ["table", "json"] {
        let bytes = stdout_of(&["backtest", "--input", "fixtures/backtest/scenarios.parquet", "-o", format]);
        golden(&format!("backtest/scenarios.{format}"), &bytes);
    }
    let bytes = stdout_of(&[
        "backtest",
        "--input",
        "fixtures/demo/samples.parquet",
        "--kustomize",
        "fixtures/demo/gitops/overlays/production",
        "--train",
        "4d",
        "--holdout",
        "3d",
        "-o",
        "json",
    ]);
    golden("backtest/demo-overlay.json", &bytes);
}

#[test]
fn the_sample_report_regenerates_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sample");
    podsizer()
        .current_dir(root())
        .args(["report", "--input", "fixtures/demo/samples.parquet"])
        .args(["--kustomize", "fixtures/demo/gitops/overlays/production", "--out"])
        .arg(&out)
        .assert()
        .success();
    let committed = listing(&root().join("reports/sample"));
    let fresh = listing(&out);
    assert!(
        committed == fresh,
        "reports/sample differs from a fresh `podsizer report` (regenerate it as the README says)"
    );
}

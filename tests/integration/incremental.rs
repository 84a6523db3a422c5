//! Incremental sizing: stores keep per-day usage summaries beside their partitions, and a run
//! that reuses them must give exactly what a run over the raw samples gives.

use crate::support::podsizer;
use std::path::{Path, PathBuf};

/// `recommend -o json` with `PODSIZER_STATS=1`: the output and the store's day statistics.
fn recommend(args: &[&str]) -> (serde_json::Value, String) {
    let out = podsizer().env("PODSIZER_STATS", "1").arg("recommend").args(args).args(["-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stats = stderr.lines().filter(|l| l.starts_with("stats: store=")).collect::<Vec<_>>().join("\n");
    (serde_json::from_slice(&out.stdout).unwrap(), stats)
}

fn stats_of(days: u64, reused: u64, built: u64, partial: u64) -> String {
    format!(
        "DayStats {{ days: {days}, summaries_reused: {reused}, summaries_built: {built}, partial_days: {partial} }}"
    )
}

fn import(store: &Path, file: &Path) {
    podsizer().args(["import", "--store"]).arg(store).arg(file).assert().success();
}

/// Splits a sample CSV into the rows before and from `day` (YYYY-MM-DD).
fn split_csv(all: &Path, day: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(all).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let (mut before, mut after) = (format!("{header}\n"), format!("{header}\n"));
    for line in lines {
        let target = if line.as_bytes()[..10] < *day.as_bytes() { &mut before } else { &mut after };
        target.push_str(line);
        target.push('\n');
    }
    let (a, b) = (dir.join("before.csv"), dir.join("after.csv"));
    std::fs::write(&a, before).unwrap();
    std::fs::write(&b, after).unwrap();
    (a, b)
}

#[test]
fn summaries_are_reused_refreshed_by_new_days_and_equal_raw_sizing() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.csv");
    podsizer()
        .args(["synth", "--scenario", "fleet", "--containers", "30", "--days", "9", "--start", "2026-11-01", "--out"])
        .arg(&all)
        .assert()
        .success();
    let (first8, day9) = split_csv(&all, "2026-11-09", dir.path());
    let store = dir.path().join("store");
    import(&store, &first8);
    let input = ["--window", "5d", "--input", store.to_str().unwrap()];

    // The 5-day window cuts the oldest of the six days it touches.
    let (first, stats) = recommend(&input);
    assert!(stats.contains(&stats_of(6, 0, 6, 1)), "{stats}");
    let (second, stats) = recommend(&input);
    assert!(stats.contains(&stats_of(6, 6, 0, 1)), "{stats}");
    assert_eq!(first, second);
    let (from_rows, _) = recommend(&["--window", "5d", "--input", first8.to_str().unwrap()]);
    assert_eq!(first, from_rows, "summaries give what raw rows give");

    // A new day: only it is read from raw samples (and the cut oldest day, as always).
    import(&store, &day9);
    let (after, stats) = recommend(&input);
    assert!(stats.contains(&stats_of(6, 5, 1, 1)), "{stats}");
    let (rescanned, stats) = recommend(&[&input[..], &["--rescan"]].concat());
    assert!(stats.contains(&stats_of(6, 0, 6, 1)), "{stats}");
    let (from_rows, _) = recommend(&["--window", "5d", "--input", all.to_str().unwrap()]);
    assert_eq!(after, rescanned);
    assert_eq!(after, from_rows);
    assert_ne!(after, first, "the new day moved the window");

    // Filters apply to summaries as to rows.
    let filtered = [&input[..], &["-n", "team-03"]].concat();
    let (from_summaries, _) = recommend(&filtered);
    let (from_rows, _) = recommend(&["--window", "5d", "-n", "team-03", "--input", all.to_str().unwrap()]);
    assert_eq!(from_summaries, from_rows);
    let recs = from_rows["recommendations"].as_array().unwrap();
    assert!(!recs.is_empty() && recs.iter().all(|r| r["namespace"] == "team-03"));
}

#[test]
fn a_damaged_summary_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    podsizer()
        .args(["synth", "--scenario", "fleet", "--containers", "9", "--days", "3", "--store"])
        .arg(&store)
        .assert()
        .success();
    let input = ["--input", store.to_str().unwrap()];
    let (clean, _) = recommend(&input);
    let mut damaged = 0;
    for day in std::fs::read_dir(&store).unwrap() {
        let day = day.unwrap().path();
        // `derived-usage-x<checksum>.bin`: the one summary of the day.
        let summary = std::fs::read_dir(&day)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("derived-usage-x"));
        if let Some(summary) = summary {
            let mut bytes = std::fs::read(&summary).unwrap();
            let n = bytes.len();
            bytes.truncate(n - n / 3);
            std::fs::write(&summary, bytes).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 3);
    let out = podsizer().env("PODSIZER_STATS", "1").arg("recommend").args(input).args(["-o", "json"]).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches("usage summary damaged").count(), 3, "each damaged day is told: {stderr}");
    assert!(stderr.contains(&stats_of(3, 0, 3, 0)), "{stderr}");
    assert_eq!(clean, serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap());
    let (again, stats) = recommend(&input);
    assert!(stats.contains(&stats_of(3, 3, 0, 0)), "rebuilt once: {stats}");
    assert_eq!(clean, again);
}

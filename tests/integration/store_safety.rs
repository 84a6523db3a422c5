//! What a store and the sample files read beside it may not get wrong, whatever their bytes or
//! layout: a damaged day summary is never used, a filtered selection sizes from its own window,
//! each (series, timestamp) measurement counts once on every read path, Parquet column types
//! the reader does not take are an error naming the column, and `synth` refuses absurd sizes.

use crate::support::{copy_tree, podsizer, root};
use podsizer::domain::{Sample, DAY_MS};
use podsizer::engine::selection::{InputSpec, SelectionSettings};
use podsizer::engine::sizing::{size_all, SizingSettings};
use podsizer::engine::{Note, Silent};
use podsizer::store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::path::{Path, PathBuf};

fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(30), failure_persistence: None, ..Config::default() }
}

/// 2026-11-16T00:00:00Z.
const START: i64 = 1_794_787_200_000;

/// `days` days of two pods of one container every `step_min` minutes, figures that differ
/// from row to row (so a repeated or lost row moves a percentile).
fn samples(days: i64, step_min: i64) -> Vec<Sample> {
    let mut rows = Vec::new();
    for pod in ["api-7c9d-a", "api-7c9d-b"] {
        for i in 0..days * 1440 / step_min {
            let wave = ((i * 37 + pod.len() as i64 * 11) % 97) as f64;
            rows.push(Sample {
                timestamp_ms: START + i * step_min * 60_000,
                namespace: "shop".into(),
                workload_kind: "Deployment".into(),
                workload: "api".into(),
                pod: pod.into(),
                container: "php-fpm".into(),
                cpu_cores: 0.05 + wave / 200.0,
                memory_bytes: 1.5e8 + wave * 1.3e6,
                ..Default::default()
            });
        }
    }
    rows
}

/// A sizing run from library code: every figure of every recommendation (as debug text), and
/// the run's notes.
fn size(inputs: Vec<InputSpec>, cluster: Option<&str>) -> Result<(String, Vec<Note>), String> {
    let settings = SelectionSettings {
        inputs,
        window_ms: Some(14 * DAY_MS),
        cluster: cluster.map(String::from),
        ..Default::default()
    };
    let sizing = SizingSettings { force: true, ..Default::default() };
    let run = size_all(settings, &sizing, &Silent).map_err(|e| podsizer::engine::chain(&e))?;
    Ok((format!("{:?}", run.recommendations), run.notes))
}

fn size_paths(paths: &[&Path]) -> (String, Vec<Note>) {
    size(paths.iter().map(|p| InputSpec::Path(p.to_path_buf())).collect(), None).unwrap()
}

fn store_of(dir: &Path, rows: Vec<Sample>) -> PathBuf {
    let store = Store::open_or_create(dir).unwrap();
    store.append(rows).unwrap();
    dir.to_path_buf()
}

/// The one usage summary file of each day of a store.
fn summaries(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .flat_map(|day| std::fs::read_dir(day.unwrap().path()).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("derived-usage"))
        .collect();
    files.sort();
    files
}

/// Sizes `store` with `summary` holding `bytes`: the figures must be the clean run's, and the
/// damage told in a warning naming the file; afterwards the day holds the rebuilt summary.
fn assert_damage_is_caught(store: &Path, summary: &Path, good: &[u8], bytes: &[u8], clean: &str) {
    std::fs::write(summary, bytes).unwrap();
    let (figures, notes) = size_paths(&[store]);
    assert_eq!(figures, clean, "a damaged summary moved a figure");
    let name = summary.file_name().unwrap().to_str().unwrap();
    let told = notes.iter().any(|n| matches!(n, Note::Warning(w) if w.contains(name) && w.contains("damaged")));
    assert!(told, "no warning naming {name}: {notes:?}");
    assert_eq!(std::fs::read(summary).unwrap(), good, "the summary is rebuilt in place");
}

#[test]
fn every_single_byte_change_of_a_day_summary_is_caught_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), samples(1, 10));
    let (clean, notes) = size_paths(&[&store]);
    assert!(notes.is_empty(), "{notes:?}");
    let [summary] = summaries(&store).try_into().expect("one day, one summary");
    let good = std::fs::read(&summary).unwrap();
    // Every byte, each bit pattern a flip or a careless edit can leave.
    for at in 0..good.len() {
        let mut bytes = good.clone();
        bytes[at] ^= if at % 2 == 0 { 0x01 } else { 0x80 };
        assert_damage_is_caught(&store, &summary, &good, &bytes, &clean);
    }
    proptest!(config(96), |(at in 0..good.len(), value in any::<u8>())| {
        prop_assume!(good[at] != value);
        let mut bytes = good.clone();
        bytes[at] = value;
        assert_damage_is_caught(&store, &summary, &good, &bytes, &clean);
    });
}

#[test]
fn a_summary_without_a_checksum_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of(dir.path(), samples(1, 10));
    let (clean, _) = size_paths(&[&store]);
    let [summary] = summaries(&store).try_into().unwrap();
    // The same bytes under the name summaries had before they carried a checksum, one figure
    // byte changed: unverifiable, so never read.
    let mut bytes = std::fs::read(&summary).unwrap();
    let last = bytes.len() - 9;
    bytes[last] ^= 0x40;
    std::fs::remove_file(&summary).unwrap();
    let legacy = summary.with_file_name("derived-usage.bin");
    std::fs::write(&legacy, bytes).unwrap();
    let (figures, _) = size_paths(&[&store]);
    assert_eq!(figures, clean);
    assert_eq!(summaries(&store), [summary], "the unverifiable summary is replaced");
}

/// The demo API in `cluster` for `days` days from `start`, as CSV.
fn synth_csv(dir: &Path, cluster: &str, start: &str, days: &str) -> PathBuf {
    let path = dir.join(format!("{cluster}.csv"));
    podsizer()
        .args(["synth", "--scenario", "demo", "--step", "300s", "--days", days, "--start", start, "--cluster", cluster])
        .arg("--out")
        .arg(&path)
        .assert()
        .success();
    path
}

fn import(store: &Path, files: &[&Path]) {
    podsizer().args(["import", "--store"]).arg(store).args(files).assert().success();
}

fn recommend_json(args: &[&str]) -> String {
    let out = podsizer().arg("recommend").args(args).args(["-o", "json", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_cluster_is_sized_from_its_own_newest_day_not_the_fleets() {
    let dir = tempfile::tempdir().unwrap();
    // `old` stopped reporting ten days before `new`'s newest sample: the fleet's default window
    // (14 days back from its newest sample) would hold four of `old`'s days.
    let old = synth_csv(dir.path(), "old", "2026-11-01", "10");
    let new = synth_csv(dir.path(), "new", "2026-11-11", "10");
    let (fleet, alone) = (dir.path().join("fleet"), dir.path().join("alone"));
    import(&fleet, &[&old, &new]);
    import(&alone, &[&old]);
    let expected = recommend_json(&["-i", alone.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(doc["recommendations"][0]["samples"], 8640, "ten days of 3 pods at 5 minutes: {expected}");
    let from_fleet = ["-i", fleet.to_str().unwrap(), "--cluster", "old"];
    assert_eq!(recommend_json(&from_fleet), expected, "the fleet's newer days must not shorten old's window");
    // Again from the saved day summaries, and from the fleet's export as one file.
    assert_eq!(recommend_json(&from_fleet), expected);
    let both = dir.path().join("both.csv");
    let text = std::fs::read_to_string(&new).unwrap();
    let rows = text.split_once('\n').unwrap().1;
    std::fs::write(&both, std::fs::read_to_string(&old).unwrap() + rows).unwrap();
    assert_eq!(recommend_json(&["-i", both.to_str().unwrap(), "--cluster", "old"]), expected);
    assert_eq!(
        recommend_json(&["-i", old.to_str().unwrap(), "-i", new.to_str().unwrap(), "--cluster", "old"]),
        expected
    );
    // A namespace filter is a selection too.
    let ns = ["-i", fleet.to_str().unwrap(), "--cluster", "old", "-n", "shop"];
    assert_eq!(recommend_json(&ns), expected);
}

/// Rows as CSV in the given order (repeats and all).
fn write_csv(path: &Path, rows: &[Sample]) {
    let mut text = String::from("timestamp,namespace,workload_kind,workload,pod,container,cpu_cores,memory_bytes\n");
    for s in rows {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            podsizer::domain::format_timestamp(s.timestamp_ms),
            s.namespace,
            s.workload_kind,
            s.workload,
            s.pod,
            s.container,
            s.cpu_cores,
            s.memory_bytes
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// Copies every part of `from` into the same day of `into` (as a careless `cp` would).
fn copy_parts(from: &Path, into: &Path) {
    for (_, day) in Store::open(from).unwrap().partitions().unwrap() {
        let target = into.join(day.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        for part in Store::parts(&day).unwrap() {
            std::fs::copy(&part, target.join(part.file_name().unwrap())).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(config(24))]

    /// Repeats inside one file, across files, across parts of a day and through a part copied
    /// in from another store give exactly what the de-duplicated data gives.
    #[test]
    fn repeated_measurements_count_once_on_every_read_path(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..60),
        shuffle in any::<bool>(),
        cut in 1usize..100,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = samples(2, 30);
        let repeats: Vec<Sample> = picks.iter().map(|i| base[i.index(base.len())].clone()).collect();
        let clean = dir.path().join("clean.csv");
        write_csv(&clean, &base);
        let (expected, _) = size_paths(&[&clean]);

        // One file: the rows, then the repeats (or the repeats mixed in, out of any order).
        let mut with_repeats = base.clone();
        with_repeats.extend(repeats.iter().cloned());
        if shuffle {
            with_repeats.sort_by_key(|s| (s.timestamp_ms.rem_euclid(7), s.timestamp_ms, s.pod.clone()));
        }
        let one = dir.path().join("one.csv");
        write_csv(&one, &with_repeats);
        let (figures, notes) = size_paths(&[&one]);
        prop_assert_eq!(&figures, &expected, "one file");
        let told = notes.iter().any(|n| matches!(n, Note::Warning(w) if w.contains(&format!("{} row(s) repeat", repeats.len()))));
        prop_assert!(told, "{:?}", notes);

        // Two files that overlap, each with repeats of its own.
        let split = base.len() * cut / 100;
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        write_csv(&a, &[&base[..split.max(1)], &repeats[..]].concat());
        write_csv(&b, &[&base[split.saturating_sub(5)..], &repeats[..]].concat());
        prop_assert_eq!(&size_paths(&[&a, &b]).0, &expected, "two files");

        // A store, a second store's parts holding some of the same rows copied into its days.
        let store = store_of(&dir.path().join("store"), base.clone());
        let other = store_of(&dir.path().join("other"), repeats.clone());
        copy_parts(&other, &store);
        prop_assert_eq!(&size_paths(&[&store]).0, &expected, "a copied part");
        // The store plus files holding the same rows.
        prop_assert_eq!(&size_paths(&[&store, &one]).0, &expected, "a store and a file");
    }
}

#[test]
fn a_day_folder_under_another_spelling_is_refused_by_name() {
    for spelling in ["day=2026-11-16T00:00:00Z", "day=2026-11-16 copy", "day=2026-11-16.bak", "day= 2026-11-16"] {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of(dir.path(), samples(1, 30));
        let day = dir.path().join("day=2026-11-16");
        // The day's folder copied beside itself under another name.
        copy_tree(&day, &dir.path().join(spelling));
        let err = size(vec![InputSpec::Path(store.clone())], None).unwrap_err();
        assert!(err.contains(spelling) && err.contains("day=YYYY-MM-DD"), "{spelling}: {err}");
    }
}

#[test]
fn parquet_column_types_the_reader_does_not_take_are_errors_naming_the_column() {
    // Written with pyarrow (not needed to run the tests): the sample columns, with one of them
    // decimal, struct or list typed.
    for (file, column, shown) in [
        ("decimal-cpu.parquet", "cpu_cores", "decimal(10, 3)"),
        ("decimal-timestamp.parquet", "timestamp", "decimal(18, 0)"),
        ("struct-pod.parquet", "pod", "struct"),
        ("list-memory.parquet", "memory_bytes", "list"),
    ] {
        let path = root().join("fixtures/bad").join(file);
        for command in [&["recommend", "--input"][..], &["import", "--store", "/nonexistent/never-created"]] {
            let out = podsizer().args(command).arg(&path).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
            assert!(!stderr.contains("panicked"), "{file}: {stderr}");
            assert!(
                stderr.contains(file) && stderr.contains(&format!("`{column}` has type {shown}")),
                "{file}: {stderr}"
            );
        }
    }
    // A column outside the sample format is never decoded, whatever its type.
    let extra = root().join("fixtures/parquet-types/struct-extra-column.parquet");
    let out = podsizer().args(["recommend", "--force", "--input"]).arg(&extra).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn synth_refuses_sizes_that_would_exhaust_memory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.parquet");
    for (args, says) in [
        (&["--days", "100000"][..], "--days 100000: must be from 1 to 366"),
        (&["--days", "0"], "--days 0: must be from 1 to 366"),
        (&["--step", "2d"], "--step 2d: must be from 1s to 1d"),
        (&["--scenario", "fleet", "--containers", "10000000"], "--containers 10000000: must be from 1 to 100000"),
        (&["--scenario", "fleet", "--containers", "90000"], "rows a day, more than 16000000"),
        (&["--scenario", "fleet", "--containers", "3000", "--days", "30"], "rows for one file, more than 25000000"),
        (&["--scenario", "backtest", "--days", "100000"], "--days 100000: must be from 1 to 366"),
    ] {
        let run = podsizer().arg("synth").args(args).arg("--out").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!out.exists());
    }
}

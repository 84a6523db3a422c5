//! What the benchmarks share: a generated store cached under target/bench-data, and the
//! peak RSS that `podsizer` reports about itself with `PODSIZER_STATS=1`.
#![allow(dead_code)]

use podsizer::sources::synthetic::FleetSpec;
use podsizer::store::Store;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A store of `containers` x `days` x 1-minute samples from the synthetic fleet, built once.
pub(crate) fn store_for(containers: usize, days: i64) -> PathBuf {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data").join(format!("fleet-{containers}x{days}d"));
    let done = root.join(".complete");
    if done.exists() {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    let spec = FleetSpec::fleet(containers, podsizer::domain::parse_timestamp("2026-11-02").unwrap(), days, 60_000);
    let store = Store::open_or_create(&root).expect("create bench store");
    let started = Instant::now();
    for day in 0..days {
        let mut rows = Vec::new();
        spec.generate_day(day, |s| rows.push(s));
        store.append(rows).expect("append");
    }
    std::fs::write(&done, b"").unwrap();
    eprintln!("generated {} in {:.1?}", root.display(), started.elapsed());
    root
}

/// The child's own report of its peak RSS, in MiB.
pub(crate) fn peak_rss_mib(stderr: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(stderr);
    let kib: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("stats: peak_rss_kib="))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("podsizer prints stats with PODSIZER_STATS=1");
    kib / 1024.0
}

/// Timings of repeated runs of one `podsizer` command.
pub(crate) struct Runs {
    /// Wall seconds, sorted.
    pub seconds: Vec<f64>,
    /// Highest peak RSS over the runs, in MiB.
    pub peak_rss_mib: f64,
    /// Output of the last run, for checks on what it printed.
    pub last: std::process::Output,
}

impl Runs {
    pub(crate) fn median(&self) -> f64 {
        self.seconds[self.seconds.len() / 2]
    }
}

/// Runs the release binary `runs` times with `args`, asserting success each time.
pub(crate) fn time_runs(runs: usize, args: &[&std::ffi::OsStr]) -> Runs {
    let mut seconds = Vec::new();
    let mut peak = 0.0f64;
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_podsizer"))
            .args(args)
            .env("PODSIZER_STATS", "1")
            .output()
            .expect("run podsizer");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        seconds.push(started.elapsed().as_secs_f64());
        peak = peak.max(peak_rss_mib(&out.stderr));
        last = Some(out);
    }
    seconds.sort_by(f64::total_cmp);
    Runs { seconds, peak_rss_mib: peak, last: last.expect("at least one run") }
}

/// The same samples as `store_for` in one Parquet file (row groups of 512 Ki rows, as a
/// Parquet export usually has), built once from the store's parts.
pub(crate) fn single_file_for(containers: usize, days: i64) -> PathBuf {
    use polars::prelude::*;
    let store = store_for(containers, days);
    let path = store.with_extension("parquet");
    if path.exists() {
        return path;
    }
    let mut parts = Vec::new();
    let mut stack = vec![store.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap().to_str().unwrap().starts_with("part-") {
                parts.push(p);
            }
        }
    }
    parts.sort();
    let mut frame: Option<DataFrame> = None;
    for part in parts {
        let df = ParquetReader::new(std::fs::File::open(&part).unwrap()).finish().unwrap();
        match &mut frame {
            Some(all) => {
                all.vstack_mut(&df).unwrap();
            }
            None => frame = Some(df),
        }
    }
    let mut frame = frame.expect("the store has parts");
    let tmp = path.with_extension("parquet.tmp");
    ParquetWriter::new(std::fs::File::create(&tmp).unwrap())
        .with_row_group_size(Some(512 * 1024))
        .finish(&mut frame)
        .unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

//! `cargo bench --bench report`: `podsizer report` over a generated store.
//!
//! Builds (once, cached under target/bench-data) a store of N containers x 14 days x
//! 1-minute samples with the synthetic fleet generator (the same store `--bench recommend`
//! uses for that size), then runs the release binary's `report` on it several times and
//! prints the median wall time, the peak RSS and the size of what was written. The target
//! is under 10 s for 100 containers. Size: PODSIZER_BENCH_CONTAINERS (default 100).
// Helpers shared inside this test crate are not API: `pub` there means "for the other modules".
#![allow(unreachable_pub)]

#[path = "common/mod.rs"]
mod common;

use podsizer::sources::synthetic::FleetSpec;
use std::path::Path;

const DAYS: i64 = 14;
const RUNS: usize = 3;

fn dir_size(dir: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut files = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            let (b, f) = dir_size(&p);
            bytes += b;
            files += f;
        } else {
            bytes += e.metadata().unwrap().len();
            files += 1;
        }
    }
    (bytes, files)
}

fn main() {
    let containers: usize = std::env::var("PODSIZER_BENCH_CONTAINERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let store = common::store_for(containers, DAYS);
    let containers = FleetSpec::fleet(containers, 0, DAYS, 60_000).containers();
    let rows = containers as u64 * DAYS as u64 * 1440;
    let out_dir = tempfile::tempdir().expect("temp dir");
    let args: [&std::ffi::OsStr; 7] = [
        "report".as_ref(),
        "--tz".as_ref(),
        "Europe/Berlin".as_ref(),
        "--input".as_ref(),
        store.as_os_str(),
        "--out".as_ref(),
        out_dir.path().as_os_str(),
    ];
    let runs = common::time_runs(RUNS, &args);
    let (times, median, rss_mib) = (&runs.seconds, runs.median(), runs.peak_rss_mib);
    let (bytes, files) = dir_size(out_dir.path());
    assert!(files > containers, "a chart per container at least");
    println!(
        "report: {containers} containers x {DAYS} days x 1-min = {rows} samples: median {median:.2} s over {RUNS} runs (min {:.2}, max {:.2}), peak RSS {rss_mib:.0} MiB, wrote {files} files, {:.1} MiB",
        times[0],
        times[RUNS - 1],
        bytes as f64 / 1048576.0
    );
}

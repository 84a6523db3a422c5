//! `cargo bench --bench recommend`: `podsizer recommend` over a generated store.
//!
//! Builds (once, cached under target/bench-data) a store of N containers x 14 days x
//! 1-minute samples with the synthetic fleet generator, then times the release binary, for
//! the default strategy and for `vpa`:
//! - from raw samples (`--rescan`: every day is decoded and its usage summary rebuilt), and
//! - from the per-day usage summaries the first runs saved (what a repeated run does),
//!
//! reporting medians, their ratio and the peak RSS of the child process.
//!
//! Sizes: PODSIZER_BENCH_CONTAINERS (default 1000; the large case is 10000).
// Helpers shared inside this test crate are not API: `pub` there means "for the other modules".
#![allow(unreachable_pub)]

#[path = "common/mod.rs"]
mod common;

use podsizer::sources::synthetic::FleetSpec;

const DAYS: i64 = 14;
const RUNS: usize = 5;

fn main() {
    let containers = containers_arg();
    let store = common::store_for(containers, DAYS);
    let containers = FleetSpec::fleet(containers, 0, DAYS, 60_000).containers();
    let rows = containers as u64 * DAYS as u64 * 1440;
    println!("store: {containers} containers x {DAYS} days x 1-min = {rows} samples ({})", store.display());
    let mut from_store = Vec::new();
    for strategy in ["podsizer", "vpa"] {
        let base = ["recommend", "-o", "csv", "--strategy", strategy, "--input"];
        let args = |extra: &[&str]| -> Vec<std::ffi::OsString> {
            base.iter()
                .map(Into::into)
                .chain([store.clone().into_os_string()])
                .chain(extra.iter().map(Into::into))
                .collect()
        };
        let raw_args = args(&["--rescan"]);
        let raw = common::time_runs(RUNS, &raw_args.iter().map(std::ffi::OsString::as_os_str).collect::<Vec<_>>());
        let warm_args = args(&[]);
        let warm = common::time_runs(RUNS, &warm_args.iter().map(std::ffi::OsString::as_os_str).collect::<Vec<_>>());
        for run in [&raw, &warm] {
            let lines = run.last.stdout.iter().filter(|b| **b == b'\n').count();
            assert_eq!(lines, containers + 1, "one CSV line per container");
        }
        assert_eq!(raw.last.stdout, warm.last.stdout, "summaries give what raw samples give");
        if strategy == "podsizer" {
            from_store = warm.last.stdout.clone();
        }
        println!(
            "recommend --strategy {strategy}: from raw samples median {:.2} s (min {:.2}, max {:.2}), peak RSS {:.0} MiB, {:.1} M samples/s; \
             from saved day summaries median {:.2} s (min {:.2}, max {:.2}), peak RSS {:.0} MiB; ratio {:.1}x",
            raw.median(),
            raw.seconds[0],
            raw.seconds[RUNS - 1],
            raw.peak_rss_mib,
            rows as f64 / raw.median() / 1e6,
            warm.median(),
            warm.seconds[0],
            warm.seconds[RUNS - 1],
            warm.peak_rss_mib,
            raw.median() / warm.median()
        );
    }
    // The same rows as one Parquet file, read a row group at a time (no store, no summaries).
    let file = common::single_file_for(containers_arg(), DAYS);
    let args: Vec<std::ffi::OsString> =
        ["recommend", "-o", "csv", "--input"].iter().map(Into::into).chain([file.clone().into_os_string()]).collect();
    let single = common::time_runs(RUNS, &args.iter().map(std::ffi::OsString::as_os_str).collect::<Vec<_>>());
    let lines = single.last.stdout.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, containers + 1, "one CSV line per container");
    println!(
        "recommend --input one Parquet file of {rows} samples: median {:.2} s (min {:.2}, max {:.2}), peak RSS {:.0} MiB; \
         same CSV as from the store: {}",
        single.median(),
        single.seconds[0],
        single.seconds[RUNS - 1],
        single.peak_rss_mib,
        if single.last.stdout == from_store { "yes" } else { "no" }
    );
}

fn containers_arg() -> usize {
    std::env::var("PODSIZER_BENCH_CONTAINERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

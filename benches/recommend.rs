//! `cargo bench --bench recommend`: `podsizer recommend` over a generated store.
//!
//! Builds (once, cached under target/bench-data) a store of N containers x 14 days x
//! 1-minute samples with the synthetic fleet generator, then runs the release binary
//! against it several times and reports the median wall time and the peak RSS of the
//! child process. Sizes: PODSIZER_BENCH_CONTAINERS (default 1000).

#[path = "common/mod.rs"]
mod common;

use podsizer::sources::synthetic::FleetSpec;

const DAYS: i64 = 14;
const RUNS: usize = 5;

fn main() {
    let containers: usize =
        std::env::var("PODSIZER_BENCH_CONTAINERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let store = common::store_for(containers, DAYS);
    let containers = FleetSpec::fleet(containers, 0, DAYS, 60_000).containers();
    let rows = containers as u64 * DAYS as u64 * 1440;
    let input = store.as_os_str();
    let runs =
        common::time_runs(RUNS, &["recommend".as_ref(), "-o".as_ref(), "csv".as_ref(), "--input".as_ref(), input]);
    let lines = runs.last.stdout.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, containers + 1, "one CSV line per container");
    let (times, median, rss_mib) = (&runs.seconds, runs.median(), runs.peak_rss_mib);
    println!(
        "recommend: {containers} containers x {DAYS} days x 1-min = {rows} samples: median {median:.2} s over {RUNS} runs (min {:.2}, max {:.2}), peak RSS {rss_mib:.0} MiB, {:.1} M samples/s",
        times[0],
        times[RUNS - 1],
        rows as f64 / median / 1e6
    );
}

//! `podsizer synth`: realistic synthetic samples.

use crate::cli::args::{Scenario, SynthArgs};
use crate::domain::Sample;
use crate::sources::synthetic::{limits, FleetSpec};
use crate::store::remote::AnyStore;
use crate::store::sample_file::write_samples;
use anyhow::{bail, Result};
use std::io::Write;

pub(crate) fn spec(args: &SynthArgs) -> Result<FleetSpec> {
    let start = args.start.ms;
    let step = checked_step(args)?;
    check_days(args.days)?;
    if args.scenario == Scenario::Fleet && !(1..=limits::MAX_CONTAINERS).contains(&args.containers) {
        bail!("--containers {}: must be from 1 to {}", args.containers, limits::MAX_CONTAINERS);
    }
    let spec = match args.scenario {
        Scenario::Demo => FleetSpec::demo(start, args.days, step),
        Scenario::Fleet => FleetSpec::fleet(args.containers, start, args.days, step),
        Scenario::Backtest => bail!("the backtest scenarios have their own shapes"),
    };
    check_rows(&spec, args.store.is_none())?;
    Ok(spec)
}

/// `--step`, within what a generated day may hold.
fn checked_step(args: &SynthArgs) -> Result<i64> {
    let step = args.step.ms;
    if !(limits::MIN_STEP_MS..=limits::MAX_STEP_MS).contains(&step) {
        bail!("--step {}: must be from 1s to 1d", args.step);
    }
    Ok(step)
}

fn check_days(days: i64) -> Result<()> {
    if !(1..=limits::MAX_DAYS).contains(&days) {
        bail!("--days {days}: must be from 1 to {}", limits::MAX_DAYS);
    }
    Ok(())
}

/// A day is held whole before it is stored, a file whole before it is written.
fn check_rows(spec: &FleetSpec, whole_file: bool) -> Result<()> {
    let per_day = spec.rows_per_day();
    if per_day > limits::MAX_ROWS_PER_DAY {
        bail!(
            "{} containers every {} s make {per_day} rows a day, more than {} (fewer --containers or a longer --step)",
            spec.containers(),
            spec.step_ms / 1000,
            limits::MAX_ROWS_PER_DAY
        );
    }
    let total = per_day.saturating_mul(spec.days as u64);
    if whole_file && total > limits::MAX_FILE_ROWS {
        bail!(
            "{total} rows for one file, more than {} (fewer --days or --containers, a longer --step, or --store DIR, \
             which is written a day at a time)",
            limits::MAX_FILE_ROWS
        );
    }
    Ok(())
}

pub(crate) fn run(args: &SynthArgs, out: &mut dyn Write) -> Result<u8> {
    if args.scenario == Scenario::Backtest {
        return run_scenarios(args, out);
    }
    let spec = spec(args)?;
    let cluster = args.cluster.clone().unwrap_or_default();
    let in_cluster = |s: Sample| Sample { cluster: cluster.clone(), ..s };
    if let Some(dir) = &args.store {
        let store = AnyStore::open_or_create(dir, &args.s3.options())?;
        let mut total = 0;
        for day in 0..spec.days {
            let mut rows = Vec::new();
            spec.generate_day(day, |s| rows.push(in_cluster(s)));
            total += store.append(&mut crate::domain::SampleRows::from_samples(&rows))?.written;
        }
        writeln!(
            out,
            "{}: {total} samples for {} containers over {} days",
            dir.display(),
            spec.containers(),
            spec.days
        )?;
        return Ok(0);
    }
    let path = args.out.as_deref().expect("clap requires --out or --store");
    let mut rows = Vec::new();
    for day in 0..spec.days {
        spec.generate_day(day, |s| rows.push(in_cluster(s)));
    }
    write_samples(path, &mut rows)?;
    writeln!(
        out,
        "{}: {} samples for {} containers over {} days",
        path.display(),
        rows.len(),
        spec.containers(),
        spec.days
    )?;
    Ok(0)
}

/// All back-test scenarios in one file, thinned to one sample per `--step`.
fn run_scenarios(args: &SynthArgs, out: &mut dyn Write) -> Result<u8> {
    let start = args.start.ms;
    let step = checked_step(args)?;
    check_days(args.days)?;
    let path = args.out.as_deref().ok_or_else(|| anyhow::anyhow!("--scenario backtest writes a file: give --out"))?;
    let mut rows = Vec::new();
    for name in crate::sources::synthetic::SCENARIOS {
        crate::sources::synthetic::scenario(name, start, args.days, &mut |s| {
            if (s.timestamp_ms - start) % step == 0 {
                rows.push(s);
            }
        })
        .map_err(anyhow::Error::msg)?;
    }
    write_samples(path, &mut rows)?;
    writeln!(out, "{}: {} samples", path.display(), rows.len())?;
    Ok(0)
}

/// `podsizer trace FAMILY`: a public trace converted to samples.
pub(crate) fn run_trace(args: &crate::cli::args::TraceArgs, out: &mut dyn Write) -> Result<u8> {
    use crate::sources::traces;
    let Some(root) = &args.traces else {
        bail!("no traces folder: give --traces DIR or set {}\n{}", traces::TRACES_ENV, traces::where_to_get());
    };
    let mut rows = Vec::new();
    traces::read_family(root, &args.family, &mut |s| rows.push(s))?;
    match (&args.store, &args.out) {
        (Some(dir), _) => {
            let report = AnyStore::open_or_create(dir, &args.s3.options())?
                .append(&mut crate::domain::SampleRows::from_samples(&rows))?;
            writeln!(out, "{}: {} samples added ({} duplicates)", dir.display(), report.written, report.duplicates)?;
        }
        (None, Some(path)) => {
            write_samples(path, &mut rows)?;
            writeln!(out, "{}: {} samples", path.display(), rows.len())?;
        }
        (None, None) => bail!("give --out FILE or --store DIR"),
    }
    Ok(0)
}
